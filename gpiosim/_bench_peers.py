"""The benchmark's contenders and edge sources (``gpiosim bench``, see :mod:`gpiosim._bench`).

A *contender* is a program's waiting loop: gpiocore's ``Selector``, a gpiocore pin's
``fileno()`` in raw epoll, a bare ``gpiod`` loop, the least a Python loop can do (epoll
and ``os.read`` of the uAPI's event structs), ``python-periphery`` and gpiozero on its
lgpio pin factory. Each waits on its own line, so all of them stay requested for a
whole run and their measurements can be interleaved. An *edge source* makes edges on a
line from outside: gpio-sim's ``sim_gpioN/pull`` (through one open fd, and for bursts
through a separate writer process so the GIL is not part of what is measured) or a
backend's harness (the fake).

A contender's *handler* is called as ``handler(t_ns, events)``: ``t_ns`` is
``time.monotonic_ns()`` taken when the program's own code has the edge in hand (its wait
has returned and the events are read), ``events`` the ``(kernel_timestamp_ns,
line_seqno)`` pairs it read, None where the API does not expose them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol, cast, final

if TYPE_CHECKING:
    # Only for hints: the burst writer process (this module's __main__) stays light.
    from gpiocore.backends._base import Backend

__all__ = [
    "CONTENDERS",
    "BurstWriter",
    "Contender",
    "EdgeSource",
    "Entry",
    "Handler",
    "Running",
    "Target",
    "contender_name",
    "lineup",
    "make_contender",
    "unavailable_reason",
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
                [sys.executable, "-m", "gpiosim._bench_peers", "--writer"],
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


# ----------------------------------------------------------------------- contenders


def _gpiocore_pin(target: Target, consumer: str) -> Any:
    from gpiocore import Both, In, Pin

    pin = Pin(
        target.backend,
        target.chip,
        target.offset,
        direction=In,
        interrupt=Both,
        on_overflow="ignore",  # loss is what the throughput section counts
        consumer=consumer,
    )
    pin.open()
    return pin


def _pairs(edges: Sequence[Any]) -> list[tuple[int | None, int | None]]:
    return [(e.timestamp_ns, e.line_seqno) for e in edges]


@final
class SelectorContender:
    """gpiocore's ``Selector`` with the pin added, as the post's second program."""

    key = "selector"
    name = "gpiocore Selector"
    open_per_block = False

    def __init__(self) -> None:
        self._pin: Any = None
        self._selector: Any = None

    def open(self, target: Target) -> None:
        """Open the pin and a selector on the backend's clock."""
        from gpiocore.selector import Selector

        self._pin = _gpiocore_pin(target, "bench-selector")
        self._selector = Selector(backend=target.backend)
        self._selector.add(self._pin)

    def serve(self, handler: Handler, stop: threading.Event) -> None:
        """``selector.wait()``; the handler starts when ``ready`` is the pin."""
        pin, selector = self._pin, self._selector
        while True:
            selector.wait()
            if selector.ready is pin:
                t = time.monotonic_ns()  # wait() has read the pin's edges already
                handler(t, _pairs(pin.edges()))
                if stop.is_set():
                    return

    def close(self) -> None:
        """Close the selector and the pin."""
        if self._selector is not None:
            self._selector.close()
        if self._pin is not None:
            self._pin.close()


@final
class EpollContender:
    """A gpiocore pin's ``fileno()`` in a raw ``select.epoll``, as the post's first program."""

    key = "epoll"
    name = "gpiocore pin fileno() in raw epoll"
    open_per_block = False

    def __init__(self) -> None:
        self._pin: Any = None
        self._epoll: select.epoll | None = None

    def open(self, target: Target) -> None:
        """Open the pin and register its fd (level-triggered)."""
        self._pin = _gpiocore_pin(target, "bench-epoll")
        self._epoll = select.epoll()
        self._epoll.register(self._pin.fileno(), select.EPOLLIN)

    def serve(self, handler: Handler, stop: threading.Event) -> None:
        """``epoll.poll()``, then ``pin.edges()``."""
        pin, epoll = self._pin, self._epoll
        assert epoll is not None
        while True:
            if epoll.poll():
                edges = pin.edges()
                t = time.monotonic_ns()
                handler(t, _pairs(edges))
                if stop.is_set():
                    return

    def close(self) -> None:
        """Close the epoll set and the pin."""
        if self._epoll is not None:
            self._epoll.close()
        if self._pin is not None:
            self._pin.close()


