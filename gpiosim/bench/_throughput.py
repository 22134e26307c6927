"""Section 2 of ``gpiosim bench``: edge throughput and loss in bursts at increasing rates.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Final

from gpiocore import DEFAULT_EVENT_BUFFER_SIZE
from gpiosim.bench._common import Log, Sizes, missing_row, quiet, rotated
from gpiosim.bench._peers import Entry, Running
from gpiosim.bench._table import Column, Row, Section, median

__all__ = ["measure_throughput"]


THROUGHPUT_COLUMNS: Final = [
    Column("handled_per_s", "handled", "per_s"),
    Column("lost_pct", "lost", "pct"),
    Column("gaps_pct", "seqno gaps", "pct"),
    Column("written_per_s", "written", "per_s"),
]


@dataclasses.dataclass
class _Counter:
    """A handler that counts edges and line_seqno gaps."""

    last_seqno: int | None = None
    count: int = 0
    gaps: int = 0
    seqnos: bool = False
    last_t: int = 0

    def __call__(self, t_ns: int, events: Sequence[tuple[int | None, int | None]]) -> None:
        self.count += len(events)
        self.last_t = t_ns
        for _, seqno in events:
            if seqno is None:
                continue
            self.seqnos = True
            if self.last_seqno is not None and seqno > self.last_seqno + 1:
                self.gaps += seqno - self.last_seqno - 1
            self.last_seqno = seqno


def measure_throughput(
    entries: Sequence[Entry],
    sizes: Sizes,
    *,
    where: str,
    quiet_s: float = 0.5,
    log: Log = quiet,
) -> Section:
    """Bursts of edges at increasing rates: edges handled per second, and edges lost.

    A burst writes ``sizes.burst_edges`` edges as fast as the writer can (rate 0), or
    paced at a rate; then the contender has until no edge came for ``quiet_s`` to
    handle what it can. Handled/s is edges handled over the time from the first write
    to the last handled edge; lost is written minus handled; seqno gaps is what the
    kernel says it dropped (``line_seqno`` gaps), where the API shows ``line_seqno``.
    Each figure is the median over the rounds' bursts.
    """
    section = Section(
        "throughput",
        f"Edge throughput and loss in bursts of {sizes.burst_edges} edges ({where})",
        list(THROUGHPUT_COLUMNS),
        ratio_of="handled_per_s",
        ratio_label="handled/s / bare gpiod's at the same rate",
        notes=[
            f"gpiocore's pins use its default event buffer ({DEFAULT_EVENT_BUFFER_SIZE} "
            "events), the others the kernel's default (16): section 'bursts' compares "
            "equal sizes"
        ],
    )
    count = sizes.burst_edges + sizes.burst_edges % 2  # even: each line ends where it began
    runnable = [e for e in entries if e.contender is not None]
    blocks: dict[tuple[int, str], list[dict[str, int]]] = {}
    for rnd in range(sizes.burst_rounds):
        for rate in sizes.burst_rates:
            log(f"throughput: round {rnd + 1}/{sizes.burst_rounds}, {_rate_label(rate)}")
            interval = 0 if rate == 0 else round(1e9 / rate)
            for entry in rotated(runnable, rnd):
                block = _burst_block(entry, count, interval, quiet_s)
                blocks.setdefault((rate, entry.key), []).append(block)
    for rate in sizes.burst_rates:
        group = _rate_label(rate)
        for entry in entries:
            if entry.contender is None:
                section.rows.append(missing_row(entry, section.columns, group))
                continue
            done = blocks.get((rate, entry.key), [])
            written = sum(b["written"] for b in done)
            handled = sum(b["handled"] for b in done)
            gaps = sum(b["gaps"] for b in done)
            seqnos = bool(done) and all(b["seqnos"] for b in done)
            # Medians over the bursts: a burst that the host stalled does not set
            # the figure (the extra keeps the sums).
            section.rows.append(
                Row(
                    entry.name,
                    {
                        "handled_per_s": median(_rates(done, "handled", "handled_end")),
                        "lost_pct": median(
                            [100 * (b["written"] - b["handled"]) / b["written"] for b in done]
                        ),
                        "gaps_pct": median([100 * b["gaps"] / b["written"] for b in done])
                        if seqnos
                        else None,
                        "written_per_s": median(_rates(done, "written", "write_end")),
                    },
                    group=group,
                    baseline=entry.key == "gpiod",
                    n=written,
                    note=f"lost {written - handled} of {written} in all"
                    if written > handled
                    else "",
                    extra={
                        "written": written,
                        "handled": handled,
                        "seqno_gaps": gaps,
                        "rate": rate,  # paced edges/s; 0: as fast as the writer can
                    },
                )
            )
    section.compute_ratios()
    return section


def _rates(blocks: Sequence[dict[str, int]], what: str, end: str) -> list[float]:
    """Per burst: ``what`` (handled or written edges) per second until ``end``."""
    rates = []
    for block in blocks:
        count = block[what] - (what == "written")  # n writes span n - 1 intervals
        span = block[end] - block["first"]
        if count > 0 and span > 0:
            rates.append(count / span * 1e9)
    return rates


def _rate_label(rate: int) -> str:
    return "as fast as the writer can" if rate == 0 else f"paced at {rate}/s"


def _burst_block(
    entry: Entry, count: int, interval_ns: int, quiet_s: float
) -> dict[str, int]:
    source = entry.source
    assert source is not None
    # The loop read every edge up to the last block's stop: the burst's first edge
    # follows that one, so a drop before the first handled edge shows as a gap too.
    counter = _Counter(last_seqno=entry.last_seqno)
    running = Running(entry, counter)
    try:
        first, write_end = source.burst(count, interval_ns)
        seen, since = -1, time.monotonic()
        while counter.count < count and time.monotonic() - since < quiet_s:
            if counter.count != seen:
                seen, since = counter.count, time.monotonic()
            time.sleep(quiet_s / 20)
    finally:
        running.stop()
    return {
        "written": count,
        "handled": min(counter.count, count),
        "gaps": counter.gaps,
        "seqnos": int(counter.seqnos),
        "first": first,
        "write_end": write_end,
        "handled_end": counter.last_t,
    }
