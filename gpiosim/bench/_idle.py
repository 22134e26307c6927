"""Section 4 of ``gpiosim bench``: idle cost, the CPU time of a program waiting for a press
that never comes (each contender in a process of its own).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Final

from gpiosim.bench._common import make_backend
from gpiosim.bench._peers import Running, lineup
from gpiosim.bench._table import Column, Row, Section, median

__all__ = ["measure_idle"]


IDLE_FLOOR: Final = ("floor", "floor: a process that only sleeps", None)
IDLE_COLUMNS: Final = [
    Column("cpu_us_per_s", "CPU µs/s", "count"),
    Column("cpu_ms", "CPU total", "ns_ms"),
]


def idle_section(seconds: float) -> Section:
    """An empty idle section, for :func:`measure_idle` to add groups of rows to."""
    return Section(
        "idle",
        f"Idle cost: process CPU time over {seconds:g} s waiting for a press that never comes",
        list(IDLE_COLUMNS),
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
                argv = [sys.executable, "-m", "gpiosim.bench._driver", "--idle", key]
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


def idle_main(key: str, backend_name: str, seconds: float, attach: str | None) -> int:
    """One idle measurement (``--idle``): print its windows as JSON (see _idle_window).

    ``floor`` opens nothing: what measuring itself costs (the main thread's wake-up).
    """
    if key == IDLE_FLOOR[0]:
        print(_idle_window(seconds))
        return 0
    backend = make_backend(backend_name, attach)
    try:
        with lineup(backend, [key]) as entries:
            entry = entries[0]
            if entry.contender is None:
                print(f"bench: {entry.name} cannot run: {entry.reason}", file=sys.stderr)
                return 1
            running = Running(entry, lambda _t, _e: None, settle_s=0.3)
            try:
                result = _idle_window(seconds)
            finally:
                running.stop()
    finally:
        backend.close()
    print(result)
    return 0
