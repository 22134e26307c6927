"""Selector, Timer and Semaphore semantics (fake backend: instant and exact)."""

from __future__ import annotations

import asyncio
import select
import threading

import pytest

from gpiocore import Both, In, InvalidSettingError, PinBank, pins
from gpiocore.selector import EDGE, INPUT, Selector, Semaphore, Timer
from gpiocore.testing import FakeBackend


@pytest.fixture
def fake():
    return FakeBackend()


def test_ready_is_the_identifier_one_event_at_a_time(fake):
    with (
        Timer(offset=1, backend=fake) as t1,
        Timer(offset=1, backend=fake) as t2,
        Selector(backend=fake) as selector,
    ):
        selector.add(t1, identifier="first")
        selector.add(t2)
        t1.start()
        t2.start()
        seen = []
        selector.wait()
        seen.append(selector.ready)
        selector.wait()
        seen.append(selector.ready)
        assert sorted(map(str, seen)) == sorted(["first", str(t2)])
        assert t1.wait() == 1 and t2.wait() == 1  # drained by the selector, kept for wait()


def test_remove_drops_pending_reports(fake):
    with (
        Timer(offset=1, backend=fake) as t1,
        Timer(offset=1, backend=fake) as t2,
        Selector(backend=fake) as selector,
    ):
        selector.add(t1)
        selector.add(t2)
        t1.start()
        t2.start()
        selector.wait()
        first = selector.ready
        other = t2 if first is t1 else t1
        selector.remove(other)
        selector.wait(timeout=0)
        assert selector.ready is None


def test_edge_trigger_reports_once(fake):
    with Semaphore(1, backend=fake) as sem, Selector(backend=fake) as selector:
        selector.add(sem, INPUT, trigger=EDGE)
        selector.wait(0)
        assert selector.ready is sem
        selector.wait(0)
        assert selector.ready is None  # still readable, but edge-triggered


def test_semaphore_counts_and_wakes_a_selector(fake):
    with Semaphore(backend=fake) as sem, Selector(backend=fake) as selector:
        selector.add(sem)
        threading.Thread(target=sem.signal).start()
        selector.wait(timeout=5)
        assert selector.ready is sem
        assert sem.wait() is True
        assert Semaphore(0, blocking=False, backend=fake).wait() is False


def test_interval_timer_periodic_through_selector(fake):
    with Timer(interval=0.5, backend=fake) as timer, Selector(backend=fake) as selector:
        selector.add(timer)
        timer.start()
        times = []
        for _ in range(3):
            selector.wait()
            times.append(fake.clock.monotonic())
            assert timer.wait() == 1
        assert times == [0.5, 1.0, 1.5]


def test_offset_then_interval(fake):
    with Timer(offset=2, interval=0.25, backend=fake) as timer, Selector(backend=fake) as sel:
        sel.add(timer)
        timer.start()
        sel.wait()
        assert fake.clock.monotonic() == 2.0
        timer.wait()
        sel.wait()
        assert fake.clock.monotonic() == 2.25


def test_stop_forgets_pending_expirations(fake):
    with Timer(offset=1, backend=fake) as timer:
        timer.start()
        fake.clock.advance(2)
        timer.stop()
        with pytest.raises(Exception, match="not running"):
            timer.wait()


def test_asyncio_add_reader_on_a_pin(fake):
    """asyncio works through fileno(), with no gpiocore-specific loop."""
    harness = fake.harness

    async def main() -> list:
        loop = asyncio.get_running_loop()
        from gpiocore import use_backend

        with use_backend(fake), pins.pin(0, direction=In, interrupt=Both) as button:
            got: asyncio.Queue = asyncio.Queue()
            loop.add_reader(button.fileno(), lambda: got.put_nowait(button.edges()))
            loop.call_soon(harness.drive, "gpiochip0", 17, True)
            edges = await asyncio.wait_for(got.get(), 5)
            loop.remove_reader(button.fileno())
            return edges

    edges = asyncio.run(main())
    assert [e.type.value for e in edges] == ["rising"]


def test_selector_nests_in_raw_epoll(fake):
    with Timer(offset=1, backend=fake) as timer, Selector(backend=fake) as selector:
        selector.add(timer)
        timer.start()
        fake.clock.advance(1)
        outer = select.epoll()
        try:
            outer.register(selector, select.EPOLLIN)
            assert outer.poll(0) == [(selector.fileno(), select.EPOLLIN)]
        finally:
            outer.close()


# -- closing a source while it is in a selector (issue 12, item 8) ------------------------


def test_closing_a_pin_takes_it_out_of_its_selectors(fake):
    bank = PinBank(["GPIO17", "GPIO18"], backend=fake)
    with Selector(backend=fake) as selector:
        first = bank.pin(0, direction=In, interrupt=Both)
        first.open()
        fd = first.fileno()
        selector.add(first)
        first.close()  # while in the selector
        with bank.pin(1, direction=In, interrupt=Both) as second:
            assert second.fileno() == fd  # the kernel hands out the lowest free fd
            selector.add(second)  # no stale entry in the way (it was ENOENT)
            selector.remove(first)  # closed: it already left; removing it is a no-op
            fake.harness.drive("gpiochip0", 18, True)
            selector.wait(timeout=0)
            assert selector.ready is second
            selector.remove(second)
            with pytest.raises(InvalidSettingError, match="was never added to this selector"):
                selector.remove(second)


@pytest.mark.parametrize("kind", ["timer", "semaphore"])
def test_closing_a_timer_or_semaphore_takes_it_out_of_its_selectors(fake, kind):
    def make() -> Timer | Semaphore:
        return Timer(offset=1, backend=fake) if kind == "timer" else Semaphore(backend=fake)

    with Selector(backend=fake) as selector:
        first = make()
        fd = first.fileno()
        selector.add(first)
        first.close()
        selector.remove(first)  # no ClosedError: the entry is gone already
        with make() as second:
            assert second.fileno() == fd
            selector.add(second)
            selector.wait(timeout=0)
            assert selector.ready is None


def test_a_raw_fd_closed_in_a_selector_does_not_block_its_number(fake):
    import os

    with Selector(backend=fake) as selector:
        read_end, write_end = os.pipe()
        selector.add(read_end)
        os.close(read_end)  # a raw fd cannot tell the selector; its number is reused
        with Semaphore(1, backend=fake) as sem:
            assert sem.fileno() == read_end
            selector.add(sem)
            selector.wait(timeout=0)
            assert selector.ready is sem
        os.close(write_end)
