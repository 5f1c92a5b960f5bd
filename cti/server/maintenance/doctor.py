# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_doctor -*-
"""The configuration doctor: what the spans' symptoms say is wrong in the
configuration, and what to change.

A wrong framing, line code, signalling or clock setting does not stop a
span from starting; it shows as symptoms (lines-real.md 4.8): a red alarm
with a signal present, code violations with no alarm, signalling bits
that never look idle, slips.  The doctor holds the server's configuration
against the span reports the server publishes and says, rule by rule,
what it sees and what a technician should do::

    from cti.server.maintenance.doctor import diagnose
    from cti.server.config import load_server_config

    for finding in diagnose(load_server_config("etc/cti.toml"), span_reports):
        print(finding.severity, finding.rule, finding.where)
        print("  ", finding.evidence)
        print("   fix:", finding.fix)

For a span set to ESF on a carrier circuit framed D4, this prints::

    error framing.mismatch dtiB1 (boards[1].framing in etc/boards.toml)
       red alarm for 312 s with a signal present (no LOS, no AIS); the far end
       reports yellow too: it cannot frame on our signal either; 312 unavailable
       seconds this interval
       fix: Ask the carrier which framing the circuit uses: this span is set to
       ESF.  If it is D4, set framing = "d4" in this span's [[boards]] table.

A rule that lacks what it needs (no performance report yet, no idle
timeslot, a configuration that does not say the country) is not guessed:
`examine` lists it as skipped, with why.

The span report (one per span, built by the server; every key required
unless said)::

    {"span": "dtiB1",
     "configured": {"type": "t1" | "e1",            # default: the board's
                    "framing": "esf" | "d4" | "e1_crc4" | "e1",  # default "esf", E1 "e1_crc4"
                    "coding": "b8zs" | "ami" | "hdb3",           # default "b8zs", E1 "hdb3"
                    "clock": "line" | "internal",   # default "line"
                    "signalling": "em_wink" | "fxs_loopstart" | "pri" | "cas" | "ccs"},
                                                    # default: the board's
     "alarms": ["red", "yellow"],          # raised now: los, red, oof, yellow, blue
     "alarmHistory": [{"alarm": "red", "raised": 1700000412.0, "cleared": null,
                       "durationS": 312.0}],      # as cti.server.lines.spans.Alarm.describe
     "counters": {"bpv": 0, "exz": 0, "crc": 0, "fas": 0, "oof": 0, "slips": 0,
                  "seconds": 86400, "los": false, "ais": false, "oof_now": false},
                                           # the driver's reading, as the 1 s poller
                                           # gives seconds_from_counters
     "performance": {...} | null,          # SpanPerformance.snapshot()
     "timeslots": [{"device": "dtiB1T1", "rxBits": "00", "txBits": "00",
                    "state": "idle"}],     # bits "AB" or "ABCD"; state: the channel's
     "loopback": "none" | "line" | "payload" | "local",
     "multiframesLost": ["crc4", "cas"],   # E1: multiframes not found (optional)
     "isdn": {"state": "up" | "down", "node": "cpe", "switchtype": "euroisdn_e1",
              "configErrors": ["We think we're the network, but they think ..."],
              "farCauses": {"100": 4}} | null}
                                           # an ISDN span's D-channel (PriSpan.snapshot;
                                           # optional: absent or null, no PRI rule runs)

Keys of ``configured`` that are absent (or null) take the defaults shown:
the framing, coding and clock keys of [[boards]] type "t1" tables are
read from the report, so this module does not depend on when the
configuration gets them.

The rules (RULES; each check's docstring says how it decides):

    span.removed          error    DAHDI: the span's board was hot-unplugged
    alarm.los             error    no signal from the carrier
    alarm.blue            error    AIS: the fault is upstream, call the carrier
    framing.mismatch      error    red/OOF with a signal present
    alarm.yellow          error    yellow alone: the far end cannot see our signal
    coding.mismatch       warning  line code violations with no alarm
    signalling.mismatch   error    idle timeslots never receive the idle bits
    clock.no_line_timing  error    no span recovers the carrier's clock
    clock.same_priority   warning  (listed skipped: the configuration has no priorities)
    clock.slips           warning  slips on a line-timed span
    clock.free_running    warning  slips on a span on its own clock
    span.loopback         warning  a span left in loopback
    span.unused           warning  a span no trunk group uses
    span.missing          error    timeslots configured, the span not reported
    tones.zone            warning  a board's tones not those of the site's country
    crc4.mismatch         error    E1: our CRC-4 finds no CRC-4 multiframe
    ts16.misuse           error    E1 CAS: no CAS multiframe in timeslot 16, or
                                   idle timeslots receiving the forbidden ABCD 0000
    pri.side              error    ISDN: both ends network, or both CPE (libpri's
                                   configuration errors): the D-channel never comes up
    pri.dchannel          error    ISDN: the D-channel down on a span with no alarm
                                   and no such error: the far end does not answer
    pri.switchtype        warning  ISDN: the far end clears calls with the causes of
                                   messages it cannot read (96, 100, 111)
    r2.variant            error    E1 CAS, MFC/R2: idle timeslots receive another
                                   variant's idle bits (or no R2 idle at all), or the
                                   trunks count protocol errors a far end speaking
                                   another variant brings (the report's r2Errors)

The D-channel is placed by the configuration (T1 channel 24, E1 timeslot
16), so B-channels cannot overlap it.
"""
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass

