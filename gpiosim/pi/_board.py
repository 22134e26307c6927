"""Raspberry Pi boards as data: the 40-pin header, the numbering schemes, the header chips.

Pure data and parsing, no I/O beyond reading the device-tree model: the rig file, the
``pi`` backend and the simulated Pi all build on it. A Pi's header chip is found by its
*label* (``pinctrl-bcm2835``, ``pinctrl-bcm2711``, ``pinctrl-rp1``), never by its number:
``gpiochip0`` on a Pi 4 and on a recent Pi 5 kernel, ``gpiochip4`` on an older Pi 5
kernel, and sysfs numbers (base 512 on recent kernels) are not used at all. On every
board the header chip's line offset is the Broadcom GPIO number.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal, final

from gpiocore import QUICK2WIRE_LINES, InvalidSettingError
from gpiosim._errors import LineSpecError

__all__ = [
    "BOARDS",
    "DT_MODEL",
    "HEADER",
    "HEADER_GPIOS",
    "PI4_LINE_NAMES",
    "PI5_LINE_NAMES",
    "Board",
    "LineRef",
    "LineSpecError",
    "board_by_key",
    "board_for_model",
    "describe_gpio",
    "header_pin",
    "parse_line",
    "read_model",
]

DT_MODEL: Final = Path("/proc/device-tree/model")
"""Where the kernel shows the board's device-tree model (NUL-terminated)."""

Power = Literal["3V3", "5V", "GND"]

#: The 40-pin header (J8) of every Pi since the B+: physical pin -> Broadcom GPIO number,
#: or what a power or ground pin carries. Pins 27/28 (GPIO0/1) are the HAT ID EEPROM bus.
HEADER: Final[Mapping[int, int | Power]] = MappingProxyType(
    {
        1: "3V3", 2: "5V",
        3: 2, 4: "5V",
        5: 3, 6: "GND",
        7: 4, 8: 14,
        9: "GND", 10: 15,
        11: 17, 12: 18,
        13: 27, 14: "GND",
        15: 22, 16: 23,
        17: "3V3", 18: 24,
        19: 10, 20: "GND",
        21: 9, 22: 25,
        23: 11, 24: 8,
        25: "GND", 26: 7,
        27: 0, 28: 1,
        29: 5, 30: "GND",
        31: 6, 32: 12,
        33: 13, 34: "GND",
        35: 19, 36: 16,
        37: 26, 38: 20,
        39: "GND", 40: 21,
    }
)  # fmt: skip
HEADER_GPIOS: Final = range(28)
"""The Broadcom GPIOs that reach the header: GPIO0..GPIO27."""
_MAX_GPIO: Final = 57  # the largest header chip (bcm2711) has GPIO0..GPIO57

_PIN_OF_GPIO: Final[Mapping[int, int]] = MappingProxyType(
    {gpio: pin for pin, gpio in HEADER.items() if isinstance(gpio, int)}
)

#: gpio-line-names of the Pi 4 Model B's header chip (pinctrl-bcm2711, 58 lines), as the
#: upstream device tree bcm2711-rpi-4-b.dts publishes them. Note GPIO4 is "GPIO_GCLK"
#: and GPIO2/3, 7-11, 14/15 carry their function's name: never look GPIOn up by name.
PI4_LINE_NAMES: Final[tuple[str, ...]] = (
    "ID_SDA", "ID_SCL", "SDA1", "SCL1", "GPIO_GCLK", "GPIO5", "GPIO6", "SPI_CE1_N",
    "SPI_CE0_N", "SPI_MISO", "SPI_MOSI", "SPI_SCLK", "GPIO12", "GPIO13", "TXD1", "RXD1",
    "GPIO16", "GPIO17", "GPIO18", "GPIO19", "GPIO20", "GPIO21", "GPIO22", "GPIO23",
    "GPIO24", "GPIO25", "GPIO26", "GPIO27", "RGMII_MDIO", "RGMIO_MDC", "CTS0", "RTS0",
    "TXD0", "RXD0", "SD1_CLK", "SD1_CMD", "SD1_DATA0", "SD1_DATA1", "SD1_DATA2",
    "SD1_DATA3", "PWM0_MISO", "PWM1_MOSI", "STATUS_LED_G_CLK", "SPIFLASH_CE_N", "SDA0",
    "SCL0", "RGMII_RXCLK", "RGMII_RXCTL", "RGMII_RXD0", "RGMII_RXD1", "RGMII_RXD2",
    "RGMII_RXD3", "RGMII_TXCLK", "RGMII_TXCTL", "RGMII_TXD0", "RGMII_TXD1", "RGMII_TXD2",
    "RGMII_TXD3",
)  # fmt: skip

