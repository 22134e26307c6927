"""Reliability and security: nothing lost, nothing leaked, nothing left behind, no escape.

Tests that use the ``backend`` fixture run on the fake on the host and on the real
gpio-sim in the guest (CI runs both); ``gpio_sim`` tests need the kernel module and run
in the guest only; the few that boot a guest themselves run on the host only.
"""

from __future__ import annotations

import ast
import contextlib
import gc
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gpiocore import Both, EventOverflowError, In, Out, pins
from gpiocore.backends import load_backend
from gpiocore.selector import Selector, Semaphore, Timer
from gpiocore.testing import FakeBackend
from gpiosim import guest
from gpiosim._errors import AppError, InvalidNameError, SimChipError, SimPermissionError
from gpiosim.chip import CONFIGFS_ROOT, Bank, SimChip, SimDevice, validate_device_name
from gpiosim.models import TimedLed
from gpiosim.rig._runner import AppRunner
from gpiosim.sim._configfs import _owned_name
from tests.conftest import APPS, ROOT, open_fds

SIMDIR = CONFIGFS_ROOT / "gpio-sim"


@pytest.fixture
def button_line(backend) -> tuple[str, int]:
    pin = pins.pin(0)
    return pin.chip, pin.offset


@pytest.fixture
def led_line(backend) -> tuple[str, int]:
    pin = pins.pin(1)
    return pin.chip, pin.offset


def burst(harness, where: tuple[str, int], gpio_time, count: int = 20) -> None:
    """``count`` edges, 1 ms apart (scaled): more than a 4-event buffer holds."""
    for i in range(count):
        harness.drive(*where, i % 2 == 0)
        gpio_time.sleep(0.001)
    gpio_time.settle()


def sim_state() -> tuple[list[str], list[str], list[str]]:
    """gpio-sim as seen from here: configfs entries, /dev/gpiochip* and platform devices.

    Under pytest-xdist other workers make and remove chips meanwhile: then only this
    process's own configfs entries (``gpiorig-<pid>-...``) can be compared.
    """
    entries = sorted(p.name for p in SIMDIR.iterdir())
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return [e for e in entries if e.startswith(f"gpiorig-{os.getpid()}-")], [], []
    nodes = sorted(str(p) for p in Path("/dev").glob("gpiochip*"))
    platform = sorted(p.name for p in Path("/sys/devices/platform").glob("gpio-sim.*"))
    return entries, nodes, platform


