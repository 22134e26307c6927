"""Make and tear down gpio-sim devices through configfs.

A gpio-sim *device* (one configfs folder, one platform device ``gpio-sim.K``) holds one
or more *banks*; each live bank is one GPIO chip (``/dev/gpiochipM``). The simulator
side of each line lives in sysfs: writing ``pull-up``/``pull-down`` to
``/sys/devices/platform/gpio-sim.K/gpiochipM/sim_gpioN/pull`` drives an input, and
``.../value`` reads what the program drives.

Devices made here are named ``gpiorig-<pid>-<starttime>-<random>``: the pid and its
start time (from ``/proc/<pid>/stat``, which tells a reused pid apart) let the next
user find and tear down the chips of a process that died without cleaning up.
"""

from __future__ import annotations

import contextlib
import os
import time
import weakref
from pathlib import Path
from types import TracebackType
from typing import Any, Self, final

from gpiocore import ClosedError, InvalidSettingError, LineNotFoundError, PinIndexError
from gpiosim._errors import (
    SimChipError,
    SimPermissionError,
)
from gpiosim.sim._configfs import (
    _folder,
    _owned_name,
    _read_attr,
    _remove_device_dir,
    _write_attr,
    reclaim_stale,
)
from gpiosim.sim._env import (
    CONFIGFS_ROOT,
    SYSFS_ROOT,
    Pull,
    check_environment,
    validate_device_name,
)
from gpiosim.sim._layout import Bank

__all__ = [
    "SimBank",
    "SimDevice",
]


@final
class SimBank:
    """One live bank of a sim device: a GPIO chip plus its simulator side in sysfs.

    Made by :class:`SimDevice`; valid while the device is live.
    """

    def __init__(
        self,
        device: SimDevice,
        index: int,
        chip_name: str,
        dev_path: str,
        num_lines: int,
        label: str | None,
    ) -> None:
        self._device = device
        self.index = index
        """The bank's position in its device."""
        self.chip_name = chip_name
        """The GPIO chip's name, e.g. ``gpiochip1``."""
        self.dev_path = dev_path
        """The character device, e.g. ``/dev/gpiochip1``."""
        self.num_lines = num_lines
        """How many lines the chip has."""
        self._label = label

    def __repr__(self) -> str:
        return (
            f"SimBank({self.chip_name!r}, dev_name={self._device.dev_name!r}, "
            f"num_lines={self.num_lines})"
        )

    @property
    def dev_name(self) -> str:
        """The platform device the bank belongs to, e.g. ``gpio-sim.0``."""
        return self._device.dev_name

    @property
    def label(self) -> str:
        """The chip's label as the kernel reports it."""
        if self._label is None:
            # Not set by us (default label, or an attached device): ask the chip itself.
            import gpiod

            with gpiod.Chip(self.dev_path) as chip:
                self._label = chip.get_info().label
        return self._label

    def udev_device(self) -> Any:
        """Find this bank's GPIO device with pyudev, as udev sees it.

        Enumerates the ``gpio`` subsystem (no udev daemon needed) for the device whose
        kernel name is :attr:`chip_name` and whose parent is this bank's gpio-sim
        platform device.

        Returns:
            The ``pyudev.Device`` (``device_node`` is the ``/dev/gpiochipN`` path).

        Raises:
            SimChipError: pyudev does not list the chip.
        """
        import pyudev

        context = pyudev.Context()
        for device in context.list_devices(subsystem="gpio", sys_name=self.chip_name):
            parent = device.find_parent("platform")
            if parent is not None and parent.sys_name == self.dev_name:
                return device
        raise SimChipError(
            f"pyudev lists no gpio device {self.chip_name} under {self.dev_name}: "
            "is sysfs mounted at /sys?"
        )

    def line_dir(self, offset: int) -> Path:
        """The sysfs folder of line ``offset`` on the simulator side (``sim_gpioN``).

        Raises:
            ClosedError: the device is not live.
            PinIndexError: the chip has no such line.
        """
        self._device._check_live()
        if isinstance(offset, bool) or not isinstance(offset, int):
            raise PinIndexError(f"line offset must be a whole number, not {offset!r}")
        if not 0 <= offset < self.num_lines:
            raise PinIndexError(
                f"offset {offset} is out of range for {self.chip_name}: it has lines "
                f"0..{self.num_lines - 1}"
            )
        return (
            self._device.sysfs_root
            / "devices/platform"
            / self.dev_name
            / self.chip_name
            / f"sim_gpio{offset}"
        )

    def set_pull(self, offset: int, pull: Pull) -> None:
        """Drive an input from outside: pull the line up (True) or down (False).

        Args:
            offset: the line.
            pull: True or ``"pull-up"``; False or ``"pull-down"``.

        Raises:
            InvalidSettingError: ``pull`` is none of those.
            SimPermissionError: sysfs is not writable (root is needed).
        """
        if pull is True or pull == "pull-up":
            word = "pull-up"
        elif pull is False or pull == "pull-down":
            word = "pull-down"
        else:
            raise InvalidSettingError(
                f"pull must be True/'pull-up' or False/'pull-down', not {pull!r}"
            )
        path = self.line_dir(offset) / "pull"
        try:
            _write_attr(path, word)
        except PermissionError as exc:
            raise SimPermissionError(
                f"cannot write {path}: run as root, or give write access to it with a udev rule"
            ) from exc

    def get_pull(self, offset: int) -> bool:
        """The simulator's pull on a line: True for pull-up."""
        return _read_attr(self.line_dir(offset) / "pull") == "pull-up"

    def get_value(self, offset: int) -> bool:
        """The line's physical level: what an output drives, else what the pull gives."""
        return _read_attr(self.line_dir(offset) / "value") == "1"


