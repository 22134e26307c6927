"""The fake backend's virtual clock: advance, settle, autojump, hold, interrupts."""

from __future__ import annotations

import os
import threading
import time

import pytest

from gpiocore import Both, In, Out, SettleTimeoutError, pins, use_backend
from gpiocore.selector import Selector, Timer
from gpiocore.testing import FakeBackend, VirtualClock
from tests.conftest import APPS


def test_advance_fires_deadlines_in_order():
    clock = VirtualClock(autojump_threshold=None)
    fired: list[tuple[str, int]] = []
    clock.schedule(3_000_000_000, lambda: fired.append(("c", clock._now)))
    clock.schedule(1_000_000_000, lambda: fired.append(("a", clock._now)))
    clock.schedule(2_000_000_000, lambda: fired.append(("b", clock._now)))
    clock.advance(2.5)
    assert fired == [("a", 1_000_000_000), ("b", 2_000_000_000)]
    assert clock.monotonic() == 2.5
    token = clock.schedule(2_600_000_000, lambda: fired.append(("x", 0)))
    clock.cancel(token)
    clock.advance(1)
    assert [f[0] for f in fired] == ["a", "b", "c"]


def test_time_cannot_go_backwards():
    clock = VirtualClock()
    with pytest.raises(ValueError, match="time can't go backwards"):
        clock.advance(-1)


def test_single_threaded_timer_autojumps():
    """A program alone on the fake backend never waits for real: 2 s take no time."""
    backend = FakeBackend()
    start = time.monotonic()
    with Timer(offset=2, backend=backend) as timer:
        timer.start()
        assert timer.wait() == 1
    assert backend.clock.monotonic() == 2.0
    assert time.monotonic() - start < 0.5


def test_selector_timeout_is_virtual():
    backend = FakeBackend()
    with Selector(backend=backend) as selector:
        selector.wait(timeout=30)
        assert selector.ready is None
    assert backend.clock.monotonic() == 30.0


def test_no_autojump_when_disabled():
    backend = FakeBackend(autojump_threshold=None)
    with Timer(offset=1, backend=backend) as timer:
        timer.start()
        result: list[int] = []
        waiter = threading.Thread(target=lambda: result.append(timer.wait()))
        waiter.start()
        time.sleep(0.1)
        assert result == [] and backend.clock.monotonic() == 0
        backend.clock.advance(1)
        waiter.join(5)
        assert result == [1]


def test_hold_stops_autojump_until_advance():
    """While a harness holds the clock, a program's timer fires only when told."""
    backend = FakeBackend()
    clock = backend.clock
    harness = backend.harness
    with use_backend(backend), clock.hold():
        done = threading.Event()

        def program() -> None:
            with pins.pin(1, direction=Out) as led, Timer(offset=5) as timer:
                led.value = 1
                timer.start()
                timer.wait()
                led.value = 0
            done.set()

        thread = threading.Thread(target=program)
        thread.start()
        while clock.idle_pollers() == 0:
            time.sleep(0.001)
        time.sleep(0.05)
        assert harness.level("gpiochip0", 18) is True and clock.monotonic() == 0
        clock.advance(4.999)
        assert harness.level("gpiochip0", 18) is True
        clock.advance(0.001)
        assert done.wait(5)
        assert harness.level("gpiochip0", 18) is False
        thread.join()


def test_settle_waits_for_the_program_to_react():
    backend = FakeBackend(autojump_threshold=None)
    harness = backend.harness
    reacted: list[float] = []
    with use_backend(backend):
        with pins.pin(0, direction=In, interrupt=Both) as button, Selector() as selector:
            selector.add(button)

            def program() -> None:
                selector.wait()
                time.sleep(0.1)  # slow reaction: settle must wait for it
                reacted.append(time.monotonic())
                selector.wait(timeout=0)

            thread = threading.Thread(target=program)
            thread.start()
            while backend.clock.idle_pollers() == 0:
                time.sleep(0.001)
            harness.drive("gpiochip0", 17, True)
            backend.clock.settle()
            assert reacted, "settle returned before the program handled the edge"
            thread.join()


def test_settle_times_out_on_a_stuck_program():
    backend = FakeBackend()
    clock = backend.clock
    stop = threading.Event()
    ready = threading.Event()

    def stuck() -> None:
        with Selector(backend=backend):
            ready.set()
            stop.wait(5)  # busy forever, outside any wait

    thread = threading.Thread(target=stuck)
    thread.start()
    ready.wait()
    with pytest.raises(SettleTimeoutError, match="did not go idle within 0.2 s"):
        clock.settle(timeout=0.2)
    stop.set()
    thread.join()


def test_runner_stops_a_program_blocked_in_raw_epoll(no_fd_leak):
    from gpiosim.rig import AppRunner

    backend = FakeBackend()
    with use_backend(backend):
        runner = AppRunner(APPS / "follow_epoll.py", backend=backend).start()
        runner.wait_ready([("gpiochip0", 17), ("gpiochip0", 18)])
        runner.stop()
        assert not runner.running
        assert not backend.harness.requested("gpiochip0", 17)
        assert not backend.harness.requested("gpiochip0", 18)


def test_a_threads_program_uses_its_runners_backend_not_the_current_one():
    """A test whose current backend is another one (e.g. the session's sim) runs a
    program on a fake of its own: the program's pins must be that fake's."""
    from gpiosim.rig import AppRunner

    current, own = FakeBackend(), FakeBackend()
    lines = [("gpiochip0", 17), ("gpiochip0", 18)]
    with use_backend(current), AppRunner(APPS / "follow_selector.py", backend=own) as runner:
        runner.wait_ready(lines, timeout=5)
        assert all(own.harness.requested(*line) for line in lines)
        assert not any(current.harness.requested(*line) for line in lines)
        own.harness.drive("gpiochip0", 17, True)
        own.clock.settle()
        assert own.harness.level("gpiochip0", 18) is True
    assert not any(own.harness.requested(*line) for line in lines)


