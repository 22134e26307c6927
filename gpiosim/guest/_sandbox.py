"""A seccomp filter that keeps what a guest writes over 9p from becoming a privilege.

qemu serves the guest's shares with ``security_model=none``: a file the guest makes
is made by qemu, as the user who ran ``gpiosim guest``, and the guest's ``chmod`` and
``chown`` are qemu's own calls.  Root in the guest could therefore leave a setuid
binary, a file owned by another user, or a device node in the project folder.  This
filter, installed in qemu's process before it starts, refuses exactly those calls
with ``EPERM``:

* mode changes and creations with the setuid or setgid bit (``chmod`` family,
  ``open``/``creat``/``mkdir``/``mknod`` with such a mode);
* ``mknod`` of character or block devices;
* ``chown`` to anyone but the caller (``-1``, "unchanged", passes);
* any extended attribute write (``security.capability`` is a setuid in disguise);
* ``renameat2`` with ``RENAME_WHITEOUT`` (it leaves a device node behind);
  and ``openat2``/``io_uring``, whose arguments a filter cannot read.

Why not the alternatives: qemu's mapped security models keep modes in xattrs, but
they also read every host symlink as a file (a virtual environment's
``bin/python`` in the project would not resolve in the guest); dropping qemu's
privileges still lets it set the setuid bit on its own files, and leaves them owned
by another user; a sweep after the run races with whatever uses the file meanwhile.
The kernel enforces this filter on every call qemu makes, for every share. It is not a
full jail: a guest that took over qemu itself would act with the caller's rights
otherwise (qemu also runs with its own ``-sandbox``, which forbids it to raise its
privileges or start programs); and what the guest writes into the project folder is
code the host may run next (see the README).
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct
from collections.abc import Callable
from typing import Final

from gpiosim._errors import SandboxError

__all__ = ["SandboxError", "build_filter", "install_hook"]


# <linux/audit.h>, <linux/seccomp.h>, <linux/filter.h>
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_RET_ALLOW: Final = 0x7FFF0000
_RET_ERRNO: Final = 0x00050000
_RET_KILL_PROCESS: Final = 0x80000000
_LD_ABS_W: Final = 0x20
_JEQ: Final = 0x15
_JSET: Final = 0x45
_AND: Final = 0x54
_RET: Final = 0x06
_PR_SET_NO_NEW_PRIVS: Final = 38
_PR_SET_SECCOMP: Final = 22
_SECCOMP_MODE_FILTER: Final = 2
_EPERM: Final = 1
_ENOSYS: Final = 38
_X32_BIT: Final = 0x40000000
_SUID_SGID: Final = 0o6000
_S_IFMT: Final = 0o170000
_S_IFCHR: Final = 0o020000
_S_IFBLK: Final = 0o060000
_UNCHANGED: Final = 0xFFFFFFFF  # (uid_t)-1
_RENAME_WHITEOUT: Final = 4  # leaves a 0:0 character device where the source was

# Syscall numbers: name -> number, per architecture (aarch64 has only the *at forms).
_SYSCALLS: dict[str, dict[str, int]] = {
    "x86_64": {
        "open": 2, "creat": 85, "openat": 257, "mkdir": 83, "mkdirat": 258, "mknod": 133,
        "mknodat": 259, "chmod": 90, "fchmod": 91, "fchmodat": 268, "fchmodat2": 452,
        "chown": 92, "fchown": 93, "lchown": 94, "fchownat": 260, "setxattr": 188,
        "lsetxattr": 189, "fsetxattr": 190, "openat2": 437, "io_uring_setup": 425,
        "setxattrat": 463, "renameat2": 316,
    },
    "aarch64": {
        "openat": 56, "mkdirat": 34, "mknodat": 33, "fchmod": 52, "fchmodat": 53,
        "fchmodat2": 452, "fchownat": 54, "fchown": 55, "setxattr": 5, "lsetxattr": 6,
        "fsetxattr": 7, "openat2": 437, "io_uring_setup": 425, "setxattrat": 463,
        "renameat2": 276,
    },
}  # fmt: skip
# Which argument holds the mode, for the calls that take one.
_MODE_ARG = {
    "open": 2, "creat": 1, "openat": 3, "mkdir": 1, "mkdirat": 2, "mknod": 1, "mknodat": 2,
    "chmod": 1, "fchmod": 1, "fchmodat": 2, "fchmodat2": 2,
}  # fmt: skip
# Which arguments hold the owner and group, for the chown family.
_OWNER_ARGS = {"chown": (1, 2), "fchown": (1, 2), "lchown": (1, 2), "fchownat": (2, 3)}
_DENY = {
    "setxattr": _EPERM, "lsetxattr": _EPERM, "fsetxattr": _EPERM, "setxattrat": _EPERM,
    "openat2": _ENOSYS, "io_uring_setup": _ENOSYS,
}  # fmt: skip


def _arg_low(index: int) -> int:
    """Offset of the low 32 bits of argument ``index`` in ``struct seccomp_data``."""
    return 16 + 8 * index  # little-endian: the low half comes first


class _Program:
    """A BPF program with forward jumps to named labels, resolved at the end."""

    def __init__(self) -> None:
        self.code: list[tuple[int, int | str, int | str, int]] = []
        self.labels: dict[str, int] = {}

    def add(self, op: int, k: int, jt: int | str = 0, jf: int | str = 0) -> None:
        self.code.append((op, jt, jf, k))

    def label(self, name: str) -> None:
        self.labels[name] = len(self.code)

    def assemble(self) -> bytes:
        out = bytearray()
        for pc, (op, jt, jf, k) in enumerate(self.code):
            offsets = []
            for target in (jt, jf):
                if isinstance(target, str):
                    target = self.labels[target] - pc - 1
                if not 0 <= target < 256:
                    raise SandboxError(f"seccomp jump out of range at {pc}")
                offsets.append(target)
            out += struct.pack("<HBBI", op, offsets[0], offsets[1], k & 0xFFFFFFFF)
        return bytes(out)


def build_filter(uid: int, gid: int, machine: str | None = None) -> bytes:
    """Assemble the filter for this machine's architecture, for a caller uid and gid.

    Returns:
        The ``struct sock_filter`` array, ready for ``PR_SET_SECCOMP``.

    Raises:
        SandboxError: the architecture is not one this filter knows.
    """
    arch = machine or platform.machine()
    if arch not in _SYSCALLS:
        raise SandboxError(
            f"no seccomp filter for {arch!r} hosts (known: {', '.join(_SYSCALLS)}): the guest "
            "cannot be confined here, so it is not started"
        )
    numbers = _SYSCALLS[arch]
    prog = _Program()
    deny, allow = "deny", "allow"
    prog.add(_LD_ABS_W, 4)  # arch
    prog.add(_JEQ, _AUDIT_ARCH[arch], 1, 0)
    prog.add(_RET, _RET_KILL_PROCESS)
    prog.add(_LD_ABS_W, 0)  # syscall number
    if arch == "x86_64":
        prog.add(_JSET, _X32_BIT, "enosys", 0)
    for name, number in numbers.items():
        if name in _DENY:
            errno_label = "enosys" if _DENY[name] == _ENOSYS else deny
            prog.add(_JEQ, number, errno_label, 0)
            continue
        prog.add(_JEQ, number, 0, f"next-{name}")
        if name == "renameat2":
            prog.add(_LD_ABS_W, _arg_low(4))
            prog.add(_JSET, _RENAME_WHITEOUT, deny, allow)
        elif name in _MODE_ARG:
            prog.add(_LD_ABS_W, _arg_low(_MODE_ARG[name]))
            prog.add(_JSET, _SUID_SGID, deny, 0)
            if name in ("mknod", "mknodat"):
                prog.add(_AND, _S_IFMT)
                prog.add(_JEQ, _S_IFCHR, deny, 0)
                prog.add(_JEQ, _S_IFBLK, deny, 0)
            prog.add(_RET, _RET_ALLOW)
        else:
            owner_arg, group_arg = _OWNER_ARGS[name]
            prog.add(_LD_ABS_W, _arg_low(owner_arg))
            prog.add(_JEQ, _UNCHANGED, f"group-{name}", 0)
            prog.add(_JEQ, uid, f"group-{name}", deny)
            prog.label(f"group-{name}")
            prog.add(_LD_ABS_W, _arg_low(group_arg))
            prog.add(_JEQ, _UNCHANGED, allow, 0)
            prog.add(_JEQ, gid, allow, deny)
        prog.label(f"next-{name}")
        prog.add(_LD_ABS_W, 0)  # reload the number for the next test
    prog.label(allow)
    prog.add(_RET, _RET_ALLOW)
    prog.label(deny)
    prog.add(_RET, _RET_ERRNO | _EPERM)
    prog.label("enosys")
    prog.add(_RET, _RET_ERRNO | _ENOSYS)
    return prog.assemble()


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_hook() -> Callable[[], None]:
    """Return a function that installs the filter in the calling process (qemu's child).

    Everything is prepared here, in the parent: after a fork only the two prctl
    calls run.  The filter cannot be removed, and ``no_new_privs`` keeps an exec'd
    setuid program from shedding it.

    Raises:
        SandboxError: the architecture is unknown (see :func:`build_filter`).
    """
    code = build_filter(os.geteuid(), os.getegid())
    buffer = ctypes.create_string_buffer(code, len(code))
    fprog = _SockFprog(len(code) // 8, ctypes.addressof(buffer))
    libc = ctypes.CDLL(None, use_errno=True)

    def hook() -> None:
        keep = (buffer, fprog)  # alive until the exec
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            os._exit(126)
        if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(keep[1]), 0, 0) != 0:
            # No seccomp in this kernel: refuse to run the guest unconfined.
            os.write(2, b"gpiosim: cannot install qemu's seccomp filter; guest not started\n")
            os._exit(126)

    return hook
