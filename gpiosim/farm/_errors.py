"""The farm's errors."""

from __future__ import annotations


class FarmError(Exception):
    """A bench farm could not be used (no coordinator, no matching place, ...)."""


class FarmBusyError(FarmError):
    """Every matching bench stayed taken for the whole wait; the message says by whom."""


class FarmUnavailableError(FarmError):
    """labgrid is not installed."""


INSTALL_HINT = "bench farms need labgrid: pip install 'gpiorig[farm]'"
"""What every farm error and option help says when labgrid is not installed."""
