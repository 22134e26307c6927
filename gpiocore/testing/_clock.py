"""The virtual clock: time that moves only when told to, for instant and exact tests.

Its pollers tell the clock when their thread is idle, which is what lets a test harness
advance time exactly ("settle, then jump") and lets the clock autojump to the next
deadline, as trio's ``MockClock`` does. Which watched program threads are idle, and
stopping them at a safe point, are in :mod:`gpiocore.testing._idle`.

A backend on this clock (the fake) changes its state under :attr:`VirtualClock.lock`
and uses :meth:`~VirtualClock.schedule`, :meth:`~VirtualClock.cancel`,
:meth:`~VirtualClock.wake_all` and :meth:`~VirtualClock.signal_fd`, which take that
same (re-entrant) lock, so a change and its deadlines are atomic with time.
"""

from __future__ import annotations

import collections
import contextlib
import heapq
import itertools
import os
import select
import threading
import time
from collections.abc import Callable, Iterator
from typing import final

from gpiocore._clock import Poller
from gpiocore._errors import InvalidSettingError, SettleTimeoutError
from gpiocore._osprim import eventfd_drain, eventfd_signal, new_eventfd
from gpiocore._types import to_ns
from gpiocore.testing._idle import Interrupts, ThreadWatch, alive

__all__ = ["VirtualClock"]


class _VirtualPoller:
    """An epoll set whose thread tells the virtual clock when it is idle.

    ``busy`` is true while the program runs between waits, and from the moment the
    clock learns that one of its fds was signalled until it polls and finds nothing
    left: that is how ``settle()`` knows the program has reacted to everything.
    """

    def __init__(self, clock: VirtualClock, sizehint: int = -1) -> None:
        self._clock = clock
        self._epoll = select.epoll(sizehint)
        self._wake = new_eventfd()
        self._epoll.register(self._wake, select.EPOLLIN)
        self.busy = True
        self.watched: set[int] = set()
        # The thread that uses this poller; settle() called from that same thread
        # must not wait for it (it cannot be blocked in a wait while it settles).
        self.owner = threading.get_ident()
        self._closed = False
        clock._register(self)

    def register(self, fd: int, eventmask: int) -> None:
        self._epoll.register(fd, eventmask)
        with self._clock._cond:
            self.watched.add(fd)

    def modify(self, fd: int, eventmask: int) -> None:
        self._epoll.modify(fd, eventmask)

    def unregister(self, fd: int) -> None:
        with self._clock._cond:
            self.watched.discard(fd)
        self._epoll.unregister(fd)

    def fileno(self) -> int:
        return self._epoll.fileno()

    def wake(self) -> None:
        eventfd_signal(self._wake)

    def poll(self, timeout: float | None = None, maxevents: int = -1) -> list[tuple[int, int]]:
        clock = self._clock
        wake = self._wake
        token = None
        deadline = None
        self.owner = threading.get_ident()
        with clock._cond:
            if timeout is not None:
                deadline = clock._now + to_ns(timeout, "timeout")
                token = clock._schedule_locked(deadline, self.wake)
        try:
            while True:
                clock.check_interrupt()
                with clock._cond:
                    clock._woken.discard(self)
                events = [ev for ev in self._epoll.poll(0, maxevents) if ev[0] != wake]
                eventfd_drain(wake)
                with clock._cond:
                    if events or (deadline is not None and clock._now >= deadline):
                        self.busy = True
                        return events
                    if self in clock._woken:
                        continue  # signalled after our poll: look again before going idle
                    self.busy = False
                    clock._cond.notify_all()
                    if clock._autojump_threshold == 0 and clock._try_autojump_locked():
                        continue
                    real_timeout = clock._autojump_threshold
                self._epoll.poll(real_timeout if real_timeout else -1)
                with clock._cond:
                    if real_timeout and not self.busy and self not in clock._woken:
                        clock._try_autojump_locked()
        finally:
            with clock._cond:
                self.busy = True
                if token is not None:
                    clock._cancel_locked(token)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._clock._unregister(self)
        self._epoll.close()
        os.close(self._wake)


