"""The fake backend: in-process lines with kernel semantics, on a virtual clock.

Each line handle's ``fileno()`` is a real eventfd, so epoll, ``Selector`` and asyncio
work unchanged. The rules follow the kernel's gpiolib-cdev and gpio-sim as measured in
the guest (see shared/GUEST-NOTES.md) and are checked against the real module by the
fake-vs-sim comparison tests:

* per-request event buffer of ``event_buffer_size`` (default 16), rounded up to a power
  of two like a kfifo; when full the *oldest* event is dropped, so loss shows as a
  ``line_seqno`` gap;
* edge types are logical: active-low swaps rising and falling;
* debounce is the kernel's software debounce: every physical transition restarts a
  timer of one period; when it expires, an edge is reported if the level differs from
  the last reported one, stamped with the time of the last transition; ``get()`` on a
  debounced line returns the debounced level;
* the harness drives an input the way gpio-sim's ``pull`` attribute does, and a
  request's bias sets that same pull; an output's level is what it drives (open-drain
  and open-source let the pull decide the level they do not drive); a released line
  falls back to its pull; request listeners hear of each request, reconfiguration and
  release (gpio-sim's line-info events), so a rig can drive its level again;
* a line requested twice is busy; outputs cannot have edge detection;
* a line handle dropped without ``close()`` is released when it is collected, as the
  kernel releases a request whose fd is closed.
"""

from __future__ import annotations

import collections
import os
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Final, final

from gpiocore._errors import (
    ClosedError,
    LineBusyError,
    LineNotFoundError,
    PinDirectionError,
    PinIndexError,
)
from gpiocore._osprim import eventfd_drain, new_eventfd
from gpiocore._types import (
    Bias,
    Direction,
    Drive,
    Edge,
    EdgeEvent,
    EdgeType,
    LineSettings,
    check_level,
)
from gpiocore.backends._base import (
    ChipInfo,
    LevelListener,
    LineHandle,
    RequestListener,
    TimerHandle,
)
from gpiocore.testing._clock import VirtualClock

__all__ = ["FakeBackend", "FakeHarness", "FakeLine", "pi_header_line_names"]

_KERNEL_DEFAULT_EVENT_BUFFER = 16
_KERNEL_MAX_EVENT_BUFFER = 1024


def pi_header_line_names(count: int = 28) -> list[str | None]:
    """Line names ``GPIO0``..``GPIO<count-1>``, as on a Raspberry Pi's header chip."""
    return [f"GPIO{i}" for i in range(count)]


def _kfifo_capacity(requested: int) -> int:
    size = requested or _KERNEL_DEFAULT_EVENT_BUFFER
    size = min(size, _KERNEL_MAX_EVENT_BUFFER)
    return 1 << max(1, (size - 1).bit_length())  # kfifo rounds up to a power of two


class _LineState:
    """What the outside world sees of one line: its pull and who holds it."""

    __slots__ = ("_holder", "name", "offset", "pull", "seen")

    def __init__(self, offset: int, name: str | None) -> None:
        self.offset = offset
        self.name = name
        self.pull = False  # gpio-sim lines start pulled down
        self.seen = False  # the level last reported (a dropped holder's is gone)
        # Weak, as the kernel holds a request only while its fd is open: a handle
        # dropped without close() releases the line when it is collected.
        self._holder: weakref.ref[FakeLine] | None = None

    @property
    def holder(self) -> FakeLine | None:
        """The line handle that holds the line, if any."""
        return None if self._holder is None else self._holder()

    @holder.setter
    def holder(self, line: FakeLine | None) -> None:
        self._holder = None if line is None else weakref.ref(line)

    def level(self) -> bool:
        """The physical level: what the holder drives, else the pull."""
        h = self.holder
        if h is None or h.settings.direction is Direction.IN:
            return self.pull
        physical = h.out_value ^ h.settings.active_low
        drive = h.settings.drive
        if drive is Drive.OPEN_DRAIN and physical:
            return self.pull  # open drain only sinks: high means "let go"
        if drive is Drive.OPEN_SOURCE and not physical:
            return self.pull
        return physical


