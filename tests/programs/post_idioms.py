#!/usr/bin/env python3
"""Every idiom of the post's timed-LED program, as the post wrote them.

The programs in ``gpiosim/data/apps`` are written in this project's words; this one
keeps the post's own: ``Selector(1)`` (epoll's size hint), the LED's state in an
``active`` flag, a ``print`` of ``button.value`` on each button event, and a timer that
fires and is never read with ``timer.wait()`` (the selector takes its expiry off the
fd, so the loop must go idle rather than spin). ``tests/test_post_idioms.py`` runs it.

A press lights the LED for ``offset`` seconds (2 unless given as the first argument)
unless the button is pressed again, which puts it out at once; a release does nothing.
"""

import sys

from gpiocore import Both, In, Out, pins
from gpiocore.selector import Selector, Timer

offset = float(sys.argv[1]) if len(sys.argv) > 1 else 2

button1 = pins.pin(0, direction=In, interrupt=Both)
led = pins.pin(1, direction=Out)
active = False

with button1, led, Selector(1) as selector, Timer(offset=offset) as timer:
    selector.add(button1)
    selector.add(timer)

    while True:
        selector.wait()
        if selector.ready == button1:
            print("BUTTON 1!", button1.value, active)

            if button1.value:
                if active:
                    active = False
                    led.value = 0
                    timer.stop()
                else:
                    active = True
                    led.value = 1
                    timer.start()

        if selector.ready == timer:  # noqa: SIM102 (the post's own shape)
            if active:
                active = False
                led.value = 0
