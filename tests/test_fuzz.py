# SPDX-License-Identifier: GPL-2.0-or-later
"""The protocol under fuzzing (hypothesis, derandomized and bounded): every
request of every role, with hostile parameters and bodies and frames that
are not requests, against the whole server with calls in every phase.
Whatever comes, each request gets exactly one answer, nothing is a
traceback or an internal error, the sessions go on, and once the callers
hang up nothing is left behind: no call, no busy agent, no busy line, every
call with its record.  And the ghost-call class: text no encoder can write
in every string field of every service is refused and leaves nothing."""
import json
import os

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from cti.protocol.server import LOGIN_MAX_BODY
from cti.storage.models import CallRecord
from drivers.errors import SimulatorError
from tests.conftest import logged_tracebacks
from tests.fuzz import Scene, frame, frames


def end_every_call(scene):
    """Every outside party hangs up (as its call reaches it); time runs
    until the dust settles.  What the sweeps had to put right: a release
    that left something behind (nothing should be)."""
    c = scene.centre
    for _ in range(12):
        for name in c.center.channels.by_name:
            far = c.sim.endpoint(name) if name.startswith(("dtiB1T", "dxxxB1C")) else None
            try:
                if far is not None and far.state == "ringing":
                    far.abandon()
                elif far is not None and far.state in ("seized", "connected"):
                    far.hangup()
            except SimulatorError:            # nothing to hang up after all
                pass
        scene.run(5000)                   # up to a minute: the longest login delay
    fixed = c.center.sweep.run()
    scene.run(10_000)
    fixed += c.center.sweep.run()     # found twice: put right (there should be none)
    fixed += c.center.acd.sweep()
    scene.run(1000)
    return fixed


def assert_nothing_left(scene):
    c = scene.centre.center
    assert not c.calls and not c.model.calls, (list(c.calls), list(c.model.calls))
    assert not c.dialer.outs and not c.dialer.by_trunk
    assert [a.id for a in c.acd.agents.values() if a.state in ("busy", "reserved")] == []
    busy = {n: ch.state for n, ch in c.channels.by_name.items()
            if not n.startswith("msi") and ch.state not in ("idle", "in_service")}
    assert busy == {}, busy
    ended = {r.call_id for r in scene.centre.records if isinstance(r, CallRecord)}
    assert {"c1", "c2", "c3"} <= ended                  # the scene's three callers


#: Examples of 40 frames each: about 15 s in `make test`; FUZZ_EXAMPLES=5000 for a
#: deeper run by hand (bench/fuzz.py measures a million frames).
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck), phases=[Phase.generate])
@given(st.data())
def test_every_request_gets_exactly_one_answer_and_nothing_is_left(data):
    with logged_tracebacks() as seen:     # per example: a fixture would span them all
        scene = Scene()
        for _ in range(40):
            role, raw, ids = data.draw(frames(scene))
            if role == "anonymous" and len(raw) > 10 + LOGIN_MAX_BODY:
                ids = ()                        # before login: refused, the session closed
            scene.send(role, raw, ids)
            scene.collect()
            if scene.peers["anonymous"].session.closed:
                scene.reopen("anonymous")
        assert end_every_call(scene) == []
        assert scene.audit() == {}
        assert scene.internal_errors() == []
        assert [e.get("log_format") for e in seen] == []
        for role in ("flow", "agent", "supervisor", "admin"):
            if not scene.peers[role].session.closed:       # Logout may have closed one
                invoke_id = scene.next_id(role)
                scene.send(role, frame(invoke_id, '{"service":"Heartbeat"}'), (invoke_id,))
        scene.collect()
        assert scene.audit() == {}
        assert_nothing_left(scene)


def string_fields(catalogue):
    """(service, field, a role allowed) for every string, array and object
    field of every service."""
    for service in catalogue.services():
        for name, field in service.fields.items():
            if field.type in (str, list, dict):
                yield service, name, sorted(service.roles)[0]


def test_unencodable_text_in_every_string_field_is_refused_and_leaves_nothing(tracebacks):
    scene = Scene()
    hub = scene.centre.hub
    for service, name, role in string_fields(hub.catalogue):
        for value in ('"\\ud800"', '["\\udfff"]', '{"k": "\\ud83d"}', '{"\\ud800": 1}'):
            params = {n: "c1" for n, f in service.fields.items() if f.type is str and f.required}
            params[name] = "@value@"
            text = json.dumps({"service": service.name, "params": params}).replace(
                '"@value@"', value)
            invoke_id = scene.next_id(role)
            scene.send(role, frame(invoke_id, text), (invoke_id,))
            scene.collect()
            [(kind, _, body)] = [r for r in scene.peers[role].received if r[1] == invoke_id]
            assert (kind, body["code"], body.get("field")) == ("error", "invalid_field", name), \
                (service.name, name, value, body)
    assert end_every_call(scene) == []
    assert scene.audit() == {} and tracebacks == []
    assert_nothing_left(scene)
    admin = scene.peers["admin"]
    for kind in ("call", "agent", "queue", "device"):
        invoke_id = scene.next_id("admin")
        scene.send("admin", frame(invoke_id, json.dumps(
            {"service": "Snapshot", "params": {"object": kind, "id": "*"}})), (invoke_id,))
    scene.collect()
    answers = [r for r in admin.received if r[0] in ("response", "error")][-4:]
    assert [kind for kind, _, _ in answers] == ["response"] * 4
