"""``gpiosim bench``: gpiocore against its peers and against the kernel's own limit.

Eight sections, each a function returning a :class:`Section` of :class:`Row` s with
absolute figures and a ratio to a stated baseline, one module each:

1. edge-to-handler latency on the real kernel (sim backend): pull write to handler;
2. edge throughput and loss in bursts at increasing rates;
3. the largest lossless burst by event buffer size (gpiocore ``Selector``, bare gpiod);
4. value reads and writes (``pin.value`` against the peers);
5. timer accuracy: gpiocore ``Timer`` against ``threading.Timer``;
6. idle cost: CPU time of a program waiting for a press that never comes;
7. fake backend speed: the post's timed-LED program on the virtual clock against
   gpiozero's ``MockFactory`` (real-time threads);
8. guest overhead: kernel build, warm boot, pytest start-up.

The host runs 5-8 and launches ONE guest that runs ``python -m gpiosim.bench._driver --inside``
for the kernel parts (1-4, and 5-7 on sim); its JSON comes back on stdout. Contenders of a
section are measured side by side in interleaved rounds, to spread the machine's noise.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import io
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from gpiocore import InvalidSettingError
from gpiocore.backends import CdevBackend
from gpiosim._atomicwrite import write_file_atomic
from gpiosim.bench._bursts import BURST_COLUMNS, measure_bursts
from gpiosim.bench._common import (
    BENCH_CPU_MODEL,
    DEFAULT_JSON,
    FULL,
    KERNEL_SECTIONS,
    QUICK,
    SECTIONS,
    Log,
    Sizes,
    make_backend,
    quiet,
    stderr_log,
)
from gpiosim.bench._contenders import contender_name
from gpiosim.bench._fake import FAKE_COLUMNS, measure_fake_speed, state_machine_row
from gpiosim.bench._guestcost import GUEST_COLUMNS, measure_guest_overhead
from gpiosim.bench._idle import IDLE_COLUMNS, IDLE_FLOOR, idle_main, idle_section, measure_idle
from gpiosim.bench._latency import LATENCY_COLUMNS, measure_latency
from gpiosim.bench._peers import lineup
from gpiosim.bench._plot import check_plotting, draw
from gpiosim.bench._sources import BurstWriter
from gpiosim.bench._table import Row, Section, format_table
from gpiosim.bench._throughput import THROUGHPUT_COLUMNS, measure_throughput
from gpiosim.bench._timers import measure_timers, timer_section
from gpiosim.bench._values import VALUE_COLUMNS, measure_values
from gpiosim.guest import _run as _guest
from gpiosim.guest._env import inside_guest
from gpiosim.sim._backend import SimBackend
from gpiosim.sim._env import check_environment

__all__ = ["check_json_path", "run_bench"]


def _machine() -> dict[str, Any]:
    pretty = platform.system()
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text(encoding="utf-8").splitlines():
            if line.startswith("PRETTY_NAME="):
                pretty = line.split("=", 1)[1].strip('"')
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "os": pretty,
        "cores": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def _inside(sizes: Sizes, only: frozenset[str], log: Log) -> dict[str, Any]:
    """The kernel parts, where gpio-sim is (the guest): sections 1-4, and the sim rows of 5-7."""

    sections: list[Section] = []
    where = "sim backend, gpio-sim"
    with SimBackend() as backend:
        writer = BurstWriter()
        try:
            with lineup(backend, writer=writer, log=log) as entries:
                if "latency" in only:
                    sections.append(measure_latency(entries, sizes, where=where, log=log))
                if "throughput" in only:
                    sections.append(measure_throughput(entries, sizes, where=where, log=log))
                if "bursts" in only:
                    sections.append(measure_bursts(backend, writer, sizes, log=log))
                reasons = [(e.key, e.name, e.reason) for e in entries]
                if "values" in only:
                    # While the line-up is open: its gpiozero contender keeps lgpio's
                    # working folder, which the value bench's gpiozero factory needs.
                    unavailable = {
                        key: reason
                        for key, _, reason in reasons
                        if reason is not None and key in ("periphery", "gpiozero")
                    }
                    sections.append(
                        measure_values(backend, sizes, unavailable=unavailable, log=log)
                    )
        finally:
            writer.close()
        if "timer" in only:
            log("timers")
            timers = timer_section()
            timers.rows += measure_timers(backend, sizes, group="sim backend (timerfd), in guest")
            sections.append(timers)
        if "idle" in only:
            waiting = [
                (key, name, reason or (None if key in sizes.idle_keys else "skipped (quick run)"))
                for key, name, reason in reasons
            ]
            log(f"idle: processes waiting {sizes.idle_s:g} s")
            idle = idle_section(sizes.idle_s)
            idle.rows += measure_idle(
                "sim",
                [IDLE_FLOOR, *waiting],
                sizes.idle_s,
                group="sim backend, gpio-sim",
                baseline=IDLE_FLOOR[0],
                attach=backend.sim_chip.dev_name,
            )
            sections.append(idle)
            log("idle: done")
        if "fake" in only:
            log("fake: the state-machine check against the program on sim")
            fake = Section("fake", "", list(FAKE_COLUMNS), "per_s", "")
            fake.rows.append(state_machine_row("sim", sizes, backend))
            sections.append(fake)
    return {"machine": _machine(), "sections": [s.to_dict() for s in sections]}


def _run_inside(
    sizes: Sizes, only: frozenset[str], log: Log, timeout_s: float, *, progress: bool = True
) -> tuple[dict[str, Any] | None, str]:
    """Run :func:`_inside` where gpio-sim is: here if the kernel has it, else in ONE guest.

    Returns:
        The inside JSON (None on failure) and where it ran, or why it did not.
    """

    try:
        check_environment()
        native = True
    except Exception:
        native = False
    if native:
        return _inside(sizes, only, log), "gpio-sim in this kernel"
    if inside_guest():
        return None, "in a guest without gpio-sim"
    # The JSON comes back through a file in the shared project (the folder the bench
    # runs in): a long line on the guest's stdout port can be cut short when the guest
    # powers off.
    here = Path.cwd()
    results = here / "results"
    results.mkdir(exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".bench-inside-", suffix=".json", dir=results)
    os.close(fd)
    reply = Path(name)
    argv = [sys.executable, "-m", "gpiosim.bench._driver", "--inside", "--sizes", sizes.name]
    argv += ["--only", ",".join(sorted(only)), "--reply", str(reply)]
    if not progress:
        argv.append("--quiet")
    out = io.BytesIO()
    log("launching the guest for the gpio-sim parts")
    try:
        # -cpu max: lgpio's wheel needs SSE4.1, which qemu's default CPU lacks; every
        # contender runs on the same CPU model, so the comparison stays fair.
        status = _guest.run(
            argv, cwd=here, stdout=out, timeout=timeout_s, cpu_model=BENCH_CPU_MODEL
        )
        text = reply.read_text(encoding="utf-8").strip()
    except Exception as exc:
        return None, f"the guest could not run ({exc})"
    finally:
        reply.unlink(missing_ok=True)
    if status != 0 or not text:
        return None, f"the guest's benchmark failed (exit status {status})"
    try:
        return json.loads(text), f"qemu guest (-cpu {BENCH_CPU_MODEL})"
    except ValueError as exc:
        return None, f"the guest's benchmark wrote no valid JSON ({exc})"


def _placeholder(key: str, reason: str) -> Section:
    titles = {
        "latency": ("Edge to handler latency", LATENCY_COLUMNS),
        "throughput": ("Edge throughput and loss", THROUGHPUT_COLUMNS),
        "bursts": ("Largest burst handled without loss", BURST_COLUMNS),
        "values": ("Value reads and writes", VALUE_COLUMNS),
    }
    title, columns = titles[key]
    return Section(
        key,
        title,
        list(columns),
        columns[0].key,
        "-",
        rows=[Row("(all contenders)", {c.key: None for c in columns}, note=reason)],
    )


def run_bench(
    *,
    quick: bool = False,
    json_path: Path | None = DEFAULT_JSON,
    cold: bool = False,
    guest: bool = True,
    only: Sequence[str] = SECTIONS,
    out: TextIO | None = None,
    log: Log | None = None,
    plot: Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the benchmark, print the table, write the JSON.

    Args:
        quick: few samples (CI's smoke run) instead of the full sizes.
        json_path: where to write the JSON; None: nowhere.
        cold: also build a guest kernel from nothing (minutes).
        guest: run the gpio-sim parts (in a guest unless the kernel has gpio-sim).
        only: the sections to run (see :data:`SECTIONS`).
        out: where the table goes (default stdout).
        log: progress lines (default: on stderr with the seconds elapsed).
        plot: also draw the pictures into this PNG (see :func:`gpiosim.bench._plot.draw`).
        progress: False: no progress lines (also none from the guest).

    Returns:
        The JSON data: ``meta`` and ``sections``.

    Raises:
        InvalidSettingError: the JSON or the picture cannot be written, or ``plot`` is
            given without matplotlib (both checked before measuring).
    """
    say: Log = log or (stderr_log("bench") if progress else quiet)
    sizes = QUICK if quick else FULL
    if json_path is not None:
        check_json_path(json_path)
    if plot is not None:
        check_plotting(plot)
    wanted = frozenset(only)
    unknown = wanted - set(SECTIONS)
    if unknown:
        raise ValueError(f"no bench section {sorted(unknown)}: use some of {', '.join(SECTIONS)}")
    started = time.perf_counter()
    # Other work on a shared machine shows in every figure: say how busy it was.
    load_at_start = os.getloadavg()[0]
    inside: dict[str, Any] | None = None
    where = "not run (--no-guest)"
    kernel_parts = wanted & KERNEL_SECTIONS
    if guest and kernel_parts:
        inside, where = _run_inside(
            sizes, frozenset(kernel_parts), say, 600 if quick else 1800, progress=progress
        )
    guest_sections = {s["key"]: Section.from_dict(s) for s in (inside or {}).get("sections", [])}
    failed = f"not measured: {where}"

    sections: list[Section] = []
    for key in ("latency", "throughput", "bursts", "values"):
        if key in wanted:
            sections.append(guest_sections.get(key) or _placeholder(key, failed))
    if "timer" in wanted:
        say("timers on the host")

        timers = timer_section()
        real = CdevBackend(chips=[])  # its clock and timerfds need no chip
        try:
            timers.rows += measure_timers(real, sizes, group="host, real clock")
        finally:
            real.close()
        # Virtual time is exact: a few samples show it.
        fake_sizes = dataclasses.replace(sizes, timer_samples=min(sizes.timer_samples, 10))
        fake_backend = make_backend("fake")
        try:
            timers.rows += measure_timers(fake_backend, fake_sizes, group="host, fake backend")
        finally:
            fake_backend.close()
        if "timer" in guest_sections:
            timers.rows += guest_sections["timer"].rows
        timers.compute_ratios()
        sections.append(timers)
    if "idle" in wanted:
        say(f"idle on the host (fake backend), {sizes.idle_s:g} s")
        idle = idle_section(sizes.idle_s)
        if "idle" in guest_sections:
            idle.rows += guest_sections["idle"].rows
        else:
            idle.rows.append(
                Row("sim backend contenders", {c.key: None for c in IDLE_COLUMNS}, note=failed)
            )
        fake_entries = [IDLE_FLOOR]
        fake_entries += [(k, contender_name(k), None) for k in ("selector", "epoll")]
        idle.rows += measure_idle(
            "fake", fake_entries, sizes.idle_s, group="host, fake backend", baseline="floor"
        )
        idle.compute_ratios()
        sections.append(idle)
    if "fake" in wanted:
        fake = measure_fake_speed(sizes, log=say)
        if "fake" in guest_sections:
            fake.rows += guest_sections["fake"].rows
        else:
            sm = Row("state-machine examples/s (sim)", {"per_s": None, "seconds": None})
            sm.group, sm.note = "state machine", failed
            fake.rows.append(sm)
        fake.compute_ratios()
        sections.append(fake)
    if "guest" in wanted:
        if guest:
            sections.append(measure_guest_overhead(sizes, cold=cold, log=say))
        else:
            sections.append(
                Section(
                    "guest",
                    "Guest overhead",
                    list(GUEST_COLUMNS),
                    "seconds",
                    "-",
                    rows=[Row("(guest)", {"seconds": None, "host_s": None}, note=failed)],
                )
            )
    host = _machine()
    guest_machine = (inside or {}).get("machine")
    meta = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "sizes": sizes.name,
        "host": host,
        "guest": guest_machine,
        "kernel_parts": where,
        "seconds": round(time.perf_counter() - started, 1),
        "load_average": [round(load_at_start, 2), round(os.getloadavg()[0], 2)],
        "machine": _describe(host, guest_machine, where, load_at_start),
    }
    data = {"meta": meta, "sections": [s.to_dict() for s in sections]}
    print(format_table(sections, meta), file=out or sys.stdout, end="")
    if json_path is not None:
        # Through a temporary name: a link planted in the checkout is replaced, not
        # written through (a guest can change the checkout).
        # No trusted folder given: the outermost project on the path (see trusted_folder).
        write_file_atomic(json_path, json.dumps(data, indent=1) + "\n")
        say(f"wrote {json_path} ({meta['seconds']} s in all)")
    if plot is not None:
        draw(data, plot)
        say(f"drew {plot}")
    return data


