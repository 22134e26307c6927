"""The behaviour every backend shows, as a check a backend author runs against their own.

Each check makes a fresh backend with the factory it is given, drives its lines through
the backend's harness (the outside world: what gpio-sim's ``pull`` attribute does) and
looks at them through gpiocore's public API only (``Pin``, ``Selector``, ``Timer``), as
tests/test_behaviour.py does for the built-in backends. Time is virtual where the
backend's clock is a :class:`~gpiocore.testing.VirtualClock`, real (stretched by
``time_scale``) where it is a real clock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import select
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

from gpiocore._errors import EventOverflowWarning, InvalidSettingError, LineBusyError
from gpiocore._pin import Pin, find_line
from gpiocore._selector import Selector, Timer
from gpiocore._types import Bias, Direction, Edge, EdgeType
from gpiocore.backends._base import Backend, Harness, check_backend
from gpiocore.testing._clock import VirtualClock

__all__ = ["CONFORMANCE_CHECKS", "check_backend_conformance"]

#: The lines used when none are given: the Quick2Wire board's P0 and P1 where the
#: backend names its lines as a Raspberry Pi's header, else offsets 0 and 1.
_DEFAULT_NAMES: Final = ("GPIO17", "GPIO18")


class _Failed(AssertionError):
    pass


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise _Failed(message)


@dataclasses.dataclass
class _Context:
    """What one check works with: a fresh backend, its harness, two lines, and time."""

    backend: Backend
    harness: Harness
    inp: tuple[str, int]
    out: tuple[str, int]
    scale: float
    virtual: VirtualClock | None

    def pin(self, where: tuple[str, int], **settings: Any) -> Pin:
        """An unopened pin on this backend (a ``with`` block opens and closes it)."""
        return Pin(self.backend, where[0], where[1], **settings)

    def drive(self, level: bool) -> None:
        self.harness.drive(self.inp[0], self.inp[1], level)

    def s(self, seconds: float) -> float:
        """A duration as the backend's clock must be given it (stretched on real time)."""
        return seconds * self.scale

    def settle(self) -> None:
        if self.virtual is not None:
            self.virtual.settle()
        else:
            time.sleep(self.s(0.01))

    def sleep(self, seconds: float) -> None:
        if self.virtual is not None:
            self.virtual.advance(seconds)
        else:
            time.sleep(self.s(seconds))

    def now_ns(self) -> int:
        return self.backend.clock.monotonic_ns()


# -- the checks (each named for what a backend must do) --------------------------------


def _chips_describe_the_lines(c: _Context) -> None:
    names = [chip.name for chip in c.backend.chips()]
    _expect(c.backend.default_chip() in names, f"default_chip() is not one of chips() {names}")
    for chip, offset in (c.inp, c.out):
        info = next((i for i in c.backend.chips() if i.name == chip), None)
        _expect(info is not None, f"chip {chip!r} is not in chips()")
        assert info is not None
        _expect(offset < info.num_lines, f"{chip} has no line {offset}")


def _input_reads_what_the_harness_drives(c: _Context) -> None:
    with c.pin(c.inp, direction=Direction.IN) as button:
        c.drive(True)
        c.settle()
        _expect(button.value == 1, "an input driven high reads 0")
        c.drive(False)
        c.settle()
        _expect(button.value == 0, "an input driven low reads 1")


def _output_drives_the_line(c: _Context) -> None:
    with c.pin(c.out, direction=Direction.OUT) as led:
        _expect(c.harness.level(*c.out) is False, "a new output is not low")
        led.value = 1
        _expect(c.harness.level(*c.out) is True, "value = 1 does not drive the line high")
        _expect(led.value == 1, "an output does not read back what it drives")
        led.value = 0
        _expect(c.harness.level(*c.out) is False, "value = 0 does not drive the line low")


def _a_released_line_falls_back_to_its_pull(c: _Context) -> None:
    with c.pin(c.out, direction=Direction.OUT, value=1):
        _expect(c.harness.level(*c.out) is True, "value=1 at request does not drive high")
        _expect(c.harness.requested(*c.out), "the harness does not see the request")
    _expect(c.harness.level(*c.out) is False, "a released line does not fall back to its pull")
    _expect(not c.harness.requested(*c.out), "a closed pin still holds its line")


