"""The guest kernel: where its source comes from, how it is built, where it is kept.

A kernel source is a Debian/Ubuntu ``linux-source-X.Y`` package (the default is
``linux-source-6.12``; ``apt`` picks the newest one apt knows) or a source tarball
(path, ``file://`` or ``https://`` URL) with its sha256.  A build is
``tinyconfig`` + the packaged fragment, checked, then ``make bzImage``; the image,
its ``.config`` and what it was built from land in :func:`kernel_cache_dir` under
``<source id>-<fragment hash>/``.

A build is one unit of work: every step runs under a small supervisor in a process
group of its own, which kills the whole group when this process goes away (SIGINT,
SIGTERM, even SIGKILL), and the unpacked, configured tree of an interrupted build is
picked up by the next run instead of being unpacked and configured again.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gpiocore._errors import InvalidSettingError

from ._errors import KernelBuildError, MissingToolError

__all__ = [
    "DEFAULT_SOURCE",
    "ENV_KERNEL",
    "ENV_NO_BUILD",
    "ENV_SHA256",
    "ENV_SOURCE",
    "MIN_VERSION",
    "KernelSource",
    "cache_key",
    "check_image",
    "ensure_kernel",
    "find_kernel",
    "kernel_cache_dir",
    "missing_build_tools",
    "missing_config_options",
    "parse_source",
]

DEFAULT_SOURCE = "linux-source-6.12"
"""What a guest kernel is built from unless told otherwise (Debian 13, Raspberry Pi OS)."""

MIN_VERSION = (5, 19)
"""The oldest kernel whose gpio-sim is configured through configfs as gpiosim does it."""

ENV_SOURCE = "GPIOSIM_KERNEL_SOURCE"
"""The kernel source when none is given: a package name, ``apt``, a tarball path or URL."""

ENV_SHA256 = "GPIOSIM_KERNEL_SHA256"
"""The sha256 of the tarball named by :data:`ENV_SOURCE`."""

ENV_KERNEL = "GPIOSIM_KERNEL"
"""A prebuilt guest kernel image to use instead of a cached or built one."""

ENV_NO_BUILD = "GPIOSIM_NO_BUILD"
"""``1``: never start a kernel build (tests set it); a missing kernel is an error."""

_DATA = Path(__file__).resolve().parent / "data"
_FRAGMENT = _DATA / "guest-kernel.config"

# What the guest cannot run without; a prebuilt image must have all of it.  (The
# fragment asks for more: a fine clock, a quick boot; a build checks all of that.)
_GUEST_NEEDS = (
    "64BIT", "FUTEX", "EPOLL", "TIMERFD", "EVENTFD", "SHMEM", "POSIX_TIMERS", "BINFMT_ELF",
    "BINFMT_SCRIPT", "PROC_FS", "SYSFS", "DEVTMPFS", "TMPFS", "OVERLAY_FS", "CONFIGFS_FS",
    "MAGIC_SYSRQ", "SERIAL_8250_CONSOLE", "PCI", "VIRTIO_PCI", "VIRTIO_CONSOLE", "NET", "UNIX",
    "NET_9P", "NET_9P_VIRTIO", "9P_FS", "GPIOLIB", "GPIO_CDEV", "GPIO_SIM",
)

_BUILD_PROGRAMS = (
    ("tar", "tar"),
    ("xz", "xz-utils"),
    ("make", "make"),
    ("gcc", "gcc"),
    ("flex", "flex"),
    ("bison", "bison"),
    ("bc", "bc"),
    ("lz4", "lz4"),
)
# Only a package source needs these.
_APT_PROGRAMS = (("apt-get", "apt"), ("dpkg-deb", "dpkg"))
# objtool needs libelf; the certificate tools need OpenSSL.
_BUILD_HEADERS = (
    ("libelf.h", "libelf-dev"),
    ("gelf.h", "libelf-dev"),
    ("openssl/opensslv.h", "libssl-dev"),
)

# Lines of make's output that are one compile step each, for the progress line.
_MAKE_STEP = re.compile(rb"^\s+(CC|AS|LD|AR|HOSTCC|HOSTLD|OBJCOPY|GEN|UPD)\s")
# A build of tinyconfig + the fragment takes about this many steps (6.1: ~1,050).
_DEFAULT_STEPS = 1100
_PROGRESS_EVERY_S = 15.0
_TARBALL = re.compile(r"\.tar(\.(xz|gz|bz2|zst))?$")

Log = Callable[[str], None]
"""Receives one line of progress at a time."""


# --------------------------------------------------------------------------- paths


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gpiorig"


def kernel_cache_dir() -> Path:
    """Return the folder that holds the cached guest kernels.

    ``$XDG_CACHE_HOME/gpiorig/kernel`` (``~/.cache/gpiorig/kernel`` by default); each
    kernel lives in ``<source id>-<fragment hash>/`` as ``bzImage`` with its
    ``.config`` and ``source.json``.

    Returns:
        The folder; it may not exist yet.
    """
    return _cache_root() / "kernel"


# ------------------------------------------------------------------------- sources


def _series_of(package: str) -> tuple[int, int]:
    return _version_tuple(package.rsplit("-", 1)[-1]) or (0, 0)


def _version_tuple(text: str) -> tuple[int, int] | None:
    found = re.match(r"(\d+)\.(\d+)", text)
    return (int(found[1]), int(found[2])) if found else None


def _check_version(version: tuple[int, int], what: str) -> None:
    if version < MIN_VERSION:
        raise InvalidSettingError(
            f"{what} is Linux {version[0]}.{version[1]}, older than "
            f"{MIN_VERSION[0]}.{MIN_VERSION[1]}: gpio-sim is configured through configfs "
            f"from {MIN_VERSION[0]}.{MIN_VERSION[1]} on; pick a newer source, e.g. "
            f"--source {DEFAULT_SOURCE}"
        )


@dataclass(frozen=True)
class KernelSource:
    """Where a guest kernel's source comes from.

    Attributes:
        kind: ``"apt"`` (a ``linux-source-X.Y`` package) or ``"tarball"``.
        ref: The package name, or the tarball's path or URL.
        sha256: The tarball's sha256 (hex); None for a package.
        series: ``(X, Y)`` where known before the source is fetched.
    """

    kind: str
    ref: str
    sha256: str | None = None
    series: tuple[int, int] | None = None

    @property
    def cache_id(self) -> str:
        """The part of the cache key that names the source (a point release is not in it)."""
        if self.kind == "apt":
            assert self.series is not None
            return f"{self.series[0]}.{self.series[1]}"
        assert self.sha256 is not None
        return f"tar-{self.sha256[:16]}"

    def __str__(self) -> str:
        return self.ref if self.kind == "apt" else f"{self.ref} (sha256 {self.sha256})"


def _apt_source_packages() -> list[str]:
    """The ``linux-source-X.Y`` packages apt knows, newest first."""
    if shutil.which("apt-cache") is None:
        return []
    done = subprocess.run(
        ["apt-cache", "pkgnames", "linux-source-"],
        capture_output=True,
        text=True,
        check=False,
    )
    names = [n for n in done.stdout.split() if re.fullmatch(r"linux-source-\d+\.\d+", n)]
    return sorted(names, key=_series_of, reverse=True)


def parse_source(spec: str | None = None, sha256: str | None = None) -> KernelSource:
    """Turn a kernel source as a user writes it into a :class:`KernelSource`.

    Args:
        spec: ``linux-source-X.Y`` (or just ``X.Y``), ``apt`` (the newest
            ``linux-source-X.Y`` apt knows), or a tarball's path or ``file://``/
            ``https://`` URL.  None: ``$GPIOSIM_KERNEL_SOURCE``, else
            :data:`DEFAULT_SOURCE`.
        sha256: The tarball's sha256, required for a tarball (None:
            ``$GPIOSIM_KERNEL_SHA256``).

    Returns:
        The source.

    Raises:
        InvalidSettingError: (a ValueError) a malformed spec, a tarball without a valid
            sha256, a version older than :data:`MIN_VERSION`, or ``apt`` where apt
            knows no ``linux-source`` package.
    """
    if spec is None:
        spec = os.environ.get(ENV_SOURCE, "").strip() or DEFAULT_SOURCE
        if sha256 is None:
            sha256 = os.environ.get(ENV_SHA256, "").strip() or None
    if not isinstance(spec, str) or not spec.strip():
        raise InvalidSettingError(
            f"a kernel source must be a package name, 'apt' or a tarball, not {spec!r}: "
            f"e.g. {DEFAULT_SOURCE}"
        )
    spec = spec.strip()
    if re.fullmatch(r"\d+\.\d+", spec):
        spec = f"linux-source-{spec}"
    if spec == "apt":
        packages = _apt_source_packages()
        usable = [p for p in packages if _series_of(p) >= MIN_VERSION]
        if not usable:
            raise InvalidSettingError(
                "--source apt: apt knows no linux-source-X.Y package of "
                f"{MIN_VERSION[0]}.{MIN_VERSION[1]} or newer (run `apt-get update`, or "
                "give a kernel.org tarball and its sha256)"
            )
        spec = usable[0]
    package = re.fullmatch(r"linux-source-(\d+\.\d+)", spec)
    if package:
        series = _version_tuple(package[1])
        assert series is not None
        _check_version(series, spec)
        if sha256 is not None:
            raise InvalidSettingError(
                f"--sha256 is for a tarball; {spec} is a package, which apt verifies"
            )
        return KernelSource("apt", spec, None, series)
    if not _TARBALL.search(urllib.parse.urlparse(spec).path or spec):
        raise InvalidSettingError(
            f"unknown kernel source {spec!r}: give linux-source-X.Y, 'apt', or a "
            ".tar.xz/.tar.gz tarball's path or URL with its sha256"
        )
    if sha256 is None or not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise InvalidSettingError(
            f"the tarball {spec} needs its sha256 (64 hex digits, as kernel.org publishes "
            f"it), not {sha256!r}: pass --sha256 HEX (or {ENV_SHA256})"
        )
    named = re.search(r"linux-(\d+\.\d+)", Path(urllib.parse.urlparse(spec).path).name)
    series = _version_tuple(named[1]) if named else None
    if series is not None:
        _check_version(series, spec)
    scheme = urllib.parse.urlparse(spec).scheme
    if scheme not in ("", "file", "http", "https"):
        raise InvalidSettingError(f"cannot fetch {spec!r}: use a path, file://, or https://")
    ref = spec if scheme else os.path.abspath(spec)
    return KernelSource("tarball", ref, sha256.lower(), series)


# ------------------------------------------------------------------ kernel config


def _parse_config(text: str) -> dict[str, str]:
    """Map option names (without ``CONFIG_``) to values; ``is not set`` is ``n``."""
    options: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        unset = re.fullmatch(r"#\s*CONFIG_(\w+) is not set", line)
        if unset:
            options[unset.group(1)] = "n"
        elif line.startswith("CONFIG_") and "=" in line:
            name, _, value = line[len("CONFIG_") :].partition("=")
            options[name] = value
    return options


def missing_config_options(
    fragment: str, config: str, known: frozenset[str] | None = None
) -> list[str]:
    """List the options a fragment sets ``=y`` that a built ``.config`` lacks.

    kconfig silently drops an option whose dependencies are missing; the result of
    a merge must therefore be checked, not assumed.

    Args:
        fragment: Text of the config fragment (``CONFIG_X=y`` lines).
        config: Text of the resulting ``.config``.
        known: The symbols the kernel's Kconfig files define, if known: a symbol this
            kernel does not have at all (``BASE_FULL`` is gone in 6.12) is not demanded.

    Returns:
        The dropped options as ``CONFIG_X``, in the fragment's order.
    """
    wanted = [name for name, value in _parse_config(fragment).items() if value == "y"]
    if known is not None:
        wanted = [name for name in wanted if name in known]
    built = _parse_config(config)
    return [f"CONFIG_{name}" for name in wanted if built.get(name) != "y"]


def _kconfig_symbols(tree: Path) -> frozenset[str]:
    """Every symbol a kernel tree's Kconfig files define."""
    pattern = re.compile(r"^\s*(?:menu)?config\s+(\w+)", re.MULTILINE)
    symbols: set[str] = set()
    for path in tree.rglob("Kconfig*"):
        with contextlib.suppress(OSError):
            symbols.update(pattern.findall(path.read_text(encoding="utf-8", errors="replace")))
    return frozenset(symbols)


