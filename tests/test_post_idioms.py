"""The post's own idioms run on every backend: ``tests/programs/post_idioms.py``.

The sample programs in ``gpiosim/data/apps`` are written in this project's words; this
program keeps the post's: ``Selector(1)``, an ``active`` flag, ``print`` of
``button.value`` and a timer that fires and is never read. The tests run it on the
backend under test (the fake on the host; gpio-sim, in a subprocess, inside the guest)
and check the LED, the prints, and that the loop goes idle after the timer fired
instead of spinning: the program's CPU time over an idle second stays small, and on
the fake the virtual clock settles.
"""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import pytest

from gpiocore import InvalidSettingError
from gpiocore.selector import Selector, Timer
from gpiosim.rig._runner import AppRunner

PROGRAM = Path(__file__).resolve().parent / "programs" / "post_idioms.py"
OFFSET = 0.5  # seconds, before scaling
#: CPU seconds an idle program may use in one real second (a spinning one uses ~1).
IDLE_CPU = 0.15


def _stat_cpu_seconds(stat: Path) -> float:
    """utime + stime from a /proc ``stat`` file, in seconds."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def program_cpu_seconds(app: AppRunner) -> float:
    """CPU time the running program has used: its thread's (fake), its process's (sim)."""
    if app.mode == "thread":
        thread = next(t for t in threading.enumerate() if t.name == f"app:{app.path.name}")
        return _stat_cpu_seconds(Path(f"/proc/self/task/{thread.native_id}/stat"))
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == me and os.fsencode(app.path) in cmdline:
            return _stat_cpu_seconds(entry / "stat")
    raise AssertionError(f"no child process runs {app.path}")


def idle_cpu(app: AppRunner, seconds: float = 1.0) -> float:
    """CPU seconds the program uses over ``seconds`` real seconds of doing nothing."""
    before = program_cpu_seconds(app)
    time.sleep(seconds)
    return program_cpu_seconds(app) - before


def start(app_runner, rig) -> tuple[AppRunner, float]:
    offset = rig.time.s(OFFSET)
    # The post does not flush its prints: unbuffered, a subprocess shows them as they come.
    app = app_runner(PROGRAM, [str(offset)], env={"PYTHONUNBUFFERED": "1"})
    app.wait_ready(rig.lines())
    return app, offset


def test_selector_takes_the_posts_size_hint(backend):
    """``Selector(1)`` is epoll's size hint, as in Quick2Wire; it does not limit sources."""
    with Selector(1) as selector, Timer(offset=1) as a, Timer(offset=1) as b:
        selector.add(a)
        selector.add(b)  # more sources than the hint
        selector.wait(timeout=0)
        assert selector.ready is None


def test_selector_size_hint_is_not_a_timeout(backend):
    message = (
        "size_hint must be a number of sources (or -1 for no hint), not 0.5: Selector's "
        "argument is epoll's size hint, as in Quick2Wire's Selector(1); a timeout goes to "
        "wait(timeout=...)"
    )
    with pytest.raises(InvalidSettingError, match=f"^{re.escape(message)}$"):
        Selector(0.5)  # type: ignore[arg-type]


def test_press_lights_the_led_for_the_offset_and_prints_the_value(app_runner, rig, capfd):
    app, offset = start(app_runner, rig)
    clock = rig.backend.clock
    rig.press("button")
    assert rig.wait_for("led", True, 1)
    lit_ns = clock.monotonic_ns()
    rig.sleep(0.1)
    rig.release("button")
    assert rig.wait_for("led", False, OFFSET + 1)  # the timer fired; nobody read it
    lit_for = (clock.monotonic_ns() - lit_ns) / 1e9  # on the program's clock, as offset
    if clock.virtual:
        assert lit_for == offset
    else:  # not early; a late reaction (TCG under load) is bounded by wait_for above
        assert lit_for >= offset - rig.time.s(0.05)
    assert [t.level for t in rig.transitions("led")] == [True, False]
    app.check()
    printed = capfd.readouterr().out.splitlines()
    # print(button1.value) shows the level as 0 or 1, then the flag as it was. (A rig
    # that re-asserts the released button as the program requests it may add a first
    # "0 False" line.)
    assert printed[-2:] == ["BUTTON 1! 1 False", "BUTTON 1! 0 True"], printed
    assert set(printed[:-2]) <= {"BUTTON 1! 0 False"}, printed


def test_second_press_puts_it_out_and_release_does_nothing(app_runner, rig):
    start(app_runner, rig)
    rig.press("button")
    assert rig.wait_for("led", True, 1)
    rig.sleep(0.1)
    rig.release("button")
    rig.sleep(0.1)
    assert rig.level("led") is True  # a release does nothing
    rig.press("button")
    assert rig.wait_for("led", False, 0.2)  # a press while lit puts it out at once
    rig.release("button")
    rig.sleep(OFFSET + 0.2)  # the stopped timer does not fire later
    assert [t.level for t in rig.transitions("led")] == [True, False]


def test_an_expired_unread_timer_does_not_spin_the_loop(app_runner, rig):
    """The timer fires, the loop never calls ``timer.wait()``: it must go idle."""
    app, _ = start(app_runner, rig)
    rig.press("button")
    assert rig.wait_for("led", True, 1)
    rig.release("button")
    assert rig.wait_for("led", False, OFFSET + 1)
    if rig.backend.clock.virtual:
        rig.settle()  # a spinning program never goes idle: SettleTimeoutError
        rig.sleep(60)  # a minute of virtual time passes at once, nothing left to fire
        assert rig.backend.clock.idle_pollers() >= 1
    used = idle_cpu(app)
    assert used < IDLE_CPU, f"the program used {used:.2f} s of CPU in 1 s idle: it spins"
    assert rig.level("led") is False
    app.check()


#: Prepended to the program: the selector leaves each expiry on the timer's fd, which a
#: level-triggered epoll then reports again and again (the kernel's timerfd and the
#: fake's eventfd alike), so the loop spins.
SPIN = (
    "from gpiocore.selector import Timer\n"
    "Timer._take_expiries = lambda self: None  # type: ignore[method-assign]\n"
)


def test_the_spin_check_catches_a_loop_that_spins(app_runner, rig, monkeypatch, tmp_path):
    """Guard for the test above: a loop that does spin fails its checks."""
    # The fake runs the program in this process: undo its patch at teardown.
    monkeypatch.setattr(Timer, "_take_expiries", Timer._take_expiries)
    spinning = tmp_path / "post_idioms_spinning.py"
    spinning.write_text(SPIN + PROGRAM.read_text())
    app = app_runner(spinning, [str(rig.time.s(OFFSET))])
    app.wait_ready(rig.lines())
    rig.press("button")
    assert rig.wait_for("led", True, 1)
    rig.release("button")
    if rig.backend.clock.virtual:
        monkeypatch.setattr(rig.backend.clock, "settle_timeout", 0.5)
        with pytest.raises(TimeoutError, match="did not go idle within 0.5 s"):
            rig.sleep(OFFSET + 0.1)  # the timer fires, then the program never goes idle
        assert rig.level("led") is False  # (wait_for would settle, and time out too)
    else:
        rig.sleep(OFFSET + 0.1)
        assert rig.wait_for("led", False, 1)
    assert idle_cpu(app) > 0.3
