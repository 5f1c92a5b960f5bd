# SPDX-License-Identifier: GPL-2.0-or-later
"""Outbound routes end to end (cti.server.outbound.routes): an agent's
MakeCall leaves on the trunk group its number's route names (longest
prefix first, a pattern, digits stripped and prepended), the next group
when every trunk of the first is busy, and a number no route matches is
refused saying so; the call's snapshot and its CDR show the group; a
reload changes the routes for the next call; bad routes are refused
naming the key."""
import shutil
from pathlib import Path

import pytest

from cti.config import ConfigError
from cti.protocol.client import RemoteError
from cti.server.config import load_server_config
from cti.storage.models import CallRecord
from tests.centre import Centre, admin
from tests.test_callcenter import names
from tests.test_outbound import headset_agent

ROUTES = """
[[outbound_routes]]
name = "local_calls"          # 9 for an outside line: the analog lines first
prefix = "9"
trunk_groups = ["local", "pstn_in"]
strip = 1

[[outbound_routes]]
name = "long_distance"        # 91...: the T1 first
prefix = "91"
trunk_groups = ["pstn_in", "local"]
strip = 1

[[outbound_routes]]
name = "mobiles"              # 8 then a mobile: the analog lines only, a 0 in front
pattern = "_8[3-9]XXXXXX"
trunk_groups = ["local"]
strip = 1
prepend = "0"
"""


def write_config(tmp_path, routes=ROUTES):
    """The sample (its files under tmp_path, var there too) with its T1
    group two-way, and `routes`: its path."""
    if not (tmp_path / "etc").exists():
        shutil.copytree("etc", tmp_path / "etc")
    text = Path("etc/cti.toml").read_text().replace('direction = "in"', 'direction = "both"', 1)
    cti = tmp_path / "etc" / "cti.toml"
    cti.write_text(text.replace('var_dir = "../var"', f'var_dir = "{tmp_path / "var"}"')
                   + routes)
    return cti


def routed_centre(tmp_path, routes=ROUTES):
    return Centre(load_server_config(write_config(tmp_path, routes)))


def call_out(centre, client, events, number, far):
    """MakeCall `number`, answered at `far` (a device): the call's id."""
    end = centre.sim.endpoint(far)
    end.set_outbound("answer", 1)
    call_id = centre.call(client.call("MakeCall", number=number))["call"]
    centre.run_until(lambda: "Established" in names(events), within_ms=30_000,
                     what=f"{number} answered at {far}")
    return call_id, end


def hang_up_and_cdr(centre, end, call_id):
    end.hangup()
    centre.run_until(lambda: not centre.center.calls, what="the call ends")
    centre.run(500)
    [cdr] = centre.records.of(CallRecord, call_id=call_id)
    return cdr


@pytest.mark.parametrize("number,far,dialled,group", [
    ("95551234", "dxxxB1C1", "5551234", "local"),           # prefix 9
    ("915551234", "dtiB1T1", "15551234", "pstn_in"),        # 91: the longer prefix wins
    ("83555123", "dxxxB1C1", "03555123", "local"),          # the pattern, 0 prepended
])
def test_a_call_out_leaves_on_the_group_of_its_route_with_the_number_rewritten(
        tmp_path, number, far, dialled, group):
    centre = routed_centre(tmp_path)
    client, events, phone = headset_agent(centre)
    call_id, end = call_out(centre, client, events, number, far)
    assert end.dialled() == dialled
    snap = centre.call(client.call("Snapshot", object="call", id=call_id))["snapshot"]
    assert snap["trunkGroup"] == group
    assert far in [c["device"] for c in snap["connections"]]
    cdr = hang_up_and_cdr(centre, end, call_id)
    assert (cdr.direction, cdr.dnis, cdr.trunk, cdr.trunk_group) == (
        "outbound", number, far, group)


def test_the_next_group_takes_the_call_when_every_trunk_of_the_first_is_busy(tmp_path):
    centre = routed_centre(tmp_path)
    client, events, phone = headset_agent(centre)
    for line in ("dxxxB1C1", "dxxxB1C2", "dxxxB1C3", "dxxxB1C4"):   # callers on every line
        centre.sim.endpoint(line).call(ani="2125550001")
    centre.run_until(lambda: all(centre.center.channels[f"dxxxB1C{n}"].state != "idle"
                                 for n in range(1, 5)), what="every analog line busy")
    call_id, end = call_out(centre, client, events, "95551234", "dtiB1T1")
    assert end.dialled() == "5551234"
    assert centre.center.calls[call_id].call.trunk_group == "pstn_in"