def _image_version(image: Path) -> str | None:
    """The version string an x86 bzImage carries in its setup header, if any."""
    try:
        with image.open("rb") as f:
            head = f.read(0x4000)
    except OSError:
        return None
    if len(head) < 0x210 or head[0x202:0x206] != b"HdrS":
        return None
    (offset,) = struct.unpack_from("<H", head, 0x20E)
    start = offset + 0x200
    if not offset or start >= len(head):
        return None
    return head[start : head.index(b"\0", start)].decode("ascii", "replace").split()[0]


def check_image(image: str | os.PathLike[str]) -> Path:
    """Check a prebuilt guest kernel before it is used; return its path.

    The image must be an x86 bzImage of Linux :data:`MIN_VERSION` or newer, with its
    ``.config`` beside it (``IMAGE.config``, or ``.config`` in its folder, as the cache
    and a restored CI cache keep it) that has every option the guest needs.

    Raises:
        KernelBuildError: the image is missing, not a bzImage, too old, has no
            ``.config`` beside it, or lacks an option; the message says which.
    """
    path = Path(image).expanduser().absolute()
    if not path.is_file():
        raise KernelBuildError(f"the guest kernel {path} does not exist or is not a file")
    version = _image_version(path)
    if version is None:
        raise KernelBuildError(f"{path} is not an x86 bzImage (no setup header found)")
    series = _version_tuple(version)
    if series is None or series < MIN_VERSION:
        raise KernelBuildError(
            f"{path} is Linux {version}, older than {MIN_VERSION[0]}.{MIN_VERSION[1]}: "
            "gpio-sim needs a newer kernel; build one with `gpiosim guest-kernel`"
        )
    config_path = next(
        (p for p in (Path(f"{path}.config"), path.parent / ".config") if p.is_file()), None
    )
    if config_path is None:
        raise KernelBuildError(
            f"cannot check {path}: put its .config beside it (as {path}.config or "
            f"{path.parent / '.config'}), as gpiosim's kernel cache keeps it"
        )
    built = _parse_config(config_path.read_text(encoding="utf-8", errors="replace"))
    lacking = [f"CONFIG_{name}" for name in _GUEST_NEEDS if built.get(name) != "y"]
    if lacking:
        raise KernelBuildError(
            f"the guest kernel {path} lacks {', '.join(lacking)} (per {config_path}); "
            "build one with `gpiosim guest-kernel`"
        )
    return path


