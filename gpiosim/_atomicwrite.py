"""Host-side writes into the project folder that a symlink cannot redirect.

What runs in the guest can change the project folder, so a file name the host writes
there (a trace, the bench's JSON) may be a symbolic link by the time the host writes
it. :func:`write_file_atomic` writes a temporary file beside the target (created with
``O_EXCL | O_NOFOLLOW``) and renames it onto the name: a rename replaces a link itself
instead of writing through it. The folders between a trusted one and the file are
opened one by one without following links, so a planted folder link is refused.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path

from gpiocore import InvalidSettingError
from gpiosim._errors import UnsafePathError

__all__ = ["UnsafePathError", "trusted_folder", "write_file_atomic"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def trusted_folder(
    folder: str | os.PathLike[str], default: str | os.PathLike[str] | None = None
) -> Path:
    """The folder above which nothing a guest wrote can lie on the way to ``folder``.

    That is the highest folder on the path, as spelled, that is a project (holds
    ``.git`` or ``pyproject.toml``), as the guest's share is the outermost project; the
    folders below it, down to the file, are then opened without following links. The
    highest, not the nearest: a guest can plant a ``.git`` inside the project, never
    above it. Outside any project, ``default`` (an ancestor of ``folder``), else
    ``folder`` itself.
    """
    path = Path(os.path.abspath(folder))
    for above in (*reversed(path.parents), path):
        if (above / ".git").exists() or (above / "pyproject.toml").is_file():
            return above
    return path if default is None else Path(os.path.abspath(default))


def write_file_atomic(
    path: str | os.PathLike[str],
    data: bytes | str,
    *,
    trusted: str | os.PathLike[str] | None = None,
    fsync: bool = False,
) -> Path:
    """Write ``data`` to ``path`` through a temporary name and a rename.

    A symbolic link at ``path`` is replaced, never written through. The folders from
    ``trusted`` down to the file's own are created if missing and must not be links.

    Args:
        path: the file to write.
        data: its new content; text is written as UTF-8.
        trusted: a folder taken as it is (links and all), the file's or an ancestor of
            it; default: :func:`trusted_folder` of the file's folder.
        fsync: flush the file to disk before the rename.

    Returns:
        The path written, absolute.

    Raises:
        UnsafePathError: a folder below ``trusted`` is a symbolic link or not a folder,
            or ``path`` is a device, FIFO, socket or folder.
        InvalidSettingError: ``trusted`` is not the file's folder or one of its ancestors.
        OSError: the folder cannot be made or written.
    """
    target = Path(os.path.abspath(path))
    top = trusted_folder(target.parent) if trusted is None else Path(os.path.abspath(trusted))
    try:
        parts = target.parent.relative_to(top).parts
    except ValueError:
        raise InvalidSettingError(
            f"{target} is not inside the trusted folder {top}: pass one of its folders"
        ) from None
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    top.mkdir(parents=True, exist_ok=True)
    folder = os.open(top, _DIR_FLAGS)
    try:
        here = top
        for part in parts:
            here = here / part
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, dir_fd=folder)
            try:
                inner = os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=folder)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                # Linux answers ENOTDIR for a link opened O_DIRECTORY | O_NOFOLLOW.
                what = "a symbolic link" if os.path.islink(here) else "not a folder"
                raise UnsafePathError(
                    f"not writing {target}: {here} is {what} (what runs in the guest can "
                    "change the project folder): remove it, or write elsewhere"
                ) from None
            os.close(folder)
            folder = inner
        _replace_in(folder, target, payload, fsync=fsync)
    finally:
        os.close(folder)
    return target


def _replace_in(folder: int, target: Path, payload: bytes, *, fsync: bool) -> None:
    name = target.name
    with contextlib.suppress(FileNotFoundError):
        mode = os.lstat(name, dir_fd=folder).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
            # A rename would replace a device, FIFO or socket, not write to it.
            raise UnsafePathError(
                f"not writing {target}: it is a device, FIFO, socket or folder, not a file: "
                "choose another file name"
            )
    tmp = f".{name}.{secrets.token_hex(4)}.tmp"
    fd = os.open(
        tmp,
        os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
        0o666,
        dir_fd=folder,
    )
    try:
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, name, src_dir_fd=folder, dst_dir_fd=folder)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=folder)
        raise
