"""``gpiosim bench``: gpiocore against its peers and against the kernel's own limit.

Six sections, each a function returning a :class:`Section` of :class:`Row` s with
absolute figures and a ratio to a stated baseline:

1. edge-to-handler latency on the real kernel (sim backend): pull write to handler;
2. edge throughput and loss in bursts at increasing rates;
3. timer accuracy: gpiocore ``Timer`` against ``threading.Timer``;
4. idle cost: CPU time of a program waiting for a press that never comes;
5. fake backend speed: the post's timed-LED program on the virtual clock against
   gpiozero's ``MockFactory`` (real-time threads);
6. guest overhead: kernel build, warm boot, pytest start-up.

The host runs 3-6 and launches ONE guest that runs ``python -m gpiosim._bench --inside``
for the kernel parts (1, 2, 3, 4 on sim); its JSON comes back on stdout. Contenders of a
section are measured side by side in interleaved rounds, to spread the machine's noise.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import io
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, TextIO

from gpiocore._errors import InvalidSettingError
from gpiocore.backends._base import Backend
from gpiosim import _bench_peers as peers
from gpiosim._atomicwrite import write_file_atomic
from gpiosim._bench_table import Column as Column
from gpiosim._bench_table import Row as Row
from gpiosim._bench_table import Section as Section
from gpiosim._bench_table import format_table as format_table
from gpiosim._bench_table import median as median
from gpiosim._bench_table import p99 as p99
from gpiosim._demo import APPS_DIR

__all__ = [
    "FULL",
    "QUICK",
    "SECTIONS",
    "Column",
    "Row",
    "Section",
    "Sizes",
    "check_json_path",
    "format_table",
    "measure_fake_speed",
    "measure_guest_overhead",
    "measure_idle",
    "measure_latency",
    "measure_throughput",
    "measure_timers",
    "run_bench",
]

Log = Callable[[str], None]

ROOT: Final = Path(__file__).resolve().parent.parent
APP: Final = APPS_DIR / "timed_led.py"
DEFAULT_JSON: Final = ROOT / "results" / "bench.json"
#: The guest's CPU model for the benchmark (see _run_inside).
BENCH_CPU_MODEL: Final = "max"
SECTIONS: Final = ("latency", "throughput", "timer", "idle", "fake", "guest")


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How much each section measures (see :data:`QUICK` and :data:`FULL`)."""

    name: str
    latency_rounds: int
    latency_edges: int
    latency_gap_s: tuple[float, float]
    burst_rounds: int
    burst_edges: int
    burst_rates: tuple[int, ...]
    timer_samples: int
    timer_offset_s: float
    idle_s: float
    idle_keys: tuple[str, ...]
    fake_rounds: int
    fake_cycles: int
    gpiozero_real_cycles: int
    guest_reps: int
    guest_pytest: bool
    state_machine_examples: int
    state_machine_examples_real: int  # on a real-time backend, where one takes seconds


QUICK: Final = Sizes(
    name="quick",
    latency_rounds=2,
    latency_edges=5,
    latency_gap_s=(0.002, 0.004),
    burst_rounds=1,
    burst_edges=32,
    burst_rates=(0, 500),
    timer_samples=5,
    timer_offset_s=0.01,
    idle_s=1.0,
    idle_keys=("selector",),
    fake_rounds=2,
    fake_cycles=5,
    gpiozero_real_cycles=0,
    guest_reps=1,
    guest_pytest=False,
    state_machine_examples=3,
    state_machine_examples_real=2,
)
FULL: Final = Sizes(
    name="full",
    latency_rounds=20,
    latency_edges=30,
    latency_gap_s=(0.002, 0.005),
    burst_rounds=3,
    burst_edges=256,
    burst_rates=(0, 5000, 2000, 500),
    timer_samples=100,
    timer_offset_s=0.02,
    idle_s=5.0,
    idle_keys=peers.CONTENDERS,
    fake_rounds=4,
    fake_cycles=200,
    gpiozero_real_cycles=2,
    guest_reps=3,
    guest_pytest=True,
    state_machine_examples=50,
    state_machine_examples_real=10,
)


# ---------------------------------------------------------------------------- helpers


def _rotated(items: Sequence[Any], by: int) -> list[Any]:
    """``items`` rotated left by ``by``: round r of ABCD is BCDA, ... (spreads noise)."""
    if not items:
        return []
    k = by % len(items)
    return [*items[k:], *items[:k]]


def _quiet(_line: str) -> None:
    pass


def _stderr_log(prefix: str) -> Log:
    """Progress lines on stderr, with the seconds since this log was made."""
    start = time.monotonic()

    def log(line: str) -> None:
        print(f"{prefix} {time.monotonic() - start:6.1f} s: {line}", file=sys.stderr, flush=True)

    return log


def _missing(entry: peers.Entry, columns: Sequence[Column], group: str = "") -> Row:
    return Row(
        entry.name,
        {c.key: None for c in columns},
        group=group,
        baseline=entry.key == "gpiod",
        note=f"not measured: {entry.reason}",
    )


