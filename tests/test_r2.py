# SPDX-License-Identifier: GPL-2.0-or-later
"""MFC/R2 on E1 CAS trunks (lines-real.md 3): the register signals as tones
on a timeslot, made and heard on the board at both ends of the span; the
line signals as the CAS bits of timeslot 16.  All in virtual time.
"""
from tests.rig import Rig, power_at

SPAN, TS = "dtiB1", "dtiB1T1"
#: Forward signal 5 is 1500 + 1740 Hz, backward signal 3 is 1020 + 900 Hz
#: (lines-real.md 3.5).
FORWARD_5, BACKWARD_3 = (1500, 1740), (1020, 900)


def e1_rig():
    rig = Rig([{"type": "e1", "signalling": "cas"}, {"type": "voice", "channels": 2}])
    rig.driver.open(TS)
    rig.sim.watch_far_end(TS)
    return rig


def test_a_forward_signal_from_the_telco_is_heard_by_our_timeslot_until_it_stops():
    rig = e1_rig()
    far = rig.sim.endpoint(TS)
    rig.driver.r2_mf_mode(TS, "backward")
    far.r2_mf("forward")
    far.r2_mf_send(5)
    assert rig.wait_for("r2_mf", TS)["signal"] == 5
    far.r2_mf_send(0)
    assert rig.wait_for("r2_mf", TS)["signal"] == 0


def test_our_backward_signal_reaches_the_telco_as_its_two_tones():
    rig = e1_rig()
    far = rig.sim.endpoint(TS)
    rig.driver.r2_mf_mode(TS, "backward")
    far.r2_mf("forward")
    far.capture(True)
    rig.driver.r2_mf_send(TS, 3)
    rig.run(300)
    heard = far.read_capture()[800:]
    high, low = (power_at(heard, f) for f in BACKWARD_3)
    assert high > 100 * power_at(heard, 1140) and low > 100 * power_at(heard, 780)
    assert [(e.kind, e.value) for e in rig.sim.far_events()] == [("r2_mf", 3)]
    rig.driver.r2_mf_send(TS, 0)
    rig.run(200)
    assert [(e.kind, e.value) for e in rig.sim.far_events()] == [("r2_mf", 0)]


def test_the_telco_sees_our_line_signals_as_cas_bits():
    rig = e1_rig()
    rig.driver.set_bits(TS, 1, 1)                 # seize acknowledge (ITU: 1101)
    rig.run(20)
    assert [(e.kind, e.value) for e in rig.sim.far_events()] == [("bits", "1101")]
