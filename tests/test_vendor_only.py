# SPDX-License-Identifier: GPL-2.0-or-later
"""The R4 driver on the vendor's calls alone (the vendor-only binding over
the simulator): station tones from voice channels, span alarms from their
events, a clear refusal at start-up for what the vendor's API lacks, and
the whole server taking a call through it."""
from dataclasses import replace

import pytest
from twisted.internet import task

from cti.server.app import CTServer
from cti.server.config import load_server_config
from cti.storage.models import CallRecord
from drivers import errors
from drivers.r4 import R4Driver, binding
from drivers.sim import Simulator
from drivers.stationtones import TONE_PLAN
from tests.centre import Centre, tones_both_ways
from tests.rig import Rig, hears
from tests.test_callcenter import agent_ready, names

BOARDS = [{"type": "voice", "channels": 4}, {"type": "voice", "channels": 4},
          {"type": "t1"}, {"type": "stations", "count": 2}]
TONE_CHANNELS = {"dial": "dxxxB2C1", "ringback": "dxxxB2C2", "busy": "dxxxB2C3",
                 "reorder": "dxxxB2C4"}
PHONE = "msiB1C1"
#: the station tones each way: the port's own (the simulator's ms_settone),
#: and the voice channels' with the vendor's calls alone
WAYS = {"ms_settone": ("full", None), "tone channels": ("vendor", TONE_CHANNELS)}


@pytest.fixture(params=WAYS)
def rig(request):
    which, channels = WAYS[request.param]
    rig = Rig(BOARDS, binding=which, tone_channels=channels)
    rig.driver.enable_station_events(PHONE)
    rig.sim.endpoint(PHONE).offhook()
    rig.run(50)
    return rig


def heard(rig, ms):
    """What the phone's handset hears for `ms`: (tones recognised, samples)."""
    phone = rig.sim.endpoint(PHONE)
    phone.capture(True)
    tones = set()
    for _ in range(0, ms, 100):
        rig.run(100)
        tones.add(phone.heard_tone())
    samples = phone.read_capture()
    phone.capture(False)
    return tones - {"none"}, samples


@pytest.mark.parametrize("tone", TONE_PLAN)
def test_the_phone_hears_each_tone_asked_for_it(rig, tone):
    rig.driver.station_tone(PHONE, tone)
    tones, samples = heard(rig, 7_000)            # a whole ringback cadence
    first, second = TONE_PLAN[tone][:2]
    assert tones == {tone}
    assert hears(samples, first) and hears(samples, second)
    assert rig.driver.status(PHONE)["tone"] == tone
    rig.driver.station_tone(PHONE, None)
    _, samples = heard(rig, 1_000)
    assert not hears(samples[800:], first) and not hears(samples[800:], second)


def test_a_route_comes_before_the_tone_which_returns_when_it_goes():
    rig = Rig(BOARDS, binding="vendor", tone_channels=TONE_CHANNELS)
    d = rig.driver
    rig.sim.endpoint(PHONE).offhook()
    d.station_tone(PHONE, "dial")
    slot = d.transmit_slot("dxxxB1C1")
    d.listen(PHONE, slot)                         # the switching map routes the phone
    assert d.status(PHONE)["listen"] == slot      # an idle voice channel: silence
    tones, samples = heard(rig, 1_000)
    assert not tones and not hears(samples, 350)
    d.unlisten(PHONE)
    assert d.status(PHONE)["listen"] is None
    tones, samples = heard(rig, 1_000)
    assert tones == {"dial"}
    assert rig.sim.misuse() == []


def test_a_refused_route_leaves_the_phone_its_tone():
    rig = Rig(BOARDS, binding="vendor", tone_channels=TONE_CHANNELS)
    d = rig.driver
    rig.sim.endpoint(PHONE).offhook()
    d.station_tone(PHONE, "busy")
    with pytest.raises(errors.BusMisuse):
        d.listen(PHONE, 4000)                     # a slot nobody drives
    tones, samples = heard(rig, 3_000)
    assert tones == {"busy"} and hears(samples, 620)


@pytest.mark.parametrize("which", ["full", "vendor"])
def test_a_spans_alarms_are_known_either_way(which):
    rig = Rig(BOARDS, binding=which, tone_channels=TONE_CHANNELS)
    d = rig.driver
    d.enable_alarm_events("dtiB1")
    rig.sim.span_alarm("dtiB1", "blue")
    rig.run(100)
    assert d.alarms("dtiB1") == {"blue"} and d.status("dtiB1")["alarms"] == ["blue"]
    rig.sim.span_alarm("dtiB1", "blue", on=False)
    rig.run(100)
    assert d.alarms("dtiB1") == frozenset()
    assert [(e["alarm"], e["raised"]) for e in rig.of("alarm")] == [("blue", True),
                                                                    ("blue", False)]


