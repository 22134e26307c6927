"""The sim backend: gpiocore lines on a gpio-sim chip made through configfs.

Found by name, ``sim``, through the ``gpiocore.backends`` entry points; the chips themselves
are public from :mod:`gpiosim.chip`.
"""

from gpiosim.sim._backend import ENV_CHIP as ENV_CHIP
from gpiosim.sim._backend import SimBackend as SimBackend

__all__ = ["ENV_CHIP", "SimBackend"]
