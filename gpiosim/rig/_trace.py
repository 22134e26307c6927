"""Traces of a rig's record: a compact text timing diagram, and VCD for GTKWave."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from gpiocore import InvalidSettingError
from gpiosim._atomicwrite import write_file_atomic
from gpiosim.rig._rig import Rig
from gpiosim.rig._signal import Transition

__all__ = ["timing_diagram", "trace_since_mark", "write_vcd"]

_HIGH, _LOW, _RISE, _FALL = "▔", "▁", "/", "\\"


def _check_record(transitions: object, initial: object) -> None:
    if isinstance(transitions, str | bytes) or not isinstance(transitions, Sequence):
        raise InvalidSettingError(
            f"transitions must be a list of Transition, not {transitions!r}: pass rig.transitions()"
        )
    for tr in transitions:
        if not isinstance(tr, Transition):
            raise InvalidSettingError(
                f"transitions must hold Transition records, not {tr!r}: pass rig.transitions()"
            )
    if not isinstance(initial, Mapping):
        raise InvalidSettingError(
            f"initial must map signal names to levels, not {initial!r}: pass rig.initial_levels()"
        )


def timing_diagram(
    transitions: Sequence[Transition],
    initial: Mapping[str, bool],
    *,
    width: int = 72,
    end_ns: int | None = None,
    start_ns: int = 0,
) -> str:
    """Render transitions as one text row per signal, then the list of events.

    Args:
        transitions: the record, oldest first (``rig.transitions(since=mark)``).
        initial: each signal's level at ``start_ns`` (its order is the row order):
            ``rig.initial_levels(since=mark)``.
        width: columns of the waveform.
        end_ns: where the time axis ends, counted from ``start_ns`` (default: just
            after the last transition).
        start_ns: the record's time that is 0 on the axis and in the list (a mark's
            ``t_ns``); earlier transitions count as at 0.

    Returns:
        The diagram; every transition is also listed with its exact time.
    """
    _check_record(transitions, initial)
    if isinstance(start_ns, bool) or not isinstance(start_ns, int) or start_ns < 0:
        raise InvalidSettingError(
            f"start_ns must be a time in the record (ns, 0 or more), not {start_ns!r}: "
            "e.g. mark.t_ns"
        )
    if start_ns:
        transitions = [
            Transition(max(tr.t_ns - start_ns, 0), tr.signal, tr.level, tr.source)
            for tr in transitions
        ]
    names = list(initial)
    last = max((tr.t_ns for tr in transitions), default=0)
    end = max(end_ns or 0, last + max(last // 20, 1_000_000))
    label = max((len(n) for n in names), default=4)
    rows = []
    for name in names:
        level = initial[name]
        cells = []
        events = [tr for tr in transitions if tr.signal == name]
        i = 0
        for col in range(width):
            t_hi = (col + 1) * end // width
            changed = None
            while i < len(events) and events[i].t_ns < t_hi:
                changed = events[i].level
                level = events[i].level
                i += 1
            if changed is None:
                cells.append(_HIGH if level else _LOW)
            else:
                cells.append(_RISE if changed else _FALL)
        rows.append(f"{name:>{label}} {''.join(cells)}")
    axis = f"{'':>{label}} 0 s{'':>{max(width - 12, 1)}}{end / 1e9:.3f} s"
    lines = [axis, *rows, ""]
    lines += [
        f"  {tr.t_ns / 1e9:10.6f} s  {tr.signal:<{label}} -> {int(tr.level)}  ({tr.source})"
        for tr in transitions
    ]
    return "\n".join(lines)


def write_vcd(
    path: str | os.PathLike[str],
    transitions: Sequence[Transition],
    initial: Mapping[str, bool],
    *,
    scope: str = "rig",
    trusted: str | os.PathLike[str] | None = None,
) -> Path:
    """Write the record as a VCD file (1 ns timescale) that GTKWave opens.

    The file is written under a temporary name and renamed, so a symbolic link at
    ``path`` is replaced rather than written through.

    Args:
        path: the VCD file.
        transitions: the record, oldest first.
        initial: each signal's level at time 0.
        scope: the VCD scope of the signals.
        trusted: a folder taken as it is; the folders below it down to the file are
            made if missing and must not be symbolic links (default: the file's folder).

    Returns:
        The path written.

    Raises:
        UnsafePathError: (a PermissionError) a folder below ``trusted`` is a link.
        OSError: the file cannot be written.
    """
    from vcd import VCDWriter  # pyvcd

    _check_record(transitions, initial)
    text = io.StringIO()
    with VCDWriter(text, timescale="1 ns", date="today") as writer:
        variables = {
            name: writer.register_var(scope, name, "wire", size=1, init=int(level))
            for name, level in initial.items()
        }
        for tr in sorted(transitions, key=lambda t: t.t_ns):
            writer.change(variables[tr.signal], tr.t_ns, int(tr.level))
    write_file_atomic(path, text.getvalue(), trusted=trusted)
    return Path(path)


def trace_since_mark(rig: Rig) -> str:
    """The text trace a failing test shows: the timing diagram since the rig's last mark.

    Its time axis starts at the mark (0 s); a first line says which mark, when it was on
    the rig's record, and how many earlier transitions only the VCD file holds.
    """
    mark = rig.last_mark
    if mark is None:
        return timing_diagram(rig.transitions(), rig.initial_levels())
    shown = rig.transitions(since=mark)
    earlier = len(rig.transitions()) - len(shown)
    head = (
        f"since {mark.label!r} at {mark.t:.6f} s of the rig's record (0 s below); "
        f"{earlier} earlier transition{'' if earlier == 1 else 's'} in the VCD only"
    )
    diagram = timing_diagram(shown, rig.initial_levels(since=mark), start_ns=mark.t_ns)
    return f"{head}\n{diagram}"
