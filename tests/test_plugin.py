"""The pytest plugin, end to end with pytester (as a downstream project would use it)."""

from __future__ import annotations

import pytest


def test_backend_fixture_defaults_to_fake(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        from gpiocore import pins, Out

        def test_led(backend, harness):
            assert backend.name == "fake"
            with pins.pin(1, direction=Out) as led:
                led.value = 1
                assert harness.level(led.chip, led.offset)
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_backends_comma_separated_parametrize(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        def test_name(backend):
            pass
        """
    )
    result = pytester.runpytest("-v", "--backend=fake,fake", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_unknown_backend_is_a_usage_error(pytester: pytest.Pytester):
    pytester.makepyfile("def test_x(backend): pass")
    result = pytester.runpytest("--backend=nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*no GPIO backend named 'nope'; choose from*fake*"])


def test_backends_marker_skips_with_a_reason(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.backends("sim")
        def test_only_sim(backend):
            pass
        """
    )
    result = pytester.runpytest("-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*runs only on backends sim, not 'fake'*"])


def test_app_runner_and_virtual_clock(pytester: pytest.Pytester):
    import pathlib

    apps = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "apps"
    pytester.makepyfile(
        f"""
        def test_timed(app_runner, harness, virtual_clock, gpio_time):
            app = app_runner({str(apps / "timed_led.py")!r}, ["2"])
            app.wait_ready([("gpiochip0", 17), ("gpiochip0", 18)])
            harness.drive("gpiochip0", 17, True)
            gpio_time.settle()
            assert harness.level("gpiochip0", 18)
            gpio_time.sleep(1.999)
            assert harness.level("gpiochip0", 18)
            gpio_time.sleep(0.001)
            assert not harness.level("gpiochip0", 18)
            assert virtual_clock.monotonic() == 2.0
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_failing_test_shows_the_rig_trace_and_writes_vcd(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        def test_led_never_lights(rig):
            rig.press("button")
            rig.sleep(0.1)
            rig.release("button")
            assert rig.level("led"), "LED expected on"
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--gpio-trace-dir=traces")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*gpiosim rig trace*",
            "*button*",
            "*0.000000 s  button -> 1  (drive)*",
            "*0.100000 s  button -> 0  (drive)*",
            "VCD: *traces*test_led_never_lights*.vcd",
        ]
    )
    vcd = next((pytester.path / "traces").glob("*.vcd")).read_text()
    assert "$var wire 1" in vcd and "button" in vcd and "#100000000" in vcd


def test_rig_file_names_the_signals(pytester: pytest.Pytester):
    pytester.makefile(
        ".toml",
        rig="""
        [signals.knob]
        line = "GPIO22"
        role = "input"
        active_low = true

        [signals.lamp]
        line = "GPIO27"
        role = "output"
        """,
    )
    pytester.makepyfile(
        """
        def test_names(rig, harness):
            assert set(rig.signals) == {"knob", "lamp"}
            rig.press("knob")  # active low: pressed is a low level
            chip, offset = rig.where("knob")
            assert harness.level(chip, offset) is False
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--rig=rig.toml")
    result.assert_outcomes(passed=1)


def test_a_wrong_rig_file_is_one_usage_error_that_points_at_its_line(pytester: pytest.Pytester):
    pytester.makefile(".toml", rig='[signals.knob]\nline = "GPIO99"\nrole = "input"\n')
    pytester.makepyfile("def test_a(rig): pass\ndef test_b(rig): pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--rig=rig.toml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.errlines if "rig.toml:2:" in line]
    assert len(errors) == 1 and "no Raspberry Pi has GPIO99" in errors[0], result.errlines
    assert "Traceback" not in result.stderr.str()


# -- traces are written without following links; bad options are usage errors ---------

_FAILING_RIG_TEST = """
def test_led_never_lights(rig):
    rig.press("button")
    assert rig.level("led"), "LED expected on"
"""
_TRACE_NAME = "test_trace.py__test_led_never_lights_fake_.vcd"


def test_a_link_planted_at_a_trace_file_is_replaced_not_written_through(
    pytester: pytest.Pytester, tmp_path
):
    outside = tmp_path / "outside.txt"
    outside.write_text("not yours\n")
    traces = pytester.path / "results" / "traces"
    traces.mkdir(parents=True)
    (traces / _TRACE_NAME).symlink_to(outside)
    pytester.makepyfile(test_trace=_FAILING_RIG_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    assert outside.read_text() == "not yours\n"
    written = traces / _TRACE_NAME
    assert written.is_file() and not written.is_symlink()
    assert "$var wire 1" in written.read_text()
    assert [p.name for p in traces.iterdir()] == [_TRACE_NAME]  # no temporary file left


def test_a_link_planted_as_the_trace_folder_is_refused(pytester: pytest.Pytester, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (pytester.path / "results").mkdir()
    (pytester.path / "results" / "traces").symlink_to(elsewhere)
    pytester.makepyfile(test_trace=_FAILING_RIG_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    assert list(elsewhere.iterdir()) == []
    result.stdout.fnmatch_lines(
        [f"VCD not written: not writing *results/traces/{_TRACE_NAME}:"
         " *results/traces is a symbolic link (what runs in the guest can change the project"
         " folder): remove it, or write elsewhere"]
    )  # fmt: skip


def test_an_unwritable_trace_dir_is_one_usage_error(pytester: pytest.Pytester):
    (pytester.path / "a-file").write_text("")
    pytester.makepyfile(test_trace=_FAILING_RIG_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider", "--gpio-trace-dir=a-file/traces")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--gpio-trace-dir=a-file/traces: */a-file is not a folder: pass a folder you can write"]
    )
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_an_unwritable_default_trace_dir_warns_and_the_run_goes_on(pytester: pytest.Pytester):
    (pytester.path / "results").write_text("")  # as a read-only checkout would refuse it
    pytester.makepyfile(test_trace=_FAILING_RIG_TEST + "\n\ndef test_after():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "VCD not written: */results is not a folder (see --gpio-trace-dir)",
            "*PytestConfigWarning: gpiosim: no VCD traces of failing rig tests: "
            "*/results is not a folder; pass --gpio-trace-dir=DIR to write them elsewhere",
        ],
        consecutive=False,
    )
    assert "INTERNALERROR" not in result.stdout.str()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gpio-time-scale=-1"], "--gpio-time-scale must be a positive factor *, not -1: e.g.*"),
        (["--gpio-time-scale=0"], "--gpio-time-scale must be a positive factor below 1e9, not 0:*"),
        (["--gpio-time-scale=nan"], "--gpio-time-scale must be *, not nan: e.g. *=4"),
        (["--gpio-time-scale=inf"], "--gpio-time-scale must be *, not inf*"),
        (["--backend= , "], "--backend names no GPIO backend: ' , '; e.g. --backend=fake or *"),
        (["--backend="], "--backend names no GPIO backend: ''*"),
        (["--rig="], "--rig needs a rig file's path, not '': e.g. --rig=fixtures/rigs/sim.toml"),
        (["--rig", " "], "--rig needs a rig file's path, not ' '*"),
    ],
)  # fmt: skip
def test_bad_options_are_one_usage_error_naming_the_option(
    pytester: pytest.Pytester, args: list[str], message: str
):
    pytester.makepyfile("def test_a(backend, gpio_time): pass\ndef test_b(backend): pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.outlines
    result.stderr.fnmatch_lines([f"ERROR: {message}"])


def test_an_empty_backend_ini_value_is_a_usage_error(pytester: pytest.Pytester):
    pytester.makeini("[pytest]\ngpio_backend = ,\n")
    pytester.makepyfile("def test_a(backend): pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: the gpio_backend ini option names no GPIO backend: ','*"])


def test_a_bad_time_scale_variable_is_a_usage_error(pytester: pytest.Pytester, monkeypatch):
    monkeypatch.setenv("GPIOSIM_TIME_SCALE", "-2")
    pytester.makepyfile("def test_a(backend, gpio_time): pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: GPIOSIM_TIME_SCALE must be a positive number, not '-2'*"])


