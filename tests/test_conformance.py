"""gpiocore.testing.check_backend_conformance: on the fake, on the backend under test
(sim in the guest), on a backend a third-party package registers through the entry
point, and on broken backends, which it must name."""

from __future__ import annotations

import importlib
import sys

import pytest

from gpiocore import InvalidSettingError
from gpiocore.backends import ENTRY_POINT_GROUP, available_backends, load_backend
from gpiocore.testing import CONFORMANCE_CHECKS, FakeBackend, check_backend_conformance
from gpiosim.rig import default_scale


def test_the_fake_conforms():
    assert check_backend_conformance(FakeBackend) == list(CONFORMANCE_CHECKS)


@pytest.mark.backends("fake", "sim")  # pi's harness drives only a rig's wired lines
def test_the_backend_under_test_conforms(gpio_backend_name):
    """``--backend=sim`` in the guest: the real gpio-sim module, on real (scaled) time."""
    ran = check_backend_conformance(
        lambda: load_backend(gpio_backend_name), time_scale=default_scale()
    )
    assert ran == list(CONFORMANCE_CHECKS)


# -- a backend registered by another package ---------------------------------------------

_PACKAGE = '''
"""A third-party backend: the fake's lines under another name, built by composition."""

from gpiocore.testing import FakeBackend


class MirrorBackend:
    name = "mirror"

    def __init__(self):
        self._inner = FakeBackend(chips={"mirrorchip0": 4}, labels={"mirrorchip0": "mirror"})

    @property
    def clock(self):
        return self._inner.clock

    @property
    def harness(self):
        return self._inner.harness

    def chips(self):
        return self._inner.chips()

    def default_chip(self):
        return self._inner.default_chip()

    def open_line(self, chip, offset, settings, consumer):
        return self._inner.open_line(chip, offset, settings, consumer)

    def create_timer(self):
        return self._inner.create_timer()

    def close(self):
        self._inner.close()
'''


@pytest.fixture
def third_party(tmp_path, monkeypatch):
    """A package on sys.path with the .dist-info that registers its backend, as
    ``pip install`` leaves it."""
    site = tmp_path / "site"
    (site / "thirdparty_gpio").mkdir(parents=True)
    (site / "thirdparty_gpio" / "__init__.py").write_text(_PACKAGE)
    info = site / "thirdparty_gpio-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty-gpio\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nmirror = thirdparty_gpio:MirrorBackend\n"
    )
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    yield "mirror"
    sys.modules.pop("thirdparty_gpio", None)


def test_a_backend_from_another_package_is_found_and_conforms(third_party):
    assert available_backends()[third_party].value == "thirdparty_gpio:MirrorBackend"
    backend = load_backend(third_party)
    try:
        assert [c.name for c in backend.chips()] == ["mirrorchip0"]
    finally:
        backend.close()
    # No GPIO17 on this backend: the check uses offsets 0 and 1 of its default chip.
    ran = check_backend_conformance(lambda: load_backend(third_party))
    assert ran == list(CONFORMANCE_CHECKS)


# -- it fails where a backend is wrong -------------------------------------------------------


class _InvertingHarness:
    """Drives every input to the opposite level: a wiring mistake the checks must see."""

    def __init__(self, inner):
        self._inner = inner

    def drive(self, chip, offset, level):
        self._inner.drive(chip, offset, not level)

    def level(self, chip, offset):
        return self._inner.level(chip, offset)

    def requested(self, chip, offset):
        return self._inner.requested(chip, offset)


class _WrongBackend:
    """A fake whose harness inverts what it drives (a wiring mistake)."""

    name = "wrong"

    def __init__(self):
        self._inner = FakeBackend()
        self.clock = self._inner.clock
        self.harness = _InvertingHarness(self._inner.harness)

    def chips(self):
        return self._inner.chips()

    def default_chip(self):
        return self._inner.default_chip()

    def open_line(self, chip, offset, settings, consumer):
        return self._inner.open_line(chip, offset, settings, consumer)

    def create_timer(self):
        return self._inner.create_timer()

    def close(self):
        self._inner.close()


def test_a_wrong_backend_fails_with_each_check_named():
    with pytest.raises(AssertionError) as caught:
        check_backend_conformance(_WrongBackend)
    message = str(caught.value)
    assert message.startswith("backend 'wrong' failed ")
    assert "input_reads_what_the_harness_drives: an input driven high reads 0" in message
    assert "output_drives_the_line" not in message  # outputs are read, not driven
    assert "timer" not in message  # timers do not involve the harness


def test_a_backend_that_raises_is_reported_not_crashed():
    class Raising(_WrongBackend):
        name = "raising"

        def create_timer(self):
            raise OSError("no timers here")

    only = ["a_one_shot_timer_fires_once_never_early"]
    with pytest.raises(AssertionError, match=f"{only[0]}: raised OSError: no timers here"):
        check_backend_conformance(Raising, only=only)


def test_bad_arguments_are_named():
    with pytest.raises(InvalidSettingError, match=r"no conformance check named \['nope'\]"):
        check_backend_conformance(FakeBackend, only=["nope"])
    with pytest.raises(InvalidSettingError, match="only must be a list of check names"):
        check_backend_conformance(FakeBackend, only="input_reads_what_the_harness_drives")
    with pytest.raises(InvalidSettingError, match="time_scale must be a positive number"):
        check_backend_conformance(FakeBackend, time_scale=0)
    with pytest.raises(InvalidSettingError, match="lines must be two different"):
        check_backend_conformance(FakeBackend, lines=[("gpiochip0", 1), ("gpiochip0", 1)])
    with pytest.raises(InvalidSettingError, match=r"pass e.g. lambda: load_backend\('fake'\)"):
        check_backend_conformance("fake")
    with pytest.raises(InvalidSettingError, match="factory must be a callable"):
        check_backend_conformance(None)


def test_a_backend_without_a_harness_is_refused():
    class NoHarness(_WrongBackend):
        name = "bare"
        harness = None

        def __init__(self):
            super().__init__()
            self.harness = None

    with pytest.raises(InvalidSettingError, match="backend 'bare' has no harness"):
        check_backend_conformance(NoHarness)
