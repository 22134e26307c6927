"""OS primitives: eventfd, timerfd, and what a thread is blocked in. Nothing
GPIO-specific lives here.

Python 3.13 has ``os.timerfd_create``; on 3.11/3.12 a small ctypes shim calls libc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os
import platform
import threading
import time
from typing import Final

__all__ = [
    "blocked_in_wait",
    "eventfd_drain",
    "eventfd_signal",
    "new_eventfd",
    "new_timerfd",
    "timerfd_read",
    "timerfd_settime",
    "waits_visible",
]

CLOCK_MONOTONIC: Final = time.CLOCK_MONOTONIC
TFD_NONBLOCK: Final = os.O_NONBLOCK
TFD_CLOEXEC: Final = os.O_CLOEXEC


def new_eventfd(initial: int = 0, *, semaphore: bool = False) -> int:
    """Return a non-blocking, close-on-exec eventfd."""
    flags = os.EFD_NONBLOCK | os.EFD_CLOEXEC
    if semaphore:
        flags |= os.EFD_SEMAPHORE
    return os.eventfd(initial, flags)


def eventfd_signal(fd: int, count: int = 1) -> None:
    """Add ``count`` to an eventfd, making it readable."""
    os.eventfd_write(fd, count)


def eventfd_drain(fd: int) -> int:
    """Reset a non-blocking eventfd to zero; return the count it held (0 if none)."""
    try:
        return os.eventfd_read(fd)
    except BlockingIOError:
        return 0


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


@functools.cache
def _libc() -> ctypes.CDLL:
    # Loaded on first use, not at import, so that importing gpiocore costs nothing;
    # cached because find_library() starts a subprocess (~50 ms in the guest).
    lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    lib.timerfd_create.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.timerfd_create.restype = ctypes.c_int
    lib.timerfd_settime.argtypes = [
        ctypes.c_int,
        ctypes.c_int,
        ctypes.POINTER(_Itimerspec),
        ctypes.POINTER(_Itimerspec),
    ]
    lib.timerfd_settime.restype = ctypes.c_int
    return lib


def _ts(ns: int) -> _Timespec:
    return _Timespec(ns // 1_000_000_000, ns % 1_000_000_000)


def new_timerfd() -> int:
    """Return a non-blocking, close-on-exec timerfd on CLOCK_MONOTONIC."""
    if hasattr(os, "timerfd_create"):  # Python 3.13+
        return os.timerfd_create(CLOCK_MONOTONIC, flags=TFD_NONBLOCK | TFD_CLOEXEC)
    fd: int = _libc().timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"timerfd_create: {os.strerror(err)}")
    return fd


def timerfd_settime(fd: int, initial_ns: int, interval_ns: int) -> None:
    """Arm (or with ``initial_ns == 0``, disarm) a timerfd, relative to now."""
    if hasattr(os, "timerfd_settime_ns"):  # Python 3.13+
        os.timerfd_settime_ns(fd, initial=initial_ns, interval=interval_ns)
        return
    spec = _Itimerspec(_ts(interval_ns), _ts(initial_ns))
    if _libc().timerfd_settime(fd, 0, ctypes.byref(spec), None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"timerfd_settime: {os.strerror(err)}")


def timerfd_read(fd: int) -> int:
    """Return the expirations since the last read, 0 if none (non-blocking)."""
    try:
        data = os.read(fd, 8)
    except BlockingIOError:
        return 0
    except OSError as exc:  # ECANCELED only on clock jumps with TFD_TIMER_CANCEL_ON_SET
        if exc.errno == errno.ECANCELED:
            return 0
        raise
    return int.from_bytes(data, "little")


#: The syscalls a thread waits for fds in (poll, select, epoll_wait and their kin), by
#: machine: a thread blocked in one of these is idle until one of its fds is ready.
_WAIT_SYSCALLS: Final = {
    "x86_64": frozenset({7, 23, 232, 270, 271, 281, 441}),
    # the generic table (aarch64, riscv64): pselect6, ppoll, epoll_pwait, epoll_pwait2
    "aarch64": frozenset({72, 73, 22, 441}),
    "riscv64": frozenset({72, 73, 22, 441}),
    # 32-bit Arm EABI (a Pi on a 32-bit OS): _newselect, poll, epoll_wait, pselect6,
    # ppoll, epoll_pwait, epoll_pwait2
    "armv7l": frozenset({142, 168, 252, 335, 336, 346, 441}),
    "armv6l": frozenset({142, 168, 252, 335, 336, 346, 441}),
}


@functools.cache
def _wait_syscalls() -> frozenset[int] | None:
    found = _WAIT_SYSCALLS.get(platform.machine())
    if found is None:
        return None
    try:  # /proc/<pid>/task/<tid>/syscall needs procfs and the kernel's syscall tracing
        with open(f"/proc/self/task/{threading.get_native_id()}/syscall") as f:
            f.read()
    except OSError:
        return None
    return found


def waits_visible() -> bool:
    """Whether :func:`blocked_in_wait` can tell anything here (checked once)."""
    return _wait_syscalls() is not None


def blocked_in_wait(native_id: int) -> bool | None:
    """Whether a thread of this process is blocked waiting for fds (epoll, poll, select).

    Reads ``/proc/self/task/<tid>/syscall``: the kernel shows the syscall a blocked
    thread is in, or ``running`` while it runs or is runnable (a wake-up makes it
    runnable at once). None when this cannot be told here (no procfs, an unknown
    machine); False for a thread that has ended.
    """
    waits = _wait_syscalls()
    if waits is None:
        return None
    try:
        with open(f"/proc/self/task/{native_id}/syscall", "rb") as f:
            first = f.read(32).split(b" ", 1)[0]
    except OSError:
        return False
    return first.isdigit() and int(first) in waits
