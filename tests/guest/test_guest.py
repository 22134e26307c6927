"""Tests of gpiosim.guest: they run on the host and really boot the qemu guest.

A guest boot costs about two seconds under TCG, so one boot runs a script that
checks many things at once (``guest_report``), and the other boots each pin one
behaviour that needs its own guest (an exit status, a timeout, a killed parent).
Nothing here is skipped when qemu is missing: in CI the guest must run, and a
missing qemu fails with the message that says what to install.
"""

from __future__ import annotations

import io
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import gpiosim.guest as guest
from gpiocore import InvalidSettingError
from gpiosim._errors import (
    GuestBytecodeWarning,
    GuestError,
    GuestTimeoutError,
    KernelBuildError,
    MissingToolError,
)
from gpiosim.guest._kconfig import _check_build_tools, find_kernel, missing_config_options
from gpiosim.guest._project import _remove_guest_bytecode

# These tests boot guests: inside one (the suite run by `gpiosim guest`) they
# belong to the host's run, not to a guest within a guest.
pytestmark = pytest.mark.skipif(guest.inside_guest(), reason="boots qemu guests: host only")

ROOT = Path(__file__).resolve().parents[2]
# Generous: a cold cache builds the kernel first (about 4 minutes on 2 cores).
BUILD_TIMEOUT = 1200


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start `python -m gpiosim ARGS` with this interpreter, from the checkout."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
    )
    full_env.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "gpiosim", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=full_env,
    )


