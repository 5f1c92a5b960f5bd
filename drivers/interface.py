# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_conformance -*-
"""The one interface every board driver provides.

Everything above the drivers (the CT-Bus map, channels, calls, linediag)
talks to boards through `IBoardDriver`, by device name ("dxxxB1C1",
"dtiB1T3", "dtiB2D", "msiB1C2", "dcbB1D1", a voice modem's "mdmB1C1"), and
hears from them through normalized `Event`s.  A driver for another board
family (Synway, DAHDI, voice modems) maps its own API onto the same
methods and events, and must pass the conformance suite in
tests/conformance.py for what it provides; what it cannot do (a modem has
no CT-Bus, no stations, no T1) it refuses whole, each call raising
DriverNotSupported naming itself.  drivers/skeleton.py is the template: a
driver that refuses every call, with the contract of each method.

Operations (play, record, collect_digits, dial, play_tone, set_hook) are
asynchronous: the method returns once the board accepted the request and
an event says how it ended.  Every operation ends with exactly one event,
even if the board never answers (the watchdog then ends it with
reason "hung" and recovers the device).

Events (`Event.kind`, with the keys of `Event.data`):

=====================  =====================================================
ring                   an analog line rings: count, 1, 2, ... for one call's
                       rings, from 1 again for the next call's
ring_stopped           ringing stopped before answer (caller gave up)
loop_current           on: bool, ms: how long the previous state lasted
polarity_reversed      battery reversal on an analog line
digit                  digit, type ("dtmf" / "mf") (when enabled)
tone                   tone (dial, ringback, busy, reorder, sit, fax_cng,
                       fax_ced), on: bool
silence                on: bool (below the channel's silence level,
                       set_silence_level, for 100 ms on; above it for 30
                       ms off)
hook_done              offhook: bool (the hook now); reasons {"error"} when
                       the line refused the change (a modem's ERROR)
play_done              reasons: frozenset of termination reasons
record_done            reasons
digits_done            digits: str, reasons
dial_done              result: None, or with call progress one of
                       connected, busy, no_answer, no_ringback,
                       operator_intercept, no_dial_tone, fax, stopped,
                       error; connect_type (cadence, voice, loop) if known
tone_done              reasons
signalling             a, b: the far end's bits now (and c, d on an E1
                       timeslot, where all four are carried); changed:
                       frozenset of a_on, a_off, b_on, b_off, wink (and
                       c_on, c_off, d_on, d_off on E1)
wink_done              our wink finished
alarm                  alarm (los, red, yellow, blue, oof, ...), raised: bool;
                       on a span, or on an analog port's own name: removed
                       (its board unplugged: the port is gone until the
                       server restarts; a voice modem's port until it is
                       back), red (an FXO line with no battery), not_ready
                       (a voice modem that does not take its set-up)
station_hook           offhook: bool
station_flash          -
station_answered       the ringing station went off-hook
station_ring_done      ringing ended without answer
operation_failed       op, reason ("hung"), after the device was recovered
dchannel_frame         frame: bytes, a frame the D-channel ("dtiBnD")
                       received
r2_mf                  signal: the MFC/R2 register signal (1-15) an E1
                       CAS timeslot hears now, 0 when it stopped (while
                       its R2 MF transceiver is on: r2_mf_mode)
=====================  =====================================================

Termination reasons: digits (max digits), terminator (a terminating digit),
max_time, inter_digit, max_silence, max_nonsilence, loop_off, tone,
end_of_data, stopped, error, normal.

Spans are T1 or E1 (lines-real.md 4.5).  A T1 span "dtiBn" has timeslots
T1-T24 with robbed-bit A and B, or with ISDN PRI the B-channels T1-T23
and the D-channel "dtiBnD" on channel 24.  An E1 span has the 30 timeslots
T1-T30 as Dialogic numbers them (T1-T15 are the line's timeslots 1-15,
T16-T30 its 17-31: timeslot 0 frames the line and 16 signals), carrying
A-law on the line (the bus stays mu-law: the board converts), and
timeslot 16 carries either every timeslot's four CAS bits ABCD (0000
forbidden) or, with CCS, the D-channel "dtiBnD".  Its alarms add lmfa (a
multiframe not found: CRC-4's or CAS's, `status` says which),
ts16_yellow (the far end lost our CAS multiframe), and on a real board
ts16_ais and crc4_errors (CRC-4 error count saturation).  A D-channel carries whole
frames (HDLC without flags; the FCS the sender's) at 64 kb/s through the
span: lost while it is in alarm, looped back by a loopback.

Span maintenance (lines-real.md, section 4) answers in dicts:

=====================  =====================================================
span_counters(span)    bpv, exz (excessive zeros), crc (ESF CRC-6 or E1
                       CRC-4 errors; 0 on D4 and E1 without CRC-4), fas
                       (frame bit errors; E1: FAS errors), oof (out-of-frame
                       events), slips (controlled slips), ebit (E1 CRC-4:
                       the far end's block errors, from the E bits; 0
                       elsewhere), seconds (since the span was opened):
                       ints, cumulative since it was opened and never
                       reset, so a poller diffs them every second; and
                       los, ais, oof_now: bools, the defects now
bert_results(device)   pattern, bits and errors (counted while in sync), ber
                       (errors / bits, a float), sync (bool: following the
                       pattern now), sync_losses, seconds (whole seconds
                       since the start), errored_seconds (with an error, a
                       sync loss, or never in sync), error_free_seconds
status(span)           alarms, type (t1, e1), signalling (its board's:
                       em_wink, fxs_loopstart, pri, cas, ccs), dchannel
                       (the D-channel's name, or None), framing (esf, d4;
                       e1_crc4, e1), coding (b8zs, ami; hdb3, ami), clock
                       (line, internal), loopback (ours: LOOPBACKS),
                       loop_code (the code being sent, or None),
                       multiframes_lost (E1: a list of crc4, cas)
=====================  =====================================================
"""
from dataclasses import dataclass, field

