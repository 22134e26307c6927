"""A one-bank gpio-sim chip (:class:`SimChip`): the simple case of :class:`SimDevice`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self, final

from gpiocore import LineNotFoundError
from gpiosim.sim._device import SimBank, SimDevice
from gpiosim.sim._env import CONFIGFS_ROOT, SYSFS_ROOT, HogDirection, LineNames, Pull
from gpiosim.sim._layout import Bank

__all__ = [
    "SimChip",
]


@final
class SimChip:
    """A one-bank gpio-sim device: the common case.

    Use as a context manager, or call :meth:`create` and :meth:`close`.

    Args:
        num_lines: how many lines the chip has.
        label: the chip's label.
        line_names: names by offset (mapping or sequence; None = unnamed).
        hogs: ``{offset: (consumer, "input" | "output-high" | "output-low")}``.
        name: the configfs folder name (default: unique and reclaimable).
        configfs_root: where configfs is mounted (for tests).
        kernel_release: the kernel release to check (for tests).
        timeout: seconds to wait for ``/dev/gpiochipN``.

    Example:
        >>> with SimChip(4, line_names=["BUTTON", "LED"]) as chip:  # doctest: +SKIP
        ...     chip.set_pull(0, True)
    """

    def __init__(
        self,
        num_lines: int = 8,
        *,
        label: str | None = None,
        line_names: LineNames | None = None,
        hogs: Mapping[int, tuple[str, HogDirection]] | None = None,
        name: str | None = None,
        configfs_root: Path = CONFIGFS_ROOT,
        kernel_release: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.device = SimDevice(
            Bank(num_lines, label=label, line_names=line_names, hogs=hogs),
            name=name,
            configfs_root=configfs_root,
            kernel_release=kernel_release,
            timeout=timeout,
        )
        """The underlying one-bank device."""
        self._index = 0

    @classmethod
    def attach(cls, ident: str, *, sysfs_root: Path = SYSFS_ROOT) -> SimChip:
        """Use the first chip of a gpio-sim device made elsewhere; close() leaves it.

        Args:
            ident: ``gpio-sim.K``, ``gpiochipM`` or ``/dev/gpiochipM``.
            sysfs_root: where sysfs is mounted.

        Raises:
            LineNotFoundError: no live gpio-sim device matches ``ident``.
        """
        device = SimDevice.attach(ident, sysfs_root=sysfs_root)
        name = Path(ident).name
        banks = device.banks
        index = next((b.index for b in banks if b.chip_name == name), 0)
        if not banks:
            raise LineNotFoundError(f"gpio-sim device {ident!r} has no chips")
        self = cls.__new__(cls)
        self.device = device
        self._index = index
        return self

    def create(self) -> Self:
        """Make the chip live (see :meth:`SimDevice.create`); returns self."""
        self.device.create()
        return self

    def close(self) -> None:
        """Tear the chip down (unless attached); safe to call twice."""
        self.device.close()

    def __enter__(self) -> Self:
        return self.create()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        if self.device.live:
            return f"SimChip({self.chip_name!r}, dev_name={self.dev_name!r})"
        return f"SimChip({self.device!r})"

    @property
    def bank(self) -> SimBank:
        """The live bank.

        Raises:
            ClosedError: the chip is not live.
        """
        return self.device.banks[self._index]

    @property
    def live(self) -> bool:
        """True between create (or attach) and close."""
        return self.device.live

    @property
    def dev_name(self) -> str:
        """The platform device, e.g. ``gpio-sim.0``."""
        return self.device.dev_name

    @property
    def chip_name(self) -> str:
        """The chip, e.g. ``gpiochip1``."""
        return self.bank.chip_name

    @property
    def dev_path(self) -> str:
        """The character device, e.g. ``/dev/gpiochip1``."""
        return self.bank.dev_path

    @property
    def label(self) -> str:
        """The chip's label as the kernel reports it."""
        return self.bank.label

    @property
    def num_lines(self) -> int:
        """How many lines the chip has."""
        return self.bank.num_lines

    def set_pull(self, offset: int, pull: Pull) -> None:
        """Pull line ``offset`` up (True/``"pull-up"``) or down; see :meth:`SimBank.set_pull`."""
        self.bank.set_pull(offset, pull)

    def get_pull(self, offset: int) -> bool:
        """The simulator's pull on a line: True for pull-up."""
        return self.bank.get_pull(offset)

    def get_value(self, offset: int) -> bool:
        """The line's physical level (what an output drives, else the pull)."""
        return self.bank.get_value(offset)

    def udev_device(self) -> Any:
        """The chip's ``pyudev.Device``; see :meth:`SimBank.udev_device`."""
        return self.bank.udev_device()
