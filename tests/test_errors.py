"""Bad input: each case raises a specific error whose message names the problem and the
fix, and leaves no fd or line behind."""

from __future__ import annotations

import pytest

from gpiocore import (
    BackendNotFoundError,
    Both,
    ClosedError,
    GpioError,
    In,
    InvalidSettingError,
    LineBusyError,
    LineNotFoundError,
    Out,
    PinDirectionError,
    PinIndexError,
    TimerSettingError,
    line,
    pins,
    use_backend,
)
from gpiocore.backends import load_backend
from gpiocore.selector import Selector, Semaphore, Timer

pytestmark = pytest.mark.usefixtures("no_fd_leak")


def test_invalid_pin_index(backend):
    with pytest.raises(PinIndexError, match=r"pins has no pin 8: use 0 to 7 \(P0-P7"):
        pins.pin(8)
    with pytest.raises(PinIndexError, match="must be an int, not '0'"):
        pins.pin("0")
    with pytest.raises(IndexError):  # also the builtin category
        pins.pin(-1)


def test_invalid_line_offset_and_name(backend):
    with pytest.raises(PinIndexError, match="out of range.*use 0 to 27"):
        line(99).open()
    with pytest.raises(LineNotFoundError, match="no line named 'GPIO99'.*check the name"):
        line("GPIO99")


def test_writing_an_input(backend, harness):
    with pins.pin(0, direction=In) as pin:
        with pytest.raises(
            PinDirectionError, match=r"pins pin 0 \(GPIO17\) is an input.*direction=Out"
        ):
            pin.value = 1
    assert not harness.requested(pin.chip, pin.offset)


@pytest.mark.parametrize("action", ["get", "set", "fileno", "edges"])
def test_closed_pin(backend, action):
    pin = pins.pin(1, direction=Out)
    args = (1,) if action == "set" else ()
    with pytest.raises(ClosedError, match=r"pins pin 1 \(GPIO18\) is closed: open it \(with pin"):
        getattr(pin, action)(*args)
    with pin:
        pass
    with pytest.raises(ClosedError, match="is closed"):
        getattr(pin, action)(*args)


def test_unknown_backend():
    with pytest.raises(
        BackendNotFoundError, match=r"no GPIO backend named 'nope': choose one of .*fake"
    ):
        load_backend("nope")
    with pytest.raises(BackendNotFoundError), use_backend("nope"):
        pass


def test_unknown_backend_from_environment(monkeypatch):
    from gpiocore._context import _CurrentBackend

    monkeypatch.setenv("GPIOCORE_BACKEND", "nope")
    with pytest.raises(BackendNotFoundError, match="set GPIOCORE_BACKEND or pass --backend"):
        _CurrentBackend().get()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"direction": "sideways"}, r"invalid direction 'sideways': use one of gpiocore's In, Out"),
        ({"interrupt": "up"}, r"invalid interrupt 'up': use one of .*Rising.*Both or None"),
        ({"pull": "strong"}, r"invalid pull 'strong': use one of .*PullUp.*or None"),
        ({"drive": 3}, r"invalid drive 3"),
        ({"direction": Out, "interrupt": Both}, r"edge detection \(BOTH\) needs an input"),
        ({"debounce": "10ms"}, r"debounce must be a duration in seconds .* not '10ms'"),
        ({"debounce": -1}, r"debounce must be a finite duration of 0 seconds or more"),
        ({"debounce": float("nan")}, r"finite duration"),
        ({"active_low": "yes"}, r"active_low must be True or False, not 'yes'"),
        ({"drive": "open-drain"}, r"drive OPEN_DRAIN needs an output"),
        ({"event_buffer_size": 5000}, r"event_buffer_size must be 0 \(default\) to 1024"),
        ({"on_overflow": "explode"}, r"on_overflow must be 'warn', 'raise' or 'ignore'"),
        ({"value": 2}, r"a pin value must be 0, 1, True or False, not 2"),
    ],
)
def test_invalid_settings(backend, kwargs, match):
    with pytest.raises(InvalidSettingError, match=match):
        pins.pin(0, **kwargs)


def test_quick2wire_strings_are_accepted(backend):
    pin = pins.pin(0, direction="in", interrupt="both", pull="pull-up")
    assert pin.direction is In and pin.interrupt is Both