def _edges_come_in_order_with_seqnos_and_timestamps(c: _Context) -> None:
    with c.pin(c.inp, direction=Direction.IN, interrupt=Edge.BOTH) as button:
        t0 = c.now_ns()
        for level in (True, False, True, False):
            c.drive(level)
            c.sleep(0.002)
        c.settle()
        t1 = c.now_ns()
        edges = button.edges()
    kinds = [e.type for e in edges]
    _expect(
        kinds == [EdgeType.RISING, EdgeType.FALLING] * 2, f"edges {kinds}, not rising/falling x2"
    )
    _expect([e.line_seqno for e in edges] == [1, 2, 3, 4], "line_seqno is not 1, 2, 3, 4")
    _expect([e.global_seqno for e in edges] == [1, 2, 3, 4], "global_seqno is not 1, 2, 3, 4")
    _expect(all(e.offset == c.inp[1] for e in edges), "an edge names another offset")
    stamps = [e.timestamp_ns for e in edges]
    _expect(stamps == sorted(stamps), f"timestamps go backwards: {stamps}")
    _expect(t0 <= stamps[0] and stamps[-1] <= t1, "timestamps are not on the backend's clock")


def _rising_and_falling_report_only_their_edge(c: _Context) -> None:
    for edge, wanted in ((Edge.RISING, EdgeType.RISING), (Edge.FALLING, EdgeType.FALLING)):
        with c.pin(c.inp, direction=Direction.IN, interrupt=edge) as button:
            c.drive(True)
            c.sleep(0.002)
            c.drive(False)
            c.settle()
            kinds = [e.type for e in button.edges()]
            _expect(kinds == [wanted], f"interrupt={edge.name} reported {kinds}")


def _no_edges_without_interrupt(c: _Context) -> None:
    with c.pin(c.inp, direction=Direction.IN) as button:
        c.drive(True)
        c.settle()
        _expect(button.edges() == [], "edges reported without interrupt")
        poll = select.poll()
        poll.register(button.fileno(), select.POLLIN)
        _expect(poll.poll(0) == [], "the fd is readable without interrupt")


def _active_low_swaps_values_and_edges(c: _Context) -> None:
    with c.pin(c.inp, direction=Direction.IN, interrupt=Edge.BOTH, active_low=True) as button:
        _expect(button.value == 1, "an active-low input pulled down does not read 1")
        c.drive(True)
        c.settle()
        _expect(button.value == 0, "an active-low input driven high does not read 0")
        kinds = [e.type for e in button.edges()]
        _expect(kinds == [EdgeType.FALLING], f"active-low rising line reported {kinds}")
    with c.pin(c.out, direction=Direction.OUT, active_low=True) as led:
        _expect(c.harness.level(*c.out) is True, "active-low value 0 is not physically high")
        led.value = 1
        _expect(c.harness.level(*c.out) is False, "active-low value 1 is not physically low")


def _bias_sets_the_lines_pull(c: _Context) -> None:
    with c.pin(c.inp, direction=Direction.IN, pull=Bias.PULL_UP) as button:
        _expect(button.value == 1, "pull=PullUp does not read 1")
        _expect(c.harness.level(*c.inp) is True, "pull=PullUp does not raise the line")
        c.drive(False)
        _expect(button.value == 0, "the outside world cannot pull a pulled-up line low")
    with c.pin(c.inp, direction=Direction.IN, pull=Bias.PULL_DOWN) as button:
        _expect(button.value == 0, "pull=PullDown does not read 0")


