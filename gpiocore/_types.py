"""Value types shared by the core and every backend: enums, line settings, edge events."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import math
import operator
from typing import Any, Final

from gpiocore._errors import InvalidSettingError

__all__ = [
    "MAX_DEBOUNCE_NS",
    "MAX_NS",
    "NS_PER_S",
    "Bias",
    "Direction",
    "Drive",
    "Edge",
    "EdgeEvent",
    "EdgeType",
    "LineSettings",
    "check_debounce_ns",
    "check_level",
    "to_ns",
]

NS_PER_S: Final = 1_000_000_000
MAX_NS: Final = 2**63 - 1
"""The longest duration: the kernel keeps times as signed 64-bit nanoseconds."""
MAX_DEBOUNCE_NS: Final = (2**32 - 1) * 1000
"""The longest debounce: the kernel takes it as a 32-bit count of microseconds
(4294.967295 seconds)."""


class Direction(enum.Enum):
    """Which way a line goes."""

    IN = "in"
    """The program reads the line."""
    OUT = "out"
    """The program drives the line."""


class Edge(enum.Enum):
    """Which edges of an input raise an event (Quick2Wire called this ``interrupt``).

    ``RISING`` and ``FALLING`` compare equal to (and hash like) the :class:`EdgeType`
    an event reports, so ``event.type == Rising`` is True for a rising edge.
    """

    NONE = "none"
    """No edge detection: the pin's fd never becomes readable."""
    RISING = "rising"
    """Inactive to active."""
    FALLING = "falling"
    """Active to inactive."""
    BOTH = "both"
    """Either transition."""

    # Rising (the setting) and EdgeType.RISING (what an event reports) name one thing:
    # ``event.type == Rising`` must not be silently False. Equal members hash alike
    # (both hash their name), so either one finds the other in a dict or a set.
    def __eq__(self, other: object) -> bool:
        """Equal to itself and to the :class:`EdgeType` of the same name."""
        if isinstance(other, Edge | EdgeType):
            return self.name == other.name
        return NotImplemented

    def __hash__(self) -> int:
        """The hash of the name, as :class:`EdgeType` hashes: equal members hash alike."""
        return hash(self.name)


class EdgeType(enum.Enum):
    """The kind of one detected edge, in logical terms (active-low swaps them).

    Each compares equal to (and hashes like) the :class:`Edge` setting of the same
    name, so ``event.type == Rising`` reads as it should; ``Both`` and ``NONE`` equal
    no edge type. ``is`` still tells the two classes apart: compare with ``==``, or
    use :attr:`EdgeEvent.rising`.
    """

    RISING = "rising"
    """The logical value went from 0 to 1."""
    FALLING = "falling"
    """The logical value went from 1 to 0."""

    def __eq__(self, other: object) -> bool:
        """Equal to itself and to the :class:`Edge` setting of the same name."""
        if isinstance(other, Edge | EdgeType):
            return self.name == other.name
        return NotImplemented

    def __hash__(self) -> int:
        """The hash of the name, as :class:`Edge` hashes: equal members hash alike."""
        return hash(self.name)


#: The uAPI's event ids (GPIO_V2_LINE_EVENT_RISING_EDGE = 1, FALLING_EDGE = 2), which
#: EdgeEvent keeps in place of the enum.
_EDGE_TYPES_BY_ID: Final = (None, EdgeType.RISING, EdgeType.FALLING)
_EDGE_IDS: Final = {EdgeType.RISING: 1, EdgeType.FALLING: 2}


class Bias(enum.Enum):
    """Internal pull resistor of an input."""

    AS_IS = "as-is"
    """Leave whatever the line had."""
    DISABLED = "disabled"
    """No pull."""
    PULL_UP = "pull-up"
    """Pull towards the supply."""
    PULL_DOWN = "pull-down"
    """Pull towards ground."""


class Drive(enum.Enum):
    """Output stage of an output line."""

    PUSH_PULL = "push-pull"
    """Drives both levels."""
    OPEN_DRAIN = "open-drain"
    """Drives low, floats (lets the pull decide) for high."""
    OPEN_SOURCE = "open-source"
    """Drives high, floats for low."""


