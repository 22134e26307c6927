"""gpiocore's own decode of the kernel's edge events, checked against libgpiod's.

The cdev backend reads ``struct gpio_v2_line_event`` records straight from the line
request's fd and decodes them itself. Here the same bytes go through libgpiod's C decode
(``gpiod_edge_event_buffer_read_fd``, exported by the ``gpiod`` package's extension
module) and through gpiocore's, on the host (generated records, written into a pipe) and
on gpio-sim (records the kernel made).
"""

from __future__ import annotations

import copy
import ctypes
import os
import pickle
import struct
import time
from collections.abc import Iterator
from typing import Any

import gpiod
import pytest
from gpiod.line import Direction as GDirection
from gpiod.line import Edge as GEdge
from hypothesis import given, settings
from hypothesis import strategies as st

from gpiocore import ClosedError, Edge, EdgeEvent, EdgeType, LineSettings
from gpiocore.backends import CdevBackend, CdevLine
from gpiosim.chip import SimChip

#: struct gpio_v2_line_event: timestamp_ns, id, offset, seqno, line_seqno, padding[6].
RECORD = struct.Struct("<QIIII6I")
U32 = st.integers(0, 2**32 - 1)
RECORDS = st.lists(
    st.tuples(
        st.integers(0, 2**64 - 1),  # timestamp_ns
        st.sampled_from([1, 2]),  # id: GPIO_V2_LINE_EVENT_RISING_EDGE / _FALLING_EDGE
        U32,  # offset
        U32,  # seqno
        U32,  # line_seqno
        st.lists(U32, min_size=6, max_size=6),  # padding, whatever it holds
    ),
    min_size=1,
    max_size=150,  # past one read's 64 events: read_edges reads on while the buffer fills
)
GPIOD_TYPES = {
    gpiod.EdgeEvent.Type.RISING_EDGE: EdgeType.RISING,
    gpiod.EdgeEvent.Type.FALLING_EDGE: EdgeType.FALLING,
}


class _Libgpiod:
    """libgpiod's C edge-event decode, through ctypes on the gpiod extension module."""

    def __init__(self) -> None:
        lib = ctypes.CDLL(gpiod._ext.__file__)
        lib.gpiod_edge_event_buffer_new.argtypes = [ctypes.c_size_t]
        lib.gpiod_edge_event_buffer_new.restype = ctypes.c_void_p
        lib.gpiod_edge_event_buffer_free.argtypes = [ctypes.c_void_p]
        read_fd = lib.gpiod_edge_event_buffer_read_fd
        read_fd.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
        lib.gpiod_edge_event_buffer_read_fd.restype = ctypes.c_int
        lib.gpiod_edge_event_buffer_get_event.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        lib.gpiod_edge_event_buffer_get_event.restype = ctypes.c_void_p
        for name, kind in (
            ("event_type", ctypes.c_int),
            ("timestamp_ns", ctypes.c_uint64),
            ("line_offset", ctypes.c_uint),
            ("global_seqno", ctypes.c_ulong),
            ("line_seqno", ctypes.c_ulong),
        ):
            getter = getattr(lib, f"gpiod_edge_event_get_{name}")
            getter.argtypes = [ctypes.c_void_p]
            getter.restype = kind
        self._lib = lib

    def decode(self, data: bytes) -> list[gpiod.EdgeEvent]:
        """The events libgpiod reads from ``data``, made as gpiod's extension makes them."""
        lib = self._lib
        count = len(data) // RECORD.size
        buffer = lib.gpiod_edge_event_buffer_new(count)
        assert buffer
        read_fd, write_fd = os.pipe()
        try:
            os.write(write_fd, data)
            assert lib.gpiod_edge_event_buffer_read_fd(read_fd, buffer, count) == count
            events = []
            for i in range(count):
                ev = lib.gpiod_edge_event_buffer_get_event(buffer, i)
                events.append(
                    gpiod.EdgeEvent(
                        lib.gpiod_edge_event_get_event_type(ev),
                        lib.gpiod_edge_event_get_timestamp_ns(ev),
                        lib.gpiod_edge_event_get_line_offset(ev),
                        lib.gpiod_edge_event_get_global_seqno(ev),
                        lib.gpiod_edge_event_get_line_seqno(ev),
                    )
                )
            return events
        finally:
            os.close(read_fd)
            os.close(write_fd)
            lib.gpiod_edge_event_buffer_free(buffer)


@pytest.fixture(scope="module")
def libgpiod() -> _Libgpiod:
    return _Libgpiod()


