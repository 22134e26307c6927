"""Section 1 of ``gpiosim bench``: edge-to-handler latency on the real kernel (sim backend),
from the pull write to the handler, for gpiocore and each peer.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from typing import Final

from gpiosim.bench._common import LATENCY_SAMPLES_KEPT, Log, Sizes, missing_row, quiet, rotated
from gpiosim.bench._peers import Entry, Running
from gpiosim.bench._table import Column, Row, Section, median, p99

__all__ = ["measure_latency", "thin"]


LATENCY_COLUMNS: Final = [
    Column("median_ns", "median", "ns"),
    Column("p99_ns", "p99", "ns"),
]


def measure_latency(
    entries: Sequence[Entry],
    sizes: Sizes,
    *,
    where: str,
    kernel_timestamps: bool = True,
    timeout_s: float = 2.0,
    log: Log = quiet,
) -> Section:
    """Edge-to-handler latency: from the write that makes the edge to the handler.

    Each round gives every contender ``sizes.latency_edges`` edges, one at a time, a
    random gap apart (so edges do not line up with the scheduler's ticks), in a rotated
    order. The kernel's own event timestamp minus the write's start is the floor.

    Args:
        entries: the open contenders (those that cannot run give a row with the reason).
        sizes: how many rounds and edges.
        where: where it runs, for the title (e.g. ``sim backend, in the guest``).
        kernel_timestamps: the events carry CLOCK_MONOTONIC timestamps (False on the
            fake, whose timestamps are virtual).
        timeout_s: real seconds to wait for one edge's handler.
        log: progress lines.
    """
    section = Section(
        "latency",
        f"Edge to handler latency: pull write -> handler ({where})",
        list(LATENCY_COLUMNS),
        ratio_of="median_ns",
        ratio_label="median / bare gpiod's median",
    )
    rng = random.Random(6)
    runnable = [e for e in entries if e.contender is not None]
    lat: dict[str, list[int]] = {e.key: [] for e in runnable}
    kern: dict[str, list[int]] = {e.key: [] for e in runnable}
    misses: dict[str, int] = {e.key: 0 for e in runnable}
    for rnd in range(sizes.latency_rounds):
        log(f"latency: round {rnd + 1}/{sizes.latency_rounds}")
        for entry in rotated(runnable, rnd):
            misses[entry.key] += _latency_block(
                entry,
                sizes.latency_edges,
                gap_s=sizes.latency_gap_s,
                rng=rng,
                timeout_s=timeout_s,
                lat=lat[entry.key],
                kern=kern[entry.key] if kernel_timestamps else None,
            )
    pooled = [k for values in kern.values() for k in values]
    if kernel_timestamps:
        section.rows.append(
            Row(
                "kernel: event timestamp - pull write (floor)",
                {"median_ns": median(pooled), "p99_ns": p99(pooled)},
                n=len(pooled),
                note="pooled over the contenders that expose the timestamp",
                extra={"samples_ns": thin(pooled)},
            )
        )
    for entry in entries:
        if entry.contender is None:
            section.rows.append(missing_row(entry, section.columns))
            continue
        values = lat[entry.key]
        note = f"{misses[entry.key]} edge(s) timed out" if misses[entry.key] else ""
        section.rows.append(
            Row(
                entry.name,
                {"median_ns": median(values), "p99_ns": p99(values)},
                baseline=entry.key == "gpiod",
                n=len(values),
                note=note,
                extra={"samples_ns": thin(values)},
            )
        )
    section.compute_ratios()
    return section


def thin(values: Sequence[int], keep: int = LATENCY_SAMPLES_KEPT) -> list[int]:
    """``values`` sorted, thinned evenly to at most ``keep`` (their distribution, for --plot).

    The smallest and the largest are always kept.
    """
    ordered = sorted(values)
    if len(ordered) <= keep:
        return ordered
    step = (len(ordered) - 1) / (keep - 1)
    return [ordered[round(i * step)] for i in range(keep)]


def _latency_block(
    entry: Entry,
    count: int,
    *,
    gap_s: tuple[float, float],
    rng: random.Random,
    timeout_s: float,
    lat: list[int],
    kern: list[int] | None,
) -> int:
    """Give one contender ``count`` edges; return how many found no handler in time."""
    source = entry.source
    assert source is not None
    got = threading.Event()
    slot: list[tuple[int, Sequence[tuple[int | None, int | None]]]] = []

    def handler(t_ns: int, events: Sequence[tuple[int | None, int | None]]) -> None:
        slot.append((t_ns, events))
        got.set()

    misses = 0
    running = Running(entry, handler)
    try:
        for _ in range(count):
            slot.clear()
            got.clear()
            t0 = source.set(not source.level)
            if not got.wait(timeout_s):
                misses += 1
                continue
            t_ns, events = slot[0]
            if t_ns >= t0:  # else a late handler of an edge that had timed out
                lat.append(t_ns - t0)
                stamp = events[-1][0] if events else None
                if kern is not None and stamp is not None:
                    kern.append(stamp - t0)
            time.sleep(rng.uniform(*gap_s))
    finally:
        running.stop()
    return misses
