"""Hypothesis strategies for edge sequences: presses, dwell times, bounce, glitches.

A sequence is a list of :class:`Step`, read as a timeline: every step of
:func:`edge_sequences` changes the input's level (a ``press``, a ``release``, a
``bounce`` burst that ends at the other level) or, with ``glitch_width``, pulses it
away and back (a ``glitch``), and the ``wait`` after each step is how long the input
then stays put. Its repr reads the same way::

    [press, release 0.12 s later, bounce ×5 (1 ms) → high 0.04 s later, wait 0.3 s]

Durations are in seconds *before* scaling: a rig stretches them on real-time backends
(``Rig(scale=...)``), so the same strategy gives short, safe sequences everywhere.
"""  # noqa: RUF002

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from gpiocore import InvalidSettingError
from gpiosim.rig._step import Step, check_count, check_seconds, seconds_text

__all__ = ["Step", "edge_sequences", "timed_led_steps"]


class _Timeline(list[Step]):
    """The steps :func:`edge_sequences` makes: a list whose repr reads as a timeline,
    each wait folded into the step after it (``release 0.12 s later``)."""

    def __repr__(self) -> str:
        words: list[str] = []
        pending: float | None = None
        for step in self:
            if step.kind == "wait":
                pending = step.duration + (pending or 0.0)
                continue
            words.append(str(step) if pending is None else f"{step} {seconds_text(pending)} later")
            pending = None
        if pending is not None:
            words.append(f"wait {seconds_text(pending)}")
        return f"[{', '.join(words)}]"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))



def _check_range(name: str, bounds: object) -> tuple[float, float]:
    if not (isinstance(bounds, tuple) and len(bounds) == 2):
        raise InvalidSettingError(f"{name} must be a (low, high) pair of seconds, not {bounds!r}")
    low, high = bounds
    check_seconds(**{f"{name}[0]": low, f"{name}[1]": high})
    if low > high:
        raise InvalidSettingError(f"{name} must be (low, high) with low <= high, not {bounds!r}")
    return low, high




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
    initial: bool = False,
) -> st.SearchStrategy[list[Step]]:
    """Sequences of level changes with dwell times, bounce bursts and glitches.

    Every step changes the input's level, starting from ``initial`` (released): from
    low a ``press`` or a ``bounce`` that ends high, from high a ``release`` or a
    ``bounce`` that ends low; with ``glitch_width``, a ``glitch`` (a pulse away and
    back) may come instead. A ``wait`` follows each step (it is not counted). Dwell
    times are spread evenly on a log scale, so short runs of changes (a second press
    while a timer runs) are as likely as long pauses; they shrink toward ``min_dwell``.

    Args:
        min_steps: fewest level changes.
        max_steps: most level changes.
        min_dwell: shortest wait after a change (seconds).
        max_dwell: longest wait after a change.
        bounce: include bounce bursts.
        max_toggles: most drives in one burst (bursts have an odd count, 3 or more).
        bounce_gap: range of the time between changes in a burst.
        glitch_width: range of glitch widths (e.g. below a debounce period); None: no
            glitches.
        initial: the input's level before the sequence (``rig.play`` starts from the
            level the rig last drove, released at first).

    Raises:
        InvalidSettingError: a bound is negative or the ranges are inverted.
    """
    check_seconds(min_dwell=min_dwell, max_dwell=max_dwell)
    check_count("min_steps", min_steps, 0)
    check_count("max_steps", max_steps, 0)
    check_count("max_toggles", max_toggles, 2)  # a burst is at least two changes
    bounce_gap = _check_range("bounce_gap", bounce_gap)
    if glitch_width is not None:
        glitch_width = _check_range("glitch_width", glitch_width)
    if max_steps < min_steps or max_dwell < min_dwell:
        raise InvalidSettingError(
            f"edge_sequences: need 0 <= min_steps <= max_steps and min_dwell <= max_dwell, "
            f"got steps {min_steps}..{max_steps}, dwell {min_dwell}..{max_dwell}"
        )
    if not isinstance(initial, bool):
        raise InvalidSettingError(f"initial must be True or False, not {initial!r}")
    dwell = _dwell(min_dwell, max_dwell)
    # What each step is, before the level it starts from is known.
    change: list[st.SearchStrategy[tuple[object, ...]]] = [st.just(("change",))]
    if bounce and max_toggles >= 3:
        change.append(
            st.tuples(
                st.just("bounce"),
                st.integers(1, (max_toggles - 1) // 2).map(lambda k: 2 * k + 1),
                st.floats(*bounce_gap).map(lambda g: round(g, 4)),
            )
        )
    if glitch_width is not None:
        change.append(
            st.tuples(st.just("glitch"), st.floats(*glitch_width).map(lambda w: round(w, 4)))
        )
    plan = st.lists(
        st.tuples(st.one_of(change), dwell), min_size=min_steps, max_size=max_steps
    )
    return plan.map(lambda items: _timeline(items, initial))


_DWELL_STEPS = 1000


def _dwell(low: float, high: float) -> st.SearchStrategy[float]:
    """Seconds from ``low`` to ``high``: log-uniform where the range spans a decade or
    more, shrinking toward ``low``; rounded to 0.1 ms."""
    if low <= 0 or high < 10 * low:
        return st.floats(low, high, allow_nan=False).map(lambda d: round(d, 4))
    ratio = high / low
    return st.integers(0, _DWELL_STEPS).map(
        lambda i: round(min(high, max(low, low * ratio ** (i / _DWELL_STEPS))), 4)
    )


def _timeline(items: list[tuple[tuple[object, ...], float]], level: bool) -> list[Step]:
    steps = _Timeline()
    for what, dwell in items:
        if what[0] == "glitch":
            steps.append(Step("glitch", width=float(what[1])))  # type: ignore[arg-type]
        elif what[0] == "bounce":
            level = not level
            toggles, gap = what[1], what[2]
            steps.append(Step("bounce", level=level, toggles=toggles, gap=gap))  # type: ignore[arg-type]
        else:
            level = not level
            steps.append(Step("press" if level else "release"))
        steps.append(Step("wait", dwell))
    return steps


def timed_led_steps(
    offset: float, *, near: float = 0.02, max_wait: float | None = None
) -> st.SearchStrategy[float]:
    """Waits for the timed program: random ones, and ones that land near its deadline.

    Args:
        offset: the program's timer offset.
        near: how close to the deadline the near ones land (either side).
        max_wait: the longest random wait (default: 1.5 offsets).
    """
    check_seconds(offset=offset, near=near)
    if offset == 0:
        raise InvalidSettingError("offset must be above 0: the program's timer needs one")
    if max_wait is not None:
        check_seconds(max_wait=max_wait)
        if max_wait < 0.01:
            raise InvalidSettingError(f"max_wait must be 0.01 s or more, not {max_wait!r}")
    longest = 1.5 * offset if max_wait is None else max_wait
    return st.one_of(
        st.floats(0.01, longest).map(lambda d: round(d, 3)),
        st.floats(-near, near).map(lambda d: round(max(offset + d, 0.001), 4)),
        st.just(offset),
    )