from zope.interface import Attribute, Interface

TERMINATION_REASONS = frozenset(
    "digits terminator max_time inter_digit max_silence max_nonsilence loop_off "
    "tone end_of_data stopped error normal hung".split()
)

DEVICE_KINDS = ("board", "voice", "line", "span", "timeslot", "dchannel", "station",
                "conference")

CONFERENCE_ROLES = ("normal", "listen_only", "coach", "pupil")

TONES = ("dial", "ringback", "busy", "reorder", "sit", "fax_cng", "fax_ced")

#: The most keys a channel buffers, and one collection takes (the boards'
#: LEN_DIGBUF; a modem's driver keeps as many).
DIGIT_BUFFER = 31

#: The level (dBm0) below which a voice channel hears silence until told
#: otherwise (`IBoardDriver.set_silence_level`), and the levels it may be
#: set to: a quiet talker is about -35 dBm0, a dead line's noise below -55.
DEFAULT_SILENCE_DBM0 = -40
SILENCE_DBM0_RANGE = (-60, -20)

#: A ringing line with no ring this long has stopped ringing (the caller
#: gave up): drivers that see each ring but not its end say ring_stopped
#: then (US cadence 6 s, China 5 s).
RING_GAP_S = 8.0

#: How a driver's events reach the reactor (`IBoardDriver.event_source`):
#: a descriptor the reactor watches (poll), one thread in the vendor's wait
#: (wait_events, deliver: drivers.pump), or the driver's own reactor
#: transports (serial ports), which hand each event to the subscribers as
#: its bytes arrive, on the reactor's thread.
EVENT_SOURCES = ("descriptor", "thread", "transports")

#: Tones to a station's earpiece (station_tone): besides None, silence.
STATION_TONES = ("dial", "ringback", "busy", "reorder")

#: Tone sets of the boards (call-progress tones and ring cadence: North
#: American, Chinese), and each board type's default: an E1's is "cn", the
#: one E1 country with tones here (there is no European set yet).
TONE_SETS = ("na", "cn")
DEFAULT_TONE_SETS = {"analog": "na", "t1": "na", "e1": "cn"}

#: Span signallings by span type, the default first: T1 robbed-bit E&M wink
#: start or FXS loop start, or ISDN PRI (B-channels T1-T23, the D-channel on
#: channel 24); E1 CAS (the ABCD bits in timeslot 16) or CCS (a D-channel
#: there).
T1_SIGNALLINGS = ("em_wink", "fxs_loopstart", "pri")
E1_SIGNALLINGS = ("cas", "ccs")
#: Signallings whose timeslots are ISDN B-channels, with a D-channel "dtiBnD".
ISDN_SIGNALLINGS = ("pri", "ccs")

