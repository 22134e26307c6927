"""The ``sim`` backend: the cdev backend on a gpio-sim chip laid out like a Pi header.

By default the backend makes its own chip (28 lines named ``GPIO0``..``GPIO27``, so a
program that looks up ``"GPIO17"`` finds it as on a Raspberry Pi) on first use, and
tears it down in :meth:`SimBackend.close`. A program under test that runs in a
subprocess attaches to the test's chip instead: the test passes
``GPIOSIM_CHIP=<dev_name>`` (see :meth:`SimBackend.export_env`) and the subprocess's
backend uses that chip and leaves it alone when it closes.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
from pathlib import Path
from typing import Final, final

from gpiocore import ClosedError, InvalidSettingError, LineNotFoundError
from gpiocore.backends import (
    ENV_VAR,
    CdevBackend,
    RequestListener,
    check_level,
)
from gpiosim._cdevfront import CdevFront
from gpiosim.sim._chip import SimChip
from gpiosim.sim._env import CONFIGFS_ROOT, LineNames, validate_line_name

__all__ = ["ENV_CHIP", "PI_HEADER_LINES", "SimBackend", "SimHarness"]

ENV_CHIP: Final = "GPIOSIM_CHIP"
"""Names an existing gpio-sim device (``gpio-sim.0``) or chip (``gpiochip1``) to use."""
ENV_BACKEND: Final = ENV_VAR
PI_HEADER_LINES: Final = 28
DEFAULT_LABEL: Final = "gpiorig-sim"


@final
class SimHarness:
    """The test side of a :class:`SimBackend`: drives inputs through the simulator's pull.

    A pull acts like an external resistor: an input reads it, an output ignores it until
    released, and a request with a bias overrides it (the kernel models both on the same
    line state). Request listeners hear of every request, reconfiguration and release
    (the kernel's line-info events), so a rig can re-apply what it drives.
    """

    def __init__(self, backend: SimBackend) -> None:
        self._backend = backend
        self._lock = threading.Lock()
        self._request_listeners: list[RequestListener] = []
        self._watcher: threading.Thread | None = None
        self._wake: tuple[int, int] | None = None

    def drive(self, chip: str, offset: int, level: bool) -> None:
        """Pull line ``offset`` of ``chip`` up (True) or down (False).

        Raises:
            LineNotFoundError: ``chip`` is not the backend's sim chip.
            PinIndexError: no such offset.
        """
        high = check_level(level, f"drive({chip!r}, {offset!r})")
        self._backend._sim_for(chip).set_pull(offset, high)

    def level(self, chip: str, offset: int) -> bool:
        """The line's physical level: what an output drives, else what the pull gives.

        Raises:
            LineNotFoundError: ``chip`` is not the backend's sim chip.
            PinIndexError: no such offset.
        """
        return self._backend._sim_for(chip).get_value(offset)

    def pull(self, chip: str, offset: int) -> bool:
        """The simulator's pull on a line (True for up), as ``sim_gpioN/pull`` reads."""
        return self._backend._sim_for(chip).get_pull(offset)

    def requested(self, chip: str, offset: int) -> bool:
        """True while a program (or a kernel hog) holds the line."""
        return self.consumer(chip, offset) is not None

    def consumer(self, chip: str, offset: int) -> str | None:
        """Who holds the line as the kernel reports it ("" if unnamed), or None if free.

        Raises:
            LineNotFoundError: ``chip`` is not the backend's sim chip.
            PinIndexError: no such offset.
        """
        sim = self._backend._sim_for(chip)
        info = self._backend._lines().line_info(sim.chip_name, offset)
        return (info.consumer or "") if info.used else None

    def add_request_listener(self, listener: RequestListener) -> None:
        """Call ``listener(chip, offset)`` after a line of the chip is requested,
        reconfigured or released (by any process), from a watcher thread.

        The kernel reports these as line-info events on the chip; a request with a bias
        has by then moved the line's pull. The first listener starts the watcher.

        Raises:
            ClosedError: the backend is closed.
            SimChipError: the chip cannot be made here.
        """
        sim = self._backend.sim_chip
        with self._lock:
            self._request_listeners.append(listener)
            if self._watcher is not None:
                return
            import gpiod

            chip = gpiod.Chip(sim.dev_path)
            try:
                for offset in range(chip.get_info().num_lines):
                    chip.watch_line_info(offset)
            except BaseException:
                chip.close()
                raise
            self._wake = os.pipe()
            self._watcher = threading.Thread(
                target=self._watch,
                args=(chip, sim.chip_name, self._wake[0]),
                name="sim-request-watcher",
                daemon=True,
            )
            self._watcher.start()

    def remove_request_listener(self, listener: RequestListener) -> None:
        """Stop calling ``listener``; the last one removed stops the watcher."""
        with self._lock:
            self._request_listeners.remove(listener)
            if self._request_listeners:
                return
        self.stop_watching()

    def stop_watching(self) -> None:
        """Stop the watcher thread and forget every listener; safe to call twice."""
        with self._lock:
            self._request_listeners.clear()
            watcher, self._watcher = self._watcher, None
            wake, self._wake = self._wake, None
        if watcher is None or wake is None:
            return
        os.write(wake[1], b"x")
        watcher.join()
        for fd in wake:
            os.close(fd)

    def _watch(self, chip: object, chip_name: str, wake_fd: int) -> None:
        import gpiod

        assert isinstance(chip, gpiod.Chip)
        try:
            while True:
                ready, _, _ = select.select([chip.fd, wake_fd], [], [])
                if wake_fd in ready:
                    return
                event = chip.read_info_event()
                with self._lock:
                    listeners = list(self._request_listeners)
                for listener in listeners:
                    with contextlib.suppress(Exception):  # a chip gone at teardown
                        listener(chip_name, event.line_info.offset)
        except OSError:  # the chip went away
            return
        finally:
            chip.close()


@final
class SimBackend(CdevFront):
    """GPIO lines on a gpio-sim chip, through the same cdev code a Pi uses.

    Args:
        num_lines: lines on the chip made (default 28, like a Pi header).
        line_names: names by offset; default ``GPIO0``..``GPIO<num_lines-1>``.
        label: the chip's label.
        attach: an existing gpio-sim device or chip to use (and never tear down);
            default: the ``GPIOSIM_CHIP`` environment variable; if neither, a chip
            is made on first use.
        configfs_root: where configfs is mounted (for tests).
    """

    name = "sim"

    def __init__(
        self,
        num_lines: int = PI_HEADER_LINES,
        *,
        line_names: LineNames | None = None,
        label: str = DEFAULT_LABEL,
        attach: str | None = None,
        configfs_root: Path = CONFIGFS_ROOT,
    ) -> None:
        super().__init__()
        if isinstance(num_lines, bool) or not isinstance(num_lines, int) or num_lines < 1:
            raise InvalidSettingError(
                f"num_lines must be a whole number of 1 or more, not {num_lines!r}"
            )
        validate_line_name(label, "chip label")
        if attach is not None and (not isinstance(attach, str) or not attach):
            raise LineNotFoundError(
                f"attach must name a gpio-sim device or chip such as 'gpio-sim.0', not {attach!r}"
            )
        self._num_lines = num_lines
        self._line_names: LineNames = (
            [f"GPIO{i}" for i in range(num_lines)] if line_names is None else line_names
        )
        self._label = label
        self._attach = attach if attach is not None else os.environ.get(ENV_CHIP) or None
        self._configfs_root = configfs_root
        self._chip: SimChip | None = None
        self._cdev: CdevBackend | None = None
        self._harness = SimHarness(self)

    def __repr__(self) -> str:
        chip = self._chip.chip_name if self._chip is not None and self._chip.live else None
        return f"SimBackend(chip={chip!r}, attached={self._attach is not None})"

    # -- the chip ----------------------------------------------------------------------
    @property
    def sim_chip(self) -> SimChip:
        """The gpio-sim chip, made (or attached) on first use.

        Raises:
            ClosedError: the backend is closed.
            SimChipError: the chip cannot be made here (the message says why and how
                to fix it, e.g. run under ``gpiosim guest``).
            LineNotFoundError: ``attach``/``GPIOSIM_CHIP`` names no gpio-sim device.
        """
        if self._closed:
            raise ClosedError("the sim backend is closed: make a new one")
        if self._chip is None:
            if self._attach is not None:
                chip = SimChip.attach(self._attach)
            else:
                # SimChip tears itself down through weakref.finalize (also at exit) if
                # this backend is dropped without close().
                chip = SimChip(
                    self._num_lines,
                    label=self._label,
                    line_names=self._line_names,
                    configfs_root=self._configfs_root,
                ).create()
            self._chip = chip
            self._cdev = CdevBackend(chips=[chip.dev_path])
        return self._chip

    @property
    def attached(self) -> bool:
        """True when the chip was made elsewhere (``attach`` or ``GPIOSIM_CHIP``)."""
        return self._attach is not None

    def export_env(self) -> dict[str, str]:
        """Environment variables that make a subprocess use this backend and its chip.

        ``GPIOCORE_BACKEND=sim`` picks the backend, ``GPIOSIM_CHIP`` names the chip
        to attach to (the subprocess never tears it down).

        Example:
            >>> subprocess.run(cmd, env={**os.environ, **backend.export_env()})  # doctest: +SKIP
        """
        return {ENV_BACKEND: self.name, ENV_CHIP: self.sim_chip.dev_name}

    def _lines(self) -> CdevBackend:
        self.sim_chip  # noqa: B018 - made on first use
        assert self._cdev is not None  # set together with the chip
        return self._cdev

    def _sim_for(self, chip: str) -> SimChip:
        sim = self.sim_chip
        # The label last: for an attached chip it means opening the chip.
        if chip not in (sim.chip_name, sim.dev_path, sim.dev_name) and chip != sim.label:
            raise LineNotFoundError(
                f"chip {chip!r} is not this sim backend's chip: use {sim.chip_name!r} "
                f"({sim.label}, {sim.dev_path})"
            )
        return sim

    # -- the Backend protocol (clock, chips, open_line, create_timer: CdevFront's) --------
    @property
    def harness(self) -> SimHarness:
        """Drives inputs (``sim_gpioN/pull``) and reads levels (``sim_gpioN/value``)."""
        return self._harness

    def default_chip(self) -> str:
        """The sim chip's name, e.g. ``gpiochip1``."""
        return self.sim_chip.chip_name

    def close(self) -> None:
        """Release open lines, then tear the chip down unless attached; safe twice."""
        self._harness.stop_watching()
        self._closed = True
        cdev, self._cdev = self._cdev, None
        if cdev is not None:
            cdev.close()
        chip, self._chip = self._chip, None
        if chip is not None:
            chip.close()