def qemu_processes_mentioning(marker: str) -> list[int]:
    """Pids of live qemu processes whose command line contains marker."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "qemu-system" in cmdline and marker in cmdline:
            found.append(int(entry.name))
    return found


def wait_until_gone(marker: str, within: float) -> list[int]:
    deadline = time.monotonic() + within
    while (left := qemu_processes_mentioning(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.fixture(scope="session")
def guest_kernel() -> Path:
    """The guest kernel built beforehand (`gpiosim guest-kernel`): a test never builds one."""
    kernel = find_kernel()
    assert kernel is not None, "no guest kernel: run `gpiosim guest-kernel` first"
    return kernel


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder the guest may write: a project, as its pyproject.toml says."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    return tmp_path


# ------------------------------------------------------------------ no guest


def test_config_checker_catches_a_dropped_option() -> None:
    fragment = textwrap.dedent(
        """\
        # comment
        CONFIG_GPIOLIB=y
        CONFIG_GPIO_SIM=y
        CONFIG_CONFIGFS_FS=y
        CONFIG_LOG_BUF_SHIFT=14
        # CONFIG_VT is not set
        """
    )
    config = textwrap.dedent(
        """\
        CONFIG_GPIOLIB=y
        # CONFIG_GPIO_SIM is not set
        CONFIG_LOG_BUF_SHIFT=17
        CONFIG_VT=y
        """
    )
    # Unset and absent both count as dropped; only =y lines are demanded.
    assert missing_config_options(fragment, config) == ["CONFIG_GPIO_SIM", "CONFIG_CONFIGFS_FS"]
    assert (
        missing_config_options(fragment, config + "CONFIG_GPIO_SIM=y\nCONFIG_CONFIGFS_FS=y\n") == []
    )


@pytest.mark.guest
def test_the_packaged_fragment_is_all_there_in_the_built_kernel(guest_kernel: Path) -> None:
    fragment = (ROOT / "ci" / "guest-kernel.config").read_text()
    config = (guest_kernel.parent / ".config").read_text()
    # Only options this kernel does not define at all may be absent (BASE_FULL left
    # Linux after 6.1), and the build recorded exactly which.
    record = json.loads((guest_kernel.parent / "source.json").read_text())
    assert set(record["not_in_this_kernel"]) <= {"CONFIG_BASE_FULL"}
    assert missing_config_options(fragment, config) == record["not_in_this_kernel"]
    assert "CONFIG_GPIO_SIM=y" in fragment


def test_missing_qemu_names_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingToolError) as info:
        guest.run(["true"], project_dir=tmp_path)
    assert str(info.value) == (
        "qemu-system-x86_64 not found on PATH. Install it with: apt-get install qemu-system-x86"
    )


def test_missing_build_tools_name_their_packages(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingToolError) as info:
        _check_build_tools()
    message = str(info.value)
    assert message.startswith(
        "cannot build the guest kernel: apt-get, dpkg-deb, tar, xz, make, gcc,"
    )
    assert (
        "Install with: apt-get install apt dpkg tar xz-utils make gcc flex bison bc lz4" in message
    )


def test_bad_arguments_are_refused_before_booting(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="empty"):
        guest.run([], project_dir=tmp_path)
    with pytest.raises(ValueError, match="may not contain '='"):
        guest.run(["A=B"], project_dir=tmp_path)
    with pytest.raises(ValueError, match="accel must be"):
        guest.run(["true"], accel="xen", project_dir=tmp_path)
    # A string would be split into characters and run as 'e' (no shell to split it).
    with pytest.raises(InvalidSettingError, match="argv must be a list of arguments"):
        guest.run("echo hi", project_dir=tmp_path)
    for bad in ({"timeout": -1}, {"timeout": True}, {"cpus": 0}, {"memory_mb": 1.5}):
        with pytest.raises(InvalidSettingError, match=next(iter(bad))):
            guest.run(["true"], project_dir=tmp_path, **bad)
    with pytest.raises(InvalidSettingError, match="malformed environment variable"):
        guest.run(["true"], env={"A": 1}, project_dir=tmp_path)
    with pytest.raises(InvalidSettingError, match="does not exist"):
        guest.run(["true"], project_dir=tmp_path / "missing")


def test_cli_without_a_command_is_a_usage_error() -> None:
    from gpiosim._cli import main

    assert main(["guest"]) == 2


def test_public_names() -> None:
    assert set(guest.__all__) == {
        "GuestBytecodeWarning",
        "GuestError",
        "GuestTimeoutError",
        "KernelBuildError",
        "MissingToolError",
        "ensure_kernel",
        "inside_guest",
        "kernel_cache_dir",
        "missing_packages",
        "run",
    }
    for name in guest.__all__:
        assert getattr(guest, name) is not None
    assert guest.KernelBuildError is KernelBuildError


# -------------------------------------------------------------- one shared boot

REPORT_SCRIPT = r"""
echo "argv1=$1"
echo "argv2=$2"
echo "argv3=$3"
echo "argc=$#"
echo "pwd=$(pwd)"
echo "marker=$GPIOSIM_TEST_MARKER"
echo "in_guest=$GPIOSIM_IN_GUEST"
echo "display=${DISPLAY-unset}"
echo "to-stderr" >&2
echo "written by the guest" > "$PROJECT/from-guest.txt"
touch /tmp/gpiosim-tmp-is-writable && echo "tmp=writable"
echo "clocksource=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
d=/sys/kernel/config/gpio-sim/smoke
mkdir "$d" && mkdir "$d/bank0" && echo 4 > "$d/bank0/num_lines" && echo 1 > "$d/live"
echo "dev_name=$(cat "$d/dev_name")"
chip=$(cat "$d/bank0/chip_name")
echo "chip_name=$chip"
echo "dev_node=$(ls /dev/"$chip")"
"$PYTHON" - "$chip" <<'EOF'
import sys
import gpiod, pyudev, pytest
import gpiosim.guest
with gpiod.Chip("/dev/" + sys.argv[1]) as chip:
    print("num_lines=%d" % chip.get_info().num_lines)
print("inside_guest=%s" % gpiosim.guest.inside_guest())
import time
print("monotonic_resolution=%g" % time.get_clock_info("monotonic").resolution)
print("udev_gpio=%s" % any(d.sys_name == sys.argv[1]
      for d in pyudev.Context().list_devices(subsystem="gpio")))
