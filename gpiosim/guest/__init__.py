"""Run a command in a small qemu guest whose kernel has gpio-sim built in.

For machines whose kernel lacks gpio-sim (Debian's stock kernels, WSL, CI)::

    from gpiosim import guest

    status = guest.run(["python", "-m", "pytest", "--backend=sim"], timeout=1500)

or, from a shell, ``gpiosim guest -- python -m pytest --backend=sim``.  The
first use builds the guest kernel (a few minutes) and caches it under
:func:`kernel_cache_dir`; later boots take about two seconds under TCG.
"""

from __future__ import annotations

from gpiosim._errors import GuestBytecodeWarning as GuestBytecodeWarning
from gpiosim._errors import GuestError as GuestError
from gpiosim._errors import GuestTimeoutError as GuestTimeoutError
from gpiosim._errors import KernelBuildError as KernelBuildError
from gpiosim._errors import MissingToolError as MissingToolError
from gpiosim.guest._env import inside_guest as inside_guest
from gpiosim.guest._env import missing_packages as missing_packages
from gpiosim.guest._kernel import ensure_kernel as ensure_kernel
from gpiosim.guest._run import run as run
from gpiosim.guest._source import kernel_cache_dir as kernel_cache_dir

__all__ = [
    "GuestBytecodeWarning",
    "GuestError",
    "GuestTimeoutError",
    "KernelBuildError",
    "MissingToolError",
    "ensure_kernel",
    "inside_guest",
    "kernel_cache_dir",
    "missing_packages",
    "run",
]
