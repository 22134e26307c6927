"""The CLI (``gpiosim rig``) and the plugin off a Pi.
"""

from __future__ import annotations

import importlib
import inspect

import pytest

from gpiosim._cli import main
from gpiosim.pi import (
    ENV_DT_MODEL,
    ENV_LOCK_DIR,
)
from tests.conftest import ROOT
from tests.pi.pi_helpers import BENCH, INNER, write_rig

RIGS = ROOT / "fixtures" / "rigs"
PI4_RIG = RIGS / "pi4-bench.toml"
PI5_RIG = RIGS / "pi5-bench.toml"

# -- the CLI and the plugin off a Pi --------------------------------------------------------


def test_cli_rig_show(capsys):
    assert main(["rig", "show", str(PI4_RIG)]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "  button  input   GPIO17 (pin 11)  <- stimulus GPIO5 (pin 29)",
        "  led     output  GPIO18 (pin 12)  -> probe GPIO6 (pin 31), pull-down",
    ]


def test_cli_rig_check_off_a_pi_exits_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(ENV_DT_MODEL, str(tmp_path / "model"))
    monkeypatch.delenv("GPIOSIM_PI_CHIP", raising=False)
    monkeypatch.setenv(ENV_LOCK_DIR, str(tmp_path))
    assert main(["rig", "check", str(PI5_RIG)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"gpiosim: rig check: no Raspberry Pi here: {tmp_path / 'model'} ")
    bad = write_rig(tmp_path, BENCH.replace('"GPIO6"', '"pin6"'))
    assert main(["rig", "check", str(bad)]) == 1
    assert f"{bad}:16: [jumpers.led] 'pin6': header pin 6 is ground" in capsys.readouterr().err


@pytest.mark.parametrize("timeout", ["0", "-1", "nan", "61"])
def test_cli_rig_check_wants_a_sane_timeout(capsys, timeout):
    assert main(["rig", "check", str(PI4_RIG), "--timeout", timeout]) == 2
    assert capsys.readouterr().err == (
        "gpiosim: rig check: --timeout must be seconds above 0 and at most 60, not "
        f"{float(timeout)}\n"
    )


def test_plugin_refuses_a_pi_session_off_a_pi(pytester, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_DT_MODEL, str(tmp_path / "model"))
    monkeypatch.delenv("GPIOSIM_PI_CHIP", raising=False)
    pytester.makepyfile("def test_x(rig): pass")
    result = pytester.runpytest(*INNER, "--backend=pi", f"--rig={PI4_RIG}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--backend=pi: no Raspberry Pi here: *model does not exist*"])


def test_public_face_exports_everything_documented():
    module = importlib.import_module("gpiosim.pi")
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"gpiosim.pi.{name} has no docstring"
    public = {n for n in vars(module) if not n.startswith(("_", "@"))}  # @: pytest's rewrite
    assert public <= set(module.__all__), public - set(module.__all__)


def test_the_pi_backend_is_registered():
    from gpiocore.backends import available_backends

    assert available_backends()["pi"].value == "gpiosim.pi:PiBackend"
