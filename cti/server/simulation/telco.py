# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_sim_control -*-
"""The simulated telephone company, driven from outside the server.

A server running on the simulator (`driver = "sim"`) owns the whole
simulated chassis, far ends included: the telco beyond each trunk, the
handsets on the stations.  `SimulatedTelco` lets an administrator play
that far end through the protocol (`cti sim`, cti/sim_cli.py), so a
person or a script can give a standalone server a call::

    telco = SimulatedTelco(sim, config, channels)
    telco.call("pstn-in", ani="2125551234", dnis="5550199")   # -> {"device": "dtiB1T1", ...}
    telco.digits("dtiB1T1", "1")                               # the caller presses 1
    telco.handset("msiB1C1", "lift")                           # the agent answers
    telco.hangup("dtiB1T1")                                     # the caller hangs up

What each far end can do follows its kind, as in the configuration:

    trunk     a line or T1 or E1 timeslot of a [[trunk_groups]]: call,
              digits, tone, audio, hangup (analog lines by any supervision
              method), answer_mode (how it answers our calls out); on an E1
              CAS timeslot the telco's MFC/R2 (r2telco.py) signals the call
    station   a phone of a [[station_groups]]: handset (lift, hangup,
              flash), digits (dialled on its keypad), tone, audio
    B-channel a B-channel of an ISDN span (T1 PRI, E1 CCS) in a trunk
              group: call (a SETUP on the telco's libpri,
              cti.server.simulation.isdn), hangup with a Q.850 cause,
              answer_mode (answer, no_answer, busy, refuse with a cause),
              and the audio requests as any trunk
    span      a T1 or E1 span: alarm, line_errors (error events second by
              second), bit_error_rate, far_line (the telco's framing, line
              code and clock: a mismatch shows as on a real span)
    ISDN span restart (RESTART of a channel or of the interface),
              dchannel (its D-channel falls silent, or comes back)
    voice     a voice resource: hang (its next operation never ends, or
              every one, the fault cti.server.lines.voicetest recovers)

Requests name devices and groups as the configuration does; anything else
is refused with the error that says what was wrong and where.  On a
server with real boards there is no far end to play: every request is
refused with `NoSimulator`.  Nothing here imports the protocol: the
services are declared at the edge (handlers.py).
"""
import base64
import binascii
from array import array

from twisted.logger import Logger

from cti.server.errors import InvalidField, InvalidState, NoSimulator, NoSuchObject
from cti.server.simulation.isdn import ISDN_ANSWER_MODES, IsdnFarEnds
from cti.server.simulation.r2telco import R2Telco
from drivers import errors as driver_errors
from drivers.interface import (
    E1_CODINGS,
    E1_SIGNALLINGS,
    SPAN_CLOCKS,
    SPAN_CODINGS,
    SPAN_FRAMINGS,
)
from drivers.pri import CAUSE_NORMAL
from drivers.r2 import categories_sent as r2_categories_sent
from drivers.sim import ALARMS as SIM_ALARMS
from drivers.sim import DISCONNECTS, OUTBOUND
from drivers.sim import TONES as SIM_TONES
from drivers.wavinfo import WavFormatError, wav_format

log = Logger()

#: Supervision methods by which an analog line's far end hangs up; a T1
#: loop-start timeslot's sends busy tone or goes silent (it has no loop
#: current or battery to change), an E&M timeslot's drops its bits.
HANGUP_METHODS = tuple(DISCONNECTS)
T1_LOOPSTART_HANGUPS = ("busy_tone", "silence")
#: What a station's handset does.
HANDSET_ACTIONS = ("lift", "hangup", "flash")
#: Tones a far end sends ("none" stops what it sends).
TONES = tuple(SIM_TONES)
#: How a far end answers the calls we place on it (ISDN: answer, no_answer,
#: busy, refuse with a cause).
ANSWER_MODES = (*OUTBOUND, "refuse")
#: Q.850 causes a telco may clear or refuse with.
CAUSE_RANGE = (1, 127)
#: Span alarms the far end can raise.
ALARMS = tuple(SIM_ALARMS)
#: Keys a far end sends: DTMF (16 keys) or MF (KP "*", ST "#").
DTMF_KEYS = frozenset("0123456789*#ABCD")
MF_KEYS = frozenset("0123456789*#")
#: An analog caller ID's number may be one of these instead of digits.
PRIVATE, OUT_OF_AREA = "P", "O"
#: The longest number or name a far end sends (the simulator's).
NUMBER_MAX = 31
#: Far ends that are in a call: what they send reaches our side.
IN_A_CALL = ("seized", "connected")
#: A far end's state, as a person would say it.
FAR_STATES = {"idle": "no call", "ringing": "its call is not answered yet",
              "clearing": "it hung up"}
