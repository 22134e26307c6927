#!/usr/bin/env python3
"""The post's third program: a press lights the LED for a while.

A press lights the LED for `offset` seconds (2 unless given as the first argument),
unless the button is pressed again, which puts it out at once. A release does nothing.
Only the import lines (quick2wire -> gpiocore) and the offset parameter differ from
the original.
"""

import sys

from gpiocore import Both, In, Out, pins
from gpiocore.selector import Selector, Timer

offset = float(sys.argv[1]) if len(sys.argv) > 1 else 2

button = pins.pin(0, direction=In, interrupt=Both)
led = pins.pin(1, direction=Out)

with button, led, Selector() as selector, Timer(offset=offset) as timer:
    selector.add(button)
    selector.add(timer)

    while True:
        selector.wait()

        if selector.ready == button:
            if button.value:
                if led.value:
                    led.value = 0
                    timer.stop()
                else:
                    led.value = 1
                    timer.start()

        elif selector.ready == timer:
            timer.wait()
            led.value = 0
