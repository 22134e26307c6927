"""Tests of the guest kernel's sources, build and cache (gpiosim.guest._kernel), on the host.

A real build takes minutes and is CI's own step (``gpiosim guest-kernel``, cold every
run); here the build machinery runs on a tiny fake kernel tree whose Makefile behaves
like the kernel's where it matters (stages, progress lines, child processes), so
interruption, resumption and failure are tested in seconds.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from gpiocore import InvalidSettingError
from gpiosim._errors import KernelBuildError
from gpiosim.guest import _kernel, _source
from gpiosim.guest._kconfig import cache_key, check_image, find_kernel, missing_config_options
from gpiosim.guest._source import DEFAULT_SOURCE, KernelSource, parse_source

ROOT = Path(__file__).resolve().parents[2]

FRAGMENT = "CONFIG_GPIO_SIM=y\nCONFIG_GONE_IN_THIS_KERNEL=y\n"

# `make bzImage` prints compile lines, starts two grandchildren that sleep (as make's
# jobs would be compiling), and finishes only once the test lets it ($FLAG exists).
MAKEFILE = """\
VERSION = {major}
PATCHLEVEL = {minor}
SUBLEVEL = 7
tinyconfig:
\techo tinyconfig >> {count}
\techo '# CONFIG_GPIO_SIM is not set' > .config
olddefconfig:
\tsed -i -e 's/^# CONFIG_GPIO_SIM is not set$$/CONFIG_GPIO_SIM=y/' -e '/GPIOLIB/d' .config
bzImage:
\tfor i in 1 2 3 4 5; do echo "  CC      file$$i.o"; done
\tsleep 300 & a=$$!; sleep 300 & b=$$!; while [ ! -e {flag} ]; do sleep 0.05; done; kill $$a $$b
\tmkdir -p arch/x86/boot && echo image > arch/x86/boot/bzImage
"""
MERGE = """\
#!/bin/sh
# merge_config.sh -m .config FRAGMENT: append the fragment
cat "$3" >> "$2"
"""


def make_tarball(
    folder: Path, *, major: int = 6, minor: int = 12, makefile: str = MAKEFILE
) -> tuple[Path, str]:
    """A kernel-like source tarball; returns it and its sha256."""
    tree = folder / "src" / f"linux-{major}.{minor}.7"
    folder.mkdir(exist_ok=True)
    (tree / "scripts" / "kconfig").mkdir(parents=True)
    (tree / "Makefile").write_text(
        makefile.format(
            major=major, minor=minor, count=folder / "configured", flag=folder / "finish"
        )
    )
    merge = tree / "scripts" / "kconfig" / "merge_config.sh"
    merge.write_text(MERGE)
    merge.chmod(0o755)
    (tree / "Kconfig").write_text("config GPIO_SIM\n\tbool\nmenuconfig GPIOLIB\n")
    tarball = folder / f"linux-{major}.{minor}.7.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(tree, arcname=tree.name)
    return tarball, hashlib.sha256(tarball.read_bytes()).hexdigest()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty kernel cache, builds allowed (the suite forbids them elsewhere)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for var in (_kernel.ENV_NO_BUILD, _kernel.ENV_KERNEL, _source.ENV_SOURCE, _source.ENV_SHA256):
        monkeypatch.delenv(var, raising=False)
    return tmp_path / "cache" / "gpiorig" / "kernel"


BUILD = """\
import sys
from gpiosim.guest import _kernel
print(_kernel.ensure_kernel(source=sys.argv[1], sha256=sys.argv[2], fragment=sys.argv[3],
                            log=lambda line: print(line, flush=True)), flush=True)
