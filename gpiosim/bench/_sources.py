"""What the benchmark's peers are measured on: the target line, the contender interface, and
the edge sources (a burst writer process, the sim's pull, a harness).

``python -m gpiosim.bench._sources --writer`` is the burst writer process.
"""

from __future__ import annotations

import dataclasses
import os
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, Protocol, final

from gpiocore.backends import Backend

__all__ = [
    "CONTENDERS",
    "BurstWriter",
    "Contender",
    "EdgeSource",
    "Handler",
    "Target",
    "writer_main",
]


Handler = Callable[[int, Sequence[tuple[int | None, int | None]]], None]

#: Contender keys in table order; the first peer, bare gpiod, is the baseline.
CONTENDERS: Final = ("gpiod", "selector", "epoll", "read", "periphery", "gpiozero")
#: Each contender's line (Broadcom numbering on the Pi-header chip): Quick2Wire
#: P0, P2-P6, away from GPIO2/3, which have pull-ups on a real Pi.
_LINES: Final = {
    "selector": 17,
    "epoll": 27,
    "gpiod": 22,
    "periphery": 23,
    "gpiozero": 24,
    "read": 25,
}
_PULL_WORDS: Final = (b"pull-down", b"pull-up")
#: A Raspberry Pi 4 B revision code, for gpiozero's factory on a non-Pi chip.
_PI4B_REVISION: Final = 0xC03114
_SIGILL_REASON: Final = (
    "`import lgpio` dies of SIGILL: its x86-64 wheel uses SSE4.1 (pinsrq), which the "
    "guest's qemu64 CPU lacks (qemu `-cpu max` has it)"
)
#: struct gpio_v2_line_event: timestamp_ns, id, offset, seqno, line_seqno, 6 x padding.
_V2_EVENT: Final = struct.Struct("<QIIII24x")
BENCH_EXTRA: Final = (
    "install the peers with: pip install 'gpiorig[bench]' (in a checkout: -e '.[bench]')"
)


@dataclasses.dataclass(frozen=True)
class Target:
    """The line a contender waits on.

    Attributes:
        backend: the gpiocore backend (sim or fake) that gpiocore contenders use.
        chip: the chip's name on that backend.
        offset: the line's offset.
        dev_path: the chip's character device for the peers; None on the fake.
    """

    backend: Backend
    chip: str
    offset: int
    dev_path: str | None


class Contender(Protocol):
    """A program's waiting loop on one line.

    Attributes:
        key: its key in :data:`CONTENDERS`.
        name: its name in the table.
        open_per_block: part of it is open only while it is measured (a
            :class:`BlockContender`), because while open it costs the process CPU.
    """

    key: str
    name: str
    open_per_block: bool

    def open(self, target: Target) -> None:
        """Request the line."""
        ...

    def serve(self, handler: Handler, stop: threading.Event) -> None:
        """Wait for edges and call ``handler``; return after a handled edge once ``stop``."""
        ...

    def close(self) -> None:
        """Release the line; safe to call twice."""
        ...


class BlockContender(Contender, Protocol):
    """A contender with ``open_per_block``: part of it is open only while measured."""

    def open_block(self) -> None:
        """Open what is needed to be measured (after :meth:`open`)."""
        ...

    def close_block(self) -> None:
        """Close what :meth:`open_block` opened."""
        ...


class EdgeSource(Protocol):
    """Makes edges on one line from outside the program."""

    level: bool

    def set(self, level: bool) -> int:
        """Drive the line; return ``time.monotonic_ns()`` taken just before the write."""
        ...

    def burst(self, count: int, interval_ns: int) -> tuple[int, int]:
        """Make ``count`` edges ``interval_ns`` apart (0: at once); return first/last times."""
        ...

    def close(self) -> None:
        """Release what the source holds."""
        ...


def _pace(last_ns: int, interval_ns: int) -> None:
    """Sleep until ``interval_ns`` after the last write.

    Paced from the last write, never catching up on a schedule: a guest whose CPU the
    host took away for a while would otherwise write the backlog as one burst.
    """
    if interval_ns:
        left = last_ns + interval_ns - time.monotonic_ns()
        if left > 0:
            time.sleep(left / 1e9)


