"""Tests of the cdev backend, its timerfd timer and the sim backend, on real gpio-sim chips.

The timer tests run anywhere; the rest needs gpio-sim (run them in the guest:
``gpiosim guest -- python -m pytest tests/test_cdev.py``). They skip where gpio-sim is
missing, unless ``GPIOSIM_REQUIRE=1`` turns that into a failure.
"""

from __future__ import annotations

import gc
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gpiocore import (
    Bias,
    ClosedError,
    Direction,
    Drive,
    Edge,
    EdgeType,
    InvalidSettingError,
    LineBusyError,
    LineNotFoundError,
    LineSettings,
    PinDirectionError,
    PinIndexError,
    TimerSettingError,
)
from gpiocore.backends import (
    Backend,
    CdevBackend,
    Harness,
    LineHandle,
    TimerfdTimer,
    TimerHandle,
    to_gpiod_settings,
)
from gpiosim.chip import CONFIGFS_ROOT, SimChip
from gpiosim.sim import ENV_CHIP, SimBackend

PROJECT = Path(__file__).resolve().parent.parent
MS = 1_000_000
IN_BOTH = LineSettings(edge=Edge.BOTH)
OUT = LineSettings(direction=Direction.OUT)


@pytest.fixture
def chip(need_sim: None) -> Iterator[SimChip]:
    with SimChip(8, label="cdev-test", line_names={0: "BUTTON", 1: "LED"}) as sim:
        yield sim


@pytest.fixture
def backend(chip: SimChip) -> Iterator[CdevBackend]:
    be = CdevBackend(chips=[chip.dev_path])
    yield be
    be.close()


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _wait_readable(fd: int, timeout: float = 2.0) -> bool:
    ep = select.epoll()
    try:
        ep.register(fd, select.EPOLLIN)
        return bool(ep.poll(timeout))
    finally:
        ep.close()


# -- settings mapping (anywhere) -----------------------------------------------------------


def test_settings_map_to_gpiod() -> None:
    from gpiod.line import Bias as GBias
    from gpiod.line import Direction as GDirection
    from gpiod.line import Drive as GDrive
    from gpiod.line import Edge as GEdge
    from gpiod.line import Value as GValue

    g = to_gpiod_settings(
        LineSettings(edge=Edge.FALLING, bias=Bias.PULL_DOWN, active_low=True, debounce_ns=1500)
    )
    assert (g.direction, g.edge_detection, g.bias) == (
        GDirection.INPUT,
        GEdge.FALLING,
        GBias.PULL_DOWN,
    )
    assert g.active_low is True
    assert g.debounce_period.total_seconds() == pytest.approx(2e-6)  # rounded up to 2 µs
    g = to_gpiod_settings(
        LineSettings(direction=Direction.OUT, drive=Drive.OPEN_DRAIN, output_value=True)
    )
    assert (g.direction, g.drive, g.output_value) == (
        GDirection.OUTPUT,
        GDrive.OPEN_DRAIN,
        GValue.ACTIVE,
    )


def test_backend_basics_without_chips() -> None:
    be = CdevBackend(chips=[])
    assert isinstance(be, Backend)
    assert be.name == "cdev"
    assert be.harness is None
    assert be.clock.virtual is False
    assert be.chips() == []
    with pytest.raises(LineNotFoundError, match="no GPIO chips found"):
        be.default_chip()
    with pytest.raises(
        LineNotFoundError, match="no GPIO chip 'gpiochip9': available chips are none"
    ):
        be.open_line("gpiochip9", 0, LineSettings(), "t")
    with pytest.raises(
        InvalidSettingError, match=r"not the string 'gpiochip0'.*chips=\['gpiochip0'\]"
    ):
        CdevBackend(chips="gpiochip0")
    be.close()
    be.close()
    with pytest.raises(ClosedError, match="backend is closed"):
        be.chips()


# -- the timerfd timer (anywhere) ----------------------------------------------------------


