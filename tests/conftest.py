"""Shared test helpers. The backend fixtures come from gpiosim's pytest plugin."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

# A test never starts a kernel build (minutes): the build is its own step before the
# tests (`gpiosim guest-kernel`), and a missing kernel fails the guest tests at once.
os.environ.setdefault("GPIOSIM_NO_BUILD", "1")

ROOT = Path(__file__).resolve().parent.parent
APPS = ROOT / "fixtures" / "apps"


def open_fds() -> set[int]:
    """The fds this process has open right now."""
    return {int(fd) for fd in os.listdir("/proc/self/fd")}


@pytest.fixture
def no_fd_leak():
    """Fail the test if it leaves an fd open."""
    before = open_fds()
    yield
    leaked = open_fds() - before
    # /proc/self/fd's own listing fd is closed by the time we compare
    assert not leaked, f"fds left open: {sorted(leaked)}"


@pytest.fixture
def need_sim() -> None:
    """For tests that make gpio-sim chips; the ``gpio_sim`` marker it brings does the
    gating (skip with the reason without gpio-sim, fail under ``GPIOSIM_REQUIRE=1``)."""


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked ``guest`` fails at once, saying what to run, if no kernel is built."""
    if item.get_closest_marker("guest") is None:
        return
    from gpiosim.guest._kconfig import find_kernel

    if find_kernel() is None:
        pytest.fail(
            "no guest kernel is built for this source: run `gpiosim guest-kernel` "
            "(ci/build-guest-kernel.sh) before the guest tests",
            pytrace=False,
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give every test that needs gpio-sim the plugin's ``gpio_sim`` marker."""
    for item in items:
        if "need_sim" in getattr(item, "fixturenames", ()):
            item.add_marker("gpio_sim")


# -- shards: one suite split across several guests ------------------------------------
# A qemu guest runs on 1 vCPU (on 2, gpio-sim may merge two near-simultaneous pull
# writes into one edge), so the sim suite uses more cores by running as N guests, each
# with `--shard=I/N` (ci/guest-shards.sh). Every shard collects the same tests and keeps
# its own part of them, so the N parts are disjoint and cover the collection.

#: Seconds each sim-suite test took in the guest (refreshed with ci/shard-weights.py),
#: to balance the shards; a test not listed weighs its file's mean, else the median.
SHARD_WEIGHTS = ROOT / "ci" / "sim-test-seconds.json"


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--shard=I/N``."""
    parser.addoption(
        "--shard",
        metavar="I/N",
        default=None,
        help="run only the I-th (1..N) of N disjoint parts of the selected tests, balanced "
        "by the durations in ci/sim-test-seconds.json (N guests share a suite this way)",
    )


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` as (I, N), 1 <= I <= N; a usage error names the form otherwise."""
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit()) or not 1 <= int(index) <= int(count):
        raise pytest.UsageError(f"--shard={text}: expected I/N with 1 <= I <= N, e.g. --shard=1/2")
    return int(index), int(count)


def shard_weights(nodeids: list[str], known: dict[str, float]) -> dict[str, float]:
    """Each test's expected seconds: its own, else its file's mean, else the median."""
    by_file: dict[str, list[float]] = {}
    for nodeid, seconds in known.items():
        by_file.setdefault(nodeid.split("::", 1)[0], []).append(seconds)
    ordered = sorted(known.values())
    fallback = ordered[len(ordered) // 2] if ordered else 1.0
    weights = {}
    for nodeid in nodeids:
        same_file = by_file.get(nodeid.split("::", 1)[0])
        weights[nodeid] = known.get(
            nodeid, sum(same_file) / len(same_file) if same_file else fallback
        )
    return weights


def shard_plan(nodeids: list[str], count: int, known: dict[str, float]) -> dict[str, int]:
    """The shard (0-based) of every test: heaviest first, each to the lightest shard so far.

    Depends only on the set of node ids and the weights, never on order or hashing
    seeds, so every shard computes the same plan.
    """
    weights = shard_weights(nodeids, known)
    loads = [0.0] * count
    plan = {}
    for nodeid in sorted(nodeids, key=lambda n: (-weights[n], n)):
        lightest = loads.index(min(loads))
        plan[nodeid] = lightest
        loads[lightest] += weights[nodeid]
    return plan


def load_shard_weights(path: Path = SHARD_WEIGHTS) -> dict[str, float]:
    """The recorded durations, or none if the file is missing (shards stay disjoint)."""
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return {str(k): float(v) for k, v in data.items()}


class _Shard:
    """Keeps this shard's part of the selected tests and deselects the others."""

    def __init__(self, index: int, count: int) -> None:
        self.index, self.count = index, count

    # trylast: after `-m`/`-k` deselection, so that the selected tests are split.
    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Keep this shard's tests, in their collected order."""
        plan = shard_plan([item.nodeid for item in items], self.count, load_shard_weights())
        mine = [item for item in items if plan[item.nodeid] == self.index - 1]
        others = [item for item in items if plan[item.nodeid] != self.index - 1]
        if others:
            config.hook.pytest_deselected(items=others)
        items[:] = mine

    def pytest_report_header(self) -> str:
        """Say which shard this run is."""
        return f"shard {self.index}/{self.count} (--shard)"


def pytest_configure(config: pytest.Config) -> None:
    """Register the shard filter when ``--shard`` is given."""
    text = config.getoption("--shard")
    if text is not None:
        config.pluginmanager.register(_Shard(*parse_shard(text)), "gpiorig-shard")
