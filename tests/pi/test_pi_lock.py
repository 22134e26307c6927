"""The rig lock and the self-test's verdicts on modelled wiring.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gpiosim._errors import InvalidNameError
from gpiosim.pi import (
    ENV_LOCK_DIR,
    RigBusyError,
    RigCheckError,
    RigLock,
    Wire,
    default_lock_dir,
    run_self_test,
)
from tests.pi.pi_helpers import HOLDER

# -- the lock -----------------------------------------------------------------------------


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock of rig 'bench' in tmp_path."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, "bench", str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline() == "locked\n"
    yield proc
    proc.kill()
    proc.wait()


def test_lock_is_exclusive_and_names_the_holder(tmp_path, holder):
    with pytest.raises(RigBusyError) as info:
        RigLock("bench", lock_dir=tmp_path).acquire()
    message = str(info.value)
    assert message.startswith(f"rig 'bench' is in use by pid {holder.pid} (")
    assert message.endswith(
        f"); lock {tmp_path}/gpiorig-rig-bench.lock: one run drives a rig at a time: wait "
        "for it to finish, or stop it"
    )
    holder.kill()  # the kernel drops a dead holder's lock
    holder.wait()
    with RigLock("bench", lock_dir=tmp_path) as lock:
        assert lock.held
        assert lock.path.read_text() == f"{os.getpid()}\n"


def test_lock_is_reentrant_within_a_process(tmp_path):
    with RigLock("bench", lock_dir=tmp_path) as session:
        inner = RigLock("bench", lock_dir=tmp_path).acquire()
        assert inner.held and "shared" in repr(inner)
        inner.release()  # a shared hold leaves the lock in place
        fd = os.open(session.path, os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    again = RigLock("bench", lock_dir=tmp_path).acquire()
    assert "owned" in repr(again)
    again.release()
    again.release()  # safe twice


@pytest.mark.parametrize("name", ["../x", "a/b", "", ".hidden", "-x", "x" * 65, "a b"])
def test_lock_names_cannot_escape(tmp_path, name):
    with pytest.raises(InvalidNameError) as info:
        RigLock(name, lock_dir=tmp_path)
    assert str(info.value) == (
        f"rig name {name!r} is not usable as a lock name: use 1-64 characters from A-Z a-z "
        "0-9 _ . + - that start with a letter, digit or '_'"
    )


def test_lock_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_LOCK_DIR, str(tmp_path))
    assert default_lock_dir() == tmp_path
    assert RigLock("pi5-bench").path == tmp_path / "gpiorig-rig-pi5-bench.lock"
    monkeypatch.delenv(ENV_LOCK_DIR)
    import tempfile

    places = [Path("/run/lock"), Path(os.environ.get("XDG_RUNTIME_DIR") or "/run/lock")]
    assert default_lock_dir() in (*places, Path(tempfile.gettempdir()))


# -- the self-test's verdicts on modelled wiring --------------------------------------------


class ModelBench:
    """Wires as data: which sensed ends each driven end reaches, and sinks stuck high."""

    def __init__(self, reaches: dict[int, set[int]], stuck: set[int] = frozenset()):
        self.reaches = reaches
        self.stuck = stuck
        self.driven = [False] * len(WIRES)
        self.now = 0.0

    def drive(self, i: int, level: bool) -> None:
        self.driven[i] = level

    def sense(self, j: int) -> bool:
        return j in self.stuck or any(self.driven[i] for i, s in self.reaches.items() if j in s)

    def run(self):
        return run_self_test(
            WIRES,
            self.drive,
            self.sense,
            monotonic=lambda: self.now,
            sleep=lambda s: setattr(self, "now", self.now + s),
        )


WIRES = [
    Wire("button", "stimulus GPIO5", "GPIO17", (29, 11)),
    Wire("led", "GPIO18", "probe GPIO6", (12, 31)),
    Wire("door", "stimulus GPIO13", "GPIO27", (33, 13)),
]
OK = {0: {0}, 1: {1}, 2: {2}}


def verdicts(results):
    return [str(r) for r in results]


def test_self_test_passes_a_good_rig():
    results = ModelBench(OK).run()
    assert all(r.ok for r in results)
    assert verdicts(results)[0] == "jumper button: stimulus GPIO5 → GPIO17 ok"


def test_self_test_names_a_loose_jumper():
    results = ModelBench({**OK, 0: set()}).run()
    assert [r.ok for r in results] == [False, True, True]
    assert verdicts(results)[0] == (
        "jumper button: stimulus GPIO5 → GPIO17 reads no change: the wire is loose or "
        "missing — check the wire from header pin 29 to pin 11"
    )


def test_self_test_names_swapped_jumpers():
    results = ModelBench({0: {2}, 1: {1}, 2: {0}}).run()
    assert verdicts(results) == [
        "jumper button: stimulus GPIO5 → GPIO17 reads no change; GPIO27 changed instead: "
        "swapped with door? — check the wire from header pin 29 to pin 11",
        "jumper led: GPIO18 → probe GPIO6 ok",
        "jumper door: stimulus GPIO13 → GPIO27 reads no change; GPIO17 changed instead: "
        "swapped with button? — check the wire from header pin 33 to pin 13",
    ]


def test_self_test_names_a_short_and_a_stuck_line():
    results = ModelBench({**OK, 0: {0, 1}}, stuck={2}).run()
    assert verdicts(results) == [
        "jumper button: stimulus GPIO5 → GPIO17 works, but probe GPIO6 changed too: a short "
        "to led? — check the wire from header pin 29 to pin 11",
        "jumper led: GPIO18 → probe GPIO6 ok",
        "jumper door: GPIO27 reads high while stimulus GPIO13 is low: is it wired to 3V3 or "
        "to another output? — check the wire from header pin 33 to pin 13",
    ]


def test_a_broken_report_raises_on_request():
    from gpiosim.pi import CheckReport

    report = CheckReport("bench", tuple(ModelBench({**OK, 1: set()}).run()), 0.1, "a Pi")
    with pytest.raises(RigCheckError) as info:
        report.raise_if_broken()
    assert info.value.report is report
    assert str(info.value).splitlines()[0] == "rig bench on a Pi"
    assert str(info.value).splitlines()[-1] == (
        "1 of 3 jumpers failed: fix the wiring (docs/bench-rig.md) and check again"
    )
