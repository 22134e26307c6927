"""Job folders: what the host hands the guest (the command, its folder, environment) and
reads back (the status), written and read without following links; stale ones reclaimed.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from gpiosim._errors import GuestError
from gpiosim.guest._env import _9P_OPTIONS, _PROJECT_CACHE
from gpiosim.guest._qemu import _fstab_escape

_JOB_PREFIX = "gpiosim-job-"


def _reclaim_jobs(tmp: str | None = None) -> list[str]:
    """Remove the job folders of guests whose host process died (SIGKILL, a power cut).

    A job folder holds the command's argv and environment (which may carry secrets);
    it is named ``gpiosim-job-<pid>-<random>`` and removed by ``run()`` when it ends.
    Only this user's folders of processes that no longer exist are touched.
    """
    base = Path(tmp or tempfile.gettempdir())
    removed: list[str] = []
    try:
        entries = list(base.glob(f"{_JOB_PREFIX}*-*"))
    except OSError:
        return removed
    for path in entries:
        pid_text = path.name[len(_JOB_PREFIX) :].split("-", 1)[0]
        if not pid_text.isdigit():
            continue
        try:
            if path.lstat().st_uid != os.geteuid() or not path.is_dir() or path.is_symlink():
                continue
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
        except (OSError, OverflowError):
            continue  # alive (EPERM: another user's process), gone, or not a pid
    return removed


def _write_job(
    job: Path, argv: Sequence[str], env: Mapping[str, str], cwd: str, project: str | None
) -> None:
    # `env -i -C CWD -- NAME=VALUE... CMD ARG...`, NUL-terminated (see guest-init.sh).
    items = ["-C", cwd, "--", *(f"{k}={v}" for k, v in env.items()), *argv]
    (job / "exec").write_bytes(b"".join(os.fsencode(item) + b"\0" for item in items))
    lines = [
        "overlay /tmp overlay "
        "lowerdir=/tmp,upperdir=/run/gpiosim-tmp/upper,workdir=/run/gpiosim-tmp/work 0 0"
    ]
    if project is not None:
        lines.append(
            f"gpiosim-project {_fstab_escape(project)} 9p "
            f"{_9P_OPTIONS},cache={_PROJECT_CACHE},X-mount.mkdir 0 0"
        )
    (job / "fstab").write_bytes(os.fsencode("\n".join(lines) + "\n"))


def _read_job_file(job: Path, name: str, limit: int = 64 * 1024) -> str | None:
    """Read a small file the guest left in its job folder, or None if there is none.

    The guest writes that folder: a link there must not make the host read (or block
    on) anything else, and a huge file must not fill the host's memory.
    """
    folder = os.open(job, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = os.open(
            name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder
        )
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise GuestError(f"the guest replaced its job's {name} file ({exc.strerror})") from None
    finally:
        os.close(folder)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise GuestError(f"the guest replaced its job's {name} file with a non-file")
        return os.read(fd, limit).decode("utf-8", errors="replace")
    finally:
        os.close(fd)
