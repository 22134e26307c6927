"""A Raspberry Pi without the Pi: a gpio-sim chip that impersonates its header chip.

For testing the ``pi`` backend (and a project's bench-rig tests) in CI: the chip has the
board's label (``pinctrl-bcm2711``, ``pinctrl-rp1``), line count and published line
names; a fake device-tree model file names the board; and a thread plays the jumper
wires of a rig file, copying each wire's driven end (the sim ``value`` of a stimulus,
or of a program output) into its far end's sim ``pull``, which is what an input reads.
A wire can be left ``broken`` (loose) or two ``swapped``, to see the self-test refuse.

The copy is polled (gpio-sim's simulator side has no events), so an emulated wire
takes up to a poll period plus a sysfs round trip: about a millisecond natively, a few
in the qemu guest. Real wires take nanoseconds; that is one of the things only a real
bench shows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import tempfile
import threading
from collections.abc import Collection, Iterable
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Final, Self, final

from gpiocore import InvalidSettingError
from gpiosim.pi._backend import PiBackend
from gpiosim.pi._board import Board, board_by_key
from gpiosim.pi._discovery import ENV_DT_MODEL
from gpiosim.pi._rigfile import RigFile
from gpiosim.pi._rigload import load_rig
from gpiosim.sim._chip import SimChip

__all__ = ["DEFAULT_MODELS", "SimulatedPi"]

DEFAULT_MODELS: Final = MappingProxyType(
    {
        "pi5": "Raspberry Pi 5 Model B Rev 1.0",
        "pi4": "Raspberry Pi 4 Model B Rev 1.4",
        "pi3": "Raspberry Pi 3 Model B Plus Rev 1.3",
    }
)
"""The device-tree model a simulated board claims, by board key."""


@final
@dataclasses.dataclass(frozen=True, slots=True)
class _Link:
    name: str
    source: int  # the driven end's offset: its sim value is copied ...
    sink: int  # ... into this line's sim pull


@final
class SimulatedPi:
    """A gpio-sim chip laid out like a Pi's header chip, with a rig's jumpers played.

    Use as a context manager, or call :meth:`start` and :meth:`close`.

    Args:
        board: ``"pi4"`` or ``"pi5"`` (``"pi3"``: generic ``GPIOn`` names).
        rig: the rig file (or its path) whose jumpers to play; None for no wires.
        broken: jumpers to leave unconnected, by name.
        swapped: pairs of jumpers whose far ends are exchanged.
        model: the device-tree model to claim (default :data:`DEFAULT_MODELS`).
        folder: where to write the model file (default: a temporary folder).
        poll_interval: seconds between copies.

    Raises:
        InvalidSettingError: an unknown board, or a broken/swapped name that is no jumper.

    Example:
        >>> with SimulatedPi("pi5", rig="fixtures/rigs/pi5-bench.toml") as pi:  # doctest: +SKIP
        ...     backend = pi.backend()      # the pi backend, found by model and label
        ...     print(backend.harness.self_test())
    """

    def __init__(
        self,
        board: str = "pi4",
        *,
        rig: RigFile | str | os.PathLike[str] | None = None,
        broken: Collection[str] = (),
        swapped: Iterable[tuple[str, str]] = (),
        model: str | None = None,
        folder: Path | None = None,
        poll_interval: float = 0.002,
    ) -> None:
        self.board: Board = board_by_key(board)
        self.rig = load_rig(rig) if rig is not None and not isinstance(rig, RigFile) else rig
        self.model = model if model is not None else DEFAULT_MODELS[self.board.key]
        names = self.board.line_names or [f"GPIO{i}" for i in range(self.board.num_lines)]
        self.chip = SimChip(self.board.num_lines, label=self.board.labels[0], line_names=names)
        """The impersonating gpio-sim chip."""
        self._links = self._wire(set(broken), list(swapped))
        self._folder = folder
        self._own_folder = False
        self.model_path: Path | None = None
        """The fake device-tree model file (set by :meth:`start`)."""
        self._poll = poll_interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fds: list[int] = []

    def __repr__(self) -> str:
        return f"<SimulatedPi {self.model!r} {self.chip!r} wires={len(self._links)}>"

    def _wire(self, broken: set[str], swapped: list[tuple[str, str]]) -> list[_Link]:
        if self.rig is None:
            if broken or swapped:
                raise InvalidSettingError("broken and swapped need a rig whose jumpers to play")
            return []
        known = set(self.rig.jumpers)
        for name in broken | {n for pair in swapped for n in pair}:
            if name not in known:
                raise InvalidSettingError(
                    f"no jumper {name!r} to break or swap: the rig has {', '.join(sorted(known))}"
                )
        names = self.board.line_names or [f"GPIO{i}" for i in range(self.board.num_lines)]
        signal_at, rig_at = self.rig.offsets(names)
        ends: dict[str, tuple[int, int]] = {}
        for name, jumper in self.rig.jumpers.items():
            if jumper.kind == "stimulus":
                ends[name] = (rig_at[name], signal_at[name])
            else:
                ends[name] = (signal_at[name], rig_at[name])
        sinks = {name: sink for name, (_, sink) in ends.items()}
        for a, b in swapped:
            sinks[a], sinks[b] = sinks[b], sinks[a]
        return [
            _Link(name, source, sinks[name])
            for name, (source, _) in ends.items()
            if name not in broken
        ]

    # -- life cycle ----------------------------------------------------------------------
    def start(self) -> Self:
        """Make the chip, write the model file and start playing the wires; returns self.

        Raises:
            SimChipError: gpio-sim is unavailable (run under ``gpiosim guest``).
        """
        if self._thread is not None:
            return self
        self.chip.create()
        try:
            if self._folder is None:
                self._folder = Path(tempfile.mkdtemp(prefix="gpiorig-pi-"))
                self._own_folder = True
            self.model_path = self._folder / "model"
            # As the kernel shows it: the string with its terminating NUL.
            self.model_path.write_bytes(self.model.encode() + b"\0")
            pairs = []
            for link in self._links:
                source = os.open(self.chip.bank.line_dir(link.source) / "value", os.O_RDONLY)
                self._fds.append(source)
                sink = os.open(self.chip.bank.line_dir(link.sink) / "pull", os.O_RDWR)
                self._fds.append(sink)
                pairs.append((source, sink))
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._play, args=(pairs,), name="simulated-pi-wires", daemon=True
            )
            self._thread.start()
        except BaseException:
            self.close()
            raise
        return self

    def _play(self, pairs: list[tuple[int, int]]) -> None:
        # pread/pwrite at offset 0 re-read and re-store a sysfs attribute on an open fd:
        # far cheaper than opening the files again, which matters in the slow guest.
        while True:
            for source, sink in pairs:
                try:
                    high = os.pread(source, 8, 0).startswith(b"1")
                    # Rewritten whenever it differs, not only on a change of the source:
                    # a program's bias request also sets the pull, and a driven wire wins.
                    if os.pread(sink, 16, 0).startswith(b"pull-up") is not high:
                        os.pwrite(sink, b"pull-up" if high else b"pull-down", 0)
                except OSError:
                    return  # the chip is going away
            if self._stop.wait(self._poll):
                return

    def close(self) -> None:
        """Stop the wires, tear the chip down, remove the model file; safe to call twice."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()
        fds, self._fds = self._fds, []
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.chip.close()
        if self._own_folder and self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
            self._own_folder = False

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- using it ------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        """Environment that makes another process (``gpiosim rig check``, pytest) see
        this board: ``GPIOSIM_DT_MODEL`` pointing at the fake model file."""
        if self.model_path is None:
            raise InvalidSettingError("start the simulated Pi first")
        return {ENV_DT_MODEL: str(self.model_path)}

    def backend(self, **options: object) -> PiBackend:
        """A :class:`~gpiosim.pi.PiBackend` that finds this board through its model file,
        with the rig (if any) for its harness; ``options`` go to the backend."""
        if self.model_path is None:
            raise InvalidSettingError("start the simulated Pi first")
        options.setdefault("rig", self.rig)
        return PiBackend(dt_model=self.model_path, **options)  # type: ignore[arg-type]
