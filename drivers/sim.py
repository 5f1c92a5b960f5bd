# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_simulator -*-
"""The board simulator's far end, from Python.

`Simulator` builds the simulated chassis from a configuration and plays
everything on the other side of the wires: the telco, callers, agents'
phones, and faults.  It runs on virtual time (`advance`) for tests or on
the wall clock (`run_clock`) for the demo::

    sim = Simulator.from_config([{"type": "analog", "lines": 4}])
    line = sim.endpoint("dxxxB1C1")
    line.call(ani="5551234", name="ALICE")
    sim.advance(6_000)                    # two rings and the caller ID

The driver (drivers.r4.R4Driver) sees the same boards through the vendor
API.  One simulation exists per process; building a Simulator replaces it.

A T1 span's line is simulated too (native/src/t1maint.c): each end's
framing, line code and clock (`far_span_config` sets the telco's), errors
added second by second (`span_errors`) or drawn at a bit error rate
(`span_ber`), and the far end's loop (`far_loopback`), latched by the
loop codes the driver sends::

    sim.far_span_config("dtiB1", framing="d4")   # ours is esf: OOF, then red
    sim.span_errors("dtiB1", crc=5)               # this second: 5 CRC-6 errors
    sim.span_ber("dtiB1", 1e-4)                   # and a bit in 10,000 wrong

E1 spans too (docs/architecture.md, "E1 spans"): 30 timeslots carrying
A-law, CRC-4 on or off, timeslot 16 for CAS bits or a D-channel, whose far
end the PRI work drives::

    sim = Simulator.from_config([{"type": "e1", "signalling": "cas"}])
    sim.far_span_config("dtiB1", crc4=False)      # ours is on: our multiframe alarm
    sim.endpoint("dtiB1T1").send_bits("1101")     # the far end's ABCD (blocked, in R2)
    sim.dchannel("dtiB2").send(frame)             # an ISDN span's D-channel, far side
"""
import re
from array import array
from dataclasses import dataclass

from drivers import errors
from drivers.interface import (
    DEFAULT_TONE_SETS,
    E1_CODINGS,
    LOOPBACKS,
    SPAN_CLOCKS,
    SPAN_CODINGS,
    SPAN_FRAMINGS,
)
from drivers.r4 import HAS_SIMULATOR, ffi, lib

SIGNALLINGS = {"em_wink": "SIMFAR_SIG_EM_WINK", "fxs_loopstart": "SIMFAR_SIG_LOOPSTART",
               "loopstart": "SIMFAR_SIG_LOOPSTART", "pri": "SIMFAR_SIG_PRI"}
#: An E1's use of timeslot 16: CAS bits, or a D-channel (CCS).
E1_SIGNALLINGS = {"cas": "SIMFAR_SIG_CAS", "ccs": "SIMFAR_SIG_CCS"}
TONESETS = {"na": "SIMFAR_TONES_NA", "cn": "SIMFAR_TONES_CN"}
DISCONNECTS = {"loop_current_drop": "SIMFAR_DISC_LCDROP", "polarity": "SIMFAR_DISC_POLARITY",
               "busy_tone": "SIMFAR_DISC_BUSYTONE", "silence": "SIMFAR_DISC_SILENCE"}
OUTBOUND = {"answer": "SIMFAR_OUT_ANSWER", "busy": "SIMFAR_OUT_BUSY",
            "no_answer": "SIMFAR_OUT_NOANSWER", "sit": "SIMFAR_OUT_SIT",
            "fax": "SIMFAR_OUT_FAX", "no_dial_tone": "SIMFAR_OUT_NODIALTONE",
            "silence": "SIMFAR_OUT_SILENCE"}
STATES = ["idle", "ringing", "seized", "connected", "clearing"]
KINDS = {1: "line", 2: "timeslot", 3: "station"}
TONES = ["none", "dial", "ringback", "busy", "reorder", "sit", "fax_cng", "fax_ced"]
#: Alarms raised by hand (simfar_span_alarm): lmfa and ts16_yellow are an E1's.
ALARMS = {"oof": "SIMFAR_AL_OOF", "los": "SIMFAR_AL_LOS", "yellow": "SIMFAR_AL_YELLOW",
          "blue": "SIMFAR_AL_BLUE", "red": "SIMFAR_AL_RED", "remote_los": "SIMFAR_AL_RLOS",
          "lmfa": "SIMFAR_AL_LMFA", "ts16_yellow": "SIMFAR_AL_TS16_YELLOW"}
