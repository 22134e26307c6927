"""The benchmark's functions, run quick on the fake backend: structure, never timings.

What is checked is that every section has its keys, every figure is a finite number or
None with a reason, and every ratio is the one its absolute figures give, so that
``gpiosim bench`` cannot rot between the runs that produce the published table.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import re
import sys
from pathlib import Path

import pytest

from gpiocore import InvalidSettingError
from gpiocore.testing import FakeBackend
from gpiosim._cli import main as cli_main
from gpiosim.bench import (
    _bursts,
    _common,
    _fake,
    _idle,
    _latency,
    _table,
    _throughput,
    _timers,
    _values,
)
from gpiosim.bench import _driver as bench
from gpiosim.bench._command import main as bench_command_main
from gpiosim.bench._contenders import make_contender
from gpiosim.bench._peers import lineup
from gpiosim.bench._sources import CONTENDERS, writer_main

TINY = dataclasses.replace(
    _common.QUICK,
    latency_rounds=2,
    latency_edges=3,
    latency_gap_s=(0.0005, 0.001),
    burst_edges=8,
    burst_rates=(0, 2000),
    timer_samples=3,
    timer_offset_s=0.002,
    idle_s=0.2,
    fake_cycles=2,
)
GPIOCORE = {"selector", "epoll"}


def check_section(section: _table.Section) -> None:
    """Keys present, figures finite or explained, ratios those of the figures."""
    assert section.key in _common.SECTIONS
    assert section.title and section.ratio_label and section.rows
    keys = {c.key for c in section.columns}
    assert section.ratio_of in keys
    assert section.ratio_den is None or section.ratio_den in keys
    bases = {}
    for row in section.rows:
        assert row.name
        assert set(row.figures) == keys, row.name
        for value in row.figures.values():
            assert value is None or (isinstance(value, float | int) and math.isfinite(value))
        if all(v is None for v in row.figures.values()):
            assert row.note, f"{row.name}: no figures and no reason"
        if row.baseline:
            assert row.group not in bases, f"two baselines in group {row.group!r}"
            bases[row.group] = row
    for row in section.rows:
        num = row.figures[section.ratio_of]
        if section.ratio_den is not None:
            den = row.figures[section.ratio_den]
        else:
            base = bases.get(row.group)
            den = None if base is None else base.figures[section.ratio_of]
        if num is None or not den:
            assert row.ratio is None, row.name
        else:
            assert row.ratio == pytest.approx(num / den), row.name
    for base in bases.values():
        if base.figures[section.ratio_of]:
            assert base.ratio == pytest.approx(1.0)
    again = _table.Section.from_dict(json.loads(json.dumps(section.to_dict())))
    assert again == section


def rows_by_name(section: _table.Section) -> dict[str, _table.Row]:
    return {row.name: row for row in section.rows}


@pytest.fixture
def fake_lineup():
    backend = FakeBackend()
    with lineup(backend) as entries:
        yield entries
    backend.close()


def test_lineup_on_the_fake_runs_gpiocore_and_says_why_not_the_peers(fake_lineup):
    assert [e.key for e in fake_lineup] == list(CONTENDERS)
    for entry in fake_lineup:
        if entry.key in GPIOCORE:
            assert entry.contender is not None and entry.reason is None
        else:
            assert entry.contender is None
            assert "needs a GPIO character device" in (entry.reason or "")


def test_latency_on_the_fake(fake_lineup):
    section = _latency.measure_latency(fake_lineup, TINY, where="fake", kernel_timestamps=False)
    check_section(section)
    for entry in fake_lineup:
        row = rows_by_name(section)[entry.name]
        if entry.key in GPIOCORE:
            assert row.n == TINY.latency_rounds * TINY.latency_edges
            assert row.figures["median_ns"] is not None
            assert row.figures["p99_ns"] >= row.figures["median_ns"]
        else:
            assert row.note.startswith("not measured: ")
    # no gpiod on the fake: no baseline, so no ratios rather than made-up ones
    assert all(row.ratio is None for row in section.rows)


def test_throughput_on_the_fake(fake_lineup):
    section = _throughput.measure_throughput(fake_lineup, TINY, where="fake", quiet_s=0.1)
    check_section(section)
    assert {row.group for row in section.rows} == {
        "as fast as the writer can",
        "paced at 2000/s",
    }
    for row in section.rows:
        if row.figures["handled_per_s"] is None:
            continue
        written, handled = row.extra["written"], row.extra["handled"]
        assert written == row.n == TINY.burst_rounds * TINY.burst_edges
        assert 0 <= handled <= written
        # one burst per rate (TINY): its median is its own loss
        assert row.figures["lost_pct"] == pytest.approx(100 * (written - handled) / written)


def test_timers_on_the_fake_and_on_the_real_clock():
    from gpiocore.backends import CdevBackend

    section = _timers.timer_section()
    section.rows += _timers.measure_timers(FakeBackend(), TINY, group="fake")
    real = CdevBackend(chips=[])
    try:
        section.rows += _timers.measure_timers(real, TINY, group="real")
    finally:
        real.close()
    section.compute_ratios()
    check_section(section)
    fake_ours = section.rows[0]
    assert "virtual clock" in fake_ours.name
    assert fake_ours.figures["median_ns"] == 0  # virtual time is exact
    assert all(row.n == TINY.timer_samples for row in section.rows)


def test_idle_on_the_fake_in_processes():
    section = _idle.idle_section(TINY.idle_s)
    entries = [_idle.IDLE_FLOOR, ("selector", "gpiocore Selector", None)]
    entries.append(("gpiod", "bare gpiod", "needs a chip"))
    section.rows += _idle.measure_idle("fake", entries, TINY.idle_s, group="fake", baseline="floor")
    section.compute_ratios()
    check_section(section)
    floor, selector, gpiod = section.rows
    assert floor.baseline and floor.figures["cpu_ms"] is not None, floor.note
    assert selector.figures["cpu_us_per_s"] is not None, selector.note
    assert gpiod.note == "not measured: needs a chip"


def test_fake_speed_and_the_state_machine_rate():
    section = _fake.measure_fake_speed(TINY)
    check_section(section)
    rows = rows_by_name(section)
    ours = rows["gpiocore timed_led.py, fake (2 s offset, virtual)"]
    assert ours.baseline and ours.n == TINY.fake_cycles and not ours.note
    same_offset = rows["gpiozero MockFactory (same 2 s offset, real time)"]
    assert same_offset.figures["per_s"] is None  # real 2 s waits: full run only
    short_offset = rows["gpiozero MockFactory (1 ms offset, real time)"]
    try:
        import gpiozero  # noqa: F401
    except ImportError:
        assert "gpiozero is not installed" in short_offset.note
    else:
        assert short_offset.figures["per_s"] is not None
    machine = rows["state-machine examples/s (fake)"]
    assert machine.baseline and machine.ratio == 1.0, machine
    # hypothesis may run a few more examples than asked (it counts only valid ones)
    assert machine.n >= TINY.state_machine_examples and machine.figures["per_s"] > 0, machine


def test_the_state_machine_rate_counts_the_examples_that_ran():
    from gpiocore.testing import FakeBackend

    backend = FakeBackend()
    try:
        count, seconds = _fake.measure_state_machine(backend, examples=7, steps=3)
    finally:
        backend.close()
    assert 7 <= count <= 50 and seconds > 0  # hypothesis may retry a few (invalid) ones


def test_run_bench_without_the_guest_writes_json_and_one_table(tmp_path: Path):
    out = io.StringIO()
    path = tmp_path / "bench.json"
    data = bench.run_bench(quick=True, json_path=path, guest=False, out=out, log=lambda _: None)
    assert json.loads(path.read_text()) == data
    assert [s["key"] for s in data["sections"]] == list(_common.SECTIONS)
    assert data["meta"]["sizes"] == "quick"
    table = out.getvalue()
    for raw in data["sections"]:
        section = _table.Section.from_dict(raw)
        check_section(section)
        assert section.title in table
    latency = _table.Section.from_dict(data["sections"][0])
    assert "not measured: not run (--no-guest)" in latency.rows[0].note


def test_cli_bench_runs_one_section(tmp_path: Path, capsys):
    path = tmp_path / "t.json"
    status = cli_main(["bench", "--quick", "--no-guest", "--only", "timer", "--json", str(path)])
    assert status == 0
    assert [s["key"] for s in json.loads(path.read_text())["sections"]] == ["timer"]
    assert "Timer accuracy" in capsys.readouterr().out


def test_the_json_goes_to_the_current_folder_by_default(tmp_path: Path, monkeypatch, capsys):
    # Not beside the package: installed, that is site-packages.
    monkeypatch.chdir(tmp_path)
    assert cli_main(["bench", "--quick", "--no-guest", "--only", "timer"]) == 0
    saved = json.loads((tmp_path / "results" / "bench.json").read_text())
    assert [s["key"] for s in saved["sections"]] == ["timer"]
    assert str(tmp_path / "results" / "bench.json") in capsys.readouterr().err


def test_cli_bench_checks_the_json_path_before_the_run(tmp_path: Path, capsys, monkeypatch):
    def no_run(**_: object) -> None:
        raise AssertionError("the bench ran before its --json path was checked")

    monkeypatch.setattr(bench, "run_bench", no_run)
    (tmp_path / "file").write_text("")
    for path, message in (
        (tmp_path, f"cannot write the bench JSON to {tmp_path}: it is a folder or a device"),
        (
            tmp_path / "file" / "b.json",
            f"cannot write the bench JSON to {tmp_path}/file/b.json: {tmp_path}/file is not "
            "a folder: give a path you can write, e.g. --json /tmp/bench.json",
        ),
    ):
        assert cli_main(["bench", "--no-guest", "--json", str(path)]) == 2
        assert f"gpiosim: bench: --json: {message}" in capsys.readouterr().err


def test_the_bench_json_replaces_a_planted_link(tmp_path: Path):
    outside = tmp_path / "outside.json"
    outside.write_text("keep\n")
    (tmp_path / "results").mkdir()
    path = tmp_path / "results" / "bench.json"
    path.symlink_to(outside)
    data = bench.run_bench(
        quick=True, json_path=path, guest=False, only=["guest"], out=io.StringIO(), log=print
    )
    assert outside.read_text() == "keep\n"
    assert not path.is_symlink() and json.loads(path.read_text()) == data


def test_cli_bench_rejects_an_unknown_section(capsys):
    assert cli_main(["bench", "--no-guest", "--only", "speed"]) == 1
    assert "no bench section ['speed']" in capsys.readouterr().err


def test_burst_writer_protocol(tmp_path: Path):
    target = tmp_path / "pull"
    target.write_bytes(b"")
    replies = io.StringIO()
    commands = io.StringIO(f"{target} 3 0 1\n{target} 2 1000 0\n")
    assert writer_main(commands, replies) == 0
    lines = [line.split() for line in replies.getvalue().splitlines()]
    assert len(lines) == 2
    for first, last in lines:
        assert int(first) <= int(last)
    # the last burst began low and wrote two edges: down, then up
    assert target.read_bytes().startswith(b"pull-up")


def test_percentiles():
    assert _table.median([]) is None and _table.p99([]) is None
    assert _table.p99([3, 1, 2]) == 3
    assert _table.p99(list(range(1, 201))) == 198
    assert _table.median([1, 2, 3, 10]) == 2.5


def test_an_unknown_contender_names_the_known_ones():
    with pytest.raises(ValueError, match="no contender 'rpigpio': use one of gpiod, selector"):
        make_contender("rpigpio")


# ------------------------------------------------------------------ pictures, progress


def synthetic_run() -> dict:
    """A small run's JSON: two contenders' latency samples and throughput at two rates."""
    lat = _table.Section(
        "latency",
        "Edge to handler latency",
        list(_latency.LATENCY_COLUMNS),
        "median_ns",
        "median / bare gpiod's median",
    )
    thr = _table.Section(
        "throughput",
        "Edge throughput",
        list(_throughput.THROUGHPUT_COLUMNS),
        "handled_per_s",
        "handled/s / bare gpiod's",
    )
    for k, name in enumerate(("bare gpiod", "gpiocore Selector")):
        samples = [50_000 + 1000 * i + 7000 * k for i in range(40)]
        lat.rows.append(
            _table.Row(
                name,
                {"median_ns": _table.median(samples), "p99_ns": _table.p99(samples)},
                baseline=k == 0,
                extra={"samples_ns": samples},
            )
        )
        for rate, written in ((500, 499.0), (0, 20_000.0)):
            figures = {
                "handled_per_s": min(written, 9000.0 + 1000 * k),
                "lost_pct": 0.0 if rate else 5.0 - k,
                "gaps_pct": 0.0,
                "written_per_s": written,
            }
            thr.rows.append(
                _table.Row(name, figures, group=str(rate), baseline=k == 0, extra={"rate": rate})
            )
    return {
        "meta": {"sizes": "quick", "date": "2026-12-04 12:00 UTC", "machine": "test"},
        "sections": [lat.to_dict(), thr.to_dict()],
    }


def test_plot_draws_a_png_from_a_saved_json(tmp_path: Path, capsys):
    pytest.importorskip("matplotlib", reason="the `plot` extra (dev installs it: CI runs this)")
    saved = tmp_path / "bench.json"
    saved.write_text(json.dumps(synthetic_run()))
    png = tmp_path / "pics" / "bench.png"
    assert bench_command_main(["--plot", str(png), "--from", str(saved)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert f"drew {png}" in capsys.readouterr().err


def test_plot_from_a_file_that_is_not_a_run(tmp_path: Path, capsys):
    pytest.importorskip("matplotlib", reason="the `plot` extra (dev installs it: CI runs this)")
    saved = tmp_path / "other.json"
    saved.write_text("[1, 2]")
    assert bench_command_main(["--plot", str(tmp_path / "b.png"), "--from", str(saved)]) == 2
    assert "is not a bench run's JSON (no 'sections')" in capsys.readouterr().err
    assert not (tmp_path / "b.png").exists()
    assert bench_command_main(["--from", str(saved)]) == 2
    assert "give --plot FILE.png too" in capsys.readouterr().err


def test_plot_without_matplotlib_fails_before_measuring(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises

    def no_run(*_: object, **__: object) -> None:
        raise AssertionError("the bench ran although --plot cannot draw")

    png = tmp_path / "b.png"
    with pytest.raises(InvalidSettingError, match=r"pip install 'gpiorig\[plot\]'"):
        bench.run_bench(quick=True, json_path=None, guest=False, plot=png, log=no_run)
    monkeypatch.setattr(bench, "run_bench", no_run)
    argv = ["--quick", "--no-guest", "--json", str(tmp_path / "b.json"), "--plot", str(png)]
    assert bench_command_main(argv) == 2
    err = capsys.readouterr().err
    assert "gpiosim: bench: --plot needs matplotlib, which is not installed here" in err
    assert "pip install 'gpiorig[plot]'" in err
    assert not png.exists()


def test_latency_rows_keep_their_samples_thinned():
    assert _latency.thin([5, 1, 3]) == [1, 3, 5]
    kept = _latency.thin(list(range(10_001)), keep=101)
    assert len(kept) == 101 and kept[0] == 0 and kept[-1] == 10_000 and kept[50] == 5000


def test_latency_section_keeps_samples_for_the_plot(fake_lineup):
    section = _latency.measure_latency(fake_lineup, TINY, where="fake", kernel_timestamps=False)
    measured = [r for r in section.rows if r.n]
    assert measured
    for row in measured:
        assert len(row.extra["samples_ns"]) == row.n
        assert row.extra["samples_ns"] == sorted(row.extra["samples_ns"])


def test_progress_lines_on_stderr_unless_quiet(capsys):
    bench.run_bench(quick=True, json_path=None, guest=False, only=["timer"], out=io.StringIO())
    err = capsys.readouterr().err
    assert re.search(r"^bench +\d+\.\d s: timers on the host$", err, re.M), err
    bench.run_bench(
        quick=True, json_path=None, guest=False, only=["timer"], out=io.StringIO(), progress=False
    )
    assert capsys.readouterr().err == ""


def test_the_new_sections_fit_the_table():
    for column in [*_bursts.BURST_COLUMNS, *_values.VALUE_COLUMNS]:
        assert len(column.header) < 11, column.header  # the figure columns are 11 wide
    section = _table.Section(
        "bursts", "Largest burst", list(_bursts.BURST_COLUMNS), "lossless", "lossless / gpiod's"
    )
    section.rows = [
        _table.Row("bare gpiod", {"lossless": 16, "lost_pct": 40.0}, group="g", baseline=True),
        _table.Row("gpiocore Selector", {"lossless": 4096, "lost_pct": None}, group="g"),
    ]
    section.compute_ratios()
    text = _table.format_table([section], {})
    head = next(line for line in text.splitlines() if "next lost" in line)
    row = next(line for line in text.splitlines() if "gpiocore Selector" in line)
    # right-aligned under their headers: the header and the figure end in one column
    assert head.index("lossless") + len("lossless") == row.index("4,096") + len("4,096")
    assert head.index("next lost") + len("next lost") == row.index("-", 60) + 1
    assert "256x" in row
