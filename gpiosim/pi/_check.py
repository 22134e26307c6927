"""``gpiosim rig``: check a rig on this Pi (:func:`check_rig`) and show the wiring a rig file
asks for (:func:`describe_wiring`).
"""

from __future__ import annotations

import os
from pathlib import Path

from gpiosim.pi._backend import PiBackend
from gpiosim.pi._rigload import load_rig
from gpiosim.pi._selftest import CheckReport

__all__ = ["check_rig", "describe_wiring"]


def check_rig(
    path: str | os.PathLike[str],
    *,
    chip: str | None = None,
    timeout: float = 0.25,
    settle: float = 0.02,
    lock_dir: Path | None = None,
) -> CheckReport:
    """Lock the rig of a rig file on this Pi and self-test its jumpers.

    Args:
        path: the rig file.
        chip: the header chip, overriding discovery (see :class:`~gpiosim.pi.PiBackend`).
        timeout: seconds for a change to arrive through a jumper.
        settle: seconds to let unexpected changes show.
        lock_dir: where the rig lock lives.

    Raises:
        RigFileError, PiNotFoundError, GpioPermissionError, RigBusyError, LineBusyError:
            the rig cannot be checked here (each message says why and what to do).
    """

    rig = load_rig(path).require_bench()
    with PiBackend(chip=chip, rig=rig, lock_dir=lock_dir) as backend:
        harness = backend.harness  # locks the rig until the backend closes
        assert harness is not None  # the backend has a rig
        return harness.self_test(timeout=timeout, settle=settle)


def describe_wiring(path: str | os.PathLike[str]) -> str:
    """The wiring a rig file asks for, one line per signal, by header pin (no Pi needed).

    Raises:
        RigFileError: the file is wrong.
    """

    rig = load_rig(path)
    board = f" for a {rig.board.title}" if rig.board is not None else ""
    lines = [f"rig {rig.name}{board} ({rig.path})"]
    width = max(len(name) for name in rig.signal_names())
    for sig in rig.signals:
        ref = rig.lines.get(sig.name)
        at = str(ref) if ref is not None else f"{sig.line} on {sig.chip}"
        jumper = rig.jumpers.get(sig.name)
        if jumper is None:
            wire = "no jumper"
        elif jumper.kind == "stimulus":
            wire = f"<- stimulus {jumper.line}"
        else:
            wire = f"-> probe {jumper.line}, {jumper.bias.value}"
        low = ", active low" if sig.active_low else ""
        lines.append(f"  {sig.name:<{width}}  {sig.role:<6}  {at}{low}  {wire}")
    return "\n".join(lines)
