"""The bench rig's safeguards: one run per rig (a lock) and a self-test of its jumpers.

* :class:`RigLock`: an exclusive ``flock`` on a file named after the rig, so two test
  runs never drive the same rig; the second is told which pid holds it. The kernel drops
  the lock when its holder dies, so a crashed run never leaves the rig locked.
* :func:`run_self_test`: toggle the driving end of each jumper and watch every far end:
  a jumper whose far end does not follow is loose or missing, one whose change shows
  up on another jumper's far end is swapped with it, one that changes two is shorted.
  The algorithm is pure (the caller drives and senses), so it is tested without lines;
  :meth:`gpiosim.pi.PiHarness.self_test` runs it on the real lines.
* :func:`start_pi_session`: what the pytest plugin does before a ``--backend=pi`` run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import functools
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Final, final

from gpiocore._errors import GpioError, GpioPermissionError
from gpiosim._rigfile import validate_rig_name

if TYPE_CHECKING:
    import pytest

__all__ = [
    "ENV_LOCK_DIR",
    "CheckReport",
    "JumperResult",
    "RigBusyError",
    "RigCheckError",
    "RigLock",
    "Wire",
    "default_lock_dir",
    "run_self_test",
    "start_pi_session",
]

ENV_LOCK_DIR: Final = "GPIOSIM_LOCK_DIR"
"""A folder for rig locks, instead of /run/lock (every run of one rig must agree)."""


class RigBusyError(GpioError, RuntimeError):
    """Another process holds the rig's lock (another test run is driving it)."""


class RigCheckError(GpioError, RuntimeError):
    """The rig failed its self-test: a jumper is loose, missing, swapped or shorted."""

    def __init__(self, message: str, report: CheckReport | None = None) -> None:
        super().__init__(message)
        self.report = report
        """The self-test's report, when there is one."""


# -- the lock ---------------------------------------------------------------------------


def default_lock_dir() -> Path:
    """Where rig locks live: ``$GPIOSIM_LOCK_DIR``, else ``/run/lock`` (shared by every
    user on Debian and Raspberry Pi OS), else ``$XDG_RUNTIME_DIR``, else the temp folder."""
    env = os.environ.get(ENV_LOCK_DIR)
    if env:
        return Path(env)
    run_lock = Path("/run/lock")
    if run_lock.is_dir() and os.access(run_lock, os.W_OK | os.X_OK):
        return run_lock
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime)
    return Path(tempfile.gettempdir())


def _open_lock_file(path: Path) -> int:
    # Open an existing file without O_CREAT: with fs.protected_regular, O_CREAT on
    # another user's file in a sticky folder such as /run/lock fails with EACCES.
    try:
        return os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        pass
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except FileExistsError:  # made by another run in between
        return os.open(path, os.O_RDWR | os.O_CLOEXEC)
    with contextlib.suppress(OSError):
        os.fchmod(fd, 0o666)  # so the next user of the rig, not only us, can lock it
    return fd