#: gpio-line-names of the Pi 5's header chip (pinctrl-rp1, 54 lines) from the RP1 device
#: tree; None where the device tree leaves a line unnamed.
PI5_LINE_NAMES: Final[tuple[str | None, ...]] = (
    "ID_SDA", "ID_SCL", *(f"GPIO{i}" for i in range(2, 28)),
    "PCIE_RP1_WAKE", "FAN_TACH", "HOST_SDA", "HOST_SCL", "ETH_RST_N", None,
    "CD0_IO0_MICCLK", "CD0_IO0_MICDAT0", "RP1_PCIE_CLKREQ_N", None, "CD0_SDA", "CD0_SCL",
    "CD1_SDA", "CD1_SCL", "USB_VBUS_EN", "USB_OC_N", "RP1_STAT_LED", "FAN_PWM",
    "CD1_IO0_MICCLK", "2712_WAKE", "CD1_IO1_MICDAT1", "EN_MAX_USB_CUR", None, None, None,
    None,
)  # fmt: skip


@final
@dataclasses.dataclass(frozen=True, slots=True)
class Board:
    """A family of Raspberry Pi boards that share a header chip."""

    key: str
    """What a rig file's ``[rig] board`` says: ``pi5``, ``pi4`` or ``pi3``."""
    title: str
    """For messages: ``Raspberry Pi 4``."""
    labels: tuple[str, ...]
    """The header chip's label, preferred first (older kernels used the second)."""
    num_lines: int
    """Lines on the header chip."""
    line_names: tuple[str | None, ...] | None
    """The header chip's published line names, where known."""


BOARDS: Final = (
    Board("pi5", "Raspberry Pi 5", ("pinctrl-rp1",), 54, PI5_LINE_NAMES),
    # Kernels before about 5.10 labelled the 2711's controller pinctrl-bcm2835 too.
    Board("pi4", "Raspberry Pi 4", ("pinctrl-bcm2711", "pinctrl-bcm2835"), 58, PI4_LINE_NAMES),
    Board("pi3", "Raspberry Pi 1-3 or Zero", ("pinctrl-bcm2835",), 54, None),
)
"""The boards gpiorig knows, newest first."""

# The generation number after "Raspberry Pi " (and "Compute Module "): 400 is a Pi 4 in a
# keyboard, 500 a Pi 5; no number at all is a Pi 1 ("Model B Rev 2") or a Zero.
_MODEL_RE: Final = re.compile(r"Raspberry Pi (?:Compute Module )?(\d+)?")
_GENERATIONS: Final[Mapping[str | None, str]] = MappingProxyType(
    {"5": "pi5", "500": "pi5", "4": "pi4", "400": "pi4", None: "pi3", "1": "pi3", "2": "pi3",
     "3": "pi3"}
)  # fmt: skip


def board_by_key(key: str) -> Board:
    """The board a rig file names (``pi5``, ``pi4``, ``pi3``).

    Raises:
        InvalidSettingError: no such board.
    """
    for board in BOARDS:
        if board.key == key:
            return board
    raise InvalidSettingError(
        f"unknown board {key!r}: use one of {', '.join(b.key for b in BOARDS)}"
    )


def board_for_model(model: str) -> Board | None:
    """The board of a device-tree model string, or None if it is no Pi gpiorig knows.

    Example:
        >>> board_for_model("Raspberry Pi 5 Model B Rev 1.0").key
        'pi5'
    """
    if not isinstance(model, str):
        return None  # not a model string at all: no board
    match = _MODEL_RE.match(model.strip())
    if match is None or match[1] not in _GENERATIONS:
        return None
    return board_by_key(_GENERATIONS[match[1]])


def read_model(path: Path = DT_MODEL) -> str | None:
    """The device-tree model (``Raspberry Pi 4 Model B Rev 1.4``), or None without one."""
    try:
        raw = Path(path).read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return raw.split(b"\0", 1)[0].decode(errors="replace").strip()


