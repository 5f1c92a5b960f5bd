# SPDX-License-Identifier: GPL-2.0-or-later
"""Bad input never harms anyone else: every body is checked whole before
anything acts on it, every request gets exactly one answer whatever fails
inside, and the session goes on.  Logs escape what clients send and do not
let one source flood them."""
import json

import pytest
from twisted.internet import defer, task
from twisted.logger import LogLevel, globalLogPublisher

from cti import logs
from cti.protocol import bodies
from cti.protocol.gate import Gate, Limits
from cti.protocol.server import MAX_PENDING, Hub
from cti.protocol.services import Field, Service
from tests.test_protocol import USERS, Wire, error_of, raw_frame


@pytest.fixture
def clock():
    return task.Clock()


@pytest.fixture
def hub(clock):
    hub = Hub(clock, USERS)
    hub.catalogue.add(Service("Echo", {"agent"}, fields={
        "text": Field(str, False), "data": Field(dict, False), "n": Field(int, False),
        "x": Field(float, False), "items": Field(list, False)}),
        lambda request, params: {"echo": {k: v for k, v in params.items() if v is not None}})
    return hub


@pytest.fixture
def wire(hub):
    w = Wire(hub)
    w.login()
    return w



def send_raw(wire, invoke_id, text):
    """A request whose JSON is written by hand (what json.dumps would not
    write: lone surrogates, NaN, huge numbers)."""
    wire.send(raw_frame(1, invoke_id, text.encode()))
    return wire.read()


def alive(wire, invoke_id=99):
    [reply] = wire.request(invoke_id, "Heartbeat")
    return reply.kind == "response"


@pytest.mark.parametrize("params, field, where", [
    ('{"text": "\\ud800"}', "text", "params.text"),
    ('{"text": "ok \\udfff"}', "text", "params.text"),
    ('{"data": {"name": "\\ud83d"}}', "data", "params.data.name"),
    ('{"data": {"\\ud800": 1}}', "data", "params.data"),
    ('{"items": ["a", "\\udc00"]}', "items", "params.items[1]"),
])
def test_a_lone_surrogate_anywhere_is_refused_naming_the_field(wire, tracebacks, params, field,
                                                               where):
    code, item = error_of(send_raw(wire, 2, f'{{"service":"Echo","params":{params}}}'))
    assert code == "invalid_field" and item.body["field"] == field
    assert item.body["message"].startswith(where) and "lone surrogate" in item.body["message"]
    assert alive(wire) and tracebacks == []


def test_a_real_pair_of_surrogates_is_a_character(wire):
    [reply] = send_raw(wire, 2, '{"service":"Echo","params":{"text":"\\ud83d\\ude00"}}')
    assert reply.body["result"]["echo"]["text"] == "\U0001F600"


@pytest.mark.parametrize("value, shown", [
    ("NaN", "NaN"), ("Infinity", "Infinity"), ("-Infinity", "-Infinity"), ("1e400", "1e400"),
    ("9007199254740992", "9007199254740992"), ("-9007199254740992", "-9007199254740992"),
    ("1" * 5000, "11111111111111111111..."),
])
def test_numbers_no_client_could_hold_are_refused(wire, tracebacks, value, shown):
    code, item = error_of(send_raw(wire, 2, f'{{"service":"Echo","params":{{"n":{value}}}}}'))
    assert code == "invalid_field" and item.body["field"] == "n"
    assert f"the number {shown} is not one a client can hold" in item.body["message"]
    assert alive(wire) and tracebacks == []


def test_the_largest_safe_integers_pass(wire):
    [reply] = wire.request(2, "Echo", n=bodies.MAX_INT)
    assert reply.body["result"]["echo"]["n"] == 2 ** 53 - 1


def test_nesting_too_deep_for_the_decoder_is_bad_json_and_the_session_goes_on(wire, tracebacks):
    deep = "[" * 100_000 + "]" * 100_000
    code, item = error_of(send_raw(wire, 2, f'{{"service":"Echo","params":{{"items":{deep}}}}}'))
    assert code == "bad_json" and "nests" in item.body["message"]
    assert item.invoke_id == 2 and alive(wire) and tracebacks == []


