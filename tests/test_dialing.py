# SPDX-License-Identifier: GPL-2.0-or-later
"""Classes of service for calls out, the guard against toll fraud:
international and premium-rate numbers barred by default, allowed prefixes,
hours and days, calls at once and a day per caller and per site, emergency
numbers always through; every refusal audited, a burst of them an alarm;
and the whole server refusing a barred number from an agent, a flow and a
callback."""
from dataclasses import replace

import pytest
from twisted.internet import task
from twisted.logger import LogLevel, globalLogPublisher

from cti.protocol.client import RemoteError
from cti.server.config import load_server_config
from cti.server.outbound.dialing import Barred, Caller, DialClass, DialGuard, DialingSettings
from cti.storage.models import AuditEntry, CallRecord
from tests.centre import Centre
from tests.test_callcenter import agent_ready, names
from tests.test_outbound import headset_agent
from tests.test_server_config import edit, error, write

MONDAY_9AM = 4 * 86400 + 9 * 3600            # 1970-01-05 was a Monday (UTC)
AGENT = Caller("agent", "1005", team="south")


def guard(*classes, clock=None, **settings):
    classes = classes or (DialClass("default"),)
    audit = []
    g = DialGuard(clock or clock_at(MONDAY_9AM), DialingSettings(
        classes={c.name: c for c in classes}, default_class=classes[0].name, timezone="UTC",
        **settings), audit=lambda action, user, **d: audit.append((action, user, d)))
    g.audited = audit
    return g


def clock_at(seconds):
    clock = task.Clock()
    clock.advance(seconds)
    return clock


def reason(g, number, caller=AGENT):
    try:
        g.check(caller, number, "MakeCall")
    except Barred as e:
        return e.reason
    return None


def test_international_and_premium_numbers_are_barred_by_default():
    g = guard()
    assert [reason(g, n) for n in ("01144207946000", "0044207946000", "19005551234",
                                   "9765551234", "5551234", "12125551234")] == [
        "barred", "barred", "barred", "barred", None, None]
    assert reason(g, "0,11442079") == "barred"                 # a pause changes nothing
    for dodge in ("*6701144207946000", "#01144207946000", "*671900555123",
                  "10103210114420794", "014420794600"):      # feature, carrier, operator
        assert reason(g, dodge) == "barred", dodge
    [(action, user, detail)] = g.audited[:1]
    assert (action, user, detail["number"], detail["service"]) == (
        "CallBarred", "1005", "01144207946000", "MakeCall")


def test_emergency_numbers_always_go_through():
    g = guard(DialClass("locked", allow=("1212",), hours=((0, 1),), max_daily=1))
    assert reason(g, "911") is None and reason(g, "112") is None
    assert reason(g, "5551234") == "not_allowed"


def test_a_class_allowing_some_prefixes_refuses_the_rest():
    g = guard(DialClass("local", bar=(), allow=("1212", "1718")))
    assert [reason(g, n) for n in ("12125551234", "17185551234", "13105551234")] == [
        None, None, "not_allowed"]


def test_hours_and_days():
    office = DialClass("office", hours=((8 * 60, 12 * 60), (13 * 60, 17 * 60)),
                       days=frozenset(range(5)))
    assert reason(guard(office), "5551234") is None                           # Mon 09:00
    assert reason(guard(office, clock=clock_at(MONDAY_9AM + 3 * 3600 + 1800)),
                  "5551234") == "hours"                                       # Mon 12:30
    assert reason(guard(office, clock=clock_at(MONDAY_9AM - 86400 * 1)), "5551234") == "hours"
    e = pytest.raises(Barred, guard(office, clock=clock_at(MONDAY_9AM + 9 * 3600)).check,
                      AGENT, "5551234", "MakeCall")
    assert "only 08:00-12:00, 13:00-17:00; it is 18:00 now" in str(e.value)


