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
``Rig(backend, load_rig_signals("rig.toml"))``; ``load_rig(path)`` gives the whole
checked file (its ``.signals``, and on a bench its jumpers).

In tests, the pytest plugin's ``rig`` and ``app_runner`` fixtures make these for you.
"""

from gpiosim._rig import Mark as Mark
from gpiosim._rig import Rig as Rig
from gpiosim._rig import Signal as Signal
from gpiosim._rig import Transition as Transition
from gpiosim._rig import make_signals as make_signals
from gpiosim._rigfile import RigFile as RigFile
from gpiosim._rigfile import RigFileError as RigFileError
from gpiosim._rigfile import load_rig as load_rig
from gpiosim._rigfile import load_rig_signals as load_rig_signals
from gpiosim._runner import AppError as AppError
from gpiosim._runner import AppRunner as AppRunner
from gpiosim._runner import AppStopped as AppStopped
from gpiosim._timing import BackendTime as BackendTime
from gpiosim._timing import default_scale as default_scale
from gpiosim._trace import timing_diagram as timing_diagram
from gpiosim._trace import write_vcd as write_vcd

__all__ = [
    "AppError",
    "AppRunner",
    "AppStopped",
    "BackendTime",
    "Mark",
    "Rig",
    "RigFile",
    "RigFileError",
    "Signal",
    "Transition",
    "default_scale",
    "load_rig",
    "load_rig_signals",
    "make_signals",
    "timing_diagram",
    "write_vcd",
]
