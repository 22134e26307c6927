"""The pytest plugin's configuration: its options checked as one usage error, paths relative
to the config file, the trace folder and the traces written to it, hypothesis profiles.
"""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from gpiocore import GpioError
from gpiocore.backends import available_backends
from gpiosim._atomicwrite import trusted_folder
from gpiosim.rig._signal import Transition
from gpiosim.rig._timing import default_scale
from gpiosim.rig._trace import write_vcd

__all__ = [
    "check_options",
    "register_hypothesis_profiles",
    "rig_path",
    "test_id",
    "write_trace",
]

def check_options(config: pytest.Config) -> None:
    """Turn a bad option into one usage error before the run, naming the option."""
    scale = config.getoption("--gpio-time-scale")
    if scale is not None and not 0 < scale < 1e9:  # NaN fails this too
        raise pytest.UsageError(
            f"--gpio-time-scale must be a positive factor below 1e9, not {scale:g}: "
            "e.g. --gpio-time-scale=4"
        )
    if scale is None:
        try:
            default_scale()
        except GpioError as exc:
            raise pytest.UsageError(str(exc)) from None
    option = config.getoption("--backend")
    raw = config.getini("gpio_backend") if option is None else option
    if raw is not None and not [n for n in str(raw).split(",") if n.strip()]:
        where = "the gpio_backend ini option" if option is None else "--backend"
        raise pytest.UsageError(
            f"{where} names no GPIO backend: {raw!r}; e.g. --backend=fake or --backend=fake,sim"
        )
    rig = config.getoption("--rig")
    if rig is not None and not rig.strip():
        raise pytest.UsageError(
            f"--rig needs a rig file's path, not {rig!r}: e.g. --rig=fixtures/rigs/sim.toml"
        )
    replay = config.getoption("--gpio-replay")
    if replay is not None and replay not in available_backends():
        raise pytest.UsageError(
            f"--gpio-replay: no GPIO backend named {replay!r}; choose from "
            f"{', '.join(sorted(available_backends()))}: e.g. --gpio-replay=fake"
        )
    config.stash[_TRACES_KEY] = _trace_folder(config)


def _config_folder(config: pytest.Config) -> Path:
    """The folder pytest's own ini paths are relative to: the config file's, else the
    rootdir."""
    return config.inipath.parent if config.inipath is not None else config.rootpath


def _on_command_line(config: pytest.Config, option: str) -> bool:
    """True when ``option`` was typed (or set in ``PYTEST_ADDOPTS``), not read from the
    config file's ``addopts``."""

    typed = [*config.invocation_params.args]
    with contextlib.suppress(ValueError):  # pytest reports a malformed PYTEST_ADDOPTS
        typed += shlex.split(os.environ.get("PYTEST_ADDOPTS", ""))
    return any(arg == option or str(arg).startswith(option + "=") for arg in typed)


def rig_path(config: pytest.Config) -> str | None:
    """The rig file ``--rig`` or the ``gpio_rig`` ini option names, if any.

    A path typed on the command line is relative to the working folder; one written in
    the config file (its ``addopts``, or ``gpio_rig``) is relative to that file's
    folder, as pytest takes its own ini paths, so every folder of the project finds it.
    """
    option: str | None = config.getoption("--rig")
    if option is None:
        written = str(config.getini("gpio_rig") or "").strip()
        return str(_config_folder(config) / written) if written else None
    if _on_command_line(config, "--rig"):
        return option
    return str(_config_folder(config) / option)


#: Where VCD traces go and the folder trusted on the way, or why none are written.
_TRACES_KEY = pytest.StashKey[tuple[Path, Path] | str]()
_TRACE_DIR = "results/traces"


def _trace_folder(config: pytest.Config) -> tuple[Path, Path] | str:
    """Check ``--gpio-trace-dir`` without making it: a usage error if given and not
    writable; if the default is not writable (a read-only checkout), warn once and
    write no traces."""
    option = config.getoption("--gpio-trace-dir")
    root = Path(os.path.abspath(config.rootpath))
    folder = Path(os.path.abspath(root / (option or _TRACE_DIR)))
    probe = folder
    while not os.path.lexists(probe) and probe != probe.parent:
        probe = probe.parent
    problem = None
    if not probe.is_dir():
        problem = f"{probe} is not a folder"
    elif not os.access(probe, os.W_OK | os.X_OK):
        problem = f"{probe} is not writable"
    if problem is None:
        # Below the outermost project on the way (the guest's share), no folder may be
        # a link: a guest can plant one. The rootdir may be a subfolder of that project.
        return folder, trusted_folder(folder, root if folder.is_relative_to(root) else None)
    if option is not None:
        raise pytest.UsageError(
            f"--gpio-trace-dir={option}: {problem}: pass a folder you can write"
        )
    config.issue_config_time_warning(
        pytest.PytestConfigWarning(
            f"gpiosim: no VCD traces of failing rig tests: {problem}; "
            "pass --gpio-trace-dir=DIR to write them elsewhere"
        ),
        stacklevel=2,
    )
    return f"{problem} (see --gpio-trace-dir)"


def write_trace(
    config: pytest.Config, name: str, record: Sequence[Transition], initial: Mapping[str, bool]
) -> str:
    """Write one VCD; return the report's line: its path, or why it was not written."""
    where = config.stash.get(_TRACES_KEY, None)
    if where is None:  # pytest_configure did not run this plugin's checks
        where = _trace_folder(config)
    if isinstance(where, str):
        return f"VCD not written: {where}"
    folder, trusted = where
    try:

        vcd = write_vcd(folder / name, record, initial, trusted=trusted)
    except ImportError:
        return "VCD not written: pyvcd is not installed (pip install pyvcd)"
    except OSError as exc:  # a folder made read-only, a link planted on the way
        return f"VCD not written: {exc}"
    return f"VCD: {vcd}"


_HYPOTHESIS_PROFILES: dict[str, dict[str, object]] = {
    "fake": {"max_examples": 60, "stateful_step_count": 20},
    "sim": {"max_examples": 8, "stateful_step_count": 8},
    "pi": {"max_examples": 8, "stateful_step_count": 8},
}


def test_id(item: pytest.Item) -> str:
    """The test without its backend: one example database entry for every backend."""
    path = item.path
    with contextlib.suppress(ValueError):  # a test outside the rootdir keeps its path
        path = path.relative_to(item.config.rootpath)
    name = getattr(item, "originalname", item.name)
    callspec = getattr(item, "callspec", None)
    params = {} if callspec is None else dict(callspec.params)
    params.pop("gpio_backend_name", None)
    kept = ", ".join(
        f"{key}={value!r}" if isinstance(value, str | int | float | bool | None) else key
        for key, value in sorted(params.items())
    )
    return f"{path.as_posix()}::{name}" + (f"[{kept}]" if kept else "")


def register_hypothesis_profiles() -> None:
    """Register the per-backend hypothesis profiles (nothing without hypothesis)."""
    try:
        from hypothesis import settings
    except ImportError:  # hypothesis is a test extra
        return
    from hypothesis.database import DirectoryBasedExampleDatabase

    # An example database of their own (hypothesis's usual place), also where the
    # `ci` profile that hypothesis loads under CI=true has none: what the fake finds
    # must be there for --gpio-replay on the kernel.
    database = DirectoryBasedExampleDatabase(os.path.join(".hypothesis", "examples"))
    for name, values in _HYPOTHESIS_PROFILES.items():
        settings.register_profile(
            f"gpiosim-{name}",
            deadline=None,
            database=database,
            **values,  # type: ignore[arg-type]
        )
