"""Rig files (TOML): the signals of the program under test, and on a bench its jumpers.

Minimal form (the bench part belongs to the pi backend)::

    [signals.button]
    line = "GPIO17"
    role = "input"          # the program reads it; the rig drives it
    active_low = false

    [signals.led]
    line = "GPIO18"
    role = "output"         # the program drives it; the rig observes it
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from gpiocore._errors import InvalidSettingError
from gpiosim._rig import Signal

__all__ = ["RigFileError", "load_rig_signals"]


class RigFileError(InvalidSettingError):
    """A rig file that cannot be used; the message names the file, the entry and the fix."""


def load_rig_signals(path: str | os.PathLike[str]) -> list[Signal]:
    """Read the ``[signals]`` of a rig file.

    Raises:
        RigFileError: the file is missing, is not TOML, or a signal is malformed.
    """
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text())
    except FileNotFoundError:
        raise RigFileError(f"no rig file at {file}: check the --rig path") from None
    except tomllib.TOMLDecodeError as exc:
        raise RigFileError(f"{file}: not valid TOML ({exc})") from None
    signals = data.get("signals")
    if not isinstance(signals, dict) or not signals:
        raise RigFileError(f"{file}: no [signals.NAME] tables: name at least one signal")
    found = []
    for name, spec in signals.items():
        where = f"{file}: [signals.{name}]"
        if not isinstance(spec, dict):
            raise RigFileError(f"{where} must be a table with line and role")
        line = spec.get("line")
        if not isinstance(line, str | int) or isinstance(line, bool):
            raise RigFileError(f"{where}: line must be a line name or offset, not {line!r}")
        role = spec.get("role")
        if role not in ("input", "output"):
            raise RigFileError(f"{where}: role must be 'input' or 'output', not {role!r}")
        active_low = spec.get("active_low", False)
        if not isinstance(active_low, bool):
            raise RigFileError(f"{where}: active_low must be true or false, not {active_low!r}")
        chip = spec.get("chip")
        if chip is not None and not isinstance(chip, str):
            raise RigFileError(f"{where}: chip must be a chip name, not {chip!r}")
        found.append(Signal(name, line, role, active_low, chip))
    return found
