"""Every error gpiosim raises: sim chips, the guest, the Pi and its rigs, programs under test.

All but :class:`AppStopped` (a stop signal for a program's thread, not an error) are
:class:`gpiocore.GpioError`; the public faces re-export the ones their users catch.
"""

from __future__ import annotations

from pathlib import Path

from gpiocore import BackendUnavailableError, GpioError, GpioWarning, InvalidSettingError

__all__ = [
    "AppError",
    "AppStopped",
    "ConfigfsNotMountedError",
    "GpioSimUnavailableError",
    "GuestBytecodeWarning",
    "GuestError",
    "GuestTimeoutError",
    "InvalidNameError",
    "KernelBuildError",
    "KernelTooOldError",
    "LineSpecError",
    "MissingToolError",
    "PiNotFoundError",
    "RigBusyError",
    "RigCheckError",
    "RigFileError",
    "SandboxError",
    "SimChipError",
    "SimPermissionError",
    "UnsafePathError",
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


class GuestBytecodeWarning(GpioWarning):
    """The guest wrote Python bytecode into the project; the host removed it unrun."""


class MissingToolError(GuestError):
    """A program the guest needs (qemu, a kernel build tool) is not installed."""


class KernelBuildError(GuestError):
    """Building the guest kernel failed, or it lacks an option it needs."""


class GuestTimeoutError(GuestError, TimeoutError):
    """The command in the guest did not finish within its timeout."""


class UnsafePathError(GpioError, PermissionError):
    """A folder on the way to a file the host writes is a symbolic link (or no folder)."""


class PiNotFoundError(BackendUnavailableError):
    """This is no Raspberry Pi gpiorig knows, or its header chip is not there."""


class LineSpecError(InvalidSettingError):
    """A line written in a form that names no usable GPIO (a power pin, pin 41, GPIO99)."""


class RigBusyError(GpioError, RuntimeError):
    """Another process holds the rig's lock (another test run is driving it)."""


class RigCheckError(GpioError, RuntimeError):
    """The rig failed its self-test: a jumper is loose, missing, swapped or shorted."""

    # ``report`` is typed ``object``: the errors sit below the modules that make reports.
    def __init__(self, message: str, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report
        """The self-test's :class:`gpiosim.pi.CheckReport`, when there is one."""


class RigFileError(InvalidSettingError):
    """A rig file that cannot be used; the message names the file, the line and the fix.

    Attributes:
        path: the rig file, when known.
        lineno: the 1-based line of the mistake, when known.
    """

    def __init__(
        self, message: str, *, path: Path | None = None, lineno: int | None = None
    ) -> None:
        super().__init__(message)
        self.path = path
        self.lineno = lineno


class AppStopped(BaseException):
    """Raised inside a program's thread to stop it; its ``with`` blocks clean up."""


class AppError(GpioError, RuntimeError):
    """The program under test crashed, or could not be started or stopped."""


class SandboxError(GuestError):
    """qemu's seccomp filter cannot be made or installed on this machine."""
