"""State machines that check a running program against a reference model.

``timed_led_machine`` checks the post's timed-LED program (or a downstream program
with the same contract) through a rig: hypothesis chooses presses, releases and
waits, some of them landing right at the timer's deadline; after each step the LED is
compared with :class:`gpiosim.models.TimedLed`. On the fake backend the comparison is
exact (virtual time); on real-time backends the LED may lag by ``tolerance``, and a
press or a check that lands within ``tolerance`` of the deadline accepts either
outcome. A failure shows the shrunk steps and the rig's timing diagram of the failing
example alone: each example starts with ``rig.mark()``, and the plugin's trace of a
failing test shows only what follows the last mark. Every duration is in test seconds
(see :mod:`gpiosim.rig`), like the rig's.
"""

from __future__ import annotations

from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from gpiocore import InvalidSettingError
from gpiosim.models import TimedLed
from gpiosim.rig._rig import Rig
from gpiosim.rig._trace import timing_diagram
from gpiosim.strategies import timed_led_steps

__all__ = ["timed_led_machine"]


def timed_led_machine(
    rig: Rig,
    *,
    offset: float,
    tolerance: float = 0.0,
    button: str = "button",
    led: str = "led",
    max_wait: float | None = None,
) -> type[RuleBasedStateMachine]:
    """A state machine class that drives a *running* timed-LED program through ``rig``.

    Each example starts from a known state (button released, LED out) and keeps the
    same program running, so real-time backends pay its start-up once.

    Args:
        rig: a started rig with the program's ``button`` (input) and ``led`` (output).
        offset: the program's timer offset in test seconds: the program was given
            ``rig.program_seconds(offset)``.
        tolerance: how late (test seconds) the program may react on a real-time
            backend (0: exact).
        button: the input signal's name.
        led: the output signal's name.
        max_wait: the longest wait a step may take (default 1.5 offsets).
    """
    if not isinstance(rig, Rig):
        raise InvalidSettingError(f"rig must be a gpiosim Rig (the `rig` fixture), not {rig!r}")
    for name in (button, led):
        rig.where(name)  # a misspelt signal fails here, not in the first example
    if rig.signals[button].role != "input" or rig.signals[led].role != "output":
        raise InvalidSettingError(
            f"{button!r} must be an input of the program and {led!r} an output: "
            "check the rig's signals (or pass button=/led=)"
        )
    TimedLed(offset, tolerance)  # the model checks offset and tolerance, by name
    if max_wait is not None and (
        isinstance(max_wait, bool) or not isinstance(max_wait, int | float) or not max_wait > 0
    ):
        raise InvalidSettingError(
            f"max_wait must be a positive number of seconds, not {max_wait!r}"
        )
    exact = tolerance == 0.0
    near = max(tolerance * 2, 0.02 / rig.time.scale)
    waits = timed_led_steps(offset, near=near, max_wait=max_wait)
    examples = 0

    class TimedLedMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            nonlocal examples
            super().__init__()
            rig.release(button)
            rig.settle()
            # Start from a dark LED: wait out the timer (a broken program may not
            # honour a second press), then try a press.
            lag = 2 * tolerance
            if not rig.wait_for(led, False, offset + lag):
                rig.press(button)
                rig.settle()
                rig.release(button)
                rig.settle()
                if not rig.wait_for(led, False, offset + lag):
                    raise AssertionError(
                        "cannot reset the program: its LED stays lit after its timer and a press"
                    )
            examples += 1
            self.mark = rig.mark(f"example {examples}")
            self.model = TimedLed(offset, tolerance)
            self.log: list[str] = []

        def now(self) -> float:
            return rig.elapsed() - self.mark.t

        def _fail(self, what: str) -> None:
            diagram = timing_diagram(
                rig.transitions(since=self.mark),
                rig.initial_levels(since=self.mark),
                start_ns=self.mark.t_ns,
            )
            steps = "\n".join(f"  {line}" for line in self.log)
            raise AssertionError(f"{what}\nsteps:\n{steps}\ntrace:\n{diagram}")

        def _check(self, *, either: bool = False) -> None:
            t = self.now()
            if (either or self.model.ambiguous(t)) and not exact:
                # Either outcome is right this close to the deadline: give the
                # program its tolerance, then follow what it did.
                rig.sleep(tolerance)
                self.model.resync(self.now(), rig.level(led))
                return
            expected = self.model.at(t)
            if exact:
                rig.settle()
                ok = rig.level(led) is expected
            else:
                ok = rig.wait_for(led, expected, tolerance)
                if not ok and self.model.ambiguous(self.now()):
                    self.model.resync(self.now(), rig.level(led))
                    return
            if not ok:
                self._fail(
                    f"at t={t:.4f} s the LED is {'on' if not expected else 'off'}, "
                    f"the model says {'on' if expected else 'off'} "
                    f"(offset {offset:g} s, tolerance {tolerance:g} s)"
                )

        @precondition(lambda self: not self.model.pressed)
        @rule()
        def press(self) -> None:
            t = self.now()
            near = self.model.ambiguous(t)
            rig.press(button)
            self.log.append(f"t={t:8.4f}  press")
            self.model.button(t, True)
            self._check(either=near)

        @precondition(lambda self: self.model.pressed)
        @rule()
        def release(self) -> None:
            t = self.now()
            rig.release(button)
            self.log.append(f"t={t:8.4f}  release")
            self.model.button(t, False)
            self._check()

        @rule(seconds=waits)
        def wait(self, seconds: float) -> None:
            self.log.append(f"t={self.now():8.4f}  wait {seconds:g} s")
            rig.sleep(seconds)
            self._check()

        def teardown(self) -> None:
            rig.release(button)
            rig.settle()

    TimedLedMachine.__name__ = "TimedLedMachine"
    return TimedLedMachine