class _FakeChip:
    __slots__ = ("label", "lines", "name")

    def __init__(self, name: str, label: str, names: Sequence[str | None]) -> None:
        self.name = name
        self.label = label
        self.lines = [_LineState(i, n) for i, n in enumerate(names)]

    def info(self) -> ChipInfo:
        return ChipInfo(self.name, self.label, tuple(s.name for s in self.lines))


@final
class FakeLine:
    """A requested fake line: the LineHandle the fake backend hands out."""

    def __init__(
        self,
        backend: FakeBackend,
        chip: _FakeChip,
        state: _LineState,
        settings: LineSettings,
        consumer: str,
    ) -> None:
        self._backend = backend
        self._clock = backend.clock
        self._chip = chip
        self._state = state
        self.consumer = consumer
        self.settings = settings
        self.out_value = settings.output_value
        self._events: collections.deque[EdgeEvent] = collections.deque()
        self._capacity = _kfifo_capacity(settings.event_buffer_size)
        self._seqno = 0
        self._debounced_level = False
        self._last_change_ns = 0
        self._debounce_token: int | None = None
        self._fd = new_eventfd()
        self._closed = False
        self._owner = threading.get_ident()  # the program thread that requested it
        self._finalizer = weakref.finalize(self, _release_dropped, backend, chip, state, self._fd)
        self._finalizer.atexit = False  # the process's exit closes the fd anyway

    def __repr__(self) -> str:
        return f"<fake line {self._chip.name}:{self._state.offset} {self.settings.direction.name}>"

    # -- LineHandle ------------------------------------------------------------
    def fileno(self) -> int:
        """An eventfd that is readable while edge events are pending."""
        self._clock.check_interrupt()
        self._check_open()
        return self._fd

    def get(self) -> bool:
        """The logical value (active-low applied; the debounced level if debounced)."""
        self._clock.check_interrupt()
        with self._clock.lock:
            self._check_open()
            s = self.settings
            if s.direction is Direction.IN and s.debounce_ns:
                physical = self._debounced_level
            else:
                physical = self._state.level()
            return physical ^ s.active_low

    def set(self, value: bool) -> None:
        """Drive the output to a logical value."""
        self._clock.check_interrupt()
        with self._clock.lock:
            self._check_open()
            if self.settings.direction is not Direction.OUT:
                raise PinDirectionError(
                    f"line {self._chip.name}:{self._state.offset} is an input and cannot be "
                    "driven: reconfigure it with direction=Out first"
                )
            self._backend._change(self._chip, self._state, lambda: self._set_out(bool(value)))

    def read_edges(self) -> list[EdgeEvent]:
        """Return the pending edge events, oldest first ([] if none)."""
        self._clock.check_interrupt()
        with self._clock.lock:
            self._check_open()
            events = list(self._events)
            self._events.clear()
            eventfd_drain(self._fd)
            self._clock.clear_pending(self._fd)
            return events

    def reconfigure(self, settings: LineSettings) -> None:
        """Apply new settings, keeping the request (a bias moves the line's pull)."""
        with self._clock.lock:
            self._check_open()
            old = self.settings

            def apply() -> None:
                self.settings = settings
                if settings.direction is Direction.OUT and old.direction is not Direction.OUT:
                    self.out_value = settings.output_value
                self._apply_bias()

            self._backend._change(self._chip, self._state, apply, edges=False)
            if settings.debounce_ns != old.debounce_ns or settings.direction != old.direction:
                self._cancel_debounce()
                self._debounced_level = self._state.level()
            self._backend._requested(self._chip, self._state)

    def close(self) -> None:
        """Release the line (as closing a request fd does); safe to call twice."""
        with self._clock.lock:
            if self._closed:
                return
            self._cancel_debounce()
            self._closed = True
            self._clock.clear_pending(self._fd)

            def release() -> None:
                self._state.holder = None

            self._backend._change(self._chip, self._state, release, edges=False)
            self._finalizer.detach()
            os.close(self._fd)
            self._backend._requested(self._chip, self._state)

    # -- called by the backend (clock lock held) --------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError(
                f"line {self._chip.name}:{self._state.offset} was released: request it again"
            )

    def _set_out(self, value: bool) -> None:
        self.out_value = value

    def _apply_bias(self) -> None:
        # gpio-sim turns a requested bias into its pull, the same state the harness drives.
        bias = self.settings.bias
        if bias is Bias.PULL_UP:
            self._state.pull = True
        elif bias is Bias.PULL_DOWN:
            self._state.pull = False

    def _start(self) -> None:
        self._apply_bias()
        self._debounced_level = self._state.level()

    def _physical_change(self, level: bool, now_ns: int) -> None:
        s = self.settings
        if s.direction is not Direction.IN:
            return
        if s.debounce_ns:
            self._last_change_ns = now_ns
            self._cancel_debounce()
            self._debounce_token = self._clock.schedule(
                now_ns + s.debounce_ns, self._debounce_expired
            )
            return
        self._report(level, now_ns)

    def _debounce_expired(self) -> None:
        self._debounce_token = None
        if self._closed:
            return
        level = self._state.level()
        if level == self._debounced_level:
            return  # a glitch shorter than the period: nothing to report
        self._debounced_level = level
        self._report(level, self._last_change_ns)

    def _cancel_debounce(self) -> None:
        if self._debounce_token is not None:
            self._clock.cancel(self._debounce_token)
            self._debounce_token = None

    def _report(self, physical: bool, timestamp_ns: int) -> None:
        edge = self.settings.edge
        logical = physical ^ self.settings.active_low
        if (
            edge is Edge.NONE
            or (edge is Edge.RISING and not logical)
            or (edge is Edge.FALLING and logical)
        ):
            return
        self._seqno += 1
        event = EdgeEvent(
            type=EdgeType.RISING if logical else EdgeType.FALLING,
            timestamp_ns=timestamp_ns,
            offset=self._state.offset,
            line_seqno=self._seqno,
            global_seqno=self._seqno,
        )
        if len(self._events) >= self._capacity:
            self._events.popleft()  # the kernel's kfifo drops the oldest
        self._events.append(event)
        self._clock.mark_pending(self._fd, self._owner)
        self._clock.signal_fd(self._fd)


