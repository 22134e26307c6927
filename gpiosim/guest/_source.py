"""Where the guest kernel's source comes from (:class:`KernelSource`: a Debian/Ubuntu
``linux-source-X.Y`` package or a tarball with its sha256) and where builds are kept.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gpiocore import InvalidSettingError

__all__ = [
    "DEFAULT_SOURCE",
    "ENV_KERNEL",
    "ENV_NO_BUILD",
    "ENV_SHA256",
    "ENV_SOURCE",
    "MIN_VERSION",
    "KernelSource",
    "kernel_cache_dir",
    "parse_source",
]


DEFAULT_SOURCE = "linux-source-6.12"
"""What a guest kernel is built from unless told otherwise (Debian 13, Raspberry Pi OS)."""

MIN_VERSION = (5, 19)
"""The oldest kernel whose gpio-sim is configured through configfs as gpiosim does it."""

ENV_SOURCE = "GPIOSIM_KERNEL_SOURCE"
"""The kernel source when none is given: a package name, ``apt``, a tarball path or URL."""

ENV_SHA256 = "GPIOSIM_KERNEL_SHA256"
"""The sha256 of the tarball named by :data:`ENV_SOURCE`."""

ENV_KERNEL = "GPIOSIM_KERNEL"
"""A prebuilt guest kernel image to use instead of a cached or built one."""

ENV_NO_BUILD = "GPIOSIM_NO_BUILD"
"""``1``: never start a kernel build (tests set it); a missing kernel is an error."""

_DATA = Path(__file__).resolve().parents[1] / "data"
_FRAGMENT = _DATA / "guest-kernel.config"

# What the guest cannot run without; a prebuilt image must have all of it.  (The
# fragment asks for more: a fine clock, a quick boot; a build checks all of that.)
_GUEST_NEEDS = (
    "64BIT", "FUTEX", "EPOLL", "TIMERFD", "EVENTFD", "SHMEM", "POSIX_TIMERS", "BINFMT_ELF",
    "BINFMT_SCRIPT", "PROC_FS", "SYSFS", "DEVTMPFS", "TMPFS", "OVERLAY_FS", "CONFIGFS_FS",
    "MAGIC_SYSRQ", "SERIAL_8250_CONSOLE", "PCI", "VIRTIO_PCI", "VIRTIO_CONSOLE", "NET", "UNIX",
    "NET_9P", "NET_9P_VIRTIO", "9P_FS", "GPIOLIB", "GPIO_CDEV", "GPIO_SIM",
)

_BUILD_PROGRAMS = (
    ("tar", "tar"),
    ("xz", "xz-utils"),
    ("make", "make"),
    ("gcc", "gcc"),
    ("flex", "flex"),
    ("bison", "bison"),
    ("bc", "bc"),
    ("lz4", "lz4"),
)
# Only a package source needs these.
_APT_PROGRAMS = (("apt-get", "apt"), ("dpkg-deb", "dpkg"))
# objtool needs libelf; the certificate tools need OpenSSL.
_BUILD_HEADERS = (
    ("libelf.h", "libelf-dev"),
    ("gelf.h", "libelf-dev"),
    ("openssl/opensslv.h", "libssl-dev"),
)

# Lines of make's output that are one compile step each, for the progress line.
_MAKE_STEP = re.compile(rb"^\s+(CC|AS|LD|AR|HOSTCC|HOSTLD|OBJCOPY|GEN|UPD)\s")
# A build of tinyconfig + the fragment takes about this many steps (6.1: ~1,050).
_DEFAULT_STEPS = 1100
_PROGRESS_EVERY_S = 15.0
_TARBALL = re.compile(r"\.tar(\.(xz|gz|bz2|zst))?$")

Log = Callable[[str], None]
"""Receives one line of progress at a time."""


# --------------------------------------------------------------------------- paths


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gpiorig"


def kernel_cache_dir() -> Path:
    """Return the folder that holds the cached guest kernels.

    ``$XDG_CACHE_HOME/gpiorig/kernel`` (``~/.cache/gpiorig/kernel`` by default); each
    kernel lives in ``<source id>-<fragment hash>/`` as ``bzImage`` with its
    ``.config`` and ``source.json``.

    Returns:
        The folder; it may not exist yet.
    """
    return _cache_root() / "kernel"


# ------------------------------------------------------------------------- sources


def _series_of(package: str) -> tuple[int, int]:
    return _version_tuple(package.rsplit("-", 1)[-1]) or (0, 0)


def _version_tuple(text: str) -> tuple[int, int] | None:
    found = re.match(r"(\d+)\.(\d+)", text)
    return (int(found[1]), int(found[2])) if found else None


def _check_version(version: tuple[int, int], what: str) -> None:
    if version < MIN_VERSION:
        raise InvalidSettingError(
            f"{what} is Linux {version[0]}.{version[1]}, older than "
            f"{MIN_VERSION[0]}.{MIN_VERSION[1]}: gpio-sim is configured through configfs "
            f"from {MIN_VERSION[0]}.{MIN_VERSION[1]} on; pick a newer source, e.g. "
            f"--source {DEFAULT_SOURCE}"
        )


@dataclass(frozen=True)
class KernelSource:
    """Where a guest kernel's source comes from.

    Attributes:
        kind: ``"apt"`` (a ``linux-source-X.Y`` package) or ``"tarball"``.
        ref: The package name, or the tarball's path or URL.
        sha256: The tarball's sha256 (hex); None for a package.
        series: ``(X, Y)`` where known before the source is fetched.
    """

    kind: str
    ref: str
    sha256: str | None = None
    series: tuple[int, int] | None = None

    @property
    def cache_id(self) -> str:
        """The part of the cache key that names the source (a point release is not in it)."""
        if self.kind == "apt":
            assert self.series is not None
            return f"{self.series[0]}.{self.series[1]}"
        assert self.sha256 is not None
        return f"tar-{self.sha256[:16]}"

    def __str__(self) -> str:
        return self.ref if self.kind == "apt" else f"{self.ref} (sha256 {self.sha256})"


def _apt_source_packages() -> list[str]:
    """The ``linux-source-X.Y`` packages apt knows, newest first."""
    if shutil.which("apt-cache") is None:
        return []
    done = subprocess.run(
        ["apt-cache", "pkgnames", "linux-source-"],
        capture_output=True,
        text=True,
        check=False,
    )
    names = [n for n in done.stdout.split() if re.fullmatch(r"linux-source-\d+\.\d+", n)]
    return sorted(names, key=_series_of, reverse=True)


def parse_source(spec: str | None = None, sha256: str | None = None) -> KernelSource:
    """Turn a kernel source as a user writes it into a :class:`KernelSource`.

    Args:
        spec: ``linux-source-X.Y`` (or just ``X.Y``), ``apt`` (the newest
            ``linux-source-X.Y`` apt knows), or a tarball's path or ``file://``/
            ``https://`` URL.  None: ``$GPIOSIM_KERNEL_SOURCE``, else
            :data:`DEFAULT_SOURCE`.
        sha256: The tarball's sha256, required for a tarball (None:
            ``$GPIOSIM_KERNEL_SHA256``).

    Returns:
        The source.

    Raises:
        InvalidSettingError: (a ValueError) a malformed spec, a tarball without a valid
            sha256, a version older than :data:`MIN_VERSION`, or ``apt`` where apt
            knows no ``linux-source`` package.
    """
    if spec is None:
        spec = os.environ.get(ENV_SOURCE, "").strip() or DEFAULT_SOURCE
        if sha256 is None:
            sha256 = os.environ.get(ENV_SHA256, "").strip() or None
    if not isinstance(spec, str) or not spec.strip():
        raise InvalidSettingError(
            f"a kernel source must be a package name, 'apt' or a tarball, not {spec!r}: "
            f"e.g. {DEFAULT_SOURCE}"
        )
    spec = spec.strip()
    if re.fullmatch(r"\d+\.\d+", spec):
        spec = f"linux-source-{spec}"
    if spec == "apt":
        packages = _apt_source_packages()
        usable = [p for p in packages if _series_of(p) >= MIN_VERSION]
        if not usable:
            raise InvalidSettingError(
                "--source apt: apt knows no linux-source-X.Y package of "
                f"{MIN_VERSION[0]}.{MIN_VERSION[1]} or newer (run `apt-get update`, or "
                "give a kernel.org tarball and its sha256)"
            )
        spec = usable[0]
    package = re.fullmatch(r"linux-source-(\d+\.\d+)", spec)
    if package:
        series = _version_tuple(package[1])
        assert series is not None
        _check_version(series, spec)
        if sha256 is not None:
            raise InvalidSettingError(
                f"--sha256 is for a tarball; {spec} is a package, which apt verifies"
            )
        return KernelSource("apt", spec, None, series)
    if not _TARBALL.search(urllib.parse.urlparse(spec).path or spec):
        raise InvalidSettingError(
            f"unknown kernel source {spec!r}: give linux-source-X.Y, 'apt', or a "
            ".tar.xz/.tar.gz tarball's path or URL with its sha256"
        )
    if sha256 is None or not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise InvalidSettingError(
            f"the tarball {spec} needs its sha256 (64 hex digits, as kernel.org publishes "
            f"it), not {sha256!r}: pass --sha256 HEX (or {ENV_SHA256})"
        )
    named = re.search(r"linux-(\d+\.\d+)", Path(urllib.parse.urlparse(spec).path).name)
    series = _version_tuple(named[1]) if named else None
    if series is not None:
        _check_version(series, spec)
    scheme = urllib.parse.urlparse(spec).scheme
    if scheme not in ("", "file", "http", "https"):
        raise InvalidSettingError(f"cannot fetch {spec!r}: use a path, file://, or https://")
    ref = spec if scheme else os.path.abspath(spec)
    return KernelSource("tarball", ref, sha256.lower(), series)
