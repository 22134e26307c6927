"""``--shard=I/N`` (tests/conftest.py): N guests share the sim suite, each test runs once."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT, load_shard_weights, parse_shard, shard_plan

#: The selection ci/test.sh runs in the guests, collected on the host (no guest needed).
SIM_SELECTION = ["--backend=sim", "-m", "gpio_sim or uses_backend"]


def collect(*args: str) -> list[str]:
    """The node ids pytest collects for ``args`` (a separate process, like a guest's)."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q",
         *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return [line for line in done.stdout.splitlines() if "::" in line]


@pytest.fixture(scope="module")
def full() -> list[str]:
    """The whole sim selection."""
    return collect(*SIM_SELECTION)


def test_two_shards_of_the_sim_suite_are_a_disjoint_cover_of_it(full):
    first = collect(*SIM_SELECTION, "--shard=1/2")
    second = collect(*SIM_SELECTION, "--shard=2/2")
    assert len(full) > 100, full
    assert not set(first) & set(second)
    assert sorted(first + second) == sorted(full)
    # Each shard keeps the collected order (module fixtures stay grouped).
    assert first == [n for n in full if n in set(first)]


def test_shards_are_balanced_by_the_recorded_durations(full):
    known = load_shard_weights()
    assert known, "ci/sim-test-seconds.json is missing or empty: run ci/shard-weights.py"
    plan = shard_plan(full, 2, known)
    loads = [0.0, 0.0]
    for nodeid in full:
        loads[plan[nodeid]] += known.get(nodeid, 0.0)
    # Longest-first onto the lighter shard: within the heaviest single test of even.
    assert abs(loads[0] - loads[1]) <= max(known.values()), loads


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_the_plan_puts_every_test_in_exactly_one_shard(count):
    nodeids = [f"tests/test_{f}.py::test_{t}" for f in "abc" for t in range(11)]
    known = {nodeids[0]: 30.0, nodeids[5]: 12.0, "tests/test_gone.py::test_x": 99.0}
    plan = shard_plan(nodeids, count, known)
    assert sorted(plan) == sorted(nodeids)
    assert set(plan.values()) == set(range(count))
    # The same set in another order gives the same plan: every shard agrees.
    assert shard_plan(list(reversed(nodeids)), count, known) == plan


def test_a_test_without_a_record_weighs_its_files_mean():
    # a.py's unrecorded test: a.py's mean (20); c.py has no record: the median (10).
    from tests.conftest import shard_weights

    known = {"tests/a.py::t1": 10.0, "tests/a.py::t2": 30.0, "tests/b.py::t1": 1.0}
    weights = shard_weights(["tests/a.py::t3", "tests/c.py::t1"], known)
    assert weights == {"tests/a.py::t3": 20.0, "tests/c.py::t1": 10.0}


@pytest.mark.parametrize("text", ["0/2", "3/2", "1/0", "2", "a/b", "1/2/3", "-1/2", ""])
def test_a_malformed_shard_is_a_usage_error_that_shows_the_form(text):
    with pytest.raises(pytest.UsageError, match=r"expected I/N with 1 <= I <= N, e\.g\."):
        parse_shard(text)


def test_a_shard_of_a_well_formed_spec_is_its_two_numbers():
    assert parse_shard("2/3") == (2, 3)


#: A stand-in for a guest's pytest: exits with the status given for its shard.
FAKE_SHARD = (
    "import sys; i = sys.argv[-1].split('=')[1].split('/')[0]; sys.exit(int(sys.argv[int(i)]))"
)


def run_shards(*statuses: int) -> subprocess.CompletedProcess[str]:
    """ci/guest-shards.sh with one shard per status, each exiting with its status."""
    return subprocess.run(
        ["bash", str(ROOT / "ci" / "guest-shards.sh"), str(len(statuses)), "try",
         sys.executable, "-c", FAKE_SHARD, *map(str, statuses)],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip


def test_the_shard_script_fails_when_one_shard_fails_and_names_it():
    done = run_shards(0, 1)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "[try] shard 1/2:" in done.stdout and "exit 0" in done.stdout
    assert "shard 2/2" in done.stdout and "exit 1" in done.stdout and "FAILED" in done.stdout
    assert "[try] 2 guests in parallel:" in done.stdout


def test_the_shard_script_fails_when_a_shard_ran_no_tests():
    done = run_shards(0, 0, 5)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "shard 3/3" in done.stdout and "ran no tests" in done.stdout


def test_the_shard_script_passes_when_every_shard_passes():
    done = run_shards(0, 0)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(" s wall, exit 0") == 2


def test_a_shard_whose_guest_failed_to_boot_is_started_again_once(tmp_path):
    # Exit 125 without a pytest session is `gpiosim guest` failing before the command.
    flaky = (
        "import pathlib, sys; mark = pathlib.Path(sys.argv[1]) / sys.argv[-1][-3:-2]; "
        "sys.exit(0 if mark.exists() else mark.touch() or 125)"
    )
    done = subprocess.run(
        ["bash", str(ROOT / "ci" / "guest-shards.sh"), "2", "try", sys.executable, "-c", flaky,
         str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("failed to boot and was started again") == 2, done.stdout
