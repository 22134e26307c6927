"""The backend interface: what the core asks of a backend, and nothing more.

A backend opens lines on chips and hands back *line handles*; it also supplies the
clock that the program's waits and timers follow, and a timer factory. Backends are
found by name through the ``gpiocore.backends`` entry-point group (see ``_registry``).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

from gpiocore._clock import Clock
from gpiocore._errors import InvalidSettingError
from gpiocore._types import EdgeEvent, LineSettings

__all__ = [
    "Backend",
    "ChipInfo",
    "DetectsHardware",
    "DrainsEdges",
    "EdgeSink",
    "ExportsEnv",
    "Harness",
    "LevelListener",
    "LineHandle",
    "ListensToLevels",
    "ListensToRequests",
    "ReportsConsumer",
    "ReportsPull",
    "RequestListener",
    "TimerHandle",
    "WakesWaiters",
    "check_backend",
]

LevelListener = Callable[[str, int, bool, int], None]
"""Called as ``listener(chip, offset, level, timestamp_ns)`` on every physical change."""

RequestListener = Callable[[str, int], None]
"""Called as ``listener(chip, offset)`` after a program requests, reconfigures or
releases a line."""


@dataclasses.dataclass(frozen=True, slots=True)
class ChipInfo:
    """What a backend knows about one chip."""

    name: str
    """The name a program passes as ``chip=`` (e.g. ``gpiochip0``)."""
    label: str
    """The driver's label (e.g. ``pinctrl-bcm2711``, ``gpio-sim.0-node0``)."""
    line_names: tuple[str | None, ...]
    """One entry per line offset; None for an unnamed line."""

    @property
    def num_lines(self) -> int:
        """How many lines the chip has."""
        return len(self.line_names)


@runtime_checkable
class LineHandle(Protocol):
    """One requested line. Closing it releases the line."""

    def fileno(self) -> int:
        """An fd that is readable while edge events are pending (for epoll)."""
        ...

    def get(self) -> bool:
        """The line's logical value (active-low applied; debounced if debounce is set)."""
        ...

    def set(self, value: bool) -> None:
        """Drive an output to a logical value."""
        ...

    def read_edges(self) -> list[EdgeEvent]:
        """Return the pending edge events, oldest first, without blocking ([] if none)."""
        ...

    def reconfigure(self, settings: LineSettings) -> None:
        """Apply new settings to the requested line, keeping the request."""
        ...

    def close(self) -> None:
        """Release the line; safe to call twice."""
        ...


@runtime_checkable
class TimerHandle(Protocol):
    """A one-shot or periodic timer whose fd is readable once it has expired."""

    def fileno(self) -> int:
        """An fd that is readable while expirations are pending."""
        ...

    def arm(self, initial_ns: int, interval_ns: int) -> None:
        """(Re)start: first expiry ``initial_ns`` from now (> 0), then every ``interval_ns``."""
        ...

    def disarm(self) -> None:
        """Stop the timer and discard pending expirations."""
        ...

    def read(self) -> int:
        """Return and clear the count of expirations (0 if none); never blocks."""
        ...

    def close(self) -> None:
        """Release the timer; safe to call twice."""
        ...


@runtime_checkable
class Harness(Protocol):
    """The test side of a backend: what a rig uses to drive inputs and watch outputs."""

    def drive(self, chip: str, offset: int, level: bool) -> None:
        """Set the physical level that the outside world applies to an input line."""
        ...

    def level(self, chip: str, offset: int) -> bool:
        """The physical level of a line as the outside world sees it (what an output drives)."""
        ...

    def requested(self, chip: str, offset: int) -> bool:
        """True while a program holds the line."""
        ...


@runtime_checkable
class Backend(Protocol):
    """A source of GPIO lines."""

    name: str

    @property
    def clock(self) -> Clock:
        """The clock that waits, timers and edge timestamps follow."""
        ...

    def chips(self) -> list[ChipInfo]:
        """Every chip this backend offers, in a stable order."""
        ...

    def default_chip(self) -> str:
        """The chip used when a program names none (the Pi header chip on a Pi)."""
        ...

    def open_line(
        self, chip: str, offset: int, settings: LineSettings, consumer: str
    ) -> LineHandle:
        """Request one line.

        Raises:
            PinIndexError: no such offset on the chip.
            LineNotFoundError: no such chip.
            LineBusyError: the line is already requested.
        """
        ...

    def create_timer(self) -> TimerHandle:
        """Return a new disarmed timer on this backend's clock."""
        ...

    @property
    def harness(self) -> Harness | None:
        """The test side, where the backend has one (fake, sim); None on real hardware."""
        ...

    def close(self) -> None:
        """Release what the backend holds (chips it made, fds); safe to call twice."""
        ...