"""


def start_build(tmp_path: Path, tarball: Path, sha: str) -> subprocess.Popen[str]:
    fragment = tmp_path / "fragment.config"
    fragment.write_text(FRAGMENT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", BUILD, str(tarball), sha, str(fragment)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def processes_working_in(folder: Path) -> list[int]:
    """Pids whose current folder is inside folder."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "cwd")).is_relative_to(folder):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def read_until(proc: subprocess.Popen[str], text: str) -> list[str]:
    assert proc.stdout is not None
    lines = []
    while True:
        line = proc.stdout.readline()
        assert line, f"the build ended before {text!r}:\n" + "".join(lines)
        lines.append(line)
        if text in line:
            return lines


# ------------------------------------------------------------------------ sources


def test_the_default_source_is_debian_6_12_and_versions_are_named_by_series() -> None:
    assert DEFAULT_SOURCE == "linux-source-6.12"
    assert parse_source("6.1") == KernelSource("apt", "linux-source-6.1", None, (6, 1))
    assert parse_source("linux-source-6.12").cache_id == "6.12"


def test_the_environment_picks_the_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPIOSIM_KERNEL_SOURCE", "linux-source-6.1")
    assert parse_source().ref == "linux-source-6.1"
    monkeypatch.delenv("GPIOSIM_KERNEL_SOURCE")
    assert parse_source().ref == DEFAULT_SOURCE


@pytest.mark.parametrize(
    ("spec", "sha", "message"),
    [
        ("linux-source-5.10", None, "is Linux 5.10, older than 5.19"),
        ("5.18", None, "older than 5.19: gpio-sim is configured through configfs"),
        ("/x/linux-5.15.3.tar.xz", "0" * 64, "is Linux 5.15, older than 5.19"),
        ("/x/linux-6.6.tar.xz", None, "needs its sha256 (64 hex digits"),
        ("/x/linux-6.6.tar.xz", "abc", "not 'abc': pass --sha256 HEX"),
        ("linux-source-6.12", "0" * 64, "--sha256 is for a tarball"),
        ("kernel.zip", None, "unknown kernel source 'kernel.zip'"),
        ("ftp://host/linux-6.6.tar.xz", "0" * 64, "use a path, file://, or https://"),
        ("", None, "must be a package name, 'apt' or a tarball"),
    ],
)
def test_bad_sources_are_refused_with_the_fix(spec: str, sha: str | None, message: str) -> None:
    with pytest.raises(InvalidSettingError) as info:
        parse_source(spec, sha)
    assert message in str(info.value)


def test_cache_keys_follow_the_series_and_the_fragment(tmp_path: Path) -> None:
    fragment = tmp_path / "f.config"
    fragment.write_text(FRAGMENT)
    key = cache_key("6.12", fragment)
    assert key.startswith("gpiorig-kernel-6.12-")
    assert cache_key("6.1", fragment) != key
    fragment.write_text(FRAGMENT + "CONFIG_X=y\n")
    assert cache_key("6.12", fragment) != key


def test_options_a_kernel_does_not_have_are_not_demanded() -> None:
    config = "CONFIG_GPIO_SIM=y\n"
    assert missing_config_options(FRAGMENT, config) == ["CONFIG_GONE_IN_THIS_KERNEL"]
    assert missing_config_options(FRAGMENT, config, frozenset({"GPIO_SIM"})) == []
    assert missing_config_options(FRAGMENT, "", frozenset({"GPIO_SIM"})) == ["CONFIG_GPIO_SIM"]


# ------------------------------------------------------------------ prebuilt images


def fake_bzimage(path: Path, version: str) -> None:
    """Enough of an x86 boot image for its setup header to name its version."""
    data = bytearray(0x1000)
    data[0x202:0x206] = b"HdrS"
    data[0x20E:0x210] = (0x600 - 0x200).to_bytes(2, "little")
    text = f"{version} (builder@host) #1".encode()
    data[0x600 : 0x600 + len(text)] = text
    path.write_bytes(bytes(data))


