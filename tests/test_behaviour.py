"""The behavioural suite: every backend must pass it (``pytest --backend=NAME``).

Tests talk to the backend only through the public API and the harness (which drives an
input the way gpio-sim's ``pull`` attribute does and reads what an output drives), and
let time pass through ``gpio_time``: virtual on the fake, real (scaled) on the kernel.
"""

from __future__ import annotations

import select
import time

import pytest

from gpiocore import (
    Both,
    EdgeType,
    EventOverflowWarning,
    Falling,
    In,
    LineBusyError,
    Out,
    PullDown,
    PullUp,
    Rising,
    line,
    pins,
)
from gpiocore.selector import Selector, Timer
from tests.conftest import APPS

BUTTON = "GPIO17"  # pins.pin(0): P0 of the Quick2Wire board
LED = "GPIO18"  # pins.pin(1)


@pytest.fixture
def button_line(backend):
    pin = pins.pin(0)
    return pin.chip, pin.offset


@pytest.fixture
def led_line(backend):
    pin = pins.pin(1)
    return pin.chip, pin.offset


def drive(harness, where, level):
    harness.drive(where[0], where[1], level)


def test_pins_map_like_the_quick2wire_board(backend):
    assert pins.pin(0).line_name == "GPIO17"
    assert pins.pin(1).line_name == "GPIO18"
    assert pins.pin(7).line_name == "GPIO4"
    assert len(pins) == 8


def test_input_reads_what_the_harness_drives(harness, button_line, gpio_time):
    with pins.pin(0, direction=In) as button:
        drive(harness, button_line, True)
        gpio_time.settle()
        assert button.value == 1
        drive(harness, button_line, False)
        gpio_time.settle()
        assert button.value == 0


def test_output_drives_the_line(harness, led_line):
    with pins.pin(1, direction=Out) as led:
        assert harness.level(*led_line) is False
        led.value = 1
        assert harness.level(*led_line) is True
        assert led.value == 1
        led.value = 0
        assert harness.level(*led_line) is False


def test_output_initial_value_and_release(harness, led_line):
    with pins.pin(1, direction=Out, value=1):
        assert harness.level(*led_line) is True
    # a released line falls back to its pull (down by default)
    assert harness.level(*led_line) is False
    assert not harness.requested(*led_line)


def test_edges_in_order_with_seqnos_and_timestamps(backend, harness, button_line, gpio_time):
    clock = backend.clock
    with pins.pin(0, direction=In, interrupt=Both) as button:
        t0 = clock.monotonic_ns()
        for level in (True, False, True, False):
            drive(harness, button_line, level)
            gpio_time.sleep(0.002)
        gpio_time.settle()
        t1 = clock.monotonic_ns()
        edges = button.edges()
    assert [e.type for e in edges] == [
        EdgeType.RISING,
        EdgeType.FALLING,
        EdgeType.RISING,
        EdgeType.FALLING,
    ]
    assert [e.line_seqno for e in edges] == [1, 2, 3, 4]
    assert [e.global_seqno for e in edges] == [1, 2, 3, 4]
    assert all(e.offset == button_line[1] for e in edges)
    stamps = [e.timestamp_ns for e in edges]
    assert stamps == sorted(stamps)
    assert t0 <= stamps[0] and stamps[-1] <= t1


@pytest.mark.parametrize(
    ("edge", "expected"),
    [(Rising, [EdgeType.RISING]), (Falling, [EdgeType.FALLING])],
    ids=["rising", "falling"],
)
def test_single_edge_detection(harness, button_line, gpio_time, edge, expected):
    with pins.pin(0, direction=In, interrupt=edge) as button:
        drive(harness, button_line, True)
        gpio_time.sleep(0.002)
        drive(harness, button_line, False)
        gpio_time.settle()
        assert [e.type for e in button.edges()] == expected


def test_no_edges_without_interrupt(harness, button_line, gpio_time):
    with pins.pin(0, direction=In) as button:
        drive(harness, button_line, True)
        gpio_time.settle()
        assert button.edges() == []
        poll = select.poll()
        poll.register(button.fileno(), select.POLLIN)
        assert poll.poll(0) == []


def test_active_low_swaps_edges_and_values(harness, button_line, gpio_time):
    with pins.pin(0, direction=In, interrupt=Both, active_low=True) as button:
        assert button.value == 1  # pulled down = active for an active-low input
        drive(harness, button_line, True)
        gpio_time.settle()
        assert button.value == 0
        assert [e.type for e in button.edges()] == [EdgeType.FALLING]


def test_active_low_output_inverts(harness, led_line):
    with pins.pin(1, direction=Out, active_low=True) as led:
        assert harness.level(*led_line) is True  # logical 0 = physical high
        led.value = 1
        assert harness.level(*led_line) is False