def to_ns(value: float | int | datetime.timedelta, what: str) -> int:
    """Convert a duration in seconds (or a ``timedelta``) to whole nanoseconds.

    Args:
        value: seconds as an int or float, or a ``datetime.timedelta``.
        what: the name of the setting, used in the error message.

    Returns:
        The duration in nanoseconds, rounded to the nearest one.

    Raises:
        InvalidSettingError: the value is not a number, is negative, NaN or infinite.
    """
    if isinstance(value, datetime.timedelta):
        seconds: float = value.total_seconds()
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidSettingError(
            f"{what} must be a duration in seconds (int, float or timedelta), "
            f"not {value!r}: pass e.g. {what}=0.01 for 10 ms"
        )
    else:
        seconds = float(value)
    if math.isnan(seconds) or math.isinf(seconds) or seconds < 0:
        raise InvalidSettingError(
            f"{what} must be a finite duration of 0 seconds or more, not {value!r}"
        )
    if seconds * NS_PER_S > MAX_NS:
        # A finite float can still overflow the kernel's 64-bit nanosecond clocks.
        raise InvalidSettingError(
            f"{what} {value!r} is too long: durations are at most {MAX_NS // NS_PER_S} "
            "seconds (2**63 ns, about 292 years); pass a shorter one"
        )
    return round(seconds * NS_PER_S)


def check_debounce_ns(debounce_ns: int) -> int:
    """Return ``debounce_ns`` if the kernel can take it (rounded up to microseconds).

    Raises:
        InvalidSettingError: it is above :data:`MAX_DEBOUNCE_NS` (4294.967295 s), which
            the kernel would wrap around (5000 s becoming 705 s, 4294.967296 s off).
    """
    if debounce_ns > MAX_DEBOUNCE_NS:
        raise InvalidSettingError(
            f"debounce {debounce_ns / NS_PER_S!r} s is above the kernel's limit of "
            "4294.967295 s (a 32-bit count of microseconds): pass a shorter one"
        )
    return debounce_ns


