"""pytest plugin (entry point ``pytest11``): run GPIO tests on any backend.

``pytest --backend=fake`` (default), ``--backend=sim``, or several, comma-separated:
every test that uses the ``backend`` fixture then runs once per backend. State lives in
``config.stash`` and fixtures, never in module globals.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path

import pytest

from gpiocore import BackendNotFoundError, GpioError, use_backend
from gpiocore.backends import Backend, Harness, available_backends, load_backend
from gpiocore.testing import set_session_backend
from gpiosim._errors import RigFileError, SimChipError
from gpiosim._examples import GpioGiven
from gpiosim._pluginconfig import (
    check_options,
    register_hypothesis_profiles,
    rig_path,
    test_id,
    write_trace,
)
from gpiosim.pi._rigload import load_rig_signals
from gpiosim.pi._session import start_pi_session
from gpiosim.rig._rig import Rig
from gpiosim.rig._runner import AppRunner
from gpiosim.rig._signal import Signal
from gpiosim.rig._timing import BackendTime, default_scale
from gpiosim.rig._trace import trace_since_mark
from gpiosim.sim._chip import SimChip
from gpiosim.sim._env import check_environment

__all__ = [
    "BACKENDS_KEY",
    "DEFAULT_SIGNALS",
]


__all__ = ["BACKENDS_KEY", "DEFAULT_SIGNALS"]

#: The backends of the session (``--backend``), in ``config.stash``.
BACKENDS_KEY = pytest.StashKey[list[str]]()
_SCALE_KEY = pytest.StashKey[float | None]()
_RIG_SIGNALS_KEY = pytest.StashKey[Sequence["Signal"]]()
_END_SESSION_BACKEND_KEY = pytest.StashKey[Callable[[], None]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--backend`` and ``--gpio-time-scale``."""
    group = parser.getgroup("gpiosim", "GPIO backends (gpiorig)")
    group.addoption(
        "--backend",
        action="store",
        default=None,
        metavar="NAME[,NAME...]",
        help="GPIO backend(s): fake (default), sim, pi, cdev, or a third-party one; "
        "comma-separated to run tests that use the `backend` fixture on several. The "
        "first is every test's default backend (over GPIOCORE_BACKEND).",
    )
    group.addoption(
        "--gpio-time-scale",
        action="store",
        type=float,
        default=None,
        help="stretch test durations on real-time backends by this factor "
        "(default: 1, or 4 inside the gpiosim guest, whose CPU is emulated)",
    )
    group.addoption(
        "--rig",
        action="store",
        default=None,
        metavar="FILE",
        help="rig file (TOML) naming the program's signals and, on a bench, the jumpers; "
        "relative to the working folder on the command line, to the config file's folder "
        "in its addopts (as the gpio_rig ini option)",
    )
    group.addoption(
        "--gpio-replay",
        action="store",
        default=None,
        metavar="BACKEND",
        help="replay, on this run's backend, the failing examples that BACKEND (e.g. fake) "
        "found for the tests that use gpio_given, and generate no new ones",
    )
    group.addoption(
        "--gpio-trace-dir",
        action="store",
        default=None,
        metavar="DIR",
        help="where a failing test's rig record is written as VCD (default results/traces)",
    )
    parser.addini("gpio_backend", "default for --backend", default="fake")
    parser.addini(
        "gpio_rig", "default for --rig: a rig file, relative to the config file's folder"
    )


