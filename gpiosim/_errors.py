"""Errors of gpiosim: sim chips, the guest, rigs. All are :class:`gpiocore.GpioError`."""

from __future__ import annotations

from gpiocore._errors import GpioError

__all__ = [
    "ConfigfsNotMountedError",
    "GpioSimUnavailableError",
    "GuestError",
    "GuestTimeoutError",
    "InvalidNameError",
    "KernelBuildError",
    "KernelTooOldError",
    "MissingToolError",
    "SimChipError",
    "SimPermissionError",
]


class SimChipError(GpioError, RuntimeError):
    """A gpio-sim chip could not be made, found, driven or torn down."""


class ConfigfsNotMountedError(SimChipError):
    """configfs is not mounted at /sys/kernel/config."""


class GpioSimUnavailableError(SimChipError):
    """The running kernel has no gpio-sim (module not loaded or not built)."""


class KernelTooOldError(SimChipError):
    """The running kernel predates gpio-sim (Linux 5.17)."""


class SimPermissionError(SimChipError, PermissionError):
    """The process may not write configfs or sysfs (root or a udev rule is needed)."""


class InvalidNameError(GpioError, ValueError):
    """A chip, rig or line name that could escape its folder or is otherwise malformed."""


class GuestError(GpioError, RuntimeError):
    """The qemu guest could not be built, booted or driven."""


class MissingToolError(GuestError):
    """A program the guest needs (qemu, a kernel build tool) is not installed."""


class KernelBuildError(GuestError):
    """Building the guest kernel failed, or it lacks an option it needs."""


class GuestTimeoutError(GuestError, TimeoutError):
    """The command in the guest did not finish within its timeout."""