EOF
echo 0 > "$d/live" && rmdir "$d/bank0" && rmdir "$d" && echo "teardown=ok"
echo "x = 1" > "$PROJECT/mod_in_project.py"
"$PYTHON" -c "import importlib.util, os, sys; sys.path.insert(0, os.environ['PROJECT']); \
import mod_in_project as m; \
print('pyc_in_guest=%s' % os.path.exists(importlib.util.cache_from_source(m.__file__)))"
exit 3
"""


@pytest.fixture(scope="module")
def guest_report(
    guest_kernel: Path,tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, str, Path]:
    project = tmp_path_factory.mktemp("project")
    (project / "sub dir").mkdir()
    script = project / "report.sh"
    script.write_text(REPORT_SCRIPT)
    env = dict(os.environ)
    env.update(
        GPIOSIM_TEST_MARKER="a value with spaces; $HOME `x`",
        DISPLAY=":0",
        PROJECT=str(project),
        PYTHON=sys.executable,
        PYTHONPATH=str(ROOT),
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # the guest must say it itself
    out, err = io.BytesIO(), io.BytesIO()
    status = guest.run(
        ["/bin/sh", str(script), "two words", "$HOME", "*"],
        cwd=project / "sub dir",
        env=env,
        project_dir=project,
        stdout=out,
        stderr=err,
        timeout=120,
    )
    return status, out.getvalue().decode(), err.getvalue().decode(), project


def report_value(report: tuple[int, str, str, Path], key: str) -> str:
    for line in report[1].splitlines():
        name, sep, value = line.partition("=")
        if sep and name == key:
            return value
    raise AssertionError(f"{key} not in the guest's output:\n{report[1]}\n{report[2]}")


@pytest.mark.guest
def test_exit_status_comes_back(guest_report: tuple[int, str, str, Path]) -> None:
    assert guest_report[0] == 3, guest_report


@pytest.mark.guest
def test_argv_arrives_verbatim(guest_report: tuple[int, str, str, Path]) -> None:
    assert report_value(guest_report, "argv1") == "two words"
    assert report_value(guest_report, "argv2") == "$HOME"
    assert report_value(guest_report, "argv3") == "*"
    assert report_value(guest_report, "argc") == "3"


@pytest.mark.guest
def test_cwd_and_env_arrive(guest_report: tuple[int, str, str, Path]) -> None:
    assert report_value(guest_report, "pwd") == str(guest_report[3] / "sub dir")
    assert report_value(guest_report, "marker") == "a value with spaces; $HOME `x`"
    assert report_value(guest_report, "in_guest") == "1"
    assert report_value(guest_report, "display") == "unset"


@pytest.mark.guest
def test_stdout_and_stderr_stay_apart(guest_report: tuple[int, str, str, Path]) -> None:
    assert guest_report[2] == "to-stderr\n"
    assert "to-stderr" not in guest_report[1]
    # No kernel message leaks into the command's output.
    assert "sysrq" not in guest_report[1] + guest_report[2]


@pytest.mark.guest
def test_project_share_is_writable_and_tmp_too(guest_report: tuple[int, str, str, Path]) -> None:
    assert (guest_report[3] / "from-guest.txt").read_text() == "written by the guest\n"
    assert report_value(guest_report, "tmp") == "writable"
    # The guest's /tmp is its own: nothing leaks to the host's.
    assert not Path("/tmp/gpiosim-tmp-is-writable").exists()


@pytest.mark.guest
def test_python_in_the_guest_writes_no_bytecode_into_the_project(
    guest_report: tuple[int, str, str, Path],
) -> None:
    # The host would run a guest-written .pyc while `git status` shows nothing.
    assert report_value(guest_report, "pyc_in_guest") == "False"
    assert (guest_report[3] / "mod_in_project.py").exists()
    assert not list(guest_report[3].rglob("__pycache__"))


@pytest.mark.guest
def test_gpio_sim_works_in_the_guest(guest_report: tuple[int, str, str, Path]) -> None:
    assert report_value(guest_report, "dev_name").startswith("gpio-sim.")
    chip = report_value(guest_report, "chip_name")
    assert chip.startswith("gpiochip")
    assert report_value(guest_report, "dev_node") == f"/dev/{chip}"
    assert report_value(guest_report, "num_lines") == "4"
    assert report_value(guest_report, "udev_gpio") == "True"
    assert report_value(guest_report, "teardown") == "ok"


@pytest.mark.guest
def test_venv_python_runs_in_the_guest(guest_report: tuple[int, str, str, Path]) -> None:
    assert report_value(guest_report, "inside_guest") == "True"


@pytest.mark.guest
def test_the_guest_has_a_fine_clock(guest_report: tuple[int, str, str, Path]) -> None:
    # Under TCG the watchdog would swap the TSC for 1 ms jiffies (see tsc=reliable),
    # and a failed PIT calibration would too (see tsc_early_khz). "tsc-early" is the
    # same counter before the kernel's refined calibration switches over (~1 s).
    assert report_value(guest_report, "clocksource") in ("tsc", "tsc-early")
    assert float(report_value(guest_report, "monotonic_resolution")) < 1e-6


# ----------------------------------------------------------- one boot per case


@pytest.mark.guest
def test_exit_status_0_and_127_and_two_cpus(tmp_path: Path) -> None:
    assert guest.run(["sh", "-c", '[ "$(nproc)" = 2 ]'], project_dir=tmp_path, cpus=2) == 0
    err = io.BytesIO()
    assert guest.run(["/no/such/program"], project_dir=tmp_path, stderr=err) == 127
    assert b"/no/such/program" in err.getvalue()


@pytest.mark.guest
def test_cli_returns_the_status_and_streams_output(project: Path) -> None:
    proc = cli("guest", "--", "sh", "-c", "echo out; echo err >&2; exit 1", cwd=project)
    out, err = proc.communicate(timeout=BUILD_TIMEOUT)
    assert proc.returncode == 1, err
    assert out == b"out\n"
    assert err == b"err\n"


@pytest.mark.guest
def test_timeout_stops_the_guest(project: Path) -> None:
    # The job folder is made under TMPDIR: qemu's command line names it.
    marker = str(project / "jobs")
    os.mkdir(marker)
    started = time.monotonic()
    proc = cli(
        "guest",
        "--timeout",
        "8",
        "--",
        "sh",
        "-c",
        "echo started; sleep 60",
        cwd=project,
        env={"TMPDIR": marker},
    )
    out, err = proc.communicate(timeout=BUILD_TIMEOUT)
    assert proc.returncode == 124
    assert out == b"started\n"
    assert b"did not finish within 8 s" in err
    assert time.monotonic() - started < 30
    assert qemu_processes_mentioning(marker) == []


@pytest.mark.guest
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_no_qemu_outlives_an_interrupted_or_killed_parent(
    project: Path, how: signal.Signals
) -> None:
    marker = str(project / "jobs")
    os.mkdir(marker)
    proc = cli(
        "guest", "--", "sh", "-c", "echo started; sleep 60", cwd=project, env={"TMPDIR": marker}
    )
    assert proc.stdout is not None
    # Output streams live: "started" arrives while the command still sleeps.
    assert proc.stdout.readline() == b"started\n"
    assert qemu_processes_mentioning(marker) != []
    proc.send_signal(how)
    proc.wait(timeout=30)
    if how != signal.SIGKILL:
        # Ctrl-C and a CI job's SIGTERM unwind: run() stops qemu itself.
        assert proc.returncode == 128 + how
    assert wait_until_gone(marker, within=10) == []


@pytest.mark.guest
def test_boot_failure_shows_the_console(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A missing init makes the kernel panic: the error carries the console's tail.
    import gpiosim.guest._run as impl

    monkeypatch.setattr(impl, "_INIT", tmp_path / "no-such-init.sh")
    with pytest.raises(GuestError) as info:
        impl.run(["true"], project_dir=tmp_path, timeout=60)
    assert not isinstance(info.value, GuestTimeoutError)
    assert "the console said" in str(info.value)
    assert "Kernel panic" in str(info.value) or "init" in str(info.value)


def test_tsc_rate_is_passed_only_when_constant(tmp_path: Path) -> None:
    from gpiosim.guest._qemu import _tsc_khz_args

    info = tmp_path / "cpuinfo"
    info.write_text("cpu MHz\t\t: 2596.138\nflags\t\t: fpu tsc constant_tsc nonstop_tsc\n")
    assert _tsc_khz_args(info) == ["tsc_early_khz=2596138"]
    info.write_text("cpu MHz\t\t: 2596.138\nflags\t\t: fpu tsc\n")
    assert _tsc_khz_args(info) == []
    assert _tsc_khz_args(tmp_path / "missing") == []


def test_job_folders_of_dead_hosts_are_reclaimed(tmp_path: Path) -> None:
    """A `gpiosim guest` killed with SIGKILL leaves its job folder (argv, environment);
    the next run removes it, and nothing of a live process or of other names."""
    from gpiosim.guest._jobs import _reclaim_jobs

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"gpiosim-job-{dead.pid}-abc"
    live = tmp_path / f"gpiosim-job-{os.getpid()}-def"
    other = tmp_path / "gpiosim-job-notapid-x"
    huge = tmp_path / f"gpiosim-job-{10**30}-x"
    for folder in (stale, live, other, huge):
        folder.mkdir()
        (folder / "exec").write_text("secret")
    assert _reclaim_jobs(str(tmp_path)) == [stale.name]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name, huge.name])


@pytest.mark.guest
def test_a_guest_killed_with_sigkill_leaves_no_qemu_and_its_job_is_reclaimed(
    tmp_path: Path,
) -> None:
    env = dict(os.environ, TMPDIR=str(tmp_path))
    host = subprocess.Popen(
        [sys.executable, "-m", "gpiosim", "guest", "--", "sleep", "60"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(f"gpiosim-job-{host.pid}-*")):
        assert time.monotonic() < deadline and host.poll() is None
        time.sleep(0.05)
    time.sleep(1)  # qemu is up
    host.kill()
    host.wait()
    deadline = time.monotonic() + 10
    while subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "qemu outlived its killed host process"
        time.sleep(0.1)
    assert list(tmp_path.glob("gpiosim-job-*"))  # left behind by the SIGKILL ...
    again = [sys.executable, "-m", "gpiosim", "guest", "--", "true"]
    assert subprocess.run(again, env=env, timeout=120).returncode == 0
    assert not list(tmp_path.glob("gpiosim-job-*"))  # ... and reclaimed by the next run


# ------------------------------------------------------------ the guest as a boundary


HOSTILE = (
    "cp /bin/true p/suid; chown 0:0 p/suid; chmod 4755 p/suid; touch p/o; chown 4242 p/o; "
    "mkdir -m 2755 p/sgid; mknod p/null c 1 3; install -m 6755 /bin/true p/both; "
    "printf '#!/bin/sh\\necho script-ran\\n' > p/run.sh; chmod 0755 p/run.sh; p/run.sh"
)


@pytest.mark.guest
def test_bytecode_the_guest_writes_is_removed_with_a_warning(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A .pyc in the project runs on the host unseen by git: every one written while
    the guest ran goes (files, links, lone ones), the host's own and the rest stay."""
    monkeypatch.setattr("gpiosim.guest._project._BYTECODE_SLACK_NS", 0)
    host_pyc = project / "old" / "__pycache__" / "keep.cpython-311.pyc"
    host_pyc.parent.mkdir(parents=True)
    host_pyc.write_bytes(b"host")
    script = (
        "mkdir -p pkg/__pycache__ dir.pyc && printf x > pkg/__pycache__/mod.cpython-311.pyc"
        " && printf y > lone.pyc && printf z > notes.txt && ln -s notes.txt link.pyc"
    )
    with pytest.warns(GuestBytecodeWarning, match=r"removed 3 Python bytecode") as caught:
        assert guest.run(["sh", "-c", script], cwd=project, project_dir=project) == 0
    assert str(project / "lone.pyc") in str(caught[0].message)
    assert not (project / "pkg" / "__pycache__" / "mod.cpython-311.pyc").exists()
    assert not (project / "lone.pyc").exists()
    assert not os.path.lexists(project / "link.pyc")
    assert (project / "notes.txt").read_text() == "z"
    assert (project / "dir.pyc").is_dir()
    assert host_pyc.read_bytes() == b"host"


