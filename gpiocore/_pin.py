"""Pins: the Quick2Wire-style face of a requested line, and banks that number them."""

from __future__ import annotations

import collections
import datetime
import re
import warnings
import weakref
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Final, Literal, final

from gpiocore._context import _caller_stacklevel, current_backend
from gpiocore._errors import (
    ClosedError,
    EventOverflowError,
    EventOverflowWarning,
    InvalidSettingError,
    LineNotFoundError,
    PinDirectionError,
    PinIndexError,
)
from gpiocore._selector import Selector, SelectorLinks, release_unclosed
from gpiocore._types import Bias, Direction, Drive, Edge, EdgeEvent, LineSettings, to_ns
from gpiocore.backends._base import Backend, DrainsEdges, LineHandle, check_backend
from gpiocore.backends._registry import load_backend

__all__ = ["QUICK2WIRE_LINES", "OverflowPolicy", "Pin", "PinBank", "find_line", "line", "pins"]

#: The Quick2Wire interface board's P0-P7, as Broadcom line names (header pins
#: 11, 12, 13, 15, 16, 18, 22 and 7).
QUICK2WIRE_LINES: Final = (
    "GPIO17",
    "GPIO18",
    "GPIO27",
    "GPIO22",
    "GPIO23",
    "GPIO24",
    "GPIO25",
    "GPIO4",
)

OverflowPolicy = Literal["warn", "raise", "ignore"]
_DEFAULT_CONSUMER: Final = "gpiocore"


def _coerce(value: Any, kind: type, what: str, none: Any = None) -> Any:
    if value is None and none is not None:
        return none
    if isinstance(value, kind):
        return value
    try:
        return kind(value)  # Quick2Wire used plain strings: "in", "out", "both", ...
    except (ValueError, TypeError):
        names = ", ".join(m.name.title().replace("_", "") for m in kind)  # type: ignore[attr-defined]
        raise InvalidSettingError(
            f"invalid {what} {value!r}: use one of gpiocore's {names}"
            + (" or None" if none is not None else "")
        ) from None


def _coerce_bias(value: Any) -> Bias:
    return _coerce(value, Bias, "pull", none=Bias.AS_IS)


def _coerce_edge(value: Any) -> Edge:
    return _coerce(value, Edge, "interrupt", none=Edge.NONE)


def _coerce_debounce(value: float | datetime.timedelta | None) -> int:
    if value is None:
        return 0
    return to_ns(value, "debounce")


def find_line(backend: Backend, name: str, chip: str | None = None) -> tuple[str, int]:
    """Find a line by its name on a backend; return ``(chip, offset)``.

    Raises:
        LineNotFoundError: no line (on ``chip``, if given) has that name.
        InvalidSettingError: ``backend`` is not a backend, or ``name``/``chip`` not strings.
    """
    check_backend(backend, "find_line")
    if not isinstance(name, str):
        raise InvalidSettingError(
            f"a line name must be a string, not {name!r}: e.g. 'GPIO17' "
            "(an int is an offset: use line(offset) or pins.pin(index))"
        )
    if chip is not None and not isinstance(chip, str):
        raise InvalidSettingError(f"chip must be a chip's name, not {chip!r}: e.g. 'gpiochip0'")
    chips = backend.chips()
    for info in chips:
        if chip is not None and info.name != chip:
            continue
        for offset, line_name in enumerate(info.line_names):
            if line_name == name:
                return info.name, offset
    where = f"chip {chip!r}" if chip is not None else f"chips {[c.name for c in chips]}"
    raise LineNotFoundError(
        f"no line named {name!r} on {where} of the {backend.name!r} backend: "
        "check the name (gpioinfo lists them) or pass a line offset"
    )


def _find_line_or_broadcom(
    backend: Backend, name: str, chip_filter: str | None, header_chip: str
) -> tuple[str, int]:
    """Find a line by name; a ``GPIO<n>`` missing by name is Broadcom line n of the
    header chip (a Pi 4's kernel calls GPIO4 ``GPIO_GCLK``, GPIO2 ``SDA1``, ...)."""
    try:
        return find_line(backend, name, chip_filter)
    except LineNotFoundError:
        match = re.fullmatch(r"GPIO(\d+)", name)
        if match is not None:
            number = int(match[1])
            info = next((c for c in backend.chips() if c.name == header_chip), None)
            if info is not None and number < info.num_lines:
                return header_chip, number
        raise


