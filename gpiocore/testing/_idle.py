"""Is the program under test idle, and stopping its threads at a safe point.

The virtual clock keeps time and deadlines; two other jobs live here, as trio keeps
``wait_all_tasks_blocked`` apart from ``MockClock``:

* :class:`ThreadWatch`: the program threads an app runner watches. One is idle only
  while ``/proc`` shows it blocked in a fd wait (``epoll_wait``, ``poll``, ``select``):
  running, sleeping in real time or waiting for the GIL it is busy.
* :class:`Interrupts`: an exception scheduled for a thread, raised at its next wait or
  fake-line call (a safe point, unlike an asynchronous exception, which can strike
  while a lock is held).

Neither has a lock of its own: the clock that owns them guards them with its lock.
"""

from __future__ import annotations

import threading
from typing import final

from gpiocore._osprim import blocked_in_wait, waits_visible

__all__ = ["Interrupts", "ThreadWatch", "alive"]


@final
class ThreadWatch:
    """Program threads whose raw fd waits count as idle (read from ``/proc``)."""

    __slots__ = ("_threads",)

    def __init__(self) -> None:
        self._threads: dict[int, int] = {}  # threading ident -> native (kernel) id

    def __bool__(self) -> bool:
        return bool(self._threads)

    def add_current(self) -> None:
        """Watch the calling thread."""
        self._threads[threading.get_ident()] = threading.get_native_id()

    def discard_current(self) -> None:
        """Stop watching the calling thread."""
        self._threads.pop(threading.get_ident(), None)

    def running(self, known: set[int]) -> set[int]:
        """The watched threads, other than ``known`` ones, that are not blocked in a wait.

        A thread whose state cannot be read (it ended, or no procfs) is not counted.
        """
        return {
            ident
            for ident, native in self._threads.items()
            if ident not in known and blocked_in_wait(native) is False
        }

    @staticmethod
    def sees_raw_waits() -> bool:
        """True when a thread's raw fd waits can be told here (Linux procfs)."""
        return waits_visible()


def alive(threads: set[int]) -> set[int]:
    """The ones of ``threads`` (``threading`` idents) that are still running."""
    return threads & {t.ident for t in threading.enumerate()}


@final
class Interrupts(dict[int, type[BaseException]]):
    """Exceptions scheduled for threads (ident to exception type), each raised once at
    that thread's next check. A dict, so that "is any pending?" (asked at every wait and
    fake-line call) costs no Python call."""

    __slots__ = ()

    def schedule(self, thread_ident: int, exc_type: type[BaseException]) -> None:
        """Make ``thread_ident`` raise ``exc_type`` at its next :meth:`take`."""
        self[thread_ident] = exc_type

    def take(self) -> type[BaseException] | None:
        """The exception scheduled for the calling thread, forgotten; None if none."""
        return self.pop(threading.get_ident(), None)
