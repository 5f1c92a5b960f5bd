# SPDX-License-Identifier: GPL-2.0-or-later
"""The configuration doctor (cti.server.maintenance.doctor): each rule fires on a
configuration and span reports built to trip it, quoting what it saw; the
sample configuration with healthy spans gives no finding."""
import copy
import json
from pathlib import Path

from cti.server.config import load_server_config
from cti.server.lines.performance import Second, SpanPerformance
from cti.server.maintenance.doctor import RULES, SEVERITIES, Examination, diagnose, examine

ETC = Path(__file__).resolve().parent.parent / "etc"
START = 1_700_000_100           # a quarter hour


def performance(framing="esf", pattern=()):
    """A snapshot after a clean completed interval, then `pattern`: (n, Second)."""
    perf = SpanPerformance(framing, START)
    now = START
    for n, second in ((900, Second()), *pattern):
        for _ in range(n):
            now += 1
            perf.add(now, second)
    return perf.snapshot()


def healthy(span="dtiB1", signalling="em_wink", clock="line", idle_bits=None):
    """The report of a span with nothing wrong, as the server will publish it."""
    idle_bits = idle_bits or {"em_wink": "00", "fxs_loopstart": "01"}[signalling]
    return {
        "span": span,
        "configured": {"framing": "esf", "coding": "b8zs", "clock": clock,
                       "signalling": signalling},
        "alarms": [],
        "alarmHistory": [],
        "counters": {"bpv": 0, "exz": 0, "crc": 0, "fas": 0, "oof": 0, "slips": 0,
                     "seconds": 902, "los": False, "ais": False, "oof_now": False},
        "performance": performance(),
        "timeslots": [{"device": f"{span}T{n}", "rxBits": idle_bits, "txBits": "00",
                       "state": "idle"} for n in range(1, 25)],
        "loopback": "none",
    }


def in_alarm(report, *alarms, lasting=312.0):
    report = copy.deepcopy(report)
    report["alarms"] = list(alarms)
    report["alarmHistory"] = [{"alarm": a, "raised": START + 1000.0, "cleared": None,
                               "durationS": lasting} for a in alarms]
    return report


def sample():
    return load_server_config(ETC / "cti.toml")


#: The sample's boards file, as `where` names it.
BOARDS = sample().boards_path


def site_config(tmp_path, boards, groups, extra=""):
    """A configuration of `boards` (TOML [[boards]] bodies) and trunk groups
    {name: channels}, with what load_server_config requires around them."""
    text = 'driver = "sim"\n'
    text += "".join(f"[[boards]]\n{body}\n" for body in boards)
    text += "".join(f'[[trunk_groups]]\nname = "{name}"\ndirection = "both"\n'
                    f"channels = {channels!r}\n".replace("'", '"')
                    for name, channels in groups.items())
    text += '[[queues]]\nname = "q"\n[routing]\ndefault = {queue = "q"}\n' + extra
    path = tmp_path / "cti.toml"
    path.write_text(text)
    return load_server_config(path)


def only(findings, rule):
    chosen = [f for f in findings if f.rule == rule]
    assert len(chosen) == 1, findings
    return chosen[0]


# -- the sample ------------------------------------------------------------------
def test_the_sample_configuration_with_healthy_spans_has_no_finding():
    examination = examine(sample(), [healthy()])
    assert examination.findings == []
    # It does not say the country: the tone check is listed, not guessed.
    assert [s.rule for s in examination.skipped] == ["tones.zone"]
    assert "no [dialing] timezone" in examination.skipped[0].reason


def test_every_rule_has_an_id_a_severity_and_a_docstring():
    assert len({rule.id for rule in RULES}) == len(RULES)
    for rule in RULES:
        assert rule.severity in SEVERITIES
        assert rule.check.__doc__


# -- alarms ------------------------------------------------------------------------
def test_red_with_a_signal_and_a_yellow_far_end_is_a_framing_mismatch():
    report = in_alarm(healthy(), "red", "yellow")
    # 3 s with an OOF event (SEFS), 1 clean, then out of frame for 40 s: a
    # failure, unavailable from its first second.
    report["performance"] = performance(pattern=[(3, Second(oof=1)), (1, Second()),
                                                 (40, Second(lof=True))])
    finding = only(diagnose(sample(), [report]), "framing.mismatch")
    assert finding.severity == "error"
    assert finding.where == f"dtiB1 (boards[1].framing in {BOARDS})"
    assert "red alarm for 312 s with a signal present" in finding.evidence
    assert "far end reports yellow" in finding.evidence
    assert finding.evidence.endswith("; 3 severely errored framing and 40 unavailable "
                                     "seconds this interval")
    assert 'set to ESF.  If it is D4, set framing = "d4"' in finding.fix
    # A yellow that comes with the red is the framing's, not a transmit fault.
    assert not [f for f in diagnose(sample(), [report]) if f.rule == "alarm.yellow"]


