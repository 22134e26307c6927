"""Run a command in a small qemu guest whose kernel has gpio-sim built in.

For machines whose kernel lacks gpio-sim (Debian's stock kernels, WSL, CI)::

    from gpiosim import guest

    status = guest.run(["python", "-m", "pytest", "--backend=sim"], timeout=1500)

or, from a shell, ``gpiosim guest -- python -m pytest --backend=sim``.  The
first use builds the guest kernel (a few minutes) and caches it under
:func:`kernel_cache_dir`; later boots take about two seconds under TCG.
"""

from __future__ import annotations

from ._errors import GuestError as GuestError
from ._errors import GuestTimeoutError as GuestTimeoutError
from ._errors import KernelBuildError as KernelBuildError
from ._errors import MissingToolError as MissingToolError
from ._guest import ensure_kernel as ensure_kernel
from ._guest import inside_guest as inside_guest
from ._guest import kernel_cache_dir as kernel_cache_dir
from ._guest import missing_packages as missing_packages
from ._guest import run as run

__all__ = [
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
