"""The benchmark's contenders: a program's waiting loop on each library (gpiocore's
``Selector``, a gpiocore pin, raw epoll, libgpiod, a blocking read, python-periphery,
gpiozero), and which of them can run here.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Final, final

from gpiocore import Both, In, Pin
from gpiocore.selector import Selector
from gpiosim.bench._sources import (
    _PI4B_REVISION,
    _SIGILL_REASON,
    _V2_EVENT,
    BENCH_EXTRA,
    CONTENDERS,
    Contender,
    Handler,
    Target,
)

__all__ = [
    "contender_name",
    "make_contender",
    "unavailable_reason",
]


# ----------------------------------------------------------------------- contenders


def _gpiocore_pin(target: Target, consumer: str) -> Any:

    pin = Pin(
        target.backend,
        target.chip,
        target.offset,
        direction=In,
        interrupt=Both,
        on_overflow="ignore",  # loss is what the throughput section counts
        consumer=consumer,
    )
    pin.open()
    return pin


def _pairs(edges: Sequence[Any]) -> list[tuple[int | None, int | None]]:
    return [(e.timestamp_ns, e.line_seqno) for e in edges]


@final
class SelectorContender:
    """gpiocore's ``Selector`` with the pin added, as the post's second program."""

    key = "selector"
    name = "gpiocore Selector"
    open_per_block = False

    def __init__(self) -> None:
        self._pin: Any = None
        self._selector: Any = None

    def open(self, target: Target) -> None:
        """Open the pin and a selector on the backend's clock."""

        self._pin = _gpiocore_pin(target, "bench-selector")
        self._selector = Selector(backend=target.backend)
        self._selector.add(self._pin)

    def serve(self, handler: Handler, stop: threading.Event) -> None:
        """``selector.wait()``; the handler starts when ``ready`` is the pin."""
        pin, selector = self._pin, self._selector
        while True:
            selector.wait()
            if selector.ready is pin:
                t = time.monotonic_ns()  # wait() has read the pin's edges already
                handler(t, _pairs(pin.edges()))
                if stop.is_set():
                    return

    def close(self) -> None:
        """Close the selector and the pin."""
        if self._selector is not None:
            self._selector.close()
        if self._pin is not None:
            self._pin.close()


@final
class EpollContender:
    """A gpiocore pin's ``fileno()`` in a raw ``select.epoll``, as the post's first program."""

    key = "epoll"
    name = "gpiocore pin fileno() in raw epoll"
    open_per_block = False

    def __init__(self) -> None:
        self._pin: Any = None
        self._epoll: select.epoll | None = None

    def open(self, target: Target) -> None:
        """Open the pin and register its fd (level-triggered)."""
        self._pin = _gpiocore_pin(target, "bench-epoll")
        self._epoll = select.epoll()
        self._epoll.register(self._pin.fileno(), select.EPOLLIN)

    def serve(self, handler: Handler, stop: threading.Event) -> None:
        """``epoll.poll()``, then ``pin.edges()``."""
        pin, epoll = self._pin, self._epoll
        assert epoll is not None
        while True:
            if epoll.poll():
                edges = pin.edges()
                t = time.monotonic_ns()
                handler(t, _pairs(edges))
                if stop.is_set():
                    return

    def close(self) -> None:
        """Close the epoll set and the pin."""
        if self._epoll is not None:
            self._epoll.close()
        if self._pin is not None:
            self._pin.close()


@final
class GpiodContender:
    """A bare libgpiod v2 loop: ``wait_edge_events`` then ``read_edge_events``."""

    key = "gpiod"
    name = "bare gpiod (wait/read_edge_events)"
    open_per_block = False

    def __init__(self) -> None:
        self._request: Any = None

    def open(self, target: Target) -> None:
        """Request the line with edge detection on both edges."""
        import gpiod
        from gpiod.line import Direction, Edge

        self._request = gpiod.request_lines(
            _dev_path(target, self.name),
            consumer="bench-gpiod",
            config={
                target.offset: gpiod.LineSettings(
                    direction=Direction.INPUT, edge_detection=Edge.BOTH
                )
            },
        )

    def serve(self, handler: Handler, stop: threading.Event) -> None:
        """Block in ``wait_edge_events(None)``, read the events."""
        request = self._request
        while True:
            if request.wait_edge_events(None):
                events = request.read_edge_events()
                t = time.monotonic_ns()
                handler(t, [(e.timestamp_ns, e.line_seqno) for e in events])
                if stop.is_set():
                    return

    def fileno(self) -> int:
        """The request's fd."""
        return int(self._request.fd)

    def close(self) -> None:
        """Release the request."""
        request, self._request = self._request, None
        if request is not None:
            request.release()


