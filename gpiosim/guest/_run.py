"""Run a command inside a small qemu guest whose kernel has gpio-sim built in.

Many kernels lack gpio-sim (Debian's stock kernels, WSL, this project's CI
machines), and some have no GPIO support at all.  The guest boots a minimal
x86-64 kernel (built once by :mod:`gpiosim.guest._kernel` from a Debian kernel source
package with the fragment ``gpiosim/data/guest-kernel.config``) under qemu, with the
host's root filesystem shared read-only over 9p and the project folder shared
read-write at the same path. The command runs as an argument vector with the caller's
environment and folder; its stdout and stderr stream back live over two virtio ports,
kept apart from the kernel's console; its exit status becomes :func:`run`'s result.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from gpiocore import InvalidSettingError
from gpiosim._errors import GuestBytecodeWarning, MissingToolError
from gpiosim.guest._accel import _resolve_accel
from gpiosim.guest._boot import _boot
from gpiosim.guest._env import (
    _INIT,
    _QEMU,
    _QEMU_PACKAGE,
    Log,
)
from gpiosim.guest._kconfig import check_image
from gpiosim.guest._kernel import ensure_kernel
from gpiosim.guest._project import _guest_env, _remove_guest_bytecode, _writable_project
from gpiosim.guest._sandbox import install_hook

__all__ = [
    "run",
]


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
    forward_tcp: Mapping[int, int] | None = None,
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
        forward_tcp: ``{host port: guest port}``: the guest gets a virtio network
            card on qemu's user-mode network, and each host port, on 127.0.0.1 only,
            forwards to its guest port (a farm bench's sshd: ``{port: 22}``). The
            guest's address is 10.0.2.15/24; its command brings the card up.

    Returns:
        The command's exit status (127: not found, 126: not executable,
        125: its folder is missing in the guest, 128+N: killed by signal N).

    Raises:
        InvalidSettingError: (also a ValueError) a string or empty command, an
            argument with a NUL byte, a command name with ``=`` in it, a bad
            ``accel``, ``timeout``, ``memory_mb``, ``cpus``, ``env``, ``forward_tcp`` or
            project folder.
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
    if forward_tcp is not None and (
        not isinstance(forward_tcp, Mapping)
        or not all(
            isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536
            for pair in forward_tcp.items()
            for port in pair
        )
    ):
        raise InvalidSettingError(
            f"forward_tcp must map host ports to guest ports (1-65535), not {forward_tcp!r}: "
            "e.g. {2222: 22}"
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
    started_ns = time.time_ns()
    try:
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
            forward_tcp=forward_tcp,
            stdout=stdout,
            stderr=stderr,
            verbose=verbose,
        )
    finally:
        removed = _remove_guest_bytecode(project, started_ns)
        if removed:
            shown = ", ".join(removed[:5]) + (", ..." if len(removed) > 5 else "")
            warnings.warn(
                f"removed {len(removed)} Python bytecode file(s) written into the project "
                f"while the guest ran ({shown}): Python in the guest writes none, so the "
                "guest's command wrote them (or a host process at the same time), and the "
                "host would have run them unseen; look at what else the command changed",
                GuestBytecodeWarning,
                stacklevel=2,
            )
