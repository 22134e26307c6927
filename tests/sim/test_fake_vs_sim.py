"""The fake backend checked against the real gpio-sim module.

The same generated input sequences run on a fake line and on a gpio-sim line, side by
side in one process (in the guest in CI); the edge streams (types, order, sequence
numbers, debounce results, overflow) and the timed program's LED traces must agree.
Timings are drawn far from the debounce period and the timer's deadline, so the only
way the two can differ is a difference in the rules, not in scheduling.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gpiocore import Both, EdgeEvent, In, line, use_backend
from gpiocore.testing import FakeBackend, FakeLine
from gpiosim.models import predict_timed_led
from gpiosim.rig._rig import Rig
from gpiosim.rig._runner import AppRunner
from gpiosim.rig._signal import Signal
from gpiosim.sim._backend import SimBackend
from gpiosim.strategies import Step, edge_sequences
from tests.conftest import APPS

pytestmark = pytest.mark.gpio_sim

PERIOD = 0.03  # debounce period, before scaling
EXAMPLES = settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SIGNALS = [Signal("button", "GPIO17", "input"), Signal("led", "GPIO18", "output")]


@pytest.fixture(scope="module")
def sim_backend():
    backend = SimBackend()
    yield backend
    backend.close()


@pytest.fixture
def scale(request) -> float:
    from gpiosim.pytest_plugin import _default_scale

    return _default_scale(request.config)


def edges_on(backend, steps, *, scale, debounce, active_low, buffer) -> list[EdgeEvent]:
    """Play ``steps`` into GPIO17 of ``backend`` and return the edges a pin saw."""
    with use_backend(backend), Rig(backend, SIGNALS, scale=scale) as rig:
        rig.release("button")
        rig.settle()
        with line(
            "GPIO17",
            direction=In,
            interrupt=Both,
            active_low=active_low,
            debounce=rig.time.s(debounce) if debounce else None,
            event_buffer_size=buffer,
            on_overflow="ignore",
        ) as pin:
            rig.play("button", steps)
            rig.sleep(PERIOD * 4)
            edges = pin.edges()
            lost = pin.lost_edges
        rig.release("button")
        rig.sleep(PERIOD * 2)
    return edges, lost


def shape(edges: list[EdgeEvent]) -> list[tuple[str, int]]:
    return [(e.type.value, e.line_seqno) for e in edges]


def run_both(sim_backend, steps, *, scale, debounce=None, active_low=False, buffer=0):
    fake = edges_on(
        FakeBackend(), steps, scale=1.0, debounce=debounce, active_low=active_low, buffer=buffer
    )
    sim = edges_on(
        sim_backend, steps, scale=scale, debounce=debounce, active_low=active_low, buffer=buffer
    )
    return fake, sim


def debounce_safe_sequences():
    # Bursts may outlast the period (gaps stay below half of it), glitches stay under a
    # third of it, and every change is followed by at least three periods of calm.
    return edge_sequences(
        min_steps=1,
        max_steps=5,
        min_dwell=PERIOD * 3,
        max_dwell=PERIOD * 5,
        max_toggles=8,
        bounce_gap=(PERIOD * 0.1, PERIOD * 0.45),
        glitch_width=(PERIOD * 0.1, PERIOD * 0.3),
    )


@given(
    steps=edge_sequences(
        min_steps=1, max_steps=5, min_dwell=0.02, max_dwell=0.06, bounce_gap=(0.01, 0.02)
    ),
    active_low=st.booleans(),
)
@EXAMPLES
def test_edge_streams_agree(sim_backend, scale, steps, active_low):
    (fake, _), (sim, _) = run_both(sim_backend, steps, scale=scale, active_low=active_low)
    assert shape(fake) == shape(sim), [str(s) for s in steps]


@given(steps=debounce_safe_sequences())
@EXAMPLES
def test_debounce_results_agree(sim_backend, scale, steps):
    (fake, _), (sim, _) = run_both(sim_backend, steps, scale=scale, debounce=PERIOD)
    assert shape(fake) == shape(sim), [str(s) for s in steps]


@given(buffer=st.sampled_from([2, 3, 4, 5, 8]), count=st.integers(1, 20))
@EXAMPLES
def test_overflow_agrees(sim_backend, scale, buffer, count):
    steps = [Step("press" if i % 2 == 0 else "release") for i in range(count)]
    steps = [s for step in steps for s in (step, Step("wait", 0.002))]
    (fake, fake_lost), (sim, sim_lost) = run_both(sim_backend, steps, scale=scale, buffer=buffer)
    assert shape(fake) == shape(sim)
    assert fake_lost == sim_lost


def led_trace(backend, presses, *, scale, offset):
    with use_backend(backend), Rig(backend, SIGNALS, scale=scale) as rig:
        with AppRunner(APPS / "timed_led.py", [str(rig.time.s(offset))], backend=backend) as app:
            app.wait_ready(rig.lines())
            start = rig.elapsed_ns()
            for wait in presses:
                rig.press("button")
                rig.sleep(0.05)
                rig.release("button")
                rig.sleep(wait)
            rig.sleep(offset + 0.1)
            trace = [
                (round((t.t_ns - start) / 1e9, 2), t.level)  # test seconds
                for t in rig.transitions("led")
                if t.t_ns >= start
            ]
    return trace


@given(presses=st.lists(st.floats(0.1, 0.8).map(lambda x: round(x, 2)), min_size=1, max_size=4))
@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_led_traces_agree(sim_backend, scale, presses):
    offset = 0.5
    # keep every press well away from the timer's deadline, where real time may go either way
    events, t = [], 0.0
    for wait in presses:
        events += [(t, True), (t + 0.05, False)]
        t += 0.05 + wait
    predicted = predict_timed_led(events, offset, until=t + offset)
    pressed_at = [when for when, level in events if level]
    # every deadline the timer was armed for, also one a press cancels exactly on time
    # (the model then shows no expiry at all, yet real time may go either way there)
    deadlines = [when + offset for when, lit in predicted if lit]
    assume(all(abs(p - d) > 0.1 for p in pressed_at for d in deadlines))
    fake = led_trace(FakeBackend(), presses, scale=1.0, offset=offset)
    sim = led_trace(sim_backend, presses, scale=scale, offset=offset)
    assert [lv for _, lv in fake] == [lv for _, lv in sim]
    for (tf, _), (ts, _) in zip(fake, sim, strict=True):
        assert tf == pytest.approx(ts, abs=0.06)


def test_a_changed_debounce_rule_in_the_fake_is_caught(sim_backend, scale, monkeypatch):
    """Mutation check: a fake whose debounce timer does not restart on every transition
    (the kernel's does) diverges from gpio-sim on a burst longer than the period."""
    original = FakeLine._physical_change

    def no_restart(self, level, now_ns):
        if self.settings.debounce_ns and self._debounce_token is not None:
            self._last_change_ns = now_ns
            return  # BUG under test: keeps the first timer instead of restarting it
        original(self, level, now_ns)

    burst = [Step("bounce", level=True, toggles=8, gap=PERIOD * 0.4), Step("wait", PERIOD * 4)]
    (fake, _), (sim, _) = run_both(sim_backend, burst, scale=scale, debounce=PERIOD)
    assert shape(fake) == shape(sim)  # the real rule agrees
    monkeypatch.setattr(FakeLine, "_physical_change", no_restart)
    (fake, _), (sim, _) = run_both(sim_backend, burst, scale=scale, debounce=PERIOD)
    assert shape(fake) != shape(sim)