@pytest.mark.guest
def test_what_root_in_the_guest_writes_lands_unprivileged_on_the_host(project: Path) -> None:
    """Issue 12.1: no setuid/setgid file, device or foreign owner reaches the host;
    the exec bit of a script survives."""
    (project / "p").mkdir()
    proc = cli("guest", "--", "sh", "-c", HOSTILE, cwd=project)
    out, err = proc.communicate(timeout=BUILD_TIMEOUT)
    assert b"script-ran" in out, err
    assert b"Operation not permitted" in err
    for path in project.rglob("*"):
        info = path.lstat()
        assert not info.st_mode & (stat.S_ISUID | stat.S_ISGID), (path, oct(info.st_mode))
        assert not stat.S_ISCHR(info.st_mode) and not stat.S_ISBLK(info.st_mode), path
        assert info.st_uid == os.geteuid(), (path, info.st_uid)
    assert (project / "p" / "run.sh").stat().st_mode & 0o111 == 0o111


def test_the_bytecode_sweep_stays_in_the_project_and_spares_older_files(
    tmp_path: Path,
) -> None:
    project, outside = tmp_path / "project", tmp_path / "outside"
    (project / ".git").mkdir(parents=True)
    outside.mkdir()
    (outside / "x.pyc").write_bytes(b"")
    (project / "out").symlink_to(outside, target_is_directory=True)
    (project / ".git" / "y.pyc").write_bytes(b"")
    (project / "z.pyc").write_bytes(b"")
    assert _remove_guest_bytecode(str(project), time.time_ns() + 10**10) == []
    assert _remove_guest_bytecode(str(project), 0) == [str(project / "z.pyc")]
    assert (outside / "x.pyc").exists()
    assert (project / ".git" / "y.pyc").exists()
    assert _remove_guest_bytecode(str(tmp_path / "gone"), 0) == []


