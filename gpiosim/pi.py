"""The Raspberry Pi bench rig: the ``pi`` backend, rig files, the self-test, the lock.

On the Pi of a bench rig::

    gpiosim rig check fixtures/rigs/pi5-bench.toml          # prove the jumpers
    pytest --backend=pi --rig=fixtures/rigs/pi5-bench.toml  # the suite, on metal

From Python::

    from gpiosim.pi import PiBackend

    with PiBackend(rig="fixtures/rigs/pi5-bench.toml") as pi:
        print(pi.harness.self_test())

Without a Pi (CI), :class:`SimulatedPi` makes a gpio-sim chip that impersonates a
Pi 4's or Pi 5's header chip and plays the rig's jumper wires. docs/bench-rig.md has
the wiring diagrams.
"""

from gpiosim._pi import ENV_DT_MODEL as ENV_DT_MODEL
from gpiosim._pi import ENV_PI_CHIP as ENV_PI_CHIP
from gpiosim._pi import ENV_RIG as ENV_RIG
from gpiosim._pi import Discovery as Discovery
from gpiosim._pi import FoundChip as FoundChip
from gpiosim._pi import LevelListener as LevelListener
from gpiosim._pi import PiBackend as PiBackend
from gpiosim._pi import PiHarness as PiHarness
from gpiosim._pi import PiNotFoundError as PiNotFoundError
from gpiosim._pi import discover as discover
from gpiosim._pi import read_chip as read_chip
from gpiosim._piboard import BOARDS as BOARDS
from gpiosim._piboard import DT_MODEL as DT_MODEL
from gpiosim._piboard import HEADER as HEADER
from gpiosim._piboard import HEADER_GPIOS as HEADER_GPIOS
from gpiosim._piboard import PI4_LINE_NAMES as PI4_LINE_NAMES
from gpiosim._piboard import PI5_LINE_NAMES as PI5_LINE_NAMES
from gpiosim._piboard import Board as Board
from gpiosim._piboard import LineRef as LineRef
from gpiosim._piboard import LineSpecError as LineSpecError
from gpiosim._piboard import board_by_key as board_by_key
from gpiosim._piboard import board_for_model as board_for_model
from gpiosim._piboard import describe_gpio as describe_gpio
from gpiosim._piboard import header_pin as header_pin
from gpiosim._piboard import parse_line as parse_line
from gpiosim._piboard import read_model as read_model
from gpiosim._pirig import ENV_LOCK_DIR as ENV_LOCK_DIR
from gpiosim._pirig import CheckReport as CheckReport
from gpiosim._pirig import JumperResult as JumperResult
from gpiosim._pirig import RigBusyError as RigBusyError
from gpiosim._pirig import RigCheckError as RigCheckError
from gpiosim._pirig import RigLock as RigLock
from gpiosim._pirig import Wire as Wire
from gpiosim._pirig import check_rig as check_rig
from gpiosim._pirig import default_lock_dir as default_lock_dir
from gpiosim._pirig import describe_wiring as describe_wiring
from gpiosim._pirig import run_self_test as run_self_test
from gpiosim._pisim import DEFAULT_MODELS as DEFAULT_MODELS
from gpiosim._pisim import SimulatedPi as SimulatedPi
from gpiosim._rigfile import Jumper as Jumper
from gpiosim._rigfile import RigFile as RigFile
from gpiosim._rigfile import RigFileError as RigFileError
from gpiosim._rigfile import load_rig as load_rig
from gpiosim._rigfile import load_rig_signals as load_rig_signals
from gpiosim._rigfile import validate_rig_name as validate_rig_name

__all__ = [
    "BOARDS",
    "DEFAULT_MODELS",
    "DT_MODEL",
    "ENV_DT_MODEL",
    "ENV_LOCK_DIR",
    "ENV_PI_CHIP",
    "ENV_RIG",
    "HEADER",
    "HEADER_GPIOS",
    "PI4_LINE_NAMES",
    "PI5_LINE_NAMES",
    "Board",
    "CheckReport",
    "Discovery",
    "FoundChip",
    "Jumper",
    "JumperResult",
    "LevelListener",
    "LineRef",
    "LineSpecError",
    "PiBackend",
    "PiHarness",
    "PiNotFoundError",
    "RigBusyError",
    "RigCheckError",
    "RigFile",
    "RigFileError",
    "RigLock",
    "SimulatedPi",
    "Wire",
    "board_by_key",
    "board_for_model",
    "check_rig",
    "default_lock_dir",
    "describe_gpio",
    "describe_wiring",
    "discover",
    "header_pin",
    "load_rig",
    "load_rig_signals",
    "parse_line",
    "read_chip",
    "read_model",
    "run_self_test",
    "validate_rig_name",
]
