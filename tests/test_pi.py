"""The pi backend and the bench rig.

Host (no marks): the header and its numbering schemes, board discovery against temp
files, rig-file validation (every mistake with its line), the lock, the self-test's
verdicts on modelled wiring, the CLI and the plugin off a Pi.

gpio_sim (in the guest): sim chips that impersonate a Pi 4 and a Pi 5 header chip, with
the rig's jumpers played by :class:`SimulatedPi` and a fake device-tree model: discovery
by model and label, the harness, the self-test (working, broken and swapped jumpers),
the CLI, the post's programs driven through the pi rig in a subprocess, and the plugin's
self-test before a ``--backend=pi`` session.
"""

from __future__ import annotations

import errno
import fcntl
import importlib
import inspect
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gpiocore import GpioPermissionError, LineNotFoundError, pins, use_backend
from gpiosim._cli import main
from gpiosim._errors import InvalidNameError
from gpiosim.pi import (
    ENV_DT_MODEL,
    ENV_LOCK_DIR,
    HEADER,
    PI4_LINE_NAMES,
    PI5_LINE_NAMES,
    FoundChip,
    LineSpecError,
    PiBackend,
    PiNotFoundError,
    RigBusyError,
    RigCheckError,
    RigFileError,
    RigLock,
    SimulatedPi,
    Wire,
    board_for_model,
    default_lock_dir,
    describe_wiring,
    discover,
    header_pin,
    load_rig,
    load_rig_signals,
    parse_line,
    read_model,
    run_self_test,
)
from tests.conftest import APPS, ROOT

RIGS = ROOT / "fixtures" / "rigs"
PI4_RIG = RIGS / "pi4-bench.toml"
PI5_RIG = RIGS / "pi5-bench.toml"


# -- the header and its numbering ---------------------------------------------------------


def test_header_has_every_gpio_once_and_marks_power_and_ground():
    assert sorted(HEADER) == list(range(1, 41))
    gpios = [v for v in HEADER.values() if isinstance(v, int)]
    assert sorted(gpios) == list(range(28))
    power = {pin: v for pin, v in HEADER.items() if isinstance(v, str)}
    assert {p for p, v in power.items() if v == "3V3"} == {1, 17}
    assert {p for p, v in power.items() if v == "5V"} == {2, 4}
    assert {p for p, v in power.items() if v == "GND"} == {6, 9, 14, 20, 25, 30, 34, 39}


def test_quick2wire_pins_sit_where_the_board_put_them():
    pins_of = [header_pin(parse_line(f"P{i}").gpio) for i in range(8)]
    assert pins_of == [11, 12, 13, 15, 16, 18, 22, 7]


@pytest.mark.parametrize(
    ("spec", "gpio"),
    [
        ("GPIO17", 17),
        ("gpio17", 17),
        ("BCM17", 17),
        (17, 17),
        ("pin11", 17),
        ("BOARD11", 17),
        ("J8:11", 17),
        ("P1-11", 17),
        ("P0", 17),
        ("P7", 4),
        ("pin27", 0),
    ],
)
def test_numbering_schemes_name_broadcom_gpios(spec, gpio):
    assert parse_line(spec).gpio == gpio


def test_other_strings_are_kernel_line_names():
    ref = parse_line("SDA1")
    assert (ref.gpio, ref.name, ref.key()) == (None, "SDA1", "name:SDA1")
    assert str(parse_line("pin11")) == "GPIO17 (pin 11)"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "pin1",
            "'pin1': header pin 1 is 3.3 V power (3V3), not a GPIO: wire jumpers between "
            "GPIO pins (e.g. pin 11 = GPIO17)",
        ),
        (
            "pin6",
            "'pin6': header pin 6 is ground (GND), not a GPIO: wire jumpers between GPIO "
            "pins (e.g. pin 11 = GPIO17)",
        ),
        (
            "pin2",
            "'pin2': header pin 2 is 5 V power (5V), not a GPIO: wire jumpers between "
            "GPIO pins (e.g. pin 11 = GPIO17)",
        ),
        ("pin41", "'pin41': there is no header pin 41: the header has pins 1-40"),
        (
            "GPIO99",
            "'GPIO99': no Raspberry Pi has GPIO99: the header has GPIO0-GPIO27 (the largest "
            "header chip GPIO0-GPIO57)",
        ),
        ("P8", "'P8': the Quick2Wire board has pins P0-P7"),
        (True, "a line is a GPIO number, 'GPIO17', 'pin11', 'P0' or a line name, not True"),
    ],
)
def test_numbering_mistakes_are_named(spec, message):
    with pytest.raises(LineSpecError) as info:
        parse_line(spec)
    assert str(info.value) == message


