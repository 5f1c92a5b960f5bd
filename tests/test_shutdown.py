# SPDX-License-Identifier: GPL-2.0-or-later
"""The server stops (SIGTERM: CTServer.stopService) with calls everywhere,
in virtual time: a call talking, one queued, one in the IVR.  No new call
is taken; the call that ends within the drain time ends as any call; at
the deadline the others are cleared with cause "server shutdown", each
accounted for as such (not as abandons); the agent is logged out and
every session is told why before it is closed."""
from cti.storage.models import AgentSession, CallRecord, QueueLogEntry
from tests.centre import Centre
from tests.test_callcenter import agent_ready, ask, flow_server, names, route_request

DRAIN_S = 5


def caller(centre, trunk, dnis):
    fe = centre.sim.endpoint(trunk)
    fe.call(ani="2125550101", dnis=dnis)
    return fe


def call_on(centre, trunk):
    centre.run_until(lambda: trunk in centre.center.by_trunk, what=f"a call on {trunk}")
    return centre.center.by_trunk[trunk].id


def test_a_stopping_server_drains_then_clears_its_calls_and_closes_its_sessions():
    centre = Centre()
    centre.server.drain_s = DRAIN_S
    agent, agent_events = agent_ready(centre, "1005", "msiB1C5")    # support only
    flow, flow_seen = flow_server(centre)
    phone = centre.sim.endpoint("msiB1C5")

    talking = caller(centre, "dtiB1T1", "5550199")                 # the support hotline
    centre.run_until(lambda: phone.state == "ringing", what="the agent's phone rings")
    phone.offhook()
    talking_id = call_on(centre, "dtiB1T1")
    centre.run_until(lambda: centre.center.calls[talking_id].state == "talking",
                     what="agent and caller talk")
    queued = caller(centre, "dtiB1T2", "5550199")
    queued_id = call_on(centre, "dtiB1T2")
    centre.run_until(lambda: centre.center.calls[queued_id].state == "queued",
                     what="the second caller waits")
    in_ivr = caller(centre, "dtiB1T3", "5550100")
    ivr_id = route_request(centre, flow_seen)["call"]
    ask(centre, flow, flow_seen, "AnswerCall", call=ivr_id)
    flow.call("CollectDigits", call=ivr_id, maxDigits=4, firstDigitTimeoutS=30).addErrback(
        lambda failure: None)                               # the caller thinks it over

    stopped = []
    centre.server.stopService().addBoth(stopped.append)
    late = caller(centre, "dtiB1T4", "5550100")             # seizes while the server drains
    centre.run(1000)
    assert "dtiB1T4" not in centre.center.by_trunk and late.state != "connected"
    assert len(centre.center.calls) == 3

    phone.onhook()                                          # this one ends by itself
    centre.run_until(lambda: talking_id not in centre.center.calls, what="the agent hangs up")
    assert stopped == []                                    # the others have till the deadline

    centre.run_until(lambda: stopped, within_ms=DRAIN_S * 1000, what="the server stops")
    assert stopped == [None]
    assert centre.center.calls == {}
    centre.run(500)
    assert all(fe.state == "idle" for fe in (talking, queued, in_ivr))
    assert late.state == "ringing"                          # never answered: busy
    assert {centre.center.channels[f"dtiB1T{n}"].state for n in range(1, 4)} == {"idle"}

    cdrs = {c.call_id: c for c in centre.records.of(CallRecord)}
    [late_id] = set(cdrs) - {talking_id, queued_id, ivr_id}  # the refused seizure's
    assert (cdrs[late_id].disposition, cdrs[late_id].released_by, cdrs[late_id].cause,
            cdrs[late_id].trunk, cdrs[late_id].answered_at) == (
        "closed", "system", "server stopping", "dtiB1T4", None)
    assert (cdrs[talking_id].disposition, cdrs[talking_id].released_by) == ("answered", "agent")
    for call_id, disposition in ((queued_id, "cleared"), (ivr_id, "ivr_only")):
        cdr = cdrs[call_id]
        assert (cdr.disposition, cdr.released_by, cdr.cause) == (
            disposition, "system", "server shutdown")
    queue_log = [(e.event, e.data4) for e in centre.records.of(QueueLogEntry, call_id=queued_id)]
    assert queue_log == [("ENTERQUEUE", None), ("EXITCLEARED", "server shutdown")]
    assert centre.records.of(QueueLogEntry, event="ABANDON") == []
    figures = centre.center.acd.describe_queue(centre.center.acd.queues["support"])
    assert (figures["abandoned"], figures["exits"]) == (0, {"cleared": 1})

    [session] = centre.records.of(AgentSession, agent="1005")
    assert session.logout_reason == "server shutdown"
    assert "AgentLoggedOff" in names(agent_events)
    route_end = [body for name, _, body in flow_seen if name == "RouteEnd"]
    assert route_end == [{"event": "RouteEnd", "call": ivr_id, "reason": "server shutdown"}]
    for events in (agent_events, [(name, body) for name, _, body in flow_seen]):
        last, body = events[-1]
        assert (last, body["reason"]) == ("SessionClosed", "server shutdown")
    assert centre.hub.sessions == set()
