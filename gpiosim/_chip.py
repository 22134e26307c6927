"""Make and tear down gpio-sim devices through configfs.

A gpio-sim *device* (one configfs folder, one platform device ``gpio-sim.K``) holds one
or more *banks*; each live bank is one GPIO chip (``/dev/gpiochipM``). The simulator
side of each line lives in sysfs: writing ``pull-up``/``pull-down`` to
``/sys/devices/platform/gpio-sim.K/gpiochipM/sim_gpioN/pull`` drives an input, and
``.../value`` reads what the program drives.

Devices made here are named ``gpiorig-<pid>-<starttime>-<random>``: the pid and its
start time (from ``/proc/<pid>/stat``, which tells a reused pid apart) let the next
user find and tear down the chips of a process that died without cleaning up.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import secrets
import time
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, Self, TypeAlias, final

from gpiocore._errors import ClosedError, InvalidSettingError, LineNotFoundError, PinIndexError
from gpiosim._errors import (
    ConfigfsNotMountedError,
    GpioSimUnavailableError,
    InvalidNameError,
    KernelTooOldError,
    SimChipError,
    SimPermissionError,
)

__all__ = [
    "CONFIGFS_ROOT",
    "MIN_KERNEL",
    "Bank",
    "HogDirection",
    "LineNames",
    "Pull",
    "SimBank",
    "SimChip",
    "SimDevice",
    "check_environment",
    "parse_kernel_release",
    "reclaim_stale",
    "validate_device_name",
    "validate_line_name",
]

CONFIGFS_ROOT: Final = Path("/sys/kernel/config")
SYSFS_ROOT: Final = Path("/sys")
PROC_ROOT: Final = Path("/proc")
MIN_KERNEL: Final = (5, 17)
"""The first Linux release with gpio-sim."""

HogDirection: TypeAlias = Literal["input", "output-high", "output-low"]
Pull: TypeAlias = bool | Literal["pull-up", "pull-down"]
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


# -- the bank spec -----------------------------------------------------------------------


@final
@dataclasses.dataclass(frozen=True, slots=True, init=False)
class Bank:
    """The layout of one bank (one GPIO chip) of a sim device, checked when made.

    Args:
        num_lines: how many lines the chip has (1 or more).
        label: the chip's label (what ``gpiodetect`` shows); the kernel's default is
            ``gpio-sim.K-nodeN``.
        line_names: names by offset, as a mapping or a sequence (None = unnamed).
        hogs: lines the kernel itself holds: ``{offset: (consumer, direction)}`` with
            direction ``"input"``, ``"output-high"`` or ``"output-low"``.

    Raises:
        InvalidSettingError: a bad ``num_lines`` or hog direction.
        PinIndexError: a line name or hog at an offset the bank does not have.
        InvalidNameError: a malformed label, line name or hog name.
    """

    num_lines: int
    label: str | None
    line_names: tuple[tuple[int, str], ...]
    """(offset, name) pairs, sorted by offset."""
    hogs: tuple[tuple[int, str, HogDirection], ...]
    """(offset, consumer, direction) triples, sorted by offset."""

    def __init__(
        self,
        num_lines: int = 8,
        *,
        label: str | None = None,
        line_names: LineNames | None = None,
        hogs: Mapping[int, tuple[str, HogDirection]] | None = None,
    ) -> None:
        if isinstance(num_lines, bool) or not isinstance(num_lines, int) or num_lines < 1:
            raise InvalidSettingError(
                f"num_lines must be a whole number of 1 or more, not {num_lines!r}"
            )
        if label is not None:
            validate_line_name(label, "chip label")
        if line_names is not None and (
            isinstance(line_names, str) or not isinstance(line_names, Mapping | Sequence)
        ):
            raise InvalidSettingError(
                f"line_names must be a mapping {{offset: name}} or a list of names, "
                f"not {line_names!r}: e.g. line_names=['BUTTON', 'LED']"
            )
        if hogs is not None and not isinstance(hogs, Mapping):
            raise InvalidSettingError(
                f"hogs must be a mapping {{offset: (name, direction)}}, not {hogs!r}: "
                "e.g. hogs={0: ('reset', 'output-high')}"
            )
        names: dict[int, str] = {}
        if line_names is not None:
            items = line_names.items() if isinstance(line_names, Mapping) else enumerate(line_names)
            for offset, name in items:
                if name is None:
                    continue
                self._check_offset(offset, num_lines, f"line name {name!r}")
                names[offset] = validate_line_name(name)
        hog_list: list[tuple[int, str, HogDirection]] = []
        for offset, spec in (hogs or {}).items():
            self._check_offset(offset, num_lines, "hog")
            if not (isinstance(spec, tuple) and len(spec) == 2):
                raise InvalidSettingError(
                    f"hog at offset {offset} must be (name, direction), not {spec!r}"
                )
            consumer, direction = spec
            validate_line_name(consumer, "hog name")
            if direction not in _HOG_DIRECTIONS:
                raise InvalidSettingError(
                    f"hog direction {direction!r} at offset {offset} is not valid: "
                    f"use one of {', '.join(_HOG_DIRECTIONS)}"
                )
            hog_list.append((offset, consumer, direction))
        object.__setattr__(self, "num_lines", num_lines)
        object.__setattr__(self, "label", label)
        object.__setattr__(self, "line_names", tuple(sorted(names.items())))
        object.__setattr__(self, "hogs", tuple(sorted(hog_list)))

    @staticmethod
    def _check_offset(offset: object, num_lines: int, what: str) -> None:
        if isinstance(offset, bool) or not isinstance(offset, int):
            raise PinIndexError(f"{what} has offset {offset!r}: offsets are whole numbers")
        if not 0 <= offset < num_lines:
            raise PinIndexError(
                f"{what} at offset {offset} is out of range: the bank has lines "
                f"0..{num_lines - 1} (raise num_lines)"
            )


# -- low-level configfs/sysfs helpers ----------------------------------------------------


def _folder(value: object, what: str) -> Path:
    if isinstance(value, str | os.PathLike) and os.fspath(value):
        return Path(value)
    raise InvalidSettingError(f"{what} must be a folder path, not {value!r}")


def _write_attr(path: Path, value: str) -> None:
    # One write() per attribute: configfs parses each write call as a whole value.
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _read_attr(path: Path) -> str:
    return path.read_text().strip()


def _proc_start_time(pid: int, proc_root: Path = PROC_ROOT) -> int | None:
    """The start time of ``pid`` in clock ticks since boot, or None if it is gone."""
    try:
        stat = (proc_root / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ")".
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])  # field 22 of proc(5), counting from the state (field 3)


def _is_stale(name: str, proc_root: Path = PROC_ROOT) -> bool:
    """True for a device folder made by this module in a process that no longer exists."""
    match = _OWNED_RE.fullmatch(name)
    if match is None:
        return False  # not ours (or made under a custom name): never touch it
    if not (proc_root / "self").exists():
        return False  # no procfs: liveness is unknowable, so reclaim nothing
    pid, started = int(match[1]), int(match[2])
    return _proc_start_time(pid, proc_root) != started


def _remove_device_dir(devdir: Path) -> None:
    """Take a device down and remove its configfs tree; safe if (partly) gone already."""
    live = devdir / "live"
    # ENOENT: already removed; EPERM: already not live (the kernel rejects 0 -> 0),
    # or another process is tearing it down at the same moment.
    with contextlib.suppress(FileNotFoundError):
        if _read_attr(live) == "1":
            with contextlib.suppress(FileNotFoundError):
                _write_attr(live, "0")
    # Children before parents: hog items, line groups, bank groups, then the device.
    for bankdir in _subdirs(devdir):
        for linedir in _subdirs(bankdir):
            for hogdir in _subdirs(linedir):
                _rmdir(hogdir)
            _rmdir(linedir)
        _rmdir(bankdir)
    _rmdir(devdir)


def _subdirs(path: Path) -> list[Path]:
    try:
        return sorted(p for p in path.iterdir() if p.is_dir())
    except FileNotFoundError:
        return []


def _rmdir(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.rmdir(path)


def reclaim_stale(*, configfs_root: Path = CONFIGFS_ROOT, proc_root: Path = PROC_ROOT) -> list[str]:
    """Tear down the sim devices left by processes that died without closing them.

    Only devices named by this module (``gpiorig-<pid>-<starttime>-<hex>``) are looked
    at; one is stale when no process with that pid and start time exists.

    Args:
        configfs_root: where configfs is mounted.
        proc_root: where procfs is mounted.

    Returns:
        The names of the devices torn down (empty if gpio-sim is not there at all).
    """
    simdir = configfs_root / "gpio-sim"
    try:
        names = sorted(p.name for p in simdir.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    reclaimed = []
    for name in names:
        if _is_stale(name, proc_root):
            try:
                _remove_device_dir(simdir / name)
            except OSError:
                continue  # another process races us to it, or it is busy: next time
            reclaimed.append(name)
    return reclaimed


def _owned_name() -> str:
    pid = os.getpid()
    started = _proc_start_time(pid)
    return f"{_PREFIX}-{pid}-{started or 0}-{secrets.token_hex(4)}"


# -- live objects -------------------------------------------------------------------------


@final
class SimBank:
    """One live bank of a sim device: a GPIO chip plus its simulator side in sysfs.

    Made by :class:`SimDevice`; valid while the device is live.
    """

    def __init__(
        self,
        device: SimDevice,
        index: int,
        chip_name: str,
        dev_path: str,
        num_lines: int,
        label: str | None,
    ) -> None:
        self._device = device
        self.index = index
        """The bank's position in its device."""
        self.chip_name = chip_name
        """The GPIO chip's name, e.g. ``gpiochip1``."""
        self.dev_path = dev_path
        """The character device, e.g. ``/dev/gpiochip1``."""
        self.num_lines = num_lines
        """How many lines the chip has."""
        self._label = label

    def __repr__(self) -> str:
        return (
            f"SimBank({self.chip_name!r}, dev_name={self._device.dev_name!r}, "
            f"num_lines={self.num_lines})"
        )

    @property
    def dev_name(self) -> str:
        """The platform device the bank belongs to, e.g. ``gpio-sim.0``."""
        return self._device.dev_name

    @property
    def label(self) -> str:
        """The chip's label as the kernel reports it."""
        if self._label is None:
            # Not set by us (default label, or an attached device): ask the chip itself.
            import gpiod

            with gpiod.Chip(self.dev_path) as chip:
                self._label = chip.get_info().label
        return self._label

    def udev_device(self) -> Any:
        """Find this bank's GPIO device with pyudev, as udev sees it.

        Enumerates the ``gpio`` subsystem (no udev daemon needed) for the device whose
        kernel name is :attr:`chip_name` and whose parent is this bank's gpio-sim
        platform device.

        Returns:
            The ``pyudev.Device`` (``device_node`` is the ``/dev/gpiochipN`` path).

        Raises:
            SimChipError: pyudev does not list the chip.
        """
        import pyudev

        context = pyudev.Context()
        for device in context.list_devices(subsystem="gpio", sys_name=self.chip_name):
            parent = device.find_parent("platform")
            if parent is not None and parent.sys_name == self.dev_name:
                return device
        raise SimChipError(
            f"pyudev lists no gpio device {self.chip_name} under {self.dev_name}: "
            "is sysfs mounted at /sys?"
        )

    def line_dir(self, offset: int) -> Path:
        """The sysfs folder of line ``offset`` on the simulator side (``sim_gpioN``).

        Raises:
            ClosedError: the device is not live.
            PinIndexError: the chip has no such line.
        """
        self._device._check_live()
        if isinstance(offset, bool) or not isinstance(offset, int):
            raise PinIndexError(f"line offset must be a whole number, not {offset!r}")
        if not 0 <= offset < self.num_lines:
            raise PinIndexError(
                f"offset {offset} is out of range for {self.chip_name}: it has lines "
                f"0..{self.num_lines - 1}"
            )
        return (
            self._device.sysfs_root
            / "devices/platform"
            / self.dev_name
            / self.chip_name
            / f"sim_gpio{offset}"
        )

    def set_pull(self, offset: int, pull: Pull) -> None:
        """Drive an input from outside: pull the line up (True) or down (False).

        Args:
            offset: the line.
            pull: True or ``"pull-up"``; False or ``"pull-down"``.

        Raises:
            InvalidSettingError: ``pull`` is none of those.
            SimPermissionError: sysfs is not writable (root is needed).
        """
        if pull is True or pull == "pull-up":
            word = "pull-up"
        elif pull is False or pull == "pull-down":
            word = "pull-down"
        else:
            raise InvalidSettingError(
                f"pull must be True/'pull-up' or False/'pull-down', not {pull!r}"
            )
        path = self.line_dir(offset) / "pull"
        try:
            _write_attr(path, word)
        except PermissionError as exc:
            raise SimPermissionError(
                f"cannot write {path}: run as root, or give write access to it with a udev rule"
            ) from exc

    def get_pull(self, offset: int) -> bool:
        """The simulator's pull on a line: True for pull-up."""
        return _read_attr(self.line_dir(offset) / "pull") == "pull-up"

    def get_value(self, offset: int) -> bool:
        """The line's physical level: what an output drives, else what the pull gives."""
        return _read_attr(self.line_dir(offset) / "value") == "1"