def test_bias_sets_the_lines_pull(harness, button_line):
    with pins.pin(0, direction=In, pull=PullUp) as button:
        assert button.value == 1
        assert harness.level(*button_line) is True
        # the outside world can still pull it down, as gpio-sim's pull attribute does
        drive(harness, button_line, False)
        assert button.value == 0
    with pins.pin(0, direction=In, pull=PullDown) as button:
        assert button.value == 0


def test_debounce_reports_one_edge_after_a_bounce(harness, button_line, gpio_time):
    period = gpio_time.s(0.02)
    with pins.pin(0, direction=In, interrupt=Both, debounce=period) as button:
        for level in (True, False, True, False, True, False, True):
            drive(harness, button_line, level)
            gpio_time.sleep(0.001)
        assert button.value == 0  # the debounced level has not changed yet
        gpio_time.sleep(0.02 * 3)
        edges = button.edges()
        assert [e.type for e in edges] == [EdgeType.RISING]
        assert edges[0].line_seqno == 1
        assert button.value == 1
        drive(harness, button_line, False)
        gpio_time.sleep(0.02 * 3)
        assert [e.type for e in button.edges()] == [EdgeType.FALLING]


def test_debounce_swallows_a_glitch(harness, button_line, gpio_time):
    with pins.pin(0, direction=In, interrupt=Both, debounce=gpio_time.s(0.02)) as button:
        drive(harness, button_line, True)
        gpio_time.sleep(0.002)
        drive(harness, button_line, False)
        gpio_time.sleep(0.02 * 3)
        assert button.edges() == []
        assert button.value == 0


def test_overflow_drops_the_oldest_and_leaves_a_gap(harness, button_line, gpio_time):
    with pins.pin(0, direction=In, interrupt=Both, event_buffer_size=4) as button:
        for i in range(20):
            drive(harness, button_line, i % 2 == 0)
            gpio_time.sleep(0.001)
        gpio_time.settle()
        with pytest.warns(EventOverflowWarning, match="lost 16 edge"):
            edges = button.edges()
        assert [e.line_seqno for e in edges] == [17, 18, 19, 20]
        assert button.lost_edges == 16


@pytest.mark.parametrize("found_by", ["edges", "value", "selector"])
def test_an_overflow_warning_points_at_the_programs_line(
    harness, button_line, gpio_time, found_by
):
    with pins.pin(0, direction=In, interrupt=Both, event_buffer_size=4) as button:
        selector = Selector()
        selector.add(button)
        for i in range(20):
            drive(harness, button_line, i % 2 == 0)
            gpio_time.sleep(0.001)
        gpio_time.settle()
        with pytest.warns(EventOverflowWarning, match="lost 16 edge") as caught:
            if found_by == "edges":
                button.edges()
            elif found_by == "value":
                assert button.value == 0
            else:
                selector.wait(0)
                assert selector.ready is button
        selector.close()
    assert [w.filename for w in caught] == [__file__]


def test_busy_line(backend):
    with pins.pin(0, direction=In):
        with pytest.raises(LineBusyError, match="busy"), pins.pin(0, direction=In):
            pass
        # still usable by its holder; the failed request left nothing behind
        other = line(BUTTON, direction=In)
        with pytest.raises(LineBusyError):
            other.open()
        assert other.closed


def test_line_lookup_by_name(backend, harness):
    pin = line(LED, direction=Out)
    with pin:
        pin.value = 1
        assert harness.level(pin.chip, pin.offset) is True


def test_reconfigure_while_open(harness, button_line, gpio_time):
    with pins.pin(0, direction=In) as pin:
        pin.interrupt = Both
        drive(harness, button_line, True)
        gpio_time.settle()
        assert [e.type for e in pin.edges()] == [EdgeType.RISING]
        pin.interrupt = None
        pin.direction = Out
        pin.value = 0
        assert harness.level(*button_line) is False
        pin.direction = In
        drive(harness, button_line, True)
        gpio_time.settle()
        assert pin.value == 1


def test_epoll_edge_triggered_on_pin_fileno(harness, button_line, gpio_time):
    with pins.pin(0, direction=In, interrupt=Both) as button:
        epoll = select.epoll()
        try:
            epoll.register(button, select.EPOLLIN | select.EPOLLET)
            assert epoll.poll(0) == []
            drive(harness, button_line, True)
            gpio_time.settle()
            assert epoll.poll(1) == [(button.fileno(), select.EPOLLIN)]
            assert epoll.poll(0) == []  # edge-triggered: reported once
            assert button.value == 1
        finally:
            epoll.close()


