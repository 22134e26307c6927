"""A farm bench without the Pi: what a qemu guest runs to impersonate one (tests, demos).

    python -m gpiosim.farm._simbench BOARD RIG SSHD_CONFIG

In a gpiosim guest started with ``forward_tcp={port: 22}``: brings the virtio network
card up (10.0.2.15/24 on qemu's user-mode network), makes a gpio-sim chip that
impersonates BOARD's header chip with RIG's jumpers played (:class:`SimulatedPi`), and
runs Debian's sshd in the foreground with SSHD_CONFIG; every ssh session gets
``GPIOSIM_DT_MODEL`` so that the ``pi`` backend finds the impersonated board. Ends
(tearing the chip down) when sshd ends or on SIGTERM.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from gpiosim.pi import ENV_DT_MODEL, SimulatedPi

GUEST_ADDRESS = "10.0.2.15/24"


def _network_up() -> None:
    for argv in (
        ["ip", "link", "set", "lo", "up"],
        ["ip", "addr", "add", GUEST_ADDRESS, "dev", "eth0"],
        ["ip", "link", "set", "eth0", "up"],
        ["ip", "route", "add", "default", "via", "10.0.2.2"],
    ):
        subprocess.run(argv, check=True)


def main(argv: list[str]) -> int:
    board, rig, config = argv
    _network_up()
    # sshd's privilege separation wants an empty root-owned folder.
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="gpiorig-simbench-"))
    with SimulatedPi(board, rig=rig, folder=folder) as pi:
        sshd = subprocess.Popen(
            [
                "/usr/sbin/sshd",
                "-D",
                "-e",
                "-f",
                config,
                "-o",
                f"SetEnv={ENV_DT_MODEL}={pi.model_path}",
            ]
        )
        signal.signal(signal.SIGTERM, lambda *_: sshd.terminate())
        print(f"simbench: {pi!r} serving ssh", file=sys.stderr, flush=True)
        code = sshd.wait()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
