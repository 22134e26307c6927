"""Rig files (TOML): the signals of the program under test, and on a bench its jumpers.

Minimal form, for any backend::

    [signals.button]
    line = "GPIO17"         # the program reads it; the rig drives it
    role = "input"
    active_low = false

    [signals.led]
    line = "GPIO18"
    role = "output"         # the program drives it; the rig observes it

A bench rig (the ``pi`` backend) adds what the bench is and how it is wired: a
*stimulus* (a spare header GPIO the rig drives) jumpered to each program input, and a
*probe* (a spare GPIO the rig reads) jumpered to each program output::

    [rig]
    name = "pi5-bench"      # names the lock: one run per rig at a time
    board = "pi5"           # pi5, pi4 or pi3: checked against the device tree
    # chip = "pinctrl-rp1"  # override the header chip (label, name or path)

    [jumpers.button]
    stimulus = "GPIO5"      # header pin 29 -> pin 11 (GPIO17)

    [jumpers.led]
    probe = "GPIO6"         # header pin 12 (GPIO18) -> pin 31
    bias = "pull-down"      # the probe's bias (pull-down, pull-up or none)

Lines are written ``GPIO17``/``BCM17``/``17`` (Broadcom numbers: the header chip's
offsets), ``pin11``/``BOARD11``/``J8:11`` (header pins), ``P0``..``P7`` (the Quick2Wire
board, as ``gpiocore.pins``), or as a kernel line name (``SDA1``). A signal with its own
``chip`` names a line on that chip instead (a name or an offset).

Every mistake is reported with the file and line it is on (tomllib gives no positions,
so the tables and keys are found by scanning the text).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal, final

from gpiocore import Bias
from gpiosim._errors import InvalidNameError, RigFileError
from gpiosim.pi._board import Board, LineRef, describe_gpio
from gpiosim.rig._signal import Signal

__all__ = [
    "Jumper",
    "JumperKind",
    "RigFile",
    "validate_rig_name",
]


JumperKind = Literal["stimulus", "probe"]

_TOP_TABLES: Final = ("rig", "signals", "jumpers")
_RIG_KEYS: Final = ("name", "board", "chip")
_SIGNAL_KEYS: Final = ("line", "role", "active_low", "chip")
_JUMPER_KEYS: Final = ("stimulus", "probe", "bias")
_BIASES: Final[Mapping[str, Bias]] = MappingProxyType(
    {"pull-down": Bias.PULL_DOWN, "pull-up": Bias.PULL_UP, "none": Bias.DISABLED}
)
#: A rig file larger than this is refused unread (a rig file is a few hundred bytes).
MAX_RIG_FILE_BYTES: Final = 1 << 20
_RIG_NAME_RE: Final = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}$")


def validate_rig_name(name: object) -> str:
    """Check a rig's name, which names its lock file; return it unchanged.

    Raises:
        InvalidNameError: not 1-64 characters of ``A-Z a-z 0-9 _ . + -`` starting with a
            letter, digit or ``_`` (so it can never leave the lock folder).
    """
    if not isinstance(name, str) or not _RIG_NAME_RE.fullmatch(name):
        raise InvalidNameError(
            f"rig name {name!r} is not usable as a lock name: use 1-64 characters from "
            "A-Z a-z 0-9 _ . + - that start with a letter, digit or '_'"
        )
    return name


@final
@dataclasses.dataclass(frozen=True, slots=True)
class Jumper:
    """One wire of a bench rig, between a rig line and a signal's line."""

    signal: str
    """The signal it serves (the program's line is that signal's line)."""
    kind: JumperKind
    """``stimulus``: a rig output driving a program input; ``probe``: a rig input
    reading a program output."""
    line: LineRef
    """The rig's end of the wire."""
    bias: Bias
    """The bias a probe is requested with (a stimulus drives and needs none)."""
    lineno: int
    """Where the jumper is written (0 if unknown)."""


