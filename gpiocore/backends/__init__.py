"""The backend interface and registry (entry-point group ``gpiocore.backends``)."""

from gpiocore._clock import Clock as Clock
from gpiocore._clock import MonotonicClock as MonotonicClock
from gpiocore._clock import Poller as Poller
from gpiocore._clock import SettleTimeoutError as SettleTimeoutError
from gpiocore._clock import VirtualClock as VirtualClock
from gpiocore.backends._base import Backend as Backend
from gpiocore.backends._base import ChipInfo as ChipInfo
from gpiocore.backends._base import Harness as Harness
from gpiocore.backends._base import LineHandle as LineHandle
from gpiocore.backends._base import TimerHandle as TimerHandle
from gpiocore.backends._registry import ENTRY_POINT_GROUP as ENTRY_POINT_GROUP
from gpiocore.backends._registry import available_backends as available_backends
from gpiocore.backends._registry import load_backend as load_backend

__all__ = [
    "ENTRY_POINT_GROUP",
    "Backend",
    "ChipInfo",
    "Clock",
    "Harness",
    "LineHandle",
    "MonotonicClock",
    "Poller",
    "SettleTimeoutError",
    "TimerHandle",
    "VirtualClock",
    "available_backends",
    "load_backend",
]
