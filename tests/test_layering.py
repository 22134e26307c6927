"""The import structure: no cycles, layers point down, only public gpiocore names outside it.

Every import statement of gpiocore and gpiosim is read with ``ast`` (those inside
functions and under ``if TYPE_CHECKING:`` too: a cycle hidden by either is still a
cycle in the design). The layers, bottom up:

1. OS primitives and core types: ``gpiocore._osprim``, ``_errors``, ``_types``, ``_clock``;
2. the backend interface: ``gpiocore.backends``;
3. the classic API: ``gpiocore`` and ``gpiocore.selector`` with their private modules;
4. simulation and testing tooling: ``gpiocore.testing`` and all of ``gpiosim``.

A module imports only from its own layer or lower ones. Everything is discovered by
walking the folders, so any layout of gpiosim's subpackages is checked the same way.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("gpiocore", "gpiosim")

#: Bottom up. "x.*" is a package and everything in it; other entries are exact names.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "OS primitives",
        ("gpiocore._osprim", "gpiocore._errors", "gpiocore._types", "gpiocore._clock"),
    ),
    ("backend interface", ("gpiocore.backends.*",)),
    (
        "classic API",
        (
            "gpiocore",
            "gpiocore._context",
            "gpiocore._pin",
            "gpiocore._selector",
            "gpiocore.selector",
        ),
    ),
    ("testing tooling", ("gpiocore.testing.*", "gpiosim.*")),
)

#: Third-party modules that may be imported inside a function, and why.
LAZY_IMPORTS_OK: Mapping[str, str] = {
    "gpiod": "libgpiod's binding is loaded when a cdev line is first used, so the fake and "
    "the sim's configfs side work where the C library is missing",
    "pyudev": "needed only to wait for a sim chip's device node (libudev may be missing)",
    "hypothesis": "an optional extra ([test]); gpiosim's command line works without it",
    "pytest": "an optional extra ([test]); gpiosim's command line works without it",
    "vcd": "pyvcd, an optional extra ([test]), only for writing VCD traces",
    "gpiozero": "a benchmark peer, an optional extra ([bench])",
    "periphery": "a benchmark peer, an optional extra ([bench])",
    "lgpio": "a benchmark peer, an optional extra ([bench])",
    "matplotlib": "the bench's pictures (--plot), an optional extra ([plot])",
    "labgrid": "bench farms, an optional extra ([farm]): the farm's pytest options and "
    "errors load without it",
    "grpc": "comes with labgrid ([farm]); only its error class, once a coordinator answers",
}

#: The project's own modules loaded inside a function, each with its reason.
LAZY_INTERNAL_OK: Mapping[tuple[str, str], str] = {
    ("gpiosim.farm._plugin", "gpiosim.farm._session"): "needs labgrid, which the plugin "
    "checks for first: loaded at the top, it would bring labgrid and gRPC into every run",
}

#: White-box tests of gpiocore's own internals that have no public handle by design.
PRIVATE_IMPORTS_OK: Mapping[tuple[str, str], str] = {
    ("tests/test_context.py", "gpiocore._context"): "a fresh current-backend holder with "
    "another detection root (the process has exactly one, by design)",
    ("tests/test_api.py", "gpiocore._context"): "a fresh current-backend holder (see above)",
    ("tests/test_errors.py", "gpiocore._context"): "a fresh current-backend holder (see above)",
    ("tests/test_clock.py", "gpiocore._clock"): "shortens the real poller's signal slice",
}


@dataclasses.dataclass(frozen=True)
class Import:
    """One imported module, as one statement of one file names it."""

    importer: str  # the importing module's dotted name ("" for a file outside packages)
    path: str  # the file, relative to the repository
    lineno: int
    target: str  # the absolute dotted name of the module imported
    names: tuple[str, ...]  # the names taken from it (for "from x import a, b")
    local: bool  # inside a function
    typing_only: bool  # under "if TYPE_CHECKING:"


def module_name(path: Path, root: Path) -> str:
    """The dotted module name of a file under ``root`` (a package's __init__ is the package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def read_imports(path: Path, root: Path, known: Iterable[str] = ()) -> list[Import]:
    """Every import of the file at ``path``: top-level, inside functions, typing-only.

    ``from pkg import sub`` names the module ``pkg.sub`` when that is one of ``known``.
    """
    known = set(known)
    rel = path.relative_to(root).as_posix()
    importer = module_name(path, root) if path.suffix == ".py" else ""
    package = importer if _is_package(path) else importer.rpartition(".")[0]
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[Import] = []

    def visit(node: ast.AST, local: bool, typing_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            child_local = local or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            child_typing = typing_only or (
                isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test)
            )
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.append(
                        Import(importer, rel, child.lineno, alias.name, (), local, typing_only)
                    )
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".") if package else []
                    anchor = anchor[: len(anchor) - (child.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                modules: dict[str, list[str]] = {}
                for alias in child.names:
                    sub = f"{base}.{alias.name}"
                    modules.setdefault(sub if sub in known else base, []).append(alias.name)
                for target, names in modules.items():
                    found.append(
                        Import(
                            importer, rel, child.lineno, target, tuple(names), local, typing_only
                        )
                    )
            elif (
                isinstance(child, ast.Call)
                and ast.unparse(child.func) in ("importlib.import_module", "import_module")
                and child.args
                and isinstance(child.args[0], ast.Constant)
                and isinstance(child.args[0].value, str)
            ):  # a module loaded by name is an import all the same
                found.append(
                    Import(importer, rel, child.lineno, child.args[0].value, (), local, typing_only)
                )
            visit(child, child_local, child_typing)

    visit(tree, False, False)
    return found


def package_files(root: Path, packages: Iterable[str]) -> list[Path]:
    """Every module file of ``packages`` under ``root``."""
    return sorted(p for name in packages for p in (root / name).rglob("*.py"))


@functools.cache
def project_imports() -> tuple[Import, ...]:
    """The imports of every gpiocore and gpiosim module in this repository."""
    files = package_files(ROOT, PACKAGES)
    known = {module_name(p, ROOT) for p in files}
    return tuple(i for p in files for i in read_imports(p, ROOT, known))


def _internal(name: str, packages: Iterable[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def module_graph(imports: Iterable[Import], packages: Iterable[str]) -> dict[str, set[str]]:
    """Module -> the modules of ``packages`` it imports, with the packages that run
    first (importing ``a.b.c`` runs ``a.b``'s ``__init__`` unless the importer is in it)."""
    packages = tuple(packages)
    graph: dict[str, set[str]] = {}
    for imp in imports:
        graph.setdefault(imp.importer, set())
        if not _internal(imp.target, packages):
            continue
        parts = imp.target.split(".")
        for n in range(1, len(parts) + 1):
            ancestor = ".".join(parts[:n])
            if n < len(parts) and _internal(imp.importer, (ancestor,)):
                continue  # its own package's __init__ has already run
            if ancestor != imp.importer:
                graph[imp.importer].add(ancestor)
    return graph


def package_node(module: str) -> str:
    """A module's node in the package graph: its top subpackage, or itself at the top."""
    parts = module.split(".")
    if len(parts) <= 2:
        return module  # the top package, or a module or subpackage directly in it
    return ".".join(parts[:2])


def package_graph(graph: Mapping[str, set[str]]) -> dict[str, set[str]]:
    """The module graph with each top-level subpackage collapsed into one node."""
    collapsed: dict[str, set[str]] = {}
    for module, targets in graph.items():
        node = package_node(module)
        collapsed.setdefault(node, set()).update(
            package_node(t) for t in targets if package_node(t) != node
        )
    return collapsed


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """One cycle (a path that comes back to its start) per strongly connected group."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    counter = [0]

    def connect(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1 or v in graph.get(v, ()):
                groups.append(group)

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for v in sorted(graph):
            if v not in index:
                connect(v)
    finally:
        sys.setrecursionlimit(limit)
    return [_path_in(group, graph) for group in groups]


def _path_in(group: set[str], graph: Mapping[str, set[str]]) -> list[str]:
    """A shortest cycle through the first member of ``group``."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph.get(v, ()) & group):
            if w == start:
                return [*paths[v], start]
            if w not in paths:
                paths[w] = [*paths[v], w]
                queue.append(w)
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover


def layer_of(module: str) -> int | None:
    """The index in LAYERS of a gpiocore or gpiosim module, or None if unclassified."""
    for level, (_, members) in enumerate(LAYERS):
        for member in members:
            if member.endswith(".*"):
                if _internal(module, (member[:-2],)):
                    return level
            elif module == member:
                return level
    return None


def private_gpiocore(imp: Import) -> bool:
    """True if ``imp`` reaches a private gpiocore module or name."""
    if not _internal(imp.target, ("gpiocore",)):
        return False
    if any(part.startswith("_") for part in imp.target.split(".")):
        return True
    return any(name.startswith("_") for name in imp.names)


_IMPORT_LINE = re.compile(r"^\s*(?:from|import)\s+gpiocore\b.*$", re.MULTILINE)


def imports_in_strings(path: Path, root: Path) -> list[Import]:
    """The gpiocore imports of programs written as strings (e.g. a child process's code)."""
    rel = path.relative_to(root).as_posix()
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        for match in _IMPORT_LINE.finditer(node.value):
            try:
                tree = ast.parse(match.group(0).strip())
            except SyntaxError:
                continue
            for stmt in tree.body:
                if isinstance(stmt, ast.Import):
                    targets = [(a.name, ()) for a in stmt.names]
                elif isinstance(stmt, ast.ImportFrom) and stmt.module:
                    targets = [(stmt.module, tuple(a.name for a in stmt.names))]
                else:
                    continue
                for target, names in targets:
                    found.append(Import("", rel, node.lineno, target, names, False, False))
    return found


def _where(imp: Import) -> str:
    names = f" ({', '.join(imp.names)})" if imp.names else ""
    return f"{imp.path}:{imp.lineno}: {imp.target}{names}"


# -- the checks ------------------------------------------------------------------------
# Parametrized per package, so that one package's failure does not hide the other's.


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle_between_files(package):
    graph = module_graph(project_imports(), PACKAGES)
    found = [c for c in cycles(graph) if _internal(c[0], (package,))]
    assert not found, "import cycles between modules:\n" + "\n".join(
        " -> ".join(c) for c in found
    )


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle_between_packages(package):
    graph = package_graph(module_graph(project_imports(), PACKAGES))
    found = [c for c in cycles(graph) if _internal(c[0], (package,))]
    assert not found, (
        "import cycles between subpackages (each top-level subpackage is one node):\n"
        + "\n".join(" -> ".join(c) for c in found)
    )


@pytest.mark.parametrize("package", PACKAGES)
def test_every_module_is_in_a_layer(package):
    modules = {i.importer for i in project_imports() if _internal(i.importer, (package,))}
    unclassified = sorted(m for m in modules if layer_of(m) is None)
    assert not unclassified, f"put these modules in a layer of LAYERS: {unclassified}"


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_point_down_the_layers(package):
    wrong = []
    for imp in project_imports():
        if not _internal(imp.importer, (package,)) or not _internal(imp.target, PACKAGES):
            continue
        mine, theirs = layer_of(imp.importer), layer_of(imp.target)
        if mine is not None and theirs is not None and theirs > mine:
            wrong.append(f"{_where(imp)}: {LAYERS[mine][0]} imports {LAYERS[theirs][0]}")
    assert not wrong, "imports up the layers:\n" + "\n".join(wrong)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_imports_inside_functions(package):
    wrong = [
        _where(imp)
        for imp in project_imports()
        if _internal(imp.importer, (package,))
        and imp.local
        and imp.target.split(".")[0] not in LAZY_IMPORTS_OK
        and (imp.importer, imp.target) not in LAZY_INTERNAL_OK
    ]
    assert not wrong, (
        "imports inside functions (move them to the top; an optional dependency goes in "
        "LAZY_IMPORTS_OK with the reason):\n" + "\n".join(wrong)
    )


@pytest.mark.parametrize("area", ["gpiosim", "tests", "fixtures"])
def test_only_public_gpiocore_names_outside_gpiocore(area):
    files = sorted((ROOT / area).rglob("*.py"))
    assert files, f"nothing to check under {area}/"
    found = []
    for path in files:
        # This file's own strings are the planted mistakes of the checker's tests below.
        in_strings = [] if path == Path(__file__).resolve() else imports_in_strings(path, ROOT)
        for imp in [*read_imports(path, ROOT), *in_strings]:
            if not private_gpiocore(imp):
                continue
            if (imp.path, imp.target) in PRIVATE_IMPORTS_OK:
                continue
            found.append(_where(imp))
    assert not found, (
        "imports of private gpiocore names (use gpiocore, gpiocore.backends or "
        "gpiocore.testing; see their __all__):\n" + "\n".join(found)
    )


def test_private_imports_allowed_in_tests_are_still_there():
    """A white-box exception that is no longer used is removed from the list."""
    for (file, module), _reason in PRIVATE_IMPORTS_OK.items():
        targets = {i.target for i in read_imports(ROOT / file, ROOT)}
        assert module in targets, f"{file} no longer imports {module}: drop its exception"


# -- the checker itself finds what it must ------------------------------------------------


def _write(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _imports_of(root: Path, package: str) -> list[Import]:
    files = package_files(root, [package])
    known = {module_name(p, root) for p in files}
    return [i for p in files for i in read_imports(p, root, known)]


def test_the_checker_sees_a_cycle_hidden_in_a_function(tmp_path):
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg import b\n",
            "pkg/b.py": "def f():\n    from pkg.a import x\n",
            "pkg/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.d\n",
            "pkg/d.py": "from . import c\n",
        },
    )
    imports = _imports_of(tmp_path, "pkg")
    found = cycles(module_graph(imports, ["pkg"]))
    assert sorted(found) == [["pkg.a", "pkg.b", "pkg.a"], ["pkg.c", "pkg.d", "pkg.c"]]
    local = [i for i in imports if i.local]
    assert [(i.importer, i.target) for i in local] == [("pkg.b", "pkg.a")]


def test_the_checker_sees_a_module_loaded_by_name(tmp_path):
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "import importlib\ndef f():\n    return importlib.import_module('pkg.b')\n",
            "pkg/b.py": "from pkg import a\n",
        },
    )
    imports = _imports_of(tmp_path, "pkg")
    assert cycles(module_graph(imports, ["pkg"])) == [["pkg.a", "pkg.b", "pkg.a"]]
    assert [(i.importer, i.target, i.local) for i in imports if i.local] == [
        ("pkg.a", "pkg.b", True)
    ]


def test_lazy_internal_imports_allowed_are_still_there():
    seen = {(i.importer, i.target) for i in project_imports() if i.local}
    assert set(LAZY_INTERNAL_OK) <= seen, "stale LAZY_INTERNAL_OK entries"


def test_the_checker_sees_a_cycle_between_subpackages(tmp_path):
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/x/__init__.py": "",
            "pkg/x/one.py": "from pkg.y.two import t\n",
            "pkg/y/__init__.py": "",
            "pkg/y/two.py": "t = 1\n",
            "pkg/y/three.py": "from pkg.x.four import f\n",
            "pkg/x/four.py": "f = 1\n",
        },
    )
    graph = module_graph(_imports_of(tmp_path, "pkg"), ["pkg"])
    assert cycles(graph) == []  # no cycle between files...
    assert cycles(package_graph(graph)) == [["pkg.x", "pkg.y", "pkg.x"]]  # ...but packages


def test_the_checker_sees_private_gpiocore_names(tmp_path):
    _write(
        tmp_path,
        {
            "t/a.py": "import gpiocore._clock as c\nfrom gpiocore import pins\n",
            "t/b.py": "from gpiocore.backends import _cdev\n",
            "t/c.py": "CHILD = '''\nfrom gpiocore._types import Direction\n'''\n",
        },
    )
    found = []
    for path in sorted((tmp_path / "t").glob("*.py")):
        found += [
            i.target
            for i in [*read_imports(path, tmp_path), *imports_in_strings(path, tmp_path)]
            if private_gpiocore(i)
        ]
    assert found == ["gpiocore._clock", "gpiocore.backends", "gpiocore._types"]


def test_layers_classify_the_core():
    assert [layer_of(m) for m in ("gpiocore._errors", "gpiocore.backends._cdev")] == [0, 1]
    assert [layer_of(m) for m in ("gpiocore", "gpiocore.testing._fake", "gpiosim.x")] == [2, 3, 3]
    assert layer_of("gpiocore._new") is None
