"""What a rig names and records: :class:`Signal` (a program's line, its role and polarity),
:class:`Transition` (one change on the record) and :class:`Mark` (a section of it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Literal

from gpiocore import InvalidSettingError

__all__ = [
    "Mark",
    "Signal",
    "Transition",
]


Role = Literal["input", "output"]
Source = Literal["drive", "observe"]


@dataclasses.dataclass(frozen=True, slots=True)
class Signal:
    """A named line of the program under test, as the rig sees it.

    Args:
        name: what tests call it (``"button"``).
        line: the line's name (``"GPIO17"``) or offset on ``chip``.
        role: ``"input"`` of the program (the rig drives it) or ``"output"`` (observed).
        active_low: True when the signal is active at a low level (a button to ground).
        chip: the chip (default: the backend's default chip).
    """

    name: str
    line: str | int
    role: Role
    active_low: bool = False
    chip: str | None = None

    def __post_init__(self) -> None:
        name = self.name
        # Names become VCD variables and report rows: no whitespace or control characters.
        if not isinstance(name, str) or not name.isprintable() or name.split() != [name]:
            raise InvalidSettingError(
                f"a signal name must be a non-empty word without spaces, not {name!r}: "
                "e.g. 'button'"
            )
        line = self.line
        if isinstance(line, bool) or not isinstance(line, str | int) or line == "":
            raise InvalidSettingError(
                f"signal {name!r}: line must be a line name such as 'GPIO17' or an offset, "
                f"not {line!r}"
            )
        if isinstance(line, int) and line < 0:
            raise InvalidSettingError(f"signal {name!r}: line offset {line} is negative")
        if self.role not in ("input", "output"):
            raise InvalidSettingError(
                f"signal {name!r}: role must be 'input' or 'output', not {self.role!r}"
            )
        if not isinstance(self.active_low, bool):
            raise InvalidSettingError(
                f"signal {name!r}: active_low must be True or False, not {self.active_low!r}"
            )
        if self.chip is not None and (not isinstance(self.chip, str) or not self.chip):
            raise InvalidSettingError(
                f"signal {name!r}: chip must be a chip name such as 'gpiochip0' or None, "
                f"not {self.chip!r}"
            )


@dataclasses.dataclass(frozen=True, slots=True)
class Transition:
    """One recorded change of a signal's logical level."""

    t_ns: int
    """Time since the rig started, in test nanoseconds (the backend's divided by the
    rig's scale on real time; exact on the fake)."""
    signal: str
    level: bool
    """The signal's logical level after the change (polarity applied)."""
    source: Source
    """``drive`` for what the rig did, ``observe`` for what it saw."""

    @property
    def t(self) -> float:
        """The time in test seconds."""
        return self.t_ns / 1e9


@dataclasses.dataclass(frozen=True, slots=True)
class Mark:
    """Where a section of a rig's record begins (see :meth:`Rig.mark`)."""

    t_ns: int
    """When, in test nanoseconds since the rig started."""
    label: str
    """What begins here (``"program ready"``, ``"example 3"``)."""
    levels: Mapping[str, bool]
    """Each signal's logical level at the mark."""
    index: int
    """How many transitions were recorded before it."""

    @property
    def t(self) -> float:
        """The time in test seconds."""
        return self.t_ns / 1e9


def make_signals(spec: Mapping[str, tuple[str | int, Role]] | Sequence[Signal]) -> list[Signal]:
    """Signals from ``{"button": ("GPIO17", "input"), ...}`` or a list of :class:`Signal`."""
    if isinstance(spec, Mapping):
        found = []
        for name, pair in spec.items():
            if not (isinstance(pair, tuple) and len(pair) == 2):
                raise InvalidSettingError(
                    f"signal {name!r} must be given as (line, role), not {pair!r}: "
                    "e.g. {'button': ('GPIO17', 'input')}"
                )
            found.append(Signal(name, pair[0], pair[1]))
        return found
    if isinstance(spec, str) or not isinstance(spec, Sequence):
        raise InvalidSettingError(
            f"signals must be a mapping {{name: (line, role)}} or a list of Signal, not {spec!r}"
        )
    for sig in spec:
        if not isinstance(sig, Signal):
            raise InvalidSettingError(f"signals must be gpiosim Signal objects, not {sig!r}")
    return list(spec)
