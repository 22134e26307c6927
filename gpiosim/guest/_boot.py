"""One boot of the guest (:func:`boot`): qemu started in its sandbox, the command's job
handed over, its output streamed back, qemu stopped however the run ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import selectors
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gpiosim._errors import GuestError, GuestTimeoutError
from gpiosim.guest._env import (
    _9P_OPTIONS,
    _CMDLINE_MARK,
    _CMDLINE_SAFE,
    _CONSOLE_TAIL,
)
from gpiosim.guest._jobs import _JOB_PREFIX, _read_job_file, _reclaim_jobs, _write_job
from gpiosim.guest._qemu import _child_hook, _network_args, _qemu_opt, _sink, _tsc_khz_args


def _boot(
    *,
    sandbox: Callable[[], None],
    qemu: str,
    kernel: Path,
    init: Path,
    accel: str,
    argv: Sequence[str],
    cwd: str,
    env: Mapping[str, str],
    project: str | None,
    timeout: float | None,
    memory_mb: int,
    cpus: int,
    stdout: Any,
    stderr: Any,
    verbose: bool,
    cpu_model: str | None = None,
    forward_tcp: Mapping[int, int] | None = None,
) -> int:
    """Boot one guest that runs argv; return its exit status."""
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    _reclaim_jobs()
    job = Path(tempfile.mkdtemp(prefix=f"{_JOB_PREFIX}{os.getpid()}-"))
    fds: list[int] = []
    proc: subprocess.Popen[bytes] | None = None
    console = bytearray()
    try:
        _write_job(job, argv, env, cwd, project)
        init_path = str(init)
        if not _CMDLINE_SAFE.fullmatch(init_path):
            # The kernel command line cannot quote: use a copy at a plain path.
            init_path = str(job / "init.sh")
            shutil.copyfile(init, init_path)
            shutil.copyfile(init.with_name("guest-fstab"), job / "guest-fstab")
            if not _CMDLINE_SAFE.fullmatch(init_path):
                raise GuestError(f"no path without spaces for the guest init: {init_path!r}")
        cmdline = " ".join(
            [
                "console=ttyS0",
                "loglevel=7" if verbose else "quiet",
                # A panic (init died) reboots at once, and -no-reboot ends qemu.
                "panic=-1",
                # One vCPU needs no local APIC timer (the PIT ticks instead), and
                # calibrating it costs 0.22 s of every boot under TCG.
                *(["noapictimer"] if cpus == 1 else []),
                # TCG's TSC follows the host's clock, but the clocksource watchdog
                # compares it with jiffies, which lag under TCG, and falls back to
                # a 1 ms jiffies clock: time.monotonic() would step by 1 ms.
                "tsc=reliable",
                # On a loaded host (guests at once, one per core) the boot-time check
                # that the IO-APIC routes the timer can time out under TCG and panic
                # ("IO-APIC + timer doesn't work"): the timer is qemu's and works.
                "no_timer_check",
                # Calibrating the TSC against the PIT fails now and then under TCG on
                # a loaded host ("could not calculate TSC khz": 1 ms jiffies again).
                # TCG's TSC runs at the host's rate: tell the guest that rate.
                *_tsc_khz_args(),
                _CMDLINE_MARK,
                "root=gpiosim-root",
                "rootfstype=9p",
                f"rootflags={_9P_OPTIONS},cache=loose",
                "ro",
                "init=/bin/sh",
                "--",
                init_path,
            ]
        )
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        con_r, con_w = os.pipe()
        fds += [out_r, out_w, err_r, err_w, con_r, con_w]
        for fd in (out_w, err_w):
            # Room for a burst: while a pipe is full qemu blocks, and the guest with it.
            with contextlib.suppress(OSError):
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)
        shares = [
            "local,path=/,mount_tag=gpiosim-root,security_model=none,readonly=on,multidevs=remap",
            f"local,path={_qemu_opt(str(job))},mount_tag=gpiosim-job,security_model=none",
        ]
        if project is not None:
            shares.append(
                f"local,path={_qemu_opt(project)},mount_tag=gpiosim-project,"
                "security_model=none,multidevs=remap"
            )
        qemu_argv = [
            qemu,
            "-accel",
            accel,
            # One socket per vCPU: without ACPI the kernel finds CPUs in
            # SeaBIOS's MP table, which lists one CPU per package only.
            *(["-cpu", cpu_model] if cpu_model else []),
            "-smp",
            f"{cpus},sockets={cpus},cores=1,threads=1",
            "-m",
            str(memory_mb),
            "-nodefaults",
            "-no-user-config",
            # qemu's own seccomp policy on top of ours: no privilege changes, no programs
            # started, no obsolete calls, no scheduler or resource changes.
            "-sandbox",
            "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
            "-display",
            "none",
            "-no-reboot",
            "-serial",
            "stdio",
            "-kernel",
            str(kernel),
            "-append",
            cmdline,
            *(arg for share in shares for arg in ("-virtfs", share)),
            "-device",
            "virtio-serial-pci",
            # qemu opens /dev/fd/N itself: for a pipe that is the same pipe.
            "-chardev",
            f"file,id=gout,path=/dev/fd/{out_w}",
            "-device",
            "virtserialport,chardev=gout,name=gpiosim.stdout",
            "-chardev",
            f"file,id=gerr,path=/dev/fd/{err_w}",
            "-device",
            "virtserialport,chardev=gerr,name=gpiosim.stderr",
            *_network_args(forward_tcp),
        ]
        proc = subprocess.Popen(
            qemu_argv,
            stdin=subprocess.DEVNULL,
            stdout=con_w,
            stderr=con_w,
            pass_fds=(out_w, err_w),
            # Own session: a terminal's Ctrl-C reaches us, and we stop qemu.
            start_new_session=True,
            preexec_fn=_child_hook(sandbox),
        )
        # Our copies of the write ends must go, or the reads never see EOF.
        for fd in (out_w, err_w, con_w):
            os.close(fd)
            fds.remove(fd)

        def keep_console(data: bytes) -> None:
            console.extend(data)
            del console[:-_CONSOLE_TAIL]

        console_sink = keep_console
        if verbose:
            to_stderr = _sink(sys.stderr if stderr is None else stderr)

            def console_sink(data: bytes) -> None:
                keep_console(data)
                to_stderr(data)

        sinks = {
            out_r: _sink(sys.stdout if stdout is None else stdout),
            err_r: _sink(sys.stderr if stderr is None else stderr),
            con_r: console_sink,
        }
        if not _pump(sinks, deadline):
            raise _timed_out(argv, timeout)
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            rc = proc.wait(remaining)
        except subprocess.TimeoutExpired:
            raise _timed_out(argv, timeout) from None
        tail = console.decode(errors="replace")[-4000:]
        error = _read_job_file(job, "error")
        if error is not None:
            raise GuestError(f"{error.strip()}; the console said:\n{tail}")
        text = _read_job_file(job, "status")
        if text is None:
            raise GuestError(
                f"the guest ended without running the command (qemu exit status {rc}); "
                f"the console said:\n{tail}"
            )
        try:
            return int(text.strip())
        except ValueError:
            raise GuestError(
                f"the guest reported a malformed exit status {text.strip()[:80]!r}"
            ) from None
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        for fd in fds:
            os.close(fd)
        shutil.rmtree(job, ignore_errors=True)


def _timed_out(argv: Sequence[str], timeout: float | None) -> GuestTimeoutError:
    return GuestTimeoutError(
        f"{shlex.join(argv)} did not finish within {timeout:g} s in the guest; qemu was stopped"
    )


def _pump(sinks: Mapping[int, Callable[[bytes], None]], deadline: float | None) -> bool:
    """Copy each pipe to its sink until all reach EOF; False if the deadline passed."""
    with selectors.DefaultSelector() as sel:
        for fd, sink in sinks.items():
            sel.register(fd, selectors.EVENT_READ, sink)
        open_count = len(sinks)
        while open_count:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                return False
            for key, _events in sel.select(wait):
                data = os.read(key.fd, 1 << 16)
                if data:
                    key.data(data)
                else:
                    sel.unregister(key.fd)
                    open_count -= 1
    return True
