"""qemu's seccomp filter (gpiosim.guest._sandbox), tried on the host on a process of our own.

The guest's 9p writes are qemu's own system calls, so a process under the same filter
shows what root in the guest can and cannot leave on the host; test_guest.py repeats
the hostile commands through a real guest.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from gpiosim._errors import SandboxError
from gpiosim.guest._sandbox import build_filter, install_hook

ATTEMPTS = r"""
import os, sys
d = sys.argv[1]
def attempt(what, action):
    try:
        action()
        print(what, "allowed", sep=":")
    except OSError as exc:
        print(what, f"refused {exc.errno}", sep=":")
open(d + "/f", "w").close()
attempt("chmod 0755", lambda: os.chmod(d + "/f", 0o755))
attempt("chmod 4755", lambda: os.chmod(d + "/f", 0o4755))
attempt("chmod 2755", lambda: os.chmod(d + "/f", 0o2755))
attempt("fchmod 4755", lambda: os.fchmod(os.open(d + "/f", os.O_RDONLY), 0o4755))
attempt("chown self", lambda: os.chown(d + "/f", os.geteuid(), os.getegid()))
attempt("chown unchanged", lambda: os.chown(d + "/f", -1, -1))
attempt("chown 4242", lambda: os.chown(d + "/f", 4242, -1))
attempt("chgrp 4242", lambda: os.chown(d + "/f", -1, 4242))
attempt("create 4755", lambda: os.close(os.open(d + "/g", os.O_CREAT | os.O_WRONLY, 0o4755)))
attempt("mkdir 2755", lambda: os.mkdir(d + "/sg", 0o2755))
attempt("mkdir 0755", lambda: os.mkdir(d + "/dir", 0o755))
attempt("mknod char", lambda: os.mknod(d + "/null", 0o666 | 0o020000, os.makedev(1, 3)))
attempt("mknod block", lambda: os.mknod(d + "/sda", 0o666 | 0o060000, os.makedev(8, 0)))
attempt("mkfifo", lambda: os.mkfifo(d + "/fifo"))
attempt("setxattr", lambda: os.setxattr(d + "/f", "user.x", b"1"))
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
def renameat2(flags, name):
    open(d + "/" + name, "w").close()
    old, new = (d + "/" + name).encode(), (d + "/" + name + "2").encode()
    if libc.renameat2(-100, old, -100, new, flags) != 0:
        raise OSError(ctypes.get_errno(), "renameat2")
attempt("rename whiteout", lambda: renameat2(4, "w"))
attempt("rename plain", lambda: renameat2(0, "r"))
"""

EXPECTED = {
    "chmod 0755": "allowed",
    "chmod 4755": "refused 1",
    "chmod 2755": "refused 1",
    "fchmod 4755": "refused 1",
    "chown self": "allowed",
    "chown unchanged": "allowed",
    "chown 4242": "refused 1",
    "chgrp 4242": "refused 1",
    "create 4755": "refused 1",
    "mkdir 2755": "refused 1",
    "mkdir 0755": "allowed",
    "mknod char": "refused 1",
    "mknod block": "refused 1",
    "mkfifo": "allowed",
    "setxattr": "refused 1",
    "rename whiteout": "refused 1",
    "rename plain": "allowed",
}


def outcomes(folder: Path, *, confined: bool) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-c", ATTEMPTS, str(folder)],
        preexec_fn=install_hook() if confined else None,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return dict(line.split(":", 1) for line in done.stdout.splitlines())


def test_the_filter_refuses_privilege_and_allows_the_rest(tmp_path: Path) -> None:
    assert outcomes(tmp_path, confined=True) == EXPECTED
    for path in tmp_path.rglob("*"):
        info = path.lstat()
        assert not info.st_mode & (stat.S_ISUID | stat.S_ISGID), path
        assert not stat.S_ISCHR(info.st_mode) and not stat.S_ISBLK(info.st_mode), path
        assert (info.st_uid, info.st_gid) == (os.geteuid(), os.getegid()), path
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o755  # exec bits are kept


@pytest.mark.skipif(os.geteuid() != 0, reason="shows what root could do unconfined")
def test_unconfined_root_could_do_all_of_it(tmp_path: Path) -> None:
    """The control: without the filter the same calls succeed (so the test can fail)."""
    seen = outcomes(tmp_path, confined=False)
    assert {what for what, result in seen.items() if result != "allowed"} <= {"setxattr"}


def test_unknown_architectures_are_refused() -> None:
    with pytest.raises(SandboxError, match=r"no seccomp filter for 'sparc64' hosts"):
        build_filter(0, 0, "sparc64")
    assert len(build_filter(0, 0, "aarch64")) % 8 == 0