def check_json_path(path: Path) -> None:
    """Check, before a run of minutes, that the JSON can be written at ``path``.

    Raises:
        InvalidSettingError: ``path`` is a folder or another non-file, or its nearest
            existing folder is not a folder or not writable.
    """
    if os.path.exists(path) and not os.path.isfile(path):
        raise InvalidSettingError(
            f"cannot write the bench JSON to {path}: it is a folder or a device, not a "
            "file: give a file name, e.g. --json results/bench.json"
        )
    probe = Path(os.path.abspath(path)).parent
    while not os.path.lexists(probe) and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        what = "not a folder" if not probe.is_dir() else "not writable"
        raise InvalidSettingError(
            f"cannot write the bench JSON to {path}: {probe} is {what}: "
            "give a path you can write, e.g. --json /tmp/bench.json"
        )


def _describe(host: dict[str, Any], guest: dict[str, Any] | None, where: str, load: float) -> str:
    text = f"{host['os']}, {host['cores']} cores, Python {host['python']}"
    if guest is not None:
        accel = "qemu TCG" if "QEMU" in guest.get("cpu", "") else "KVM"
        kind = where.replace("qemu guest", f"{accel} guest", 1)
        text += f"; gpio-sim: {kind}, Linux {guest['kernel']}, {guest['cores']} vCPU"
    return f"{text}; host load average {load:.1f} at the start"