def _holder(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _command_of(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)


@final
class RigLock:
    """An exclusive lock on a rig, held by at most one process at a time.

    The lock is re-entrant within a process: while this process holds it (say, the
    pytest session), another ``RigLock`` of the same rig acquired here (a test's
    harness) succeeds without owning it, and its release leaves the lock in place.

    Args:
        name: the rig's name (checked: it names a file and must not leave the folder).
        lock_dir: where the lock file lives (default :func:`default_lock_dir`).

    Raises:
        InvalidNameError: ``name`` could escape the folder or is malformed.
    """

    def __init__(self, name: str, *, lock_dir: Path | None = None) -> None:
        self.name = validate_rig_name(name)
        self.path = (lock_dir if lock_dir is not None else default_lock_dir()) / (
            f"gpiorig-rig-{name}.lock"
        )
        """The lock file."""
        self._fd: int | None = None
        self._shared = False

    def __repr__(self) -> str:
        state = "owned" if self._fd is not None else "shared" if self._shared else "free"
        return f"RigLock({self.name!r}, {state}, path={str(self.path)!r})"

    @property
    def held(self) -> bool:
        """True while this object holds the lock (or shares this process's hold)."""
        return self._fd is not None or self._shared

    def acquire(self) -> RigLock:
        """Take the lock without waiting; returns self.

        Raises:
            RigBusyError: another process holds it (the message names its pid).
            GpioPermissionError: the lock file cannot be opened.
        """
        if self.held:
            return self
        try:
            fd = _open_lock_file(self.path)
        except PermissionError as exc:
            raise GpioPermissionError(
                f"cannot open the lock of rig {self.name!r} at {self.path} ({exc.strerror}): "
                f"make it writable for every user of the rig (sudo chmod 666 {self.path})"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _holder(fd)
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            if holder == os.getpid():
                self._shared = True
                return self
            who = f"pid {holder}" if holder is not None else "another process (pid unknown)"
            command = _command_of(holder) if holder is not None else ""
            raise RigBusyError(
                f"rig {self.name!r} is in use by {who}"
                + (f" ({command})" if command else "")
                + f"; lock {self.path}: one run drives a rig at a time: wait for it to "
                "finish, or stop it"
            ) from None
        # Ours now: record who holds it for the next one who asks.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Give the lock up (a shared hold just forgets it); safe to call twice.

        The file stays: removing it would let a waiting process lock a file that a
        third process has already replaced.
        """
        fd, self._fd = self._fd, None
        self._shared = False
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing the only descriptor drops the flock

    def __enter__(self) -> RigLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


# -- the self-test ----------------------------------------------------------------------


@final
@dataclasses.dataclass(frozen=True, slots=True)
class Wire:
    """One jumper as the self-test sees it: an end it drives and an end it senses."""

    name: str
    """The jumper's (signal's) name."""
    source: str
    """The driven end, for messages: ``stimulus GPIO5``, or ``GPIO18`` (the program's
    output line, driven by the self-test while the program is not running)."""
    sink: str
    """The sensed end: ``GPIO17`` (the program's input line) or ``probe GPIO6``."""
    pins: tuple[int | None, int | None] = (None, None)
    """Header pins of the two ends, for the hint."""


@final
@dataclasses.dataclass(frozen=True, slots=True)
class JumperResult:
    """The self-test's verdict on one jumper."""

    wire: Wire
    ok: bool
    problem: str = ""
    """What is wrong, naming the jumper and both its ends ("" when ok)."""

    def __str__(self) -> str:
        w = self.wire
        if self.ok:
            return f"jumper {w.name}: {w.source} → {w.sink} ok"
        a, b = w.pins
        hint = f" — check the wire from header pin {a} to pin {b}" if a and b else ""
        return self.problem + hint


@final
@dataclasses.dataclass(frozen=True, slots=True)
class CheckReport:
    """Every jumper's verdict."""

    rig: str
    results: tuple[JumperResult, ...]
    seconds: float = 0.0
    """How long the self-test took."""
    where: str = ""
    """The board and chip it ran on, for the heading."""

    @property
    def ok(self) -> bool:
        """True when every jumper works."""
        return all(r.ok for r in self.results)

    @property
    def failures(self) -> list[JumperResult]:
        """The jumpers that do not work."""
        return [r for r in self.results if not r.ok]

    def raise_if_broken(self) -> CheckReport:
        """Return self if every jumper works.

        Raises:
            RigCheckError: a jumper failed (the message is the whole report).
        """
        if not self.ok:
            raise RigCheckError(str(self), self)
        return self

    def __str__(self) -> str:
        heading = f"rig {self.rig}" + (f" on {self.where}" if self.where else "")
        lines = [heading]
        lines += [f"  {'ok  ' if r.ok else 'FAIL'}  {r}" for r in self.results]
        if self.ok:
            lines.append(f"all {len(self.results)} jumpers work ({self.seconds:.2f} s)")
        else:
            lines.append(
                f"{len(self.failures)} of {len(self.results)} jumpers failed: fix the wiring "
                "(docs/bench-rig.md) and check again"
            )
        return "\n".join(lines)


def run_self_test(
    wires: Sequence[Wire],
    drive: Callable[[int, bool], None],
    sense: Callable[[int], bool],
    *,
    timeout: float = 0.25,
    settle: float = 0.02,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[JumperResult]:
    """Toggle each jumper's driven end and judge it by what every sensed end did.

    Args:
        wires: the jumpers.
        drive: set the driven end of wire ``i`` to a physical level.
        sense: read the sensed end of wire ``i``.
        timeout: seconds to wait for a change to arrive (a real wire takes nanoseconds;
            an emulated one a poll period).
        settle: seconds to let unexpected changes (a swap, a short) show up.
        monotonic, sleep: the time source (replaceable in tests).

    Returns:
        One result per wire, in order.
    """
    count = len(wires)

    def wait(cond: Callable[[], bool]) -> bool:
        deadline = monotonic() + timeout
        while not cond():
            if monotonic() >= deadline:
                return False
            sleep(min(0.001, timeout))
        return True

    for i in range(count):
        drive(i, False)
    wait(lambda: not any(sense(j) for j in range(count)))
    sleep(settle)
    stuck = {j for j in range(count) if sense(j)}
    results = []
    for i, wire in enumerate(wires):
        if i in stuck:
            results.append(
                JumperResult(
                    wire,
                    False,
                    f"jumper {wire.name}: {wire.sink} reads high while {wire.source} is low: "
                    "is it wired to 3V3 or to another output?",
                )
            )
            continue
        before = [sense(j) for j in range(count)]
        drive(i, True)
        rose = wait(functools.partial(sense, i))
        sleep(settle)
        changed = [j for j in range(count) if j != i and j not in stuck and sense(j) != before[j]]
        drive(i, False)
        fell = wait(functools.partial(_reads, sense, {i: False})) if rose else True
        wait(functools.partial(_reads, sense, {j: before[j] for j in changed}))
        results.append(_verdict(wire, rose, fell, [wires[j] for j in changed]))
    return results


def _reads(sense: Callable[[int], bool], expected: dict[int, bool]) -> bool:
    return all(sense(j) == level for j, level in expected.items())


def _verdict(wire: Wire, rose: bool, fell: bool, others: Sequence[Wire]) -> JumperResult:
    head = f"jumper {wire.name}: {wire.source} → {wire.sink}"
    sinks = ", ".join(o.sink for o in others)
    names = " or ".join(o.name for o in others)
    if not rose and others:
        return JumperResult(
            wire, False, f"{head} reads no change; {sinks} changed instead: swapped with {names}?"
        )
    if not rose:
        return JumperResult(wire, False, f"{head} reads no change: the wire is loose or missing")
    if others:
        return JumperResult(
            wire, False, f"{head} works, but {sinks} changed too: a short to {names}?"
        )
    if not fell:
        return JumperResult(
            wire,
            False,
            f"{head} follows high but not back low: is {wire.sink} also wired to 3V3?",
        )
    return JumperResult(wire, True)


# -- the pytest session -------------------------------------------------------------------


def start_pi_session(config: pytest.Config, *, scale: float = 1.0) -> None:
    """Before a ``--backend=pi`` session: lock the rig and prove its jumpers.

    The rig file is ``--rig`` (else ``$GPIOSIM_RIG``); without one the session runs
    without a harness (tests that need one skip with the reason). With one, the rig is
    locked for the whole session, its self-test runs, and the suite is refused on a
    broken rig. The tests' backends then find the rig through ``$GPIOSIM_RIG``.

    Args:
        config: the pytest config.
        scale: stretches the self-test's waits (an emulated rig in a slow guest).

    Raises:
        pytest.UsageError: the rig file is wrong, this is no usable Pi, the rig is in use
            by another run, or a jumper failed the self-test.
    """
    import pytest

    from gpiosim._pi import ENV_RIG, PiBackend
    from gpiosim._rigfile import load_rig

    path = config.getoption("--rig") or os.environ.get(ENV_RIG) or None
    if path is None:
        return
    if getattr(config.option, "numprocesses", None):
        raise pytest.UsageError(
            "--backend=pi drives one physical rig: run it without -n (pytest-xdist)"
        )
    try:
        rig = load_rig(path).require_bench()
        backend = PiBackend(rig=rig)
    except GpioError as exc:
        raise pytest.UsageError(f"--backend=pi: {exc}") from None
    lock = RigLock(rig.name)
    try:
        lock.acquire()
        config.add_cleanup(lock.release)
        harness = backend.harness  # shares the session's hold on the lock
        assert harness is not None  # the backend was given the rig
        report = harness.self_test(timeout=0.25 * scale, settle=0.02 * scale)
    except GpioError as exc:
        raise pytest.UsageError(f"--backend=pi: {exc}") from None
    finally:
        backend.close()
    if not report.ok:
        raise pytest.UsageError(
            f"the rig failed its self-test, so the suite did not run:\n{report}\n"
            f"check it again with: gpiosim rig check {path}"
        )
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"gpiosim: {report}".replace("\n", "\n  "))
    mp = pytest.MonkeyPatch()
    mp.setenv(ENV_RIG, str(Path(path).resolve()))
    config.add_cleanup(mp.undo)


# -- the command line (``gpiosim rig``) ---------------------------------------------------


def check_rig(
    path: str | os.PathLike[str],
    *,
    chip: str | None = None,
    timeout: float = 0.25,
    settle: float = 0.02,
    lock_dir: Path | None = None,
) -> CheckReport:
    """Lock the rig of a rig file on this Pi and self-test its jumpers.

    Args:
        path: the rig file.
        chip: the header chip, overriding discovery (see :class:`~gpiosim.pi.PiBackend`).
        timeout: seconds for a change to arrive through a jumper.
        settle: seconds to let unexpected changes show.
        lock_dir: where the rig lock lives.

    Raises:
        RigFileError, PiNotFoundError, GpioPermissionError, RigBusyError, LineBusyError:
            the rig cannot be checked here (each message says why and what to do).
    """
    from gpiosim._pi import PiBackend
    from gpiosim._rigfile import load_rig

    rig = load_rig(path).require_bench()
    with PiBackend(chip=chip, rig=rig, lock_dir=lock_dir) as backend:
        harness = backend.harness  # locks the rig until the backend closes
        assert harness is not None  # the backend has a rig
        return harness.self_test(timeout=timeout, settle=settle)


def describe_wiring(path: str | os.PathLike[str]) -> str:
    """The wiring a rig file asks for, one line per signal, by header pin (no Pi needed).

    Raises:
        RigFileError: the file is wrong.
    """
    from gpiosim._rigfile import load_rig

    rig = load_rig(path)
    board = f" for a {rig.board.title}" if rig.board is not None else ""
    lines = [f"rig {rig.name}{board} ({rig.path})"]
    width = max(len(name) for name in rig.signal_names())
    for sig in rig.signals:
        ref = rig.lines.get(sig.name)
        at = str(ref) if ref is not None else f"{sig.line} on {sig.chip}"
        jumper = rig.jumpers.get(sig.name)
        if jumper is None:
            wire = "no jumper"
        elif jumper.kind == "stimulus":
            wire = f"<- stimulus {jumper.line}"
        else:
            wire = f"-> probe {jumper.line}, {jumper.bias.value}"
        low = ", active low" if sig.active_low else ""
        lines.append(f"  {sig.name:<{width}}  {sig.role:<6}  {at}{low}  {wire}")
    return "\n".join(lines)
