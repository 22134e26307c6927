"""``gpiocore._types``: an edge event's type compares equal to the matching setting.

``Rising`` is the interrupt setting (``Edge.RISING``), an event's ``type`` an
``EdgeType``; ``event.type == Rising`` must be True for a rising edge, on every backend.
"""

from __future__ import annotations

import pytest

from gpiocore import Both, Edge, EdgeType, Falling, In, Rising, pins
from gpiocore.selector import Selector


def equal(a: object, b: object) -> bool:
    """``a == b``, checked both ways round (each side's ``__eq__`` is asked first once)."""
    forward, backward = a == b, b == a
    assert forward == backward, f"{a!r} == {b!r} is {forward}, the other way round {backward}"
    assert (a != b) is not forward
    return forward


def test_edge_types_equal_the_settings_of_the_same_name():
    assert equal(EdgeType.RISING, Rising)
    assert equal(EdgeType.FALLING, Falling)
    assert not equal(EdgeType.RISING, Falling)
    assert not equal(EdgeType.FALLING, Rising)
    # Both and NONE are settings, not kinds of edge: no edge type equals them (an
    # edge "matching" Both would make RISING == Both == FALLING, and hashing would break).
    for kind in EdgeType:
        assert not equal(kind, Both) and not equal(kind, Edge.NONE)
    # the enums stay two: `is` and the members' own classes are unchanged
    assert EdgeType.RISING is not Rising  # type: ignore[comparison-overlap]
    assert list(EdgeType) == [EdgeType.RISING, EdgeType.FALLING]
    assert len(Edge) == 4


def test_equal_members_hash_alike_so_dicts_and_sets_find_either():
    assert hash(EdgeType.RISING) == hash(Rising)
    assert hash(EdgeType.FALLING) == hash(Falling)
    chimes = {Rising: "ding", Falling: "dong"}
    assert chimes[EdgeType.RISING] == "ding" and chimes[EdgeType.FALLING] == "dong"
    assert EdgeType.RISING in {Rising, Falling}
    assert EdgeType.RISING not in {Falling, Both}
    assert len({Rising, EdgeType.RISING, Falling, EdgeType.FALLING}) == 2


def test_other_values_are_not_equal():
    for value in ("rising", "RISING", 1, None, True):
        assert not equal(EdgeType.RISING, value) and not equal(Rising, value)
    assert equal(EdgeType.RISING, EdgeType.RISING) and equal(Both, Both)


def test_match_on_the_setting_finds_the_event_type():
    def kind(edge_type: EdgeType) -> str:
        match edge_type:
            case Edge.RISING:
                return "press"
            case Edge.FALLING:
                return "release"
        return "?"

    assert [kind(t) for t in EdgeType] == ["press", "release"]


def _drive(harness, pin, level):
    harness.drive(pin.chip, pin.offset, level)


def test_event_type_equals_rising_on_the_backend(harness, gpio_time):
    """The README's idiom, on the fake (host) and on gpio-sim events (guest)."""
    with pins.pin(0, direction=In, interrupt=Both) as button, Selector() as selector:
        selector.add(button)
        for level in (True, False, True):
            _drive(harness, button, level)
            gpio_time.sleep(0.02)
        selector.wait(timeout=gpio_time.s(2))
        assert selector.ready is button
        events = button.edges()
        assert [e.type == Rising for e in events] == [True, False, True]
        assert [e.type == Falling for e in events] == [False, True, False]
        assert [e.type == Rising for e in events] == [e.rising for e in events]
        assert [{Rising: "press", Falling: "release"}[e.type] for e in events] == [
            "press",
            "release",
            "press",
        ]


@pytest.mark.parametrize("interrupt", [Rising, Falling])
def test_a_pin_reports_only_edges_equal_to_its_setting(harness, gpio_time, interrupt):
    with pins.pin(0, direction=In, interrupt=interrupt) as button:
        for level in (True, False, True, False):
            _drive(harness, button, level)
            gpio_time.sleep(0.02)
        gpio_time.settle()
        events = button.edges()
        assert len(events) == 2
        assert all(e.type == interrupt for e in events)
        assert all(e.type == button.interrupt for e in events)