# -- boards and discovery -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("Raspberry Pi 5 Model B Rev 1.0", "pi5"),
        ("Raspberry Pi 500 Rev 1.0", "pi5"),
        ("Raspberry Pi Compute Module 5 Rev 1.0", "pi5"),
        ("Raspberry Pi 4 Model B Rev 1.4", "pi4"),
        ("Raspberry Pi 400 Rev 1.0", "pi4"),
        ("Raspberry Pi Compute Module 4 Rev 1.0", "pi4"),
        ("Raspberry Pi 3 Model B Plus Rev 1.3", "pi3"),
        ("Raspberry Pi Zero 2 W Rev 1.0", "pi3"),
        ("Raspberry Pi Model B Rev 2", "pi3"),
    ],
)
def test_board_from_device_tree_model(model, key):
    assert board_for_model(model).key == key


@pytest.mark.parametrize("model", ["BeagleBone Black", "Raspberry Pi 6 Model B Rev 1.0", ""])
def test_unknown_models_are_no_board(model):
    assert board_for_model(model) is None


def test_published_line_names_fit_the_chips():
    assert len(PI4_LINE_NAMES) == 58 and len(PI5_LINE_NAMES) == 54
    assert PI4_LINE_NAMES[:5] == ("ID_SDA", "ID_SCL", "SDA1", "SCL1", "GPIO_GCLK")
    assert PI4_LINE_NAMES[17] == "GPIO17" and PI5_LINE_NAMES[17] == "GPIO17"
    assert PI5_LINE_NAMES[2] == "GPIO2" and PI5_LINE_NAMES[28] == "PCIE_RP1_WAKE"


def test_read_model_strips_the_nul(tmp_path):
    (tmp_path / "model").write_bytes(b"Raspberry Pi 4 Model B Rev 1.4\0")
    assert read_model(tmp_path / "model") == "Raspberry Pi 4 Model B Rev 1.4"
    assert read_model(tmp_path / "missing") is None


DENIED = object()


class FakeBoard:
    """A device-tree model file and /dev/gpiochip* files in a temp folder."""

    def __init__(self, root: Path, model: str | None, chips: dict[str, object]):
        self.model = root / "model"
        if model is not None:
            self.model.write_bytes(model.encode() + b"\0")
        self.dev = root / "dev"
        self.dev.mkdir()
        self.chips = chips
        for name in chips:
            (self.dev / name).touch()

    def read(self, path: str) -> FoundChip | None:
        spec = self.chips[Path(path).name]
        if spec is DENIED:
            raise PermissionError(errno.EACCES, "Permission denied", path)
        if spec is None:
            return None
        label, lines = spec
        return FoundChip(path, Path(path).name, label, lines)

    def discover(self, **options):
        return discover(dt_model=self.model, dev_root=self.dev, read=self.read, **options)


PI5_OLD_KERNEL = {
    "gpiochip0": ("gpio-brcmstb@107d508500", 32),
    "gpiochip1": ("gpio-brcmstb@107d508520", 4),
    "gpiochip2": ("gpio-brcmstb@107d517c00", 17),
    "gpiochip3": ("gpio-brcmstb@107d517c20", 6),
    "gpiochip4": ("pinctrl-rp1", 54),
    "gpiochip10": ("raspberrypi-exp-gpio", 8),
}


def test_pi5_on_an_older_kernel_is_gpiochip4_found_by_label(tmp_path):
    board = FakeBoard(tmp_path, "Raspberry Pi 5 Model B Rev 1.0", PI5_OLD_KERNEL)
    found = board.discover()
    assert found.header.name == "gpiochip4"
    assert found.board.key == "pi5"
    assert [c.name for c in found.chips] == [
        "gpiochip4", "gpiochip0", "gpiochip1", "gpiochip2", "gpiochip3", "gpiochip10"
    ]  # fmt: skip
    assert found.how == "label 'pinctrl-rp1'"


def test_pi5_on_a_newer_kernel_is_gpiochip0(tmp_path):
    chips = {"gpiochip0": ("pinctrl-rp1", 54), "gpiochip10": ("gpio-brcmstb@107d508500", 32)}
    board = FakeBoard(tmp_path, "Raspberry Pi 5 Model B Rev 1.0", chips)
    assert board.discover().header.name == "gpiochip0"


@pytest.mark.parametrize("label", ["pinctrl-bcm2711", "pinctrl-bcm2835"])
def test_pi4_by_its_label_or_the_older_kernels_one(tmp_path, label):
    chips = {"gpiochip0": (label, 58), "gpiochip1": ("raspberrypi-exp-gpio", 8)}
    board = FakeBoard(tmp_path, "Raspberry Pi 4 Model B Rev 1.4", chips)
    assert board.discover().header.label == label


