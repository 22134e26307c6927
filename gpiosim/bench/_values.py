"""Section ``values`` of ``gpiosim bench``: ``pin.value`` reads and writes (the LED side of
every program) on gpio-sim, gpiocore against bare gpiod, python-periphery and gpiozero.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from gpiocore import In, Out, Pin
from gpiosim.bench._common import Log, Sizes, quiet, rotated
from gpiosim.bench._sources import _PI4B_REVISION
from gpiosim.bench._table import Column, Row, Section
from gpiosim.sim._backend import SimBackend

__all__ = ["VALUE_COLUMNS", "measure_values"]

VALUE_COLUMNS: Final = [Column("get_ns", "get", "ns"), Column("set_ns", "set", "ns")]
#: Lines of their own (an input, an output), clear of the edge contenders' lines.
_VALUE_LINES: Final = {
    "gpiod": (12, 13),
    "gpiocore": (5, 6),
    "periphery": (16, 19),
    "gpiozero": (20, 21),
}
_NAMES: Final = {
    "gpiod": "bare gpiod (get_value/set_value)",
    "gpiocore": "gpiocore pin.value",
    "periphery": "python-periphery (read/write)",
    "gpiozero": "gpiozero Button/LED .value (lgpio factory)",
}
#: get() reads the input; put(level) writes the output; close() releases both.
_Opened = tuple[Callable[[], Any], Callable[[int], Any], Callable[[], None]]


def _value_gpiocore(backend: SimBackend, lines: tuple[int, int]) -> _Opened:
    chip = backend.sim_chip.chip_name
    button = Pin(backend, chip, lines[0], direction=In, consumer="bench-value-in")
    led = Pin(backend, chip, lines[1], direction=Out, consumer="bench-value-out")
    button.open()
    try:
        led.open()
    except BaseException:
        button.close()
        raise

    def get() -> Any:
        return button.value

    def put(level: int) -> None:
        led.value = level

    def close() -> None:
        button.close()
        led.close()

    return get, put, close


def _value_gpiod(backend: SimBackend, lines: tuple[int, int]) -> _Opened:
    import gpiod
    from gpiod.line import Direction, Value

    inp, out = lines
    request = gpiod.request_lines(
        backend.sim_chip.dev_path,
        consumer="bench-value-gpiod",
        config={
            inp: gpiod.LineSettings(direction=Direction.INPUT),
            out: gpiod.LineSettings(direction=Direction.OUTPUT),
        },
    )
    levels = (Value.INACTIVE, Value.ACTIVE)

    def get() -> Any:
        return request.get_value(inp)

    def put(level: int) -> None:
        request.set_value(out, levels[level])

    return get, put, request.release


def _value_periphery(backend: SimBackend, lines: tuple[int, int]) -> _Opened:
    from periphery import GPIO

    dev_path = backend.sim_chip.dev_path
    button = GPIO(dev_path, lines[0], "in")
    led = GPIO(dev_path, lines[1], "out")

    def put(level: int) -> None:
        led.write(bool(level))

    def close() -> None:
        button.close()
        led.close()

    return button.read, put, close


def _value_gpiozero(backend: SimBackend, lines: tuple[int, int]) -> _Opened:
    # Runs while the edge line-up is open: its gpiozero contender has set up lgpio's
    # working folder (LG_WD), which lgpio needs at every chip open.
    from gpiozero import LED, Button
    from gpiozero.pins.lgpio import LGPIOFactory

    class _Factory(LGPIOFactory):  # type: ignore[misc]
        # The sim chip is laid out like a Pi 4 header; gpiozero needs the revision told.
        def _get_revision(self) -> int:
            return _PI4B_REVISION

    factory = _Factory(chip=int(backend.sim_chip.dev_path.removeprefix("/dev/gpiochip")))
    button = Button(lines[0], pull_up=False, pin_factory=factory)
    led = LED(lines[1], pin_factory=factory)

    def get() -> Any:
        return button.value

    def put(level: int) -> None:
        led.value = level

    def close() -> None:
        button.close()
        led.close()
        factory.close()

    return get, put, close


_MAKERS: Final[dict[str, Callable[[SimBackend, tuple[int, int]], _Opened]]] = {
    "gpiod": _value_gpiod,
    "gpiocore": _value_gpiocore,
    "periphery": _value_periphery,
    "gpiozero": _value_gpiozero,
}


def measure_values(
    backend: SimBackend,
    sizes: Sizes,
    *,
    unavailable: Mapping[str, str] | None = None,
    log: Log = quiet,
) -> Section:
    """Median ns per value read and per value write, gpiocore against its peers.

    Each round times ``sizes.value_calls`` reads of an input, then as many writes
    (alternating levels) to an output, per contender, the contenders in a rotated order;
    the figures are the medians over ``sizes.value_rounds`` rounds.

    Args:
        backend: the sim backend (the peers open its chip's character device).
        sizes: rounds and calls.
        unavailable: peer key (``periphery``, ``gpiozero``) to why it cannot run here.
        log: progress lines.
    """
    section = Section(
        "values",
        "Value reads and writes: ns per call (sim backend, gpio-sim)",
        list(VALUE_COLUMNS),
        ratio_of="get_ns",
        ratio_label="get / bare gpiod's get (the set ratio is in the note)",
    )
    reasons = dict(unavailable or {})
    opened: dict[str, _Opened] = {}
    try:
        for key, make in _MAKERS.items():
            if key in reasons:
                continue
            try:
                opened[key] = make(backend, _VALUE_LINES[key])
            except Exception as exc:  # cannot run here: its row says why
                reasons[key] = f"{type(exc).__name__}: {exc}"
        times: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in opened}
        calls = sizes.value_calls
        for rnd in range(sizes.value_rounds):
            log(f"values: round {rnd + 1}/{sizes.value_rounds}")
            for key in rotated(list(opened), rnd):
                get, put, _ = opened[key]
                t0 = time.perf_counter_ns()
                for _ in range(calls):
                    get()
                t1 = time.perf_counter_ns()
                for i in range(calls):
                    put(i & 1)
                t2 = time.perf_counter_ns()
                times[key][0].append((t1 - t0) / calls)
                times[key][1].append((t2 - t1) / calls)
    finally:
        for _, _, close in opened.values():
            close()
    base_set = statistics.median(times["gpiod"][1]) if times.get("gpiod", ([], []))[1] else None
    for key, name in _NAMES.items():
        if key not in times or not times[key][0]:
            section.rows.append(
                Row(
                    name,
                    {c.key: None for c in VALUE_COLUMNS},
                    baseline=key == "gpiod",
                    note=f"not measured: {reasons.get(key, 'no rounds')}",
                )
            )
            continue
        get_ns, set_ns = (statistics.median(v) for v in times[key])
        section.rows.append(
            Row(
                name,
                {"get_ns": get_ns, "set_ns": set_ns},
                baseline=key == "gpiod",
                n=len(times[key][0]) * calls,
                note=f"set {set_ns / base_set:.2f}x bare gpiod's" if base_set else "",
                extra={"set_ratio": set_ns / base_set if base_set else None},
            )
        )
    section.compute_ratios()
    return section
