"""Rig files: every mistake named with its line, and the loaders.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gpiosim.pi import (
    PI4_LINE_NAMES,
    PI5_LINE_NAMES,
    RigFileError,
    describe_wiring,
    load_rig,
    load_rig_signals,
)
from tests.conftest import ROOT
from tests.pi.pi_helpers import BENCH, write_rig

RIGS = ROOT / "fixtures" / "rigs"
PI4_RIG = RIGS / "pi4-bench.toml"
PI5_RIG = RIGS / "pi5-bench.toml"

# -- rig files ----------------------------------------------------------------------------


def rig_error(tmp_path: Path, text: str) -> str:
    path = write_rig(tmp_path, text)
    with pytest.raises(RigFileError) as info:
        load_rig(path)
    return str(info.value).replace(str(path), "rig.toml")


def test_the_fixture_rigs_load_and_agree_on_the_wiring():
    for path, board in ((PI4_RIG, "pi4"), (PI5_RIG, "pi5")):
        rig = load_rig(path)
        assert (rig.name, rig.board.key, rig.bench) == (f"{board}-bench", board, True)
        assert [(s.name, s.line, s.role) for s in rig.signals] == [
            ("button", 17, "input"),
            ("led", 18, "output"),
        ]
        assert {n: (j.kind, j.line.gpio) for n, j in rig.jumpers.items()} == {
            "button": ("stimulus", 5),
            "led": ("probe", 6),
        }


def test_show_prints_the_wiring_by_header_pin():
    assert describe_wiring(PI5_RIG) == (
        f"rig pi5-bench for a Raspberry Pi 5 ({PI5_RIG})\n"
        "  button  input   GPIO17 (pin 11)  <- stimulus GPIO5 (pin 29)\n"
        "  led     output  GPIO18 (pin 12)  -> probe GPIO6 (pin 31), pull-down"
    )


def test_minimal_rig_files_keep_working(tmp_path):
    path = write_rig(
        tmp_path,
        """
        [signals.knob]
        line = "GPIO22"
        role = "input"
        active_low = true

        [signals.lamp]
        line = "LAMP"
        role = "output"
        chip = "gpiochip3"
        """,
    )
    signals = load_rig_signals(path)
    assert [(s.name, s.line, s.active_low, s.chip) for s in signals] == [
        ("knob", 22, True, None),  # a Broadcom number: the header chip's offset
        ("lamp", "LAMP", False, "gpiochip3"),  # on its own chip: a name there
    ]
    assert not load_rig(path).bench
    with pytest.raises(RigFileError, match="no \\[jumpers.NAME\\] tables, so it is no bench rig"):
        load_rig(path).require_bench()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('line = "GPIO18"', 'line = "SDA9"'),
            "rig.toml:9: [signals.led] unknown line 'SDA9': the Raspberry Pi 4's header chip "
            "has no line of that name (gpioinfo lists them): write it as GPIOn, pinN or a "
            "listed name",
        ),
        (
            ('line = "GPIO18"', 'line = "GPIO99"'),
            "rig.toml:9: [signals.led] 'GPIO99': no Raspberry Pi has GPIO99: the header has "
            "GPIO0-GPIO27 (the largest header chip GPIO0-GPIO57)",
        ),
        (
            ('line = "GPIO18"', 'line = "pin41"'),
            "rig.toml:9: [signals.led] 'pin41': there is no header pin 41: the header has "
            "pins 1-40",
        ),
        (
            ('line = "GPIO18"', 'line = "pin11"'),
            "rig.toml:9: [signals.led] line GPIO17 (pin 11) is used twice: by "
            "[signals.button] (line 5) and by [signals.led] (line 9); a header line can "
            "serve only one purpose: choose another line for one of them",
        ),
        (
            ('stimulus = "GPIO5"', 'stimulus = "GPIO18"'),
            "rig.toml:13: [jumpers.button] line GPIO18 (pin 12) is used twice: by "
            "[signals.led] (line 9) and by [jumpers.button] (line 13); a header line can "
            "serve only one purpose: choose another line for one of them",
        ),
        (
            ('stimulus = "GPIO5"', 'stimulus = "pin1"'),
            "rig.toml:13: [jumpers.button] 'pin1': header pin 1 is 3.3 V power (3V3), not a "
            "GPIO: wire jumpers between GPIO pins (e.g. pin 11 = GPIO17)",
        ),
        (
            ('probe = "GPIO6"', 'probe = "pin39"'),
            "rig.toml:16: [jumpers.led] 'pin39': header pin 39 is ground (GND), not a GPIO: "
            "wire jumpers between GPIO pins (e.g. pin 11 = GPIO17)",
        ),
        (
            ('probe = "GPIO6"', 'stimulus = "GPIO6"'),
            "rig.toml:16: [jumpers.led] stimulus is a rig output, but 'led' is an output of "
            "the program: two outputs on one wire fight (and can damage the pins); observe an "
            "output with probe = ... instead",
        ),
        (
            ('stimulus = "GPIO5"', 'probe = "GPIO5"'),
            "rig.toml:13: [jumpers.button] probe is a rig input, but 'button' is an input of "
            "the program: nothing would drive the wire; drive an input with stimulus = ... "
            "instead",
        ),
        (
            ("[jumpers.led]", "[jumpers.lamp]"),
            "rig.toml:15: [jumpers.lamp] no signal 'lamp' to wire: a jumper is named after "
            "the signal it serves (button, led)",
        ),
        (
            ('[jumpers.led]\nprobe = "GPIO6"', ""),
            "rig.toml:8: [signals.led] 'led' has no jumper: add [jumpers.led] with probe = "
            '"GPIOn", a free header GPIO wired to its pin',
        ),
        (
            ('stimulus = "GPIO5"', 'stimulous = "GPIO5"'),
            "rig.toml:13: [jumpers.button] unknown key 'stimulous': use stimulus, probe, bias",
        ),
        (
            ('stimulus = "GPIO5"', 'stimulus = "GPIO5"\nprobe = "GPIO7"'),
            "rig.toml:12: [jumpers.button] give exactly one of stimulus (a rig output wired "
            "to a program input) or probe (a rig input wired to a program output)",
        ),
        (
            ('probe = "GPIO6"', 'probe = "GPIO40"'),
            "rig.toml:16: [jumpers.led] 'GPIO40' (GPIO40) is not on the 40-pin header, so no "
            "jumper can reach it: use one of GPIO0-GPIO27",
        ),
        (
            ('probe = "GPIO6"', 'probe = "GPIO6"\nbias = "up"'),
            "rig.toml:17: [jumpers.led] bias must be one of pull-down, pull-up, none, not 'up'",
        ),
        (
            ('board = "pi4"', 'board = "pi9"'),
            "rig.toml:2: [rig] unknown board 'pi9': use one of pi5, pi4, pi3",
        ),
        (
            ('board = "pi4"', 'name = "../../etc/passwd"'),
            "rig.toml:2: [rig] rig name '../../etc/passwd' is not usable as a lock name: use "
            "1-64 characters from A-Z a-z 0-9 _ . + - that start with a letter, digit or '_'",
        ),
        (
            ('role = "output"', 'role = "out"'),
            "rig.toml:10: [signals.led] role must be 'input' or 'output', not 'out'",
        ),
        (
            ("[jumpers.led]", "[jumper.led]"),
            "rig.toml:15: [jumper] unknown table [jumper]: a rig file has [rig], "
            "[signals.NAME] and [jumpers.NAME]",
        ),
    ],
    ids=[
        "unknown-name",
        "no-such-gpio",
        "no-such-pin",
        "line-twice",
        "jumper-on-a-signal-line",
        "power-pin",
        "ground-pin",
        "two-outputs",
        "two-inputs",
        "jumper-without-signal",
        "signal-without-jumper",
        "typo",
        "stimulus-and-probe",
        "off-the-header",
        "bad-bias",
        "bad-board",
        "name-escapes",
        "bad-role",
        "unknown-table",
    ],
)
def test_rig_file_mistakes_point_at_their_line(tmp_path, change, message):
    old, new = change
    assert old in BENCH
    assert rig_error(tmp_path, BENCH.replace(old, new)) == message


def test_inline_tables_are_located_too(tmp_path):
    text = """
    [signals]
    button = { line = "GPIO17", role = "input" }
    led = { line = "pin6", role = "output" }
    """
    assert rig_error(tmp_path, text) == (
        "rig.toml:3: [signals.led] 'pin6': header pin 6 is ground (GND), not a GPIO: wire "
        "jumpers between GPIO pins (e.g. pin 11 = GPIO17)"
    )


def test_the_file_itself(tmp_path):
    assert rig_error(tmp_path, "[signals.a\n").startswith("rig.toml: not valid TOML (")
    assert rig_error(tmp_path, "[rig]\nname = 'x'\n") == (
        "rig.toml: [signals] no [signals.NAME] tables: name at least one signal"
    )
    with pytest.raises(RigFileError) as info:
        load_rig(tmp_path / "none.toml")
    assert str(info.value) == f"no rig file at {tmp_path / 'none.toml'}: check the --rig path"


def test_line_names_are_checked_against_the_chip_when_no_board_is_given(tmp_path):
    text = BENCH.replace('board = "pi4"', 'name = "b"').replace('"GPIO5"', '"SDA1"')
    rig = load_rig(write_rig(tmp_path, text))
    signals, jumpers = rig.offsets(PI4_LINE_NAMES)
    assert (signals, jumpers) == ({"button": 17, "led": 18}, {"button": 2, "led": 6})
    with pytest.raises(RigFileError) as info:
        rig.offsets(PI5_LINE_NAMES)  # the Pi 5 calls GPIO2 "GPIO2"
    assert str(info.value) == (
        f"{rig.path}:13: [jumpers.button] unknown line 'SDA1': the header chip has no line "
        "of that name (gpioinfo lists them): write it as GPIOn, pinN or a name it lists"
    )
    clash = load_rig(write_rig(tmp_path, text.replace('"GPIO6"', '"GPIO2"')))
    with pytest.raises(RigFileError, match=r":16: \[jumpers.led\] line GPIO2 \(pin 3\) is used"):
        clash.offsets(PI4_LINE_NAMES)  # SDA1 and GPIO2 are one line
