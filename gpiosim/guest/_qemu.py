"""Pieces of qemu's command line and process: option escaping, output sinks, the child's
hooks (sandbox, die with the parent), the TSC rate, fstab escaping.
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import io
import os
import re
import signal
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any


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

    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def hook() -> None:
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            # The parent died before the prctl took effect.
            os._exit(1)

    return hook


def _network_args(forward_tcp: Mapping[int, int] | None) -> list[str]:
    """qemu's user-mode network for a guest that serves TCP (a bench's sshd): each host
    port listens on 127.0.0.1 only and forwards to its guest port; ``restrict=on`` lets
    the guest reach nothing else. virtio-rng feeds the guest's entropy (sshd's keys)."""
    if not forward_tcp:
        return []
    forwards = ",".join(
        f"hostfwd=tcp:127.0.0.1:{int(host)}-:{int(guest)}" for host, guest in forward_tcp.items()
    )
    return [
        "-netdev",
        f"user,id=n0,restrict=on,{forwards}",
        "-device",
        "virtio-net-pci,netdev=n0",
        "-device",
        "virtio-rng-pci",
    ]


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