@final
class GpiodContender:
    """A bare libgpiod v2 loop: ``wait_edge_events`` then ``read_edge_events``."""

    key = "gpiod"
    name = "bare gpiod (wait/read_edge_events)"
    open_per_block = False

    def __init__(self) -> None:
        self._request: Any = None

    def open(self, target: Target) -> None:
        """Request the line with edge detection on both edges."""
        import gpiod
        from gpiod.line import Direction, Edge

        self._request = gpiod.request_lines(
            _dev_path(target, self.name),
            consumer="bench-gpiod",
            config={
                target.offset: gpiod.LineSettings(
                    direction=Direction.INPUT, edge_detection=Edge.BOTH
                )
            },
        )

    def serve(self, handler: Handler, stop: threading.Event) -> None:
        """Block in ``wait_edge_events(None)``, read the events."""
        request = self._request
        while True:
            if request.wait_edge_events(None):
                events = request.read_edge_events()
                t = time.monotonic_ns()
                handler(t, [(e.timestamp_ns, e.line_seqno) for e in events])
                if stop.is_set():
                    return

    def fileno(self) -> int:
        """The request's fd."""
        return int(self._request.fd)

    def close(self) -> None:
        """Release the request."""
        request, self._request = self._request, None
        if request is not None:
            request.release()


@final
class ReadContender:
    """The least a Python loop can do: ``select.epoll`` on the request's fd, one
    ``os.read`` of raw ``gpio_v2_line_event`` structs, ``struct`` to unpack them."""

    key = "read"
    name = "minimal: epoll + os.read of the uAPI events"
    open_per_block = False

    def __init__(self) -> None:
        self._gpiod = GpiodContender()
        self._epoll: select.epoll | None = None

    def open(self, target: Target) -> None:
        """Request the line through gpiod, as the bare gpiod loop does."""
        self._gpiod.open(target)
        self._epoll = select.epoll()
        self._epoll.register(self._gpiod.fileno(), select.EPOLLIN)

    def serve(self, handler: Handler, stop: threading.Event) -> None:
        """``epoll.poll()``, then ``os.read`` of up to 16 events."""
        fd, epoll = self._gpiod.fileno(), self._epoll
        assert epoll is not None
        size = _V2_EVENT.size
        while True:
            if epoll.poll():
                data = os.read(fd, 16 * size)
                t = time.monotonic_ns()
                events = [
                    (stamp, line_seqno)
                    for stamp, _, _, _, line_seqno in _V2_EVENT.iter_unpack(data)
                ]
                handler(t, events)
                if stop.is_set():
                    return

    def close(self) -> None:
        """Close the epoll set and release the request."""
        if self._epoll is not None:
            self._epoll.close()
        self._gpiod.close()


@final
class PeripheryContender:
    """python-periphery's character-device GPIO: ``poll`` then ``read_event``."""

    key = "periphery"
    name = "python-periphery (poll/read_event)"
    open_per_block = False

    def __init__(self) -> None:
        self._gpio: Any = None

    def open(self, target: Target) -> None:
        """Open the line as an input with edge detection on both edges."""
        from periphery import GPIO

        self._gpio = GPIO(_dev_path(target, self.name), target.offset, "in", edge="both")

    def serve(self, handler: Handler, stop: threading.Event) -> None:
        """``gpio.poll(None)``, then one ``read_event()`` (its API reads one at a time)."""
        gpio = self._gpio
        while True:
            if gpio.poll(None):
                gpio.read_event()
                t = time.monotonic_ns()
                # periphery asks for CLOCK_REALTIME event timestamps: not comparable
                # with the CLOCK_MONOTONIC write times, so not reported.
                handler(t, [(None, None)])
                if stop.is_set():
                    return

    def close(self) -> None:
        """Close the line."""
        gpio, self._gpio = self._gpio, None
        if gpio is not None:
            gpio.close()