def test_off_a_pi_the_error_names_the_file_and_the_override(tmp_path):
    board = FakeBoard(tmp_path, None, {"gpiochip0": ("INT34C5:00", 360)})
    with pytest.raises(PiNotFoundError) as info:
        board.discover()
    assert str(info.value) == (
        f"no Raspberry Pi here: {board.model} does not exist (no device tree: a PC, a VM or "
        "a container?); on another board name the header chip with GPIOSIM_PI_CHIP=<label, "
        "name or path> (gpiodetect lists the chips) or with [rig] chip in the rig file; to "
        "test without a Pi use --backend=sim"
    )


def test_an_unknown_board_names_what_it_found(tmp_path):
    board = FakeBoard(tmp_path, "BeagleBone Black", {"gpiochip0": ("gpio-0-31", 32)})
    with pytest.raises(PiNotFoundError) as info:
        board.discover()
    assert str(info.value) == (
        f"{board.model} says 'BeagleBone Black', which is not a Raspberry Pi gpiorig knows "
        "(Pi 1-5, 400, 500, Zero, Compute Module): name the header chip with "
        "GPIOSIM_PI_CHIP=<label, name or path> (gpiodetect lists the chips) or with [rig] "
        "chip in the rig file"
    )


def test_a_missing_header_chip_lists_the_chips(tmp_path):
    board = FakeBoard(tmp_path, "Raspberry Pi 5 Model B Rev 1.0", {"gpiochip0": ("x", 8)})
    with pytest.raises(PiNotFoundError) as info:
        board.discover()
    assert str(info.value) == (
        "Raspberry Pi 5 Model B Rev 1.0: no GPIO chip labelled 'pinctrl-rp1' (found: "
        "gpiochip0 [x] (8 lines)): name the header chip with GPIOSIM_PI_CHIP=<label, name or "
        "path> (gpiodetect lists the chips) or with [rig] chip in the rig file"
    )


def test_unreadable_chips_name_the_gpio_group(tmp_path):
    board = FakeBoard(tmp_path, "Raspberry Pi 4 Model B Rev 1.4", {"gpiochip0": DENIED})
    with pytest.raises(GpioPermissionError) as info:
        board.discover()
    assert str(info.value) == (
        "Raspberry Pi 4 Model B Rev 1.4: no GPIO chip labelled 'pinctrl-bcm2711' or "
        f"'pinctrl-bcm2835', and {board.dev}/gpiochip0 may not be opened by uid "
        f"{os.geteuid()} (permission denied): add the user to the gpio group (sudo usermod "
        "-aG gpio $USER, then log in again), or install a udev rule that gives a group of "
        "yours /dev/gpiochip*"
    )


def test_an_unreadable_chip_beside_the_header_chip_is_left_out(tmp_path):
    chips = {"gpiochip0": ("pinctrl-bcm2711", 58), "gpiochip1": DENIED, "gpiochip2": None}
    board = FakeBoard(tmp_path, "Raspberry Pi 4 Model B Rev 1.4", chips)
    assert [c.name for c in board.discover().chips] == ["gpiochip0"]


def test_no_chips_at_all(tmp_path):
    board = FakeBoard(tmp_path, "Raspberry Pi 4 Model B Rev 1.4", {})
    with pytest.raises(PiNotFoundError) as info:
        board.discover()
    assert str(info.value) == (
        "Raspberry Pi 4 Model B Rev 1.4: no GPIO chip labelled 'pinctrl-bcm2711' or "
        f"'pinctrl-bcm2835': there are no GPIO chips at all ({board.dev}/gpiochip*): the "
        "kernel lacks the GPIO character device (CONFIG_GPIO_CDEV)"
    )


@pytest.mark.parametrize("chip", ["my-expander", "gpiochip3", "DEV/gpiochip3"])
def test_an_override_names_the_chip_on_any_board(tmp_path, chip):
    chips = {"gpiochip0": ("gpio-0-31", 32), "gpiochip3": ("my-expander", 16)}
    board = FakeBoard(tmp_path, None, chips)  # no device tree at all
    found = board.discover(chip=chip.replace("DEV", str(board.dev)))
    assert (found.header.name, found.board) == ("gpiochip3", None)


def test_an_override_that_names_nothing(tmp_path):
    board = FakeBoard(tmp_path, None, {"gpiochip0": ("gpio-0-31", 32)})
    with pytest.raises(PiNotFoundError) as info:
        board.discover(chip="nope", chip_source="GPIOSIM_PI_CHIP")
    assert str(info.value).startswith(
        "GPIOSIM_PI_CHIP='nope' names no GPIO chip (found: gpiochip0 [gpio-0-31] (32 lines))"
    )


