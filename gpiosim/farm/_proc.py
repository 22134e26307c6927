"""Process helpers for the farm: children that die with the session that started them."""

from __future__ import annotations

import shutil
from collections.abc import Sequence


def dying_with_parent(argv: Sequence[str], signal: str = "TERM") -> list[str]:
    """``argv`` run so that it gets SIGTERM when this process dies.

    An ``ssh`` to a bench started by a pytest session that is killed with SIGKILL would
    otherwise run on; ended, it closes its connection, and the command's leash on the
    bench stops the command. util-linux's ``setpriv --pdeathsig`` sets that up between
    fork and exec. Not a ``preexec_fn``: Python code in a child forked from a process
    where gRPC's threads run (labgrid's client) crashed with SIGSEGV now and then, before
    ssh even started. Without setpriv (not Linux) the command runs without it.
    """
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return list(argv)
    return [setpriv, f"--pdeathsig={signal}", "--", *argv]
