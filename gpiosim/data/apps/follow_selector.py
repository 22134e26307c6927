#!/usr/bin/env python3
"""The post's second program: the LED follows the button, through a Selector.

Only the import lines differ from the original (quick2wire -> gpiocore).
"""

from gpiocore import Both, In, Out, pins
from gpiocore.selector import Selector

button = pins.pin(0, direction=In, interrupt=Both)
led = pins.pin(1, direction=Out)

with button, led, Selector() as selector:
    selector.add(button)

    while True:
        selector.wait()

        if selector.ready == button:
            led.value = button.value