def test_without_the_simulators_calls_span_maintenance_is_refused_by_name():
    d = Rig(BOARDS, binding="vendor", tone_channels=TONE_CHANNELS).driver
    for call, function in ((lambda: d.span_counters("dtiB1"), "dt_getcounters"),
                           (lambda: d.span_loopback("dtiB1", "line"), "dt_setloopback"),
                           (lambda: d.bert_start("dtiB1T1", "qrss"), "dt_bertstart")):
        with pytest.raises(errors.DriverNotSupported) as caught:
            call()
        assert caught.value.function == function and "vendor's API" in str(caught.value)
    assert "framing" not in d.status("dtiB1")          # what the board cannot tell


def test_a_driver_that_cannot_give_phones_their_tones_refuses_at_start_up():
    Simulator.from_config(BOARDS)
    driver = R4Driver(clock=task.Clock(), binding=binding("vendor"))
    driver.inventory()
    with pytest.raises(errors.DriverNotSupported) as caught:
        driver.enable_station_events(PHONE)
    e = caught.value
    assert (e.function, e.device) == ("ms_settone", PHONE)
    assert "vendor's API" in e.message and "[station_tones]" in e.message
    assert all(tone in e.message for tone in TONE_PLAN)


def test_tone_channels_must_be_voice_channels_one_per_tone():
    Simulator.from_config(BOARDS)
    with pytest.raises(errors.BadParameter) as caught:
        R4Driver(clock=task.Clock(), tone_channels={"dial": "dxxxB2C1"})
    assert "ringback" in str(caught.value)
    driver = R4Driver(clock=task.Clock(), tone_channels=dict(TONE_CHANNELS, busy="dtiB1T1"))
    with pytest.raises(errors.BadParameter) as caught:
        driver.inventory()
    assert caught.value.device == "dtiB1T1"


# -- the whole server ------------------------------------------------------------
def vendor_config(tones):
    """etc/cti.toml with the phones' tones on the last voice board's channels."""
    config = load_server_config("etc/cti.toml")
    channels = dict(zip(TONE_PLAN, config.voice_pool[-4:], strict=True)) if tones else {}
    return replace(config, station_tones=channels, voice_pool=tuple(
        name for name in config.voice_pool if name not in channels.values()))


def test_the_server_on_the_vendors_calls_without_tone_channels_will_not_start():
    config = vendor_config(tones=False)
    Simulator.from_config(config.boards)
    clock = task.Clock()
    driver = R4Driver(clock=clock, binding=binding("vendor"))
    with pytest.raises(errors.DriverNotSupported) as caught:
        CTServer(config, reactor=clock, driver=driver, records=[], listen=[], http="")
    assert "ms_settone" in str(caught.value) and "[station_tones]" in str(caught.value)


def test_the_server_on_the_vendors_calls_alone_takes_a_call_to_an_agent():
    centre = Centre(vendor_config(tones=True), binding="vendor")
    phone, caller = centre.sim.endpoint("msiB1C5"), centre.sim.endpoint("dtiB1T1")
    phone.offhook()                                 # an idle phone lifted: dial tone
    centre.run_until(lambda: phone.heard_tone() == "dial", what="dial tone")
    phone.onhook()
    centre.run(200)
    agent, events = agent_ready(centre, "1005", "msiB1C5")
    caller.call(ani="2125551234", dnis="5550199")
    centre.run_until(lambda: phone.state == "ringing", what="the phone rings")
    phone.offhook()
    centre.run_until(lambda: "Established" in names(events), what="Established")
    from_caller, from_phone = tones_both_ways(centre, caller, phone)
    assert hears(from_caller, 1000) and not hears(from_caller, 350)
    assert hears(from_phone, 1500)
    caller.hangup()
    centre.run_until(lambda: not centre.center.calls, what="the call ends")
    assert centre.sim.misuse() == []


def test_cti_server_and_its_check_say_why_the_vendors_calls_cannot_drive_the_phones(
        tmp_path, monkeypatch, capsys):
    """As on a vendor SDK build without [station_tones]: exit status 2 and
    one line naming the missing call and what to configure, no traceback."""
    import io
    from argparse import Namespace
    from functools import partial

    from cti.server.check import run as check
    from cti.server.run import main
    from drivers import r4
    from tests.test_server_run import fresh_copy

    config = fresh_copy(tmp_path)
    config.write_text(config.read_text().replace('driver = "sim"', 'driver = "r4"'))
    boards = load_server_config(config).boards
    monkeypatch.setattr(r4, "R4Driver", partial(R4Driver, binding=binding("vendor")))
    Simulator.from_config(boards)                   # the boards "r4" opens
    assert main(Namespace(config=str(config), drain=None)) == 2
    err = capsys.readouterr().err
    assert err.startswith("cti server: cannot start: ms_settone(msiB1C1)")
    assert "[station_tones]" in err and "Traceback" not in err
    Simulator.from_config(boards)                   # closed, as at another start
    out = io.StringIO()
    assert check(str(config), out) == 2
    assert "FAIL boards: ms_settone(msiB1C1)" in out.getvalue()