def test_timer_fires_through_epoll() -> None:
    timer = CdevBackend(chips=[]).create_timer()
    assert isinstance(timer, TimerHandle)
    ep = select.epoll()
    try:
        ep.register(timer.fileno(), select.EPOLLIN)
        assert ep.poll(0) == []  # disarmed: not readable
        start = time.monotonic_ns()
        timer.arm(20 * MS, 0)
        assert ep.poll(5) == [(timer.fileno(), select.EPOLLIN)]
        assert time.monotonic_ns() - start >= 20 * MS
        assert timer.read() == 1
        assert timer.read() == 0  # cleared, and never blocks
        assert ep.poll(0.05) == []  # one-shot: no second expiry
    finally:
        ep.close()
        timer.close()


def test_timer_periodic_rearm_and_disarm() -> None:
    timer = TimerfdTimer()
    try:
        timer.arm(5 * MS, 5 * MS)
        time.sleep(0.06)
        assert timer.read() >= 4
        timer.arm(10 * MS, 0)  # re-arming discards pending expirations
        assert timer.read() == 0
        timer.arm(1 * MS, 1 * MS)
        time.sleep(0.02)
        timer.disarm()  # ... and so does disarming
        assert timer.read() == 0
        time.sleep(0.02)
        assert timer.read() == 0
        with pytest.raises(TimerSettingError, match=r"above 0, not 0: use disarm\(\)"):
            timer.arm(0, 0)
        with pytest.raises(TimerSettingError, match=r"interval .* not -1"):
            timer.arm(1, -1)
    finally:
        timer.close()
    timer.close()  # safe twice
    for call in (timer.fileno, timer.read, timer.disarm, lambda: timer.arm(1, 0)):
        with pytest.raises(ClosedError, match="the timer is closed"):
            call()


def test_timer_leaves_no_fd() -> None:
    before = _open_fds()
    for _ in range(20):
        TimerfdTimer().close()
    assert _open_fds() == before


# -- lines on a real chip (need gpio-sim) --------------------------------------------------


def test_chips_lists_names_and_labels(chip: SimChip, backend: CdevBackend) -> None:
    (info,) = backend.chips()
    assert (info.name, info.label, info.num_lines) == (chip.chip_name, "cdev-test", 8)
    assert info.line_names[:3] == ("BUTTON", "LED", None)
    assert backend.default_chip() == chip.chip_name
    everything = CdevBackend()  # every /dev/gpiochip*: the sim chip is among them
    try:
        assert chip.chip_name in [c.name for c in everything.chips()]
    finally:
        everything.close()


def test_request_get_set(chip: SimChip, backend: CdevBackend) -> None:
    line = backend.open_line(chip.chip_name, 1, OUT, "gpiorig-test")
    assert isinstance(line, LineHandle)
    assert chip.get_value(1) is False
    line.set(True)
    assert chip.get_value(1) is True and line.get() is True
    line.set(False)
    assert chip.get_value(1) is False
    info = backend.line_info(chip.chip_name, 1)
    assert (info.used, info.consumer) == (True, "gpiorig-test")
    line.close()

    button = backend.open_line(chip.dev_path, 0, LineSettings(), "t")  # by path
    chip.set_pull(0, True)
    assert button.get() is True
    chip.set_pull(0, False)
    assert button.get() is False
    with pytest.raises(PinDirectionError, match=r"line 0 of gpiochip.* is an input"):
        button.set(True)
    button.close()
    labelled = backend.open_line("cdev-test", 2, OUT, "t")  # by label
    labelled.close()


def test_output_value_and_release(chip: SimChip, backend: CdevBackend) -> None:
    chip.set_pull(3, False)
    line = backend.open_line(
        chip.chip_name, 3, LineSettings(direction=Direction.OUT, output_value=True), "t"
    )
    assert chip.get_value(3) is True
    chip.set_pull(3, False)  # an output ignores the simulator's pull ...
    assert chip.get_value(3) is True
    line.close()
    assert chip.get_value(3) is False  # ... until released: then the pull decides
    chip.set_pull(4, True)
    line = backend.open_line(chip.chip_name, 4, OUT, "t")
    assert chip.get_value(4) is False
    line.close()
    assert chip.get_value(4) is True


