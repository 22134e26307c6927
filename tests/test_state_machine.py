"""The post's timed-LED program against its model, on every backend.

Exact on the fake (virtual time); on real-time backends the LED may lag by a stated
tolerance and presses that land at the timer's deadline accept either outcome.
"""

from __future__ import annotations

import pytest
from hypothesis.errors import Flaky
from hypothesis.stateful import run_state_machine_as_test

from gpiosim.machines import timed_led_machine
from tests.conftest import APPS

OFFSET = 0.5  # test seconds, like every duration the rig and the machine take


def tolerance_for(rig) -> float:
    return 0.0 if rig.backend.clock.virtual else 0.05


def start(app_runner, rig, program=APPS / "timed_led.py"):
    app = app_runner(program, [str(rig.program_seconds(OFFSET))])
    app.wait_ready(rig.lines())
    return OFFSET


def test_timed_led_matches_its_model(app_runner, rig, gpio_hypothesis_settings):
    offset = start(app_runner, rig)
    machine = timed_led_machine(rig, offset=offset, tolerance=tolerance_for(rig))
    run_state_machine_as_test(machine, settings=gpio_hypothesis_settings)


#: Deliberately broken variants of the post's program: (what the original says, the bug).
MUTANTS = {
    # a second press restarts the timer instead of putting the LED out
    "retrigger": (
        "                    led.value = 0\n                    timer.stop()\n",
        "                    timer.start()\n",
    ),
    # every edge counts as a press: a release toggles the LED too
    "on_release": ("            if button.value:\n", "            if True:\n"),
}


@pytest.fixture(params=sorted(MUTANTS))
def broken_program(request, tmp_path):
    original, bug = MUTANTS[request.param]
    source = (APPS / "timed_led.py").read_text()
    assert source.count(original) == 1, "the mutation no longer applies to timed_led.py"
    path = tmp_path / f"timed_led_{request.param}.py"
    path.write_text(source.replace(original, bug))
    return path


def test_a_broken_variant_is_caught_and_shrunk(
    app_runner, rig, gpio_hypothesis_settings, broken_program
):
    """A deliberately broken program fails the same check, with a few shrunk steps."""
    offset = start(app_runner, rig, broken_program)
    machine = timed_led_machine(rig, offset=offset, tolerance=tolerance_for(rig))
    with pytest.raises((AssertionError, Flaky, ExceptionGroup)) as caught:
        run_state_machine_as_test(machine, settings=gpio_hypothesis_settings)
    if isinstance(caught.value, Flaky):
        # Real time: the failure was found, but a replay while shrinking failed at a
        # different step (the program's timing moved), which hypothesis calls flaky.
        assert not rig.backend.clock.virtual, caught.value
        return
    failure = caught.value
    if isinstance(failure, ExceptionGroup):
        # Real time, a loaded machine: a second failure at another place (a reset that
        # waited past its lag) beside the model's; the model's must be one of them.
        assert not rig.backend.clock.virtual, failure
        found = [e for e in failure.exceptions if "the model says" in str(e)]
        assert found, failure.exceptions
        failure = found[0]
    message = str(failure)
    assert "the model says" in message and "trace:" in message
    steps = message.split("steps:")[1].split("trace:")[0]
    assert 1 <= len([line for line in steps.splitlines() if line.strip()]) <= 4, message
