"""Which backend a program gets when it names none: gpiocore's ``_context``.

Host: detection against temp roots (no chips, a chip node, a Pi model without its
header chip), ``use_backend`` as a plain statement, the plugin's ``--backend`` as the
whole session's default. gpio_sim (in the guest): a Pi-impersonating sim chip is
found as ``pi``, a plain gpio-sim chip as ``cdev``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from gpiocore import FakeBackendWarning, GpioWarning, current_backend, use_backend
from gpiocore._context import _CurrentBackend
from gpiocore.backends import CdevBackend, detect_backend
from gpiocore.testing import FakeBackend

NO_GPIO_WARNING = (
    r"no GPIO backend chosen and no GPIO hardware here \(no .*/dev/gpiochip\*\): pins are "
    r"gpiocore's in-process fake on virtual time; choose one with GPIOCORE_BACKEND=<name> "
    r"or gpiocore.use_backend\(<name>\) \(e.g. 'sim', 'cdev', 'pi'; 'fake' silences this\)"
)


@pytest.fixture
def no_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing chosen: no GPIOCORE_BACKEND, no Pi overrides."""
    for name in ("GPIOCORE_BACKEND", "GPIOSIM_DT_MODEL", "GPIOSIM_PI_CHIP"):
        monkeypatch.delenv(name, raising=False)


def _root_with_chip(tmp_path: Path, model: str | None = None) -> Path:
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "gpiochip0").touch()
    if model is not None:
        (tmp_path / "proc" / "device-tree").mkdir(parents=True)
        (tmp_path / "proc" / "device-tree" / "model").write_bytes(model.encode() + b"\0")
    return tmp_path


def test_no_gpio_means_the_fake_with_one_warning(tmp_path, no_choice):
    holder = _CurrentBackend(root=tmp_path)
    with pytest.warns(FakeBackendWarning, match=NO_GPIO_WARNING) as caught:
        assert holder.get().name == "fake"
    assert caught[0].filename == __file__  # points at the caller, not into gpiocore
    assert issubclass(FakeBackendWarning, GpioWarning)
    assert issubclass(FakeBackendWarning, UserWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert holder.get().name == "fake"
        with holder.use(FakeBackend()):
            pass
        assert holder.get().name == "fake"  # made afresh after the block: still no warning


def test_a_gpio_character_device_means_cdev(tmp_path, no_choice):
    root = _root_with_chip(tmp_path)
    assert CdevBackend.detect(root) == 10
    assert detect_backend(root) == "cdev"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _CurrentBackend(root=root).get().name == "cdev"


def test_a_pi_model_without_its_header_chip_is_not_a_pi(tmp_path, no_choice):
    from gpiosim.pi import PiBackend

    root = _root_with_chip(tmp_path, "Raspberry Pi 4 Model B Rev 1.4")
    assert PiBackend.detect(root) == 0  # dev/gpiochip0 is no GPIO chip here
    assert detect_backend(root) == "cdev"
    assert PiBackend.detect(tmp_path / "nowhere") == 0


def test_the_environment_beats_detection(tmp_path, monkeypatch):
    monkeypatch.setenv("GPIOCORE_BACKEND", "fake")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _CurrentBackend(root=_root_with_chip(tmp_path)).get().name == "fake"


def test_the_session_backend_beats_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GPIOCORE_BACKEND", "cdev")
    holder = _CurrentBackend(root=tmp_path)
    end = holder.set_session("fake")
    made = holder.get()
    assert made.name == "fake"
    end()
    assert holder.get().name == "cdev"


def test_use_backend_as_a_plain_statement_takes_effect(tmp_path, no_choice):
    holder = _CurrentBackend(root=tmp_path)
    first, second = FakeBackend(), FakeBackend()
    holder.use(first)  # a plain statement, as a program's first line would say it
    assert holder.get() is first
    with holder.use(second) as chosen:
        assert chosen is second
        assert holder.get() is second
    assert holder.get() is first  # the block gave back what was before it


def test_the_public_use_backend_takes_effect_when_called():
    before = current_backend()
    mine = FakeBackend()
    choice = use_backend(mine)
    try:
        assert current_backend() is mine
    finally:
        choice.__exit__(None, None, None)
    assert current_backend() is before


def test_a_thread_backend_is_that_threads_only(tmp_path, no_choice):
    """A program an app runner runs in a thread sees the runner's backend; the rest of
    the process keeps its own, and the program's use_backend() changes only its thread's."""
    import threading

    holder = _CurrentBackend(root=tmp_path)
    process, runners, programs = FakeBackend(), FakeBackend(), FakeBackend()
    holder.use(process)
    seen: dict[str, object] = {}
    inside, done = threading.Event(), threading.Event()

    def program() -> None:
        with holder.for_this_thread(runners):
            seen["start"] = holder.get()
            holder.use(programs)  # a plain statement, as a program's first line says it
            seen["after use"] = holder.get()
            inside.set()
            done.wait(5)
        seen["after"] = holder.get()

    thread = threading.Thread(target=program)
    thread.start()
    assert inside.wait(5)
    assert holder.get() is process  # the test's thread sees neither of the program's
    done.set()
    thread.join()
    assert seen == {"start": runners, "after use": programs, "after": process}
    assert holder.get() is process


def test_the_session_backend_is_every_tests_default(pytester, monkeypatch):
    """--backend rules: GPIOCORE_BACKEND in the environment cannot split a session."""
    monkeypatch.setenv("GPIOCORE_BACKEND", "cdev")
    pytester.makepyfile(
        """
        from gpiocore import current_backend

        def test_without_the_fixture():
            assert current_backend().name == "fake"

        def test_with_the_fixture(backend):
            assert current_backend() is backend
            assert backend.name == "fake"
        """
    )
    # In a fresh process: this one's default backend was made long ago.
    result = pytester.runpytest_subprocess("--backend=fake", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


# -- in the guest: the hardware that is there ----------------------------------------------


@pytest.mark.gpio_sim
@pytest.mark.parametrize("board", ["pi4", "pi5"])
def test_detects_a_simulated_pi(board, monkeypatch, no_choice):
    from gpiosim.pi import SimulatedPi

    with SimulatedPi(board) as pi:
        for name, value in pi.env().items():
            monkeypatch.setenv(name, value)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            found = _CurrentBackend().get()
        try:
            assert found.name == "pi"
            assert found.default_chip() == pi.chip.chip_name
        finally:
            found.close()


@pytest.mark.gpio_sim
def test_detects_a_plain_gpio_sim_chip_as_cdev(no_choice):
    from gpiosim.chip import SimChip

    with SimChip(8, label="gpiorig-detect") as chip:
        assert detect_backend() == "cdev"
        found = _CurrentBackend().get()
        try:
            assert found.name == "cdev"
            assert chip.chip_name in [c.name for c in found.chips()]
        finally:
            found.close()
