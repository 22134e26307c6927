"""Run a command inside a small qemu guest whose kernel has gpio-sim built in.

Many kernels lack gpio-sim (Debian's stock kernels, WSL, this project's CI
machines), and some have no GPIO support at all.  This module builds a minimal
x86-64 kernel once from Debian's ``linux-source-6.1`` package with the fragment
``ci/guest-kernel.config`` (shipped as ``gpiosim/data/guest-kernel.config``),
caches it, and boots it under qemu with the host's root filesystem shared
read-only over 9p and the project folder shared read-write at the same path.
The command runs as an argument vector with the caller's environment and
folder; its stdout and stderr stream back live over two virtio ports, kept
apart from the kernel's console; its exit status becomes :func:`run`'s result.

``GUEST-NOTES.md`` in the project's shared notes records the measurements
behind the choices made here.
"""

from __future__ import annotations

import codecs
import contextlib
import fcntl
import io
import json
import os
import re
import selectors
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from gpiocore._errors import InvalidSettingError

from ._errors import GuestError, GuestTimeoutError, MissingToolError
from ._kernel import (
    KernelSource,
    _cache_root,
    check_image,
    ensure_kernel,
    kernel_cache_dir,
    missing_build_tools,
    missing_config_options,
)
from ._sandbox import install_hook

__all__ = [
    "ENV_ACCEL",
    "ENV_IN_GUEST",
    "check_image",
    "ensure_kernel",
    "inside_guest",
    "kernel_cache_dir",
    "missing_config_options",
    "missing_packages",
    "run",
]

ENV_IN_GUEST = "GPIOSIM_IN_GUEST"
"""Set to ``1`` in the environment of every command run by :func:`run`."""

ENV_ACCEL = "GPIOSIM_ACCEL"
"""Overrides ``accel="auto"``: ``tcg``, ``kvm`` or ``auto``."""

_QEMU = "qemu-system-x86_64"
_QEMU_PACKAGE = "qemu-system-x86"
_DATA = Path(__file__).resolve().parent / "data"
_INIT = _DATA / "guest-init.sh"

# Marks the guest's kernel command line; the kernel ignores unknown dotted
# parameters, and /proc/cmdline survives a command that clears its environment.
_CMDLINE_MARK = "gpiosim.guest=1"

# The probe of KVM boots a guest that runs `true`: a working KVM does that in
# about a second, a broken one hangs silently (GUEST-NOTES), hence the bound.
_KVM_PROBE_TIMEOUT = 15.0

# 9p options shared by every mount; msize=256 KiB makes big reads cheap.
_9P_OPTIONS = "trans=virtio,version=9p2000.L,msize=262144"

# The project share: the host does not touch the project while the guest runs,
# so the guest may cache it like the read-only root.  Measured: `import pytest`
# from a venv inside the share takes as long as from the root with cache=loose,
# twice as long with cache=mmap.  Writes are cached too: the init syncs them to
# the host before the guest ends.
_PROJECT_CACHE = "loose"

# Variables that describe the host's session and would mislead a program in the
# guest (a display, agents' sockets, the host's runtime folder, systemd's fds).
_HOST_ONLY_ENV = frozenset(
    {
        "DBUS_SESSION_BUS_ADDRESS",
        "DISPLAY",
        "GPG_AGENT_INFO",
        "INVOCATION_ID",
        "JOURNAL_STREAM",
        "LISTEN_FDNAMES",
        "LISTEN_FDS",
        "LISTEN_PID",
        "NOTIFY_SOCKET",
        "OLDPWD",
        "PWD",
        "SHLVL",
        "SSH_AGENT_PID",
        "SSH_AUTH_SOCK",
        "SSH_CLIENT",
        "SSH_CONNECTION",
        "SSH_TTY",
        "STY",
        "TMUX",
        "TMUX_PANE",
        "WAYLAND_DISPLAY",
        "WINDOWID",
        "XAUTHORITY",
        "XDG_RUNTIME_DIR",
        "XDG_SEAT",
        "XDG_SESSION_CLASS",
        "XDG_SESSION_ID",
        "XDG_SESSION_TYPE",
        "XDG_VTNR",
        "_",
    }
)

# What a kernel argument may hold without quoting (the init script's path).
_CMDLINE_SAFE = re.compile(r"[A-Za-z0-9_./+-]+")