@final
class SimDevice:
    """A gpio-sim device with one or more banks, each a GPIO chip.

    Use as a context manager, or call :meth:`create` and :meth:`close`.

    Args:
        *banks: the layout of each bank; one 8-line bank when none is given.
        name: the configfs folder name; by default ``gpiorig-<pid>-<start>-<hex>``,
            which lets a later process reclaim it if this one dies.
        configfs_root: where configfs is mounted (for tests).
        sysfs_root: where sysfs is mounted (for tests).
        kernel_release: the kernel release to check; default ``os.uname().release``.
        timeout: seconds to wait for each ``/dev/gpiochipN`` to appear.

    Raises:
        InvalidNameError: ``name`` breaks a naming rule.
    """

    def __init__(
        self,
        *banks: Bank,
        name: str | None = None,
        configfs_root: Path = CONFIGFS_ROOT,
        sysfs_root: Path = SYSFS_ROOT,
        kernel_release: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        for bank in banks:
            if not isinstance(bank, Bank):
                raise InvalidSettingError(f"banks must be gpiosim.chip.Bank objects, not {bank!r}")
        self.bank_specs: tuple[Bank, ...] = banks or (Bank(),)
        self._name = None if name is None else validate_device_name(name)
        self.configfs_root = _folder(configfs_root, "configfs_root")
        self.sysfs_root = _folder(sysfs_root, "sysfs_root")
        if kernel_release is not None and not isinstance(kernel_release, str):
            raise InvalidSettingError(
                f"kernel_release must be a release string such as '6.1.0', not {kernel_release!r}"
            )
        self._kernel_release = kernel_release
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not 0 < timeout < float("inf")
        ):
            raise InvalidSettingError(
                f"timeout must be a positive number of seconds, not {timeout!r}: e.g. timeout=5"
            )
        self._timeout = timeout
        self._owner = True
        self._dev_name: str | None = None
        self._banks: tuple[SimBank, ...] = ()
        self._finalizer: weakref.finalize[[Path], SimDevice] | None = None
        self._closed = False

    @classmethod
    def attach(
        cls, ident: str, *, sysfs_root: Path = SYSFS_ROOT, dev_root: Path = Path("/dev")
    ) -> SimDevice:
        """Use a gpio-sim device that something else made; closing it leaves it alone.

        Args:
            ident: the device (``gpio-sim.0``), one of its chips (``gpiochip1``) or a
                chip's path (``/dev/gpiochip1``).
            sysfs_root: where sysfs is mounted.
            dev_root: where device nodes are.

        Raises:
            LineNotFoundError: no live gpio-sim device matches ``ident``.
        """
        if not isinstance(ident, str) or not ident:
            raise LineNotFoundError(
                f"a gpio-sim device to attach must be named by a string such as 'gpio-sim.0' "
                f"or 'gpiochip1', not {ident!r}"
            )
        sysfs_root = _folder(sysfs_root, "sysfs_root")
        platform = sysfs_root / "devices/platform"
        name = Path(ident).name
        if name.startswith("gpiochip"):
            link = sysfs_root / "bus/gpio/devices" / name
            parent = link.resolve().parent.name if link.exists() else ""
            dev_name = parent if parent.startswith("gpio-sim.") else ""
        else:
            dev_name = name if name.startswith("gpio-sim.") else ""
        devdir = platform / dev_name
        if not dev_name or not devdir.is_dir():
            live = sorted(p.name for p in platform.glob("gpio-sim.*")) if platform.is_dir() else []
            raise LineNotFoundError(
                f"{ident!r} names no live gpio-sim device (live: {', '.join(live) or 'none'}): "
                "pass a dev_name like 'gpio-sim.0' or a chip name like 'gpiochip1' "
                "(check GPIOSIM_CHIP)"
            )
        self = cls(sysfs_root=sysfs_root)
        self._owner = False
        self._dev_name = dev_name
        chips = sorted(
            (p for p in devdir.glob("gpiochip*") if p.is_dir()),
            key=lambda p: int(p.name.removeprefix("gpiochip") or 0),
        )
        self._banks = tuple(
            SimBank(
                self,
                i,
                chip.name,
                str(dev_root / chip.name),
                len(list(chip.glob("sim_gpio*"))),
                None,
            )
            for i, chip in enumerate(chips)
        )
        return self

    # -- lifecycle ---------------------------------------------------------------------
    def create(self) -> Self:
        """Make the device live; reclaim stale devices of dead processes first.

        Returns:
            self, for chaining.

        Raises:
            KernelTooOldError, ConfigfsNotMountedError, GpioSimUnavailableError,
            SimPermissionError: see :func:`check_environment`.
            SimChipError: the kernel refused the layout, the name is taken, or the
                chip's device node did not appear in time. Nothing is left behind.
            ClosedError: the device was closed (or attached); make a new one.
        """
        if self._closed or not self._owner:
            raise ClosedError(
                f"sim device {self.name!r} was closed or attached: make a new SimDevice"
            )
        if self._dev_name is not None:
            return self
        simdir = check_environment(
            configfs_root=self.configfs_root, kernel_release=self._kernel_release
        )
        reclaim_stale(configfs_root=self.configfs_root)
        name = self._name or _owned_name()
        devdir = simdir / name
        try:
            os.mkdir(devdir)
        except FileExistsError:
            raise SimChipError(
                f"a gpio-sim device named {name!r} already exists in {simdir}: choose "
                "another name, or leave name=None for a unique one"
            ) from None
        except PermissionError as exc:
            raise SimPermissionError(
                f"cannot create {devdir}: run as root, or give write access to {simdir} "
                "with a udev rule"
            ) from exc
        # From here on the folder exists: any failure must take it down again.
        self._finalizer = weakref.finalize(self, _remove_device_dir, devdir)
        try:
            try:
                self._populate(devdir)
            except PermissionError as exc:
                raise SimPermissionError(
                    f"cannot configure {devdir}: {exc.strerror}: run as root"
                ) from exc
            except OSError as exc:
                raise SimChipError(f"cannot configure sim device {name!r}: {exc}") from exc
            self._go_live(devdir)
            self._dev_name = _read_attr(devdir / "dev_name")
            self._banks = tuple(
                self._live_bank(devdir, i, spec) for i, spec in enumerate(self.bank_specs)
            )
        except BaseException:
            self._finalizer()
            self._dev_name = None
            self._banks = ()
            raise
        self._name = name
        return self

    def _populate(self, devdir: Path) -> None:
        for i, spec in enumerate(self.bank_specs):
            bankdir = devdir / f"bank{i}"
            os.mkdir(bankdir)
            _write_attr(bankdir / "num_lines", str(spec.num_lines))
            if spec.label is not None:
                _write_attr(bankdir / "label", spec.label)
            for offset, line_name in spec.line_names:
                os.mkdir(bankdir / f"line{offset}")
                _write_attr(bankdir / f"line{offset}" / "name", line_name)
            for offset, consumer, direction in spec.hogs:
                linedir = bankdir / f"line{offset}"
                with contextlib.suppress(FileExistsError):
                    os.mkdir(linedir)
                os.mkdir(linedir / "hog")
                _write_attr(linedir / "hog" / "name", consumer)
                _write_attr(linedir / "hog" / "direction", direction)

    def _go_live(self, devdir: Path) -> None:
        try:
            _write_attr(devdir / "live", "1")
        except OSError as exc:
            labels = [b.label for b in self.bank_specs if b.label is not None]
            hint = (
                "bank labels must be unique within a device"
                if len(labels) != len(set(labels))
                else "see the kernel log (dmesg) for the reason"
            )
            raise SimChipError(
                f"the kernel refused to bring sim device {devdir.name!r} live "
                f"({os.strerror(exc.errno or 0)}): {hint}"
            ) from exc

    def _live_bank(self, devdir: Path, index: int, spec: Bank) -> SimBank:
        # configfs's chip_name is authoritative; the node is found (and waited for) apart.
        chip_name = _read_attr(devdir / f"bank{index}" / "chip_name")
        dev_path = _wait_device_node(chip_name, self._timeout)
        return SimBank(self, index, chip_name, dev_path, spec.num_lines, spec.label)

    def close(self) -> None:
        """Take the device down and remove its configfs folders; safe to call twice.

        An attached device is only forgotten, never torn down.
        """
        self._closed = True
        if self._finalizer is not None:
            self._finalizer()

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
        state = "live" if self.live else "closed" if self._closed else "not created"
        return f"SimDevice(name={self._name!r}, dev_name={self._dev_name!r}, {state})"

    # -- state -------------------------------------------------------------------------
    @property
    def live(self) -> bool:
        """True between a successful create (or attach) and close."""
        if self._closed or self._dev_name is None:
            return False
        return not self._owner or (self._finalizer is not None and self._finalizer.alive)

    def _check_live(self) -> None:
        if not self.live:
            raise ClosedError(
                f"sim device {self._name or self._dev_name!r} is not live: call create() "
                "first, or use it inside its 'with' block"
            )

    @property
    def name(self) -> str | None:
        """The configfs folder name (None until created, unless given)."""
        return self._name

    @property
    def owner(self) -> bool:
        """True if this object made the device and will tear it down."""
        return self._owner

    @property
    def dev_name(self) -> str:
        """The platform device name, e.g. ``gpio-sim.0``.

        Raises:
            ClosedError: the device is not live.
        """
        self._check_live()
        assert self._dev_name is not None  # for the type checker; _check_live ensures it
        return self._dev_name

    @property
    def banks(self) -> tuple[SimBank, ...]:
        """The live banks, in order.

        Raises:
            ClosedError: the device is not live.
        """
        self._check_live()
        return self._banks


