# SPDX-License-Identifier: GPL-2.0-or-later
"""E1 spans and ISDN D-channels in the simulator, through the driver, as a
technician meets them on a real span (lines-real.md 4.1, 4.2, 4.5): 30
timeslots numbered as the vendor numbers them, timeslot 0 framing with
CRC-4 on or off and what a mismatch raises, the CAS bits of timeslot 16
both ways with C and D (0000 refused), A-law on the line with the bus in
mu-law, a D-channel's frames both ways at 64 kb/s through the span, and a
T1 in PRI mode.  All in virtual time.
"""
import pytest

from drivers.errors import BadParameter, DeviceBusy, SimulatorError
from drivers.interface import E1_CODINGS, E1_FRAMINGS, SPAN_COUNTERS
from drivers.sim import linear2alaw
from tests.rig import Rig, hears, tone

SPAN, TS, TS2, CH = "dtiB1", "dtiB1T1", "dtiB1T2", "dxxxB1C1"
DCHANNEL = "dtiB1D"
#: a linear sample the A-law encoder turns into the byte 0x00: eight zeros on the
#: line (the line-code tests count exactly these zeros: the line carries A-law)
ZEROS_BYTE_SAMPLE = next(x for x in range(-32768, 32768) if linear2alaw(x) == 0)
#: an idle CAS timeslot's bits both ways (Q.421's idle: A = 1, B = 0, C = 0, D = 1)
CAS_IDLE = "1001"
#: multiframes (16 frames) of timeslot 16 in a second, each opening with 0000
MULTIFRAMES_PER_S = 8000 // 16


def e1(signalling="cas", **line):
    """An E1 span (ours configured with `line`) and a voice board; alarm and
    signalling events on."""
    rig = Rig([{"type": "e1", "signalling": signalling, **line},
               {"type": "voice", "channels": 2}])
    rig.driver.enable_alarm_events(SPAN)
    if signalling == "cas":
        rig.driver.enable_signalling_events(TS)
    rig.alarms = lambda: [(e["alarm"], e["raised"]) for e in rig.of("alarm", SPAN)]
    return rig


@pytest.fixture
def cas():
    return e1("cas")


@pytest.fixture
def ccs():
    return e1("ccs")


def counters(rig):
    return rig.driver.span_counters(SPAN)


def received(rig, ts, ms):
    """What we receive on a timeslot (its mu-law bus slot, decoded) during ms."""
    slot = rig.driver.transmit_slot(ts)
    rig.sim.slot_capture(slot)
    rig.run(ms)
    samples = rig.sim.read_slot(slot)
    rig.sim.slot_capture(slot, on=False)
    return samples


# ---- the span and its timeslots ---------------------------------------------------

def test_an_e1_has_30_timeslots_and_says_it_is_an_e1(cas):
    inventory = cas.driver.inventory()
    timeslots = [i.name for i in inventory if i.kind == "timeslot" and i.board == SPAN]
    assert timeslots == [f"dtiB1T{n}" for n in range(1, 31)]
    assert not [i for i in inventory if i.kind == "dchannel"]
    status = cas.driver.status(SPAN)
    assert (status["type"], status["framing"], status["coding"], status["dchannel"]) == (
        "e1", "e1_crc4", "hdb3", None)
    assert status["framing"] in E1_FRAMINGS and status["coding"] in E1_CODINGS


def test_a_ccs_e1_has_a_d_channel_and_its_timeslots_carry_no_bits(ccs):
    inventory = {i.name: i for i in ccs.driver.inventory()}
    assert inventory[DCHANNEL].kind == "dchannel" and inventory[DCHANNEL].slot is None
    assert len([i for i in inventory.values() if i.kind == "timeslot"]) == 30
    assert ccs.driver.status(SPAN)["dchannel"] == DCHANNEL
    with pytest.raises(BadParameter, match="D-channel"):
        ccs.driver.set_bits(TS, 1, 1)


def test_a_t1_in_pri_mode_has_23_b_channels_and_the_d_channel_on_24():
    rig = Rig([{"type": "t1", "signalling": "pri"}])
    inventory = {i.name: i for i in rig.driver.inventory()}
    assert [n for n, i in inventory.items() if i.kind == "timeslot"] == [
        f"dtiB1T{n}" for n in range(1, 24)]
    assert inventory[DCHANNEL].kind == "dchannel"
    status = rig.driver.status(SPAN)
    assert (status["type"], status["framing"], status["dchannel"]) == ("t1", "esf", DCHANNEL)
    with pytest.raises(BadParameter, match="B-channel"):
        rig.driver.set_bits("dtiB1T1", 1, 0)
    rig.driver.dchannel_send(DCHANNEL, b"\x00\x01\x7f")
    rig.run(10)
    assert rig.sim.dchannel(SPAN).receive() == b"\x00\x01\x7f"


