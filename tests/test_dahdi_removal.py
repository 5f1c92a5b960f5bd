# SPDX-License-Identifier: GPL-2.0-or-later
"""A board of agents' phones hot-unplugged in the middle of calls (the
DAHDI driver with its simulated kernel): every phone of the board goes
out of service, no call is left up or on hold for ever, the agents go
not ready saying why, and a call that ends has the removal as its cause
in the CDR.  The agents' phones: msiB1C1-8 (DAHDI span 3) and, in the
two-board centre, msiB2C1-8 (span 4)."""
import shutil
from dataclasses import replace

import pytest

from cti.server.config import load_server_config
from cti.storage.models import CallRecord
from drivers import _dahdi
from tests import test_consult as consult
from tests import test_supervision as supervision
from tests.centre import Centre, refused
from tests.test_callcenter import PASSWORD, agent_ready, names
from tests.test_disconnect import talking
from tests.test_r2 import headset_agent

REMOVED = "phone out of service: its board was removed"
FIRST_BOARD, SECOND_BOARD = 3, 4                  # DAHDI spans of the station boards


@pytest.fixture
def centre():
    config = replace(load_server_config("etc/cti.toml"), driver="dahdi")
    return Centre(config, driver="dahdi")


@pytest.fixture
def two_boards(tmp_path):
    """The sample centre with a second board of phones, msiB2C1-8, agent
    1003's phone msiB2C3."""
    shutil.copytree("etc", tmp_path / "etc")
    boards = tmp_path / "etc" / "boards.toml"
    one = 'type = "stations"        # agents\' phones: msiB1C1..C8\ncount = 8\n'
    boards.write_text(boards.read_text().replace(
        one, one + '\n[[boards]]\ntype = "stations"        # msiB2C1..C8\ncount = 8\n', 1))
    cti = tmp_path / "etc" / "cti.toml"
    cti.write_text(cti.read_text().replace(
        'stations = ["msiB1C1-8"]', 'stations = ["msiB1C1-8", "msiB2C1-8"]', 1).replace(
        'station = "msiB1C3"\n', 'station = "msiB2C3"\n', 1))
    return Centre(replace(load_server_config(cti), driver="dahdi"), driver="dahdi")


def two_board_scene(centre):
    """consult.Scene with agent 1003 at msiB2C3, on the second board."""
    return consult.Scene(centre, second_station="msiB2C3")


def unplug(centre, span):
    assert _dahdi.lib.cti_dahdisim_unplug(span) == 0
    centre.run(2_000)


def board_out_of_service(centre, board="msiB1"):
    return {centre.center.channels[f"{board}C{n}"].state for n in range(1, 9)} \
        == {"out_of_service"}


def not_ready_once_wrapped_up(centre, *agents):
    acd = centre.center.acd
    for agent in (acd.agents[a] for a in agents):
        centre.run_until(lambda agent=agent: agent.state == "notReady", within_ms=180_000,
                         what=f"agent {agent.id} not ready after its wrap-up")
        assert agent.reason == REMOVED


@pytest.mark.parametrize("answered", [False, True], ids=["ringing", "answered"])
def test_a_station_board_unplugged_during_a_consultation_ends_the_call(
        centre, tracebacks, answered):
    """Both agents' phones on the board unplugged while one consults the
    other: the caller's call ends with the removal as its cause (not left
    on hold), every phone of the board is out of service and both agents
    go not ready saying why."""
    s = consult.Scene(centre)
    s.consult()
    if answered:
        s.answer()
    unplug(centre, FIRST_BOARD)
    assert centre.center.calls == {} and s.caller.state == "idle"
    assert board_out_of_service(centre)
    [cdr] = centre.records.of(CallRecord)
    assert cdr.cause == REMOVED
    not_ready_once_wrapped_up(centre, "1005", "1003")
    assert tracebacks == []


def reversed_scene(centre):
    """consult.Scene the other way round on one board: agent 1003
    (msiB1C3) has the caller and consults agent 1005 (msiB1C5), so the
    consulting phone is the first of the board to go."""
    return consult.Scene(centre, second_station="msiB1C5", first=("1003", "msiB1C3"),
                         second="1005")