def test_hours_follow_the_configured_time_zone():
    office = DialClass("office", hours=((8 * 60, 17 * 60),))
    assert reason(guard(office), "5551234") is None                        # 09:00 UTC
    new_york = DialGuard(clock_at(MONDAY_9AM), DialingSettings(
        classes={"office": office}, default_class="office", timezone="America/New_York"))
    with pytest.raises(Barred, match="it is 04:00 now"):                   # 09:00 UTC
        new_york.verdict(AGENT, "5551234")


def test_calls_at_once_and_a_day_per_caller_and_per_site():
    g = guard(DialClass("default", max_concurrent=2, max_daily=3), site_max_concurrent=3)
    other = Caller("agent", "1006")
    g.placed(AGENT, "dtiB1T1")
    g.placed(AGENT, "dtiB1T2")
    assert reason(g, "5551234") == "concurrent"
    assert reason(g, "5551234", other) is None
    g.ended("dtiB1T1")
    assert reason(g, "5551234") is None
    g.placed(AGENT, "dtiB1T3")                                 # the third today
    g.ended("dtiB1T3")
    assert reason(g, "5551234") == "daily"
    g.placed(other, "dtiB1T4")
    g.placed(other, "dtiB1T5")
    assert reason(g, "5551234", Caller("user", "sup")) == "site_concurrent"
    g.clock.advance(86400)                                     # a new day
    for trunk in ("dtiB1T2", "dtiB1T4", "dtiB1T5"):
        g.ended(trunk)
    assert reason(g, "5551234") is None


def test_classes_by_agent_team_user_flow_and_callback():
    classes = [DialClass(name, bar=(), allow=(prefix,)) for name, prefix in (
        ("default", "1"), ("mine", "2"), ("team", "3"), ("ivr", "4"), ("back", "5"))]
    g = guard(*classes, teams={"south": "team"}, flows={"main_menu": "ivr"},
              callback_class="back")
    assert g.class_of(Caller("agent", "1005", "mine", "south")).name == "mine"
    assert g.class_of(AGENT).name == "team"
    assert g.class_of(Caller("agent", "1001", team="north")).name == "default"
    assert g.class_of(Caller("user", "sup")).name == "default"
    assert g.class_of(Caller("flow", "main_menu")).name == "ivr"
    assert g.class_of(Caller("callback", "support")).name == "back"


def test_a_burst_of_refusals_raises_one_alarm_per_window():
    g = guard(alarm_refusals=3, alarm_window_s=60)
    lines = []
    globalLogPublisher.addObserver(lines.append)
    try:
        for _ in range(5):
            reason(g, "0044")
            g.clock.advance(1)
        g.clock.advance(60)
        for _ in range(3):
            reason(g, "0044")
    finally:
        globalLogPublisher.removeObserver(lines.append)
    alarms = [a for a in g.audited if a[0] == "DialAlarm"]
    assert [a[2]["refusals"] for a in alarms] == [3, 3]
    critical = [e for e in lines if e.get("log_level") == LogLevel.critical]
    assert len(critical) == 2 and critical[0]["alarm"] == "dialing"


# -- configuration ----------------------------------------------------------------------
DIALING = """
[dialing]
class = "staff"
teams = {south = "sales"}
timezone = "Europe/Paris"
site_max_concurrent = 10

[[dial_classes]]
name = "staff"
hours = ["08:00-20:00"]
days = ["mon", "tue", "wed", "thu", "fri"]

[[dial_classes]]
name = "sales"
bar = []
allow = ["1212"]
max_daily = 100
"""


def with_dialing(text):
    """The test configuration with agent 1001 in team south, and `text`."""
    return edit('id = "1001"', 'id = "1001"\nteam = "south"').replace(
        "[server]\n", text + "\n[server]\n", 1)


def test_the_dialing_configuration(tmp_path):
    config = load_server_config(write(tmp_path, with_dialing(DIALING)))
    d = config.dialing
    assert (d.default_class, d.teams, d.timezone, d.site_max_concurrent) == (
        "staff", {"south": "sales"}, "Europe/Paris", 10)
    assert d.classes["staff"].hours == ((480, 1200),) and d.classes["staff"].days == frozenset(
        range(5))
    assert d.classes["sales"].allow == ("1212",) and d.classes["sales"].bar == ()
    assert d.classes["staff"].bar[:4] == ("*", "#", "00", "01")