# ------------------------------------------------------------------ build tools


def missing_build_tools(source: KernelSource | None = None) -> list[tuple[str, str]]:
    """The (program or header, Debian package) pairs a build still lacks here."""
    programs: tuple[tuple[str, str], ...] = _BUILD_PROGRAMS
    if source is None or source.kind == "apt":
        programs = _APT_PROGRAMS + programs
    missing = [(prog, pkg) for prog, pkg in programs if shutil.which(prog) is None]
    for header, pkg in _BUILD_HEADERS:
        if not any(
            Path(base, header).is_file()
            for base in ("/usr/include", "/usr/include/x86_64-linux-gnu")
        ):
            missing.append((header, pkg))
    return missing


def _check_build_tools(source: KernelSource | None = None) -> None:
    missing = missing_build_tools(source)
    if missing:
        names = ", ".join(name for name, _ in missing)
        packages = " ".join(dict.fromkeys(pkg for _, pkg in missing))
        raise MissingToolError(
            f"cannot build the guest kernel: {names} not found. "
            f"Install with: apt-get install {packages}"
        )


# ----------------------------------------------------------------- the cache


def _fragment_text(fragment: str | os.PathLike[str] | None) -> str:
    path = Path(fragment) if fragment is not None else _FRAGMENT
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KernelBuildError(f"cannot read the guest kernel fragment {path}: {exc}") from exc


