"""The layout of a gpio-sim bank (:class:`Bank`): lines, names, hogs, label.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import final

from gpiocore import InvalidSettingError, PinIndexError
from gpiosim.sim._env import _HOG_DIRECTIONS, HogDirection, LineNames, validate_line_name

__all__ = [
    "Bank",
]


@final
@dataclasses.dataclass(frozen=True, slots=True, init=False)
class Bank:
    """The layout of one bank (one GPIO chip) of a sim device, checked when made.

    Args:
        num_lines: how many lines the chip has (1 or more).
        label: the chip's label (what ``gpiodetect`` shows); the kernel's default is
            ``gpio-sim.K-nodeN``.
        line_names: names by offset, as a mapping or a sequence (None = unnamed).
        hogs: lines the kernel itself holds: ``{offset: (consumer, direction)}`` with
            direction ``"input"``, ``"output-high"`` or ``"output-low"``.

    Raises:
        InvalidSettingError: a bad ``num_lines`` or hog direction.
        PinIndexError: a line name or hog at an offset the bank does not have.
        InvalidNameError: a malformed label, line name or hog name.
    """

    num_lines: int
    label: str | None
    line_names: tuple[tuple[int, str], ...]
    """(offset, name) pairs, sorted by offset."""
    hogs: tuple[tuple[int, str, HogDirection], ...]
    """(offset, consumer, direction) triples, sorted by offset."""

    def __init__(
        self,
        num_lines: int = 8,
        *,
        label: str | None = None,
        line_names: LineNames | None = None,
        hogs: Mapping[int, tuple[str, HogDirection]] | None = None,
    ) -> None:
        if isinstance(num_lines, bool) or not isinstance(num_lines, int) or num_lines < 1:
            raise InvalidSettingError(
                f"num_lines must be a whole number of 1 or more, not {num_lines!r}"
            )
        if label is not None:
            validate_line_name(label, "chip label")
        if line_names is not None and (
            isinstance(line_names, str) or not isinstance(line_names, Mapping | Sequence)
        ):
            raise InvalidSettingError(
                f"line_names must be a mapping {{offset: name}} or a list of names, "
                f"not {line_names!r}: e.g. line_names=['BUTTON', 'LED']"
            )
        if hogs is not None and not isinstance(hogs, Mapping):
            raise InvalidSettingError(
                f"hogs must be a mapping {{offset: (name, direction)}}, not {hogs!r}: "
                "e.g. hogs={0: ('reset', 'output-high')}"
            )
        names: dict[int, str] = {}
        if line_names is not None:
            items = line_names.items() if isinstance(line_names, Mapping) else enumerate(line_names)
            for offset, name in items:
                if name is None:
                    continue
                self._check_offset(offset, num_lines, f"line name {name!r}")
                names[offset] = validate_line_name(name)
        hog_list: list[tuple[int, str, HogDirection]] = []
        for offset, spec in (hogs or {}).items():
            self._check_offset(offset, num_lines, "hog")
            if not (isinstance(spec, tuple) and len(spec) == 2):
                raise InvalidSettingError(
                    f"hog at offset {offset} must be (name, direction), not {spec!r}"
                )
            consumer, direction = spec
            validate_line_name(consumer, "hog name")
            if direction not in _HOG_DIRECTIONS:
                raise InvalidSettingError(
                    f"hog direction {direction!r} at offset {offset} is not valid: "
                    f"use one of {', '.join(_HOG_DIRECTIONS)}"
                )
            hog_list.append((offset, consumer, direction))
        object.__setattr__(self, "num_lines", num_lines)
        object.__setattr__(self, "label", label)
        object.__setattr__(self, "line_names", tuple(sorted(names.items())))
        object.__setattr__(self, "hogs", tuple(sorted(hog_list)))

    @staticmethod
    def _check_offset(offset: object, num_lines: int, what: str) -> None:
        if isinstance(offset, bool) or not isinstance(offset, int):
            raise PinIndexError(f"{what} has offset {offset!r}: offsets are whole numbers")
        if not 0 <= offset < num_lines:
            raise PinIndexError(
                f"{what} at offset {offset} is out of range: the bank has lines "
                f"0..{num_lines - 1} (raise num_lines)"
            )