# How much of the console to keep for an error message.
_CONSOLE_TAIL = 64 * 1024

Log = Callable[[str], None]
"""Receives one line of progress (kernel build steps) at a time."""


# --------------------------------------------------------------------------- paths


def inside_guest() -> bool:
    """Tell whether this process runs inside a guest started by :func:`run`.

    Returns:
        True in the guest: the environment carries ``GPIOSIM_IN_GUEST=1``, or
        the kernel command line carries the guest's mark (for a program whose
        environment was cleared).
    """
    if os.environ.get(ENV_IN_GUEST) == "1":
        return True
    try:
        with open("/proc/cmdline", encoding="ascii", errors="replace") as f:
            return _CMDLINE_MARK in f.read().split()
    except OSError:
        return False


def missing_packages(source: KernelSource | None = None) -> list[str]:
    """The Debian packages the guest still needs here: qemu and the kernel build tools.

    ``ci/setup.sh`` installs exactly these, so the list lives in one place.
    """
    packages = [pkg for _, pkg in missing_build_tools(source)]
    if shutil.which(_QEMU) is None:
        packages.append(_QEMU_PACKAGE)
    return list(dict.fromkeys(packages))


# ----------------------------------------------------------------------- accel


def _kvm_usable_device() -> bool:
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def _probe_key(qemu: str) -> str:
    # A qemu upgrade changes the binary's size or time: that is its version here,
    # at the cost of a stat rather than a `qemu --version` process.
    st = os.stat(qemu)
    return f"{os.uname().release}|{os.path.realpath(qemu)}|{st.st_size}|{st.st_mtime_ns}"