def test_red_with_loss_of_signal_is_the_cable_not_the_framing():
    findings = diagnose(sample(), [in_alarm(healthy(), "los", "red", lasting=75)])
    assert [f.rule for f in findings] == ["alarm.los"]
    assert "loss of signal for 75 s" in findings[0].evidence
    assert findings[0].where == f"dtiB1 (boards[1] in {BOARDS})"


def test_blue_is_upstream_call_the_carrier():
    finding = only(diagnose(sample(), [in_alarm(healthy(), "blue", "red")]), "alarm.blue")
    assert "blue alarm (AIS: unframed all ones) for 312 s (since 1700001100" in finding.evidence
    assert "call the carrier" in finding.fix
    assert not [f for f in diagnose(sample(), [in_alarm(healthy(), "blue", "red")])
                if f.rule == "framing.mismatch"]


def test_yellow_alone_points_at_our_transmit_pair():
    report = in_alarm(healthy(), "yellow", lasting=48)
    report["alarmHistory"].insert(0, {"alarm": "yellow", "raised": START, "cleared": START + 9,
                                      "durationS": 9.0})
    finding = only(diagnose(sample(), [report]), "alarm.yellow")
    assert "yellow alarm alone for 48 s (raised 2 times" in finding.evidence
    assert "transmit pair" in finding.fix


# -- line code -----------------------------------------------------------------------------
def test_violations_with_no_alarm_on_ami_suggest_b8zs_from_the_bpv_counter():
    # 30 s with 3 BPVs each: 30 LES, 90 LCV (ESF: no ES); the driver's split: BPVs.
    report = healthy()
    report["configured"]["coding"] = "ami"
    report["performance"] = performance(pattern=[(30, Second(lcv=3))])
    report["counters"].update(bpv=90, exz=0)
    finding = only(diagnose(sample(), [report]), "coding.mismatch")
    assert finding.severity == "warning"
    assert finding.where == f"dtiB1 (boards[1].coding in {BOARDS})"
    # The current interval (31 s) and the clean one before it: 15 min.
    assert finding.evidence.startswith("90 line code violations in 30 seconds of the last "
                                       "15 min with no alarm")
    assert "90 bipolar violations, 0 excessive-zero" in finding.evidence
    assert 'set coding = "b8zs"' in finding.fix


def test_excessive_zeros_on_b8zs_suggest_ami_and_few_violations_say_nothing():
    report = healthy()
    report["performance"] = performance(pattern=[(12, Second(lcv=1))])
    report["counters"].update(bpv=0, exz=12)
    assert 'set coding = "ami"' in only(diagnose(sample(), [report]), "coding.mismatch").fix
    report["performance"] = performance(pattern=[(9, Second(lcv=1))])     # under 10 LES
    assert diagnose(sample(), [report]) == []


# -- signalling ---------------------------------------------------------------------------
def test_em_wink_span_receiving_loop_start_idle_bits():
    report = healthy(idle_bits="01")
    for slot in report["timeslots"][:4]:                   # busy ones are not judged
        slot.update(state="connected", rxBits="11")
    finding = only(diagnose(sample(), [report]), "signalling.mismatch")
    assert finding.where == f"dtiB1 (boards[1].signalling in {BOARDS})"
    assert finding.evidence.startswith("20 idle timeslots (dtiB1T5-24) receive A/B bits 01 "
                                       "(20 of them), never 00, the idle bits of em_wink")
    assert 'set signalling = "fxs_loopstart"' in finding.fix


def test_loop_start_span_receiving_em_idle_bits(tmp_path):
    config = site_config(tmp_path, ['type = "t1"\nsignalling = "fxs_loopstart"'],
                         {"pstn": ["dtiB1T1-24"]})
    report = healthy(signalling="fxs_loopstart", idle_bits="00")
    report["configured"]["signalling"] = None              # the board's, from the config
    finding = only(diagnose(config, [report]), "signalling.mismatch")
    assert "never 01, the idle bits of fxs_loopstart" in finding.evidence
    assert "loop-start receiver takes B off as ringing" in finding.evidence
    assert 'set signalling = "em_wink"' in finding.fix