# -- issue 16: rig paths in the config file; one example database across backends ------

_RIG_TOML = '[signals.knob]\nline = "GPIO22"\nrole = "input"\n'
_KNOB_TEST = "def test_knob(rig):\n    assert set(rig.signals) == {'knob'}\n"


def test_a_rig_in_addopts_is_relative_to_the_config_file(pytester: pytest.Pytester):
    pytester.makeini("[pytest]\naddopts = --rig=rigs/knob.toml\n")
    (pytester.path / "rigs").mkdir()
    (pytester.path / "rigs" / "knob.toml").write_text(_RIG_TOML)
    sub = pytester.path / "tests"
    sub.mkdir()
    (sub / "test_knob.py").write_text(_KNOB_TEST)
    pytester.chdir()
    import os

    os.chdir(sub)  # run from a subfolder, as an editor or `cd tests && pytest` does
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_gpio_rig_ini_option_is_relative_to_the_config_file(pytester: pytest.Pytester):
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\ngpio_rig = "rigs/knob.toml"\n')
    (pytester.path / "rigs").mkdir()
    (pytester.path / "rigs" / "knob.toml").write_text(_RIG_TOML)
    sub = pytester.path / "tests"
    sub.mkdir()
    (sub / "test_knob.py").write_text(_KNOB_TEST)
    import os

    os.chdir(sub)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_a_rig_on_the_command_line_is_relative_to_the_working_folder(
    pytester: pytest.Pytester,
):
    pytester.makeini("[pytest]\n")
    sub = pytester.path / "tests"
    sub.mkdir()
    (sub / "knob.toml").write_text(_RIG_TOML)
    (sub / "test_knob.py").write_text(_KNOB_TEST)
    import os

    os.chdir(sub)
    result = pytester.runpytest("-p", "no:cacheprovider", "--rig=knob.toml")
    result.assert_outcomes(passed=1)