@pytest.mark.parametrize("change, key, message", [
    (("class = \"staff\"", "class = \"nobody\""), "dialing.class", "'nobody' is not a class"),
    (("\"08:00-20:00\"", "\"20:00-08:00\""), "dial_classes[0].hours[0]", "start before end"),
    (("\"mon\", \"tue\"", "\"monday\""), "dial_classes[0].days[0]", "'monday' is not a day"),
    (("allow = [\"1212\"]", "allow = [\"12-12\"]"), "dial_classes[1].allow[0]",
     "not a number prefix"),
    (("teams = {south = \"sales\"}", "teams = {nowhere = \"sales\"}"), "dialing.teams.nowhere",
     "no agent is in team"),
    (("Europe/Paris", "Mars/Olympus"), "dialing.timezone", "not a time zone"),
])
def test_dialing_errors_name_the_key(tmp_path, change, key, message):
    e = error(tmp_path, with_dialing(DIALING.replace(*change)))
    assert e.key == key and message in str(e)


# -- the whole server ----------------------------------------------------------------------
def two_way(dialing=None):
    config = load_server_config("etc/cti.toml")
    config = replace(config, trunk_groups=tuple(
        replace(g, direction="both") if g.name == "pstn_in" else g
        for g in config.trunk_groups))
    if dialing is not None:
        config = replace(config, dialing=dialing)
    return Centre(config)


def test_an_agent_dialling_an_international_number_is_refused_and_audited():
    centre = two_way()
    client, events, _ = headset_agent(centre)
    with pytest.raises(RemoteError) as e:
        centre.call(client.call("MakeCall", number="01144207946000"))
    assert (e.value.code, e.value.body["reason"], e.value.body["field"]) == (
        "barred", "barred", "number")
    assert "class default bars numbers starting 01" in str(e.value)
    [row] = centre.records.of(AuditEntry, action="CallBarred")
    assert (row.user, row.detail["number"], row.detail["service"]) == (
        "1005", "01144207946000", "MakeCall")
    agent = centre.center.acd.agents["1005"]
    assert agent.state == "ready" and agent.call is None               # nothing half-done
    assert not centre.records.of(CallRecord) and not centre.center.model.calls
    assert all(ch.state == "idle" for name, ch in centre.center.channels.by_name.items()
               if name.startswith("dtiB1T"))


def test_an_agents_class_caps_its_calls_a_day():
    settings = DialingSettings(classes={"default": DialClass("default", max_daily=1)},
                               timezone="UTC")
    centre = two_way(settings)
    client, events, _ = headset_agent(centre)
    far = centre.sim.endpoint("dtiB1T1")
    far.set_outbound("answer", 1)
    centre.call(client.call("MakeCall", number="5551234"))
    centre.run_until(lambda: "Established" in names(events), within_ms=20_000,
                     what="the far end answers")
    far.hangup()
    centre.run_until(lambda: centre.center.acd.agents["1005"].state == "ready",
                     what="the agent is free again")
    assert centre.center.dialer.guard.active == {}                    # counted out again
    with pytest.raises(RemoteError) as e:
        centre.call(client.call("MakeCall", number="5551234"))
    assert e.value.body["reason"] == "daily"


def test_a_flow_cannot_send_a_caller_to_a_premium_number():
    from tests.test_callcenter import flow_server, route_request

    centre = two_way()
    client, seen = flow_server(centre)
    centre.sim.endpoint("dtiB1T2").call(ani="2125550018", dnis="5550100")
    call = route_request(centre, seen)["call"]
    with pytest.raises(RemoteError) as e:
        centre.call(client.call("RouteSelect", call=call, number="19005551234"))
    assert e.value.code == "barred" and "flow main_menu" in str(e.value)
    assert centre.center.calls[call].state == "ivr"                    # the flow still has it
    [row] = centre.records.of(AuditEntry, action="CallBarred")
    assert (row.user, row.detail["kind"]) == ("main_menu", "flow")


