"""Section 5 of ``gpiosim bench``: the fake backend's speed. The post's timed-LED program on
the virtual clock against gpiozero's ``MockFactory`` (real-time threads), and the timed-LED
state machine's examples per second.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from typing import Final

from gpiocore import pins, use_backend
from gpiocore.backends import Backend
from gpiocore.testing import FakeBackend
from gpiosim.bench._common import APP, Log, Sizes, make_backend, quiet
from gpiosim.bench._sources import BENCH_EXTRA
from gpiosim.bench._table import Column, Row, Section
from gpiosim.rig._rig import Rig
from gpiosim.rig._runner import AppRunner
from gpiosim.rig._signal import Signal
from gpiosim.rig._timing import BackendTime, default_scale

# The state machine needs hypothesis, an optional extra ([test]): without it the bench
# still runs, and measure_state_machine fails at its hypothesis import (the row says so).
with contextlib.suppress(ImportError):
    from gpiosim.machines import timed_led_machine

__all__ = ["measure_fake_speed"]


FAKE_COLUMNS: Final = [
    Column("per_s", "per second", "per_s"),
    Column("seconds", "time", "s"),
]


def measure_fake_speed(sizes: Sizes, *, log: Log = quiet) -> Section:
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
        list(FAKE_COLUMNS),
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
    section.rows.append(state_machine_row("fake", sizes))
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
        return f"gpiozero is not installed: {BENCH_EXTRA}"
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
    by :func:`~gpiosim.rig._timing.default_scale` on real time, tolerance 50 ms scaled).
    Program start-up is not counted. Returns (examples run, seconds).
    """
    from hypothesis import HealthCheck, settings
    from hypothesis.stateful import run_state_machine_as_test

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


def state_machine_row(backend_name: str, sizes: Sizes, backend: Backend | None = None) -> Row:
    """State-machine examples per second on a backend (the fake's row is the baseline)."""
    name = f"state-machine examples/s ({backend_name})"
    empty: dict[str, float | None] = {"per_s": None, "seconds": None}
    made = backend is None
    try:
        backend = backend or make_backend(backend_name)
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