@final
class ReadContender:
    """The least a Python loop can do: ``select.epoll`` on the request's fd, one
    ``os.read`` of raw ``gpio_v2_line_event`` structs, ``struct`` to unpack them."""

    key = "read"
    name = "minimal: epoll + os.read of the uAPI events"
    open_per_block = False

    def __init__(self) -> None:
        self._gpiod = GpiodContender()
        self._epoll: select.epoll | None = None

    def open(self, target: Target) -> None:
        """Request the line through gpiod, as the bare gpiod loop does."""
        self._gpiod.open(target)
        self._epoll = select.epoll()
        self._epoll.register(self._gpiod.fileno(), select.EPOLLIN)

    def serve(self, handler: Handler, stop: threading.Event) -> None:
        """``epoll.poll()``, then ``os.read`` of up to 16 events."""
        fd, epoll = self._gpiod.fileno(), self._epoll
        assert epoll is not None
        size = _V2_EVENT.size
        while True:
            if epoll.poll():
                data = os.read(fd, 16 * size)
                t = time.monotonic_ns()
                events = [
                    (stamp, line_seqno)
                    for stamp, _, _, _, line_seqno in _V2_EVENT.iter_unpack(data)
                ]
                handler(t, events)
                if stop.is_set():
                    return

    def close(self) -> None:
        """Close the epoll set and release the request."""
        if self._epoll is not None:
            self._epoll.close()
        self._gpiod.close()


@final
class PeripheryContender:
    """python-periphery's character-device GPIO: ``poll`` then ``read_event``."""

    key = "periphery"
    name = "python-periphery (poll/read_event)"
    open_per_block = False

    def __init__(self) -> None:
        self._gpio: Any = None

    def open(self, target: Target) -> None:
        """Open the line as an input with edge detection on both edges."""
        from periphery import GPIO

        self._gpio = GPIO(_dev_path(target, self.name), target.offset, "in", edge="both")

    def serve(self, handler: Handler, stop: threading.Event) -> None:
        """``gpio.poll(None)``, then one ``read_event()`` (its API reads one at a time)."""
        gpio = self._gpio
        while True:
            if gpio.poll(None):
                gpio.read_event()
                t = time.monotonic_ns()
                # periphery asks for CLOCK_REALTIME event timestamps: not comparable
                # with the CLOCK_MONOTONIC write times, so not reported.
                handler(t, [(None, None)])
                if stop.is_set():
                    return

    def close(self) -> None:
        """Close the line."""
        gpio, self._gpio = self._gpio, None
        if gpio is not None:
            gpio.close()


