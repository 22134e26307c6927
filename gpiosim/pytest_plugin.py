"""pytest plugin (entry point ``pytest11``): run GPIO tests on any backend.

``pytest --backend=fake`` (default), ``--backend=sim``, or several, comma-separated:
every test that uses the ``backend`` fixture then runs once per backend. State lives in
``config.stash`` and fixtures, never in module globals.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from gpiocore._context import set_session_backend, use_backend
from gpiocore._errors import BackendNotFoundError, GpioError
from gpiocore.backends._base import Backend, Harness
from gpiocore.backends._registry import available_backends, load_backend
from gpiosim._atomicwrite import trusted_folder
from gpiosim._rig import Rig, Signal, Transition
from gpiosim._runner import AppRunner
from gpiosim._timing import BackendTime, default_scale

__all__ = ["BACKENDS_KEY", "DEFAULT_SIGNALS", "AppRunner", "Rig", "Signal"]

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
    _check_options(config)
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
        _register_hypothesis_profiles()
    config.stash[_SCALE_KEY] = config.getoption("--gpio-time-scale")
    path = _rig_path(config)
    if path:
        # Checked once, up front: a mistake is one usage error that points at its line,
        # not an error in every test that uses the rig.
        from gpiosim._rigfile import RigFileError, load_rig_signals

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
        from gpiosim._pirig import start_pi_session

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
    from gpiosim._chip import check_environment
    from gpiosim._errors import SimChipError

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


def _check_options(config: pytest.Config) -> None:
    """Turn a bad option into one usage error before the run, naming the option."""
    scale = config.getoption("--gpio-time-scale")
    if scale is not None and not 0 < scale < 1e9:  # NaN fails this too
        raise pytest.UsageError(
            f"--gpio-time-scale must be a positive factor below 1e9, not {scale:g}: "
            "e.g. --gpio-time-scale=4"
        )
    if scale is None:
        try:
            default_scale()
        except GpioError as exc:
            raise pytest.UsageError(str(exc)) from None
    option = config.getoption("--backend")
    raw = config.getini("gpio_backend") if option is None else option
    if raw is not None and not [n for n in str(raw).split(",") if n.strip()]:
        where = "the gpio_backend ini option" if option is None else "--backend"
        raise pytest.UsageError(
            f"{where} names no GPIO backend: {raw!r}; e.g. --backend=fake or --backend=fake,sim"
        )
    rig = config.getoption("--rig")
    if rig is not None and not rig.strip():
        raise pytest.UsageError(
            f"--rig needs a rig file's path, not {rig!r}: e.g. --rig=fixtures/rigs/sim.toml"
        )
    replay = config.getoption("--gpio-replay")
    if replay is not None and replay not in available_backends():
        raise pytest.UsageError(
            f"--gpio-replay: no GPIO backend named {replay!r}; choose from "
            f"{', '.join(sorted(available_backends()))}: e.g. --gpio-replay=fake"
        )
    config.stash[_TRACES_KEY] = _trace_folder(config)


def _config_folder(config: pytest.Config) -> Path:
    """The folder pytest's own ini paths are relative to: the config file's, else the
    rootdir."""
    return config.inipath.parent if config.inipath is not None else config.rootpath


def _on_command_line(config: pytest.Config, option: str) -> bool:
    """True when ``option`` was typed (or set in ``PYTEST_ADDOPTS``), not read from the
    config file's ``addopts``."""
    import shlex

    typed = [*config.invocation_params.args]
    with contextlib.suppress(ValueError):  # pytest reports a malformed PYTEST_ADDOPTS
        typed += shlex.split(os.environ.get("PYTEST_ADDOPTS", ""))
    return any(arg == option or str(arg).startswith(option + "=") for arg in typed)


def _rig_path(config: pytest.Config) -> str | None:
    """The rig file ``--rig`` or the ``gpio_rig`` ini option names, if any.

    A path typed on the command line is relative to the working folder; one written in
    the config file (its ``addopts``, or ``gpio_rig``) is relative to that file's
    folder, as pytest takes its own ini paths, so every folder of the project finds it.
    """
    option: str | None = config.getoption("--rig")
    if option is None:
        written = str(config.getini("gpio_rig") or "").strip()
        return str(_config_folder(config) / written) if written else None
    if _on_command_line(config, "--rig"):
        return option
    return str(_config_folder(config) / option)


#: Where VCD traces go and the folder trusted on the way, or why none are written.
_TRACES_KEY = pytest.StashKey[tuple[Path, Path] | str]()
_TRACE_DIR = "results/traces"


def _trace_folder(config: pytest.Config) -> tuple[Path, Path] | str:
    """Check ``--gpio-trace-dir`` without making it: a usage error if given and not
    writable; if the default is not writable (a read-only checkout), warn once and
    write no traces."""
    option = config.getoption("--gpio-trace-dir")
    root = Path(os.path.abspath(config.rootpath))
    folder = Path(os.path.abspath(root / (option or _TRACE_DIR)))
    probe = folder
    while not os.path.lexists(probe) and probe != probe.parent:
        probe = probe.parent
    problem = None
    if not probe.is_dir():
        problem = f"{probe} is not a folder"
    elif not os.access(probe, os.W_OK | os.X_OK):
        problem = f"{probe} is not writable"
    if problem is None:
        # Below the outermost project on the way (the guest's share), no folder may be
        # a link: a guest can plant one. The rootdir may be a subfolder of that project.
        return folder, trusted_folder(folder, root if folder.is_relative_to(root) else None)
    if option is not None:
        raise pytest.UsageError(
            f"--gpio-trace-dir={option}: {problem}: pass a folder you can write"
        )
    config.issue_config_time_warning(
        pytest.PytestConfigWarning(
            f"gpiosim: no VCD traces of failing rig tests: {problem}; "
            "pass --gpio-trace-dir=DIR to write them elsewhere"
        ),
        stacklevel=2,
    )
    return f"{problem} (see --gpio-trace-dir)"


