"""Plain ``@given`` tests on a running program (``gpio_given``), edge sequences that
find timing bugs, and the fake's counterexample replayed on sim (issue 16, items 5, 7, 8).

The program is the doorbell in ``tests/programs/doorbell.py``: each debounced press
rings the chime for ``CHIME`` seconds from that press; ``--no-restart`` plants the bug
the issue hunted (a second press while it rings does not restart the time).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import Phase, seed, settings

from gpiosim.rig import Signal
from gpiosim.strategies import edge_sequences

DOORBELL = Path(__file__).parent / "programs" / "doorbell.py"
CHIME = 0.3  # seconds, before scaling
DEBOUNCE = 0.02


@dataclasses.dataclass
class DoorbellModel:
    """The chime, given when the bell's input changed (ns): the kernel's debounce (each
    change restarts a ``debounce_ns`` timer; at its expiry a new level is reported), and
    a reported press rings the chime until ``chime_ns`` later. Ties go to debounce and
    timer before a new input change, as on the fake."""

    chime_ns: int
    debounce_ns: int
    pressed: bool = False
    reported: bool = False
    settling_since: int | None = None
    deadline: int | None = None
    ringing: bool = False
    waveform: list[tuple[int, bool]] = dataclasses.field(default_factory=list)

    def _ring(self, t: int, on: bool) -> None:
        if on != self.ringing:
            self.ringing = on
            self.waveform.append((t, on))

    def advance(self, t: int) -> None:
        """Apply every debounce expiry and chime deadline up to ``t``."""
        while True:
            due = [
                x
                for x in (
                    None
                    if self.settling_since is None
                    else self.settling_since + self.debounce_ns,
                    self.deadline,
                )
                if x is not None and x <= t
            ]
            if not due:
                return
            when = min(due)
            if self.deadline is not None and self.deadline <= when:
                self._ring(self.deadline, False)
                self.deadline = None
                continue
            self.settling_since = None
            if self.pressed != self.reported:
                self.reported = self.pressed
                if self.pressed:
                    self._ring(when, True)
                    self.deadline = when + self.chime_ns

    def change(self, t: int, level: bool) -> None:
        """The bell's input became ``level`` at ``t``."""
        self.advance(t)
        if level != self.pressed:
            self.pressed = level
            self.settling_since = t


@pytest.fixture
def rig_signals() -> tuple[Signal, ...]:
    return (Signal("bell", "GPIO17", "input"), Signal("chime", "GPIO18", "output"))


def start_doorbell(app_runner, rig, *extra: str):
    args = [str(rig.time.s(CHIME)), "--debounce", str(rig.time.s(DEBOUNCE)), *extra]
    app = app_runner(DOORBELL, args)
    app.wait_ready(rig.lines())
    return app


def reset(rig) -> int:
    """Between examples: release the bell and wait out a chime; the example's time 0."""
    rig.release("bell")
    rig.sleep(CHIME + 2 * DEBOUNCE)
    if not rig.wait_for("chime", False, CHIME):
        raise AssertionError("cannot reset the doorbell: its chime rings on")
    return rig.elapsed_ns()


def check_example(rig, steps, slack_s: float | None = None) -> None:
    """Play ``steps`` on the bell, wait out the chime, compare it with the model (exact:
    for the fake's virtual time, unless ``slack_s`` test seconds are allowed)."""
    t0 = reset(rig)
    rig.play("bell", steps)
    rig.sleep(CHIME + 2 * DEBOUNCE)
    model = DoorbellModel(CHIME * 10**9, DEBOUNCE * 10**9)  # test time, as the rig reports
    for tr in rig.transitions("bell"):
        if tr.t_ns >= t0:
            model.change(tr.t_ns - t0, tr.level)
    model.advance(rig.elapsed_ns() - t0)
    seen = [(tr.t_ns - t0, tr.level) for tr in rig.transitions("chime") if tr.t_ns >= t0]
    # exact on the fake; real time may lag (the sim rig samples outputs every 2 ms)
    if slack_s is None:
        slack_s = 0 if rig.backend.clock.virtual else 0.04
    slack = slack_s * 10**9
    agree = len(seen) == len(model.waveform) and all(
        a[1] == b[1] and abs(a[0] - b[0]) <= slack
        for a, b in zip(seen, model.waveform, strict=True)
    )
    assert agree, f"chime {seen} (ns), the model says {model.waveform}"


# -- item 5: plain given with the plugin's fixtures ------------------------------------


