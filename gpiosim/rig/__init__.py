"""Rigs: drive a program's inputs, observe its outputs, record every transition.

The same interface on every backend (the fake's harness, gpio-sim's ``pull``/``value``
files, a Raspberry Pi's stimulus and probe jumpers)::

    from gpiosim.rig import Rig, Signal

    signals = [Signal("button", "GPIO17", "input"), Signal("led", "GPIO18", "output")]
    with Rig(backend, signals) as rig:
        rig.press("button")
        assert rig.wait_for("led", True, 0.5)
    print(timing_diagram(rig.transitions(), rig.initial_levels()))

A rig file (TOML) names the signals once for tests and scripts alike:
``Rig(backend, gpiosim.pi.load_rig_signals("rig.toml"))``; rig files live with the Pi's
header numbering in :mod:`gpiosim.pi`, which also gives the whole checked file
(``load_rig``: its ``.signals``, and on a bench its jumpers).

In tests, the pytest plugin's ``rig`` and ``app_runner`` fixtures make these for you.
"""

from gpiosim._errors import AppError as AppError
from gpiosim._errors import AppStopped as AppStopped
from gpiosim.rig._rig import Rig as Rig
from gpiosim.rig._runner import AppRunner as AppRunner
from gpiosim.rig._signal import Mark as Mark
from gpiosim.rig._signal import Signal as Signal
from gpiosim.rig._signal import Transition as Transition
from gpiosim.rig._signal import make_signals as make_signals
from gpiosim.rig._timing import BackendTime as BackendTime
from gpiosim.rig._timing import default_scale as default_scale
from gpiosim.rig._trace import timing_diagram as timing_diagram
from gpiosim.rig._trace import write_vcd as write_vcd

__all__ = [
    "AppError",
    "AppRunner",
    "AppStopped",
    "BackendTime",
    "Mark",
    "Rig",
    "Signal",
    "Transition",
    "default_scale",
    "make_signals",
    "timing_diagram",
    "write_vcd",
]