def _fragment_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def cache_key(
    source: KernelSource | str | None = None, fragment: str | os.PathLike[str] | None = None
) -> str:
    """The key a CI cache should store the built kernel under.

    It changes when the source series (or tarball) or the config fragment changes,
    not with a distribution's point release of the same series.
    """
    chosen = source if isinstance(source, KernelSource) else parse_source(source)
    return f"gpiorig-kernel-{chosen.cache_id}-{_fragment_key(_fragment_text(fragment))}"


def find_kernel(
    source: KernelSource | str | None = None, fragment: str | os.PathLike[str] | None = None
) -> Path | None:
    """Return the cached kernel image for a source and fragment, or None; never builds.

    ``$GPIOSIM_KERNEL`` (a prebuilt image) wins over the cache when set.
    """
    prebuilt = os.environ.get(ENV_KERNEL, "").strip()
    if prebuilt:
        return check_image(prebuilt)
    chosen = source if isinstance(source, KernelSource) else parse_source(source)
    folder = kernel_cache_dir() / f"{chosen.cache_id}-{_fragment_key(_fragment_text(fragment))}"
    image = folder / "bzImage"
    return image if image.is_file() else None


# ----------------------------------------------------------------- supervised steps

# Runs one build step in a process group of its own and kills the whole group when
# the process that started it goes away: argv[1] is the read end of a pipe whose
# write end only that process holds, so EOF on it means it is gone, however it died.
_SUPERVISOR = r"""
import os, select, signal, subprocess, sys
watch = int(sys.argv[1])
child = subprocess.Popen(sys.argv[2:], pass_fds=())
pidfd = os.pidfd_open(child.pid)
ready, _, _ = select.select([watch, pidfd], [], [])
if pidfd in ready:
    code = child.wait()
    sys.exit(code if code >= 0 else 128 - code)
os.killpg(0, signal.SIGKILL)
"""


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _reap_stale_build(work: Path) -> None:
    """Kill what is left of an earlier build in work (its starter died with SIGKILL).

    The supervisor normally does this itself; this covers a supervisor that was
    killed too.  A group is killed only if one of its members works inside ``work``,
    so a recycled process-group number is never someone else's.
    """
    try:
        pgid = int((work / "pgid").read_text())
    except (OSError, ValueError):
        return
    for pid in _group_members(pgid):
        with contextlib.suppress(OSError):
            if Path(os.readlink(f"/proc/{pid}/cwd")).is_relative_to(work):
                _kill_group(pgid)
                return