def test_a_number_no_route_matches_is_refused_naming_it(tmp_path):
    centre = routed_centre(tmp_path)
    client, events, phone = headset_agent(centre)
    with pytest.raises(RemoteError) as caught:
        centre.call(client.call("MakeCall", number="5551234"))
    e = caught.value
    assert e.code == "invalid_field" and e.body.get("field") == "number"
    assert "MakeCall: no outbound route matches 5551234" in str(e)
    assert "local_calls (prefix '9')" in str(e) and "mobiles (pattern _8[3-9]XXXXXX)" in str(e)
    assert centre.center.acd.agents["1005"].state == "ready"
    assert centre.records.of(CallRecord) == []


def test_a_transfer_to_a_number_no_route_matches_is_refused_too(tmp_path):
    from tests.test_callcenter import agent_ready

    centre = routed_centre(tmp_path)
    client, events = agent_ready(centre, "1005", "msiB1C5")
    caller, phone = centre.sim.endpoint("dtiB1T2"), centre.sim.endpoint("msiB1C5")
    caller.call(ani="2125551234", dnis="5550199")
    centre.run_until(lambda: phone.state == "ringing", what="the agent's phone rings")
    phone.offhook()
    centre.run_until(lambda: "Established" in names(events), what="talking")
    call_id = dict(events)["Established"]["call"]
    with pytest.raises(RemoteError) as caught:
        centre.call(client.call("SingleStepTransferCall", call=call_id, number="5551234"))
    assert "SingleStepTransferCall: no outbound route matches 5551234" in str(caught.value)
    assert centre.center.calls[call_id].state == "talking"


def test_without_outbound_routes_calls_out_take_every_out_group_in_file_order(tmp_path):
    centre = routed_centre(tmp_path, routes="")
    client, events, phone = headset_agent(centre)
    call_id, end = call_out(centre, client, events, "5551234", "dtiB1T1")
    assert end.dialled() == "5551234"
    assert hang_up_and_cdr(centre, end, call_id).trunk_group == "pstn_in"


def test_a_reload_changes_the_routes_for_the_next_call(tmp_path):
    centre = Centre(str(write_config(tmp_path)), var_dir=tmp_path / "var")
    client, events, phone = headset_agent(centre)
    write_config(tmp_path, ROUTES.replace('trunk_groups = ["local", "pstn_in"]',
                                          'trunk_groups = ["pstn_in"]'))
    result = centre.call(admin(centre).call("Reload"))
    assert result["changes"] == [{"kind": "outbound_route", "name": "local_calls",
                                  "change": "changed", "keys": ["trunk_groups"]}]
    call_id, end = call_out(centre, client, events, "95551234", "dtiB1T1")
    assert end.dialled() == "5551234"


@pytest.mark.parametrize("route,key,words", [
    ('name = "x"\nprefix = "9"\ntrunk_groups = ["nowhere"]',
     "outbound_routes[0].trunk_groups[0]", "trunk group 'nowhere' is not declared"),
    ('name = "x"\nprefix = "9"\ntrunk_groups = ["pstn_in"]',
     "outbound_routes[0].trunk_groups[0]", "inbound only"),
    ('name = "x"\nprefix = "9"\npattern = "_9X."\ntrunk_groups = ["local"]',
     "outbound_routes[0]", "not both"),
    ('name = "x"\ntrunk_groups = ["local"]', "outbound_routes[0]", "found neither"),
    ('name = "x"\npattern = "_9Q"\ntrunk_groups = ["local"]', "outbound_routes[0].pattern",
     "'Q' at 2 is not a digit"),
    ('name = "x"\npattern = "_9[2-"\ntrunk_groups = ["local"]', "outbound_routes[0].pattern",
     "closed by ']'"),
    ('name = "x"\npattern = "_9[9-2]XX"\ntrunk_groups = ["local"]',
     "outbound_routes[0].pattern", "the range 9-2 runs backwards (write 2-9)"),
    ('name = "x"\nprefix = "9a"\ntrunk_groups = ["local"]', "outbound_routes[0].prefix",
     "expected digits, * and #"),
    ('name = "x"\nprefix = "9"\ntrunk_groups = []', "outbound_routes[0].trunk_groups",
     "at least one"),
    ('name = "x"\nprefix = "9"\ntrunk_groups = ["local"]\nstrip = -1',
     "outbound_routes[0].strip", "an integer from 0 to 31"),
    ('name = "x"\nprefix = "9"\ntrunk_groups = ["local"]\nprepend = "+1"',
     "outbound_routes[0].prepend", "expected up to 16 digits"),
])
def test_bad_outbound_routes_are_refused_naming_the_key(tmp_path, route, key, words):
    shutil.copytree("etc", tmp_path / "etc")
    cti = tmp_path / "etc" / "cti.toml"
    cti.write_text(cti.read_text() + "\n[[outbound_routes]]\n" + route + "\n")
    with pytest.raises(ConfigError) as caught:
        load_server_config(cti)
    assert f"{key}:" in str(caught.value) and words in str(caught.value)