@pytest.mark.backends("fake")
def test_given_examples_share_the_running_program(app_runner, rig, gpio_given):
    """One program for every example, reset at the top of each."""
    start_doorbell(app_runner, rig)
    ran = []

    @gpio_given(steps=edge_sequences(max_steps=6))
    def example(steps):
        ran.append(steps)
        check_example(rig, steps)

    example()
    assert len(ran) >= 20  # the fake's profile: many examples, one program


@pytest.mark.backends("fake")
def test_given_examples_can_restart_the_program(app_runner, rig, gpio_given):
    """A fresh program per example: start and stop it inside the example."""

    @gpio_given.with_settings(max_examples=5)(steps=edge_sequences(max_steps=3))
    def example(steps):
        app = start_doorbell(app_runner, rig)
        try:
            check_example(rig, steps)
        finally:
            app.stop()

    example()


@pytest.mark.backends("fake")
def test_given_finds_the_planted_bug(app_runner, rig, gpio_given):
    start_doorbell(app_runner, rig, "--no-restart")

    @gpio_given.with_settings(database=None)(steps=edge_sequences())
    def example(steps):
        check_example(rig, steps)

    with pytest.raises(AssertionError, match="the model says"):
        example()


def test_an_own_settings_decorator_is_refused_with_the_fix(gpio_given):
    from gpiocore import InvalidSettingError

    with pytest.raises(InvalidSettingError, match=r"'example' has its own @settings.*"
                       r"use gpio_given.with_settings\(max_examples=5\)\(...\) instead"):

        @gpio_given(steps=edge_sequences())
        @settings(max_examples=5)
        def example(steps):
            pass


def test_gpio_given_needs_strategies(gpio_given):
    from gpiocore import InvalidSettingError

    with pytest.raises(InvalidSettingError, match=r"gpio_given\(\) needs strategies"):
        gpio_given()


# -- item 7: the default distribution finds "chime not restarted" -----------------------

RUNS = 20


@pytest.mark.backends("fake")
def test_default_edge_sequences_find_the_chime_bug_in_90_percent_of_runs(app_runner, rig):
    """20 fresh 60-example runs (seeds 0-19, no database, no shrinking) on the fake."""
    from hypothesis import given

    start_doorbell(app_runner, rig, "--no-restart")
    found = 0
    for run in range(RUNS):

        @seed(run)
        @settings(
            max_examples=60, database=None, phases=[Phase.generate], deadline=None
        )
        @given(steps=edge_sequences())
        def example(steps):
            check_example(rig, steps)

        try:
            example()
        except AssertionError:
            found += 1
    assert found >= 0.9 * RUNS, f"found the bug in {found} of {RUNS} runs"


# -- item 8: what the fake found, replayed on sim ---------------------------------------


@pytest.mark.gpio_sim
@pytest.mark.backends("sim")
def test_the_fakes_counterexample_is_replayed_on_sim(app_runner, rig, tmp_path):
    """The fake finds the planted bug in seconds; sim replays that very example."""
    from hypothesis import HealthCheck
    from hypothesis.database import DirectoryBasedExampleDatabase

    from gpiocore.testing import FakeBackend
    from gpiosim._examples import GpioGiven
    from gpiosim.rig import AppRunner, Rig

    base = settings(
        database=DirectoryBasedExampleDatabase(tmp_path / "examples"),
        deadline=None,
        max_examples=200,
        suppress_health_check=list(HealthCheck),
    )
    seqs = edge_sequences()

    # The fake searches with twice the slack sim allows: an exact check would let the
    # shrinker end on a chime a few ms off the model, which real time cannot tell apart.
    def body(the_rig, slack_s=None):
        def example(steps):
            check_example(the_rig, steps, slack_s)

        return example

    fake = FakeBackend()
    with Rig(fake, rig.signals.values()) as fake_rig:
        args = [str(CHIME), "--debounce", str(DEBOUNCE), "--no-restart"]
        with AppRunner(DOORBELL, args, backend=fake) as app:
            app.wait_ready(fake_rig.lines())
            on_fake = GpioGiven(base, test_id="doorbell", backend="fake")
            with pytest.raises(AssertionError):
                on_fake(steps=seqs)(body(fake_rig, 0.08))()
    fake.close()

    start_doorbell(app_runner, rig, "--no-restart")
    replays: list[tuple[int, bool]] = []
    on_sim = GpioGiven(
        settings(base, max_examples=1),
        test_id="doorbell",
        backend="sim",
        replay="fake",
        report=lambda n, failed: replays.append((n, failed)),
    )
    with pytest.raises(AssertionError) as caught:
        on_sim(steps=seqs)(body(rig))()
    assert replays and replays[0][1], replays
    assert "the failing example the fake backend found, replayed on sim" in str(
        caught.value.__notes__
    )