def settled_fds() -> set[int]:
    """The open fds once garbage left by earlier tests is collected: an fd of theirs
    closed by the collector mid-test is neither ours nor a leak."""
    gc.collect()
    return open_fds()


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` in real time (subprocesses in the guest start slowly)."""
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.02)


# -- 1. no silent loss ------------------------------------------------------------------


def test_overflow_raise_keeps_the_surviving_edges(harness, button_line, gpio_time):
    with pins.pin(
        0, direction=In, interrupt=Both, event_buffer_size=4, on_overflow="raise"
    ) as button:
        burst(harness, button_line, gpio_time)
        with pytest.raises(
            EventOverflowError,
            match=r"pins pin 0 \(GPIO17\) lost 16 edge\(s\) to event buffer overflow "
            r"\(seqno gap before 20\): read edges sooner or raise event_buffer_size",
        ):
            button.edges()
        assert button.lost_edges == 16
        # Raising lost nothing more: the edges that survived are still there, once.
        assert [e.line_seqno for e in button.edges()] == [17, 18, 19, 20]
        assert button.edges() == []
        harness.drive(*button_line, True)
        gpio_time.settle()
        assert [e.line_seqno for e in button.edges()] == [21]  # no gap, no new error
        assert button.lost_edges == 16
    with button:  # counted per opening
        assert button.lost_edges == 0


def test_overflow_ignore_counts_without_a_word(harness, button_line, gpio_time):
    with pins.pin(
        0, direction=In, interrupt=Both, event_buffer_size=4, on_overflow="ignore"
    ) as button:
        burst(harness, button_line, gpio_time)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # any warning fails the test
            edges = button.edges()
        assert [e.line_seqno for e in edges] == [17, 18, 19, 20]
        assert button.lost_edges == 16


def test_overflow_raise_also_reaches_a_value_read(harness, button_line, gpio_time):
    """Reading the value takes the pending edges too: the gap is not skipped there."""
    with pins.pin(
        0, direction=In, interrupt=Both, event_buffer_size=4, on_overflow="raise"
    ) as button:
        burst(harness, button_line, gpio_time)
        with pytest.raises(EventOverflowError, match="lost 16 edge"):
            _ = button.value
        assert button.value == 0 and button.lost_edges == 16


OVERFLOW_PROGRAM = '''\
"""Busy elsewhere (a timer) while edges pile up, then a Selector loop on the button."""
import sys
import warnings

from gpiocore import Both, EventOverflowError, In, Out, pins
from gpiocore.selector import Selector, Timer

policy, busy_for, report = sys.argv[1], float(sys.argv[2]), sys.argv[3]
button = pins.pin(0, direction=In, interrupt=Both, event_buffer_size=4, on_overflow=policy)
led = pins.pin(1, direction=Out)
with button, led, Selector() as selector, Timer(offset=busy_for) as busy:
    selector.add(busy)
    busy.start()
    selector.wait()
    busy.wait()
    selector.remove(busy)
    selector.add(button)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            selector.wait()
            outcome = "reported"
        except EventOverflowError as exc:
            outcome = "raised: " + str(exc)
    result = {
        "outcome": outcome,
        "ready": selector.ready is button,
        "lost": button.lost_edges,
        "seqnos": [e.line_seqno for e in button.edges()],
        "warnings": [str(w.message) for w in caught],
    }
    with open(report + ".tmp", "w") as f:
        f.write(repr(result))
    import os
    os.replace(report + ".tmp", report)
    led.value = 1
    while True:
        selector.wait()
'''


@pytest.mark.parametrize(
    "policy",
    [
        # On sim a program is a subprocess (~10 s in the guest): there "raise", the policy
        # that changes the program's flow; the pin-level tests above cover all three.
        pytest.param("warn", marks=pytest.mark.backends("fake")),
        "raise",
        pytest.param("ignore", marks=pytest.mark.backends("fake")),
    ],
)
def test_a_selector_loop_program_sees_the_overflow(
    app_runner, harness, button_line, led_line, gpio_time, tmp_path, policy
):
    program = tmp_path / "overflow_app.py"
    program.write_text(OVERFLOW_PROGRAM)
    report = tmp_path / "report.txt"
    app = app_runner(program, [policy, str(gpio_time.s(0.5)), str(report)])
    app.wait_ready([button_line, led_line])
    burst(harness, button_line, gpio_time)  # while the program waits on its timer only
    assert gpio_time.wait_for(lambda: harness.level(*led_line), 5), "the program never went on"
    wait_until(report.exists, 30, "the program's report")
    result = ast.literal_eval(report.read_text())
    assert result["lost"] == 16
    assert result["seqnos"] == [17, 18, 19, 20]
    lost = "pins pin 0 (GPIO17) lost 16 edge(s) to event buffer overflow"
    assert result["ready"], result  # the program knows which pin it was, even on "raise"
    if policy == "raise":
        assert result["outcome"].startswith("raised: " + lost), result
        assert result["warnings"] == []
    else:
        assert result["outcome"] == "reported", result
        expected = [lost] if policy == "warn" else []
        assert [w.split(" (seqno")[0] for w in result["warnings"]] == expected, result


def test_the_model_treats_float_times_of_one_instant_alike():
    """Regression: press + offset and the deadline's own time, both float seconds from
    whole nanoseconds, may differ in the last bit; the fake is exact, so the model must
    call them one instant (the state-machine test failed now and then on the fake)."""
    for n in range(20_000):
        t0 = 0.987654321 + n * 1e-7
        press = 1_000_000_000 + n * 1_234_567
        model = TimedLed(0.5)
        model.button(press / 1e9 - t0, True)
        assert not model.at((press + 500_000_000) / 1e9 - t0), n
        model = TimedLed(0.5)
        model.button(press / 1e9 - t0, True)
        assert model.at((press + 499_999_999) / 1e9 - t0), n  # 1 ns early: still lit


# -- 2. no leaks ------------------------------------------------------------------------


def test_open_close_cycles_leave_no_fd_thread_or_line_behind(backend, harness):
    # The fake does a cycle in ~0.1 ms; the guest's emulated CPU and the real uAPI make
    # one ~12 ms there, so 1,000 cycles (12 s) stand for 10,000 within the CI budget.
    cycles = 10_000 if backend.clock.virtual else 1_000
    # Pins are made once (making one looks the line up by name, which is not a resource)
    # and opened and closed on every cycle.
    button, led = pins.pin(0, direction=In, interrupt=Both), pins.pin(1, direction=Out)

    def cycle(i: int) -> None:
        with (
            button as pin,
            led,
            Selector() as selector,
            Timer(offset=1, interval=i % 2) as timer,
            Semaphore(1) as semaphore,
        ):
            selector.add(pin)
            selector.add(timer)
            selector.add(semaphore)
            timer.start()
            led.value = i % 2
            selector.wait(0)

    cycle(0)  # first use opens what lives as long as the backend (the chip's fd)
    fds, threads = settled_fds(), threading.active_count()
    for i in range(cycles):
        cycle(i)
    assert settled_fds() - fds == set(), "fds left open"
    assert threading.active_count() == threads
    assert not harness.requested(button.chip, button.offset)
    assert not harness.requested(led.chip, led.offset)
    if backend.clock.virtual:
        clock = backend.clock
        assert not clock._waiters, "a poller outlived its selector or timer"
        assert clock.next_deadline_ns() is None, "a stopped timer left a deadline"
        assert not clock._pending


@pytest.mark.gpio_sim
def test_300_chip_cycles_leave_configfs_and_dev_as_before():
    before = sim_state()
    fds = settled_fds()
    for i in range(300):
        if i % 30 == 29:  # a create the kernel refuses must leave nothing either
            dev = SimDevice(Bank(2, label="twin"), Bank(2, label="twin"))
            with pytest.raises(SimChipError, match="bank labels must be unique"):
                dev.create()
            continue
        hogs = {1: ("hog", "output-high")} if i % 10 == 0 else None
        with SimChip(4, line_names=["A", "B"], hogs=hogs) as chip:
            assert Path(chip.dev_path).exists()
    assert sim_state() == before
    assert settled_fds() - fds == set(), "fds left open"


# -- 3. crash recovery ------------------------------------------------------------------

HOLDER_TEST = """\
import os
import time

from gpiocore import pins


def test_hold_a_chip(backend):
    report = os.environ["GPIORIG_REPORT"]
    with pins.pin(0) as pin:
        chip = backend.sim_chip
        with open(report + ".tmp", "w") as f:
            f.write(chip.device.name + " " + chip.dev_path + " " + str(pin.offset))
        os.replace(report + ".tmp", report)
        time.sleep(600)
"""


# Without hypothesis's plugin (which imports hypothesis at the end of every session,
# ~8 s in the guest): these inner runs do not use it.
PYTEST = (sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider")
PYTEST += ("-p", "no:hypothesispytest")


def _pytest_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "GPIOSIM_REQUIRE": "1", **extra}


@pytest.mark.gpio_sim
def test_a_pytest_run_killed_with_sigkill_is_reclaimed_by_the_next(tmp_path):
    before = sim_state()
    (tmp_path / "test_holder.py").write_text(HOLDER_TEST)
    report = tmp_path / "report"
    run = subprocess.Popen(
        [*PYTEST, "--backend=sim"],
        cwd=tmp_path,
        env=_pytest_env(GPIORIG_REPORT=str(report)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(report.exists, 120, "the inner pytest to make its chip")
    finally:
        run.kill()  # SIGKILL: no finalizer, no atexit, no teardown
        run.wait()
    name, dev_path, offset = report.read_text().split()
    assert (SIMDIR / name / "live").read_text().strip() == "1"  # left behind
    assert Path(dev_path).exists()
    # The kernel released the killed process's line at once; the chip is what is left.
    backend = load_backend("sim", attach=Path(dev_path).name)
    try:
        assert not backend.harness.requested(Path(dev_path).name, int(offset))
    finally:
        backend.close()
    with load_backend("sim") as fresh:
        fresh.sim_chip  # noqa: B018 - the next run makes its chip, reclaiming first
        assert not (SIMDIR / name).exists()
    assert sim_state() == before


@pytest.mark.backends("sim")
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_a_signalled_program_releases_its_lines(backend, harness, button_line, led_line, how):
    program = subprocess.Popen(
        [sys.executable, str(APPS / "follow_selector.py")],
        # faulthandler: a program that hangs is made to show where (SIGABRT below).
        env={**os.environ, **backend.export_env(), "PYTHONFAULTHANDLER": "1"},
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(
            lambda: harness.requested(*button_line) and harness.requested(*led_line),
            60,
            "the program to request its lines",
        )
        assert harness.consumer(*button_line) == "gpiocore"
        program.send_signal(how)
        try:
            _, err = program.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            state = Path(f"/proc/{program.pid}/status").read_text()
            program.send_signal(signal.SIGABRT)
            _, err = program.communicate(timeout=30)
            pytest.fail(f"{how!r} did not end the program:\n{state}\n{err.decode()}")
    finally:
        if program.poll() is None:
            program.kill()
            program.wait()
    # SIGINT unwinds the program's with blocks (KeyboardInterrupt); the others end it
    # at once: either way the lines are free the moment it is gone.
    assert program.returncode == -how, err
    assert harness.consumer(*button_line) is None
    assert harness.consumer(*led_line) is None
    assert backend.sim_chip.live  # the program only attached: the chip is the test's


STUBBORN_PROGRAM = """\
import signal
import sys
import time

from gpiocore import In, Out, pins

signal.signal(signal.SIGTERM, signal.SIG_IGN)
with pins.pin(0, direction=In), pins.pin(1, direction=Out):
    open(sys.argv[1], "w").close()
    while True:
        time.sleep(0.05)
"""


class _ExportedFake:
    """A fake backend that claims a subprocess can share it: lets a subprocess-mode
    runner be tested on a host without gpio-sim (the subprocess gets its own fake)."""

    name = "fake"

    def __init__(self) -> None:
        self._fake = FakeBackend()
        self.clock = self._fake.clock
        self.harness = None
        self.chips = self._fake.chips
        self.default_chip = self._fake.default_chip
        self.open_line = self._fake.open_line
        self.create_timer = self._fake.create_timer
        self.close = self._fake.close

    def export_env(self) -> dict[str, str]:
        return {"GPIOCORE_BACKEND": "fake"}


def test_a_program_that_ignores_sigterm_is_killed_and_reported(tmp_path):
    program = tmp_path / "stubborn.py"
    program.write_text(STUBBORN_PROGRAM)
    ready = tmp_path / "ready"
    runner = AppRunner(
        program,
        [str(ready)],
        mode="subprocess",
        backend=_ExportedFake(),  # type: ignore[arg-type]
        env={"PYTHONPATH": str(ROOT)},
        stop_timeout=0.5,
    ).start()
    wait_until(ready.exists, 30, "the program to ignore SIGTERM")
    started = time.monotonic()
    with pytest.raises(AppError, match=r"stubborn.py ignored SIGTERM for 0.5 s and was killed"):
        runner.stop()
    assert time.monotonic() - started < 5
    assert not runner.running
    assert runner.returncode == -signal.SIGKILL


@pytest.mark.backends("sim")
def test_a_stubborn_program_on_sim_is_killed_and_its_lines_freed(
    backend, harness, button_line, led_line, tmp_path
):
    program = tmp_path / "stubborn.py"
    program.write_text(STUBBORN_PROGRAM)
    ready = tmp_path / "ready"
    runner = AppRunner(program, [str(ready)], backend=backend, stop_timeout=1.0).start()
    try:
        wait_until(ready.exists, 60, "the program to hold its lines")
        assert harness.requested(*button_line) and harness.requested(*led_line)
        with pytest.raises(AppError, match="ignored SIGTERM for 1.0 s and was killed"):
            runner.stop()
    finally:
        with contextlib.suppress(AppError):
            runner.stop()
    assert not harness.requested(*button_line)
    assert not harness.requested(*led_line)


# -- 4. parallel runs -------------------------------------------------------------------

XDIST_TESTS = """\
import json
import os
import time
from pathlib import Path

import pytest

from gpiocore import Both, In, LineBusyError, Out, pins

OUT = Path(os.environ["GPIORIG_XDIST_OUT"])
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


def barrier(suffix: str) -> None:
    end = time.monotonic() + 180
    while len(list(OUT.glob("gw*" + suffix))) < 2:
        assert time.monotonic() < end, "the other worker never got here"
        time.sleep(0.05)


def test_each_worker_holds_its_own_chip(backend, harness):
    with pins.pin(0, direction=In, interrupt=Both) as button:
        chip = backend.sim_chip
        mine = {"dev_name": chip.dev_name, "chip": chip.chip_name, "worker": WORKER}
        (OUT / (WORKER + ".json")).write_text(json.dumps(mine))
        barrier(".json")  # both workers hold their chips now
        for other in OUT.glob("gw*.json"):
            if other.stem != WORKER:
                assert json.loads(other.read_text())["dev_name"] != chip.dev_name
        harness.drive(button.chip, button.offset, True)
        time.sleep(0.05)
        assert [e.type.value for e in button.edges()] == ["rising"]
        (OUT / (WORKER + ".done")).touch()
        barrier(".done")


def test_output_drives_the_line(backend, harness):
    with pins.pin(1, direction=Out) as led:
        led.value = 1
        assert harness.level(led.chip, led.offset) is True


def test_busy_line(backend):
    with pins.pin(0, direction=In), pytest.raises(LineBusyError):
        pins.pin(0, direction=In).open()
"""


@pytest.mark.gpio_sim
def test_two_xdist_workers_get_a_chip_each_and_pass(tmp_path):
    before = sim_state()
    (tmp_path / "test_parallel.py").write_text(XDIST_TESTS)
    out = tmp_path / "out"
    out.mkdir()
    started = time.monotonic()
    run = subprocess.run(
        [*PYTEST, "-n", "2", "--dist=each", "--backend=sim", "test_parallel.py"],
        cwd=tmp_path,
        env=_pytest_env(GPIORIG_XDIST_OUT=str(out)),
        capture_output=True,
        text=True,
        timeout=280,
    )
    print(f"pytest -n 2 --backend=sim: {time.monotonic() - started:.1f} s, {os.cpu_count()} cpus")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "6 passed" in run.stdout, run.stdout  # 3 tests on each of 2 workers
    held = [json.loads(p.read_text()) for p in sorted(out.glob("gw*.json"))]
    assert sorted(h["worker"] for h in held) == ["gw0", "gw1"]
    assert held[0]["dev_name"] != held[1]["dev_name"]
    assert held[0]["chip"] != held[1]["chip"]
    assert sim_state() == before  # both workers tore theirs down


# -- 6. security ------------------------------------------------------------------------

ESCAPES = [
    "../x",
    "..",
    ".",
    "a/b",
    "/abs",
    "a\\b",
    "a\0b",
    "x" * 65,
    "x" * 4096,
    ".hidden",
    "-flag",
    "a b",
    "a\nb",
    "trailing-newline\n",  # re.match's $ accepts it: the validators must use fullmatch
    "",
    "gpiorig-1-2-ab/../../x",
]


@pytest.mark.parametrize("name", ESCAPES, ids=repr)
def test_chip_names_cannot_leave_the_gpio_sim_folder(name, tmp_path):
    with pytest.raises(InvalidNameError, match=r"sim chip name|must not be empty"):
        validate_device_name(name)
    # Refused before anything touches the file system.
    with pytest.raises(InvalidNameError):
        SimChip(2, name=name, configfs_root=tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ESCAPES, ids=repr)
def test_rig_names_cannot_leave_the_lock_folder(name):
    from gpiosim.pi._rigfile import validate_rig_name

    with pytest.raises(InvalidNameError, match="rig name .* is not usable as a lock name"):
        validate_rig_name(name)


def test_generated_chip_names_are_valid_and_attach_cannot_wander(tmp_path):
    assert validate_device_name(_owned_name())
    (tmp_path / "devices/platform").mkdir(parents=True)
    from gpiocore import LineNotFoundError

    for ident in ["../../../../etc", "gpio-sim.0/../../..", "/dev/../etc/passwd", "gpiochip0/.."]:
        with pytest.raises(LineNotFoundError, match="names no live gpio-sim device"):
            SimChip.attach(ident, sysfs_root=tmp_path)


_SHELL_CALLS = {
    ("os", "system"),
    ("os", "popen"),
    ("subprocess", "getoutput"),
    ("subprocess", "getstatusoutput"),
    ("asyncio", "create_subprocess_shell"),
}


def _shell_uses(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and (func.value.id, func.attr) in _SHELL_CALLS
        ):
            found.append(f"{path.name}:{node.lineno}: {func.value.id}.{func.attr}()")
        for kw in node.keywords:
            if kw.arg == "shell" and not (
                isinstance(kw.value, ast.Constant) and kw.value.value is False
            ):
                found.append(f"{path.name}:{node.lineno}: shell={ast.unparse(kw.value)}")
    return found


def test_no_shell_is_ever_invoked_from_the_code(tmp_path):
    sources = sorted((ROOT / "gpiocore").rglob("*.py")) + sorted((ROOT / "gpiosim").rglob("*.py"))
    assert len(sources) > 20
    found = [use for path in sources for use in _shell_uses(path)]
    assert found == []
    # The checker itself finds what it looks for.
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import os, subprocess\nos.system('x')\nos.popen('x')\nsubprocess.run('x', shell=1)\n"
        "subprocess.run(['x'], shell=False)\n"
    )
    assert [use.split(": ")[1] for use in _shell_uses(probe)] == [
        "os.system()",
        "os.popen()",
        "shell=1",
    ]


GUEST_PROBE = r"""
for arg in "$@"; do printf '<%s>\n' "$arg"; done
for target in /usr/gpiorig-erofs-probe "$HOME/gpiorig-erofs-probe" /etc/gpiorig-erofs-probe; do
    if ( : > "$target" ) 2> "$PROJECT/err"; then echo "wrote=$target"
    else echo "refused=$target:$(cat "$PROJECT/err")"; fi
done
echo guest > /tmp/gpiorig-overlay-probe && echo "tmp=ok"
echo guest > "$PROJECT/from-guest" && echo "project=ok"
"""

METACHARACTERS = ["; rm -rf /", "$(id)", "`id`", "a && b", "| cat", "> /x", "'\"", "*", "a\nb"]


@pytest.mark.guest
@pytest.mark.skipif(guest.inside_guest(), reason="boots a qemu guest: host only")
def test_the_guest_takes_argv_verbatim_and_writes_only_the_project(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "probe.sh").write_text(GUEST_PROBE)
    out, err = io.BytesIO(), io.BytesIO()
    status = guest.run(
        ["/bin/sh", str(project / "probe.sh"), *METACHARACTERS],
        cwd=project,
        env={**os.environ, "PROJECT": str(project)},
        project_dir=project,
        stdout=out,
        stderr=err,
        timeout=120,
    )
    text = out.getvalue().decode()
    assert status == 0, text + err.getvalue().decode()
    shown = "".join(f"<{arg}>\n" for arg in METACHARACTERS)
    assert text.startswith(shown), text  # every metacharacter arrived as plain text
    for target in ("/usr", os.path.expanduser("~"), "/etc"):
        probe = f"{target}/gpiorig-erofs-probe"
        assert f"refused={probe}:" in text and "Read-only file system" in text, text
        assert not Path(probe).exists()
    assert "tmp=ok" in text and not Path("/tmp/gpiorig-overlay-probe").exists()
    assert "project=ok" in text and (project / "from-guest").read_text() == "guest\n"


GPIOSIM = (sys.executable, "-m", "gpiosim")
ID_U = ("/bin/sh", "-c", 'echo "uid=$(id -u)"')


def _as_nobody(argv: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    """Run argv as the unprivileged user nobody (no groups, no capabilities)."""
    setpriv = shutil.which("setpriv")
    if setpriv is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv(1) to drop to an unprivileged user")
    return subprocess.run(
        [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", *argv],
        capture_output=True,
        text=True,
        **kwargs,
    )


def test_the_fake_backend_and_demo_need_no_root(nobody_dir):
    """README: "Nothing else [needs root]: the fake backend, the demo, ..."."""
    _give_to_nobody(nobody_dir)
    env = {"PATH": os.environ["PATH"], "HOME": str(nobody_dir), "PYTHONPATH": str(ROOT)}
    demo = _as_nobody(
        [*GPIOSIM, "demo", "--offset", "0.5"],
        env=env,
        cwd=nobody_dir,
        timeout=120,
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "the LED did what the post promises" in demo.stdout


@pytest.fixture
def nobody_dir() -> Iterator[Path]:
    """A folder the user nobody owns (pytest's tmp_path is under a root-only folder)."""
    folder = Path(tempfile.mkdtemp(prefix="gpiorig-nobody-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _give_to_nobody(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, 65534, 65534)


@pytest.mark.guest
@pytest.mark.skipif(guest.inside_guest(), reason="boots a qemu guest: host only")
def test_booting_the_guest_needs_no_root(nobody_dir):
    """README: "... and building and booting the guest run as any user" (booting here;
    a build takes minutes, so the unprivileged user gets a copy of the cached kernel)."""
    kernel = guest.ensure_kernel()  # built beforehand: GPIOSIM_NO_BUILD forbids a build
    cache = nobody_dir / "cache"
    copy = nobody_dir / "kernel"
    copy.mkdir(parents=True)
    shutil.copy2(kernel, copy / "bzImage")
    shutil.copy2(kernel.parent / ".config", copy / ".config")
    project = nobody_dir / "project"
    project.mkdir()
    _give_to_nobody(nobody_dir)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(nobody_dir),
        "XDG_CACHE_HOME": str(cache),
        "GPIOSIM_KERNEL": str(copy / "bzImage"),
        "PYTHONPATH": str(ROOT),
        "TMPDIR": str(nobody_dir),
    }
    run = _as_nobody(
        [*GPIOSIM, "guest", "--timeout", "120", "--project-dir", str(project), "--", *ID_U],
        env=env,
        cwd=project,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout == "uid=0\n"  # root in the guest's own kernel, nobody on the host


@pytest.mark.gpio_sim
def test_making_sim_chips_is_what_needs_root():
    """README: "Making gpio-sim chips: configfs is root's by default"."""
    probe = (
        "from gpiosim.chip import check_environment\n"
        "try:\n    check_environment()\nexcept Exception as e:\n"
        "    print(type(e).__name__, e)\nelse:\n    print('allowed')\n"
    )
    run = _as_nobody(
        [sys.executable, "-c", probe],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert run.stdout.startswith("SimPermissionError cannot create gpio-sim chips"), run
    assert "run as root" in run.stdout
    assert issubclass(SimPermissionError, PermissionError)


@pytest.fixture(autouse=True)
def _no_stray_chips(request: pytest.FixtureRequest) -> Iterator[None]:
    """gpio-sim tests here must leave configfs as they found it."""
    if request.node.get_closest_marker("gpio_sim") is None or not SIMDIR.is_dir():
        yield
        return
    before = sim_state()
    yield
    assert sim_state() == before


def test_the_wait_helper_fails_instead_of_hanging():
    with pytest.raises(AssertionError, match="timed out after 0.05 s waiting for nothing"):
        wait_until(lambda: False, 0.05, "nothing")
