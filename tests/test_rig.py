"""The rig: one harness interface on every backend (drive, observe, record)."""

from __future__ import annotations

import pytest

from gpiocore import Both, In, Out, pins
from gpiocore._errors import InvalidSettingError
from gpiosim._atomicwrite import UnsafePathError
from gpiosim._rig import Rig, Signal
from gpiosim._trace import timing_diagram, write_vcd
from gpiosim.strategies import Step


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
    assert gap >= rig.time.s(0.05)
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

    from gpiosim._rigfile import load_rig_signals
    from gpiosim.pytest_plugin import DEFAULT_SIGNALS

    path = Path(__file__).resolve().parent.parent / "fixtures" / "rigs" / "sim.toml"
    from_file = Rig(backend, load_rig_signals(path))
    default = Rig(backend, DEFAULT_SIGNALS)
    assert from_file.lines() == default.lines()
    assert {n: s.role for n, s in from_file.signals.items()} == {
        n: s.role for n, s in default.signals.items()
    }
