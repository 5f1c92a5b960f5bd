# SPDX-License-Identifier: GPL-2.0-or-later
"""Declared state machines: tables, refusals, history."""
import pytest
from twisted.internet import task

from cti.statemachine import HISTORY, InvalidTransition, Table

PHONE = Table("phone", initial="idle", transitions=[
    ("idle", "ring", "ringing"),
    ("ringing", "answer", "talking"),
    ("talking", "hold", "held"),
    ("held", "retrieve", "talking"),
    ("talking", "flash", "="),
    ("*", "hangup", "idle"),
])


def test_transitions_follow_the_table_and_are_recorded():
    clock = task.Clock()
    changes = []
    m = PHONE.machine(clock, "msiB1C1", on_change=lambda m, t: changes.append(t.target))
    m.fire("ring", ani="5551234")
    clock.advance(3)
    m.fire("answer")
    m.fire("flash")
    assert m.state == "talking" and m.since == 3
    assert changes == ["ringing", "talking", "talking"]
    first = m.history[0]
    assert (first.source, first.event, first.target, first.detail) == (
        "idle", "ring", "ringing", {"ani": "5551234"})
    assert m.describe_history()[0] == "0.000 idle --ring--> ringing ani=5551234"


def test_any_state_rule_and_specific_rules():
    m = PHONE.machine(task.Clock())
    for event in ("ring", "answer", "hold", "hangup"):
        m.fire(event)
    assert m.state == "idle"
    assert PHONE.states == {"idle", "ringing", "talking", "held"}


def test_an_event_the_table_does_not_allow_is_refused_loudly():
    m = PHONE.machine(task.Clock(), "msiB1C1")
    with pytest.raises(InvalidTransition) as e:
        m.fire("answer")
    assert str(e.value) == ("phone msiB1C1: event 'answer' is not allowed in state 'idle' "
                            "(allowed: hangup, ring)")
    assert m.state == "idle" and not m.history
    assert m.fire_if("answer") is None


def test_history_is_a_ring():
    m = PHONE.machine(task.Clock())
    for _ in range(HISTORY):
        m.fire("ring")
        m.fire("hangup")
    assert len(m.history) == HISTORY


def test_a_table_declaring_a_move_twice_is_refused():
    with pytest.raises(ValueError, match="declared twice"):
        Table("t", "a", [("a", "x", "b"), ("a", "x", "c")])
