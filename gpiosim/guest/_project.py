"""The project folder the guest may write: found from the command's folder, never a system
tree, never above home or the kernel cache; and the environment the guest command gets.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from gpiocore import InvalidSettingError
from gpiosim.guest._env import _HOST_ONLY_ENV, ENV_IN_GUEST
from gpiosim.guest._source import _cache_root

# Never shared read-write, whatever finds them: these folders and everything below them
# (system trees), but for project-like places inside them; and these folders themselves.
_SYSTEM_TREES = (
    "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc",
    "/run", "/sbin", "/sys", "/usr", "/var",
)  # fmt: skip
_SYSTEM_OK = ("/usr/src", "/usr/local/src", "/var/tmp")
_NEVER_ITSELF = frozenset({"/", "/home", "/media", "/mnt", "/opt", "/root", "/srv", "/tmp"})


def _within(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def find_project_dir(cwd: str | os.PathLike[str]) -> Path | None:
    """The project folder for a working folder: its git work tree, else the nearest
    folder above it that holds a ``pyproject.toml``; None if there is neither."""
    path = Path(os.path.abspath(cwd))
    for folder in (path, *path.parents):
        if (folder / ".git").exists():
            return folder
    for folder in (path, *path.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return None


def _writable_project(project_dir: str | os.PathLike[str] | None, cwd: str) -> str:
    """The folder to share read-write, checked; refuses what must never be shared."""
    if project_dir is None:
        found = find_project_dir(cwd)
        if found is None:
            raise InvalidSettingError(
                f"{cwd} is in no project (no git work tree, no pyproject.toml above it): "
                "say which folder the guest may write with --project-dir DIR "
                "(project_dir= in Python)"
            )
        project_dir = found
    # A relative folder is relative to the command's folder, as the guest will see it.
    project = os.path.realpath(os.path.join(cwd, os.fspath(project_dir)))
    home = os.path.realpath(os.path.expanduser("~"))
    cache = os.path.realpath(_cache_root())
    why = None
    if "\n" in project:
        why = "named with a newline"
    elif _within(home, project):
        why = "your home folder" if project == home else f"a folder that holds your home {home}"
    elif _within(cache, project):
        why = f"a folder that holds gpiorig's cache {cache}, whose kernels the host runs"
    elif project in _NEVER_ITSELF or (
        any(_within(project, top) for top in _SYSTEM_TREES)
        and not any(_within(project, ok) and project != ok for ok in _SYSTEM_OK)
    ):
        why = "a system folder"
    if why is not None:
        raise InvalidSettingError(
            f"cannot share {project!r} read-write with the guest: it is {why}; pick the "
            "project's own folder with --project-dir DIR (project_dir= in Python)"
        )
    if not os.path.isdir(project):
        raise InvalidSettingError(
            f"the project folder {project!r} does not exist: pass an existing --project-dir "
            "(project_dir= in Python)"
        )
    return project


def _guest_env(env: Mapping[str, str], cwd: str) -> dict[str, str]:
    out = {k: v for k, v in env.items() if k not in _HOST_ONLY_ENV}
    # Python in the guest reads the bytecode the host compiled (a host PYTHONPYCACHEPREFIX
    # too) and writes none: a __pycache__ in the project would be run by the host while
    # `git status` shows nothing. (Caching it in the guest's memory, PYTHONPYCACHEPREFIX,
    # was measured and dropped: that ignores every existing .pyc, so each boot's first
    # program compiled the stdlib and pytest again: 16 s instead of 7 s to import pytest
    # and gpiocore in a TCG guest, to save 0.3 s on each later start.)
    out["PYTHONDONTWRITEBYTECODE"] = "1"
    out["PWD"] = cwd
    out[ENV_IN_GUEST] = "1"
    return out


#: Bytecode older than this before the run's start is the host's own (file times come
#: from the kernel's coarse clock, a tick behind time.time_ns(); a host .pyc removed by
#: mistake only costs a compile).
_BYTECODE_SLACK_NS = 1_000_000_000


def _remove_guest_bytecode(project: str, since_ns: int) -> list[str]:
    """Remove every ``*.pyc`` (file or link) in ``project`` changed at or after
    ``since_ns`` (``time.time_ns()`` before the guest started); return their paths.

    Python in the guest writes no bytecode, so one that appeared during a run was
    written on purpose: the host would run it the next time it imports the module
    (from ``__pycache__``, or a lone ``x.pyc`` on ``sys.path``) while ``git status``
    shows nothing. A change time cannot be set back from the guest, so each one
    written during the run is found. Walks by folder descriptors without following
    links, so no link, even one made while it walks, leads it out of the project.
    """
    since_ns -= _BYTECODE_SLACK_NS
    removed: list[str] = []
    try:
        for top, dirs, files, top_fd in os.fwalk(project):
            if top == project and ".git" in dirs:
                dirs.remove(".git")  # git never imports; its objects are many
            for name in files:  # files and links to them; folders are in dirs
                if not name.endswith(".pyc"):
                    continue
                try:
                    if os.lstat(name, dir_fd=top_fd).st_ctime_ns >= since_ns:
                        os.unlink(name, dir_fd=top_fd)
                        removed.append(os.path.join(top, name))
                except OSError:
                    pass  # gone already, or not ours to remove: the walk goes on
    except OSError:
        # A project folder that vanished or is unreadable holds nothing the host runs.
        pass
    return removed