@final
class SimDevice:
    """A gpio-sim device with one or more banks, each a GPIO chip.

    Use as a context manager, or call :meth:`create` and :meth:`close`.

    Args:
        *banks: the layout of each bank; one 8-line bank when none is given.
        name: the configfs folder name; by default ``gpiorig-<pid>-<start>-<hex>``,
            which lets a later process reclaim it if this one dies.
        configfs_root: where configfs is mounted (for tests).
        sysfs_root: where sysfs is mounted (for tests).
        kernel_release: the kernel release to check; default ``os.uname().release``.
        timeout: seconds to wait for each ``/dev/gpiochipN`` to appear.

    Raises:
        InvalidNameError: ``name`` breaks a naming rule.
    """

    def __init__(
        self,
        *banks: Bank,
        name: str | None = None,
        configfs_root: Path = CONFIGFS_ROOT,
        sysfs_root: Path = SYSFS_ROOT,
        kernel_release: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        for bank in banks:
            if not isinstance(bank, Bank):
                raise InvalidSettingError(f"banks must be gpiosim.chip.Bank objects, not {bank!r}")
        self.bank_specs: tuple[Bank, ...] = banks or (Bank(),)
        self._name = None if name is None else validate_device_name(name)
        self.configfs_root = _folder(configfs_root, "configfs_root")
        self.sysfs_root = _folder(sysfs_root, "sysfs_root")
        if kernel_release is not None and not isinstance(kernel_release, str):
            raise InvalidSettingError(
                f"kernel_release must be a release string such as '6.1.0', not {kernel_release!r}"
            )
        self._kernel_release = kernel_release
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not 0 < timeout < float("inf")
        ):
            raise InvalidSettingError(
                f"timeout must be a positive number of seconds, not {timeout!r}: e.g. timeout=5"
            )
        self._timeout = timeout
        self._owner = True
        self._dev_name: str | None = None
        self._banks: tuple[SimBank, ...] = ()
        self._finalizer: weakref.finalize[[Path], SimDevice] | None = None
        self._closed = False

    @classmethod
    def attach(
        cls, ident: str, *, sysfs_root: Path = SYSFS_ROOT, dev_root: Path = Path("/dev")
    ) -> SimDevice:
        """Use a gpio-sim device that something else made; closing it leaves it alone.

        Args:
            ident: the device (``gpio-sim.0``), one of its chips (``gpiochip1``) or a
                chip's path (``/dev/gpiochip1``).
            sysfs_root: where sysfs is mounted.
            dev_root: where device nodes are.

        Raises:
            LineNotFoundError: no live gpio-sim device matches ``ident``.
        """
        if not isinstance(ident, str) or not ident:
            raise LineNotFoundError(
                f"a gpio-sim device to attach must be named by a string such as 'gpio-sim.0' "
                f"or 'gpiochip1', not {ident!r}"
            )
        sysfs_root = _folder(sysfs_root, "sysfs_root")
        platform = sysfs_root / "devices/platform"
        name = Path(ident).name
        if name.startswith("gpiochip"):
            link = sysfs_root / "bus/gpio/devices" / name
            parent = link.resolve().parent.name if link.exists() else ""
            dev_name = parent if parent.startswith("gpio-sim.") else ""
        else:
            dev_name = name if name.startswith("gpio-sim.") else ""
        devdir = platform / dev_name
        if not dev_name or not devdir.is_dir():
            live = sorted(p.name for p in platform.glob("gpio-sim.*")) if platform.is_dir() else []
            raise LineNotFoundError(
                f"{ident!r} names no live gpio-sim device (live: {', '.join(live) or 'none'}): "
                "pass a dev_name like 'gpio-sim.0' or a chip name like 'gpiochip1' "
                "(check GPIOSIM_CHIP)"
            )
        self = cls(sysfs_root=sysfs_root)
        self._owner = False
        self._dev_name = dev_name
        chips = sorted(
            (p for p in devdir.glob("gpiochip*") if p.is_dir()),
            key=lambda p: int(p.name.removeprefix("gpiochip") or 0),
        )
        self._banks = tuple(
            SimBank(
                self,
                i,
                chip.name,
                str(dev_root / chip.name),
                len(list(chip.glob("sim_gpio*"))),
                None,
            )
            for i, chip in enumerate(chips)
        )
        return self

    # -- lifecycle ---------------------------------------------------------------------
    def create(self) -> Self:
        """Make the device live; reclaim stale devices of dead processes first.

        Returns:
            self, for chaining.

        Raises:
            KernelTooOldError, ConfigfsNotMountedError, GpioSimUnavailableError,
            SimPermissionError: see :func:`check_environment`.
            SimChipError: the kernel refused the layout, the name is taken, or the
                chip's device node did not appear in time. Nothing is left behind.
            ClosedError: the device was closed (or attached); make a new one.
        """
        if self._closed or not self._owner:
            raise ClosedError(
                f"sim device {self.name!r} was closed or attached: make a new SimDevice"
            )
        if self._dev_name is not None:
            return self
        simdir = check_environment(
            configfs_root=self.configfs_root, kernel_release=self._kernel_release
        )
        reclaim_stale(configfs_root=self.configfs_root)
        name = self._name or _owned_name()
        devdir = simdir / name
        try:
            os.mkdir(devdir)
        except FileExistsError:
            raise SimChipError(
                f"a gpio-sim device named {name!r} already exists in {simdir}: choose "
                "another name, or leave name=None for a unique one"
            ) from None
        except PermissionError as exc:
            raise SimPermissionError(
                f"cannot create {devdir}: run as root, or give write access to {simdir} "
                "with a udev rule"
            ) from exc
        # From here on the folder exists: any failure must take it down again.
        self._finalizer = weakref.finalize(self, _remove_device_dir, devdir)
        try:
            try:
                self._populate(devdir)
            except PermissionError as exc:
                raise SimPermissionError(
                    f"cannot configure {devdir}: {exc.strerror}: run as root"
                ) from exc
            except OSError as exc:
                raise SimChipError(f"cannot configure sim device {name!r}: {exc}") from exc
            self._go_live(devdir)
            self._dev_name = _read_attr(devdir / "dev_name")
            self._banks = tuple(
                self._live_bank(devdir, i, spec) for i, spec in enumerate(self.bank_specs)
            )
        except BaseException:
            self._finalizer()
            self._dev_name = None
            self._banks = ()
            raise
        self._name = name
        return self

    def _populate(self, devdir: Path) -> None:
        for i, spec in enumerate(self.bank_specs):
            bankdir = devdir / f"bank{i}"
            os.mkdir(bankdir)
            _write_attr(bankdir / "num_lines", str(spec.num_lines))
            if spec.label is not None:
                _write_attr(bankdir / "label", spec.label)
            for offset, line_name in spec.line_names:
                os.mkdir(bankdir / f"line{offset}")
                _write_attr(bankdir / f"line{offset}" / "name", line_name)
            for offset, consumer, direction in spec.hogs:
                linedir = bankdir / f"line{offset}"
                with contextlib.suppress(FileExistsError):
                    os.mkdir(linedir)
                os.mkdir(linedir / "hog")
                _write_attr(linedir / "hog" / "name", consumer)
                _write_attr(linedir / "hog" / "direction", direction)

    def _go_live(self, devdir: Path) -> None:
        try:
            _write_attr(devdir / "live", "1")
        except OSError as exc:
            labels = [b.label for b in self.bank_specs if b.label is not None]
            hint = (
                "bank labels must be unique within a device"
                if len(labels) != len(set(labels))
                else "see the kernel log (dmesg) for the reason"
            )
            raise SimChipError(
                f"the kernel refused to bring sim device {devdir.name!r} live "
                f"({os.strerror(exc.errno or 0)}): {hint}"
            ) from exc

    def _live_bank(self, devdir: Path, index: int, spec: Bank) -> SimBank:
        # configfs's chip_name is authoritative; the node is found (and waited for) apart.
        chip_name = _read_attr(devdir / f"bank{index}" / "chip_name")
        dev_path = _wait_device_node(chip_name, self._timeout)
        return SimBank(self, index, chip_name, dev_path, spec.num_lines, spec.label)

    def close(self) -> None:
        """Take the device down and remove its configfs folders; safe to call twice.

        An attached device is only forgotten, never torn down.
        """
        self._closed = True
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> Self:
        return self.create()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "live" if self.live else "closed" if self._closed else "not created"
        return f"SimDevice(name={self._name!r}, dev_name={self._dev_name!r}, {state})"

    # -- state -------------------------------------------------------------------------
    @property
    def live(self) -> bool:
        """True between a successful create (or attach) and close."""
        if self._closed or self._dev_name is None:
            return False
        return not self._owner or (self._finalizer is not None and self._finalizer.alive)

    def _check_live(self) -> None:
        if not self.live:
            raise ClosedError(
                f"sim device {self._name or self._dev_name!r} is not live: call create() "
                "first, or use it inside its 'with' block"
            )

    @property
    def name(self) -> str | None:
        """The configfs folder name (None until created, unless given)."""
        return self._name

    @property
    def owner(self) -> bool:
        """True if this object made the device and will tear it down."""
        return self._owner

    @property
    def dev_name(self) -> str:
        """The platform device name, e.g. ``gpio-sim.0``.

        Raises:
            ClosedError: the device is not live.
        """
        self._check_live()
        assert self._dev_name is not None  # for the type checker; _check_live ensures it
        return self._dev_name

    @property
    def banks(self) -> tuple[SimBank, ...]:
        """The live banks, in order.

        Raises:
            ClosedError: the device is not live.
        """
        self._check_live()
        return self._banks


