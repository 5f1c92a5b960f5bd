# SPDX-License-Identifier: GPL-2.0-or-later
"""The call layer's one error hierarchy, and the edge that turns it into
the protocol's errors: what a client sees when the domain refuses."""
import pytest
from twisted.internet import defer, task

from cti.protocol.server import Hub
from cti.protocol.services import ERRORS, Field, Service
from cti.server import edge
from cti.server.errors import (
    ACDError,
    Barred,
    CallError,
    CallFailed,
    InvalidField,
    MissingField,
    NoSuchObject,
    OutboundFailed,
    TalkError,
    exactly_one,
)
from tests.test_protocol import USERS, Wire


def test_every_condition_the_call_layer_raises_is_a_documented_protocol_code():
    assert edge.codes() <= set(ERRORS)
    assert {"no_such_object", "invalid_state", "queue_empty", "barred"} <= edge.codes()


def test_the_families_of_the_issue_sit_under_one_base():
    for family in (ACDError, TalkError, OutboundFailed, Barred):
        assert issubclass(family, CallError)
    assert issubclass(OutboundFailed, CallFailed)


def test_a_condition_outside_the_acds_vocabulary_is_a_bug_said_at_once():
    with pytest.raises(ValueError, match="not a condition of the ACD: 'forbidden'"):
        ACDError("forbidden", "no")


def test_the_edge_keeps_code_message_and_detail():
    error = edge.refusal(NoSuchObject("no call 'c9' (it may have ended)", object="call",
                                      id="c9"))
    assert error.body("HoldCall") == {"code": "no_such_object", "service": "HoldCall",
                                      "message": "no call 'c9' (it may have ended)",
                                      "object": "call", "id": "c9"}
    failed = edge.refusal(OutboundFailed("dtiB1T3", "busy"))
    assert failed.body() == {"code": "call_failed", "reason": "busy",
                             "message": "dtiB1T3: outbound call failed: busy"}
    assert edge.refusal(Barred("hours", "closed now", field="number")).body() == {
        "code": "barred", "message": "closed now", "reason": "hours", "field": "number"}
    assert edge.refusal(KeyError("x")) is None


def test_exactly_one_names_what_is_missing_or_too_much():
    names = ("number", "agent")
    assert exactly_one("MakeCall", {"number": "5551234", "agent": None}, names,
                       field="number") == "number"
    with pytest.raises(MissingField, match="MakeCall: give exactly one of number and agent"):
        exactly_one("MakeCall", {"number": None, "agent": None}, names, field="number")
    with pytest.raises(InvalidField) as info:
        exactly_one("MakeCall", {"number": "1", "agent": "1001"}, names, field="number")
    assert info.value.detail == {"field": "number"}


@pytest.fixture
def hub():
    hub = Hub(task.Clock(), USERS)
    hub.refusal = edge.refusal

    def refuse(request, params):
        raise NoSuchObject(f"no call {params['call']!r}", object="call", id=params["call"])

    def refuse_later(request, params):
        return defer.fail(InvalidField("timeoutS must be positive", field="timeoutS"))

    def crash(request, params):
        raise KeyError("bug")

    def undeclared(request, params):
        raise TalkError("no conference room for 3 parties")
    call = {"call": Field(str)}
    hub.catalogue.add(Service("Refuse", {"agent"}, fields=call,
                              errors=("no_such_object",)), refuse)
    hub.catalogue.add(Service("RefuseLater", {"agent"}, fields=call), refuse_later)
    hub.catalogue.add(Service("Crash", {"agent"}, fields=call), crash)
    hub.catalogue.add(Service("Undeclared", {"agent"}, fields=call), undeclared)
    return hub


def test_a_handler_refusing_with_a_call_error_answers_the_client_its_code(hub):
    wire = Wire(hub)
    wire.login("alice", "agent")
    [now] = wire.request(2, "Refuse", call="c7")
    assert now.kind == "error" and now.body == {
        "code": "no_such_object", "service": "Refuse", "message": "no call 'c7'",
        "object": "call", "id": "c7"}
    [later] = wire.request(3, "RefuseLater", call="c7")
    assert later.body["code"] == "invalid_field" and later.body["field"] == "timeoutS"
    [crashed] = wire.request(4, "Crash", call="c7")
    assert crashed.body["code"] == "internal_error" and "incident" in crashed.body


def test_a_condition_the_service_does_not_declare_is_an_internal_error(hub):
    """The declared errors are a promise to client writers: a handler that
    lets out a condition its service does not declare has failed."""
    wire = Wire(hub)
    wire.login("alice", "agent")
    [answer] = wire.request(2, "Undeclared", call="c7")
    assert answer.body["code"] == "internal_error" and "incident" in answer.body
