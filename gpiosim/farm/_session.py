"""One pytest session on a farm bench: acquire, ship, run, bring back, release.

The session's tests run *on the bench* (the Pi drives its own lines; only the results
cross the network): the test files named on the command line, the conftest.py files
above them and the pytest configuration file are copied to a fresh folder on the bench,
``pytest --backend=pi --rig=<the bench's rig file>`` runs there with the rest of the
command line, its output streams here, and the bench's ``results/`` (JUnit XML, VCD
traces) is copied into the local ``results/``. The exit status is the bench pytest's.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from labgrid import Target
from labgrid.factory import target_factory

from gpiosim.farm._errors import FarmError
from gpiosim.farm._labgrid_bench import GpiorigBenchDriver
from gpiosim.farm._places import Coordinator, session_token
from gpiosim.farm._ship import files_to_ship, remote_args


def _start_watchdog(address: str, place: str, token: str) -> tuple[subprocess.Popen[bytes], int]:
    read, write = os.pipe()
    os.set_inheritable(write, False)
    try:
        watchdog = subprocess.Popen(
            [sys.executable, "-m", "gpiosim.farm._watchdog", address, place, token],
            stdin=read,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(read)
    return watchdog, write


def run_on_farm(
    *,
    address: str,
    spec: str,
    timeout: float,
    raw_args: Sequence[str],
    positional: Sequence[str],
    invoked: Path,
    root: Path,
    keyfile: str | None = None,
    known_hosts: str | None = None,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr, flush=True),
) -> int:
    """Run the session's tests on a free bench matching ``spec``; returns the exit code."""
    token = session_token()
    args = remote_args(raw_args, positional, invoked, root)
    if not any(a == "--junitxml" or a.startswith("--junitxml=") for a in args):
        args.append("--junitxml=results/junit.xml")
    files = files_to_ship(positional, invoked, root)
    started = time.monotonic()
    with Coordinator(address) as coordinator:
        name = coordinator.acquire_matching(spec, timeout=timeout, token=token, log=log)
        waited = time.monotonic() - started
        watchdog, leash = _start_watchdog(address, name, token)
        try:
            place = coordinator.places()[name]
            entries = coordinator.session.get_target_resources(place)
            benches = [(n, e) for (n, cls), e in entries.items() if cls == "GpiorigBench"]
            if not benches:
                raise FarmError(
                    f"place {name} has no GpiorigBench resource: add one to its exporter's "
                    "YAML and `labgrid-client -p NAME add-match EXPORTER/GROUP/GpiorigBench`"
                )
            target = Target(name)
            resource_name, entry = benches[0]
            bench: Any = target_factory.make_resource(
                target, "GpiorigBench", resource_name, dict(entry.args)
            )
            # labgrid's attrs classes take (target, name) first: beyond mypy's attrs model.
            driver = GpiorigBenchDriver(  # type: ignore[call-arg,misc]
                target, name=None, keyfile=keyfile, known_hosts=known_hosts
            )
            target.activate(driver)
            log(
                f"farm: {name} ({bench.board or 'bench'} at {bench.address}:{bench.port}, rig "
                f"{bench.rig}) acquired after {waited:.1f} s; running {len(files)} files there"
            )
            try:
                workdir = driver.make_workdir(files)
                removed = False
                try:
                    code = driver.run_pytest(
                        args, cwd=workdir, env={"GPIORIG_FARM_PLACE": name}, stdout=None
                    )
                    got = driver.get_tree(
                        f"{workdir}/results", root / "results", then_remove=workdir
                    )
                    removed = True
                    log(
                        f"farm: pytest on {name} exited {code}; {len(got)} result files in "
                        f"{root / 'results'}"
                    )
                finally:
                    if not removed:
                        with contextlib.suppress(Exception):
                            driver.remove(workdir)
            finally:
                target.deactivate_all_drivers()
            return code
        finally:
            with contextlib.suppress(FarmError):
                coordinator.release_leased(name, token)
            os.close(leash)
            with contextlib.suppress(subprocess.TimeoutExpired):
                watchdog.wait(15)
            log(f"farm: released {name} after {time.monotonic() - started:.1f} s")
