"""Section 6 of ``gpiosim bench``: the guest's overhead (kernel build, warm boot, pytest start-up).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Final

from gpiosim.bench._common import Log, Sizes, quiet
from gpiosim.bench._table import Column, Row, Section, median
from gpiosim.guest import _run as _guest
from gpiosim.guest import _source

__all__ = ["measure_guest_overhead"]


GUEST_COLUMNS: Final = [
    Column("seconds", "guest", "s"),
    Column("host_s", "on host", "s"),
]


def measure_guest_overhead(sizes: Sizes, *, cold: bool = False, log: Log = quiet) -> Section:
    """What the guest costs: kernel build, warm boot round trip, pytest start-up.

    The kernel build is read from the cache (the compile step, from the times of the
    cached ``.config`` and ``bzImage``) unless ``cold``, which builds one into a
    temporary cache. Each command is also timed on the host; the ratio is guest/host.
    """
    section = Section(
        "guest",
        "Guest overhead (qemu, real time)",
        list(GUEST_COLUMNS),
        ratio_of="seconds",
        ratio_den="host_s",
        ratio_label="guest / the same command on the host",
    )
    section.rows.append(_kernel_build_row(cold, log))
    gpiosim = [sys.executable, "-m", "gpiosim", "guest", "--"]
    commands = [
        ("warm boot round trip: gpiosim guest -- true", ["true"]),
        (
            "pytest start-up: gpiosim guest -- python -m pytest --version",
            [sys.executable, "-m", "pytest", "--version"],
        ),
    ]
    for name, argv in commands:
        if "pytest" in argv and not sizes.guest_pytest:
            empty: dict[str, float | None] = {"seconds": None, "host_s": None}
            section.rows.append(Row(name, empty, note="skipped in the quick run"))
            continue
        guest_times, host_times = [], []
        note = ""
        for rep in range(sizes.guest_reps):
            log(f"guest overhead: {name} ({rep + 1}/{sizes.guest_reps})")
            host_times.append(_timed_run(argv))
            try:
                guest_times.append(_timed_run([*gpiosim, *argv]))
            except subprocess.CalledProcessError as exc:
                note = f"failed: exit status {exc.returncode}"
                break
        section.rows.append(
            Row(
                name,
                {"seconds": median(guest_times), "host_s": median(host_times)},
                n=len(guest_times),
                note=note,
            )
        )
    section.compute_ratios()
    return section


def _timed_run(argv: Sequence[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def _kernel_build_row(cold: bool, log: Log) -> Row:

    name = f"kernel build (cold: {_source.DEFAULT_SOURCE} + fragment)"
    empty: dict[str, float | None] = {"seconds": None, "host_s": None}
    if cold:
        log("guest overhead: building a kernel into a temporary cache (minutes)")
        with tempfile.TemporaryDirectory(prefix="gpiosim-bench-cache-") as cache:
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "gpiosim", "guest-kernel", "--rebuild"],
                env={**os.environ, "XDG_CACHE_HOME": cache},
                stdout=subprocess.DEVNULL,
                check=False,
            )
            elapsed = time.perf_counter() - start
        if done.returncode:
            return Row(name, empty, note=f"the build failed (exit status {done.returncode})")
        return Row(name, {"seconds": elapsed, "host_s": None}, n=1, note="measured (--cold)")
    built: list[str] = []
    start = time.perf_counter()
    try:
        kernel = _guest.ensure_kernel(log=built.append)
    except Exception as exc:
        return Row(name, empty, note=f"no kernel: {exc}")
    elapsed = time.perf_counter() - start
    if built:
        return Row(name, {"seconds": elapsed, "host_s": None}, n=1, note="measured: not cached")
    try:
        compile_s = kernel.stat().st_mtime - (kernel.parent / ".config").stat().st_mtime
    except OSError:
        return Row(name, empty, note="cached; its build time is not recorded (run with --cold)")
    return Row(
        "kernel build: compile step (cached; not rebuilt)",
        {"seconds": compile_s, "host_s": None},
        n=1,
        note="from the cached .config and bzImage times; --cold measures a whole build",
    )
