"""Section 3 of ``gpiosim bench``: timer accuracy, gpiocore ``Timer`` against ``threading.Timer``.
"""

from __future__ import annotations

import threading
import time
from typing import Final

from gpiocore.backends import Backend
from gpiocore.selector import Selector, Timer
from gpiosim.bench._common import Sizes
from gpiosim.bench._table import Column, Row, Section, median, p99

__all__ = ["measure_timers"]


TIMER_COLUMNS: Final = [
    Column("median_ns", "median err", "ns"),
    Column("p99_ns", "p99 err", "ns"),
]


def timer_section() -> Section:
    """An empty timer section, for :func:`measure_timers` to add groups of rows to."""
    return Section(
        "timer",
        "Timer accuracy: expiry minus the requested offset",
        list(TIMER_COLUMNS),
        ratio_of="median_ns",
        ratio_label="median error / threading.Timer's",
    )


def measure_timers(backend: Backend, sizes: Sizes, *, group: str) -> list[Row]:
    """gpiocore ``Timer`` (in a ``Selector``, as the post's program) against
    ``threading.Timer``, alternating, each armed ``sizes.timer_offset_s`` ahead.

    The gpiocore timer is timed on the backend's clock (virtual on the fake, where the
    error is exactly 0), ``threading.Timer`` on the real one; the time includes starting
    it (a new thread for ``threading.Timer``) and waking up.

    Returns:
        The gpiocore row and the ``threading.Timer`` row (the group's baseline).
    """

    offset_ns = round(sizes.timer_offset_s * 1e9)
    clock = backend.clock
    ours: list[int] = []
    theirs: list[int] = []
    timer = Timer(sizes.timer_offset_s, backend=backend)
    with Selector(backend=backend) as selector, timer:
        selector.add(timer)
        for i in range(sizes.timer_samples):
            for which in (0, 1) if i % 2 == 0 else (1, 0):
                if which == 0:
                    t0 = clock.monotonic_ns()
                    timer.start()
                    selector.wait()
                    t1 = clock.monotonic_ns()
                    if selector.ready is timer:
                        ours.append(t1 - t0 - offset_ns)
                    timer.wait()
                else:
                    theirs.append(_threading_timer_once(sizes.timer_offset_s) - offset_ns)
    kind = "virtual clock" if clock.virtual else "timerfd"
    return [
        Row(
            f"gpiocore Timer in a Selector ({backend.name}, {kind})",
            {"median_ns": median(ours), "p99_ns": p99(ours)},
            group=group,
            n=len(ours),
        ),
        Row(
            "threading.Timer",
            {"median_ns": median(theirs), "p99_ns": p99(theirs)},
            group=group,
            baseline=True,
            n=len(theirs),
        ),
    ]


def _threading_timer_once(offset_s: float) -> int:
    fired: list[int] = []
    done = threading.Event()

    def expire() -> None:
        fired.append(time.monotonic_ns())
        done.set()

    t0 = time.monotonic_ns()
    timer = threading.Timer(offset_s, expire)
    timer.start()
    done.wait()
    timer.join()
    return fired[0] - t0
