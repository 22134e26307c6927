"""Generated ``gpiosim`` command lines end in a status, never a traceback, a hang or a boot.

Runs on the host, with everything slow or booting replaced by a stub.
"""

from __future__ import annotations

import contextlib
import io
import signal
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpiocore import (
    InvalidSettingError,
)

pytestmark = pytest.mark.timeout(20)  # a hang is a failure, not a stuck CI job



FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,  # each run explores afresh; a failure prints its input
)


# -- the command line, fuzzed -----------------------------------------------------------

_TOKENS = [
    "guest", "guest-kernel", "demo", "bench", "rig", "show", "check", "--",
    "--timeout", "--memory", "--cpus", "--accel", "--project-dir", "--rebuild", "-v",
    "--offset", "--quick", "--json", "--only", "--no-guest", "--cold", "--chip",
    "--missing-packages", "-h", "--help", "--version", "-x",
    "nan", "inf", "-inf", "-1", "0", "1", "2", "1e300", "0.001", "kvm", "tcg", "auto",
    "true", "/no/such/dir", "/", "", " ", "; rm -rf /", "$(id)", "\n", "é", "latency,x",
]  # fmt: skip


@pytest.fixture(scope="module")
def cli() -> Iterator[Callable[[list[str]], tuple[int | None, str]]]:
    """``gpiosim._cli.main`` with everything slow or booting replaced by a stub."""
    from gpiosim import _cli, _demo
    from gpiosim._errors import GuestError
    from gpiosim.guest import _run as _guest

    calls: list[str] = []

    def refuse(what: str) -> Callable[..., Any]:
        def stub(*args: object, **kwargs: object) -> Any:
            calls.append(what)
            raise GuestError(f"fuzz: {what} is stubbed out")

        return stub

    # run() itself stays: its argument checks are under test; it fails at the kernel.
    patches = [
        (_guest, "ensure_kernel", refuse("kernel build")),
        (_guest, "_boot", refuse("guest boot")),
        (_demo, "run_demo", lambda *a, **kw: calls.append("demo") or 0),
    ]
    with contextlib.suppress(ImportError):
        from gpiosim.bench import _driver as _bench

        patches.append((_bench, "run_bench", refuse("bench")))
    with contextlib.suppress(ImportError):
        from gpiosim.pi import _check as _rigcheck

        patches.append((_rigcheck, "check_rig", refuse("rig check")))
    saved = [(module, name, getattr(module, name)) for module, name, _ in patches]
    for module, name, stub in patches:
        setattr(module, name, stub)
    sigterm = signal.getsignal(signal.SIGTERM)
    sigint = signal.getsignal(signal.SIGINT)

    def run(argv: list[str]) -> tuple[int | None, str]:
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code: int | None = _cli.main(argv)
        except SystemExit as exc:  # argparse: usage errors (2) and --help (0)
            assert exc.code in (0, 2), (argv, exc.code, err.getvalue())
            assert exc.code == 0 or "error:" in err.getvalue(), (argv, err.getvalue())
            return None, err.getvalue()
        finally:
            # `gpiosim guest` installs a SIGTERM handler for its own process.
            signal.signal(signal.SIGTERM, sigterm)
            signal.signal(signal.SIGINT, sigint)
        assert isinstance(code, int) and not isinstance(code, bool), (argv, code)
        return code, err.getvalue()

    try:
        yield run
    finally:
        for module, name, original in saved:
            setattr(module, name, original)


@FUZZ
@given(argv=st.lists(st.sampled_from(_TOKENS) | st.text(max_size=6), max_size=8))
def test_command_lines_end_in_a_status(cli, argv):
    cli(argv)


@FUZZ
@given(argv=st.lists(st.sampled_from(_TOKENS), max_size=6).map(lambda a: ["guest", *a]))
def test_guest_command_lines_never_boot(cli, argv):
    code, err = cli(argv)
    if code is not None:
        assert code in (0, 1, 2, 124, 125), (argv, code, err)


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["demo", "--offset", "nan"], 2, "--offset must be seconds above 0"),
        (["demo", "--offset", "-1"], 2, "--offset must be seconds above 0"),
        (["demo", "--offset", "1e300"], 2, "at most 3600, not 1e+300"),
        # A bad guest option is a usage error (2), found before any kernel build or boot.
        (["guest", "--timeout", "nan", "--", "true"], 2, "timeout must be a positive, finite"),
        (["guest", "--timeout", "inf", "--", "true"], 2, "not inf"),
        (
            ["guest", "--timeout", "-1", "--", "true"],
            2,
            "guest: --timeout must be a positive, finite number of seconds, not -1: e.g.",
        ),
        (["guest", "--cpus", "0", "--", "true"], 2, "cpus must be a whole number >= 1, not 0"),
        (
            ["guest", "--memory", "1", "--", "true"],
            2,
            "guest: --memory must be a whole number of MiB >= 64, not 1: e.g. 1024",
        ),
        (
            ["guest", "--cpu-model", "max,+avx", "--", "true"],
            2,
            "guest: --cpu-model must be a qemu CPU model name, not 'max,+avx': e.g. max",
        ),
        (
            ["guest", "--project-dir", "/", "--", "true"],
            2,
            "guest: cannot share '/' read-write with the guest: it is a folder that holds your "
            "home",
        ),
        (["guest", "--project-dir", "/no/such/dir", "--", "true"], 2, "does not exist"),
        # --rebuild builds before run() checks: the CLI checks first.
        (["guest", "--rebuild", "--cpus", "0", "--", "true"], 2, "--cpus must be a whole"),
        (["guest"], 2, "no command given"),
        (["demo", "--", "x"], 2, "demo takes no command"),
        # bench --json: checked before a run of minutes, not after it.
        (["bench", "--json", "/"], 2, "cannot write the bench JSON to /: it is a folder"),
        (["bench", "--json", "/dev/null"], 2, "bench: --json: cannot write the bench JSON to"),
        (
            ["bench", "--json", "/dev/null/b.json"],
            2,
            "cannot write the bench JSON to /dev/null/b.json: /dev/null is not a folder: give",
        ),
    ],
)
def test_command_lines_that_once_escaped(cli, argv, code, message):
    got, err = cli(argv)
    assert got == code, err
    assert message in err


def test_a_bad_accel_variable_is_a_usage_error_before_any_build(cli, monkeypatch):
    monkeypatch.setenv("GPIOSIM_ACCEL", "fast")
    code, err = cli(["guest", "--", "true"])
    assert code == 2, err
    assert "GPIOSIM_ACCEL must be 'auto', 'tcg' or 'kvm', not 'fast': fix or unset it" in err


def test_the_cli_stub_really_stands_in(cli):
    """The fuzz above reaches the stubbed guest, not a real one."""
    code, err = cli(["guest", "--", "true"])
    assert code == 125 and "fuzz: kernel build is stubbed out" in err


def test_a_bad_time_scale_is_named(monkeypatch):
    from gpiosim.rig import default_scale

    for bad in ("x", "0", "-1", "nan"):
        monkeypatch.setenv("GPIOSIM_TIME_SCALE", bad)
        with pytest.raises(InvalidSettingError, match="GPIOSIM_TIME_SCALE must be a positive"):
            default_scale()
    monkeypatch.setenv("GPIOSIM_TIME_SCALE", "2.5")
    assert default_scale() == 2.5