def test_a_missing_rig_from_the_config_file_names_the_resolved_path(pytester: pytest.Pytester):
    pytester.makeini("[pytest]\naddopts = --rig=rigs/none.toml\n")
    pytester.makepyfile(_KNOB_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: --rig: no rig file at {pytester.path}/rigs/none.toml*"])


_GIVEN_TEST = """
from gpiosim.strategies import edge_sequences

def test_lamp(rig, gpio_given):
    @gpio_given(steps=edge_sequences())
    def example(steps):
        rig.play("button", steps)
        assert len(steps) < 6, "too many steps"
    example()
"""


def test_gpio_replay_replays_what_the_fake_found_and_says_so(pytester: pytest.Pytester):
    """The example database is keyed by the test, not the backend: a run with
    --gpio-replay=fake replays the fake's shrunk counterexample, and only that."""
    pytester.makepyfile(test_lamp=_GIVEN_TEST)
    first = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--backend=fake")
    first.assert_outcomes(failed=1)
    assert list((pytester.path / ".hypothesis" / "examples").iterdir())
    again = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--backend=fake", "--gpio-replay=fake"
    )
    again.assert_outcomes(failed=1)
    again.stdout.fnmatch_lines(
        [
            "gpiosim: replaying the failing examples the fake backend found*",
            "*gpiosim: this is the failing example the fake backend found, replayed on fake "
            "(--gpio-replay=fake)*",
            "*gpiosim: examples the fake backend found, replayed*",
            "test_lamp.py::test_lamp[[]fake[]]: 1 example(s): fails here too",
        ],
        consecutive=False,
    )
    # Nothing found yet for another test: a skip that says what to run first.
    pytester.makepyfile(test_other=_GIVEN_TEST.replace("test_lamp", "test_other"))
    other = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-rs", "--gpio-replay=fake", "test_other.py"
    )
    other.assert_outcomes(skipped=1)
    other.stdout.fnmatch_lines(
        ["*--gpio-replay=fake: no failing example of this test from the fake backend to "
         "replay: run it with --backend=fake first (same example database)*"]
    )  # fmt: skip


def test_a_bad_replay_backend_is_a_usage_error(pytester: pytest.Pytester):
    pytester.makepyfile("def test_a(backend): pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--gpio-replay=nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --gpio-replay: no GPIO backend named 'nope'; choose from *: "
         "e.g. --gpio-replay=fake"]
    )  # fmt: skip
