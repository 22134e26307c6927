"""``gpiosim demo``: the post's timed-LED program driven on the fake backend."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest

from gpiocore import InvalidSettingError
from gpiocore.testing import FakeBackend
from gpiosim._cli import main as cli_main
from gpiosim._demo import run_demo


@pytest.mark.parametrize("offset", ["0.1", "0.01", "2"])
def test_the_demo_adapts_its_steps_to_the_offset(offset, capsys, monkeypatch):
    monkeypatch.setenv("GPIOCORE_BACKEND", "fake")
    assert cli_main(["demo", "--offset", offset]) == 0
    out = capsys.readouterr().out
    assert "UNEXPECTED" not in out
    assert "demo: the LED did what the post promises" in out


def test_the_half_offset_step_comes_before_the_timer_expires():
    out = io.StringIO()
    backend = FakeBackend()
    try:
        assert run_demo(backend, offset=0.1, out=out) == 0
    finally:
        backend.close()
    lines = out.getvalue().splitlines()
    half = next(line for line in lines if "half the offset later" in line)
    assert float(half.split("t=")[1].split()[0]) < 0.1  # 0.02 s hold + 0.05 s


def test_an_offset_too_short_for_real_time_is_refused():
    real_time = SimpleNamespace(name="sim", clock=SimpleNamespace(virtual=False), harness=None)
    with pytest.raises(
        InvalidSettingError,
        match=r"offset 0.1 s is too short for the demo's presses on the real-time 'sim' "
        r"backend: use at least 0.25 s",
    ):
        run_demo(real_time, offset=0.1)  # type: ignore[arg-type]


@pytest.mark.parametrize("offset", [0, -1, float("nan"), 3601, True, "2"])
def test_run_demo_names_a_bad_offset(offset):
    with pytest.raises(
        InvalidSettingError, match="offset must be seconds above 0 and at most 3600"
    ):
        run_demo(FakeBackend(), offset=offset)
