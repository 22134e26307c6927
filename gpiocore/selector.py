"""Event loop pieces in the Quick2Wire style: ``Selector``, ``Timer``, ``Semaphore``."""

from gpiocore._selector import EDGE as EDGE
from gpiocore._selector import ERROR as ERROR
from gpiocore._selector import HANGUP as HANGUP
from gpiocore._selector import INPUT as INPUT
from gpiocore._selector import LEVEL as LEVEL
from gpiocore._selector import ONESHOT as ONESHOT
from gpiocore._selector import OUTPUT as OUTPUT
from gpiocore._selector import PRIORITY_INPUT as PRIORITY_INPUT
from gpiocore._selector import Selector as Selector
from gpiocore._selector import Semaphore as Semaphore
from gpiocore._selector import Timer as Timer

__all__ = [
    "EDGE",
    "ERROR",
    "HANGUP",
    "INPUT",
    "LEVEL",
    "ONESHOT",
    "OUTPUT",
    "PRIORITY_INPUT",
    "Selector",
    "Semaphore",
    "Timer",
]
