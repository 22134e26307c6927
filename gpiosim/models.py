"""Reference models of the post's programs: they predict the LED from the button.

A model is fed the button's logical transitions in time order and answers what the LED
does. ``TimedLed`` also knows when a time is too close to its timer's deadline for a
real-time backend to decide (``ambiguous``), so a comparison can accept either outcome.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable

from gpiocore import InvalidSettingError

__all__ = ["FollowButton", "TimedLed", "predict_timed_led"]


_SAME_INSTANT = 0.5e-9


def _check_seconds(value: object, what: str, *, positive: bool = False) -> None:
    ok = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (value > 0 if positive else value >= 0)
    )
    if not ok:
        raise InvalidSettingError(
            f"{what} must be a finite number of seconds "
            f"{'above' if positive else 'of at least'} 0, not {value!r}"
        )


@dataclasses.dataclass
class FollowButton:
    """Programs 1 and 2 of the post: the LED follows the button."""

    led: bool = False

    def button(self, t: float, level: bool) -> None:
        """The button changed to ``level`` at time ``t``."""
        _check_seconds(t, "t")
        self.led = bool(level)

    def at(self, t: float) -> bool:
        """The LED at time ``t`` (after the last event)."""
        return self.led


@dataclasses.dataclass
class TimedLed:
    """Program 3: a press lights the LED for ``offset`` seconds, unless pressed again,
    which puts it out at once; a release does nothing.

    Args:
        offset: the program's timer offset in seconds.
        tolerance: how close (seconds) to the deadline a real-time backend may land
            either way; 0 on the fake backend, where time is exact.
    """

    offset: float
    tolerance: float = 0.0
    led: bool = False
    deadline: float | None = None
    pressed: bool = False
    waveform: list[tuple[float, bool]] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        _check_seconds(self.offset, "offset", positive=True)
        _check_seconds(self.tolerance, "tolerance")

    def _set(self, t: float, level: bool) -> None:
        if level != self.led:
            self.led = level
            self.waveform.append((t, level))

    def advance(self, t: float) -> None:
        """Let time reach ``t``: the timer puts the LED out at its deadline.

        A tie goes to the timer, as on the fake backend: the program handles the
        timer before an input that comes at the same instant.
        """
        # Times are float seconds computed from whole nanoseconds: press + offset and
        # the deadline's own time may differ in the last bit. Within half a nanosecond
        # (below any backend clock's resolution) they are the same instant.
        if self.deadline is not None and t >= self.deadline - _SAME_INSTANT:
            self._set(self.deadline, False)
            self.deadline = None

    def button(self, t: float, level: bool) -> None:
        """The button's logical level became ``level`` at time ``t``."""
        _check_seconds(t, "t")
        self.advance(t)
        if level and not self.pressed:
            if self.led:
                self._set(t, False)
                self.deadline = None
            else:
                self._set(t, True)
                self.deadline = t + self.offset
        self.pressed = level

    def at(self, t: float) -> bool:
        """The LED at time ``t``."""
        self.advance(t)
        return self.led

    def ambiguous(self, t: float) -> bool:
        """True when ``t`` is within ``tolerance`` of the pending deadline."""
        return self.deadline is not None and abs(t - self.deadline) <= self.tolerance

    def resync(self, t: float, led: bool) -> None:
        """Adopt the observed LED after an ambiguous moment (either outcome was right)."""
        if led == self.led:
            return
        if led:
            # The press beat the deadline on the real backend: the timer restarted then.
            self._set(t, True)
            self.deadline = t + self.offset
        else:
            self._set(t, False)
            self.deadline = None


def predict_timed_led(
    events: Iterable[tuple[float, bool]], offset: float, until: float | None = None
) -> list[tuple[float, bool]]:
    """The LED waveform the timed program should produce for button ``events``.

    Args:
        events: ``(t, level)`` button transitions, in time order.
        offset: the program's timer offset in seconds.
        until: also apply the timer up to this time.

    Returns:
        ``(t, level)`` LED transitions.
    """
    model = TimedLed(offset)
    if isinstance(events, str) or not isinstance(events, Iterable):
        raise InvalidSettingError(f"events must be a list of (t, level) pairs, not {events!r}")
    last = float("-inf")
    for event in events:
        if not (isinstance(event, tuple) and len(event) == 2):
            raise InvalidSettingError(f"each event must be a (t, level) pair, not {event!r}")
        t, level = event
        _check_seconds(t, "an event's time")
        if t < last:
            raise InvalidSettingError(
                f"events must be in time order: {t!r} comes after {last!r}; sort them by time"
            )
        last = t
        model.button(t, level)
    if until is not None:
        model.advance(until)
    return model.waveform
