"""Selector, Timer and Semaphore: an epoll event loop in the Quick2Wire style.

Every blocking wait goes through the backend clock's poller, so on the fake backend
timers run on virtual time and a harness can tell when the program is idle.
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import os
import select
import warnings
import weakref
from _thread import get_ident
from collections.abc import Callable
from types import TracebackType
from typing import Any, Final, Protocol, final

from gpiocore import _clock
from gpiocore._clock import Clock, Poller
from gpiocore._context import check_backend, current_backend
from gpiocore._errors import ClosedError, InvalidSettingError, TimerSettingError
from gpiocore._osprim import eventfd_signal, new_eventfd
from gpiocore._types import to_ns
from gpiocore.backends._base import Backend, TimerHandle

__all__ = [
    "EDGE",
    "ERROR",
    "HANGUP",
    "INPUT",
    "LEVEL",
    "ONESHOT",
    "OUTPUT",
    "PRIORITY_INPUT",
    "Selector",
    "Semaphore",
    "Timer",
]

INPUT: Final = select.EPOLLIN
"""Event flag: the source is readable (EPOLLIN); a pin has edges pending."""
OUTPUT: Final = select.EPOLLOUT
"""Event flag: the source is writable (EPOLLOUT)."""
ERROR: Final = select.EPOLLERR
"""Event flag: the source has an error condition (EPOLLERR)."""
HANGUP: Final = select.EPOLLHUP
"""Event flag: the source hung up (EPOLLHUP)."""
PRIORITY_INPUT: Final = select.EPOLLPRI
"""Event flag: the source has urgent data (EPOLLPRI)."""
LEVEL: Final = 0
"""Trigger: report a source for as long as it is ready (the default)."""
EDGE: Final = select.EPOLLET
"""Trigger: report a source only when it becomes ready (EPOLLET)."""
ONESHOT: Final = select.EPOLLONESHOT
"""Trigger: report a source once, then not until it is added again (EPOLLONESHOT)."""

Duration = float | int | datetime.timedelta


class _HasFileno(Protocol):
    def fileno(self) -> int: ...


def _fileno(source: int | _HasFileno) -> int:
    if isinstance(source, int) and not isinstance(source, bool):
        return source
    fileno = getattr(source, "fileno", None)
    if fileno is None:
        raise InvalidSettingError(
            f"{source!r} cannot be selected on: pass an fd or an object with fileno() "
            "(a Pin, Timer, Semaphore or socket)"
        )
    fd: int = fileno()
    return fd


@final
class SelectorLinks:
    """The selectors a source (pin, timer, semaphore) is in, held weakly.

    Closing the source must take it out of each before its fd is closed: epoll drops a
    closed fd by itself, and a stale entry would block the fd number's next user.
    """

    __slots__ = ("_selectors",)

    def __init__(self) -> None:
        self._selectors: weakref.WeakSet[Selector] = weakref.WeakSet()

    def joined(self, selector: Selector) -> None:
        """Called by :meth:`Selector.add`."""
        self._selectors.add(selector)

    def leave_all(self, source: object) -> None:
        """Take ``source`` out of every selector it is in (call before closing its fd)."""
        selectors = list(self._selectors)
        self._selectors.clear()
        for selector in selectors:
            selector._source_closing(source)


class _Closable(Protocol):
    def close(self) -> None: ...


def release_unclosed(obj: _Closable, warn: Callable[..., None]) -> None:
    """What a source dropped without close() does: warn as the standard library's
    files and sockets do, then close (quietly: at interpreter exit anything may be gone)."""
    warn(f"unclosed {obj!r}", ResourceWarning, source=obj)
    try:
        obj.close()
    except Exception:
        return


def _clock_of(clock: Clock | None, backend: Backend | None, where: str) -> Clock:
    if clock is not None:
        if not isinstance(clock, Clock):
            raise InvalidSettingError(
                f"{where}: clock must be a gpiocore clock (e.g. backend.clock), not {clock!r}"
            )
        return clock
    if backend is not None:
        return check_backend(backend, where).clock
    return current_backend().clock


@final
class Selector:
    """Waits for events on pins, timers, semaphores and any other fds.

    ``wait()`` reports one event at a time in :attr:`ready` (the identifier of the
    source, by default the source itself; None after a timeout) and :attr:`events`.

    Args:
        size_hint: a hint of how many sources will be added (epoll's sizehint, as
            Quick2Wire's ``Selector(1)`` passed it; -1 or 0: no hint). It never limits
            how many sources may be added, and it is not a timeout: that goes to
            :meth:`wait`.
        clock: the clock to wait on; default: the current backend's.
        backend: take the clock from this backend instead of the current one.
    """

    def __init__(
        self,
        size_hint: int = -1,
        *,
        clock: Clock | None = None,
        backend: Backend | None = None,
    ) -> None:
        if isinstance(size_hint, bool) or not isinstance(size_hint, int) or size_hint < -1:
            raise InvalidSettingError(
                f"size_hint must be a number of sources (or -1 for no hint), not {size_hint!r}: "
                "Selector's argument is epoll's size hint, as in Quick2Wire's Selector(1); "
                "a timeout goes to wait(timeout=...)"
            )
        self._clock = _clock_of(clock, backend, "Selector")
        self._poller: Poller | None = None
        self._poller = self._clock.poller(size_hint or -1)
        # A plain epoll set (the real clock) is polled straight by wait(): the edge path.
        self._epoll_poll: Callable[[float], list[tuple[int, int]]] | None = getattr(
            self._poller, "epoll_poll", None
        )
        # fd -> (source, identifier, its drain or None), the drain made once at add()
        # (the source's _selector_drain()) rather than looked up at every report.
        self._sources: dict[int, tuple[Any, Any, Callable[[], None] | None]] = {}
        self._pending: collections.deque[tuple[int, int]] = collections.deque()
        self.ready: Any = None
        """The identifier of the source reported by the last wait(), or None."""
        self.events = 0
        """The event mask of the source reported by the last wait()."""

    def __repr__(self) -> str:
        state = "closed" if self._poller is None else f"{len(self._sources)} sources"
        return f"<Selector {state}>"

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        if getattr(self, "_poller", None) is not None:
            release_unclosed(self, _warn)

    def _check_open(self) -> Poller:
        if self._poller is None:
            raise ClosedError("the selector is closed: create a new Selector")
        return self._poller

    def fileno(self) -> int:
        """The epoll fd, so a selector can itself be nested in another loop."""
        return self._check_open().fileno()

    def add(
        self,
        source: int | _HasFileno,
        eventmask: int = INPUT | ERROR,
        trigger: int | None = None,
        identifier: Any = None,
    ) -> None:
        """Watch ``source`` for ``eventmask``; ``trigger`` is LEVEL (default) or EDGE."""
        poller = self._check_open()
        try:
            fd = _fileno(source)
        except ClosedError as exc:
            raise ClosedError(f"{exc} (it must be open to be added to a selector)") from None
        if trigger is None:
            trigger = getattr(source, "__trigger__", LEVEL)
        if trigger not in (LEVEL, EDGE, ONESHOT, EDGE | ONESHOT):
            raise InvalidSettingError(
                f"invalid trigger {trigger!r}: use selector.LEVEL, selector.EDGE or ONESHOT"
            )
        if isinstance(eventmask, bool) or not isinstance(eventmask, int) or eventmask <= 0:
            raise InvalidSettingError(
                f"invalid eventmask {eventmask!r}: combine selector.INPUT, OUTPUT, ERROR, ..."
            )
        try:
            if fd in self._sources:
                try:
                    poller.modify(fd, eventmask | trigger)
                except FileNotFoundError:
                    # A raw fd closed while in the selector, its number now reused by
                    # another source (pins, timers and semaphores leave when closed).
                    self._forget_pending(fd)
                    poller.register(fd, eventmask | trigger)
            else:
                poller.register(fd, eventmask | trigger)
        except (OSError, ValueError, OverflowError) as exc:
            # EBADF (not an open fd), EPERM (a regular file), a negative fd, ...
            raise InvalidSettingError(
                f"{source!r} (fd {fd}) cannot be selected on ({exc}): pass an open fd or "
                "an object with fileno() (a Pin, Timer, Semaphore or socket)"
            ) from exc
        make_drain = getattr(source, "_selector_drain", None)
        drain = None if make_drain is None else make_drain()
        self._sources[fd] = (source, source if identifier is None else identifier, drain)
        joined = getattr(source, "_joined_selector", None)
        if joined is not None:
            joined(self)  # so that closing the source takes it out of this selector

    def remove(self, source: int | _HasFileno) -> None:
        """Stop watching ``source``.

        A pin, timer or semaphore that was closed has already left every selector
        it was in, so removing it then does nothing.

        Raises:
            InvalidSettingError: ``source`` is open and was never added.
        """
        poller = self._check_open()
        try:
            fd = _fileno(source)
        except ClosedError:
            self._source_closing(source)
            return
        if self._sources.pop(fd, None) is None:
            raise InvalidSettingError(f"{source!r} was never added to this selector")
        poller.unregister(fd)
        self._forget_pending(fd)

    def _forget_pending(self, fd: int) -> None:
        """Drop the reports of ``fd`` not yet handed out (in place: wait() holds it)."""
        pending = self._pending
        if pending:
            kept = [p for p in pending if p[0] != fd]
            pending.clear()
            pending.extend(kept)

    def _source_closing(self, source: object) -> None:
        """Forget ``source``: it is being closed (its fd still open) or was closed."""
        poller = self._poller
        for fd in [fd for fd, entry in self._sources.items() if entry[0] is source]:
            del self._sources[fd]
            self._forget_pending(fd)
            if poller is not None:
                # Already closed, the kernel has dropped it from the epoll set itself.
                with contextlib.suppress(OSError, ValueError):
                    poller.unregister(fd)

    def wait(self, timeout: Duration | None = None) -> None:
        """Wait for the next event, or ``timeout`` seconds (clock time; None: forever).

        Sets :attr:`ready` and :attr:`events`. A pin or timer that is reported has its
        pending events drained into it (``pin.edges()``, ``timer.wait()``), so the
        next wait does not report it again for the same events.
        """
        pending, sources = self._pending, self._sources
        epoll_poll = self._epoll_poll
        polled = False
        if timeout is None and epoll_poll is not None and not pending:
            # The edge path: the real clock's epoll polled straight, and one report
            # handled without the queue. As _EpollPoller.poll: the main thread waits in
            # slices (its signal handlers then run within a second); any other waits
            # for good (a wake-up a second costs an idle program CPU: 2.2x the floor
            # in the guest, measured).
            slice_s = _clock._SIGNAL_SLICE if get_ident() == _clock._main_ident else -1.0
            reports = epoll_poll(slice_s)
            while not reports:
                reports = epoll_poll(slice_s)
            if len(reports) == 1:
                fd, mask = reports[0]
                entry = sources.get(fd)
                if entry is not None:
                    self.ready = entry[1]
                    self.events = mask
                    drain = entry[2]
                    if drain is not None:
                        drain()
                    return
            pending.extend(reports)
            polled = True
        poller = self._poller
        if poller is None:
            poller = self._check_open()
        if timeout is not None:
            timeout = to_ns(timeout, "timeout") / 1e9
        while True:
            if not pending:
                if polled:
                    break
                pending.extend(poller.poll(timeout))
                polled = True
                if not pending:
                    break
            fd, mask = pending.popleft()
            entry = sources.get(fd)
            if entry is None:
                continue  # removed after the poll reported it
            # Set before draining: a pin with on_overflow="raise" raises from drain(),
            # and the program that catches it must see which source it was.
            self.ready = entry[1]
            self.events = mask
            drain = entry[2]
            if drain is not None:
                drain()
            return
        self.ready, self.events = None, 0

    @property
    def has_input(self) -> bool:
        """The reported source is readable."""
        return bool(self.events & INPUT)

    @property
    def closed(self) -> bool:
        """True once closed."""
        return self._poller is None

    def close(self) -> None:
        """Release the epoll set (not the sources); safe to call twice."""
        poller, self._poller = self._poller, None
        self._epoll_poll = None
        if poller is not None:
            poller.close()
        self._sources.clear()
        self._pending.clear()

    def __enter__(self) -> Selector:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@final
class Timer:
    """A one-shot or repeating timer whose fd becomes readable when it expires.

    A timerfd on CLOCK_MONOTONIC on real backends; virtual time on the fake backend.
    In a :class:`Selector`, an expiry is taken off the fd when the selector reports
    it (and kept for :meth:`wait`), so a loop that never calls ``wait()`` goes idle
    instead of spinning, as the post's program expects.

    Args:
        offset: seconds (or a ``timedelta``) from ``start()`` to the first expiry.
        interval: seconds between later expiries; 0 for a one-shot timer. With
            ``offset=0`` the first expiry comes after one interval.
        backend: the backend whose clock the timer follows (default: the current one).
    """

    def __init__(
        self,
        offset: Duration = 0,
        interval: Duration = 0,
        *,
        backend: Backend | None = None,
    ) -> None:
        self._backend = current_backend() if backend is None else check_backend(backend, "Timer")
        self._offset_ns = to_ns(offset, "offset")
        self._interval_ns = to_ns(interval, "interval")
        self._handle: TimerHandle | None = None
        self._poller: Poller | None = None
        self._running = False
        self._pending = 0
        self._closed = False
        self._links = SelectorLinks()

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("running" if self._running else "stopped")
        return f"<Timer offset={self.offset}s interval={self.interval}s {state}>"

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        if getattr(self, "_handle", None) is not None or getattr(self, "_poller", None):
            release_unclosed(self, _warn)

    def _joined_selector(self, selector: Selector) -> None:
        self._links.joined(selector)

    def _timer(self) -> TimerHandle:
        if self._closed:
            raise ClosedError("the timer is closed: create a new Timer")
        if self._handle is None:
            self._handle = self._backend.create_timer()
        return self._handle

    def fileno(self) -> int:
        """An fd readable once the timer has expired."""
        return self._timer().fileno()

    @property
    def offset(self) -> float:
        """Seconds from start to the first expiry; setting it re-arms a running timer."""
        return self._offset_ns / 1e9

    @offset.setter
    def offset(self, value: Duration) -> None:
        self._offset_ns = to_ns(value, "offset")
        if self._running:
            self.start()

    @property
    def interval(self) -> float:
        """Seconds between expiries (0: one-shot); setting it re-arms a running timer."""
        return self._interval_ns / 1e9

    @interval.setter
    def interval(self, value: Duration) -> None:
        self._interval_ns = to_ns(value, "interval")
        if self._running:
            self.start()

    @property
    def running(self) -> bool:
        """True between start() and stop() (a one-shot timer stays so until read)."""
        return self._running

    def start(self) -> None:
        """Arm the timer (again, from now).

        Raises:
            TimerSettingError: both offset and interval are 0.
        """
        if self._offset_ns == 0 and self._interval_ns == 0:
            raise TimerSettingError(
                "Timer.start() with offset=0 and interval=0 would never fire: "
                "give it an offset (one-shot) or an interval (repeating), e.g. Timer(offset=2)"
            )
        handle = self._timer()
        self._pending = 0
        handle.arm(self._offset_ns or self._interval_ns, self._interval_ns)
        self._running = True

    def stop(self) -> None:
        """Disarm the timer and forget expirations not yet waited for."""
        if self._handle is not None:
            self._handle.disarm()
        self._pending = 0
        self._running = False

    def _selector_drain(self) -> Callable[[], None]:
        return self._take_expiries

    def _take_expiries(self) -> None:
        if self._handle is not None:
            self._pending += self._handle.read()

    def wait(self, timeout: Duration | None = None) -> int:
        """Block until the timer expires; return how many times it has (0 on timeout).

        Raises:
            TimerSettingError: the timer is not running and has nothing pending.
        """
        handle = self._timer()
        self._pending += handle.read()
        if not self._pending:
            if not self._running:
                raise TimerSettingError(
                    "Timer.wait() on a timer that is not running would block forever: "
                    "call start() first"
                )
            if self._poller is None:
                self._poller = self._backend.clock.poller(1)
                self._poller.register(handle.fileno(), INPUT)
            self._poller.poll(None if timeout is None else to_ns(timeout, "timeout") / 1e9)
            self._pending += handle.read()
        count, self._pending = self._pending, 0
        if count and not self._interval_ns:
            self._running = False
        return count

    @property
    def closed(self) -> bool:
        """True once closed."""
        return self._closed

    def close(self) -> None:
        """Stop and release the timer; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._running = False
        self._links.leave_all(self)
        if self._poller is not None:
            self._poller.close()
            self._poller = None
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> Timer:
        self._timer()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@final
class Semaphore:
    """A counting semaphore on an eventfd, so a selector can wait for it.

    Args:
        count: the initial count.
        blocking: if False, ``wait()`` returns False at once instead of blocking.
        backend: whose clock blocking waits follow (default: the current backend's).
    """

    def __init__(
        self, count: int = 0, *, blocking: bool = True, backend: Backend | None = None
    ) -> None:
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count < 2**32:
            # eventfd's initial count is a C unsigned int.
            raise InvalidSettingError(
                f"a semaphore count must be an int from 0 to 2**32 - 1, not {count!r}"
            )
        if not isinstance(blocking, bool):
            raise InvalidSettingError(f"blocking must be True or False, not {blocking!r}")
        chosen = current_backend() if backend is None else check_backend(backend, "Semaphore")
        self._clock = chosen.clock
        self._blocking = blocking
        self._poller: Poller | None = None
        self._links = SelectorLinks()
        self._fd: int | None = new_eventfd(count, semaphore=True)

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        if getattr(self, "_fd", None) is not None:
            release_unclosed(self, _warn)

    def _joined_selector(self, selector: Selector) -> None:
        self._links.joined(selector)

    def _check_open(self) -> int:
        if self._fd is None:
            raise ClosedError("the semaphore is closed: create a new Semaphore")
        return self._fd

    def fileno(self) -> int:
        """An fd readable while the count is above zero."""
        return self._check_open()

    def signal(self) -> None:
        """Add one to the count, waking a waiter."""
        fd = self._check_open()
        signal_fd = getattr(self._clock, "signal_fd", None)
        if signal_fd is not None:
            signal_fd(fd)  # the virtual clock must learn of it (see VirtualClock.signal_fd)
        else:
            eventfd_signal(fd)

    def wait(self, timeout: Duration | None = None) -> bool:
        """Take one from the count; block while it is zero (unless non-blocking).

        Returns:
            True if a count was taken, False on timeout or when non-blocking and empty.
        """
        fd = self._check_open()
        if self._try_take(fd):
            return True
        if not self._blocking:
            return False
        if self._poller is None:
            self._poller = self._clock.poller(1)
            self._poller.register(fd, INPUT)
        self._poller.poll(None if timeout is None else to_ns(timeout, "timeout") / 1e9)
        return self._try_take(fd)

    @staticmethod
    def _try_take(fd: int) -> bool:
        try:
            os.eventfd_read(fd)
        except BlockingIOError:
            return False
        return True

    def close(self) -> None:
        """Release the eventfd; safe to call twice."""
        if self._fd is not None:
            self._links.leave_all(self)
        if self._poller is not None:
            self._poller.close()
            self._poller = None
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __enter__(self) -> Semaphore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