def _wait_device_node(chip_name: str, timeout: float, dev_root: Path = Path("/dev")) -> str:
    """Return the device node of a chip that just went live, waiting for it if need be.

    With devtmpfs the kernel has made ``/dev/gpiochipN`` before ``live`` returns, so the
    common case costs one ``stat``. Otherwise (a udev daemon makes the node, or names
    it differently) a pyudev kernel-uevent monitor is started *before* looking again,
    so an ``add`` that happens in between cannot be missed, and pyudev's DEVNAME is used.
    pyudev is only imported here: it costs ~0.8 s to import and ~40 ms per chip in the
    emulated guest, which a fast create/destroy loop should not pay.

    Raises:
        SimChipError: the node did not appear within ``timeout`` seconds.
    """
    node = str(dev_root / chip_name)
    if os.path.exists(node):
        return node
    deadline = time.monotonic() + timeout
    try:
        import pyudev

        context = pyudev.Context()
        monitor = pyudev.Monitor.from_netlink(context, source="kernel")
        monitor.filter_by("gpio")
        monitor.start()
    except Exception:  # no libudev or no netlink permission: poll the path instead
        context = monitor = None
    while True:
        if context is not None:
            with contextlib.suppress(Exception):
                node = pyudev.Devices.from_name(context, "gpio", chip_name).device_node or node
        if os.path.exists(node):
            return node
        left = deadline - time.monotonic()
        if left <= 0:
            raise SimChipError(
                f"{node} did not appear within {timeout} s of {chip_name} going live: "
                "mount devtmpfs on /dev (mount -t devtmpfs none /dev) or start udevd"
            )
        if monitor is None:
            time.sleep(min(left, 0.01))
        else:
            # Any gpio uevent may be ours; drain it and look again.
            with contextlib.suppress(Exception):
                monitor.poll(timeout=min(left, 0.1))


