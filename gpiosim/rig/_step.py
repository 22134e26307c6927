"""One thing done to an input (:class:`Step`): what a rig plays and the strategies generate.

Public from :mod:`gpiosim.strategies`; here, below the rig, so that the rig takes steps
without importing hypothesis.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

from gpiocore import InvalidSettingError

__all__ = ["Kind", "Step", "check_count", "check_seconds", "seconds_text"]

Kind = Literal["press", "release", "bounce", "glitch", "wait"]

#: ``level`` not given: a press ends high, a release low; others have no level of their own.
_UNSET: Any = None


def seconds_text(value: float) -> str:
    """A duration as people read it: ``1 ms`` below 10 ms, else ``0.12 s``."""
    if value and value < 0.01:
        return f"{value * 1e3:g} ms"
    return f"{value:g} s"


@dataclasses.dataclass(frozen=True)
class Step:
    """One thing done to an input.

    ``press`` makes it active (high, logically) and ``release`` inactive; ``bounce`` is
    a burst of ``toggles`` drives ``gap`` apart that ends at ``level`` (the drives
    alternate, so an odd count from the other level is ``toggles`` changes);
    ``glitch`` is a pulse of ``width`` away from the current level and back; ``wait``
    lets ``duration`` pass. ``level`` is where the step leaves the input: ``True`` for a
    press, ``False`` for a release (either may be left out), required for a bounce.

    Raises:
        InvalidSettingError: an unknown kind, a negative or infinite duration, a
            ``level`` that contradicts the kind, or a bounce without one.
    """

    kind: Kind
    duration: float = 0.0
    level: bool = _UNSET
    toggles: int = 0
    gap: float = 0.0
    width: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise InvalidSettingError(
                f"step kind must be one of {', '.join(_KINDS)}, not {self.kind!r}"
            )
        check_seconds(duration=self.duration, gap=self.gap, width=self.width)
        check_count("toggles", self.toggles, 0)
        level = self.level
        if level is not None and not isinstance(level, bool):
            raise InvalidSettingError(
                f"a step's level must be True (high) or False (low), not {level!r}"
            )
        if self.kind in ("press", "release"):
            ends = self.kind == "press"
            if level is not None and level is not ends:
                raise InvalidSettingError(
                    f"a {self.kind} ends {'high' if ends else 'low'}, so level={level!r} "
                    f"contradicts it: use Step({'release' if ends else 'press'!r}) for a "
                    f"change that ends {'low' if ends else 'high'}"
                )
            level = ends
        elif self.kind == "bounce" and level is None:
            raise InvalidSettingError(
                "a bounce needs the level it ends at: Step('bounce', level=True, "
                "toggles=5, gap=0.001) ends high"
            )
        object.__setattr__(self, "level", bool(level))

    def __str__(self) -> str:
        if self.kind == "wait":
            return f"wait {seconds_text(self.duration)}"
        if self.kind == "bounce":
            return (
                f"bounce ×{self.toggles} ({seconds_text(self.gap)}) → "  # noqa: RUF001
                f"{'high' if self.level else 'low'}"
            )
        if self.kind == "glitch":
            return f"glitch {seconds_text(self.width)}"
        return self.kind

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        # hypothesis prints a dataclass field by field unless it says how
        p.text(repr(self))



def check_seconds(**values: float) -> None:
    """Refuse any value that is not a finite number of seconds >= 0 (naming it).

    Raises:
        InvalidSettingError: a bool, a non-number, a negative or an infinite value.
    """
    for name, value in values.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 <= value < math.inf
        ):
            raise InvalidSettingError(f"{name} must be a finite number >= 0, not {value!r}")


def check_count(name: str, value: object, least: int) -> int:
    """``value`` if it is a whole number >= ``least``.

    Raises:
        InvalidSettingError: it is not (the message names ``name``).
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise InvalidSettingError(f"{name} must be a whole number >= {least}, not {value!r}")
    return value


_KINDS = ("press", "release", "bounce", "glitch", "wait")
