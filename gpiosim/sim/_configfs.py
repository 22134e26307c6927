"""Reading and writing configfs and sysfs attributes; devices gpiorig owns, and reclaiming
the ones a dead process left behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from gpiocore import InvalidSettingError
from gpiosim.sim._env import _OWNED_RE, _PREFIX, CONFIGFS_ROOT, PROC_ROOT

__all__ = [
    "reclaim_stale",
]


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