class _Progress:
    """Turns make's output into a progress line every few seconds."""

    def __init__(self, log: Log, expected: int) -> None:
        self._log = log
        self._expected = max(1, expected)
        self.steps = 0
        self._shown = time.monotonic()

    def line(self, raw: bytes) -> None:
        if _MAKE_STEP.match(raw):
            self.steps += 1
        if time.monotonic() - self._shown >= _PROGRESS_EVERY_S:
            self._shown = time.monotonic()
            share = min(99, 100 * self.steps // self._expected)
            self._log(f"compiling: {self.steps} steps done (about {share} %)")


def _step(
    argv: Sequence[str],
    *,
    cwd: Path,
    work: Path,
    what: str,
    progress: _Progress | None = None,
) -> None:
    """Run one build step supervised, its output appended to work/build.log."""
    log_file = work / "build.log"
    watch_r, watch_w = os.pipe()
    out_r, out_w = os.pipe()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", _SUPERVISOR, str(watch_r), *argv],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out_w,
            stderr=out_w,
            pass_fds=(watch_r,),
            start_new_session=True,
        )
    finally:
        os.close(watch_r)
        os.close(out_w)
    (work / "pgid").write_text(str(proc.pid))
    try:
        with log_file.open("ab") as out, os.fdopen(out_r, "rb") as pipe:
            out.write(f"\n$ {' '.join(argv)}\n".encode())
            for raw in pipe:
                out.write(raw)
                if progress is not None:
                    progress.line(raw)
        rc = proc.wait()
    except BaseException:
        # Ctrl-C, SIGTERM unwinding, any error: the whole step's group goes with us.
        _kill_group(proc.pid)
        proc.wait()
        raise
    finally:
        os.close(watch_w)
    if rc != 0:
        tail = log_file.read_text(encoding="utf-8", errors="replace").splitlines()[-40:]
        raise KernelBuildError(
            f"{what} failed (exit status {rc}); the last lines of {log_file}:\n" + "\n".join(tail)
        )


