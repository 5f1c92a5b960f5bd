# SPDX-License-Identifier: GPL-2.0-or-later
"""`cti sim script`: scripted scenarios run against the server
(tests.centre, virtual time): one that passes, one whose expectation fails
(with what was seen), and scripts refused before they run."""
import tomllib

import pytest

from cti.sim_script import Script, ScriptError, StepFailed, check
from tests.centre import Centre
from tests.test_callcenter import agent_ready

PASSWORD = "1234"

A_CALL_TO_AN_AGENT = """
[settings]
within = 20

[[step]]
call = { target = "pstn_in", ani = "2125551234", dnis = "5550199" }
as = "caller"

[[step]]
expect_event = { event = "Delivered", device = "msiB1C5", callingDevice = "212*" }
save = { thecall = "call" }

[[step]]
handset = { station = "msiB1C5", action = "lift" }

[[step]]
expect_snapshot = { object = "agent", id = "1005", state = "busy", call = "$thecall" }

[[step]]
wait = 1.5

[[step]]
expect_far = { device = "$caller", state = "connected" }

[[step]]
hangup = { device = "$caller" }

[[step]]
expect_event = { event = "CallCleared", call = "$thecall" }
within = 5
"""


@pytest.fixture
def centre():
    centre = Centre()
    centre.server.startService()
    agent_ready(centre, "1005", "msiB1C5")
    yield centre
    centre.center.stop()


def run(centre, text, out=None):
    _, steps = check(tomllib.loads(text), "scenario.toml")
    client = centre.client()
    centre.call(client.login("admin", PASSWORD, "admin"))
    return centre.call(Script(steps, client, centre.clock, out).run(), within_ms=120_000)


def test_a_scenario_that_holds_passes_step_by_step(centre, capsys):
    import sys

    run(centre, A_CALL_TO_AN_AGENT, sys.stdout)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 8
    assert lines[0].startswith("step 1 (call): device=dtiB1T1")
    assert lines[-1] == "step 8 (expect_event): CallCleared came"
    assert not centre.center.calls


def test_an_expectation_not_met_fails_the_script_saying_what_was_seen(centre):
    text = A_CALL_TO_AN_AGENT.replace('state = "busy"', 'state = "ready"').replace(
        "within = 20", "within = 3")
    with pytest.raises(StepFailed) as caught:
        run(centre, text)
    message = str(caught.value)
    assert message.startswith("step 4 (expect_snapshot): ")
    assert '"state": "busy"' in message and "within 3 s" in message
    centre.run_until(lambda: not centre.center.calls, what="its call hung up by the cleanup")


def test_an_event_that_never_comes_fails_with_the_events_seen(centre):
    text = """
[[step]]
call = { target = "pstn_in", ani = "2125551234", dnis = "5550199" }
[[step]]
expect_event = { event = "Delivered", device = "msiB1C7" }
within = 4
"""
    with pytest.raises(StepFailed) as caught:
        run(centre, text)
    assert "no event" in str(caught.value) and "Delivered" in str(caught.value)


def test_an_action_the_server_refuses_fails_the_step(centre):
    with pytest.raises(StepFailed, match=r"step 1 \(call\): SimCall refused: no_such_object"):
        run(centre, '[[step]]\ncall = { target = "nowhere" }\n')