class _PipeRequest:
    """Stands in for a gpiod.LineRequest: its fd is a pipe the test writes records into."""

    def __init__(self) -> None:
        self.fd, self.write_fd = os.pipe()

    def release(self) -> None:
        os.close(self.fd)
        os.close(self.write_fd)


def _line_on(request: _PipeRequest, offset: int = 0) -> CdevLine:
    """A cdev line that reads its edges from the pipe of ``request``."""
    settings = LineSettings(edge=Edge.BOTH)
    return CdevLine(request, chip="gpiochip0", offset=offset, settings=settings)  # type: ignore[arg-type]


@pytest.fixture
def pipe_line() -> Iterator[tuple[CdevLine, int]]:
    request = _PipeRequest()
    line = _line_on(request)
    yield line, request.write_fd
    line.close()


def as_gpiod(event: EdgeEvent) -> tuple[Any, ...]:
    """An event's fields in gpiod's terms, to compare with a ``gpiod.EdgeEvent``."""
    return (event.type, event.timestamp_ns, event.offset, event.global_seqno, event.line_seqno)


def from_gpiod(event: gpiod.EdgeEvent) -> tuple[Any, ...]:
    return (
        GPIOD_TYPES[event.event_type],
        event.timestamp_ns,
        event.line_offset,
        event.global_seqno,
        event.line_seqno,
    )


@settings(max_examples=200, deadline=None)
@given(records=RECORDS)
def test_the_decode_matches_libgpiods_on_generated_records(
    records: list[tuple[Any, ...]], libgpiod: _Libgpiod
) -> None:
    data = b"".join(RECORD.pack(*fields[:5], *fields[5]) for fields in records)
    theirs = [from_gpiod(ev) for ev in libgpiod.decode(data)]
    request = _PipeRequest()
    line = _line_on(request)
    try:
        os.write(request.write_fd, data)
        ours = line.read_edges()
        assert line.read_edges() == []  # drained: the empty pipe answers EAGAIN
    finally:
        line.close()
    assert [as_gpiod(ev) for ev in ours] == theirs
    assert all(type(ev) is EdgeEvent for ev in ours)


class _Sink:
    """An EdgeSink that records which path each batch took."""

    def __init__(self) -> None:
        self.history: list[EdgeEvent] = []
        self.edge_append = self.history.append
        self.last_line_seqno = 0
        self.taken: list[list[EdgeEvent]] = []

    def take_edges(self, events: list[EdgeEvent]) -> None:
        self.taken.append(list(events))
        self.history.extend(events)
        self.last_line_seqno = events[-1].line_seqno


#: Batches of edges as the kernel would queue them between two drains: (how many, how
#: many line_seqnos were skipped before the batch: lost to overflow).
BATCHES = st.lists(st.tuples(st.integers(0, 70), st.integers(0, 3)), min_size=1, max_size=12)


@settings(max_examples=100, deadline=None)
@given(batches=BATCHES, kinds=st.randoms(use_true_random=False))
def test_a_selectors_drain_hands_over_every_edge_by_the_right_path(
    batches: list[tuple[int, int]], kinds: Any, libgpiod: _Libgpiod
) -> None:
    request = _PipeRequest()
    line = _line_on(request)
    sink = _Sink()
    drain = line.edge_drain(sink)
    written = b""
    seqno = 0
    try:
        for count, skipped in batches:
            data = b""
            first = seqno + skipped + 1
            for seqno in range(first, first + count):
                data += RECORD.pack(seqno * 1000, kinds.choice([1, 2]), 0, seqno, seqno, *[0] * 6)
            seqno = max(seqno, first - 1)
            os.write(request.write_fd, data)
            written += data
            before_taken, before_len = len(sink.taken), len(sink.history)
            drain()
            fast = count == 1 and skipped == 0
            # One in-sequence edge: appended straight; anything else: the pin's path.
            assert len(sink.taken) == before_taken + (0 if fast or count == 0 else 1)
            assert len(sink.history) == before_len + count
            if count:
                assert sink.last_line_seqno == seqno
        assert line.read_edges() == []  # every drain emptied the queue
    finally:
        line.close()
    expected = [from_gpiod(ev) for ev in libgpiod.decode(written)] if written else []
    assert [as_gpiod(ev) for ev in sink.history] == expected
    with pytest.raises(ClosedError, match="is closed: open it again"):
        drain()  # never reads whatever file reuses the closed request's fd number


