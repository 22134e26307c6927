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
    from gpiosim._kernel import find_kernel

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