def _release_dropped(backend: FakeBackend, chip: _FakeChip, state: _LineState, fd: int) -> None:
    """Release the line of a handle collected without close() (its weak holder is gone)."""
    with backend.clock.lock:
        backend.clock.clear_pending(fd)
        backend._change(chip, state, lambda: None, edges=False)
        os.close(fd)
        backend._requested(chip, state)


@final
class _FakeTimer:
    """A timer on the virtual clock; its fd is an eventfd the clock signals."""

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock
        self._fd = new_eventfd()
        self._token: int | None = None
        self._expirations = 0
        self._interval_ns = 0
        self._closed = False

    def fileno(self) -> int:
        if self._closed:
            raise ClosedError("timer is closed: create a new one")
        return self._fd

    def arm(self, initial_ns: int, interval_ns: int) -> None:
        with self._clock.lock:
            self._disarm_locked()
            self._interval_ns = interval_ns
            deadline = self._clock.monotonic_ns() + initial_ns
            self._token = self._clock.schedule(deadline, self._expired)

    def _expired(self) -> None:
        self._token = None
        if self._closed:
            return
        self._expirations += 1
        if self._interval_ns:
            self._token = self._clock.schedule(
                self._clock.monotonic_ns() + self._interval_ns, self._expired
            )
        self._clock.signal_fd(self._fd)

    def disarm(self) -> None:
        with self._clock.lock:
            self._disarm_locked()

    def _disarm_locked(self) -> None:
        if self._token is not None:
            self._clock.cancel(self._token)
            self._token = None
        self._expirations = 0
        eventfd_drain(self._fd)

    def read(self) -> int:
        with self._clock.lock:
            n = self._expirations
            self._expirations = 0
            eventfd_drain(self._fd)
            return n

    def close(self) -> None:
        with self._clock.lock:
            if self._closed:
                return
            self._disarm_locked()
            self._closed = True
            os.close(self._fd)