# ------------------------------------------------------------------ the stages


def _fetch_apt(source: KernelSource, work: Path, log: Log) -> tuple[Path, str]:
    """Download the source package; return its tarball and the package's version."""
    download = ["apt-get", "download", source.ref]
    log(f"stage 1/4: downloading {source.ref} with apt")
    try:
        _step(download, cwd=work, work=work, what="apt-get download")
    except KernelBuildError:
        # A fresh machine's package lists are empty or stale.
        if os.geteuid() != 0:
            raise KernelBuildError(
                f"apt-get download {source.ref} failed; run `apt-get update` as root (on "
                "Ubuntu, enable the source's pocket), or give a kernel.org tarball: "
                "--source linux-X.Y.Z.tar.xz --sha256 HEX"
            ) from None
        log("apt-get download failed: running apt-get update once")
        _step(["apt-get", "update"], cwd=work, work=work, what="apt-get update")
        _step(download, cwd=work, work=work, what="apt-get download")
    debs = sorted(work.glob(f"{source.ref}_*.deb"))
    if not debs:
        raise KernelBuildError(f"apt-get download left no {source.ref} package in {work}")
    deb = debs[-1]
    version = urllib.parse.unquote(deb.name.split("_")[1])
    unpacked = work / "deb"
    _step(["dpkg-deb", "-x", str(deb), str(unpacked)], cwd=work, work=work, what="dpkg-deb")
    deb.unlink()
    tarballs = sorted(unpacked.glob("usr/src/linux-source-*.tar.*"))
    if not tarballs:
        raise KernelBuildError(f"{deb.name} holds no usr/src/linux-source-*.tar.*")
    return tarballs[-1], version


def _fetch_tarball(source: KernelSource, work: Path, log: Log) -> Path:
    """Copy or download the tarball into work and check its sha256."""
    name = Path(urllib.parse.urlparse(source.ref).path).name or "linux.tar.xz"
    dest = work / name
    log(f"stage 1/4: fetching {source.ref}")
    digest = hashlib.sha256()
    try:
        opener = (
            open(source.ref, "rb")  # noqa: SIM115 - closed by the with below
            if not urllib.parse.urlparse(source.ref).scheme
            else urllib.request.urlopen(source.ref, timeout=60)
        )
        with opener as src, dest.open("wb") as out:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
    except OSError as exc:
        raise KernelBuildError(f"cannot fetch the kernel tarball {source.ref}: {exc}") from exc
    if digest.hexdigest() != source.sha256:
        dest.unlink()
        raise KernelBuildError(
            f"the tarball {source.ref} has sha256 {digest.hexdigest()}, not the "
            f"{source.sha256} given: a wrong or corrupted download (refused)"
        )
    return dest


def _tree_version(tree: Path) -> str:
    try:
        text = (tree / "Makefile").read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise KernelBuildError(f"{tree} has no kernel Makefile: not a kernel source") from exc
    parts = {}
    for key in ("VERSION", "PATCHLEVEL", "SUBLEVEL"):
        found = re.search(rf"^{key}\s*=\s*(\d+)", text, re.MULTILINE)
        if not found:
            raise KernelBuildError(f"{tree}/Makefile names no {key}: not a kernel source")
        parts[key] = found[1]
    return f"{parts['VERSION']}.{parts['PATCHLEVEL']}.{parts['SUBLEVEL']}"