def test_settle_waits_for_a_raw_epoll_program_wherever_it_is(tmp_path):
    """A program under an AppRunner is watched: settle() returns only when it is back in
    its raw epoll, even when it takes real time (a sleep) between its read and its write.
    Unwatched, settle() would return while it sleeps, and the LED would still be off."""
    from gpiosim.rig import AppRunner

    source = (APPS / "follow_epoll.py").read_text()
    original = "                led.value = button.value\n"
    assert source.count(original) == 1
    slow = tmp_path / "slow_follow.py"
    slow.write_text(
        "import time\n"
        + source.replace(original, "                level = button.value\n"
                         "                time.sleep(0.05)\n"
                         "                led.value = level\n")
    )  # fmt: skip
    backend = FakeBackend()
    clock = backend.clock
    assert clock.sees_raw_waits  # Linux with procfs, on a known machine
    harness = backend.harness
    with use_backend(backend), AppRunner(slow, backend=backend) as runner:
        runner.wait_ready([("gpiochip0", 17), ("gpiochip0", 18)])
        assert clock.sees_all_waits()
        for level in (True, False, True, False):
            harness.drive("gpiochip0", 17, level)
            clock.settle()
            assert harness.level("gpiochip0", 18) is level
    assert not clock.sees_all_waits()  # the program's thread is no longer watched


def test_runner_reports_a_crash(tmp_path):
    from gpiosim.rig import AppError, AppRunner

    program = tmp_path / "crash.py"
    program.write_text("from gpiocore import pins\npins.pin(99)\n")
    backend = FakeBackend()
    with use_backend(backend):
        runner = AppRunner(program, backend=backend).start()
        with pytest.raises(AppError, match=r"crash.py crashed: PinIndexError\('pins has no pin 99"):
            runner.wait_ready([("gpiochip0", 17)], timeout=5)
        with pytest.raises(AppError, match="crash.py crashed: PinIndexError"):
            runner.stop()


def test_runner_reports_a_program_stuck_outside_waits(tmp_path):
    from gpiosim.rig import AppError, AppRunner

    program = tmp_path / "stuck.py"
    program.write_text("import time\nwhile True:\n    time.sleep(0.01)\n")
    backend = FakeBackend()
    runner = AppRunner(program, backend=backend, stop_timeout=0.3).start()
    with pytest.raises(
        AppError, match="did not stop within 0.3 s: it is stuck outside any GPIO wait"
    ):
        runner.stop()


def test_the_main_threads_real_waits_come_back_to_python_every_slice(monkeypatch):
    """A signal that lands just before epoll_wait blocks is handled only when the wait
    returns: the main thread waits in slices, so SIGINT ends a program within one."""
    import gpiocore._clock as clock_module

    class Recorder:
        def __init__(self):
            self.timeouts = []

        def poll(self, timeout, maxevents):
            self.timeouts.append(timeout)
            return [(5, 1)] if len(self.timeouts) == 3 else []

    monkeypatch.setattr(clock_module, "_SIGNAL_SLICE", 0.01)
    poller = clock_module._EpollPoller()
    poller._epoll.close()
    recorder = Recorder()
    monkeypatch.setattr(poller, "_epoll", recorder, raising=False)
    assert poller.poll(None) == [(5, 1)]
    assert recorder.timeouts == [0.01, 0.01, 0.01]
    recorder.timeouts.clear()
    assert poller.poll(0) == []
    assert recorder.timeouts == [0.0]


def test_a_selectors_real_wait_slices_only_in_the_main_thread(monkeypatch):
    """Selector.wait() polls the real epoll itself: in slices in the main thread (for
    its signal handlers), for good in any other (no idle wake-ups there)."""
    import gpiocore._clock as clock_module
    from gpiocore.selector import Selector

    monkeypatch.setattr(clock_module, "_SIGNAL_SLICE", 0.01)
    timeouts, ready_at = [], [3]
    with Selector(clock=clock_module.MonotonicClock()) as selector:
        real_poll = selector._epoll_poll

        def record(timeout):
            timeouts.append(timeout)
            return real_poll(0) if len(timeouts) >= ready_at[0] else []

        read_end, write_end = os.pipe()
        try:
            os.write(write_end, b"x")
            selector.add(read_end)
            selector._epoll_poll = record
            selector.wait()
            assert selector.ready == read_end
            assert timeouts == [0.01, 0.01, 0.01]
            timeouts.clear()
            ready_at[0] = 1
            worker = threading.Thread(target=selector.wait)
            worker.start()
            worker.join(5)
            assert timeouts == [-1.0]
        finally:
            os.close(read_end)
            os.close(write_end)


def test_a_backend_schedules_under_the_clocks_lock():
    """The fake's way of using its clock: a compound change under ``lock``, with the
    scheduling calls (which take the same re-entrant lock) inside it."""
    clock = VirtualClock(autojump_threshold=None)
    fired = []
    with clock.lock:
        now = clock.monotonic_ns()
        clock.schedule(now + 10, lambda: fired.append("kept"))
        dropped = clock.schedule(now + 5, lambda: fired.append("dropped"))
        clock.cancel(dropped)
        clock.wake_all()  # no waiter yet: nothing to wake, and time does not move
        assert clock.monotonic_ns() == now
    clock.advance(20e-9)
    assert fired == ["kept"]
    assert clock.monotonic_ns() == now + 20
