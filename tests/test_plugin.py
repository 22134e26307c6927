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