#: A pin's edge-event buffer unless ``event_buffer_size`` says otherwise (0: the
#: kernel's 16). Measured on gpio-sim (`gpiosim bench --only bursts`): with 16 a Selector
#: loop loses edges of a 32-edge burst, with 256 none of a 4096-edge one; 256 events
#: cost 12 KiB of kernel memory per line.
DEFAULT_EVENT_BUFFER_SIZE: Final = 256


@final
class _EdgeSink:
    """Where a line's drain puts a pin's edges (see ``DrainsEdges``): the pin's history
    (``edge_append``), the last ``line_seqno`` taken, and the pin's gap-counting path."""

    __slots__ = ("_take", "edge_append", "last_line_seqno")

    def __init__(
        self,
        edge_append: Callable[[EdgeEvent], None],
        take_edges: Callable[[list[EdgeEvent]], None],
    ) -> None:
        self.edge_append = edge_append
        # Weakly: a pin dropped without close() must still be freed (and warn) at once.
        self._take = weakref.WeakMethod(take_edges)  # type: ignore[arg-type]
        self.last_line_seqno = 0

    def take_edges(self, events: list[EdgeEvent]) -> None:
        """Hand ``events`` to the pin's gap-counting path."""
        take = self._take()
        if take is not None:
            take(events)