def check_level(value: object, where: str) -> bool:
    """Return a line level given as ``True``/``False`` (or the ints 0 and 1) as a bool.

    Anything else is refused, rather than read by its truth: the string ``"0"`` would
    drive a line high, and NaN is neither level.

    Raises:
        InvalidSettingError: ``value`` is not a bool, 0 or 1.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise InvalidSettingError(
        f"{where}: a level must be True or False (or 0 or 1), not {value!r}: e.g. True for high"
    )


@dataclasses.dataclass(frozen=True, slots=True)
class LineSettings:
    """Everything a backend needs to request or reconfigure one line.

    Validated on construction so that no backend ever sees an impossible combination
    (the kernel's own rules: edges and debounce need an input, drive needs an output).
    """

    direction: Direction = Direction.IN
    edge: Edge = Edge.NONE
    bias: Bias = Bias.AS_IS
    drive: Drive = Drive.PUSH_PULL
    active_low: bool = False
    debounce_ns: int = 0
    output_value: bool = False
    event_buffer_size: int = 0  # 0 = the kernel's default (16 per line)

    def __post_init__(self) -> None:
        for name, kind in (
            ("direction", Direction),
            ("edge", Edge),
            ("bias", Bias),
            ("drive", Drive),
        ):
            value = getattr(self, name)
            if not isinstance(value, kind):
                choices = ", ".join(m.name for m in kind)
                raise InvalidSettingError(
                    f"invalid {name} {value!r}: use one of gpiocore.{kind.__name__}.{{{choices}}}"
                )
        if self.direction is Direction.OUT and self.edge is not Edge.NONE:
            raise InvalidSettingError(
                f"edge detection ({self.edge.name}) needs an input: "
                "request the line with direction=In, or drop the edge"
            )
        if self.direction is Direction.OUT and self.debounce_ns:
            raise InvalidSettingError("debounce needs an input: request the line with direction=In")
        if self.direction is Direction.IN and self.drive is not Drive.PUSH_PULL:
            raise InvalidSettingError(
                f"drive {self.drive.name} needs an output: request the line with direction=Out"
            )
        if not isinstance(self.debounce_ns, int) or self.debounce_ns < 0:
            raise InvalidSettingError(f"debounce must be 0 or more, not {self.debounce_ns!r}")
        check_debounce_ns(self.debounce_ns)
        if (
            isinstance(self.event_buffer_size, bool)
            or not isinstance(self.event_buffer_size, int)
            or not (0 <= self.event_buffer_size <= 1024)
        ):
            raise InvalidSettingError(
                f"event_buffer_size must be 0 (default) to 1024, not {self.event_buffer_size!r}"
            )


class EdgeEvent(tuple):  # type: ignore[type-arg]
    """One edge detected on an input line, as the kernel reports it.

    Immutable, compared and hashed by its five fields, like a frozen dataclass: equal
    only to another ``EdgeEvent`` with the same fields. It is a tuple underneath
    because that is the cheapest object Python makes per edge: the tuple holds the
    fields of the kernel's ``struct gpio_v2_line_event`` in the struct's order (the edge
    kind as its uAPI id), so the cdev backend makes one straight from the unpacked
    record. The tuple's order is not part of the API: read the attributes.
    """

    __slots__ = ()
    __match_args__ = ("type", "timestamp_ns", "offset", "line_seqno", "global_seqno")

    def __new__(
        cls,
        type: EdgeType,
        timestamp_ns: int,
        offset: int,
        line_seqno: int,
        global_seqno: int,
    ) -> EdgeEvent:
        """Make an event (backends do; a program only reads them).

        Raises:
            InvalidSettingError: ``type`` is not an :class:`EdgeType`.
        """
        kind = _EDGE_IDS.get(type) if isinstance(type, EdgeType | Edge) else None
        if kind is None:
            raise InvalidSettingError(
                f"an edge event's type must be EdgeType.RISING or EdgeType.FALLING, not {type!r}"
            )
        return tuple.__new__(cls, (timestamp_ns, kind, offset, global_seqno, line_seqno))

    # C-level getters (as collections.namedtuple's): no Python frame per attribute read,
    # but for ``type``, which maps the uAPI id (1 rising, 2 falling) to the enum.
    @property
    def type(self) -> EdgeType:
        """Rising or falling."""
        return _EDGE_TYPES_BY_ID[self[1]]  # type: ignore[return-value]

    timestamp_ns: int = property(  # type: ignore[assignment]
        operator.itemgetter(0),
        doc="CLOCK_MONOTONIC of the backend's clock (virtual time on the fake backend).",
    )
    offset: int = property(  # type: ignore[assignment]
        operator.itemgetter(2), doc="The line's offset on its chip."
    )
    line_seqno: int = property(  # type: ignore[assignment]
        operator.itemgetter(4),
        doc="Sequence number of this edge on its line; a gap means edges were lost.",
    )
    global_seqno: int = property(  # type: ignore[assignment]
        operator.itemgetter(3),
        doc="Sequence number within the request (``line_seqno`` for a one-line request).",
    )

    @property
    def rising(self) -> bool:
        """True for a rising edge."""
        return self[1] == 1

    def __repr__(self) -> str:
        """As a dataclass shows itself: ``EdgeEvent(type=..., timestamp_ns=..., ...)``."""
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__match_args__)
        return f"EdgeEvent({fields})"

    def __getnewargs__(self) -> tuple[Any, ...]:
        """For copy and pickle: the arguments of ``__new__``."""
        return (self.type, self[0], self[2], self[4], self[3])

    # Equal only to another EdgeEvent, as a dataclass is (a tuple compares with any
    # tuple), and unordered.
    def __eq__(self, other: object) -> bool:
        """Equal to an ``EdgeEvent`` with the same fields."""
        if isinstance(other, EdgeEvent):
            return tuple.__eq__(self, other)
        # A plain tuple would otherwise compare element-wise (tuple.__eq__ reflected).
        return False if isinstance(other, tuple) else NotImplemented

    def __ne__(self, other: object) -> bool:
        """Not equal to anything but an ``EdgeEvent`` with the same fields."""
        if isinstance(other, EdgeEvent):
            return tuple.__ne__(self, other)
        return True if isinstance(other, tuple) else NotImplemented

    __hash__ = tuple.__hash__

    def _unordered(self, other: object) -> bool:
        return NotImplemented

    __lt__ = __le__ = __gt__ = __ge__ = _unordered  # type: ignore[assignment]
