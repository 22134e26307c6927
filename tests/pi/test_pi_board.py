"""The pi backend off a Pi: the header and its numbering schemes, board discovery against
temp files.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from gpiocore import GpioPermissionError
from gpiosim.pi import (
    ENV_DT_MODEL,
    HEADER,
    PI4_LINE_NAMES,
    PI5_LINE_NAMES,
    FoundChip,
    LineSpecError,
    PiBackend,
    PiNotFoundError,
    board_for_model,
    discover,
    header_pin,
    parse_line,
    read_model,
)

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
