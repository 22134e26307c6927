"""gpiocore: GPIO pins as file descriptors, in the Quick2Wire style, on any backend.

    from gpiocore import pins, In, Out, Both
    from gpiocore.selector import Selector, Timer

The backend is chosen by ``use_backend()``, else ``GPIOCORE_BACKEND``, else the hardware
that is here (a Raspberry Pi's header chip: ``pi``; any GPIO character device: ``cdev``),
else the in-process ``fake`` with a one-time :class:`FakeBackendWarning`.
"""

from gpiocore._context import current_backend as current_backend
from gpiocore._context import use_backend as use_backend
from gpiocore._errors import BackendNotFoundError as BackendNotFoundError
from gpiocore._errors import BackendUnavailableError as BackendUnavailableError
from gpiocore._errors import ClosedError as ClosedError
from gpiocore._errors import EventOverflowError as EventOverflowError
from gpiocore._errors import EventOverflowWarning as EventOverflowWarning
from gpiocore._errors import FakeBackendWarning as FakeBackendWarning
from gpiocore._errors import GpioError as GpioError
from gpiocore._errors import GpioPermissionError as GpioPermissionError
from gpiocore._errors import GpioWarning as GpioWarning
from gpiocore._errors import InvalidSettingError as InvalidSettingError
from gpiocore._errors import LineBusyError as LineBusyError
from gpiocore._errors import LineNotFoundError as LineNotFoundError
from gpiocore._errors import PinDirectionError as PinDirectionError
from gpiocore._errors import PinIndexError as PinIndexError
from gpiocore._errors import SettleTimeoutError as SettleTimeoutError
from gpiocore._errors import TimerSettingError as TimerSettingError
from gpiocore._pin import DEFAULT_EVENT_BUFFER_SIZE as DEFAULT_EVENT_BUFFER_SIZE
from gpiocore._pin import QUICK2WIRE_LINES as QUICK2WIRE_LINES
from gpiocore._pin import Pin as Pin
from gpiocore._pin import PinBank as PinBank
from gpiocore._pin import find_line as find_line
from gpiocore._pin import line as line
from gpiocore._pin import pins as pins
from gpiocore._types import Bias as Bias
from gpiocore._types import Direction as Direction
from gpiocore._types import Drive as Drive
from gpiocore._types import Edge as Edge
from gpiocore._types import EdgeEvent as EdgeEvent
from gpiocore._types import EdgeType as EdgeType
from gpiocore._types import LineSettings as LineSettings

In = Direction.IN
"""Quick2Wire's name for :attr:`Direction.IN`: the pin is read."""
Out = Direction.OUT
"""Quick2Wire's name for :attr:`Direction.OUT`: the pin is driven."""
Rising = Edge.RISING
"""Quick2Wire's name for :attr:`Edge.RISING`: report low-to-high changes."""
Falling = Edge.FALLING
"""Quick2Wire's name for :attr:`Edge.FALLING`: report high-to-low changes."""
Both = Edge.BOTH
"""Quick2Wire's name for :attr:`Edge.BOTH`: report every change."""
PullUp = Bias.PULL_UP
"""Short for :attr:`Bias.PULL_UP`."""
PullDown = Bias.PULL_DOWN
"""Short for :attr:`Bias.PULL_DOWN`."""
PullNone = Bias.DISABLED
"""Short for :attr:`Bias.DISABLED`: no pull resistor."""
PushPull = Drive.PUSH_PULL
"""Short for :attr:`Drive.PUSH_PULL`."""
OpenDrain = Drive.OPEN_DRAIN
"""Short for :attr:`Drive.OPEN_DRAIN`: drives low only."""
OpenSource = Drive.OPEN_SOURCE
"""Short for :attr:`Drive.OPEN_SOURCE`: drives high only."""

__all__ = [
    "DEFAULT_EVENT_BUFFER_SIZE",
    "QUICK2WIRE_LINES",
    "BackendNotFoundError",
    "BackendUnavailableError",
    "Bias",
    "Both",
    "ClosedError",
    "Direction",
    "Drive",
    "Edge",
    "EdgeEvent",
    "EdgeType",
    "EventOverflowError",
    "EventOverflowWarning",
    "FakeBackendWarning",
    "Falling",
    "GpioError",
    "GpioPermissionError",
    "GpioWarning",
    "In",
    "InvalidSettingError",
    "LineBusyError",
    "LineNotFoundError",
    "LineSettings",
    "OpenDrain",
    "OpenSource",
    "Out",
    "Pin",
    "PinBank",
    "PinDirectionError",
    "PinIndexError",
    "PullDown",
    "PullNone",
    "PullUp",
    "PushPull",
    "Rising",
    "SettleTimeoutError",
    "TimerSettingError",
    "current_backend",
    "find_line",
    "line",
    "pins",
    "use_backend",
]
