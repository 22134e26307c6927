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
import errno
import os
import re
import stat
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal, final

from gpiocore._errors import InvalidSettingError
from gpiocore._types import Bias
from gpiosim._errors import InvalidNameError
from gpiosim._piboard import (
    HEADER_GPIOS,
    Board,
    LineRef,
    LineSpecError,
    board_by_key,
    describe_gpio,
    parse_line,
)
from gpiosim._rig import Signal

__all__ = [
    "Jumper",
    "JumperKind",
    "RigFile",
    "RigFileError",
    "load_rig",
    "load_rig_signals",
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


class RigFileError(InvalidSettingError):
    """A rig file that cannot be used; the message names the file, the line and the fix.

    Attributes:
        path: the rig file, when known.
        lineno: the 1-based line of the mistake, when known.
    """

    def __init__(
        self, message: str, *, path: Path | None = None, lineno: int | None = None
    ) -> None:
        super().__init__(message)
        self.path = path
        self.lineno = lineno


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


# -- locating tables and keys in the text ---------------------------------------------


def _split_key(text: str) -> tuple[str, ...]:
    parts = re.findall(r'"[^"]*"|\'[^\']*\'|[^.]+', text)
    return tuple(p.strip().strip("\"'") for p in parts if p.strip())


def _locate(text: str) -> dict[tuple[str, ...], int]:
    """Map each table (``("signals", "led")``) and key (``(..., "line")``) to its line."""
    found: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            table = _split_key(line.lstrip("[").split("]", 1)[0])
            for i in range(1, len(table) + 1):  # [signals.led] also opens [signals]
                found.setdefault(table[:i], lineno)
            continue
        match = re.match(r"""^((?:"[^"]*"|'[^']*'|[A-Za-z0-9_\-. ])+?)\s*=""", line)
        if match is None:
            continue
        key = table + _split_key(match[1])
        for i in range(len(table) + 1, len(key) + 1):  # dotted keys define their tables
            found.setdefault(key[:i], lineno)
        rest = line[match.end() :]
        if rest.lstrip().startswith("{"):  # an inline table: its keys are on this line
            for inner in re.findall(r"([A-Za-z0-9_-]+)\s*=", rest):
                found.setdefault((*key, inner), lineno)
    return found


# -- loading ----------------------------------------------------------------------------


def load_rig(path: str | os.PathLike[str]) -> RigFile:
    """Read and check a rig file.

    Everything that can be judged from the file alone is checked here: the form of
    each table, the numbering of every line, power and ground pins, a line used twice,
    jumpers that join two outputs or two inputs, and (for a bench rig) a signal
    without its jumper or a line off the header. Line names are checked against the
    board's published names when ``[rig] board`` is given, else when the chip is found.

    Raises:
        RigFileError: the file is missing, is not TOML, or breaks one of those rules;
            the message starts ``FILE:LINE:``.
    """
    if not isinstance(path, str | os.PathLike) or not os.fspath(path):
        raise RigFileError(f"a rig file is given by its path, not {path!r}: e.g. 'bench.toml'")
    file = Path(path)
    try:
        text = _read_text(file)
    except FileNotFoundError:
        raise RigFileError(f"no rig file at {file}: check the --rig path", path=file) from None
    except IsADirectoryError:
        raise RigFileError(f"{file} is a folder: give the rig file's path", path=file) from None
    except UnicodeDecodeError as exc:
        raise RigFileError(
            f"{file}: not UTF-8 text (byte {exc.start}): save the rig file as UTF-8", path=file
        ) from None
    except OSError as exc:  # no permission, an I/O error
        raise RigFileError(f"cannot read rig file {file}: {exc.strerror}", path=file) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RigFileError(f"{file}: not valid TOML ({exc})", path=file) from None
    except RecursionError:  # tomllib recurses into nested arrays and inline tables
        raise RigFileError(f"{file}: values nested too deeply for a rig file", path=file) from None
    return _Parser(file, data, _locate(text)).parse()


def _read_text(file: Path) -> str:
    """The file's text, read only if it is a regular file of at most MAX_RIG_FILE_BYTES."""
    # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
    fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with open(fd, "rb") as f:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(file))
        if not stat.S_ISREG(mode):
            raise RigFileError(
                f"{file} is not a regular file (a device, FIFO or socket): "
                "give the rig file's path",
                path=file,
            )
        data = f.read(MAX_RIG_FILE_BYTES + 1)
    if len(data) > MAX_RIG_FILE_BYTES:
        raise RigFileError(
            f"{file} is larger than {MAX_RIG_FILE_BYTES // 1024} KiB, too large for a rig "
            "file: check the --rig path",
            path=file,
        )
    # TOML is UTF-8, whatever the locale says; newlines as text mode would read them.
    return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def load_rig_signals(path: str | os.PathLike[str]) -> list[Signal]:
    """Read the ``[signals]`` of a rig file (checked as :func:`load_rig` does).

    Broadcom numbers, header pins and Quick2Wire pins become offsets on the default
    (header) chip; other strings stay line names.

    Raises:
        RigFileError: the file is missing, is not TOML, or a table is malformed.
    """
    return list(load_rig(path).signals)