@final
class Pin:
    """One GPIO line, opened with ``with pin:``; its value is 0 or 1.

    Made by :meth:`PinBank.pin` (or :func:`line`); unopened until ``open()`` or
    ``with``. ``direction``, ``interrupt`` (edge detection), ``pull``, ``active_low``,
    ``drive`` and ``debounce`` may be changed while open. ``event_buffer_size`` is
    fixed while open (default :data:`DEFAULT_EVENT_BUFFER_SIZE`; 0: the kernel's 16).
    """

    def __init__(
        self,
        backend: Backend,
        chip: str,
        offset: int,
        *,
        index: int | str | None = None,
        bank: str = "pin",
        line_name: str | None = None,
        direction: Direction | str = Direction.IN,
        interrupt: Edge | str | None = None,
        pull: Bias | str | None = None,
        active_low: bool = False,
        drive: Drive | str = Drive.PUSH_PULL,
        debounce: float | datetime.timedelta | None = None,
        value: int | bool = 0,
        event_buffer_size: int = DEFAULT_EVENT_BUFFER_SIZE,
        on_overflow: OverflowPolicy = "warn",
        consumer: str = _DEFAULT_CONSUMER,
    ) -> None:
        self._handle: LineHandle | None = None
        self._links = SelectorLinks()
        self._backend = backend
        self._chip = chip
        self._offset = offset
        self._index = offset if index is None else index
        self._bank = bank
        self._line_name = line_name
        self._direction: Direction = _coerce(direction, Direction, "direction")
        self._edge = _coerce_edge(interrupt)
        self._bias = _coerce_bias(pull)
        self._drive: Drive = _coerce(drive, Drive, "drive")
        if not isinstance(active_low, bool):
            raise InvalidSettingError(f"active_low must be True or False, not {active_low!r}")
        self._active_low = active_low
        self._debounce_ns = _coerce_debounce(debounce)
        self._initial = self._check_value(value)
        if on_overflow not in ("warn", "raise", "ignore"):
            raise InvalidSettingError(
                f"on_overflow must be 'warn', 'raise' or 'ignore', not {on_overflow!r}"
            )
        self._on_overflow: OverflowPolicy = on_overflow
        self._event_buffer_size = event_buffer_size
        if not isinstance(consumer, str) or not consumer.isprintable():
            raise InvalidSettingError(
                f"consumer must be a printable string (what gpioinfo shows), not {consumer!r}"
            )
        self._consumer = consumer
        self._settings()  # validate the combination now, not at open()
        self._history: collections.deque[EdgeEvent] = collections.deque(maxlen=1024)
        self._sink = _EdgeSink(self._history.append, self._take_edges)
        self.lost_edges = 0
        """Edges lost to buffer overflow since the pin was opened (sequence gaps)."""

    # -- identity --------------------------------------------------------------
    @property
    def index(self) -> int | str:
        """The pin's number in its bank (what was passed to ``pins.pin``)."""
        return self._index

    @property
    def chip(self) -> str:
        """The chip the line is on."""
        return self._chip

    @property
    def offset(self) -> int:
        """The line's offset on its chip."""
        return self._offset

    @property
    def line_name(self) -> str | None:
        """The line's name on its chip, where known (e.g. ``GPIO17``)."""
        return self._line_name

    @property
    def backend(self) -> Backend:
        """The backend the pin's line comes from."""
        return self._backend

    def _describe(self) -> str:
        name = f" ({self._line_name})" if self._line_name else ""
        return f"{self._bank} pin {self._index}{name}"

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        edge = "" if self._edge is Edge.NONE else f", interrupt={self._edge.value}"
        return (
            f"<Pin {self._bank}[{self._index}] = {self._chip}:{self._offset}"
            f"{' ' + self._line_name if self._line_name else ''} "
            f"direction={self._direction.value}{edge} {state}>"
        )

    # -- life cycle ------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """True unless the pin is open."""
        return self._handle is None

    def open(self) -> None:
        """Request the line from the backend with the pin's settings."""
        if self._handle is not None:
            return
        self._handle = self._backend.open_line(
            self._chip, self._offset, self._settings(), self._consumer
        )
        self._history.clear()
        self._sink.last_line_seqno = 0
        self.lost_edges = 0

    def close(self) -> None:
        """Release the line, leaving every selector the pin is in; safe to call twice."""
        handle, self._handle = self._handle, None
        if handle is not None:
            self._links.leave_all(self)  # before the fd closes: epoll forgets it then
            handle.close()

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        # Like the standard library's files and sockets: say so, then release the line
        # (the fake would otherwise hold it busy for the rest of the process).
        if getattr(self, "_handle", None) is not None:
            release_unclosed(self, _warn)

    def _joined_selector(self, selector: Selector) -> None:
        self._links.joined(selector)

    def __enter__(self) -> Pin:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def fileno(self) -> int:
        """An fd readable while edges are pending: register it with epoll or a Selector."""
        return self._open_handle("use its fileno()").fileno()

    # -- value -----------------------------------------------------------------
    def get(self) -> int:
        """Read the pin's logical value (0 or 1).

        Like reading a sysfs ``value`` file did, this also acknowledges pending edges
        (they move to :meth:`edges`), so a level-triggered epoll loop does not spin.
        """
        handle = self._handle
        if handle is None:
            handle = self._open_handle("read it")
        if self._edge is not Edge.NONE:
            self._collect()
        return 1 if handle.get() else 0

    def set(self, value: int | bool) -> None:
        """Drive an output to 0 or 1."""
        handle = self._handle
        if handle is None:
            handle = self._open_handle("write it")
        if self._direction is not Direction.OUT:
            raise PinDirectionError(
                f"{self._describe()} is an input and cannot be written: "
                "create it with direction=Out (or set pin.direction = Out)"
            )
        handle.set(value if value is True or value is False else bool(self._check_value(value)))

    # get and set themselves, not methods that call them: one Python frame less per
    # read or write of pin.value.
    value = property(get, set, doc="The logical value, 0 or 1; assign to drive an output.")

    def _check_value(self, value: object) -> int:
        if isinstance(value, bool) or value in (0, 1):
            return int(value)  # type: ignore[call-overload]
        raise InvalidSettingError(f"a pin value must be 0, 1, True or False, not {value!r}")

    # -- settings --------------------------------------------------------------
    def _settings(self) -> LineSettings:
        return LineSettings(
            direction=self._direction,
            edge=self._edge,
            bias=self._bias,
            drive=self._drive,
            active_low=self._active_low,
            debounce_ns=self._debounce_ns,
            output_value=bool(self._initial),
            event_buffer_size=self._event_buffer_size,
        )

    def _reconfigure(self, **changes: Any) -> None:
        saved = {name: getattr(self, name) for name in changes}
        for name, value in changes.items():
            setattr(self, name, value)
        try:
            settings = self._settings()
            if self._handle is not None:
                self._handle.reconfigure(settings)
        except BaseException:
            for name, value in saved.items():
                setattr(self, name, value)
            raise

    @property
    def direction(self) -> Direction:
        """``In`` or ``Out``; settable while open."""
        return self._direction

    @direction.setter
    def direction(self, value: Direction | str) -> None:
        direction = _coerce(value, Direction, "direction")
        if direction is Direction.OUT and self._edge is not Edge.NONE:
            raise PinDirectionError(
                f"{self._describe()} has interrupt={self._edge.value}, which needs an "
                "input: set pin.interrupt = None before making it an output"
            )
        changes: dict[str, Any] = {"_direction": direction}
        if direction is Direction.IN:
            changes["_drive"] = Drive.PUSH_PULL
        else:
            changes["_debounce_ns"] = 0
            if self._handle is not None:
                changes["_initial"] = int(self._handle.get())
        self._reconfigure(**changes)

    @property
    def interrupt(self) -> Edge | None:
        """Which edges make the pin's fd readable: ``Rising``, ``Falling``, ``Both`` or None."""
        return None if self._edge is Edge.NONE else self._edge

    @interrupt.setter
    def interrupt(self, value: Edge | str | None) -> None:
        edge = _coerce_edge(value)
        if edge is not Edge.NONE and self._direction is Direction.OUT:
            raise PinDirectionError(
                f"{self._describe()} is an output and cannot detect edges: "
                "set pin.direction = In first"
            )
        self._reconfigure(_edge=edge)

    @property
    def pull(self) -> Bias | None:
        """The bias: ``PullUp``, ``PullDown``, ``PullNone`` (disabled) or None (as is)."""
        return None if self._bias is Bias.AS_IS else self._bias

    @pull.setter
    def pull(self, value: Bias | str | None) -> None:
        self._reconfigure(_bias=_coerce_bias(value))

    bias = pull

    @property
    def active_low(self) -> bool:
        """True when a low level reads as 1 (and rising/falling swap)."""
        return self._active_low

    @active_low.setter
    def active_low(self, value: bool) -> None:
        if not isinstance(value, bool):
            raise InvalidSettingError(f"active_low must be True or False, not {value!r}")
        self._reconfigure(_active_low=value)

    @property
    def drive(self) -> Drive:
        """The output stage: ``PushPull``, ``OpenDrain`` or ``OpenSource``."""
        return self._drive

    @drive.setter
    def drive(self, value: Drive | str) -> None:
        self._reconfigure(_drive=_coerce(value, Drive, "drive"))

    @property
    def debounce(self) -> float:
        """Debounce period in seconds (0 for none): an edge is reported once the line
        has been stable for this long, as the kernel does."""
        return self._debounce_ns / 1e9

    @debounce.setter
    def debounce(self, value: float | datetime.timedelta | None) -> None:
        self._reconfigure(_debounce_ns=_coerce_debounce(value))

    # -- edges -----------------------------------------------------------------
    def edges(self) -> list[EdgeEvent]:
        """Return the edges detected since the last call, oldest first, without blocking.

        A gap in ``line_seqno`` means the event buffer overflowed; the pin counts the
        lost edges in :attr:`lost_edges` and warns (``on_overflow="warn"``), raises
        :class:`EventOverflowError` (``"raise"``) or stays quiet (``"ignore"``).
        """
        self._open_handle("read its edges")
        self._collect()
        events = list(self._history)
        self._history.clear()
        return events

    read_edges = edges

    def _collect(self) -> None:
        """Move the pending edges into the history, counting sequence gaps."""
        handle = self._handle
        if handle is None:
            return
        fresh = handle.read_edges()
        if fresh:
            self._take_edges(fresh)

    def _take_edges(self, fresh: list[EdgeEvent]) -> None:
        """Add ``fresh`` (not empty) to the history; count, and report, a seqno gap."""
        sink = self._sink
        lost = 0
        last = sink.last_line_seqno
        for event in fresh:
            seqno = event.line_seqno
            if seqno > last + 1:
                lost += seqno - last - 1
            last = seqno
        sink.last_line_seqno = last
        self._history.extend(fresh)
        if lost:
            self.lost_edges += lost
            message = (
                f"{self._describe()} lost {lost} edge(s) to event buffer overflow "
                f"(seqno gap before {fresh[-1].line_seqno}): read edges sooner or "
                "raise event_buffer_size"
            )
            if self._on_overflow == "raise":
                raise EventOverflowError(message)
            if self._on_overflow == "warn":
                # Pointed at the program's line, whichever call found the gap
                # (edges(), value, Selector.wait() through a line's drain).
                warnings.warn(message, EventOverflowWarning, stacklevel=_caller_stacklevel())

    def _selector_drain(self) -> Callable[[], None]:
        """What a Selector calls when it reports this pin: take the pending edges off
        the fd (so a level-triggered loop does not spin); they stay for ``edges()``.

        A line that makes its own drain (the cdev backend) reads and decodes the edges
        into the pin in one call; any other line goes through ``read_edges()``. (A pin
        without edge detection is never reported: its fd is never readable.)
        """
        handle = self._handle
        if isinstance(handle, DrainsEdges):
            return handle.edge_drain(self._sink)
        return self._collect

    def _open_handle(self, action: str) -> LineHandle:
        if self._handle is None:
            raise ClosedError(
                f"{self._describe()} is closed: open it (with pin: ... or pin.open()) "
                f"before you {action}"
            )
        return self._handle