@pytest.mark.parametrize("answered", [False, True], ids=["ringing", "answered"])
def test_a_board_unplugged_under_a_consultation_ends_the_call_whichever_phone_goes_first(
        centre, tracebacks, answered):
    """As above with the consulting phone first of the board: the caller's
    call ends all the same with the removal as its cause, not transferred
    on answer to a phone that is going too, nor queued again."""
    s = reversed_scene(centre)
    s.consult("1005")
    if answered:
        s.answer("1005")
    unplug(centre, FIRST_BOARD)
    assert centre.center.calls == {} and s.caller.state == "idle"
    assert board_out_of_service(centre)
    [cdr] = centre.records.of(CallRecord)
    assert cdr.cause == REMOVED
    not_ready_once_wrapped_up(centre, "1005", "1003")
    assert tracebacks == []


def test_a_station_board_unplugged_during_a_conference_of_three_ends_the_call(
        centre, tracebacks):
    s = consult.Scene(centre)
    consult_call = s.consult()
    s.answer()
    s.ask(s.first, "ConferenceCall", call=s.call_id, consultCall=consult_call)
    unplug(centre, FIRST_BOARD)
    assert centre.center.calls == {} and s.caller.state == "idle"
    assert board_out_of_service(centre)
    [cdr] = centre.records.of(CallRecord)
    assert cdr.cause == REMOVED
    not_ready_once_wrapped_up(centre, "1005", "1003")
    assert tracebacks == []


def test_a_conference_member_s_board_unplugged_leaves_the_others_talking(
        two_boards, tracebacks):
    centre = two_boards
    s = two_board_scene(centre)
    consult_call = s.consult()
    s.answer()
    s.ask(s.first, "ConferenceCall", call=s.call_id, consultCall=consult_call)
    unplug(centre, SECOND_BOARD)
    assert board_out_of_service(centre, "msiB2")
    heard = s.listen()
    assert heard["caller"] == {"first"} and heard["first"] == {"caller"}
    not_ready_once_wrapped_up(centre, "1003")
    assert centre.center.acd.agents["1005"].state == "busy"
    s.caller.hangup()
    centre.run_until(lambda: not centre.center.calls, what="the call ends")
    assert tracebacks == []


def test_the_consulting_agent_s_board_unplugged_transfers_the_caller(two_boards, tracebacks):
    """As when the consulting agent hangs up: the caller now talks with
    the agent consulted."""
    centre = two_boards
    s = two_board_scene(centre)
    s.consult()
    s.answer()
    unplug(centre, FIRST_BOARD)
    assert board_out_of_service(centre, "msiB1")
    [call] = centre.center.calls.values()
    assert call.agent.id == "1003" and not call.held
    assert s.caller.state == "connected"
    heard = s.listen()
    assert heard["caller"] == {"second"} and heard["second"] == {"caller"}
    not_ready_once_wrapped_up(centre, "1005")
    assert centre.center.acd.agents["1003"].state == "busy"
    assert tracebacks == []


def test_the_called_agent_s_phone_unplugged_ends_an_internal_call(two_boards, tracebacks):
    centre = two_boards
    caller, caller_events, _ = headset_agent(centre)               # 1005 at msiB1C5
    _, callee_events = agent_ready(centre, "1003", "msiB2C3")
    phone = centre.sim.endpoint("msiB2C3")
    centre.call(caller.call("MakeCall", agent="1003"))
    centre.run_until(lambda: phone.state == "ringing", what="1003's phone rings")
    phone.offhook()
    centre.run_until(lambda: "Established" in names(callee_events), what="1003 answers")
    unplug(centre, SECOND_BOARD)
    assert centre.center.calls == {}
    [cdr] = centre.records.of(CallRecord)
    assert cdr.cause == REMOVED
    assert centre.center.channels["msiB1C5"].state == "offhook"     # the caller's headset
    not_ready_once_wrapped_up(centre, "1003")
    assert tracebacks == []


def test_a_log_out_asked_during_the_call_is_kept_when_the_phone_goes(centre, tracebacks):
    """An agent asked to log out at the end of the call (end of shift);
    its phone's board unplugged meanwhile: it logs out, as asked."""
    talking(centre, "dxxxB1C2")
    acd = centre.center.acd
    assert acd.logout("1001", "end of shift") == "pending"
    unplug(centre, FIRST_BOARD)
    agent = acd.agents["1001"]
    assert agent.pending == ("loggedOff", "end of shift")
    centre.run_until(lambda: agent.state == "loggedOff", within_ms=180_000,
                     what="the agent logged out after its wrap-up")
    assert agent.reason == "end of shift"
    assert tracebacks == []


