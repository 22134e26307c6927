"""The ``pi`` backend: the cdev backend on a Raspberry Pi's chips, and its bench rig's harness.

The header chip (found by :mod:`gpiosim.pi._discovery`) comes first and is the default chip.
With a rig file (``rig=``, or ``$GPIOSIM_RIG``, which ``pytest --backend=pi --rig=FILE``
sets) the backend has a harness, :class:`PiHarness`: it drives a program input through
the *stimulus* line jumpered to it, reads a program output through the *probe* line
jumpered to it, and reports the probes' edges with their kernel timestamps.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import select
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, final

from gpiocore import (
    Bias,
    ClosedError,
    Direction,
    Edge,
    EdgeType,
    GpioError,
    GpioPermissionError,
    LineBusyError,
    LineNotFoundError,
    LineSettings,
)
from gpiocore.backends import (
    DEV_ROOT,
    ENV_VAR,
    CdevBackend,
    CdevLine,
    LevelListener,
    check_level,
    new_eventfd,
)
from gpiosim._cdevfront import CdevFront
from gpiosim.pi._board import (
    DT_MODEL,
    Board,
    describe_gpio,
    header_pin,
    parse_line,
)
from gpiosim.pi._discovery import (
    ENV_DT_MODEL,
    ENV_PI_CHIP,
    ENV_RIG,
    PI_DETECT_RANK,
    FoundChip,
    discover,
)
from gpiosim.pi._lock import RigLock
from gpiosim.pi._rigfile import RigFile
from gpiosim.pi._rigload import load_rig
from gpiosim.pi._selftest import CheckReport, Wire, run_self_test

if TYPE_CHECKING:
    import gpiod

__all__ = ["PiBackend", "PiHarness"]


@final
class PiBackend(CdevFront):
    """GPIO lines on a Raspberry Pi, its header chip found by board and label.

    Args:
        chip: the header chip (label, name or path), overriding discovery; default
            ``$GPIOSIM_PI_CHIP``, else the rig file's ``[rig] chip``, else found from
            the device-tree model.
        rig: a rig file (path or :func:`~gpiosim.pi.load_rig` result) for the harness;
            default ``$GPIOSIM_RIG``; without one the backend has no harness.
        dt_model: the device-tree model file (default ``$GPIOSIM_DT_MODEL``, else
            ``/proc/device-tree/model``).
        dev_root: where the ``gpiochip*`` nodes are.
        lock_dir: where the rig lock lives (default :func:`~gpiosim.pi.default_lock_dir`).

    Raises:
        PiNotFoundError: no usable Pi or header chip (the message names the override).
        GpioPermissionError: the chips may not be opened (the message names the gpio group).
        RigFileError: the rig file is wrong.
    """

    name = "pi"

    def __init__(
        self,
        *,
        chip: str | None = None,
        rig: str | os.PathLike[str] | RigFile | None = None,
        dt_model: Path | None = None,
        dev_root: Path = DEV_ROOT,
        lock_dir: Path | None = None,
    ) -> None:
        super().__init__()
        if rig is None:
            rig = os.environ.get(ENV_RIG) or None
        self.rig: RigFile | None = None
        """The rig file, if any."""
        if rig is not None:
            self.rig = (rig if isinstance(rig, RigFile) else load_rig(rig)).require_bench()
        source = "chip"
        if chip is None and os.environ.get(ENV_PI_CHIP):
            chip, source = os.environ[ENV_PI_CHIP], ENV_PI_CHIP
        if chip is None and self.rig is not None and self.rig.chip is not None:
            chip = self.rig.chip
            source = f"[rig] chip in {self.rig.path}:{self.rig.lineno('rig', 'chip')}"
        if dt_model is None:
            dt_model = Path(os.environ.get(ENV_DT_MODEL) or DT_MODEL)
        self.discovery = discover(
            chip=chip, chip_source=source, dt_model=dt_model, dev_root=dev_root
        )
        """The board and chips found."""
        self._cdev = CdevBackend(
            chips=[c.path for c in self.discovery.chips], default_chip=self.discovery.header.name
        )
        self._lock_dir = lock_dir
        self._harness: PiHarness | None = None

    def __repr__(self) -> str:
        return f"PiBackend({self.discovery})"

    @staticmethod
    def detect(root: Path = Path("/")) -> int:
        """How well this backend fits the machine (see ``gpiocore.current_backend``).

        Reads the device-tree model (``$GPIOSIM_DT_MODEL``, else
        ``root/proc/device-tree/model``) and looks for the board's header chip among
        ``root/dev/gpiochip*`` (or the chip ``$GPIOSIM_PI_CHIP`` names).

        Returns:
            20 on a Raspberry Pi with its header chip (more than cdev's 10), also when
            its chips may not be opened (making the backend then says how to fix it);
            else 0.
        """
        dt_model = Path(os.environ.get(ENV_DT_MODEL) or root / "proc/device-tree/model")
        try:
            discover(
                chip=os.environ.get(ENV_PI_CHIP) or None,
                chip_source=ENV_PI_CHIP,
                dt_model=dt_model,
                dev_root=root / "dev",
            )
        except GpioPermissionError:
            return PI_DETECT_RANK
        except GpioError:
            return 0
        return PI_DETECT_RANK

    @property
    def board(self) -> Board | None:
        """The board found from the device tree (None with an override on another board)."""
        return self.discovery.board

    @property
    def header(self) -> FoundChip:
        """The header chip."""
        return self.discovery.header

    # -- the Backend protocol ------------------------------------------------------------
    def _lines(self) -> CdevBackend:
        # This Pi's chips, the header chip first (so ``GPIO17`` is looked up there first).
        return self._cdev

    def default_chip(self) -> str:
        """The header chip's name (``gpiochip0``, or ``gpiochip4`` on an older Pi 5 kernel)."""
        return self.discovery.header.name

    @property
    def harness(self) -> PiHarness | None:
        """The rig's harness (made on first use: it requests the rig's lines and locks
        the rig), or None without a rig file.

        Raises:
            RigFileError: the rig does not fit this board or chip.
            RigBusyError: another process is driving the rig.
            LineBusyError: a stimulus or probe line is held by someone else.
        """
        if self._harness is None and self.rig is not None:
            if self._closed:
                raise ClosedError("the pi backend is closed: make a new one")
            self._harness = PiHarness(self, self.rig, lock_dir=self._lock_dir)
        return self._harness

    def close(self) -> None:
        """Release the harness's lines and lock, then every line still open; safe twice."""
        self._closed = True
        harness, self._harness = self._harness, None
        if harness is not None:
            harness.close()
        self._cdev.close()

    # -- helpers -------------------------------------------------------------------------
    def export_env(self) -> dict[str, str]:
        """Environment variables that make a subprocess use this backend on the same chip.

        The program under test finds the header chip by label (or by path where the
        label is not unique) and is given no rig: the test process drives the rig.
        """
        header = self.discovery.header
        unique = sum(c.label == header.label for c in self.discovery.chips) == 1
        return {
            ENV_VAR: self.name,
            ENV_PI_CHIP: header.label if unique else header.path,
            ENV_RIG: "",
        }

    def locate(self, line: str | int) -> tuple[str, int]:
        """The ``(chip, offset)`` of a header line written in any numbering scheme.

        ``GPIO17``/``BCM17``/``17`` (Broadcom), ``pin11``/``BOARD11``/``J8:11`` (header
        pins), ``P0``..``P7`` (Quick2Wire) or a kernel line name (``GPIO_GCLK``), as in
        a rig file. The result suits ``gpiocore.line(offset, chip=chip)``.

        Raises:
            LineSpecError: a power or ground pin, a pin off the header, a GPIO no Pi has.
            LineNotFoundError: a name or number the header chip does not have.
        """
        ref = parse_line(line)
        header = self.discovery.header
        if ref.gpio is not None and ref.gpio < header.num_lines:
            return header.name, ref.gpio
        names = next(c.line_names for c in self.chips() if c.name == header.name)
        if ref.name is not None and ref.name in names:
            return header.name, names.index(ref.name)
        raise LineNotFoundError(
            f"the header chip {header} has no line {ref.text!r}: write GPIOn, pinN, Pn or "
            "a name gpioinfo lists"
        )

    def line_info(self, chip: str, offset: int) -> gpiod.LineInfo:
        """The kernel's view of a line (``gpiod.LineInfo``: name, consumer, direction...)."""
        return self._cdev.line_info(chip, offset)

    def is_header(self, chip: str) -> bool:
        """True if ``chip`` (a name, path or label) is the header chip."""
        header = self.discovery.header
        return chip in (header.name, header.path, header.label)


@final
@dataclasses.dataclass(frozen=True, slots=True)
class _Jump:
    signal: str
    kind: str
    program: int  # the program's line (offset on the header chip)
    rig: int  # the rig's line
    active_low: bool


@final
class PiHarness:
    """The bench rig as a :class:`~gpiocore.backends.Harness`.

    ``drive`` of a program input sets the stimulus jumpered to it; ``level`` of a
    program output reads the probe jumpered to it (of an input: the stimulus's level);
    ``requested`` asks the kernel; listeners hear every probe edge with its kernel
    timestamp, from a thread reading the probes' edge events.

    Made by :attr:`PiBackend.harness`; it locks the rig and requests the stimulus lines
    (driving each program input at its inactive level) and the probe lines.

    Raises:
        RigFileError: the rig is for another board, or a line does not fit the chip.
        RigBusyError: another process is driving the rig.
        LineBusyError: a stimulus or probe line is held by someone else.
    """

    def __init__(self, backend: PiBackend, rig: RigFile, *, lock_dir: Path | None = None) -> None:
        self._backend = backend
        self.rig = rig
        header = backend.header
        board = backend.board
        if rig.board is not None and board is not None and rig.board.key != board.key:
            raise rig.error(
                f"the rig is wired for a {rig.board.title} (board = {rig.board.key!r}), but "
                f"this is a {backend.discovery.model}: use that board's rig file",
                "rig",
                "board",
            )
        names = next(c.line_names for c in backend.chips() if c.name == header.name)
        signal_at, rig_at = rig.offsets(names)
        self._jumps = tuple(
            _Jump(
                name,
                rig.jumpers[name].kind,
                signal_at[name],
                rig_at[name],
                rig.signal(name).active_low,
            )
            for name in rig.signal_names()
        )
        self._by_program = {j.program: j for j in self._jumps}
        self._lines: dict[str, CdevLine] = {}
        self._stimulus_level: dict[str, bool] = {}
        self._edge_lock = threading.RLock()
        self._known: dict[str, bool] = {}  # each probe's level as its edges tell it
        self._listeners: list[LevelListener] = []
        self._thread: threading.Thread | None = None
        self._wake: int | None = None
        self._stop = threading.Event()

        self._lock = RigLock(rig.name, lock_dir=lock_dir).acquire()
        self._chip: gpiod.Chip | None = None
        try:
            for jump in self._jumps:
                self._request_rig_line(jump)
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"<PiHarness rig={self.rig.name!r} on {self._backend.header.name}>"

    def _request_rig_line(self, jump: _Jump) -> None:
        jumper = self.rig.jumpers[jump.signal]
        if jump.kind == "stimulus":
            idle = jump.active_low  # an input rests at its inactive level
            settings = LineSettings(direction=Direction.OUT, output_value=idle)
            self._stimulus_level[jump.signal] = idle
        else:
            settings = LineSettings(direction=Direction.IN, edge=Edge.BOTH, bias=jumper.bias)
        consumer = f"gpiorig {jump.kind} {jump.signal}"[:31]
        try:
            self._lines[jump.signal] = self._backend.open_line(
                self._backend.header.name, jump.rig, settings, consumer
            )
        except LineBusyError as exc:
            raise LineBusyError(
                f"the {jump.kind} {describe_gpio(jump.rig)} of jumper {jump.signal!r} cannot "
                f"be requested: {exc}"
            ) from exc

    # -- the Harness protocol ---------------------------------------------------------------
    def _jump(self, chip: str, offset: int, role: str) -> _Jump:
        if not self._backend.is_header(chip) or offset not in self._by_program:
            wired = ", ".join(f"{j.signal} ({describe_gpio(j.program)})" for j in self._jumps)
            raise LineNotFoundError(
                f"line {offset} of {chip} has no jumper on rig {self.rig.name!r} (wired: "
                f"{wired}): add a [jumpers.NAME] table for it to {self.rig.path}"
            )
        jump = self._by_program[offset]
        if role == "drive" and jump.kind != "stimulus":
            raise LineNotFoundError(
                f"{jump.signal} ({describe_gpio(offset)}) is an output of the program with a "
                "probe: the rig observes it and cannot drive it"
            )
        return jump

    def drive(self, chip: str, offset: int, level: bool) -> None:
        """Drive a program input: set the stimulus jumpered to it to a physical level.

        Raises:
            LineNotFoundError: no stimulus is wired to that line.
        """
        high = check_level(level, f"drive({chip!r}, {offset!r})")
        jump = self._jump(chip, offset, "drive")
        self._line(jump).set(high)
        self._stimulus_level[jump.signal] = high

    def level(self, chip: str, offset: int) -> bool:
        """A program line's physical level: a probe's reading, or what a stimulus drives.

        While listeners are attached, pending probe edges are handed to them first and
        the level is the one the last edge left: a reading never disagrees with what
        the listeners were told (a fresh read could race the probe thread and report a
        level that an edge has already superseded), and each change keeps its kernel
        timestamp rather than the time of this read.

        Raises:
            LineNotFoundError: no jumper is wired to that line.
        """
        jump = self._jump(chip, offset, "level")
        if jump.kind == "stimulus":
            return self._stimulus_level[jump.signal]
        with self._edge_lock:
            if self._listeners:
                self._dispatch()
                return self._known[jump.signal]
            return self._line(jump).get()

    def requested(self, chip: str, offset: int) -> bool:
        """True while some program holds the line (as the kernel's line info says)."""
        header = self._backend.header
        if not self._backend.is_header(chip) or not 0 <= offset < header.num_lines:
            return bool(self._backend.line_info(chip, offset).used)
        # Callers poll this (AppRunner.wait_ready): one ioctl on a chip kept open.
        if self._chip is None:
            import gpiod

            self._chip = gpiod.Chip(header.path)
        return bool(self._chip.get_line_info(offset).used)

    def add_listener(self, listener: LevelListener) -> None:
        """Call ``listener(chip, offset, level, timestamp_ns)`` on every probe edge.

        ``chip, offset`` is the program's output line; the timestamp is the kernel's
        (CLOCK_MONOTONIC, the backend's clock).
        """
        with self._edge_lock:
            if not self._listeners:
                self._resync()
            self._listeners.append(listener)
        if self._thread is None:
            self._stop.clear()
            self._wake = new_eventfd()
            self._thread = threading.Thread(
                target=self._watch, name=f"pi-rig-probes:{self.rig.name}", daemon=True
            )
            self._thread.start()

    def remove_listener(self, listener: LevelListener) -> None:
        """Stop calling ``listener``; the thread stops with the last one."""
        with self._edge_lock:
            self._listeners.remove(listener)
            last = not self._listeners
        if last:
            self._stop_thread()

    # -- the self-test -------------------------------------------------------------------
    def self_test(self, *, timeout: float = 0.25, settle: float = 0.02) -> CheckReport:
        """Toggle each jumper's driving end and check that its far end, and only it, follows.

        A stimulus jumper is judged by reading the program's input line, a probe
        jumper by driving the program's output line and reading the probe: both
        program lines are requested for the test, so the program must not be running.

        Args:
            timeout: seconds for a change to arrive.
            settle: seconds to let unexpected changes (a swap, a short) show.

        Raises:
            LineBusyError: a program line is held (stop the program under test first).
        """


        start = time.monotonic()
        program: dict[str, CdevLine] = {}
        try:
            for jump in self._jumps:
                if jump.kind == "stimulus":  # read the input; pull-down so a loose wire reads low
                    settings = LineSettings(direction=Direction.IN, bias=Bias.PULL_DOWN)
                else:
                    settings = LineSettings(direction=Direction.OUT)
                try:
                    program[jump.signal] = self._backend.open_line(
                        self._backend.header.name, jump.program, settings, "gpiorig self-test"
                    )
                except LineBusyError as exc:
                    raise LineBusyError(
                        f"the self-test needs {jump.signal}'s line {describe_gpio(jump.program)} "
                        f"free, but {exc}; stop the program under test first"
                    ) from exc
            wires = [self._wire(j) for j in self._jumps]

            def drive(i: int, level: bool) -> None:
                jump = self._jumps[i]
                line = self._line(jump) if jump.kind == "stimulus" else program[jump.signal]
                line.set(level)

            def sense(i: int) -> bool:
                jump = self._jumps[i]
                line = program[jump.signal] if jump.kind == "stimulus" else self._line(jump)
                return line.get()

            results = run_self_test(wires, drive, sense, timeout=timeout, settle=settle)
        finally:
            for line in program.values():
                line.close()
            for jump in self._jumps:  # back to rest: every input at its inactive level
                if jump.kind == "stimulus" and jump.signal in self._lines:
                    self._line(jump).set(jump.active_low)
                    self._stimulus_level[jump.signal] = jump.active_low
            if self._listeners:
                with self._edge_lock:  # the test's own probe edges are not the program's
                    self._resync()
        return CheckReport(
            self.rig.name, tuple(results), time.monotonic() - start, str(self._backend.discovery)
        )

    @staticmethod
    def _wire(jump: _Jump) -> Wire:

        rig, program = f"GPIO{jump.rig}", f"GPIO{jump.program}"
        if jump.kind == "stimulus":
            return Wire(
                jump.signal,
                f"stimulus {rig}",
                program,
                (header_pin(jump.rig), header_pin(jump.program)),
            )
        return Wire(
            jump.signal, program, f"probe {rig}", (header_pin(jump.program), header_pin(jump.rig))
        )

    # -- internals -----------------------------------------------------------------------
    def _line(self, jump: _Jump) -> CdevLine:
        line = self._lines.get(jump.signal)
        if line is None:
            raise ClosedError(f"the harness of rig {self.rig.name!r} is closed: make a new backend")
        return line

    def _resync(self) -> None:
        """Drop pending probe edges (history) and take each probe's level afresh."""
        for jump in self._jumps:
            if jump.kind == "probe":
                self._line(jump).read_edges()
                self._known[jump.signal] = self._line(jump).get()

    def _dispatch(self) -> None:
        """Hand every pending probe edge to the listeners, oldest first."""
        header = self._backend.header.name
        # Held while the listeners run: the probe thread and a level() read may both
        # dispatch, and edges handed over out of order would leave a wrong last level.
        with self._edge_lock:
            events = []
            for jump in self._jumps:
                if jump.kind == "probe" and jump.signal in self._lines:
                    events += [(e, jump) for e in self._lines[jump.signal].read_edges()]
            events.sort(key=lambda item: item[0].timestamp_ns)
            for event, jump in events:
                level = event.type is EdgeType.RISING
                # The last edge left the line here (after an overflow the kernel keeps
                # the newest edges, so the last one still tells the current level).
                self._known[jump.signal] = level
                for listener in list(self._listeners):
                    listener(header, jump.program, level, event.timestamp_ns)

    def _watch(self) -> None:
        wake = self._wake
        assert wake is not None  # set before the thread starts
        with select.epoll() as poller:
            poller.register(wake, select.EPOLLIN)
            for jump in self._jumps:
                if jump.kind == "probe":
                    poller.register(self._line(jump).fileno(), select.EPOLLIN)
            while not self._stop.is_set():
                if poller.poll(1.0):
                    try:
                        self._dispatch()
                    except ClosedError:
                        return

    def _stop_thread(self) -> None:
        thread, self._thread = self._thread, None
        self._stop.set()
        wake, self._wake = self._wake, None
        if wake is not None:
            with contextlib.suppress(OSError):
                os.eventfd_write(wake, 1)
        if thread is not None:
            thread.join()
        if wake is not None:
            os.close(wake)

    def close(self) -> None:
        """Stop the probe thread, release the rig's lines and its lock; safe twice."""
        self._stop_thread()
        self._listeners.clear()
        lines, self._lines = self._lines, {}
        for line in lines.values():
            line.close()
        chip, self._chip = self._chip, None
        if chip is not None:
            chip.close()
        self._lock.release()
