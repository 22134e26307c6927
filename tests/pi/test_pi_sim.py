"""On sim chips that impersonate a Pi (in the guest, gpio_sim).

Sim chips that impersonate a Pi 4 and a Pi 5 header chip, with the rig's jumpers played by
:class:`~gpiosim.pi.SimulatedPi` and a fake device-tree model: discovery by model and
label, the harness, the self-test (working, broken and swapped jumpers), the CLI, the
post's programs driven through the pi rig in a subprocess, and the plugin's self-test
before a ``--backend=pi`` session.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time

import pytest

from gpiocore import LineNotFoundError, pins, use_backend
from gpiosim._cli import main
from gpiosim.pi import (
    ENV_DT_MODEL,
    ENV_LOCK_DIR,
    PI4_LINE_NAMES,
    PI5_LINE_NAMES,
    LineSpecError,
    SimulatedPi,
    default_lock_dir,
    load_rig_signals,
)
from tests.conftest import APPS, ROOT
from tests.pi.pi_helpers import HOLDER, INNER

RIGS = ROOT / "fixtures" / "rigs"
PI4_RIG = RIGS / "pi4-bench.toml"
PI5_RIG = RIGS / "pi5-bench.toml"

# -- on sim chips that impersonate a Pi (the guest) -----------------------------------------

needs_sim = pytest.mark.gpio_sim


@pytest.fixture
def scale(request) -> float:
    from gpiosim.pytest_plugin import _default_scale

    return _default_scale(request.config)


@pytest.fixture
def no_pi_env(monkeypatch, tmp_path):
    """No overrides from the environment; rig locks in tmp_path."""
    for var in ("GPIOSIM_PI_CHIP", "GPIOSIM_RIG", ENV_DT_MODEL):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv(ENV_LOCK_DIR, str(tmp_path))


@needs_sim
@pytest.mark.parametrize(
    ("board", "label", "lines", "names"),
    [("pi4", "pinctrl-bcm2711", 58, PI4_LINE_NAMES), ("pi5", "pinctrl-rp1", 54, PI5_LINE_NAMES)],
)
def test_an_impersonated_pi_is_found_by_model_and_label(no_pi_env, board, label, lines, names):
    with SimulatedPi(board) as pi, pi.backend() as backend:
        header = backend.chips()[0]  # the header chip first
        assert (header.name, header.label, header.num_lines) == (pi.chip.chip_name, label, lines)
        assert header.line_names == names
        assert backend.default_chip() == pi.chip.chip_name
        assert backend.discovery.how == f"label {label!r}"
        assert backend.harness is None  # no rig file: nothing to drive with
        assert backend.export_env() == {
            "GPIOCORE_BACKEND": "pi",
            "GPIOSIM_PI_CHIP": label,
            "GPIOSIM_RIG": "",
        }
        with use_backend(backend):
            assert [(p.chip, p.offset) for p in (pins.pin(0), pins.pin(1))] == [
                (pi.chip.chip_name, 17),
                (pi.chip.chip_name, 18),
            ]
        chip = pi.chip.chip_name
        for spec in ("GPIO4", "BCM4", 4, "pin7", "J8:7", "P7", names[4]):
            assert backend.locate(spec) == (chip, 4)
        with pytest.raises(LineNotFoundError) as info:
            backend.locate("SDA9")
        assert str(info.value) == (
            f"the header chip {chip} [{label}] ({lines} lines) has no line 'SDA9': write "
            "GPIOn, pinN, Pn or a name gpioinfo lists"
        )
        with pytest.raises(LineSpecError, match="header pin 6 is ground"):
            backend.locate("pin6")


@needs_sim
def test_quick2wire_p7_on_a_pi4(no_pi_env):
    """A Pi 4's kernel names GPIO4 'GPIO_GCLK': the post's P7 is found by its Broadcom number."""
    with SimulatedPi("pi4") as pi, pi.backend() as backend, use_backend(backend):
        assert pins.pin(7).offset == 4


@needs_sim
@pytest.mark.parametrize("board", ["pi4", "pi5"])
def test_self_test_passes_the_fixture_rigs(no_pi_env, board, scale):
    with SimulatedPi(board, rig=RIGS / f"{board}-bench.toml") as pi, pi.backend() as backend:
        report = backend.harness.self_test(timeout=0.25 * scale, settle=0.02 * scale)
        assert report.ok, report
        assert [str(r) for r in report.results] == [
            "jumper button: stimulus GPIO5 → GPIO17 ok",
            "jumper led: GPIO18 → probe GPIO6 ok",
        ]
        assert report.where.startswith(f"{pi.model} ({pi.chip.chip_name} [")


@needs_sim
@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (
            {"broken": ["button"]},
            [
                "jumper button: stimulus GPIO5 → GPIO17 reads no change: the wire is loose or "
                "missing — check the wire from header pin 29 to pin 11",
                "jumper led: GPIO18 → probe GPIO6 ok",
            ],
        ),
        (
            {"swapped": [("button", "led")]},
            [
                "jumper button: stimulus GPIO5 → GPIO17 reads no change; probe GPIO6 changed "
                "instead: swapped with led? — check the wire from header pin 29 to pin 11",
                "jumper led: GPIO18 → probe GPIO6 reads no change; GPIO17 changed instead: "
                "swapped with button? — check the wire from header pin 12 to pin 31",
            ],
        ),
    ],
    ids=["broken", "swapped"],
)
def test_self_test_names_the_faulty_jumper(no_pi_env, fault, expected, scale):
    with SimulatedPi("pi5", rig=PI5_RIG, **fault) as pi, pi.backend() as backend:
        report = backend.harness.self_test(timeout=0.25 * scale, settle=0.02 * scale)
    assert not report.ok
    assert [str(r) for r in report.results] == expected


@needs_sim
def test_cli_rig_check_on_an_impersonated_pi(no_pi_env, monkeypatch, capsys):
    with SimulatedPi("pi4", rig=PI4_RIG) as pi:
        monkeypatch.setenv(ENV_DT_MODEL, str(pi.model_path))
        assert main(["rig", "check", str(PI4_RIG), "--timeout", "1"]) == 0
        out = capsys.readouterr().out
        assert out.splitlines()[0] == f"rig pi4-bench on {pi.model} ({pi.chip.chip_name} [" + (
            "pinctrl-bcm2711])"
        )
        assert out.splitlines()[-1].startswith("all 2 jumpers work (")
    with SimulatedPi("pi4", rig=PI4_RIG, swapped=[("button", "led")]) as pi:
        monkeypatch.setenv(ENV_DT_MODEL, str(pi.model_path))
        assert main(["rig", "check", str(PI4_RIG), "--timeout", "1"]) == 1
        assert "swapped with led?" in capsys.readouterr().out
    with SimulatedPi("pi5", rig=PI5_RIG) as pi:  # a Pi 5 rig file on a Pi 4 bench
        monkeypatch.setenv(ENV_DT_MODEL, str(pi.model_path))
        assert main(["rig", "check", str(PI4_RIG)]) == 1
        assert capsys.readouterr().err == (
            f"gpiosim: rig check: {PI4_RIG}:16: [rig] the rig is wired for a Raspberry Pi 4 "
            f"(board = 'pi4'), but this is a {pi.model}: use that board's rig file\n"
        )


@needs_sim
def test_harness_drives_inputs_reads_outputs_and_reports_edges(no_pi_env, scale):
    from gpiocore import Both, In, Out

    with SimulatedPi("pi5", rig=PI5_RIG) as pi, pi.backend() as backend, use_backend(backend):
        harness = backend.harness
        heard = []
        harness.add_listener(lambda *change: heard.append(change))
        chip = pi.chip.chip_name
        assert harness.requested(chip, 5) and harness.requested(chip, 6)  # the rig's lines
        assert not harness.requested(chip, 17)
        with pins.pin(0, direction=In, interrupt=Both) as button, pins.pin(1, direction=Out) as led:
            assert harness.requested(chip, 17)
            harness.drive(chip, 17, True)
            assert wait_until(lambda: button.value == 1, 2 * scale)
            assert harness.level(chip, 17) is True  # what the stimulus drives
            before = time.monotonic_ns()
            led.value = 1
            assert wait_until(lambda: harness.level(chip, 18), 2 * scale)
            after = time.monotonic_ns()
            assert wait_until(lambda: heard, 2 * scale)
            (changed_chip, offset, level, stamp) = heard[0]
            assert (changed_chip, offset, level) == (chip, 18, True)
            assert before <= stamp <= after  # the kernel's timestamp, on the backend's clock
        with pytest.raises(LineNotFoundError) as info:
            harness.drive(chip, 18, True)
        assert str(info.value) == (
            "led (GPIO18 (pin 12)) is an output of the program with a probe: the rig "
            "observes it and cannot drive it"
        )
        with pytest.raises(LineNotFoundError, match="line 22 of .* has no jumper on rig"):
            harness.level(chip, 22)
        fd = os.open(default_lock_dir() / "gpiorig-rig-pi5-bench.lock", os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):  # the harness holds the rig's lock
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)


def wait_until(condition, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.002)
    return True


@needs_sim
@pytest.mark.parametrize(
    ("board", "app"),
    # Each program once, each board at least once: a program's start costs seconds in
    # the guest, and the boards differ only in the chip the program finds by label.
    [("pi4", "follow_epoll"), ("pi5", "follow_selector"), ("pi5", "timed_led")],
)
def test_the_posts_programs_through_the_pi_rig(no_pi_env, board, app, scale):
    from gpiosim.rig._rig import Rig
    from gpiosim.rig._runner import AppRunner

    rig_file = RIGS / f"{board}-bench.toml"
    offset = 0.5
    args = [str(offset * scale)] if app == "timed_led" else []
    with (
        SimulatedPi(board, rig=rig_file) as pi,
        pi.backend() as backend,
        Rig(backend, load_rig_signals(rig_file), scale=scale) as rig,
        AppRunner(APPS / f"{app}.py", args, backend=backend) as program,
    ):
        assert program.mode == "subprocess"  # GPIOCORE_BACKEND=pi, the chip by label
        program.wait_ready(rig.lines())
        rig.press("button")
        assert rig.wait_for("led", True, 2)
        rig.release("button")
        if app == "timed_led":
            assert rig.level("led") is True  # a release does nothing
            assert rig.wait_for("led", False, offset + 2)
        else:
            assert rig.wait_for("led", False, 2)
    led = rig.transitions("led")
    assert [t.level for t in led] == [True, False]
    assert all(t.source == "observe" for t in led)
    press = rig.transitions("button")[0]
    assert press.level is True and led[0].t_ns > press.t_ns
    if app == "timed_led":
        held = (led[1].t_ns - led[0].t_ns) / 1e9
        # The program starts its timer as it lights the LED; the emulated wire adds a few
        # milliseconds (different for each edge) to what the probe sees.
        assert offset - 0.1 / scale <= held < offset + 1  # test seconds, as the rig reports


@needs_sim
def test_plugin_self_tests_the_rig_then_runs_the_suite(pytester, no_pi_env, monkeypatch):
    # The program's side is opened in the test itself: the subprocess path is
    # test_the_posts_programs_through_the_pi_rig's, and costs seconds in the guest.
    pytester.makepyfile(
        """
        from gpiocore import In, Out, pins

        def test_rig_drives_and_observes(rig, backend, gpio_time):
            assert backend.name == "pi"
            with pins.pin(0, direction=In) as button, pins.pin(1, direction=Out) as led:
                rig.press("button")
                assert gpio_time.wait_for(lambda: button.value == 1, 2)
                led.value = 1
                assert rig.wait_for("led", True, 2)
                assert [(t.level, t.source) for t in rig.transitions("led")] == [
                    (True, "observe")
                ]
        """
    )
    with SimulatedPi("pi5", rig=PI5_RIG) as pi:
        monkeypatch.setenv(ENV_DT_MODEL, str(pi.model_path))
        result = pytester.runpytest(*INNER, "--backend=pi", f"--rig={PI5_RIG}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["gpiosim: rig pi5-bench on Raspberry Pi 5 Model B Rev 1.0 *"])
    assert "GPIOSIM_RIG" not in os.environ  # the session's setting is undone


@needs_sim
def test_plugin_refuses_to_run_on_a_broken_rig(pytester, no_pi_env, monkeypatch):
    pytester.makepyfile("def test_never(rig): raise AssertionError('ran')")
    with SimulatedPi("pi4", rig=PI4_RIG, broken=["button"]) as pi:
        monkeypatch.setenv(ENV_DT_MODEL, str(pi.model_path))
        result = pytester.runpytest(*INNER, "--backend=pi", f"--rig={PI4_RIG}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*the rig failed its self-test, so the suite did not run:",
            "*FAIL  jumper button: stimulus GPIO5 → GPIO17 reads no change: the wire is loose*",
            f"*check it again with: gpiosim rig check {PI4_RIG}",
        ]
    )


@needs_sim
def test_plugin_refuses_a_rig_in_use(pytester, no_pi_env, monkeypatch, tmp_path):
    pytester.makepyfile("def test_never(rig): raise AssertionError('ran')")
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, "pi4-bench", str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline() == "locked\n"
        with SimulatedPi("pi4", rig=PI4_RIG) as pi:
            monkeypatch.setenv(ENV_DT_MODEL, str(pi.model_path))
            result = pytester.runpytest(*INNER, "--backend=pi", f"--rig={PI4_RIG}")
    finally:
        proc.kill()
        proc.wait()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--backend=pi: rig 'pi4-bench' is in use by pid {proc.pid} *"])