@final
class VirtualClock:
    """A clock that only moves when told to, for instant and exact timer tests.

    Args:
        start: the initial time in seconds.
        autojump_threshold: ``0`` (default) jumps to the next deadline as soon as every
            thread using the clock is blocked in a wait and no harness holds the clock
            (see :meth:`hold`); a positive number of real seconds waits that long idle
            first; ``None`` never jumps by itself (only :meth:`advance` moves time).
        settle_timeout: how many real seconds ``settle()`` waits for the program to go
            idle before raising :class:`SettleTimeoutError`.
    """

    virtual = True

    def __init__(
        self,
        start: float = 0.0,
        *,
        autojump_threshold: float | None = 0.0,
        settle_timeout: float = 10.0,
    ) -> None:
        self._cond = threading.Condition(threading.RLock())
        self._now = to_ns(start, "start")
        self._heap: list[tuple[int, int, Callable[[], None]]] = []
        self._cancelled: set[int] = set()
        self._seq = itertools.count()
        self._waiters: set[_VirtualPoller] = set()
        self._holders: collections.Counter[int] = collections.Counter()
        self._interrupts = Interrupts()
        self._pending: dict[int, int] = {}  # fd with unread events -> the thread it is for
        self._watched = ThreadWatch()  # program threads whose raw waits count as idle
        self._woken: set[_VirtualPoller] = set()
        if autojump_threshold is not None:
            to_ns(autojump_threshold, "autojump_threshold")
        self._autojump_threshold = autojump_threshold
        self.settle_timeout = settle_timeout

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._now / 1e9:.9f}s, deadlines={len(self._heap)})"

    # -- time ------------------------------------------------------------------
    def monotonic_ns(self) -> int:
        """The current virtual time in nanoseconds."""
        with self._cond:
            return self._now

    def monotonic(self) -> float:
        """The current virtual time in seconds."""
        return self.monotonic_ns() / 1e9

    @property
    def autojump_threshold(self) -> float | None:
        """See the class docstring; settable at any time."""
        return self._autojump_threshold

    @autojump_threshold.setter
    def autojump_threshold(self, value: float | None) -> None:
        if value is not None:
            to_ns(value, "autojump_threshold")
        with self._cond:
            self._autojump_threshold = value
            for w in self._waiters:
                w.wake()  # re-evaluate with the new threshold

    def next_deadline_ns(self) -> int | None:
        """The earliest pending deadline, or None."""
        with self._cond:
            self._prune_locked()
            return self._heap[0][0] if self._heap else None

    def advance(self, seconds: float) -> None:
        """Move time forward, firing every deadline on the way in order.

        Before each deadline fires, and at the end, waits until the program under test
        has reacted (see :meth:`settle`).

        Raises:
            InvalidSettingError: ``seconds`` is negative ("time can't go backwards").
        """
        if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds < 0:
            raise InvalidSettingError(f"time can't go backwards: advance({seconds!r})")
        with self._cond:
            target = self._now + to_ns(seconds, "seconds")
        self.advance_to_ns(target)

    def advance_to_ns(self, target_ns: int) -> None:
        """Move time forward to ``target_ns``, firing deadlines on the way (see advance)."""
        while True:
            self.settle()
            with self._cond:
                if target_ns < self._now:
                    raise InvalidSettingError(
                        f"time can't go backwards: {target_ns} ns is before now ({self._now} ns)"
                    )
                self._prune_locked()
                if not self._heap or self._heap[0][0] > target_ns:
                    self._now = target_ns
                    break
                self._now = self._heap[0][0]
                self._fire_due_locked()
        self.settle()

    def interrupt(self, thread_ident: int, exc_type: type[BaseException]) -> None:
        """Make ``thread_ident`` raise ``exc_type`` at its next wait or fake-line call.

        This is how an app runner stops a program thread: at a safe point in
        gpiocore's own code (never while a lock is held), unlike an asynchronous
        exception, which can strike inside a ``with lock:`` and leave the lock held.
        """
        with self._cond:
            self._interrupts.schedule(thread_ident, exc_type)
            self._wake_all_locked()

    def check_interrupt(self) -> None:
        """Raise the exception :meth:`interrupt` scheduled for the calling thread, once."""
        if self._interrupts:
            with self._cond:
                exc_type = self._interrupts.take()
            if exc_type is not None:
                raise exc_type()

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Suspend autojump while the calling thread runs (a harness driving inputs).

        While held, time jumps by itself only when the holding thread is itself
        blocked in a wait on this clock; otherwise only :meth:`advance` moves it.
        """
        me = threading.get_ident()
        with self._cond:
            self._holders[me] += 1
        try:
            yield
        finally:
            with self._cond:
                self._holders[me] -= 1
                if not self._holders[me]:
                    del self._holders[me]
                self._wake_all_locked()  # an idle program may jump now

    def watch_thread(self) -> None:
        """Count the calling thread (a program under test) as busy unless it waits.

        A watched thread is idle only while it is blocked in a wait on this clock or
        in a raw fd wait (``select.epoll``, ``poll``, ``select``), which the clock
        reads from ``/proc``; running, sleeping in real time or waiting for the GIL it
        is busy, so :meth:`settle` waits for a raw-epoll program as exactly as for one
        that uses a ``Selector``. App runners call this in the program's thread.
        """
        with self._cond:
            self._watched.add_current()

    def unwatch_thread(self) -> None:
        """Stop watching the calling thread (see :meth:`watch_thread`)."""
        with self._cond:
            self._watched.discard_current()
            self._cond.notify_all()

    @property
    def sees_raw_waits(self) -> bool:
        """True when watched threads' raw fd waits can be told here (Linux procfs)."""
        return ThreadWatch.sees_raw_waits()

    def sees_all_waits(self) -> bool:
        """True when settle() can see where the program waits: a program thread is
        watched (an app runner's) and its raw fd waits can be told apart here."""
        with self._cond:
            watching = bool(self._watched)
        return watching and self.sees_raw_waits

    def idle_pollers(self) -> int:
        """How many threads are idle in a wait on this clock right now."""
        with self._cond:
            return sum(not w.busy for w in self._waiters)

    def settle(self, timeout: float | None = None) -> None:
        """Wait (real time) until every thread waiting on this clock is idle.

        Idle means blocked in a gpiocore wait with none of its fds ready, or, for a
        watched program thread (:meth:`watch_thread`), blocked in a raw fd wait. An
        unwatched thread that waits with raw ``select.epoll`` is invisible here until
        it reads its lines' events.

        Raises:
            SettleTimeoutError: still busy after ``timeout`` (default ``settle_timeout``).
        """
        limit = self.settle_timeout if timeout is None else timeout
        end = time.monotonic() + limit
        me = threading.get_ident()
        with self._cond:
            while self._busy_threads_locked() - {me}:
                left = end - time.monotonic()
                if left <= 0:
                    busy = len(self._busy_threads_locked() - {me})
                    raise SettleTimeoutError(
                        f"{busy} thread(s) waiting on the virtual clock did not go idle "
                        f"within {limit} s: the program under test is stuck outside "
                        "Selector.wait/Timer.wait, or left a Selector open; close it or "
                        "raise settle_timeout"
                    )
                # Poll in short slices: a thread that ends, or a watched one that
                # blocks in a raw epoll, does not notify us.
                self._cond.wait(min(left, 0.001 if self._watched else 0.02))

    # -- for backends ------------------------------------------------------------
    @property
    def lock(self) -> threading.Condition:
        """The clock's re-entrant lock: hold it to change a backend's state atomically
        with time (no deadline fires and no wait settles meanwhile).

        The other methods for backends take it too, so they may be called with it held.
        Callbacks passed to :meth:`schedule` run with it held.
        """
        return self._cond

    def wake_all(self) -> None:
        """Make every wait on this clock look again at once (time does not move)."""
        with self._cond:
            self._wake_all_locked()

    def schedule(self, deadline_ns: int, callback: Callable[[], None]) -> int:
        """Call ``callback`` (under the clock's lock) when time reaches ``deadline_ns``.

        Returns a token for :meth:`cancel`. A deadline already passed fires at the next
        advance. Callbacks must be quick and must not block.
        """
        with self._cond:
            return self._schedule_locked(deadline_ns, callback)

    def cancel(self, token: int) -> None:
        """Forget a scheduled callback; safe for one that already fired."""
        with self._cond:
            self._cancel_locked(token)

    def mark_pending(self, fd: int, owner: int) -> None:
        """Record that ``fd`` holds events for thread ``owner``: settle() waits for it.

        Cleared by :meth:`clear_pending` when the events are read. Lines of the fake
        backend do this, so a program that waits with a raw ``select.epoll`` (which
        the clock cannot see) still counts as busy until it has read what it got.
        """
        with self._cond:
            self._pending[fd] = owner

    def clear_pending(self, fd: int) -> None:
        """The events on ``fd`` were read (see :meth:`mark_pending`)."""
        with self._cond:
            if self._pending.pop(fd, None) is not None:
                self._cond.notify_all()

    def signal_fd(self, fd: int, count: int = 1) -> None:
        """Make eventfd ``fd`` readable and mark the pollers watching it busy, atomically.

        Backends on this clock must signal their eventfds through here (not with a bare
        write), or ``settle()`` could return before the program saw the event.
        """
        with self._cond:
            eventfd_signal(fd, count)
            for w in self._waiters:
                if fd in w.watched:
                    w.busy = True
                    self._woken.add(w)

    def poller(self, sizehint: int = -1) -> Poller:
        """Return a poller that tells this clock when its thread is idle."""
        return _VirtualPoller(self, sizehint)

    # -- internals (called with the lock held) -----------------------------------
    def _register(self, w: _VirtualPoller) -> None:
        with self._cond:
            self._waiters.add(w)

    def _unregister(self, w: _VirtualPoller) -> None:
        with self._cond:
            self._waiters.discard(w)
            self._woken.discard(w)
            self._cond.notify_all()

    def _schedule_locked(self, deadline_ns: int, callback: Callable[[], None]) -> int:
        token = next(self._seq)
        heapq.heappush(self._heap, (deadline_ns, token, callback))
        if self._autojump_threshold is not None:
            # A new deadline can make an idle program's autojump possible.
            for w in self._waiters:
                if not w.busy:
                    w.wake()
        return token

    def _cancel_locked(self, token: int) -> None:
        if any(t == token for _, t, _ in self._heap):
            self._cancelled.add(token)
            self._prune_locked()

    def _prune_locked(self) -> None:
        while self._heap and self._heap[0][1] in self._cancelled:
            self._cancelled.discard(heapq.heappop(self._heap)[1])

    def _fire_due_locked(self) -> None:
        while True:
            self._prune_locked()
            if not self._heap or self._heap[0][0] > self._now:
                return
            _, _, callback = heapq.heappop(self._heap)
            callback()

    def _wake_all_locked(self) -> None:
        for w in self._waiters:
            w.wake()

    def _busy_threads_locked(self) -> set[int]:
        # A thread is idle while it blocks in one of its pollers (busy is False only
        # inside poll()); its other pollers cannot be serviced meanwhile, so they do
        # not make it busy. Every other thread that owns a busy poller is running.
        idle = {w.owner for w in self._waiters if not w.busy}
        busy = {w.owner for w in self._waiters if w.busy} - idle
        # A thread that waits outside gpiocore (raw epoll) shows it has work by the
        # events pending on the fds it owns, until it reads them.
        busy |= set(self._pending.values()) - idle
        # A watched thread running, sleeping or after the GIL is not waiting.
        busy |= self._watched.running(idle | busy)
        # A thread that has ended is not running, whatever pollers it left open.
        return alive(busy) if busy else busy

    def _try_autojump_locked(self) -> bool:
        if self._autojump_threshold is None or self._busy_threads_locked():
            return False
        idle = {w.owner for w in self._waiters if not w.busy}
        if any(thread not in idle for thread in self._holders):
            return False  # a harness is driving: time moves only when it says so
        self._prune_locked()
        if not self._heap:
            return False
        self._now = max(self._now, self._heap[0][0])
        self._fire_due_locked()
        return True
