"""What every section of ``gpiosim bench`` shares: the sizes of a run, paths, logs, backends.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from gpiocore import DEFAULT_EVENT_BUFFER_SIZE
from gpiocore.backends import Backend
from gpiocore.testing import FakeBackend
from gpiosim._demo import APPS_DIR
from gpiosim.bench._peers import Entry
from gpiosim.bench._sources import CONTENDERS
from gpiosim.bench._table import Column, Row
from gpiosim.sim._backend import SimBackend

__all__ = ["FULL", "QUICK", "SECTIONS", "Sizes"]


Log = Callable[[str], None]

APP: Final = APPS_DIR / "timed_led.py"
#: Relative: in the folder the bench runs in (a checkout's top with ci/bench.sh), never
#: beside the installed package (site-packages).
DEFAULT_JSON: Final = Path("results", "bench.json")
#: The guest's CPU model for the benchmark (see _run_inside).
BENCH_CPU_MODEL: Final = "max"
SECTIONS: Final = (
    "latency",
    "throughput",
    "bursts",
    "values",
    "timer",
    "idle",
    "fake",
    "guest",
)
#: The sections measured where gpio-sim is (in the guest); the others run on the host.
KERNEL_SECTIONS: Final = frozenset(
    {"latency", "throughput", "bursts", "values", "timer", "idle", "fake"}
)
#: Raw latency samples kept per contender in the JSON (for --plot), evenly thinned.
LATENCY_SAMPLES_KEPT: Final = 2000


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
    buffer_sizes: tuple[int, ...]
    burst_ladder: tuple[int, ...]
    burst_ladder_rounds: int
    value_rounds: int
    value_calls: int
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
    buffer_sizes=(0, DEFAULT_EVENT_BUFFER_SIZE),
    burst_ladder=(16, 64),
    burst_ladder_rounds=1,
    value_rounds=2,
    value_calls=200,
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
    # Many short blocks, rotated: the host's noise changes by the second, and ratios
    # are only fair when every contender samples each stretch of it.
    latency_rounds=60,
    latency_edges=10,
    latency_gap_s=(0.002, 0.005),
    burst_rounds=3,
    burst_edges=256,
    burst_rates=(0, 5000, 2000, 500),
    buffer_sizes=(0, 64, DEFAULT_EVENT_BUFFER_SIZE, 1024),
    burst_ladder=(16, 32, 64, 128, 256, 512, 1024, 2048, 4096),
    burst_ladder_rounds=3,
    value_rounds=10,
    value_calls=2000,
    timer_samples=100,
    timer_offset_s=0.02,
    idle_s=5.0,
    idle_keys=CONTENDERS,
    fake_rounds=4,
    fake_cycles=200,
    gpiozero_real_cycles=2,
    guest_reps=3,
    guest_pytest=True,
    state_machine_examples=50,
    state_machine_examples_real=10,
)


# ---------------------------------------------------------------------------- helpers


def rotated(items: Sequence[Any], by: int) -> list[Any]:
    """``items`` rotated left by ``by``: round r of ABCD is BCDA, ... (spreads noise)."""
    if not items:
        return []
    k = by % len(items)
    return [*items[k:], *items[:k]]


def quiet(_line: str) -> None:
    pass


def stderr_log(prefix: str) -> Log:
    """Progress lines on stderr, with the seconds since this log was made."""
    start = time.monotonic()

    def log(line: str) -> None:
        print(f"{prefix} {time.monotonic() - start:6.1f} s: {line}", file=sys.stderr, flush=True)

    return log


def missing_row(entry: Entry, columns: Sequence[Column], group: str = "") -> Row:
    return Row(
        entry.name,
        {c.key: None for c in columns},
        group=group,
        baseline=entry.key == "gpiod",
        note=f"not measured: {entry.reason}",
    )


def make_backend(name: str, attach: str | None = None) -> Backend:
    if name == "fake":

        return FakeBackend()
    if name == "sim":

        return SimBackend(attach=attach)
    raise ValueError(f"the benchmark runs on the 'fake' or 'sim' backend, not {name!r}")
