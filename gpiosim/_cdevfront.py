"""What a backend on real GPIO chips shares: gpiocore's cdev backend behind the protocol.

The sim backend (a gpio-sim chip) and the pi backend (a Raspberry Pi's chips) differ in
how they find their chips and what their harness does; the lines, the clock and the
timers are the cdev backend's in both. :class:`CdevFront` holds those members once; a
backend built on it keeps its own :class:`~gpiocore.backends.CdevBackend` (composition)
and says where it is through :meth:`CdevFront._lines`.
"""

from __future__ import annotations

from typing import Self

from gpiocore import ClosedError, LineSettings
from gpiocore.backends import CdevBackend, CdevLine, ChipInfo, Clock, MonotonicClock, TimerfdTimer

__all__ = ["CdevFront"]


class CdevFront:
    """The Backend protocol's members that a backend on cdev chips shares.

    A subclass sets ``name``, calls ``super().__init__()``, sets ``_closed`` when it
    closes, and implements :meth:`_lines`, ``default_chip``, ``harness`` and ``close``.
    """

    name: str

    def __init__(self) -> None:
        self._clock = MonotonicClock()
        self._closed = False

    def _lines(self) -> CdevBackend:
        """The cdev backend that opens this backend's lines (made on first use if need be)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the backend holds; safe twice."""
        raise NotImplementedError

    @property
    def clock(self) -> Clock:
        """The real monotonic clock (the clock of the kernel's edge timestamps)."""
        return self._clock

    def chips(self) -> list[ChipInfo]:
        """The backend's chips, as the cdev backend lists them."""
        return self._lines().chips()

    def open_line(self, chip: str, offset: int, settings: LineSettings, consumer: str) -> CdevLine:
        """Request one line; see :meth:`gpiocore.backends.CdevBackend.open_line`.

        Raises:
            ClosedError: the backend is closed.
        """
        if self._closed:
            raise ClosedError(f"the {self.name} backend is closed: make a new one")
        return self._lines().open_line(chip, offset, settings, consumer)

    def create_timer(self) -> TimerfdTimer:
        """Return a new disarmed timerfd on CLOCK_MONOTONIC."""
        return TimerfdTimer()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