def test_an_empty_queue_reads_as_no_edges(pipe_line: tuple[CdevLine, int]) -> None:
    line, write_fd = pipe_line
    assert line.read_edges() == []
    os.write(write_fd, RECORD.pack(7, 2, 3, 4, 5, *[0] * 6))
    [event] = line.read_edges()
    assert event == EdgeEvent(EdgeType.FALLING, 7, 3, 5, 4)
    assert not event.rising
    assert line.read_edges() == []


def test_edge_events_keep_a_frozen_dataclasss_manners() -> None:
    event = EdgeEvent(type=EdgeType.RISING, timestamp_ns=10, offset=3, line_seqno=2, global_seqno=5)
    assert event == EdgeEvent(EdgeType.RISING, 10, 3, 2, 5)
    assert hash(event) == hash(EdgeEvent(EdgeType.RISING, 10, 3, 2, 5))
    assert event != EdgeEvent(EdgeType.FALLING, 10, 3, 2, 5)
    # Equal only to its own kind: a tuple of the same fields is not an event.
    assert event != tuple(event)
    assert tuple(event) != event
    assert event.type == Edge.RISING and event.rising
    assert repr(event) == (
        "EdgeEvent(type=<EdgeType.RISING: 'rising'>, timestamp_ns=10, offset=3, "
        "line_seqno=2, global_seqno=5)"
    )
    with pytest.raises(AttributeError):
        event.timestamp_ns = 11  # type: ignore[misc]
    with pytest.raises(TypeError):
        _ = event < event  # type: ignore[operator]
    assert pickle.loads(pickle.dumps(event)) == event
    assert copy.deepcopy(event) == event
    match event:
        case EdgeEvent(EdgeType.RISING, stamp, offset):
            assert (stamp, offset) == (10, 3)
        case _:
            pytest.fail("an EdgeEvent matches by its fields in order")


# -- on gpio-sim: the kernel's own records ---------------------------------------------


def _drive(chip: Any, offset: int, levels: list[bool]) -> None:
    for level in levels:
        chip.set_pull(offset, level)
        time.sleep(0.002)  # one edge at a time: a TCG guest may merge close writes


def test_the_decode_matches_gpiods_on_the_kernels_events(
    need_sim: None, libgpiod: _Libgpiod
) -> None:
    levels = [True, False] * 6
    with SimChip(4, label="edge-decode") as chip:
        # gpiod decodes the edges of line 1, gpiocore those of line 0: the same drive.
        request = gpiod.request_lines(
            chip.dev_path,
            consumer="edge-decode-gpiod",
            config={1: gpiod.LineSettings(direction=GDirection.INPUT, edge_detection=GEdge.BOTH)},
        )
        backend = CdevBackend(chips=[chip.dev_path])
        try:
            line = backend.open_line(chip.dev_path, 0, LineSettings(edge=Edge.BOTH), "edge-decode")
            start = time.monotonic_ns()
            _drive(chip, 0, levels)
            _drive(chip, 1, levels)
            ours = line.read_edges()
            theirs: list[gpiod.EdgeEvent] = []
            while request.wait_edge_events(0.5) and len(theirs) < len(levels):
                theirs += request.read_edge_events()
            end = time.monotonic_ns()
            assert len(ours) == len(theirs) == len(levels)
            # Same kind of events, line for line: types, offsets and sequence numbers.
            assert [(ev.type, ev.line_seqno, ev.global_seqno) for ev in ours] == [
                (GPIOD_TYPES[ev.event_type], ev.line_seqno, ev.global_seqno) for ev in theirs
            ]
            assert {ev.offset for ev in ours} == {0}
            assert {ev.line_offset for ev in theirs} == {1}
            stamps = [ev.timestamp_ns for ev in ours]
            assert stamps == sorted(stamps) and start <= stamps[0] and stamps[-1] <= end
            assert ours[-1].timestamp_ns <= theirs[0].timestamp_ns  # line 0 was driven first

            # And the very bytes the kernel queued, decoded by both.
            _drive(chip, 1, levels)
            assert request.wait_edge_events(1.0)
            time.sleep(0.05)
            raw = os.read(request.fd, 64 * RECORD.size)
            pipe = _PipeRequest()
            mine = _line_on(pipe, 1)
            try:
                os.write(pipe.write_fd, raw)
                decoded = mine.read_edges()
            finally:
                mine.close()
            assert len(decoded) == len(levels)
            assert [as_gpiod(ev) for ev in decoded] == [
                from_gpiod(ev) for ev in libgpiod.decode(raw)
            ]
            line.close()
        finally:
            backend.close()
            request.release()