from cti.server.config import ServerConfig
from drivers.interface import DEFAULT_TONE_SETS, ISDN_SIGNALLINGS, REMOVED_ALARM
from drivers.r2 import BLOCKED_BITS, IDLE_BITS

SEVERITIES = ("error", "warning", "info")

#: What the configured framing, coding and clock are when the report does
#: not say, by span type.
DEFAULTS = {"t1": {"framing": "esf", "coding": "b8zs", "clock": "line"},
            "e1": {"framing": "e1_crc4", "coding": "hdb3", "clock": "line"}}
#: The other T1 framing: what a mismatch most likely is.
OTHER_FRAMING = {"esf": "d4", "d4": "esf"}
#: The line code that substitutes zeros, by span type; the other is AMI.
SUBSTITUTING = {"t1": "b8zs", "e1": "hdb3"}
#: ABCD an E1 CAS timeslot may never carry (lines-real 4.5).
FORBIDDEN_ABCD = "0000"
#: Alarms meaning no frame alignment with a signal present.
FRAME_ALARMS = ("red", "oof")
#: Seconds with line code violations, over the current and the last
#: interval, that no alarm explains: past this, the line code is suspect.
CODING_MIN_LES = 10
#: Q.850 causes of a far end that cannot read our messages (lines-real 4.8):
#: mandatory information element missing, invalid contents, protocol error.
PROTOCOL_CAUSES = {96: "mandatory information element is missing",
                   100: "invalid information element contents", 111: "protocol error"}
#: Calls cleared so before the switch type is suspected.
SWITCHTYPE_MIN_CALLS = 3
#: What libpri's configuration error says when both ends are the network
#: ("...they think they're the network, too.") or both CPE ("...CPE too.").
BOTH_NETWORK, BOTH_CPE = "network, too", "CPE too"
#: Idle timeslots needed before their bits say anything about the far end.
SIGNALLING_MIN_IDLE = 2
#: MFC/R2 protocol errors a far end speaking another variant, or no R2,
#: brings about: line signals or tones it should not send, signals it
#: leaves unanswered (drivers.r2.ERRORS; not answer_timeout: a far end
#: that does not answer is no mismatch).
R2_MISMATCH_ERRORS = ("invalid_cas_bits", "invalid_mf_tone", "invalid_mf_group",
                      "invalid_mf_state", "invalid_r2_state", "broken_mf_sequence",
                      "mf_timeout", "seize_timeout")
#: Such errors on a span before its variant is suspected.
R2_MIN_ERRORS = 3

#: The far end's A and B bits on an idle timeslot, by configured
#: signalling: E&M idle is both off (channels.EmWinkTrunk takes A on as a
#: seizure); a loop-start exchange (FXO side) sends ABCD 0101 on-hook and
#: drops B to ring (channels.T1LoopStartTrunk rings on B off) (lines-real 1.9).
IDLE_RX_BITS = {"em_wink": "00", "fxs_loopstart": "01"}
#: What idle bits other than the expected suggest about the far end.
IDLE_BITS_SUGGEST = {
    "00": ("E&M, idle (A and B off); a loop-start receiver takes B off as ringing",
           "em_wink"),
    "01": ("loop start, an exchange on-hook (A off, B on)", "fxs_loopstart"),
    "11": ("every timeslot seized (E&M off-hook): the far end busies them out or "
           "signals otherwise", None),
    "10": ("neither E&M nor loop start idle (A on, B off)", None),
}

#: Time zones of [dialing] timezone whose country's exchanges use one of
#: the board tone sets (`tones`): zone -> (country, tone set).  A zone not
#: listed is not guessed.
ZONE_TONES = {
    **dict.fromkeys(("America/New_York", "America/Chicago", "America/Denver",
                     "America/Los_Angeles", "America/Phoenix", "America/Anchorage",
                     "America/Detroit", "America/Boise", "America/Indiana/Indianapolis",
                     "Pacific/Honolulu", "US/Eastern", "US/Central", "US/Mountain",
                     "US/Pacific", "America/Toronto", "America/Vancouver",
                     "America/Winnipeg", "America/Edmonton", "America/Regina",
                     "America/Halifax", "America/St_Johns"),
                    ("the United States or Canada", "na")),
    **dict.fromkeys(("Asia/Shanghai", "Asia/Urumqi", "Asia/Chongqing", "Asia/Harbin",
                     "PRC"), ("mainland China", "cn")),
}



@dataclass(frozen=True)
class Finding:
    """One problem: the rule that saw it, how bad, where (the span,
    channel or group, and the configuration key), what was observed (with
    its numbers) and what to change."""

    rule: str              # a Rule's id: "framing.mismatch"
    severity: str          # one of SEVERITIES
    where: str             # "dtiB1 (boards[1].framing in etc/boards.toml)"
    evidence: str
    fix: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Skipped:
    """A rule that could not decide, and why (what it lacked)."""

    rule: str
    reason: str


@dataclass(frozen=True)
class Examination:
    findings: list[Finding]
    skipped: list[Skipped]


