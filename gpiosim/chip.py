"""Make and tear down gpio-sim chips: banks, line names, hogs, labels, pulls.

Example:
    >>> from gpiosim.chip import SimChip
    >>> with SimChip(4, line_names=["BUTTON", "LED"]) as chip:  # doctest: +SKIP
    ...     chip.set_pull(0, True)           # the button is pressed
    ...     chip.get_value(1)                # what the program drives on the LED
"""

from gpiosim._chip import CONFIGFS_ROOT as CONFIGFS_ROOT
from gpiosim._chip import MIN_KERNEL as MIN_KERNEL
from gpiosim._chip import Bank as Bank
from gpiosim._chip import HogDirection as HogDirection
from gpiosim._chip import LineNames as LineNames
from gpiosim._chip import Pull as Pull
from gpiosim._chip import SimBank as SimBank
from gpiosim._chip import SimChip as SimChip
from gpiosim._chip import SimDevice as SimDevice
from gpiosim._chip import check_environment as check_environment
from gpiosim._chip import parse_kernel_release as parse_kernel_release
from gpiosim._chip import reclaim_stale as reclaim_stale
from gpiosim._chip import validate_device_name as validate_device_name
from gpiosim._chip import validate_line_name as validate_line_name

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