def _debounce_reports_one_edge_after_a_bounce(c: _Context) -> None:
    settings = {"direction": Direction.IN, "interrupt": Edge.BOTH, "debounce": c.s(0.02)}
    with c.pin(c.inp, **settings) as button:
        for level in (True, False, True, False, True, False, True):
            c.drive(level)
            c.sleep(0.001)
        _expect(button.value == 0, "the debounced level changed before the period passed")
        c.sleep(0.02 * 3)
        edges = button.edges()
        kinds = [e.type for e in edges]
        _expect(kinds == [EdgeType.RISING], f"a bounce then high reported {kinds}")
        _expect(edges[0].line_seqno == 1, "the debounced edge's line_seqno is not 1")
        _expect(button.value == 1, "the debounced level is not high")
        c.drive(False)
        c.sleep(0.02 * 3)
        kinds = [e.type for e in button.edges()]
        _expect(kinds == [EdgeType.FALLING], f"a clean fall reported {kinds}")


def _debounce_swallows_a_glitch(c: _Context) -> None:
    settings = {"direction": Direction.IN, "interrupt": Edge.BOTH, "debounce": c.s(0.02)}
    with c.pin(c.inp, **settings) as button:
        c.drive(True)
        c.sleep(0.002)
        c.drive(False)
        c.sleep(0.02 * 3)
        _expect(button.edges() == [], "a glitch shorter than the period was reported")
        _expect(button.value == 0, "a glitch changed the debounced level")


def _overflow_drops_the_oldest_and_leaves_a_gap(c: _Context) -> None:
    settings = {"direction": Direction.IN, "interrupt": Edge.BOTH, "event_buffer_size": 4}
    with c.pin(c.inp, **settings) as button:
        for i in range(20):
            c.drive(i % 2 == 0)
            c.sleep(0.001)
        c.settle()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            edges = button.edges()
        lost = [w for w in caught if issubclass(w.category, EventOverflowWarning)]
        _expect(bool(lost), "no EventOverflowWarning for 16 lost edges")
        seqnos = [e.line_seqno for e in edges]
        _expect(seqnos == [17, 18, 19, 20], f"kept line_seqno {seqnos}, not the newest 4")
        _expect(button.lost_edges == 16, f"lost_edges is {button.lost_edges}, not 16")


def _a_held_line_is_busy(c: _Context) -> None:
    with c.pin(c.inp, direction=Direction.IN):
        other = Pin(c.backend, c.inp[0], c.inp[1], direction=Direction.IN)
        try:
            other.open()
        except LineBusyError:
            pass
        else:
            other.close()
            raise _Failed("a second request of a held line did not raise LineBusyError")
        _expect(other.closed, "a refused request left its pin open")


def _reconfigure_while_open(c: _Context) -> None:
    with c.pin(c.inp, direction=Direction.IN) as pin:
        pin.interrupt = Edge.BOTH
        c.drive(True)
        c.settle()
        kinds = [e.type for e in pin.edges()]
        _expect(kinds == [EdgeType.RISING], f"edges after enabling interrupt: {kinds}")
        pin.interrupt = None
        pin.direction = Direction.OUT
        pin.value = 0
        _expect(c.harness.level(*c.inp) is False, "an input turned output does not drive")
        pin.direction = Direction.IN
        c.drive(True)
        c.settle()
        _expect(pin.value == 1, "an output turned input does not read the line")


def _the_fd_works_with_edge_triggered_epoll(c: _Context) -> None:
    with c.pin(c.inp, direction=Direction.IN, interrupt=Edge.BOTH) as button:
        epoll = select.epoll()
        try:
            epoll.register(button, select.EPOLLIN | select.EPOLLET)
            _expect(epoll.poll(0) == [], "the fd is readable before any edge")
            c.drive(True)
            c.settle()
            got = epoll.poll(c.s(1))
            _expect(got == [(button.fileno(), select.EPOLLIN)], f"epoll saw {got} after an edge")
            _expect(epoll.poll(0) == [], "edge-triggered epoll reported the edge twice")
            _expect(button.value == 1, "the input does not read high")
        finally:
            epoll.close()


