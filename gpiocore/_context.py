"""Which backend the classic API uses when a program names none.

The Quick2Wire-style API has a global ``pins`` object, so the process needs one notion
of "the current backend". It lives in this one holder object (not scattered module
globals), chosen lazily on first use:

0. in a program that an app runner runs in a thread, the runner's backend (the
   program's own :func:`use_backend` then changes only its thread's, as it would only
   change its own process's);
1. what :func:`use_backend` set (a plain call, or for a ``with`` block);
2. the pytest plugin's ``--backend`` for the whole session (:func:`set_session_backend`);
3. ``GPIOCORE_BACKEND``;
4. the hardware that is here: each registered backend may offer ``detect(root)``, which
   says how well it fits (a Pi's header chip: ``pi``; any GPIO character device:
   ``cdev``); the best fit wins;
5. only where there is no GPIO at all, the in-process ``fake``, with a one-time
   :class:`~gpiocore.FakeBackendWarning`.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Final, final

from gpiocore._errors import FakeBackendWarning
from gpiocore.backends._base import Backend, check_backend
from gpiocore.backends._registry import ENV_VAR, detect_backend, load_backend

__all__ = [
    "DEFAULT_BACKEND_NAME",
    "ROOT",
    "backend_for_this_thread",
    "check_backend",
    "current_backend",
    "set_session_backend",
    "use_backend",
]

DEFAULT_BACKEND_NAME: Final = "fake"
"""The backend used where nothing was chosen and there is no GPIO hardware."""
ROOT: Final = Path("/")
"""Where detection looks for ``dev/gpiochip*`` and ``proc/device-tree`` (tests move it)."""

_HERE: Final = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _caller_stacklevel() -> int:
    """The stacklevel of the first frame outside gpiocore, for warnings.warn."""
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_HERE):
        frame = frame.f_back
        level += 1
    return level


@final
class _CurrentBackend:
    def __init__(self, root: Path = ROOT) -> None:
        self._lock = threading.RLock()
        self._root = root
        self._backend: Backend | None = None
        self._owned = False  # made here (not handed in): closed when the session ends
        self._session_name: str | None = None
        self._warned = False
        # A backend for one thread only (a program an app runner runs in a thread).
        self._thread = threading.local()

    def _thread_backend(self) -> Backend | None:
        backend: Backend | None = getattr(self._thread, "backend", None)
        return backend

    def get(self) -> Backend:
        pinned = self._thread_backend()
        if pinned is not None:
            return pinned
        with self._lock:
            if self._backend is None:
                self._backend = load_backend(self._choose())
                self._owned = True
            return self._backend

    def _choose(self) -> str:
        if self._session_name is not None:
            return self._session_name
        named = os.environ.get(ENV_VAR, "").strip()
        if named:
            return named
        found = detect_backend(self._root)
        if found is not None:
            return found
        if not self._warned:
            self._warned = True
            warnings.warn(
                FakeBackendWarning(
                    f"no GPIO backend chosen and no GPIO hardware here (no "
                    f"{self._root / 'dev'}/gpiochip*): pins are gpiocore's in-process fake "
                    f"on virtual time; choose one with {ENV_VAR}=<name> or "
                    "gpiocore.use_backend(<name>) (e.g. 'sim', 'cdev', 'pi'; 'fake' "
                    "silences this)"
                ),
                stacklevel=_caller_stacklevel(),
            )
        return DEFAULT_BACKEND_NAME

    def use(self, backend: Backend | str) -> _BackendChoice:
        made = isinstance(backend, str)
        chosen = (
            load_backend(backend)
            if isinstance(backend, str)
            else check_backend(backend, "use_backend()")
        )
        if self._thread_backend() is not None:
            # In a program run in a thread: its choice is its thread's, as a
            # subprocess's would be its process's.
            saved = (self._thread_backend(), self._thread.owned)
            self._thread.backend, self._thread.owned = chosen, made
            return _BackendChoice(self, chosen, saved, made, this_thread=True)
        with self._lock:
            saved = (self._backend, self._owned)
            # One made from a name by a plain call is the holder's to close (when a
            # test session ends); a with block closes it itself.
            self._backend, self._owned = chosen, made
        return _BackendChoice(self, chosen, saved, made)

    def _restore(self, saved: tuple[Backend | None, bool], this_thread: bool = False) -> None:
        if this_thread:
            self._thread.backend, self._thread.owned = saved
            return
        with self._lock:
            self._backend, self._owned = saved

    @contextlib.contextmanager
    def for_this_thread(self, backend: Backend) -> Iterator[Backend]:
        """Make ``backend`` the current one in the calling thread only, for a block."""
        saved = (self._thread_backend(), getattr(self._thread, "owned", False))
        self._thread.backend = check_backend(backend, "backend_for_this_thread()")
        self._thread.owned = False
        try:
            yield backend
        finally:
            # One the thread made from a name by a plain use_backend() call is closed.
            made = self._thread.backend if self._thread.owned else None
            self._thread.backend, self._thread.owned = saved
            if made is not None:
                made.close()

    def set_session(self, name: str | None) -> Callable[[], None]:
        with self._lock:
            saved = (self._session_name, self._backend, self._owned)
            self._session_name, self._backend, self._owned = name, None, False

        def undo() -> None:
            with self._lock:
                made = self._backend if self._owned else None
                self._session_name, self._backend, self._owned = saved
            if made is not None:
                made.close()

        return undo


@final
class _BackendChoice(contextlib.AbstractContextManager[Backend]):
    """What :func:`use_backend` returns: already in effect; a ``with`` block undoes it."""

    def __init__(
        self,
        holder: _CurrentBackend,
        chosen: Backend,
        saved: tuple[Backend | None, bool],
        made: bool,
        *,
        this_thread: bool = False,
    ) -> None:
        self._holder = holder
        self._chosen = chosen
        self._saved = saved
        self._made = made
        self._this_thread = this_thread

    def __repr__(self) -> str:
        return f"<use_backend {self._chosen!r}>"

    def __enter__(self) -> Backend:
        return self._chosen

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._holder._restore(self._saved, self._this_thread)
        if self._made:
            self._chosen.close()


_current: Final = _CurrentBackend()


def current_backend() -> Backend:
    """Return the backend that ``pins``, ``Selector()`` and ``Timer()`` use by default.

    In a program an app runner runs in a thread, the runner's backend. Otherwise
    chosen on first use: :func:`use_backend`, else pytest's ``--backend`` in a test
    session, else ``GPIOCORE_BACKEND``, else the hardware that is here (``pi`` on a
    Raspberry Pi, ``cdev`` where there is a GPIO character device), else the ``fake``
    with a one-time :class:`~gpiocore.FakeBackendWarning`.
    """
    return _current.get()


def use_backend(backend: Backend | str) -> contextlib.AbstractContextManager[Backend]:
    """Make ``backend`` (an instance, or a registered name) the default, at once.

    A plain call lasts until the next one; used as a context manager, the previous
    default comes back when the block ends (and a backend made from a name is closed).

    Example:
        >>> use_backend("fake")  # doctest: +SKIP
        >>> with use_backend("fake") as fake:
        ...     pin = pins.pin(0)
    """
    return _current.use(backend)


def backend_for_this_thread(backend: Backend) -> contextlib.AbstractContextManager[Backend]:
    """Make ``backend`` the current one in the calling thread only, for a ``with`` block.

    For a program run in a thread of a test process (``AppRunner``): it must see its
    runner's backend, whatever the rest of the process uses. Threads the program
    starts see the process's current backend.
    """
    return _current.for_this_thread(backend)


def set_session_backend(name: str | None) -> Callable[[], None]:
    """Make ``name`` the default for a whole test session, over ``GPIOCORE_BACKEND``.

    Made lazily, on first use. For the pytest plugin (``--backend``).

    Returns:
        A function that ends it: the previous choice comes back, and a backend made
        for the session is closed.
    """
    return _current.set_session(name)