def test_invalid_value_written(backend):
    with pins.pin(1, direction=Out) as led, pytest.raises(InvalidSettingError, match="not 'on'"):
        led.value = "on"


def test_settings_change_that_fails_leaves_pin_as_it_was(backend):
    with pins.pin(0, direction=In, interrupt=Both) as pin:
        with pytest.raises(PinDirectionError, match="set pin.interrupt = None"):
            pin.direction = Out
        assert pin.direction is In and pin.interrupt is Both
        with pytest.raises(InvalidSettingError):
            pin.debounce = "x"
        assert pin.debounce == 0


def test_timer_start_without_offset_or_interval(backend):
    with (
        Timer() as timer,
        pytest.raises(TimerSettingError, match="would never fire: give it an offset"),
    ):
        timer.start()
    with Timer() as timer, pytest.raises(TimerSettingError, match="call start\\(\\) first"):
        timer.wait()
    with pytest.raises(InvalidSettingError, match="offset must be a duration"):
        Timer(offset="2s")


def test_busy_line_leaves_nothing(backend, harness):
    holder = pins.pin(0, direction=In)
    with holder:
        other = pins.pin(0, direction=In, interrupt=Both)
        with pytest.raises(LineBusyError, match=r"is busy.*close"):
            other.open()
        assert other.closed
    assert not harness.requested(holder.chip, holder.offset)


def test_closed_selector_timer_semaphore(backend):
    selector = Selector()
    selector.close()
    selector.close()  # safe twice
    with pytest.raises(ClosedError, match="selector is closed: create a new Selector"):
        selector.wait(0)
    timer = Timer(offset=1)
    timer.close()
    with pytest.raises(ClosedError, match="timer is closed"):
        timer.start()
    sem = Semaphore()
    sem.close()
    with pytest.raises(ClosedError, match="semaphore is closed"):
        sem.signal()


def test_selector_rejects_what_it_cannot_watch(backend):
    with Selector() as selector:
        with pytest.raises(InvalidSettingError, match="cannot be selected on"):
            selector.add("button")
        with pytest.raises(ClosedError, match="must be open to be added"):
            selector.add(pins.pin(0, interrupt=Both))
        with pytest.raises(InvalidSettingError, match="never added"):
            selector.remove(123456)


def test_every_error_is_a_gpio_error_and_a_builtin():
    import gpiocore

    for name in gpiocore.__all__:
        obj = getattr(gpiocore, name)
        if isinstance(obj, type) and issubclass(obj, GpioError) and obj is not GpioError:
            builtin_bases = [b for b in obj.__mro__[1:] if b.__module__ == "builtins"]
            assert any(
                b is not Exception and b is not BaseException and b is not object
                for b in builtin_bases
            ), name


def test_debounce_above_the_kernels_limit_is_refused_on_every_backend(backend):
    """The uAPI takes a u32 of microseconds: 5000 s would wrap to 705 s, 4294.967296 s to 0."""
    with pins.pin(0, direction=In, debounce=4294.967295) as pin:  # the limit itself: fine
        assert pin.debounce == 4294.967295
        for too_long in (5000, 4294.967296):
            with pytest.raises(
                InvalidSettingError,
                match=rf"debounce {too_long!r}.* s is above the kernel's limit of 4294.967295 s",
            ):
                pin.debounce = too_long
            assert pin.debounce == 4294.967295  # what the line has, not what was asked


def test_the_cdev_mapping_refuses_a_debounce_it_would_wrap():
    """A second check where gpiocore hands the value to gpiod, for settings made some other way."""
    from gpiocore import LineSettings
    from gpiocore.backends import to_gpiod_settings

    settings = LineSettings(debounce_ns=1_000)
    object.__setattr__(settings, "debounce_ns", 5000 * 10**9)  # past __post_init__
    with pytest.raises(InvalidSettingError, match=r"debounce 5000.0 s is above the kernel's"):
        to_gpiod_settings(settings)
    ok = to_gpiod_settings(LineSettings(debounce_ns=(2**32 - 1) * 1000))
    assert ok.debounce_period.total_seconds() == 4294.967295
