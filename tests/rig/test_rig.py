"""The rig: one harness interface on every backend (drive, observe, record)."""

from __future__ import annotations

import pytest

from gpiocore import Both, In, InvalidSettingError, Out, PullDown, PullUp, pins
from gpiosim._errors import UnsafePathError
from gpiosim.rig._rig import Rig
from gpiosim.rig._signal import Signal
from gpiosim.rig._trace import timing_diagram, write_vcd
from gpiosim.strategies import Step
from tests.conftest import APPS


def test_press_release_and_the_record(rig, backend):
    with pins.pin(0, direction=In, interrupt=Both) as button:
        rig.press("button")
        rig.sleep(0.05)
        rig.release("button")
        rig.settle()
        assert [e.type.value for e in button.edges()] == ["rising", "falling"]
    record = rig.transitions("button")
    assert [(t.level, t.source) for t in record] == [(True, "drive"), (False, "drive")]
    gap = (record[1].t_ns - record[0].t_ns) / 1e9
    assert gap >= 0.05  # test seconds on every backend: the rig stretched the sleep
    if backend.clock.virtual:
        assert gap == 0.05


def test_outputs_are_observed_with_times(rig, backend):
    with pins.pin(1, direction=Out) as led:
        rig.sleep(0.02)
        led.value = 1
        assert rig.wait_for("led", True, 1)
        rig.sleep(0.05)
        led.value = 0
        assert rig.wait_for("led", False, 1)
    levels = [t.level for t in rig.transitions("led")]
    assert levels == [True, False]
    assert all(t.source == "observe" for t in rig.transitions("led"))


def test_active_low_signal(backend):
    signals = [Signal("button", "GPIO17", "input", active_low=True)]
    with Rig(backend, signals) as rig, pins.pin(0, direction=In) as button:
        rig.press("button")
        rig.settle()
        assert button.value == 0  # pressed pulls the line low
        rig.release("button")
        rig.settle()
        assert button.value == 1


def test_pulse_and_bounce(rig):
    with pins.pin(0, direction=In, interrupt=Both) as button:
        rig.pulse("button", 0.02)
        rig.sleep(0.02)
        rig.bounce("button", True, toggles=5, gap=0.002)
        rig.sleep(0.02)
        rig.settle()
        kinds = [e.type.value for e in button.edges()]
    assert kinds == ["rising", "falling", "rising", "falling", "rising", "falling", "rising"]
    assert rig.level("button") is True


def test_play_a_generated_sequence(rig):
    steps = [Step("press"), Step("wait", 0.02), Step("glitch", width=0.005), Step("wait", 0.02)]
    with pins.pin(0, direction=In, interrupt=Both) as button:
        rig.play("button", steps)
        rig.settle()
        kinds = [e.type.value for e in button.edges()]
    assert kinds == ["rising", "falling", "rising"]  # the glitch dips and comes back


def test_rig_errors(backend):
    with pytest.raises(InvalidSettingError, match="two signals are named 'a'"):
        Rig(backend, [Signal("a", "GPIO17", "input"), Signal("a", "GPIO18", "output")])
    with pytest.raises(InvalidSettingError, match="role must be 'input' or 'output'"):
        Signal("a", "GPIO17", "sideways")  # type: ignore[arg-type]
    with Rig(backend, [Signal("led", "GPIO18", "output")]) as rig:
        with pytest.raises(InvalidSettingError, match="is an output of the program"):
            rig.drive("led", True)
        with pytest.raises(InvalidSettingError, match="no signal 'lamp': use one of"):
            rig.level("lamp")


def test_timing_diagram_and_vcd(rig, tmp_path):
    rig.press("button")
    rig.sleep(0.1)
    rig.release("button")
    record = rig.transitions()
    text = timing_diagram(record, rig.initial_levels(), width=20)
    assert "button" in text and "-> 1  (drive)" in text and "-> 0  (drive)" in text
    row = next(line for line in text.splitlines() if line.strip().startswith("button"))
    assert "/" in row and "\\" in row
    vcd = write_vcd(tmp_path / "t.vcd", record, rig.initial_levels()).read_text()
    assert "$timescale 1 ns $end" in vcd and "$var wire 1" in vcd


def test_vcd_replaces_a_planted_link_and_refuses_a_linked_folder(rig, tmp_path):
    outside = tmp_path / "outside"
    outside.write_text("keep\n")
    (tmp_path / "project" / "traces").mkdir(parents=True)
    target = tmp_path / "project" / "traces" / "t.vcd"
    target.symlink_to(outside)
    rig.press("button")
    write_vcd(target, rig.transitions(), rig.initial_levels())
    assert outside.read_text() == "keep\n"
    assert target.is_file() and not target.is_symlink()
    assert "$var wire 1" in target.read_text()
    (tmp_path / "project" / "linked").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(
        UnsafePathError, match=r"not writing .*/project/linked/t.vcd: .*/linked is a symbolic link"
    ):
        write_vcd(
            tmp_path / "project" / "linked" / "t.vcd",
            rig.transitions(),
            rig.initial_levels(),
            trusted=tmp_path / "project",
        )
    assert not (tmp_path / "t.vcd").exists()


