"""The self-test of a bench rig's jumpers (:func:`run_self_test`).

Toggle the driving end of each jumper and watch every far end: a jumper whose far end
does not follow is loose or missing, one whose change shows up on another jumper's far
end is swapped with it, one that changes two is shorted. The algorithm is pure (the
caller drives and senses), so it is tested without lines;
:meth:`gpiosim.pi.PiHarness.self_test` runs it on the real lines.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Sequence
from typing import final

from gpiosim._errors import RigCheckError

__all__ = ["CheckReport", "JumperResult", "Wire", "run_self_test"]


@final
@dataclasses.dataclass(frozen=True, slots=True)
class Wire:
    """One jumper as the self-test sees it: an end it drives and an end it senses."""

    name: str
    """The jumper's (signal's) name."""
    source: str
    """The driven end, for messages: ``stimulus GPIO5``, or ``GPIO18`` (the program's
    output line, driven by the self-test while the program is not running)."""
    sink: str
    """The sensed end: ``GPIO17`` (the program's input line) or ``probe GPIO6``."""
    pins: tuple[int | None, int | None] = (None, None)
    """Header pins of the two ends, for the hint."""


@final
@dataclasses.dataclass(frozen=True, slots=True)
class JumperResult:
    """The self-test's verdict on one jumper."""

    wire: Wire
    ok: bool
    problem: str = ""
    """What is wrong, naming the jumper and both its ends ("" when ok)."""

    def __str__(self) -> str:
        w = self.wire
        if self.ok:
            return f"jumper {w.name}: {w.source} → {w.sink} ok"
        a, b = w.pins
        hint = f" — check the wire from header pin {a} to pin {b}" if a and b else ""
        return self.problem + hint


@final
@dataclasses.dataclass(frozen=True, slots=True)
class CheckReport:
    """Every jumper's verdict."""

    rig: str
    results: tuple[JumperResult, ...]
    seconds: float = 0.0
    """How long the self-test took."""
    where: str = ""
    """The board and chip it ran on, for the heading."""

    @property
    def ok(self) -> bool:
        """True when every jumper works."""
        return all(r.ok for r in self.results)

    @property
    def failures(self) -> list[JumperResult]:
        """The jumpers that do not work."""
        return [r for r in self.results if not r.ok]

    def raise_if_broken(self) -> CheckReport:
        """Return self if every jumper works.

        Raises:
            RigCheckError: a jumper failed (the message is the whole report).
        """
        if not self.ok:
            raise RigCheckError(str(self), self)
        return self

    def __str__(self) -> str:
        heading = f"rig {self.rig}" + (f" on {self.where}" if self.where else "")
        lines = [heading]
        lines += [f"  {'ok  ' if r.ok else 'FAIL'}  {r}" for r in self.results]
        if self.ok:
            lines.append(f"all {len(self.results)} jumpers work ({self.seconds:.2f} s)")
        else:
            lines.append(
                f"{len(self.failures)} of {len(self.results)} jumpers failed: fix the wiring "
                "(docs/bench-rig.md) and check again"
            )
        return "\n".join(lines)


def run_self_test(
    wires: Sequence[Wire],
    drive: Callable[[int, bool], None],
    sense: Callable[[int], bool],
    *,
    timeout: float = 0.25,
    settle: float = 0.02,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[JumperResult]:
    """Toggle each jumper's driven end and judge it by what every sensed end did.

    Args:
        wires: the jumpers.
        drive: set the driven end of wire ``i`` to a physical level.
        sense: read the sensed end of wire ``i``.
        timeout: seconds to wait for a change to arrive (a real wire takes nanoseconds;
            an emulated one a poll period).
        settle: seconds to let unexpected changes (a swap, a short) show up.
        monotonic, sleep: the time source (replaceable in tests).

    Returns:
        One result per wire, in order.
    """
    count = len(wires)

    def wait(cond: Callable[[], bool]) -> bool:
        deadline = monotonic() + timeout
        while not cond():
            if monotonic() >= deadline:
                return False
            sleep(min(0.001, timeout))
        return True

    for i in range(count):
        drive(i, False)
    wait(lambda: not any(sense(j) for j in range(count)))
    sleep(settle)
    stuck = {j for j in range(count) if sense(j)}
    results = []
    for i, wire in enumerate(wires):
        if i in stuck:
            results.append(
                JumperResult(
                    wire,
                    False,
                    f"jumper {wire.name}: {wire.sink} reads high while {wire.source} is low: "
                    "is it wired to 3V3 or to another output?",
                )
            )
            continue
        before = [sense(j) for j in range(count)]
        drive(i, True)
        rose = wait(functools.partial(sense, i))
        sleep(settle)
        changed = [j for j in range(count) if j != i and j not in stuck and sense(j) != before[j]]
        drive(i, False)
        fell = wait(functools.partial(_reads, sense, {i: False})) if rose else True
        wait(functools.partial(_reads, sense, {j: before[j] for j in changed}))
        results.append(_verdict(wire, rose, fell, [wires[j] for j in changed]))
    return results


def _reads(sense: Callable[[int], bool], expected: dict[int, bool]) -> bool:
    return all(sense(j) == level for j, level in expected.items())


def _verdict(wire: Wire, rose: bool, fell: bool, others: Sequence[Wire]) -> JumperResult:
    head = f"jumper {wire.name}: {wire.source} → {wire.sink}"
    sinks = ", ".join(o.sink for o in others)
    names = " or ".join(o.name for o in others)
    if not rose and others:
        return JumperResult(
            wire, False, f"{head} reads no change; {sinks} changed instead: swapped with {names}?"
        )
    if not rose:
        return JumperResult(wire, False, f"{head} reads no change: the wire is loose or missing")
    if others:
        return JumperResult(
            wire, False, f"{head} works, but {sinks} changed too: a short to {names}?"
        )
    if not fell:
        return JumperResult(
            wire,
            False,
            f"{head} follows high but not back low: is {wire.sink} also wired to 3V3?",
        )
    return JumperResult(wire, True)