#: The keyword settings PinBank.pin passes on to Pin, beyond direction/interrupt/pull.
_PIN_OPTIONS: Final = frozenset(
    {
        "active_low",
        "drive",
        "debounce",
        "value",
        "event_buffer_size",
        "on_overflow",
        "consumer",
        "_shown_index",
    }
)


def _check_lines(lines: object) -> tuple[str | int, ...]:
    # A bare string would be taken as a sequence of one-letter line names.
    if isinstance(lines, str) or not isinstance(lines, Sequence):
        raise InvalidSettingError(
            f"lines must be a list of line names or offsets, not {lines!r}: "
            f"e.g. PinBank(['GPIO17', 'GPIO18'])"
        )
    for spec in lines:
        if isinstance(spec, bool) or not isinstance(spec, str | int) or spec == "":
            raise InvalidSettingError(
                f"each of lines must be a line name or an offset, not {spec!r} (in {lines!r})"
            )
        if isinstance(spec, int) and spec < 0:
            raise PinIndexError(f"line offset {spec} in lines is negative: offsets count from 0")
    return tuple(lines)


@final
class PinBank:
    """Numbered pins on a backend: ``bank.pin(i, direction=In, interrupt=Both)``.

    Args:
        lines: what each index means: a line name (``"GPIO17"``) or an offset on
            ``chip``. None numbers the offsets of ``chip`` directly.
        chip: the chip for offsets and name look-ups (default: the backend's default).
        backend: a backend, a registered backend name, or None for the current one
            (see :func:`~gpiocore.current_backend`), looked up when a pin is made.
        name: how the bank is called in messages.
    """

    def __init__(
        self,
        lines: Sequence[str | int] | None = None,
        *,
        chip: str | None = None,
        backend: Backend | str | None = None,
        name: str = "bank",
        description: str = "",
    ) -> None:
        self._lines = None if lines is None else _check_lines(lines)
        if chip is not None and not isinstance(chip, str):
            raise LineNotFoundError(f"chip must be a chip name such as 'gpiochip0', not {chip!r}")
        self._chip = chip
        if backend is not None and not isinstance(backend, str):
            check_backend(backend, "PinBank")
        self._backend = backend
        self._name = name
        self._description = description

    def __repr__(self) -> str:
        return f"<PinBank {self._name} {self._lines or 'offsets'}>"

    def _resolve_backend(self) -> Backend:
        if self._backend is None:
            return current_backend()
        if isinstance(self._backend, str):
            self._backend = load_backend(self._backend)
        return self._backend

    def __len__(self) -> int:
        if self._lines is not None:
            return len(self._lines)
        backend = self._resolve_backend()
        chip = self._chip or backend.default_chip()
        chips = backend.chips()
        for info in chips:
            if info.name == chip:
                return info.num_lines
        raise LineNotFoundError(
            f"no chip named {chip!r} on the {backend.name!r} backend: use one of "
            f"{[c.name for c in chips]}"
        )

    def pin(
        self,
        index: int,
        direction: Direction | str = Direction.IN,
        interrupt: Edge | str | None = None,
        pull: Bias | str | None = None,
        **options: Any,
    ) -> Pin:
        """Return the unopened pin ``index`` with the given settings.

        Raises:
            PinIndexError: the bank has no such pin.
            InvalidSettingError: a setting is invalid.
        """
        if isinstance(index, bool) or not isinstance(index, int):
            raise PinIndexError(
                f"a pin index must be an int, not {index!r}: e.g. {self._name}.pin(0)"
            )
        size = len(self)
        backend = self._resolve_backend()
        chip = self._chip or backend.default_chip()
        if not 0 <= index < size:
            if self._lines is None:
                raise PinIndexError(
                    f"line offset {index} is out of range for {chip}: use 0 to {size - 1}"
                )
            raise PinIndexError(
                f"{self._name} has no pin {index}: use 0 to {size - 1}{self._description}"
            )
        unknown = sorted(set(options) - _PIN_OPTIONS)
        if unknown:
            known = ", ".join(sorted(_PIN_OPTIONS - {"_shown_index"}))
            raise InvalidSettingError(
                f"unknown pin setting(s) {', '.join(map(repr, unknown))}: use "
                f"direction, interrupt, pull or {known}"
            )
        spec = index if self._lines is None else self._lines[index]
        if isinstance(spec, str):
            chip, offset = _find_line_or_broadcom(backend, spec, self._chip, chip)
            line_name: str | None = spec
        else:
            offset = spec
            line_name = next(
                (
                    c.line_names[offset]
                    for c in backend.chips()
                    if c.name == chip and offset < c.num_lines
                ),
                None,
            )
        return Pin(
            backend,
            chip,
            offset,
            index=options.pop("_shown_index", index),
            bank=self._name,
            line_name=line_name,
            direction=direction,
            interrupt=interrupt,
            pull=pull,
            **options,
        )