def _wait_device_node(chip_name: str, timeout: float, dev_root: Path = Path("/dev")) -> str:
    """Return the device node of a chip that just went live, waiting for it if need be.

    With devtmpfs the kernel has made ``/dev/gpiochipN`` before ``live`` returns, so the
    common case costs one ``stat``. Otherwise (a udev daemon makes the node, or names
    it differently) a pyudev kernel-uevent monitor is started *before* looking again,
    so an ``add`` that happens in between cannot be missed, and pyudev's DEVNAME is used.
    pyudev is only imported here: it costs ~0.8 s to import and ~40 ms per chip in the
    emulated guest, which a fast create/destroy loop should not pay.

    Raises:
        SimChipError: the node did not appear within ``timeout`` seconds.
    """
    node = str(dev_root / chip_name)
    if os.path.exists(node):
        return node
    deadline = time.monotonic() + timeout
    try:
        import pyudev

        context = pyudev.Context()
        monitor = pyudev.Monitor.from_netlink(context, source="kernel")
        monitor.filter_by("gpio")
        monitor.start()
    except Exception:  # no libudev or no netlink permission: poll the path instead
        context = monitor = None
    while True:
        if context is not None:
            with contextlib.suppress(Exception):
                node = pyudev.Devices.from_name(context, "gpio", chip_name).device_node or node
        if os.path.exists(node):
            return node
        left = deadline - time.monotonic()
        if left <= 0:
            raise SimChipError(
                f"{node} did not appear within {timeout} s of {chip_name} going live: "
                "mount devtmpfs on /dev (mount -t devtmpfs none /dev) or start udevd"
            )
        if monitor is None:
            time.sleep(min(left, 0.01))
        else:
            # Any gpio uevent may be ours; drain it and look again.
            with contextlib.suppress(Exception):
                monitor.poll(timeout=min(left, 0.1))