def test_edges_through_epoll(chip: SimChip, backend: CdevBackend) -> None:
    line = backend.open_line(chip.chip_name, 0, IN_BOTH, "t")
    ep = select.epoll()
    try:
        ep.register(line.fileno(), select.EPOLLIN)
        assert ep.poll(0) == []
        assert line.read_edges() == []  # nothing pending: returns at once
        stamps = []
        for i, level in enumerate([True, False, True]):
            before = time.monotonic_ns()
            chip.set_pull(0, level)
            assert ep.poll(2) == [(line.fileno(), select.EPOLLIN)]
            (edge,) = line.read_edges()
            after = time.monotonic_ns()
            assert edge.type is (EdgeType.RISING if level else EdgeType.FALLING)
            assert before <= edge.timestamp_ns <= after  # CLOCK_MONOTONIC, like the clock
            assert (edge.offset, edge.line_seqno, edge.global_seqno) == (0, i + 1, i + 1)
            stamps.append(edge.timestamp_ns)
        assert stamps == sorted(stamps)
        assert ep.poll(0) == []
    finally:
        ep.close()
        line.close()


def test_rising_only(chip: SimChip, backend: CdevBackend) -> None:
    line = backend.open_line(chip.chip_name, 5, LineSettings(edge=Edge.RISING), "t")
    for level in (True, False, True, False):
        chip.set_pull(5, level)
        # With 2 vCPUs, gpio-sim's irq_work can merge two quick triggers into one.
        time.sleep(0.01)
    time.sleep(0.05)
    edges = line.read_edges()
    assert [e.type for e in edges] == [EdgeType.RISING, EdgeType.RISING]
    assert [e.line_seqno for e in edges] == [1, 2]
    line.close()


def test_debounce_swallows_a_bouncy_press(chip: SimChip, backend: CdevBackend) -> None:
    line = backend.open_line(
        chip.chip_name, 0, LineSettings(edge=Edge.BOTH, debounce_ns=50 * MS), "t"
    )
    assert backend.line_info(chip.chip_name, 0).debounce_period.total_seconds() == 0.05
    for level in [True, False, True, False, True, False, True]:  # six fast toggles, then high
        chip.set_pull(0, level)
        time.sleep(0.001)
    assert _wait_readable(line.fileno(), 2.0)
    time.sleep(0.1)  # let any further (wrong) edge arrive too
    edges = line.read_edges()
    assert [(e.type, e.line_seqno) for e in edges] == [(EdgeType.RISING, 1)]
    assert line.get() is True
    chip.set_pull(0, False)  # the release, once stable, is one falling edge
    assert _wait_readable(line.fileno(), 2.0)
    time.sleep(0.1)
    assert [(e.type, e.line_seqno) for e in line.read_edges()] == [(EdgeType.FALLING, 2)]
    line.close()


def test_overflow_keeps_the_newest_with_a_seqno_gap(chip: SimChip, backend: CdevBackend) -> None:
    line = backend.open_line(
        chip.chip_name, 2, LineSettings(edge=Edge.BOTH, event_buffer_size=4), "t"
    )
    for i in range(20):
        chip.set_pull(2, i % 2 == 0)
        # With 2 vCPUs, gpio-sim's irq_work can merge two quick triggers into one.
        time.sleep(0.005)
    time.sleep(0.1)
    edges = line.read_edges()
    assert [e.line_seqno for e in edges] == [17, 18, 19, 20]  # 1-16 dropped: the gap shows it
    assert [e.type for e in edges] == [EdgeType.RISING, EdgeType.FALLING] * 2
    line.close()