def line(
    which: str | int,
    *,
    chip: str | None = None,
    backend: Backend | str | None = None,
    **settings: Any,
) -> Pin:
    """Return the unopened pin for a line given by name (``"GPIO17"``) or offset.

    Args:
        which: a line name, or an offset on ``chip`` (default: the backend's default chip).
        chip: restrict the look-up to one chip.
        backend: a backend or registered name; None for the current one.
        **settings: as for :meth:`PinBank.pin` (direction, interrupt, pull, ...).
    """
    if backend is not None and not isinstance(backend, str):
        check_backend(backend, "line()")
    if isinstance(which, str):
        if not which:
            raise LineNotFoundError("a line name must not be empty: pass e.g. 'GPIO17' or 17")
        bank = PinBank([which], chip=chip, backend=backend, name="line")
    else:
        bank = PinBank(None, chip=chip, backend=backend, name="line")
        if isinstance(which, bool) or not isinstance(which, int):
            raise PinIndexError(f"a line is a name or an offset, not {which!r}")
        return bank.pin(which, **settings)
    return bank.pin(0, _shown_index=which, **settings)


pins: Final = PinBank(
    QUICK2WIRE_LINES,
    name="pins",
    description=" (P0-P7 of the Quick2Wire header)",
)
"""The Quick2Wire board's P0-P7 on the current backend, as in the original post."""
