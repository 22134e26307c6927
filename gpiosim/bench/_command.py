"""The ``gpiosim bench`` command line: its options and what they run.

``gpiosim/_cli.py`` adds these options to its ``bench`` subcommand; ``python -m
gpiosim.bench`` is the same command on its own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gpiocore import InvalidSettingError
from gpiosim.bench import _driver
from gpiosim.bench._common import DEFAULT_JSON, SECTIONS
from gpiosim.bench._plot import check_plotting, draw, load_results

__all__ = ["add_bench_arguments", "bench_command"]

DESCRIPTION = (
    "Edge latency, throughput and bursts, and value reads/writes on the real gpio-sim "
    "module (in one guest), timer accuracy, idle cost, fake backend speed and guest "
    "overhead, against bare gpiod, python-periphery and gpiozero: one table of absolute "
    "figures and ratios, also written as JSON."
)


def add_bench_arguments(p: argparse.ArgumentParser) -> None:
    """Add the ``bench`` options to ``p``."""
    p.add_argument("--quick", action="store_true", help="few samples (CI): under a minute")
    p.add_argument(
        "--json",
        metavar="PATH",
        help="where to write the JSON (default: results/bench.json in the checkout)",
    )
    p.add_argument(
        "--cold",
        action="store_true",
        help="also build a guest kernel from nothing into a temporary cache (minutes)",
    )
    p.add_argument(
        "--no-guest",
        action="store_true",
        help="skip the parts that need gpio-sim and the guest",
    )
    p.add_argument(
        "--only",
        metavar="SECTIONS",
        help=f"comma-separated: {','.join(SECTIONS)} (default: all)",
    )
    p.add_argument(
        "--plot",
        metavar="FILE.png",
        help="also draw the latency CDFs and throughput/loss curves (needs the `plot` extra)",
    )
    p.add_argument(
        "--from",
        dest="from_json",
        metavar="JSON",
        help="with --plot: draw from this saved run's JSON instead of measuring",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def _log(line: str) -> None:
    print(f"gpiosim: {line}", file=sys.stderr)


def bench_command(args: argparse.Namespace) -> int:
    """Run ``gpiosim bench`` with parsed options; the exit status."""
    plot = Path(args.plot) if args.plot else None
    if args.from_json:
        if plot is None:
            _log("bench: --from JSON draws a saved run: give --plot FILE.png too")
            return 2
        try:
            check_plotting(plot)
            draw(load_results(Path(args.from_json)), plot)
        except (InvalidSettingError, OSError) as exc:
            _log(f"bench: {exc}")
            return 2
        if not args.quiet:
            _log(f"bench: drew {plot} from {args.from_json}")
        return 0
    only = SECTIONS if args.only is None else tuple(args.only.split(","))
    json_path = Path(args.json) if args.json else Path.cwd() / DEFAULT_JSON
    try:
        _driver.check_json_path(json_path)  # now, not after a run of minutes
    except InvalidSettingError as exc:
        _log(f"bench: --json: {exc}")
        return 2
    try:
        if plot is not None:
            check_plotting(plot)
    except InvalidSettingError as exc:
        _log(f"bench: {exc}")  # the message names --plot
        return 2
    try:
        _driver.run_bench(
            quick=args.quick,
            json_path=json_path,
            cold=args.cold,
            guest=not args.no_guest,
            only=only,
            plot=plot,
            progress=not args.quiet,
        )
    except (OSError, ValueError, RuntimeError) as exc:
        _log(f"bench: {exc}")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m gpiosim.bench``: the same as ``gpiosim bench``."""
    p = argparse.ArgumentParser(prog="gpiosim bench", description=DESCRIPTION)
    add_bench_arguments(p)
    return bench_command(p.parse_args(argv))
