"""Generated rig files end in a result or a clean error, never a traceback or a hang.

Runs on the host (the parser does not depend on the backend).
"""

from __future__ import annotations

import json
import math
import os
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpiosim._errors import RigFileError
from gpiosim.pi._rigload import load_rig_signals
from gpiosim.rig._signal import Signal

pytestmark = pytest.mark.timeout(20)  # a hang is a failure, not a stuck CI job



# -- the rig-file parser, fuzzed ----------------------------------------------------------

VALID_RIG = """\
[rig]
name = "fuzz-bench"

[signals.button]
line = "GPIO17"
role = "input"
active_low = false

[signals.led]
line = "GPIO18"
role = "output"
"""

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,  # each run explores afresh; a failure prints its input
)


@pytest.fixture(scope="module")
def rig_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rigs") / "fuzz.toml"


def _parse(path: Path, data: bytes) -> None:
    """Load ``data`` as a rig file: a list of signals, or RigFileError, nothing else."""
    path.write_bytes(data)
    try:
        signals = load_rig_signals(path)
    except RigFileError as exc:
        assert str(exc), "a RigFileError without a message"
        return
    assert isinstance(signals, list) and signals
    assert all(isinstance(s, Signal) for s in signals)


def _toml_key(key: str) -> str:
    return json.dumps(key)  # a TOML basic string is a JSON string


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int | str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


def _toml(document: dict[str, object]) -> str:
    return "".join(f"{_toml_key(k)} = {_toml_value(v)}\n" for k, v in document.items())


_NAMES = st.one_of(
    st.sampled_from(["button", "led", "b", "my button", "", "../x", "a/b", "x" * 70, "é"]),
    st.text(max_size=12),
)
_SCALARS = st.one_of(
    st.sampled_from(["GPIO17", "GPIO18", "GPIO99", "pin11", "BOARD12", "J8:11", "P0", "P9"]),
    st.sampled_from(["input", "output", "in", "pull-up", "pull-down", "none", "pi5", "pi4"]),
    st.sampled_from([0, 17, -1, 2**40, 2**63 - 1, -(2**63), 1.5, math.nan, math.inf]),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.text(max_size=10),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_NAMES, inner, max_size=3),
    max_leaves=8,
)
_SIGNAL = st.fixed_dictionaries(
    {},
    optional={
        "line": _VALUES,
        "role": st.sampled_from(["input", "output"]) | _VALUES,
        "active_low": st.booleans() | _VALUES,
        "chip": st.sampled_from(["gpiochip0", "", "pinctrl-rp1"]) | _VALUES,
        "extra": _VALUES,
    },
)
_JUMPER = st.fixed_dictionaries(
    {},
    optional={
        "stimulus": _SCALARS,
        "probe": _SCALARS,
        "bias": st.sampled_from(["pull-up", "pull-down", "none", "up"]) | _SCALARS,
    },
)
_RIG_TABLE = st.fixed_dictionaries(
    {},
    optional={
        "name": _NAMES | _SCALARS,
        "board": st.sampled_from(["pi5", "pi4", "pi3", "pi2", ""]) | _SCALARS,
        "chip": _SCALARS,
    },
)
_DOCUMENTS = st.fixed_dictionaries(
    {},
    optional={
        "rig": _RIG_TABLE | _VALUES,
        "signals": st.dictionaries(_NAMES, _SIGNAL | _VALUES, max_size=4) | _VALUES,
        "jumpers": st.dictionaries(_NAMES, _JUMPER | _VALUES, max_size=4) | _VALUES,
        "extra": _VALUES,
    },
)


@FUZZ
@given(document=_DOCUMENTS)
def test_rig_files_from_generated_structures(rig_path, document):
    _parse(rig_path, _toml(document).encode())


@FUZZ
@given(
    cut=st.integers(0, len(VALID_RIG)),
    junk=st.text(alphabet=string.printable + "\0\x7fé[]=\"'#.", max_size=8),
    drop=st.integers(0, 4),
)
def test_rig_files_from_mutated_text(rig_path, cut, junk, drop):
    _parse(rig_path, (VALID_RIG[:cut] + junk + VALID_RIG[cut + drop :]).encode())


@FUZZ
@given(data=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_rig_files_from_arbitrary_bytes(rig_path, data):
    _parse(rig_path, data)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(VALID_RIG.encode("utf-16"), id="utf-16"),
        pytest.param(b"\xff\xfe[signals.b]\n", id="not-utf-8"),
        pytest.param(b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n", id="deep-nesting"),
        pytest.param(b"a = {" * 3000 + b"}" * 3000 + b"\n", id="deep-tables"),
        pytest.param(b"x = 1\n" * 50_000, id="long"),
        pytest.param(
            VALID_RIG.replace("[signals.button]", '[signals."my button"]').encode(),
            id="spaced-name",
        ),
        pytest.param(VALID_RIG.replace('"GPIO17"', "-1").encode(), id="negative-line"),
        pytest.param(
            VALID_RIG.replace('"GPIO17"', '"GPIO17"\nchip = ""').encode(), id="empty-chip"
        ),
    ],
)
def test_rig_files_that_once_escaped(rig_path, data):
    _parse(rig_path, data)


def test_rig_file_paths_that_are_not_files(tmp_path):
    (tmp_path / "dir.toml").mkdir()
    for path in (tmp_path, tmp_path / "missing.toml", tmp_path / "dir.toml"):
        with pytest.raises(RigFileError, match=str(path)):
            load_rig_signals(path)


def test_rig_files_that_are_fifos_or_too_large_are_refused_unread(tmp_path):
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)  # reading it would wait for a writer forever
    with pytest.raises(RigFileError, match=f"{fifo} is not a regular file .a device, FIFO"):
        load_rig_signals(fifo)
    large = tmp_path / "large.toml"
    large.write_bytes(b"#" * (1 << 20) + b"\n")
    with pytest.raises(RigFileError, match=f"{large} is larger than 1024 KiB, too large for a"):
        load_rig_signals(large)


def test_an_unreadable_rig_file(tmp_path, monkeypatch):
    unreadable = tmp_path / "secret.toml"
    unreadable.write_text(VALID_RIG)

    real_open = os.open

    def denied(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if str(path) == str(unreadable):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)  # as for a user who may not read it
    with pytest.raises(RigFileError, match="cannot read rig file .*secret.toml: Permission"):
        load_rig_signals(unreadable)