@dataclass(frozen=True)
class Symptom:
    """What a check yields for a problem; the Rule adds its id and severity."""

    where: str
    evidence: str
    fix: str


@dataclass(frozen=True)
class Skip:
    """What a check yields when it cannot decide."""

    reason: str


class Site:
    """The configuration and the span reports, as the checks read them."""

    def __init__(self, config: ServerConfig, spans: Iterable[Mapping]):
        self.config = config
        self.reports = {report["span"]: report for report in spans}
        self.configured_spans = [d.name for d in config.devices.values() if d.kind == "span"]

    def setting(self, report, key):
        """A configured value of the span: the report's, else the default
        (for the type and the signalling, its board's)."""
        value = (report.get("configured") or {}).get(key)
        if value is not None:
            return value
        device = self.config.devices.get(report["span"])
        if key == "signalling":
            return device.signalling if device is not None else None
        span_type = "t1"
        if device is not None:
            span_type = self.config.boards[device.board]["type"]
        return span_type if key == "type" else DEFAULTS[span_type][key]

    def where(self, span, key=None):
        """``dtiB1 (boards[1].framing in etc/boards.toml)``; without a key,
        the span's [[boards]] table."""
        device = self.config.devices.get(span)
        if device is None:
            return f"{span} (not in the boards of {self.config.boards_path})"
        table = f"boards[{device.board}]" + (f".{key}" if key else "")
        return f"{span} ({table} in {self.config.boards_path})"

    def timeslots_of(self, span):
        return [d.name for d in self.config.devices.values()
                if d.kind == "timeslot" and _span_of(d.name) == span]

    def groups_of(self, span):
        """[(index in trunk_groups, group, its timeslots on the span)]."""
        groups = []
        for i, group in enumerate(self.config.trunk_groups):
            mine = [c for c in group.channels if _span_of(c) == span]
            if mine:
                groups.append((i, group, mine))
        return groups

    def carrier_spans(self):
        """Reported spans whose timeslots are trunks: facing a carrier (the
        configuration has no other way to say what a span faces)."""
        return [span for span in self.reports if self.groups_of(span)]


def _span_of(device):
    return device.split("T", 1)[0] if device.startswith("dti") else None


def _ranges(devices):
    """['dtiB1T1', ..., 'dtiB1T24'] -> 'dtiB1T1-24' (several runs joined by ', ')."""
    runs = []
    for device in devices:
        prefix, number = device.rsplit("T", 1)
        number = int(number)
        if runs and runs[-1][0] == prefix and runs[-1][2] == number - 1:
            runs[-1][2] = number
        else:
            runs.append([prefix, number, number])
    return ", ".join(f"{p}T{a}" + (f"-{b}" if b != a else "") for p, a, b in runs)


def _lasting(report, alarm):
    """' for 312 s' while the alarm is up, from its history; '' if unknown."""
    for entry in reversed(report.get("alarmHistory") or []):
        if entry.get("alarm") == alarm and entry.get("cleared") is None:
            return f" for {entry['durationS']:.0f} s"
    return ""


def _raised_at(report, alarm):
    for entry in reversed(report.get("alarmHistory") or []):
        if entry.get("alarm") == alarm and entry.get("cleared") is None:
            return entry["raised"]
    return None


def _recent(performance):
    """The current interval and the last completed one."""
    return [performance["current"], *performance["intervals"][:1]]


# -- the checks -----------------------------------------------------------------
def board_removed(site: Site) -> Iterator[Symptom | Skip]:
    """"removed" (DAHDI: the board hot-unplugged, the kernel's REMOVED):
    nothing about the line can be told, and no other rule runs on it."""
    for span, report in site.reports.items():
        if REMOVED_ALARM in report["alarms"]:
            yield Symptom(
                site.where(span),
                f"its board was removed{_lasting(report, REMOVED_ALARM)}: DAHDI no longer has "
                "the span (an Astribank or USB device unplugged, or its power lost)",
                "Plug the board back (its cable, its power), check it with dahdi_scan, run "
                "dahdi_cfg -vv and restart the server: its timeslots stay out of service "
                "until then.")


def loss_of_signal(site: Site) -> Iterator[Symptom | Skip]:
    """LOS: no pulses arrive at all.  Not a setting: the cable, the jack,
    or the carrier's circuit."""
    for span, report in site.reports.items():
        if "los" in report["alarms"]:
            yield Symptom(
                site.where(span),
                f"loss of signal{_lasting(report, 'los')}: no pulses received",
                "Check the cable from the board to the carrier's jack (seated, the receive "
                "pair continuous, the right jack); with a loopback plug on our jack the "
                "span should frame.  If our side is sound, the carrier's circuit is down: "
                "call the carrier.")


def upstream_ais(site: Site) -> Iterator[Symptom | Skip]:
    """Blue (AIS): the carrier's equipment sends all ones because its own
    side lost the signal.  Nothing to change here."""
    for span, report in site.reports.items():
        if "blue" in report["alarms"]:
            since = _raised_at(report, "blue")
            when = f" (since {since:.0f}, seconds since the epoch)" if since is not None else ""
            yield Symptom(
                site.where(span),
                f"blue alarm (AIS: unframed all ones){_lasting(report, 'blue')}{when}",
                "The fault is upstream of us: call the carrier with the circuit id and the "
                "time it began; our settings are not the cause.")


