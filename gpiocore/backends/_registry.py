"""The one registry of backends: the ``gpiocore.backends`` entry-point group.

Built-in backends are registered there too (in gpiorig's own pyproject.toml), so a
third party adds one the same way and no list in this code must be kept up to date.
"""

from __future__ import annotations

import importlib.metadata
import inspect
from pathlib import Path
from typing import Any, Final

from gpiocore._errors import (
    BackendNotFoundError,
    BackendUnavailableError,
    GpioError,
    InvalidSettingError,
)
from gpiocore.backends._base import Backend, DetectsHardware

__all__ = ["ENTRY_POINT_GROUP", "ENV_VAR", "available_backends", "detect_backend", "load_backend"]

ENTRY_POINT_GROUP: Final = "gpiocore.backends"
"""The entry-point group a backend registers in: ``name = "package.module:Factory"``."""
ENV_VAR: Final = "GPIOCORE_BACKEND"
"""The environment variable naming the backend (a backend's ``export_env`` sets it)."""


#: The distribution whose own entry points name the built-in backends.
_OWN_DISTRIBUTION: Final = "gpiorig"


def available_backends() -> dict[str, importlib.metadata.EntryPoint]:
    """Return the registered backends by name (not imported yet)."""
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def _built_in(name: str) -> importlib.metadata.EntryPoint | None:
    """gpiorig's own registration of ``name``, read from gpiorig's metadata alone.

    Every program starts by loading a backend, and scanning every installed
    distribution's entry points cost a program 0.5 s of start-up in a TCG guest. A
    built-in name (fake, cdev, sim, pi) is therefore found here first, and cannot be
    taken over by another package's registration.
    """
    try:
        points = importlib.metadata.distribution(_OWN_DISTRIBUTION).entry_points
    except importlib.metadata.PackageNotFoundError:
        return None
    for point in points:
        if point.group == ENTRY_POINT_GROUP and point.name == name:
            return point
    return None


def load_backend(name: str, **options: Any) -> Backend:
    """Create a backend by its registered name.

    Args:
        name: the entry-point name, e.g. ``"fake"``, ``"sim"``, ``"cdev"``, ``"pi"``.
        **options: passed to the backend's constructor.

    Raises:
        BackendNotFoundError: no backend has that name.
        BackendUnavailableError: the backend cannot be imported here.
    """
    if not isinstance(name, str):
        raise BackendNotFoundError(f"a backend name must be a string, not {name!r}")
    point = _built_in(name)
    if point is None:
        found = available_backends()
        if name not in found:
            known = ", ".join(sorted(found)) or "none (is gpiorig installed? run: pip install -e .)"
            raise BackendNotFoundError(
                f"no GPIO backend named {name!r}: choose one of {known} "
                f"(set GPIOCORE_BACKEND or pass --backend)"
            )
        point = found[name]
    try:
        factory = point.load()
    except ImportError as exc:
        raise BackendUnavailableError(
            f"backend {name!r} cannot be imported ({exc}): install what it needs, "
            f"e.g. pip install 'gpiorig[test]'"
        ) from exc
    try:
        inspect.signature(factory).bind(**options)
    except TypeError as exc:  # an unknown or misspelt option: say so, not deep inside
        raise InvalidSettingError(
            f"backend {name!r} does not take the option(s) {sorted(options)} ({exc}): "
            f"see help({getattr(factory, '__qualname__', factory)}) for what it takes"
        ) from None
    except ValueError:
        pass  # no signature to check (a builtin): let the call say
    backend: Backend = factory(**options)
    return backend


def detect_backend(root: Path = Path("/")) -> str | None:
    """Name the registered backend that fits the GPIO hardware under ``root`` best.

    Each backend class may offer ``detect(root: Path) -> int``: 0 when its hardware is
    not there, more the more specific the fit (``pi`` outranks ``cdev`` on a Pi). With
    no ``gpiochip*`` under ``root/dev`` no backend is even imported.

    Returns:
        The backend's name, or None where there is no GPIO hardware.
    """
    if not any((root / "dev").glob("gpiochip*")):
        return None
    best, best_rank = None, 0
    for name, entry_point in sorted(available_backends().items()):
        try:
            factory = entry_point.load()
        except ImportError:
            continue  # cannot run here, so it is not what is here
        if not isinstance(factory, DetectsHardware):
            continue
        try:
            rank = int(factory.detect(root))
        except (OSError, GpioError):
            continue
        if rank > best_rank:
            best, best_rank = name, rank
    return best