@final
@dataclasses.dataclass(frozen=True, slots=True)
class RigFile:
    """A parsed and checked rig file. Use :func:`load_rig` to make one."""

    path: Path
    name: str
    """The rig's name (``[rig] name``, else the file's stem): names its lock."""
    board: Board | None
    """The board it is wired on (``[rig] board``), if it says."""
    chip: str | None
    """``[rig] chip``: the header chip's label, name or path, overriding discovery."""
    signals: tuple[Signal, ...]
    lines: Mapping[str, LineRef]
    """Each header signal's line as written (signals with their own ``chip`` are absent)."""
    jumpers: Mapping[str, Jumper]
    """By signal name; empty for a rig that is not a bench rig."""
    _where: Mapping[tuple[str, ...], int]

    @property
    def bench(self) -> bool:
        """True when the file wires jumpers (a bench rig for the ``pi`` backend)."""
        return bool(self.jumpers)

    def lineno(self, *path: str) -> int:
        """The line of a table or key (``("signals", "led", "line")``); 0 if not found.

        A key that is not written (a default) is placed at its table.
        """
        while path:
            found = self._where.get(path)
            if found:
                return found
            path = path[:-1]
        return 0

    def error(self, message: str, *path: str) -> RigFileError:
        """A :class:`RigFileError` whose message starts ``FILE:LINE: [table]``."""
        lineno = self.lineno(*path)
        return RigFileError(
            _prefix(self.path, lineno, path) + message, path=self.path, lineno=lineno or None
        )

    def signal(self, name: str) -> Signal:
        """The signal called ``name``.

        Raises:
            RigFileError: no such signal.
        """
        for sig in self.signals:
            if sig.name == name:
                return sig
        raise RigFileError(
            f"{self.path}: no signal {name!r}: the rig names {', '.join(self.signal_names())}",
            path=self.path,
        )

    def signal_names(self) -> list[str]:
        """The signals' names, in file order."""
        return [sig.name for sig in self.signals]

    def require_bench(self) -> RigFile:
        """Return self if the file wires jumpers.

        Raises:
            RigFileError: no ``[jumpers.NAME]`` tables.
        """
        if not self.bench:
            raise RigFileError(
                f"{self.path}: no [jumpers.NAME] tables, so it is no bench rig: wire a "
                "stimulus to each program input and a probe to each program output "
                "(see docs/bench-rig.md)",
                path=self.path,
            )
        return self

    def offsets(self, line_names: Sequence[str | None]) -> tuple[dict[str, int], dict[str, int]]:
        """Resolve every header line against the header chip's line names.

        Args:
            line_names: the header chip's names by offset (Broadcom numbers need none).

        Returns:
            ``(signal offsets, jumper offsets)``, both by signal name.

        Raises:
            RigFileError: a line name the chip does not have, a line beyond the chip, or
                two names that turn out to be the same line.
        """
        used: dict[int, tuple[str, ...]] = {}
        result: tuple[dict[str, int], dict[str, int]] = ({}, {})
        for jumper, sig, ref, where in self.entries():
            if ref.gpio is not None:
                offset = ref.gpio
                if offset >= len(line_names):
                    raise self.error(
                        f"{ref.text!r}: the header chip has only lines 0-{len(line_names) - 1}",
                        *where,
                    )
            elif ref.name in line_names:
                offset = line_names.index(ref.name)
            else:
                raise self.error(
                    f"unknown line {ref.text!r}: the header chip has no line of that name "
                    "(gpioinfo lists them): write it as GPIOn, pinN or a name it lists",
                    *where,
                )
            if offset in used:
                raise self.error(_twice(describe_gpio(offset), self, used[offset], where), *where)
            used[offset] = where
            result[jumper][sig] = offset
        return result

    def entries(self) -> list[tuple[bool, str, LineRef, tuple[str, ...]]]:
        """Every header line the file writes: ``(is a jumper's, signal, line, where)``."""
        found: list[tuple[bool, str, LineRef, tuple[str, ...]]] = [
            (False, sig, ref, ("signals", sig, "line")) for sig, ref in self.lines.items()
        ]
        found += [(True, sig, j.line, ("jumpers", sig, j.kind)) for sig, j in self.jumpers.items()]
        return found


def _table_of(where: Sequence[str]) -> str:
    """``signals.led`` for a place in a NAME table, ``rig`` for the [rig] table."""
    depth = 2 if where and where[0] in ("signals", "jumpers") else 1
    return ".".join(where[:depth])


def _prefix(path: Path, lineno: int, where: Sequence[str]) -> str:
    place = f"{path}:{lineno}" if lineno else f"{path}"
    table = _table_of(where)
    return f"{place}: [{table}] " if table else f"{place}: "


def _twice(line: str, rig: RigFile, first: Sequence[str], second: Sequence[str]) -> str:
    a = f"[{_table_of(first)}] (line {rig.lineno(*first)})"
    b = f"[{_table_of(second)}] (line {rig.lineno(*second)})"
    return (
        f"line {line} is used twice: by {a} and by {b}; a header line can serve only one "
        "purpose: choose another line for one of them"
    )