def test_nesting_past_the_limit_is_refused_with_its_path(wire):
    data = {}
    inner = data
    for _ in range(20):
        inner["k"] = {}
        inner = inner["k"]
    code, item = error_of(wire.request(2, "Echo", data=data))
    assert code == "invalid_field" and item.body["field"] == "data"
    assert item.body["message"].startswith("params.data.k.k")
    assert item.body["message"].endswith(": objects and arrays nest deeper than 16 levels")


def test_field_lengths_are_bounded(wire):
    code, item = error_of(wire.request(2, "Echo", text="x" * 257))
    assert code == "invalid_field" and "257 characters, over the 256 allowed" in \
        item.body["message"]
    code, item = error_of(wire.request(3, "Echo", items=list(range(65))))
    assert code == "invalid_field" and "65 items" in item.body["message"]
    code, item = error_of(wire.request(4, "Echo", data={"notes": "y" * 70_000}))
    assert code == "invalid_field" and "over the 65,536 allowed" in item.body["message"]


def test_keys_are_quoted_in_messages_so_no_input_reaches_them_raw(wire):
    code, item = error_of(wire.request(2, "Echo", data={"a\nb\x1b[2J": "\ud800"}))
    assert item.body["message"].startswith('params.data["a\\nb\\u001b[2J"]: ')


def test_a_bad_service_name_is_answered(wire, tracebacks):
    code, item = error_of(send_raw(wire, 2, '{"service":"\\ud800"}'))
    assert code == "invalid_field" and item.body["field"] == "service"
    code, item = error_of(wire.request(3, "x" * 300))
    assert code == "unknown_service"
    assert alive(wire) and tracebacks == []


# -- exactly one answer -----------------------------------------------------------------
def test_a_result_that_cannot_be_sent_is_an_internal_error_with_an_incident(hub, wire,
                                                                          tracebacks):
    hub.catalogue.add(Service("Broken", {"agent"}), lambda r, p: {"oops": "\ud800"})
    code, item = error_of(wire.request(2, "Broken"))
    assert code == "internal_error" and item.body["incident"] in item.body["message"]
    [logged] = tracebacks
    assert logged["incident"] == item.body["incident"]
    assert alive(wire)
    assert wire.request(2, "Heartbeat")[0].kind == "response"     # invoke id 2 is free


def test_a_deferred_failing_later_is_answered_once(hub, wire, tracebacks):
    pending = defer.Deferred()
    hub.catalogue.add(Service("Later", {"agent"}), lambda r, p: pending)
    assert wire.request(2, "Later") == []
    pending.errback(KeyError("gone"))
    code, item = error_of(wire.read())
    assert code == "internal_error" and item.invoke_id == 2
    assert len(tracebacks) == 1 and alive(wire)


def test_an_event_that_cannot_be_sent_is_dropped_and_others_still_get_theirs(hub, wire,
                                                                           tracebacks):
    hub.provide_snapshots("queue", lambda q: {"queue": q})
    other = Wire(hub)
    other.login("sue", "supervisor")
    for w in (wire, other):
        assert w.request(5, "MonitorStart", object="queue", id="sales")[0].kind == "response"
    hub.publish("queue", "sales", "Broken", {"x": float("nan")})
    hub.publish("queue", "sales", "Fine", {"x": 1})
    assert [m.body["event"] for m in wire.read()] == ["Fine"]
    assert [m.body["event"] for m in other.read()] == ["Fine"]
    assert len(tracebacks) == 2 and alive(wire)


def test_too_many_outstanding_requests_are_refused_not_queued(hub, wire):
    hub.catalogue.add(Service("Never", {"agent"}), lambda r, p: defer.Deferred())
    frames = b"".join(raw_frame(1, i, {"service": "Never"}) for i in range(1, MAX_PENDING + 2))
    wire.send(frames)
    [item] = wire.read()
    assert item.invoke_id == MAX_PENDING + 1 and item.body["code"] == "too_many_requests"


# -- logs -----------------------------------------------------------------------------------
def test_text_logs_escape_control_characters():
    seen = []
    observer = logs.escaping(seen.append)
    observer({"log_format": "login refused for {user}", "user": "x\n2026 fake line\x1b[2J",
              "log_level": LogLevel.info})
    assert seen[0]["user"] == "x\\n2026 fake line\\x1b[2J"
    assert seen[0]["log_format"] == "login refused for {user}"


