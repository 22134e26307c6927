#!/usr/bin/env python3
"""A doorbell: a press of the (debounced) bell button rings the chime for a while.

Each press rings the chime (GPIO18) for ``chime`` seconds from that press: a press while
it rings restarts the time. ``--no-restart`` plants the bug issue 16 hunted: a second
press while the chime rings is ignored, so the chime stops ``chime`` seconds after the
*first* press. Run as ``doorbell.py [chime] [--debounce S] [--no-restart]``.
"""

from __future__ import annotations

import argparse

from gpiocore import EdgeType, In, Out, Rising, line
from gpiocore.selector import Selector, Timer

parser = argparse.ArgumentParser()
parser.add_argument("chime", nargs="?", type=float, default=0.3)
parser.add_argument("--debounce", type=float, default=0.02)
parser.add_argument("--no-restart", action="store_true")
args = parser.parse_args()

bell = line("GPIO17", direction=In, interrupt=Rising, debounce=args.debounce)
chime = line("GPIO18", direction=Out)

with Selector() as selector, Timer(offset=args.chime) as timer, bell, chime:
    selector.add(bell)
    selector.add(timer)
    while True:
        selector.wait()
        if selector.ready is bell:
            pressed = any(e.type is EdgeType.RISING for e in bell.edges())
            if pressed and not (args.no_restart and chime.value):
                chime.value = 1
                timer.start()
        elif selector.ready is timer and timer.wait(timeout=0):
            chime.value = 0