def test_one_idle_timeslot_with_the_right_bits_is_enough_and_none_idle_is_skipped():
    report = healthy(idle_bits="01")
    report["timeslots"][7]["rxBits"] = "0011"              # ESF ABCD: A and B are read
    assert diagnose(sample(), [report]) == []
    for slot in report["timeslots"][1:]:
        slot["state"] = "connected"
    examination = examine(sample(), [report])
    assert examination.findings == []
    assert "dtiB1: 1 idle timeslots, 2 needed" in [s.reason for s in examination.skipped]


# -- clocking --------------------------------------------------------------------------------
def test_no_span_facing_the_carrier_on_line_timing():
    finding = only(diagnose(sample(), [healthy(clock="internal")]), "clock.no_line_timing")
    assert finding.where == f"dtiB1 (boards[1].clock in {BOARDS})"
    assert finding.evidence == ("no span facing the carrier recovers its clock "
                                "(dtiB1 internal)")
    assert 'Set clock = "line"' in finding.fix


def test_slips_on_a_free_running_span_and_on_a_line_timed_one():
    # 4 seconds with a slip each: CSS 4 this interval; the day's total is the
    # completed clean interval's: 0.
    report = healthy(clock="internal")
    report["performance"] = performance(pattern=[(4, Second(slips=1))])
    finding = only(diagnose(sample(), [report]), "clock.free_running")
    assert finding.evidence == ("4 controlled slip seconds this interval, 0 in the last "
                                "24 h, on a span set to clock = \"internal\"")
    assert "PBX or channel bank" in finding.fix
    report["configured"]["clock"] = "line"
    finding = only(diagnose(sample(), [report]), "clock.slips")
    assert finding.severity == "warning" and "4 controlled slip seconds" in finding.evidence


def test_two_line_timed_spans_without_priorities_are_listed_skipped(tmp_path):
    config = site_config(tmp_path, ['type = "t1"', 'type = "t1"'],
                         {"a": ["dtiB1T1-24"], "b": ["dtiB2T1-24"]})
    examination = examine(config, [healthy("dtiB1"), healthy("dtiB2")])
    assert examination.findings == []
    [skip] = [s for s in examination.skipped if s.rule == "clock.same_priority"]
    assert skip.reason.startswith("dtiB1, dtiB2 recover the line clock")


# -- spans and channels ------------------------------------------------------------------------
def test_a_span_in_no_trunk_group_and_one_the_configuration_lacks(tmp_path):
    config = site_config(tmp_path, ['type = "t1"', 'type = "t1"'], {"pstn": ["dtiB1T1-24"]})
    findings = diagnose(config, [healthy("dtiB1"), healthy("dtiB2"), healthy("dtiB3")])
    unused = [f for f in findings if f.rule == "span.unused"]
    assert [f.where for f in unused] == [f"dtiB2 (trunk_groups in {config.path})",
                                         f"dtiB3 (not in the boards of {config.path})"]
    assert unused[0].evidence.startswith("none of dtiB2T1-24 is in a trunk group")
    assert 'channels = ["dtiB2T1-24"]' in unused[0].fix


def test_timeslots_configured_on_a_span_the_server_does_not_report(tmp_path):
    config = site_config(tmp_path, ['type = "t1"', 'type = "t1"'],
                         {"pstn": ["dtiB1T1-24"], "out": ["dtiB2T1-12", "dtiB2T20"]})
    finding = only(diagnose(config, [healthy("dtiB1")]), "span.missing")
    assert finding.where == f"dtiB2 (trunk_groups[1].channels in {config.path})"
    assert finding.evidence == ("trunk group 'out' has dtiB2T1-12, dtiB2T20 but the server "
                                "reports no span dtiB2")


def test_a_span_left_in_loopback():
    report = healthy()
    report["loopback"] = "line"
    finding = only(diagnose(sample(), [report]), "span.loopback")
    assert finding.evidence == "the span is in line loopback"


