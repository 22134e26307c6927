"""Host-side writes into the project folder: never through a link a guest planted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gpiocore import GpioError, InvalidSettingError
from gpiosim._atomicwrite import write_file_atomic
from gpiosim._errors import UnsafePathError


def test_a_link_at_the_file_is_replaced_not_written_through(tmp_path):
    outside = tmp_path / "outside"
    outside.write_text("keep\n")
    target = tmp_path / "project" / "results" / "trace.vcd"
    target.parent.mkdir(parents=True)
    target.symlink_to(outside)
    assert write_file_atomic(target, "new\n", trusted=tmp_path / "project") == target
    assert outside.read_text() == "keep\n"
    assert not target.is_symlink() and target.read_text() == "new\n"
    assert os.listdir(target.parent) == ["trace.vcd"]  # no temporary name left


def test_missing_folders_below_the_trusted_one_are_made(tmp_path):
    target = tmp_path / "results" / "traces" / "a.vcd"
    write_file_atomic(target, b"\x00\xff", trusted=tmp_path, fsync=True)
    assert target.read_bytes() == b"\x00\xff"


@pytest.mark.parametrize("linked", ["results", "results/traces"])
def test_a_linked_folder_below_the_trusted_one_is_refused(tmp_path, linked):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    project = tmp_path / "project"
    (project / linked).parent.mkdir(parents=True, exist_ok=True)
    (project / linked).symlink_to(elsewhere, target_is_directory=True)
    target = project / "results" / "traces" / "a.vcd"
    with pytest.raises(UnsafePathError, match=f"{project / linked} is a symbolic link") as caught:
        write_file_atomic(target, "x", trusted=project)
    assert isinstance(caught.value, GpioError) and isinstance(caught.value, PermissionError)
    assert str(caught.value).startswith(f"not writing {target}: ")
    assert str(caught.value).endswith(
        "(what runs in the guest can change the project folder): remove it, or write elsewhere"
    )
    assert list(elsewhere.rglob("*")) == []


def test_a_file_in_place_of_a_folder_is_refused(tmp_path):
    (tmp_path / "results").write_text("")
    with pytest.raises(UnsafePathError, match=r"/results is not a folder"):
        write_file_atomic(tmp_path / "results" / "a.vcd", "x", trusted=tmp_path)


def test_a_fifo_or_folder_at_the_file_is_refused_not_replaced(tmp_path):
    fifo = tmp_path / "bench.json"
    os.mkfifo(fifo)
    with pytest.raises(UnsafePathError, match=r"bench.json: it is a device, FIFO, socket or fold"):
        write_file_atomic(fifo, "{}")
    assert fifo.is_fifo() and os.listdir(tmp_path) == ["bench.json"]
    (tmp_path / "folder").mkdir()
    with pytest.raises(UnsafePathError, match="not writing .*/folder: it is a device"):
        write_file_atomic(tmp_path / "folder", "{}")


def test_the_trusted_folder_must_hold_the_file(tmp_path):
    with pytest.raises(InvalidSettingError, match=r"/a.vcd is not inside the trusted folder .*/b"):
        write_file_atomic(tmp_path / "a.vcd", "x", trusted=tmp_path / "b")


def test_a_path_spelled_through_a_link_to_the_project_is_still_checked(tmp_path: Path) -> None:
    """The outermost project on the path is trusted, however the path is spelled: a
    link planted inside it is refused even when the project is reached through an alias."""
    from gpiosim._atomicwrite import trusted_folder

    project = tmp_path / "proj"
    (project / ".git").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (project / "results").symlink_to(outside)
    (tmp_path / "alias").symlink_to(project)
    (project / "sub").mkdir()
    (project / "sub" / "pyproject.toml").touch()  # a nested project is not the top
    assert trusted_folder(project / "sub") == project
    assert trusted_folder(tmp_path / "alias" / "results") == tmp_path / "alias"
    for spelled in (project, tmp_path / "alias"):
        with pytest.raises(UnsafePathError, match="is a symbolic link"):
            write_file_atomic(spelled / "results" / "c.json", "x")
    assert list(outside.iterdir()) == []
