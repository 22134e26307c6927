#!/usr/bin/env python3
"""The post's first program: the LED follows the button, through raw epoll.

Only the import line differs from the original (quick2wire.gpio -> gpiocore).
"""

import select

from gpiocore import Both, In, Out, pins

button = pins.pin(0, direction=In, interrupt=Both)
led = pins.pin(1, direction=Out)

with button, led:
    epoll = select.epoll()
    epoll.register(button, select.EPOLLIN | select.EPOLLET)

    while True:
        events = epoll.poll()
        for fileno, event in events:
            if fileno == button.fileno():
                led.value = button.value