def test_a_ringing_phone_unplugged_takes_its_agent_straight_to_not_ready(centre, tracebacks):
    """Never ready in between: no call is offered to the dead phone."""
    _, events = agent_ready(centre, "1001", "msiB1C1")
    caller, phone = centre.sim.endpoint("dxxxB1C2"), centre.sim.endpoint("msiB1C1")
    caller.call(ani="2125550042")
    centre.run_until(lambda: phone.state == "ringing", within_ms=30_000, what="it rings")
    unplug(centre, FIRST_BOARD)
    agent = centre.center.acd.agents["1001"]
    assert (agent.state, agent.reason) == ("notReady", REMOVED)
    assert never_ready_after_the_offer(events)
    assert tracebacks == []


def test_no_agent_goes_ready_or_logs_in_at_a_phone_whose_board_was_removed(
        centre, tracebacks):
    """An agent on a break when its phone's board is unplugged keeps its
    reason, and neither it nor a supervisor's force makes it ready there;
    logging in there is refused too, with the way out said."""
    agent, _ = agent_ready(centre, "1001", "msiB1C1")
    centre.call(agent.call("SetAgentState", state="notReady", reason="lunch"))
    unplug(centre, FIRST_BOARD)
    acd = centre.center.acd
    assert (acd.agents["1001"].state, acd.agents["1001"].reason) == ("notReady", "lunch")
    said = ("station msiB1C1 is out of service: its board was removed "
            "(log in at another phone)")
    error = refused(centre, agent, "SetAgentState", state="ready")
    assert (error.code, error.body["message"]) == ("invalid_state", said)
    sup = centre.client()
    centre.call(sup.login("sup", PASSWORD, "supervisor"))
    [forced] = centre.call(sup.call("ForceAgentState", agent="1001", state="ready"))["agents"]
    assert (forced["result"], forced["code"], forced["message"]) == (
        "refused", "invalid_state", said)
    assert acd.agents["1001"].state == "notReady"
    centre.call(agent.call("SetAgentState", state="loggedOff"))
    error = refused(centre, agent, "SetAgentState", state="loggedOn", station="msiB1C1")
    assert error.code == "invalid_state" and "log in at another phone" in error.body["message"]
    assert acd.agents["1001"].state == "loggedOff"
    assert tracebacks == []


def test_a_ring_meeting_the_unplug_before_its_event_is_read_is_the_removal(
        centre, tracebacks):
    """The board is pulled and, before the server reads REMOVED, an
    agent goes ready and the waiting caller is offered to its phone: the
    ring meets ENODEV.  The phone is out of service all the same, its
    agent not ready saying why, and the caller waits for another agent."""
    agent, events = agent_ready(centre, "1001", "msiB1C1")
    centre.call(agent.call("SetAgentState", state="notReady", reason="break"))
    caller = centre.sim.endpoint("dxxxB1C2")
    caller.call(ani="2125550042")
    acd = centre.center.acd
    centre.run_until(lambda: acd.entries, within_ms=30_000, what="the caller queued")
    assert _dahdi.lib.cti_dahdisim_unplug(FIRST_BOARD) == 0
    centre.sim.advance(1_100)                  # the kernel has it gone; nothing read yet
    assert acd.set_ready("1001") == "done"     # e.g. a request in the same batch
    centre.run(2_000)
    assert centre.center.channels["msiB1C1"].state == "out_of_service"
    assert (acd.agents["1001"].state, acd.agents["1001"].reason) == ("notReady", REMOVED)
    [call] = centre.center.calls.values()
    assert call.state == "queued" and caller.state == "connected"
    assert tracebacks == []


def test_a_headset_offered_a_call_unplugged_sends_the_caller_on_at_once(
        centre, tracebacks):
    """A headset already off-hook hears ringback for an offer, no bell:
    its board unplugged is the offer unanswered at once (the caller does
    not wait for the ring timeout), the agent straight to not ready."""
    _, events = agent_ready(centre, "1001", "msiB1C1")
    centre.sim.endpoint("msiB1C1").offhook()
    centre.run_until(lambda: centre.center.channels["msiB1C1"].state == "offhook",
                     what="the headset on")
    caller = centre.sim.endpoint("dxxxB1C2")
    caller.call(ani="2125550042")
    acd = centre.center.acd
    centre.run_until(lambda: acd.agents["1001"].state == "reserved", within_ms=30_000,
                     what="the call offered to the headset")
    assert _dahdi.lib.cti_dahdisim_unplug(FIRST_BOARD) == 0
    centre.run(1_500)
    agent = acd.agents["1001"]
    assert (agent.state, agent.reason) == ("notReady", REMOVED)
    [call] = centre.center.calls.values()
    assert call.state == "queued" and call.agent is None
    assert never_ready_after_the_offer(events)
    assert tracebacks == []