@pytest.hookimpl(tryfirst=True)  # before hypothesis's: it loads --hypothesis-profile
def pytest_configure(config: pytest.Config) -> None:
    """Validate ``--backend`` and register the ``backends`` marker."""
    check_options(config)
    config.addinivalue_line(
        "markers",
        "backends(*names): run only on these GPIO backends; on others the test is "
        "skipped with a reason",
    )
    config.addinivalue_line(
        "markers",
        "gpio_sim: needs gpio-sim in the running kernel (natively, or in `gpiosim guest`); "
        "skipped with the reason where it is missing, failed instead if GPIOSIM_REQUIRE=1",
    )
    config.addinivalue_line(
        "markers",
        "uses_backend: set automatically on tests that use the `backend` fixture",
    )
    raw = config.getoption("--backend") or config.getini("gpio_backend") or "fake"
    names = [n.strip() for n in str(raw).split(",") if n.strip()]
    known = available_backends()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise pytest.UsageError(
            f"--backend: no GPIO backend named {', '.join(map(repr, unknown))}; "
            f"choose from {', '.join(sorted(known))}"
        )
    config.stash[BACKENDS_KEY] = names
    # The session's backend is the process default for every test, not only those with
    # the `backend` fixture, so GPIOCORE_BACKEND cannot split a session between two.
    config.stash[_END_SESSION_BACKEND_KEY] = set_session_backend(names[0] if names else None)
    # Importing hypothesis costs ~8 s in the guest: only when this run names a profile;
    # otherwise gpio_hypothesis_settings registers them when a test first needs them.
    if config.getoption("--hypothesis-profile", None):
        register_hypothesis_profiles()
    config.stash[_SCALE_KEY] = config.getoption("--gpio-time-scale")
    path = rig_path(config)
    if path:
        # Checked once, up front: a mistake is one usage error that points at its line,
        # not an error in every test that uses the rig.

        try:
            config.stash[_RIG_SIGNALS_KEY] = load_rig_signals(path)
        except RigFileError as exc:
            raise pytest.UsageError(f"--rig: {exc}") from None


def pytest_unconfigure(config: pytest.Config) -> None:
    """Give back the process default backend that ``--backend`` replaced."""
    end = config.stash.get(_END_SESSION_BACKEND_KEY, None)
    if end is not None:
        del config.stash[_END_SESSION_BACKEND_KEY]
        end()


def pytest_sessionstart(session: pytest.Session) -> None:
    """Before a ``--backend=pi`` session: lock the rig and self-test its jumpers."""
    if "pi" in session.config.stash.get(BACKENDS_KEY, []):

        start_pi_session(session.config, scale=_default_scale(session.config))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test that uses a backend once per selected backend."""
    if "gpio_backend_name" in metafunc.fixturenames:
        names = metafunc.config.stash[BACKENDS_KEY]
        metafunc.parametrize("gpio_backend_name", names, ids=names, scope="session")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests that use a backend, so a run can select them (``-m uses_backend``)."""
    for item in items:
        if "gpio_backend_name" not in getattr(item, "fixturenames", ()):
            continue
        callspec = getattr(item, "callspec", None)
        name = callspec.params.get("gpio_backend_name") if callspec else None
        allowed = [m.args for m in item.iter_markers("backends")]
        # A test restricted to other backends is not "using" this one: leaving it
        # unmarked keeps `-m uses_backend` runs free of its skips.
        if all(name in args for args in allowed):
            item.add_marker("uses_backend")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip (or with ``GPIOSIM_REQUIRE=1``, fail) ``gpio_sim`` tests without gpio-sim."""
    if item.get_closest_marker("gpio_sim") is None:
        return

    try:
        check_environment()
    except SimChipError as exc:
        if os.environ.get("GPIOSIM_REQUIRE") == "1":
            pytest.fail(f"GPIOSIM_REQUIRE=1 but gpio-sim is unavailable: {exc}", pytrace=False)
        pytest.skip(f"gpio-sim unavailable: {exc}")


@pytest.fixture(scope="session")
def gpio_backend_name(request: pytest.FixtureRequest) -> str:
    """The name of the backend this test runs on (parametrized by ``--backend``)."""
    name: str = request.param
    return name


def _allowed(request: pytest.FixtureRequest, name: str) -> None:
    for marker in request.node.iter_markers("backends"):
        if name not in marker.args:
            pytest.skip(f"runs only on backends {', '.join(marker.args)}, not {name!r}")


@pytest.fixture
def backend(request: pytest.FixtureRequest, gpio_backend_name: str) -> Iterator[Backend]:
    """A fresh backend for this test, also made the current one (``pins`` use it)."""
    _allowed(request, gpio_backend_name)
    try:
        made = load_backend(gpio_backend_name)
    except BackendNotFoundError:
        raise
    except GpioError as exc:
        pytest.fail(f"backend {gpio_backend_name!r} is not usable here: {exc}", pytrace=False)
    try:
        with use_backend(made):
            yield made
    finally:
        made.close()


@pytest.fixture
def gpio_backend(backend: Backend) -> Backend:
    """Alias of ``backend``."""
    return backend


@pytest.fixture
def harness(backend: Backend) -> Harness:
    """The backend's test side (drive inputs, read outputs); skips on real hardware."""
    h = backend.harness
    if h is None:
        pytest.skip(f"the {backend.name!r} backend has no harness: drive it through a rig")
    return h