def _unpack(source: KernelSource, work: Path, log: Log) -> tuple[Path, str]:
    """Fetch and unpack the source into work/tree; return the tree and version text."""
    if source.kind == "apt":
        tarball, version = _fetch_apt(source, work, log)
    else:
        tarball, version = _fetch_tarball(source, work, log), ""
    log(f"stage 2/4: unpacking {tarball.name}")
    staging = work / "unpacking"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    _step(["tar", "-xf", str(tarball), "-C", str(staging)], cwd=work, work=work, what="tar")
    tarball.unlink()
    shutil.rmtree(work / "deb", ignore_errors=True)
    trees = [d for d in staging.iterdir() if d.is_dir()]
    if len(trees) != 1:
        raise KernelBuildError(f"unexpected source layout in {source}: {trees}")
    tree_version = _tree_version(trees[0])
    series = _version_tuple(tree_version)
    assert series is not None
    try:
        _check_version(series, str(source))
    except InvalidSettingError as exc:
        raise KernelBuildError(str(exc)) from None
    trees[0].rename(work / "tree")
    staging.rmdir()
    return work / "tree", version or tree_version


def _configure(tree: Path, work: Path, fragment: str, log: Log) -> None:
    make = ["make", "ARCH=x86_64"]
    log("stage 3/4: configuring: tinyconfig + the gpiosim fragment")
    (work / "fragment.config").write_text(fragment, encoding="utf-8")
    _step([*make, "tinyconfig"], cwd=tree, work=work, what="make tinyconfig")
    _step(
        ["scripts/kconfig/merge_config.sh", "-m", ".config", str(work / "fragment.config")],
        cwd=tree,
        work=work,
        what="merge_config.sh",
    )
    _step([*make, "olddefconfig"], cwd=tree, work=work, what="make olddefconfig")
    _verify(tree, fragment, "the guest kernel config")


def _verify(tree: Path, fragment: str, what: str) -> None:
    config = (tree / ".config").read_text(encoding="utf-8")
    missing = missing_config_options(fragment, config, _kconfig_symbols(tree))
    if missing:
        raise KernelBuildError(
            f"{what} lacks "
            + ", ".join(missing)
            + " (kconfig dropped them: missing dependencies?); fix gpiosim's kernel fragment"
        )


