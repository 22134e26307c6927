"""labgrid resources and drivers for gpiorig benches (needs ``pip install 'gpiorig[farm]'``).

Importing this module registers, in labgrid's ``target_factory``:

``GpiorigBench`` (resource)
    A bench rig: a Raspberry Pi with its jumpers, reached over SSH. An exporter on the
    bench host publishes it from its YAML (an unknown class is exported as-is by
    ``labgrid-exporter``: no exporter plug-in is needed)::

        pi5-bench-1:
          GpiorigBench:
            address: pi5-bench-1.lab      # how clients reach the Pi's sshd
            port: 22
            username: ci
            rig: /home/ci/rigs/pi5-bench.toml   # the rig file, on the bench
            board: pi5
            chip: pinctrl-rp1             # the header chip's label
            python: /home/ci/gpiorig/.venv/bin/python

``GpiorigBenchDriver`` (driver, binds a ``GpiorigBench``)
    Runs commands on the bench over the client's ``ssh``, moves files both ways (tar
    over the same connection), and runs a pytest session there against the bench's
    rig. A remote command is leashed: it ends when the connection does (a killed
    client leaves nothing running on the bench).

``GpiorigLine`` (resource) and ``GpiorigDigitalOutputDriver`` / ``GpiorigDigitalInputDriver``
    One GPIO line through the character device (gpiocore's ``cdev`` backend), the
    replacement for labgrid's sysfs ``GpioDigitalOutputDriver``: the output driver
    implements ``DigitalOutputProtocol`` (``set``/``get``); the input driver reads a
    line (``get``, ``wait_for``). The line is requested while the driver is active and
    released when it is deactivated. These act on the host the labgrid client runs
    on (a Pi used as its own client, or a bench host).
"""

from __future__ import annotations

import io
import os
import shlex
import subprocess
import tarfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attr
from labgrid.driver.common import Driver
from labgrid.factory import target_factory
from labgrid.protocol import DigitalOutputProtocol
from labgrid.resource.common import Resource

from gpiocore import Bias, In, Out, line
from gpiocore.backends import load_backend
from gpiosim.farm._errors import FarmError
from gpiosim.farm._proc import dying_with_parent

__all__ = [
    "ENV_SSH_KEY",
    "ENV_SSH_KNOWN_HOSTS",
    "GpiorigBench",
    "GpiorigBenchDriver",
    "GpiorigDigitalInputDriver",
    "GpiorigDigitalOutputDriver",
    "GpiorigLine",
]

ENV_SSH_KEY = "GPIORIG_FARM_SSH_KEY"
"""The private key the client's ssh uses for benches (else ssh's own defaults)."""
ENV_SSH_KNOWN_HOSTS = "GPIORIG_FARM_KNOWN_HOSTS"
"""The known-hosts file that pins the benches' host keys (else ssh's own)."""

_str = attr.validators.instance_of(str)
_opt_str = attr.validators.optional(_str)


@target_factory.reg_resource
@attr.s(eq=False)
class GpiorigBench(Resource):
    """A gpiorig bench: a Pi with a rig's jumpers, its sshd, its rig file and chip."""

    address = attr.ib(validator=_str)
    rig = attr.ib(validator=_str)
    port = attr.ib(default=22, converter=int)
    username = attr.ib(default=None, validator=_opt_str)
    board = attr.ib(default=None, validator=_opt_str)
    chip = attr.ib(default=None, validator=_opt_str)
    python = attr.ib(default="python3", validator=_str)
    workdir = attr.ib(default="/tmp", validator=_str)