def framing_mismatch(site: Site) -> Iterator[Symptom | Skip]:
    """Red or OOF with a signal present (no LOS) and no AIS: the pulses
    arrive but our framer finds no frame in them, nearly always because
    the framing (ESF, D4) differs from the carrier's; the far end, framing
    on our signal with its own setting, often reports yellow."""
    for span, report in site.reports.items():
        alarms = set(report["alarms"])
        lost = [a for a in FRAME_ALARMS if a in alarms]
        if not lost or alarms & {"los", "blue"}:
            continue
        framing = site.setting(report, "framing")
        evidence = (f"{lost[0]} alarm{_lasting(report, lost[0])} with a signal present "
                    "(no LOS, no AIS)")
        if "yellow" in alarms:
            evidence += "; the far end reports yellow too: it cannot frame on our signal either"
        performance = report.get("performance")
        if performance:
            current = performance["current"]
            seconds = [f"{current[name]} {label}" for name, label in (
                ("sefs", "severely errored framing"), ("uas", "unavailable")) if current[name]]
            if seconds:
                evidence += f"; {' and '.join(seconds)} seconds this interval"
        other = OTHER_FRAMING.get(framing)
        change = (f"  If it is {other.upper()}, set framing = \"{other}\" in this span's "
                  "[[boards]] table." if other else "")
        yield Symptom(site.where(span, "framing"), evidence,
                      f"Ask the carrier which framing the circuit uses: this span is set to "
                      f"{framing.upper()}.{change}")


def yellow_alone(site: Site) -> Iterator[Symptom | Skip]:
    """Yellow with nothing else: we receive the far end well, but it does
    not receive us; our transmit side or its wiring is at fault."""
    for span, report in site.reports.items():
        if set(report["alarms"]) == {"yellow"}:
            raised = sum(e.get("alarm") == "yellow" for e in report.get("alarmHistory") or [])
            yield Symptom(
                site.where(span),
                f"yellow alarm alone{_lasting(report, 'yellow')} (raised {raised} times in "
                "the alarm history): we frame on the far end, it does not frame on us",
                "Check our transmit pair from the board to the carrier's jack (connected, "
                "not swapped with the receive pair, the jack's transmit pins intact); if "
                "the wiring is sound, ask the carrier to test toward us.")


def coding_mismatch(site: Site) -> Iterator[Symptom | Skip]:
    """Line code violations in many seconds with no alarm: the line code
    (B8ZS, AMI) differs from the carrier's.  An AMI receiver sees the B8ZS
    substitutions as bipolar violations; a B8ZS receiver counts the AMI
    sender's unsubstituted zeros as excessive zeros; the counters' split
    says which.  A noisy line shows the same, hence a warning."""
    for span, report in site.reports.items():
        if report["alarms"]:
            continue
        performance = report.get("performance")
        if not performance:
            yield Skip(f"{span}: no performance report")
            continue
        recent = _recent(performance)
        seconds = sum(i["les"] for i in recent)
        if seconds < CODING_MIN_LES:
            continue
        violations = sum(i["lcv"] for i in recent)
        minutes = sum(i["elapsedS"] for i in recent) // 60
        counters = report.get("counters") or {}
        bpv, exz = counters.get("bpv", 0), counters.get("exz", 0)
        coding = site.setting(report, "coding")
        substituting = SUBSTITUTING[site.setting(report, "type")]
        other = "ami" if coding == substituting else substituting
        evidence = (f"{violations} line code violations in {seconds} seconds of the last "
                    f"{minutes} min with no alarm; since the driver opened the span: {bpv} "
                    f"bipolar violations, {exz} excessive-zero events")
        if coding == "ami" and bpv > exz:
            fix = (f"The far end likely sends {substituting.upper()} (its zero substitutions "
                   f"arrive as bipolar violations): confirm with the carrier and set coding = "
                   f"\"{substituting}\" in this span's [[boards]] table.")
        elif coding == substituting and exz > bpv:
            fix = ("The far end likely sends AMI (strings of zeros arrive unsubstituted): "
                   "confirm with the carrier and set coding = \"ami\" in this span's "
                   "[[boards]] table.")
        else:
            fix = (f"Confirm the line code with the carrier (this span is set to "
                   f"{coding.upper()}; the other is {other.upper()}); "
                   "if it matches, the errors are on the line: check the cable and its "
                   "length and the line build-out.")
        yield Symptom(site.where(span, "coding"), evidence, fix)


