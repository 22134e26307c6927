"""Bench farms: gpiorig benches shared by a team through labgrid's coordinator.

- :mod:`gpiosim.farm._labgrid_bench`: labgrid resources and drivers (``GpiorigBench``,
  ``GpiorigBenchDriver``, ``GpiorigLine`` and its character-device digital output and
  input drivers); needs ``pip install 'gpiorig[farm]'``.
- :mod:`gpiosim.farm._plugin`: the pytest options ``--farm-coordinator`` and
  ``--farm-place``.

docs/bench-farm.md tells how a team sets a farm up. This package imports without
labgrid; only the labgrid module and a farm session need it.
"""

from gpiosim.farm._errors import INSTALL_HINT as INSTALL_HINT
from gpiosim.farm._errors import FarmBusyError as FarmBusyError
from gpiosim.farm._errors import FarmError as FarmError
from gpiosim.farm._errors import FarmUnavailableError as FarmUnavailableError

__all__ = ["INSTALL_HINT", "FarmBusyError", "FarmError", "FarmUnavailableError"]