def never_ready_after_the_offer(events):
    after = [n for n in names(events) if n.startswith("Agent")]
    after = after[after.index("AgentReserved"):]
    return "AgentReady" not in after and after[-1] == "AgentNotReady"


def test_a_consulted_phone_unplugged_while_ringing_brings_the_caller_back(
        two_boards, tracebacks):
    """As a consultation unanswered: the caller talks with the consulting
    agent again; the consulted agent goes straight to not ready."""
    centre = two_boards
    s = two_board_scene(centre)
    s.consult()
    unplug(centre, SECOND_BOARD)
    [call] = centre.center.calls.values()
    assert call.agent.id == "1005" and not call.held
    heard = s.listen()
    assert heard["caller"] == {"first"} and heard["first"] == {"caller"}
    agent = centre.center.acd.agents["1003"]
    assert (agent.state, agent.reason) == ("notReady", REMOVED)
    assert never_ready_after_the_offer(s.second_events)
    assert tracebacks == []


def test_an_internal_call_s_ringing_phone_unplugged_ends_it_unanswered(
        two_boards, tracebacks):
    centre = two_boards
    caller, caller_events, _ = headset_agent(centre)               # 1005 at msiB1C5
    _, callee_events = agent_ready(centre, "1003", "msiB2C3")
    phone = centre.sim.endpoint("msiB2C3")
    centre.call(caller.call("MakeCall", agent="1003"))
    centre.run_until(lambda: phone.state == "ringing", what="1003's phone rings")
    unplug(centre, SECOND_BOARD)
    assert centre.center.calls == {}
    assert "ConnectionCleared" in names(caller_events)
    agent = centre.center.acd.agents["1003"]
    assert (agent.state, agent.reason) == ("notReady", REMOVED)
    assert never_ready_after_the_offer(callee_events)
    assert centre.center.acd.agents["1005"].state == "ready"
    assert tracebacks == []


class Supervised(supervision.Scene):
    """supervision.Scene with the supervisor's headset on msiB2C8, on the
    second board, off-hook."""

    STATION = "msiB2C8"

    def __init__(self, centre):
        super().__init__(centre)
        self.sup_phone = centre.sim.endpoint(self.STATION)
        self.sup_phone.offhook()
        station = centre.center.channels[self.STATION]
        centre.run_until(lambda: station.state == "offhook", what="the headset on")


def test_a_supervisor_s_phone_unplugged_ends_the_supervision_and_the_call_goes_on(
        two_boards, tracebacks):
    centre = two_boards
    s = Supervised(centre)
    s.ask(s.sup, "Supervise", agent="1005", mode="barge", station=s.STATION)
    unplug(centre, SECOND_BOARD)
    ended = dict(s.sup_events)["SupervisionEnded"]
    assert ended["why"] == REMOVED
    heard = s.listen()
    assert heard["caller"] == {supervision.AGENT_HZ}
    assert heard["agent"] == {supervision.CALLER_HZ}
    assert tracebacks == []


def test_a_supervision_waiting_for_the_next_call_ends_when_its_phone_is_unplugged(
        two_boards, tracebacks):
    """MonitorNextCall from a headset whose board is then pulled: the
    supervision ends at once saying why, and a new Supervise from that
    phone is refused naming the removal, not the hook."""
    centre = two_boards
    s = Supervised(centre)
    s.ask(s.sup, "MonitorNextCall", agent="1003", station=s.STATION)
    unplug(centre, SECOND_BOARD)
    ended = dict(s.sup_events)["SupervisionEnded"]
    assert (ended["agent"], ended["why"]) == ("1003", REMOVED)
    error = s.refused(s.sup, "Supervise", agent="1005", mode="monitor", station=s.STATION)
    assert error.code == "invalid_state"
    assert f"station {s.STATION} is out of service" in error.body["message"]
    assert tracebacks == []


def test_a_call_a_supervisor_took_over_ends_when_its_phone_is_unplugged(
        two_boards, tracebacks):
    centre = two_boards
    s = Supervised(centre)
    s.ask(s.sup, "Supervise", agent="1005", mode="monitor", station=s.STATION)
    s.ask(s.sup, "Intercept", agent="1005")
    unplug(centre, SECOND_BOARD)
    assert centre.center.calls == {} and s.caller.state == "idle"
    [cdr] = centre.records.of(CallRecord)
    assert cdr.cause == REMOVED
    assert tracebacks == []
