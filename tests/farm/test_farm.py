"""Bench farms through labgrid: real coordinator and exporters on 127.0.0.1, real benches
impersonated by qemu guests reached over ssh (docs/bench-farm.md).

Three layers:
- pure functions (no labgrid needed): option splitting, files shipped, place matching,
  leases in comments; the options' install hint without labgrid;
- a real ``labgrid-coordinator`` and ``labgrid-exporter`` (no guest): an unknown
  resource class is exported as-is, places are acquired by tag match, leased, released;
  a busy farm names its holders; a killed holder's place comes free; a lease that ran
  out is kicked;
- ``guest``: two qemu guests impersonating a Pi 4 and a Pi 5 bench (gpio-sim chips with
  the rig's jumpers played, Debian's sshd on a port forwarded from 127.0.0.1), two pytest
  sessions running the post's timed LED at once, a third that waits and fails naming
  who holds each bench, and a ``kill -9`` of a client whose bench comes free and whose
  tests stop on the bench.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from gpiosim.farm._places import Lease, parse_match, place_matches, split_comment
from gpiosim.farm._ship import files_to_ship, remote_args
from tests.conftest import ROOT

BIN = Path(sys.executable).parent
SAMPLE = ROOT / "fixtures" / "farm"
RIGS = ROOT / "fixtures" / "rigs"


# -- pure functions ----------------------------------------------------------------------


def test_remote_args_drop_client_options_and_make_paths_relative(tmp_path):
    (tmp_path / "tests").mkdir()
    raw = [
        "--farm-coordinator", "h:1", "--farm-place=gpiorig-rig=pi5-*", "--backend", "fake",
        "--rig=x.toml", "-x", "tests/test_a.py::test_b", "-k", "led",
    ]  # fmt: skip
    args = remote_args(raw, ["tests/test_a.py::test_b"], tmp_path, tmp_path)
    assert args == ["-x", "tests/test_a.py::test_b", "-k", "led"]
    args = remote_args(["test_a.py"], ["test_a.py"], tmp_path / "tests", tmp_path)
    assert args == ["tests/test_a.py"]


def test_files_shipped_are_the_tests_their_conftests_and_the_config():
    files = files_to_ship(["tests"], SAMPLE, SAMPLE)
    assert sorted(files) == ["pyproject.toml", "tests/test_timed_led_bench.py"]
    files = files_to_ship([str(ROOT)], ROOT, ROOT)  # no paths, run from a subfolder
    assert "tests/conftest.py" in files and "pyproject.toml" in files
    assert not any(name.startswith((".venv", "results")) for name in files)


def test_place_match_by_tag_glob_or_name():
    tags = {"gpiorig-rig": "pi5-bench", "board": "pi5"}
    assert place_matches("pi5-a", tags, parse_match("gpiorig-rig=pi5-*"))
    assert place_matches("pi5-a", tags, parse_match("board=pi5, gpiorig-rig=*"))
    assert not place_matches("pi5-a", tags, parse_match("gpiorig-rig=pi4-*"))
    assert not place_matches("pi5-a", tags, parse_match("lab=x"))
    assert place_matches("pi5-a", tags, parse_match("pi5-?"))


def test_a_lease_lives_after_the_teams_comment():
    lease = Lease("ci/runner", 42, "tok", 100, 130)
    own, found = split_comment("shelf 3, left" + lease.text())
    assert (own, found) == ("shelf 3, left", lease)
    assert split_comment("no lease here") == ("no lease here", None)


def test_without_labgrid_the_options_say_how_to_install_it(tmp_path):
    # A labgrid that cannot be imported shadows the installed one (its own pytest plugin
    # is not loaded either).
    (tmp_path / "shadow" / "labgrid").mkdir(parents=True)
    (tmp_path / "shadow" / "labgrid" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'labgrid'\", name='labgrid')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "shadow")}

    def pytest_without_labgrid(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:labgrid", "-p", "no:cacheprovider", *args],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    done = pytest_without_labgrid("--farm-coordinator", "127.0.0.1:1", "--farm-place", "x")
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stderr
    assert "pytest: --farm-place: bench farms need labgrid: pip install 'gpiorig[farm]'" in (
        done.stderr
    )
    done = pytest_without_labgrid("--help")
    assert "--farm-place" in done.stdout
    (tmp_path / "test_x.py").write_text("def test_x():\n    pass\n")
    done = pytest_without_labgrid("-q", "test_x.py")  # and everything else works
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout


# -- a real coordinator and exporters on 127.0.0.1 --------------------------------------

needs_labgrid = pytest.mark.skipif(
    importlib.util.find_spec("labgrid") is None,
    reason="bench farms need labgrid: pip install 'gpiorig[farm]'",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(condition, timeout: float, what: str, poll: float = 0.2):
    end = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(poll)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Farm:
    """A coordinator and its exporters, started and stopped by a test."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = {**os.environ, "LG_COORDINATOR": self.address}
        self.processes: list[subprocess.Popen] = []
        coordinator_dir = folder / "coordinator"
        coordinator_dir.mkdir()
        self._start(
            [BIN / "labgrid-coordinator", "-l", self.address], "coordinator", coordinator_dir
        )

        def listening():
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0

        wait_until(listening, 30, "the coordinator to listen")

    def _start(self, argv, log: str, cwd: Path) -> subprocess.Popen:
        with open(self.folder / f"{log}.log", "wb") as out:
            process = subprocess.Popen(
                [str(a) for a in argv], cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                env=self.env, start_new_session=True,
            )  # fmt: skip
        self.processes.append(process)
        return process

    def export(self, name: str, yaml: str) -> None:
        """Start an exporter named ``name`` with this resource YAML."""
        path = self.folder / f"{name}.yaml"
        path.write_text(textwrap.dedent(yaml))
        self._start(
            [BIN / "labgrid-exporter", "-c", self.address, "-n", name, "--hostname",
             "127.0.0.1", path], name, self.folder,
        )  # fmt: skip

    def client(self, *args: str) -> str:
        done = subprocess.run(
            [str(BIN / "labgrid-client"), *args], env=self.env, capture_output=True,
            text=True, timeout=60, check=True,
        )  # fmt: skip
        return done.stdout

    def place(self, name: str, match: str, **tags: str) -> None:
        self.client("-p", name, "create")
        self.client("-p", name, "add-match", match)
        self.client("-p", name, "set-tags", *(f"{k}={v}" for k, v in tags.items()))

    def wait_resources(self, count: int) -> None:
        wait_until(lambda: len(self.client("resources").split()) >= count, 30, f"{count} resources")

    def acquired(self) -> dict[str, str | None]:
        from gpiosim.farm._places import Coordinator

        with Coordinator(self.address) as c:
            return {n: p.acquired for n, p in c.places().items()}

    def close(self) -> None:
        for process in reversed(self.processes):
            _stop(process)