def signalling_mismatch(site: Site) -> Iterator[Symptom | Skip]:
    """The idle timeslots' received A/B bits never equal the idle bits of
    the configured signalling (IDLE_RX_BITS): the far end signals
    otherwise (E&M against loop start, or the reverse).  Only on a span
    without alarms, whose bits are live."""
    for span, report in site.reports.items():
        if report["alarms"]:
            continue
        signalling = site.setting(report, "signalling")
        if signalling == "cas" or signalling in ISDN_SIGNALLINGS:
            continue                   # E1 CAS: ts16.misuse; ISDN: no bits on B-channels
        expected = IDLE_RX_BITS.get(signalling)
        if expected is None:
            yield Skip(f"{span}: no idle bits known for signalling {signalling!r}")
            continue
        idle = [t for t in report.get("timeslots") or []
                if t.get("state") == "idle" and t.get("rxBits")]
        if len(idle) < SIGNALLING_MIN_IDLE:
            yield Skip(f"{span}: {len(idle)} idle timeslots, {SIGNALLING_MIN_IDLE} needed")
            continue
        received = [t["rxBits"][:2] for t in idle]
        if expected in received:
            continue
        pattern = max(set(received), key=received.count)
        looks, suggested = IDLE_BITS_SUGGEST.get(pattern, ("unknown", None))
        evidence = (f"{len(idle)} idle timeslots ({_ranges([t['device'] for t in idle])}) "
                    f"receive A/B bits {pattern} ({received.count(pattern)} of them), never "
                    f"{expected}, the idle bits of {signalling}: the far end looks like "
                    f"{looks}")
        if suggested and suggested != signalling:
            fix = (f"Ask the carrier which signalling the circuit uses; if it is "
                   f"{suggested}, set signalling = \"{suggested}\" in this span's [[boards]] "
                   f"table (it is {signalling} now).")
        else:
            fix = (f"Ask the carrier which signalling the circuit uses (this span is set to "
                   f"{signalling}) and whether it has the trunks busied out.")
        yield Symptom(site.where(span, "signalling"), evidence, fix)


def no_line_timing(site: Site) -> Iterator[Symptom | Skip]:
    """Spans carrying trunks face a carrier, whose network is the clock
    master; if none of them recovers the line clock, the board runs free
    against the carrier and slips (lines-real 4.6)."""
    carrier = site.carrier_spans()
    if not carrier:
        return
    clocks = {span: site.setting(site.reports[span], "clock") for span in carrier}
    if "line" in clocks.values():
        return
    listing = ", ".join(f"{span} {clock}" for span, clock in clocks.items())
    yield Symptom(
        site.where(carrier[0], "clock"),
        f"no span facing the carrier recovers its clock ({listing})",
        f"Set clock = \"line\" in the [[boards]] table of the span from the carrier "
        f"({carrier[0]}): the carrier's network is the master, we follow it.")


def same_priority(site: Site) -> Iterator[Symptom | Skip]:
    """Two spans with the same timing priority leave the clock source to
    chance; the configuration has no priorities (clock is line or
    internal), so with two line-timed spans the check is listed skipped."""
    timed = [s for s, r in site.reports.items() if site.setting(r, "clock") == "line"]
    if len(timed) > 1:
        yield Skip(f"{', '.join(timed)} recover the line clock and the configuration has "
                   "no timing priorities to say which one the board follows")


def _slipping(site, clock):
    for span, report in site.reports.items():
        performance = report.get("performance")
        if site.setting(report, "clock") != clock or not performance:
            continue
        now, day = performance["current"]["css"], performance["total24h"]["css"]
        if now or day:
            yield span, (f"{now} controlled slip seconds this interval, {day} in the last "
                         f"24 h, on a span set to clock = \"{clock}\"")


def slips_line_timed(site: Site) -> Iterator[Symptom | Skip]:
    """Slips on a line-timed span: our transmit clock is not the one we
    receive, so the board does not follow this span (another span or its
    own oscillator is its reference), or the carrier does not time the
    circuit."""
    for span, evidence in _slipping(site, "line"):
        yield Symptom(
            site.where(span, "clock"), evidence,
            "Check which clock the board follows (every span from the same carrier must be "
            "line-timed, and no span from a PBX or channel bank); ask the carrier whether "
            "the circuit is timed from their network.")


def slips_free_running(site: Site) -> Iterator[Symptom | Skip]:
    """Slips on a span on its own clock: the far end runs on its own clock
    too (both ends internal: two oscillators never agree), or it is the
    carrier, whose clock we should follow."""
    for span, evidence in _slipping(site, "internal"):
        yield Symptom(
            site.where(span, "clock"), evidence,
            "If this span comes from the carrier, set clock = \"line\" in its [[boards]] "
            "table.  If it goes to a PBX or channel bank, keep it internal and make that "
            "end take its clock from the line.")


def looped(site: Site) -> Iterator[Symptom | Skip]:
    """A span left in loopback carries no call: a line loop sends the
    carrier its own signal back, a local loop sends us ours."""
    for span, report in site.reports.items():
        loopback = report.get("loopback") or "none"
        if loopback != "none":
            yield Symptom(site.where(span), f"the span is in {loopback} loopback",
                          "Release the loopback when the test is over (a carrier's loop-up "
                          "code sets one too: ask them if nobody here did).")


def span_unused(site: Site) -> Iterator[Symptom | Skip]:
    """A span whose timeslots are in no trunk group: calls the carrier
    offers on it are never answered.  A span the boards report but the
    configuration does not declare is unused too."""
    for span in site.configured_spans:
        if span in site.reports and not site.groups_of(span):
            yield Symptom(
                f"{span} (trunk_groups in {site.config.path})",
                f"none of {_ranges(site.timeslots_of(span))} is in a trunk group: calls "
                "offered on it are never answered",
                f"Add its timeslots to a trunk group (channels = "
                f"[\"{_ranges(site.timeslots_of(span))}\"]) or ask the carrier to take the "
                "span out of service.")
    for span in site.reports:
        if span not in site.config.devices:
            yield Symptom(
                site.where(span),
                f"the boards report span {span}, which [[boards]] does not declare",
                "Declare it ([[boards]] type = \"t1\") and give its timeslots a trunk group, "
                "or remove the board.")


