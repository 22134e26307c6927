"""Clocks: the protocol every backend's clock follows, and the real monotonic clock.

A clock owns two things: what time it is, and how a program *waits*. Every blocking
wait in gpiocore (``Selector.wait``, ``Timer.wait``, ``Semaphore.wait``) goes through a
:class:`Poller` made by the clock of the backend in use. With the real clock a poller is
a plain epoll set. The fake backend's virtual clock (``gpiocore.testing.VirtualClock``)
makes pollers that also tell it when the program is idle.
"""

from __future__ import annotations

import os
import select
import threading
import time
from _thread import get_ident
from typing import Protocol, final, runtime_checkable

from gpiocore._types import to_ns

__all__ = ["Clock", "MonotonicClock", "Poller"]


@runtime_checkable
class Poller(Protocol):
    """An epoll set that one thread at a time blocks on, on behalf of a clock."""

    def register(self, fd: int, eventmask: int) -> None:
        """Watch ``fd`` for ``eventmask`` (``select.EPOLL*`` flags)."""
        ...

    def modify(self, fd: int, eventmask: int) -> None:
        """Change the events watched on ``fd``."""
        ...

    def unregister(self, fd: int) -> None:
        """Stop watching ``fd``."""
        ...

    def poll(self, timeout: float | None = None, maxevents: int = -1) -> list[tuple[int, int]]:
        """Wait until a registered fd is ready or ``timeout`` seconds pass (clock time)."""
        ...

    def fileno(self) -> int:
        """The epoll fd itself."""
        ...

    def close(self) -> None:
        """Close the epoll set; safe to call twice."""
        ...


@runtime_checkable
class Clock(Protocol):
    """A backend's notion of time and of waiting."""

    @property
    def virtual(self) -> bool:
        """True when time only moves when told to (the fake backend)."""
        ...

    def monotonic_ns(self) -> int:
        """The current time in nanoseconds on this clock."""
        ...

    def poller(self, sizehint: int = -1) -> Poller:
        """Return a new poller whose waits follow this clock."""
        ...


#: The longest single epoll_wait, in seconds (its timeout is a C int of milliseconds).
_MAX_EPOLL_WAIT = (2**31 - 1) / 1000 - 1
#: The longest single wait of the main thread, in seconds (see _EpollPoller.poll).
_SIGNAL_SLICE = 1.0
#: The main thread, which runs signal handlers (a child forked from another thread has
#: that one as its main thread).
_main_ident = threading.main_thread().ident


def _after_fork_in_child() -> None:
    global _main_ident
    _main_ident = threading.main_thread().ident


os.register_at_fork(after_in_child=_after_fork_in_child)


class _EpollPoller:
    """A plain epoll set: the real clock's poller."""

    __slots__ = ("_epoll", "epoll_poll")

    def __init__(self, sizehint: int = -1) -> None:
        self._epoll = select.epoll(sizehint)
        # For Selector's edge path: the epoll's own poll, no Python frame in between.
        self.epoll_poll = self._epoll.poll

    def register(self, fd: int, eventmask: int) -> None:
        self._epoll.register(fd, eventmask)

    def modify(self, fd: int, eventmask: int) -> None:
        self._epoll.modify(fd, eventmask)

    def unregister(self, fd: int) -> None:
        self._epoll.unregister(fd)

    def poll(self, timeout: float | None = None, maxevents: int = -1) -> list[tuple[int, int]]:
        # A signal that lands just before epoll_wait blocks is handled only when the
        # wait returns (CPython runs handlers between bytecodes, in the main thread):
        # there, wait in slices, so Ctrl-C or SIGTERM ends a program within a second.
        # get_ident() is one C call: this runs on every wait, where current_thread()
        # costs tens of microseconds on a slow CPU.
        main = get_ident() == _main_ident
        if timeout is None and not main:
            return self._epoll.poll(-1.0, maxevents)
        # epoll_wait takes an int of milliseconds (about 24.8 days at most): wait longer
        # timeouts in slices rather than let Python raise OverflowError.
        end = None if timeout is None else time.monotonic() + to_ns(timeout, "timeout") / 1e9
        longest = _SIGNAL_SLICE if main else _MAX_EPOLL_WAIT
        while True:
            left = longest if end is None else max(0.0, end - time.monotonic())
            events = self._epoll.poll(min(left, longest), maxevents)
            if events or (end is not None and left <= longest):
                return events

    def fileno(self) -> int:
        return self._epoll.fileno()

    def close(self) -> None:
        self._epoll.close()


@final
class MonotonicClock:
    """The real CLOCK_MONOTONIC, the clock of the kernel's edge timestamps."""

    virtual = False

    def monotonic_ns(self) -> int:
        """Return ``time.monotonic_ns()``."""
        return time.monotonic_ns()

    def poller(self, sizehint: int = -1) -> Poller:
        """Return a plain epoll set."""
        return _EpollPoller(sizehint)
