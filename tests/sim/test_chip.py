"""Tests of gpiosim.chip: environment checks and names (anywhere), real chips (gpio-sim).

The checks run on any host against temporary folders and made-up kernel releases.
The rest needs gpio-sim: it skips where there is none, unless ``GPIOSIM_REQUIRE=1``
(set in CI, inside the guest) turns a missing gpio-sim into a failure.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gpiocore import ClosedError, InvalidSettingError, LineNotFoundError, PinIndexError
from gpiosim import chip as chip_module
from gpiosim._errors import (
    ConfigfsNotMountedError,
    GpioSimUnavailableError,
    InvalidNameError,
    KernelTooOldError,
    SimChipError,
    SimPermissionError,
)
from gpiosim.chip import (
    Bank,
    HogDirection,
    SimChip,
    SimDevice,
    check_environment,
    parse_kernel_release,
    reclaim_stale,
    validate_device_name,
    validate_line_name,
)
from gpiosim.sim._configfs import _is_stale, _proc_start_time
from gpiosim.sim._device import _wait_device_node

GOOD_RELEASE = "6.1.0-18-amd64"
PROJECT = Path(__file__).resolve().parents[2]


def _simdir_entries() -> set[str]:
    return {p.name for p in (chip_module.CONFIGFS_ROOT / "gpio-sim").iterdir()}


# -- the public face ---------------------------------------------------------------------


def test_public_face_exports_everything_it_names() -> None:
    for name in chip_module.__all__:
        assert getattr(chip_module, name) is not None, name
    assert {"SimChip", "SimDevice", "Bank", "reclaim_stale", "check_environment"} <= set(
        chip_module.__all__
    )


# -- environment checks (host-side, temp dirs) -------------------------------------------


@pytest.mark.parametrize(
    ("release", "expected"),
    [
        ("6.1.0-18-amd64", (6, 1)),
        ("5.17.0", (5, 17)),
        ("6.18.44-fc-v669", (6, 18)),
        ("4.19.0-rpi", (4, 19)),
        ("weird", None),
    ],
)
def test_parse_kernel_release(release: str, expected: tuple[int, int] | None) -> None:
    assert parse_kernel_release(release) == expected


@pytest.mark.parametrize("release", ["5.16.20", "5.15.0-91-generic", "4.19.0-rpi"])
def test_old_kernel_is_refused_first(tmp_path: Path, release: str) -> None:
    # tmp_path has no configfs either: the kernel check must come first.
    with pytest.raises(KernelTooOldError, match=r"older than 5\.17.*gpiosim guest -- CMD") as e:
        check_environment(configfs_root=tmp_path / "missing", kernel_release=release)
    assert release in str(e.value)


def test_kernel_5_17_is_new_enough(tmp_path: Path) -> None:
    (tmp_path / "gpio-sim").mkdir()
    assert check_environment(configfs_root=tmp_path, kernel_release="5.17.0") == (
        tmp_path / "gpio-sim"
    )


def test_configfs_missing(tmp_path: Path) -> None:
    root = tmp_path / "config"
    with pytest.raises(ConfigfsNotMountedError, match=r"mount -t configfs none .*config") as e:
        check_environment(configfs_root=root, kernel_release=GOOD_RELEASE)
    assert str(root) in str(e.value)


def test_configfs_empty_folder_is_not_mounted(tmp_path: Path) -> None:
    # An unmounted /sys/kernel/config is an empty sysfs folder, not a mount point.
    with pytest.raises(ConfigfsNotMountedError, match="is not mounted at"):
        check_environment(configfs_root=tmp_path, kernel_release=GOOD_RELEASE)


def test_gpio_sim_module_missing(tmp_path: Path) -> None:
    (tmp_path / "usb_gadget").mkdir()  # configfs with another subsystem, no gpio-sim
    with pytest.raises(GpioSimUnavailableError, match=r"modprobe gpio-sim.*gpiosim guest"):
        check_environment(configfs_root=tmp_path, kernel_release=GOOD_RELEASE)


def test_errors_are_sim_chip_errors() -> None:
    for cls in (ConfigfsNotMountedError, GpioSimUnavailableError, KernelTooOldError):
        assert issubclass(cls, SimChipError)
    assert issubclass(SimPermissionError, PermissionError)


def test_no_permission() -> None:
    """A gpio-sim folder the process cannot write: checked as an unprivileged user."""
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        (root / "gpio-sim").mkdir(mode=0o755)
        if os.geteuid() != 0:
            (root / "gpio-sim").chmod(0o555)
            with pytest.raises(SimPermissionError, match=r"not writable.*run as root"):
                check_environment(configfs_root=root, kernel_release=GOOD_RELEASE)
            return
        # Root may write anything: check in a forked child whose effective uid is nobody.
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            status = 1
            try:
                os.close(read_end)
                os.setegid(65534)
                os.seteuid(65534)
                try:
                    check_environment(configfs_root=root, kernel_release=GOOD_RELEASE)
                    os.write(write_end, b"OK")
                except SimPermissionError as exc:
                    os.write(write_end, str(exc).encode())
                    status = 3
            finally:
                os._exit(status)
        os.close(write_end)
        with os.fdopen(read_end) as reader:
            message = reader.read()
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 3, message
        assert "not writable by uid 65534" in message
        assert "run as root" in message


def test_checks_pass_on_a_writable_gpio_sim_folder(tmp_path: Path) -> None:
    (tmp_path / "gpio-sim").mkdir()
    assert check_environment(configfs_root=tmp_path, kernel_release="weird-release") == (
        tmp_path / "gpio-sim"
    )


def test_create_runs_the_checks(tmp_path: Path) -> None:
    chip = SimChip(4, configfs_root=tmp_path / "nothing", kernel_release=GOOD_RELEASE)
    with pytest.raises(ConfigfsNotMountedError):
        chip.create()
    assert not chip.live


# -- names (host-side) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("", "must not be empty"),
        ("a/b", "path separator"),
        ("a\\b", "path separator"),
        (".", "relative path"),
        ("..", "relative path"),
        ("a\0b", "NUL"),
        ("x" * 65, "longer than 64"),
        (".hidden", "starts with '.'"),
        ("-x", "starts with '-'"),
        ("a b", "contains ' '"),
        ("chip*", r"contains '\*'"),
        ("é", "contains 'é'"),
    ],
)
def test_bad_device_names(name: str, rule: str) -> None:
    with pytest.raises(InvalidNameError, match=rule):
        validate_device_name(name)
    with pytest.raises(InvalidNameError, match=rule):
        SimChip(4, name=name)


@pytest.mark.parametrize("name", ["gpiorig-1-2-ab", "my_chip", "a.b:c+d-e", "x" * 64, "0"])
def test_good_device_names(name: str) -> None:
    assert validate_device_name(name) == name


def test_device_name_must_be_a_string() -> None:
    with pytest.raises(InvalidNameError, match="must be a string, not 3"):
        validate_device_name(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("", "empty"),
        (" x", "whitespace"),
        ("a\nb", "non-printable"),
        ("a\0b", "non-printable"),
        ("n" * 32, "keeps only 31"),
    ],
)
def test_bad_line_names(name: str, rule: str) -> None:
    with pytest.raises(InvalidNameError, match=rule):
        validate_line_name(name)
    with pytest.raises(InvalidNameError, match=rule):
        Bank(4, line_names={0: name})


def test_bank_validation() -> None:
    with pytest.raises(InvalidSettingError, match="num_lines must be a whole number of 1"):
        Bank(0)
    with pytest.raises(InvalidSettingError, match="num_lines"):
        Bank(True)
    with pytest.raises(PinIndexError, match=r"offset 4 is out of range: the bank has lines 0\.\.3"):
        Bank(4, line_names={4: "X"})
    with pytest.raises(PinIndexError, match=r"hog at offset -1"):
        Bank(4, hogs={-1: ("h", "input")})
    with pytest.raises(InvalidSettingError, match=r"hog direction 'high'.*output-high"):
        Bank(4, hogs={1: ("h", "high")})  # type: ignore[dict-item]
    with pytest.raises(InvalidNameError, match="chip label"):
        Bank(4, label="bad\nlabel")
    bank = Bank(4, line_names=["A", None, "C"], hogs={3: ("hog", "output-high")})
    assert bank.line_names == ((0, "A"), (2, "C"))
    assert bank.hogs == ((3, "hog", "output-high"),)


# -- stale-chip detection (host-side) ----------------------------------------------------


def test_stale_detection() -> None:
    me = os.getpid()
    started = _proc_start_time(me)
    assert started is not None
    assert not _is_stale(f"gpiorig-{me}-{started}-abcd")  # alive: ours
    assert _is_stale(f"gpiorig-{me}-{started + 1}-abcd")  # same pid, other process: reused
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child_started = _proc_start_time(child.pid)
    child.wait()
    assert child_started is not None
    assert _is_stale(f"gpiorig-{child.pid}-{child_started}-abcd")  # dead
    assert not _is_stale("someone-elses-chip")  # not ours: never touched
    assert not _is_stale(f"gpiorig-{child.pid}-x-abcd")


def test_nothing_is_stale_without_procfs(tmp_path: Path) -> None:
    assert not _is_stale("gpiorig-1-2-abcd", proc_root=tmp_path)


def test_proc_start_time_parses_odd_command_names(tmp_path: Path) -> None:
    fields = ["S"] + [str(i) for i in range(4, 22)] + ["123456"] + ["0"] * 30
    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "stat").write_text(f"42 (a) b (c) {' '.join(fields)}\n")
    assert _proc_start_time(42, tmp_path) == 123456
    assert _proc_start_time(43, tmp_path) is None


def test_reclaim_without_gpio_sim_is_a_no_op(tmp_path: Path) -> None:
    assert reclaim_stale(configfs_root=tmp_path) == []


# -- waiting for the device node (host-side) ---------------------------------------------


def test_device_node_found_at_once(tmp_path: Path) -> None:
    (tmp_path / "gpiochip7").touch()
    assert _wait_device_node("gpiochip7", 0.0, tmp_path) == str(tmp_path / "gpiochip7")


def test_device_node_waited_for(tmp_path: Path) -> None:
    timer = threading.Timer(0.2, (tmp_path / "gpiochip8").touch)
    timer.start()
    try:
        start = time.monotonic()
        assert _wait_device_node("gpiochip8", 5.0, tmp_path) == str(tmp_path / "gpiochip8")
        assert 0.15 < time.monotonic() - start < 4.0
    finally:
        timer.cancel()


def test_device_node_timeout(tmp_path: Path) -> None:
    with pytest.raises(SimChipError, match=r"gpiochip9 did not appear within 0.2 s.*devtmpfs"):
        _wait_device_node("gpiochip9", 0.2, tmp_path)


# -- real chips (need gpio-sim) ----------------------------------------------------------


@pytest.fixture
def clean_configfs(need_sim: None) -> Iterator[set[str]]:
    """Check that a test leaves the gpio-sim folder as it found it."""
    before = _simdir_entries()
    yield before
    assert _simdir_entries() == before


def test_create_and_destroy_50_times(clean_configfs: set[str]) -> None:
    fds_before = len(os.listdir("/proc/self/fd"))
    chip_names = set()
    start = time.monotonic()
    for _ in range(50):
        with SimChip(4) as chip:
            assert Path(chip.dev_path).exists()
            assert chip.dev_name.startswith("gpio-sim.")
            chip_names.add(chip.chip_name)
        assert not chip.live
        assert _simdir_entries() == clean_configfs
    elapsed = time.monotonic() - start
    print(f"50 create/destroy cycles: {elapsed:.2f} s ({elapsed / 50 * 1000:.1f} ms each)")
    assert len(os.listdir("/proc/self/fd")) == fds_before
    assert chip_names and all(n.startswith("gpiochip") for n in chip_names)


def test_properties_names_label_hogs_via_gpiod(clean_configfs: set[str]) -> None:
    import gpiod
    from gpiod.line import Direction as GDirection

    hogs: dict[int, tuple[str, HogDirection]] = {
        2: ("hogger", "output-high"),
        3: ("hog-in", "input"),
    }
    with SimChip(6, label="test-label", line_names={0: "BUTTON", 1: "LED"}, hogs=hogs) as chip:
        assert chip.num_lines == 6
        assert chip.label == "test-label"
        assert chip.dev_path == f"/dev/{chip.chip_name}"
        with gpiod.Chip(chip.dev_path) as g:
            info = g.get_info()
            assert (info.name, info.label, info.num_lines) == (chip.chip_name, "test-label", 6)
            assert g.get_line_info(0).name == "BUTTON"
            assert g.get_line_info(1).name == "LED"
            assert g.get_line_info(4).name is None  # unnamed
            assert g.line_offset_from_id("LED") == 1
            hog = g.get_line_info(2)
            assert (hog.used, hog.consumer, hog.direction) == (True, "hogger", GDirection.OUTPUT)
            hog_in = g.get_line_info(3)
            assert (hog_in.used, hog_in.consumer) == (True, "hog-in")
            assert hog_in.direction == GDirection.INPUT
            assert not g.get_line_info(0).used
        assert chip.get_value(2) is True  # the output-high hog drives the line
        assert "test-label" in repr(chip.device.bank_specs)


def test_default_label_comes_from_the_kernel(clean_configfs: set[str]) -> None:
    with SimChip(2) as chip:
        assert chip.label.startswith(chip.dev_name)  # e.g. gpio-sim.3-node0


def test_pull_value_round_trip(clean_configfs: set[str]) -> None:
    with SimChip(4) as chip:
        assert chip.get_pull(1) is False
        assert chip.get_value(1) is False
        chip.set_pull(1, True)
        assert (chip.get_pull(1), chip.get_value(1)) == (True, True)
        assert chip.get_value(0) is False  # the other lines did not move
        chip.set_pull(1, "pull-down")
        assert (chip.get_pull(1), chip.get_value(1)) == (False, False)
        chip.set_pull(1, "pull-up")
        assert chip.get_value(1) is True
        with pytest.raises(InvalidSettingError, match="pull must be True/'pull-up'"):
            chip.set_pull(1, "up")  # type: ignore[arg-type]
        with pytest.raises(PinIndexError, match=r"offset 4 is out of range .* lines 0\.\.3"):
            chip.set_pull(4, True)
        line_dir = chip.bank.line_dir(1)
        assert line_dir == Path(f"/sys/devices/platform/{chip.dev_name}/{chip.chip_name}/sim_gpio1")


def test_closed_chip(clean_configfs: set[str]) -> None:
    chip = SimChip(2).create()
    chip.close()
    chip.close()  # safe twice
    with pytest.raises(ClosedError, match="is not live"):
        chip.get_value(0)
    with pytest.raises(ClosedError, match="is not live"):
        chip.dev_name  # noqa: B018
    with pytest.raises(ClosedError, match="make a new SimDevice"):
        chip.create()


def test_multi_bank_device(clean_configfs: set[str]) -> None:
    import gpiod

    with SimDevice(Bank(4, label="bank-a"), Bank(8, label="bank-b", line_names=["X"])) as dev:
        a, b = dev.banks
        assert a.chip_name != b.chip_name
        assert (a.num_lines, b.num_lines) == (4, 8)
        assert a.dev_name == b.dev_name == dev.dev_name
        with gpiod.Chip(b.dev_path) as g:
            assert g.get_info().label == "bank-b"
            assert g.get_line_info(0).name == "X"
        b.set_pull(7, True)
        assert b.get_value(7) and not a.get_value(3)
        configfs = chip_module.CONFIGFS_ROOT / "gpio-sim" / str(dev.name)
        assert sorted(p.name for p in configfs.iterdir() if p.is_dir()) == ["bank0", "bank1"]


def test_failed_create_leaves_nothing(clean_configfs: set[str]) -> None:
    # The kernel refuses two banks with one label only when going live, after the
    # whole configfs tree (device, banks, lines, hogs) exists: all of it must go.
    dev = SimDevice(
        Bank(4, label="same", line_names=["A"], hogs={1: ("h", "output-low")}),
        Bank(4, label="same"),
    )
    with pytest.raises(SimChipError, match=r"refused .* live .*bank labels must be unique"):
        dev.create()
    assert not dev.live
    assert _simdir_entries() == clean_configfs


def test_name_in_use(clean_configfs: set[str]) -> None:
    with (
        SimChip(2, name="gpiorig-test-dup"),
        pytest.raises(SimChipError, match="'gpiorig-test-dup' already exists"),
    ):
        SimChip(2, name="gpiorig-test-dup").create()


def test_attach_uses_without_owning(clean_configfs: set[str]) -> None:
    with SimChip(3, label="attach-me") as chip:
        for ident in (chip.dev_name, chip.chip_name, chip.dev_path):
            other = SimChip.attach(ident)
            assert (other.chip_name, other.num_lines, other.label) == (
                chip.chip_name,
                3,
                "attach-me",
            )
            assert not other.device.owner
            chip.set_pull(2, True)
            assert other.get_value(2) is True
            other.close()
            assert chip.live and Path(chip.dev_path).exists()  # not torn down
            chip.set_pull(2, False)
        with pytest.raises(LineNotFoundError, match=r"'gpio-sim.999' names no live gpio-sim"):
            SimChip.attach("gpio-sim.999")


_CHILD = """
import sys, time
from gpiosim.chip import SimChip
chip = SimChip(2).create()
print(chip.device.name, flush=True)
time.sleep(600)
"""


def test_chips_of_a_killed_process_are_reclaimed(clean_configfs: set[str]) -> None:
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert child.stdout is not None
        name = child.stdout.readline().strip()
        assert name.startswith(f"gpiorig-{child.pid}-"), name
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    simdir = chip_module.CONFIGFS_ROOT / "gpio-sim"
    assert (simdir / name).is_dir()  # left behind by kill -9
    assert (simdir / name / "live").read_text().strip() == "1"
    with SimChip(2):  # the next user reclaims it
        assert not (simdir / name).exists()


def test_reclaim_stale_public(clean_configfs: set[str]) -> None:
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert child.stdout is not None
        name = child.stdout.readline().strip()
        assert reclaim_stale() == []  # the child is alive: its chip is not stale
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert reclaim_stale() == [name]
    assert reclaim_stale() == []


def test_custom_names_are_never_reclaimed(clean_configfs: set[str]) -> None:
    dev = SimDevice(Bank(2), name="not-gpiorig-owned").create()
    try:
        assert reclaim_stale() == []
        assert dev.live
    finally:
        dev.close()


def test_dropped_chip_is_torn_down_by_its_finalizer(clean_configfs: set[str]) -> None:
    chip = SimChip(2).create()
    name = chip.device.name
    del chip
    import gc

    gc.collect()
    assert not (chip_module.CONFIGFS_ROOT / "gpio-sim" / str(name)).exists()


def test_pyudev_finds_the_chip(clean_configfs: set[str]) -> None:
    """pyudev (no udev daemon) lists the live chip under its gpio-sim platform device."""
    with SimChip(4, label="udev-test") as sim:
        device = sim.udev_device()
        assert device.device_node == sim.dev_path
        assert device.sys_name == sim.chip_name
        assert device.find_parent("platform").sys_name == sim.dev_name
        chip_name = sim.chip_name
    import pyudev

    names = {d.sys_name for d in pyudev.Context().list_devices(subsystem="gpio")}
    assert chip_name not in names  # gone with the chip
