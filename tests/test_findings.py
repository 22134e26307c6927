"""What the generated sequences found in the post's programs, pinned as tests.

Each test documents a behaviour of the original programs (not of gpiocore) that the
README lists under "Findings". They run on the fake backend, where time is exact, so
the behaviour is shown deterministically; on real hardware the same happens whenever
the timing lines up the same way.
"""

from __future__ import annotations

from gpiocore import use_backend
from gpiocore.testing import FakeBackend
from gpiosim.rig._rig import Rig
from gpiosim.rig._runner import AppRunner
from gpiosim.rig._signal import Signal
from tests.conftest import APPS

SIGNALS = [Signal("button", "GPIO17", "input"), Signal("led", "GPIO18", "output")]


def run(program: str, action, *args: str) -> tuple[list[bool], bool]:
    """Run ``action`` against the program; return the LED's transitions and final level
    (both taken while the program still holds its lines)."""
    backend = FakeBackend()
    with use_backend(backend), Rig(backend, SIGNALS) as rig:
        with AppRunner(APPS / program, list(args), backend=backend) as app:
            app.wait_ready(rig.lines())
            action(rig, backend)
            rig.wait_for("led", not rig.level("led"), 0.5)  # let a slow reaction show
            return [t.level for t in rig.transitions("led")], rig.level("led")


def test_a_press_released_before_the_program_reads_it_is_lost():
    """Finding 1: the program reads ``button.value`` after the edge wakes it; a press
    whose release comes first reads 0 and is ignored, though two edges arrived."""

    def short_press(rig, backend):
        # Both changes land before the program runs (the clock's lock keeps it out,
        # as a fast glitch would on metal).
        with backend.clock._cond:
            rig.press("button")
            rig.release("button")

    transitions, _ = run("timed_led.py", short_press, "2")
    assert transitions == []  # the LED never lit


def test_contact_bounce_can_leave_the_led_off_after_a_press():
    """Finding 2: without debounce every bounce is a press: a press that bounces
    (low-high-low-high) toggles the LED on and straight off again."""

    def bouncy_press(rig, backend):
        rig.bounce("button", True, toggles=4, gap=0.001)

    transitions, lit = run("timed_led.py", bouncy_press, "2")
    assert transitions == [True, False]
    assert lit is False


def test_bounce_on_release_in_the_follow_programs_is_harmless():
    """Finding 3 (a non-issue, kept as a guard): the follow programs read the level
    on every edge, so a bouncy release still ends with the LED off."""

    def bouncy_release(rig, backend):
        rig.press("button")
        rig.sleep(0.1)
        rig.bounce("button", False, toggles=5, gap=0.001)

    for program in ("follow_selector.py", "follow_epoll.py"):
        transitions, lit = run(program, bouncy_release)
        assert transitions[0] is True and transitions[-1] is False
        assert lit is False
