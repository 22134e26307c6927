"""What a backend author needs: the backend protocol, its optional features, the registry
(entry-point group ``gpiocore.backends``), and the cdev pieces to build on.

A backend is a class registered under the entry-point group :data:`ENTRY_POINT_GROUP`
whose instances satisfy :class:`Backend`. The fake backend, its harness and the virtual
clock are in :mod:`gpiocore.testing`, with a conformance check for a new backend.
"""

from gpiocore._clock import Clock as Clock
from gpiocore._clock import MonotonicClock as MonotonicClock
from gpiocore._clock import Poller as Poller
from gpiocore._osprim import new_eventfd as new_eventfd
from gpiocore._types import check_level as check_level
from gpiocore._types import to_ns as to_ns
from gpiocore.backends._base import Backend as Backend
from gpiocore.backends._base import ChipInfo as ChipInfo
from gpiocore.backends._base import DetectsHardware as DetectsHardware
from gpiocore.backends._base import DrainsEdges as DrainsEdges
from gpiocore.backends._base import EdgeSink as EdgeSink
from gpiocore.backends._base import ExportsEnv as ExportsEnv
from gpiocore.backends._base import Harness as Harness
from gpiocore.backends._base import LevelListener as LevelListener
from gpiocore.backends._base import LineHandle as LineHandle
from gpiocore.backends._base import ListensToLevels as ListensToLevels
from gpiocore.backends._base import ListensToRequests as ListensToRequests
from gpiocore.backends._base import ReportsConsumer as ReportsConsumer
from gpiocore.backends._base import ReportsPull as ReportsPull
from gpiocore.backends._base import RequestListener as RequestListener
from gpiocore.backends._base import TimerHandle as TimerHandle
from gpiocore.backends._base import WakesWaiters as WakesWaiters
from gpiocore.backends._base import check_backend as check_backend
from gpiocore.backends._cdev import DETECT_RANK as DETECT_RANK
from gpiocore.backends._cdev import DEV_ROOT as DEV_ROOT
from gpiocore.backends._cdev import CdevBackend as CdevBackend
from gpiocore.backends._cdev import CdevLine as CdevLine
from gpiocore.backends._cdev import to_gpiod_settings as to_gpiod_settings
from gpiocore.backends._registry import ENTRY_POINT_GROUP as ENTRY_POINT_GROUP
from gpiocore.backends._registry import ENV_VAR as ENV_VAR
from gpiocore.backends._registry import available_backends as available_backends
from gpiocore.backends._registry import detect_backend as detect_backend
from gpiocore.backends._registry import load_backend as load_backend
from gpiocore.backends._timerfd import TimerfdTimer as TimerfdTimer

__all__ = [
    "DETECT_RANK",
    "DEV_ROOT",
    "ENTRY_POINT_GROUP",
    "ENV_VAR",
    "Backend",
    "CdevBackend",
    "CdevLine",
    "ChipInfo",
    "Clock",
    "DetectsHardware",
    "DrainsEdges",
    "EdgeSink",
    "ExportsEnv",
    "Harness",
    "LevelListener",
    "LineHandle",
    "ListensToLevels",
    "ListensToRequests",
    "MonotonicClock",
    "Poller",
    "ReportsConsumer",
    "ReportsPull",
    "RequestListener",
    "TimerHandle",
    "TimerfdTimer",
    "WakesWaiters",
    "available_backends",
    "check_backend",
    "check_level",
    "detect_backend",
    "load_backend",
    "new_eventfd",
    "to_gpiod_settings",
    "to_ns",
]