def _a_selector_reports_and_drains_a_pin(c: _Context) -> None:
    with (
        c.pin(c.inp, direction=Direction.IN, interrupt=Edge.BOTH) as button,
        Selector(backend=c.backend) as selector,
    ):
        selector.add(button, identifier="button")
        selector.wait(timeout=0)
        _expect(selector.ready is None, "the selector reported a pin with no edge")
        c.drive(True)
        c.settle()
        selector.wait(timeout=c.s(1))
        _expect(selector.ready == "button" and selector.has_input, "the edge was not reported")
        selector.wait(timeout=0)
        _expect(selector.ready is None, "a drained pin was reported again")
        kinds = [e.type for e in button.edges()]
        _expect(kinds == [EdgeType.RISING], f"the selector's pin has edges {kinds}")


def _a_one_shot_timer_fires_once_never_early(c: _Context) -> None:
    offset = c.s(0.05)
    with Timer(offset=offset, backend=c.backend) as timer, Selector(backend=c.backend) as sel:
        sel.add(timer)
        start = c.now_ns()
        timer.start()
        sel.wait(timeout=c.s(5))
        elapsed = (c.now_ns() - start) / 1e9
        _expect(sel.ready is timer, "the timer did not fire within 100 times its offset")
        _expect(timer.wait() == 1, "a one-shot timer counted more than one expiry")
        _expect(elapsed >= offset, f"the timer fired after {elapsed} s, before {offset} s")
        sel.wait(timeout=c.s(0.1))
        _expect(sel.ready is None, "a one-shot timer fired twice")


def _an_interval_timer_counts_expirations(c: _Context) -> None:
    with Timer(interval=c.s(0.02), backend=c.backend) as timer:
        timer.start()
        c.sleep(0.02 * 5 + 0.01)
        count = timer.wait()
        if c.virtual is not None:
            _expect(count == 5, f"{count} expirations in 5.5 intervals of virtual time")
        else:
            _expect(count >= 3, f"only {count} expirations in 5.5 intervals")
        timer.stop()
        c.sleep(0.05)
        _expect(not timer.running, "a stopped timer still runs")


def _a_new_offset_rearms_a_running_timer(c: _Context) -> None:
    with (
        Timer(offset=c.s(10), backend=c.backend) as timer,
        Selector(backend=c.backend) as selector,
    ):
        selector.add(timer)
        timer.start()
        timer.offset = c.s(0.03)
        selector.wait(timeout=c.s(5))
        _expect(selector.ready is timer, "setting offset did not re-arm the running timer")


_CHECKS: Final[tuple[Callable[[_Context], None], ...]] = (
    _chips_describe_the_lines,
    _input_reads_what_the_harness_drives,
    _output_drives_the_line,
    _a_released_line_falls_back_to_its_pull,
    _edges_come_in_order_with_seqnos_and_timestamps,
    _rising_and_falling_report_only_their_edge,
    _no_edges_without_interrupt,
    _active_low_swaps_values_and_edges,
    _bias_sets_the_lines_pull,
    _debounce_reports_one_edge_after_a_bounce,
    _debounce_swallows_a_glitch,
    _overflow_drops_the_oldest_and_leaves_a_gap,
    _a_held_line_is_busy,
    _reconfigure_while_open,
    _the_fd_works_with_edge_triggered_epoll,
    _a_selector_reports_and_drains_a_pin,
    _a_one_shot_timer_fires_once_never_early,
    _an_interval_timer_counts_expirations,
    _a_new_offset_rearms_a_running_timer,
)

CONFORMANCE_CHECKS: Final[tuple[str, ...]] = tuple(f.__name__.lstrip("_") for f in _CHECKS)
"""The names of the checks :func:`check_backend_conformance` runs, in order."""


def _lines(backend: Backend, lines: Sequence[tuple[str, int]] | None) -> list[tuple[str, int]]:
    if lines is not None:
        found = [(str(chip), int(offset)) for chip, offset in lines]
        if len(found) != 2 or found[0] == found[1]:
            raise InvalidSettingError(
                f"lines must be two different (chip, offset) pairs, an input and an output, "
                f"not {lines!r}"
            )
        return found
    try:
        return [find_line(backend, name) for name in _DEFAULT_NAMES]
    except LookupError:
        chip = backend.default_chip()
        return [(chip, 0), (chip, 1)]


