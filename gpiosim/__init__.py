"""gpiosim: test and simulation tooling around gpiocore, one subpackage per concern.

Public faces: :mod:`gpiosim.chip` (gpio-sim chips), :mod:`gpiosim.sim` (the sim backend),
:mod:`gpiosim.guest` (the qemu guest that brings gpio-sim to any machine),
:mod:`gpiosim.pi` (the Raspberry Pi backend, rig files, self-test and lock),
:mod:`gpiosim.rig` (rigs, signals, the app runner, backend time, traces),
:mod:`gpiosim.strategies`, :mod:`gpiosim.models`, :mod:`gpiosim.machines` (hypothesis
tooling) and :mod:`gpiosim.pytest_plugin`. ``gpiosim.bench`` holds the ``gpiosim bench``
command; every error is defined in ``gpiosim._errors`` and re-exported by the faces.
"""

__all__: list[str] = []
