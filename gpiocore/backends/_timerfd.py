"""A kernel timerfd as a :class:`~gpiocore.backends._base.TimerHandle` (real time only).

Shared by every backend on the real monotonic clock (cdev, sim, pi). The fake backend
keeps its deadlines on its virtual clock instead and never arms a timerfd.
"""

from __future__ import annotations

import os
from typing import final

from gpiocore._errors import ClosedError, TimerSettingError
from gpiocore._osprim import new_timerfd, timerfd_read, timerfd_settime

__all__ = ["TimerfdTimer"]


@final
class TimerfdTimer:
    """A one-shot or periodic CLOCK_MONOTONIC timer whose fd epoll can watch.

    The fd is non-blocking and close-on-exec; it is readable while expirations are
    pending, and :meth:`read` clears them.
    """

    __slots__ = ("_fd",)

    def __init__(self) -> None:
        self._fd: int | None = new_timerfd()

    def __repr__(self) -> str:
        return f"TimerfdTimer(fd={self._fd})" if self._fd is not None else "TimerfdTimer(closed)"

    def _checked_fd(self) -> int:
        if self._fd is None:
            raise ClosedError("the timer is closed: create a new one")
        return self._fd

    def fileno(self) -> int:
        """The timerfd (readable while expirations are pending).

        Raises:
            ClosedError: the timer is closed.
        """
        return self._checked_fd()

    def arm(self, initial_ns: int, interval_ns: int) -> None:
        """(Re)start the timer; pending expirations are discarded.

        Args:
            initial_ns: nanoseconds from now to the first expiry (more than 0).
            interval_ns: nanoseconds between later expiries; 0 for a one-shot timer.

        Raises:
            TimerSettingError: ``initial_ns`` is not positive or ``interval_ns`` negative.
            ClosedError: the timer is closed.
        """
        fd = self._checked_fd()
        if isinstance(initial_ns, bool) or not isinstance(initial_ns, int) or initial_ns <= 0:
            raise TimerSettingError(
                f"a timer's first expiry must be a whole number of nanoseconds above 0, not "
                f"{initial_ns!r}: use disarm() to stop it"
            )
        if isinstance(interval_ns, bool) or not isinstance(interval_ns, int) or interval_ns < 0:
            raise TimerSettingError(
                f"a timer's interval must be a whole number of nanoseconds, 0 or more, not "
                f"{interval_ns!r}"
            )
        # timerfd_settime resets the expiration count, so re-arming discards old ticks.
        timerfd_settime(fd, initial_ns, interval_ns)

    def disarm(self) -> None:
        """Stop the timer and discard pending expirations.

        Raises:
            ClosedError: the timer is closed.
        """
        timerfd_settime(self._checked_fd(), 0, 0)

    def read(self) -> int:
        """Return and clear the number of expirations since the last read (0 if none).

        Raises:
            ClosedError: the timer is closed.
        """
        return timerfd_read(self._checked_fd())

    def close(self) -> None:
        """Release the timerfd; safe to call twice."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