@final
class FakeHarness:
    """The test side of the fake backend: the outside world of its lines."""

    #: Request listeners run inside the program's request, in its thread, under the
    #: fake's lock (a rig must not hold a lock of its own around drive() for them).
    calls_request_listeners_inline: Final = True

    def __init__(self, backend: FakeBackend) -> None:
        self._backend = backend

    def drive(self, chip: str, offset: int, level: bool) -> None:
        """Apply ``level`` to a line from outside, as writing gpio-sim's ``pull`` does."""
        backend = self._backend
        high = check_level(level, f"drive({chip!r}, {offset!r})")
        c, state = backend._line(chip, offset)

        def apply() -> None:
            state.pull = high

        backend._change(c, state, apply)

    def level(self, chip: str, offset: int) -> bool:
        """The physical level of a line, as reading gpio-sim's ``value`` does."""
        with self._backend.clock.lock:
            return self._backend._line(chip, offset)[1].level()

    def pull(self, chip: str, offset: int) -> bool:
        """The line's pull (True for up), as reading gpio-sim's ``pull`` does."""
        with self._backend.clock.lock:
            return self._backend._line(chip, offset)[1].pull

    def requested(self, chip: str, offset: int) -> bool:
        """True while a program holds the line."""
        return self.consumer(chip, offset) is not None

    def consumer(self, chip: str, offset: int) -> str | None:
        """Who holds the line, or None if it is free."""
        with self._backend.clock.lock:
            holder = self._backend._line(chip, offset)[1].holder
            return None if holder is None else holder.consumer

    def add_listener(self, listener: LevelListener) -> None:
        """Call ``listener(chip, offset, level, timestamp_ns)`` on every physical change."""
        with self._backend.clock.lock:
            self._backend._listeners.append(listener)

    def remove_listener(self, listener: LevelListener) -> None:
        """Stop calling ``listener``."""
        with self._backend.clock.lock:
            self._backend._listeners.remove(listener)

    def add_request_listener(self, listener: RequestListener) -> None:
        """Call ``listener(chip, offset)`` after a program requests, reconfigures or
        releases a line, in that program's thread, before its call returns.

        Each of these may move the line's pull (a bias), as on gpio-sim: a rig that
        models an external driver re-applies its level from here.
        """
        with self._backend.clock.lock:
            self._backend._request_listeners.append(listener)

    def remove_request_listener(self, listener: RequestListener) -> None:
        """Stop calling ``listener``."""
        with self._backend.clock.lock:
            self._backend._request_listeners.remove(listener)