def test_a_prebuilt_image_is_checked_before_use(tmp_path: Path) -> None:
    image = tmp_path / "bzImage"
    fake_bzimage(image, "6.12.3")
    with pytest.raises(KernelBuildError, match=r"put its \.config beside it"):
        check_image(image)
    needs = " ".join(f"CONFIG_{n}=y" for n in _source._GUEST_NEEDS).replace(" ", "\n")
    (tmp_path / ".config").write_text(needs.replace("CONFIG_GPIO_SIM=y", ""))
    with pytest.raises(KernelBuildError, match=r"lacks CONFIG_GPIO_SIM \(per "):
        check_image(image)
    (tmp_path / ".config").write_text(needs)
    assert check_image(image) == image
    fake_bzimage(image, "5.10.200")
    with pytest.raises(KernelBuildError, match=r"is Linux 5\.10\.200, older than 5\.19"):
        check_image(image)
    image.write_bytes(b"#!/bin/sh\n")
    with pytest.raises(KernelBuildError, match="is not an x86 bzImage"):
        check_image(image)
    with pytest.raises(KernelBuildError, match="does not exist"):
        check_image(tmp_path / "missing")


def test_gpiosim_kernel_wins_over_the_cache(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = tmp_path / "k" / "bzImage"
    image.parent.mkdir()
    fake_bzimage(image, "6.12.3")
    (image.parent / ".config").write_text(
        "\n".join(f"CONFIG_{n}=y" for n in _source._GUEST_NEEDS)
    )
    assert find_kernel() is None
    monkeypatch.setenv("GPIOSIM_KERNEL", str(image))
    assert find_kernel() == image
    assert _kernel.ensure_kernel() == image


def test_no_build_is_started_where_builds_are_forbidden(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GPIOSIM_NO_BUILD", "1")
    with pytest.raises(KernelBuildError, match=r"GPIOSIM_NO_BUILD=1 forbids building"):
        _kernel.ensure_kernel(source="6.12")
    assert not cache.exists()


def test_the_cli_prints_the_cache_key_and_refuses_old_sources() -> None:
    from gpiosim._cli import main

    assert main(["guest-kernel", "--source", "5.4"]) == 2
    assert main(["guest-kernel", "--kernel", "/bin/true", "--rebuild"]) == 2


# ----------------------------------------------------------------- the build


def test_a_tarball_builds_with_a_line_per_stage(tmp_path: Path, cache: Path) -> None:
    tarball, sha = make_tarball(tmp_path)
    (tmp_path / "finish").touch()
    lines: list[str] = []
    image = _kernel.ensure_kernel(
        source=str(tarball), sha256=sha, fragment=write(tmp_path, FRAGMENT), log=lines.append
    )
    assert image.read_text() == "image\n"
    assert image.parent.name == f"tar-{sha[:16]}-{_kernel._fragment_key(FRAGMENT)}"
    assert (image.parent / ".config").read_text().count("CONFIG_GPIO_SIM=y") >= 1
    stages = [line.split(":")[0] for line in lines if line.startswith("stage")]
    assert stages == ["stage 1/4", "stage 2/4", "stage 3/4", "stage 4/4"]
    assert "Linux 6.12.7" in lines[-1]
    assert not list(cache.glob(".build-*"))  # the tree is gone once the image is kept
    # Cached now: the same call returns at once, without a line.
    again: list[str] = []
    assert (
        _kernel.ensure_kernel(
            source=str(tarball), sha256=sha, fragment=write(tmp_path, FRAGMENT), log=again.append
        )
        == image
    )
    assert again == []


def write(folder: Path, text: str) -> Path:
    path = folder / "fragment.config"
    path.write_text(text)
    return path


def test_a_wrong_sha256_is_refused_before_unpacking(tmp_path: Path, cache: Path) -> None:
    tarball, sha = make_tarball(tmp_path)
    wrong = "0" * 64
    with pytest.raises(KernelBuildError, match=f"has sha256 {sha}, not the {wrong}"):
        _kernel.ensure_kernel(source=str(tarball), sha256=wrong, fragment=write(tmp_path, ""))
    assert not (tmp_path / "configured").exists()


def test_a_file_url_works_like_a_path(tmp_path: Path, cache: Path) -> None:
    tarball, sha = make_tarball(tmp_path)
    (tmp_path / "finish").touch()
    image = _kernel.ensure_kernel(
        source=tarball.as_uri(), sha256=sha, fragment=write(tmp_path, FRAGMENT)
    )
    assert image.is_file()


def test_a_tree_older_than_5_19_is_refused_after_unpacking(tmp_path: Path, cache: Path) -> None:
    tarball, sha = make_tarball(tmp_path, major=5, minor=15)
    renamed = tarball.with_name("kernel.tar.gz")  # the name does not tell the version
    tarball.rename(renamed)
    with pytest.raises(KernelBuildError, match=r"is Linux 5\.15, older than 5\.19"):
        _kernel.ensure_kernel(source=str(renamed), sha256=sha, fragment=write(tmp_path, ""))


def test_a_failing_stage_is_named_with_the_end_of_its_log(tmp_path: Path, cache: Path) -> None:
    tarball, sha = make_tarball(tmp_path)
    with pytest.raises(KernelBuildError) as info:
        # The fragment demands an option the kernel has but olddefconfig drops.
        _kernel.ensure_kernel(
            source=str(tarball),
            sha256=sha,
            fragment=write(tmp_path, "CONFIG_GPIOLIB=y\n"),
        )
    assert "the guest kernel config lacks CONFIG_GPIOLIB" in str(info.value)
    # make itself failing: a Makefile without the tinyconfig target.
    broken, sha = make_tarball(tmp_path / "b", makefile=MAKEFILE.split("tinyconfig:")[0])
    with pytest.raises(KernelBuildError) as info:
        _kernel.ensure_kernel(source=str(broken), sha256=sha, fragment=write(tmp_path, ""))
    message = str(info.value)
    assert message.startswith("make tinyconfig failed (exit status 2); the last lines of ")
    assert "No rule to make target 'tinyconfig'" in message


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_a_stopped_build_leaves_no_process_and_is_resumed(
    tmp_path: Path, cache: Path, how: signal.Signals
) -> None:
    tarball, sha = make_tarball(tmp_path)
    first = start_build(tmp_path, tarball, sha)
    read_until(first, "stage 4/4")
    work = next(cache.glob(".build-*"))
    deadline = time.monotonic() + 10
    while len(processes_working_in(work)) < 3:  # make, its shell, the two sleeps
        assert time.monotonic() < deadline, "the fake compile never started"
        time.sleep(0.05)
    first.send_signal(how)
    first.wait(timeout=30)
    deadline = time.monotonic() + 10
    while left := processes_working_in(work):
        assert time.monotonic() < deadline, f"build processes outlived their starter: {left}"
        time.sleep(0.05)
    # The next run resumes: no second download, unpack or configure.
    (tmp_path / "finish").touch()
    second = start_build(tmp_path, tarball, sha)
    out, _ = second.communicate(timeout=60)
    assert second.returncode == 0, out
    assert "resuming the interrupted build" in out
    assert "stage 1/4" not in out and "stage 3/4: configured already" in out
    assert (tmp_path / "configured").read_text() == "tinyconfig\n"  # configured once
    assert Path(out.splitlines()[-1]).read_text() == "image\n"


def test_progress_lines_count_make_steps() -> None:
    lines: list[str] = []
    progress = _kernel._Progress(lines.append, expected=10)
    progress._shown -= 60  # as if the last line was a minute ago
    for name in (b"  CC      a.o\n", b"  LD      vmlinux\n", b"make[1]: Entering\n"):
        progress.line(name)
    assert progress.steps == 2
    assert lines == ["compiling: 1 steps done (about 10 %)"]
