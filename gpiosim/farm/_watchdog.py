"""Keep a session's place leased while the session lives; release it when it dies.

Started by a farm session right after it acquired a place, in its own session (a ^C
in the terminal does not reach it), with its stdin the read end of a pipe whose only
write end the pytest process holds: the pipe ends when that process ends, however it
ends (return, exception, SIGKILL, out of memory). Until then the watchdog renews the
place's lease every third of :data:`~gpiosim.farm._places.LEASE_SECONDS`; then it
releases the place if the lease is still the session's (a session that released its
place itself has already cleared it), and exits.

    python -m gpiosim.farm._watchdog COORDINATOR PLACE TOKEN
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import select
import signal
import sys
import time

from gpiosim.farm._errors import FarmError
from gpiosim.farm._places import LEASE_SECONDS, Coordinator


def main(argv: list[str]) -> int:
    address, place, token = argv
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    with Coordinator(address) as coordinator:
        while True:
            ready, _, _ = select.select([0], [], [], LEASE_SECONDS / 3)
            if ready:
                try:
                    data = os.read(0, 4096)
                except OSError:
                    data = b""
                if not data:
                    break
                continue
            lease = coordinator.lease_of(place)
            if lease is None or lease.token != token:
                return 0  # released (or taken over) behind our back: nothing to keep
            with contextlib.suppress(FarmError):
                until = int(time.time() + LEASE_SECONDS)
                coordinator.write_lease(place, dataclasses.replace(lease, until=until))
        with contextlib.suppress(FarmError):
            if coordinator.release_leased(place, token):
                print(f"gpiorig farm watchdog: the session died; released {place}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
