"""Test tooling for gpiocore programs and backends: the in-process fake backend, its
harness and lines, the virtual clock it runs on, a conformance check for any backend,
and the hooks a test runner uses to choose the backend for a session or for one
program thread.
"""

from gpiocore._context import backend_for_this_thread as backend_for_this_thread
from gpiocore._context import set_session_backend as set_session_backend
from gpiocore.testing._clock import VirtualClock as VirtualClock
from gpiocore.testing._conformance import CONFORMANCE_CHECKS as CONFORMANCE_CHECKS
from gpiocore.testing._conformance import check_backend_conformance as check_backend_conformance
from gpiocore.testing._fake import FakeBackend as FakeBackend
from gpiocore.testing._fake import FakeHarness as FakeHarness
from gpiocore.testing._fake import FakeLine as FakeLine
from gpiocore.testing._fake import pi_header_line_names as pi_header_line_names

__all__ = [
    "CONFORMANCE_CHECKS",
    "FakeBackend",
    "FakeHarness",
    "FakeLine",
    "VirtualClock",
    "backend_for_this_thread",
    "check_backend_conformance",
    "pi_header_line_names",
    "set_session_backend",
]
