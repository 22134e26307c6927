"""The guest's names and places: its environment variables, qemu, the init script, the
environment that stays on the host; and whether this process runs in the guest.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from gpiosim.guest._kconfig import missing_build_tools
from gpiosim.guest._source import KernelSource

__all__ = [
    "ENV_ACCEL",
    "ENV_IN_GUEST",
    "inside_guest",
    "missing_packages",
]


ENV_IN_GUEST = "GPIOSIM_IN_GUEST"
"""Set to ``1`` in the environment of every command run by :func:`run`."""

ENV_ACCEL = "GPIOSIM_ACCEL"
"""Overrides ``accel="auto"``: ``tcg``, ``kvm`` or ``auto``."""

_QEMU = "qemu-system-x86_64"
_QEMU_PACKAGE = "qemu-system-x86"
_DATA = Path(__file__).resolve().parents[1] / "data"
_INIT = _DATA / "guest-init.sh"

# Marks the guest's kernel command line; the kernel ignores unknown dotted
# parameters, and /proc/cmdline survives a command that clears its environment.
_CMDLINE_MARK = "gpiosim.guest=1"

# The probe of KVM boots a guest that runs `true`: a working KVM does that in
# about a second, a broken one (a /dev/kvm that exists but cannot run this guest, as
# on some nested-virtualisation hosts) hangs instead of failing, hence the bound.
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
