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

    trunk     a line or T1 timeslot of a [[trunk_groups]]: call, digits,
              tone, audio, hangup (analog lines by any supervision method),
              answer_mode (how it answers our calls out)
    station   a phone of a [[station_groups]]: handset (lift, hangup,
              flash), digits (dialled on its keypad), tone, audio
    span      a T1 span: alarm
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
from drivers import errors as driver_errors
from drivers.wavinfo import WavFormatError, wav_format

log = Logger()

#: Supervision methods by which an analog line's far end hangs up (the
#: simulator's, drivers.sim.DISCONNECTS); a T1 timeslot drops its bits.
HANGUP_METHODS = ("loop_current_drop", "polarity", "busy_tone", "silence")
#: What a station's handset does.
HANDSET_ACTIONS = ("lift", "hangup", "flash")
#: Tones a far end sends ("none" stops what it sends).
TONES = ("none", "dial", "ringback", "busy", "reorder", "sit", "fax_cng", "fax_ced")
#: How a far end answers the calls we place on it (drivers.sim.OUTBOUND).
ANSWER_MODES = ("answer", "busy", "no_answer", "sit", "fax", "no_dial_tone", "silence")
#: Span alarms the far end can raise (drivers.sim.ALARMS).
ALARMS = ("los", "red", "oof", "yellow", "blue", "remote_los")
#: Keys a far end sends: DTMF (16 keys) or MF (KP "*", ST "#").
DTMF_KEYS = frozenset("0123456789*#ABCD")
MF_KEYS = frozenset("0123456789*#")
#: The longest audio a request may send: 60 s of 8 kHz samples.
AUDIO_MAX_SAMPLES = 60 * 8000