#: A T1 span's line configuration, each with its default first.
SPAN_FRAMINGS = ("esf", "d4")
SPAN_CODINGS = ("b8zs", "ami")
SPAN_CLOCKS = ("line", "internal")
#: An E1 span's: framing with CRC-4 or without (`crc4`), line code; its
#: clock is one of SPAN_CLOCKS.
E1_FRAMINGS = ("e1_crc4", "e1")
E1_CODINGS = ("hdb3", "ami")
#: Multiframes an E1 span may look for and not find (status: multiframes_lost).
E1_MULTIFRAMES = ("crc4", "cas")

#: The alarm of a device, and of its span, whose board was hot-unplugged
#: (DAHDI's REMOVED): gone until the server restarts.  Drivers raise it,
#: the server's lines, spans and doctor read it.
REMOVED_ALARM = "removed"
#: The alarm of a voice modem's line while the modem does not take its
#: set-up (no answer on its port, or ERROR to a command).
NOT_READY_ALARM = "not_ready"

#: Keys of span_counters: cumulative counts, then the defects now.
SPAN_COUNTERS = ("bpv", "exz", "crc", "fas", "oof", "slips", "ebit", "seconds")
SPAN_DEFECTS = ("los", "ais", "oof_now")

#: Loopbacks at our side of a span: none; line (what we receive goes back,
#: regenerated); payload (the payload goes back with our framing); local (our
#: transmit to our receive).
LOOPBACKS = ("none", "line", "payload", "local")

#: Codes asking the far end to loop: in-band (repeating 00001 / 001) or on
#: the ESF data link (bit-oriented codes).
LOOP_CODES = ("line_up", "line_down", "payload_up", "payload_down")

#: BERT patterns: QRSS (2^20-1 with at most 14 zeros), O.151 2^15-1 and
#: 2^20-1, all ones.
BERT_PATTERNS = ("qrss", "2^15-1", "2^20-1", "all_ones")

#: Keys of bert_results.
BERT_RESULTS = ("pattern", "bits", "errors", "ber", "sync", "sync_losses", "seconds",
                "errored_seconds", "error_free_seconds")


@dataclass(frozen=True)
class Event:
    """Something a board reported, in the driver-neutral vocabulary above."""

    device: str
    kind: str
    data: dict = field(default_factory=dict)

    def __getitem__(self, key):
        return self.data[key]


@dataclass(frozen=True)
class DeviceInfo:
    """One device of the inventory: its name, kind and bus transmit slot
    (None: off the CT-Bus, as a voice modem is; its transmit_slot is
    DriverNotSupported)."""

    name: str
    kind: str
    board: str
    slot: int | None = None
    channels: int = 0


@dataclass(frozen=True)
class Termination:
    """When an operation ends: the first condition that holds.

    Times are milliseconds (rounded to the board's 10 ms resolution).
    terminators: digits that end it ("#" or "*#").  first_digit_ms: the
    inter-digit timer counts from the start (False: from the first digit).
    """

    max_digits: int | None = None
    terminators: str = ""
    max_time_ms: int | None = None
    inter_digit_ms: int | None = None
    inter_digit_from_start: bool = True
    max_silence_ms: int | None = None
    max_nonsilence_ms: int | None = None
    loop_off_ms: int | None = None
    tone: str | None = None

    def is_empty(self):
        return not any(
            (self.max_digits, self.terminators, self.max_time_ms, self.inter_digit_ms,
             self.max_silence_ms, self.max_nonsilence_ms, self.loop_off_ms, self.tone)
        )


@dataclass(frozen=True)
class Prompt:
    """A piece of audio to play: a file path or bytes, in a format.

    fmt: "wav" (PCM16, mu-law or A-law, 8 kHz mono, header read), "vox"
    (Dialogic ADPCM), "ulaw", "alaw", "pcm16" (raw).
    """

    source: str | bytes
    fmt: str = "wav"


@dataclass(frozen=True)
class CallProgress:
    """Call-progress analysis of an outbound dial (None fields: defaults)."""

    rings_before_no_answer: int | None = None
    no_signal_ms: int | None = None
    no_answer_ms: int | None = None
    check_dial_tone_ms: int | None = None