@final
class SimChip:
    """A one-bank gpio-sim device: the common case.

    Use as a context manager, or call :meth:`create` and :meth:`close`.

    Args:
        num_lines: how many lines the chip has.
        label: the chip's label.
        line_names: names by offset (mapping or sequence; None = unnamed).
        hogs: ``{offset: (consumer, "input" | "output-high" | "output-low")}``.
        name: the configfs folder name (default: unique and reclaimable).
        configfs_root: where configfs is mounted (for tests).
        kernel_release: the kernel release to check (for tests).
        timeout: seconds to wait for ``/dev/gpiochipN``.

    Example:
        >>> with SimChip(4, line_names=["BUTTON", "LED"]) as chip:  # doctest: +SKIP
        ...     chip.set_pull(0, True)
    """

    def __init__(
        self,
        num_lines: int = 8,
        *,
        label: str | None = None,
        line_names: LineNames | None = None,
        hogs: Mapping[int, tuple[str, HogDirection]] | None = None,
        name: str | None = None,
        configfs_root: Path = CONFIGFS_ROOT,
        kernel_release: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.device = SimDevice(
            Bank(num_lines, label=label, line_names=line_names, hogs=hogs),
            name=name,
            configfs_root=configfs_root,
            kernel_release=kernel_release,
            timeout=timeout,
        )
        """The underlying one-bank device."""
        self._index = 0

    @classmethod
    def attach(cls, ident: str, *, sysfs_root: Path = SYSFS_ROOT) -> SimChip:
        """Use the first chip of a gpio-sim device made elsewhere; close() leaves it.

        Args:
            ident: ``gpio-sim.K``, ``gpiochipM`` or ``/dev/gpiochipM``.
            sysfs_root: where sysfs is mounted.

        Raises:
            LineNotFoundError: no live gpio-sim device matches ``ident``.
        """
        device = SimDevice.attach(ident, sysfs_root=sysfs_root)
        name = Path(ident).name
        banks = device.banks
        index = next((b.index for b in banks if b.chip_name == name), 0)
        if not banks:
            raise LineNotFoundError(f"gpio-sim device {ident!r} has no chips")
        self = cls.__new__(cls)
        self.device = device
        self._index = index
        return self

    def create(self) -> Self:
        """Make the chip live (see :meth:`SimDevice.create`); returns self."""
        self.device.create()
        return self

    def close(self) -> None:
        """Tear the chip down (unless attached); safe to call twice."""
        self.device.close()

    def __enter__(self) -> Self:
        return self.create()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        if self.device.live:
            return f"SimChip({self.chip_name!r}, dev_name={self.dev_name!r})"
        return f"SimChip({self.device!r})"

    @property
    def bank(self) -> SimBank:
        """The live bank.

        Raises:
            ClosedError: the chip is not live.
        """
        return self.device.banks[self._index]

    @property
    def live(self) -> bool:
        """True between create (or attach) and close."""
        return self.device.live

    @property
    def dev_name(self) -> str:
        """The platform device, e.g. ``gpio-sim.0``."""
        return self.device.dev_name

    @property
    def chip_name(self) -> str:
        """The chip, e.g. ``gpiochip1``."""
        return self.bank.chip_name

    @property
    def dev_path(self) -> str:
        """The character device, e.g. ``/dev/gpiochip1``."""
        return self.bank.dev_path

    @property
    def label(self) -> str:
        """The chip's label as the kernel reports it."""
        return self.bank.label

    @property
    def num_lines(self) -> int:
        """How many lines the chip has."""
        return self.bank.num_lines

    def set_pull(self, offset: int, pull: Pull) -> None:
        """Pull line ``offset`` up (True/``"pull-up"``) or down; see :meth:`SimBank.set_pull`."""
        self.bank.set_pull(offset, pull)

    def get_pull(self, offset: int) -> bool:
        """The simulator's pull on a line: True for pull-up."""
        return self.bank.get_pull(offset)

    def get_value(self, offset: int) -> bool:
        """The line's physical level (what an output drives, else the pull)."""
        return self.bank.get_value(offset)

    def udev_device(self) -> Any:
        """The chip's ``pyudev.Device``; see :meth:`SimBank.udev_device`."""
        return self.bank.udev_device()
