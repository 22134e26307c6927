"""The one exception hierarchy of gpiocore.

Every error is a :class:`GpioError` and also the builtin category a caller would
expect (``IndexError`` for a wrong pin, ``ValueError`` for a bad setting, ...), so
code that catches builtins keeps working. Messages carry the offending value and
the fix.
"""

from __future__ import annotations

__all__ = [
    "BackendNotFoundError",
    "BackendUnavailableError",
    "ClosedError",
    "EventOverflowError",
    "EventOverflowWarning",
    "FakeBackendWarning",
    "GpioError",
    "GpioPermissionError",
    "GpioWarning",
    "InvalidSettingError",
    "LineBusyError",
    "LineNotFoundError",
    "PinDirectionError",
    "PinIndexError",
    "SettleTimeoutError",
    "TimerSettingError",
]


class GpioError(Exception):
    """Root of every error raised by gpiocore and gpiosim."""


class PinIndexError(GpioError, IndexError):
    """A pin index or line offset that the bank or chip does not have."""


class InvalidSettingError(GpioError, ValueError):
    """A direction, edge, bias, drive, debounce or other setting that is not valid."""


class PinDirectionError(GpioError, ValueError):
    """An operation that the pin's direction forbids (writing an input, edges on an output)."""


class ClosedError(GpioError, ValueError):
    """An operation on a pin, selector, timer or line that is closed (or not yet opened)."""


class LineBusyError(GpioError, RuntimeError):
    """The line is already requested, by this process or another one."""


class LineNotFoundError(GpioError, LookupError):
    """No chip or line has the name that was asked for."""


class GpioPermissionError(GpioError, PermissionError):
    """The process may not open the GPIO device it needs."""


class BackendNotFoundError(GpioError, LookupError):
    """No backend is registered under the name that was asked for."""


class BackendUnavailableError(GpioError, RuntimeError):
    """A backend is registered but cannot run here (missing kernel support, module, ...)."""


class SettleTimeoutError(GpioError, TimeoutError):
    """The program under test did not go idle in time for the virtual clock to advance."""


class TimerSettingError(GpioError, ValueError):
    """A timer asked to do something impossible, such as starting with no offset or interval."""


class EventOverflowError(GpioError, RuntimeError):
    """Edges were lost because the event buffer overflowed (raised when asked to be strict)."""


class GpioWarning(UserWarning):
    """Root of every warning issued by gpiocore and gpiosim."""


class EventOverflowWarning(GpioWarning):
    """Edges were lost because the event buffer overflowed (a sequence-number gap)."""


class FakeBackendWarning(GpioWarning):
    """No backend was chosen and no GPIO hardware is here, so pins are the in-process fake."""