@final
class GpiozeroContender:
    """gpiozero's ``Button`` on its lgpio pin factory; the handler is ``when_pressed``/
    ``when_released`` (called in lgpio's callback thread)."""

    key = "gpiozero"
    name = "gpiozero Button (lgpio factory)"
    # lgpio polls in a C thread: measured in the guest, 13-22 % of the CPU while an
    # alert is claimed, and ~1.4 % for good once a chip has been opened. The button
    # (and its alert) is open only for its own blocks, so that the other contenders
    # pay as little of it as can be. (A factory closed and opened again delivers no
    # more edges: the factory stays open.)
    open_per_block = True

    def __init__(self) -> None:
        self._factory: Any = None
        self._button: Any = None
        self._offset = 0

    def open(self, target: Target) -> None:
        """Open an lgpio factory on the target's chip; the button comes with a block."""
        dev_path = _dev_path(target, self.name)
        if "lgpio" not in sys.modules:
            # lgpio makes a FIFO in LG_WD (default: the working folder) when imported
            # and finds it there by name at every gpiochip_open: it must outlive every
            # block, so it goes when this contender does.
            workdir = tempfile.mkdtemp(prefix="gpiosim-bench-lgpio-")
            os.environ["LG_WD"] = workdir
            weakref.finalize(self, shutil.rmtree, workdir, True)
        from gpiozero.pins.lgpio import LGPIOFactory

        class _Factory(LGPIOFactory):  # type: ignore[misc]
            # gpiozero maps GPIO numbers through a Raspberry Pi's board info, read
            # from the device tree: a gpio-sim chip laid out like a Pi 4 header
            # needs that revision told.
            def _get_revision(self) -> int:
                return _PI4B_REVISION

        self._factory = _Factory(chip=int(dev_path.removeprefix("/dev/gpiochip")))
        self._offset = target.offset

    def open_block(self) -> None:
        """Open a pulled-down button on the line (its request's bias pulls the line low)."""
        from gpiozero import Button

        if self._button is None:
            self._button = Button(self._offset, pull_up=False, pin_factory=self._factory)

    def close_block(self) -> None:
        """Close the button (and release its alert)."""
        button, self._button = self._button, None
        if button is not None:
            button.close()

    def serve(self, handler: Handler, stop: threading.Event) -> None:
        """Set the button's handlers, then wait for ``stop``."""
        button = self._button

        def fired() -> None:
            handler(time.monotonic_ns(), [(None, None)])

        button.when_pressed = fired
        button.when_released = fired
        try:
            stop.wait()
        finally:
            button.when_pressed = None
            button.when_released = None

    def close(self) -> None:
        """Close the button and the factory."""
        self.close_block()
        factory, self._factory = self._factory, None
        if factory is not None:
            factory.close()


def _dev_path(target: Target, name: str) -> str:
    if target.dev_path is None:
        raise ValueError(f"{name} needs a GPIO character device: run it on the sim backend")
    return target.dev_path


_FACTORIES: Final[dict[str, Callable[[], Contender]]] = {
    "selector": SelectorContender,
    "epoll": EpollContender,
    "gpiod": GpiodContender,
    "periphery": PeripheryContender,
    "gpiozero": GpiozeroContender,
    "read": ReadContender,
}


def make_contender(key: str) -> Contender:
    """A new contender by key (one of :data:`CONTENDERS`).

    Raises:
        ValueError: no contender has that key.
    """
    factory = _FACTORIES.get(key)
    if factory is None:
        raise ValueError(f"no contender {key!r}: use one of {', '.join(CONTENDERS)}")
    return factory()


def contender_name(key: str) -> str:
    """The table name of a contender."""
    return make_contender(key).name


# ---------------------------------------------------------------------- availability


def _lgpio_reason() -> str | None:
    """Why lgpio cannot be used in this machine, or None: probed in a subprocess,
    because a wheel built for a newer CPU kills the importing process."""
    with tempfile.TemporaryDirectory(prefix="gpiosim-bench-lgpio-") as workdir:
        probe = subprocess.run(
            [sys.executable, "-c", "import lgpio"],
            env={**os.environ, "LG_WD": workdir},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    if probe.returncode == 0:
        return None
    if probe.returncode == -signal.SIGILL:
        return _SIGILL_REASON
    last = (probe.stderr.strip().splitlines() or [f"exit status {probe.returncode}"])[-1]
    return f"`import lgpio` fails here ({last}); {BENCH_EXTRA}"


def unavailable_reason(key: str, target: Target) -> str | None:
    """Why a contender cannot run on ``target``, or None when it can."""
    if key in ("selector", "epoll"):
        return None
    if target.dev_path is None:
        return f"needs a GPIO character device; the {target.backend.name!r} backend has none"
    if key == "periphery":
        try:
            import periphery  # noqa: F401
        except ImportError:
            return f"python-periphery is not installed: {BENCH_EXTRA}"
    if key == "gpiozero":
        try:
            import gpiozero  # noqa: F401
        except ImportError:
            return f"gpiozero is not installed: {BENCH_EXTRA}"
        return _lgpio_reason()
    return None