@pytest.mark.backends("fake")
def test_a_sampled_output_never_records_a_stale_read(backend):
    """The sampling poller and a test's level() must not interleave read and record.

    A harness without listeners (like gpio-sim's) is sampled. Here the poller's read is
    slowed down: it reads the old level, then the test changes the output and reads
    it. Were read and record separate steps, the poller would record its stale level
    after the test's fresh one, a false blip (off, on, off, on) in the record.
    """
    import threading
    import time

    class SlowSampled:
        """The fake's harness with no listeners, and slow reads on the poller thread."""

        def __init__(self, inner):
            self.inner = inner
            self.value = False
            self.poller_read = threading.Event()
            self.changed = threading.Event()

        def drive(self, chip, offset, level):
            self.inner.drive(chip, offset, level)

        def requested(self, chip, offset):
            return self.inner.requested(chip, offset)

        def level(self, chip, offset):
            seen = self.value
            if threading.current_thread().name == "rig-poller" and not self.poller_read.is_set():
                self.poller_read.set()
                self.changed.wait(0.3)  # a slow read: the change lands meanwhile
            return seen

    rig = Rig(backend, [Signal("led", "GPIO18", "output")], poll_interval=0.001)
    harness = rig.harness = SlowSampled(rig.harness)
    with rig:
        assert harness.poller_read.wait(5)
        harness.value = True
        assert rig.level("led") is True
        harness.changed.set()
        assert rig.wait_for("led", True, 0.05)
        time.sleep(0.02)  # real time: the poller samples a few more times
        assert [t.level for t in rig.transitions("led")] == [True]


def test_the_sim_rig_file_names_the_default_signals(backend):
    """fixtures/rigs/sim.toml, the example for --rig on sim and fake, names the same lines
    as the rig fixture's defaults (the post's button and LED)."""
    from pathlib import Path

    from gpiosim.pi._rigload import load_rig_signals
    from gpiosim.pytest_plugin import DEFAULT_SIGNALS

    path = Path(__file__).resolve().parents[2] / "fixtures" / "rigs" / "sim.toml"
    from_file = Rig(backend, load_rig_signals(path))
    default = Rig(backend, DEFAULT_SIGNALS)
    assert from_file.lines() == default.lines()
    assert {n: s.role for n, s in from_file.signals.items()} == {
        n: s.role for n, s in default.signals.items()
    }


# -- what the rig drives holds over the program's bias (issue 16, item 2) -------------

#: A doorbell's do-not-disturb switch: active low with a pull-up, like the issue's; the LED
#: shows the level the program reads. It sets the LED once before it waits, so a level
#: read right after its request shows too.
DND_FOLLOWER = """\
from gpiocore import Both, In, Out, PullUp, pins
from gpiocore.selector import Selector

dnd = pins.pin(0, direction=In, interrupt=Both, pull=PullUp)
led = pins.pin(1, direction=Out)

with dnd, led, Selector() as selector:
    selector.add(dnd)
    led.value = dnd.value
    while True:
        selector.wait()
        if selector.ready == dnd:
            led.value = dnd.value
"""


def test_a_driven_input_holds_over_the_programs_pull_up(app_runner, backend, tmp_path):
    """The rig grounds `dnd` before the program starts; the program's pull-up request
    moves gpio-sim's (and the fake's) pull, and the rig drives the line low again, as a
    switch to ground would hold it. Before the fix the LED read the pull-up: on."""
    program = tmp_path / "dnd_follower.py"
    program.write_text(DND_FOLLOWER)
    signals = [Signal("dnd", "GPIO17", "input", active_low=True), Signal("led", "GPIO18", "output")]
    with Rig(backend, signals) as rig:
        rig.press("dnd")  # do not disturb: the switch grounds the line
        app = app_runner(program)
        app.wait_ready(rig.lines())
        assert rig.wait_for("led", False, 1), "the program's pull-up undid the rig's drive"
        rig.settle()
        assert rig.level("led") is False and rig.level("dnd") is True
        rig.release("dnd")  # the rig still drives as before
        assert rig.wait_for("led", True, 1)


def test_a_driven_input_holds_over_a_request_and_its_release(backend, gpio_time):
    """In the test's own process too, and after the line is released; a line the rig
    never drove follows the bias, as a bare pull does (the fake keeps modelling gpio-sim)."""
    harness = backend.harness
    signals = [Signal("a", "GPIO17", "input"), Signal("b", "GPIO22", "input")]
    with Rig(backend, signals) as rig:
        rig.release("a")
        with (
            pins.pin(0, direction=In, pull=PullUp) as a,
            pins.pin(3, direction=In, pull=PullUp) as b,  # GPIO22
        ):
            assert gpio_time.wait_for(lambda: a.value == 0, 1), "the pull-up won over the rig"
            assert b.value == 1  # undriven: the program's pull-up decides
        assert gpio_time.wait_for(lambda: not harness.level(*rig.where("a")), 1)
        assert harness.level(*rig.where("b")) is True  # gpio-sim keeps a bias's pull
        rig.press("a")
        with pins.pin(0, direction=In, pull=PullDown) as a:
            assert gpio_time.wait_for(lambda: a.value == 1, 1), "the pull-down won over the rig"