def test_the_configuration_s_line_settings_show_in_the_status():
    rig = e1(crc4=False, coding="ami", clock="internal")
    status = rig.driver.status(SPAN)
    assert (status["framing"], status["coding"], status["clock"]) == ("e1", "ami", "internal")


@pytest.mark.parametrize("board, key", [
    ({"crc4": "yes"}, "crc4"), ({"coding": "b8zs"}, "coding"), ({"signalling": "pri"},
                                                                "signalling"),
    ({"framing": "esf"}, "framing")])
def test_the_simulator_refuses_a_wrong_e1_board_naming_the_key(board, key):
    with pytest.raises(SimulatorError, match=key):
        Rig([{"type": "e1", **board}])


# ---- framing and CRC-4 ------------------------------------------------------------------

def test_crc4_on_against_a_far_end_without_raises_our_multiframe_alarm_and_nothing_else(cas):
    """The CRC-4 end finds no CRC-4 multiframe in the Si bits: its multiframe
    alarm (LMFA), for as long as the mismatch lasts; it still frames, so the
    span stays up, and it counts no CRC-4 error (no block to check)."""
    rig = cas
    rig.sim.far_span_config(SPAN, crc4=False)
    rig.run(1_000)
    assert rig.alarms() == [("lmfa", True)]
    assert rig.driver.alarms(SPAN) == {"lmfa"}
    assert rig.driver.status(SPAN)["multiframes_lost"] == ["crc4"]
    assert counters(rig)["crc"] == 0
    rig.sim.endpoint(TS).send_audio(tone(1000, 1000))
    assert hears(received(rig, TS, 1000), 1000)          # calls go on
    rig.sim.far_span_config(SPAN, crc4=True)
    rig.run(100)
    assert rig.alarms() == [("lmfa", True), ("lmfa", False)]
    assert rig.driver.status(SPAN)["multiframes_lost"] == []


def test_crc4_off_against_a_far_end_with_crc4_is_fine_at_our_end():
    rig = e1(crc4=False)
    rig.sim.far_span_config(SPAN, crc4=True)
    rig.run(2_000)
    assert rig.alarms() == []
    assert rig.driver.status(SPAN)["multiframes_lost"] == []


def test_bit_errors_fail_crc4_blocks_and_the_e_bits_count_as_far_end_block_errors(cas):
    rig = cas
    rig.sim.span_ber(SPAN, 1e-4)
    rig.run(1_000)
    crc = counters(rig)["crc"]
    # 2,048,000 bits a second, 205 errored; at most one CRC-4 error per
    # sub-multiframe (2048 bits): about 190 of the 1000 blocks
    assert 120 < crc < 260, crc
    assert counters(rig)["fas"] < crc
    rig.sim.span_errors(SPAN, ebit=7)
    assert counters(rig)["ebit"] == 7
    assert set(counters(rig)) >= set(SPAN_COUNTERS)


def test_without_crc4_there_is_no_crc_to_fail_and_no_e_bits():
    rig = e1(crc4=False)
    rig.sim.span_ber(SPAN, 1e-4)
    rig.run(1_000)
    assert counters(rig)["crc"] == 0 and counters(rig)["fas"] > 0
    with pytest.raises(SimulatorError, match="E bits"):
        rig.sim.span_errors(SPAN, ebit=1)
    with pytest.raises(SimulatorError, match="CRC"):
        rig.sim.span_errors(SPAN, crc=1)


def test_an_e1_reports_its_alarms_in_its_own_codes_and_has_no_t1_loop_codes(cas):
    rig = cas
    for alarm in ("los", "blue", "yellow", "ts16_yellow"):
        rig.sim.span_alarm(SPAN, alarm)
        rig.run(10)
        rig.sim.span_alarm(SPAN, alarm, on=False)
        rig.run(10)
    assert rig.alarms() == [(a, up) for a in ("los", "blue", "yellow", "ts16_yellow")
                            for up in (True, False)]
    with pytest.raises(BadParameter, match="loop codes"):
        rig.driver.send_loop_code(SPAN, "line_up")
    t1 = Rig([{"type": "t1"}])
    with pytest.raises(SimulatorError, match="no LMFA"):
        t1.sim.span_alarm(SPAN, "lmfa")