# ---------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gpiosim.bench._driver``: the bench's own processes (``--inside``, ``--idle``).

    Users run ``gpiosim bench``; this entry point is what it starts in the guest and
    for each idle measurement.
    """
    p = argparse.ArgumentParser(prog="python -m gpiosim.bench._driver")
    p.add_argument("--inside", action="store_true", help="the gpio-sim parts; JSON on stdout")
    p.add_argument("--sizes", choices=("quick", "full"), default="full")
    p.add_argument("--only", default=",".join(SECTIONS))
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--reply", metavar="PATH", help="with --inside: write the JSON here")
    p.add_argument("--idle", metavar="CONTENDER", help="one idle measurement")
    p.add_argument("--backend", choices=("sim", "fake"), default="sim")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--attach", help="the gpio-sim chip to use (idle on sim)")
    args = p.parse_args(argv)
    if args.idle:
        return idle_main(args.idle, args.backend, args.seconds, args.attach)
    if args.inside:
        sizes = QUICK if args.sizes == "quick" else FULL
        log = quiet if args.quiet else stderr_log("bench (guest)")
        data = _inside(sizes, frozenset(args.only.split(",")), log)
        if args.reply:
            with open(args.reply, "w", encoding="utf-8") as reply:
                reply.write(json.dumps(data))
                reply.flush()
                os.fsync(reply.fileno())
        else:
            print(json.dumps(data))
        return 0
    p.error("use `gpiosim bench` (this module runs the bench's own processes)")
    return 2


if __name__ == "__main__":
    sys.exit(main())
