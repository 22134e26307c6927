"""The ``cdev`` backend: the GPIO character device through libgpiod v2 (``gpiod``).

Never sysfs GPIO. Shared by the ``pi`` and ``sim`` backends, which only differ in how
they find their chip and how a rig drives and observes its lines.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import io
import os
import struct
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final, final

from gpiocore._clock import Clock, MonotonicClock
from gpiocore._errors import (
    ClosedError,
    GpioPermissionError,
    InvalidSettingError,
    LineBusyError,
    LineNotFoundError,
    PinDirectionError,
    PinIndexError,
)
from gpiocore._types import (
    Bias,
    Direction,
    Drive,
    Edge,
    EdgeEvent,
    LineSettings,
    check_debounce_ns,
)
from gpiocore.backends._base import ChipInfo, EdgeSink, Harness
from gpiocore.backends._timerfd import TimerfdTimer

if TYPE_CHECKING:
    import gpiod

__all__ = ["CdevBackend", "CdevLine", "to_gpiod_settings"]

DEV_ROOT: Final = Path("/dev")
"""Where the GPIO character devices (``gpiochipN``) are looked for."""
DETECT_RANK: Final = 10
"""What :meth:`CdevBackend.detect` says for any GPIO chip (a board's backend says more)."""
# Enough to drain any kernel buffer (at most 16 x lines by default, 1024 if asked) in a
# few reads, yet bounded so an edge storm cannot keep read_edges() looping forever.
_MAX_READS: Final = 64
#: struct gpio_v2_line_event (48 bytes): timestamp_ns, id, offset, seqno, line_seqno,
#: padding[6]; read from the request's fd and decoded here rather than by gpiod, whose
#: two objects per edge (its own, then ours) cost more than the read.
_EVENT: Final = struct.Struct("<QIIII24x")
_EVENT_SIZE: Final = _EVENT.size
_unpack_one: Final = _EVENT.unpack_from
_new: Final = tuple.__new__
#: Events one read takes at least (a request's kernel buffer may be smaller).
_READ_EVENTS: Final = 64
# Values through the uAPI's ioctls on the request's fd, struct gpio_v2_line_values
# {u64 bits; u64 mask}: bit 0 is the request's first (here only) line. Logical values,
# as gpiod's: the kernel applies active-low (and debounce) itself. One ioctl and no
# gpiod objects per call; gpiod still requests and configures the line.
_GET_VALUES_IOCTL: Final = 0xC010B40E  # _IOWR(0xB4, 0x0E, struct gpio_v2_line_values)
_SET_VALUES_IOCTL: Final = 0xC010B40F  # _IOWR(0xB4, 0x0F, struct gpio_v2_line_values)
_VALUES = struct.Struct("<QQ")
_ASK_LINE0: Final = _VALUES.pack(0, 1)
_SET_LOW: Final = _VALUES.pack(0, 1)
_SET_HIGH: Final = _VALUES.pack(1, 1)
_PERMISSION_FIX: Final = (
    "add the user to the 'gpio' group (sudo usermod -aG gpio $USER, then log in again) "
    "or install a udev rule that makes /dev/gpiochip* group-writable"
)


def to_gpiod_settings(settings: LineSettings) -> gpiod.LineSettings:
    """Map gpiocore line settings to ``gpiod.LineSettings``.

    Debounce is rounded *up* to whole microseconds (the uAPI's unit) so that a short but
    non-zero debounce is never silently turned off.
    """
    import gpiod
    from gpiod.line import Bias as GBias
    from gpiod.line import Direction as GDirection
    from gpiod.line import Drive as GDrive
    from gpiod.line import Edge as GEdge
    from gpiod.line import Value as GValue

    direction = {Direction.IN: GDirection.INPUT, Direction.OUT: GDirection.OUTPUT}
    edge = {
        Edge.NONE: GEdge.NONE,
        Edge.RISING: GEdge.RISING,
        Edge.FALLING: GEdge.FALLING,
        Edge.BOTH: GEdge.BOTH,
    }
    bias = {
        Bias.AS_IS: GBias.AS_IS,
        Bias.DISABLED: GBias.DISABLED,
        Bias.PULL_UP: GBias.PULL_UP,
        Bias.PULL_DOWN: GBias.PULL_DOWN,
    }
    drive = {
        Drive.PUSH_PULL: GDrive.PUSH_PULL,
        Drive.OPEN_DRAIN: GDrive.OPEN_DRAIN,
        Drive.OPEN_SOURCE: GDrive.OPEN_SOURCE,
    }
    # Checked again here: the uAPI's u32 of microseconds would silently wrap around.
    debounce_us = -(-check_debounce_ns(settings.debounce_ns) // 1000)
    return gpiod.LineSettings(
        direction=direction[settings.direction],
        edge_detection=edge[settings.edge],
        bias=bias[settings.bias],
        drive=drive[settings.drive],
        active_low=settings.active_low,
        debounce_period=datetime.timedelta(microseconds=debounce_us),
        output_value=GValue.ACTIVE if settings.output_value else GValue.INACTIVE,
    )


def _settings_error(exc: OSError, where: str, settings: LineSettings) -> Exception:
    """Turn an OSError from a request or reconfigure into gpiocore's error."""
    code = exc.errno
    if code in (errno.EACCES, errno.EPERM):
        return GpioPermissionError(f"no permission to request {where}: {_PERMISSION_FIX}")
    if code in (errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP, 524):  # 524: kernel ENOTSUPP
        return InvalidSettingError(
            f"the kernel rejected the settings for {where} ({os.strerror(code or 0)}): "
            f"{settings}; the chip may not support this bias, drive or debounce"
        )
    return exc


@final
class CdevLine:
    """One requested line on a GPIO character device (a ``gpiod.LineRequest``).

    Made by :meth:`CdevBackend.open_line`. Closing it releases the line.
    """

    def __init__(
        self,
        request: gpiod.LineRequest,
        *,
        chip: str,
        offset: int,
        settings: LineSettings,
        on_close: Callable[[CdevLine], None] | None = None,
    ) -> None:
        self._request: gpiod.LineRequest | None = request
        self._fd = request.fd
        # Non-blocking: read_edges() reads without polling first (an empty queue gives
        # EAGAIN). Readiness for epoll/select is unchanged.
        os.set_blocking(self._fd, False)
        # FileIO.readinto answers EAGAIN with None, not an exception (cheaper by far);
        # the fd stays gpiod's to close. One reused buffer, at least as large as the
        # request's kernel buffer, so one read drains the queue.
        self._file = io.FileIO(self._fd, "rb", closefd=False)
        # Closed with the line: a drain made by edge_drain() then fails instead of
        # reading whatever file reuses the fd's number.
        self._readinto = self._file.readinto
        capacity = max(_READ_EVENTS, settings.event_buffer_size)
        self._view = memoryview(bytearray(capacity * _EVENT.size))
        self._full = capacity * _EVENT.size
        self.chip = chip
        """The chip's name, e.g. ``gpiochip1``."""
        self.offset = offset
        """The line's offset on its chip."""
        self._settings = settings
        self._output = settings.direction is Direction.OUT
        self._on_close = on_close

    def __repr__(self) -> str:
        state = "" if self._request is not None else ", closed"
        return f"CdevLine({self.chip!r}, {self.offset}{state})"

    @property
    def settings(self) -> LineSettings:
        """The settings the line was requested or last reconfigured with."""
        return self._settings

    @property
    def closed(self) -> bool:
        """True once the line is released."""
        return self._request is None

    def _req(self) -> gpiod.LineRequest:
        if self._request is None:
            raise ClosedError(
                f"line {self.offset} of {self.chip} is closed: open it again to use it"
            )
        return self._request

    def fileno(self) -> int:
        """The request's fd: readable while edge events are pending.

        Raises:
            ClosedError: the line is closed.
        """
        self._req()
        return self._fd

    def get(self) -> bool:
        """The line's logical value (active-low applied, debounced if debounce is set).

        Raises:
            ClosedError: the line is closed.
        """
        if self._request is None:
            self._req()
        return bool(fcntl.ioctl(self._fd, _GET_VALUES_IOCTL, _ASK_LINE0)[0] & 1)

    def set(self, value: bool) -> None:
        """Drive the output to a logical value.

        Raises:
            ClosedError: the line is closed.
            PinDirectionError: the line is an input.
        """
        if self._request is None:
            self._req()
        if not self._output:
            raise PinDirectionError(
                f"line {self.offset} of {self.chip} is an input and cannot be set: "
                "request or reconfigure it with direction=Out"
            )
        fcntl.ioctl(self._fd, _SET_VALUES_IOCTL, _SET_HIGH if value else _SET_LOW)

    def read_edges(self) -> list[EdgeEvent]:
        """Return the pending edges, oldest first; [] at once if there are none.

        The request's fd is non-blocking, so one ``read`` is the only syscall: a read
        that does not fill the buffer has drained the kernel's queue, and an empty
        queue ends in EAGAIN instead of blocking.

        Raises:
            ClosedError: the line is closed.
        """
        if self._request is None:
            self._req()
        n = self._readinto(self._view)
        if not n:
            return []
        # The event is the unpacked record itself (EdgeEvent keeps the struct's order).
        if n == _EVENT_SIZE:  # one edge, the usual case: no loop, no slice
            return [_new(EdgeEvent, _unpack_one(self._view))]
        return self._decode(n)

    def _decode(self, n: int) -> list[EdgeEvent]:
        """Decode the ``n`` bytes read (more than one event), reading on while full."""
        readinto, view, full = self._readinto, self._view, self._full
        events: list[EdgeEvent] = []
        for _ in range(_MAX_READS):
            events += [_new(EdgeEvent, record) for record in _EVENT.iter_unpack(view[:n])]
            if n < full:
                break
            n = readinto(view)
            if not n:
                break
        return events

    def edge_drain(self, sink: EdgeSink) -> Callable[[], None]:
        """A drain for a Selector that reads this line's pending edges into ``sink``.

        One call per report: an edge that follows the last one in sequence (the usual
        case) goes straight to ``sink.edge_append``; anything else (several edges, a
        seqno gap) to ``sink.take_edges``, which counts the gap.

        Raises (from the drain):
            ClosedError: the line was closed.
        """
        readinto, view, unpack = self._readinto, self._view, _unpack_one
        append, take, decode = sink.edge_append, sink.take_edges, self._decode
        where = f"line {self.offset} of {self.chip}"

        def drain() -> None:
            try:
                n = readinto(view)
            except ValueError:  # the FileIO was closed with the line
                raise ClosedError(f"{where} is closed: open it again to use it") from None
            if n == _EVENT_SIZE:
                event = _new(EdgeEvent, unpack(view))
                if event[4] == sink.last_line_seqno + 1:
                    sink.last_line_seqno = event[4]
                    append(event)
                else:
                    take([event])
            elif n:
                take(decode(n))

        return drain

    def reconfigure(self, settings: LineSettings) -> None:
        """Apply new settings, keeping the request (and its pending edges).

        Raises:
            ClosedError: the line is closed.
            InvalidSettingError: ``event_buffer_size`` differs (it is fixed per request),
                or the kernel rejected the settings.
        """
        req = self._req()
        if settings.event_buffer_size != self._settings.event_buffer_size:
            raise InvalidSettingError(
                f"event_buffer_size is fixed when a line is requested "
                f"({self._settings.event_buffer_size}), not {settings.event_buffer_size}: "
                "close the line and open it again"
            )
        try:
            req.reconfigure_lines({self.offset: to_gpiod_settings(settings)})
        except OSError as exc:
            raise _settings_error(exc, f"line {self.offset} of {self.chip}", settings) from exc
        self._settings = settings
        self._output = settings.direction is Direction.OUT

    def close(self) -> None:
        """Release the line (and its fd); safe to call twice."""
        req, self._request = self._request, None
        if req is None:
            return
        self._file.close()  # closefd=False: marks it closed, gpiod closes the fd
        req.release()
        if self._on_close is not None:
            self._on_close(self)


def _check_offset(gchip: gpiod.Chip, name: str, offset: object) -> None:
    if isinstance(offset, bool) or not isinstance(offset, int):
        raise PinIndexError(f"line offset must be a whole number, not {offset!r}")
    info = gchip.get_info()
    if not 0 <= offset < info.num_lines:
        raise PinIndexError(
            f"offset {offset} is out of range for {name} ({info.label}): it has lines "
            f"0..{info.num_lines - 1}"
        )


def _chip_sort_key(path: Path) -> tuple[int, str]:
    digits = path.name.removeprefix("gpiochip")
    return (int(digits), "") if digits.isdigit() else (1 << 30, path.name)


@final
class CdevBackend:
    """GPIO lines through the Linux character device (``/dev/gpiochipN``) and ``gpiod``.

    Args:
        chips: the chips to offer, as names (``gpiochip0``) or paths; by default every
            GPIO character device under ``/dev``, found afresh on each call.
        default_chip: the chip used when a program names none (default: the first).
    """

    name = "cdev"

    def __init__(self, chips: Sequence[str] | None = None, default_chip: str | None = None) -> None:
        if isinstance(chips, str):
            raise InvalidSettingError(
                f"chips must be a list of chip names or paths, not the string {chips!r}: "
                f"pass chips=[{chips!r}]"
            )
        self._fixed: tuple[str, ...] | None = (
            None if chips is None else tuple(self._path_of(c) for c in chips)
        )
        self._default = default_chip
        self._clock = MonotonicClock()
        self._open_chips: dict[str, gpiod.Chip] = {}
        self._lines: weakref.WeakSet[CdevLine] = weakref.WeakSet()
        self._closed = False

    def __repr__(self) -> str:
        chips = "all" if self._fixed is None else list(self._fixed)
        return f"CdevBackend(chips={chips})"

    @staticmethod
    def detect(root: Path = Path("/")) -> int:
        """How well this backend fits the machine (see ``gpiocore.current_backend``).

        Returns:
            10 where there is a GPIO character device (``root/dev/gpiochip*``), else 0.
        """
        return DETECT_RANK if any((root / "dev").glob("gpiochip*")) else 0

    # -- the Backend protocol ------------------------------------------------------------
    @property
    def clock(self) -> Clock:
        """The real monotonic clock (the clock of the kernel's edge timestamps)."""
        return self._clock

    @property
    def harness(self) -> Harness | None:
        """None: real hardware has no test side."""
        return None

    def chips(self) -> list[ChipInfo]:
        """Every chip offered, in order of chip number.

        Raises:
            ClosedError: the backend is closed.
            GpioPermissionError: a chip may not be opened.
        """
        return [self._info(path) for path in self._paths()]

    def default_chip(self) -> str:
        """The chip used when a program names none.

        Raises:
            LineNotFoundError: there are no GPIO chips at all.
        """
        if self._default is not None:
            return self._default
        paths = self._paths()
        if not paths:
            raise LineNotFoundError(
                "no GPIO chips found (no /dev/gpiochip*): this kernel has no GPIO "
                "controller or lacks CONFIG_GPIO_CDEV; for testing use the sim or fake backend"
            )
        return Path(paths[0]).name

    def open_line(self, chip: str, offset: int, settings: LineSettings, consumer: str) -> CdevLine:
        """Request one line.

        Args:
            chip: a chip name (``gpiochip0``), path (``/dev/gpiochip0``) or label.
            offset: the line's offset on that chip.
            settings: direction, edge, bias, drive, active-low, debounce, output value
                and event buffer size.
            consumer: the name other programs see as the line's user.

        Raises:
            LineNotFoundError: no such chip (the message lists the chips).
            PinIndexError: no such offset (the message gives the valid range).
            LineBusyError: the line is already requested (the message names the holder).
            GpioPermissionError: the chip may not be opened.
            InvalidSettingError: the kernel rejected the settings.
        """
        if not isinstance(settings, LineSettings):
            raise InvalidSettingError(
                f"settings must be a gpiocore LineSettings, not {type(settings).__name__}"
            )
        path = self._resolve(chip)
        name = Path(path).name
        where = f"line {offset} of {name}"
        for attempt in (1, 2):
            gchip = self._chip(path)
            _check_offset(gchip, name, offset)
            try:
                request = gchip.request_lines(
                    {offset: to_gpiod_settings(settings)},
                    consumer=consumer,
                    event_buffer_size=settings.event_buffer_size or None,
                )
                break
            except OSError as exc:
                # ENODEV: the cached chip was removed (a sim chip torn down and perhaps
                # made again under the same name): reopen the path once.
                if exc.errno != errno.ENODEV or attempt == 2:
                    raise self._request_error(exc, gchip, where, offset, settings) from exc
                self._open_chips.pop(path).close()
        line = CdevLine(
            request, chip=name, offset=offset, settings=settings, on_close=self._lines.discard
        )
        self._lines.add(line)
        return line

    @staticmethod
    def _request_error(
        exc: OSError, gchip: gpiod.Chip, where: str, offset: int, settings: LineSettings
    ) -> Exception:
        if exc.errno == errno.EBUSY:
            holder = gchip.get_line_info(offset).consumer or "an unnamed consumer"
            return LineBusyError(
                f"{where} is busy: it is already requested by {holder!r}; close the "
                "other request, or stop the process holding it (see gpioinfo)"
            )
        if exc.errno == errno.ENODEV:
            return LineNotFoundError(
                f"the chip of {where} was removed while in use (ENODEV): open the line on "
                "a chip that exists"
            )
        return _settings_error(exc, where, settings)

    def create_timer(self) -> TimerfdTimer:
        """Return a new disarmed timerfd on CLOCK_MONOTONIC."""
        return TimerfdTimer()

    def close(self) -> None:
        """Release every line still open through this backend and the chips it cached.

        Safe to call twice.
        """
        self._closed = True
        for line in list(self._lines):
            line.close()
        chips, self._open_chips = self._open_chips, {}
        for gchip in chips.values():
            gchip.close()

    # -- helpers ---------------------------------------------------------------------------
    def line_info(self, chip: str, offset: int) -> gpiod.LineInfo:
        """The kernel's view of one line (name, consumer, direction, bias, ...).

        Raises:
            LineNotFoundError: no such chip.
            PinIndexError: no such offset.
        """
        path = self._resolve(chip)
        gchip = self._chip(path)
        _check_offset(gchip, Path(path).name, offset)
        return gchip.get_line_info(offset)

    @staticmethod
    def _path_of(chip: str) -> str:
        return chip if "/" in chip else str(DEV_ROOT / chip)

    def _paths(self) -> list[str]:
        if self._closed:
            raise ClosedError("the cdev backend is closed: make a new one")
        if self._fixed is not None:
            return list(self._fixed)
        import gpiod

        found = [p for p in DEV_ROOT.glob("gpiochip*") if gpiod.is_gpiochip_device(str(p))]
        return [str(p) for p in sorted(found, key=_chip_sort_key)]

    def _chip(self, path: str) -> gpiod.Chip:
        gchip = self._open_chips.get(path)
        if gchip is not None:
            return gchip
        import gpiod

        try:
            gchip = gpiod.Chip(path)
        except PermissionError as exc:
            raise GpioPermissionError(f"no permission to open {path}: {_PERMISSION_FIX}") from exc
        except (FileNotFoundError, OSError) as exc:
            raise self._not_found(path) from exc
        self._open_chips[path] = gchip
        return gchip

    def _info(self, path: str) -> ChipInfo:
        gchip = self._chip(path)
        info = gchip.get_info()
        names = tuple(gchip.get_line_info(i).name or None for i in range(info.num_lines))
        return ChipInfo(name=Path(path).name, label=info.label, line_names=names)

    def _resolve(self, chip: str) -> str:
        """The device path of a chip given by name, path or label."""
        if not isinstance(chip, str) or not chip:
            raise LineNotFoundError(f"a chip must be named by a non-empty string, not {chip!r}")
        paths = self._paths()
        wanted = self._path_of(chip)
        if wanted in paths or (self._fixed is None and os.path.exists(wanted)):
            return wanted
        for path in paths:  # labels last: they need each chip opened
            try:
                if self._chip(path).get_info().label == chip:
                    return path
            except LineNotFoundError:
                continue
        raise self._not_found(chip)

    def _not_found(self, chip: str) -> LineNotFoundError:
        import gpiod

        entries = []
        with contextlib.suppress(ClosedError):
            for path in self._paths():
                label = "?"
                # The listing is a courtesy: a chip that cannot be opened is still listed.
                with contextlib.suppress(OSError), gpiod.Chip(path) as gchip:
                    label = gchip.get_info().label
                entries.append(f"{Path(path).name} ({label})")
        listing = ", ".join(entries)
        return LineNotFoundError(
            f"no GPIO chip {chip!r}: available chips are {listing or 'none'}; "
            "pass a name like 'gpiochip0', a path or a label"
        )
