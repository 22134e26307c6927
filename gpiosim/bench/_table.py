"""The results of ``gpiosim bench``: sections of rows, their ratios, and the table.

A :class:`Section` holds :class:`Row` s of absolute figures; its ratio column is
computed from those figures (to a baseline row of the same group, or to another column
of the same row), so the ratios printed can never disagree with the figures printed.
"""

from __future__ import annotations

import dataclasses
import io
import math
import statistics
from collections.abc import Sequence
from typing import Any

__all__ = ["Column", "Row", "Section", "format_table", "median", "p99"]


@dataclasses.dataclass(frozen=True)
class Column:
    """One figure column of a section.

    Attributes:
        key: the figure's key in :attr:`Row.figures`.
        header: the table header.
        unit: ``ns`` (shown as ns/µs/ms/s), ``ns_ms`` (ns shown as ms), ``s``,
            ``per_s``, ``pct``, ``count`` or ``int`` (a whole number, e.g. edges).
    """

    key: str
    header: str
    unit: str


@dataclasses.dataclass
class Row:
    """One contender's figures in a section.

    Attributes:
        name: what was measured.
        figures: column key to value (None: not measured).
        group: rows are compared within their group (e.g. one burst rate).
        baseline: this row is its group's baseline.
        ratio: the section's ratio (see :attr:`Section.ratio_of`); None if not defined.
        n: how many samples the figures rest on.
        note: why a figure is missing, or what to know about it.
        extra: further raw figures for the JSON.
    """

    name: str
    figures: dict[str, float | None]
    group: str = ""
    baseline: bool = False
    ratio: float | None = None
    n: int = 0
    note: str = ""
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Section:
    """One section of the table.

    Attributes:
        key: one of :data:`SECTIONS`.
        title: the table title.
        columns: the figure columns.
        ratio_of: the column whose ratio is shown.
        ratio_den: if set, the ratio is ``figures[ratio_of] / figures[ratio_den]`` of the
            same row; else it is to the group's baseline row's ``figures[ratio_of]``.
        ratio_label: what the ratio means, in words.
        rows: the rows, in table order.
        notes: remarks printed under the section.
    """

    key: str
    title: str
    columns: list[Column]
    ratio_of: str
    ratio_label: str
    rows: list[Row] = dataclasses.field(default_factory=list)
    ratio_den: str | None = None
    notes: list[str] = dataclasses.field(default_factory=list)

    def compute_ratios(self) -> None:
        """Fill in every row's ratio from the absolute figures."""
        bases = {r.group: r for r in self.rows if r.baseline}
        for row in self.rows:
            num = row.figures.get(self.ratio_of)
            if self.ratio_den is not None:
                den = row.figures.get(self.ratio_den)
            else:
                base = bases.get(row.group)
                den = None if base is None else base.figures.get(self.ratio_of)
            row.ratio = None if num is None or not den else num / den

    def to_dict(self) -> dict[str, Any]:
        """The section as plain JSON data."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Section:
        """Rebuild a section from :meth:`to_dict`'s output (e.g. the guest's JSON)."""
        fields = dict(data)
        fields["columns"] = [Column(**c) for c in data["columns"]]
        fields["rows"] = [Row(**r) for r in data["rows"]]
        return cls(**fields)


# --------------------------------------------------------------------------- statistics


def median(values: Sequence[float]) -> float | None:
    """The median, or None for no values."""
    return statistics.median(values) if values else None


def p99(values: Sequence[float]) -> float | None:
    """The 99th percentile by nearest rank (the maximum below 100 values), or None."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


# ---------------------------------------------------------------------------- the table


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit in ("ns", "ns_ms"):
        if unit == "ns_ms":
            return f"{value / 1e6:.1f} ms"
        mag = abs(value)
        if mag < 1e3:
            return f"{value:.0f} ns"
        if mag < 1e6:
            return f"{value / 1e3:.0f} µs"
        if mag < 1e9:
            return f"{value / 1e6:.2f} ms"
        return f"{value / 1e9:.2f} s"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "per_s":
        return f"{value:,.0f}/s" if value >= 100 else f"{value:.2f}/s"
    if unit == "pct":
        return f"{value:.1f}%"
    if unit == "int":
        return f"{value:,.0f}"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"


def _fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "-"
    if ratio == 0 or 0.01 <= abs(ratio) < 100:
        return f"{ratio:.2f}x"
    return f"{ratio:,.0f}x" if abs(ratio) >= 100 else f"{ratio:.1g}x"


def format_table(sections: Sequence[Section], meta: dict[str, Any]) -> str:
    """The one table of the run, as text (see :func:`run_bench`)."""
    out = io.StringIO()
    print(
        f"gpiosim bench ({meta.get('sizes', '?')}), {meta.get('date', '?')}: "
        f"{meta.get('machine', '?')}",
        file=out,
    )
    name_w, fig_w = 52, 11
    for number, section in enumerate(sections, 1):
        print(file=out)
        print(f"{number}. {section.title}", file=out)
        print(f"   ratio: {section.ratio_label}", file=out)
        head = "".join(f"{c.header:>{fig_w}}" for c in section.columns)
        print(f"   {'':<{name_w}}{head}{'ratio':>9}{'n':>7}  note", file=out)
        group = None
        said: set[str] = set()
        for row in section.rows:
            if row.group != group and row.group:
                print(f"   [{row.group}]", file=out)
            group = row.group
            figs = "".join(
                f"{_fmt(row.figures.get(c.key), c.unit):>{fig_w}}" for c in section.columns
            )
            mark = "*" if row.baseline else " "
            name = row.name if len(row.name) <= name_w - 2 else row.name[: name_w - 3] + "…"
            # A long reason repeats on every row of a contender: say it once a section.
            note = "(as above)" if len(row.note) > 40 and row.note in said else row.note
            said.add(row.note)
            print(
                f"   {mark}{name:<{name_w - 1}}{figs}{_fmt_ratio(row.ratio):>9}"
                f"{row.n or '':>7}  {note}".rstrip(),
                file=out,
            )
        for note in section.notes:
            print(f"   note: {note}", file=out)
    print(file=out)
    print("   * the baseline of its group; ratios are from the figures shown", file=out)
    return out.getvalue()