# -- durations: one rule, test seconds (issue 16, item 3) ------------------------------


class _RealTime:
    """The fake's lines on the real monotonic clock: a real-time backend on the host."""

    name = "realtime-fake"

    def __init__(self, inner):
        from gpiocore.backends import MonotonicClock

        self._inner = inner
        self.clock = MonotonicClock()
        inner_harness = inner.harness

        class Harness:  # drive, level, requested: no listeners (sampled, like gpio-sim)
            drive = staticmethod(inner_harness.drive)
            level = staticmethod(inner_harness.level)
            requested = staticmethod(inner_harness.requested)

        self.harness = Harness()

    def chips(self):
        return self._inner.chips()

    def default_chip(self):
        return self._inner.default_chip()

    def open_line(self, *args):
        return self._inner.open_line(*args)

    def create_timer(self):
        return self._inner.create_timer()

    def close(self):
        pass


@pytest.mark.backends("fake")
def test_the_rig_takes_and_reports_test_seconds_and_the_program_gets_them_scaled(backend):
    """The rule: every duration the rig takes or reports is in test seconds; only what
    the program is given goes through program_seconds(). Before, transitions() reported
    the stretched time (0.2 s here) while sleep() took the unstretched one."""
    import time

    rig = Rig(_RealTime(backend), [Signal("button", "GPIO17", "input")], scale=4)
    assert rig.program_seconds(0.5) == rig.time.s(0.5) == 2.0
    with rig:
        start = time.monotonic()
        rig.press("button")
        rig.sleep(0.05)
        rig.release("button")
        real = time.monotonic() - start
        mark = rig.mark("after")
    press, release = rig.transitions("button")
    assert real >= 0.2  # the rig stretched its sleep ...
    assert 0.05 <= release.t - press.t < 0.05 + real / 4  # ... and reports test seconds
    assert 0.05 <= mark.t <= rig.elapsed() < real
    assert rig.waveform("button")[1][0] == release.t


# -- marks and the failing example's trace (issue 16, item 6) --------------------------


def test_marks_split_the_record(rig):
    rig.press("button")
    rig.sleep(0.1)
    first = rig.mark("example 1")
    assert first.levels == {"button": True, "led": False} and first.label == "example 1"
    rig.release("button")
    rig.sleep(0.1)
    second = rig.mark("example 2")
    rig.press("button")
    assert [t.level for t in rig.transitions("button")] == [True, False, True]
    assert [t.level for t in rig.transitions("button", since=first)] == [False, True]
    assert [t.level for t in rig.transitions(since=second)] == [True]
    assert rig.initial_levels(since=second) == {"button": False, "led": False}
    assert rig.last_mark is second and rig.marks() == [first, second]
    text = timing_diagram(
        rig.transitions(since=second), rig.initial_levels(since=second), start_ns=second.t_ns
    )
    [listed] = [line for line in text.splitlines() if "(drive)" in line]
    assert listed.startswith("    0.00") and listed.endswith(" s  button -> 1  (drive)"), text
    with pytest.raises(
        InvalidSettingError,
        match=r"since must be a mark of this rig, not 'x': use the value of rig.mark\(\)",
    ):
        rig.transitions(since="x")


def test_the_rig_marks_when_the_program_is_ready(app_runner, rig):
    """The trace of a failing test starts when the program holds its lines, not when
    the rig was made: on sim the program's start-up was most of the diagram."""
    rig.sleep(0.2)
    assert rig.last_mark is None
    app = app_runner(APPS / "timed_led.py", [str(rig.program_seconds(0.5))])
    app.wait_ready(rig.lines())
    ready = rig.last_mark
    assert ready is not None and ready.label == "program ready"
    assert ready.t >= 0.2


def test_a_failing_tests_trace_shows_only_the_last_mark(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        def test_examples(rig):
            for example in range(1, 4):
                rig.mark(f"example {example}")
                rig.press("button")
                rig.sleep(0.5)
                rig.release("button")
                rig.sleep(0.5)
            assert False, "the third example failed"
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--gpio-trace-dir=traces")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "since 'example 3' at 2.000000 s of the rig's record (0 s below); " in out
    assert "4 earlier transitions in the VCD only" in out
    listed = [line for line in out.splitlines() if "(drive)" in line]
    assert listed == [
        "    0.000000 s  button -> 1  (drive)",
        "    0.500000 s  button -> 0  (drive)",
    ], out
    vcd = next((pytester.path / "traces").glob("*.vcd")).read_text()
    assert vcd.count("\n1") + vcd.count("\n0") >= 6  # the VCD keeps every example
