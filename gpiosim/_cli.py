"""The ``gpiosim`` command line.

One function per subcommand: ``_add_<name>`` declares its options on the
subparser, ``_cmd_<name>`` runs it and returns the exit status.  A new
subcommand (``rig check``, ``bench``) adds such a pair and one line in
:func:`_parser`.

Everything after the first ``--`` is the command of ``gpiosim guest`` and is
never parsed as options, so ``gpiosim guest -- python -m pytest -x`` works.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import signal
import sys
from collections.abc import Callable, Sequence

from gpiocore import GpioError, InvalidSettingError, use_backend
from gpiosim import _demo
from gpiosim._errors import GuestError, GuestTimeoutError
from gpiosim.bench import _command as _bench_command
from gpiosim.guest import _kconfig, _kernel
from gpiosim.guest import _run as _guest
from gpiosim.guest._env import missing_packages
from gpiosim.guest._project import _writable_project
from gpiosim.pi import _check as _rigcheck

# Subcommands reach their modules' functions as module attributes (``_guest.run``), so
# a test can stand in for the slow ones (a boot, a kernel build, a bench run).

__all__ = ["main"]

# Exit statuses of our own, chosen as timeout(1) chooses them.
EXIT_TIMEOUT = 124
EXIT_GUEST_FAILED = 125
EXIT_INTERRUPTED = 130

Handler = Callable[[argparse.Namespace, list[str]], int]


def _log(line: str) -> None:
    print(f"gpiosim: {line}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------ guest


def _add_guest(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "guest",
        help="run a command in a qemu guest whose kernel has gpio-sim",
        description=(
            "Run CMD in a small qemu guest with gpio-sim built in, the host's root "
            "read-only and the project folder read-write. The exit status is CMD's; "
            f"{EXIT_TIMEOUT} on timeout, {EXIT_GUEST_FAILED} if the guest failed."
        ),
        usage="%(prog)s [options] -- CMD [ARG...]",
    )
    p.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help="seconds for boot and command; then qemu is killed, exit 124",
    )
    p.add_argument("--memory", type=int, default=1024, metavar="MB", help="guest memory (1024)")
    p.add_argument("--cpus", type=int, default=1, metavar="N", help="guest vCPUs (1)")
    p.add_argument(
        "--cpu-model",
        metavar="MODEL",
        help="qemu -cpu model (default qemu64, SSE3 only; 'max' for wheels that need SSE4/AVX)",
    )
    p.add_argument(
        "--accel",
        choices=("auto", "tcg", "kvm"),
        default="auto",
        help="qemu accelerator; auto probes KVM once (env GPIOSIM_ACCEL overrides auto)",
    )
    p.add_argument(
        "--project-dir",
        metavar="DIR",
        help="the folder shared read-write (default: the git work tree, else the folder with "
        "pyproject.toml, above the current one)",
    )
    p.add_argument("--rebuild", action="store_true", help="rebuild the guest kernel first")
    p.add_argument(
        "--kernel",
        metavar="IMAGE",
        help="a prebuilt guest kernel (checked first; env GPIOSIM_KERNEL); default: the "
        "cached one for GPIOSIM_KERNEL_SOURCE (linux-source-6.12), built if missing",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="show the kernel console")
    p.add_argument("cmd", nargs="*", help=argparse.SUPPRESS)
    p.set_defaults(handler=_cmd_guest)


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _cmd_guest(args: argparse.Namespace, tail: list[str]) -> int:

    argv = [*args.cmd, *tail]
    if not argv:
        _log("guest: no command given; usage: gpiosim guest [options] -- CMD [ARG...]")
        return 2
    # Checked here too, so that no mistake waits for a kernel build (--rebuild builds
    # before run() checks its arguments).
    mistake = _guest_usage_error(args)
    if mistake:
        _log(f"guest: {mistake}")
        return 2
    # SIGTERM (a CI job's timeout) unwinds like Ctrl-C, so run() stops qemu and
    # removes its job folder; SIGKILL is covered by qemu's parent-death signal.
    signal.signal(signal.SIGTERM, _terminate)
    try:
        if args.rebuild:
            _guest.ensure_kernel(rebuild=True, log=_log)
        return _guest.run(
            argv,
            timeout=args.timeout,
            project_dir=args.project_dir,
            memory_mb=args.memory,
            cpus=args.cpus,
            accel=args.accel,
            cpu_model=args.cpu_model,
            verbose=args.verbose,
            log=_log,
            kernel=args.kernel,
        )
    except BrokenPipeError:
        # Our reader went away (`gpiosim guest -- cmd | head`): end quietly, as
        # the command itself would, and keep Python from complaining at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except GuestTimeoutError as exc:
        _log(str(exc))
        return EXIT_TIMEOUT
    except InvalidSettingError as exc:  # a usage error, found before booting
        _log(str(exc))
        return 2
    except (GuestError, ValueError) as exc:
        _log(str(exc))
        return EXIT_GUEST_FAILED


def _guest_usage_error(args: argparse.Namespace) -> str | None:
    """What is wrong with ``gpiosim guest``'s options, named as options; None if nothing."""
    if args.timeout is not None and not 0 < args.timeout < math.inf:  # NaN fails this too
        return (
            f"--timeout must be a positive, finite number of seconds, not {args.timeout:g}: "
            "e.g. --timeout 600"
        )
    if args.cpus < 1:
        return f"--cpus must be a whole number >= 1, not {args.cpus}: e.g. --cpus 1"
    if args.memory < 64:
        return f"--memory must be a whole number of MiB >= 64, not {args.memory}: e.g. 1024"
    if args.cpu_model is not None and not re.fullmatch(
        r"[A-Za-z0-9][A-Za-z0-9_.+-]*", args.cpu_model
    ):
        return (
            f"--cpu-model must be a qemu CPU model name, not {args.cpu_model!r}: e.g. max "
            "(qemu-system-x86_64 -cpu help lists them)"
        )

    try:
        _writable_project(args.project_dir, os.getcwd())
    except InvalidSettingError as exc:
        return str(exc)
    override = os.environ.get("GPIOSIM_ACCEL", "").strip()
    if args.accel == "auto" and override not in ("", "auto", "tcg", "kvm"):
        return f"GPIOSIM_ACCEL must be 'auto', 'tcg' or 'kvm', not {override!r}: fix or unset it"
    return None


