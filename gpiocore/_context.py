"""Which backend the classic API uses when a program names none.

The Quick2Wire-style API has a global ``pins`` object, so the process needs one notion
of "the current backend". It lives in this one holder object (not scattered module
globals): chosen lazily from ``GPIOCORE_BACKEND`` (default ``fake``), replaceable for a
block with :func:`use_backend`, which is what the pytest plugin does.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import threading
from collections.abc import Iterator
from typing import final

from gpiocore._errors import InvalidSettingError
from gpiocore.backends._base import Backend
from gpiocore.backends._registry import load_backend

__all__ = ["DEFAULT_BACKEND_NAME", "ENV_VAR", "check_backend", "current_backend", "use_backend"]

ENV_VAR = "GPIOCORE_BACKEND"
DEFAULT_BACKEND_NAME = "fake"


@final
class _CurrentBackend:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._backend: Backend | None = None
        self._owned = False

    def get(self) -> Backend:
        with self._lock:
            if self._backend is None:
                name = os.environ.get(ENV_VAR, "").strip() or DEFAULT_BACKEND_NAME
                self._backend = load_backend(name)
                self._owned = True
            return self._backend

    @contextlib.contextmanager
    def use(self, backend: Backend | str) -> Iterator[Backend]:
        made = isinstance(backend, str)
        chosen = (
            load_backend(backend)
            if isinstance(backend, str)
            else check_backend(backend, "use_backend()")
        )
        with self._lock:
            saved = (self._backend, self._owned)
            self._backend, self._owned = chosen, False
        try:
            yield chosen
        finally:
            with self._lock:
                self._backend, self._owned = saved
            if made:
                chosen.close()


_current = _CurrentBackend()


def _has_static(value: object, attr: str) -> bool:
    try:
        inspect.getattr_static(value, attr)
    except AttributeError:
        return False
    return True


def check_backend(value: object, where: str) -> Backend:
    """Return ``value`` if it is a backend, so that a wrong argument fails where it is given.

    Raises:
        InvalidSettingError: ``value`` lacks what the backend protocol needs.
    """
    # Looked up statically: isinstance() against the Protocol would evaluate properties
    # (a pi backend's harness takes the rig's lock and lines when first read).
    needed = ("name", "clock", "chips", "default_chip", "open_line", "create_timer", "close")
    if all(_has_static(value, attr) for attr in needed):
        return value  # type: ignore[return-value]
    raise InvalidSettingError(
        f"{where}: {value!r} is not a GPIO backend: pass a backend object (e.g. "
        "gpiocore.backends.load_backend('fake')) or, where a name is accepted, 'fake' or 'sim'"
    )


def current_backend() -> Backend:
    """Return the backend that ``pins``, ``Selector()`` and ``Timer()`` use by default.

    On first use it is made from the ``GPIOCORE_BACKEND`` environment variable, or is
    the ``fake`` backend when that is unset.
    """
    return _current.get()


def use_backend(backend: Backend | str) -> contextlib.AbstractContextManager[Backend]:
    """Make ``backend`` (an instance, or a registered name) the default for a block.

    Example:
        >>> with use_backend("fake") as fake:
        ...     pin = pins.pin(0)
    """
    return _current.use(backend)
