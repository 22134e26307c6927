"""gpiosim: test and simulation tooling around gpiocore.

Sim chips (``gpiosim.chip``), the qemu guest that brings gpio-sim to any machine
(``gpiosim.guest``), rigs, strategies, models, an app runner and the pytest plugin.
"""
