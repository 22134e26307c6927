"""One run per rig: :class:`RigLock`, an exclusive ``flock`` on a file named after the rig.

Two test runs never drive the same rig; the second is told which pid holds it. The kernel
drops the lock when its holder dies, so a crashed run never leaves the rig locked.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Final, final

from gpiocore import GpioPermissionError
from gpiosim._errors import RigBusyError
from gpiosim.pi._rigfile import validate_rig_name

__all__ = ["ENV_LOCK_DIR", "RigLock", "default_lock_dir"]


ENV_LOCK_DIR: Final = "GPIOSIM_LOCK_DIR"
"""A folder for rig locks, instead of /run/lock (every run of one rig must agree)."""


def default_lock_dir() -> Path:
    """Where rig locks live: ``$GPIOSIM_LOCK_DIR``, else ``/run/lock`` (shared by every
    user on Debian and Raspberry Pi OS), else ``$XDG_RUNTIME_DIR``, else the temp folder."""
    env = os.environ.get(ENV_LOCK_DIR)
    if env:
        return Path(env)
    run_lock = Path("/run/lock")
    if run_lock.is_dir() and os.access(run_lock, os.W_OK | os.X_OK):
        return run_lock
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime)
    return Path(tempfile.gettempdir())


def _open_lock_file(path: Path) -> int:
    # Open an existing file without O_CREAT: with fs.protected_regular, O_CREAT on
    # another user's file in a sticky folder such as /run/lock fails with EACCES.
    try:
        return os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        pass
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except FileExistsError:  # made by another run in between
        return os.open(path, os.O_RDWR | os.O_CLOEXEC)
    with contextlib.suppress(OSError):
        os.fchmod(fd, 0o666)  # so the next user of the rig, not only us, can lock it
    return fd


def _holder(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _command_of(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)


@final
class RigLock:
    """An exclusive lock on a rig, held by at most one process at a time.

    The lock is re-entrant within a process: while this process holds it (say, the
    pytest session), another ``RigLock`` of the same rig acquired here (a test's
    harness) succeeds without owning it, and its release leaves the lock in place.

    Args:
        name: the rig's name (checked: it names a file and must not leave the folder).
        lock_dir: where the lock file lives (default :func:`default_lock_dir`).

    Raises:
        InvalidNameError: ``name`` could escape the folder or is malformed.
    """

    def __init__(self, name: str, *, lock_dir: Path | None = None) -> None:
        self.name = validate_rig_name(name)
        self.path = (lock_dir if lock_dir is not None else default_lock_dir()) / (
            f"gpiorig-rig-{name}.lock"
        )
        """The lock file."""
        self._fd: int | None = None
        self._shared = False

    def __repr__(self) -> str:
        state = "owned" if self._fd is not None else "shared" if self._shared else "free"
        return f"RigLock({self.name!r}, {state}, path={str(self.path)!r})"

    @property
    def held(self) -> bool:
        """True while this object holds the lock (or shares this process's hold)."""
        return self._fd is not None or self._shared

    def acquire(self) -> RigLock:
        """Take the lock without waiting; returns self.

        Raises:
            RigBusyError: another process holds it (the message names its pid).
            GpioPermissionError: the lock file cannot be opened.
        """
        if self.held:
            return self
        try:
            fd = _open_lock_file(self.path)
        except PermissionError as exc:
            raise GpioPermissionError(
                f"cannot open the lock of rig {self.name!r} at {self.path} ({exc.strerror}): "
                f"make it writable for every user of the rig (sudo chmod 666 {self.path})"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _holder(fd)
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            if holder == os.getpid():
                self._shared = True
                return self
            who = f"pid {holder}" if holder is not None else "another process (pid unknown)"
            command = _command_of(holder) if holder is not None else ""
            raise RigBusyError(
                f"rig {self.name!r} is in use by {who}"
                + (f" ({command})" if command else "")
                + f"; lock {self.path}: one run drives a rig at a time: wait for it to "
                "finish, or stop it"
            ) from None
        # Ours now: record who holds it for the next one who asks.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Give the lock up (a shared hold just forgets it); safe to call twice.

        The file stays: removing it would let a waiting process lock a file that a
        third process has already replaced.
        """
        fd, self._fd = self._fd, None
        self._shared = False
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing the only descriptor drops the flock

    def __enter__(self) -> RigLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