def test_more_edges_than_one_read_are_all_returned(chip: SimChip, backend: CdevBackend) -> None:
    """gpiod reads at most 64 events at a time: read_edges() goes on while reads are full,
    and stops at a short one without a further (blocking or polling) call."""
    line = backend.open_line(
        chip.chip_name, 1, LineSettings(edge=Edge.BOTH, event_buffer_size=256), "t"
    )
    assert not os.get_blocking(line.fileno())  # an empty queue is EAGAIN, never a block
    for i in range(130):
        chip.set_pull(1, i % 2 == 0)
        time.sleep(0.001)  # see test_rising_only: no merged triggers
    time.sleep(0.1)
    edges = line.read_edges()
    assert [e.line_seqno for e in edges] == list(range(1, 131))
    assert line.read_edges() == []
    line.close()


def test_active_low_swaps_edges_and_values(chip: SimChip, backend: CdevBackend) -> None:
    chip.set_pull(6, False)
    line = backend.open_line(chip.chip_name, 6, LineSettings(edge=Edge.BOTH, active_low=True), "t")
    assert line.get() is True  # physically low = logically active
    chip.set_pull(6, True)
    assert _wait_readable(line.fileno())
    (edge,) = line.read_edges()
    assert edge.type is EdgeType.FALLING
    assert line.get() is False
    line.close()
    out = backend.open_line(
        chip.chip_name,
        7,
        LineSettings(direction=Direction.OUT, active_low=True, output_value=True),
        "t",
    )
    assert chip.get_value(7) is False  # logical 1 drives the line low
    out.set(False)
    assert chip.get_value(7) is True
    out.close()


def test_busy_line(chip: SimChip, backend: CdevBackend) -> None:
    first = backend.open_line(chip.chip_name, 1, OUT, "first-user")
    with pytest.raises(
        LineBusyError,
        match=r"line 1 of gpiochip\d+ is busy: it is already requested by 'first-user'; "
        r"close the other request",
    ):
        backend.open_line(chip.chip_name, 1, LineSettings(), "second")
    other = CdevBackend(chips=[chip.dev_path])  # another owner, same process
    with pytest.raises(LineBusyError, match="first-user"):
        other.open_line(chip.chip_name, 1, LineSettings(), "third")
    other.close()
    first.close()
    backend.open_line(chip.chip_name, 1, LineSettings(), "second").close()  # free again


def test_bias_sets_the_simulator_pull(chip: SimChip, backend: CdevBackend) -> None:
    chip.set_pull(3, False)
    line = backend.open_line(chip.chip_name, 3, LineSettings(bias=Bias.PULL_UP), "t")
    assert chip.get_pull(3) is True and line.get() is True
    chip.set_pull(3, False)  # the harness acts on the same state: the last writer wins
    assert line.get() is False
    line.reconfigure(LineSettings(bias=Bias.PULL_UP))
    assert chip.get_pull(3) is True
    line.reconfigure(LineSettings(bias=Bias.PULL_DOWN))
    assert chip.get_pull(3) is False
    line.reconfigure(LineSettings(bias=Bias.DISABLED))  # gpio-sim keeps the last pull
    assert chip.get_pull(3) is False
    line.close()


def test_reconfigure_input_to_output(chip: SimChip, backend: CdevBackend) -> None:
    line = backend.open_line(chip.chip_name, 4, LineSettings(), "t")
    line.reconfigure(LineSettings(direction=Direction.OUT, output_value=True))
    assert chip.get_value(4) is True
    assert line.settings.direction is Direction.OUT
    line.set(False)
    assert chip.get_value(4) is False
    with pytest.raises(InvalidSettingError, match=r"event_buffer_size is fixed .* not 8"):
        line.reconfigure(LineSettings(event_buffer_size=8))
    line.close()


def test_open_drain_on_gpio_sim(chip: SimChip, backend: CdevBackend) -> None:
    """gpio-sim has no open-drain; gpiolib emulates 'high' by switching to input, and
    gpio-sim then keeps the last driven value (it does not let the pull float it up)."""
    chip.set_pull(5, True)
    line = backend.open_line(
        chip.chip_name, 5, LineSettings(direction=Direction.OUT, drive=Drive.OPEN_DRAIN), "t"
    )
    assert chip.get_value(5) is False  # driven low
    line.set(True)
    assert chip.get_value(5) is False  # released, yet still reads low on gpio-sim
    line.close()
    assert chip.get_value(5) is True  # freed: the pull decides again