def _default_scale(config: pytest.Config) -> float:
    scale = config.stash[_SCALE_KEY]
    if scale is not None:
        return scale
    return default_scale()


@pytest.fixture
def gpio_time(request: pytest.FixtureRequest, backend: Backend) -> Iterator[BackendTime]:
    """Sleep and wait on the backend's clock: virtual on the fake, scaled real elsewhere.

    On the fake backend it holds the virtual clock for the test, so time moves only
    when the test sleeps or waits (or itself blocks in a wait), never behind its back.
    """
    with BackendTime(backend, scale=_default_scale(request.config)) as bt:
        yield bt


@pytest.fixture
def virtual_clock(backend: Backend) -> object:
    """The fake backend's virtual clock; skips on real-time backends."""
    if not backend.clock.virtual:
        pytest.skip(f"needs virtual time; the {backend.name!r} backend runs in real time")
    return backend.clock


#: The post's programs: the button on pins.pin(0), the LED on pins.pin(1).
DEFAULT_SIGNALS = (Signal("button", "GPIO17", "input"), Signal("led", "GPIO18", "output"))
_RIGS_KEY = pytest.StashKey[list[Rig]]()


@pytest.fixture
def rig_signals(request: pytest.FixtureRequest) -> Sequence[Signal]:
    """The signals the ``rig`` fixture names: from ``--rig FILE`` if given, else the post's
    button (GPIO17, input) and LED (GPIO18, output). Override it to name your own."""
    return request.config.stash.get(_RIG_SIGNALS_KEY, DEFAULT_SIGNALS)


@pytest.fixture
def rig(
    request: pytest.FixtureRequest, backend: Backend, rig_signals: Sequence[Signal]
) -> Iterator[Rig]:
    """A started rig on the backend: drive inputs, observe outputs, record transitions.

    When the test fails, its record is shown as a timing diagram in the report and
    written as VCD (see ``--gpio-trace-dir``).
    """
    made = Rig(backend, rig_signals, scale=_default_scale(request.config))
    request.node.stash[_RIGS_KEY] = [*request.node.stash.get(_RIGS_KEY, []), made]
    with made:
        yield made


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach a failing test's rig record: a text timing diagram of what followed the
    rig's last mark (the failing example; else the program's start), and a VCD file of
    the whole record."""
    report = yield
    rigs = item.stash.get(_RIGS_KEY, [])
    if report.failed and rigs and call.when == "call":
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in item.nodeid)
        if len(safe) > 200:  # a file name has at most 255 bytes
            safe = f"{safe[:183]}-{hashlib.sha256(safe.encode()).hexdigest()[:16]}"
        for i, made in enumerate(rigs):
            record = made.transitions()
            name = f"{safe}{'-' + str(i) if i else ''}.vcd"
            written = write_trace(item.config, name, record, made.initial_levels())
            report.sections.append(("gpiosim rig trace", f"{trace_since_mark(made)}\n{written}"))
    return report


@pytest.fixture
def sim_chip(request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh 8-line gpio-sim chip for the test (needs gpio-sim: see the gpio_sim marker)."""
    try:
        check_environment()
    except SimChipError as exc:
        if os.environ.get("GPIOSIM_REQUIRE") == "1":
            pytest.fail(f"GPIOSIM_REQUIRE=1 but gpio-sim is unavailable: {exc}", pytrace=False)
        pytest.skip(f"gpio-sim unavailable: {exc}")
    with SimChip(8, label="gpiorig-test") as chip:
        yield chip


