"""Objects dropped without close(): each says so with a ``ResourceWarning`` (as the
standard library's files and sockets do) and gives back what it held (issue 12, item 9).
"""

from __future__ import annotations

import gc
import os
import warnings

import pytest

from gpiocore import ClosedError, PinBank
from gpiocore.backends import CdevBackend
from gpiocore.selector import Selector, Semaphore, Timer
from gpiocore.testing import FakeBackend
from tests.conftest import open_fds


@pytest.fixture(params=["fake", "cdev"])
def any_backend(request):
    """A backend of each clock kind; the cdev backend needs no chip for timers and waits."""
    made = FakeBackend() if request.param == "fake" else CdevBackend()
    yield made
    made.close()


def test_a_dropped_open_pin_warns_and_frees_its_line():
    fake = FakeBackend()
    bank = PinBank(["GPIO17"], backend=fake, name="pins")
    pin = bank.pin(0)
    pin.open()
    handle = pin._handle  # kept, to see it closed (counting fds races other threads)
    with pytest.warns(
        ResourceWarning, match=r"^unclosed <Pin pins\[0\] = gpiochip0:17 GPIO17 direction=in open>$"
    ):
        del pin
        gc.collect()
    assert fake.harness.consumer("gpiochip0", 17) is None  # free, as the kernel would have it
    with pytest.raises(ClosedError):
        handle.fileno()  # its eventfd is closed
    with bank.pin(0) as again:
        assert not again.closed


def test_a_closed_or_never_opened_pin_is_dropped_quietly():
    fake = FakeBackend()
    bank = PinBank(["GPIO17"], backend=fake)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        unopened = bank.pin(0)
        del unopened
        with bank.pin(0) as closed:
            pass
        del closed
        gc.collect()


@pytest.mark.parametrize(
    ("make", "shown"),
    [
        (lambda b: Selector(backend=b), r"<Selector 0 sources>"),
        (lambda b: Semaphore(backend=b), r"<gpiocore._selector.Semaphore object at 0x[0-9a-f]+>"),
        (lambda b: Timer(offset=1, backend=b), r"<Timer offset=1.0s interval=0.0s running>"),
    ],
    ids=["selector", "semaphore", "timer"],
)
def test_a_dropped_selector_semaphore_or_timer_warns_and_closes_its_fds(any_backend, make, shown):
    before = open_fds()
    obj = make(any_backend)
    if isinstance(obj, Timer):
        obj.start()
        obj.wait(timeout=0)  # its own poller too
    assert open_fds() - before  # it holds fds
    with pytest.warns(ResourceWarning, match=rf"^unclosed {shown}$"):
        del obj
        gc.collect()
    assert open_fds() - before == set()  # as the no_fd_leak fixture counts


def test_a_selector_holding_a_dropped_pin_keeps_it():
    """A pin in an open selector is not dropped: the selector still watches it."""
    fake = FakeBackend()
    with Selector(backend=fake) as selector:
        pin = PinBank(["GPIO17"], backend=fake).pin(0, interrupt="both")
        pin.open()
        selector.add(pin)
        del pin
        gc.collect()
        assert fake.harness.requested("gpiochip0", 17)
        fake.harness.drive("gpiochip0", 17, True)
        selector.wait(timeout=0)
        held = selector.ready
        assert held is not None and not held.closed
        held.close()


def test_a_dropped_fake_line_handle_is_released_as_the_kernel_does():
    """The kernel releases a request when its fd is closed; the fake, when its handle goes."""
    from gpiocore import Direction, LineSettings

    fake = FakeBackend()
    seen: list[tuple[int, bool]] = []
    fake.harness.add_listener(lambda chip, offset, level, t: seen.append((offset, level)))
    handle = fake.open_line(
        "gpiochip0", 18, LineSettings(direction=Direction.OUT, output_value=True), "gone"
    )
    assert fake.harness.consumer("gpiochip0", 18) == "gone"
    assert seen == [(18, True)]
    fd = handle.fileno()
    del handle
    gc.collect()
    assert fake.harness.consumer("gpiochip0", 18) is None
    assert seen == [(18, True), (18, False)]  # the output let go: the pull (down) rules
    with pytest.raises(OSError):  # EBADF: its eventfd is closed
        os.fstat(fd)
    fake.open_line("gpiochip0", 18, LineSettings(), "again").close()
