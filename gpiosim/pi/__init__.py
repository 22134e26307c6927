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

from gpiosim._errors import LineSpecError as LineSpecError
from gpiosim._errors import PiNotFoundError as PiNotFoundError
from gpiosim._errors import RigBusyError as RigBusyError
from gpiosim._errors import RigCheckError as RigCheckError
from gpiosim._errors import RigFileError as RigFileError
from gpiosim.pi._backend import PiBackend as PiBackend
from gpiosim.pi._backend import PiHarness as PiHarness
from gpiosim.pi._board import BOARDS as BOARDS
from gpiosim.pi._board import DT_MODEL as DT_MODEL
from gpiosim.pi._board import HEADER as HEADER
from gpiosim.pi._board import HEADER_GPIOS as HEADER_GPIOS
from gpiosim.pi._board import PI4_LINE_NAMES as PI4_LINE_NAMES
from gpiosim.pi._board import PI5_LINE_NAMES as PI5_LINE_NAMES
from gpiosim.pi._board import Board as Board
from gpiosim.pi._board import LineRef as LineRef
from gpiosim.pi._board import board_by_key as board_by_key
from gpiosim.pi._board import board_for_model as board_for_model
from gpiosim.pi._board import describe_gpio as describe_gpio
from gpiosim.pi._board import header_pin as header_pin
from gpiosim.pi._board import parse_line as parse_line
from gpiosim.pi._board import read_model as read_model
from gpiosim.pi._check import check_rig as check_rig
from gpiosim.pi._check import describe_wiring as describe_wiring
from gpiosim.pi._discovery import ENV_DT_MODEL as ENV_DT_MODEL
from gpiosim.pi._discovery import ENV_PI_CHIP as ENV_PI_CHIP
from gpiosim.pi._discovery import ENV_RIG as ENV_RIG
from gpiosim.pi._discovery import Discovery as Discovery
from gpiosim.pi._discovery import FoundChip as FoundChip
from gpiosim.pi._discovery import discover as discover
from gpiosim.pi._discovery import read_chip as read_chip
from gpiosim.pi._lock import ENV_LOCK_DIR as ENV_LOCK_DIR
from gpiosim.pi._lock import RigLock as RigLock
from gpiosim.pi._lock import default_lock_dir as default_lock_dir
from gpiosim.pi._rigfile import Jumper as Jumper
from gpiosim.pi._rigfile import RigFile as RigFile
from gpiosim.pi._rigfile import validate_rig_name as validate_rig_name
from gpiosim.pi._rigload import load_rig as load_rig
from gpiosim.pi._rigload import load_rig_signals as load_rig_signals
from gpiosim.pi._selftest import CheckReport as CheckReport
from gpiosim.pi._selftest import JumperResult as JumperResult
from gpiosim.pi._selftest import Wire as Wire
from gpiosim.pi._selftest import run_self_test as run_self_test
from gpiosim.pi._sim import DEFAULT_MODELS as DEFAULT_MODELS
from gpiosim.pi._sim import SimulatedPi as SimulatedPi

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