@pytest.mark.parametrize("text, error", [
    ("", "no [[step]] to run"),
    ('[[step]]\ncal = { target = "x" }\n', "step 1: give exactly one of call"),
    ('[[step]]\nwait = 1\nhangup = { device = "x" }\n', "(it has wait, hangup)"),
    ('[[step]]\nwait = -1\n', "step 1.wait: expected seconds"),
    ('[[step]]\nexpect_snapshot = { object = "agent" }\n', "give `object` and `id`"),
    ('[[step]]\nhangup = { device = "x" }\nas = "y"\n', "step 1.as: names the device"),
    ('[[step]]\nwait = 1\ncolour = "red"\n', "unknown key(s) colour"),
    ('[settings]\nwithin = "soon"\n[[step]]\nwait = 1\n', "settings.within"),
    ('[[step]]\nplay = { device = "dtiB1T1", file = "missing.wav" }\n', "missing.wav"),
    ('[[step]]\nplay = { device = "dtiB1T1", file = ["x"] }\n', "a WAV path (a string)"),
    ("settings = 5\n[[step]]\nwait = 1\n", "settings: expected a table"),
    ('step = [["call"]]\n', "step 1: expected a table"),
    ("[[step]]\nwait = nan\n", "step 1.wait: expected seconds"),
    ('[[step]]\nexpect_event = { event = "X" }\nsave = { a = 1 }\n', "step 1.save"),
    ('[[step]]\nwait = 1\n[[step]]\nalarm = { span = "dtiB1", alarm = "purple" }\n',
     "step 2.alarm.alarm: SimAlarm: field 'alarm' must be one of"),
    ('[[step]]\nhandset = { station = "msiB1C5" }\n', "step 1.handset: give `action`"),
    ('[[step]]\ncall = { target = "pstn_in", anni = "1" }\n',
     "step 1.call.anni: no such field of SimCall"),
    ('[[step]]\nbit_errors = { span = "dtiB1", ber = "lots" }\n',
     "step 1.bit_errors.ber: SimBitErrors: field 'ber' must be a number"),
    ('[[step]]\ndigits = { device = "$caller", digits = 5 }\n',
     "step 1.digits.digits: SimDigits: field 'digits' must be a string"),
    ('[[step]]\nplay = { file = "x.wav" }\n', "step 1.play: give `device`"),
])
def test_a_wrong_script_is_refused_before_it_runs_naming_the_step(text, error):
    with pytest.raises(ScriptError) as caught:
        check(tomllib.loads(text), "scenario.toml")
    assert error in str(caught.value) and str(caught.value).startswith("scenario.toml")


def test_cti_sim_script_refuses_a_wrong_field_before_it_connects(tmp_path, capsys):
    """Step 3's field is wrong: exit 2 naming it, and no step runs (there
    is no server to run them against either)."""
    from argparse import Namespace

    from cti.sim_script import run_file

    script = tmp_path / "scenario.toml"
    script.write_text('[[step]]\ncall = { target = "pstn_in" }\nas = "caller"\n'
                      '[[step]]\nwait = 1\n'
                      '[[step]]\nhangup = { device = "$caller", method = "slam" }\n')
    args = Namespace(file=str(script), server="127.0.0.1:1", config=None, user="admin",
                     password_file=None, quiet=False)
    assert run_file(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"cti sim script: {script}: step 3.hangup.method: "
                                   "SimHangup: field 'method' must be one of ")


def test_a_name_used_before_it_is_defined_fails_the_step(centre):
    with pytest.raises(StepFailed, match=r"\$caller is not defined yet"):
        run(centre, '[[step]]\nhangup = { device = "$caller" }\n')


def test_the_same_event_through_two_monitors_counts_once(centre):
    """A call's Delivered reaches the call and the device monitors: the
    second expectation waits for the second call's, not the first's copy."""
    text = """
[[step]]
call = { target = "dtiB1T1", ani = "2125550001", dnis = "5550100" }
[[step]]
expect_event = { event = "Delivered", callingDevice = "2125550001" }
save = { first = "call" }
[[step]]
call = { target = "dtiB1T2", ani = "2125550002", dnis = "5550100" }
[[step]]
expect_event = { event = "Delivered" }
save = { second = "call" }
[[step]]
expect_snapshot = { object = "call", id = "$second", ani = "2125550002" }
"""
    run(centre, text)


def test_saving_a_field_the_event_does_not_have_fails_the_step(centre):
    text = """
[[step]]
call = { target = "dtiB1T1", ani = "2125550001", dnis = "5550199" }
[[step]]
expect_event = { event = "Queued" }
save = { who = "colour" }
"""
    with pytest.raises(StepFailed, match=r"step 2 \(expect_event\): save who: the Queued "
                       r"event has no field 'colour' \(it has .*callingDevice"):
        run(centre, text)


def test_a_snapshot_of_an_object_that_is_not_there_fails_the_step(centre):
    with pytest.raises(StepFailed, match=r"step 1 \(expect_snapshot\): Snapshot .* refused: "
                       "no_such_object"):
        run(centre, '[[step]]\nexpect_snapshot = { object = "call", id = "c404" }\n')


def test_a_lost_connection_ends_an_awaited_event_at_once(centre):
    from cti.protocol.client import ConnectionClosed

    _, steps = check(tomllib.loads('[[step]]\nexpect_event = { event = "Never" }\n'
                                   "within = 60\n"), "scenario.toml")
    client = centre.client()
    centre.call(client.login("admin", PASSWORD, "admin"))
    done = Script(steps, client, centre.clock).run()
    centre.run(1_000)
    client.transport.loseConnection()
    with pytest.raises(ConnectionClosed):
        centre.call(done, within_ms=2_000)
