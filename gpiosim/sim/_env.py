"""Where gpio-sim can run (kernel release, configfs, the module) and the names it accepts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final, Literal, TypeAlias

from gpiosim._errors import (
    ConfigfsNotMountedError,
    GpioSimUnavailableError,
    InvalidNameError,
    KernelTooOldError,
    SimPermissionError,
)

__all__ = [
    "CONFIGFS_ROOT",
    "MIN_KERNEL",
    "HogDirection",
    "LineNames",
    "Pull",
    "check_environment",
    "parse_kernel_release",
    "validate_device_name",
    "validate_line_name",
]


CONFIGFS_ROOT: Final = Path("/sys/kernel/config")
"""Where configfs is mounted (gpio-sim devices are folders under ``gpio-sim/``)."""
SYSFS_ROOT: Final = Path("/sys")
PROC_ROOT: Final = Path("/proc")
MIN_KERNEL: Final = (5, 17)
"""The first Linux release with gpio-sim."""

#: How the kernel holds a hogged line: as an input, or an output driven high or low.
HogDirection: TypeAlias = Literal["input", "output-high", "output-low"]
#: A simulated pull: True/"pull-up" drives the line high, False/"pull-down" low.
Pull: TypeAlias = bool | Literal["pull-up", "pull-down"]
#: Line names by offset: a mapping, or a sequence with None for an unnamed line.
LineNames: TypeAlias = Mapping[int, str] | Sequence[str | None]

_HOG_DIRECTIONS: Final = ("input", "output-high", "output-low")
_PREFIX: Final = "gpiorig"
_OWNED_RE: Final = re.compile(rf"^{_PREFIX}-(\d+)-(\d+)-[0-9a-f]+$")
_DEVICE_NAME_RE: Final = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:+-]*$")
_MAX_DEVICE_NAME: Final = 64
# The GPIO uAPI copies chip labels, line names and consumers into 32-byte fields.
_MAX_LINE_NAME: Final = 31
_GUEST_HINT: Final = "or run under the gpiorig guest: gpiosim guest -- CMD"


# -- checks -----------------------------------------------------------------------------


def parse_kernel_release(release: str) -> tuple[int, int] | None:
    """Return (major, minor) of a kernel release string such as ``6.1.0-18-amd64``.

    Returns:
        The version, or None when the string does not start with ``MAJOR.MINOR``.
    """
    match = re.match(r"(\d+)\.(\d+)", release)
    return (int(match[1]), int(match[2])) if match else None


def check_environment(
    *, configfs_root: Path = CONFIGFS_ROOT, kernel_release: str | None = None
) -> Path:
    """Check that gpio-sim devices can be made here; return the gpio-sim configfs folder.

    The checks run in the order a user has to fix them: kernel, configfs, module,
    permission.

    Args:
        configfs_root: where configfs is (or should be) mounted.
        kernel_release: the kernel release to judge; default ``os.uname().release``.

    Returns:
        ``configfs_root / "gpio-sim"``.

    Raises:
        KernelTooOldError: the kernel predates gpio-sim (5.17).
        ConfigfsNotMountedError: configfs is not mounted at ``configfs_root``.
        GpioSimUnavailableError: configfs is there but gpio-sim is not.
        SimPermissionError: this process may not make folders under gpio-sim.
    """
    release = os.uname().release if kernel_release is None else kernel_release
    version = parse_kernel_release(release)
    # An unparseable release (a vendor's odd string) is given the benefit of the doubt:
    # the configfs checks below still catch a kernel without gpio-sim.
    if version is not None and version < MIN_KERNEL:
        raise KernelTooOldError(
            f"Linux {release} is older than 5.17, the first release with gpio-sim: "
            f"use a newer kernel, {_GUEST_HINT}"
        )
    simdir = configfs_root / "gpio-sim"
    if simdir.is_dir():
        # effective_ids: judge what this process may do (a setuid tool, a dropped euid).
        if not os.access(simdir, os.W_OK | os.X_OK, effective_ids=True):
            raise SimPermissionError(
                f"cannot create gpio-sim chips: {simdir} is not writable by uid "
                f"{os.geteuid()}: run as root (e.g. sudo), or give a group write access to "
                "it with a udev rule or tmpfiles.d entry and join that group"
            )
        return simdir
    if not _configfs_mounted(configfs_root):
        raise ConfigfsNotMountedError(
            f"configfs is not mounted at {configfs_root}: mount it with "
            f"'mount -t configfs none {configfs_root}' (as root); if that fails the kernel "
            f"lacks CONFIG_CONFIGFS_FS, {_GUEST_HINT}"
        )
    raise GpioSimUnavailableError(
        f"the kernel has no gpio-sim ({simdir} does not exist): load it with "
        f"'modprobe gpio-sim' (as root); if there is no such module, {_GUEST_HINT}"
    )


def _configfs_mounted(root: Path) -> bool:
    # A mounted configfs is a mount point; with other subsystems loaded it also has
    # entries. An unmounted /sys/kernel/config is an empty folder of sysfs.
    try:
        return root.is_dir() and (os.path.ismount(root) or any(root.iterdir()))
    except PermissionError:
        return True  # something is there; the permission check will explain


_NAME_RULES: Final = (
    "use 1-64 characters from A-Z a-z 0-9 _ . : + - that do not start with '.' or '-'"
)


def validate_device_name(name: str) -> str:
    """Check a gpio-sim device (configfs folder) name; return it unchanged.

    Raises:
        InvalidNameError: naming the rule the name breaks.
    """
    if not isinstance(name, str):
        raise InvalidNameError(f"a sim chip name must be a string, not {name!r}")
    if not name:
        raise InvalidNameError(f"a sim chip name must not be empty: {_NAME_RULES}")
    if "\0" in name:
        raise InvalidNameError(f"sim chip name {name!r} contains a NUL character: {_NAME_RULES}")
    if "/" in name or "\\" in name:
        raise InvalidNameError(
            f"sim chip name {name!r} contains a path separator: it would escape the "
            f"gpio-sim folder; {_NAME_RULES}"
        )
    if name in (".", ".."):
        raise InvalidNameError(f"sim chip name {name!r} is a relative path: {_NAME_RULES}")
    if len(name) > _MAX_DEVICE_NAME:
        raise InvalidNameError(
            f"sim chip name {name[:20]!r}... is {len(name)} characters, longer than "
            f"{_MAX_DEVICE_NAME}: {_NAME_RULES}"
        )
    if name[0] in ".-":
        raise InvalidNameError(f"sim chip name {name!r} starts with {name[0]!r}: {_NAME_RULES}")
    if not _DEVICE_NAME_RE.fullmatch(name):  # match() would let "name\n" pass
        bad = sorted({c for c in name if not re.match(r"[A-Za-z0-9_.:+-]", c)})
        raise InvalidNameError(f"sim chip name {name!r} contains {''.join(bad)!r}: {_NAME_RULES}")
    return name


def validate_line_name(name: str, what: str = "line name") -> str:
    """Check a line name, chip label or hog consumer name; return it unchanged.

    Args:
        name: the name to check.
        what: what the name is, for the message (``"label"``, ``"hog name"``, ...).

    Raises:
        InvalidNameError: empty, too long for the GPIO uAPI (31 characters), or holding a
            NUL, a newline or another non-printable character.
    """
    if not isinstance(name, str):
        raise InvalidNameError(f"a {what} must be a string, not {name!r}")
    if not name or name != name.strip():
        raise InvalidNameError(
            f"{what} {name!r} is empty or has leading/trailing whitespace, which the kernel "
            "strips: pass the name without it"
        )
    if not name.isprintable():
        raise InvalidNameError(
            f"{what} {name!r} contains a non-printable character (NUL, newline, ...): "
            "use printable characters only"
        )
    if len(name) > _MAX_LINE_NAME:
        raise InvalidNameError(
            f"{what} {name!r} is {len(name)} characters; the GPIO uAPI keeps only "
            f"{_MAX_LINE_NAME}: shorten it"
        )
    return name