@dataclass(frozen=True)
class CallerId:
    number: str
    name: str
    datetime: str   # MMDDhhmm, or "" when the exchange sent none
    frame: str      # "S" single (SDMF) or "M" multiple (MDMF) data message, "D" DTMF


class IBoardDriver(Interface):
    """Boards of one family, driven through their vendor API."""

    family = Attribute("Short name of the board family, e.g. 'r4'.")
    event_source = Attribute("How its events reach the reactor: one of EVENT_SOURCES.")

    def inventory():
        """Every device on every board, in board order: list of DeviceInfo."""

    def open(name):
        """Open a device by name (idempotent).  NoSuchDevice if absent."""

    def close(name):
        """Close a device, ending whatever it was doing without an event."""

    def reset(name):
        """Recover a device whose operation hung: nothing runs on it any
        more, its listen slot and event masks as they were.  The R4 driver
        closes and reopens it; DAHDI quiets its own voice work and keeps
        the channel open (closing one hangs its line up).  Used by the
        watchdog on a hung operation."""

    def fileno():
        """A descriptor readable while events are pending, or None: then
        the events come through `wait_events` and `deliver`
        (drivers.pump.EventThread), or from the driver's own transports."""

    def poll():
        """Fetch every pending event: a list of Event (also given to
        subscribers)."""

    def wait_events(timeout_ms):
        """On the event thread: wait up to timeout_ms for events and take
        every one pending, as raw data that outlives the next wait (for
        `deliver`).  Touches nothing the reactor's thread uses."""

    def deliver(raw):
        """On the reactor's thread: raw events from `wait_events` as Events
        (a list), also given to the subscribers."""

    def subscribe(callback):
        """callback(event) for every event from now on."""

    def stop_events():
        """The server is stopping (CTServer.stopService calls it once,
        after the service bringing the events has stopped): the driver's
        own timers on its clock are stopped (an operation's watchdog, a
        timer reading alarms, a modem's command time-out, a cadence) and
        no event reaches a subscriber from then on."""

    def status(name):
        """Plain facts about a device as a dict (state, hook, alarms...)."""

    # -- the bus --------------------------------------------------------
    def transmit_slot(name):
        """The bus timeslot the device transmits on (int)."""

    def listen(name, slot):
        """Make the device hear a timeslot.  BusMisuse if the slot is not
        driven or the device still listens elsewhere."""

    def unlisten(name):
        """The device hears nothing."""

    def line_transmit_slot(name):
        """Analog channels: the slot of the line itself (what the caller says)."""

    def line_listen(name, slot):
        """Analog channels: what the line sends to the caller."""

    def line_unlisten(name):
        """Analog channels: send the caller nothing."""

    # -- voice channels and analog lines -----------------------------------
    def enable_events(name, kinds):
        """Line and detector events to report: a set of ring, ring_stopped,
        loop_current, polarity_reversed, digit, tone, silence."""

    def set_silence_level(name, dbm0):
        """The level below which a voice channel hears silence (its silence
        events, max_silence and max_nonsilence): an int in dBm0 within
        SILENCE_DBM0_RANGE (else BadParameter), DEFAULT_SILENCE_DBM0 until
        set; kept through a reset."""

    def set_hook(name, offhook):
        """Seize or release an analog line: ends with hook_done."""

    def play(name, prompts, termination=None, watchdog_ms=None):
        """Play prompts one after the other as one operation: play_done."""

    def record(name, path, fmt, termination, watchdog_ms=None):
        """Record what the channel hears into a file: record_done."""

    def collect_digits(name, termination, watchdog_ms=None):
        """Collect digits (typed-ahead ones first): digits_done."""

    def clear_digits(name):
        """Forget digits typed so far."""

    def set_digit_types(name, dtmf=True, mf=False):
        """Which digit detectors run on the channel."""

    def dial(name, digits, call_progress=None, watchdog_ms=None):
        """Dial in-band (T: DTMF, M: MF, ',' pause): dial_done."""

    def play_tone(name, freq1, freq2=0, level_db=-13, duration_ms=None,
                  termination=None, watchdog_ms=None):
        """Play a tone: tone_done."""

    def stop(name):
        """Stop the running operation: it ends with reason 'stopped'."""

    def busy(name):
        """Whether an operation runs on the device (until its *_done event)."""

    def caller_id(name):
        """CallerId of the current call; CallerIdUnavailable if none."""

    # -- T1 and E1 trunks ------------------------------------------------
    def enable_signalling_events(name):
        """Report the far end's bit changes (A/B; on E1 also C/D) and winks
        on a timeslot."""

    def set_bits(name, a, b, c=None, d=None):
        """Our signalling bits on a timeslot: A and B, and C and D if given
        (None keeps them; a T1 repeats A and B there).  BadParameter on an
        ISDN B-channel (no bits) and for ABCD 0000 on an E1."""

    def wink(name):
        """Send a wink (150 ms off-hook pulse): wink_done."""

    def bits(name):
        """((our a, our b), (far a, far b)) of a timeslot."""

    def abcd(name):
        """(ours, the far end's) four bits of a timeslot as strings, A
        first: ("1001", "1101")."""

    def dchannel_send(name, frame):
        """Send one frame (bytes) on a D-channel ("dtiBnD"); DeviceBusy when
        more than a second of frames waits unsent.  Frames received come as
        dchannel_frame events."""

    def r2_mf_mode(name, mode):
        """MFC/R2 register signalling on an E1 CAS timeslot (lines-real.md
        3.5): its R2 MF transceiver sends the signals of one set and hears
        the other's ("forward": the calling side, it sends forward signals;
        "backward": the called side), or is off (None).  While it is on, each
        change of the signal heard is an r2_mf event.  The tones are made and
        detected on the board (in C), never by the caller."""

    def r2_mf_send(name, signal):
        """Send R2 signal 1-15 of the timeslot's set until told otherwise
        (0: stop); it replaces what the timeslot sends on the line while it
        sounds.  BadParameter when R2 MF is off there."""

    def enable_alarm_events(span):
        """Report alarms raised and cleared on a span."""

    def alarms(span):
        """Active alarms of a span: frozenset of names."""

    # -- T1 span maintenance -----------------------------------------------
    def span_counters(span):
        """Raw counters since the span was opened and the defects now: a dict
        of SPAN_COUNTERS (ints) and SPAN_DEFECTS (bools)."""

    def span_loopback(span, mode):
        """Loop the span at our side: mode is one of LOOPBACKS."""

    def send_loop_code(span, code):
        """Send one of LOOP_CODES to the far end (line_up/down in-band, it acts
        after 5 s of code; payload_up/down on the ESF data link: BadParameter
        on a D4 span)."""

    def bert_start(device, pattern):
        """Start a BERT in one of BERT_PATTERNS on a span (24 timeslots) or a
        timeslot; DeviceBusy if a timeslot is in a call on the bus or a
        test or in-band loop code runs there."""

    def bert_results(device):
        """The running BERT's results: a dict of BERT_RESULTS (BadParameter
        if none runs there)."""

    def bert_stop(device):
        """Stop the BERT: its final results (as bert_results)."""

    # -- stations --------------------------------------------------------
    def enable_station_events(name):
        """Report hook changes and flashes of a station."""

    def ring_station(name, cycles, cadence="default"):
        """Ring a phone until answered (station_answered) or the cycles
        end (station_ring_done).  cadence: default, short, china."""

    def stop_ring(name):
        """Stop ringing (station_ring_done)."""

    def station_tone(name, tone):
        """Tone to the earpiece: None or one of STATION_TONES.  Meant for a
        phone without a route: with one, a driver may add the tone to it or
        (the R4 driver's tone channels) give the route alone until it goes."""

    def station_offhook(name):
        """True if the phone is off-hook."""

    # -- conferences -----------------------------------------------------
    def conference_create(dsp, parties):
        """parties: list of (transmit slot, role).  Returns (conference id,
        {slot: listen slot}): each party must listen to its own slot."""

    def conference_add(dsp, conference, slot, role):
        """Add a party; returns the slot it must listen to."""

    def conference_remove(dsp, conference, slot):
        """Remove a party (the last one out ends the conference)."""

    def conference_delete(dsp, conference):
        """End a conference and release its parties' slots."""

    def conference_set_role(dsp, conference, slot, role):
        """Change a party's role."""

    def conference_room(dsp):
        """How many more parties the DSP can take."""