def test_bad_offset_and_chip(chip: SimChip, backend: CdevBackend) -> None:
    with pytest.raises(
        PinIndexError,
        match=r"offset 8 is out of range for gpiochip\d+ "
        r"\(cdev-test\): it has lines 0\.\.7",
    ):
        backend.open_line(chip.chip_name, 8, LineSettings(), "t")
    with pytest.raises(PinIndexError, match="offset -1 is out of range"):
        backend.open_line(chip.chip_name, -1, LineSettings(), "t")
    with pytest.raises(PinIndexError, match="whole number, not '3'"):
        backend.open_line(chip.chip_name, "3", LineSettings(), "t")  # type: ignore[arg-type]
    with pytest.raises(
        LineNotFoundError,
        match=rf"no GPIO chip 'nochip': available chips are {chip.chip_name} "
        r"\(cdev-test\)",
    ):
        backend.open_line("nochip", 0, LineSettings(), "t")


def test_closed_line(chip: SimChip, backend: CdevBackend) -> None:
    line = backend.open_line(chip.chip_name, 0, IN_BOTH, "t")
    line.close()
    line.close()  # safe twice
    assert line.closed
    for call in (
        line.fileno,
        line.get,
        line.read_edges,
        lambda: line.set(True),
        lambda: line.reconfigure(IN_BOTH),
    ):
        with pytest.raises(ClosedError, match=r"line 0 of gpiochip\d+ is closed"):
            call()
    assert not backend.line_info(chip.chip_name, 0).used


def test_no_fd_leak(chip: SimChip) -> None:
    before = _open_fds()
    be = CdevBackend(chips=[chip.dev_path])
    for _ in range(20):
        line = be.open_line(chip.chip_name, 0, IN_BOTH, "t")
        line.read_edges()
        line.close()
    be.open_line(chip.chip_name, 1, OUT, "left-open")  # backend.close() releases it
    be.close()
    assert _open_fds() == before
    assert not CdevBackend(chips=[chip.dev_path]).line_info(chip.chip_name, 1).used


def test_a_removed_chip_is_reported_not_crashed_on(need_sim: None) -> None:
    chip = SimChip(4, label="short-lived").create()
    be = CdevBackend(chips=[chip.dev_path])
    try:
        be.open_line(chip.chip_name, 0, LineSettings(), "t").close()  # caches the chip's fd
        name = chip.chip_name
        chip.close()
        # The cached fd now answers ENODEV; reopening the path finds nothing.
        with pytest.raises(LineNotFoundError, match=rf"no GPIO chip '/dev/{name}'"):
            be.open_line(name, 0, LineSettings(), "t")
    finally:
        be.close()
        chip.close()


def test_timer_from_backend_with_a_line(chip: SimChip, backend: CdevBackend) -> None:
    """A timer and an edge in one epoll set, as the Quick2Wire programs use them."""
    line = backend.open_line(chip.chip_name, 0, IN_BOTH, "t")
    timer = backend.create_timer()
    ep = select.epoll()
    try:
        ep.register(line.fileno(), select.EPOLLIN)
        ep.register(timer.fileno(), select.EPOLLIN)
        timer.arm(30 * MS, 0)
        chip.set_pull(0, True)
        ready = {fd for fd, _ in ep.poll(2)}
        assert line.fileno() in ready
        assert len(line.read_edges()) == 1
        ready = {fd for fd, _ in ep.poll(2)}
        assert ready == {timer.fileno()}
        assert timer.read() == 1
    finally:
        ep.close()
        timer.close()
        line.close()


# -- the sim backend ----------------------------------------------------------------------


@pytest.fixture
def sim_backend(need_sim: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimBackend]:
    monkeypatch.delenv(ENV_CHIP, raising=False)
    be = SimBackend()
    yield be
    be.close()