# ----------------------------------------------------------------- guest-kernel


def _add_guest_kernel(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "guest-kernel",
        help="build (if needed) and verify the guest kernel; print its path",
        description=(
            "Build the guest kernel (tinyconfig + gpiosim's fragment) from a kernel source "
            "unless it is cached, and print the image's path. A build shows a line per "
            "stage and make's progress; stopped, it leaves no process behind, and the next "
            "run resumes it."
        ),
    )
    p.add_argument(
        "--source",
        metavar="SRC",
        help="linux-source-X.Y (Debian/Ubuntu package; default linux-source-6.12), 'apt' "
        "(the newest such package apt knows), or a kernel tarball's path or URL "
        "(needs --sha256); env GPIOSIM_KERNEL_SOURCE",
    )
    p.add_argument(
        "--sha256", metavar="HEX", help="the tarball's sha256 (env GPIOSIM_KERNEL_SHA256)"
    )
    p.add_argument(
        "--kernel",
        metavar="IMAGE",
        help="check a prebuilt image (e.g. restored from a CI cache) and print its path",
    )
    p.add_argument("--rebuild", action="store_true", help="build even if cached")
    p.add_argument(
        "--cache-key",
        action="store_true",
        help="only print the key a CI cache should keep the kernel folder under",
    )
    p.add_argument(
        "--missing-packages",
        action="store_true",
        help="only print the Debian packages still needed (qemu, build tools), one a line",
    )
    p.set_defaults(handler=_cmd_guest_kernel)


def _cmd_guest_kernel(args: argparse.Namespace, tail: list[str]) -> int:

    if tail:
        _log(f"guest-kernel takes no command: {tail}")
        return 2
    # SIGTERM unwinds like Ctrl-C, so the build's process group is torn down.
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        if args.kernel is not None:
            if args.source or args.sha256 or args.rebuild:
                _log("guest-kernel: --kernel checks a prebuilt image; drop --source/--rebuild")
                return 2
            print(_kernel.check_image(args.kernel))
            return 0
        source = _kernel.parse_source(args.source, args.sha256)
        if args.cache_key:
            print(_kconfig.cache_key(source))
            return 0
        if args.missing_packages:
            for package in missing_packages(source):
                print(package)
            return 0
        path = _kernel.ensure_kernel(source=source, rebuild=args.rebuild, log=_log)
    except InvalidSettingError as exc:
        _log(str(exc))
        return 2
    except GuestError as exc:
        _log(str(exc))
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(path)
    return 0


# ------------------------------------------------------------------------- demo


