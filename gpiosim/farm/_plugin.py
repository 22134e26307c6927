"""pytest options for bench farms: ``--farm-coordinator HOST:PORT --farm-place MATCH``.

With both, the session does not run here: it acquires a free bench whose place matches
(waiting up to ``--farm-timeout``), runs there with ``--backend=pi`` and the bench's rig
file, brings ``results/`` back and releases the bench, also when interrupted or killed
(see :mod:`gpiosim.farm._places`). Without labgrid installed the options exist, say how
to install it, and everything else works.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path

import pytest

from gpiosim.farm._errors import INSTALL_HINT, FarmError

ENV_COORDINATOR = "GPIORIG_FARM_COORDINATOR"


def _have_labgrid() -> bool:
    """Whether labgrid looks installed (cheap: for the options' help)."""
    try:
        return importlib.util.find_spec("labgrid") is not None
    except (ImportError, ValueError):
        return False


def _labgrid_imports() -> bool:
    """Whether labgrid really imports (before a farm session)."""
    try:
        import labgrid  # noqa: F401
    except ImportError:
        return False
    return True


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gpiorig-farm", "bench farms through labgrid (gpiorig)")
    missing = "" if _have_labgrid() else f" [{INSTALL_HINT}]"
    group.addoption(
        "--farm-coordinator",
        default=os.environ.get(ENV_COORDINATOR),
        metavar="HOST:PORT",
        help=f"the labgrid coordinator of a bench farm (env {ENV_COORDINATOR}){missing}",
    )
    group.addoption(
        "--farm-place",
        default=None,
        metavar="MATCH",
        help="run this session on a free bench whose place matches: TAG=GLOB[,TAG=GLOB] "
        f"(e.g. gpiorig-rig=pi5-*) or a glob on place names{missing}",
    )
    group.addoption(
        "--farm-timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="how long to wait for a matching bench to come free (default 600)",
    )
    group.addoption("--farm-ssh-key", default=None, metavar="FILE", help="ssh key for the benches")
    group.addoption(
        "--farm-known-hosts",
        default=None,
        metavar="FILE",
        help="known-hosts file that pins the benches' host keys",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    spec = config.getoption("--farm-place")
    address = config.getoption("--farm-coordinator")
    if not spec:
        return None
    if not address:
        print(f"pytest: --farm-place needs --farm-coordinator (or {ENV_COORDINATOR})",
              file=sys.stderr)  # fmt: skip
        return int(pytest.ExitCode.USAGE_ERROR)
    if not _labgrid_imports():
        print(f"pytest: --farm-place: {INSTALL_HINT}", file=sys.stderr)
        return int(pytest.ExitCode.USAGE_ERROR)
    # The session module needs labgrid (checked just above), so it is loaded only here:
    # a plain import would load labgrid and gRPC into every pytest run.
    run_on_farm = importlib.import_module("gpiosim.farm._session").run_on_farm

    capman = config.pluginmanager.getplugin("capturemanager")
    if capman is not None:
        capman.stop_global_capturing()  # the bench's output goes straight to the terminal
    params = config.invocation_params
    try:
        return run_on_farm(
            address=address,
            spec=spec,
            timeout=config.getoption("--farm-timeout"),
            raw_args=list(params.args),
            # The command line's paths, else testpaths (or the folder pytest ran in).
            positional=list(config.args),
            invoked=Path(params.dir),
            root=Path(config.rootpath),
            keyfile=config.getoption("--farm-ssh-key"),
            known_hosts=config.getoption("--farm-known-hosts"),
        )
    except FarmError as exc:
        print(f"pytest: farm: {exc}", file=sys.stderr, flush=True)
        return int(pytest.ExitCode.USAGE_ERROR)
    except KeyboardInterrupt:
        print("pytest: farm: interrupted", file=sys.stderr, flush=True)
        return int(pytest.ExitCode.INTERRUPTED)