def test_sim_backend_is_a_pi_header(sim_backend: SimBackend) -> None:
    import gpiod

    assert isinstance(sim_backend, Backend)
    assert sim_backend.name == "sim"
    (info,) = sim_backend.chips()
    assert info.line_names == tuple(f"GPIO{i}" for i in range(28))
    assert info.label == "gpiorig-sim"
    assert sim_backend.default_chip() == sim_backend.sim_chip.chip_name == info.name
    with gpiod.Chip(sim_backend.sim_chip.dev_path) as g:
        assert g.line_offset_from_id("GPIO17") == 17


def test_sim_harness_drives_and_observes(sim_backend: SimBackend) -> None:
    harness = sim_backend.harness
    assert isinstance(harness, Harness)
    name = sim_backend.default_chip()
    button = sim_backend.open_line(name, 17, IN_BOTH, "t")
    led = sim_backend.open_line(name, 27, OUT, "t")
    assert harness.requested(name, 17) and harness.requested(name, 27)
    assert not harness.requested(name, 4)
    assert (harness.consumer(name, 27), harness.consumer(name, 4)) == ("t", None)
    assert harness.pull(name, 17) is False
    harness.drive(name, 17, True)
    assert _wait_readable(button.fileno())
    assert [e.type for e in button.read_edges()] == [EdgeType.RISING]
    assert button.get() is True
    assert harness.pull(name, 17) is True
    assert harness.level(name, 27) is False
    led.set(True)
    assert harness.level(sim_backend.sim_chip.dev_path, 27) is True
    with pytest.raises(LineNotFoundError, match="'gpiochip99' is not this sim backend's chip"):
        harness.drive("gpiochip99", 0, True)


def test_sim_backend_close_tears_down(need_sim: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_CHIP, raising=False)
    simdir = CONFIGFS_ROOT / "gpio-sim"
    before = set(os.listdir(simdir))
    be = SimBackend(num_lines=4)
    line = be.open_line(be.default_chip(), 0, OUT, "t")
    assert len(os.listdir(simdir)) == len(before) + 1
    be.close()
    be.close()
    assert line.closed
    assert set(os.listdir(simdir)) == before
    with pytest.raises(ClosedError, match="sim backend is closed"):
        be.default_chip()
    dropped = SimBackend(num_lines=2)
    dropped.default_chip()
    del dropped
    gc.collect()
    assert set(os.listdir(simdir)) == before  # the finalizer took it down


_CHILD = """
import sys
from gpiocore import Direction, LineSettings
from gpiosim.sim import SimBackend
be = SimBackend()
assert be.attached
line = be.open_line(be.default_chip(), 17,
                    LineSettings(direction=Direction.OUT, output_value=True), "child")
print(be.sim_chip.chip_name, flush=True)
sys.stdin.readline()
be.close()
"""


def test_sim_backend_hands_its_chip_to_a_subprocess(sim_backend: SimBackend) -> None:
    env = {**os.environ, **sim_backend.export_env(), "PYTHONPATH": str(PROJECT)}
    assert env[ENV_CHIP] == sim_backend.sim_chip.dev_name
    assert env["GPIOCORE_BACKEND"] == "sim"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdin is not None and child.stdout is not None
        assert child.stdout.readline().strip() == sim_backend.default_chip()
        assert sim_backend.harness.level(sim_backend.default_chip(), 17) is True
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.wait(60) == 0
    finally:
        if child.poll() is None:
            child.kill()
    assert sim_backend.sim_chip.live  # the child attached: it did not tear the chip down
    assert sim_backend.harness.level(sim_backend.default_chip(), 17) is False  # released


def test_sim_backend_attach_errors(need_sim: None) -> None:
    be = SimBackend(attach="gpio-sim.999")
    with pytest.raises(
        LineNotFoundError, match=r"'gpio-sim.999' names no live gpio-sim.*GPIOSIM_CHIP"
    ):
        be.default_chip()
    be.close()