def test_two_chips_with_the_label_are_ambiguous(tmp_path):
    chips = {"gpiochip0": ("pinctrl-rp1", 54), "gpiochip5": ("pinctrl-rp1", 54)}
    board = FakeBoard(tmp_path, "Raspberry Pi 5 Model B Rev 1.0", chips)
    with pytest.raises(PiNotFoundError) as info:
        board.discover()
    assert str(info.value) == (
        "2 chips match label 'pinctrl-rp1' (gpiochip0 [pinctrl-rp1] (54 lines), gpiochip5 "
        "[pinctrl-rp1] (54 lines)): name one by its path with GPIOSIM_PI_CHIP=/dev/gpiochipN"
    )


def test_the_backend_reads_the_model_file_from_the_environment(tmp_path, monkeypatch):
    (tmp_path / "model").write_bytes(b"BeagleBone Black\0")
    monkeypatch.setenv(ENV_DT_MODEL, str(tmp_path / "model"))
    monkeypatch.delenv("GPIOSIM_PI_CHIP", raising=False)
    monkeypatch.delenv("GPIOSIM_RIG", raising=False)
    with pytest.raises(PiNotFoundError, match="says 'BeagleBone Black'"):
        PiBackend()


# -- rig files ----------------------------------------------------------------------------


def write_rig(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rig.toml"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


BENCH = """
[rig]
board = "pi4"

[signals.button]
line = "GPIO17"
role = "input"

[signals.led]
line = "GPIO18"
role = "output"

[jumpers.button]
stimulus = "GPIO5"

[jumpers.led]
probe = "GPIO6"
"""


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


# -- the lock -----------------------------------------------------------------------------

HOLDER = """
import sys, time
from pathlib import Path
from gpiosim.pi import RigLock
lock = RigLock(sys.argv[1], lock_dir=Path(sys.argv[2])).acquire()
print("locked", flush=True)
time.sleep(60)
"""


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock of rig 'bench' in tmp_path."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, "bench", str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline() == "locked\n"
    yield proc
    proc.kill()
    proc.wait()


def test_lock_is_exclusive_and_names_the_holder(tmp_path, holder):
    with pytest.raises(RigBusyError) as info:
        RigLock("bench", lock_dir=tmp_path).acquire()
    message = str(info.value)
    assert message.startswith(f"rig 'bench' is in use by pid {holder.pid} (")
    assert message.endswith(
        f"); lock {tmp_path}/gpiorig-rig-bench.lock: one run drives a rig at a time: wait "
        "for it to finish, or stop it"
    )
    holder.kill()  # the kernel drops a dead holder's lock
    holder.wait()
    with RigLock("bench", lock_dir=tmp_path) as lock:
        assert lock.held
        assert lock.path.read_text() == f"{os.getpid()}\n"


def test_lock_is_reentrant_within_a_process(tmp_path):
    with RigLock("bench", lock_dir=tmp_path) as session:
        inner = RigLock("bench", lock_dir=tmp_path).acquire()
        assert inner.held and "shared" in repr(inner)
        inner.release()  # a shared hold leaves the lock in place
        fd = os.open(session.path, os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    again = RigLock("bench", lock_dir=tmp_path).acquire()
    assert "owned" in repr(again)
    again.release()
    again.release()  # safe twice


@pytest.mark.parametrize("name", ["../x", "a/b", "", ".hidden", "-x", "x" * 65, "a b"])
def test_lock_names_cannot_escape(tmp_path, name):
    with pytest.raises(InvalidNameError) as info:
        RigLock(name, lock_dir=tmp_path)
    assert str(info.value) == (
        f"rig name {name!r} is not usable as a lock name: use 1-64 characters from A-Z a-z "
        "0-9 _ . + - that start with a letter, digit or '_'"
    )


def test_lock_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_LOCK_DIR, str(tmp_path))
    assert default_lock_dir() == tmp_path
    assert RigLock("pi5-bench").path == tmp_path / "gpiorig-rig-pi5-bench.lock"
    monkeypatch.delenv(ENV_LOCK_DIR)
    import tempfile

    places = [Path("/run/lock"), Path(os.environ.get("XDG_RUNTIME_DIR") or "/run/lock")]
    assert default_lock_dir() in (*places, Path(tempfile.gettempdir()))


# -- the self-test's verdicts on modelled wiring --------------------------------------------


class ModelBench:
    """Wires as data: which sensed ends each driven end reaches, and sinks stuck high."""

    def __init__(self, reaches: dict[int, set[int]], stuck: set[int] = frozenset()):
        self.reaches = reaches
        self.stuck = stuck
        self.driven = [False] * len(WIRES)
        self.now = 0.0

    def drive(self, i: int, level: bool) -> None:
        self.driven[i] = level

    def sense(self, j: int) -> bool:
        return j in self.stuck or any(self.driven[i] for i, s in self.reaches.items() if j in s)

    def run(self):
        return run_self_test(
            WIRES,
            self.drive,
            self.sense,
            monotonic=lambda: self.now,
            sleep=lambda s: setattr(self, "now", self.now + s),
        )


WIRES = [
    Wire("button", "stimulus GPIO5", "GPIO17", (29, 11)),
    Wire("led", "GPIO18", "probe GPIO6", (12, 31)),
    Wire("door", "stimulus GPIO13", "GPIO27", (33, 13)),
]
OK = {0: {0}, 1: {1}, 2: {2}}


def verdicts(results):
    return [str(r) for r in results]


def test_self_test_passes_a_good_rig():
    results = ModelBench(OK).run()
    assert all(r.ok for r in results)
    assert verdicts(results)[0] == "jumper button: stimulus GPIO5 → GPIO17 ok"


def test_self_test_names_a_loose_jumper():
    results = ModelBench({**OK, 0: set()}).run()
    assert [r.ok for r in results] == [False, True, True]
    assert verdicts(results)[0] == (
        "jumper button: stimulus GPIO5 → GPIO17 reads no change: the wire is loose or "
        "missing — check the wire from header pin 29 to pin 11"
    )


def test_self_test_names_swapped_jumpers():
    results = ModelBench({0: {2}, 1: {1}, 2: {0}}).run()
    assert verdicts(results) == [
        "jumper button: stimulus GPIO5 → GPIO17 reads no change; GPIO27 changed instead: "
        "swapped with door? — check the wire from header pin 29 to pin 11",
        "jumper led: GPIO18 → probe GPIO6 ok",
        "jumper door: stimulus GPIO13 → GPIO27 reads no change; GPIO17 changed instead: "
        "swapped with button? — check the wire from header pin 33 to pin 13",
    ]


def test_self_test_names_a_short_and_a_stuck_line():
    results = ModelBench({**OK, 0: {0, 1}}, stuck={2}).run()
    assert verdicts(results) == [
        "jumper button: stimulus GPIO5 → GPIO17 works, but probe GPIO6 changed too: a short "
        "to led? — check the wire from header pin 29 to pin 11",
        "jumper led: GPIO18 → probe GPIO6 ok",
        "jumper door: GPIO27 reads high while stimulus GPIO13 is low: is it wired to 3V3 or "
        "to another output? — check the wire from header pin 33 to pin 13",
    ]


def test_a_broken_report_raises_on_request():
    from gpiosim.pi import CheckReport

    report = CheckReport("bench", tuple(ModelBench({**OK, 1: set()}).run()), 0.1, "a Pi")
    with pytest.raises(RigCheckError) as info:
        report.raise_if_broken()
    assert info.value.report is report
    assert str(info.value).splitlines()[0] == "rig bench on a Pi"
    assert str(info.value).splitlines()[-1] == (
        "1 of 3 jumpers failed: fix the wiring (docs/bench-rig.md) and check again"
    )


# -- the CLI and the plugin off a Pi --------------------------------------------------------


def test_cli_rig_show(capsys):
    assert main(["rig", "show", str(PI4_RIG)]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "  button  input   GPIO17 (pin 11)  <- stimulus GPIO5 (pin 29)",
        "  led     output  GPIO18 (pin 12)  -> probe GPIO6 (pin 31), pull-down",
    ]


def test_cli_rig_check_off_a_pi_exits_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(ENV_DT_MODEL, str(tmp_path / "model"))
    monkeypatch.delenv("GPIOSIM_PI_CHIP", raising=False)
    monkeypatch.setenv(ENV_LOCK_DIR, str(tmp_path))
    assert main(["rig", "check", str(PI5_RIG)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"gpiosim: rig check: no Raspberry Pi here: {tmp_path / 'model'} ")
    bad = write_rig(tmp_path, BENCH.replace('"GPIO6"', '"pin6"'))
    assert main(["rig", "check", str(bad)]) == 1
    assert f"{bad}:16: [jumpers.led] 'pin6': header pin 6 is ground" in capsys.readouterr().err


@pytest.mark.parametrize("timeout", ["0", "-1", "nan", "61"])
def test_cli_rig_check_wants_a_sane_timeout(capsys, timeout):
    assert main(["rig", "check", str(PI4_RIG), "--timeout", timeout]) == 2
    assert capsys.readouterr().err == (
        "gpiosim: rig check: --timeout must be seconds above 0 and at most 60, not "
        f"{float(timeout)}\n"
    )


# Inner sessions without hypothesis's plugin: it imports hypothesis at the end of a run,
# which pytester unloads again after each run, and each import costs half a minute of
# assertion rewriting in the guest.
INNER = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")


def test_plugin_refuses_a_pi_session_off_a_pi(pytester, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_DT_MODEL, str(tmp_path / "model"))
    monkeypatch.delenv("GPIOSIM_PI_CHIP", raising=False)
    pytester.makepyfile("def test_x(rig): pass")
    result = pytester.runpytest(*INNER, "--backend=pi", f"--rig={PI4_RIG}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--backend=pi: no Raspberry Pi here: *model does not exist*"])


def test_public_face_exports_everything_documented():
    module = importlib.import_module("gpiosim.pi")
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"gpiosim.pi.{name} has no docstring"
    public = {n for n in vars(module) if not n.startswith(("_", "@"))}  # @: pytest's rewrite
    assert public <= set(module.__all__), public - set(module.__all__)


def test_the_pi_backend_is_registered():
    from gpiocore.backends import available_backends

    assert available_backends()["pi"].value == "gpiosim._pi:PiBackend"


# -- on sim chips that impersonate a Pi (the guest) -----------------------------------------

needs_sim = pytest.mark.gpio_sim


@pytest.fixture
def scale(request) -> float:
    from gpiosim.pytest_plugin import _default_scale

    return _default_scale(request.config)


@pytest.fixture
def no_pi_env(monkeypatch, tmp_path):
    """No overrides from the environment; rig locks in tmp_path."""
    for var in ("GPIOSIM_PI_CHIP", "GPIOSIM_RIG", ENV_DT_MODEL):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv(ENV_LOCK_DIR, str(tmp_path))


@needs_sim
@pytest.mark.parametrize(
    ("board", "label", "lines", "names"),
    [("pi4", "pinctrl-bcm2711", 58, PI4_LINE_NAMES), ("pi5", "pinctrl-rp1", 54, PI5_LINE_NAMES)],
)
def test_an_impersonated_pi_is_found_by_model_and_label(no_pi_env, board, label, lines, names):
    with SimulatedPi(board) as pi, pi.backend() as backend:
        header = backend.chips()[0]  # the header chip first
        assert (header.name, header.label, header.num_lines) == (pi.chip.chip_name, label, lines)
        assert header.line_names == names
        assert backend.default_chip() == pi.chip.chip_name
        assert backend.discovery.how == f"label {label!r}"
        assert backend.harness is None  # no rig file: nothing to drive with
        assert backend.export_env() == {
            "GPIOCORE_BACKEND": "pi",
            "GPIOSIM_PI_CHIP": label,
            "GPIOSIM_RIG": "",
        }
        with use_backend(backend):
            assert [(p.chip, p.offset) for p in (pins.pin(0), pins.pin(1))] == [
                (pi.chip.chip_name, 17),
                (pi.chip.chip_name, 18),
            ]
        chip = pi.chip.chip_name
        for spec in ("GPIO4", "BCM4", 4, "pin7", "J8:7", "P7", names[4]):
            assert backend.locate(spec) == (chip, 4)
        with pytest.raises(LineNotFoundError) as info:
            backend.locate("SDA9")
        assert str(info.value) == (
            f"the header chip {chip} [{label}] ({lines} lines) has no line 'SDA9': write "
            "GPIOn, pinN, Pn or a name gpioinfo lists"
        )
        with pytest.raises(LineSpecError, match="header pin 6 is ground"):
            backend.locate("pin6")


@needs_sim
def test_quick2wire_p7_on_a_pi4(no_pi_env):
    """A Pi 4's kernel names GPIO4 'GPIO_GCLK': the post's P7 is found by its Broadcom number."""
    with SimulatedPi("pi4") as pi, pi.backend() as backend, use_backend(backend):
        assert pins.pin(7).offset == 4


@needs_sim
@pytest.mark.parametrize("board", ["pi4", "pi5"])
def test_self_test_passes_the_fixture_rigs(no_pi_env, board, scale):
    with SimulatedPi(board, rig=RIGS / f"{board}-bench.toml") as pi, pi.backend() as backend:
        report = backend.harness.self_test(timeout=0.25 * scale, settle=0.02 * scale)
        assert report.ok, report
        assert [str(r) for r in report.results] == [
            "jumper button: stimulus GPIO5 → GPIO17 ok",
            "jumper led: GPIO18 → probe GPIO6 ok",
        ]
        assert report.where.startswith(f"{pi.model} ({pi.chip.chip_name} [")


@needs_sim
@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (
            {"broken": ["button"]},
            [
                "jumper button: stimulus GPIO5 → GPIO17 reads no change: the wire is loose or "
                "missing — check the wire from header pin 29 to pin 11",
                "jumper led: GPIO18 → probe GPIO6 ok",
            ],
        ),
        (
            {"swapped": [("button", "led")]},
            [
                "jumper button: stimulus GPIO5 → GPIO17 reads no change; probe GPIO6 changed "
                "instead: swapped with led? — check the wire from header pin 29 to pin 11",
                "jumper led: GPIO18 → probe GPIO6 reads no change; GPIO17 changed instead: "
                "swapped with button? — check the wire from header pin 12 to pin 31",
            ],
        ),
    ],
    ids=["broken", "swapped"],
)
def test_self_test_names_the_faulty_jumper(no_pi_env, fault, expected, scale):
    with SimulatedPi("pi5", rig=PI5_RIG, **fault) as pi, pi.backend() as backend:
        report = backend.harness.self_test(timeout=0.25 * scale, settle=0.02 * scale)
    assert not report.ok
    assert [str(r) for r in report.results] == expected


