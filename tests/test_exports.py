"""Every public name: exported from exactly one public face, documented, and in ``__all__``.

A public face is a module or package whose dotted path has no part starting with an
underscore (``gpiocore.backends``, ``gpiosim.rig``; not ``gpiocore._pin``). They are
found by walking the packages, so a new face is checked as soon as it exists.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import pkgutil
import types
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("gpiocore", "gpiosim")

#: (face, name) pairs that may re-export an object another face exports, and why.
SECOND_FACES_OK: Mapping[tuple[str, str], str] = {}


def public_faces(package: str) -> list[str]:
    """The public modules and packages of ``package``, itself included."""
    found = [package]
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        found.append(info.name)
    return sorted(found)


@functools.cache
def all_faces() -> tuple[str, ...]:
    return tuple(face for package in PACKAGES for face in public_faces(package))


def _source_tree(module_name: str) -> ast.Module | None:
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    return ast.parse(Path(spec.origin).read_text())


def _resolve(module_name: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = module_name.split(".")
    anchor = parts if is_package else parts[:-1]
    anchor = anchor[: len(anchor) - (node.level - 1)]
    return ".".join([*anchor, node.module] if node.module else anchor)


def _bound_at_top(tree: ast.Module) -> Iterator[tuple[str, ast.stmt, int]]:
    """(name, statement, index) for each name a top-level statement binds."""
    for index, stmt in enumerate(tree.body):
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield stmt.name, stmt, index
        elif isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    yield target.id, stmt, index
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            yield stmt.target.id, stmt, index
        elif isinstance(stmt, ast.ImportFrom):
            for alias in stmt.names:
                yield alias.asname or alias.name, stmt, index


def attribute_doc(module_name: str, name: str, depth: int = 0) -> str | None:
    """The documentation of a module-level name that is not a class or function: a string
    right after its assignment, or ``#:`` comments right before it; followed through
    re-exports (``from x import name as name``)."""
    module = importlib.import_module(module_name)
    tree = _source_tree(module_name)
    if tree is None or depth > 5:
        return None
    source = inspect.getsource(module).splitlines()
    for bound, stmt, index in _bound_at_top(tree):
        if bound != name:
            continue
        following = tree.body[index + 1] if index + 1 < len(tree.body) else None
        if (
            isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
            and (not isinstance(stmt, ast.ImportFrom) or len(stmt.names) == 1)
        ):
            return following.value.value
        comments = []
        line = stmt.lineno - 2
        while line >= 0 and source[line].lstrip().startswith("#:"):
            comments.insert(0, source[line].lstrip()[2:].strip())
            line -= 1
        if comments or not isinstance(stmt, ast.ImportFrom):
            return " ".join(comments) or None
        # A re-export without a docstring of its own: the one where it is defined.
        alias = next(a for a in stmt.names if (a.asname or a.name) == name)
        is_package = hasattr(module, "__path__")
        return attribute_doc(_resolve(module_name, is_package, stmt), alias.name, depth + 1)
    return None


def _is_code(obj: object) -> bool:
    return inspect.isclass(obj) or inspect.isfunction(obj) or inspect.isbuiltin(obj)


def _pytest_interface(name: str, stmt: ast.stmt) -> bool:
    """A pytest hook or fixture: found by pytest by its name, not imported by anyone."""
    if name.startswith("pytest_") and isinstance(stmt, ast.FunctionDef):
        return True
    return isinstance(stmt, ast.FunctionDef) and any(
        ast.unparse(d).startswith(("pytest.fixture", "fixture")) for d in stmt.decorator_list
    )


def exported(face: str) -> dict[str, object]:
    module = importlib.import_module(face)
    return {name: getattr(module, name) for name in getattr(module, "__all__", ())}


@pytest.mark.parametrize("face", all_faces())
def test_all_is_declared_and_complete(face):
    module = importlib.import_module(face)
    assert hasattr(module, "__all__"), f"{face} is a public face: declare __all__"
    listed = list(module.__all__)
    assert len(listed) == len(set(listed)), f"{face}.__all__ lists a name twice"
    missing = [name for name in listed if not hasattr(module, name)]
    assert not missing, f"{face}.__all__ names what it does not have: {missing}"
    tree = _source_tree(face)
    assert tree is not None
    public_here = set()
    for name, stmt, _ in _bound_at_top(tree):
        if name.startswith("_") or name == "annotations" or _pytest_interface(name, stmt):
            continue
        # Of imports, only "from x import a as a" is a re-export (the typing convention).
        if isinstance(stmt, ast.ImportFrom) and not any(
            a.asname == name and a.name == name for a in stmt.names
        ):
            continue
        public_here.add(name)
    unlisted = sorted(public_here - set(listed))
    assert not unlisted, (
        f"{face} defines or re-exports {unlisted} without listing them in __all__: list "
        "them, or give them a leading underscore"
    )


@pytest.mark.parametrize("face", all_faces())
def test_every_public_name_has_a_docstring(face):
    module = importlib.import_module(face)
    assert (module.__doc__ or "").strip(), f"{face} has no module docstring"
    undocumented = []
    for name, obj in exported(face).items():
        if isinstance(obj, types.ModuleType):
            doc = obj.__doc__
        elif _is_code(obj):
            doc = obj.__doc__  # its own, not inherited
            if inspect.isclass(obj) and (doc or "").startswith(f"{obj.__name__}("):
                doc = None  # the signature a dataclass writes where it has no docstring
        else:
            doc = attribute_doc(face, name)
        if not (doc or "").strip():
            undocumented.append(name)
    assert not undocumented, (
        f"{face}: no docstring for {undocumented} (a constant or alias takes a string "
        "right after it, or a '#:' comment before it)"
    )


def test_every_public_name_has_one_face():
    owners: dict[tuple[int, str], list[str]] = {}
    keep_alive = []
    for face in all_faces():
        for name, obj in exported(face).items():
            if isinstance(obj, types.ModuleType):
                continue
            keep_alive.append(obj)
            # A class or function is the same export under any name; a value (an
            # enum member, a constant) is one only under the same name.
            key = (id(obj), "" if _is_code(obj) else name)
            owners.setdefault(key, []).append(f"{face}.{name}")
    duplicates = []
    for places in owners.values():
        extra = [
            p for p in places[1:] if tuple(p.rsplit(".", 1)) not in SECOND_FACES_OK
        ]
        if extra:
            duplicates.append(" = ".join(places))
    assert not duplicates, (
        "exported from more than one public face (keep one; list a deliberate second "
        "face in SECOND_FACES_OK with the reason):\n" + "\n".join(duplicates)
    )


def test_the_faces_are_found():
    faces = all_faces()
    for face in ("gpiocore", "gpiocore.backends", "gpiocore.selector", "gpiocore.testing"):
        assert face in faces
    assert not [f for f in faces if "._" in f]


def test_a_constant_without_a_docstring_is_seen(tmp_path, monkeypatch):
    package = tmp_path / "exports_probe"
    package.mkdir()
    (package / "__init__.py").write_text(
        '"""Probe."""\n\nfrom exports_probe._impl import A as A\n\n'
        'B = 2\n"""B is two."""\n\n#: C is three.\nC = 3\nD = 4\n'
    )
    (package / "_impl.py").write_text('A = 1\n"""A is one."""\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    docs = {name: attribute_doc("exports_probe", name) for name in "ABCD"}
    assert docs == {"A": "A is one.", "B": "B is two.", "C": "C is three.", "D": None}