def test_a_bert_over_a_local_loop_covers_the_30_timeslots_error_free(cas):
    rig = cas
    rig.driver.span_loopback(SPAN, "local")
    rig.driver.bert_start(SPAN, "qrss")
    rig.run(2_000)
    results = rig.driver.bert_stop(SPAN)
    assert (results["sync"], results["errors"]) == (True, 0)
    # 30 timeslots of 64 kb/s, 1.92 Mb/s, less the time to synchronise
    assert 1_920_000 * 1.9 < results["bits"] <= 1_920_000 * 2


# ---- line code ---------------------------------------------------------------------

def zeros_for_a_second(rig):
    """The far end sends a second of bytes 0x00; the span counts a tick's
    bytes at the next tick: they are all counted 1010 ms later."""
    rig.sim.endpoint(TS).send_audio([ZEROS_BYTE_SAMPLE] * 8000)
    rig.run(1_010)


#: timeslot 16's multiframes in those 1010 ms
MULTIFRAMES_IN_ZEROS = MULTIFRAMES_PER_S * 1010 // 1000


def test_hdb3_received_as_ami_is_a_bpv_per_four_zeros_the_multiframe_alignment_included():
    """Timeslot 16's multiframe alignment signal, 0000 1011 in one frame in
    16, is a run of four zeros too: an HDB3 line substitutes it."""
    rig = e1(coding="ami")
    rig.sim.far_span_config(SPAN, coding="hdb3")
    rig.run(100)
    before = counters(rig)
    rig.run(1_000)
    assert counters(rig)["bpv"] - before["bpv"] == MULTIFRAMES_PER_S   # idle: the MFAS alone
    before = counters(rig)
    zeros_for_a_second(rig)
    assert counters(rig)["bpv"] - before["bpv"] == 2 * 8000 + MULTIFRAMES_IN_ZEROS
    assert rig.alarms() == []


def test_ami_received_as_hdb3_is_an_excessive_zeros_event_per_run_of_four(cas):
    rig = cas
    rig.sim.far_span_config(SPAN, coding="ami")
    rig.run(100)
    before = counters(rig)
    zeros_for_a_second(rig)
    assert counters(rig)["exz"] - before["exz"] == 8000 + MULTIFRAMES_IN_ZEROS
    assert counters(rig)["bpv"] == 0


# ---- CAS bits in timeslot 16 -----------------------------------------------------------

def test_cas_timeslots_start_idle_1001_both_ways(cas):
    assert cas.driver.abcd(TS) == (CAS_IDLE, CAS_IDLE)
    assert cas.driver.status(TS)["tx_bits"] == CAS_IDLE
    assert cas.sim.endpoint(TS).heard_bits() == CAS_IDLE


def test_our_four_bits_reach_the_far_end(cas):
    rig = cas
    rig.driver.set_bits(TS, 1, 1, c=0, d=1)
    assert rig.sim.endpoint(TS).heard_bits() == "1101"
    rig.driver.set_bits(TS, 0, 1, c=1)
    assert rig.sim.endpoint(TS).heard_bits() == "0111"
    assert rig.driver.abcd(TS)[0] == "0111"


def test_the_far_end_s_four_bits_reach_us_with_c_and_d_events(cas):
    rig = cas
    rig.sim.endpoint(TS).send_bits("0011")
    event = rig.wait_for("signalling", TS, within_ms=20)
    assert {k: event[k] for k in "abcd"} == {"a": 0, "b": 0, "c": 1, "d": 1}
    assert event["changed"] == {"a_off", "c_on"}
    assert rig.driver.abcd(TS)[1] == "0011"
    assert rig.driver.bits(TS) == ((1, 0), (0, 0))


def test_abcd_0000_is_refused_on_our_side_and_a_far_end_sending_it_is_received(cas):
    rig = cas
    with pytest.raises(BadParameter, match="0000"):
        rig.driver.set_bits(TS, 0, 0, c=0, d=0)
    assert rig.driver.abcd(TS)[0] == CAS_IDLE
    rig.sim.endpoint(TS2).send_bits("0000")
    rig.run(10)
    assert rig.driver.abcd(TS2)[1] == "0000"


