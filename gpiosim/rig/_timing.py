"""Time as a test sees it, on any backend: virtual on the fake, real elsewhere.

On the fake backend ``sleep`` advances the virtual clock (firing timers in order and
letting the program react after each), and ``wait_for`` jumps from deadline to
deadline; on real backends both use the wall clock, with ``scale`` stretching the
durations a test asks for so that a slow machine (a TCG guest) keeps their order.

The rule for durations (the rig's too): a test speaks *test seconds*; ``sleep`` and
``wait_for`` take them and stretch them by ``scale`` on real time. The program under
test runs on the backend's clock: give it a duration as ``s(seconds)``.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from typing import final

from gpiocore import InvalidSettingError
from gpiocore.backends import Backend, check_backend, to_ns
from gpiocore.testing import VirtualClock

__all__ = ["BackendTime", "default_scale"]


def default_scale() -> float:
    """The time scale for real-time backends when none is given.

    ``GPIOSIM_TIME_SCALE`` if set; else 4 inside the guest (an emulated CPU, where a
    program's reaction takes milliseconds, not microseconds), else 1.
    """
    env = os.environ.get("GPIOSIM_TIME_SCALE")
    if env:
        try:
            scale = float(env)
        except ValueError:
            scale = 0.0
        if not 0 < scale < 1e9:
            raise InvalidSettingError(
                f"GPIOSIM_TIME_SCALE must be a positive number, not {env!r}: e.g. 4"
            )
        return scale
    return 4.0 if os.environ.get("GPIOSIM_IN_GUEST") == "1" else 1.0


#: Real seconds a settle waits for a program that waits outside gpiocore (raw epoll).
_RAW_GRACE = 0.05


@final
class BackendTime:
    """Sleep and wait on a backend's clock.

    Args:
        backend: the backend whose clock to follow.
        scale: how much longer a test second lasts on a real-time backend (1 on the fake).
    """

    def __init__(self, backend: Backend, *, scale: float = 1.0) -> None:
        self.backend = check_backend(backend, "BackendTime")
        if isinstance(scale, bool) or not isinstance(scale, int | float) or not 0 < scale < 1e9:
            raise InvalidSettingError(f"scale must be a positive number, not {scale!r}")
        clock = backend.clock
        self.virtual: VirtualClock | None = clock if isinstance(clock, VirtualClock) else None
        self.scale = 1.0 if self.virtual is not None else scale
        self._hold: contextlib.ExitStack | None = None

    def __enter__(self) -> BackendTime:
        """Hold the virtual clock: it moves only when this harness says so."""
        if self.virtual is not None and self._hold is None:
            self._hold = contextlib.ExitStack()
            self._hold.enter_context(self.virtual.hold())
        return self

    def __exit__(self, *exc: object) -> None:
        hold, self._hold = self._hold, None
        if hold is not None:
            hold.close()

    def now(self) -> float:
        """The backend clock's time in seconds."""
        return self.backend.clock.monotonic_ns() / 1e9

    def s(self, seconds: float) -> float:
        """A duration in test seconds as the program under test must be given it: times
        ``scale`` on a real-time backend, unchanged on the fake."""
        return seconds * self.scale

    def settle(self) -> None:
        """Let the program under test react to what just happened."""
        if self.virtual is not None:
            self.virtual.settle()
            time.sleep(0)  # let a raw-epoll program thread run too
        else:
            time.sleep(self.s(0.01))

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` test seconds pass (times ``scale`` on a real-time backend)."""
        to_ns(seconds, "seconds")  # the same check (and message) on every backend
        if self.virtual is not None:
            self.virtual.advance(seconds)
        else:
            time.sleep(self.s(seconds))

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait up to ``timeout`` test seconds for ``predicate()``.

        Returns:
            True as soon as it holds, False at the timeout.
        """
        to_ns(timeout, "timeout")
        if self.virtual is None:
            end = time.monotonic() + self.s(timeout)
            while True:
                if predicate():
                    return True
                if time.monotonic() >= end:
                    return False
                time.sleep(0.0005)
        clock = self.virtual
        target = clock.monotonic_ns() + to_ns(timeout, "timeout")
        while True:
            clock.settle()
            if predicate():
                return True
            # An unwatched program outside gpiocore's waits (raw epoll) is invisible to
            # settle(): give it a moment of real time before moving the clock on.
            # (Programs under an AppRunner are watched wherever they wait.)
            end = time.monotonic() + (0 if clock.sees_all_waits() else _RAW_GRACE)
            while time.monotonic() < end:
                if predicate():
                    return True
                time.sleep(0.0005)
            nxt = clock.next_deadline_ns()
            if clock.monotonic_ns() >= target:
                return False
            clock.advance_to_ns(target if nxt is None or nxt > target else nxt)
