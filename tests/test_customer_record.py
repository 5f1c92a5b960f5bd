# SPDX-License-Identifier: GPL-2.0-or-later
"""The customer record: looked up by the IVR, corrected by the agent,
saved to the site's customer database through the record hook
(cti.server.customer), so the next call pops the corrected record; and
when the database cannot take it, the agent is told and the call keeps
the edit."""
import dataclasses

import pytest
from twisted.internet import defer

from cti.config import ConfigError
from cti.flow.hooks import SAMPLE_CUSTOMERS, registry
from cti.protocol.client import RemoteError
from cti.server.run import make_service
from cti.storage.models import AfterCallEdit, CallRecord
from tests.centre import Centre, flow_tier
from tests.test_callcenter import agent_ready, names
from tests.test_server_run import fresh_copy

ALICE = "10012345"                      # a sample customer, phone 5551001


@pytest.fixture
def alice(monkeypatch):
    """Alice's sample entry, restored after the test."""
    monkeypatch.setitem(SAMPLE_CUSTOMERS, ALICE, dict(SAMPLE_CUSTOMERS[ALICE]))
    return SAMPLE_CUSTOMERS[ALICE]


def call_through_the_menu(centre, events, trunk):
    """Alice calls the main number and presses 1 (sales): the screen pop."""
    caller = centre.sim.endpoint(trunk)
    seen = len(events)
    caller.call(ani="5551001", dnis="5550100")
    centre.run_until(lambda: caller.state == "connected", what="the IVR answers")
    centre.run(1500)
    caller.send_digits("1")
    centre.run_until(lambda: "Delivered" in names(events[seen:]), within_ms=20_000,
                     what="the call reaches the agent")
    return caller, dict(events[seen:])["Delivered"]


def test_the_agents_correction_is_saved_and_the_next_call_pops_it(alice):
    centre = Centre()
    assert centre.config.record_hook == "save_customer"        # the sample configuration's
    flow_tier(centre)
    agent, events = agent_ready(centre, "1001", "msiB1C1")
    phone = centre.sim.endpoint("msiB1C1")
    caller, delivered = call_through_the_menu(centre, events, "dtiB1T3")
    assert delivered["data"]["account"] == ALICE
    assert delivered["data"]["customer_name"] == "Alice Example"
    phone.offhook()
    centre.run_until(lambda: "Established" in names(events), what="the agent answers")

    result = centre.call(agent.call("SetCallData", call=delivered["call"],
                                    data={"customer_name": "Alice Smith", "tier": "gold+"}))
    assert result["record"] == {"saved": True, "message": "saved by save_customer"}
    assert result["data"]["customer_name"] == "Alice Smith"
    assert (alice["name"], alice["tier"]) == ("Alice Smith", "gold+")
    caller.hangup()
    centre.run_until(lambda: delivered["call"] not in centre.center.calls, what="the end")
    phone.onhook()
    centre.run(200)
    [cdr] = centre.records.of(CallRecord, call_id=delivered["call"])
    assert cdr.attached["customer_name"] == "Alice Smith"        # the call kept it too

    centre.call(agent.call("SetAgentState", state="ready"))     # wrap-up over
    _, again = call_through_the_menu(centre, events, "dtiB1T4")
    assert (again["data"]["customer_name"], again["data"]["tier"]) == ("Alice Smith", "gold+")


@pytest.fixture
def hooked():
    """A Centre whose record hook is `crm` (registered by the test)."""
    def make(hook):
        registry.register("crm", hook, replace=True)
        config = dataclasses.replace(Centre().config, record_hook="crm")
        return Centre(config)
    yield make
    registry.unregister("crm")


def hotline_call(centre):
    """A caller on the support hotline talks with agent 1005: (agent, events, call id)."""
    agent, events = agent_ready(centre, "1005", "msiB1C5")
    centre.sim.endpoint("dtiB1T1").call(ani="2125551234", dnis="5550199")
    phone = centre.sim.endpoint("msiB1C5")
    centre.run_until(lambda: phone.state == "ringing", what="the agent's phone rings")
    phone.offhook()
    centre.run_until(lambda: "Established" in names(events), what="the agent answers")
    return agent, events, dict(events)["Established"]["call"]


def test_a_database_that_refuses_is_reported_and_the_call_keeps_the_edit(hooked):
    saved = []

    def crm(call, agent, data, changes):
        saved.append((call, agent, changes))
        raise ConnectionRefusedError("crm.example.com:5432")
    centre = hooked(crm)
    agent, events, call = hotline_call(centre)
    result = centre.call(agent.call("SetCallData", call=call, data={"email": "a@b.example"}))
    assert saved == [(call, "1005", {"email": "a@b.example"})]
    assert result["record"] == {"saved": False, "message":
                                "crm: ConnectionRefusedError: crm.example.com:5432"}
    assert result["data"]["email"] == "a@b.example"
    changed = [body for name, body in events if name == "AttachedDataChanged"]
    assert changed[-1]["data"]["email"] == "a@b.example"