@needs_sim
def test_cli_rig_check_on_an_impersonated_pi(no_pi_env, monkeypatch, capsys):
    with SimulatedPi("pi4", rig=PI4_RIG) as pi:
        monkeypatch.setenv(ENV_DT_MODEL, str(pi.model_path))
        assert main(["rig", "check", str(PI4_RIG), "--timeout", "1"]) == 0
        out = capsys.readouterr().out
        assert out.splitlines()[0] == f"rig pi4-bench on {pi.model} ({pi.chip.chip_name} [" + (
            "pinctrl-bcm2711])"
        )
        assert out.splitlines()[-1].startswith("all 2 jumpers work (")
    with SimulatedPi("pi4", rig=PI4_RIG, swapped=[("button", "led")]) as pi:
        monkeypatch.setenv(ENV_DT_MODEL, str(pi.model_path))
        assert main(["rig", "check", str(PI4_RIG), "--timeout", "1"]) == 1
        assert "swapped with led?" in capsys.readouterr().out
    with SimulatedPi("pi5", rig=PI5_RIG) as pi:  # a Pi 5 rig file on a Pi 4 bench
        monkeypatch.setenv(ENV_DT_MODEL, str(pi.model_path))
        assert main(["rig", "check", str(PI4_RIG)]) == 1
        assert capsys.readouterr().err == (
            f"gpiosim: rig check: {PI4_RIG}:16: [rig] the rig is wired for a Raspberry Pi 4 "
            f"(board = 'pi4'), but this is a {pi.model}: use that board's rig file\n"
        )


