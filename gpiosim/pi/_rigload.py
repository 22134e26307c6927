"""Loading a rig file: read safely (no FIFO, no device, at most 1 MiB), parse the TOML, check
every table and key, and name each mistake with its file and line.
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
from typing import final

from gpiocore import InvalidSettingError
from gpiosim._errors import InvalidNameError, LineSpecError, RigFileError
from gpiosim.pi._board import HEADER_GPIOS, Board, LineRef, board_by_key, parse_line
from gpiosim.pi._rigfile import (
    _BIASES,
    _JUMPER_KEYS,
    _RIG_KEYS,
    _SIGNAL_KEYS,
    _TOP_TABLES,
    MAX_RIG_FILE_BYTES,
    Jumper,
    JumperKind,
    RigFile,
    _prefix,
    _twice,
    validate_rig_name,
)
from gpiosim.rig._signal import Signal

__all__ = [
    "load_rig",
    "load_rig_signals",
]


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