def test_a_database_that_does_not_answer_fails_after_five_seconds(hooked):
    centre = hooked(lambda call, agent, data, changes: defer.Deferred())
    agent, _, call = hotline_call(centre)
    started = centre.clock.seconds()
    result = centre.call(agent.call("SetCallData", call=call, data={"note": "x"}))
    assert result["record"] == {"saved": False, "message": "crm: no answer within 5 s"}
    assert centre.clock.seconds() - started == pytest.approx(5.0, abs=0.05)


def test_a_hook_that_answers_a_row_count_has_saved(hooked):
    centre = hooked(lambda call, agent, data, changes: 1)     # an UPDATE's row count
    agent, _, call = hotline_call(centre)
    result = centre.call(agent.call("SetCallData", call=call, data={"note": "x"}))
    assert result["record"] == {"saved": True, "message": "saved by crm"}


def test_no_record_to_save_says_so():
    centre = Centre()                       # save_customer: the hotline caller has no account
    agent, _, call = hotline_call(centre)
    result = centre.call(agent.call("SetCallData", call=call, data={"customer_name": "X"}))
    assert result["record"] == {"saved": False, "message": "save_customer: no such record"}


def test_without_a_record_hook_the_edit_stays_with_the_call():
    config = dataclasses.replace(Centre().config, record_hook=None)
    centre = Centre(config)
    agent, _, call = hotline_call(centre)
    result = centre.call(agent.call("SetCallData", call=call, data={"note": "x"}))
    assert "record" not in result and result["data"]["note"] == "x"


def test_in_wrap_up_the_agent_still_edits_the_record_of_the_call_it_follows(hooked):
    """The call has ended and its CDR is written: the edit reaches the
    customer database through the hook, and `after_call_edits` keeps it
    with the call's id; once the wrap-up is over the record is closed."""
    saved = []

    def crm(call, agent, data, changes):
        saved.append((call, agent, data.get("note"), changes))
        return True
    centre = hooked(crm)
    agent, events, call = hotline_call(centre)
    centre.call(agent.call("SetCallData", call=call, data={"note": "wants a refund"}))
    caller = centre.sim.endpoint("dtiB1T1")
    centre.run_until(lambda: caller.state == "connected", what="the caller hears the agent")
    caller.hangup()
    centre.run_until(lambda: centre.center.acd.agents["1005"].state == "workingAfterCall",
                     what="the wrap-up")
    centre.run(200)
    result = centre.call(agent.call("SetCallData", call=call,
                                    data={"outcome": "refund sent", "note": "refunded"}))
    assert result["afterCall"] is True
    assert result["record"] == {"saved": True, "message": "saved by crm"}
    assert result["data"] == {"note": "refunded", "outcome": "refund sent"}
    assert saved[-1] == (call, "1005", "refunded", {"outcome": "refund sent",
                                                    "note": "refunded"})
    centre.run(200)
    [cdr] = centre.records.of(CallRecord, call_id=call)
    assert cdr.attached == {"note": "wants a refund"}              # as the call ended
    [edit] = centre.records.of(AfterCallEdit, call_id=call)
    assert (edit.agent, edit.changes, edit.saved) == (
        "1005", {"outcome": "refund sent", "note": "refunded"}, True)
    centre.call(agent.call("SetAgentState", state="ready"))       # the wrap-up is over
    with pytest.raises(RemoteError) as e:
        centre.call(agent.call("SetCallData", call=call, data={"note": "late"}))
    assert e.value.code == "no_such_object" and "wrap-up" in str(e.value)


def test_in_wrap_up_after_a_transfer_the_edit_reaches_the_call_still_up(hooked):
    centre = hooked(lambda call, agent, data, changes: True)
    agent, events, call = hotline_call(centre)
    centre.call(agent.call("SingleStepTransferCall", call=call, queue="sales"))
    assert centre.center.acd.agents["1005"].state == "workingAfterCall"
    result = centre.call(agent.call("SetCallData", call=call, data={"note": "angry"}))
    assert result["record"]["saved"] and "afterCall" not in result
    assert centre.center.calls[call].call.data["note"] == "angry"   # the next agent's pop


@pytest.mark.parametrize("hook,message", [
    ("nope", "no hook named 'nope'"),
    ("account_balance", "hook 'account_balance' takes (account)"),
])
def test_a_record_hook_that_cannot_be_called_stops_the_server(tmp_path, hook, message):
    config = fresh_copy(tmp_path)
    config.write_text(config.read_text().replace('record_hook = "save_customer"',
                                                 f'record_hook = "{hook}"'))
    with pytest.raises(ConfigError, match="server.record_hook") as e:
        make_service(str(config), drain_s=0)
    assert message in str(e.value) and str(config) in str(e.value)