def test_the_server_on_the_vendors_calls_reports_spans_without_counters_refuses_tests():
    from cti.protocol.client import RemoteError
    from tests.centre import admin
    from tests.test_span_reports import report

    centre = Centre(vendor_config(tones=True), binding="vendor")
    centre.server.startService()
    try:
        client = admin(centre)
        centre.sim.span_alarm("dtiB1", "red")
        centre.run(3_000)
        span = report(centre, client)
        assert (span["state"], span["alarms"]) == ("down", ["red"])      # from its event
        assert (span["counters"], span["performance"]) == ({}, None)
        with pytest.raises(RemoteError) as caught:
            centre.call(client.call("SetSpanLoopback", span="dtiB1", mode="line"))
        assert "dt_setloopback" in str(caught.value)
    finally:
        centre.center.stop()


def test_the_server_on_the_vendors_calls_clears_a_silent_hang_up_at_its_level():
    """An analog group with silence (its level set through dx_setparm, a
    vendor call): the caller who hangs up into silence is cleared."""
    config = vendor_config(tones=True)
    local = next(g for g in config.trunk_groups if g.name == "local")
    groups = tuple(replace(g, disconnect=("silence",), silence_s=6, silence_dbm0=-45)
                   if g is local else g for g in config.trunk_groups)
    centre = Centre(replace(config, trunk_groups=groups), binding="vendor")
    agent, events = agent_ready(centre, "1001", "msiB1C1")        # sales: flow_down
    caller, phone = centre.sim.endpoint("dxxxB1C2"), centre.sim.endpoint("msiB1C1")
    caller.call(ani="2125551234")
    centre.run_until(lambda: phone.state == "ringing", within_ms=30_000,
                     what="the phone rings")
    phone.offhook()
    centre.run_until(lambda: "Established" in names(events), what="Established")
    caller.hangup("silence")
    centre.run(5_000)
    assert len(centre.center.calls) == 1                # not yet: 6 s
    centre.run_until(lambda: not centre.center.calls, within_ms=2_000,
                     what="cleared by silence")
    [cdr] = centre.records.of(CallRecord)
    assert cdr.cause == "far end cleared (silence for 6 s)"


@pytest.mark.parametrize("t1_loopstart", [False, True])
def test_a_vendor_sdk_without_the_silence_parameter_refuses_to_start_silence(tmp_path,
                                                                             t1_loopstart):
    """Headers without DXCH_SILENCETHRESH: a group with "silence" stops
    the server at its start, naming dx_setparm; a T1 loop-start group as
    an analog one (not the first call on it, its voice resource lent)."""
    import shutil

    shutil.copytree("etc", tmp_path / "etc")
    cti = tmp_path / "etc" / "cti.toml"
    if t1_loopstart:
        boards = tmp_path / "etc" / "boards.toml"
        boards.write_text(boards.read_text().replace('signalling = "em_wink"',
                                                     'signalling = "fxs_loopstart"', 1))
        anchor = 'channels = ["dtiB1T1-24"]\n'
    else:
        anchor = 'channels = ["dxxxB1C1-4"]\n'
    cti.write_text(cti.read_text().replace(
        anchor, anchor + 'disconnect = ["tone", "silence"]\n', 1))
    config = load_server_config(cti)
    channels = dict(zip(TONE_PLAN, config.voice_pool[-4:], strict=True))
    config = replace(config, station_tones=channels, voice_pool=tuple(
        name for name in config.voice_pool if name not in channels.values()))
    Simulator.from_config(config.boards)
    clock = task.Clock()
    headers_without = binding("vendor")
    headers_without.has_silence_threshold = False
    driver = R4Driver(clock=clock, binding=headers_without, tone_channels=channels)
    with pytest.raises(errors.DriverNotSupported) as caught:
        CTServer(config, reactor=clock, driver=driver, records=[], listen=[], http="")
    assert "dx_setparm" in str(caught.value) and "DXCH_SILENCETHRESH" in str(caught.value)


def test_rings_are_counted_per_call_when_the_board_gives_no_count():
    """SR 5.1.1 documents no count in DE_RINGS' cst_data (0); the server
    answers on a ring number all the same: the driver counts a call's
    rings itself, from 1 again after DE_RNGOFF or a hook change.  A count
    the board gives (ours: from 1 for each call) is taken as it is."""
    driver = R4Driver(clock=task.Clock(), binding=binding("vendor"))
    lib = driver._lib

    def ring(data=0):
        return driver._cst_event("dxxxB1C1", lib.DE_RINGS, data).data["count"]
    assert [ring(), ring(), ring()] == [1, 2, 3]
    assert driver._cst_event("dxxxB1C1", lib.DE_RNGOFF, 0).kind == "ring_stopped"
    assert [ring(), ring()] == [1, 2]
    assert [ring(1), ring(2), ring(1)] == [1, 2, 1]           # the board's own count
