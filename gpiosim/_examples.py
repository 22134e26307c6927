"""Plain ``@given`` tests on a running program, and one example database per test.

The plugin's ``gpio_given`` fixture gives a test this module's :class:`GpioGiven`: a
``given`` that runs *inside* the test, after its fixtures have started the program, so
hypothesis's examples share the program (pytest's function-scoped fixtures are made
once per test, not per example, which is why hypothesis refuses them on an ``@given``
test itself). Its settings are the backend's profile, and its example database is keyed
by the test without its backend: what the fake found, a sim run replays.
"""

from __future__ import annotations

import functools
import hashlib
import unittest
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, final

from gpiocore import InvalidSettingError

if TYPE_CHECKING:
    from hypothesis import settings as Settings
    from hypothesis.database import ExampleDatabase

__all__ = ["GpioGiven", "keyed_database"]

_SUB_KEYS = (b".secondary", b".pareto")


def keyed_database(
    base: ExampleDatabase, test_id: str, backend: str, replay: str | None = None
) -> ExampleDatabase:
    """An example database that keeps ``test_id``'s examples apart from other tests'
    and shares them between backends.

    Every example is saved twice: for the test (any backend's run replays it) and for
    the test on ``backend`` (what that backend found). With ``replay``, only what the
    ``replay`` backend found is read, and nothing is written or deleted: replaying the
    fake's counterexample on sim leaves it in place whatever sim does.
    """
    from hypothesis.database import ExampleDatabase

    @final
    class _Keyed(ExampleDatabase):
        def __init__(self) -> None:
            super().__init__()
            self.prefix = hashlib.sha256(test_id.encode()).hexdigest()[:32].encode() + b":"
            self.replayed = 0

        def __repr__(self) -> str:
            how = f", replay={replay!r}" if replay else ""
            return f"gpiosim_examples({base!r}, {test_id!r}, {backend!r}{how})"

        def _key(self, key: bytes, found_on: str | None = None) -> bytes:
            return self.prefix + key + (b"@" + found_on.encode() if found_on else b"")

        def fetch(self, key: bytes) -> Iterable[bytes]:
            for value in base.fetch(self._key(key, replay)):
                if replay is not None and not key.endswith(_SUB_KEYS):
                    self.replayed += 1
                yield value

        def save(self, key: bytes, value: bytes) -> None:
            if replay is None:
                base.save(self._key(key), value)
                base.save(self._key(key, backend), value)

        def delete(self, key: bytes, value: bytes) -> None:
            if replay is None:
                base.delete(self._key(key), value)
                base.delete(self._key(key, backend), value)

        def _start_listening(self) -> None:
            pass

        def _stop_listening(self) -> None:
            pass

    return _Keyed()


@final
class GpioGiven:
    """``hypothesis.given`` for a test whose fixtures run a program: what the
    ``gpio_given`` fixture gives.

    Decorate a function inside the test and call it; each example calls the function
    while the test's program keeps running (reset it at the top of the function, or
    start and stop a program in it)::

        def test_doorbell(app_runner, rig, gpio_given):
            app_runner(DOORBELL).wait_ready(rig.lines())

            @gpio_given(steps=edge_sequences())
            def example(steps):
                rig.release("bell")
                ...
            example()

    Args:
        settings: the backend's hypothesis settings (``gpio_hypothesis_settings``).
        test_id: the test without its backend (the example database's key).
        backend: the backend the test runs on.
        replay: replay only what this backend found (``--gpio-replay``), or None.
        report: told ``(replayed, failed)`` after a replay.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        test_id: str,
        backend: str,
        replay: str | None = None,
        report: Callable[[int, bool], None] | None = None,
    ) -> None:
        self.settings = settings
        self.test_id = test_id
        self.backend = backend
        self.replay = replay
        self._report = report

    def __repr__(self) -> str:
        how = f" replaying {self.replay}'s examples" if self.replay else ""
        return f"<gpio_given {self.test_id} on {self.backend}{how}>"

    def with_settings(self, **changes: Any) -> GpioGiven:
        """The same, with some settings changed: ``gpio_given.with_settings(
        max_examples=5)(steps=...)`` (an ``@settings`` on the example is refused)."""
        from hypothesis import settings

        return GpioGiven(
            settings(self.settings, **changes),
            test_id=self.test_id,
            backend=self.backend,
            replay=self.replay,
            report=self._report,
        )

    def __call__(
        self, *args: Any, **kwargs: Any
    ) -> Callable[[Callable[..., object]], Callable[[], None]]:
        """Like ``hypothesis.given(...)``: strategies for the decorated function."""
        from hypothesis import Phase, given, settings

        if not args and not kwargs:
            raise InvalidSettingError(
                "gpio_given() needs strategies for the example's arguments, as given() "
                "does: e.g. gpio_given(steps=edge_sequences())"
            )

        def decorate(fn: Callable[..., object]) -> Callable[[], None]:
            if not callable(fn):
                raise InvalidSettingError(
                    f"gpio_given(...) decorates the example's function, not {fn!r}"
                )
            base = self.settings.database
            database = (
                None
                if base is None
                else keyed_database(base, self.test_id, self.backend, self.replay)
            )
            chosen = settings(self.settings, database=database)
            if self.replay is not None:
                # The fake's counterexample is already shrunk: replay it, make no new ones.
                chosen = settings(chosen, phases=[Phase.explicit, Phase.reuse])
            from hypothesis.errors import InvalidArgument

            try:
                test = given(*args, **kwargs)(chosen(fn))
            except InvalidArgument as exc:
                if "already been decorated with a settings" not in str(exc):
                    raise
                raise InvalidSettingError(
                    f"{getattr(fn, '__name__', fn)!r} has its own @settings, which would "
                    "replace the backend's: use gpio_given.with_settings(max_examples=5)"
                    "(...) instead"
                ) from None

            @functools.wraps(fn)
            def run() -> None:
                import pytest

                replayed = lambda: getattr(database, "replayed", 0)  # noqa: E731

                try:
                    test()
                except unittest.SkipTest:
                    # hypothesis skips a test it was told to run no examples of
                    if self.replay is None or replayed():
                        raise
                except BaseException as exc:
                    if self.replay is not None and replayed():
                        exc.add_note(
                            f"gpiosim: this is the failing example the {self.replay} backend "
                            f"found, replayed on {self.backend} (--gpio-replay={self.replay})"
                        )
                        if self._report is not None:
                            self._report(replayed(), True)
                    raise
                if self.replay is None:
                    return
                if not replayed():
                    pytest.skip(
                        f"--gpio-replay={self.replay}: no failing example of this test from "
                        f"the {self.replay} backend to replay: run it with "
                        f"--backend={self.replay} first (same example database)"
                    )
                if self._report is not None:
                    self._report(replayed(), False)

            return run

        return decorate