def test_a_ccs_far_end_on_a_cas_span_holds_the_bits_and_raises_the_multiframe_alarm(cas):
    rig = cas
    rig.sim.far_span_config(SPAN, signalling="ccs")
    rig.run(100)
    assert rig.alarms() == [("lmfa", True)]
    assert rig.driver.status(SPAN)["multiframes_lost"] == ["cas"]
    rig.sim.endpoint(TS).send_bits("1101")
    rig.run(100)
    assert rig.driver.abcd(TS)[1] == CAS_IDLE              # held meanwhile
    rig.sim.far_span_config(SPAN, signalling="cas")
    rig.run(100)
    assert rig.driver.abcd(TS)[1] == "1101"
    assert rig.alarms()[-1] == ("lmfa", False)


# ---- A-law through the mu-law bus ------------------------------------------------------

def test_a_tone_from_the_far_end_reaches_the_bus_in_mu_law(cas):
    rig = cas
    rig.sim.endpoint(TS).send_audio(tone(1000, 1000, level=8000))
    samples = received(rig, TS, 1000)
    assert hears(samples, 1000) and not hears(samples, 1600)
    peak = max(abs(x) for x in samples)
    assert 7000 < peak < 9000                             # level kept through both laws


def test_a_tone_from_the_bus_reaches_the_far_end_through_a_law(cas):
    rig = cas
    d, fe = rig.driver, rig.sim.endpoint(TS)
    d.listen(TS, d.transmit_slot(CH))
    fe.capture()
    d.play_tone(CH, 1600, level_db=-10, duration_ms=1000)
    rig.run(1_000)
    heard = fe.read_capture()
    assert hears(heard, 1600) and not hears(heard, 1000)


# ---- the D-channel ----------------------------------------------------------------------

def test_d_channel_frames_go_both_ways_whole_and_in_order(ccs):
    rig = ccs
    far = rig.sim.dchannel(SPAN)
    rig.driver.dchannel_send(DCHANNEL, b"\x02\x01\x7f")        # a SABME, say
    rig.driver.dchannel_send(DCHANNEL, bytes(range(40)))
    rig.run(10)
    assert [far.receive(), far.receive(), far.receive()] == [b"\x02\x01\x7f",
                                                             bytes(range(40)), None]
    far.send(b"\x00\x01\x73")
    event = rig.wait_for("dchannel_frame", DCHANNEL, within_ms=20)
    assert event["frame"] == b"\x00\x01\x73"


def test_a_long_frame_takes_the_time_64_kbps_gives_it(ccs):
    rig = ccs
    far = rig.sim.dchannel(SPAN)
    rig.driver.dchannel_send(DCHANNEL, bytes(260))            # 261 bytes with its flag
    rig.run(30)                                               # 240 bytes of line
    assert far.receive() is None
    rig.run(10)
    assert far.receive() == bytes(260)


def test_d_channel_frames_are_lost_while_the_span_is_down_and_loop_back_in_a_loopback(ccs):
    rig = ccs
    far = rig.sim.dchannel(SPAN)
    rig.sim.span_alarm(SPAN, "los")
    rig.run(10)
    rig.driver.dchannel_send(DCHANNEL, b"lost")
    rig.run(20)
    assert far.receive() is None
    rig.sim.span_alarm(SPAN, "los", on=False)
    rig.driver.span_loopback(SPAN, "local")
    rig.driver.dchannel_send(DCHANNEL, b"back")
    rig.run(20)
    assert [e["frame"] for e in rig.of("dchannel_frame", DCHANNEL)] == [b"back"]
    assert far.receive() is None


def test_a_cas_far_end_on_a_ccs_span_carries_no_d_channel(ccs):
    rig = ccs
    rig.sim.far_span_config(SPAN, signalling="cas")
    rig.driver.dchannel_send(DCHANNEL, b"\x02\x01\x7f")
    rig.run(20)
    assert rig.sim.dchannel(SPAN).receive() is None
    assert rig.alarms() == []             # we look for no multiframe in timeslot 16


def test_more_than_a_second_of_frames_waiting_is_refused(ccs):
    rig = ccs
    for _ in range(8000 // 500):
        rig.driver.dchannel_send(DCHANNEL, bytes(500))
    with pytest.raises(DeviceBusy):
        rig.driver.dchannel_send(DCHANNEL, bytes(500))
    with pytest.raises(BadParameter):
        rig.driver.dchannel_send(DCHANNEL, b"")
