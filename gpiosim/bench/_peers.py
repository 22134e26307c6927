"""The benchmark's contenders and edge sources (``gpiosim bench``; see :mod:`gpiosim.bench`).

A *contender* is a program's waiting loop: gpiocore's ``Selector``, a gpiocore pin's
``fileno()`` in raw epoll, a bare ``gpiod`` loop, the least a Python loop can do (epoll
and ``os.read`` of the uAPI's event structs), ``python-periphery`` and gpiozero on its
lgpio pin factory. Each waits on its own line, so all of them stay requested for a
whole run and their measurements can be interleaved. An *edge source* makes edges on a
line from outside: gpio-sim's ``sim_gpioN/pull`` (through one open fd, and for bursts
through a separate writer process so the GIL is not part of what is measured) or a
backend's harness (the fake).

A contender's *handler* is called as ``handler(t_ns, events)``: ``t_ns`` is
``time.monotonic_ns()`` taken when the program's own code has the edge in hand (its wait
has returned and the events are read), ``events`` the ``(kernel_timestamp_ns,
line_seqno)`` pairs it read, None where the API does not expose them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import cast, final

from gpiocore.backends import Backend
from gpiosim.bench._contenders import contender_name, make_contender, unavailable_reason
from gpiosim.bench._sources import (
    _LINES,
    CONTENDERS,
    BlockContender,
    BurstWriter,
    Contender,
    EdgeSource,
    Handler,
    HarnessDrive,
    SimPull,
    Target,
)

__all__ = [
    "Entry",
    "Running",
    "lineup",
]


# ---------------------------------------------------------------------------- line-up


@dataclasses.dataclass
class Entry:
    """One contender of a run, open on its line with its edge source, or why not.

    Attributes:
        key: the contender's key.
        name: its table name.
        contender: the open contender; None when it cannot run here.
        source: the edge source of its line; None with the contender.
        target: its line.
        reason: why it cannot run here; None when it runs.
    """

    key: str
    name: str
    contender: Contender | None
    source: EdgeSource | None
    target: Target
    reason: str | None = None
    last_seqno: int | None = None
    """The last ``line_seqno`` its loop read (also while no handler is attached)."""


def _target(backend: Backend, key: str) -> Target:
    sim_chip = getattr(backend, "sim_chip", None)
    if sim_chip is not None:
        return Target(backend, sim_chip.chip_name, _LINES[key], sim_chip.dev_path)
    return Target(backend, backend.default_chip(), _LINES[key], None)


def _source(target: Target, writer: BurstWriter | None) -> EdgeSource:
    sim_chip = getattr(target.backend, "sim_chip", None)
    if sim_chip is not None:
        return SimPull(sim_chip.bank.line_dir(target.offset) / "pull", writer)
    return HarnessDrive(target.backend, target.chip, target.offset)


@contextlib.contextmanager
def lineup(
    backend: Backend,
    keys: Sequence[str] = CONTENDERS,
    *,
    writer: BurstWriter | None = None,
    log: Callable[[str], None] | None = None,
) -> Iterator[list[Entry]]:
    """Open every contender that can run on ``backend``, each on its own line.

    Yields:
        One :class:`Entry` per key, in order; those that cannot run carry the reason.
    """
    entries: list[Entry] = []
    try:
        for key in keys:
            target = _target(backend, key)
            name = contender_name(key)
            reason = unavailable_reason(key, target)
            if reason is not None:
                entries.append(Entry(key, name, None, None, target, reason))
                if log is not None:
                    log(f"{name}: not measured: {reason}")
                continue
            source = _source(target, writer)
            contender = make_contender(key)
            try:
                contender.open(target)
            except Exception as exc:
                source.close()
                contender.close()
                reason = f"cannot open its line: {exc!r}"
                entries.append(Entry(key, name, None, None, target, reason))
                if log is not None:
                    log(f"{name}: not measured: {reason}")
                continue
            entries.append(Entry(key, name, contender, source, target))
        yield entries
    finally:
        for entry in entries:
            if entry.contender is not None:
                entry.contender.close()
            if entry.source is not None:
                entry.source.close()


@final
class Running:
    """A contender serving in a thread, its handler swappable.

    Args:
        entry: an open contender and its source.
        handler: called for each handled edge until :meth:`stop`.
        settle_s: real seconds to let the loop reach its wait before edges come.
    """

    def __init__(self, entry: Entry, handler: Handler, *, settle_s: float = 0.05) -> None:
        if entry.contender is None or entry.source is None:
            raise ValueError(f"{entry.name} is not open: {entry.reason}")
        self._entry = entry
        self._contender = entry.contender
        self._source = entry.source
        self._handler: Handler | None = handler
        self._stop = threading.Event()
        self.error: BaseException | None = None
        if self._contender.open_per_block:
            cast(BlockContender, self._contender).open_block()
            # Its request's bias set the line's pull down again: the source follows.
            self._source.set(False)
        self._thread = threading.Thread(target=self._serve, name=f"bench:{entry.key}", daemon=True)
        self._thread.start()
        time.sleep(settle_s)

    def _dispatch(self, t_ns: int, events: Sequence[tuple[int | None, int | None]]) -> None:
        handler = self._handler
        if handler is not None:
            handler(t_ns, events)
        if events and events[-1][1] is not None:
            self._entry.last_seqno = events[-1][1]

    def _serve(self) -> None:
        try:
            self._contender.serve(self._dispatch, self._stop)
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def stop(self, timeout_s: float = 10.0) -> None:
        """Detach the handler, then poke the line until the loop returns.

        Raises:
            RuntimeError: the loop died of an error, or did not return.
        """
        self._handler = None
        self._stop.set()
        end = time.monotonic() + timeout_s
        while self._thread.is_alive() and time.monotonic() < end:
            self._source.set(not self._source.level)  # the loop returns after an edge
            self._thread.join(0.2)
        if self._contender.open_per_block and not self._thread.is_alive():
            cast(BlockContender, self._contender).close_block()
        if self.error is not None:
            raise RuntimeError(f"{self._contender.name} failed: {self.error!r}") from self.error
        if self._thread.is_alive():
            raise RuntimeError(f"{self._contender.name} did not stop within {timeout_s} s")
