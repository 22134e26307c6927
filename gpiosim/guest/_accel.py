"""Choosing qemu's accelerator: KVM where a bounded probe boot shows it works, else TCG.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
from pathlib import Path

from gpiocore import InvalidSettingError
from gpiosim._errors import GuestError
from gpiosim.guest._boot import _boot
from gpiosim.guest._env import _KVM_PROBE_TIMEOUT, ENV_ACCEL, Log
from gpiosim.guest._sandbox import install_hook
from gpiosim.guest._source import _cache_root

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
    results_file.parent.mkdir(parents=True, exist_ok=True)
    # Guests started at once (the sharded suite) on a cold cache would each spend the
    # probe's seconds: the first probes under the lock, the others read its answer.
    lock_fd = os.open(
        results_file.with_name("accel-probe.lock"),
        os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
        0o600,
    )
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        return _probe_locked(results_file, qemu, kernel, init, log)
    finally:
        os.close(lock_fd)


def _probe_locked(results_file: Path, qemu: str, kernel: Path, init: Path, log: Log) -> str:
    """Read the stored probe result for this host and qemu, probing if there is none."""
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
    tmp = results_file.with_name(f".{results_file.name}.{os.getpid()}")
    tmp.write_text(json.dumps(results, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, results_file)
    return found