def header_pin(gpio: int) -> int | None:
    """The header pin of a Broadcom GPIO, or None if it does not reach the header."""
    return _PIN_OF_GPIO.get(gpio)


def describe_gpio(gpio: int) -> str:
    """``GPIO17 (pin 11)``, or ``GPIO40`` for a line off the header."""
    pin = header_pin(gpio)
    return f"GPIO{gpio}" if pin is None else f"GPIO{gpio} (pin {pin})"


@final
@dataclasses.dataclass(frozen=True, slots=True)
class LineRef:
    """A line as a rig file writes it, with what the writing alone tells."""

    text: str
    """As written (an integer is shown as ``"17"``)."""
    gpio: int | None
    """The Broadcom number (the header chip's offset), when the notation gives it."""
    name: str | None
    """A kernel line name to look up on the chip, for any other string."""

    def key(self) -> str:
        """What two references to the same line share: ``gpio17`` or ``name:SDA1``."""
        return f"gpio{self.gpio}" if self.gpio is not None else f"name:{self.name}"

    def __str__(self) -> str:
        return describe_gpio(self.gpio) if self.gpio is not None else repr(self.name)


_GPIO_RE: Final = re.compile(r"^(?:GPIO|BCM)(\d+)$", re.IGNORECASE)
_PIN_RE: Final = re.compile(r"^(?:pin|BOARD|J8:|J8-|P1-)(\d+)$", re.IGNORECASE)
_Q2W_RE: Final = re.compile(r"^P([0-9]+)$")
_POWER_WORDS: Final[Mapping[str, str]] = MappingProxyType(
    {"3V3": "3.3 V power", "5V": "5 V power", "GND": "ground"}
)


def parse_line(spec: str | int) -> LineRef:
    """Read a line in any of the numbering schemes a rig file accepts.

    * an integer, ``GPIO17`` or ``BCM17``: Broadcom GPIO 17 (offset 17 on the header chip);
    * ``pin11``, ``BOARD11`` or ``J8:11``: physical header pin 11 (GPIO17);
    * ``P0``..``P7``: the Quick2Wire board's pins, as ``gpiocore.pins`` numbers them;
    * anything else: a kernel line name (``SDA1``, ``ID_SDA``), looked up on the chip.

    Raises:
        LineSpecError: a power or ground pin, a pin off the header, a GPIO no Pi has.
    """
    if isinstance(spec, bool) or not isinstance(spec, int | str):
        raise LineSpecError(
            f"a line is a GPIO number, 'GPIO17', 'pin11', 'P0' or a line name, not {spec!r}"
        )
    text = str(spec).strip()
    if isinstance(spec, int):
        return LineRef(text, _check_gpio(spec, text), None)
    if match := _GPIO_RE.match(text):
        return LineRef(text, _check_gpio(int(match[1]), text), None)
    if match := _PIN_RE.match(text):
        pin = int(match[1])
        what = HEADER.get(pin)
        if what is None:
            raise LineSpecError(f"{text!r}: there is no header pin {pin}: the header has pins 1-40")
        if isinstance(what, str):
            raise LineSpecError(
                f"{text!r}: header pin {pin} is {_POWER_WORDS[what]} ({what}), not a GPIO: "
                "wire jumpers between GPIO pins (e.g. pin 11 = GPIO17)"
            )
        return LineRef(text, what, None)
    if match := _Q2W_RE.match(text):
        index = int(match[1])
        if index >= len(QUICK2WIRE_LINES):
            raise LineSpecError(
                f"{text!r}: the Quick2Wire board has pins P0-P{len(QUICK2WIRE_LINES) - 1}"
            )
        return LineRef(text, int(QUICK2WIRE_LINES[index].removeprefix("GPIO")), None)
    if not text:
        raise LineSpecError("a line name must not be empty: write e.g. 'GPIO17' or 'pin11'")
    return LineRef(text, None, text)


def _check_gpio(gpio: int, text: str) -> int:
    if not 0 <= gpio <= _MAX_GPIO:
        raise LineSpecError(
            f"{text!r}: no Raspberry Pi has GPIO{gpio}: the header has GPIO0-GPIO27 "
            f"(the largest header chip GPIO0-GPIO{_MAX_GPIO})"
        )
    return gpio
