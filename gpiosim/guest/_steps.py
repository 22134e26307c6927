"""Supervised build steps: each runs in a process group of its own under a small supervisor
that kills the group when this process goes away, with progress lines as it runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from gpiosim._errors import KernelBuildError
from gpiosim.guest._source import _MAKE_STEP, _PROGRESS_EVERY_S, Log

# ----------------------------------------------------------------- supervised steps

# Runs one build step in a process group of its own and kills the whole group when
# the process that started it goes away: argv[1] is the read end of a pipe whose
# write end only that process holds, so EOF on it means it is gone, however it died.
_SUPERVISOR = r"""
import os, select, signal, subprocess, sys
watch = int(sys.argv[1])
child = subprocess.Popen(sys.argv[2:], pass_fds=())
pidfd = os.pidfd_open(child.pid)
ready, _, _ = select.select([watch, pidfd], [], [])
if pidfd in ready:
    code = child.wait()
    sys.exit(code if code >= 0 else 128 - code)
os.killpg(0, signal.SIGKILL)
"""


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _reap_stale_build(work: Path) -> None:
    """Kill what is left of an earlier build in work (its starter died with SIGKILL).

    The supervisor normally does this itself; this covers a supervisor that was
    killed too.  A group is killed only if one of its members works inside ``work``,
    so a recycled process-group number is never someone else's.
    """
    try:
        pgid = int((work / "pgid").read_text())
    except (OSError, ValueError):
        return
    for pid in _group_members(pgid):
        with contextlib.suppress(OSError):
            if Path(os.readlink(f"/proc/{pid}/cwd")).is_relative_to(work):
                _kill_group(pgid)
                return


class _Progress:
    """Turns make's output into a progress line every few seconds."""

    def __init__(self, log: Log, expected: int) -> None:
        self._log = log
        self._expected = max(1, expected)
        self.steps = 0
        self._shown = time.monotonic()

    def line(self, raw: bytes) -> None:
        if _MAKE_STEP.match(raw):
            self.steps += 1
        if time.monotonic() - self._shown >= _PROGRESS_EVERY_S:
            self._shown = time.monotonic()
            share = min(99, 100 * self.steps // self._expected)
            self._log(f"compiling: {self.steps} steps done (about {share} %)")


def _step(
    argv: Sequence[str],
    *,
    cwd: Path,
    work: Path,
    what: str,
    progress: _Progress | None = None,
) -> None:
    """Run one build step supervised, its output appended to work/build.log."""
    log_file = work / "build.log"
    watch_r, watch_w = os.pipe()
    out_r, out_w = os.pipe()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", _SUPERVISOR, str(watch_r), *argv],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out_w,
            stderr=out_w,
            pass_fds=(watch_r,),
            start_new_session=True,
        )
    finally:
        os.close(watch_r)
        os.close(out_w)
    (work / "pgid").write_text(str(proc.pid))
    try:
        with log_file.open("ab") as out, os.fdopen(out_r, "rb") as pipe:
            out.write(f"\n$ {' '.join(argv)}\n".encode())
            for raw in pipe:
                out.write(raw)
                if progress is not None:
                    progress.line(raw)
        rc = proc.wait()
    except BaseException:
        # Ctrl-C, SIGTERM unwinding, any error: the whole step's group goes with us.
        _kill_group(proc.pid)
        proc.wait()
        raise
    finally:
        os.close(watch_w)
    if rc != 0:
        tail = log_file.read_text(encoding="utf-8", errors="replace").splitlines()[-40:]
        raise KernelBuildError(
            f"{what} failed (exit status {rc}); the last lines of {log_file}:\n" + "\n".join(tail)
        )