def span_missing(site: Site) -> Iterator[Symptom | Skip]:
    """Timeslots in a trunk group on a span the server does not report:
    the board is absent or did not start, and those trunks carry no call."""
    for span in site.configured_spans:
        if span in site.reports:
            continue
        for i, group, timeslots in site.groups_of(span):
            yield Symptom(
                f"{span} (trunk_groups[{i}].channels in {site.config.path})",
                f"trunk group {group.name!r} has {_ranges(timeslots)} but the server "
                f"reports no span {span}",
                "Check the board is installed and seen by the driver (linediag scan); until "
                "then these timeslots carry no call.")


def tones_for_zone(site: Site) -> Iterator[Symptom | Skip]:
    """The boards' tone set (call-progress tones and ring cadence) against
    the country of [dialing] timezone, where ZONE_TONES knows it.  Without
    a timezone, the configuration does not say the country: skipped."""
    zone = site.config.dialing.timezone
    if zone is None:
        yield Skip("no [dialing] timezone: the configuration does not say the country, so "
                   "the boards' tones are not checked")
        return
    if zone not in ZONE_TONES:
        yield Skip(f"[dialing] timezone {zone}: its country's tones are not known here")
        return
    country, expected = ZONE_TONES[zone]
    for i, board in enumerate(site.config.boards):
        if board["type"] not in DEFAULT_TONE_SETS:
            continue
        tones = board.get("tones", DEFAULT_TONE_SETS[board["type"]])
        if tones != expected:
            yield Symptom(
                f"boards[{i}].tones in {site.config.boards_path}",
                f"[dialing] timezone {zone} is in {country}, whose exchanges use the "
                f"\"{expected}\" tones; this {board['type']} board uses tones = \"{tones}\"",
                f"Set tones = \"{expected}\" in boards[{i}]: busy, ringback and dial tone "
                "detection on calls out, and the ring cadence, follow it.")


def _framed(report):
    """No alarm says the span is out of frame or without a signal."""
    return not set(report["alarms"]) & {"los", "red", "oof", "blue"}


def crc4_mismatch(site: Site) -> Iterator[Symptom | Skip]:
    """E1 with CRC-4 whose framer frames but finds no CRC-4 multiframe in
    the Si bits (its multiframe alarm, LMFA): the carrier's end runs no
    CRC-4 (lines-real 4.8.1).  The end without CRC-4 sees nothing wrong, so
    only the CRC-4 end can tell."""
    for span, report in site.reports.items():
        if site.setting(report, "framing") != "e1_crc4" or not _framed(report):
            continue
        if "lmfa" not in report["alarms"] or "crc4" not in (report.get("multiframesLost")
                                                             or []):
            continue
        crc = (report.get("counters") or {}).get("crc", 0)
        yield Symptom(
            site.where(span, "crc4"),
            f"multiframe alarm (LMFA){_lasting(report, 'lmfa')}: no CRC-4 multiframe in "
            f"what the carrier sends, while the span frames (no LOS, red or AIS); {crc} "
            "CRC-4 errors counted since the driver opened it (no block can be checked)",
            "The carrier's end does not run CRC-4: ask them to turn it on (G.704 and most "
            "carriers use it), or set crc4 = false in this span's [[boards]] table.  Their "
            "end sees nothing wrong: a CRC-4 mismatch shows at the CRC-4 end only.")


def ts16_misuse(site: Site) -> Iterator[Symptom | Skip]:
    """E1 CAS: timeslot 16 must carry the CAS multiframe (0000 in its frame
    0, each timeslot's ABCD in the others) and never ABCD 0000, which would
    mimic it (lines-real 4.5, 4.8.5).  No CAS multiframe found: the far end
    uses timeslot 16 otherwise (a D-channel, or voice: 31 channels); idle
    timeslots receiving 0000: the far end's idle bits are wrong."""
    for span, report in site.reports.items():
        if site.setting(report, "signalling") != "cas" or not _framed(report):
            continue
        if "cas" in (report.get("multiframesLost") or []):
            yield Symptom(
                site.where(span, "signalling"),
                f"multiframe alarm (LMFA){_lasting(report, 'lmfa')}: no CAS multiframe in "
                "timeslot 16, so no timeslot's bits get through: the far end uses timeslot "
                "16 for something else (a D-channel, or a 31st voice channel)",
                "Ask the carrier how the circuit uses timeslot 16.  ISDN PRI (CCS): set "
                "signalling = \"ccs\" in this span's [[boards]] table.  CAS: the far end "
                "must send the multiframe there and carry voice on 30 timeslots only.")
            continue
        zeros = [t["device"] for t in report.get("timeslots") or []
                 if t.get("state") in ("idle", "unused") and t.get("rxBits") == FORBIDDEN_ABCD]
        if zeros:
            yield Symptom(
                site.where(span, "signalling"),
                f"{len(zeros)} idle timeslots ({_ranges(zeros)}) receive ABCD "
                f"{FORBIDDEN_ABCD}, which E1 CAS forbids (it mimics the multiframe alignment "
                "signal and can throw the multiframe out)",
                "The far end's CAS bits are misconfigured: idle is 1001 and blocked 1101 "
                "(D stays 1).  Ask the carrier to correct them (its MFC/R2 variant or its "
                "idle pattern).")