def test_selector_reports_and_drains_a_pin(harness, button_line, gpio_time):
    with pins.pin(0, direction=In, interrupt=Both) as button, Selector() as selector:
        selector.add(button, identifier="button")
        selector.wait(timeout=0)
        assert selector.ready is None
        drive(harness, button_line, True)
        gpio_time.settle()
        selector.wait(timeout=1)
        assert selector.ready == "button" and selector.has_input
        selector.wait(timeout=0)  # level-triggered, but drained: no spin
        assert selector.ready is None
        assert [e.type for e in button.edges()] == [EdgeType.RISING]


def test_timer_one_shot(backend, gpio_time):
    offset = gpio_time.s(0.05)
    with Timer(offset=offset) as timer, Selector() as selector:
        selector.add(timer)
        start = backend.clock.monotonic_ns()
        timer.start()
        selector.wait(timeout=gpio_time.s(5))
        elapsed = (backend.clock.monotonic_ns() - start) / 1e9
        assert selector.ready is timer
        assert timer.wait() == 1
        assert elapsed >= offset  # a timer never fires early
        selector.wait(timeout=gpio_time.s(0.1))
        assert selector.ready is None  # one-shot


def test_timer_interval_counts_expirations(backend, gpio_time):
    interval = gpio_time.s(0.02)
    with Timer(interval=interval) as timer:
        timer.start()
        gpio_time.sleep(0.02 * 5 + 0.01)
        count = timer.wait()
        assert count >= 3 if not backend.clock.virtual else count == 5
        timer.stop()
        gpio_time.sleep(0.05)
        assert not timer.running


def test_timer_offset_rearms_a_running_timer(backend, gpio_time):
    with Timer(offset=gpio_time.s(10)) as timer, Selector() as selector:
        selector.add(timer)
        timer.start()
        timer.offset = gpio_time.s(0.03)
        selector.wait(timeout=gpio_time.s(5))
        assert selector.ready is timer


def test_program_follow_epoll(app_runner, harness, button_line, led_line, gpio_time):
    app = app_runner(APPS / "follow_epoll.py")
    app.wait_ready([button_line, led_line])
    for level in (True, False, True, False):
        drive(harness, button_line, level)
        assert gpio_time.wait_for(lambda lv=level: harness.level(*led_line) is lv, 2)


def test_program_follow_selector(app_runner, harness, button_line, led_line, gpio_time):
    app = app_runner(APPS / "follow_selector.py")
    app.wait_ready([button_line, led_line])
    for level in (True, False, True, False):
        drive(harness, button_line, level)
        assert gpio_time.wait_for(lambda lv=level: harness.level(*led_line) is lv, 2)


def _press(harness, where, gpio_time):
    drive(harness, where, True)
    gpio_time.sleep(0.05)
    drive(harness, where, False)


def test_program_timed_led_goes_out_after_offset(
    backend, app_runner, harness, button_line, led_line, gpio_time
):
    offset = gpio_time.s(0.5)
    app = app_runner(APPS / "timed_led.py", [str(offset)])
    app.wait_ready([button_line, led_line])
    start = time.monotonic()
    pressed_at = backend.clock.monotonic_ns()
    _press(harness, button_line, gpio_time)
    assert gpio_time.wait_for(lambda: harness.level(*led_line), 1)
    lit_at = backend.clock.monotonic_ns()
    assert gpio_time.wait_for(lambda: not harness.level(*led_line), 5)
    off_at = backend.clock.monotonic_ns()
    lit_for = (off_at - lit_at) / 1e9
    # The timer starts when the program sees the press, never before it was made; timing
    # from lit_at instead would charge the test's own polling lag to the program.
    assert (off_at - pressed_at) / 1e9 >= offset - gpio_time.s(0.01)
    if backend.clock.virtual:
        assert lit_for == pytest.approx(0.45, abs=1e-6)
        assert time.monotonic() - start < 2  # virtual time: no real waiting


def test_program_timed_led_second_press_puts_it_out(
    app_runner, harness, button_line, led_line, gpio_time
):
    app = app_runner(APPS / "timed_led.py", [str(gpio_time.s(2))])
    app.wait_ready([button_line, led_line])
    _press(harness, button_line, gpio_time)
    assert gpio_time.wait_for(lambda: harness.level(*led_line), 1)
    gpio_time.sleep(0.2)
    _press(harness, button_line, gpio_time)
    assert gpio_time.wait_for(lambda: not harness.level(*led_line), 0.5)
    # and stays out: the stopped timer does not fire later
    gpio_time.sleep(3)
    assert harness.level(*led_line) is False


def test_program_timed_led_release_does_nothing(
    app_runner, harness, button_line, led_line, gpio_time
):
    app = app_runner(APPS / "timed_led.py", [str(gpio_time.s(2))])
    app.wait_ready([button_line, led_line])
    drive(harness, button_line, True)
    assert gpio_time.wait_for(lambda: harness.level(*led_line), 1)
    gpio_time.sleep(0.5)
    drive(harness, button_line, False)
    gpio_time.sleep(0.5)
    assert harness.level(*led_line) is True