def test_two_routes_for_one_prefix_are_refused(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_server_config(write_config(tmp_path, ROUTES + ROUTES.replace(
            '"local_calls"', '"again"').split("[[outbound_routes]]\nname = \"long")[0]))
    assert "outbound_routes[3].prefix: prefix '9' is routed already, by outbound_routes[0]" \
        in str(caught.value)


def test_a_caller_whose_number_no_route_matches_is_not_offered_a_callback(tmp_path):
    """Routes for 9... and 8... only: a caller from 2125550001 could never
    be called back, so its key 5 does not release its line (it would wait
    for a callback that never comes) and it stays on the line, queued."""
    from dataclasses import replace

    from cti.storage.models import QueueLogEntry

    config = load_server_config(write_config(tmp_path))
    centre = Centre(replace(config, queues=tuple(
        replace(q, callback_key="5", announce_every_s=20, announce=("position",),
                messages=()) if q.name == "support" else q for q in config.queues)))
    caller = centre.sim.endpoint("dtiB1T1")
    caller.call(ani="2125550001", dnis="5550199")
    centre.run_until(lambda: centre.center.acd.entries and caller.state == "connected",
                     what="waiting in support")
    centre.run(2000)
    caller.send_digits("5")
    centre.run(10_000)
    [ic] = centre.center.calls.values()
    assert caller.state == "connected" and not ic.line_released and ic.state == "queued"
    assert "CALLBACKREQ" not in [e.event for e in centre.records.of(QueueLogEntry)]


def test_the_longest_fixed_beginning_wins_then_the_first_declared():
    """The rule the module's example relies on: a pattern and a prefix
    with the same fixed beginning ("91") go by their order."""
    from cti.server.outbound.routes import OutboundRoute, route_for

    mobiles = OutboundRoute("mobiles", ("gsm",), pattern="_91[3-9]XXXXXXXXX", strip=1)
    long_distance = OutboundRoute("long_distance", ("pstn_out",), prefix="91", strip=1)
    local = OutboundRoute("local", ("local",), prefix="9", strip=1)
    routes = (local, mobiles, long_distance)
    assert route_for(routes, "913125551234").name == "mobiles"
    assert route_for(routes, "912125551234").name == "long_distance"   # 2: not a mobile
    assert route_for(routes, "95551234").name == "local"
    assert route_for((local, long_distance, mobiles), "913125551234").name == "long_distance"
    assert mobiles.dialled("913125551234") == "13125551234"


@pytest.mark.parametrize("routes,far", [
    (ROUTES, "dtiB1T1"),               # 911 begins with long_distance's 91: its groups
    ('[[outbound_routes]]\nname = "eights"\nprefix = "8"\ntrunk_groups = ["local"]\n',
     "dtiB1T1"),                       # no route for it: every group, in file order
])
def test_an_emergency_number_goes_out_as_dialled_whatever_the_routes(tmp_path, routes, far):
    """[dialing] emergency numbers are never refused: a route's strip does
    not make 911 into 11, and a site whose routes match no 911 still
    places it (on the route's groups first, then every out and both group)."""
    centre = routed_centre(tmp_path, routes)
    client, events, phone = headset_agent(centre)
    call_id, end = call_out(centre, client, events, "911", far)
    assert end.dialled() == "911"
    assert hang_up_and_cdr(centre, end, call_id).dnis == "911"


def test_an_emergency_call_takes_another_group_when_its_route_s_are_busy(tmp_path):
    centre = routed_centre(tmp_path, ROUTES.replace('trunk_groups = ["local", "pstn_in"]',
                                                    'trunk_groups = ["local"]'))
    client, events, phone = headset_agent(centre)
    for line in ("dxxxB1C1", "dxxxB1C2", "dxxxB1C3", "dxxxB1C4"):   # callers on every line
        centre.sim.endpoint(line).call(ani="2125550001")
    centre.run_until(lambda: all(centre.center.channels[f"dxxxB1C{n}"].state != "idle"
                                 for n in range(1, 5)), what="every analog line busy")
    call_id, end = call_out(centre, client, events, "911", "dtiB1T1")
    assert end.dialled() == "911"