@final
class GpiozeroContender:
    """gpiozero's ``Button`` on its lgpio pin factory; the handler is ``when_pressed``/
    ``when_released`` (called in lgpio's callback thread)."""

    key = "gpiozero"
    name = "gpiozero Button (lgpio factory)"
    # lgpio polls in a C thread: measured in the guest, 13-22 % of the CPU while an
    # alert is claimed, and ~1.4 % for good once a chip has been opened. The button
    # (and its alert) is open only for its own blocks, so that the other contenders
    # pay as little of it as can be. (A factory closed and opened again delivers no
    # more edges: the factory stays open.)
    open_per_block = True

    def __init__(self) -> None:
        self._factory: Any = None
        self._button: Any = None
        self._offset = 0

    def open(self, target: Target) -> None:
        """Open an lgpio factory on the target's chip; the button comes with a block."""
        dev_path = _dev_path(target, self.name)
        if "lgpio" not in sys.modules:
            # lgpio makes a FIFO in LG_WD (default: the working folder) when imported
            # and finds it there by name at every gpiochip_open: it must outlive every
            # block, so it goes when this contender does.
            workdir = tempfile.mkdtemp(prefix="gpiosim-bench-lgpio-")
            os.environ["LG_WD"] = workdir
            weakref.finalize(self, shutil.rmtree, workdir, True)
        from gpiozero.pins.lgpio import LGPIOFactory

        class _Factory(LGPIOFactory):  # type: ignore[misc]
            # gpiozero maps GPIO numbers through a Raspberry Pi's board info, read
            # from the device tree: a gpio-sim chip laid out like a Pi 4 header
            # needs that revision told.
            def _get_revision(self) -> int:
                return _PI4B_REVISION

        self._factory = _Factory(chip=int(dev_path.removeprefix("/dev/gpiochip")))
        self._offset = target.offset

    def open_block(self) -> None:
        """Open a pulled-down button on the line (its request's bias pulls the line low)."""
        from gpiozero import Button

        if self._button is None:
            self._button = Button(self._offset, pull_up=False, pin_factory=self._factory)

    def close_block(self) -> None:
        """Close the button (and release its alert)."""
        button, self._button = self._button, None
        if button is not None:
            button.close()

    def serve(self, handler: Handler, stop: threading.Event) -> None:
        """Set the button's handlers, then wait for ``stop``."""
        button = self._button

        def fired() -> None:
            handler(time.monotonic_ns(), [(None, None)])

        button.when_pressed = fired
        button.when_released = fired
        try:
            stop.wait()
        finally:
            button.when_pressed = None
            button.when_released = None

    def close(self) -> None:
        """Close the button and the factory."""
        self.close_block()
        factory, self._factory = self._factory, None
        if factory is not None:
            factory.close()


def _dev_path(target: Target, name: str) -> str:
    if target.dev_path is None:
        raise ValueError(f"{name} needs a GPIO character device: run it on the sim backend")
    return target.dev_path


_FACTORIES: Final[dict[str, Callable[[], Contender]]] = {
    "selector": SelectorContender,
    "epoll": EpollContender,
    "gpiod": GpiodContender,
    "periphery": PeripheryContender,
    "gpiozero": GpiozeroContender,
    "read": ReadContender,
}


def make_contender(key: str) -> Contender:
    """A new contender by key (one of :data:`CONTENDERS`).

    Raises:
        ValueError: no contender has that key.
    """
    factory = _FACTORIES.get(key)
    if factory is None:
        raise ValueError(f"no contender {key!r}: use one of {', '.join(CONTENDERS)}")
    return factory()


def contender_name(key: str) -> str:
    """The table name of a contender."""
    return make_contender(key).name


# ---------------------------------------------------------------------- availability