# ---------------------------------------------------------------------- 1. latency

_LATENCY_COLUMNS: Final = [
    Column("median_ns", "median", "ns"),
    Column("p99_ns", "p99", "ns"),
]


def measure_latency(
    entries: Sequence[peers.Entry],
    sizes: Sizes,
    *,
    where: str,
    kernel_timestamps: bool = True,
    timeout_s: float = 2.0,
    log: Log = _quiet,
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
        list(_LATENCY_COLUMNS),
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
        for entry in _rotated(runnable, rnd):
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
            )
        )
    for entry in entries:
        if entry.contender is None:
            section.rows.append(_missing(entry, section.columns))
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
            )
        )
    section.compute_ratios()
    return section


def _latency_block(
    entry: peers.Entry,
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
    running = peers.Running(entry, handler)
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


# ------------------------------------------------------------------- 2. throughput

_THROUGHPUT_COLUMNS: Final = [
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
    entries: Sequence[peers.Entry],
    sizes: Sizes,
    *,
    where: str,
    quiet_s: float = 0.5,
    log: Log = _quiet,
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
        list(_THROUGHPUT_COLUMNS),
        ratio_of="handled_per_s",
        ratio_label="handled/s / bare gpiod's at the same rate",
    )
    count = sizes.burst_edges + sizes.burst_edges % 2  # even: each line ends where it began
    runnable = [e for e in entries if e.contender is not None]
    blocks: dict[tuple[int, str], list[dict[str, int]]] = {}
    for rnd in range(sizes.burst_rounds):
        for rate in sizes.burst_rates:
            log(f"throughput: round {rnd + 1}/{sizes.burst_rounds}, {_rate_label(rate)}")
            interval = 0 if rate == 0 else round(1e9 / rate)
            for entry in _rotated(runnable, rnd):
                block = _burst_block(entry, count, interval, quiet_s)
                blocks.setdefault((rate, entry.key), []).append(block)
    for rate in sizes.burst_rates:
        group = _rate_label(rate)
        for entry in entries:
            if entry.contender is None:
                section.rows.append(_missing(entry, section.columns, group))
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
                    extra={"written": written, "handled": handled, "seqno_gaps": gaps},
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
    entry: peers.Entry, count: int, interval_ns: int, quiet_s: float
) -> dict[str, int]:
    source = entry.source
    assert source is not None
    # The loop read every edge up to the last block's stop: the burst's first edge
    # follows that one, so a drop before the first handled edge shows as a gap too.
    counter = _Counter(last_seqno=entry.last_seqno)
    running = peers.Running(entry, counter)
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


# ------------------------------------------------------------------------ 3. timers

_TIMER_COLUMNS: Final = [
    Column("median_ns", "median err", "ns"),
    Column("p99_ns", "p99 err", "ns"),
]


