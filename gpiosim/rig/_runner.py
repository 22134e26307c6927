"""Run a program under test beside the test, and stop it cleanly whatever its state.

Two ways: in a *thread* of the test process (the fake backend, whose lines live in
this process), or in a *subprocess* (real-kernel backends: sim, pi). A thread is
stopped by raising :class:`AppStopped` in it and waking every wait it could be blocked
in; its ``with`` blocks then release its lines. A subprocess gets SIGTERM, then SIGKILL;
the kernel releases its lines when it dies.
"""

from __future__ import annotations

import contextlib
import os
import runpy
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Literal, final

from gpiocore import current_backend
from gpiocore.backends import Backend, ExportsEnv, WakesWaiters, check_backend
from gpiocore.testing import VirtualClock, backend_for_this_thread
from gpiosim._errors import AppError, AppStopped

__all__ = ["AppError", "AppRunner", "AppStopped"]

Mode = Literal["thread", "subprocess"]


@final
class AppRunner:
    """Start a Python program under test; stop it at the end, whatever state it is in.

    Args:
        path: the program's file (e.g. ``fixtures/apps/timed_led.py``).
        args: its command-line arguments (``sys.argv[1:]``).
        mode: ``"thread"`` (in this process; the fake backend) or ``"subprocess"``.
            Default: thread when the backend's clock is virtual, else subprocess.
        backend: the backend the program should use (default: the current one). A
            thread sees it as its current backend (only that thread: see
            :func:`gpiocore.testing.backend_for_this_thread`); a subprocess reaches it
            through the backend's ``export_env()``.
        env: extra environment variables for a subprocess.
        stop_timeout: real seconds to wait for the program to stop.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        args: Sequence[str] = (),
        *,
        mode: Mode | None = None,
        backend: Backend | None = None,
        env: Mapping[str, str] | None = None,
        stop_timeout: float = 10.0,
    ) -> None:
        if not isinstance(path, str | os.PathLike) or not os.fspath(path):
            raise AppError(f"path must be the path of a Python file, not {path!r}")
        self.path = Path(path)
        if not self.path.is_file():
            raise AppError(f"no program at {self.path}: give the path of a Python file")
        if isinstance(args, str | bytes) or not isinstance(args, Sequence):
            raise AppError(
                f"args must be a list of arguments, not {args!r}: e.g. args=['0.5'] "
                "(a string would be split into characters)"
            )
        self.args = [str(a) for a in args]
        self.backend = current_backend() if backend is None else check_backend(backend, "AppRunner")
        if mode is None:
            mode = "thread" if self.backend.clock.virtual else "subprocess"
        if mode not in ("thread", "subprocess"):
            raise AppError(f"mode must be 'thread' or 'subprocess', not {mode!r}")
        self.mode: Mode = mode
        if env is not None and (
            not isinstance(env, Mapping)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
        ):
            raise AppError(f"env must map variable names to strings, not {env!r}")
        self._env = dict(env or {})
        if (
            isinstance(stop_timeout, bool)
            or not isinstance(stop_timeout, int | float)
            or not 0 < stop_timeout < float("inf")
        ):
            raise AppError(
                f"stop_timeout must be a positive number of seconds, not {stop_timeout!r}"
            )
        self.stop_timeout = stop_timeout
        self._thread: threading.Thread | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self.error: BaseException | None = None
        """The exception the program died of (thread mode), if any."""
        self.returncode: int | None = None
        self._saved_argv: list[str] | None = None

    def __repr__(self) -> str:
        return f"<AppRunner {self.path.name} {self.mode} running={self.running}>"

    @property
    def running(self) -> bool:
        """True while the program runs."""
        if self._thread is not None:
            return self._thread.is_alive()
        if self._proc is not None:
            return self._proc.poll() is None
        return False

    def start(self) -> AppRunner:
        """Start the program; returns self."""
        if self._thread is not None or self._proc is not None:
            raise AppError(f"{self.path.name} was already started: make a new AppRunner")
        if self.mode == "thread":
            self._start_thread()
        else:
            self._start_subprocess()
        return self

    def _start_thread(self) -> None:
        # sys.argv is process-wide: the program sees ours while it runs.
        self._saved_argv = sys.argv
        sys.argv = [str(self.path), *self.args]

        backend = self.backend
        clock = backend.clock
        watch = clock if isinstance(clock, VirtualClock) else None

        def target() -> None:
            if watch is not None:
                # settle() then waits for this program wherever it waits (even raw epoll).
                watch.watch_thread()
            try:
                # The program's pins, selectors and timers use this runner's backend,
                # whatever backend the rest of the process (the test) has made current.
                with backend_for_this_thread(backend):
                    runpy.run_path(str(self.path), run_name="__main__")
            except AppStopped:
                pass
            except SystemExit as exc:
                self.returncode = exc.code if isinstance(exc.code, int) else 1
            except BaseException as exc:  # reported to the test by stop()/check()
                self.error = exc
            else:
                self.returncode = 0
            finally:
                if watch is not None:
                    watch.unwatch_thread()

        self._thread = threading.Thread(target=target, name=f"app:{self.path.name}", daemon=True)
        self._thread.start()

    def _start_subprocess(self) -> None:
        if not isinstance(self.backend, ExportsEnv):
            raise AppError(
                f"the {self.backend.name!r} backend lives in this process and cannot be "
                "shared with a subprocess: use mode='thread'"
            )
        env = {**os.environ, **self.backend.export_env(), **self._env}
        self._proc = subprocess.Popen(
            [sys.executable, str(self.path), *self.args],
            env=env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # so a Ctrl-C at the terminal reaches only the test
        )

    def wait_ready(self, lines: Sequence[tuple[str, int]], timeout: float = 30.0) -> None:
        """Wait (real time) until the program holds every one of ``lines``, then settle.

        Raises:
            AppError: the program died, or did not request its lines in time.
        """
        if self._thread is None and self._proc is None and self.returncode is None:
            raise AppError(f"{self.path.name} was not started: call start() first")
        if (
            isinstance(lines, str)
            or not isinstance(lines, Sequence)
            or not all(isinstance(x, tuple) and len(x) == 2 for x in lines)
        ):
            raise AppError(
                f"lines must be a list of (chip, offset) pairs, not {lines!r}: "
                "e.g. [('gpiochip0', 17)] or rig.lines()"
            )
        harness = self.backend.harness
        if harness is None:
            raise AppError(f"the {self.backend.name!r} backend has no harness to watch lines")
        end = time.monotonic() + timeout
        while not all(harness.requested(chip, offset) for chip, offset in lines):
            self.check()
            if not self.running:
                raise AppError(f"{self.path.name} ended before requesting its lines")
            if time.monotonic() >= end:
                raise AppError(
                    f"{self.path.name} did not request lines {list(lines)} within {timeout} s"
                )
            time.sleep(0.002)
        clock = self.backend.clock
        if isinstance(clock, VirtualClock):
            if not (self.mode == "thread" and clock.sees_raw_waits):
                # Unwatched: a program requests its lines before it builds its selector,
                # so wait until it idles in a gpiocore wait (a raw-epoll program never
                # does: give up after a moment; its epoll reports what is pending anyway).
                grace = time.monotonic() + 0.5
                while clock.idle_pollers() == 0 and time.monotonic() < grace:
                    self.check()
                    time.sleep(0.001)
            # Watched (an app runner's thread), settle() returns once the program waits,
            # in a gpiocore wait or a raw epoll alike.
            clock.settle()
        else:
            time.sleep(0.05)

    def check(self) -> None:
        """Raise :class:`AppError` if the program has died of an error."""
        if self.error is not None:
            raise AppError(f"{self.path.name} crashed: {self.error!r}") from self.error
        if self._proc is not None and self._proc.poll() not in (None, 0):
            raise AppError(f"{self.path.name} exited with status {self._proc.returncode}")

    def stop(self) -> None:
        """Stop the program and wait for it; its lines are released when this returns.

        Raises:
            AppError: the program did not stop within ``stop_timeout`` (it is hung
                outside any wait), or it had crashed before.
        """
        try:
            if self._thread is not None:
                self._stop_thread()
            elif self._proc is not None:
                self._stop_subprocess()
        finally:
            if self._saved_argv is not None:
                sys.argv, self._saved_argv = self._saved_argv, None
        self.check()

    def _stop_thread(self) -> None:
        thread = self._thread
        assert thread is not None
        end = time.monotonic() + self.stop_timeout
        clock = self.backend.clock
        if thread.is_alive() and thread.ident is not None and isinstance(clock, VirtualClock):
            # Raised at the program's next wait or line call: a safe point, unlike an
            # asynchronous exception, which could strike while a lock is held.
            clock.interrupt(thread.ident, AppStopped)
        while thread.is_alive() and time.monotonic() < end:
            if isinstance(self.backend, WakesWaiters):
                self.backend.wake_all()  # also returns a raw epoll.poll blocked on a fake line
            thread.join(0.05)
        if thread.is_alive():
            raise AppError(
                f"{self.path.name} did not stop within {self.stop_timeout} s: it is stuck "
                "outside any GPIO wait (e.g. in time.sleep or a C call)"
            )

    def _stop_subprocess(self) -> None:
        proc = self._proc
        assert proc is not None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                self.returncode = proc.returncode
                raise AppError(
                    f"{self.path.name} ignored SIGTERM for {self.stop_timeout} s and was killed"
                ) from None
            self.returncode = proc.returncode
            if self.returncode == -signal.SIGTERM:
                self._proc = None  # stopped by us: not an error
                return
        self.returncode = proc.returncode

    def __enter__(self) -> AppRunner:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.stop()
        else:
            with contextlib.suppress(AppError):
                self.stop()