def test_a_span_without_performance_is_skipped_not_guessed():
    report = healthy()
    report["performance"] = None
    examination = examine(sample(), [report])
    assert examination.findings == []
    assert ("coding.mismatch", "dtiB1: no performance report") in [
        (s.rule, s.reason) for s in examination.skipped]


# -- tones --------------------------------------------------------------------------------------
def test_north_american_tones_at_a_site_in_china(tmp_path):
    config = site_config(tmp_path, ['type = "analog"\nlines = 4\ntones = "na"',
                                    'type = "t1"\ntones = "cn"'], {"pstn": ["dtiB1T1-24"]},
                         '[dialing]\ntimezone = "Asia/Shanghai"\n')
    finding = only(diagnose(config, [healthy()]), "tones.zone")
    assert finding.where == f"boards[0].tones in {config.path}"
    assert finding.evidence == ('[dialing] timezone Asia/Shanghai is in mainland China, '
                                'whose exchanges use the "cn" tones; this analog board uses '
                                'tones = "na"')
    assert 'Set tones = "cn" in boards[0]' in finding.fix


def test_tones_of_a_zone_the_doctor_does_not_know_are_skipped(tmp_path):
    config = site_config(tmp_path, ['type = "t1"'], {"pstn": ["dtiB1T1-24"]},
                         '[dialing]\ntimezone = "Europe/Paris"\n')
    examination = examine(config, [healthy()])
    assert examination.findings == []
    assert [(s.rule, s.reason) for s in examination.skipped] == [
        ("tones.zone", "[dialing] timezone Europe/Paris: its country's tones are not known "
                       "here")]
    config = site_config(tmp_path, ['type = "t1"'], {"pstn": ["dtiB1T1-24"]},
                         '[dialing]\ntimezone = "America/Chicago"\n')
    assert examine(config, [healthy()]) == Examination([], [])


def test_findings_are_json():
    findings = diagnose(sample(), [in_alarm(healthy(), "yellow")])
    assert json.loads(json.dumps([f.to_dict() for f in findings]))[0]["rule"] == "alarm.yellow"


# -- E1 ------------------------------------------------------------------------------------
def e1_report(span="dtiB2", signalling="cas", framing="e1_crc4", alarms=(), lost=(),
              idle_bits="1001"):
    """An E1 span's report."""
    report = in_alarm(healthy(span), *alarms, lasting=40.0)
    report["configured"] = {"type": "e1", "framing": framing, "coding": "hdb3",
                            "clock": "line", "signalling": signalling}
    report["performance"] = performance(framing)
    report["multiframesLost"] = list(lost)
    report["timeslots"] = [{"device": f"{span}T{n}", "rxBits": idle_bits, "txBits": "1001",
                            "state": "unused"} for n in range(1, 31)]
    return report


def e1_site(tmp_path, body='type = "e1"'):
    """A T1 and an E1; a CAS E1's timeslots are MFC/R2 trunks."""
    groups = {"pstn": ["dtiB1T1-24"]}
    if "ccs" not in body:
        groups["r2"] = ["dtiB2T1-30"]
    return site_config(tmp_path, ['type = "t1"', body], groups)


def test_an_e1_span_with_crc4_finding_no_crc4_multiframe_is_a_crc4_mismatch(tmp_path):
    config = e1_site(tmp_path)
    examination = examine(config, [healthy(), e1_report(alarms=["lmfa"], lost=["crc4"])])
    finding = only(examination.findings, "crc4.mismatch")
    assert finding.where == f"dtiB2 (boards[1].crc4 in {config.path})"
    assert finding.evidence.startswith("multiframe alarm (LMFA) for 40 s: no CRC-4 multiframe")
    assert "set crc4 = false" in finding.fix
    assert [f.rule for f in examination.findings] == ["crc4.mismatch"]


def test_crc4_mismatch_is_not_said_of_a_span_out_of_frame_or_losing_the_cas_multiframe(
        tmp_path):
    config = e1_site(tmp_path)
    for report in (e1_report(alarms=["lmfa", "red"], lost=["crc4"]),
                   e1_report(alarms=["lmfa"], lost=["cas"]),
                   e1_report(framing="e1")):
        assert not [f for f in diagnose(config, [healthy(), report])
                    if f.rule == "crc4.mismatch"]