def _write_trace(
    config: pytest.Config, name: str, record: Sequence[Transition], initial: Mapping[str, bool]
) -> str:
    """Write one VCD; return the report's line: its path, or why it was not written."""
    where = config.stash.get(_TRACES_KEY, None)
    if where is None:  # pytest_configure did not run this plugin's checks
        where = _trace_folder(config)
    if isinstance(where, str):
        return f"VCD not written: {where}"
    folder, trusted = where
    try:
        from gpiosim._trace import write_vcd

        vcd = write_vcd(folder / name, record, initial, trusted=trusted)
    except ImportError:
        return "VCD not written: pyvcd is not installed (pip install pyvcd)"
    except OSError as exc:  # a folder made read-only, a link planted on the way
        return f"VCD not written: {exc}"
    return f"VCD: {vcd}"


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
            written = _write_trace(item.config, name, record, made.initial_levels())
            report.sections.append(("gpiosim rig trace", f"{rig_trace(made)}\n{written}"))
    return report


def rig_trace(rig: Rig) -> str:
    """The text trace a failing test shows: the timing diagram since the rig's last mark.

    Its time axis starts at the mark (0 s); a first line says which mark, when it was on
    the rig's record, and how many earlier transitions only the VCD file holds.
    """
    from gpiosim._trace import timing_diagram

    mark = rig.last_mark
    if mark is None:
        return timing_diagram(rig.transitions(), rig.initial_levels())
    shown = rig.transitions(since=mark)
    earlier = len(rig.transitions()) - len(shown)
    head = (
        f"since {mark.label!r} at {mark.t:.6f} s of the rig's record (0 s below); "
        f"{earlier} earlier transition{'' if earlier == 1 else 's'} in the VCD only"
    )
    diagram = timing_diagram(shown, rig.initial_levels(since=mark), start_ns=mark.t_ns)
    return f"{head}\n{diagram}"


@pytest.fixture
def sim_chip(request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh 8-line gpio-sim chip for the test (needs gpio-sim: see the gpio_sim marker)."""
    from gpiosim._chip import SimChip, check_environment
    from gpiosim._errors import SimChipError

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
HYPOTHESIS_PROFILES: dict[str, dict[str, object]] = {
    "fake": {"max_examples": 60, "stateful_step_count": 20},
    "sim": {"max_examples": 8, "stateful_step_count": 8},
    "pi": {"max_examples": 8, "stateful_step_count": 8},
}


@pytest.fixture
def gpio_hypothesis_settings(backend: Backend) -> object:
    """Hypothesis settings for this backend: the profile ``gpiosim-<backend>``, if any.

    The profiles are registered by the plugin and can be loaded with
    ``--hypothesis-profile=gpiosim-fake`` too; ``GPIOSIM_EXAMPLES`` overrides the count.
    """
    from hypothesis import HealthCheck, settings

    _register_hypothesis_profiles()
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


def _test_id(item: pytest.Item) -> str:
    """The test without its backend: one example database entry for every backend."""
    path = item.path
    with contextlib.suppress(ValueError):  # a test outside the rootdir keeps its path
        path = path.relative_to(item.config.rootpath)
    name = getattr(item, "originalname", item.name)
    callspec = getattr(item, "callspec", None)
    params = {} if callspec is None else dict(callspec.params)
    params.pop("gpio_backend_name", None)
    kept = ", ".join(
        f"{key}={value!r}" if isinstance(value, str | int | float | bool | None) else key
        for key, value in sorted(params.items())
    )
    return f"{path.as_posix()}::{name}" + (f"[{kept}]" if kept else "")


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
    from gpiosim._examples import GpioGiven

    node = request.node
    results = request.config.stash.setdefault(_REPLAYS_KEY, {})

    def report(replayed: int, failed: bool) -> None:
        results[node.nodeid] = (replayed, failed)

    return GpioGiven(
        gpio_hypothesis_settings,  # type: ignore[arg-type]
        test_id=_test_id(node),
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


def _register_hypothesis_profiles() -> None:
    try:
        from hypothesis import settings
    except ImportError:  # hypothesis is a test extra
        return
    from hypothesis.database import DirectoryBasedExampleDatabase

    # An example database of their own (hypothesis's usual place), also where the
    # `ci` profile that hypothesis loads under CI=true has none: what the fake finds
    # must be there for --gpio-replay on the kernel.
    database = DirectoryBasedExampleDatabase(os.path.join(".hypothesis", "examples"))
    for name, values in HYPOTHESIS_PROFILES.items():
        settings.register_profile(
            f"gpiosim-{name}",
            deadline=None,
            database=database,
            **values,  # type: ignore[arg-type]
        )


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