BENCH_YAML = """\
{group}:
  GpiorigBench:
    address: 127.0.0.1
    port: {port}
    username: root
    rig: {rig}
    board: {board}
    chip: {chip}
    python: {python}
"""


@pytest.fixture
def farm(tmp_path):
    farm = Farm(tmp_path)
    try:
        yield farm
    finally:
        farm.close()


@pytest.fixture
def unreachable_farm(farm):
    """Two places on benches nobody can reach (for what needs only the coordinator)."""
    for board, chip in (("pi4", "pinctrl-bcm2711"), ("pi5", "pinctrl-rp1")):
        farm.export(
            f"exp-{board}",
            BENCH_YAML.format(
                group=f"{board}-bench-1", port=9, rig=RIGS / f"{board}-bench.toml",
                board=board, chip=chip, python=sys.executable,
            ),
        )  # fmt: skip
    farm.wait_resources(2)
    for board in ("pi4", "pi5"):
        farm.place(
            f"{board}-a", f"exp-{board}/{board}-bench-1/GpiorigBench",
            **{"gpiorig-rig": f"{board}-bench", "board": board},
        )  # fmt: skip
    return farm


@needs_labgrid
def test_an_exported_bench_is_acquired_by_tag_leased_and_released(unreachable_farm):
    from gpiosim.farm._places import Coordinator

    shown = unreachable_farm.client("-p", "pi5-a", "show")
    assert "GpiorigBench" in shown and "'rig': " in shown  # exported as-is, with its params
    unreachable_farm.client("-p", "pi5-a", "set-comment", "shelf", "3")
    with Coordinator(unreachable_farm.address) as c:
        name = c.acquire_matching("gpiorig-rig=pi5-*", timeout=5, token="t1")
        assert name == "pi5-a"
        place = c.places()["pi5-a"]
        assert place.acquired == c.holder
        own, lease = split_comment(place.comment)
        assert own == "shelf 3" and lease is not None and lease.token == "t1"
        assert lease.pid == os.getpid() and lease.until > time.time()
        entries = c.session.get_target_resources(place)
        ((_, cls),) = entries
        assert cls == "GpiorigBench"
        assert c.release_leased("pi5-a", "t2") is False  # not our lease: left alone
        assert c.release_leased("pi5-a", "t1") is True
        place = c.places()["pi5-a"]
        assert place.acquired is None and place.comment == "shelf 3"