#: The far end's R2 MF transceiver: off, or the set it sends (r2mf.c's DTR2_x).
R2_MODES = {None: 0, "forward": 1, "backward": 2}
#: Far-end events taken per call into the simulator.
FAR_EVENTS_AT_ONCE = 256
BOARD_TYPES = ("analog", "t1", "e1", "voice", "stations", "conference")
VOICE_CHANNEL = re.compile(r"dxxxB\d+C\d+")      # (not the board, dxxxBn)
#: Each board type's keys.
BOARD_KEYS = {"analog": {"type", "lines", "tones", "dtmf_abcd"},
              "t1": {"type", "signalling", "tones", "framing", "coding", "clock"},
              "e1": {"type", "signalling", "tones", "crc4", "coding", "clock"},
              "voice": {"type", "channels", "dtmf_abcd"}, "stations": {"type", "count"},
              "conference": {"type", "dsps"}}
FRAMINGS = dict(zip(SPAN_FRAMINGS, ("DTFR_ESF", "DTFR_D4"), strict=True))
#: An E1's framing: with CRC-4 (crc4 = true) or without.
E1_FRAMINGS = {True: "DTFR_E1_CRC4", False: "DTFR_E1"}
CODINGS = {**dict(zip(SPAN_CODINGS, ("DTCD_B8ZS", "DTCD_AMI"), strict=True)),
           **dict(zip(E1_CODINGS, ("DTCD_HDB3", "DTCD_AMI"), strict=True))}
CLOCKS = dict(zip(SPAN_CLOCKS, ("DTCK_LINE", "DTCK_INTERNAL"), strict=True))
LOOPBACK_NAMES = {getattr(lib, f"DTLB_{name.upper()}"): name for name in LOOPBACKS}


def _check(rc, function):
    if rc < 0:
        raise errors.SimulatorError(ffi.string(lib.simfar_error()).decode(errors="replace"),
                                    function=function)
    return rc


def _choice(table, key, what, where):
    try:
        return getattr(lib, table[key])
    except KeyError:
        raise errors.SimulatorError(f"{where}: {what} {key!r} is not one of "
                                    f"{', '.join(sorted(table))}") from None