@needs_sim
def test_harness_drives_inputs_reads_outputs_and_reports_edges(no_pi_env, scale):
    from gpiocore import Both, In, Out

    with SimulatedPi("pi5", rig=PI5_RIG) as pi, pi.backend() as backend, use_backend(backend):
        harness = backend.harness
        heard = []
        harness.add_listener(lambda *change: heard.append(change))
        chip = pi.chip.chip_name
        assert harness.requested(chip, 5) and harness.requested(chip, 6)  # the rig's lines
        assert not harness.requested(chip, 17)
        with pins.pin(0, direction=In, interrupt=Both) as button, pins.pin(1, direction=Out) as led:
            assert harness.requested(chip, 17)
            harness.drive(chip, 17, True)
            assert wait_until(lambda: button.value == 1, 2 * scale)
            assert harness.level(chip, 17) is True  # what the stimulus drives
            before = time.monotonic_ns()
            led.value = 1
            assert wait_until(lambda: harness.level(chip, 18), 2 * scale)
            after = time.monotonic_ns()
            assert wait_until(lambda: heard, 2 * scale)
            (changed_chip, offset, level, stamp) = heard[0]
            assert (changed_chip, offset, level) == (chip, 18, True)
            assert before <= stamp <= after  # the kernel's timestamp, on the backend's clock
        with pytest.raises(LineNotFoundError) as info:
            harness.drive(chip, 18, True)
        assert str(info.value) == (
            "led (GPIO18 (pin 12)) is an output of the program with a probe: the rig "
            "observes it and cannot drive it"
        )
        with pytest.raises(LineNotFoundError, match="line 22 of .* has no jumper on rig"):
            harness.level(chip, 22)
        fd = os.open(default_lock_dir() / "gpiorig-rig-pi5-bench.lock", os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):  # the harness holds the rig's lock
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)