@needs_labgrid
def test_a_busy_farm_names_who_holds_each_bench(unreachable_farm):
    from gpiosim.farm import FarmBusyError, FarmError
    from gpiosim.farm._places import Coordinator

    with Coordinator(unreachable_farm.address) as c:
        assert {c.acquire_matching("board=*", timeout=5, token=t) for t in "ab"} == {
            "pi4-a",
            "pi5-a",
        }
        started = time.monotonic()
        with pytest.raises(FarmBusyError) as info:
            c.acquire_matching("gpiorig-rig=*", timeout=2, token="c", poll=0.2)
        assert 2 <= time.monotonic() - started < 10
        message = str(info.value)
        assert message.startswith("no bench matching 'gpiorig-rig=*' came free within 2 s:")
        for name in ("pi4-a", "pi5-a"):
            assert re.search(rf"{name}: held by \S+/\S+ \(pid {os.getpid()}, since ", message)
        with pytest.raises(FarmError, match="no place on .* matches 'board=pi9'"):
            c.acquire_matching("board=pi9", timeout=1, token="d")


HOLDER = """
import sys, time
from gpiosim.farm._places import Coordinator
from gpiosim.farm._session import _start_watchdog
address, spec, watchdog = sys.argv[1:]
c = Coordinator(address)
name = c.acquire_matching(spec, timeout=10, token="holder")
if watchdog == "yes":
    _start_watchdog(address, name, "holder")
print(name, flush=True)
time.sleep(600)
"""


@needs_labgrid
def test_a_killed_session_releases_its_bench_through_its_watchdog(unreachable_farm):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, unreachable_farm.address, "board=pi4", "yes"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "pi4-a"
        assert unreachable_farm.acquired()["pi4-a"]
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        killed = time.monotonic()
        wait_until(lambda: unreachable_farm.acquired()["pi4-a"] is None, 15, "the release")
        assert time.monotonic() - killed < 15
    finally:
        _stop(holder)


