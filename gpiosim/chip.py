"""Make and tear down gpio-sim chips: banks, line names, hogs, labels, pulls.

Example:
    >>> from gpiosim.chip import SimChip
    >>> with SimChip(4, line_names=["BUTTON", "LED"]) as chip:  # doctest: +SKIP
    ...     chip.set_pull(0, True)           # the button is pressed
    ...     chip.get_value(1)                # what the program drives on the LED
"""

from gpiosim.sim._chip import SimChip as SimChip
from gpiosim.sim._configfs import reclaim_stale as reclaim_stale
from gpiosim.sim._device import SimBank as SimBank
from gpiosim.sim._device import SimDevice as SimDevice
from gpiosim.sim._env import CONFIGFS_ROOT as CONFIGFS_ROOT
from gpiosim.sim._env import MIN_KERNEL as MIN_KERNEL
from gpiosim.sim._env import HogDirection as HogDirection
from gpiosim.sim._env import LineNames as LineNames
from gpiosim.sim._env import Pull as Pull
from gpiosim.sim._env import check_environment as check_environment
from gpiosim.sim._env import parse_kernel_release as parse_kernel_release
from gpiosim.sim._env import validate_device_name as validate_device_name
from gpiosim.sim._env import validate_line_name as validate_line_name
from gpiosim.sim._layout import Bank as Bank

__all__ = [
    "CONFIGFS_ROOT",
    "MIN_KERNEL",
    "Bank",
    "HogDirection",
    "LineNames",
    "Pull",
    "SimBank",
    "SimChip",
    "SimDevice",
    "check_environment",
    "parse_kernel_release",
    "reclaim_stale",
    "validate_device_name",
    "validate_line_name",
]
