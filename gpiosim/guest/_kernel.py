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

import fcntl
import hashlib
import json
import os
import re
import shutil
import urllib.parse
import urllib.request
from pathlib import Path

from gpiocore import InvalidSettingError
from gpiosim._errors import KernelBuildError
from gpiosim.guest._kconfig import (
    _check_build_tools,
    _fragment_key,
    _fragment_text,
    _kconfig_symbols,
    _parse_config,
    check_image,
    find_kernel,
    missing_config_options,
)
from gpiosim.guest._source import (
    _DEFAULT_STEPS,
    ENV_KERNEL,
    ENV_NO_BUILD,
    KernelSource,
    Log,
    _check_version,
    _version_tuple,
    kernel_cache_dir,
    parse_source,
)
from gpiosim.guest._steps import _Progress, _reap_stale_build, _step

__all__ = [
    "ensure_kernel",
]


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