class SimulatedTelco:
    """The far ends of a simulated chassis, by configured device name.
    `sim` is the drivers.sim.Simulator the server runs on, or None (real
    boards); `channels` are the server's own (to pick a trunk that is idle
    on our side too)."""

    def __init__(self, sim, config, channels):
        self.sim = sim
        self.channels = channels
        self.groups = {g.name: g for g in config.trunk_groups}
        self.trunks = {name: g for g in config.trunk_groups for name in g.channels}
        self.stations = {name for g in config.station_groups for name in g.stations}
        self.spans = {d.name for d in config.devices.values() if d.kind == "span"}
        self.voices = {d.name for d in config.devices.values() if d.kind == "voice"}
        self.heard = {}                   # device -> digits its far end heard, this call

    # -- the far end of a trunk ---------------------------------------------
    def call(self, who, target, ani="", dnis="", name="", mf=None):
        """The telco calls in on `target`: a trunk group (its first channel
        idle at both ends) or one line or timeslot.  E&M timeslots get the
        address in-band after our wink (MF or DTMF as the group's `address`
        says, unless `mf` says otherwise); analog lines ring with caller
        ID.  Returns the device, its group and signalling."""
        self._need()
        if target in self.groups:
            group = self.groups[target]
            if group.direction == "out":
                raise InvalidState(f"trunk group {target} is for calls out only "
                                   "(direction \"out\"): the telco cannot call in on it",
                                   object="trunk_group", id=target)
            device = next((d for d in group.channels if self._idle(d)), None)
            if device is None:
                raise InvalidState(f"trunk group {target}: no channel is idle at both ends",
                                   object="trunk_group", id=target)
        else:
            device, group = target, self._trunk(target, "target")
            state = self._far(device).state
            if state != "idle":
                raise InvalidState(f"{device}: its far end is {state}, not idle",
                                   object="device", id=device)
        if mf is None:
            mf = group.address == "mf"
        self._run(self._far(device).call, ani=ani, name=name, dnis=dnis, mf=mf)
        self.heard[device] = ""
        self._log(who, "calls in on {device}: ani {ani!r} dnis {dnis!r}", device=device,
                  ani=ani, dnis=dnis)
        return {"device": device, "group": group.name,
                "signalling": group.signalling.get(device, "")}

    def hangup(self, who, device, method=None):
        """The far end hangs up: an analog line by `method` (loop current
        drop unless told), a T1 timeslot with its signalling bits, a
        station by putting the handset down.  A caller not answered yet
        gives up (its line stops ringing, its timeslot is released)."""
        self._need()
        if device in self.stations:
            return self.handset(who, device, "hangup")
        group = self._trunk(device, "device")
        analog = group.signalling.get(device) == "loopstart"
        if method is not None and not analog:
            raise InvalidField(f"{device} is a T1 timeslot: its far end hangs up with its "
                               "signalling bits; a hang-up method is for analog lines",
                               field="method")
        far = self._far(device)
        if self._run(lambda: far.state) in ("ringing", "seized"):
            self._run(far.abandon)              # gone before the answer
        else:
            self._run(far.hangup, method or HANGUP_METHODS[0])
        self._log(who, "hangs up {device} ({method})", device=device,
                  method=method or ("loop current drop" if analog else "bits on hook"))
        return {"device": device}

    def answer_mode(self, who, target, mode, rings=2):
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
        for device in devices:
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
        self._run(self._far(device).send_digits, digits, mf=mf)
        self._log(who, "sends {digits} on {device}", digits=digits, device=device)
        return {"device": device}

    def tone(self, who, device, tone):
        """The far end sends a call-progress or fax tone ("none" stops)."""
        self._need()
        self._endpoint(device)
        self._run(self._far(device).send_tone, None if tone == "none" else tone)
        self._log(who, "sends tone {tone} on {device}", tone=tone, device=device)
        return {"device": device}

    def audio(self, who, device, wav):
        """The far end sends the audio of a WAV file (8 kHz mono: PCM16,
        mu-law or A-law), given as base64: speech, music, a fax."""
        self._need()
        self._endpoint(device)
        samples = self._samples(wav)
        self._run(self._far(device).send_audio, samples)
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
        dialled to it."""
        self._need()
        self._endpoint(device)
        far = self._far(device)
        heard = self.heard.get(device, "") + self._run(far.heard_digits)
        self.heard[device] = heard
        result = {"device": device, "state": self._run(lambda: far.state),
                  "heardDigits": heard, "heardTone": self._run(far.heard_tone)}
        if device in self.trunks:
            result["dialled"] = self._run(far.dialled)
        return result

    # -- faults ---------------------------------------------------------------
    def alarm(self, who, span, alarm, on=True):
        """The carrier's side raises (or clears) an alarm on a T1 span."""
        self._need()
        if span not in self.spans:
            raise NoSuchObject(f"{span} is no span of this server's boards"
                               + (f" (spans: {', '.join(sorted(self.spans))})"
                                  if self.spans else " (it has no T1 span)"),
                               object="device", id=span)
        self._run(self.sim.span_alarm, span, alarm, on)
        self._log(who, "{what} alarm {alarm} on {span}", what="raises" if on else "clears",
                  alarm=alarm, span=span)
        return {"span": span, "alarm": alarm, "on": on}

    def hang(self, who, voice, always=False, on=True):
        """A voice resource's next operation never ends (or, `always`,
        every one until told `on=False`): the hung operation the server
        must notice and recover from."""
        self._need()
        if voice not in self.voices:
            raise NoSuchObject(f"{voice} is no voice resource of this server's boards",
                               object="device", id=voice)
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
                               "server's configuration", object="device", id=device)

    def _idle(self, device):
        channel = self.channels.by_name.get(device)
        return self._far(device).state == "idle" and (channel is None
                                                      or channel.state == "idle")

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
    def _samples(wav):
        try:
            data = base64.b64decode(wav, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidField("wav: not base64", field="wav") from None
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
        if len(samples) > AUDIO_MAX_SAMPLES:
            raise InvalidField(f"wav: {len(samples) / 8000:.1f} s of audio, over the "
                               f"{AUDIO_MAX_SAMPLES // 8000} s a request may send",
                               field="wav")
        return samples

    @staticmethod
    def _log(who, message, **fields):
        log.info("sim: {user} " + message, user=who.user, **fields)
