"""``gpiosim bench --plot FILE.png``: the latency distributions and the throughput/loss
curves of a run, drawn with matplotlib (the optional extra ``plot``).

Drawn from the run's JSON only (see :func:`draw`), so a saved ``results/bench.json``
can be drawn again without measuring (``--from``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from gpiocore import InvalidSettingError
from gpiosim._atomicwrite import write_file_atomic

__all__ = ["PLOT_EXTRA", "check_plotting", "draw", "load_results"]

PLOT_EXTRA: Final = "pip install 'gpiorig[plot]'"


def _matplotlib_figure() -> Any:
    """matplotlib's ``Figure`` class, on the non-interactive Agg canvas.

    Raises:
        InvalidSettingError: matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display needed; the picture goes to a file
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise InvalidSettingError(
            f"--plot needs matplotlib, which is not installed here ({exc}): {PLOT_EXTRA}"
        ) from exc
    return Figure


def check_plotting(path: Path) -> None:
    """Check, before a run of minutes, that a picture can be drawn into ``path``.

    Raises:
        InvalidSettingError: matplotlib is missing, or ``path`` is not a ``.png`` file
            name, or its folder cannot be written.
    """
    _matplotlib_figure()
    if path.suffix.lower() != ".png":
        raise InvalidSettingError(f"--plot draws a PNG: give a name ending in .png, not {path}")
    if path.is_dir():
        raise InvalidSettingError(f"--plot {path} is a folder: give a file name, e.g. bench.png")
    probe = path.resolve().parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise InvalidSettingError(f"cannot write the picture {path}: {probe} is not a folder")


def load_results(path: Path) -> dict[str, Any]:
    """A saved run's JSON (``results/bench.json``), checked to be a bench run's.

    Raises:
        InvalidSettingError: the file is missing, not JSON, or not a bench run's JSON.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidSettingError(
            f"cannot read the bench JSON {path}: {exc.strerror}: give the file a run "
            "wrote (default results/bench.json)"
        ) from exc
    except ValueError as exc:
        raise InvalidSettingError(f"{path} is not JSON ({exc}): give a bench run's JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("sections"), list):
        raise InvalidSettingError(
            f"{path} is not a bench run's JSON (no 'sections'): give the file "
            "`gpiosim bench` wrote (default results/bench.json)"
        )
    return data


def _section(data: dict[str, Any], key: str) -> dict[str, Any] | None:
    for section in data.get("sections", []):
        if section.get("key") == key:
            return section
    return None


def _latency_cdf(ax: Any, section: dict[str, Any] | None) -> None:
    ax.set_title("Edge to handler latency (CDF)")
    drawn = 0
    for row in (section or {}).get("rows", []):
        samples: Sequence[float] = row.get("extra", {}).get("samples_ns") or []
        if not samples:
            continue
        xs = sorted(s / 1e3 for s in samples)
        ys = [(i + 1) / len(xs) for i in range(len(xs))]
        floor = row["name"].startswith("kernel")
        ax.step(xs, ys, where="post", label=row["name"], linestyle="--" if floor else "-")
        drawn += 1
    if drawn:
        ax.set_xscale("log")
        ax.legend(fontsize="x-small", loc="lower right")
    else:
        ax.text(0.5, 0.5, "no latency samples in this run", ha="center", transform=ax.transAxes)
    ax.set_xlabel("latency, pull write -> handler (µs, log)")
    ax.set_ylabel("fraction of edges")
    ax.grid(True, which="both", alpha=0.3)


def _throughput_points(section: dict[str, Any] | None) -> dict[str, list[tuple[float, Any]]]:
    """Contender name to its (writer's measured rate, row figures), by rate."""
    points: dict[str, list[tuple[float, Any]]] = {}
    for row in (section or {}).get("rows", []):
        figures = row.get("figures", {})
        written = figures.get("written_per_s")
        if written is None or figures.get("handled_per_s") is None:
            continue
        points.setdefault(row["name"], []).append((written, figures))
    for values in points.values():
        values.sort(key=lambda p: p[0])
    return points


def _throughput(ax_rate: Any, ax_loss: Any, section: dict[str, Any] | None) -> None:
    ax_rate.set_title("Edges handled against the writer's rate")
    ax_loss.set_title("Edges lost against the writer's rate")
    points = _throughput_points(section)
    for name, values in points.items():
        xs = [x for x, _ in values]
        ax_rate.plot(xs, [f["handled_per_s"] for _, f in values], marker="o", label=name)
        ax_loss.plot(xs, [f.get("lost_pct") or 0.0 for _, f in values], marker="o", label=name)
    for ax, label in ((ax_rate, "edges handled/s"), (ax_loss, "edges lost (%)")):
        ax.set_xlabel("writer's rate, measured (edges/s, log; rightmost: flat out)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        if points:
            ax.set_xscale("log")
            ax.legend(fontsize="x-small", loc="upper left")
        else:
            ax.text(
                0.5, 0.5, "no throughput figures in this run", ha="center", transform=ax.transAxes
            )


def draw(data: dict[str, Any], path: Path) -> Path:
    """Draw a run's latency CDFs and throughput/loss curves into the PNG ``path``.

    Args:
        data: the run's JSON (:func:`gpiosim.bench._driver.run_bench`'s result, or
            :func:`load_results` of a saved one); latency rows carry their samples in
            ``extra["samples_ns"]``.
        path: the PNG to write (through a temporary name).

    Returns:
        ``path``.

    Raises:
        InvalidSettingError: matplotlib is not installed.
    """
    figure_class = _matplotlib_figure()
    fig = figure_class(figsize=(16, 5.5), layout="constrained")
    ax_lat, ax_rate, ax_loss = fig.subplots(1, 3)
    _latency_cdf(ax_lat, _section(data, "latency"))
    _throughput(ax_rate, ax_loss, _section(data, "throughput"))
    meta = data.get("meta", {})
    fig.suptitle(
        f"gpiosim bench ({meta.get('sizes', '?')}), {meta.get('date', '?')}\n"
        f"{meta.get('machine', '')}",
        fontsize="small",
    )
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=110)
    return write_file_atomic(path, png.getvalue())