@target_factory.reg_driver
@attr.s(eq=False)
class GpiorigBenchDriver(Driver):
    """Runs the program under test and the rig on a :class:`GpiorigBench` over SSH."""

    bindings = {"bench": "GpiorigBench"}
    keyfile = attr.ib(default=None, validator=_opt_str)
    known_hosts = attr.ib(default=None, validator=_opt_str)
    connect_timeout = attr.ib(default=10, converter=int)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self._children: list[subprocess.Popen[bytes]] = []

    # -- ssh --------------------------------------------------------------------------
    def ssh_argv(self, command: Sequence[str] | str) -> list[str]:
        """The client's ``ssh`` command line that runs ``command`` on the bench."""
        bench = self.bench
        keyfile = self.keyfile or os.environ.get(ENV_SSH_KEY)
        known = self.known_hosts or os.environ.get(ENV_SSH_KNOWN_HOSTS)
        argv = [
            "ssh",
            "-p", str(bench.port),
            "-o", "BatchMode=yes",
            "-o", f"ConnectTimeout={self.connect_timeout}",
            "-o", "ServerAliveInterval=5",
            "-o", "ServerAliveCountMax=3",
            "-o", "LogLevel=ERROR",
        ]  # fmt: skip
        if keyfile:
            argv += ["-i", keyfile, "-o", "IdentitiesOnly=yes"]
        if known:
            argv += ["-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes"]
        if bench.username:
            argv += ["-l", bench.username]
        remote = command if isinstance(command, str) else shlex.join(command)
        return [*argv, "--", bench.address, remote]

    def leashed(self, command: Sequence[str], cwd: str | None = None) -> str:
        """A remote shell command that runs ``command`` until it ends or the connection
        drops (then its whole process group is stopped)."""
        inner = shlex.join([self.bench.python, "-m", "gpiosim.farm._leash", "--", *command])
        return f"cd {shlex.quote(cwd)} && exec {inner}" if cwd else f"exec {inner}"

    @Driver.check_active
    def run(
        self, command: Sequence[str] | str, *, input: bytes | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[bytes]:
        """Run a command on the bench; returns the completed process (output captured)."""
        return subprocess.run(
            self.ssh_argv(command),
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )

    def _checked(self, what: str, done: subprocess.CompletedProcess[bytes]) -> bytes:
        if done.returncode != 0:
            raise FarmError(
                f"{what} on bench {self.bench.address}:{self.bench.port} failed "
                f"(exit {done.returncode}): {done.stderr.decode(errors='replace').strip()}"
            )
        return done.stdout

    # -- files ------------------------------------------------------------------------
    @Driver.check_active
    def make_workdir(self, files: Mapping[str, Path] | None = None) -> str:
        """A fresh folder on the bench for one session, with ``files`` copied into it
        (``{relative name: local path}``), in one connection; returns its path."""
        template = shlex.quote(f"{self.bench.workdir.rstrip('/')}/gpiorig-farm.XXXXXX")
        command = f'd=$(mktemp -d {template}) && tar -x -f - -C "$d" && printf %s "$d"'
        out = self._checked("mktemp", self.run(command, input=_tar(files or {})))
        return out.decode().strip()

    @Driver.check_active
    def put(self, files: Mapping[str, Path], dest: str) -> None:
        """Copy local files to ``dest`` on the bench, as ``{relative name: local path}``."""
        command = f"tar -x -f - -C {shlex.quote(dest)}"
        self._checked("upload", self.run(command, input=_tar(files)))

    @Driver.check_active
    def get_tree(self, folder: str, into: Path, *, then_remove: str | None = None) -> list[str]:
        """Copy a bench folder's files into a local folder; returns the names copied.
        ``then_remove``: a bench folder to remove afterwards, in the same connection.

        Only regular files and folders come back (no links, devices or owners)."""
        command = f"(cd {shlex.quote(folder)} 2>/dev/null && tar -c -f - .)"
        if then_remove is not None:
            command += f"; rm -rf -- {shlex.quote(then_remove)}"
        command += "; true"
        data = self._checked("download", self.run(command, timeout=300))
        if not data:
            return []
        into.mkdir(parents=True, exist_ok=True)
        names = []
        with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
            members = [m for m in tar.getmembers() if m.isfile() or m.isdir()]
            tar.extractall(into, members=members, filter="data")
            names = [m.name for m in members if m.isfile()]
        return names

    @Driver.check_active
    def remove(self, folder: str) -> None:
        """Remove a bench folder made by :meth:`make_workdir`."""
        self.run(["rm", "-rf", "--", folder])

    # -- running ----------------------------------------------------------------------
    @Driver.check_active
    def start(
        self, command: Sequence[str], *, cwd: str | None = None, **popen: Any
    ) -> subprocess.Popen[bytes]:
        """Start a leashed command on the bench; its stdin is the leash (keep it open)."""
        process = subprocess.Popen(
            dying_with_parent(self.ssh_argv(self.leashed(command, cwd))),
            stdin=subprocess.PIPE,
            **popen,
        )
        self._children.append(process)
        return process

    @Driver.check_active
    def run_pytest(
        self,
        args: Iterable[str],
        *,
        cwd: str,
        env: Mapping[str, str] | None = None,
        stdout: Any = None,
    ) -> int:
        """Run ``pytest --backend=pi --rig=<the bench's rig>`` on the bench in ``cwd``;
        its output streams to ``stdout`` (default: this process's); returns its exit code."""
        command = ["env", *(f"{k}={v}" for k, v in (env or {}).items())]
        command += [self.bench.python, "-m", "pytest", "--backend=pi", f"--rig={self.bench.rig}"]
        command += list(args)
        process = self.start(command, cwd=cwd, stdout=stdout, stderr=subprocess.STDOUT)
        try:
            return process.wait()
        finally:
            self._stop(process)

    def _stop(self, process: subprocess.Popen[bytes]) -> None:
        if process.stdin is not None:
            process.stdin.close()  # the leash: the bench stops the command
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process in self._children:
            self._children.remove(process)

    def on_deactivate(self) -> None:
        for process in list(self._children):
            self._stop(process)


def _tar(files: Mapping[str, Path]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, path in sorted(files.items()):
            tar.add(str(path), arcname=name, recursive=False)
    return buffer.getvalue()


# -- one line through the character device ---------------------------------------------


@target_factory.reg_resource
@attr.s(eq=False)
class GpiorigLine(Resource):
    """One GPIO line: ``chip`` is a chip's name (``gpiochip0``) or label
    (``pinctrl-rp1``), default the backend's default chip; ``line`` a line name
    (``GPIO17``) or offset."""

    line = attr.ib(validator=attr.validators.instance_of((str, int)))
    chip = attr.ib(default=None, validator=_opt_str)
    active_low = attr.ib(default=False, converter=bool)
    backend = attr.ib(default="cdev", validator=_str)


def _open_line(res: GpiorigLine, **settings: Any) -> Any:
    backend = load_backend(res.backend)
    chip = res.chip
    if chip is not None and not chip.startswith("gpiochip"):
        by_label = [c.name for c in backend.chips() if c.label == chip]
        if not by_label:
            raise LookupError(f"no GPIO chip labelled {chip!r} on the {res.backend} backend")
        chip = by_label[0]
    pin = line(res.line, chip=chip, backend=backend, active_low=res.active_low, **settings)
    pin.open()
    return pin


@target_factory.reg_driver
@attr.s(eq=False)
class GpiorigDigitalOutputDriver(Driver, DigitalOutputProtocol):
    """A line as a digital output, through the GPIO character device (not sysfs)."""

    bindings = {"line": "GpiorigLine"}
    initial = attr.ib(default=False, converter=bool)

    def on_activate(self) -> None:
        self._pin = _open_line(self.line, direction=Out, value=int(self.initial))

    def on_deactivate(self) -> None:
        pin, self._pin = self._pin, None
        if pin is not None:
            pin.close()

    @Driver.check_active
    def set(self, status: bool) -> None:
        self._pin.value = 1 if status else 0

    @Driver.check_active
    def get(self) -> bool:
        return bool(self._pin.value)


@target_factory.reg_driver
@attr.s(eq=False)
class GpiorigDigitalInputDriver(Driver):
    """A line as a digital input, through the GPIO character device."""

    bindings = {"line": "GpiorigLine"}
    bias = attr.ib(default=None, validator=_opt_str)  # "pull-up", "pull-down", "disabled"

    def on_activate(self) -> None:
        settings: dict[str, Any] = {"direction": In}
        if self.bias is not None:
            settings["pull"] = Bias(self.bias)
        self._pin = _open_line(self.line, **settings)

    def on_deactivate(self) -> None:
        pin, self._pin = self._pin, None
        if pin is not None:
            pin.close()

    @Driver.check_active
    def get(self) -> bool:
        return bool(self._pin.value)

    @Driver.check_active
    def wait_for(self, status: bool, timeout: float = 1.0, poll: float = 0.001) -> bool:
        """Wait until the line reads ``status``; False if it did not within ``timeout``."""
        end = time.monotonic() + timeout
        while bool(self._pin.value) is not bool(status):
            if time.monotonic() >= end:
                return False
            time.sleep(poll)
        return True