def test_a_cas_span_finding_no_cas_multiframe_misuses_timeslot_16(tmp_path):
    config = e1_site(tmp_path)
    finding = only(diagnose(config, [healthy(), e1_report(alarms=["lmfa"], lost=["cas"])]),
                   "ts16.misuse")
    assert finding.where == f"dtiB2 (boards[1].signalling in {config.path})"
    assert "no CAS multiframe in timeslot 16" in finding.evidence
    assert 'signalling = "ccs"' in finding.fix


def test_idle_cas_timeslots_receiving_abcd_0000_misuse_timeslot_16(tmp_path):
    config = e1_site(tmp_path)
    finding = only(diagnose(config, [healthy(), e1_report(idle_bits="0000")]), "ts16.misuse")
    assert finding.evidence.startswith("30 idle timeslots (dtiB2T1-30) receive ABCD 0000")
    assert not diagnose(config, [healthy(), e1_report()])


def test_a_ccs_span_has_no_cas_to_misuse(tmp_path):
    config = site_config(tmp_path, ['type = "t1"', 'type = "e1"\nsignalling = "ccs"'],
                         {"pstn": ["dtiB1T1-24"], "isdn": ["dtiB2T1-30"]})
    report = e1_report(signalling="ccs", idle_bits="0000")
    assert not diagnose(config, [healthy(), report])


# -- MFC/R2 on E1 CAS: r2.variant ------------------------------------------------------
def r2_span(idle_bits="1001", r2_errors=None, span="dtiB2"):
    """The report of an E1 CAS span of four idle MFC/R2 trunks."""
    return {"span": span, "configured": {"signalling": "cas"}, "alarms": [],
            "timeslots": [{"device": f"{span}T{n}", "rxBits": idle_bits, "txBits": "1001",
                           "state": "idle"} for n in range(1, 5)],
            "loopback": "none", "r2Errors": r2_errors or {}}


def r2_findings(config, report):
    return [f for f in diagnose(config, [report]) if f.rule == "r2.variant"]


def test_an_itu_r2_group_receiving_china_idle_bits_is_set_to_the_wrong_variant(tmp_path):
    from tests.test_r2 import r2_config

    config = r2_config(tmp_path, "itu")
    [finding] = r2_findings(config, r2_span("1011"))
    assert finding.severity == "error"
    assert finding.where == f"dtiB2 (trunk_groups[2].r2_variant in {config.path})"
    assert finding.evidence == ("4 idle timeslots (dtiB2T1-4) receive ABCD 1011 (4 of them), "
                                "never 1001 (idle) or 1101 (blocked) of r2_variant itu: the "
                                "idle of r2_variant cn")
    assert 'set r2_variant = "cn" in trunk group pstn_r2 (it is itu now)' in finding.fix
    [finding] = r2_findings(config, r2_span("1100"))
    assert "no MFC/R2 variant's idle: the far end may not signal MFC/R2" in finding.evidence
    assert not r2_findings(config, r2_span("1001"))
    assert not r2_findings(config, r2_span("1101"))          # the far end blocks them


def test_r2_protocol_errors_with_the_right_idle_bits_suspect_the_variant(tmp_path):
    from tests.test_r2 import r2_config

    config = r2_config(tmp_path, "itu")
    errors = {"invalid_cas_bits": 2, "invalid_mf_tone": 1, "answer_timeout": 7}
    [finding] = r2_findings(config, r2_span("1001", errors))
    assert finding.evidence == ("3 MFC/R2 protocol errors on the span's trunks since the "
                                "server started (2 invalid_cas_bits, 1 invalid_mf_tone), "
                                "with the idle bits those of r2_variant itu")
    assert "mx, br, ar have the same idle bits" in finding.fix
    assert not r2_findings(config, r2_span("1001", {"invalid_cas_bits": 2,
                                                    "answer_timeout": 7}))
    assert not r2_findings(config, in_alarm(r2_span("1011", errors), "red"))


def test_a_removed_board_is_said_and_nothing_else_is_guessed_of_its_line():
    """DAHDI's alarm "removed" (the board hot-unplugged): the doctor says
    so and what to do; its line's other rules find nothing to say."""
    report = in_alarm(healthy(), "removed", lasting=30)
    for t in report["timeslots"]:
        t.update(rxBits=None, txBits=None, state="out_of_service")
    findings = diagnose(sample(), [report])
    assert [f.rule for f in findings] == ["span.removed"]
    assert "its board was removed for 30 s" in findings[0].evidence
    assert "dahdi_cfg -vv and restart the server" in findings[0].fix