def r2_variant(site: Site) -> Iterator[Symptom | Skip]:
    """MFC/R2 on an E1 CAS span (lines-real 4.8): the far end speaks
    another variant, or no R2 at all.  Its idle bits say so first: idle
    timeslots never receive the configured variant's idle (ITU 1001,
    China 1011) nor its blocking, but another variant's, or no R2 idle
    (0000 is ts16.misuse's).  Variants with the same idle bits (itu, mx,
    br, ar) differ in their other line signals and register signals:
    calls fail with protocol errors, which the trunks count
    (R2_MISMATCH_ERRORS, at least R2_MIN_ERRORS since the server
    started).  Only on a span without alarms, whose bits are live."""
    for span, report in site.reports.items():
        groups = [(i, g, mine) for i, g, mine in site.groups_of(span) if g.r2 is not None]
        if not groups or report["alarms"]:
            continue
        errors = {kind: n for kind, n in sorted((report.get("r2Errors") or {}).items())
                  if kind in R2_MISMATCH_ERRORS}
        for n, (i, group, mine) in enumerate(groups):
            variant = group.r2.variant
            where = f"{span} (trunk_groups[{i}].r2_variant in {site.config.path})"
            idle = [t for t in report.get("timeslots") or []
                    if t["device"] in mine and t.get("state") == "idle" and t.get("rxBits")]
            received = [t["rxBits"] for t in idle if t["rxBits"] != FORBIDDEN_ABCD]
            expected = (IDLE_BITS[variant], BLOCKED_BITS[variant])
            if len(received) >= SIGNALLING_MIN_IDLE and not set(expected) & set(received):
                yield _r2_idle_symptom(where, group, variant, idle, received)
            elif n == 0 and sum(errors.values()) >= R2_MIN_ERRORS:
                yield _r2_errors_symptom(where, group, variant, errors)
            elif len(received) < SIGNALLING_MIN_IDLE:
                yield Skip(f"{span}: {len(received)} idle MFC/R2 timeslots of "
                           f"{group.name}, {SIGNALLING_MIN_IDLE} needed")


def _r2_idle_symptom(where, group, variant, idle, received):
    pattern = max(set(received), key=received.count)
    theirs = [v for v, bits in IDLE_BITS.items() if bits == pattern]
    looks = (f"the idle of r2_variant {' / '.join(theirs)}" if theirs
             else "no MFC/R2 variant's idle: the far end may not signal MFC/R2 at all")
    evidence = (f"{len(idle)} idle timeslots ({_ranges([t['device'] for t in idle])}) receive "
                f"ABCD {pattern} ({received.count(pattern)} of them), never {IDLE_BITS[variant]} "
                f"(idle) or {BLOCKED_BITS[variant]} (blocked) of r2_variant {variant}: {looks}")
    if theirs:
        fix = (f"Ask the carrier which MFC/R2 variant the circuit uses; if it is "
               f"{theirs[0]}, set r2_variant = \"{theirs[0]}\" in trunk group "
               f"{group.name} (it is {variant} now).")
    else:
        fix = (f"Ask the carrier how the circuit signals (trunk group {group.name} expects "
               f"MFC/R2, r2_variant {variant}); if it is not MFC/R2, these timeslots cannot "
               "be R2 trunks.")
    return Symptom(where, evidence, fix)


def _r2_errors_symptom(where, group, variant, errors):
    listing = ", ".join(f"{n} {kind}" for kind, n in errors.items())
    same = [v for v, bits in IDLE_BITS.items() if bits == IDLE_BITS[variant] and v != variant]
    evidence = (f"{sum(errors.values())} MFC/R2 protocol errors on the span's trunks since "
                f"the server started ({listing}), with the idle bits those of r2_variant "
                f"{variant}")
    fix = (f"Ask the carrier which MFC/R2 variant the circuit uses: trunk group {group.name} "
           f"is set to {variant}, and {', '.join(same)} have the same idle bits but other "
           "line and register signals; set r2_variant to the carrier's.  If it is the same, "
           "compare r2_max_ani and r2_max_dnis with the carrier's agreement (MF timeouts "
           "follow digits one side waits for).")
    return Symptom(where, evidence, fix)


def _isdn(site):
    """(span, report, its D-channel section, its PriSettings) of each ISDN
    span reported with one."""
    for span, report in site.reports.items():
        isdn = report.get("isdn")
        if isdn and span in site.config.devices:
            yield span, report, isdn, site.config.pri_settings(span)


def _pri_where(site, settings, key):
    if not settings.where:
        return f"{settings.span} (no [[pri_spans]] table for it in {site.config.path})"
    return f"{settings.span} ({settings.where}.{key} in {site.config.path})"