def wait_until(condition, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.002)
    return True


@needs_sim
@pytest.mark.parametrize(
    ("board", "app"),
    # Each program once, each board at least once: a program's start costs seconds in
    # the guest, and the boards differ only in the chip the program finds by label.
    [("pi4", "follow_epoll"), ("pi5", "follow_selector"), ("pi5", "timed_led")],
)
def test_the_posts_programs_through_the_pi_rig(no_pi_env, board, app, scale):
    from gpiosim._rig import Rig
    from gpiosim._runner import AppRunner

    rig_file = RIGS / f"{board}-bench.toml"
    offset = 0.5
    args = [str(offset * scale)] if app == "timed_led" else []
    with (
        SimulatedPi(board, rig=rig_file) as pi,
        pi.backend() as backend,
        Rig(backend, load_rig_signals(rig_file), scale=scale) as rig,
        AppRunner(APPS / f"{app}.py", args, backend=backend) as program,
    ):
        assert program.mode == "subprocess"  # GPIOCORE_BACKEND=pi, the chip by label
        program.wait_ready(rig.lines())
        rig.press("button")
        assert rig.wait_for("led", True, 2)
        rig.release("button")
        if app == "timed_led":
            assert rig.level("led") is True  # a release does nothing
            assert rig.wait_for("led", False, offset + 2)
        else:
            assert rig.wait_for("led", False, 2)
    led = rig.transitions("led")
    assert [t.level for t in led] == [True, False]
    assert all(t.source == "observe" for t in led)
    press = rig.transitions("button")[0]
    assert press.level is True and led[0].t_ns > press.t_ns
    if app == "timed_led":
        held = (led[1].t_ns - led[0].t_ns) / 1e9
        # The program starts its timer as it lights the LED; the emulated wire adds a few
        # milliseconds (different for each edge) to what the probe sees.
        assert offset - 0.1 / scale <= held < offset + 1  # test seconds, as the rig reports