def _lgpio_reason() -> str | None:
    """Why lgpio cannot be used in this machine, or None: probed in a subprocess,
    because a wheel built for a newer CPU kills the importing process."""
    with tempfile.TemporaryDirectory(prefix="gpiosim-bench-lgpio-") as workdir:
        probe = subprocess.run(
            [sys.executable, "-c", "import lgpio"],
            env={**os.environ, "LG_WD": workdir},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    if probe.returncode == 0:
        return None
    if probe.returncode == -signal.SIGILL:
        return _SIGILL_REASON
    last = (probe.stderr.strip().splitlines() or [f"exit status {probe.returncode}"])[-1]
    return f"`import lgpio` fails here ({last}); {BENCH_EXTRA}"


def unavailable_reason(key: str, target: Target) -> str | None:
    """Why a contender cannot run on ``target``, or None when it can."""
    if key in ("selector", "epoll"):
        return None
    if target.dev_path is None:
        return f"needs a GPIO character device; the {target.backend.name!r} backend has none"
    if key == "periphery":
        try:
            import periphery  # noqa: F401
        except ImportError:
            return f"python-periphery is not installed: {BENCH_EXTRA}"
    if key == "gpiozero":
        try:
            import gpiozero  # noqa: F401
        except ImportError:
            return f"gpiozero is not installed: {BENCH_EXTRA}"
        return _lgpio_reason()
    return None


# ---------------------------------------------------------------------------- line-up


@dataclasses.dataclass
class Entry:
    """One contender of a run, open on its line with its edge source, or why not.

    Attributes:
        key: the contender's key.
        name: its table name.
        contender: the open contender; None when it cannot run here.
        source: the edge source of its line; None with the contender.
        target: its line.
        reason: why it cannot run here; None when it runs.
    """

    key: str
    name: str
    contender: Contender | None
    source: EdgeSource | None
    target: Target
    reason: str | None = None
    last_seqno: int | None = None
    """The last ``line_seqno`` its loop read (also while no handler is attached)."""


def _target(backend: Backend, key: str) -> Target:
    sim_chip = getattr(backend, "sim_chip", None)
    if sim_chip is not None:
        return Target(backend, sim_chip.chip_name, _LINES[key], sim_chip.dev_path)
    return Target(backend, backend.default_chip(), _LINES[key], None)


def _source(target: Target, writer: BurstWriter | None) -> EdgeSource:
    sim_chip = getattr(target.backend, "sim_chip", None)
    if sim_chip is not None:
        return SimPull(sim_chip.bank.line_dir(target.offset) / "pull", writer)
    return HarnessDrive(target.backend, target.chip, target.offset)


@contextlib.contextmanager
def lineup(
    backend: Backend,
    keys: Sequence[str] = CONTENDERS,
    *,
    writer: BurstWriter | None = None,
    log: Callable[[str], None] | None = None,
) -> Iterator[list[Entry]]:
    """Open every contender that can run on ``backend``, each on its own line.

    Yields:
        One :class:`Entry` per key, in order; those that cannot run carry the reason.
    """
    entries: list[Entry] = []
    try:
        for key in keys:
            target = _target(backend, key)
            name = contender_name(key)
            reason = unavailable_reason(key, target)
            if reason is not None:
                entries.append(Entry(key, name, None, None, target, reason))
                if log is not None:
                    log(f"{name}: not measured: {reason}")
                continue
            source = _source(target, writer)
            contender = make_contender(key)
            try:
                contender.open(target)
            except Exception as exc:
                source.close()
                contender.close()
                reason = f"cannot open its line: {exc!r}"
                entries.append(Entry(key, name, None, None, target, reason))
                if log is not None:
                    log(f"{name}: not measured: {reason}")
                continue
            entries.append(Entry(key, name, contender, source, target))
        yield entries
    finally:
        for entry in entries:
            if entry.contender is not None:
                entry.contender.close()
            if entry.source is not None:
                entry.source.close()


@final
class Running:
    """A contender serving in a thread, its handler swappable.

    Args:
        entry: an open contender and its source.
        handler: called for each handled edge until :meth:`stop`.
        settle_s: real seconds to let the loop reach its wait before edges come.
    """

    def __init__(self, entry: Entry, handler: Handler, *, settle_s: float = 0.05) -> None:
        if entry.contender is None or entry.source is None:
            raise ValueError(f"{entry.name} is not open: {entry.reason}")
        self._entry = entry
        self._contender = entry.contender
        self._source = entry.source
        self._handler: Handler | None = handler
        self._stop = threading.Event()
        self.error: BaseException | None = None
        if self._contender.open_per_block:
            cast(BlockContender, self._contender).open_block()
            # Its request's bias set the line's pull down again: the source follows.
            self._source.set(False)
        self._thread = threading.Thread(target=self._serve, name=f"bench:{entry.key}", daemon=True)
        self._thread.start()
        time.sleep(settle_s)

    def _dispatch(self, t_ns: int, events: Sequence[tuple[int | None, int | None]]) -> None:
        handler = self._handler
        if handler is not None:
            handler(t_ns, events)
        if events and events[-1][1] is not None:
            self._entry.last_seqno = events[-1][1]

    def _serve(self) -> None:
        try:
            self._contender.serve(self._dispatch, self._stop)
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def stop(self, timeout_s: float = 10.0) -> None:
        """Detach the handler, then poke the line until the loop returns.

        Raises:
            RuntimeError: the loop died of an error, or did not return.
        """
        self._handler = None
        self._stop.set()
        end = time.monotonic() + timeout_s
        while self._thread.is_alive() and time.monotonic() < end:
            self._source.set(not self._source.level)  # the loop returns after an edge
            self._thread.join(0.2)
        if self._contender.open_per_block and not self._thread.is_alive():
            cast(BlockContender, self._contender).close_block()
        if self.error is not None:
            raise RuntimeError(f"{self._contender.name} failed: {self.error!r}") from self.error
        if self._thread.is_alive():
            raise RuntimeError(f"{self._contender.name} did not stop within {timeout_s} s")


if __name__ == "__main__":
    if sys.argv[1:] == ["--writer"]:
        sys.exit(writer_main())
    sys.exit("usage: python -m gpiosim._bench_peers --writer (the burst writer process)")