def test_the_writable_share_is_a_project_and_never_home_or_system(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12.2: outside a project nothing is shared read-write without --project-dir."""
    from gpiosim.guest._project import _writable_project, find_project_dir

    home = tmp_path / "home"
    (home / "code" / "repo" / ".git").mkdir(parents=True)
    (home / "code" / "repo" / "sub" / "pkg").mkdir(parents=True)
    (home / "code" / "repo" / "sub" / "pyproject.toml").touch()
    (home / "code" / "lib" / "src").mkdir(parents=True)
    (home / "code" / "lib" / "pyproject.toml").touch()
    monkeypatch.setenv("HOME", str(home))
    # The git work tree wins over a nested pyproject.toml; else the nearest pyproject.
    assert find_project_dir(home / "code" / "repo" / "sub" / "pkg") == home / "code" / "repo"
    assert find_project_dir(home / "code" / "lib" / "src") == home / "code" / "lib"
    assert find_project_dir(home) is None
    with pytest.raises(InvalidSettingError, match=r"is in no project .* --project-dir DIR"):
        _writable_project(None, str(home))
    with pytest.raises(InvalidSettingError, match="it is your home folder; .*--project-dir"):
        _writable_project(home, str(home))
    for system in ("/usr", "/etc", "/usr/lib", "/etc/cron.d", "/var/lib", "/usr/src", "/srv"):
        with pytest.raises(InvalidSettingError, match="it is a system folder; .*--project-dir"):
            _writable_project(system, str(home))
    for above_home in ("/", str(tmp_path), str(home / "..")):
        with pytest.raises(InvalidSettingError, match="it is a folder that holds your home"):
            _writable_project(above_home, str(home))
    cache = home / "code" / "lib" / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    with pytest.raises(InvalidSettingError, match="holds gpiorig's cache .*whose kernels"):
        _writable_project(home / "code" / "lib", "/")
    monkeypatch.delenv("XDG_CACHE_HOME")
    # A relative folder is the command's folder's, not this process's.
    assert _writable_project("lib", str(home / "code")) == str(home / "code" / "lib")
    assert _writable_project(home / "code" / "lib", "/") == str(home / "code" / "lib")
    # Before booting: run() refuses it the same way, and the CLI says so with status 2.
    with pytest.raises(InvalidSettingError, match="is in no project"):
        guest.run(["touch", str(home / "x")], cwd=home)
    proc = cli("guest", "--", "touch", str(home / "x"), cwd=home, env={"HOME": str(home)})
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and b"--project-dir" in err
    assert not (home / "x").exists()