@needs_sim
def test_plugin_self_tests_the_rig_then_runs_the_suite(pytester, no_pi_env, monkeypatch):
    # The program's side is opened in the test itself: the subprocess path is
    # test_the_posts_programs_through_the_pi_rig's, and costs seconds in the guest.
    pytester.makepyfile(
        """
        from gpiocore import In, Out, pins

        def test_rig_drives_and_observes(rig, backend, gpio_time):
            assert backend.name == "pi"
            with pins.pin(0, direction=In) as button, pins.pin(1, direction=Out) as led:
                rig.press("button")
                assert gpio_time.wait_for(lambda: button.value == 1, 2)
                led.value = 1
                assert rig.wait_for("led", True, 2)
                assert [(t.level, t.source) for t in rig.transitions("led")] == [
                    (True, "observe")
                ]
        """
    )
    with SimulatedPi("pi5", rig=PI5_RIG) as pi:
        monkeypatch.setenv(ENV_DT_MODEL, str(pi.model_path))
        result = pytester.runpytest(*INNER, "--backend=pi", f"--rig={PI5_RIG}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["gpiosim: rig pi5-bench on Raspberry Pi 5 Model B Rev 1.0 *"])
    assert "GPIOSIM_RIG" not in os.environ  # the session's setting is undone


@needs_sim
def test_plugin_refuses_to_run_on_a_broken_rig(pytester, no_pi_env, monkeypatch):
    pytester.makepyfile("def test_never(rig): raise AssertionError('ran')")
    with SimulatedPi("pi4", rig=PI4_RIG, broken=["button"]) as pi:
        monkeypatch.setenv(ENV_DT_MODEL, str(pi.model_path))
        result = pytester.runpytest(*INNER, "--backend=pi", f"--rig={PI4_RIG}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*the rig failed its self-test, so the suite did not run:",
            "*FAIL  jumper button: stimulus GPIO5 → GPIO17 reads no change: the wire is loose*",
            f"*check it again with: gpiosim rig check {PI4_RIG}",
        ]
    )


@needs_sim
def test_plugin_refuses_a_rig_in_use(pytester, no_pi_env, monkeypatch, tmp_path):
    pytester.makepyfile("def test_never(rig): raise AssertionError('ran')")
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, "pi4-bench", str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline() == "locked\n"
        with SimulatedPi("pi4", rig=PI4_RIG) as pi:
            monkeypatch.setenv(ENV_DT_MODEL, str(pi.model_path))
            result = pytester.runpytest(*INNER, "--backend=pi", f"--rig={PI4_RIG}")
    finally:
        proc.kill()
        proc.wait()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--backend=pi: rig 'pi4-bench' is in use by pid {proc.pid} *"])