# -- optional features ----------------------------------------------------------------
# A backend or harness offers these where it can; tooling checks with isinstance() and
# falls back (or says what is missing) where it cannot. Each is its own Protocol so that
# a backend declares exactly what it has.


@runtime_checkable
class ExportsEnv(Protocol):
    """A backend that a subprocess can share (the app runner's ``mode='subprocess'``)."""

    def export_env(self) -> dict[str, str]:
        """Environment variables that make ``current_backend()`` in a child process
        reach the same lines (e.g. ``GPIOCORE_BACKEND`` and where the chips are)."""
        ...


@runtime_checkable
class WakesWaiters(Protocol):
    """A backend that can make every blocked wait on its fds return at once."""

    def wake_all(self) -> None:
        """Make every open line fd and every wait return now (to stop a program)."""
        ...


@runtime_checkable
class DetectsHardware(Protocol):
    """A backend class that can tell how well it fits the machine (see ``detect_backend``)."""

    def detect(self, root: Path = ...) -> int:
        """0 when its hardware is not under ``root``; more, the more specific the fit."""
        ...


@runtime_checkable
class ListensToLevels(Protocol):
    """A harness that reports every physical level change as it happens."""

    def add_listener(self, listener: LevelListener) -> None:
        """Call ``listener(chip, offset, level, timestamp_ns)`` on every physical change."""
        ...

    def remove_listener(self, listener: LevelListener) -> None:
        """Stop calling ``listener``."""
        ...


@runtime_checkable
class ListensToRequests(Protocol):
    """A harness that reports each request, reconfiguration and release of a line."""

    def add_request_listener(self, listener: RequestListener) -> None:
        """Call ``listener(chip, offset)`` after a program requests, reconfigures or
        releases a line."""
        ...

    def remove_request_listener(self, listener: RequestListener) -> None:
        """Stop calling ``listener``."""
        ...


@runtime_checkable
class ReportsPull(Protocol):
    """A harness that can read the pull the outside world applies to a line."""

    def pull(self, chip: str, offset: int) -> bool:
        """The line's pull (True for up), as reading gpio-sim's ``pull`` does."""
        ...


@runtime_checkable
class ReportsConsumer(Protocol):
    """A harness that can name who holds a line."""

    def consumer(self, chip: str, offset: int) -> str | None:
        """Who holds the line, or None if it is free."""
        ...


class EdgeSink(Protocol):
    """Where a :class:`DrainsEdges` line's drain puts a pin's edges."""

    last_line_seqno: int
    """The ``line_seqno`` of the last edge taken (0 before the first)."""

    def edge_append(self, event: EdgeEvent, /) -> None:
        """Take one edge that follows ``last_line_seqno`` in sequence (after updating it)."""
        ...

    def take_edges(self, events: list[EdgeEvent], /) -> None:
        """Take edges the fast path does not: several at once, or after a seqno gap."""
        ...


@runtime_checkable
class DrainsEdges(Protocol):
    """A line handle that makes a Selector's drain itself: one call that reads the
    pending edges straight into the pin (the cdev backend), instead of
    ``read_edges()`` and the pin's own bookkeeping, a Python frame or two per edge."""

    def edge_drain(self, sink: EdgeSink) -> Callable[[], None]:
        """A callable that moves the pending edges into ``sink``; [] pending: nothing."""
        ...


def _has_static(value: object, attr: str) -> bool:
    try:
        inspect.getattr_static(value, attr)
    except AttributeError:
        return False
    return True


def check_backend(value: object, where: str) -> Backend:
    """Return ``value`` if it is a backend, so that a wrong argument fails where it is given.

    Raises:
        InvalidSettingError: ``value`` lacks what the backend protocol needs.
    """
    # Looked up statically: isinstance() against the Protocol would evaluate properties
    # (a pi backend's harness takes the rig's lock and lines when first read).
    needed = ("name", "clock", "chips", "default_chip", "open_line", "create_timer", "close")
    if all(_has_static(value, attr) for attr in needed):
        return value  # type: ignore[return-value]
    raise InvalidSettingError(
        f"{where}: {value!r} is not a GPIO backend: pass a backend object (e.g. "
        "gpiocore.backends.load_backend('fake')) or, where a name is accepted, 'fake' or 'sim'"
    )
