"""Finding a Raspberry Pi's header chip: by the board's label from the device tree, or an override.

Never by chip number (``gpiochip0`` on a Pi 4 or a recent Pi 5 kernel, ``gpiochip4`` on an
older Pi 5 kernel) and never by sysfs numbers (renumbered from base 512 on recent kernels).
Anything else is named by an override: ``chip=``, ``$GPIOSIM_PI_CHIP`` or ``[rig] chip``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Final, final

from gpiocore import (
    GpioError,
    GpioPermissionError,
)
from gpiocore.backends import (
    DETECT_RANK,
    DEV_ROOT,
)
from gpiosim._errors import PiNotFoundError
from gpiosim.pi._board import (
    DT_MODEL,
    Board,
    board_for_model,
    read_model,
)

__all__ = [
    "ENV_DT_MODEL",
    "ENV_PI_CHIP",
    "ENV_RIG",
    "PI_DETECT_RANK",
    "Discovery",
    "FoundChip",
    "discover",
    "read_chip",
]


PI_DETECT_RANK: Final = 2 * DETECT_RANK
"""What :meth:`PiBackend.detect` says on a Pi: it outranks the plain cdev backend."""
ENV_PI_CHIP: Final = "GPIOSIM_PI_CHIP"
"""Names the header chip (label, name or path), overriding the board's discovery."""
ENV_RIG: Final = "GPIOSIM_RIG"
"""A rig file for the ``pi`` backend's harness (``--rig`` sets it for a session)."""
ENV_DT_MODEL: Final = "GPIOSIM_DT_MODEL"
"""Where to read the device-tree model instead of /proc/device-tree/model."""

_GROUP_FIX: Final = (
    "add the user to the gpio group (sudo usermod -aG gpio $USER, then log in again), "
    "or install a udev rule that gives a group of yours /dev/gpiochip*"
)
_OVERRIDE: Final = (
    f"name the header chip with {ENV_PI_CHIP}=<label, name or path> (gpiodetect lists the "
    "chips) or with [rig] chip in the rig file"
)

@final
@dataclasses.dataclass(frozen=True, slots=True)
class FoundChip:
    """A GPIO chip seen during discovery."""

    path: str
    name: str
    label: str
    num_lines: int

    def __str__(self) -> str:
        return f"{self.name} [{self.label}] ({self.num_lines} lines)"


ChipReader = Callable[[str], FoundChip | None]
"""Read a chip's label and size; None if the path is no GPIO chip; PermissionError if
it may not be opened."""


def read_chip(path: str) -> FoundChip | None:
    """Read a GPIO character device's label and size with ``gpiod``.

    Raises:
        PermissionError: the device may not be opened.
    """
    import gpiod

    if not gpiod.is_gpiochip_device(path):
        return None
    with gpiod.Chip(path) as chip:
        info = chip.get_info()
    return FoundChip(path, Path(path).name, info.label, info.num_lines)


@final
@dataclasses.dataclass(frozen=True, slots=True)
class Discovery:
    """What :func:`discover` found."""

    model: str | None
    """The device-tree model, if there is one."""
    board: Board | None
    """The board it names, if gpiorig knows it."""
    header: FoundChip
    """The chip of the 40-pin header."""
    chips: tuple[FoundChip, ...]
    """Every chip that could be opened, the header chip first."""
    how: str
    """How the header chip was chosen, for messages."""

    def __str__(self) -> str:
        return f"{self.model or 'an unknown board'} ({self.header.name} [{self.header.label}])"


def _chip_number(path: Path) -> tuple[int, str]:
    digits = path.name.removeprefix("gpiochip")
    return (int(digits), "") if digits.isdigit() else (1 << 30, path.name)


def discover(
    *,
    chip: str | None = None,
    chip_source: str = "chip",
    dt_model: Path = DT_MODEL,
    dev_root: Path = DEV_ROOT,
    read: ChipReader = read_chip,
) -> Discovery:
    """Find this Pi's header chip: by the board's label, or by an override.

    Args:
        chip: an override: the header chip's label, name (``gpiochip0``) or path.
        chip_source: where the override came from, for messages.
        dt_model: the device-tree model file.
        dev_root: where the ``gpiochip*`` device nodes are.
        read: reads one chip (replaceable in tests).

    Raises:
        PiNotFoundError: no device tree, an unknown board, no chip with the board's
            label, or more than one chip that matches (each message names the override).
        GpioPermissionError: the chips may not be opened (the message names the gpio group).
    """
    if chip is not None and (not isinstance(chip, str) or not chip):
        raise PiNotFoundError(
            f"the header chip ({chip_source}) must be a chip's label, name or path, "
            f"not {chip!r}: e.g. 'pinctrl-rp1' or 'gpiochip0'"
        )
    model = read_model(Path(dt_model))
    board = board_for_model(model) if model else None
    if chip is None and model is None:
        raise PiNotFoundError(
            f"no Raspberry Pi here: {dt_model} does not exist (no device tree: a PC, a VM "
            f"or a container?); on another board {_OVERRIDE}; to test without a Pi use "
            "--backend=sim"
        )
    if chip is None and board is None:
        raise PiNotFoundError(
            f"{dt_model} says {model!r}, which is not a Raspberry Pi gpiorig knows "
            f"(Pi 1-5, 400, 500, Zero, Compute Module): {_OVERRIDE}"
        )
    paths = sorted(dev_root.glob("gpiochip*"), key=_chip_number)
    found: list[FoundChip] = []
    denied: list[str] = []
    for path in paths:
        try:
            info = read(str(path))
        except PermissionError:
            denied.append(str(path))
            continue
        except OSError:
            continue  # a chip going away under us, or a stray file: not the header
        if info is not None:
            found.append(info)
    listing = ", ".join(map(str, found)) or "none"

    def refuse(missing: str) -> GpioError:
        if denied:
            return GpioPermissionError(
                f"{missing}, and {', '.join(denied)} may not be opened by uid {os.geteuid()} "
                f"(permission denied): {_GROUP_FIX}"
            )
        if not paths:
            return PiNotFoundError(
                f"{missing}: there are no GPIO chips at all ({dev_root}/gpiochip*): the "
                "kernel lacks the GPIO character device (CONFIG_GPIO_CDEV)"
            )
        return PiNotFoundError(f"{missing} (found: {listing}): {_OVERRIDE}")

    if chip is not None:
        wanted = chip if "/" in chip else None
        matches = [c for c in found if chip in (c.name, c.label) or c.path == wanted]
        how = f"{chip_source}={chip!r}"
        if not matches:
            raise refuse(f"{how} names no GPIO chip")
    else:
        assert board is not None  # for the type checker: refused above otherwise
        matches = []
        for label in board.labels:
            matches = [c for c in found if c.label == label]
            if matches:
                break
        how = f"label {matches[0].label!r}" if matches else ""
        if not matches:
            labels = " or ".join(repr(label) for label in board.labels)
            raise refuse(f"{model}: no GPIO chip labelled {labels}")
    if len(matches) > 1:
        raise PiNotFoundError(
            f"{len(matches)} chips match {how} ({', '.join(map(str, matches))}): name one by "
            f"its path with {ENV_PI_CHIP}=/dev/gpiochipN"
        )
    header = matches[0]
    chips = (header, *(c for c in found if c is not header))
    return Discovery(model, board, header, chips, how)