#: The most audio a far end may have queued, in seconds.
AUDIO_QUEUED_MAX_S = 600


#: Error events a span's far end injects (drivers.sim.Simulator.span_errors).
LINE_ERRORS = ("bpv", "crc", "fas", "oof", "slips", "ais")
#: The telco's line settings (drivers.interface).
FRAMINGS, CLOCKS = SPAN_FRAMINGS, SPAN_CLOCKS
#: Line codes of T1 and E1 spans, and the uses of an E1's timeslot 16.
CODINGS = {"t1": SPAN_CODINGS, "e1": E1_CODINGS}
ALL_CODINGS = tuple(dict.fromkeys(SPAN_CODINGS + E1_CODINGS))
TS16_USES = E1_SIGNALLINGS


def _isdn_only(presentation, target):
    """A calling number's presentation is ISDN's: InvalidField when one is
    given for a call on any other trunk (analog caller ID withholds a
    number with `P` as its ANI instead)."""
    if presentation is not None:
        raise InvalidField(f"presentation: {target} is not an ISDN B-channel: a calling "
                           "number's presentation is for ISDN calls (analog caller ID "
                           "withholds a number with ani \"P\")", field="presentation")


def _number(value, field, instead=()):
    """A number a far end sends: up to NUMBER_MAX digits 0-9, or one of
    `instead`; InvalidField naming the field otherwise."""
    if value in instead:
        return
    bad = next((c for c in value if not "0" <= c <= "9"), None)
    if bad is not None or len(value) > NUMBER_MAX:
        raise InvalidField(f"{field}: {value!r} is not a number of up to {NUMBER_MAX} "
                           "digits 0-9" + (f" (or {' or '.join(instead)})" if instead else "")
                           + (f": {bad!r} is not a digit" if bad is not None else ""),
                           field=field)


def _names(names):
    """A few names of a set, for a message: "dtiB1T1, dtiB1T2 ... (26)"."""
    ordered = sorted(names)
    if not ordered:
        return "none"
    shown = ", ".join(ordered[:4])
    return shown + (f" ... ({len(ordered)})" if len(ordered) > 4 else "")


