"""Section ``bursts`` of ``gpiosim bench``: for each event buffer size, the largest burst
of edges that a gpiocore ``Selector`` loop and a bare gpiod loop handle without loss.

A burst is edges written by the writer process as fast as it can: the kernel queues
them in the line request's event buffer (the kernel's default is 16 events per line,
at most 1024) while the loop is not reading, so the buffer size decides how long a
loop may fall behind before the kernel drops edges.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from gpiocore import DEFAULT_EVENT_BUFFER_SIZE, Both, In, Pin
from gpiocore.selector import Selector
from gpiosim.bench._common import Log, Sizes, quiet
from gpiosim.bench._sources import BurstWriter
from gpiosim.bench._table import Column, Row, Section
from gpiosim.sim._backend import SimBackend

__all__ = ["BURST_COLUMNS", "measure_bursts"]

# Headers fit the table's 11-character figure columns; the section's note says more.
BURST_COLUMNS: Final = [
    Column("lossless", "lossless", "int"),
    Column("lost_pct", "next lost", "pct"),
]
_BURST_LINE: Final = 26  # a line of its own, clear of the other sections' lines
#: gpiod.read_edge_events() reads at most this many events per call (libgpiod's default).
_GPIOD_READ: Final = 64


class _Loop:
    """A waiting loop in a thread that counts the edges it handles."""

    def __init__(self, wait: Callable[[], int]) -> None:
        self._wait = wait  # waits up to 0.1 s, returns how many edges it read
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="bench-bursts")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.count += self._wait()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def _gpiocore_loop(backend: SimBackend, size: int) -> tuple[_Loop, Callable[[], None]]:
    pin = Pin(
        backend,
        backend.sim_chip.chip_name,
        _BURST_LINE,
        direction=In,
        interrupt=Both,
        event_buffer_size=size,
        on_overflow="ignore",  # loss is what this section counts
        consumer="bench-bursts",
    )
    pin.open()
    selector = Selector(backend=backend)
    selector.add(pin)

    def wait() -> int:
        selector.wait(0.1)
        return len(pin.edges()) if selector.ready is pin else 0

    loop = _Loop(wait)

    def close() -> None:
        loop.stop()
        selector.close()
        pin.close()

    return loop, close


def _gpiod_loop(backend: SimBackend, size: int) -> tuple[_Loop, Callable[[], None]]:
    import gpiod
    from gpiod.line import Direction, Edge

    settings = gpiod.LineSettings(direction=Direction.INPUT, edge_detection=Edge.BOTH)
    request = gpiod.request_lines(
        backend.sim_chip.dev_path,
        consumer="bench-bursts-gpiod",
        config={_BURST_LINE: settings},
        event_buffer_size=size or None,  # None: the kernel's default, as gpiod's own
    )
    tick = datetime.timedelta(seconds=0.1)

    def wait() -> int:
        if request.wait_edge_events(tick):
            return len(request.read_edge_events())
        return 0

    loop = _Loop(wait)

    def close() -> None:
        loop.stop()
        request.release()

    return loop, close


def _burst(loop: _Loop, writer: BurstWriter, path: Path, count: int, quiet_s: float) -> int:
    """Write ``count`` edges at once (even: the line ends low); return how many were handled."""
    start = loop.count
    writer.burst(path, count, 0, True)
    seen, since = -1, time.monotonic()
    while loop.count - start < count and time.monotonic() - since < quiet_s:
        if loop.count != seen:
            seen, since = loop.count, time.monotonic()
        time.sleep(quiet_s / 20)
    return loop.count - start


def _group(size: int) -> str:
    if size == 0:
        return "event_buffer_size 0: the kernel's default, 16"
    if size == DEFAULT_EVENT_BUFFER_SIZE:
        return f"event_buffer_size {size}: gpiocore's default"
    return f"event_buffer_size {size}"


def measure_bursts(
    backend: SimBackend,
    writer: BurstWriter,
    sizes: Sizes,
    *,
    quiet_s: float = 0.3,
    log: Log = quiet,
) -> Section:
    """For each event buffer size: the largest burst each loop handles without loss.

    The ladder of burst lengths (``sizes.burst_ladder``) is climbed until a burst loses
    an edge in one of ``sizes.burst_ladder_rounds`` rounds. Bare gpiod with the kernel's
    default (``event_buffer_size=None``) is gpiod's own default; gpiocore's ``0`` asks
    for the same kernel default.

    Args:
        backend: the sim backend (gpiod opens its chip's character device).
        writer: the burst writer process.
        sizes: the buffer sizes, the ladder and the rounds.
        quiet_s: a burst is over when no edge came for this long.
        log: progress lines.
    """
    ladder = sizes.burst_ladder
    section = Section(
        "bursts",
        "Largest burst handled without loss, by event buffer size (sim backend, gpio-sim)",
        list(BURST_COLUMNS),
        ratio_of="lossless",
        ratio_label="largest lossless burst / bare gpiod's with the same buffer size",
        notes=[
            f"lossless: the longest burst (edges written as fast as the writer can) of "
            f"{', '.join(map(str, ladder))} with no edge lost in "
            f"{sizes.burst_ladder_rounds} round(s); next lost: the worst loss at the "
            "next length (- when none was lost)",
            f"bare gpiod reads up to {_GPIOD_READ} events per read_edge_events() call",
        ],
    )
    path = backend.sim_chip.bank.line_dir(_BURST_LINE) / "pull"
    makers: dict[str, tuple[str, Callable[[SimBackend, int], tuple[_Loop, Callable[[], None]]]]]
    makers = {
        "gpiod": ("bare gpiod (wait/read_edge_events)", _gpiod_loop),
        "gpiocore": ("gpiocore Selector", _gpiocore_loop),
    }
    for size in sizes.buffer_sizes:
        group = _group(size)
        for key, (name, make) in makers.items():
            loop, close = make(backend, size)
            best, worst, lossy_at = 0, None, None
            try:
                for count in ladder:
                    log(f"bursts: {name}, event_buffer_size {size}, {count} edges")
                    lost = [
                        count - _burst(loop, writer, path, count, quiet_s)
                        for _ in range(sizes.burst_ladder_rounds)
                    ]
                    if any(lost):
                        worst, lossy_at = 100 * max(lost) / count, count
                        break
                    best = count
            finally:
                close()
            note = (
                f"lost {worst:.1f}% of a {lossy_at}-edge burst"
                if worst is not None
                else f"no loss up to {ladder[-1]}"
            )
            section.rows.append(
                Row(
                    name,
                    {"lossless": best, "lost_pct": worst},
                    group=group,
                    baseline=key == "gpiod",
                    n=sizes.burst_ladder_rounds,
                    note=note,
                    extra={"event_buffer_size": size, "lossy_at": lossy_at},
                )
            )
    section.compute_ratios()
    return section