def test_an_agents_internal_calls_are_not_numbers():
    settings = DialingSettings(classes={"default": DialClass("default", allow=("0",))})
    centre = two_way(settings)
    client, events, _ = headset_agent(centre)
    agent_ready(centre, "1006", "msiB1C6")
    result = centre.call(client.call("MakeCall", agent="1006"))
    assert result["call"]


def waiting_in_support(centre, ani):
    """A caller from `ani` waiting in support: (its far end, its call)."""
    caller = centre.sim.endpoint("dtiB1T1")
    caller.call(ani=ani, dnis="5550199")
    centre.run_until(lambda: centre.center.acd.entries and caller.state == "connected",
                     what="waiting in support")
    [call] = centre.center.calls.values()
    return caller, call


def test_a_caller_whose_number_is_premium_rate_is_not_offered_a_callback():
    """The ANI can be forged: a callback to a premium-rate number is toll
    fraud too.  It is not announced, and the key does nothing but audit."""
    from tests.test_callback import centre_with_callbacks

    centre = centre_with_callbacks()
    caller, ic = waiting_in_support(centre, "19005550001")
    config = centre.config.queue("support")
    assert centre.center.callbacks.offer_prompts(ic, config) == []
    caller.send_digits("5")
    centre.run(3000)
    assert caller.state == "connected" and not ic.line_released and ic.callback is None
    [row] = centre.records.of(AuditEntry, action="CallBarred")
    assert (row.user, row.detail["kind"], row.detail["number"]) == (
        "support", "callback", "19005550001")


def test_a_callback_is_checked_again_when_it_is_placed_and_never_to_an_emergency_number():
    from tests.test_callback import ask_for_callback, centre_with_callbacks

    centre = centre_with_callbacks()
    ask_for_callback(centre)                          # accepted: the class allows it now
    [ic] = centre.center.calls.values()
    guard = centre.center.dialer.guard
    guard.settings = replace(guard.settings, classes={"default": DialClass(
        "default", days=frozenset())})               # then no day is allowed
    agent_ready(centre, "1005", "msiB1C5")
    phone = centre.sim.endpoint("msiB1C5")
    centre.run_until(lambda: phone.state == "ringing", what="the agent's phone rings")
    phone.offhook()
    centre.run(2000)
    assert not centre.sim.endpoint("dxxxB1C1").dialled()          # nothing was dialled
    assert ic.callback_attempts == 1 and ic.state != "talking"
    rows = centre.records.of(AuditEntry, action="CallBarred")
    assert rows[-1].detail["service"] == "callback"

    forged = centre_with_callbacks()
    caller, call = waiting_in_support(forged, "911")
    assert forged.center.callbacks.offer_prompts(call, forged.config.queue("support")) == []
    caller.send_digits("5")
    forged.run(3000)
    assert not call.line_released and call.callback is None


def test_a_call_out_tried_on_several_trunks_counts_once_in_the_day():
    g = guard(DialClass("default", max_daily=2))
    g.placed(AGENT, "dtiB1T1")
    g.placed(AGENT, "dtiB1T2", new_call=False)          # glare on the first: the next trunk
    g.ended("dtiB1T1")
    g.ended("dtiB1T2")
    assert reason(g, "5551234") is None                  # one of two used


def test_the_default_bar_follows_the_numbering_plan(tmp_path):
    nanp = guard(DialClass("default"))
    assert reason(nanp, "18095551234") == "barred"             # one-ring fraud, NANP abroad
    assert reason(nanp, "12125551234") is None
    config = load_server_config(write(tmp_path, with_dialing('[dialing]\nnumbering = "other"')))
    bar = config.dialing.classes["default"].bar
    assert bar == ("*", "#", "00")                             # 01... is a UK number
