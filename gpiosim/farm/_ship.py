"""What a farm session sends to its bench: the command line and the files.

Kept apart from :mod:`gpiosim.farm._session` because it needs no labgrid.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from gpiosim.farm._errors import FarmError

# Options that stay on the client: (name, takes a value).
_CLIENT_OPTIONS = {
    "--farm-coordinator": True,
    "--farm-place": True,
    "--farm-timeout": True,
    "--farm-ssh-key": True,
    "--farm-known-hosts": True,
    "--backend": True,
    "--rig": True,
    "--rootdir": True,
    "-c": True,
    "--config-file": True,
}
_CONFIG_FILES = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")


def remote_args(
    raw: Sequence[str], positional: Iterable[str], invoked: Path, root: Path
) -> list[str]:
    """The command line for the bench: client-only options dropped, paths made
    relative to the root folder (which is the bench's working folder)."""
    positional = set(positional)
    out: list[str] = []
    skip = False
    for arg in raw:
        if skip:
            skip = False
            continue
        name, eq, _ = arg.partition("=")
        if name in _CLIENT_OPTIONS:
            skip = _CLIENT_OPTIONS[name] and not eq
            continue
        if arg in positional and not arg.startswith("-"):
            out.append(_relative(arg, invoked, root))
            continue
        out.append(arg)
    return out


def _relative(arg: str, invoked: Path, root: Path) -> str:
    path, sep, node = arg.partition("::")
    full = (invoked / path).resolve()
    try:
        rel = full.relative_to(root)
    except ValueError:
        raise FarmError(f"{arg}: a farm session runs tests under {root} only") from None
    return str(rel) + sep + node


def files_to_ship(positional: Iterable[str], invoked: Path, root: Path) -> dict[str, Path]:
    """The test files (folders: their .py files), the conftest.py files above them and
    the pytest configuration, as ``{path relative to root: local path}``."""
    files: dict[str, Path] = {}
    targets = [(invoked / a.partition("::")[0]).resolve() for a in positional] or [root]
    for target in targets:
        found = [target] if target.is_file() else sorted(target.rglob("*.py"))
        for path in found:
            rel = path.relative_to(root)
            if any(
                part.startswith(".") or part in {"__pycache__", "results"} for part in rel.parts
            ):
                continue
            files[str(rel)] = path
            folder = path.parent
            while True:
                for extra in ("conftest.py", "__init__.py"):
                    if (folder / extra).is_file():
                        files[str((folder / extra).relative_to(root))] = folder / extra
                if folder == root or root not in folder.parents:
                    break
                folder = folder.parent
    for name in _CONFIG_FILES:
        if (root / name).is_file():
            files[name] = root / name
            break
    return files
