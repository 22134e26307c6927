"""The one registry of backends: the ``gpiocore.backends`` entry-point group.

Built-in backends are registered there too (in gpiorig's own pyproject.toml), so a
third party adds one the same way and no list in this code must be kept up to date.
"""

from __future__ import annotations

import importlib.metadata
import inspect
from typing import Any

from gpiocore._errors import (
    BackendNotFoundError,
    BackendUnavailableError,
    InvalidSettingError,
)
from gpiocore.backends._base import Backend

__all__ = ["ENTRY_POINT_GROUP", "available_backends", "load_backend"]

ENTRY_POINT_GROUP = "gpiocore.backends"


def available_backends() -> dict[str, importlib.metadata.EntryPoint]:
    """Return the registered backends by name (not imported yet)."""
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


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
    found = available_backends()
    if name not in found:
        known = ", ".join(sorted(found)) or "none (is gpiorig installed? run: pip install -e .)"
        raise BackendNotFoundError(
            f"no GPIO backend named {name!r}: choose one of {known} "
            f"(set GPIOCORE_BACKEND or pass --backend)"
        )
    try:
        factory = found[name].load()
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