@needs_labgrid
def test_a_lease_that_ran_out_is_kicked_by_the_next_session(unreachable_farm):
    from gpiosim.farm._places import Coordinator

    holder = subprocess.Popen(  # a holder without watchdog: its machine "died" with it
        [sys.executable, "-c", HOLDER, unreachable_farm.address, "board=pi4", "no"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "GPIORIG_FARM_LEASE": "2"},
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "pi4-a"
        holder.kill()
        holder.wait()
        assert unreachable_farm.acquired()["pi4-a"]  # labgrid alone keeps it forever
        said = []
        with Coordinator(unreachable_farm.address) as c:
            name = c.acquire_matching("board=pi4", timeout=10, token="next", log=said.append)
        assert name == "pi4-a"
        assert any("ran out" in line and "releasing it" in line for line in said), said
    finally:
        _stop(holder)


# -- benches impersonated by qemu guests ------------------------------------------------

SSHD = "/usr/sbin/sshd"

BOOT = """
import sys
from gpiosim.guest import run
board, rig, config, port, folder = sys.argv[1:]
sys.exit(run([sys.executable, "-m", "gpiosim.farm._simbench", board, rig, config],
             cwd=folder, project_dir=folder, forward_tcp={int(port): 22}, timeout=None))
"""


class Benches:
    """Two bench guests (pi4, pi5) with sshd, keys made for the test."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.key = folder / "client_key"
        self.known = folder / "known_hosts"
        self.ports = {"pi4": free_port(), "pi5": free_port()}
        self.guests: list[subprocess.Popen] = []
        for name in ("host_key", "client_key"):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", folder / name], check=True
            )
        shutil.copy(folder / "client_key.pub", folder / "authorized_keys")
        host_key = (folder / "host_key.pub").read_text().split()[:2]
        self.known.write_text(
            "".join(f"[127.0.0.1]:{p} {' '.join(host_key)}\n" for p in self.ports.values())
        )
        config = folder / "sshd_config"
        config.write_text(
            textwrap.dedent(f"""\
            Port 22
            HostKey {folder / "host_key"}
            AuthorizedKeysFile {folder / "authorized_keys"}
            PidFile none
            StrictModes no
            UsePAM no
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            PermitRootLogin prohibit-password
            UseDNS no
            PrintMotd no
            PrintLastLog no
            """)
        )
        for board, port in self.ports.items():
            bench = folder / f"bench-{board}"
            bench.mkdir()
            with open(folder / f"guest-{board}.log", "wb") as log:
                self.guests.append(
                    subprocess.Popen(
                        [
                            "nice",
                            "-n",
                            "19",
                            sys.executable,
                            "-c",
                            BOOT,
                            board,
                            RIGS / f"{board}-bench.toml",
                            config,
                            str(port),
                            bench,
                        ],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        cwd=ROOT,
                        start_new_session=True,
                    )
                )

    def ssh(self, board: str, command: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["ssh", "-p", str(self.ports[board]), "-i", self.key, "-o", "IdentitiesOnly=yes",
             "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={self.known}",
             "-o", "ConnectTimeout=5", "-l", "root", "127.0.0.1", command],
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip

    def wait_ready(self) -> None:
        for board in self.ports:
            wait_until(
                lambda b=board: self.ssh(b, "true").returncode == 0, 180, f"{board}'s sshd",
                poll=2,
            )  # fmt: skip

    def close(self) -> None:
        for guest in self.guests:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(guest.pid, signal.SIGTERM)
            try:
                guest.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(guest.pid, signal.SIGKILL)
                guest.wait()


def _need_guests() -> None:
    from gpiosim.guest import missing_packages

    if missing_packages():
        pytest.skip(f"the guest needs Debian packages: {' '.join(missing_packages())}")
    if not Path(SSHD).exists():
        pytest.skip("the bench guests need Debian's openssh-server (ci/setup.sh installs it)")


@pytest.fixture(scope="module")
def bench_farm(tmp_path_factory):
    """A coordinator, an exporter per bench guest, and a place per bench."""
    _need_guests()
    folder = tmp_path_factory.mktemp("farm")
    benches = Benches(folder)
    farm = Farm(folder)
    try:
        for board, chip in (("pi4", "pinctrl-bcm2711"), ("pi5", "pinctrl-rp1")):
            farm.export(
                f"exp-{board}",
                BENCH_YAML.format(
                    group=f"{board}-bench-1", port=benches.ports[board],
                    rig=RIGS / f"{board}-bench.toml", board=board, chip=chip,
                    python=sys.executable,
                ),
            )  # fmt: skip
        farm.wait_resources(2)
        for board in ("pi4", "pi5"):
            farm.place(
                f"{board}-a", f"exp-{board}/{board}-bench-1/GpiorigBench",
                **{"gpiorig-rig": f"{board}-bench", "board": board, "farm": "ci"},
            )  # fmt: skip
        benches.wait_ready()
        yield farm, benches
    finally:
        farm.close()
        benches.close()


def session(farm: Farm, benches: Benches, folder: Path, *extra: str) -> subprocess.Popen:
    """A client pytest session on the farm, from its own copy of the sample project."""
    shutil.copytree(SAMPLE, folder)
    out = open(folder / "session.log", "wb")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
         "--farm-coordinator", farm.address, "--farm-ssh-key", str(benches.key),
         "--farm-known-hosts", str(benches.known), *extra, "tests"],
        cwd=folder, stdout=out, stderr=subprocess.STDOUT,
    )  # fmt: skip
    threading.Thread(target=lambda: (process.wait(), out.close()), daemon=True).start()
    return process


def log_of(folder: Path) -> str:
    return (folder / "session.log").read_text(errors="replace")


def place_of(folder: Path) -> str:
    found = re.search(r"^farm: (\S+) \(", log_of(folder), re.M)
    assert found, log_of(folder)
    return found[1]


@needs_labgrid
@pytest.mark.guest
@pytest.mark.timeout(900)
def test_two_sessions_run_on_two_benches_at_once_and_a_third_waits(bench_farm, tmp_path):
    farm, benches = bench_farm
    a = session(farm, benches, tmp_path / "a", "--farm-place", "farm=ci")
    b = session(farm, benches, tmp_path / "b", "--farm-place", "gpiorig-rig=pi*-bench")
    wait_until(lambda: all(farm.acquired().values()), 120, "both benches to be acquired")
    started = time.monotonic()
    c = session(farm, benches, tmp_path / "c", "--farm-place", "farm=ci", "--farm-timeout", "5")
    assert c.wait(120) == pytest.ExitCode.USAGE_ERROR
    assert time.monotonic() - started >= 5
    text = log_of(tmp_path / "c")
    assert "no bench matching 'farm=ci' came free within 5 s:" in text, text
    assert re.search(r"pi4-a: held by \S+ \(pid \d+, since ", text), text
    assert re.search(r"pi5-a: held by \S+ \(pid \d+, since ", text), text
    assert not all(p.poll() is not None for p in (a, b))  # the third ended while both ran
    assert a.wait(600) == 0, log_of(tmp_path / "a")
    assert b.wait(600) == 0, log_of(tmp_path / "b")
    places = {place_of(tmp_path / "a"), place_of(tmp_path / "b")}
    assert places == {"pi4-a", "pi5-a"}
    for name in ("a", "b"):
        where = place_of(tmp_path / name)
        log = log_of(tmp_path / name)
        assert "1 passed" in log and "all 2 jumpers work" in log, log
        results = tmp_path / name / "results"
        assert (results / "junit.xml").is_file()
        vcd = (results / "traces" / f"timed-led-{where}.vcd").read_text()
        assert "$var wire 1" in vcd and "led" in vcd
    assert farm.acquired() == {"pi4-a": None, "pi5-a": None}
    print(f"farm: two sessions in {time.monotonic() - started:.0f} s after the third's start")


@needs_labgrid
@pytest.mark.guest
@pytest.mark.timeout(600)
def test_kill_9_of_a_client_frees_its_bench_and_stops_its_tests(bench_farm, tmp_path):
    farm, benches = bench_farm
    a = session(farm, benches, tmp_path / "a", "--farm-place", "board=pi5")
    try:
        wait_until(lambda: "test session starts" in log_of(tmp_path / "a"), 300, "the bench run")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the session said:\n{log_of(tmp_path / 'a')}") from None
    wait_until(
        lambda: benches.ssh("pi5", "pgrep -f '[p]ytest --backend=pi'").returncode == 0,
        60, "pytest on the bench",
    )  # fmt: skip
    assert farm.acquired()["pi5-a"]
    a.send_signal(signal.SIGKILL)
    a.wait()
    killed = time.monotonic()
    wait_until(lambda: farm.acquired()["pi5-a"] is None, 30, "the bench to come free")
    freed = time.monotonic() - killed
    print(f"farm: pi5-a free {freed:.1f} s after kill -9 of its session")
    assert freed < 30
    # The ssh died with its session, and the leash on the bench stopped the tests.
    wait_until(
        lambda: benches.ssh("pi5", "pgrep -f '[p]ytest --backend=pi'").returncode == 1,
        60, "the bench's pytest to stop", poll=2,
    )  # fmt: skip
    # And the bench is usable again at once: a new session gets it.
    b = session(farm, benches, tmp_path / "b", "--farm-place", "board=pi5")
    assert b.wait(600) == 0, log_of(tmp_path / "b")
    assert place_of(tmp_path / "b") == "pi5-a"


@needs_labgrid
@pytest.mark.guest
@pytest.mark.timeout(600)
def test_an_interrupted_session_stops_its_tests_and_releases_its_bench(bench_farm, tmp_path):
    farm, benches = bench_farm
    a = session(farm, benches, tmp_path / "a", "--farm-place", "board=pi4")
    wait_until(
        lambda: benches.ssh("pi4", "pgrep -f '[p]ytest --backend=pi'").returncode == 0,
        240, "pytest on the bench", poll=2,
    )  # fmt: skip
    a.send_signal(signal.SIGINT)  # ^C
    assert a.wait(120) == pytest.ExitCode.INTERRUPTED
    text = log_of(tmp_path / "a")
    assert "pytest: farm: interrupted" in text
    assert re.search(r"^farm: released pi4-a after ", text, re.M), text  # by the session
    assert "watchdog" not in text
    assert farm.acquired()["pi4-a"] is None
    wait_until(
        lambda: benches.ssh("pi4", "pgrep -f '[p]ytest --backend=pi'").returncode == 1,
        60, "the bench's pytest to stop", poll=2,
    )  # fmt: skip


# -- the character-device line drivers (labgrid's DigitalOutputProtocol) ----------------


@needs_labgrid
@pytest.mark.gpio_sim
def test_line_drivers_drive_and_read_through_the_character_device():
    from labgrid import Target
    from labgrid.protocol import DigitalOutputProtocol

    from gpiosim.chip import SimChip
    from gpiosim.farm._labgrid_bench import (
        GpiorigDigitalInputDriver,
        GpiorigDigitalOutputDriver,
        GpiorigLine,
    )

    with SimChip(4, label="farm-lines", line_names=["RELAY", "SENSE", "C", "D"]) as chip:
        target = Target("bench")
        GpiorigLine(target, "relay", line="RELAY", chip="farm-lines")
        out = GpiorigDigitalOutputDriver(target, "relay-out")
        target.activate(out)
        assert isinstance(target.get_driver(DigitalOutputProtocol), GpiorigDigitalOutputDriver)
        assert chip.get_value(0) is False
        out.set(True)
        assert chip.get_value(0) is True and out.get() is True
        out.set(False)
        assert chip.get_value(0) is False
        target.deactivate(out)  # released: the line can be requested again

        target2 = Target("bench2")
        GpiorigLine(target2, "sense", line=1, chip=chip.chip_name, active_low=True)
        sense = GpiorigDigitalInputDriver(target2, "sense-in")
        target2.activate(sense)
        chip.set_pull(1, True)
        assert sense.wait_for(False, 2)  # active-low: a high line reads inactive
        chip.set_pull(1, False)
        assert sense.wait_for(True, 2)
        target2.deactivate(sense)