def _wav_samples(wav):
    """The 16-bit samples of a base64 WAV file (SimAudio's `wav`)."""
    try:
        data = base64.b64decode(wav, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidField("wav: not base64 (RFC 4648, with no line breaks)",
                           field="wav") from None
    try:
        fmt = wav_format(data[:4096], where="wav")
    except WavFormatError as e:
        raise InvalidField(str(e), field="wav") from None
    pos, payload = 12, b""
    while pos + 8 <= len(data):
        chunk, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        if chunk == b"data":
            payload = data[pos + 8:pos + 8 + size]
            break
        pos += 8 + size + (size & 1)
    if fmt == "pcm16":
        samples = array("h", payload[:len(payload) // 2 * 2])
    else:
        from drivers.sim import alaw2linear, ulaw2linear

        decode = ulaw2linear if fmt == "ulaw" else alaw2linear
        samples = array("h", (decode(code) for code in payload))
    if not samples:
        raise InvalidField("wav: no audio (no data chunk, or an empty one)", field="wav")
    return samples


class SimulatedTelco:
    """The far ends of a simulated chassis, by configured device name.
    `sim` is the drivers.sim.Simulator the server runs on, or None (real
    boards); `channels` are the server's own (to pick a trunk that is idle
    on our side too)."""

    def __init__(self, sim, config, channels, clock):
        self.sim = sim
        self.channels = channels
        self.clock = clock
        self.groups = {g.name: g for g in config.trunk_groups}
        self.trunks = {name: g for g in config.trunk_groups for name in g.channels}
        self.stations = {name for g in config.station_groups for name in g.stations}
        self.spans = {d.name for d in config.devices.values() if d.kind == "span"}
        self.span_types = {d.name: config.boards[d.board]["type"]
                           for d in config.devices.values() if d.kind == "span"}
        self.voices = {d.name for d in config.devices.values() if d.kind == "voice"}
        self.heard = {}                   # device -> digits its far end heard, this call
        self.audio_until = {}             # device -> when the audio it was sent ends
        self.injecting = {}               # span -> the next second's errors (DelayedCall)
        #: the MFC/R2 far ends of the E1 CAS trunk groups (r2telco.py), and
        #: the telco's libpri on the ISDN spans (isdn.py)
        self.r2 = R2Telco(sim, config.trunk_groups, clock) if sim is not None else None
        self.isdn = IsdnFarEnds(sim, config, self.trunks, clock) if sim is not None else None
        self.isdn_trunks = self.isdn.trunks if sim is not None else {}

    def start(self):
        """Play the far ends' MFC/R2 and ISDN from now on."""
        if self.r2 is not None:
            self.r2.start()
            self.isdn.start()

    def stop(self):
        if self.r2 is not None:
            self.r2.stop()
            self.isdn.stop()

    # -- the far end of a trunk ---------------------------------------------
    def call(self, who, target, ani="", dnis="", name="", mf=None, category=None,
             presentation=None):
        """The telco calls in on `target`: a trunk group (its first channel
        idle at both ends) or one line or timeslot.  E&M timeslots get the
        address in-band after our wink (MF or DTMF as the group's `address`
        says, unless `mf` says otherwise); analog lines ring with caller
        ID; E1 CAS timeslots are seized with MFC/R2, the ANI, the DNIS and
        the calling `category` (national_subscriber unless told) in the
        register signals; ISDN B-channels get a SETUP whose calling number
        has the `presentation` (allowed unless told; ISDN only).  Returns
        the device, its group and signalling."""
        self._need()
        _number(ani, "ani", instead=(PRIVATE, OUT_OF_AREA))
        _number(dnis, "dnis")
        group = self.groups.get(target) or self.trunks.get(target)
        if group is not None and group.r2 is not None:
            _isdn_only(presentation, target)
            return self._r2_call(who, target, group, ani, dnis, name, mf, category)
        if category is not None:
            raise InvalidField(f"category: {target} is not an MFC/R2 trunk (E1 CAS): a "
                               "calling category is for those", field="category")
        if len(name) > NUMBER_MAX or not name.isascii() or not name.isprintable():
            raise InvalidField(f"name: {name!r} is not up to {NUMBER_MAX} printable ASCII "
                               "characters (what caller ID carries)", field="name")
        group = self.groups[target] if target in self.groups else self._trunk(target, "target")
        if group.direction == "out":
            raise InvalidState(f"{target}: trunk group {group.name} is for calls out only "
                               "(direction \"out\"): the telco cannot call in on it",
                               object="trunk_group", id=group.name)
        if target in self.groups:
            device = next((d for d in group.channels if self._idle(d)), None)
            if device is None:
                raise InvalidState(f"trunk group {target}: no channel is idle at both ends",
                                   object="trunk_group", id=target)
        else:
            device = target
            state = self._far_state(device)
            if state != "idle":
                raise InvalidState(f"{device}: its far end is {state}, not idle",
                                   object="device", id=device)
        if device in self.isdn_trunks:
            return self._isdn_call(who, device, group, ani, dnis, name,
                                   presentation or "allowed")
        _isdn_only(presentation, device)
        if mf is None:
            mf = group.address == "mf"
        far = self._far(device)
        self._run(far.stop_sending)            # nothing left over from before
        self.audio_until.pop(device, None)
        while self._run(far.heard_digits):      # nor heard: this call's digits only
            pass
        self._run(far.call, ani=ani, name=name, dnis=dnis, mf=mf)
        self.heard[device] = ""
        self._log(who, "calls in on {device}: ani {ani!r} dnis {dnis!r}", device=device,
                  ani=ani, dnis=dnis)
        return {"device": device, "group": group.name,
                "signalling": group.signalling.get(device, "")}

    def _isdn_call(self, who, device, group, ani, dnis, name, presentation):
        if ani in (PRIVATE, OUT_OF_AREA):
            raise InvalidField(f"ani: {ani!r} is analog caller ID's; an ISDN calling number "
                               "is digits", field="ani")
        far = self._far(device)
        self._run(far.stop_sending)
        self.audio_until.pop(device, None)
        while self._run(far.heard_digits):
            pass
        try:
            self.isdn_trunks[device].call(device, ani, dnis, name, presentation)
        except driver_errors.PriError as e:
            raise InvalidState(f"{device}: the telco's SETUP was refused: {e}",
                               object="device", id=device) from None
        self.heard[device] = ""
        self._log(who, "calls in on {device} (SETUP): ani {ani!r} ({presentation}) "
                  "dnis {dnis!r}", device=device, ani=ani, presentation=presentation,
                  dnis=dnis)
        return {"device": device, "group": group.name,
                "signalling": group.signalling.get(device, "")}

    def _r2_call(self, who, target, group, ani, dnis, name, mf, category):
        """SimCall on an E1 CAS trunk: MFC/R2."""
        category = category or "national_subscriber"
        categories = r2_categories_sent(group.r2.variant)
        if category not in categories:
            raise InvalidField(f"category: {category!r} is not one of {', '.join(categories)} "
                               f"(r2_variant {group.r2.variant!r})", field="category")
        if name or mf is not None:
            raise InvalidField(f"{'name' if name else 'mf'}: {target} is an MFC/R2 trunk: its "
                               "calls carry an ANI, a DNIS and a category, in R2 signals",
                               field="name" if name else "mf")
        if ani in (PRIVATE, OUT_OF_AREA) or not dnis:
            raise InvalidField("ani: digits for an MFC/R2 call" if dnis else
                               "dnis: an MFC/R2 call needs the number called", field="dnis"
                               if not dnis else "ani")
        if group.direction == "out":
            raise InvalidState(f"{target}: trunk group {group.name} is for calls out only "
                               "(direction \"out\"): the telco cannot call in on it",
                               object="trunk_group", id=group.name)
        if target in self.groups:
            device = next((d for d in group.channels if self._r2_idle(d)), None)
            if device is None:
                raise InvalidState(f"trunk group {target}: no channel is idle at both ends",
                                   object="trunk_group", id=target)
        elif self.r2.blocking(target)[0]:
            raise InvalidState(f"{target}: the telco blocks it (SimBlock with on false "
                               "first)", object="device", id=target)
        elif not self._r2_idle(target):
            raise InvalidState(f"{target}: a call is on it", object="device", id=target)
        else:
            device = target
        self.r2.call(device, ani, dnis, category)
        self._log(who, "calls in on {device} (MFC/R2 {variant}): ani {ani!r} dnis {dnis!r} "
                  "category {category}", device=device, variant=group.r2.variant, ani=ani,
                  dnis=dnis, category=category)
        return {"device": device, "group": group.name, "signalling": "cas"}

    def _r2_idle(self, device):
        channel = self.channels.by_name.get(device)
        return (self.r2.idle(device) and not self.r2.blocking(device)[0]
                and (channel is None or channel.state == "idle"))

    def block(self, who, device, on=True):
        """The telco blocks an MFC/R2 timeslot (R2's blocking line signal),
        or unblocks it.  A call on it goes on: the block follows once it
        clears (`pending`)."""
        self._need()
        group = self._trunk(device, "device")
        if group.r2 is None:
            raise InvalidField(f"device: {device} is no MFC/R2 timeslot (E1 CAS with an "
                               "r2_variant): blocking by the far end is an R2 line signal",
                               field="device")
        self.r2.block(device, on)
        wanted, blocked = self.r2.blocking(device)
        self._log(who, "{what} {device}{when}", what="blocks" if on else "unblocks",
                  device=device, when="" if blocked == wanted else " once its call clears")
        return {"device": device, "blocked": blocked, "pending": blocked != wanted}

    def hangup(self, who, device, method=None, cause=None):
        """The far end hangs up: an analog line by `method` (loop current
        drop unless told), a T1 loop-start timeslot by busy tone or into
        silence (busy tone unless told), an E&M timeslot with its
        signalling bits, a station by putting the handset down.  A caller
        not answered yet gives up (its line stops ringing, its timeslot is
        released)."""
        self._need()
        if device in self.stations:
            if method is not None:
                raise InvalidField(f"{device} is a station: its handset is put down; a "
                                   "hang-up method is for analog lines", field="method")
            return self.handset(who, device, "hangup")
        group = self._trunk(device, "device")
        if device in self.isdn_trunks:
            return self._isdn_hangup(who, device, method, cause)
        if cause is not None:
            raise InvalidField(f"{device} is no ISDN B-channel: a cause is for the "
                               "D-channel's clearing", field="cause")
        if group.r2 is not None:
            if method is not None:
                raise InvalidField(f"{device} is an MFC/R2 timeslot: its far end clears "
                                   "with its line signals; a hang-up method is for analog "
                                   "lines", field="method")
            if self.r2.idle(device):
                raise InvalidState(f"{device}: no call on it to clear", object="device",
                                   id=device)
            try:
                self.r2.hangup(device)
            except driver_errors.R2Error as e:
                raise InvalidState(f"{device}: its far end cannot clear the call now: "
                                   f"{e.message} (on our call out it clears back once it "
                                   "has answered)", object="device", id=device) from None
            self._log(who, "clears {device} (MFC/R2)", device=device)
            return {"device": device}
        kind = group.signalling.get(device)
        if kind == "fxs_loopstart":
            if method not in (None, *T1_LOOPSTART_HANGUPS):
                raise InvalidField(f"{device} is a T1 loop-start timeslot: its far end hangs "
                                   "up with busy tone or into silence (busy_tone, silence), "
                                   f"not {method}", field="method")
            method = method or T1_LOOPSTART_HANGUPS[0]
        elif method is not None and kind != "loopstart":
            raise InvalidField(f"{device} is a T1 timeslot: its far end hangs up with its "
                               "signalling bits; a hang-up method is for analog lines and "
                               "T1 loop-start timeslots", field="method")
        far = self._far(device)
        if self._run(lambda: far.state) == "ringing":
            self._run(far.abandon)              # gone before the answer
        else:
            self._run(far.hangup, method or HANGUP_METHODS[0])
        self._log(who, "hangs up {device} ({method})", device=device,
                  method=method or ("loop current drop" if kind == "loopstart"
                                    else "bits on hook"))
        return {"device": device}

    def _isdn_hangup(self, who, device, method, cause):
        if method is not None:
            raise InvalidField(f"{device} is an ISDN B-channel: its far end clears with a "
                               "cause on the D-channel; a hang-up method is for analog "
                               "lines", field="method")
        cause = CAUSE_NORMAL if cause is None else self._cause(cause)
        far = self.isdn_trunks[device]
        state = far.state(device)
        if state not in ("ringing", "seized", "connected"):
            raise InvalidState(f"{device}: its far end has no call to clear "
                               f"({FAR_STATES.get(state, state)})", object="device", id=device)
        try:
            far.hangup(device, cause)
        except driver_errors.PriError as e:
            raise InvalidState(f"{device}: the telco could not clear: {e}",
                               object="device", id=device) from None
        self._log(who, "clears {device} (cause {cause})", device=device, cause=cause)
        return {"device": device}

    @staticmethod
    def _cause(cause):
        low, high = CAUSE_RANGE
        if isinstance(cause, bool) or not isinstance(cause, int) or not low <= cause <= high:
            raise InvalidField(f"cause: {cause!r} is not a Q.850 cause ({low} to {high}: "
                               "16 normal clearing, 17 busy, 34 no circuit...)",
                               field="cause")
        return cause

    def answer_mode(self, who, target, mode, rings=2, cause=None):
        """How the far end of `target` (a trunk group, or one channel)
        answers the calls we place on it: answer after `rings` rings, busy,
        no answer, SIT, fax, no dial tone or silence."""
        self._need()
        if rings < 0 or rings > 30:
            raise InvalidField(f"rings: {rings} is not 0 to 30", field="rings")
        if target in self.groups:
            devices = self.groups[target].channels
        else:
            self._trunk(target, "target")
            devices = (target,)
        isdn = [d for d in devices if d in self.isdn_trunks]
        if isdn and mode not in ISDN_ANSWER_MODES:
            raise InvalidField(f"mode: {target} is ISDN: its far end takes our calls with "
                               f"{', '.join(ISDN_ANSWER_MODES)}, not {mode}", field="mode")
        if not isdn and (mode == "refuse" or cause is not None):
            raise InvalidField(f"{'cause' if cause is not None else 'mode'}: refusing with a "
                               f"cause is for ISDN trunks; {target} is not one",
                               field="cause" if cause is not None else "mode")
        if mode == "refuse" and cause is None:
            raise InvalidField("cause: mode refuse needs the Q.850 cause to refuse with "
                               "(17 busy, 34 no circuit...)", field="cause")
        if cause is not None:
            self._cause(cause)
        for device in devices:
            if device in self.isdn_trunks:
                self.isdn_trunks[device].answer_mode(device, mode, rings, cause)
            elif device in self.r2:
                self.r2.answer_mode(device, mode, rings)
            else:
                self._run(self._far(device).set_outbound, mode, answer_rings=rings)
        self._log(who, "answers calls out on {target}: {mode}", target=target, mode=mode)
        return {"devices": list(devices)}

    # -- any far end ----------------------------------------------------------
    def digits(self, who, device, digits, mf=False):
        """The far end sends `digits` (DTMF, or MF with `mf`): a caller
        pressing keys, or a station's keypad."""
        self._need()
        self._endpoint(device)
        keys = MF_KEYS if mf else DTMF_KEYS
        bad = next((i for i, key in enumerate(digits) if key not in keys), None)
        if not digits or bad is not None:
            raise InvalidField(
                "digits: empty" if not digits else
                f"digits: {digits[bad]!r} at position {bad + 1} is not a "
                f"{'MF' if mf else 'DTMF'} key ({''.join(sorted(keys))})", field="digits")
        self._in_a_call(device)
        self._run(self._far(device).send_digits, digits, mf=mf)
        self._log(who, "sends {digits} on {device}", digits=digits, device=device)
        return {"device": device}

    def tone(self, who, device, tone):
        """The far end sends a call-progress or fax tone ("none" stops)."""
        self._need()
        self._in_a_call(device)
        self._run(self._far(device).send_tone, None if tone == "none" else tone)
        self._log(who, "sends tone {tone} on {device}", tone=tone, device=device)
        return {"device": device}

    def audio(self, who, device, wav):
        """The far end sends the audio of a WAV file (8 kHz mono: PCM16,
        mu-law or A-law), given as base64: speech, music, a fax.  It is
        queued after what the far end is sending already: a long file
        comes as several requests, played back to back."""
        self._need()
        self._endpoint(device)
        samples = _wav_samples(wav)
        self._in_a_call(device)
        now = self.clock.seconds()
        until = max(now, self.audio_until.get(device, now)) + len(samples) / 8000
        if until - now > AUDIO_QUEUED_MAX_S:
            raise InvalidState(f"{device}: {until - now - len(samples) / 8000:.0f} s of audio "
                               f"queued already; at most {AUDIO_QUEUED_MAX_S} s may wait",
                               object="device", id=device)
        self._run(self._far(device).send_audio, samples)
        self.audio_until[device] = until
        self._log(who, "sends {s:.1f} s of audio on {device}", s=len(samples) / 8000,
                  device=device)
        return {"device": device, "seconds": round(len(samples) / 8000, 3)}

    def handset(self, who, station, action):
        """A station's handset lifted, put down or flashed."""
        self._need()
        if station not in self.stations:
            raise NoSuchObject(f"{station} is no station of this server's "
                               "[[station_groups]]", object="device", id=station)
        far = self._far(station)
        self._run({"lift": far.offhook, "hangup": far.onhook, "flash": far.flash}[action])
        self._log(who, "{action} at {station}", action=action, station=station)
        return {"device": station}

    def status(self, device):
        """What the far end of a device is doing and has heard: its state,
        the digits it heard (this call), the tone it hears, what our side
        dialled to it; how much audio it has waiting to send, and the most
        it may have."""
        self._need()
        self._endpoint(device)
        far = self._far(device)
        heard = self.heard.get(device, "") + self._run(far.heard_digits)
        self.heard[device] = heard
        now = self.clock.seconds()
        result = {"device": device, "state": self._far_state(device),
                  "heardDigits": heard, "heardTone": self._run(far.heard_tone),
                  "audioQueuedS": round(max(0.0, self.audio_until.get(device, now) - now), 3),
                  "audioQueuedMaxS": AUDIO_QUEUED_MAX_S}
        if device in self.isdn_trunks:
            result["dialled"] = self.isdn_trunks[device].dialled.get(device, "")
        elif device in self.trunks:
            result["dialled"] = self._run(far.dialled)
        return result

    # -- ISDN spans -----------------------------------------------------------
    def restart(self, who, span, channel=None):
        """The telco sends RESTART for one B-channel (its Q.931 number) or,
        without one, for the whole interface: the calls there end at once."""
        self._need()
        far = self._isdn_span(span)
        top = 31 if far.e1 else 23
        if channel is not None and (not 1 <= channel <= top or (far.e1 and channel == 16)):
            raise InvalidField(f"channel: {channel} is no B-channel of {span} (1 to {top}"
                               + (", not 16: the D-channel" if far.e1 else "") + ")",
                               field="channel")
        try:
            far.restart(channel)
        except driver_errors.PriError as e:
            raise InvalidState(f"{span}: the telco could not restart: {e}",
                               object="device", id=span) from None
        self._log(who, "restarts {what} of {span}", span=span,
                  what="the interface" if channel is None else f"channel {channel}")
        return {"span": span, "channel": channel}

    def dchannel(self, who, span, on=True, node=None, switchtype=None):
        """The telco's D-channel on `span` falls silent (on false: no frame
        either way, as a cut) or carries frames again; with `node` or
        `switchtype`, the telco's side of it is provisioned so (its
        libpri starts anew: a mismatch with ours shows as on a real
        circuit)."""
        self._need()
        far = self._isdn_span(span)
        if node is not None or switchtype is not None:
            far.provision(node, switchtype)
        far.cut(not on)
        self._log(who, "{what} the D-channel of {span} ({node}, {switchtype})", span=span,
                  what="restores" if on else "silences", node=far.node,
                  switchtype=far.switchtype)
        return {"span": span, "on": on, "node": far.node, "switchtype": far.switchtype}

    def _isdn_span(self, span):
        far = self.isdn.spans.get(span)
        if far is None:
            raise NoSuchObject(f"{span} is no ISDN span with B-channels in this server's "
                               f"[[trunk_groups]] (ISDN spans: {_names(self.isdn.spans)})",
                               object="device", id=span)
        return far

    # -- faults ---------------------------------------------------------------
    def alarm(self, who, span, alarm, on=True):
        """The carrier's side raises (or clears) an alarm on a T1 span."""
        self._need()
        self._span(span)
        self._run(self.sim.span_alarm, span, alarm, on)
        self._log(who, "{what} alarm {alarm} on {span}", what="raises" if on else "clears",
                  alarm=alarm, span=span)
        return {"span": span, "alarm": alarm, "on": on}

    def line_errors(self, who, span, errors, seconds=1):
        """The far end's line takes error events: `errors` (bpv, crc, fas,
        oof, slips: counts; ais: bool) in this second and each of the next
        `seconds` - 1, as a span's counters and performance report them.
        It replaces a pattern still running there; `seconds` 0 only stops
        that."""
        self._need()
        self._span(span)
        unknown = set(errors) - set(LINE_ERRORS)
        if unknown:
            raise InvalidField(f"errors: unknown {', '.join(sorted(unknown))} (one of "
                               f"{', '.join(LINE_ERRORS)})", field="errors")
        for key, value in errors.items():
            if key == "ais" and not isinstance(value, bool):
                raise InvalidField(f"errors.ais: expected true or false, got {value!r}",
                                   field="errors")
            if key != "ais" and (isinstance(value, bool) or not isinstance(value, int)
                                 or not 0 <= value <= 100_000):
                raise InvalidField(f"errors.{key}: expected a count 0 to 100000, got "
                                   f"{value!r}", field="errors")
        if not 0 <= seconds <= 3600:
            raise InvalidField(f"seconds: {seconds} is not 0 to 3600", field="seconds")
        previous = self.injecting.pop(span, None)
        if previous is not None and previous.active():
            previous.cancel()                   # the new pattern replaces it
        if seconds:
            self._run(self.sim.span_errors, span, **errors)
            if seconds > 1:
                self.injecting[span] = self.clock.callLater(
                    1.0, self._errors_again, span, errors, seconds - 1)
        self._log(who, "injects {errors} on {span} for {seconds} s", errors=errors,
                  span=span, seconds=seconds)
        return {"span": span, "seconds": seconds}

    def _errors_again(self, span, counts, seconds):
        self.injecting.pop(span, None)
        try:
            self.sim.span_errors(span, **counts)
        except driver_errors.SimulatorError as e:
            log.warn("sim: errors on {span} stopped: {e}", span=span, e=e)
            return
        if seconds > 1:
            self.injecting[span] = self.clock.callLater(1.0, self._errors_again, span,
                                                        counts, seconds - 1)

    def bit_error_rate(self, who, span, ber):
        """Random bit errors at `ber` (0 to 0.01) on the far end's transmit
        path from now on (0 stops them): a BERT measures them."""
        self._need()
        self._span(span)
        if not 0 <= ber <= 0.01:
            raise InvalidField(f"ber: {ber} is not 0 to 0.01", field="ber")
        self._run(self.sim.span_ber, span, ber)
        self._log(who, "sets a bit error rate of {ber} on {span}", ber=ber, span=span)
        return {"span": span, "ber": ber}

    def far_line(self, who, span, framing=None, coding=None, clock=None, ppm=None,
                 crc4=None, signalling=None, variant=None):
        """The telco's own line settings on `span`: a T1's framing (esf,
        d4), an E1's CRC-4 (on or off) and use of timeslot 16 (cas, ccs),
        the line code, the clock, its oscillator's offset in ppm, and the
        MFC/R2 variant of its E1 CAS timeslots.  Set unlike ours, the span
        shows what a real mismatch shows (alarms, code violations, slips,
        R2 calls failing)."""
        self._need()
        self._span(span)
        kind = self.span_types.get(span, "t1")
        if variant is not None:
            self.r2.span_variant(span, variant)
        if kind == "t1" and (crc4 is not None or signalling is not None):
            key = "crc4" if crc4 is not None else "signalling"
            raise InvalidField(f"{key}: {span} is a T1 span: {key} is an E1's (a T1's "
                               "framing is esf or d4)", field=key)
        if kind == "e1" and framing is not None:
            raise InvalidField(f"framing: {span} is an E1 span: its framing is crc4 (true "
                               "or false)", field="framing")
        if coding is not None and coding not in CODINGS[kind]:
            raise InvalidField(f"coding: a {kind.upper()} span's line code is "
                               f"{' or '.join(CODINGS[kind])}, not {coding}", field="coding")
        if ppm is not None and not -1000 <= ppm <= 1000:
            raise InvalidField(f"ppm: {ppm} is not -1000 to 1000", field="ppm")
        self._run(self.sim.far_span_config, span, framing=framing, coding=coding,
                  clock=clock, ppm=ppm, crc4=crc4, signalling=signalling)
        self._log(who, "sets the far end of {span}: {settings}", span=span, settings={
            k: v for k, v in (("framing", framing), ("crc4", crc4), ("signalling", signalling),
                              ("coding", coding), ("clock", clock), ("ppm", ppm),
                              ("variant", variant))
            if v is not None})
        return {"span": span}

    def hang(self, who, voice, always=False, on=True):
        """A voice resource's next operation never ends (or, `always`,
        every one until told `on=False`): the hung operation the server
        must notice and recover from."""
        self._need()
        if voice not in self.voices:
            raise NoSuchObject(f"{voice} is no voice resource of this server's boards "
                               f"({_names(self.voices)})", object="device", id=voice)
        if always or not on:
            self._run(self.sim.hang_always, voice, on)
        else:
            self._run(self.sim.hang_next, voice)
        self._log(who, "hangs {voice} ({how})", voice=voice,
                  how="stops hanging" if not on else "always" if always else "next operation")
        return {"device": voice}

    # -- helpers --------------------------------------------------------------
    def _need(self):
        if self.sim is None:
            raise NoSimulator("this server drives real boards (driver is not \"sim\"): "
                              "there is no simulated telephone company to play")

    def _trunk(self, device, field):
        group = self.trunks.get(device)
        if group is None:
            raise NoSuchObject(f"{device} is no trunk group, line or timeslot of this "
                               f"server's [[trunk_groups]] (groups: "
                               f"{', '.join(self.groups) or 'none'})",
                               object="device", id=device, field=field)
        return group

    def _endpoint(self, device):
        if device not in self.trunks and device not in self.stations:
            raise NoSuchObject(f"{device} is no line, timeslot or station of this "
                               f"server's configuration (trunks: {_names(self.trunks)}; "
                               f"stations: {_names(self.stations)})",
                               object="device", id=device)

    def _in_a_call(self, device):
        """What a far end sends reaches our side only in a call: sent to an
        idle one, it would lie in wait and spoil the next call's address."""
        self._endpoint(device)
        state = self._far_state(device)
        if state not in IN_A_CALL:
            raise InvalidState(f"{device}: its far end is not in a call ("
                               + FAR_STATES.get(state, state) + "): "
                               + ("lift the handset first" if device in self.stations
                                  else "SimCall first, and wait for the answer"),
                               object="device", id=device)

    def _span(self, span):
        if span not in self.spans:
            raise NoSuchObject(f"{span} is no span of this server's boards"
                               + (f" (spans: {_names(self.spans)})"
                                  if self.spans else " (it has no T1 span)"),
                               object="device", id=span)

    def _idle(self, device):
        channel = self.channels.by_name.get(device)
        return self._far_state(device) == "idle" and (channel is None
                                                      or channel.state == "idle")

    def _far_state(self, device):
        """A far end's state: its call's on the telco's libpri for a
        B-channel, the simulator's far end otherwise."""
        if device in self.isdn_trunks:
            return self.isdn_trunks[device].state(device)
        return self._run(lambda: self._far(device).state)

    def _far(self, device):
        return self.sim.endpoint(device)

    @staticmethod
    def _run(function, *args, **kwargs):
        """A simulator call; what it refuses becomes the caller's error."""
        try:
            return function(*args, **kwargs)
        except driver_errors.SimulatorError as e:
            raise InvalidState(f"the simulator refused: {e}") from None

    @staticmethod
    def _log(who, message, **fields):
        log.info("sim: {user} " + message, user=who.user, **fields)