#: Hypothesis settings per backend: many exact examples on the fake's virtual time,
#: few on real time (each step takes real, scaled seconds there).


@pytest.fixture
def gpio_hypothesis_settings(backend: Backend) -> object:
    """Hypothesis settings for this backend: the profile ``gpiosim-<backend>``, if any.

    The profiles are registered by the plugin and can be loaded with
    ``--hypothesis-profile=gpiosim-fake`` too; ``GPIOSIM_EXAMPLES`` overrides the count.
    """
    from hypothesis import HealthCheck, settings

    register_hypothesis_profiles()
    name = f"gpiosim-{backend.name}"
    try:
        chosen = settings.get_profile(name)
    except Exception:
        chosen = settings.get_profile("gpiosim-sim")
    examples = os.environ.get("GPIOSIM_EXAMPLES")
    return settings(
        chosen,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        max_examples=int(examples) if examples else chosen.max_examples,
    )


#: ``--gpio-replay`` results, by test: (examples replayed, failed).
_REPLAYS_KEY = pytest.StashKey[dict[str, tuple[int, bool]]]()


@pytest.fixture
def gpio_given(
    request: pytest.FixtureRequest, backend: Backend, gpio_hypothesis_settings: object
) -> object:
    """``hypothesis.given`` for examples that run inside this test, on its program.

    Hypothesis refuses ``@given`` on a test with function-scoped fixtures (they are
    made once per test, not per example); decorate a function inside the test instead
    and call it. Each example then runs on the program the test started (reset it at
    the top of the function, or start one per example). Settings are the backend's
    (``gpio_hypothesis_settings``); the example database is keyed by the test, not the
    backend, so ``--backend=sim --gpio-replay=fake`` replays what the fake found::

        def test_doorbell(app_runner, rig, gpio_given):
            app_runner(DOORBELL).wait_ready(rig.lines())

            @gpio_given(steps=edge_sequences())
            def example(steps):
                ...
            example()
    """

    node = request.node
    results = request.config.stash.setdefault(_REPLAYS_KEY, {})

    def report(replayed: int, failed: bool) -> None:
        results[node.nodeid] = (replayed, failed)

    return GpioGiven(
        gpio_hypothesis_settings,  # type: ignore[arg-type]
        test_id=test_id(node),
        backend=backend.name,
        replay=request.config.getoption("--gpio-replay"),
        report=report,
    )


def pytest_report_header(config: pytest.Config) -> str | None:
    """Say when this run replays another backend's examples."""
    replay = config.getoption("--gpio-replay", None)
    if replay is None:
        return None
    return (
        f"gpiosim: replaying the failing examples the {replay} backend found "
        "(tests that use gpio_given; no new examples)"
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """List what ``--gpio-replay`` replayed, test by test, and how it went."""
    config = terminalreporter.config
    results = config.stash.get(_REPLAYS_KEY, {})
    replay = config.getoption("--gpio-replay", None)
    if replay is None or not results:
        return
    terminalreporter.section(f"gpiosim: examples the {replay} backend found, replayed")
    for nodeid, (count, failed) in sorted(results.items()):
        how = "fails here too" if failed else "passes here"
        terminalreporter.write_line(f"{nodeid}: {count} example(s): {how}")


@pytest.fixture
def app_runner(backend: Backend) -> Iterator[Callable[..., AppRunner]]:
    """Start programs under test; every one still running is stopped at teardown.

    Call it as ``app_runner(path, args=(), **options)``; see :class:`AppRunner`.
    """
    started: list[AppRunner] = []

    def start(path: str | Path, args: Sequence[str] = (), **options: object) -> AppRunner:
        runner = AppRunner(path, args, backend=backend, **options)  # type: ignore[arg-type]
        started.append(runner)
        return runner.start()

    yield start
    errors = []
    for runner in reversed(started):
        try:
            runner.stop()
        except GpioError as exc:
            errors.append(str(exc))
    if errors:
        pytest.fail("; ".join(errors), pytrace=False)