def test_the_throttle_lets_a_burst_through_then_counts_what_it_drops(clock):
    throttle = logs.Throttle(clock, burst=3, period_s=60)
    assert [throttle("10.0.0.1", "login refused") for _ in range(5)] == [0, 0, 0, None, None]
    assert throttle("10.0.0.2", "login refused") == 0                # another source
    assert throttle("10.0.0.1", "session closed") == 0              # another kind
    clock.advance(60)
    assert throttle("10.0.0.1", "login refused") == 2               # the two dropped


def test_a_flood_of_bad_logins_logs_a_bounded_number_of_lines(clock):
    hub = Hub(clock, USERS, gate=Gate(clock, Limits(
        max_connections_per_source=1000, max_unauthenticated=1000,
        max_unauthenticated_per_source=1000)))
    lines = []
    globalLogPublisher.addObserver(lines.append)
    try:
        for i in range(500):                              # 100 refused, then locked out
            Wire(hub).request(1, "Login", user=f"u{i}", password="x", role="agent")
        clock.advance(60)
        Wire(hub).request(1, "Login", user="last", password="x", role="agent")
    finally:
        globalLogPublisher.removeObserver(lines.append)
    logins = [e for e in lines if "login" in e.get("log_format", "")]
    assert len(logins) == 20 + 20 + 1                     # 20 a minute each, of both kinds
    assert logins[-1]["suppressed"] == 400 - 20           # the locked-out ones not logged


def test_json_bodies_round_trip_what_the_checks_let_through():
    body = {"service": "Echo", "params": {"data": {"é": "ü", "list": [1, 2.5, None, True]}}}
    assert bodies.decode(json.dumps(body).encode()) == body
    bodies.check(body)


# -- every object of a kind, a page at a time ---------------------------------------------
def test_snapshots_of_every_object_come_in_pages_that_fit_a_frame(clock):
    from cti.protocol.client import ClientProtocol
    from cti.protocol.server import PAGE_BYTES, PAGE_ITEMS

    hub = Hub(clock, USERS)
    calls = {f"c{i}": {"call": f"c{i}", "data": {"notes": "x" * 3000}} for i in range(1, 1201)}
    hub.provide_snapshots("call", calls.get, lambda: list(calls))
    sup = Wire(hub)
    sup.login("sue", "supervisor")
    [reply] = sup.request(2, "Snapshot", object="call", id="*")
    first = reply.body["result"]
    assert len(first["snapshot"]) < PAGE_ITEMS and first["next"] == first["snapshot"][-1]["call"]
    assert len(json.dumps(first).encode()) < PAGE_BYTES + 4096
    del calls[first["next"]]                          # the page's last call ends meanwhile
    [reply] = sup.request(3, "Snapshot", object="call", id="*", after=first["next"])
    assert reply.body["result"]["snapshot"][0]["call"] == f"c{len(first['snapshot']) + 1}"
    client = ClientProtocol(clock)                    # the library reads every page
    client.call = lambda service, **params: defer.succeed(
        hub.dispatch(sup.session, 9, {"service": service, "params": params}).result)
    everything = client.snapshot_all("call").result
    assert [c["call"] for c in everything] == list(calls)
    code, _ = error_of(sup.request(4, "Snapshot", object="call", id="c5", after="c1"))
    assert code == "invalid_field"


def test_a_calls_attached_data_is_bounded_in_total():
    from cti.server.core.data import MAX_ATTACHED
    from tests.centre import Centre
    from tests.test_scope import caller_in_the_ivr

    centre = Centre()
    client, call = caller_in_the_ivr(centre)
    chunk = {f"k{j}": "y" * 20_000 for j in range(3)}           # 60 KB: fits once
    centre.call(client.call("SetCallData", call=call, data=chunk))
    more = {f"m{j}": "y" * 20_000 for j in range(3)}
    with pytest.raises(Exception) as e:
        centre.call(client.call("SetCallData", call=call, data=more))
    assert e.value.code == "invalid_field" and e.value.body["field"] == "data"
    assert f"over the {MAX_ATTACHED:,} a call may carry" in str(e.value)
    assert set(centre.center.calls[call].call.data) == set(chunk)     # nothing half-merged
    sup = centre.client()
    centre.call(sup.login("sup", "1234", "supervisor"))
    assert centre.call(sup.call("Snapshot", object="call", id="*"))["snapshot"]