class FarEnd:
    """The other end of one line, T1 timeslot or station."""

    def __init__(self, device, ep):
        self.device = device
        self._ep = ep

    @property
    def kind(self):
        return KINDS[_check(lib.simfar_endpoint_kind(self._ep), "simfar_endpoint_kind")]

    @property
    def state(self):
        return STATES[_check(lib.simfar_endpoint_state(self._ep), "simfar_endpoint_state")]

    def call(self, ani="", name="", dnis="", mf=False):
        """Ring a line (caller ID from ani/name; ani "P" private, "O" out of
        area) or seize a T1 timeslot.  E&M sends the address in-band after
        our wink, in MF (mf=True) or DTMF: with an ani "*ANI#*DNIS#" (MF, KP
        ANI ST KP DNIS ST) or "*ANI*DNIS*" (DTMF); without, "*DNIS#" or the
        DNIS alone."""
        _check(lib.simfar_call(self._ep, ani.encode(), name.encode(), dnis.encode(), int(mf)),
               "simfar_call")

    def abandon(self):
        _check(lib.simfar_abandon(self._ep), "simfar_abandon")

    def hangup(self, method="loop_current_drop"):
        code = _choice(DISCONNECTS, method, "disconnect method", self.device)
        _check(lib.simfar_hangup(self._ep, code), "simfar_hangup")

    def set_outbound(self, behaviour, answer_rings=2):
        code = _choice(OUTBOUND, behaviour, "outbound behaviour", self.device)
        _check(lib.simfar_set_outbound(self._ep, code, answer_rings), "simfar_set_outbound")

    def send_bits(self, abcd):
        """E1 CAS timeslots: the far end's ABCD bits, a string such as "1001"
        (A first; "0000" too, as a misconfigured far end sends it)."""
        _check(lib.simfar_far_bits(self._ep, _abcd_value(abcd, self.device)),
               "simfar_far_bits")

    def heard_bits(self):
        """E1 CAS timeslots: our ABCD bits as the far end receives them."""
        return _abcd_string(_check(lib.simfar_far_heard_bits(self._ep),
                                   "simfar_far_heard_bits"))

    def r2_mf(self, mode):
        """E1 CAS timeslots: the far end's MFC/R2 register signalling
        (native/src/r2mf.c): its R2 MF transceiver sends the signals of one
        set, "forward" (the calling side's) or "backward", and hears the
        other's; None switches it off.  What it hears comes as far-end
        events while the far end is watched (Simulator.watch_far_end)."""
        _check(lib.simfar_far_r2mf(self._ep, R2_MODES[mode] if mode in R2_MODES else -1),
               "simfar_far_r2mf")

    def r2_mf_send(self, signal):
        """Send R2 signal 1-15 of its set until told otherwise (0 stops)."""
        _check(lib.simfar_far_r2mf_send(self._ep, signal), "simfar_far_r2mf_send")

    def set_register(self, mf=False):
        """T1 timeslots: the far end takes the number of our outbound calls
        in MF (mf=True) or DTMF (the default)."""
        _check(lib.simfar_trunk_register(self._ep, int(mf)), "simfar_trunk_register")

    def offhook(self):
        _check(lib.simfar_offhook(self._ep), "simfar_offhook")

    def onhook(self):
        _check(lib.simfar_onhook(self._ep), "simfar_onhook")

    def flash(self):
        _check(lib.simfar_flash(self._ep), "simfar_flash")

    def send_digits(self, digits, mf=False, on_ms=0, off_ms=0, level_dbm0=0.0, twist_db=0.0,
                    freq_offset=0.0):
        _check(lib.simfar_send_digits(self._ep, digits.encode(), int(mf), on_ms, off_ms,
                                      level_dbm0, twist_db, freq_offset), "simfar_send_digits")

    def send_tone(self, tone):
        _check(lib.simfar_send_tone(self._ep, TONES.index(tone) if tone else 0),
               "simfar_send_tone")

    def send_tone_custom(self, f1, f2=0, level_dbm0=-13, on_ms=1000, off_ms=0):
        _check(lib.simfar_send_tone_custom(self._ep, f1, f2, level_dbm0, on_ms, off_ms),
               "simfar_send_tone_custom")

    def send_audio(self, samples):
        """Queue linear 16-bit samples (an array('h') or a sequence of ints)."""
        data = samples if isinstance(samples, array) else array("h", samples)
        buf = ffi.from_buffer("int16_t[]", data)
        _check(lib.simfar_send_audio(self._ep, buf, len(data)), "simfar_send_audio")

    def stop_sending(self):
        _check(lib.simfar_send_stop(self._ep), "simfar_send_stop")

    def heard_digits(self):
        buf = ffi.new("char[128]")
        _check(lib.simfar_heard_digits(self._ep, buf, 128), "simfar_heard_digits")
        return ffi.string(buf).decode()

    def heard_tone(self):
        return TONES[_check(lib.simfar_heard_tone(self._ep), "simfar_heard_tone")]

    def capture(self, on=True):
        _check(lib.simfar_capture(self._ep, int(on)), "simfar_capture")

    def read_capture(self):
        return _drain(lambda buf, n: lib.simfar_capture_read(self._ep, buf, n),
                      "simfar_capture_read")

    def dialled(self):
        buf = ffi.new("char[64]")
        _check(lib.simfar_dialled(self._ep, buf, 64), "simfar_dialled")
        return ffi.string(buf).decode()


def _abcd_string(value):
    return "".join("1" if value >> k & 1 else "0" for k in range(4))


@dataclass(frozen=True)
class FarEvent:
    """What a watched far end heard: `kind` "bits" (value: our ABCD as it
    sees them) or "r2_mf" (value: the R2 signal heard, 0 when it stopped)."""

    device: str
    kind: str
    value: object


def _abcd_value(abcd, where):
    if not isinstance(abcd, str) or len(abcd) != 4 or set(abcd) - {"0", "1"}:
        raise errors.SimulatorError(f"{where}: ABCD bits {abcd!r}: four of 0 and 1, A first, "
                                    "as \"1001\"")
    return sum(1 << k for k, bit in enumerate(abcd) if bit == "1")