def _add_demo(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="drive the post's timed-LED program on the current backend and show the LED",
        description=(
            "Start fixtures/apps/timed_led.py on the current backend (GPIOCORE_BACKEND, "
            "default fake), press its button through the harness and print what the LED did."
        ),
    )
    p.add_argument("--offset", type=float, default=2.0, metavar="S", help="LED time (2 s)")
    p.set_defaults(handler=_cmd_demo)


def _cmd_demo(args: argparse.Namespace, tail: list[str]) -> int:

    if tail:
        _log(f"demo takes no command: {tail}")
        return 2
    if not 0 < args.offset <= 3600:  # NaN fails this too
        _log(f"demo: --offset must be seconds above 0 and at most 3600, not {args.offset}")
        return 2
    # A demo of the rig on a simulated line: the fake unless GPIOCORE_BACKEND names
    # another (hardware detection is for programs; the demo needs a harness).
    name = os.environ.get("GPIOCORE_BACKEND", "").strip() or "fake"
    try:
        with use_backend(name) as backend:
            return _demo.run_demo(backend, offset=args.offset)
    except InvalidSettingError as exc:  # an offset too short for this backend
        _log(f"demo: --offset: {exc}")
        return 2
    except GpioError as exc:
        _log(f"demo: {exc}")
        return 1


# ------------------------------------------------------------------------ bench


def _add_bench(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "bench",
        help="benchmark gpiocore against its peers and the kernel's own limit",
        description=_bench_command.DESCRIPTION,
    )
    _bench_command.add_bench_arguments(p)
    p.set_defaults(handler=_cmd_bench)


def _cmd_bench(args: argparse.Namespace, tail: list[str]) -> int:
    if tail:
        _log(f"bench takes no command: {tail}")
        return 2
    return _bench_command.bench_command(args)


# -------------------------------------------------------------------------- rig


def _add_rig(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "rig",
        help="bench rigs: check a Pi's jumpers, show a rig file's wiring",
        description=(
            "check: on the Raspberry Pi of a bench rig, lock the rig and toggle each "
            "jumper's driving end, naming any jumper that is loose, missing, swapped or "
            "shorted (exit 1). show: print the wiring a rig file asks for (no Pi needed)."
        ),
    )
    actions = p.add_subparsers(title="actions", dest="rig_action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="self-test the jumpers of RIGFILE on this Pi")
    check.add_argument("rigfile", metavar="RIGFILE", help="the rig file (TOML)")
    check.add_argument(
        "--chip", metavar="CHIP", help="the header chip (label, name or path) if not found"
    )
    check.add_argument(
        "--timeout", type=float, default=0.25, metavar="S", help="wait for a change (0.25 s)"
    )
    show = actions.add_parser("show", help="print the wiring RIGFILE asks for")
    show.add_argument("rigfile", metavar="RIGFILE", help="the rig file (TOML)")
    p.set_defaults(handler=_cmd_rig)


def _cmd_rig(args: argparse.Namespace, tail: list[str]) -> int:

    if tail:
        _log(f"rig takes no command: {tail}")
        return 2
    if args.rig_action == "check" and not 0 < args.timeout <= 60:  # NaN fails this too
        _log(f"rig check: --timeout must be seconds above 0 and at most 60, not {args.timeout}")
        return 2
    try:
        if args.rig_action == "show":
            print(_rigcheck.describe_wiring(args.rigfile))
            return 0
        report = _rigcheck.check_rig(args.rigfile, chip=args.chip, timeout=args.timeout)
    except GpioError as exc:
        _log(f"rig {args.rig_action}: {exc}")
        return 1
    print(report)
    return 0 if report.ok else 1


# ------------------------------------------------------------------------- main


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gpiosim", description="gpiorig's simulation tools: the gpio-sim guest and rigs."
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    _add_guest(sub)
    _add_guest_kernel(sub)
    _add_demo(sub)
    _add_bench(sub)
    _add_rig(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``gpiosim`` command line.

    Args:
        argv: The arguments after the program name; defaults to ``sys.argv[1:]``.

    Returns:
        The exit status: the guest command's own for ``gpiosim guest``.
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    # Split at the first `--` ourselves: argparse's handling of `--` before a
    # positional list differs between Python versions.
    if "--" in args_list:
        cut = args_list.index("--")
        head, tail = args_list[:cut], args_list[cut + 1 :]
    else:
        head, tail = args_list, []
    args = _parser().parse_args(head)
    handler: Handler = args.handler
    try:
        return handler(args, tail)
    except KeyboardInterrupt:
        # The guest is already gone (run() kills qemu on the way out).
        _log("interrupted")
        return EXIT_INTERRUPTED
