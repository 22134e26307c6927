"""The pytest session on a Pi (:func:`start_pi_session`): lock the rig, prove its jumpers.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gpiocore import GpioError
from gpiosim.pi._backend import PiBackend
from gpiosim.pi._discovery import ENV_RIG
from gpiosim.pi._lock import RigLock
from gpiosim.pi._rigload import load_rig

__all__ = ["start_pi_session"]


def start_pi_session(config: pytest.Config, *, scale: float = 1.0) -> None:
    """Before a ``--backend=pi`` session: lock the rig and prove its jumpers.

    The rig file is ``--rig`` (else ``$GPIOSIM_RIG``); without one the session runs
    without a harness (tests that need one skip with the reason). With one, the rig is
    locked for the whole session, its self-test runs, and the suite is refused on a
    broken rig. The tests' backends then find the rig through ``$GPIOSIM_RIG``.

    Args:
        config: the pytest config.
        scale: stretches the self-test's waits (an emulated rig in a slow guest).

    Raises:
        pytest.UsageError: the rig file is wrong, this is no usable Pi, the rig is in use
            by another run, or a jumper failed the self-test.
    """

    path = config.getoption("--rig") or os.environ.get(ENV_RIG) or None
    if path is None:
        return
    if getattr(config.option, "numprocesses", None):
        raise pytest.UsageError(
            "--backend=pi drives one physical rig: run it without -n (pytest-xdist)"
        )
    try:
        rig = load_rig(path).require_bench()
        backend = PiBackend(rig=rig)
    except GpioError as exc:
        raise pytest.UsageError(f"--backend=pi: {exc}") from None
    lock = RigLock(rig.name)
    try:
        lock.acquire()
        config.add_cleanup(lock.release)
        harness = backend.harness  # shares the session's hold on the lock
        assert harness is not None  # the backend was given the rig
        report = harness.self_test(timeout=0.25 * scale, settle=0.02 * scale)
    except GpioError as exc:
        raise pytest.UsageError(f"--backend=pi: {exc}") from None
    finally:
        backend.close()
    if not report.ok:
        raise pytest.UsageError(
            f"the rig failed its self-test, so the suite did not run:\n{report}\n"
            f"check it again with: gpiosim rig check {path}"
        )
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"gpiosim: {report}".replace("\n", "\n  "))
    mp = pytest.MonkeyPatch()
    mp.setenv(ENV_RIG, str(Path(path).resolve()))
    config.add_cleanup(mp.undo)