def timer_section() -> Section:
    """An empty timer section, for :func:`measure_timers` to add groups of rows to."""
    return Section(
        "timer",
        "Timer accuracy: expiry minus the requested offset",
        list(_TIMER_COLUMNS),
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
    from gpiocore.selector import Selector, Timer

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


# -------------------------------------------------------------------------- 4. idle

#: The idle row of a process that opens nothing: the cost of measuring.
IDLE_FLOOR: Final = ("floor", "floor: a process that only sleeps", None)
_IDLE_COLUMNS: Final = [
    Column("cpu_us_per_s", "CPU µs/s", "count"),
    Column("cpu_ms", "CPU total", "ns_ms"),
]


def idle_section(seconds: float) -> Section:
    """An empty idle section, for :func:`measure_idle` to add groups of rows to."""
    return Section(
        "idle",
        f"Idle cost: process CPU time over {seconds:g} s waiting for a press that never comes",
        list(_IDLE_COLUMNS),
        ratio_of="cpu_us_per_s",
        ratio_label="median CPU µs/s / the floor's (a process that only sleeps)",
        notes=[
            "CPU µs/s is the median over windows of about 1 s; the floor process opens "
            "nothing, so its figure is what measuring costs (one wake-up a window, and in a "
            "TCG guest whatever host preemption lands on it): a loop near 1x costs nothing "
            "while it waits; one well above it polls"
        ],
    )


def measure_idle(
    backend_name: str,
    entries: Sequence[tuple[str, str, str | None]],
    seconds: float,
    *,
    group: str,
    baseline: str,
    attach: str | None = None,
) -> list[Row]:
    """CPU time (user + sys, all threads) of a program that waits and gets no edge.

    Each contender runs in its own process (a fresh interpreter: nothing else of the
    benchmark runs there), all at once; once every one has reached its wait, each
    measures ``time.process_time_ns()`` over ``seconds`` of waiting, in windows of a
    second (the median rate is reported, the total CPU beside it).

    Args:
        backend_name: ``sim`` or ``fake``.
        entries: ``(key, name, reason)``: reason None to measure, else why not.
        seconds: how long each waits.
        group: the rows' group.
        baseline: the key of the group's baseline.
        attach: the gpio-sim chip to attach to (sim).
    """
    procs: dict[str, subprocess.Popen[str]] = {}
    try:
        for key, _, reason in entries:
            if reason is None:
                argv = [sys.executable, "-m", "gpiosim._bench", "--idle", key]
                argv += ["--backend", backend_name, "--seconds", str(seconds)]
                if attach is not None:
                    argv += ["--attach", attach]
                procs[key] = subprocess.Popen(
                    argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
                )
        # A barrier: every process has started and reached its wait before any
        # measures, so no window holds another's start-up (one CPU in the guest).
        ready = {key: _readline(proc) == "ready" for key, proc in procs.items()}
        time.sleep(0.5)
        for proc in procs.values():
            with contextlib.suppress(OSError):
                assert proc.stdin is not None
                proc.stdin.write("go\n")
                proc.stdin.flush()
        rows = []
        for key, name, reason in entries:
            figures: dict[str, float | None] = {"cpu_us_per_s": None, "cpu_ms": None}
            note = f"not measured: {reason}" if reason is not None else ""
            child = procs.get(key)
            if child is not None:
                out, _ = child.communicate(timeout=seconds + 120)
                try:
                    if not ready[key]:
                        raise ValueError("never ready")
                    windows = json.loads(out.strip().splitlines()[-1])
                    figures = {
                        "cpu_us_per_s": median([cpu / wall * 1e6 for cpu, wall in windows]),
                        "cpu_ms": float(sum(cpu for cpu, _ in windows)),
                    }
                except (ValueError, IndexError, KeyError, TypeError, ZeroDivisionError):
                    note = f"the idle process failed (exit status {child.returncode})"
            rows.append(Row(name, figures, group=group, baseline=key == baseline, n=1, note=note))
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return rows


def _readline(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    return proc.stdout.readline().strip()


def _idle_window(seconds: float) -> str:
    """Say ready, wait for "go", then measure this process's CPU over ``seconds``.

    Returns:
        JSON: ``[[cpu_ns, wall_ns], ...]``, one pair per window of about a second.
    """
    print("ready", flush=True)
    sys.stdin.readline()  # "go": every process of the group has started and waits
    count = max(1, round(seconds))
    windows = []
    for _ in range(count):
        cpu0, wall0 = time.process_time_ns(), time.monotonic_ns()
        time.sleep(seconds / count)
        cpu1, wall1 = time.process_time_ns(), time.monotonic_ns()
        windows.append([cpu1 - cpu0, wall1 - wall0])
    return json.dumps(windows)


def _idle_main(key: str, backend_name: str, seconds: float, attach: str | None) -> int:
    """One idle measurement (``--idle``): print its windows as JSON (see _idle_window).

    ``floor`` opens nothing: what measuring itself costs (the main thread's wake-up).
    """
    if key == IDLE_FLOOR[0]:
        print(_idle_window(seconds))
        return 0
    backend = _make_backend(backend_name, attach)
    try:
        with peers.lineup(backend, [key]) as entries:
            entry = entries[0]
            if entry.contender is None:
                print(f"bench: {entry.name} cannot run: {entry.reason}", file=sys.stderr)
                return 1
            running = peers.Running(entry, lambda _t, _e: None, settle_s=0.3)
            try:
                result = _idle_window(seconds)
            finally:
                running.stop()
    finally:
        backend.close()
    print(result)
    return 0


def _make_backend(name: str, attach: str | None = None) -> Backend:
    if name == "fake":
        from gpiocore.backends._fake import FakeBackend

        return FakeBackend()
    if name == "sim":
        from gpiosim._simbackend import SimBackend

        return SimBackend(attach=attach)
    raise ValueError(f"the benchmark runs on the 'fake' or 'sim' backend, not {name!r}")


# ------------------------------------------------------------------ 5. fake speed

_FAKE_COLUMNS: Final = [
    Column("per_s", "per second", "per_s"),
    Column("seconds", "time", "s"),
]


def measure_fake_speed(sizes: Sizes, *, log: Log = _quiet) -> Section:
    """Press/release cycles per second through the post's timed-LED program.

    One cycle: press (the LED lights), release, let the 2 s offset pass (the timer puts
    the LED out). gpiocore: ``fixtures/apps/timed_led.py`` in a thread on the fake
    backend, driven through its harness, time advanced on the virtual clock. gpiozero:
    the same logic on ``MockFactory`` (a ``Button``, an ``LED``, ``when_pressed`` starting
    a ``threading.Timer``), driven with ``drive_high()``/``drive_low()``; its time is
    real, so it is measured with a 1 ms offset (as a test would shrink it) and, in the
    full run, with the same 2 s.
    """
    section = Section(
        "fake",
        "Fake backend speed: timed-LED press/release/expiry cycles",
        list(_FAKE_COLUMNS),
        ratio_of="per_s",
        ratio_label="cycles/s / gpiocore fake's",
    )
    gpiozero_reason = _gpiozero_mock_reason()
    ours: list[tuple[int, float, int]] = []
    theirs: list[tuple[int, float, int]] = []
    per_round = max(1, sizes.fake_cycles // sizes.fake_rounds)
    for rnd in range(sizes.fake_rounds):
        log(f"fake speed: round {rnd + 1}/{sizes.fake_rounds}")
        order = (0, 1) if rnd % 2 == 0 else (1, 0)
        for which in order:
            if which == 0:
                ours.append(_timed_led_fake(per_round, offset_s=2.0))
            elif gpiozero_reason is None:
                theirs.append(_timed_led_gpiozero(per_round, offset_s=0.001))
    section.rows.append(
        _cycles_row("gpiocore timed_led.py, fake (2 s offset, virtual)", ours, True)
    )
    short = "gpiozero MockFactory (1 ms offset, real time)"
    same = "gpiozero MockFactory (same 2 s offset, real time)"
    empty: dict[str, float | None] = {"per_s": None, "seconds": None}
    if gpiozero_reason is not None:
        for name in (short, same):
            section.rows.append(Row(name, dict(empty), note=f"not measured: {gpiozero_reason}"))
    else:
        section.rows.append(_cycles_row(short, theirs, False))
        if sizes.gpiozero_real_cycles:
            log("fake speed: gpiozero with the real 2 s offset")
            real = [_timed_led_gpiozero(sizes.gpiozero_real_cycles, offset_s=2.0)]
            section.rows.append(_cycles_row(same, real, False))
        else:
            section.rows.append(Row(same, dict(empty), note="skipped in the quick run"))
    section.rows.append(_state_machine_row("fake", sizes))
    if any(row.note.endswith("wrong LED") for row in section.rows[1:]):
        section.notes.append(
            "gpiozero's timer runs in real time: a cycle that finds the LED wrong lost a "
            "race with it (e.g. the 1 ms timer fired before the test looked), the kind of "
            "flakiness that the virtual clock rules out"
        )
    section.compute_ratios()
    return section


def _cycles_row(name: str, runs: Sequence[tuple[int, float, int]], baseline: bool) -> Row:
    cycles = sum(r[0] for r in runs)
    seconds = sum(r[1] for r in runs)
    failures = sum(r[2] for r in runs)
    return Row(
        name,
        {"per_s": cycles / seconds if seconds else None, "seconds": seconds if runs else None},
        baseline=baseline,
        n=cycles,
        note=f"{failures} cycle(s) with a wrong LED" if failures else "",
    )


def _timed_led_fake(cycles: int, *, offset_s: float) -> tuple[int, float, int]:
    """Run ``cycles`` cycles of the timed-LED program on a fresh fake backend."""
    from gpiocore._context import use_backend
    from gpiocore._pin import pins
    from gpiocore.backends._fake import FakeBackend
    from gpiosim._runner import AppRunner
    from gpiosim._timing import BackendTime

    backend = FakeBackend()
    harness = backend.harness
    failures = 0
    with use_backend(backend), BackendTime(backend) as bt:
        button, led = pins.pin(0), pins.pin(1)
        where_b, where_l = (button.chip, button.offset), (led.chip, led.offset)
        with AppRunner(APP, [str(offset_s)], backend=backend, mode="thread") as app:
            app.wait_ready([where_b, where_l])
            start = time.perf_counter()
            for _ in range(cycles):
                harness.drive(*where_b, True)
                bt.settle()
                lit = harness.level(*where_l)
                bt.sleep(0.1)
                harness.drive(*where_b, False)
                # advance() settles before firing the timer and after: no real waiting,
                # unlike wait_for(), which gives a raw-epoll program 50 ms of grace.
                bt.sleep(offset_s - 0.1)
                failures += not lit or harness.level(*where_l)
            elapsed = time.perf_counter() - start
    return cycles, elapsed, failures


def _gpiozero_mock_reason() -> str | None:
    try:
        import gpiozero  # noqa: F401
    except ImportError:
        return f"gpiozero is not installed: {peers.BENCH_EXTRA}"
    return None


def _timed_led_gpiozero(cycles: int, *, offset_s: float) -> tuple[int, float, int]:
    """The timed-LED logic on gpiozero's MockFactory; the timer is a threading.Timer."""
    from gpiozero import LED, Button
    from gpiozero.pins.mock import MockFactory

    factory = MockFactory()
    button = Button(17, pull_up=False, pin_factory=factory)
    led = LED(18, pin_factory=factory)
    pin = factory.pin(17)
    out = threading.Event()
    timers: list[threading.Timer] = []

    def expire() -> None:
        led.off()
        out.set()

    def pressed() -> None:
        if led.is_lit:
            led.off()
            timers.pop().cancel()
        else:
            led.on()
            timer = threading.Timer(offset_s, expire)
            timers.append(timer)
            timer.start()

    button.when_pressed = pressed
    failures = 0
    try:
        start = time.perf_counter()
        for _ in range(cycles):
            out.clear()
            pin.drive_high()  # the handler runs in this thread
            lit = led.is_lit
            pin.drive_low()
            failures += not out.wait(offset_s * 10 + 5) or not lit or led.is_lit
            timers.pop().join()
        elapsed = time.perf_counter() - start
    finally:
        button.close()
        led.close()
        factory.close()
    return cycles, elapsed, failures


#: Steps per state-machine example, the same on every backend so the ratio compares
#: like with like (the test suite's sim profile uses 8).
STATE_MACHINE_STEPS: Final = 8


def measure_state_machine(
    backend: Backend, *, examples: int, steps: int = STATE_MACHINE_STEPS
) -> tuple[int, float]:
    """Run the timed-LED state machine against ``fixtures/apps/timed_led.py``.

    The same check as ``tests/test_state_machine.py``: the post's program runs (a thread
    on the fake, a subprocess elsewhere), a rig drives GPIO17 and watches GPIO18, and
    hypothesis runs ``examples`` examples of up to ``steps`` steps (offset 0.5 s, scaled
    by :func:`~gpiosim._timing.default_scale` on real time, tolerance 50 ms scaled).
    Program start-up is not counted. Returns (examples run, seconds).
    """
    from hypothesis import HealthCheck, settings
    from hypothesis.stateful import run_state_machine_as_test

    from gpiocore._context import use_backend
    from gpiosim._rig import Rig, Signal
    from gpiosim._runner import AppRunner
    from gpiosim._timing import default_scale
    from gpiosim.machines import timed_led_machine

    signals = [Signal("button", "GPIO17", "input"), Signal("led", "GPIO18", "output")]
    with use_backend(backend), Rig(backend, signals, scale=default_scale()) as rig:
        # Test seconds for the rig and the machine; the program gets them scaled.
        offset = 0.5
        tolerance = 0.0 if backend.clock.virtual else 0.05
        with AppRunner(APP, [str(rig.program_seconds(offset))], backend=backend) as app:
            app.wait_ready(rig.lines())
            machine = timed_led_machine(rig, offset=offset, tolerance=tolerance)
            count = 0

            class Counted(machine):  # type: ignore[misc,valid-type]
                def __init__(self) -> None:
                    nonlocal count
                    count += 1
                    super().__init__()

            chosen = settings(
                max_examples=examples,
                stateful_step_count=steps,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            start = time.perf_counter()
            run_state_machine_as_test(Counted, settings=chosen)
            return count, time.perf_counter() - start


def _state_machine_row(backend_name: str, sizes: Sizes, backend: Backend | None = None) -> Row:
    """State-machine examples per second on a backend (the fake's row is the baseline)."""
    name = f"state-machine examples/s ({backend_name})"
    empty: dict[str, float | None] = {"per_s": None, "seconds": None}
    made = backend is None
    try:
        backend = backend or _make_backend(backend_name)
        try:
            examples = (
                sizes.state_machine_examples
                if backend.clock.virtual
                else sizes.state_machine_examples_real
            )
            count, elapsed = measure_state_machine(backend, examples=examples)
        finally:
            if made:
                backend.close()
    except Exception as exc:
        return Row(name, empty, group="state machine", note=f"failed: {exc!r}")
    return Row(
        name,
        {"per_s": count / elapsed if elapsed else None, "seconds": elapsed},
        group="state machine",
        baseline=backend_name == "fake",
        n=count,
        note=f"{STATE_MACHINE_STEPS} steps max, timed_led.py",
    )


# ----------------------------------------------------------------------- 6. guest

_GUEST_COLUMNS: Final = [
    Column("seconds", "guest", "s"),
    Column("host_s", "on host", "s"),
]


def measure_guest_overhead(sizes: Sizes, *, cold: bool = False, log: Log = _quiet) -> Section:
    """What the guest costs: kernel build, warm boot round trip, pytest start-up.

    The kernel build is read from the cache (the compile step, from the times of the
    cached ``.config`` and ``bzImage``) unless ``cold``, which builds one into a
    temporary cache. Each command is also timed on the host; the ratio is guest/host.
    """
    section = Section(
        "guest",
        "Guest overhead (qemu, real time)",
        list(_GUEST_COLUMNS),
        ratio_of="seconds",
        ratio_den="host_s",
        ratio_label="guest / the same command on the host",
    )
    section.rows.append(_kernel_build_row(cold, log))
    gpiosim = [sys.executable, "-m", "gpiosim", "guest", "--"]
    commands = [
        ("warm boot round trip: gpiosim guest -- true", ["true"]),
        (
            "pytest start-up: gpiosim guest -- python -m pytest --version",
            [sys.executable, "-m", "pytest", "--version"],
        ),
    ]
    for name, argv in commands:
        if "pytest" in argv and not sizes.guest_pytest:
            empty: dict[str, float | None] = {"seconds": None, "host_s": None}
            section.rows.append(Row(name, empty, note="skipped in the quick run"))
            continue
        guest_times, host_times = [], []
        note = ""
        for rep in range(sizes.guest_reps):
            log(f"guest overhead: {name} ({rep + 1}/{sizes.guest_reps})")
            host_times.append(_timed_run(argv))
            try:
                guest_times.append(_timed_run([*gpiosim, *argv]))
            except subprocess.CalledProcessError as exc:
                note = f"failed: exit status {exc.returncode}"
                break
        section.rows.append(
            Row(
                name,
                {"seconds": median(guest_times), "host_s": median(host_times)},
                n=len(guest_times),
                note=note,
            )
        )
    section.compute_ratios()
    return section


def _timed_run(argv: Sequence[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def _kernel_build_row(cold: bool, log: Log) -> Row:
    from gpiosim import _guest, _kernel

    name = f"kernel build (cold: {_kernel.DEFAULT_SOURCE} + fragment)"
    empty: dict[str, float | None] = {"seconds": None, "host_s": None}
    if cold:
        log("guest overhead: building a kernel into a temporary cache (minutes)")
        with tempfile.TemporaryDirectory(prefix="gpiosim-bench-cache-") as cache:
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "gpiosim", "guest-kernel", "--rebuild"],
                env={**os.environ, "XDG_CACHE_HOME": cache},
                stdout=subprocess.DEVNULL,
                check=False,
            )
            elapsed = time.perf_counter() - start
        if done.returncode:
            return Row(name, empty, note=f"the build failed (exit status {done.returncode})")
        return Row(name, {"seconds": elapsed, "host_s": None}, n=1, note="measured (--cold)")
    built: list[str] = []
    start = time.perf_counter()
    try:
        kernel = _guest.ensure_kernel(log=built.append)
    except Exception as exc:
        return Row(name, empty, note=f"no kernel: {exc}")
    elapsed = time.perf_counter() - start
    if built:
        return Row(name, {"seconds": elapsed, "host_s": None}, n=1, note="measured: not cached")
    try:
        compile_s = kernel.stat().st_mtime - (kernel.parent / ".config").stat().st_mtime
    except OSError:
        return Row(name, empty, note="cached; its build time is not recorded (run with --cold)")
    return Row(
        "kernel build: compile step (cached; not rebuilt)",
        {"seconds": compile_s, "host_s": None},
        n=1,
        note="from the cached .config and bzImage times; --cold measures a whole build",
    )


# ------------------------------------------------------------------------ the driver


def _machine() -> dict[str, Any]:
    pretty = platform.system()
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text(encoding="utf-8").splitlines():
            if line.startswith("PRETTY_NAME="):
                pretty = line.split("=", 1)[1].strip('"')
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "os": pretty,
        "cores": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def _inside(sizes: Sizes, only: frozenset[str], log: Log) -> dict[str, Any]:
    """The kernel parts, where gpio-sim is (the guest): sections 1-4 and the sim row of 5."""
    from gpiosim._simbackend import SimBackend

    sections: list[Section] = []
    where = "sim backend, gpio-sim"
    with SimBackend() as backend:
        writer = peers.BurstWriter()
        try:
            with peers.lineup(backend, writer=writer, log=log) as entries:
                if "latency" in only:
                    sections.append(measure_latency(entries, sizes, where=where, log=log))
                if "throughput" in only:
                    sections.append(measure_throughput(entries, sizes, where=where, log=log))
                reasons = [(e.key, e.name, e.reason) for e in entries]
        finally:
            writer.close()
        if "timer" in only:
            log("timers")
            timers = timer_section()
            timers.rows += measure_timers(backend, sizes, group="sim backend (timerfd), in guest")
            sections.append(timers)
        if "idle" in only:
            waiting = [
                (key, name, reason or (None if key in sizes.idle_keys else "skipped (quick run)"))
                for key, name, reason in reasons
            ]
            log(f"idle: processes waiting {sizes.idle_s:g} s")
            idle = idle_section(sizes.idle_s)
            idle.rows += measure_idle(
                "sim",
                [IDLE_FLOOR, *waiting],
                sizes.idle_s,
                group="sim backend, gpio-sim",
                baseline=IDLE_FLOOR[0],
                attach=backend.sim_chip.dev_name,
            )
            sections.append(idle)
        if "fake" in only:
            fake = Section("fake", "", list(_FAKE_COLUMNS), "per_s", "")
            fake.rows.append(_state_machine_row("sim", sizes, backend))
            sections.append(fake)
    return {"machine": _machine(), "sections": [s.to_dict() for s in sections]}


def _run_inside(
    sizes: Sizes, only: frozenset[str], log: Log, timeout_s: float
) -> tuple[dict[str, Any] | None, str]:
    """Run :func:`_inside` where gpio-sim is: here if the kernel has it, else in ONE guest.

    Returns:
        The inside JSON (None on failure) and where it ran, or why it did not.
    """
    from gpiosim import _guest
    from gpiosim._chip import check_environment

    try:
        check_environment()
        native = True
    except Exception:
        native = False
    if native:
        return _inside(sizes, only, log), "gpio-sim in this kernel"
    if _guest.inside_guest():
        return None, "in a guest without gpio-sim"
    argv = [sys.executable, "-m", "gpiosim._bench", "--inside", "--sizes", sizes.name]
    argv += ["--only", ",".join(sorted(only))]
    out = io.BytesIO()
    log("launching the guest for the gpio-sim parts")
    try:
        # -cpu max: lgpio's wheel needs SSE4.1, which qemu's default CPU lacks; every
        # contender runs on the same CPU model, so the comparison stays fair.
        status = _guest.run(
            argv, cwd=ROOT, stdout=out, timeout=timeout_s, cpu_model=BENCH_CPU_MODEL
        )
    except Exception as exc:
        return None, f"the guest could not run ({exc})"
    text = out.getvalue().decode("utf-8", "replace").strip()
    if status != 0 or not text:
        return None, f"the guest's benchmark failed (exit status {status})"
    try:
        return json.loads(text.splitlines()[-1]), f"qemu guest (-cpu {BENCH_CPU_MODEL})"
    except ValueError:
        return None, "the guest's benchmark printed no JSON"


def _placeholder(key: str, reason: str) -> Section:
    titles = {
        "latency": ("Edge to handler latency", _LATENCY_COLUMNS),
        "throughput": ("Edge throughput and loss", _THROUGHPUT_COLUMNS),
    }
    title, columns = titles[key]
    return Section(
        key,
        title,
        list(columns),
        "median_ns" if key == "latency" else "handled_per_s",
        "-",
        rows=[Row("(all contenders)", {c.key: None for c in columns}, note=reason)],
    )


def run_bench(
    *,
    quick: bool = False,
    json_path: Path | None = DEFAULT_JSON,
    cold: bool = False,
    guest: bool = True,
    only: Sequence[str] = SECTIONS,
    out: TextIO | None = None,
    log: Log | None = None,
) -> dict[str, Any]:
    """Run the benchmark, print the table, write the JSON.

    Args:
        quick: few samples (CI's smoke run) instead of the full sizes.
        json_path: where to write the JSON; None: nowhere.
        cold: also build a guest kernel from nothing (minutes).
        guest: run the gpio-sim parts (in a guest unless the kernel has gpio-sim).
        only: the sections to run (see :data:`SECTIONS`).
        out: where the table goes (default stdout).
        log: progress lines (default stderr).

    Returns:
        The JSON data: ``meta`` and ``sections``.
    """
    say: Log = log or _stderr_log("bench")
    sizes = QUICK if quick else FULL
    if json_path is not None:
        check_json_path(json_path)
    wanted = frozenset(only)
    unknown = wanted - set(SECTIONS)
    if unknown:
        raise ValueError(f"no bench section {sorted(unknown)}: use some of {', '.join(SECTIONS)}")
    started = time.perf_counter()
    # Other work on a shared machine shows in every figure: say how busy it was.
    load_at_start = os.getloadavg()[0]
    inside: dict[str, Any] | None = None
    where = "not run (--no-guest)"
    kernel_parts = wanted & {"latency", "throughput", "timer", "idle", "fake"}
    if guest and kernel_parts:
        inside, where = _run_inside(sizes, frozenset(kernel_parts), say, 600 if quick else 1800)
    guest_sections = {s["key"]: Section.from_dict(s) for s in (inside or {}).get("sections", [])}
    failed = f"not measured: {where}"

    sections: list[Section] = []
    for key in ("latency", "throughput"):
        if key in wanted:
            sections.append(guest_sections.get(key) or _placeholder(key, failed))
    if "timer" in wanted:
        say("timers on the host")
        from gpiocore.backends._cdev import CdevBackend

        timers = timer_section()
        real = CdevBackend(chips=[])  # its clock and timerfds need no chip
        try:
            timers.rows += measure_timers(real, sizes, group="host, real clock")
        finally:
            real.close()
        # Virtual time is exact: a few samples show it.
        fake_sizes = dataclasses.replace(sizes, timer_samples=min(sizes.timer_samples, 10))
        fake_backend = _make_backend("fake")
        try:
            timers.rows += measure_timers(fake_backend, fake_sizes, group="host, fake backend")
        finally:
            fake_backend.close()
        if "timer" in guest_sections:
            timers.rows += guest_sections["timer"].rows
        timers.compute_ratios()
        sections.append(timers)
    if "idle" in wanted:
        say(f"idle on the host (fake backend), {sizes.idle_s:g} s")
        idle = idle_section(sizes.idle_s)
        if "idle" in guest_sections:
            idle.rows += guest_sections["idle"].rows
        else:
            idle.rows.append(
                Row("sim backend contenders", {c.key: None for c in _IDLE_COLUMNS}, note=failed)
            )
        fake_entries = [IDLE_FLOOR]
        fake_entries += [(k, peers.contender_name(k), None) for k in ("selector", "epoll")]
        idle.rows += measure_idle(
            "fake", fake_entries, sizes.idle_s, group="host, fake backend", baseline="floor"
        )
        idle.compute_ratios()
        sections.append(idle)
    if "fake" in wanted:
        fake = measure_fake_speed(sizes, log=say)
        if "fake" in guest_sections:
            fake.rows += guest_sections["fake"].rows
        else:
            sm = Row("state-machine examples/s (sim)", {"per_s": None, "seconds": None})
            sm.group, sm.note = "state machine", failed
            fake.rows.append(sm)
        fake.compute_ratios()
        sections.append(fake)
    if "guest" in wanted:
        if guest:
            sections.append(measure_guest_overhead(sizes, cold=cold, log=say))
        else:
            sections.append(
                Section(
                    "guest",
                    "Guest overhead",
                    list(_GUEST_COLUMNS),
                    "seconds",
                    "-",
                    rows=[Row("(guest)", {"seconds": None, "host_s": None}, note=failed)],
                )
            )
    host = _machine()
    guest_machine = (inside or {}).get("machine")
    meta = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "sizes": sizes.name,
        "host": host,
        "guest": guest_machine,
        "kernel_parts": where,
        "seconds": round(time.perf_counter() - started, 1),
        "load_average": [round(load_at_start, 2), round(os.getloadavg()[0], 2)],
        "machine": _describe(host, guest_machine, where, load_at_start),
    }
    data = {"meta": meta, "sections": [s.to_dict() for s in sections]}
    print(format_table(sections, meta), file=out or sys.stdout, end="")
    if json_path is not None:
        # Through a temporary name: a link planted in the checkout is replaced, not
        # written through (a guest can change the checkout).
        # No trusted folder given: the outermost project on the path (see trusted_folder).
        write_file_atomic(json_path, json.dumps(data, indent=1) + "\n")
        say(f"wrote {json_path} ({meta['seconds']} s in all)")
    return data


def check_json_path(path: Path) -> None:
    """Check, before a run of minutes, that the JSON can be written at ``path``.

    Raises:
        InvalidSettingError: ``path`` is a folder or another non-file, or its nearest
            existing folder is not a folder or not writable.
    """
    if os.path.exists(path) and not os.path.isfile(path):
        raise InvalidSettingError(
            f"cannot write the bench JSON to {path}: it is a folder or a device, not a "
            "file: give a file name, e.g. --json results/bench.json"
        )
    probe = Path(os.path.abspath(path)).parent
    while not os.path.lexists(probe) and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        what = "not a folder" if not probe.is_dir() else "not writable"
        raise InvalidSettingError(
            f"cannot write the bench JSON to {path}: {probe} is {what}: "
            "give a path you can write, e.g. --json /tmp/bench.json"
        )


def _describe(host: dict[str, Any], guest: dict[str, Any] | None, where: str, load: float) -> str:
    text = f"{host['os']}, {host['cores']} cores, Python {host['python']}"
    if guest is not None:
        accel = "qemu TCG" if "QEMU" in guest.get("cpu", "") else "KVM"
        kind = where.replace("qemu guest", f"{accel} guest", 1)
        text += f"; gpio-sim: {kind}, Linux {guest['kernel']}, {guest['cores']} vCPU"
    return f"{text}; host load average {load:.1f} at the start"


# ---------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gpiosim._bench``: the bench's own processes (``--inside``, ``--idle``).

    Users run ``gpiosim bench``; this entry point is what it starts in the guest and
    for each idle measurement.
    """
    p = argparse.ArgumentParser(prog="python -m gpiosim._bench")
    p.add_argument("--inside", action="store_true", help="the gpio-sim parts; JSON on stdout")
    p.add_argument("--sizes", choices=("quick", "full"), default="full")
    p.add_argument("--only", default=",".join(SECTIONS))
    p.add_argument("--idle", metavar="CONTENDER", help="one idle measurement")
    p.add_argument("--backend", choices=("sim", "fake"), default="sim")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--attach", help="the gpio-sim chip to use (idle on sim)")
    args = p.parse_args(argv)
    if args.idle:
        return _idle_main(args.idle, args.backend, args.seconds, args.attach)
    if args.inside:
        sizes = QUICK if args.sizes == "quick" else FULL
        data = _inside(sizes, frozenset(args.only.split(",")), _stderr_log("bench (guest)"))
        print(json.dumps(data))
        return 0
    p.error("use `gpiosim bench` (this module runs the bench's own processes)")
    return 2


if __name__ == "__main__":
    sys.exit(main())
