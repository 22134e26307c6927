"""Bad input, systematically: every public entry point answers a wrong value with a
specific error whose message names the value and the fix.

Runs on the host on the fake backend (input checks do not depend on the backend).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

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
    LineSettings,
    Out,
    PinBank,
    PinDirectionError,
    PinIndexError,
    TimerSettingError,
    find_line,
    line,
    pins,
    use_backend,
)
from gpiocore.backends import load_backend
from gpiocore.selector import Selector, Semaphore, Timer
from gpiocore.testing import FakeBackend, backend_for_this_thread
from gpiosim import guest
from gpiosim._errors import AppError, InvalidNameError, KernelTooOldError, RigFileError
from gpiosim.chip import SimChip, SimDevice
from gpiosim.machines import timed_led_machine
from gpiosim.models import FollowButton, TimedLed, predict_timed_led
from gpiosim.pi import PiBackend, PiHarness, SimulatedPi, board_by_key
from gpiosim.pi._rigload import load_rig_signals
from gpiosim.rig import BackendTime, timing_diagram, write_vcd
from gpiosim.rig._rig import Rig
from gpiosim.rig._runner import AppRunner
from gpiosim.rig._signal import Signal, make_signals
from gpiosim.sim._backend import SimBackend
from gpiosim.strategies import Step, edge_sequences, timed_led_steps
from tests.conftest import APPS

pytestmark = pytest.mark.timeout(20)  # a hang is a failure, not a stuck CI job



APP = APPS / "timed_led.py"
NOT_AN_FD = 999_999  # above any fd this process will have open


@pytest.fixture
def ctx() -> Iterator[SimpleNamespace]:
    """A fake backend made current, with objects in every state the table needs."""
    fake = FakeBackend()
    with use_backend(fake):
        closed_pin = pins.pin(0, interrupt=Both)
        selector, timer, sem = Selector(), Timer(offset=1), Semaphore()
        for obj in (selector, timer, sem):
            obj.close()
        with (
            pins.pin(0, direction=In, interrupt=Both) as button,
            pins.pin(1, direction=Out) as led,
            Selector() as open_selector,
            Timer(offset=1) as open_timer,
            Semaphore() as open_sem,
        ):
            rig = Rig(fake, [Signal("b", 5, "input"), Signal("l", 6, "output")]).start()
            try:
                yield SimpleNamespace(
                    fake=fake,
                    button=button,
                    led=led,
                    closed_pin=closed_pin,
                    selector=open_selector,
                    timer=open_timer,
                    sem=open_sem,
                    closed_selector=selector,
                    closed_timer=timer,
                    closed_sem=sem,
                    rig=rig,
                )
            finally:
                rig.close()


def _set(obj: object, name: str, value: object) -> Callable[[], None]:
    return lambda: setattr(obj, name, value)


def _enter(manager: Any) -> None:
    with manager:
        pass


def _start(timer: Timer) -> None:
    with timer:
        timer.start()


# (id, call(ctx), exception, regex the message must match: the value and the fix)
CASES: list[tuple[str, Callable[[Any], object], type[Exception], str]] = [
    # -- pins, PinBank, line --------------------------------------------------------
    ("pin-index-str", lambda c: pins.pin("0"), PinIndexError, r"not '0': e.g. pins.pin\(0\)"),
    ("pin-index-range", lambda c: pins.pin(8), PinIndexError, r"no pin 8: use 0 to 7"),
    ("pin-index-bool", lambda c: pins.pin(True), PinIndexError, r"not True: e.g."),
    (
        "pin-direction",
        lambda c: pins.pin(0, direction="sideways"),
        InvalidSettingError,
        r"invalid direction 'sideways': use one of .*In, Out",
    ),
    (
        "pin-interrupt",
        lambda c: pins.pin(0, interrupt="up"),
        InvalidSettingError,
        r"invalid interrupt 'up': use one of .*Both",
    ),
    ("pin-pull", lambda c: pins.pin(0, pull=3), InvalidSettingError, r"invalid pull 3: use one"),
    (
        "pin-debounce-huge",
        lambda c: pins.pin(0, debounce=1e300),
        InvalidSettingError,
        r"debounce 1e\+300 is too long: .* pass a shorter one",
    ),
    (
        "pin-debounce-negative",
        lambda c: pins.pin(0, debounce=-0.5),
        InvalidSettingError,
        r"debounce must be a finite duration of 0 seconds or more, not -0.5",
    ),
    (
        "pin-debounce-over-kernel-limit",
        lambda c: pins.pin(0, debounce=5000),
        InvalidSettingError,
        r"debounce 5000.0 s is above the kernel's limit of 4294.967295 s \(a 32-bit count "
        r"of microseconds\): pass a shorter one",
    ),
    (
        "pin-debounce-set-over-kernel-limit",
        lambda c: setattr(c.button, "debounce", 4294.967296),
        InvalidSettingError,
        r"debounce 4294.967296 s is above the kernel's limit of 4294.967295 s",
    ),
    (
        "pin-event-buffer-bool",
        lambda c: pins.pin(0, event_buffer_size=True),
        InvalidSettingError,
        r"event_buffer_size must be 0 \(default\) to 1024, not True",
    ),
    (
        "pin-on-overflow",
        lambda c: pins.pin(0, on_overflow="drop"),
        InvalidSettingError,
        r"on_overflow must be 'warn', 'raise' or 'ignore', not 'drop'",
    ),
    (
        "pin-value",
        lambda c: pins.pin(1, direction=Out, value=2),
        InvalidSettingError,
        r"must be 0, 1, True or False, not 2",
    ),
    (
        "pin-consumer",
        lambda c: pins.pin(0, consumer=5),
        InvalidSettingError,
        r"consumer must be a printable string .*, not 5",
    ),
    (
        "pin-unknown-setting",
        lambda c: pins.pin(0, bouncetime=0.1),
        InvalidSettingError,
        r"unknown pin setting\(s\) 'bouncetime': use direction, .*debounce",
    ),
    (
        "pin-edge-on-output",
        lambda c: pins.pin(0, direction=Out, interrupt=Both),
        InvalidSettingError,
        r"edge detection \(BOTH\) needs an input: request the line with direction=In",
    ),
    (
        "bank-lines-str",
        lambda c: PinBank("GPIO17"),
        InvalidSettingError,
        r"lines must be a list .*, not 'GPIO17': e.g. PinBank\(\['GPIO17'",
    ),
    (
        "bank-lines-int",
        lambda c: PinBank(17),
        InvalidSettingError,
        r"lines must be a list of line names or offsets, not 17",
    ),
    (
        "bank-lines-none-item",
        lambda c: PinBank(["GPIO17", None]),
        InvalidSettingError,
        r"must be a line name or an offset, not None",
    ),
    (
        "bank-lines-negative",
        lambda c: PinBank([-1]),
        PinIndexError,
        r"line offset -1 in lines is negative: offsets count from 0",
    ),
    (
        "bank-unknown-chip",
        lambda c: PinBank(chip="gpiochip9").pin(0),
        LineNotFoundError,
        r"no chip named 'gpiochip9' on the 'fake' backend: use one of \['gpiochip0'\]",
    ),
    (
        "bank-chip-type",
        lambda c: PinBank(chip=0),
        LineNotFoundError,
        r"chip must be a chip name such as 'gpiochip0', not 0",
    ),
    (
        "bank-backend-type",
        lambda c: PinBank(backend=object()),
        InvalidSettingError,
        r"PinBank: <object .*> is not a GPIO backend: pass a backend object",
    ),
    (
        "bank-backend-name",
        lambda c: PinBank(backend="nope").pin(0),
        BackendNotFoundError,
        r"no GPIO backend named 'nope': choose one of .*fake",
    ),
    ("line-empty", lambda c: line(""), LineNotFoundError, r"must not be empty: pass e.g."),
    (
        "line-unknown-name",
        lambda c: line("GPIO99"),
        LineNotFoundError,
        r"no line named 'GPIO99' .*check the name",
    ),
    ("line-float", lambda c: line(1.5), PinIndexError, r"name or an offset, not 1.5"),
    (
        "line-offset-range",
        lambda c: line(99).open(),
        PinIndexError,
        r"line offset 99 is out of range for gpiochip0: use 0 to 27",
    ),
    (
        "line-backend-type",
        lambda c: line(0, backend=3),
        InvalidSettingError,
        r"line\(\): 3 is not a GPIO backend",
    ),
    # -- Pin setters and methods ----------------------------------------------------
    (
        "set-direction",
        lambda c: _set(c.button, "direction", "up")(),
        InvalidSettingError,
        r"invalid direction 'up': use",
    ),
    (
        "set-interrupt",
        lambda c: _set(c.button, "interrupt", 5)(),
        InvalidSettingError,
        r"invalid interrupt 5: use",
    ),
    (
        "set-pull",
        lambda c: _set(c.button, "pull", "strong")(),
        InvalidSettingError,
        r"invalid pull 'strong'",
    ),
    (
        "set-active-low",
        lambda c: _set(c.button, "active_low", 1)(),
        InvalidSettingError,
        r"active_low must be True or False, not 1",
    ),
    (
        "set-debounce",
        lambda c: _set(c.button, "debounce", "10ms")(),
        InvalidSettingError,
        r"debounce must be a duration in seconds .*not '10ms': pass e.g.",
    ),
    (
        "set-drive-on-input",
        lambda c: _set(c.button, "drive", "open-drain")(),
        InvalidSettingError,
        r"drive OPEN_DRAIN needs an output: request the line with direction=Out",
    ),
    (
        "set-output-with-edges",
        lambda c: _set(c.button, "direction", Out)(),
        PinDirectionError,
        r"has interrupt=both, .*set pin.interrupt = None before",
    ),
    (
        "set-edges-on-output",
        lambda c: _set(c.led, "interrupt", Both)(),
        PinDirectionError,
        r"is an output and cannot detect edges: set pin.direction = In first",
    ),
    (
        "write-input",
        lambda c: _set(c.button, "value", 1)(),
        PinDirectionError,
        r"is an input and cannot be written: create it with direction=Out",
    ),
    ("write-value", lambda c: _set(c.led, "value", "on")(), InvalidSettingError, r"not 'on'"),
    (
        "closed-pin-get",
        lambda c: c.closed_pin.get(),
        ClosedError,
        r"pins pin 0 \(GPIO17\) is closed: open it .* before you read it",
    ),
    (
        "closed-pin-edges",
        lambda c: c.closed_pin.edges(),
        ClosedError,
        r"is closed: open it .* before you read its edges",
    ),
    ("closed-pin-fileno", lambda c: c.closed_pin.fileno(), ClosedError, r"is closed: open it"),
    (
        "busy-line",
        lambda c: pins.pin(0).open(),
        LineBusyError,
        r"line 17 \(GPIO17\) of gpiochip0 is busy: 'gpiocore' holds it; close that pin",
    ),
    # -- Selector ---------------------------------------------------------------------
    (
        "selector-size-hint",
        lambda c: Selector("4"),
        InvalidSettingError,
        r"size_hint must be a number of sources .*, not '4'",
    ),
    (
        "selector-clock",
        lambda c: Selector(clock=5),
        InvalidSettingError,
        r"clock must be a gpiocore clock \(e.g. backend.clock\), not 5",
    ),
    (
        "selector-backend",
        lambda c: Selector(backend="fake"),
        InvalidSettingError,
        r"Selector: 'fake' is not a GPIO backend: pass a backend object",
    ),
    (
        "selector-add-str",
        lambda c: c.selector.add("button"),
        InvalidSettingError,
        r"'button' cannot be selected on: pass an fd or an object with fileno\(\)",
    ),
    (
        "selector-add-bad-fd",
        lambda c: c.selector.add(NOT_AN_FD),
        InvalidSettingError,
        rf"{NOT_AN_FD} \(fd {NOT_AN_FD}\) cannot be selected on .*Bad file descriptor.*open fd",
    ),
    (
        "selector-add-negative-fd",
        lambda c: c.selector.add(-1),
        InvalidSettingError,
        r"-1 \(fd -1\) cannot be selected on .*: pass an open fd",
    ),
    (
        "selector-add-closed-pin",
        lambda c: c.selector.add(c.closed_pin),
        ClosedError,
        r"is closed: open it .*\(it must be open to be added to a selector\)",
    ),
    (
        "selector-add-mask",
        lambda c: c.selector.add(c.sem, eventmask="in"),
        InvalidSettingError,
        r"invalid eventmask 'in': combine selector.INPUT",
    ),
    (
        "selector-add-trigger",
        lambda c: c.selector.add(c.sem, trigger=7),
        InvalidSettingError,
        r"invalid trigger 7: use selector.LEVEL, selector.EDGE or ONESHOT",
    ),
    (
        "selector-remove-unknown",
        lambda c: c.selector.remove(c.sem),
        InvalidSettingError,
        r"<gpiocore._selector.Semaphore .*> was never added to this selector",
    ),
    (
        "selector-wait-negative",
        lambda c: c.selector.wait(-1),
        InvalidSettingError,
        r"timeout must be a finite duration of 0 seconds or more, not -1",
    ),
    (
        "selector-wait-nan",
        lambda c: c.selector.wait(math.nan),
        InvalidSettingError,
        r"not nan",
    ),
    (
        "selector-wait-str",
        lambda c: c.selector.wait("1"),
        InvalidSettingError,
        r"timeout must be a duration in seconds .*not '1': pass e.g. timeout=0.01",
    ),
    (
        "selector-wait-huge",
        lambda c: c.selector.wait(1e12),
        InvalidSettingError,
        r"timeout 1000000000000.0 is too long",
    ),
    (
        "closed-selector-wait",
        lambda c: c.closed_selector.wait(0),
        ClosedError,
        r"the selector is closed: create a new Selector",
    ),
    (
        "closed-selector-add",
        lambda c: c.closed_selector.add(c.sem),
        ClosedError,
        r"the selector is closed: create a new Selector",
    ),
    (
        "closed-selector-fileno",
        lambda c: c.closed_selector.fileno(),
        ClosedError,
        r"the selector is closed",
    ),
    # -- Timer ------------------------------------------------------------------------
    (
        "timer-offset-str",
        lambda c: Timer(offset="2s"),
        InvalidSettingError,
        r"offset must be a duration in seconds .*not '2s': pass e.g. offset=0.01",
    ),
    (
        "timer-offset-negative",
        lambda c: Timer(offset=-2),
        InvalidSettingError,
        r"offset must be a finite duration of 0 seconds or more, not -2",
    ),
    (
        "timer-interval-inf",
        lambda c: Timer(interval=math.inf),
        InvalidSettingError,
        r"interval must be a finite duration .*not inf",
    ),
    (
        "timer-backend",
        lambda c: Timer(backend=5),
        InvalidSettingError,
        r"Timer: 5 is not a GPIO backend",
    ),
    (
        "timer-start-nothing",
        lambda c: _start(Timer()),
        TimerSettingError,
        r"offset=0 and interval=0 would never fire: give it an offset .* e.g. Timer\(offset=2\)",
    ),
    (
        "timer-wait-not-started",
        lambda c: c.timer.wait(),
        TimerSettingError,
        r"not running would block forever: call start\(\) first",
    ),
    (
        "timer-set-offset",
        lambda c: _set(c.timer, "offset", -1)(),
        InvalidSettingError,
        r"offset must be a finite duration of 0 seconds or more, not -1",
    ),
    (
        "closed-timer-start",
        lambda c: c.closed_timer.start(),
        ClosedError,
        r"the timer is closed: create a new Timer",
    ),
    (
        "closed-timer-wait",
        lambda c: c.closed_timer.wait(),
        ClosedError,
        r"the timer is closed: create a new Timer",
    ),
    # -- Semaphore --------------------------------------------------------------------
    (
        "semaphore-negative",
        lambda c: Semaphore(-1),
        InvalidSettingError,
        r"count must be an int from 0 to 2\*\*32 - 1, not -1",
    ),
    (
        "semaphore-huge",
        lambda c: Semaphore(2**64),
        InvalidSettingError,
        r"not 18446744073709551616",
    ),
    (
        "semaphore-blocking",
        lambda c: Semaphore(blocking="no"),
        InvalidSettingError,
        r"blocking must be True or False, not 'no'",
    ),
    (
        "semaphore-backend",
        lambda c: Semaphore(backend=1),
        InvalidSettingError,
        r"Semaphore: 1 is not a GPIO backend",
    ),
    (
        "semaphore-wait",
        lambda c: c.sem.wait(timeout=-1),
        InvalidSettingError,
        r"timeout must be a finite duration .*not -1",
    ),
    (
        "closed-semaphore-signal",
        lambda c: c.closed_sem.signal(),
        ClosedError,
        r"the semaphore is closed: create a new Semaphore",
    ),
    (
        "closed-semaphore-wait",
        lambda c: c.closed_sem.wait(),
        ClosedError,
        r"the semaphore is closed: create a new Semaphore",
    ),
    # -- use_backend, load_backend ----------------------------------------------------
    (
        "use-backend-none",
        lambda c: _enter(use_backend(None)),
        InvalidSettingError,
        r"use_backend\(\): None is not a GPIO backend: pass a backend object",
    ),
    (
        "use-backend-unknown",
        lambda c: _enter(use_backend("nope")),
        BackendNotFoundError,
        r"no GPIO backend named 'nope': choose one of .*\(set GPIOCORE_BACKEND or pass",
    ),
    (
        "backend-for-this-thread-none",
        lambda c: _enter(backend_for_this_thread(None)),
        InvalidSettingError,
        r"backend_for_this_thread\(\): None is not a GPIO backend: pass a backend object",
    ),
    (
        "load-backend-type",
        lambda c: load_backend(3),
        BackendNotFoundError,
        r"a backend name must be a string, not 3",
    ),
    (
        "load-backend-option",
        lambda c: load_backend("fake", chip="x"),
        InvalidSettingError,
        r"backend 'fake' does not take the option\(s\) \['chip'\] .*see help\(FakeBackend\)",
    ),
    (
        "load-backend-cdev-chips",
        lambda c: load_backend("cdev", chips="gpiochip0"),
        InvalidSettingError,
        r"chips must be a list .*not the string 'gpiochip0': pass chips=\['gpiochip0'\]",
    ),
    # -- gpiosim: SimChip, SimDevice, SimBackend ---------------------------------------
    (
        "simchip-lines",
        lambda c: SimChip("4"),
        InvalidSettingError,
        r"num_lines must be a whole number of 1 or more, not '4'",
    ),
    ("simchip-zero", lambda c: SimChip(0), InvalidSettingError, r"1 or more, not 0"),
    (
        "simchip-label",
        lambda c: SimChip(4, label="x" * 40),
        InvalidNameError,
        r"chip label 'x{40}' is 40 characters; the GPIO uAPI keeps only 31: shorten it",
    ),
    (
        "simchip-line-names-str",
        lambda c: SimChip(4, line_names="AB"),
        InvalidSettingError,
        r"line_names must be a mapping .* not 'AB': e.g. line_names=\['BUTTON', 'LED'\]",
    ),
    (
        "simchip-line-name-offset",
        lambda c: SimChip(4, line_names={9: "X"}),
        PinIndexError,
        r"line name 'X' at offset 9 is out of range: .*\(raise num_lines\)",
    ),
    (
        "simchip-line-name-nul",
        lambda c: SimChip(4, line_names=["A\0B"]),
        InvalidNameError,
        r"line name 'A\\x00B' contains a non-printable character",
    ),
    (
        "simchip-hogs-type",
        lambda c: SimChip(4, hogs=[(0, "x", "input")]),
        InvalidSettingError,
        r"hogs must be a mapping .*, not \[\(0, 'x', 'input'\)\]: e.g. hogs=",
    ),
    (
        "simchip-hog-direction",
        lambda c: SimChip(4, hogs={0: ("x", "up")}),
        InvalidSettingError,
        r"hog direction 'up' at offset 0 is not valid: use one of input, output-high",
    ),
    (
        "simchip-name-traversal",
        lambda c: SimChip(4, name="../etc"),
        InvalidNameError,
        r"sim chip name '../etc' contains a path separator: it would escape",
    ),
    (
        "simchip-timeout",
        lambda c: SimChip(4, timeout=-1),
        InvalidSettingError,
        r"timeout must be a positive number of seconds, not -1: e.g. timeout=5",
    ),
    (
        "simchip-configfs-root",
        lambda c: SimChip(4, configfs_root=5),
        InvalidSettingError,
        r"configfs_root must be a folder path, not 5",
    ),
    (
        "simchip-kernel-release",
        lambda c: SimChip(4, kernel_release=6.1),
        InvalidSettingError,
        r"kernel_release must be a release string such as '6.1.0', not 6.1",
    ),
    (
        "simchip-old-kernel",
        lambda c: SimChip(4, kernel_release="5.10.0").create(),
        KernelTooOldError,
        r"Linux 5.10.0 is older than 5.17, .*use a newer kernel, or run under the gpiorig guest",
    ),
    (
        "simchip-attach-type",
        lambda c: SimChip.attach(0),
        LineNotFoundError,
        r"must be named by a string such as 'gpio-sim.0' or 'gpiochip1', not 0",
    ),
    (
        "simchip-attach-missing",
        lambda c: SimChip.attach("gpio-sim.99"),
        LineNotFoundError,
        r"'gpio-sim.99' names no live gpio-sim device .*: pass a dev_name like 'gpio-sim.0'",
    ),
    (
        "simchip-not-live",
        lambda c: SimChip(4).set_pull(0, True),
        ClosedError,
        r"sim device None is not live: call create\(\) first",
    ),
    (
        "simdevice-bank",
        lambda c: SimDevice(4),
        InvalidSettingError,
        r"banks must be gpiosim.chip.Bank objects, not 4",
    ),
    (
        "simbackend-lines",
        lambda c: SimBackend(num_lines="28"),
        InvalidSettingError,
        r"num_lines must be a whole number of 1 or more, not '28'",
    ),
    (
        "simbackend-label",
        lambda c: SimBackend(label=""),
        InvalidNameError,
        r"chip label '' is empty",
    ),
    (
        "simbackend-attach",
        lambda c: SimBackend(attach=0),
        LineNotFoundError,
        r"attach must name a gpio-sim device or chip such as 'gpio-sim.0', not 0",
    ),
    # -- gpiosim: Signal, Rig --------------------------------------------------------
    (
        "signal-name",
        lambda c: Signal("my button", "GPIO17", "input"),
        InvalidSettingError,
        r"a signal name must be a non-empty word without spaces, not 'my button': e.g.",
    ),
    (
        "signal-line",
        lambda c: Signal("b", None, "input"),
        InvalidSettingError,
        r"signal 'b': line must be a line name such as 'GPIO17' or an offset, not None",
    ),
    (
        "signal-negative-line",
        lambda c: Signal("b", -3, "input"),
        InvalidSettingError,
        r"signal 'b': line offset -3 is negative",
    ),
    (
        "signal-role",
        lambda c: Signal("b", 1, "in"),
        InvalidSettingError,
        r"signal 'b': role must be 'input' or 'output', not 'in'",
    ),
    (
        "signal-active-low",
        lambda c: Signal("b", 1, "input", active_low="yes"),
        InvalidSettingError,
        r"signal 'b': active_low must be True or False, not 'yes'",
    ),
    (
        "signal-chip",
        lambda c: Signal("b", 1, "input", chip=0),
        InvalidSettingError,
        r"signal 'b': chip must be a chip name such as 'gpiochip0' or None, not 0",
    ),
    (
        "rig-backend",
        lambda c: Rig("fake", []),
        InvalidSettingError,
        r"Rig: 'fake' is not a GPIO backend",
    ),
    (
        "rig-signals-type",
        lambda c: Rig(c.fake, "button"),
        InvalidSettingError,
        r"signals must be a list of gpiosim Signal objects, not 'button'",
    ),
    (
        "rig-signal-item",
        lambda c: Rig(c.fake, [("button", "GPIO17", "input")]),
        InvalidSettingError,
        r"signals must be gpiosim Signal objects, not \('button', .*e.g. Signal\('button'",
    ),
    (
        "rig-scale",
        lambda c: Rig(c.fake, [], scale=0),
        InvalidSettingError,
        r"scale must be a positive number, not 0",
    ),
    (
        "rig-poll-interval",
        lambda c: Rig(c.fake, [], poll_interval=math.nan),
        InvalidSettingError,
        r"poll_interval must be a positive number, not nan",
    ),
    (
        "rig-duplicate",
        lambda c: Rig(c.fake, [Signal("b", 1, "input"), Signal("b", 2, "output")]),
        InvalidSettingError,
        r"two signals are named 'b': rename one",
    ),
    (
        "rig-unknown-line",
        lambda c: Rig(c.fake, [Signal("b", "GPIO99", "input")]),
        LineNotFoundError,
        r"no line named 'GPIO99'",
    ),
    (
        "rig-offset-range",
        lambda c: Rig(c.fake, [Signal("b", 99, "input")]),
        LineNotFoundError,
        r"signal 'b': no line 99 on chip 'gpiochip0'",
    ),
    (
        "rig-drive-unknown",
        lambda c: c.rig.drive("x", True),
        InvalidSettingError,
        r"the rig has no signal 'x': use one of \['b', 'l'\]",
    ),
    (
        "rig-drive-output",
        lambda c: c.rig.drive("l", True),
        InvalidSettingError,
        r"signal 'l' is an output of the program: observe it, do not drive it",
    ),
    (
        "rig-drive-string-level",
        lambda c: c.rig.drive("b", "0"),
        InvalidSettingError,
        r"rig.drive\('b'\): a level must be True or False \(or 0 or 1\), not '0'",
    ),
    (
        "rig-drive-nan-level",
        lambda c: c.rig.drive("b", math.nan),
        InvalidSettingError,
        r"rig.drive\('b'\): a level must be True or False \(or 0 or 1\), not nan",
    ),
    (
        "rig-bounce-string-level",
        lambda c: c.rig.bounce("b", "0", toggles=2),
        InvalidSettingError,
        r"rig.bounce\('b'\): a level must be True or False \(or 0 or 1\), not '0'",
    ),
    (
        "rig-harness-fake-string-level",
        lambda c: c.fake.harness.drive("gpiochip0", 5, "0"),
        InvalidSettingError,
        r"drive\('gpiochip0', 5\): a level must be True or False \(or 0 or 1\), not '0'",
    ),
    (
        "rig-harness-sim-string-level",
        lambda c: SimBackend().harness.drive("gpiochip1", 5, "0"),
        InvalidSettingError,
        r"drive\('gpiochip1', 5\): a level must be True or False \(or 0 or 1\), not '0'",
    ),
    (
        "rig-harness-pi-nan-level",
        lambda c: PiHarness.drive(None, "gpiochip0", 17, math.nan),  # checked first
        InvalidSettingError,
        r"drive\('gpiochip0', 17\): a level must be True or False \(or 0 or 1\), not nan",
    ),
    (
        "rig-bounce-toggles",
        lambda c: c.rig.bounce("b", True, toggles="5"),
        InvalidSettingError,
        r"toggles must be a whole number of 1 or more, not '5'",
    ),
    (
        "rig-pulse-width",
        lambda c: c.rig.pulse("b", -0.1),
        InvalidSettingError,
        r"seconds must be a finite duration of 0 seconds or more, not -0.1",
    ),
    (
        "rig-wait-for",
        lambda c: c.rig.wait_for("l", True, "1"),
        InvalidSettingError,
        r"timeout must be a duration in seconds .*not '1'",
    ),
    (
        "rig-wait-for-string-level",
        lambda c: c.rig.wait_for("l", "0", 1),
        InvalidSettingError,
        r"rig.wait_for\('l'\): a level must be True or False \(or 0 or 1\), not '0'",
    ),
    (
        "rig-transitions-unknown",
        lambda c: c.rig.transitions("lde"),
        InvalidSettingError,
        r"the rig has no signal 'lde': use one of",
    ),
    (
        "rig-transitions-since",
        lambda c: c.rig.transitions(since=5),
        InvalidSettingError,
        r"since must be a mark of this rig, not 5: use the value of rig.mark\(\)",
    ),
    (
        "rig-mark-label",
        lambda c: c.rig.mark(5),
        InvalidSettingError,
        r"a mark's label must be a string, not 5",
    ),
    (
        "rig-play-item",
        lambda c: c.rig.play("b", ["press"]),
        InvalidSettingError,
        r"play\(\) takes gpiosim.strategies.Step objects, not 'press'",
    ),
    (
        "make-signals-pair",
        lambda c: make_signals({"b": "GPIO17"}),
        InvalidSettingError,
        r"signal 'b' must be given as \(line, role\), not 'GPIO17': e.g.",
    ),
    # -- gpiosim: AppRunner ---------------------------------------------------------
    (
        "runner-path-type",
        lambda c: AppRunner(None),
        AppError,
        r"path must be the path of a Python file, not None",
    ),
    (
        "runner-path-missing",
        lambda c: AppRunner("no/such/app.py"),
        AppError,
        r"no program at no/such/app.py: give the path of a Python file",
    ),
    (
        "runner-args-str",
        lambda c: AppRunner(APP, "0.5"),
        AppError,
        r"args must be a list of arguments, not '0.5': e.g. args=\['0.5'\]",
    ),
    (
        "runner-mode",
        lambda c: AppRunner(APP, mode="process"),
        AppError,
        r"mode must be 'thread' or 'subprocess', not 'process'",
    ),
    (
        "runner-backend",
        lambda c: AppRunner(APP, backend="fake"),
        InvalidSettingError,
        r"AppRunner: 'fake' is not a GPIO backend",
    ),
    (
        "runner-env",
        lambda c: AppRunner(APP, env={"OFFSET": 2}),
        AppError,
        r"env must map variable names to strings, not \{'OFFSET': 2\}",
    ),
    (
        "runner-stop-timeout",
        lambda c: AppRunner(APP, stop_timeout=0),
        AppError,
        r"stop_timeout must be a positive number of seconds, not 0",
    ),
    (
        "runner-subprocess-on-fake",
        lambda c: AppRunner(APP, mode="subprocess").start(),
        AppError,
        r"the 'fake' backend lives in this process .*: use mode='thread'",
    ),
    (
        "runner-wait-ready-unstarted",
        lambda c: AppRunner(APP).wait_ready([("gpiochip0", 17)]),
        AppError,
        r"timed_led.py was not started: call start\(\) first",
    ),
    # -- gpiosim: models, strategies -------------------------------------------------
    (
        "model-offset",
        lambda c: TimedLed(0),
        InvalidSettingError,
        r"offset must be a finite number of seconds above 0, not 0",
    ),
    (
        "model-tolerance",
        lambda c: TimedLed(1, tolerance=-0.1),
        InvalidSettingError,
        r"tolerance must be a finite number of seconds of at least 0, not -0.1",
    ),
    (
        "model-button-time",
        lambda c: TimedLed(1).button("0.5", True),
        InvalidSettingError,
        r"t must be a finite number of seconds of at least 0, not '0.5'",
    ),
    (
        "predict-order",
        lambda c: predict_timed_led([(2.0, True), (1.0, False)], 1),
        InvalidSettingError,
        r"events must be in time order: 1.0 comes after 2.0; sort them by time",
    ),
    (
        "predict-events",
        lambda c: predict_timed_led([1.0], 1),
        InvalidSettingError,
        r"each event must be a \(t, level\) pair, not 1.0",
    ),
    (
        "sequences-steps",
        lambda c: edge_sequences(min_steps=5, max_steps=2),
        InvalidSettingError,
        r"need 0 <= min_steps <= max_steps .*got steps 5..2",
    ),
    (
        "sequences-toggles",
        lambda c: edge_sequences(max_toggles=1),
        InvalidSettingError,
        r"max_toggles must be a whole number >= 2, not 1",
    ),
    (
        "sequences-gap",
        lambda c: edge_sequences(bounce_gap=(0.003, 0.001)),
        InvalidSettingError,
        r"bounce_gap must be \(low, high\) with low <= high, not \(0.003, 0.001\)",
    ),
    (
        "sequences-glitch",
        lambda c: edge_sequences(glitch_width=0.001),
        InvalidSettingError,
        r"glitch_width must be a \(low, high\) pair of seconds, not 0.001",
    ),
    (
        "sequences-dwell",
        lambda c: edge_sequences(min_dwell=math.nan),
        InvalidSettingError,
        r"min_dwell must be a finite number >= 0, not nan",
    ),
    (
        "timed-steps-offset",
        lambda c: timed_led_steps(0),
        InvalidSettingError,
        r"offset must be above 0: the program's timer needs one",
    ),
    (
        "timed-steps-max-wait",
        lambda c: timed_led_steps(1, max_wait=0),
        InvalidSettingError,
        r"max_wait must be 0.01 s or more, not 0",
    ),
    (
        "step-kind",
        lambda c: Step("hold"),
        InvalidSettingError,
        r"step kind must be one of press, release, bounce, glitch, wait, not 'hold'",
    ),
    (
        "step-duration",
        lambda c: Step("wait", duration=-1),
        InvalidSettingError,
        r"duration must be a finite number >= 0, not -1",
    ),
    # -- find_line, LineSettings, the virtual clock, the state machine, the guest ---------
    (
        "find-line-int",
        lambda c: find_line(c.fake, 17),
        InvalidSettingError,
        r"a line name must be a string, not 17: .*use line\(offset\)",
    ),
    (
        "find-line-backend",
        lambda c: find_line("fake", "GPIO17"),
        InvalidSettingError,
        r"find_line.*'fake'",
    ),
    (
        "find-line-chip",
        lambda c: find_line(c.fake, "GPIO17", 0),
        InvalidSettingError,
        r"chip must be a chip's name, not 0: e.g. 'gpiochip0'",
    ),
    (
        "line-settings-direction",
        lambda c: LineSettings(direction="sideways"),
        InvalidSettingError,
        r"invalid direction 'sideways'",
    ),
    (
        "line-settings-buffer",
        lambda c: LineSettings(event_buffer_size=4096),
        InvalidSettingError,
        r"event_buffer_size must be 0 \(default\) to 1024, not 4096",
    ),
    (
        "line-settings-debounce-over-kernel-limit",
        lambda c: LineSettings(debounce_ns=4_294_967_295_001),
        InvalidSettingError,
        r"debounce 4294.967295001 s is above the kernel's limit of 4294.967295 s",
    ),
    (
        "virtual-clock-backwards",
        lambda c: c.fake.clock.advance(-1),
        InvalidSettingError,
        r"time can't go backwards: advance\(-1\)",
    ),
    (
        "virtual-clock-str",
        lambda c: c.fake.clock.advance("1s"),
        InvalidSettingError,
        r"not '1s': pass e.g. seconds=0.01",
    ),
    (
        "machine-rig",
        lambda c: timed_led_machine("rig", offset=1),
        InvalidSettingError,
        r"rig must be a gpiosim Rig \(the `rig` fixture\), not 'rig'",
    ),
    (
        "machine-signal",
        lambda c: timed_led_machine(c.rig, offset=1),
        InvalidSettingError,
        r"the rig has no signal 'button': use one of \['b', 'l'\]",
    ),
    (
        "machine-roles",
        lambda c: timed_led_machine(c.rig, offset=1, button="l", led="b"),
        InvalidSettingError,
        r"'l' must be an input of the program and 'b' an output",
    ),
    (
        "machine-offset",
        lambda c: timed_led_machine(c.rig, offset=0, button="b", led="l"),
        InvalidSettingError,
        r"offset",
    ),
    (
        "guest-run-string",
        lambda c: guest.run("echo hi"),
        InvalidSettingError,
        r"argv must be a list of arguments, not 'echo hi'",
    ),
    (
        "guest-run-timeout",
        lambda c: guest.run(["true"], timeout=math.inf),
        InvalidSettingError,
        r"timeout must be a positive, finite number of seconds \(or None\), not inf",
    ),
    (
        "guest-run-cpu-model",
        lambda c: guest.run(["true"], cpu_model="max,+avx512f"),
        InvalidSettingError,
        r"cpu_model must be a qemu CPU model name, not 'max,\+avx512f': e.g. 'max'",
    ),
    (
        "guest-run-forward-tcp",
        lambda c: guest.run(["true"], forward_tcp={2222: 70000}),
        InvalidSettingError,
        r"forward_tcp must map host ports to guest ports \(1-65535\), not \{2222: 70000\}",
    ),
    (
        "guest-run-env",
        lambda c: guest.run(["true"], env={"A=B": "1"}),
        InvalidSettingError,
        r"malformed environment variable 'A=B'",
    ),
    (
        "rig-file-path",
        lambda c: load_rig_signals(5),
        RigFileError,
        r"a rig file is given by its path, not 5",
    ),
    (
        "rig-file-path-device",
        lambda c: load_rig_signals("/dev/zero"),
        RigFileError,
        r"/dev/zero is not a regular file \(a device, FIFO or socket\): give the rig file's path",
    ),
    (
        "trace-diagram-record",
        lambda c: timing_diagram(5, {}),
        InvalidSettingError,
        r"transitions must be a list of Transition, not 5: pass rig.transitions\(\)",
    ),
    (
        "trace-diagram-start",
        lambda c: timing_diagram([], {}, start_ns=-1),
        InvalidSettingError,
        r"start_ns must be a time in the record \(ns, 0 or more\), not -1: e.g. mark.t_ns",
    ),
    (
        "trace-vcd-record",
        lambda c: write_vcd("unused.vcd", [5], {}),
        InvalidSettingError,
        r"transitions must hold Transition records, not 5",
    ),
    (
        "trace-vcd-initial",
        lambda c: write_vcd("unused.vcd", [], [True]),
        InvalidSettingError,
        r"initial must map signal names to levels, not \[True\]",
    ),
    (
        "backend-time-scale",
        lambda c: BackendTime(c.fake, scale=0),
        InvalidSettingError,
        r"scale must be a positive number, not 0",
    ),
    (
        "follow-button-time",
        lambda c: FollowButton().button(-1, True),
        InvalidSettingError,
        r"t must be a finite number of seconds of at least 0, not -1",
    ),
    (
        "pi-board-key",
        lambda c: board_by_key("pi9"),
        InvalidSettingError,
        r"unknown board 'pi9': use one of pi5, pi4, pi3",
    ),
    (
        "simulated-pi-board",
        lambda c: SimulatedPi("pi9"),
        InvalidSettingError,
        r"unknown board 'pi9'",
    ),
    (
        "pi-backend-chip",
        lambda c: PiBackend(chip=5, dt_model=Path("/nonexistent")),
        GpioError,
        r"must be a chip's label, name or path, not 5",
    ),
]


@pytest.mark.parametrize(
    ("call", "error", "match"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_answered_by_name(ctx, call, error, match):
    with pytest.raises(error, match=match) as caught:
        call(ctx)
    # Never a builtin raised from deep inside: always one of ours, also a builtin.
    assert isinstance(caught.value, GpioError), repr(caught.value)
    assert type(caught.value).__module__.startswith(("gpiocore", "gpiosim"))


#: Where every public callable's bad input is answered: a prefix of the case ids above,
#: a test elsewhere ("pi/test_pi_board.py::test_name"), or "-" and why it takes no bad input.
ENTRY_POINTS: dict[str, dict[str, str]] = {
    "gpiocore": {
        "Pin": "pin-", "PinBank": "bank-", "line": "line-", "LineSettings": "line-settings-",
        "find_line": "find-line-", "use_backend": "use-backend-",
        "EdgeEvent": "- a record the backend makes", "current_backend": "- no arguments",
    },
    "gpiocore.selector": {"Selector": "selector-", "Semaphore": "semaphore-", "Timer": "timer-"},
    "gpiocore.backends": {
        "load_backend": "load-backend-", "check_backend": "use-backend-none",
        "CdevBackend": "load-backend-cdev-", "check_level": "rig-harness-fake-string-level",
        "to_ns": "timer-interval-",
        "to_gpiod_settings": (
            "test_errors.py::test_the_cdev_mapping_refuses_a_debounce_it_would_wrap"
        ),
        "MonotonicClock": "- no arguments", "ChipInfo": "- a record the backend makes",
        "available_backends": "- no arguments", "TimerfdTimer": "- no arguments",
        "CdevLine": "- made by CdevBackend.open_line",
        "detect_backend": "- total: a root without GPIO chips gives None",
        "new_eventfd": "- an OS primitive: eventfd(2) answers with OSError",
    },
    "gpiocore.testing": {
        "VirtualClock": "virtual-clock-", "FakeBackend": "load-backend-option",
        "FakeHarness": "rig-harness-fake-", "backend_for_this_thread": "backend-for-this-thread-",
        "set_session_backend": "- a name, checked by load_backend when first used",
        "FakeLine": "- made by FakeBackend.open_line",
        "pi_header_line_names": "- total: a count gives that many names",
        "check_backend_conformance": "test_conformance.py::test_bad_arguments_are_named",
    },
    "gpiosim.chip": {
        "SimChip": "simchip-", "SimDevice": "simdevice-", "Bank": "simdevice-bank",
        "validate_device_name": "simchip-name-traversal",
        "validate_line_name": "simchip-line-name-",
        "check_environment": "sim/test_chip.py::test_configfs_missing",
        "reclaim_stale": "sim/test_chip.py::test_reclaim_without_gpio_sim_is_a_no_op",
        "parse_kernel_release": "- total: text that is not a release gives None",
        "SimBank": "- a record SimDevice makes",
    },
    "gpiosim.guest": {
        "run": "guest-run-",
        "ensure_kernel": "guest/test_guest.py::test_missing_build_tools_name_their_packages",
        "inside_guest": "- no arguments", "kernel_cache_dir": "- no arguments",
        "missing_packages": "- no arguments",
    },
    # Errors and a constant only; the farm's options are usage errors:
    # farm/test_farm.py::test_without_labgrid_the_options_say_how_to_install_it.
    "gpiosim.farm": {},
    "gpiosim.models": {
        "TimedLed": "model-", "FollowButton": "follow-button-", "predict_timed_led": "predict-",
    },
    "gpiosim.strategies": {
        "Step": "step-", "edge_sequences": "sequences-", "timed_led_steps": "timed-steps-",
    },
    "gpiosim.machines": {"timed_led_machine": "machine-"},
    # Its options (--backend, --rig, --gpio-time-scale, --gpio-trace-dir) are usage errors:
    # test_plugin.py::test_bad_options_are_one_usage_error_naming_the_option and the tests
    # after it.
    "gpiosim.pytest_plugin": {},
    # The `gpiosim` command: guest, demo, bench and rig options (exit 2 for usage errors).
    "gpiosim._cli": {"main": "test_cli_fuzz.py::test_command_lines_that_once_escaped"},
    "gpiosim.rig": {
        "Rig": "rig-", "Signal": "signal-", "AppRunner": "runner-", "make_signals": "make-signals",
        "BackendTime": "backend-time-", "timing_diagram": "trace-diagram-",
        "write_vcd": "trace-vcd-",
        "default_scale": "test_cli_fuzz.py::test_a_bad_time_scale_is_named",
        "Transition": "- a record the rig makes", "Mark": "- a record the rig makes",
    },
    "gpiosim.pi": {
        "PiBackend": "pi-backend-", "SimulatedPi": "simulated-pi-", "board_by_key": "pi-board-key",
        "load_rig": "rig-file-path", "load_rig_signals": "rig-file-path",
        "check_rig": "pi/test_pi_cli.py::test_cli_rig_check_off_a_pi_exits_1",
        "describe_wiring": "pi/test_pi_rigfile.py::test_rig_file_mistakes_point_at_their_line",
        "discover": "pi/test_pi_board.py::test_off_a_pi_the_error_names_the_file_and_the_override",
        "parse_line": "pi/test_pi_board.py::test_numbering_mistakes_are_named",
        "board_for_model": "pi/test_pi_board.py::test_unknown_models_are_no_board",
        "read_model": "pi/test_pi_board.py::test_read_model_strips_the_nul",
        "read_chip": "pi/test_pi_board.py::test_unreadable_chips_name_the_gpio_group",
        "RigLock": "pi/test_pi_lock.py::test_lock_names_cannot_escape",
        "validate_rig_name": "pi/test_pi_lock.py::test_lock_names_cannot_escape",
        "default_lock_dir": "pi/test_pi_lock.py::test_lock_folder",
        "run_self_test": "pi/test_pi_lock.py::test_a_broken_report_raises_on_request",
        "describe_gpio": "- total: any number has a description",
        "header_pin": "- total: a GPIO off the header gives None",
        "PiHarness": "- made by PiBackend", "Board": "- a record of the board table",
        "Discovery": "- a record discover() makes", "FoundChip": "- a record discover() makes",
        "LineRef": "- a record parse_line() makes", "Jumper": "- a record load_rig() makes",
        "Wire": "- a record load_rig() makes", "RigFile": "- a record load_rig() makes",
        "JumperResult": "- a record run_self_test() makes",
        "CheckReport": "- a record check_rig() makes",
    },
}  # fmt: skip


def _public_callables(module_name: str) -> set[str]:
    import enum
    import importlib
    import inspect

    module = importlib.import_module(module_name)
    found = set()
    for name in module.__all__:
        obj = getattr(module, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue  # constants, type aliases, the pins object
        if inspect.isclass(obj) and (
            issubclass(obj, BaseException | enum.Enum) or getattr(obj, "_is_protocol", False)
        ):
            continue  # errors, enums and interfaces take no input of their own
        found.add(name)
    return found


@pytest.mark.parametrize("module_name", sorted(ENTRY_POINTS))
def test_every_public_entry_point_has_a_bad_input_check(module_name):
    """A new public function or class without a bad-input case fails here."""
    homes = ENTRY_POINTS[module_name]
    assert _public_callables(module_name) == set(homes), "update ENTRY_POINTS"
    ids = [case[0] for case in CASES]
    tests_dir = Path(__file__).parent
    for name, home in homes.items():
        if home.startswith("- "):
            continue
        if "::" in home:
            file, test = home.split("::")
            assert f"def {test}(" in (tests_dir / file).read_text(), (name, home)
        else:
            assert any(case_id.startswith(home) for case_id in ids), (name, home)
    assert len(set(ids)) == len(ids), "duplicate case ids"


def test_a_failed_bad_input_leaves_no_fd_or_line(ctx, no_fd_leak):
    """The checks come before any resource is taken."""
    for attempt in (
        lambda: pins.pin(0, bogus=1),
        lambda: Selector(size_hint="x"),
        lambda: Semaphore(-1),
        lambda: Timer(offset=-1),
    ):
        with pytest.raises(InvalidSettingError):
            attempt()
    assert ctx.fake.harness.consumer("gpiochip0", 17) == "gpiocore"  # ctx's own button
    assert ctx.fake.harness.consumer("gpiochip0", 18) == "gpiocore"