@contextlib.contextmanager
def _context(
    factory: Callable[[], Backend], lines: Sequence[tuple[str, int]] | None, scale: float
) -> Iterator[_Context]:
    backend = check_backend(factory(), "check_backend_conformance(factory)")
    try:
        harness = backend.harness
        if harness is None:
            raise InvalidSettingError(
                f"backend {backend.name!r} has no harness: the conformance check drives "
                "inputs from outside, so run it on a backend that has one (a simulated "
                "chip, or a rig whose lines are wired together)"
            )
        clock = backend.clock
        virtual = clock if isinstance(clock, VirtualClock) else None
        if clock.virtual and virtual is None:
            raise InvalidSettingError(
                f"backend {backend.name!r} has a virtual clock that is not "
                "gpiocore.testing.VirtualClock: the check cannot move its time"
            )
        inp, out = _lines(backend, lines)
        ctx = _Context(backend, harness, inp, out, 1.0 if virtual else scale, virtual)
        with virtual.hold() if virtual is not None else contextlib.nullcontext():
            yield ctx
    finally:
        backend.close()


def check_backend_conformance(
    factory: Callable[[], Backend],
    *,
    lines: Sequence[tuple[str, int]] | None = None,
    time_scale: float = 1.0,
    only: Sequence[str] | None = None,
) -> list[str]:
    """Run the behaviour every gpiocore backend shows against the backends ``factory`` makes.

    Each check gets a new backend from ``factory()`` and closes it after. The backend
    needs a harness (``backend.harness``) to drive its input line from outside and read
    its output line.

    Args:
        factory: makes a backend, e.g. ``lambda: load_backend("mine")`` or the class.
        lines: the ``(chip, offset)`` of an input line and of an output line (default:
            ``GPIO17`` and ``GPIO18`` where the backend has those names, else offsets 0
            and 1 of its default chip).
        time_scale: how much longer each duration lasts on a real-time backend (a slow
            machine needs more than 1); ignored on a virtual clock.
        only: run just these checks (names from :data:`CONFORMANCE_CHECKS`).

    Returns:
        The names of the checks that ran, all of which passed.

    Raises:
        AssertionError: one or more checks failed; the message names each one and what
            the backend did wrong.
        InvalidSettingError: the arguments, or a backend without a harness.
    """
    if not callable(factory):
        raise InvalidSettingError(
            f"factory must be a callable that makes a backend, not {factory!r}: pass e.g. "
            f"lambda: load_backend({factory!r})"
            if isinstance(factory, str)
            else f"factory must be a callable that makes a backend, not {factory!r}"
        )
    if isinstance(time_scale, bool) or not isinstance(time_scale, int | float):
        raise InvalidSettingError(f"time_scale must be a positive number, not {time_scale!r}")
    if not 0 < time_scale < 1e6:
        raise InvalidSettingError(f"time_scale must be a positive number, not {time_scale!r}")
    if isinstance(only, str):
        raise InvalidSettingError(f"only must be a list of check names, not the string {only!r}")
    chosen = list(CONFORMANCE_CHECKS if only is None else only)
    unknown = sorted(set(chosen) - set(CONFORMANCE_CHECKS))
    if unknown:
        raise InvalidSettingError(
            f"no conformance check named {unknown}: choose from {list(CONFORMANCE_CHECKS)}"
        )
    failures = []
    ran = []
    name = "?"
    for check in _CHECKS:
        title = check.__name__.lstrip("_")
        if title not in chosen:
            continue
        with _context(factory, lines, float(time_scale)) as ctx:
            name = ctx.backend.name
            try:
                check(ctx)
            except AssertionError as exc:  # ours, or a failed assert in the backend
                failures.append(f"{title}: {exc}")
            except Exception as exc:  # a backend that raises where it must not
                failures.append(f"{title}: raised {type(exc).__name__}: {exc}")
        ran.append(title)
    if failures:
        raise AssertionError(
            f"backend {name!r} failed {len(failures)} of {len(ran)} conformance checks:\n  "
            + "\n  ".join(failures)
        )
    return ran