class DChannelFarEnd:
    """The far end of an ISDN span's D-channel ("dtiBnD"): whole frames, sent
    and received as our side's dt_dchanwrite and dt_dchanread carry them
    (the FCS, if any, is the sender's)."""

    def __init__(self, span):
        self.span = span
        self._buf = ffi.new("char[]", lib.DT_DCHAN_MAX)

    def send(self, frame):
        _check(lib.simfar_dchannel_send(self.span.encode(), frame, len(frame)),
               "simfar_dchannel_send")

    def receive(self):
        """The next frame our side sent that reached the far end, or None."""
        n = _check(lib.simfar_dchannel_receive(self.span.encode(), self._buf,
                                               lib.DT_DCHAN_MAX), "simfar_dchannel_receive")
        return ffi.buffer(self._buf, n)[:] if n else None


def _drain(read, function):
    out = array("h")
    buf = ffi.new("int16_t[8000]")
    while True:
        n = _check(read(buf, 8000), function)
        if n == 0:
            return out
        out.frombytes(ffi.buffer(buf, 2 * n)[:])


class Simulator:
    """The process-wide board simulation and its far end."""

    def __init__(self, virtual_time=True, seed=1):
        if not HAS_SIMULATOR:
            raise errors.SimulatorError("this build uses a vendor SDK: no simulator")
        _check(lib.simfar_reset(int(virtual_time), seed), "simfar_reset")
        self.virtual_time = virtual_time
        self.boards = []
        self._watched = {}                          # endpoint -> device, watched far ends
        self._far_buffer = ffi.new("int[]", 3 * FAR_EVENTS_AT_ONCE)

    @classmethod
    def from_config(cls, boards, virtual_time=True, seed=1, where="boards"):
        """Build from a list of board tables, e.g. (TOML)::

            [[boards]]  type = "analog"   lines = 4   tones = "na"   dtmf_abcd = false
            [[boards]]  type = "t1"       signalling = "em_wink"  # or pri
                        framing = "esf"   coding = "b8zs"   clock = "line"
            [[boards]]  type = "e1"       signalling = "cas"      # or ccs
                        crc4 = true       coding = "hdb3"   clock = "line"
            [[boards]]  type = "voice"    channels = 8
            [[boards]]  type = "stations" count = 8
            [[boards]]  type = "conference" dsps = 1
        """
        sim = cls(virtual_time=virtual_time, seed=seed)
        for i, board in enumerate(boards):
            sim.add_board(board, where=f"{where}[{i}]")
        return sim

    def add_board(self, board, where="board"):
        kind = board.get("type")
        if kind not in BOARD_KEYS:
            raise errors.SimulatorError(f"{where}.type: {kind!r} is not one of "
                                        f"{', '.join(BOARD_TYPES)}")
        extra = set(board) - BOARD_KEYS[kind]
        if extra:
            raise errors.SimulatorError(f"{where}: unknown key(s) {', '.join(sorted(extra))} "
                                        f"for a {kind} board")

        def number(key, default):
            value = board.get(key, default)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise errors.SimulatorError(f"{where}.{key}: expected a positive integer, "
                                            f"got {value!r}")
            return value

        abcd = board.get("dtmf_abcd", False)
        if not isinstance(abcd, bool):
            raise errors.SimulatorError(f"{where}.dtmf_abcd: expected true or false, "
                                        f"got {abcd!r}")
        tones = _choice(TONESETS, board.get("tones", DEFAULT_TONE_SETS.get(kind, "na")),
                        "tone set", f"{where}.tones")
        first_device = lib.simfar_device_count()
        if kind == "analog":
            n = _check(lib.simfar_add_analog_board(number("lines", 4), tones), "add_analog")
        elif kind in ("t1", "e1"):
            n = self._add_span(board, kind, tones, where)
        elif kind == "voice":
            n = _check(lib.simfar_add_voice_board(number("channels", 4)), "add_voice")
        elif kind == "stations":
            n = _check(lib.simfar_add_station_board(number("count", 8)), "add_stations")
        else:
            n = _check(lib.simfar_add_dcb_board(number("dsps", 1)), "add_dcb")
        if abcd:
            for name in self.devices()[first_device:]:
                if VOICE_CHANNEL.fullmatch(name):
                    _check(lib.simfar_dtmf_abcd(name.encode(), 1), "simfar_dtmf_abcd")
        self.boards.append(dict(board, number=n))
        return n

    def _add_span(self, board, kind, tones, where):
        def line(key, table, default, what):
            return _choice(table, board.get(key, default), what, f"{where}.{key}")

        if kind == "t1":
            sig = line("signalling", SIGNALLINGS, "em_wink", "signalling")
            n = _check(lib.simfar_add_t1_span(sig, tones), "simfar_add_t1_span")
            framing = line("framing", FRAMINGS, SPAN_FRAMINGS[0], "framing")
            coding = line("coding", {c: CODINGS[c] for c in SPAN_CODINGS}, SPAN_CODINGS[0],
                          "line code")
        else:
            sig = line("signalling", E1_SIGNALLINGS, "cas", "signalling")
            n = _check(lib.simfar_add_e1_span(sig, tones), "simfar_add_e1_span")
            crc4 = board.get("crc4", True)
            if not isinstance(crc4, bool):
                raise errors.SimulatorError(f"{where}.crc4: expected true or false, got "
                                            f"{crc4!r}")
            framing = getattr(lib, E1_FRAMINGS[crc4])
            coding = line("coding", {c: CODINGS[c] for c in E1_CODINGS}, E1_CODINGS[0],
                          "line code")
        clock = line("clock", CLOCKS, SPAN_CLOCKS[0], "clock")
        _check(lib.simfar_span_line(f"dtiB{n}".encode(), framing, coding, clock),
               "simfar_span_line")
        return n

    # -- time ----------------------------------------------------------
    def advance(self, ms):
        _check(lib.simfar_advance(ms), "simfar_advance")

    @property
    def now_ms(self):
        return lib.simfar_now_ms()

    @property
    def ticks(self):
        return lib.simfar_ticks()

    def run_clock(self, on=True):
        _check(lib.simfar_run_clock(int(on)), "simfar_run_clock")

    # -- the far end ---------------------------------------------------
    def endpoint(self, device):
        ep = _check(lib.simfar_endpoint(device.encode()), "simfar_endpoint")
        return FarEnd(device, ep)

    def watch_far_end(self, device, on=True):
        """Queue what the far end of an E1 CAS timeslot hears (far_events),
        or stop."""
        ep = _check(lib.simfar_endpoint(device.encode()), "simfar_endpoint")
        _check(lib.simfar_far_watch(ep, int(on)), "simfar_far_watch")
        if on:
            self._watched[ep] = device
        else:
            self._watched.pop(ep, None)

    def far_events(self):
        """What the watched far ends heard since the last call, in order:
        FarEvent("bits", the ABCD of ours it sees now, "1101") and
        FarEvent("r2_mf", the R2 signal heard now, 0 when it stopped)."""
        events = []
        while True:
            n = lib.simfar_far_events(self._far_buffer, FAR_EVENTS_AT_ONCE)
            for k in range(n):
                ep, kind, value = self._far_buffer[3 * k:3 * k + 3]
                device = self._watched.get(ep)
                if device is None:
                    continue
                if kind == lib.SIMFAR_FAR_BITS:
                    events.append(FarEvent(device, "bits", _abcd_string(value)))
                else:
                    events.append(FarEvent(device, "r2_mf", value))
            if n < FAR_EVENTS_AT_ONCE:
                return events

    def span_alarm(self, span, alarm, on=True):
        code = _choice(ALARMS, alarm, "alarm", span)
        _check(lib.simfar_span_alarm(span.encode(), code, int(on)), "simfar_span_alarm")

    # -- the T1 or E1 line ---------------------------------------------
    def far_span_config(self, span, framing=None, coding=None, clock=None, ppm=None,
                        crc4=None, signalling=None):
        """The far end's (the telco's) framing (T1: esf, d4; E1: crc4 True or
        False), line code (T1: b8zs, ami; E1: hdb3, ami), clock, its use of
        an E1's timeslot 16 (signalling: cas or ccs), and its oscillator's
        offset from ours in ppm (it matters only when both ends run on
        their internal clocks: a slip every 1 / (|ppm| * 1e-6 * 8000) s).
        It starts matching ours (the same framing, line code and timeslot
        16, and the other clock role: the master of a line-timed span), 32
        ppm off; None leaves one as it is."""

        def code(table, value, what):
            return 0 if value is None else _choice(table, value, what, f"{span}: far end")

        if framing is not None and crc4 is not None:
            raise errors.SimulatorError(f"{span}: far end: framing (T1) or crc4 (E1), not both")
        framing_code = code(FRAMINGS, framing, "framing") if crc4 is None else code(
            E1_FRAMINGS, crc4, "crc4")
        _check(lib.simfar_far_span_line(span.encode(), framing_code,
                                        code(CODINGS, coding, "line code"),
                                        code(CLOCKS, clock, "clock")), "simfar_far_span_line")
        if signalling is not None:
            _check(lib.simfar_far_span_ts16(span.encode(), code(E1_SIGNALLINGS, signalling,
                                                                "signalling")),
                   "simfar_far_span_ts16")
        if ppm is not None:
            _check(lib.simfar_far_span_ppm(span.encode(), float(ppm)), "simfar_far_span_ppm")

    def span_errors(self, span, bpv=0, crc=0, fas=0, oof=0, slips=0, ais=False, ebit=0):
        """Error events in the span's current second (counted at once; ais:
        the AIS defect until the second ends; ebit: E1 CRC-4 far-end block
        errors, as the E bits report them).  A test drives virtual time
        second by second to build an exact pattern."""
        _check(lib.simfar_span_errors(span.encode(), bpv, crc, fas, oof, slips, int(ais), ebit),
               "simfar_span_errors")

    def span_ber(self, span, ber):
        """A random bit error rate (0 to 1e-2) on the far end's transmit path,
        from now on: payload bits (a BERT sees them), ESF CRC-6 errors and
        frame bit errors in proportion; the same for the same seed."""
        _check(lib.simfar_span_ber(span.encode(), float(ber)), "simfar_span_ber")

    def far_loopback(self, span):
        """The far end's loop toward us: none, line or payload."""
        return LOOPBACK_NAMES[_check(lib.simfar_far_loopback(span.encode()),
                                     "simfar_far_loopback")]

    def dchannel(self, span):
        """The far end of span's D-channel (an E1 CCS or T1 PRI span's)."""
        return DChannelFarEnd(span)

    def hang_next(self, device):
        _check(lib.simfar_hang_next(device.encode()), "simfar_hang_next")

    def hang_always(self, device, on=True):
        """Every operation of the voice channel hangs, even after a reset."""
        _check(lib.simfar_hang_always(device.encode(), int(on)), "simfar_hang_always")

    # -- the bus -------------------------------------------------------
    def slot_capture(self, slot, on=True):
        _check(lib.simfar_slot_capture(slot, int(on)), "simfar_slot_capture")

    def read_slot(self, slot):
        return _drain(lambda buf, n: lib.simfar_slot_capture_read(slot, buf, n),
                      "simfar_slot_capture_read")

    def slot_driver(self, slot):
        buf = ffi.new("char[32]")
        _check(lib.simfar_slot_driver(slot, buf, 32), "simfar_slot_driver")
        return ffi.string(buf).decode() or None

    def slot_listeners(self, slot):
        buf = ffi.new("char[4096]")
        _check(lib.simfar_slot_listeners(slot, buf, 4096), "simfar_slot_listeners")
        text = ffi.string(buf).decode()
        return text.split(",") if text else []

    def misuse(self):
        """Bus misuse recorded since the last call, one message per item."""
        buf = ffi.new("char[4096]")
        _check(lib.simfar_misuse(buf, 4096), "simfar_misuse")
        return [line for line in ffi.string(buf).decode().splitlines() if line]

    def devices(self):
        buf = ffi.new("char[32]")
        names = []
        for i in range(lib.simfar_device_count()):
            _check(lib.simfar_device_name(i, buf, 32), "simfar_device_name")
            names.append(ffi.string(buf).decode())
        return names

    def device_status(self, device):
        buf = ffi.new("char[512]")
        _check(lib.simfar_device_status(device.encode(), buf, 512), "simfar_device_status")
        return dict(item.split("=", 1) for item in ffi.string(buf).decode().split())


def linear2ulaw(sample):
    return lib.simfar_linear2ulaw(sample)


def ulaw2linear(code):
    return lib.simfar_ulaw2linear(code)


def linear2alaw(sample):
    return lib.simfar_linear2alaw(sample)


def alaw2linear(code):
    return lib.simfar_alaw2linear(code)