@final
class FakeBackend:
    """In-process GPIO chips with the kernel's semantics, on a :class:`VirtualClock`.

    Args:
        chips: chip name to its line names (or a line count). Default: one chip,
            ``gpiochip0`` labelled ``gpiorig-fake``, laid out like a Raspberry Pi
            header (``GPIO0``..``GPIO27``).
        labels: optional chip name to label.
        default_chip: the chip used when a program names none (default: the first).
        clock: the virtual clock to use (default: a new one).
        autojump_threshold: passed to the new clock (see :class:`VirtualClock`).
    """

    name = "fake"

    def __init__(
        self,
        *,
        chips: Mapping[str, Sequence[str | None] | int] | None = None,
        labels: Mapping[str, str] | None = None,
        default_chip: str | None = None,
        clock: VirtualClock | None = None,
        autojump_threshold: float | None = 0.0,
    ) -> None:
        if chips is None:
            chips = {"gpiochip0": pi_header_line_names()}
        labels = labels or {}
        self._chips: dict[str, _FakeChip] = {}
        for chip_name, lines in chips.items():
            names = [None] * lines if isinstance(lines, int) else list(lines)
            self._chips[chip_name] = _FakeChip(
                chip_name, labels.get(chip_name, "gpiorig-fake"), names
            )
        if not self._chips:
            raise LineNotFoundError("a fake backend needs at least one chip")
        self._default = default_chip or next(iter(self._chips))
        if self._default not in self._chips:
            raise LineNotFoundError(f"default_chip {self._default!r} is not one of the chips")
        self._clock = clock or VirtualClock(autojump_threshold=autojump_threshold)
        self._listeners: list[LevelListener] = []
        self._request_listeners: list[RequestListener] = []
        self._harness = FakeHarness(self)

    def __repr__(self) -> str:
        return f"<FakeBackend chips={list(self._chips)} clock={self._clock!r}>"

    @property
    def clock(self) -> VirtualClock:
        """The virtual clock of this backend's timers, waits and timestamps."""
        return self._clock

    @property
    def harness(self) -> FakeHarness:
        """The test side: drive inputs, read levels, listen to changes."""
        return self._harness

    def chips(self) -> list[ChipInfo]:
        """Every fake chip."""
        return [c.info() for c in self._chips.values()]

    def default_chip(self) -> str:
        """The chip used when a program names none."""
        return self._default

    def open_line(
        self, chip: str, offset: int, settings: LineSettings, consumer: str
    ) -> LineHandle:
        """Request one fake line (see :class:`~gpiocore.backends.Backend`)."""
        with self._clock.lock:
            c, state = self._line(chip, offset)
            if state.holder is not None:
                raise LineBusyError(
                    f"line {offset} ({state.name or 'unnamed'}) of {chip} is busy: "
                    f"{state.holder.consumer!r} holds it; close that pin (or stop the "
                    "other program) before requesting it again"
                )
            line = FakeLine(self, c, state, settings, consumer)

            def take() -> None:
                state.holder = line
                line._start()

            self._change(c, state, take, edges=False)
            self._requested(c, state)
            return line

    def create_timer(self) -> TimerHandle:
        """A new disarmed timer on the virtual clock."""
        return _FakeTimer(self._clock)

    def close(self) -> None:
        """Nothing to release: lines and timers are closed by their owners."""

    def wake_all(self) -> None:
        """Make every open line fd and every virtual wait return at once.

        An app runner uses this to stop a program under test that is blocked in a
        wait (even a raw ``select.epoll``) after it has scheduled an exception in the
        program's thread. Pending edges are not touched and nothing is recorded.
        """
        with self._clock.lock:
            for chip in self._chips.values():
                for state in chip.lines:
                    if state.holder is not None and not state.holder._closed:
                        self._clock.signal_fd(state.holder._fd)
            self._clock.wake_all()

    # -- internals -------------------------------------------------------------
    def _line(self, chip: str, offset: int) -> tuple[_FakeChip, _LineState]:
        c = self._chips.get(chip)
        if c is None:
            raise LineNotFoundError(
                f"no chip named {chip!r} on the fake backend: use one of {sorted(self._chips)}"
            )
        if isinstance(offset, bool) or not isinstance(offset, int):
            raise PinIndexError(f"a line offset must be an int, not {offset!r}")
        if not 0 <= offset < len(c.lines):
            raise PinIndexError(
                f"line offset {offset} is out of range for {chip}: use 0 to {len(c.lines) - 1}"
            )
        return c, c.lines[offset]

    def _requested(self, chip: _FakeChip, state: _LineState) -> None:
        """Tell the request listeners that a line was requested, reconfigured or released."""
        with self._clock.lock:
            for listener in list(self._request_listeners):
                listener(chip.name, state.offset)

    def _change(
        self, chip: _FakeChip, state: _LineState, mutate: Callable[[], None], *, edges: bool = True
    ) -> None:
        """Run ``mutate`` under the clock lock; report a physical level change it causes."""
        with self._clock.lock:
            before = state.seen
            mutate()
            after = state.seen = state.level()
            if before == after:
                return
            now = self._clock.monotonic_ns()
            if edges and state.holder is not None:
                state.holder._physical_change(after, now)
            for listener in list(self._listeners):
                listener(chip.name, state.offset, after, now)