def _build(source: KernelSource, fragment: str, key: str, log: Log) -> Path:
    """Build a kernel into the cache, resuming an interrupted build; the caller holds the lock."""
    cache = kernel_cache_dir()
    name = f"{source.cache_id}-{key}"
    work = cache / f".build-{name}"
    for stale in cache.glob(".build-*"):
        _reap_stale_build(stale)
        if stale != work:
            shutil.rmtree(stale, ignore_errors=True)
    work.mkdir(exist_ok=True)
    state_file = work / "state.json"
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = {}

    def save(**changes: str) -> None:
        state.update(changes)
        state_file.write_text(json.dumps(state), encoding="utf-8")

    tree = work / "tree"
    if state.get("stage") in ("unpacked", "configured") and tree.is_dir():
        log(f"resuming the interrupted build in {work} (source already unpacked)")
    else:
        for leftover in work.iterdir():
            if leftover.name != "build.log":
                (shutil.rmtree if leftover.is_dir() else Path.unlink)(leftover)  # type: ignore[operator]
        tree, version = _unpack(source, work, log)
        save(stage="unpacked", version=version)
    if state.get("stage") != "configured":
        _configure(tree, work, fragment, log)
        save(stage="configured")
    else:
        log("stage 3/4: configured already")
    steps_file = cache / f".steps-{source.cache_id}"
    try:
        expected = int(steps_file.read_text())
    except (OSError, ValueError):
        expected = _DEFAULT_STEPS
    jobs = len(os.sched_getaffinity(0))
    log(f"stage 4/4: compiling bzImage with {jobs} jobs (~{expected} steps; minutes)")
    progress = _Progress(log, expected)
    _step(
        ["make", "ARCH=x86_64", f"-j{jobs}", "bzImage"],
        cwd=tree,
        work=work,
        what="make bzImage",
        progress=progress,
    )
    # The build may rewrite .config (compiler-dependent options): check again.
    _verify(tree, fragment, "the built guest kernel")
    if progress.steps > expected // 2:  # a resumed build counts only what was left
        steps_file.write_text(str(progress.steps))
    stage = work / "result"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    shutil.copy2(tree / "arch/x86/boot/bzImage", stage / "bzImage")
    shutil.copy2(tree / ".config", stage / ".config")
    (stage / "fragment.config").write_text(fragment, encoding="utf-8")
    known = _kconfig_symbols(tree)
    wanted = [n for n, v in _parse_config(fragment).items() if v == "y"]
    record = {
        "source": source.ref,
        "sha256": source.sha256,
        "version": state.get("version"),
        # Fragment options this kernel does not define at all (not demanded of it).
        "not_in_this_kernel": [f"CONFIG_{n}" for n in wanted if n not in known],
    }
    (stage / "source.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
    final = cache / name
    if final.exists():
        final.rename(work / "replaced")
    # A rename within one filesystem is atomic: a reader sees no half kernel.
    stage.rename(final)
    # The source tree is over a gigabyte: never leave a finished one behind.
    shutil.rmtree(work, ignore_errors=True)
    if record["not_in_this_kernel"]:
        log(f"not in this kernel, so not demanded: {', '.join(record['not_in_this_kernel'])}")
    log(f"guest kernel ready: {final / 'bzImage'} (Linux {state.get('version')})")
    return final / "bzImage"


def ensure_kernel(
    *,
    source: KernelSource | str | None = None,
    sha256: str | None = None,
    rebuild: bool = False,
    log: Log | None = None,
    fragment: str | os.PathLike[str] | None = None,
) -> Path:
    """Return the guest kernel image, building it first if it is not cached.

    ``$GPIOSIM_KERNEL`` (a prebuilt image, checked with :func:`check_image`) wins when
    set.  Otherwise the cache is looked up by source and fragment; a miss builds:
    fetch, unpack, configure (``tinyconfig`` + fragment, every ``=y`` option checked),
    compile, then an atomic move into :func:`kernel_cache_dir`.  A file lock
    serialises builds; a process that waited for another's build uses its result.

    Args:
        source: A :class:`KernelSource` or a spec for :func:`parse_source`; None:
            ``$GPIOSIM_KERNEL_SOURCE``, else :data:`DEFAULT_SOURCE`.
        sha256: A tarball source's sha256.
        rebuild: Build even if a cached image exists.
        log: Receives a line per stage and make's progress; silent if None.
        fragment: Another config fragment (tests); defaults to the packaged one.

    Returns:
        Path of the ``bzImage``.

    Raises:
        InvalidSettingError: a malformed or too old source (a ValueError).
        MissingToolError: a build tool is missing; the message names the packages.
        KernelBuildError: a stage failed (the message names it and shows the end of
            the log), the kernel lacks an option, or ``$GPIOSIM_NO_BUILD=1`` forbids
            the build that is needed.
    """
    say: Log = log or (lambda _line: None)
    if not rebuild and os.environ.get(ENV_KERNEL, "").strip():
        return check_image(os.environ[ENV_KERNEL].strip())
    chosen = source if isinstance(source, KernelSource) else parse_source(source, sha256)
    text = _fragment_text(fragment)
    key = _fragment_key(text)
    if not rebuild and (cached := find_kernel(chosen, fragment)) is not None:
        return cached
    if os.environ.get(ENV_NO_BUILD) == "1":
        raise KernelBuildError(
            f"no guest kernel for {chosen} is cached in {kernel_cache_dir()}, and "
            f"{ENV_NO_BUILD}=1 forbids building one here: run `gpiosim guest-kernel"
            f"{'' if source is None else ' --source ' + chosen.ref}` first (minutes)"
        )
    _check_build_tools(chosen)
    cache = kernel_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("waiting for another process's guest kernel build")
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not rebuild and (cached := find_kernel(chosen, fragment)) is not None:
                return cached
        say(f"building the guest kernel from {chosen} (4-7 minutes on 2 cores)")
        return _build(chosen, text, key, say)