def pri_side(site: Site) -> Iterator[Symptom | Skip]:
    """libpri reports a configuration error on the D-channel: both ends
    say they are the network, or both the CPE; layer 2 never comes up
    (lines-real 2.2)."""
    for _, _, isdn, settings in _isdn(site):
        errors = isdn.get("configErrors") or []
        if not errors or isdn.get("state") == "up":
            continue
        text = errors[-1]
        both = "network" if BOTH_NETWORK in text else "cpe" if BOTH_CPE in text else None
        if both is None:
            continue
        other = "network" if both == "cpe" else "cpe"
        faces = ("it faces a telephone company (always the network)" if other == "cpe"
                 else "it faces equipment that is the CPE too (a PBX)")
        yield Symptom(_pri_where(site, settings, "node"),
                      f"the D-channel stays down and libpri says: \"{text}\": both ends "
                      f"are {'the network' if both == 'network' else 'the CPE'}",
                      f"Set node = \"{other}\" in this span's [[pri_spans]] table if "
                      f"{faces}; else the far end must change its side.")


def pri_dchannel(site: Site) -> Iterator[Symptom | Skip]:
    """The D-channel down on a span with no alarm (the line is framed)
    and no libpri configuration error: the far end does not answer on
    the D-channel's timeslot."""
    for span, report, isdn, _ in _isdn(site):
        if isdn.get("state") != "down" or report["alarms"] or isdn.get("configErrors"):
            continue
        kind = site.setting(report, "type")
        slot = "timeslot 16" if kind == "e1" else "channel 24"
        yield Symptom(site.where(span, "signalling"),
                      f"the span is framed with no alarm but its D-channel ({slot}) is down: "
                      "the far end answers none of our SABMEs",
                      f"Ask the carrier whether the circuit is ISDN with its D-channel on "
                      f"{slot}, and in service; a circuit that is CAS or robbed-bit needs "
                      "that signalling here instead.")


def pri_switchtype(site: Site) -> Iterator[Symptom | Skip]:
    """The far end cleared at least SWITCHTYPE_MIN_CALLS calls with the
    causes of a message it could not read (PROTOCOL_CAUSES): our
    messages are of another switch type than its own."""
    for _, _, isdn, settings in _isdn(site):
        causes = {int(c): n for c, n in (isdn.get("farCauses") or {}).items()
                  if int(c) in PROTOCOL_CAUSES}
        total = sum(causes.values())
        if total < SWITCHTYPE_MIN_CALLS:
            continue
        seen = ", ".join(f"{n} with cause {c} ({PROTOCOL_CAUSES[c]})"
                         for c, n in sorted(causes.items()))
        yield Symptom(_pri_where(site, settings, "switchtype"),
                      f"the far end cleared {total} calls as unreadable: {seen}",
                      f"Ask the carrier which switch type the circuit is provisioned as "
                      f"(this span is set to {settings.switchtype}) and set switchtype in "
                      "its [[pri_spans]] table to it.")


@dataclass(frozen=True)
class Rule:
    """A check, and the id and severity of what it finds."""

    id: str
    severity: str
    check: Callable[[Site], Iterator[Symptom | Skip]]

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"rule {self.id}: severity {self.severity!r} is not one of "
                             f"{', '.join(SEVERITIES)}")


#: Every rule, in the order findings are listed.
RULES = (
    Rule("span.removed", "error", board_removed),
    Rule("alarm.los", "error", loss_of_signal),
    Rule("alarm.blue", "error", upstream_ais),
    Rule("framing.mismatch", "error", framing_mismatch),
    Rule("alarm.yellow", "error", yellow_alone),
    Rule("coding.mismatch", "warning", coding_mismatch),
    Rule("signalling.mismatch", "error", signalling_mismatch),
    Rule("clock.no_line_timing", "error", no_line_timing),
    Rule("clock.same_priority", "warning", same_priority),
    Rule("clock.slips", "warning", slips_line_timed),
    Rule("clock.free_running", "warning", slips_free_running),
    Rule("span.loopback", "warning", looped),
    Rule("span.unused", "warning", span_unused),
    Rule("span.missing", "error", span_missing),
    Rule("tones.zone", "warning", tones_for_zone),
    Rule("crc4.mismatch", "error", crc4_mismatch),
    Rule("ts16.misuse", "error", ts16_misuse),
    Rule("pri.side", "error", pri_side),
    Rule("pri.dchannel", "error", pri_dchannel),
    Rule("pri.switchtype", "warning", pri_switchtype),
    Rule("r2.variant", "error", r2_variant),
)


def examine(config: ServerConfig, spans: Iterable[Mapping]) -> Examination:
    """Every rule over the configuration and the span reports: what they
    found, and what they could not decide."""
    site = Site(config, spans)
    findings, skipped = [], []
    for rule in RULES:
        for outcome in rule.check(site):
            if isinstance(outcome, Skip):
                skipped.append(Skipped(rule.id, outcome.reason))
            else:
                findings.append(Finding(rule.id, rule.severity, outcome.where,
                                        outcome.evidence, outcome.fix))
    return Examination(findings, skipped)


def diagnose(config: ServerConfig, spans: Iterable[Mapping]) -> list[Finding]:
    """The findings of `examine`, in RULES order."""
    return examine(config, spans).findings