def _resolve_accel(accel: str, qemu: str, kernel: Path, init: Path, log: Log) -> str:
    """Turn ``auto`` into ``kvm`` or ``tcg``, probing KVM once per host and qemu."""
    if accel == "auto":
        override = os.environ.get(ENV_ACCEL, "").strip() or "auto"
        if override not in ("auto", "tcg", "kvm"):
            raise InvalidSettingError(
                f"{ENV_ACCEL} must be 'auto', 'tcg' or 'kvm', not {override!r}: "
                f"fix or unset the variable"
            )
        accel = override
    if accel != "auto":
        return accel
    if not _kvm_usable_device():
        return "tcg"
    results_file = _cache_root() / "accel-probe.json"
    key = _probe_key(qemu)
    try:
        results = json.loads(results_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        results = {}
    if not isinstance(results, dict):
        results = {}
    if results.get(key) in ("kvm", "tcg"):
        return str(results[key])
    log(f"probing KVM (once for this host kernel and qemu; up to {_KVM_PROBE_TIMEOUT:g} s)")
    found = "tcg"
    with contextlib.suppress(GuestError):
        status = _boot(
            sandbox=install_hook(),
            qemu=qemu,
            kernel=kernel,
            init=init,
            accel="kvm",
            argv=["true"],
            cwd="/",
            env={"PATH": "/usr/bin:/bin"},
            project=None,
            timeout=_KVM_PROBE_TIMEOUT,
            memory_mb=256,
            cpus=1,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            verbose=False,
        )
        if status == 0:
            found = "kvm"
    log(f"KVM {'works' if found == 'kvm' else 'does not work'} here: using {found}")
    results[key] = found
    results_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = results_file.with_name(f".{results_file.name}.{os.getpid()}")
    tmp.write_text(json.dumps(results, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, results_file)
    return found


# ------------------------------------------------------------------------ boot


# Never shared read-write, whatever finds them: these folders and everything below them
# (system trees), but for project-like places inside them; and these folders themselves.
_SYSTEM_TREES = (
    "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc",
    "/run", "/sbin", "/sys", "/usr", "/var",
)  # fmt: skip
_SYSTEM_OK = ("/usr/src", "/usr/local/src", "/var/tmp")
_NEVER_ITSELF = frozenset({"/", "/home", "/media", "/mnt", "/opt", "/root", "/srv", "/tmp"})


def _within(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def find_project_dir(cwd: str | os.PathLike[str]) -> Path | None:
    """The project folder for a working folder: its git work tree, else the nearest
    folder above it that holds a ``pyproject.toml``; None if there is neither."""
    path = Path(os.path.abspath(cwd))
    for folder in (path, *path.parents):
        if (folder / ".git").exists():
            return folder
    for folder in (path, *path.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return None


def _writable_project(project_dir: str | os.PathLike[str] | None, cwd: str) -> str:
    """The folder to share read-write, checked; refuses what must never be shared."""
    if project_dir is None:
        found = find_project_dir(cwd)
        if found is None:
            raise InvalidSettingError(
                f"{cwd} is in no project (no git work tree, no pyproject.toml above it): "
                "say which folder the guest may write with --project-dir DIR "
                "(project_dir= in Python)"
            )
        project_dir = found
    # A relative folder is relative to the command's folder, as the guest will see it.
    project = os.path.realpath(os.path.join(cwd, os.fspath(project_dir)))
    home = os.path.realpath(os.path.expanduser("~"))
    cache = os.path.realpath(_cache_root())
    why = None
    if "\n" in project:
        why = "named with a newline"
    elif _within(home, project):
        why = "your home folder" if project == home else f"a folder that holds your home {home}"
    elif _within(cache, project):
        why = f"a folder that holds gpiorig's cache {cache}, whose kernels the host runs"
    elif project in _NEVER_ITSELF or (
        any(_within(project, top) for top in _SYSTEM_TREES)
        and not any(_within(project, ok) and project != ok for ok in _SYSTEM_OK)
    ):
        why = "a system folder"
    if why is not None:
        raise InvalidSettingError(
            f"cannot share {project!r} read-write with the guest: it is {why}; pick the "
            "project's own folder with --project-dir DIR (project_dir= in Python)"
        )
    if not os.path.isdir(project):
        raise InvalidSettingError(
            f"the project folder {project!r} does not exist: pass an existing --project-dir "
            "(project_dir= in Python)"
        )
    return project


def _guest_env(env: Mapping[str, str], cwd: str) -> dict[str, str]:
    out = {k: v for k, v in env.items() if k not in _HOST_ONLY_ENV}
    out["PWD"] = cwd
    out[ENV_IN_GUEST] = "1"
    return out


def _qemu_opt(value: str) -> str:
    """Escape a value for a qemu ``-virtfs``/``-chardev`` option list."""
    return value.replace(",", ",,")


def _sink(dest: Any) -> Callable[[bytes], None]:
    """Return a writer of raw bytes to a file object, an fd, or DEVNULL."""
    if dest == subprocess.DEVNULL:
        return lambda _data: None
    if isinstance(dest, int):
        fd = dest

        def write_fd(data: bytes) -> None:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]

        return write_fd
    if isinstance(dest, io.TextIOBase):
        buffer = getattr(dest, "buffer", None)
        if buffer is not None:
            dest.flush()

            def write_buffer(data: bytes) -> None:
                buffer.write(data)
                buffer.flush()

            return write_buffer
        text_dest = dest
        # Incremental: a chunk may end inside a multi-byte character.
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

        def write_text(data: bytes) -> None:
            text_dest.write(decoder.decode(data))
            text_dest.flush()

        return write_text
    binary_dest: IO[bytes] = dest

    def write_binary(data: bytes) -> None:
        binary_dest.write(data)
        with contextlib.suppress(AttributeError):
            binary_dest.flush()

    return write_binary


def _child_hook(sandbox: Callable[[], None]) -> Callable[[], None]:
    """qemu's preexec_fn: die with us, then confine its writes (see ``_sandbox``)."""
    die_with_parent = _die_with_parent_hook()

    def hook() -> None:
        die_with_parent()
        sandbox()

    return hook


def _die_with_parent_hook() -> Callable[[], None]:
    """Return a preexec_fn that makes qemu get SIGKILL when we die: no orphans.

    ctypes is loaded here, in the parent: importing in the forked child could
    deadlock on a lock another thread held at fork time.
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def hook() -> None:
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            # The parent died before the prctl took effect.
            os._exit(1)

    return hook


def _tsc_khz_args(cpuinfo: Path = Path("/proc/cpuinfo")) -> list[str]:
    """``tsc_early_khz=`` for the guest, where the host's TSC rate is known and constant."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return []
    flags = re.search(r"^flags\s*:(.*)$", text, re.MULTILINE)
    mhz = re.search(r"^cpu MHz\s*:\s*([0-9.]+)", text, re.MULTILINE)
    if not flags or not mhz or "constant_tsc" not in flags[1].split():
        return []
    return [f"tsc_early_khz={round(float(mhz[1]) * 1000)}"]


def _fstab_escape(path: str) -> str:
    """Escape a path for an fstab field (util-linux reads octal escapes)."""
    return "".join(f"\\{ord(c):03o}" if c in " \t\n\\" else c for c in path)


_JOB_PREFIX = "gpiosim-job-"


def _reclaim_jobs(tmp: str | None = None) -> list[str]:
    """Remove the job folders of guests whose host process died (SIGKILL, a power cut).

    A job folder holds the command's argv and environment (which may carry secrets);
    it is named ``gpiosim-job-<pid>-<random>`` and removed by ``run()`` when it ends.
    Only this user's folders of processes that no longer exist are touched.
    """
    base = Path(tmp or tempfile.gettempdir())
    removed: list[str] = []
    try:
        entries = list(base.glob(f"{_JOB_PREFIX}*-*"))
    except OSError:
        return removed
    for path in entries:
        pid_text = path.name[len(_JOB_PREFIX) :].split("-", 1)[0]
        if not pid_text.isdigit():
            continue
        try:
            if path.lstat().st_uid != os.geteuid() or not path.is_dir() or path.is_symlink():
                continue
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
        except (OSError, OverflowError):
            continue  # alive (EPERM: another user's process), gone, or not a pid
    return removed


def _write_job(
    job: Path, argv: Sequence[str], env: Mapping[str, str], cwd: str, project: str | None
) -> None:
    # `env -i -C CWD -- NAME=VALUE... CMD ARG...`, NUL-terminated (see guest-init.sh).
    items = ["-C", cwd, "--", *(f"{k}={v}" for k, v in env.items()), *argv]
    (job / "exec").write_bytes(b"".join(os.fsencode(item) + b"\0" for item in items))
    lines = [
        "overlay /tmp overlay "
        "lowerdir=/tmp,upperdir=/run/gpiosim-tmp/upper,workdir=/run/gpiosim-tmp/work 0 0"
    ]
    if project is not None:
        lines.append(
            f"gpiosim-project {_fstab_escape(project)} 9p "
            f"{_9P_OPTIONS},cache={_PROJECT_CACHE},X-mount.mkdir 0 0"
        )
    (job / "fstab").write_bytes(os.fsencode("\n".join(lines) + "\n"))


def _boot(
    *,
    sandbox: Callable[[], None],
    qemu: str,
    kernel: Path,
    init: Path,
    accel: str,
    argv: Sequence[str],
    cwd: str,
    env: Mapping[str, str],
    project: str | None,
    timeout: float | None,
    memory_mb: int,
    cpus: int,
    stdout: Any,
    stderr: Any,
    verbose: bool,
    cpu_model: str | None = None,
) -> int:
    """Boot one guest that runs argv; return its exit status."""
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    _reclaim_jobs()
    job = Path(tempfile.mkdtemp(prefix=f"{_JOB_PREFIX}{os.getpid()}-"))
    fds: list[int] = []
    proc: subprocess.Popen[bytes] | None = None
    console = bytearray()
    try:
        _write_job(job, argv, env, cwd, project)
        init_path = str(init)
        if not _CMDLINE_SAFE.fullmatch(init_path):
            # The kernel command line cannot quote: use a copy at a plain path.
            init_path = str(job / "init.sh")
            shutil.copyfile(init, init_path)
            shutil.copyfile(init.with_name("guest-fstab"), job / "guest-fstab")
            if not _CMDLINE_SAFE.fullmatch(init_path):
                raise GuestError(f"no path without spaces for the guest init: {init_path!r}")
        cmdline = " ".join(
            [
                "console=ttyS0",
                "loglevel=7" if verbose else "quiet",
                # A panic (init died) reboots at once, and -no-reboot ends qemu.
                "panic=-1",
                # One vCPU needs no local APIC timer (the PIT ticks instead), and
                # calibrating it costs 0.22 s of every boot under TCG.
                *(["noapictimer"] if cpus == 1 else []),
                # TCG's TSC follows the host's clock, but the clocksource watchdog
                # compares it with jiffies, which lag under TCG, and falls back to
                # a 1 ms jiffies clock: time.monotonic() would step by 1 ms.
                "tsc=reliable",
                # Calibrating the TSC against the PIT fails now and then under TCG on
                # a loaded host ("could not calculate TSC khz": 1 ms jiffies again).
                # TCG's TSC runs at the host's rate: tell the guest that rate.
                *_tsc_khz_args(),
                _CMDLINE_MARK,
                "root=gpiosim-root",
                "rootfstype=9p",
                f"rootflags={_9P_OPTIONS},cache=loose",
                "ro",
                "init=/bin/sh",
                "--",
                init_path,
            ]
        )
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        con_r, con_w = os.pipe()
        fds += [out_r, out_w, err_r, err_w, con_r, con_w]
        for fd in (out_w, err_w):
            # Room for a burst: while a pipe is full qemu blocks, and the guest with it.
            with contextlib.suppress(OSError):
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)
        shares = [
            "local,path=/,mount_tag=gpiosim-root,security_model=none,readonly=on,multidevs=remap",
            f"local,path={_qemu_opt(str(job))},mount_tag=gpiosim-job,security_model=none",
        ]
        if project is not None:
            shares.append(
                f"local,path={_qemu_opt(project)},mount_tag=gpiosim-project,"
                "security_model=none,multidevs=remap"
            )
        qemu_argv = [
            qemu,
            "-accel",
            accel,
            # One socket per vCPU: without ACPI the kernel finds CPUs in
            # SeaBIOS's MP table, which lists one CPU per package only.
            *(["-cpu", cpu_model] if cpu_model else []),
            "-smp",
            f"{cpus},sockets={cpus},cores=1,threads=1",
            "-m",
            str(memory_mb),
            "-nodefaults",
            "-no-user-config",
            # qemu's own seccomp policy on top of ours: no privilege changes, no programs
            # started, no obsolete calls, no scheduler or resource changes.
            "-sandbox",
            "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
            "-display",
            "none",
            "-no-reboot",
            "-serial",
            "stdio",
            "-kernel",
            str(kernel),
            "-append",
            cmdline,
            *(arg for share in shares for arg in ("-virtfs", share)),
            "-device",
            "virtio-serial-pci",
            # qemu opens /dev/fd/N itself: for a pipe that is the same pipe.
            "-chardev",
            f"file,id=gout,path=/dev/fd/{out_w}",
            "-device",
            "virtserialport,chardev=gout,name=gpiosim.stdout",
            "-chardev",
            f"file,id=gerr,path=/dev/fd/{err_w}",
            "-device",
            "virtserialport,chardev=gerr,name=gpiosim.stderr",
        ]
        proc = subprocess.Popen(
            qemu_argv,
            stdin=subprocess.DEVNULL,
            stdout=con_w,
            stderr=con_w,
            pass_fds=(out_w, err_w),
            # Own session: a terminal's Ctrl-C reaches us, and we stop qemu.
            start_new_session=True,
            preexec_fn=_child_hook(sandbox),
        )
        # Our copies of the write ends must go, or the reads never see EOF.
        for fd in (out_w, err_w, con_w):
            os.close(fd)
            fds.remove(fd)

        def keep_console(data: bytes) -> None:
            console.extend(data)
            del console[:-_CONSOLE_TAIL]

        console_sink = keep_console
        if verbose:
            to_stderr = _sink(sys.stderr if stderr is None else stderr)

            def console_sink(data: bytes) -> None:
                keep_console(data)
                to_stderr(data)

        sinks = {
            out_r: _sink(sys.stdout if stdout is None else stdout),
            err_r: _sink(sys.stderr if stderr is None else stderr),
            con_r: console_sink,
        }
        if not _pump(sinks, deadline):
            raise _timed_out(argv, timeout)
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            rc = proc.wait(remaining)
        except subprocess.TimeoutExpired:
            raise _timed_out(argv, timeout) from None
        tail = console.decode(errors="replace")[-4000:]
        error = _read_job_file(job, "error")
        if error is not None:
            raise GuestError(f"{error.strip()}; the console said:\n{tail}")
        text = _read_job_file(job, "status")
        if text is None:
            raise GuestError(
                f"the guest ended without running the command (qemu exit status {rc}); "
                f"the console said:\n{tail}"
            )
        try:
            return int(text.strip())
        except ValueError:
            raise GuestError(
                f"the guest reported a malformed exit status {text.strip()[:80]!r}"
            ) from None
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        for fd in fds:
            os.close(fd)
        shutil.rmtree(job, ignore_errors=True)


def _read_job_file(job: Path, name: str, limit: int = 64 * 1024) -> str | None:
    """Read a small file the guest left in its job folder, or None if there is none.

    The guest writes that folder: a link there must not make the host read (or block
    on) anything else, and a huge file must not fill the host's memory.
    """
    folder = os.open(job, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = os.open(
            name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder
        )
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise GuestError(f"the guest replaced its job's {name} file ({exc.strerror})") from None
    finally:
        os.close(folder)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise GuestError(f"the guest replaced its job's {name} file with a non-file")
        return os.read(fd, limit).decode("utf-8", errors="replace")
    finally:
        os.close(fd)


def _timed_out(argv: Sequence[str], timeout: float | None) -> GuestTimeoutError:
    return GuestTimeoutError(
        f"{shlex.join(argv)} did not finish within {timeout:g} s in the guest; qemu was stopped"
    )


def _pump(sinks: Mapping[int, Callable[[bytes], None]], deadline: float | None) -> bool:
    """Copy each pipe to its sink until all reach EOF; False if the deadline passed."""
    with selectors.DefaultSelector() as sel:
        for fd, sink in sinks.items():
            sel.register(fd, selectors.EVENT_READ, sink)
        open_count = len(sinks)
        while open_count:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                return False
            for key, _events in sel.select(wait):
                data = os.read(key.fd, 1 << 16)
                if data:
                    key.data(data)
                else:
                    sel.unregister(key.fd)
                    open_count -= 1
    return True


def run(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    project_dir: str | os.PathLike[str] | None = None,
    memory_mb: int = 1024,
    cpus: int = 1,
    accel: str = "auto",
    cpu_model: str | None = None,
    stdout: Any = None,
    stderr: Any = None,
    verbose: bool = False,
    log: Log | None = None,
    kernel: str | os.PathLike[str] | None = None,
) -> int:
    """Run a command in a fresh guest and return its exit status.

    The guest sees the host's root filesystem read-only at the same paths, a
    writable ``/tmp`` (an in-memory overlay on the host's), fresh ``/run`` and
    ``/dev/shm``, configfs at ``/sys/kernel/config``, and the project folder
    read-write at its own path.  The command is executed as an argument
    vector (no shell), as root, with stdin from ``/dev/null``.

    Args:
        argv: The command and its arguments.
        cwd: Its working folder; defaults to the current one.  It must exist
            in the guest: inside the project folder or on the host's root.
        env: Its environment; defaults to ``os.environ``.  Variables that
            describe the host's session (``DISPLAY``, ``SSH_AUTH_SOCK``,
            ``XDG_RUNTIME_DIR``...) are dropped; ``GPIOSIM_IN_GUEST=1`` is added.
        timeout: Seconds for the boot and the command together (the kernel
            build, if one is needed, is not counted); None waits forever.
        project_dir: The folder shared read-write; defaults to the git
            top-level folder containing ``cwd``, or ``cwd`` itself.
        memory_mb: Guest memory in MiB (1024 boots ~0.07 s faster than 2048
            under TCG: the kernel initialises every page).
        cpus: Guest vCPUs.
        cpu_model: qemu's ``-cpu`` model; None is qemu's default (``qemu64``: x86-64
            with SSE2 and SSE3 only). ``"max"`` adds every feature qemu can emulate
            (SSE4, AVX2), for wheels built for newer CPUs (lgpio dies of SIGILL
            without SSE4.1).
        accel: ``"tcg"``, ``"kvm"`` or ``"auto"``: KVM where a bounded probe
            shows that it works (the result is cached per host kernel and
            qemu), else TCG.  ``GPIOSIM_ACCEL`` overrides ``"auto"``.
        stdout: Where the command's stdout goes: a text or binary file
            object, a file descriptor or ``subprocess.DEVNULL``; defaults to
            ``sys.stdout``.  Output streams while the command runs.
        stderr: The same for its stderr; defaults to ``sys.stderr``.
        verbose: Also copy the guest's kernel console to ``stderr``.
        log: Receives progress lines of a kernel build.
        kernel: A prebuilt guest kernel image (checked with :func:`check_image`);
            None: ``$GPIOSIM_KERNEL``, else the cached or built one
            (:func:`ensure_kernel`).

    Returns:
        The command's exit status (127: not found, 126: not executable,
        125: its folder is missing in the guest, 128+N: killed by signal N).

    Raises:
        InvalidSettingError: (also a ValueError) a string or empty command, an
            argument with a NUL byte, a command name with ``=`` in it, a bad
            ``accel``, ``timeout``, ``memory_mb``, ``cpus``, ``env`` or project folder.
        MissingToolError: qemu or a kernel build tool is missing.
        KernelBuildError: The guest kernel could not be built.
        GuestTimeoutError: The timeout passed; qemu has been stopped.
        GuestError: The guest failed before the command ran.
    """
    if isinstance(argv, str | bytes) or not isinstance(argv, Sequence):
        raise InvalidSettingError(
            f"argv must be a list of arguments, not {argv!r}: e.g. ['python', '-m', 'pytest'] "
            "(no shell is used, so a string cannot be split into words)"
        )
    if not all(isinstance(a, str | os.PathLike) for a in argv):
        raise InvalidSettingError(f"every argument must be a string or a path: {argv!r}")
    argv = [os.fspath(a) for a in argv]
    if not argv:
        raise InvalidSettingError(
            "the command to run in the guest is empty: give one, e.g. ['true']"
        )
    if any("\0" in a for a in argv):
        raise InvalidSettingError(
            f"a command argument contains a NUL byte, which no argv can carry: {argv!r}"
        )
    if "=" in argv[0]:
        # env(1) would take it for an assignment.
        raise InvalidSettingError(
            f"the command name may not contain '=': {argv[0]!r}; pass variables with env="
        )
    if accel not in ("auto", "tcg", "kvm"):
        raise InvalidSettingError(f"accel must be 'auto', 'tcg' or 'kvm', not {accel!r}")
    if cpu_model is not None and (
        not isinstance(cpu_model, str)
        or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+-]*", cpu_model)
    ):
        raise InvalidSettingError(
            f"cpu_model must be a qemu CPU model name, not {cpu_model!r}: e.g. 'max' "
            "(qemu-system-x86_64 -cpu help lists them)"
        )
    if timeout is not None and (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 0 < timeout < float("inf")  # NaN fails this too
    ):
        raise InvalidSettingError(
            f"timeout must be a positive, finite number of seconds (or None), not {timeout!r}"
        )
    for what, amount, least in (("memory_mb", memory_mb, 64), ("cpus", cpus, 1)):
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < least:
            raise InvalidSettingError(f"{what} must be a whole number >= {least}, not {amount!r}")
    source_env = os.environ if env is None else env
    if not isinstance(source_env, Mapping):
        raise InvalidSettingError(f"env must map names to strings, not {source_env!r}")
    for key, value in source_env.items():
        if (
            not isinstance(key, str)
            or not isinstance(value, str)
            or "=" in key
            or "\0" in key
            or "\0" in value
            or not key
        ):
            raise InvalidSettingError(
                f"malformed environment variable {key!r}: names are non-empty strings "
                "without '=' or NUL, values strings without NUL"
            )
    work = os.path.abspath(os.fspath(cwd) if cwd is not None else os.getcwd())
    project = _writable_project(project_dir, work)
    # The filter is made before anything slow: a host it cannot confine runs no guest.
    sandbox = install_hook()

    # qemu first: its absence must not cost a kernel build to find out.
    qemu = shutil.which(_QEMU)
    if qemu is None:
        raise MissingToolError(
            f"{_QEMU} not found on PATH. Install it with: apt-get install {_QEMU_PACKAGE}"
        )
    image = check_image(kernel) if kernel is not None else ensure_kernel(log=log)
    resolved = _resolve_accel(accel, qemu, image, _INIT, log or (lambda _line: None))
    return _boot(
        sandbox=sandbox,
        qemu=qemu,
        kernel=image,
        init=_INIT,
        accel=resolved,
        argv=argv,
        cwd=work,
        env=_guest_env(source_env, work),
        project=project,
        timeout=timeout,
        memory_mb=memory_mb,
        cpus=cpus,
        cpu_model=cpu_model,
        stdout=stdout,
        stderr=stderr,
        verbose=verbose,
    )
