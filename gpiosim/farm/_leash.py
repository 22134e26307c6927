"""Run a command on a bench until it ends or the client's connection drops.

``python -m gpiosim.farm._leash -- CMD ARG...`` (what a bench driver runs over ssh):
the command runs in its own process group with stdin from /dev/null; this process
reads its own stdin, the ssh channel, and when that ends (the client closed it, died,
or the network went) it stops the command's whole group: SIGTERM, then SIGKILL after a
grace period. sshd gives a command without a terminal no SIGHUP when the client goes,
so without the leash a killed client's pytest would keep the rig (and its lock) busy.
The exit status is the command's (128 + N for a signal N).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading

GRACE = 5.0


def _watch(stdin: int, child: subprocess.Popen[bytes], done: threading.Event) -> None:
    try:
        while os.read(stdin, 4096):
            pass
    except OSError:
        pass
    if done.is_set():
        return
    print("gpiosim leash: the client's connection ended: stopping the command", file=sys.stderr)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGTERM)
    if not done.wait(GRACE):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print("usage: python -m gpiosim.farm._leash -- CMD [ARG...]", file=sys.stderr)
        return 2
    child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True)
    done = threading.Event()
    threading.Thread(target=_watch, args=(0, child, done), daemon=True).start()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda s, _f: os.killpg(child.pid, s))
    code = child.wait()
    done.set()
    # Whatever the command left in its group goes with it.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
