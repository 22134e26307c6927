"""Rigs: one harness interface on every backend.

A rig names the signals of a program under test (``button``, ``led``), drives its inputs
(levels, presses, pulses, bounce bursts), observes its outputs (current level, wait for
a level), and records every transition on every signal, driven and observed, with its
time on the backend's clock. The backend's :class:`~gpiocore.backends.Harness` does the
line work; the rig adds names, polarity, timing and the record:

* fake: the harness reports every physical change as it happens (exact, virtual time);
* sim: the harness drives ``pull`` and reads ``value``; outputs are sampled by a
  background poller (gpio-sim has no events on its simulator side), so recorded
  output times carry up to one poll period of error;
* pi (its own issue): stimulus and probe lines wired to the device under test.

**Durations, one rule.** Everything a test gives the rig or reads from it is in *test
seconds*: ``pulse``, ``bounce``, ``play``, ``sleep``, ``wait_for`` take them, and
``transitions()``, ``elapsed_ns()``, marks and traces report them. On a real-time
backend the rig stretches them by its ``scale`` (4 in the guest) as it waits, and
divides what it measures by the same factor, so a test reads the same on every backend.
The one thing outside the rule is the program under test, which runs on the backend's
own clock: hand it a duration through :meth:`Rig.program_seconds` (``rig.time.s`` is
the same helper, also on the ``gpio_time`` fixture).

**What the rig drives holds.** An input the rig drove keeps that level when the program
requests, reconfigures or releases the line, as a real switch to ground overrides a
pull-up: gpio-sim (and the fake, which models it) moves the line's pull to a request's
bias, so the rig drives it again as soon as the harness reports the request. The
program may see one edge back to the rig's level just after its request.

**Marks.** ``rig.mark()`` starts a new section of the record (an example of a generated
test); ``transitions(since=mark)`` is that section. The rig marks ``"program ready"``
itself when the program has requested every line of the rig's signals, so a failing
test's trace starts there, not at the program's start-up.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from types import MappingProxyType, TracebackType
from typing import final

from gpiocore import InvalidSettingError, LineNotFoundError, find_line
from gpiocore.backends import (
    Backend,
    Harness,
    ListensToLevels,
    ListensToRequests,
    ReportsPull,
    check_backend,
    check_level,
)
from gpiosim.rig._signal import Mark, Signal, Source, Transition
from gpiosim.rig._step import Step
from gpiosim.rig._timing import BackendTime

__all__ = [
    "Rig",
]


@final
class Rig:
    """Drive and observe a program's signals on a backend; record every transition.

    Args:
        backend: the backend whose harness and clock to use.
        signals: the program's signals.
        scale: how much longer a test second lasts on a real-time backend (see the
            module's rule for durations and :class:`BackendTime`); 1 on the fake.
        poll_interval: real seconds between samples of outputs where the harness
            cannot report changes itself (sim).

    Raises:
        InvalidSettingError: the backend has no harness, or two signals share a name.
        LineNotFoundError: a signal's line does not exist.
    """

    def __init__(
        self,
        backend: Backend,
        signals: Iterable[Signal],
        *,
        scale: float = 1.0,
        poll_interval: float = 0.002,
    ) -> None:
        check_backend(backend, "Rig")
        for what, value in (("scale", scale), ("poll_interval", poll_interval)):
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not 0 < value < float("inf")
            ):
                raise InvalidSettingError(f"{what} must be a positive number, not {value!r}")
        if isinstance(signals, str | Signal) or not isinstance(signals, Iterable):
            raise InvalidSettingError(
                f"signals must be a list of gpiosim Signal objects, not {signals!r}"
            )
        signals = list(signals)
        for sig in signals:
            if not isinstance(sig, Signal):
                raise InvalidSettingError(
                    f"signals must be gpiosim Signal objects, not {sig!r}: "
                    "e.g. Signal('button', 'GPIO17', 'input')"
                )
        harness = backend.harness
        if harness is None:
            raise InvalidSettingError(
                f"the {backend.name!r} backend has no harness: give it a rig file (--rig)"
            )
        self.backend = backend
        self.harness: Harness = harness
        self.time = BackendTime(backend, scale=scale)
        self.signals: dict[str, Signal] = {}
        self._where: dict[str, tuple[str, int]] = {}
        for sig in signals:
            if sig.name in self.signals:
                raise InvalidSettingError(f"two signals are named {sig.name!r}: rename one")
            self.signals[sig.name] = sig
            self._where[sig.name] = self._resolve(sig)
        self._by_line = {where: name for name, where in self._where.items()}
        self._lock = threading.Lock()
        self._transitions: list[Transition] = []
        self._last: dict[str, bool] = {}
        self._driving: str | None = None
        self._t0 = 0
        self._poll_interval = poll_interval
        self._poller: threading.Thread | None = None
        self._stop = threading.Event()
        self._listening = False
        self._watching = False
        self._started = False
        self._held: dict[str, bool] = {}  # the physical level the rig drives on each input
        # Where request listeners run in a thread of their own (sim's line-info watcher),
        # a re-drive and a test's drive() must not interleave: a stale re-drive between
        # them would put a false edge on the line.
        self._drive_lock: threading.Lock | contextlib.nullcontext[None] = (
            contextlib.nullcontext()
            if getattr(self.harness, "calls_request_listeners_inline", False)
            else threading.Lock()
        )
        self._marks: list[Mark] = []
        self._all_requested = False

    def __repr__(self) -> str:
        return f"<Rig on {self.backend.name} signals={list(self.signals)}>"

    def _resolve(self, sig: Signal) -> tuple[str, int]:
        if isinstance(sig.line, str):
            return find_line(self.backend, sig.line, sig.chip)
        chip = sig.chip or self.backend.default_chip()
        info = next((c for c in self.backend.chips() if c.name == chip), None)
        if info is None or not 0 <= sig.line < info.num_lines:
            raise LineNotFoundError(f"signal {sig.name!r}: no line {sig.line} on chip {chip!r}")
        return chip, sig.line

    # -- life cycle ---------------------------------------------------------------
    def start(self) -> Rig:
        """Start recording (time 0 is now) and hold the virtual clock for the test."""
        if self._started:
            return self
        self._started = True
        self.time.__enter__()
        self._t0 = self.backend.clock.monotonic_ns()
        for name in self.signals:
            self._last[name] = self._read(name)
        if isinstance(self.harness, ListensToLevels):
            self.harness.add_listener(self._on_change)
            self._listening = True
        elif any(s.role == "output" for s in self.signals.values()):
            self._poller = threading.Thread(target=self._poll, name="rig-poller", daemon=True)
            self._poller.start()
        if isinstance(self.harness, ListensToRequests):
            self.harness.add_request_listener(self._on_request)
            self._watching = True
            self._all_requested = self._lines_requested()
        return self

    def close(self) -> None:
        """Stop recording and release the clock; safe to call twice."""
        if not self._started:
            return
        self._started = False
        if self._watching and isinstance(self.harness, ListensToRequests):
            self.harness.remove_request_listener(self._on_request)
            self._watching = False
        if self._listening and isinstance(self.harness, ListensToLevels):
            self.harness.remove_listener(self._on_change)
            self._listening = False
        if self._poller is not None:
            self._stop.set()
            self._poller.join()
            self._poller = None
        self.time.__exit__(None, None, None)

    def __enter__(self) -> Rig:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- lines --------------------------------------------------------------------
    def where(self, name: str) -> tuple[str, int]:
        """The ``(chip, offset)`` of a signal."""
        self._signal(name)
        return self._where[name]

    def lines(self) -> list[tuple[str, int]]:
        """Every signal's ``(chip, offset)``, e.g. for ``AppRunner.wait_ready``."""
        return list(self._where.values())

    def _signal(self, name: str) -> Signal:
        try:
            return self.signals[name]
        except KeyError:
            raise InvalidSettingError(
                f"the rig has no signal {name!r}: use one of {sorted(self.signals)}"
            ) from None

    def _read(self, name: str) -> bool:
        return self.harness.level(*self._where[name]) ^ self.signals[name].active_low

    def _test_ns(self, backend_ns: int) -> int:
        scale = self.time.scale
        return backend_ns if scale == 1 else round(backend_ns / scale)

    def _now(self) -> int:
        return self._test_ns(self.backend.clock.monotonic_ns() - self._t0)

    def elapsed_ns(self) -> int:
        """Test nanoseconds since the rig started (the record's time base)."""
        return self._now()

    def elapsed(self) -> float:
        """Test seconds since the rig started (the record's time base)."""
        return self._now() / 1e9

    def program_seconds(self, seconds: float) -> float:
        """A duration in test seconds as the program under test must be given it.

        The program runs on the backend's clock: on a real-time backend this is
        ``seconds`` times the rig's scale (a 0.5 s timer is 2 s in the guest), on the
        fake it is ``seconds``. Everything else the rig takes and reports is in test
        seconds already. The same as ``rig.time.s(seconds)``.

        Example:
            >>> app_runner(APP, ["--chime", str(rig.program_seconds(0.3))])  # doctest: +SKIP
        """
        return self.time.s(seconds)

    def _record(self, name: str, level: bool, source: Source, t_ns: int | None = None) -> None:
        with self._lock:
            self._append(name, level, source, t_ns)

    def _append(self, name: str, level: bool, source: Source, t_ns: int | None) -> None:
        # The caller holds self._lock.
        if self._last.get(name) == level:
            return
        self._last[name] = level
        self._transitions.append(
            Transition(self._now() if t_ns is None else t_ns, name, level, source)
        )

    def _sample(self, name: str) -> bool:
        """Read an output and record it, as one step under the lock.

        Two samplers (the poller and a test's ``level()``) must not interleave read
        and record: a level read just before a change and recorded just after it
        would show as a false blip in the record. Only for sampling harnesses: a
        listening one (the fake) calls back under its own lock.
        """
        with self._lock:
            level = self._read(name)
            self._append(name, level, "observe", None)
        return level

    def _on_change(self, chip: str, offset: int, level: bool, timestamp_ns: int) -> None:
        name = self._by_line.get((chip, offset))
        if name is not None:
            source: Source = "drive" if name == self._driving else "observe"
            logical = level ^ self.signals[name].active_low
            self._record(name, logical, source, self._test_ns(timestamp_ns - self._t0))

    def _on_request(self, chip: str, offset: int) -> None:
        """A line was requested, reconfigured or released: its pull may have moved to the
        program's bias. Drive what the rig holds again, as a real driver would have held
        it; mark when the program has taken every line of the rig."""
        name = self._by_line.get((chip, offset))
        if name is None:
            return
        where = self._where[name]
        with self._drive_lock:
            level = self._held.get(name)
            # Another thread (a test's drive()) may change the held level meanwhile: drive
            # until what was driven last is what is held (drive() stores before it writes).
            while level is not None:
                if not self._pull_is(where, level):  # a request without bias moves nothing
                    self.harness.drive(*where, level)
                again = self._held.get(name)
                if again == level:
                    break
                level = again
        requested = self._lines_requested()
        if requested and not self._all_requested:
            self.mark("program ready")
        self._all_requested = requested

    def _pull_is(self, where: tuple[str, int], level: bool) -> bool:
        """Whether the harness's pull on a line is already ``level`` (False if unknown)."""
        if not isinstance(self.harness, ReportsPull):
            return False
        try:
            return bool(self.harness.pull(*where)) == level
        except Exception:  # the chip went away at teardown
            return False

    def _lines_requested(self) -> bool:
        try:
            return all(self.harness.requested(*where) for where in self._where.values())
        except Exception:  # the chip went away at teardown
            return False

    def _poll(self) -> None:
        outputs = [n for n, s in self.signals.items() if s.role == "output"]
        while not self._stop.wait(self._poll_interval):
            for name in outputs:
                try:
                    self._sample(name)
                except Exception:  # the chip went away at teardown
                    return

    # -- driving ------------------------------------------------------------------
    def drive(self, name: str, level: bool) -> None:
        """Set an input signal's logical level (polarity applied).

        Raises:
            InvalidSettingError: ``level`` is not True, False, 0 or 1; or ``name`` is
                no input signal.
        """
        high = check_level(level, f"rig.drive({name!r})")
        sig = self._signal(name)
        if sig.role != "input":
            raise InvalidSettingError(
                f"signal {name!r} is an output of the program: observe it, do not drive it"
            )
        self._driving = name
        t_ns = self._now()  # before the write: the program may react before it returns
        physical = high ^ sig.active_low
        try:
            with self._drive_lock:
                self._held[name] = physical  # before the write: see _on_request
                self.harness.drive(*self._where[name], physical)
        finally:
            self._driving = None
        self._record(name, high, "drive", t_ns)

    def press(self, name: str) -> None:
        """Make an input active (a button press)."""
        self.drive(name, True)

    def release(self, name: str) -> None:
        """Make an input inactive."""
        self.drive(name, False)

    def pulse(self, name: str, width: float, *, level: bool = True) -> None:
        """Hold an input at ``level`` for ``width`` test seconds, then return it."""
        level = check_level(level, f"rig.pulse({name!r})")
        self.drive(name, level)
        self.time.sleep(width)
        self.drive(name, not level)

    def bounce(self, name: str, level: bool, *, toggles: int = 5, gap: float = 0.001) -> None:
        """A contact-bounce burst: ``toggles`` quick changes ``gap`` test seconds apart,
        ending at ``level``."""
        level = check_level(level, f"rig.bounce({name!r})")
        if isinstance(toggles, bool) or not isinstance(toggles, int) or toggles < 1:
            raise InvalidSettingError(
                f"toggles must be a whole number of 1 or more, not {toggles!r}"
            )
        start = level if toggles % 2 else not level
        current = start
        for i in range(toggles):
            self.drive(name, current)
            if i < toggles - 1:
                self.time.sleep(gap)
            current = not current

    def play(self, name: str, steps: Iterable[Step]) -> None:
        """Apply a sequence from :mod:`gpiosim.strategies` to an input signal."""
        self._signal(name)
        level = self._last.get(name, False)
        for step in steps:
            if not isinstance(step, Step):
                raise InvalidSettingError(
                    f"play() takes gpiosim.strategies.Step objects, not {step!r}"
                )
            if step.kind == "press":
                level = True
                self.drive(name, True)
            elif step.kind == "release":
                level = False
                self.drive(name, False)
            elif step.kind == "bounce":
                self.bounce(name, step.level, toggles=step.toggles, gap=step.gap)
                level = step.level
            elif step.kind == "glitch":
                self.pulse(name, step.width, level=not level)
            elif step.kind == "wait":
                self.sleep(step.duration)
            else:
                raise InvalidSettingError(f"unknown step kind {step.kind!r}")

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` test seconds pass (``seconds`` times the scale on real time)."""
        self.time.sleep(seconds)

    def settle(self) -> None:
        """Let the program react to what just happened."""
        self.time.settle()

    # -- observing ----------------------------------------------------------------
    def level(self, name: str) -> bool:
        """A signal's current logical level."""
        self._signal(name)
        if self._poller is not None and self.signals[name].role == "output":
            return self._sample(name)
        # A listening harness records every change itself, as it happens.
        return self._read(name)

    def wait_for(self, name: str, level: bool, timeout: float) -> bool:
        """Wait up to ``timeout`` test seconds for a signal's level; True once it has it."""
        wanted = check_level(level, f"rig.wait_for({name!r})")
        return self.time.wait_for(lambda: self.level(name) is wanted, timeout)

    # -- the record ---------------------------------------------------------------
    def mark(self, label: str = "mark") -> Mark:
        """Begin a new section of the record, e.g. at the start of each generated example.

        ``transitions(since=mark)`` is the section; a failing test's trace shows only
        the section of the last mark (the rig marks ``"program ready"`` itself).

        Raises:
            InvalidSettingError: ``label`` is not a string.
        """
        if not isinstance(label, str):
            raise InvalidSettingError(f"a mark's label must be a string, not {label!r}")
        self._sample_outputs()
        now = self._now()  # outside the lock: a listener takes the clock's lock, then ours
        with self._lock:
            levels = {name: self._last.get(name, False) for name in self.signals}
            made = Mark(now, label, MappingProxyType(levels), len(self._transitions))
            self._marks.append(made)
        return made

    @property
    def last_mark(self) -> Mark | None:
        """The latest mark, or None before the first."""
        with self._lock:
            return self._marks[-1] if self._marks else None

    def marks(self) -> list[Mark]:
        """Every mark, oldest first."""
        with self._lock:
            return list(self._marks)

    def _sample_outputs(self) -> None:
        if self._poller is not None:
            for name, sig in self.signals.items():
                if sig.role == "output":
                    self._sample(name)

    def transitions(
        self, signal: str | None = None, *, since: Mark | None = None
    ) -> list[Transition]:
        """Every transition recorded so far, oldest first.

        Args:
            signal: only this signal's.
            since: only those recorded after this mark of this rig.

        Raises:
            InvalidSettingError: no such signal, or ``since`` is not a mark of this rig.
        """
        if signal is not None:
            self._signal(signal)  # a misspelt name must not read as "no transitions"
        start = self._check_mark(since)
        self._sample_outputs()
        with self._lock:
            items = sorted(self._transitions[start:], key=lambda tr: tr.t_ns)
        return [tr for tr in items if signal is None or tr.signal == signal]

    def _check_mark(self, since: Mark | None) -> int:
        if since is None:
            return 0
        with self._lock:
            known = any(m is since for m in self._marks)
        if not known:
            raise InvalidSettingError(
                f"since must be a mark of this rig, not {since!r}: use the value of rig.mark()"
            )
        return since.index

    def initial_levels(self, *, since: Mark | None = None) -> dict[str, bool]:
        """Each signal's level when recording started (or at the mark ``since``)."""
        if since is not None:
            self._check_mark(since)
            return dict(since.levels)
        first: dict[str, bool] = {}
        for tr in self.transitions():
            first.setdefault(tr.signal, not tr.level)
        return {name: first.get(name, self._last.get(name, False)) for name in self.signals}

    def waveform(self, signal: str) -> list[tuple[float, bool]]:
        """``(t, level)`` pairs of one signal's transitions, in test seconds."""
        return [(tr.t, tr.level) for tr in self.transitions(signal)]