def writer_main(stdin: Any = None, stdout: Any = None) -> int:
    """The burst writer process: one ``PATH COUNT INTERVAL_NS FIRST_LEVEL`` per line.

    For each command it writes COUNT alternating ``pull-up``/``pull-down`` words to the
    sysfs attribute PATH, starting with FIRST_LEVEL (0/1), paced INTERVAL_NS apart
    (0: as fast as it can; see :func:`_pace`), and answers ``FIRST_NS LAST_NS``
    (CLOCK_MONOTONIC).
    """
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    fds: dict[str, int] = {}
    for command in stdin:
        path, count_s, interval_s, first_s = command.split()
        fd = fds.get(path)
        if fd is None:
            fd = fds[path] = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        count, interval, level = int(count_s), int(interval_s), first_s == "1"
        first = last = time.monotonic_ns()
        for i in range(count):
            if i:
                _pace(last, interval)
            last = time.monotonic_ns()
            os.pwrite(fd, _PULL_WORDS[level], 0)
            level = not level
        print(first, time.monotonic_ns(), file=stdout, flush=True)
    for fd in fds.values():
        os.close(fd)
    return 0


@final
class BurstWriter:
    """A separate process that writes bursts of pulls (see :func:`writer_main`).

    A separate process, because a writer thread would share the GIL with the contender
    being measured, which no real edge source does.
    """

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None

    def burst(self, path: Path, count: int, interval_ns: int, first: bool) -> tuple[int, int]:
        """Run one burst and wait for it to end; return its first and last write times."""
        if self._proc is None:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "gpiosim.bench._sources", "--writer"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        proc = self._proc
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(f"{path} {count} {interval_ns} {int(first)}\n")
        proc.stdin.flush()
        reply = proc.stdout.readline().split()
        if len(reply) != 2:
            raise RuntimeError(
                f"the burst writer process died (exit status {proc.poll()}) writing {path}"
            )
        return int(reply[0]), int(reply[1])

    def close(self) -> None:
        """End the writer process; safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None:
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


@final
class SimPull:
    """Edges on a gpio-sim line through its ``sim_gpioN/pull`` attribute, kept open."""

    def __init__(self, path: Path, writer: BurstWriter | None = None) -> None:
        self._path = path
        self._writer = writer
        self._fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        self.level = False
        os.pwrite(self._fd, _PULL_WORDS[0], 0)

    def set(self, level: bool) -> int:
        """Write the pull; the time is taken just before the write."""
        word = _PULL_WORDS[level]
        t0 = time.monotonic_ns()
        os.pwrite(self._fd, word, 0)
        self.level = level
        return t0

    def burst(self, count: int, interval_ns: int) -> tuple[int, int]:
        """Burst through the writer process (in this process if there is none)."""
        if self._writer is None:
            return _burst_here(self, count, interval_ns)
        times = self._writer.burst(self._path, count, interval_ns, not self.level)
        self.level ^= count % 2 == 1
        return times

    def close(self) -> None:
        """Close the attribute's fd; safe to call twice."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)


@final
class HarnessDrive:
    """Edges through a backend's harness (the fake's, in this process)."""

    def __init__(self, backend: Backend, chip: str, offset: int) -> None:
        harness = backend.harness
        if harness is None:
            raise ValueError(f"the {backend.name!r} backend has no harness to make edges with")
        self._drive = harness.drive
        self._chip, self._offset = chip, offset
        self.level = False
        self._drive(chip, offset, False)

    def set(self, level: bool) -> int:
        """Drive the line; the time is taken just before."""
        t0 = time.monotonic_ns()
        self._drive(self._chip, self._offset, level)
        self.level = level
        return t0

    def burst(self, count: int, interval_ns: int) -> tuple[int, int]:
        """Burst from the calling thread (an in-process backend has no other way)."""
        return _burst_here(self, count, interval_ns)

    def close(self) -> None:
        """Nothing to release."""


def _burst_here(source: EdgeSource, count: int, interval_ns: int) -> tuple[int, int]:
    first = last = time.monotonic_ns()
    for i in range(count):
        if i:
            _pace(last, interval_ns)
        last = source.set(not source.level)
    return first, time.monotonic_ns()


if __name__ == "__main__":
    if sys.argv[1:] == ["--writer"]:
        sys.exit(writer_main())
    sys.exit("usage: python -m gpiosim.bench._sources --writer (the burst writer process)")
