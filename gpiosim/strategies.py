"""Hypothesis strategies for edge sequences: presses, dwell times, bounce, glitches.

A sequence is a list of :class:`Step`. Durations are in seconds *before* scaling: a
rig stretches them on real-time backends (``Rig(scale=...)``), so the same strategy
gives short, safe sequences everywhere.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

from hypothesis import strategies as st

from gpiocore._errors import InvalidSettingError

__all__ = ["Step", "edge_sequences", "timed_led_steps"]

Kind = Literal["press", "release", "bounce", "glitch", "wait"]


@dataclasses.dataclass(frozen=True)
class Step:
    """One thing done to an input.

    ``press``/``release`` set the level; ``bounce`` is a burst of ``toggles`` changes
    ``gap`` apart ending at ``level``; ``glitch`` is a pulse of ``width`` away from the
    current level and back; ``wait`` lets ``duration`` pass.
    """

    kind: Kind
    duration: float = 0.0
    level: bool = True
    toggles: int = 0
    gap: float = 0.0
    width: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise InvalidSettingError(
                f"step kind must be one of {', '.join(_KINDS)}, not {self.kind!r}"
            )
        _check(duration=self.duration, gap=self.gap, width=self.width)
        _check_count("toggles", self.toggles, 0)

    def __str__(self) -> str:
        if self.kind == "wait":
            return f"wait {self.duration:g} s"
        if self.kind == "bounce":
            return f"bounce x{self.toggles} ({self.gap * 1e3:g} ms) to {int(self.level)}"
        if self.kind == "glitch":
            return f"glitch {self.width * 1e3:g} ms"
        return self.kind


def _check(**values: float) -> None:
    for name, value in values.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 <= value < math.inf
        ):
            raise InvalidSettingError(f"{name} must be a finite number >= 0, not {value!r}")


def _check_range(name: str, bounds: object) -> tuple[float, float]:
    if not (isinstance(bounds, tuple) and len(bounds) == 2):
        raise InvalidSettingError(f"{name} must be a (low, high) pair of seconds, not {bounds!r}")
    low, high = bounds
    _check(**{f"{name}[0]": low, f"{name}[1]": high})
    if low > high:
        raise InvalidSettingError(f"{name} must be (low, high) with low <= high, not {bounds!r}")
    return low, high


def _check_count(name: str, value: object, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise InvalidSettingError(f"{name} must be a whole number >= {least}, not {value!r}")
    return value


_KINDS = ("press", "release", "bounce", "glitch", "wait")


def edge_sequences(
    *,
    min_steps: int = 1,
    max_steps: int = 12,
    min_dwell: float = 0.005,
    max_dwell: float = 0.5,
    bounce: bool = True,
    max_toggles: int = 7,
    bounce_gap: tuple[float, float] = (0.0005, 0.003),
    glitch_width: tuple[float, float] | None = None,
) -> st.SearchStrategy[list[Step]]:
    """Sequences of presses and releases with dwell times, bounce bursts and glitches.

    Args:
        min_steps: fewest level changes.
        max_steps: most level changes.
        min_dwell: shortest wait after a change (seconds).
        max_dwell: longest wait after a change.
        bounce: include bounce bursts.
        max_toggles: most changes in one burst.
        bounce_gap: range of the time between changes in a burst.
        glitch_width: range of glitch widths (e.g. below a debounce period); None: no
            glitches.

    Raises:
        InvalidSettingError: a bound is negative or the ranges are inverted.
    """
    _check(min_dwell=min_dwell, max_dwell=max_dwell)
    _check_count("min_steps", min_steps, 0)
    _check_count("max_steps", max_steps, 0)
    _check_count("max_toggles", max_toggles, 2)  # a burst is at least two changes
    bounce_gap = _check_range("bounce_gap", bounce_gap)
    if glitch_width is not None:
        glitch_width = _check_range("glitch_width", glitch_width)
    if max_steps < min_steps or max_dwell < min_dwell:
        raise InvalidSettingError(
            f"edge_sequences: need 0 <= min_steps <= max_steps and min_dwell <= max_dwell, "
            f"got steps {min_steps}..{max_steps}, dwell {min_dwell}..{max_dwell}"
        )
    dwell = st.floats(min_dwell, max_dwell, allow_nan=False).map(lambda d: round(d, 4))
    change: list[st.SearchStrategy[Step]] = [st.just(Step("press")), st.just(Step("release"))]
    if bounce:
        change.append(
            st.builds(
                lambda toggles, gap, level: Step(
                    "bounce", level=level, toggles=toggles, gap=round(gap, 4)
                ),
                st.integers(2, max_toggles),
                st.floats(*bounce_gap),
                st.booleans(),
            )
        )
    if glitch_width is not None:
        change.append(st.floats(*glitch_width).map(lambda w: Step("glitch", width=round(w, 4))))
    pair = st.tuples(st.one_of(change), dwell).map(lambda p: [p[0], Step("wait", p[1])])
    return st.lists(pair, min_size=min_steps, max_size=max_steps).map(
        lambda pairs: [step for p in pairs for step in p]
    )


def timed_led_steps(
    offset: float, *, near: float = 0.02, max_wait: float | None = None
) -> st.SearchStrategy[float]:
    """Waits for the timed program: random ones, and ones that land near its deadline.

    Args:
        offset: the program's timer offset.
        near: how close to the deadline the near ones land (either side).
        max_wait: the longest random wait (default: 1.5 offsets).
    """
    _check(offset=offset, near=near)
    if offset == 0:
        raise InvalidSettingError("offset must be above 0: the program's timer needs one")
    if max_wait is not None:
        _check(max_wait=max_wait)
        if max_wait < 0.01:
            raise InvalidSettingError(f"max_wait must be 0.01 s or more, not {max_wait!r}")
    longest = 1.5 * offset if max_wait is None else max_wait
    return st.one_of(
        st.floats(0.01, longest).map(lambda d: round(d, 3)),
        st.floats(-near, near).map(lambda d: round(max(offset + d, 0.001), 4)),
        st.just(offset),
    )
