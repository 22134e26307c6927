"""The public faces: exports, type hints and docstrings, the backend registry."""

from __future__ import annotations

import importlib
import inspect

import pytest

PUBLIC_MODULES = [
    "gpiocore",
    "gpiocore.selector",
    "gpiocore.backends",
    "gpiocore.testing",
    "gpiosim.chip",
    "gpiosim.guest",
    "gpiosim.rig",
    "gpiosim.models",
    "gpiosim.strategies",
    "gpiosim.machines",
    "gpiosim.pi",
]


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_name_is_exported_and_documented(module_name):
    module = importlib.import_module(module_name)
    for name in module.__all__:
        obj = getattr(module, name)  # exported names exist
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"{module_name}.{name} has no docstring"
    names = {n for n in vars(module) if not n.startswith("_")}
    objects = {n: getattr(module, n) for n in names if not inspect.ismodule(getattr(module, n))}
    if any(getattr(obj, "__module__", None) == module_name for obj in objects.values()):
        # A module that defines its API (models, strategies): what it defines is
        # exported or private; what it imports to do so is not its API.
        public = {
            n for n, obj in objects.items() if getattr(obj, "__module__", None) == module_name
        }
    else:
        # A thin face over private modules: everything it holds is exported.
        public = set(objects)
    assert public <= set(module.__all__) | {"annotations"}, public - set(module.__all__)


def _public_callables():
    for module in map(importlib.import_module, PUBLIC_MODULES):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                yield f"{module.__name__}.{name}", obj
            elif inspect.isclass(obj) and obj.__module__.startswith(("gpiocore", "gpiosim")):
                for attr, member in vars(obj).items():
                    if attr.startswith("_") and attr not in ("__init__",):
                        continue
                    func = member.fget if isinstance(member, property) else member
                    # (typing.Protocol puts its own __init__ on an interface)
                    if inspect.isfunction(func) and func.__module__.startswith(
                        ("gpiocore", "gpiosim")
                    ):
                        yield f"{module.__name__}.{name}.{attr}", func


@pytest.mark.parametrize(
    ("name", "func"), list(_public_callables()), ids=lambda x: x if isinstance(x, str) else ""
)
def test_public_functions_have_hints_and_docstrings(name, func):
    sig = inspect.signature(func)
    for param in sig.parameters.values():
        if param.name in ("self", "cls"):
            continue
        assert param.annotation is not inspect.Parameter.empty, f"{name}({param.name}) lacks a hint"
    assert sig.return_annotation is not inspect.Signature.empty, f"{name} lacks a return hint"
    if func.__name__ != "__init__":
        assert inspect.getdoc(func), f"{name} has no docstring"


def test_builtin_backends_are_in_the_entry_point_group():
    from gpiocore.backends import available_backends

    assert {"fake", "cdev", "sim"} <= set(available_backends())


def test_a_third_party_backend_is_found_by_name(monkeypatch):
    """A backend registered in the entry-point group loads by name like a built-in."""
    import importlib.metadata as md

    from gpiocore import pins, use_backend
    from gpiocore.backends import load_backend
    from gpiocore.testing import FakeBackend

    class Expander:  # e.g. an I2C expander with 16 lines named as a Pi header's first 16
        def __new__(cls, **options):
            return FakeBackend(chips={"mcp23017": [f"GPIO{i}" for i in range(28)]}, **options)

    ep = md.EntryPoint("expander", "tests.test_api:Expander", "gpiocore.backends")
    original = md.entry_points
    monkeypatch.setattr(
        md,
        "entry_points",
        lambda **kw: (
            [*original(**kw), ep] if kw.get("group") == "gpiocore.backends" else original(**kw)
        ),
    )
    monkeypatch.setattr(ep.__class__, "load", lambda self: Expander)
    backend = load_backend("expander")
    with use_backend(backend):
        assert pins.pin(0).chip == "mcp23017"


def test_backend_choice_explicit_then_env_then_fake(monkeypatch, tmp_path):
    from gpiocore import FakeBackendWarning
    from gpiocore._context import _CurrentBackend
    from gpiocore.testing import FakeBackend

    monkeypatch.delenv("GPIOCORE_BACKEND", raising=False)
    # No GPIO under the root: the fake, with a warning (tests/test_context.py has more).
    with pytest.warns(FakeBackendWarning):
        assert _CurrentBackend(root=tmp_path).get().name == "fake"
    monkeypatch.setenv("GPIOCORE_BACKEND", "fake")
    holder = _CurrentBackend()
    assert holder.get().name == "fake"
    explicit = FakeBackend()
    with holder.use(explicit):
        assert holder.get() is explicit
    assert holder.get() is not explicit
