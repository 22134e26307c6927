"""Shared test helpers. The backend fixtures come from gpiosim's pytest plugin."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

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
