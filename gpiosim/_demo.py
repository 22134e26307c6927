"""The main job's demo: the post's timed-LED program driven on the current backend.

It starts ``fixtures/apps/timed_led.py`` (a press lights the LED for ``offset``
seconds; a second press puts it out; a release does nothing), presses the button
through the backend's harness, and prints what the LED did, on the backend clock.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from gpiocore import InvalidSettingError, current_backend, pins, use_backend
from gpiocore.backends import Backend
from gpiosim.rig._runner import AppRunner
from gpiosim.rig._timing import BackendTime

__all__ = ["APPS_DIR", "MIN_REAL_OFFSET", "run_demo"]

#: The shortest offset on a real-time backend: a press, a release and a second press
#: must land inside it, each taking a reaction time of the program (scaled).
MIN_REAL_OFFSET = 0.25

#: The post's three programs, shipped with the package (``fixtures/apps`` links here).
APPS_DIR = Path(__file__).resolve().parent / "data" / "apps"


def run_demo(
    backend: Backend | None = None, *, offset: float = 2.0, out: TextIO | None = None
) -> int:
    """Run the timed-LED program through a scripted session and print a timeline.

    Args:
        backend: where to run (default: the current backend, normally ``fake``).
        offset: the program's LED-on time in seconds (scaled on real-time backends).
        out: where to print (default: ``sys.stdout`` at the time of the call).

    Returns:
        0 if the LED behaved as the post promises, 1 otherwise.

    Raises:
        InvalidSettingError: ``offset`` is not in (0, 3600] seconds, or below
            :data:`MIN_REAL_OFFSET` on a real-time backend.
    """
    if isinstance(offset, bool) or not isinstance(offset, int | float) or not 0 < offset <= 3600:
        raise InvalidSettingError(
            f"offset must be seconds above 0 and at most 3600, not {offset!r}: e.g. offset=2"
        )
    out = out or sys.stdout
    backend = backend or current_backend()
    if not backend.clock.virtual and offset < MIN_REAL_OFFSET:
        raise InvalidSettingError(
            f"offset {offset:g} s is too short for the demo's presses on the real-time "
            f"{backend.name!r} backend: use at least {MIN_REAL_OFFSET:g} s"
        )
    # Both presses and the release between them land well inside the LED's time,
    # whatever the offset: the steps shrink with it.
    hold, gap = min(0.1, offset / 5), min(0.3, offset / 5)
    harness = backend.harness
    if harness is None:
        print(f"the {backend.name!r} backend has no harness: the demo needs fake or sim", file=out)
        return 1
    app_path = APPS_DIR / "timed_led.py"
    with use_backend(backend), BackendTime(backend) as bt:
        button, led = pins.pin(0), pins.pin(1)
        where_b, where_l = (button.chip, button.offset), (led.chip, led.offset)
        t0 = bt.now()
        print(
            f"demo: {app_path.name} on the {backend.name!r} backend "
            f"(button = pins.pin(0) = {button.line_name}, LED = pins.pin(1) = {led.line_name}, "
            f"offset {offset:g} s)",
            file=out,
        )
        failures = 0

        def show(what: str, expect: bool) -> None:
            nonlocal failures
            lit = harness.level(*where_l)
            ok = lit is expect
            failures += not ok
            mark = "ok" if ok else f"UNEXPECTED (expected {'on' if expect else 'off'})"
            print(
                f"  t={bt.now() - t0:7.3f} s  {what:<34} LED {'on ' if lit else 'off'}  {mark}",
                file=out,
            )

        def press(what: str, expect: bool) -> None:
            harness.drive(*where_b, True)
            bt.wait_for(lambda: harness.level(*where_l) is expect, 1)
            show(what, expect)
            bt.sleep(hold)
            harness.drive(*where_b, False)
            bt.settle()
            show("release", expect)

        with AppRunner(app_path, [str(bt.s(offset))], backend=backend) as app:
            app.wait_ready([where_b, where_l])
            show("program started", False)
            press("press", True)
            bt.sleep(offset / 2)
            show("half the offset later", True)
            bt.wait_for(lambda: not harness.level(*where_l), offset)
            show("timer expired", False)
            bt.sleep(0.5)
            press("press", True)
            bt.sleep(gap)
            press("press again: puts it out at once", False)
            bt.sleep(offset + 0.5)
            show("no timer left to fire", False)
        verdict = (
            "the LED did what the post promises"
            if not failures
            else f"{failures} unexpected step(s)"
        )
        kind = "virtual" if backend.clock.virtual else "real"
        print(f"demo: {verdict} ({bt.now() - t0:.3f} s of {kind} time)", file=out)
        return 1 if failures else 0