@final
class _Parser:
    def __init__(self, path: Path, data: dict[str, object], where: dict[tuple[str, ...], int]):
        self.path = path
        self.data = data
        self.where = where

    def fail(self, message: str, *where: str) -> RigFileError:
        lineno = 0
        path = where
        while path and not lineno:
            lineno = self.where.get(path, 0)
            path = path[:-1]
        return RigFileError(
            _prefix(self.path, lineno, where) + message, path=self.path, lineno=lineno or None
        )

    def table(self, value: object, what: str, keys: Sequence[str], *where: str) -> dict:
        if not isinstance(value, dict):
            raise self.fail(f"must be a table ({what}), not {value!r}", *where)
        for key in value:
            if key not in keys:
                raise self.fail(f"unknown key {key!r}: use {', '.join(keys)}", *where, key)
        return value

    def parse(self) -> RigFile:
        for key in self.data:
            if key not in _TOP_TABLES:
                raise self.fail(
                    f"unknown table [{key}]: a rig file has [rig], [signals.NAME] and "
                    "[jumpers.NAME]",
                    key,
                )
        name, board, chip = self.rig_table()
        signals, lines = self.signals(board)
        jumpers = self.jumpers(signals, board)
        draft = RigFile(
            self.path,
            name,
            board,
            chip,
            tuple(signals.values()),
            MappingProxyType(lines),
            MappingProxyType(jumpers),
            MappingProxyType(dict(self.where)),
        )
        self.no_line_twice(draft)
        if jumpers:
            self.bench_rules(draft)
        return draft

    def rig_table(self) -> tuple[str, Board | None, str | None]:
        spec = self.table(self.data.get("rig", {}), "name, board, chip", _RIG_KEYS, "rig")
        name = spec.get("name", self.path.stem)
        try:
            validate_rig_name(name)
        except InvalidNameError as exc:
            fix = " (set [rig] name)" if "name" not in spec else ""
            raise self.fail(f"{exc}{fix}", "rig", "name") from None
        board = None
        if "board" in spec:
            try:
                board = board_by_key(spec["board"])
            except InvalidSettingError as exc:
                raise self.fail(str(exc), "rig", "board") from None
        chip = spec.get("chip")
        if chip is not None and (not isinstance(chip, str) or not chip):
            raise self.fail(f"chip must be a chip label, name or path, not {chip!r}", "rig", "chip")
        return name, board, chip

    def signals(self, board: Board | None) -> tuple[dict[str, Signal], dict[str, LineRef]]:
        table = self.data.get("signals")
        if not isinstance(table, dict) or not table:
            raise self.fail("no [signals.NAME] tables: name at least one signal", "signals")
        signals: dict[str, Signal] = {}
        lines: dict[str, LineRef] = {}
        for name, raw in table.items():
            where = ("signals", name)
            spec = self.table(raw, "with line and role", _SIGNAL_KEYS, *where)
            line = spec.get("line")
            if not isinstance(line, str | int) or isinstance(line, bool):
                raise self.fail(f"line must be a line name or offset, not {line!r}", *where, "line")
            role = spec.get("role")
            if role not in ("input", "output"):
                raise self.fail(f"role must be 'input' or 'output', not {role!r}", *where, "role")
            active_low = spec.get("active_low", False)
            if not isinstance(active_low, bool):
                raise self.fail(
                    f"active_low must be true or false, not {active_low!r}", *where, "active_low"
                )
            chip = spec.get("chip")
            if chip is not None and not isinstance(chip, str):
                raise self.fail(f"chip must be a chip name, not {chip!r}", *where, "chip")
            if chip is None:
                try:
                    ref = parse_line(line)
                except LineSpecError as exc:
                    raise self.fail(str(exc), *where, "line") from None
                if board is not None and board.line_names is not None:
                    ref = self.by_board(ref, board, *where, "line")
                lines[name] = ref
                line = ref.gpio if ref.gpio is not None else line
            try:
                signals[name] = Signal(name, line, role, active_low, chip)
            except InvalidSettingError as exc:  # the Signal's own rules (a name with spaces)
                raise self.fail(str(exc), *where) from None
        return signals, lines

    def by_board(self, ref: LineRef, board: Board, *where: str) -> LineRef:
        names = board.line_names or ()
        if ref.gpio is not None:
            if ref.gpio >= board.num_lines:
                raise self.fail(
                    f"unknown line {ref.text!r}: the {board.title}'s header chip has lines "
                    f"GPIO0-GPIO{board.num_lines - 1}",
                    *where,
                )
            return ref
        if ref.name not in names:
            raise self.fail(
                f"unknown line {ref.text!r}: the {board.title}'s header chip has no line of "
                "that name (gpioinfo lists them): write it as GPIOn, pinN or a listed name",
                *where,
            )
        return dataclasses.replace(ref, gpio=names.index(ref.name))

    def jumpers(self, signals: Mapping[str, Signal], board: Board | None) -> dict[str, Jumper]:
        table = self.data.get("jumpers", {})
        if not isinstance(table, dict):
            raise self.fail(f"[jumpers] must hold [jumpers.NAME] tables, not {table!r}", "jumpers")
        found: dict[str, Jumper] = {}
        for name, raw in table.items():
            where = ("jumpers", name)
            spec = self.table(raw, "with stimulus or probe", _JUMPER_KEYS, *where)
            if name not in signals:
                raise self.fail(
                    f"no signal {name!r} to wire: a jumper is named after the signal it "
                    f"serves ({', '.join(signals)})",
                    *where,
                )
            sig = signals[name]
            kinds = [k for k in ("stimulus", "probe") if k in spec]
            if len(kinds) != 1:
                raise self.fail(
                    "give exactly one of stimulus (a rig output wired to a program input) "
                    "or probe (a rig input wired to a program output)",
                    *where,
                )
            kind: JumperKind = kinds[0]  # type: ignore[assignment]
            if kind == "stimulus" and sig.role == "output":
                raise self.fail(
                    f"stimulus is a rig output, but {name!r} is an output of the program: "
                    "two outputs on one wire fight (and can damage the pins); observe an "
                    "output with probe = ... instead",
                    *where,
                    kind,
                )
            if kind == "probe" and sig.role == "input":
                raise self.fail(
                    f"probe is a rig input, but {name!r} is an input of the program: "
                    "nothing would drive the wire; drive an input with stimulus = ... instead",
                    *where,
                    kind,
                )
            try:
                ref = parse_line(spec[kind])
            except LineSpecError as exc:
                raise self.fail(str(exc), *where, kind) from None
            if board is not None and board.line_names is not None:
                ref = self.by_board(ref, board, *where, kind)
            bias_word = spec.get("bias", "pull-down")
            if kind == "stimulus" and "bias" in spec:
                raise self.fail(
                    "bias applies to a probe; a stimulus drives its line and needs none",
                    *where,
                    "bias",
                )
            if bias_word not in _BIASES:
                raise self.fail(
                    f"bias must be one of {', '.join(_BIASES)}, not {bias_word!r}", *where, "bias"
                )
            lineno = self.where.get((*where, kind)) or self.where.get(where, 0)
            found[name] = Jumper(name, kind, ref, _BIASES[bias_word], lineno)
        return found

    def no_line_twice(self, rig: RigFile) -> None:
        seen: dict[str, tuple[str, ...]] = {}
        for _, _, ref, where in rig.entries():
            key = ref.key()
            if key in seen:
                raise self.fail(_twice(str(ref), rig, seen[key], where), *where)
            seen[key] = where

    def bench_rules(self, rig: RigFile) -> None:
        for sig in rig.signals:
            where: tuple[str, ...] = ("signals", sig.name)
            if sig.chip is not None:
                raise self.fail(
                    "a bench rig's signals are header lines: remove chip (set [rig] chip "
                    "to choose the header chip)",
                    *where,
                    "chip",
                )
            if sig.name not in rig.jumpers:
                other = "stimulus" if sig.role == "input" else "probe"
                raise self.fail(
                    f"{sig.name!r} has no jumper: add [jumpers.{sig.name}] with "
                    f'{other} = "GPIOn", a free header GPIO wired to its pin',
                    *where,
                )
        for _, _, ref, where in rig.entries():
            if ref.gpio is not None and ref.gpio not in HEADER_GPIOS:
                raise self.fail(
                    f"{ref.text!r} (GPIO{ref.gpio}) is not on the 40-pin header, so no "
                    "jumper can reach it: use one of GPIO0-GPIO27",
                    *where,
                )
