# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_dahdi -*-
"""The DAHDI driver: Digium, Sangoma, OpenVox cards through the DAHDI
kernel's device nodes, behind `IBoardDriver`.

Its channels are DAHDI's own, from system.conf (drivers.systemconf), each
checked against what the kernel reports for it (DAHDI_GET_PARAMS on the
control node) before anything else: a channel DAHDI does not have, or has
with another signalling, stops the driver with an error naming the
channel and the mismatch.  Devices are named by DAHDI's numbers: channel
5 is "dahdiC5", span 1 "dahdiS1", pseudo channel n "dahdiPn"; or, given
the boards the server's configuration describes (`boards`: BoardLayout),
as the R4 boards name theirs, board by board (`board_names`), so one
configuration serves both drivers.

Every channel is opened as chan_dahdi opens it (/dev/dahdi/channel,
O_NONBLOCK, DAHDI_SPECIFY, AUDIOMODE for a clear channel, a block of BLOCK
samples, 16-bit linear, AUDIO_BUFFERS buffers) and
read block by block as the reactor wakes on `fileno()`.  A read or write
failing with ELAST means an event waits: the driver takes it with
DAHDI_GETEVENT and reads on.  DAHDI detects no tone: each block goes
through our voice work in C (native/src/chanvoice.h: DTMF and MF
receivers, call-progress tones, caller ID, silence, and the prompt, tone
or digits to send back), one call per block, and the driver writes back
the block it returns.  Operation times are counted in blocks: board time.

Channels are of seven kinds, by their system.conf keyword: FXO ports
(fxsks, fxsls) are voice channels with a line, as on an analog board:
the line is the DAHDI channel (its slot the caller's voice, "dahdiC1/line"
in the inventory), the voice a pseudo channel of its own, kept open (its
slot what the voice sends); they start hearing each other (the voice
MONITORs the line, the line DIGITALMONs the voice), and the bus can take
either elsewhere, so an FXO port carries a call out to a consulted
number, a transfer or a conference as a board's line does; FXS ports (fxoks) are
stations, the phone rung with DAHDI_SETCADENCE and DAHDI_HOOK RING, its
earpiece tones ours; e&m channels (T1 robbed bit,
DAHDI's E&M: the kernel sends 1111 off hook and 0000 on hook, winks, and
debounces the far end's A bit), cas channels (the four bits raw, E1 CAS)
and clear channels (bchan: an ISDN B-channel's audio) are timeslots, and so
are fxsls channels on a T1 span (T1 loop start: the kernel sends 1111 off
hook and 0101 on hook, and reports the far end's ring, its B bit off, once
the burst is over; loop start has no disconnect bit), with
the voice work on their audio too (on a cas channel, MFC/R2's register
signals: its R2 MF transceiver, whose signal replaces what the timeslot
sends while it sounds); hardhdlc and dchan channels are an
ISDN span's D-channel ("dchannel"), opened at start and read and written
in whole frames, each followed by the two bytes of its FCS, which the
card (hardhdlc) or the kernel (dchan) makes and checks: the driver
writes two placeholder bytes after each frame and drops the two it
reads, as libpri does on DAHDI; a frame lost to a bad FCS, an abort or
an overrun comes as an event, and is logged.  Spans ("span") report their alarms
from DAHDI_SPANSTAT; each channel's ALARM / NOALARM says they changed.

==================  ===============================================
DAHDI event         driver event
==================  ===============================================
RINGOFFHOOK         FXO port: ring (count; its caller ID listened for
                    while on hook, and a ring the kernel's 2 s ring
                    debounce kept quiet counted from GET_PARAMS'
                    rxhooksig: _watch_rings); FXS port: station_answered while ringing,
                    else station_hook offhook; e&m: signalling a_on b_on;
                    T1 loop start: signalling b_off, then b_on (a ring)
ONHOOK              FXO port off hook: loop_current on=False; FXS port:
                    station_hook on hook; e&m: signalling a_off b_off
WINKFLASH           FXS port: station_flash; e&m: signalling wink
RINGEROFF           FXS port: a ring ended (the kernel sends none when
                    HOOK RING starts, RINGERON only from the second
                    ring); after the last, DAHDI_HOOK RINGOFF, and
                    station_ring_done once its silence has passed
HOOKCOMPLETE        e&m: wink_done (our wink ended)
BITSCHANGED         cas: signalling, the bits read with GETRXBITS
POLARITY            polarity_reversed
BADFCS, ABORT,      D-channel: a frame lost (logged)
OVERRUN
ALARM, NOALARM      alarm raised / cleared on the span (from SPANSTAT);
                    the kernel sends them only between no alarm and
                    some, so SPANSTAT is also read every ALARM_READ_S
                    on the driver's clock, whether or not anything
                    wakes the reactor (red becoming yellow)
==================  ===============================================

Pseudo channels (/dev/dahdi/pseudo) are the voice channels of voice
boards.  The bus is DAHDI's conferencing: a channel's transmit slot is
its channel number (what it receives: a caller, a far end, an agent; a
pseudo channel, what its voice work writes); a voice channel listens by
DAHDI_CONF_MONITOR (its reads are what that channel receives), a
timeslot or a phone by DAHDI_CONF_DIGITALMON (its line is sent what that
channel receives), so no sample goes through Python on the way.
Conferences are DAHDI's (DAHDI_CONF_CONF with TALKER and LISTENER): a
party joins with its own channel, so its output slot is its own.  Span
maintenance: the counters are DAHDI_SPANSTAT's counts (span_counters
says which it has), loopbacks and a T1's in-band loop codes
DAHDI_MAINT's commands.  A BERT is refused whole (DriverNotSupported):
DAHDI_MAINT_PRBS has no pattern or timeslot to choose, and no card
driver of DAHDI 2.11 runs it.
"""
import errno
import grp
import os
from dataclasses import dataclass

from twisted.internet import task
from twisted.logger import Logger
from zope.interface import implementer

from drivers import _dahdi, errors
from drivers._cdefs.dahdi import CONSTANT_GROUPS
from drivers.dahdidev import CHANNEL_PATH, CTL_PATH, PSEUDO_PATH
from drivers.dahdifiles import Recording, prompt_pcm16
from drivers.interface import (
    DEFAULT_SILENCE_DBM0,
    DIGIT_BUFFER,
    LOOP_CODES,
    REMOVED_ALARM,
    RING_GAP_S,
    SILENCE_DBM0_RANGE,
    TONES,
    CallerId,
    DeviceInfo,
    Event,
    IBoardDriver,
)
from drivers.modemaudio import RECORD_FORMATS
from drivers.systemconf import SIGNALLINGS
from drivers.watchdog import deadline_ms, hung_data

ffi, lib = _dahdi.ffi, _dahdi.lib
log = Logger()

#: Samples per block (20 ms at 8 kHz: chan_dahdi's READ_SIZE).
BLOCK = 160
BLOCK_MS = BLOCK // 8
#: The most recorded samples taken from the voice work at once (1 s).
RECORD_CHUNK = 8000
#: A recording reaches its file this often (one write a second, not one
#: each block), and whole when it ends, however it ends: a crash loses at
#: most this much of it.
RECORD_WRITE_MS = 1000
#: The most digits or tones one block can hold.
PER_BLOCK = 16
#: Channel signallings this driver drives, by the kind of channel each is.
CHANNEL_KINDS = {"fxsks": "fxo", "fxsls": "fxo", "fxoks": "fxs", "e&m": "em", "cas": "cas",
                 "bchan": "clear", "clear": "clear", "hardhdlc": "dchannel",
                 "dchan": "dchannel"}
#: Each kind of channel as the inventory lists it (pseudo: the driver's
#: voice channels, DAHDI pseudo channels).
DEVICE_KIND = {"fxo": "voice", "fxs": "station", "em": "timeslot", "cas": "timeslot",
               "clear": "timeslot", "ls": "timeslot", "pseudo": "voice",
               "dchannel": "dchannel"}
#: An fxsls channel on a T1 span is no FXO port but a loop-start timeslot
#: (FXS loop start in robbed bits): this kind.
T1_LOOP_START = "ls"
#: system.conf's keywords of FXS ports (a phone's: FXO signalling).
FXS_PORT_KEYWORDS = ("fxoks", "fxols", "fxogs")
#: An audio channel's buffers (DAHDI_SET_BUFINFO, as chan_dahdi sets them;
#: the kernel's default is 2, 40 ms): blocks the reactor may come late by.
AUDIO_BUFFERS = 4
#: A D-channel's buffers (DAHDI_SET_BUFINFO, as chan_dahdi sets them): the
#: longest frame read or written with its two FCS bytes, and how many.
DCHANNEL_BUFSIZE, DCHANNEL_BUFFERS = 1024, 32
#: The two bytes after a D-channel frame, where its FCS goes: written as
#: placeholders (the card or the kernel makes it), read and dropped.
FCS_BYTES = 2
#: What the kernel says of a D-channel frame it lost (DAHDI_GETEVENT).
FRAME_LOST = {lib.DAHDI_EVENT_BADFCS: "a bad FCS", lib.DAHDI_EVENT_ABORT: "an abort",
              lib.DAHDI_EVENT_OVERRUN: "an overrun (longer than the buffer)"}
#: What an operation does on a channel whose board was removed: these let
#: go of it (nothing to send on a line that is gone: done at once); every
#: other is refused with DeviceRemoved.
LETTING_GO = frozenset({"reset", "stop", "busy", "unlisten", "transmit_slot", "set_bits",
                        "bits", "abcd", "stop_ring", "station_tone", "station_offhook",
                        "conference_remove"})
#: The bits of a timeslot whose board was removed: nothing sent, nothing
#: received (so a clear-down waits for no far end).
NO_BITS = "0000"
#: The board the inventory puts pseudo channels on.
PSEUDO_BOARD = "dahdiP"
#: An FXO port's line in the inventory: its voice channel's name and this.
LINE = "/line"
#: The conference device of DAHDI's own names, and the parties the driver
#: lets one conference device hold (its "room", as a DSP's on the boards).
CONFERENCE_DEVICE = "dahdiConf"
CONFERENCE_PARTIES = 32
#: Conference roles and DAHDI's flags for them (DAHDI_CONF_CONF): a
#: listen-only party hears, a normal one talks too.  DAHDI has no whisper:
#: coach and pupil are refused.
CONFERENCE_FLAGS = {"normal": lib.DAHDI_CONF_TALKER | lib.DAHDI_CONF_LISTENER,
                    "listen_only": lib.DAHDI_CONF_LISTENER}
#: A phone's ring cadences (ring_station): DAHDI_SETCADENCE's ms on, off.
RING_CADENCES = {"default": (2000, 4000), "short": (800, 400), "china": (1000, 4000)}
#: The kernel's ring debounce (dahdi-base.c's ringdebtimer, kernel.h's
#: RING_DEBOUNCE_TIME): an FXO port or a T1 loop-start channel reports no
#: ring ending within this of its hang-up (DAHDI_HOOK ONHOOK, its open) or,
#: fxsks, of the far end's disconnect; a ring is reported RING_TRAILER_MS
#: after it ends (DAHDI_RINGTRAILER).  The driver watches the line itself
#: (GET_PARAMS' rxhooksig) a little longer than the kernel's debounce, on
#: its clock: the reactor may wake late, and a late reactor finds only the
#: kernel's last buffers (the older blocks dropped), so the blocks read
#: are no measure of the time gone.
RING_DEBOUNCE_MS, RING_TRAILER_MS = 2000, 50
RING_WATCH_MS = RING_DEBOUNCE_MS + 200
#: GET_PARAMS' rxhooksig while the line rings (kernel.h's enum dahdi_rxsig,
#: which user.h lacks: DAHDI_RXSIG_RING).
RXSIG_RING = 3
#: Earpiece tones (station_tone): our generator's ids.
STATION_TONE_IDS = {"dial": lib.CTI_TONE_DIAL, "ringback": lib.CTI_TONE_RINGBACK,
                    "busy": lib.CTI_TONE_BUSY, "reorder": lib.CTI_TONE_REORDER}
#: A timeslot's span signalling in the interface's words (status), by the
#: span's type: an ISDN span's B-channels are clear channels.
SPAN_SIGNALLINGS = {"em": "em_wink", "cas": "cas", "clear": "pri", "ls": "fxs_loopstart"}
E1_SPAN_SIGNALLINGS = {**SPAN_SIGNALLINGS, "clear": "ccs"}
#: SPANSTAT's alarm bits and the interface's names (a loopback is no alarm).
ALARM_NAMES = {lib.DAHDI_ALARM_RED: "red", lib.DAHDI_ALARM_YELLOW: "yellow",
               lib.DAHDI_ALARM_BLUE: "blue", lib.DAHDI_ALARM_RECOVER: "recovering",
               lib.DAHDI_ALARM_NOTOPEN: "not_open", lib.DAHDI_ALARM_LOS: "los",
               lib.DAHDI_ALARM_LFA: "oof", lib.DAHDI_ALARM_LMFA: "lmfa"}
#: How often the spans with alarm events have their SPANSTAT alarms read
#: (a timer on the driver's clock: dahdi_tool reads SPANSTAT once a second).
ALARM_READ_S = 1.0
#: Loopbacks at our side of a span and DAHDI_MAINT's commands for them.
LOOPBACK_COMMANDS = {"none": lib.DAHDI_MAINT_NONE, "local": lib.DAHDI_MAINT_LOCALLOOP,
                     "line": lib.DAHDI_MAINT_NETWORKLINELOOP,
                     "payload": lib.DAHDI_MAINT_NETWORKPAYLOADLOOP}
#: The loop codes DAHDI_MAINT sends: a T1's in-band ones.  DAHDI has no
#: command for the ESF data link's (payload_up, payload_down).
LOOP_CODE_COMMANDS = {"line_up": lib.DAHDI_MAINT_LOOPUP, "line_down": lib.DAHDI_MAINT_LOOPDOWN}
#: How long the kernel sends a loop code (kernel.h's DAHDI_LOOPCODE_TIME).
LOOP_CODE_S = 10.0
#: SPANSTAT's alarm bits the span counters' defects read: AIS (blue), the
#: frame lost now (red, LFA).
AIS_ALARMS = lib.DAHDI_ALARM_BLUE
OOF_ALARMS = lib.DAHDI_ALARM_RED | lib.DAHDI_ALARM_LFA
#: system.conf's framing and coding words and SPANSTAT's lineconfig bits.
LINECONFIG = {"d4": lib.DAHDI_CONFIG_D4, "esf": lib.DAHDI_CONFIG_ESF,
              "ami": lib.DAHDI_CONFIG_AMI, "b8zs": lib.DAHDI_CONFIG_B8ZS,
              "hdb3": lib.DAHDI_CONFIG_HDB3}
#: R2 MF transceiver modes (r2_mf_mode) and our voice work's.
R2_MF_MODES = {None: lib.CTI_R2MF_OFF, "forward": lib.CTI_R2MF_FORWARD,
               "backward": lib.CTI_R2MF_BACKWARD}
#: DAHDI's bits, A first.
ABCD = (lib.DAHDI_ABIT, lib.DAHDI_BBIT, lib.DAHDI_CBIT, lib.DAHDI_DBIT)
#: A cas channel's idle bits (system.conf's cas=<channels>:<ABCD>), which
#: the kernel sends whenever no program has the channel (dahdi_hangup: the
#: server stopped, the channel opened or closed): our cas channels carry
#: MFC/R2 on an E1 span, whose far end must read them as blocked (AB 11:
#: 1101, China's 1111), as OpenR2's documentation configures them, or it
#: seizes a channel nobody answers.  What R2 reads in the others' A and B.
#: (A T1 span's cas channel has robbed bits, no R2: its idle bits are its
#: own business, only the kernel's checked against the file's.)
R2_IDLE_BITS = ("1101", "1111")
R2_AB_MEANINGS = {"00": "a seizure (or a forced release)", "01": "an answer",
                  "10": "idle, free to seize while nobody answers it"}
#: Dial strings: an optional mode (T DTMF, M MF), then its digits and ',' pauses.
DIAL_MODES = {"T": 0, "M": 1}
#: A dial's time per digit sent (100 ms tone, 100 ms gap, with room).
DIAL_DIGIT_MS = 250
#: Call progress where the CallProgress gives none (the boards' defaults).
NO_SIGNAL_MS, NO_ANSWER_MS, RINGS_BEFORE_NO_ANSWER = 40_000, 30_000, 4
#: Call-progress results and connection kinds in the interface's words.
CP_RESULTS = {lib.CTI_CP_CONNECTED: "connected", lib.CTI_CP_BUSY: "busy",
              lib.CTI_CP_NO_ANSWER: "no_answer", lib.CTI_CP_NO_RINGBACK: "no_ringback",
              lib.CTI_CP_INTERCEPT: "operator_intercept",
              lib.CTI_CP_NO_DIAL_TONE: "no_dial_tone", lib.CTI_CP_FAX: "fax"}
CONNECT_TYPES = {lib.CTI_CONNECT_CADENCE: "cadence", lib.CTI_CONNECT_VOICE: "voice"}


def _sig_value(keyword):
    return getattr(lib, f"DAHDI_SIG_{SIGNALLINGS[keyword]}")


#: SPANSTAT's spantype (the kernel's dahdi_spantype2str() cut to 5
#: characters) of the spans with a line: T1, E1 and J1 framers; BRI spans
#: say TE or NT.  Every other word is an analog card's: "FXS" or "FXO"
#: (xpp), "ANALO" (ANALOG_MIXED cut short: wctdm24xxp, wcaxx, opvxa1200).
DIGITAL_SPAN_TYPES = {"T1": "t1", "E1": "e1", "J1": "j1", "TE": "bri", "NT": "bri"}


def span_type(info):
    """"t1", "e1", "j1", "bri" or "analog": a SPANSTAT's span type."""
    return DIGITAL_SPAN_TYPES.get(ffi.string(info.spantype).decode().upper(), "analog")


@dataclass(frozen=True)
class BoardLayout:
    """One board of the server's configuration as the DAHDI driver maps it:
    its type (analog, voice, t1, e1, stations, conference) and size (lines,
    channels, phones; None for a span)."""

    type: str
    size: int | None = None


#: Voice channels per R4 voice board (dxxxBn has C1-C4).
CHANNELS_PER_VOICE_BOARD = 4


@dataclass
class _Operation:
    kind: str                   # play, record, digits, dial, tone
    done: str                   # its *_done event
    termination: object = None
    elapsed_ms: int = 0
    since_digit_ms: int = 0
    silence_ms: int = 0
    sound_ms: int = 0
    digits: str = ""
    recording: Recording | None = None  # a record's file, written as it grows
    unwritten_ms: int = 0       # ... recorded since its file was last written
    watchdog: object = None     # the IDelayedCall that ends it as hung


@dataclass
class _Channel:
    name: str
    channo: int
    kind: str                   # fxo, fxs, em, cas, clear (CHANNEL_KINDS), pseudo
    span: str
    fd: int                     # an FXO port's: its voice's pseudo channel
    voice: object               # cti_chanvoice *
    line_channo: int | None = None      # an FXO port: its DAHDI channel (the line)
    line_fd: int | None = None          # ... open from open() to close()
    line_listen: int | None = None      # ... the slot its line sends the caller
    loop_dropped: bool = False          # ... the far end's loop current dropped
    reversed: bool = False              # ... the battery reversed (an odd count)
    offhook: bool = False
    signalling_events: bool = False
    rx_bits: int = 0            # cas: the far end's bits as last reported
    r2_mf: str | None = None    # ... its R2 MF transceiver's mode (R2_MF_MODES), None: off
    r2_signal: int = 0          # ... the R2 signal it sounds, 0: none
    winking: bool = False
    station_events: bool = False
    phone_offhook: bool = False
    ring_cycles: int = 0        # cycles to ring the phone; 0: not ringing
    bells: int = 0              # rings ended (RINGEROFF)
    ring_off_ms: int = 0        # the cadence's silence
    ring_done: object = None    # the IDelayedCall ending the last ring's silence
    tone: str | None = None     # the earpiece tone
    listen: int | None = None   # the channel whose received audio it sends
    rings: int = 0
    since_ring_ms: int | None = None
    ringing_cid: bool = False   # FXO port: a caller ID read since this ringing's first ring
    ring_watch_until: float = 0.0   # FXO port, T1 loop start: the kernel's ring debounce
    ring_heard: bool = False    # ... GET_PARAMS said it rang, at the last look
    unreported_by: float | None = None  # ... a ring ended, its RINGOFFHOOK due by then
    kinds: frozenset = frozenset()
    silence_dbm0: int = DEFAULT_SILENCE_DBM0
    typed: str = ""
    op: _Operation | None = None
    removed: bool = False       # its board was unplugged (an FXO port: its line's)
    no_battery: bool = False    # an FXO port: its line's chan_alarms RED


@dataclass(frozen=True)
class _Leg:
    """What transmits on a slot and listens to one: a channel, or (`line`)
    an FXO port's line."""

    ch: _Channel
    line: bool

    @property
    def removed(self):
        """Its board was unplugged: its descriptor closed, nothing to send
        on (an FXO port's voice, a pseudo channel, stays when its line goes)."""
        return self.ch.removed and (self.line or self.ch.kind != "fxo")

    @property
    def fd(self):
        """Its descriptor (while not `removed`)."""
        return self.ch.line_fd if self.line else self.ch.fd

    @property
    def slot(self):
        return self.ch.line_channo if self.line else self.ch.channo

    def hears(self):
        return self.ch.line_listen if self.line else self.ch.listen

    def set_hears(self, slot):
        if self.line:
            self.ch.line_listen = slot
        else:
            self.ch.listen = slot


class _RemovalAware:
    """The device layer as the driver calls it, but for one thing: an
    ioctl answered ENODEV (the kernel's nodev file operations: the board
    was unplugged, its REMOVED event not read yet) is the board removed
    (`removed(fd, request)` handles it as REMOVED would, and returns the
    DeviceRemoved raised to the caller)."""

    def __init__(self, devices, removed):
        self._devices, self._removed = devices, removed
        self.open, self.close = devices.open, devices.close
        self.read, self.write, self.wakefd = devices.read, devices.write, devices.wakefd

    def ioctl(self, fd, request, arg):
        try:
            return self._devices.ioctl(fd, request, arg)
        except OSError as e:
            if e.errno != errno.ENODEV:
                raise
            raise self._removed(fd, request) from None


#: The binding's ioctl requests by number, to name one in an error.
IOCTL_NAMES = {getattr(lib, name): name for name in CONSTANT_GROUPS["ioctls"].split()}


@implementer(IBoardDriver)
class DahdiDriver:
    """A DAHDI box: `devices` (drivers.dahdidev), its system.conf
    (drivers.systemconf.SystemConf), the clock the watchdogs run on, and
    how many pseudo channels to open as voice channels ("dahdiP1"...).
    `probe`: only check system.conf against the kernel (cti server
    --check): no D-channel is opened at start, so a running server or
    Asterisk keeps its channels."""

    family = "dahdi"
    event_source = "descriptor"

    def __init__(self, devices, conf, clock, voice_channels=0, boards=None, probe=False):
        self.devices = _RemovalAware(devices, self._removed_under)
        self.conf, self.clock = conf, clock
        self._subscribers = []
        self._pending = []
        self._channels = {}
        self._rx = ffi.new(f"int16_t[{BLOCK}]")
        self._tx = ffi.new(f"int16_t[{BLOCK}]")
        self._recorded = ffi.new(f"int16_t[{RECORD_CHUNK}]")
        self._digits = ffi.new(f"char[{PER_BLOCK}]")
        self._tones = ffi.new(f"int[{PER_BLOCK}]")
        self._ndigits, self._ntones = ffi.new("int *"), ffi.new("int *")
        self._event = ffi.new("int *")
        self._kinds = {}
        self._alarm_spans = {}          # span -> its alarms as last reported
        self._alarm_read_errors = {}    # span -> why its SPANSTAT last failed (logged once)
        self._stopped = False           # stop_events: no event delivered, no timer
        self._removed_spans = set()     # spans whose board was removed (REMOVED)
        self._channel_numbers = {}      # a device's DAHDI channel, where renamed
        self._span_numbers = {}
        self._conferences = {}          # conference device -> {confno: {slot: role}}
        self._counting_since = {}       # span -> when its counters were first read
        self._loopbacks = {}            # span -> the loopback we set (LOOPBACK_COMMANDS)
        self._loop_codes = {}           # span -> (loop code, until when the kernel sends it)
        self._inventory = self._check_configuration()
        self._check_tone_zone()
        if boards is None:
            for n in range(1, voice_channels + 1):
                self._add_voice_channel(f"{PSEUDO_BOARD}{n}", PSEUDO_BOARD)
            self._add_conference_device(CONFERENCE_DEVICE, CONFERENCE_DEVICE)
        else:
            self._rename(board_names(self._inventory, self._kinds, self._span_types(), boards))
        self._pair_fxo_ports()
        for info in self._inventory:    # frames come from the start, as on the boards
            if info.kind == "dchannel" and not probe:
                self.open(info.name)
        # the watched spans' SPANSTAT, each second from the first enable_alarm_events
        self._alarm_reads = task.LoopingCall(self._read_alarms)
        self._alarm_reads.clock = clock

    # -- configuration against the kernel --------------------------------
    def _check_configuration(self):
        """The inventory: every channel of system.conf as DAHDI reports it,
        then each span (DeviceInfo kind "span")."""
        for keyword in sorted(set(self.conf.left_alone.values())):
            log.info("{path}: channels {channels} ({keyword}) left to others",
                     path=self.conf.path, keyword=keyword, channels=_listed(sorted(
                         c for c, k in self.conf.left_alone.items() if k == keyword)))
        ctl = self._first_open()
        try:
            inventory, spans, span_types = [], {}, {}
            for channo, keyword in sorted(self.conf.channels.items()):
                if keyword == "unused":
                    continue
                params = self._check_channel(ctl, channo, keyword)
                spanno = params.spanno
                spans.setdefault(spanno, []).append(channo)
                kind = CHANNEL_KINDS[keyword]
                if keyword in ("fxsls", "cas") and spanno not in span_types:
                    span_types[spanno] = span_type(self._spaninfo(ctl, spanno))
                if keyword == "cas":
                    self._check_idle_bits(channo, params.idlebits,
                                          r2=span_types[spanno] == "e1")
                if kind == "fxo" and keyword == "fxsls" and span_types[spanno] == "t1":
                    kind = T1_LOOP_START
                self._kinds[f"dahdiC{channo}"] = kind
                if kind == "fxo":                       # its voice's slot: _pair_fxo_ports
                    inventory.append(DeviceInfo(f"dahdiC{channo}", "voice", f"dahdiS{spanno}"))
                    inventory.append(DeviceInfo(f"dahdiC{channo}{LINE}", "line",
                                                f"dahdiS{spanno}", slot=channo))
                else:                                   # a D-channel has no slot
                    inventory.append(DeviceInfo(f"dahdiC{channo}", DEVICE_KIND[kind],
                                                f"dahdiS{spanno}",
                                                slot=None if kind == "dchannel" else channo))
            for spanno, channels in sorted(spans.items()):
                self._check_span(ctl, spanno, channels)
                inventory.append(DeviceInfo(f"dahdiS{spanno}", "span", f"dahdiS{spanno}"))
            return inventory
        finally:
            self.devices.close(ctl)

    def _first_open(self):
        """The control node, the first DAHDI node the driver opens: a
        module not loaded or a server not allowed is said here, with what
        to check."""
        try:
            return self.devices.open(CTL_PATH)
        except OSError as e:
            if e.errno == errno.ENOENT:
                raise errors.NoSuchDevice(
                    f"{CTL_PATH} does not exist: is DAHDI's kernel module loaded (lsmod | grep "
                    "dahdi; modprobe your card's driver) and udev's dahdi.rules installed?",
                    function="open", device=CTL_PATH) from None
            if e.errno in (errno.EACCES, errno.EPERM):
                raise errors.BoardError(
                    f"{CTL_PATH}: permission denied: the server's user must be in the group "
                    f"owning /dev/dahdi ({_node_group()}; DAHDI's udev rules make the nodes "
                    "asterisk:asterisk 0660)", function="open", device=CTL_PATH) from None
            raise

    def _check_tone_zone(self):
        """FXS ports ring their phones with the kernel's tone zone: without
        one (loadzone=, defaultzone=) HOOK RING is refused (ENODATA)."""
        ports = sorted(c for c, k in self.conf.channels.items() if k in FXS_PORT_KEYWORDS)
        if ports and not (self.conf.zones or self.conf.default_zone):
            raise errors.BadParameter(
                f"{self.conf.path}: channels {_listed(ports)} are FXS ports, and DAHDI rings "
                "a phone only with a tone zone loaded: add loadzone= and defaultzone= (such "
                "as loadzone=us, defaultzone=us) and run dahdi_cfg",
                function="system.conf", device=f"dahdiC{ports[0]}")

    def _check_channel(self, ctl, channo, keyword):
        params = ffi.new("struct dahdi_params *")
        params.channo = channo
        where = f"{self.conf.path}: channel {channo} ({keyword})"
        device = f"dahdiC{channo}"
        try:
            self.devices.ioctl(ctl, lib.DAHDI_GET_PARAMS, params)
        except OSError:
            raise errors.NoSuchDevice(
                f"{where}: DAHDI has no channel {channo} (is the card's module loaded and "
                "dahdi_cfg run?)", function="DAHDI_GET_PARAMS", device=device) from None
        if params.sigtype != _sig_value(keyword):
            raise errors.BadParameter(
                f"{where}: {_kernel_signalling(params.sigtype)}, not {keyword} "
                f"({_sig_value(keyword):#x}): run dahdi_cfg -vv", function="DAHDI_GET_PARAMS",
                device=device)
        if keyword not in CHANNEL_KINDS:
            raise errors.DriverNotSupported(
                f"{where}: the driver drives {', '.join(CHANNEL_KINDS)} channels so far",
                function="DAHDI_GET_PARAMS", device=device)
        return params

    def _check_idle_bits(self, channo, idlebits, r2):
        """A cas channel's idle bits: given in system.conf (dahdi_cfg
        refuses a cas= line without them), the kernel's the same (dahdi_cfg
        run since the file was edited) and, `r2` (an E1 span's: MFC/R2),
        R2's blocked.  Checked for every cas channel of system.conf, as
        every channel's signalling is: the file is what dahdi_cfg sets."""
        bits = self.conf.idle_bits.get(channo)
        where, line = self.conf.lines.get(channo, (self.conf.path, "cas="))
        device = f"dahdiC{channo}"
        write = "1101 (MFC/R2's blocked; China's 1111)" if r2 else "the bits, ABCD"
        advice = (f"write {line.partition(':')[0]}:{write} and run dahdi_cfg: DAHDI sends "
                  "the idle bits whenever no program has the channel, and the far end must "
                  "leave it alone then")
        if bits is None:
            raise errors.BadParameter(
                f"{where}: {line}: channel {channo} has no idle bits, and dahdi_cfg refuses "
                "the file (\"CAS Signalling requires idle definition\"): the kernel still "
                f"has the bits of the last dahdi_cfg that ran; {advice}",
                function="system.conf", device=device)
        if r2 and bits not in R2_IDLE_BITS:
            meaning = R2_AB_MEANINGS.get(bits[:2], "blocked, with C and D unlike R2's")
            raise errors.BadParameter(
                f"{where}: {line}: channel {channo}'s idle bits {bits} are wrong for MFC/R2, "
                f"which reads them as {meaning}; {advice}", function="system.conf",
                device=device)
        kernel = "".join("1" if idlebits & bit else "0" for bit in ABCD)
        if kernel != bits:
            raise errors.BadParameter(
                f"{where}: {line}: DAHDI sends idle bits {kernel} on channel {channo}, "
                f"system.conf says {bits}: run dahdi_cfg", function="DAHDI_GET_PARAMS",
                device=device)

    def _check_span(self, ctl, spanno, channels):
        info = self._spaninfo(ctl, spanno)
        where = f"{self.conf.path}: span {spanno}"
        device = f"dahdiS{spanno}"
        if info.totalchans < len(channels):
            raise errors.BadParameter(
                f"{where} has {info.totalchans} channels in DAHDI, system.conf puts "
                f"{len(channels)} on it", function="DAHDI_SPANSTAT", device=device)
        kind = span_type(info).upper()
        if kind == "ANALOG":
            return                      # an analog span: no line to configure
        span = self.conf.spans.get(spanno)
        if span is None:
            raise errors.BadParameter(
                f"{where}: DAHDI has a {kind} span there, and system.conf has no span={spanno} "
                f"line for it (channels {channels[0]}-{channels[-1]})",
                function="DAHDI_SPANSTAT", device=device)
        wanted = {span.coding} | ({span.framing} & {"d4", "esf"})
        for word in sorted(wanted):
            if not info.lineconfig & LINECONFIG[word]:
                raise errors.BadParameter(
                    f"{where}: system.conf says {word}, DAHDI's span runs lineconfig "
                    f"{info.lineconfig:#x} without it: run dahdi_cfg",
                    function="DAHDI_SPANSTAT", device=device)
        checks = (("crc4", span.crc4, lib.DAHDI_CONFIG_CRC4),
                  ("ccs", span.framing == "ccs", lib.DAHDI_CONFIG_CCS))
        for word, want, bit in checks:
            if want != bool(info.lineconfig & bit):
                raise errors.BadParameter(
                    f"{where}: system.conf {'says' if want else 'does not say'} {word}, "
                    f"DAHDI's span {'does not run' if want else 'runs'} it (lineconfig "
                    f"{info.lineconfig:#x}): run dahdi_cfg", function="DAHDI_SPANSTAT",
                    device=device)

    def _spaninfo(self, fd, spanno):
        info = ffi.new("struct dahdi_spaninfo *")
        info.spanno = spanno
        self.devices.ioctl(fd, lib.DAHDI_SPANSTAT, info)
        return info

    # -- devices -----------------------------------------------------------
    def inventory(self):
        return list(self._inventory)

    def _is_span(self, name):
        return any(i.name == name and i.kind == "span" for i in self._inventory)

    def _spanno(self, span):
        return self._span_numbers.get(span) or int(span[len("dahdiS"):])

    def _known(self, name, function):
        if name not in {i.name for i in self._inventory}:
            raise errors.NoSuchDevice(f"no DAHDI channel {name} in {self.conf.path}",
                                      function=function, device=name)

    def _dahdi_channo(self, name):
        return self._channel_numbers.get(name) or int(name[len("dahdiC"):])

    def open(self, name):
        self._known(name, "open")
        if self._is_span(name) or name.endswith(LINE):
            return
        ch = self._channels.get(name)
        if ch is not None and ch.kind == "fxo" and ch.line_fd is None and not ch.removed:
            self._open_line(ch)
        if ch is not None:
            return
        channo = self._dahdi_channo(name)
        span = next(i.board for i in self._inventory if i.name == name)
        if self._kinds[name] == "dchannel":
            self._channels[name] = _Channel(name, channo, "dchannel", span,
                                            self._open_dchannel(channo), None)
            return
        fd = self._open_channel(channo, self._kinds[name])
        voice = ffi.gc(lib.cti_chanvoice_new(lib.CTI_TONESET_NA), lib.cti_chanvoice_free)
        ch = _Channel(name, channo, self._kinds[name], span, fd, voice)
        self._channels[name] = ch
        if ch.kind == T1_LOOP_START:
            self._debounce_rings(ch)            # the kernel's open hangs it up
        if ch.kind == "fxs":
            ch.phone_offhook = bool(self._params(ch).rxisoffhook)

    def _open_channel(self, channo, kind):
        """A DAHDI channel as chan_dahdi opens it.  A clear channel (an
        ISDN B-channel) opens without audio on the kernel: AUDIOMODE 1
        first, else SETLINEAR and SETCONF are refused (EINVAL)."""
        fd = self._specified(channo)
        audio = ((lib.DAHDI_AUDIOMODE, 1),) if kind == "clear" else ()
        for request, value in (*audio, (lib.DAHDI_SET_BLOCKSIZE, BLOCK),
                               (lib.DAHDI_SETLINEAR, 1)):
            self.devices.ioctl(fd, request, ffi.new("int *", value))
        self._audio_buffers(fd, channo)
        return fd

    def _audio_buffers(self, fd, channo):
        """AUDIO_BUFFERS blocks each way, sent as soon as written (chan_dahdi's
        numbufs and policy): 80 ms the reactor may be late by, not 40."""
        buffers = ffi.new("struct dahdi_bufferinfo *")
        self.devices.ioctl(fd, lib.DAHDI_GET_BUFINFO, buffers)
        buffers.txbufpolicy = buffers.rxbufpolicy = lib.DAHDI_POLICY_IMMEDIATE
        buffers.numbufs = AUDIO_BUFFERS
        self._set_buffers(fd, channo, buffers)

    def _set_buffers(self, fd, channo, buffers):
        """DAHDI_SET_BUFINFO; the kernel refuses (EINVAL) a buffer outside
        16..DAHDI_MAX_BLOCKSIZE bytes or more than DAHDI_MAX_BUF_SPACE bytes
        in all (dahdi_chan_ioctl): said naming the channel and the values."""
        try:
            self.devices.ioctl(fd, lib.DAHDI_SET_BUFINFO, buffers)
        except OSError as e:
            if e.errno != errno.EINVAL:
                raise
            self.devices.close(fd)
            raise errors.BadParameter(
                f"DAHDI channel {channo} refused {buffers.numbufs} buffers of "
                f"{buffers.bufsize} bytes: the kernel takes 16 to {lib.DAHDI_MAX_BLOCKSIZE} "
                f"bytes a buffer and {lib.DAHDI_MAX_BUF_SPACE} bytes in all",
                function="DAHDI_SET_BUFINFO", device=f"dahdiC{channo}") from None

    def _specified(self, channo):
        """/dev/dahdi/channel made channel `channo` (DAHDI_SPECIFY).  The
        kernel lets one descriptor have a channel: EBUSY says another
        program holds it."""
        fd = self.devices.open(CHANNEL_PATH)
        try:
            self.devices.ioctl(fd, lib.DAHDI_SPECIFY, ffi.new("int *", channo))
        except OSError as e:
            self.devices.close(fd)
            device = f"dahdiC{channo}"
            where = f"{self.conf.lines[channo][0]}: " if channo in self.conf.lines else ""
            if e.errno == lib.EBUSY:
                raise errors.DeviceBusy(f"{where}{self._busy_why(channo)}",
                                        function="DAHDI_SPECIFY", device=device) from None
            if e.errno in (lib.ENXIO, lib.EINVAL):
                what = ("is not configured in the kernel" if e.errno == lib.ENXIO
                        else "is not in the kernel (a card missing, or its board removed)")
                raise errors.NoSuchDevice(
                    f"{where}DAHDI channel {channo} {what}: run dahdi_cfg -vv to configure "
                    f"{self.conf.path}'s channels, and dahdi_scan to see the cards' channels",
                    function="DAHDI_SPECIFY", device=device) from None
            raise
        return fd

    def _busy_why(self, channo):
        """Why the kernel refused channel `channo` (SPECIFY: EBUSY), in
        words: it opens no slave of another channel (the channels after the
        first of a clear, rawhdlc, nethdlc or fcshdlc line) and no dacs
        cross-connect (dahdi_specchan_open), and a channel to one descriptor
        at a time."""
        master = self.conf.masters.get(channo)
        if master is not None:
            return (f"DAHDI channel {channo} is a slave of channel {master}: a "
                    f"{self.conf.channels.get(master) or self.conf.left_alone.get(master)}= "
                    "line makes its channels one bundle, opened as its first (write bchan= "
                    "for channels of their own, and run dahdi_cfg)")
        params = ffi.new("struct dahdi_params *")
        params.channo = channo
        ctl = self.devices.open(CTL_PATH)
        try:
            self.devices.ioctl(ctl, lib.DAHDI_GET_PARAMS, params)
        except OSError:
            params.sigtype = 0
        finally:
            self.devices.close(ctl)
        if _kernel_signalling(params.sigtype).endswith("(dacs)"):
            return (f"DAHDI channel {channo} is cross-connected (dacs) in the kernel: was "
                    f"dahdi_cfg run with a system.conf other than {self.conf.path}?")
        return (f"DAHDI channel {channo} is open elsewhere: Asterisk's chan_dahdi, another "
                "cti? (stop it, or take the channel out of its configuration)")

    def _open_dchannel(self, channo):
        """A D-channel as chan_dahdi opens it: whole frames, each in a
        buffer of DCHANNEL_BUFSIZE bytes, sent as soon as written."""
        fd = self._specified(channo)
        buffers = ffi.new("struct dahdi_bufferinfo *")
        buffers.txbufpolicy = buffers.rxbufpolicy = lib.DAHDI_POLICY_IMMEDIATE
        buffers.numbufs, buffers.bufsize = DCHANNEL_BUFFERS, DCHANNEL_BUFSIZE
        self._set_buffers(fd, channo, buffers)
        return fd

    def _open_line(self, ch):
        """An FXO port's line opened, with the board's power-on routes: its
        voice hears the line (MONITOR), the line sends its voice (DIGITALMON);
        a line with no battery already is reported at once."""
        ch.line_fd = self._open_channel(ch.line_channo, "fxo")
        ch.offhook = ch.loop_dropped = ch.reversed = False
        self._debounce_rings(ch)                # the kernel's open hangs it up
        lib.cti_chanvoice_cid(ch.voice, 1)      # on hook: caller ID may come
        self._line_alarms_changed(ch)
        self._setconf(ch.line_fd, ch.channo, lib.DAHDI_CONF_DIGITALMON)
        ch.line_listen = ch.channo
        if ch.listen is None:
            self._monitor(ch, ch.line_channo)

    def _pair_fxo_ports(self):
        """Each FXO port's voice: a pseudo channel of its own, kept open from
        start to end, whose slot carries what the voice sends (as a board's
        voice channel has a slot apart from its line's)."""
        for index, info in enumerate(self._inventory):
            if info.kind == "voice" and self._kinds.get(info.name) == "fxo":
                ch = self._open_pseudo(info.name, info.board, "fxo")
                ch.line_channo = self._dahdi_channo(info.name)
                self._inventory[index] = DeviceInfo(info.name, "voice", info.board,
                                                    slot=ch.channo)

    def _span_types(self):
        """{span device: "t1", "e1" or "analog"} of the inventory's spans."""
        ctl = self.devices.open(CTL_PATH)
        try:
            return {i.name: span_type(self._spaninfo(ctl, int(i.name[len("dahdiS"):])))
                    for i in self._inventory if i.kind == "span"}
        finally:
            self.devices.close(ctl)

    def _rename(self, names):
        """The inventory under the boards' names (board_names), an FXO port's
        line as its voice's name and "/line"; pseudo channels opened for the
        voice boards."""
        inventory = []
        for info in self._inventory:
            base = info.name.removesuffix(LINE)
            if base not in names:
                continue                # on no board of the configuration
            name, board = names[base]
            if info.name != base:
                inventory.append(DeviceInfo(name + LINE, info.kind, board, slot=info.slot))
                continue
            inventory.append(DeviceInfo(name, info.kind, board, slot=info.slot))
            self._kinds[name] = self._kinds.pop(info.name, None)
        self._inventory = inventory
        self._channel_numbers = {n: int(d[len("dahdiC"):]) for d, (n, _) in names.items()
                                 if d.startswith("dahdiC") and d[len("dahdiC"):].isdigit()}
        self._span_numbers = {n: int(d[len("dahdiS"):]) for d, (n, _) in names.items()
                              if d.startswith("dahdiS")}
        for dahdi, (name, board) in names.items():
            if dahdi.startswith(PSEUDO_BOARD):
                self._add_voice_channel(name, board)
            elif dahdi.startswith(CONFERENCE_DEVICE):
                self._add_conference_device(name, board)

    def _add_voice_channel(self, name, board):
        """A voice channel of a voice board: a pseudo channel."""
        slot = self._open_pseudo(name, board).channo
        self._inventory.append(DeviceInfo(name, "voice", board, slot=slot))

    def _add_conference_device(self, name, board):
        self._conferences[name] = {}
        self._inventory.append(DeviceInfo(name, "conference", board,
                                          channels=CONFERENCE_PARTIES))

    def _open_pseudo(self, name, board, kind="pseudo"):
        """A pseudo channel, kept open from start to end (its number is
        DAHDI's choice, and goes with it when it closes), with its voice
        work: a voice channel of its own, or an FXO port's voice."""
        fd = self.devices.open(PSEUDO_PATH)
        channo = ffi.new("int *")
        self.devices.ioctl(fd, lib.DAHDI_CHANNO, channo)
        for request, value in ((lib.DAHDI_SET_BLOCKSIZE, BLOCK), (lib.DAHDI_SETLINEAR, 1)):
            self.devices.ioctl(fd, request, ffi.new("int *", value))
        self._audio_buffers(fd, channo[0])
        voice = ffi.gc(lib.cti_chanvoice_new(lib.CTI_TONESET_NA), lib.cti_chanvoice_free)
        ch = self._channels[name] = _Channel(name, channo[0], kind, board, fd, voice)
        self._kinds[name] = kind
        return ch

    def close(self, name):
        ch = self._channels.get(name)
        if ch is None:
            return
        if ch.kind == "fxo" and ch.line_fd is not None:     # the line: on hook
            self.devices.close(ch.line_fd)
            ch.line_fd = ch.line_listen = None
            ch.offhook = False
            self._forget_rings(ch)          # the kernel forgets them with the descriptor
        if ch.kind in ("pseudo", "fxo"):    # the voice stays open: it ends what it did
            self._quiet(ch)
            return
        if ch.op is not None:
            self._abandon(ch, ch.op)
        del self._channels[name]
        if not ch.removed:                  # else closed when its board went
            self.devices.close(ch.fd)

    def _quiet(self, ch, keep_listen=False):
        """A voice (pseudo channel) closed or reset: nothing running or sent;
        nothing heard unless `keep_listen`."""
        if ch.op is not None:
            if ch.op.watchdog.active():
                ch.op.watchdog.cancel()
            self._abandon(ch, ch.op)
            ch.op = None
        lib.cti_chanvoice_stop(ch.voice)
        lib.cti_chanvoice_record(ch.voice, 0)
        if ch.listen is not None and not keep_listen:
            self._unlisten(_Leg(ch, line=False))

    def reset(self, name):
        """Our voice work on the channel quieted (what could hang is ours:
        DAHDI runs no operation), what it hears, its hook and the bits its
        line sends kept.  The descriptor is not reopened: closing a DAHDI
        channel hangs its line up (dahdi_hangup: on hook, a CAS channel's
        idle bits), which would end the call the watchdog recovers."""
        self._quiet(self._channel(name, "reset"), keep_listen=True)

    def _channel(self, name, function):
        self._known(name, function)
        if self._is_span(name):
            raise errors.BadParameter(f"{name} is a span, not a channel", function=function,
                                      device=name)
        if name.endswith(LINE):
            raise errors.BadParameter(f"{name} is an FXO port's line: name its voice channel "
                                      f"{name.removesuffix(LINE)}", function=function,
                                      device=name)
        if self._kinds.get(name) == "dchannel":
            raise errors.BadParameter(f"{name} is a D-channel: whole frames only "
                                      "(dchannel_send, dchannel_frame events)",
                                      function=function, device=name)
        self.open(name)
        ch = self._channels[name]
        if ch.removed and ch.kind != "fxo" and function not in LETTING_GO:
            raise self._gone(ch, function)
        return ch

    def _gone(self, ch, function):
        """DeviceRemoved for a call on a channel whose board was removed."""
        return errors.DeviceRemoved(
            f"its board was removed (DAHDI channel {ch.line_channo or ch.channo}, span "
            f"{ch.span}): out of service until it is plugged back, dahdi_cfg run and the "
            "server restarted", function=function, device=ch.name)

    def _removed_under(self, fd, request):
        """An ioctl on `fd` answered ENODEV: the board of the channel it is
        (if still open) was removed; the DeviceRemoved for the caller."""
        function = IOCTL_NAMES.get(request, f"ioctl {request:#x}")
        ch = next((c for c in self._channels.values() if c.kind != "pseudo" and (
            c.line_fd == fd or (c.kind != "fxo" and not c.removed and c.fd == fd))), None)
        if ch is None:
            return errors.DeviceRemoved("DAHDI's device is gone (ENODEV): its board was "
                                        "removed", function=function)
        self._board_removed(ch)
        return self._gone(ch, function)

    def status(self, name):
        self._known(name, "status")
        if self._is_span(name):
            return self._span_status(name)
        if name.endswith(LINE):
            self._channel(name, "status")   # refused: its voice channel is named
        if name not in self._channels:      # opening it here would take it from its user
            span = next(i.board for i in self._inventory if i.name == name)
            return {"state": "closed", "channo": self._dahdi_channo(name), "span": span}
        ch = self._channels[name]
        if ch.removed and ch.kind != "fxo":
            return {"state": REMOVED_ALARM, "channo": ch.channo, "span": ch.span}
        if self._kinds.get(name) == "dchannel":
            return {"state": "open", "channo": ch.channo, "span": ch.span}
        ch = self._channel(name, "status")
        facts = {"state": ch.op.kind if ch.op else "idle", "listen": ch.listen,
                 "busy_with": ch.op.kind if ch.op else None,
                 "hook": "off" if ch.offhook else "on", "channo": ch.channo,
                 "ringing": bool(ch.rings) and not ch.offhook}
        if ch.kind in ("em", "cas", "ls"):    # a T1 carries A and B, an E1 all four
            width = 4 if span_type(self._span_info(ch.span, "status")) == "e1" else 2
            facts["tx_bits"], facts["rx_bits"] = (bits[:width] for bits in self.abcd(name))
        if ch.kind == "fxo":
            facts.update(channo=ch.line_channo, voice_channo=ch.channo,
                         line_listen=ch.line_listen,
                         loop_current=ch.offhook and not ch.loop_dropped,
                         polarity_reversed=ch.reversed)
        return facts

    def _span_status(self, span):
        if span in self._removed_spans:
            return {"alarms": [REMOVED_ALARM], "state": REMOVED_ALARM, "loopback": "none",
                    "loop_code": None}      # a loopback went with the board
        info = self._span_info(span, "status")
        kind = span_type(info)
        facts = {"alarms": sorted(_alarm_names(info.alarms)), "type": kind,
                 "name": ffi.string(info.name).decode(),
                 "description": ffi.string(info.desc).decode()}
        if kind == "analog":
            return facts
        config = info.lineconfig
        framing = ("esf" if config & lib.DAHDI_CONFIG_ESF else "d4") if kind in ("t1", "j1") else (
            "e1_crc4" if config & lib.DAHDI_CONFIG_CRC4 else "e1")
        coding = next((w for w in ("b8zs", "hdb3") if config & LINECONFIG[w]), "ami")
        kinds = {self._kinds[i.name] for i in self._inventory if i.board == span
                 and i.kind == "timeslot"}
        signallings = E1_SPAN_SIGNALLINGS if kind == "e1" else SPAN_SIGNALLINGS
        dchannel = next((i.name for i in self._inventory if i.board == span
                         and i.kind == "dchannel"), None)
        facts.update(framing=framing, coding=coding,
                     clock="line" if info.syncsrc == self._spanno(span) else "internal",
                     signalling=signallings[min(kinds)] if kinds else None,
                     dchannel=dchannel, bpv=info.bpvcount + info.cvcount,
                     looped=bool(info.alarms & lib.DAHDI_ALARM_LOOPBACK),
                     loopback=self._loopbacks.get(span, "none"),
                     loop_code=self._loop_code_now(span))
        return facts

    def _span_info(self, span, function):
        """SPANSTAT of `span`.  A span the kernel no longer has (EINVAL: its
        board was unplugged and unregistered, perhaps with none of its
        channels open to be told REMOVED) is a removed board's: DeviceRemoved."""
        self._known(span, function)
        if not self._is_span(span):
            raise errors.BadParameter(f"{span} is a channel, not a span", function=function,
                                      device=span)
        if span in self._removed_spans:
            raise self._span_gone(span, function)
        ctl = self.devices.open(CTL_PATH)
        try:
            return self._spaninfo(ctl, self._spanno(span))
        except OSError as e:
            if e.errno != errno.EINVAL:
                raise
            self._span_removed(span)
            raise self._span_gone(span, function) from None
        finally:
            self.devices.close(ctl)

    def _span_gone(self, span, function):
        return errors.DeviceRemoved(
            f"DAHDI no longer has span {self._spanno(span)}: its board was removed (plug it "
            "back, run dahdi_cfg and restart the server)", function=function, device=span)

    # -- events ------------------------------------------------------------
    def fileno(self):
        return self.devices.wakefd()

    def subscribe(self, callback):
        self._subscribers.append(callback)

    def stop_events(self):
        """The alarm reads, the operations' watchdogs and the phones' last
        ring silences stopped; nothing is delivered after (poll reads
        nothing: the reactor no longer watches the descriptor)."""
        self._stopped = True
        if self._alarm_reads.running:
            self._alarm_reads.stop()
        for ch in self._channels.values():
            if ch.op is not None and ch.op.watchdog.active():
                ch.op.watchdog.cancel()
            self._cancel_ring_done(ch)
        self._pending = []

    def wait_events(self, timeout_ms):
        raise errors.DriverNotSupported("events come through fileno() and poll()",
                                        function="wait_events", device="dahdi")

    def deliver(self, raw):
        raise errors.DriverNotSupported("events come through fileno() and poll()",
                                        function="deliver", device="dahdi")

    def poll(self):
        if self._stopped:
            return []
        for ch in list(self._channels.values()):
            try:
                self._service(ch)
            except errors.DeviceRemoved:
                pass                    # its board went as it was serviced: reported
        return self._deliver()

    def _deliver(self):
        """The events gathered so far, to the subscribers.  A subscriber
        that raises is logged and the others, and the events after, are
        still told: one bug above loses no event and stops no timer."""
        events, self._pending = self._pending, []
        if self._stopped:
            return []
        for event in events:
            for callback in list(self._subscribers):
                try:
                    callback(event)
                except Exception:
                    log.failure("{device}: a subscriber failed on its {kind} event",
                                device=event.device, kind=event.kind)
        return events

    def _emit(self, ch, kind, **data):
        self._pending.append(Event(ch.name, kind, data))

    def _service(self, ch):
        """Every event and whole block the channel has now (an FXO port's
        line first: its events; its audio is its voice's to hear); a
        D-channel's frames.  Nothing from a channel whose board is gone."""
        if ch.removed and ch.kind != "fxo":
            return
        if ch.kind == "dchannel":
            self._frames(ch)
            return
        if ch.line_fd is not None:
            while self._read(ch, ch.line_fd):
                pass
            self._watch_rings(ch, ch.line_fd)
        while self._read(ch, ch.fd):
            self._block(ch)
            self._send(ch, BLOCK * 2)
        if ch.kind == T1_LOOP_START:
            self._watch_rings(ch, ch.fd)

    def _read(self, ch, fd):
        """A whole block into self._rx (True), its events taken on the way;
        False once there is none."""
        while True:
            try:
                self.devices.read(fd, self._rx, BLOCK * 2)
                return True
            except OSError as e:
                if e.errno == lib.ELAST:
                    self._take_event(ch, fd)
                    if ch.removed:
                        return False
                    continue
                if e.errno == lib.EAGAIN:
                    return False
                if e.errno == lib.ENODEV:
                    self._board_removed(ch)
                    return False
                raise

    def _frames(self, ch):
        """Every frame the D-channel received: each read is one frame and
        its FCS (checked by the card or the kernel: a bad one never comes
        up, an event says it was lost)."""
        buf = ffi.new(f"char[{DCHANNEL_BUFSIZE}]")
        while True:
            try:
                n = self.devices.read(ch.fd, buf, DCHANNEL_BUFSIZE)
            except OSError as e:
                if e.errno == lib.ELAST:
                    self._take_event(ch, ch.fd)
                    if ch.removed:
                        return
                    continue
                if e.errno == lib.EAGAIN:
                    return
                if e.errno == lib.ENODEV:
                    self._board_removed(ch)
                    return
                raise
            if n > FCS_BYTES:
                self._emit(ch, "dchannel_frame", frame=ffi.buffer(buf, n - FCS_BYTES)[:])

    def dchannel_send(self, name, frame):
        """One frame on the D-channel: written with two bytes more, where
        the card puts its FCS (as libpri writes to DAHDI)."""
        self._known(name, "dchannel_send")
        if self._kinds.get(name) != "dchannel":
            raise errors.BadParameter(f"{name} is not a D-channel (hardhdlc or dchan in "
                                      "system.conf)", function="dchannel_send", device=name)
        if not 0 < len(frame) <= DCHANNEL_BUFSIZE - FCS_BYTES:
            raise errors.BadParameter(f"a frame is 1 to {DCHANNEL_BUFSIZE - FCS_BYTES} bytes, "
                                      f"not {len(frame)}", function="dchannel_send",
                                      device=name)
        ch = self._channels[name]
        if ch.removed:
            raise self._gone(ch, "dchannel_send")
        data = bytes(frame) + bytes(FCS_BYTES)
        while True:
            try:
                self.devices.write(ch.fd, ffi.from_buffer(data), len(data))
                return
            except OSError as e:
                if e.errno == lib.ENODEV:
                    self._board_removed(ch)
                    raise self._gone(ch, "dchannel_send") from None
                if e.errno == lib.EAGAIN:
                    raise errors.DeviceBusy("DAHDI's transmit buffers are full: more frames "
                                            "wait than the line sends in a second",
                                            function="dchannel_send", device=name) from None
                if e.errno != lib.ELAST:
                    raise
                self._take_event(ch, ch.fd)
                if ch.removed:
                    raise self._gone(ch, "dchannel_send") from None

    def _send(self, ch, size):
        """Write back the block the voice work made.  Transmit buffers full
        (EAGAIN) mean the reactor came late and the channel already has
        more than it can send in time: that block is dropped."""
        while True:
            try:
                self.devices.write(ch.fd, self._tx, size)
                return
            except OSError as e:
                if e.errno == lib.EAGAIN:
                    return
                if e.errno == lib.ENODEV:
                    self._board_removed(ch)
                    return
                if e.errno != lib.ELAST:
                    raise
                self._take_event(ch, ch.fd)
                if ch.removed:
                    return

    def _take_event(self, ch, fd):
        try:
            self.devices.ioctl(fd, lib.DAHDI_GETEVENT, self._event)
        except errors.DeviceRemoved:    # the board went (_board_removed has said so)
            return
        event = self._event[0]
        if event == lib.DAHDI_EVENT_REMOVED:
            self._board_removed(ch)
        elif event in (lib.DAHDI_EVENT_ALARM, lib.DAHDI_EVENT_NOALARM):
            if ch.kind == "fxo" and fd == ch.line_fd:
                self._line_alarms_changed(ch)
            else:
                self._span_alarms_changed(ch.span)
        elif ch.kind == "dchannel":
            if event in FRAME_LOST:
                log.warn("{channel}: a frame was lost to {why}", channel=ch.name,
                         why=FRAME_LOST[event])
        elif ch.kind == "fxs":
            self._station_event(ch, event)
        elif ch.kind != "fxo":
            self._trunk_event(ch, event)
        elif event == lib.DAHDI_EVENT_RINGOFFHOOK and not ch.offhook:
            self._rang(ch)
        elif event == lib.DAHDI_EVENT_ONHOOK and ch.offhook:
            if self.conf.channels.get(ch.line_channo) == "fxsks":
                self._debounce_rings(ch)        # __dahdi_hooksig_pvt's, for kewlstart
            ch.loop_dropped = True
            if "loop_current" in ch.kinds:
                self._emit(ch, "loop_current", on=False, ms=0)
            self._end_if(ch, "loop_off", ch.op and ch.op.termination
                         and ch.op.termination.loop_off_ms)
        elif event == lib.DAHDI_EVENT_POLARITY:
            ch.reversed = not ch.reversed
            if "polarity_reversed" in ch.kinds:
                self._emit(ch, "polarity_reversed")

    def _station_event(self, ch, event):
        """An FXS port: the phone's hook and flashes, the bell's steps."""
        if event == lib.DAHDI_EVENT_RINGOFFHOOK:
            ch.phone_offhook = True
            if ch.ring_cycles:          # the kernel rings on until told (chan_dahdi too)
                self.devices.ioctl(ch.fd, lib.DAHDI_HOOK, ffi.new("int *", lib.DAHDI_OFFHOOK))
                ch.ring_cycles = 0
                self._cancel_ring_done(ch)
                self._emit(ch, "station_answered")
            elif ch.station_events:
                self._emit(ch, "station_hook", offhook=True)
        elif event == lib.DAHDI_EVENT_ONHOOK:
            ch.phone_offhook = False    # the port back on hook: RING works again
            self.devices.ioctl(ch.fd, lib.DAHDI_HOOK, ffi.new("int *", lib.DAHDI_ONHOOK))
            self._earpiece(ch, None)
            if ch.station_events:
                self._emit(ch, "station_hook", offhook=False)
        elif event == lib.DAHDI_EVENT_WINKFLASH and ch.station_events:
            self._emit(ch, "station_flash")
        elif event == lib.DAHDI_EVENT_RINGEROFF and ch.ring_cycles and ch.ring_done is None:
            ch.bells += 1
            if ch.bells >= ch.ring_cycles:  # the last ring: no other starts
                self.devices.ioctl(ch.fd, lib.DAHDI_HOOK, ffi.new("int *", lib.DAHDI_RINGOFF))
                ch.ring_done = self.clock.callLater(ch.ring_off_ms / 1000, self._rung_out, ch)

    def _rang(self, ch):
        """A ring ended: RINGOFFHOOK, or one the kernel's debounce kept
        quiet (_watch_rings).  An FXO port counts it (its caller ID, heard
        whenever the port is on hook, waits for caller_id); a T1 loop-start
        channel reports it as the far end's B bit off and on.  The ring's
        end, seen on the line, is done with too: the kernel's event for it
        may come in the same poll that first sees rxhooksig leave RING."""
        ch.unreported_by, ch.ring_heard = None, False
        if ch.kind == T1_LOOP_START:
            a = self._rx_bits(ch) & lib.DAHDI_ABIT
            self._signalling(ch, a, {"b_off"})
            self._signalling(ch, a | lib.DAHDI_BBIT, {"b_on"})
            return
        ch.rings += 1
        ch.since_ring_ms = 0
        if "ring" in ch.kinds:
            self._emit(ch, "ring", count=ch.rings)

    def _caller_id_read(self, ch):
        """An FXO port on hook read a caller ID (its voice's receiver
        listens whenever the port is on hook).  A call sends one, so a
        second within the same ringing is the next call's: its caller rang
        in within RING_GAP_S of the one before giving up, and its first
        ring was counted as that call's.  The call before stopped ringing
        (ring_stopped: a call offered is abandoned), and the count is the
        new call's (1, its next ring 2), with its caller ID, which replaced
        the one before.  Not the count: a distinctive ring's bursts (US
        "ring-ring") are rings of their own, its caller ID after the
        second."""
        if ch.rings == 0:       # no ring yet: the coming call's (sent before its ring;
            return              # a caller ID sent so would need this rule changed)
        if not ch.ringing_cid:
            ch.ringing_cid = True
            return
        ch.rings = 1
        if "ring_stopped" in ch.kinds:
            self._emit(ch, "ring_stopped")

    def _debounce_rings(self, ch):
        """The kernel's ring debounce starts (RING_DEBOUNCE_MS): watch the
        line meanwhile, a ring seen ending before done with (the line was
        hung up, or reopened, since)."""
        self._forget_rings(ch)
        ch.ring_watch_until = self.clock.seconds() + RING_WATCH_MS / 1000

    def _forget_rings(self, ch):
        """No ring watched or waiting for its RINGOFFHOOK: the line closed
        or hung up."""
        ch.ring_watch_until, ch.ring_heard, ch.unreported_by = 0.0, False, None

    def _watch_rings(self, ch, fd):
        """The line's events read.  While the kernel's ring debounce runs
        (on the driver's clock), a ring's end is seen in GET_PARAMS'
        rxhooksig (RING, then not); its RINGOFFHOOK should follow within the
        trailer: if none comes by then (and two blocks more), the kernel
        swallowed it, and the driver reports it itself, so the count of
        rings (answer on ring N) stays the caller's."""
        if fd is None or ch.removed:        # gone as it was read (the kernel forgets it)
            self._forget_rings(ch)
            return
        now = self.clock.seconds()
        if ch.unreported_by is not None and now >= ch.unreported_by:
            ch.unreported_by = None
            if ch.kind == T1_LOOP_START or not ch.offhook:  # else answered meanwhile
                self._rang(ch)
        if now >= ch.ring_watch_until:
            return
        params = ffi.new("struct dahdi_params *")
        try:
            self.devices.ioctl(fd, lib.DAHDI_GET_PARAMS, params)
        except errors.DeviceRemoved:        # the board went (_board_removed has said so)
            return
        ringing = params.rxhooksig == RXSIG_RING
        if ch.ring_heard and not ringing:
            ch.unreported_by = now + (RING_TRAILER_MS + 2 * BLOCK_MS) / 1000
        ch.ring_heard = ringing

    def _trunk_event(self, ch, event):
        if ch.kind == T1_LOOP_START:
            if event == lib.DAHDI_EVENT_RINGOFFHOOK:    # a ring burst, now over
                self._rang(ch)
            return
        if event == lib.DAHDI_EVENT_HOOKCOMPLETE and ch.winking:
            ch.winking = False
            self._emit(ch, "wink_done")
            return
        if event == lib.DAHDI_EVENT_BITSCHANGED:
            bits = self._rx_bits(ch)
            old, ch.rx_bits = ch.rx_bits, bits
            changed = {f"{x}_{'on' if bits & bit else 'off'}"
                       for x, bit in zip("abcd", ABCD, strict=True) if (old ^ bits) & bit}
            self._signalling(ch, bits, changed)
        elif event == lib.DAHDI_EVENT_RINGOFFHOOK:
            self._signalling(ch, 0xF, {"a_on", "b_on"})
        elif event == lib.DAHDI_EVENT_ONHOOK:
            self._signalling(ch, 0, {"a_off", "b_off"})
        elif event == lib.DAHDI_EVENT_WINKFLASH:
            self._signalling(ch, 0, {"wink"})

    def _signalling(self, ch, bits, changed):
        if not ch.signalling_events:
            return
        letters = "abcd" if ch.kind == "cas" else "ab"
        values = {x: int(bool(bits & bit)) for x, bit in zip(letters, ABCD, strict=False)}
        self._emit(ch, "signalling", **values,
                   changed=frozenset(c for c in changed if c[0] in letters or c == "wink"))

    def _line_alarms_changed(self, ch):
        """An FXO port's line was told its alarms changed: GET_PARAMS'
        chan_alarms (chan_dahdi's get_alarms reads them first for an
        analog port); RED is no battery on the line."""
        params = ffi.new("struct dahdi_params *")
        self.devices.ioctl(ch.line_fd, lib.DAHDI_GET_PARAMS, params)
        red = bool(params.chan_alarms & lib.DAHDI_ALARM_RED)
        if red != ch.no_battery:
            ch.no_battery = red
            self._emit(ch, "alarm", alarm="red", raised=red)

    def _board_removed(self, ch):
        """The channel's board was unplugged (REMOVED, or ENODEV: an
        Astribank or USB device gone): its DAHDI channel closed (an FXO
        port keeps its voice: only its line went), an op on it ended, and
        one alarm "removed" on it; every other channel goes on."""
        if ch.removed:
            return
        ch.removed = True
        log.error("{channel}: its board was removed (DAHDI channel {channo}, span {span}): "
                  "out of service until it is plugged back and the server restarted",
                  channel=ch.name, channo=ch.line_channo or ch.channo, span=ch.span)
        if ch.kind == "fxo":
            self.devices.close(ch.line_fd)
            ch.line_fd = ch.line_listen = None
            ch.offhook = False
        else:
            if ch.op is not None:
                self._finish(ch, "error")
            self._cancel_ring_done(ch)      # a phone's bell went with it
            ch.ring_cycles = 0
            self.devices.close(ch.fd)
        self._emit(ch, "alarm", alarm=REMOVED_ALARM, raised=True)
        self._span_removed(ch.span)

    def _span_removed(self, span):
        """A span's board was removed: its alarms are "removed" alone from
        now on (raised first, so it never looks clear; what it had cleared),
        and SPANSTAT is not asked again (the kernel unregisters the span)."""
        if span in self._removed_spans:
            return
        self._removed_spans.add(span)
        log.error("{span}: its board was removed: every channel of it is out of service",
                  span=span)
        if span not in self._alarm_spans:
            return
        before, self._alarm_spans[span] = self._alarm_spans[span], {REMOVED_ALARM}
        self._pending.append(Event(span, "alarm", {"alarm": REMOVED_ALARM, "raised": True}))
        for name in sorted(before - {REMOVED_ALARM}):
            self._pending.append(Event(span, "alarm", {"alarm": name, "raised": False}))

    def _read_alarms(self):
        """Every ALARM_READ_S on the driver's clock, each span's alarms from
        SPANSTAT, told at once: the kernel says nothing when one alarm
        becomes another, and nothing at all on a span with no channel open
        (nor does anything else wake the reactor on a quiet system).  A
        span whose read fails is logged when its failure starts or changes
        (not each second), the other spans read all the same, and the next
        second reads it again."""
        for span in list(self._alarm_spans):
            try:
                self._span_alarms_changed(span)
            except Exception as e:
                why = f"{type(e).__name__}: {e}"
                if self._alarm_read_errors.get(span) != why:
                    self._alarm_read_errors[span] = why
                    log.failure("{span}: reading its alarms (DAHDI_SPANSTAT) failed; read "
                                "again each second, logged again if the failure changes",
                                span=span)
            else:
                if self._alarm_read_errors.pop(span, None) is not None:
                    log.info("{span}: its alarms (DAHDI_SPANSTAT) are read again", span=span)
        self._deliver()

    def _span_alarms_changed(self, span):
        """A channel of the span was told its alarms changed: the span's
        alarm events (once, whichever channel heard first)."""
        if span not in self._alarm_spans or span in self._removed_spans:
            return
        try:
            now = _alarm_names(self._span_info(span, "DAHDI_SPANSTAT").alarms)
        except errors.DeviceRemoved:    # the kernel no longer has it: reported
            return
        before, self._alarm_spans[span] = self._alarm_spans[span], now
        for name in sorted(now - before):
            self._pending.append(Event(span, "alarm", {"alarm": name, "raised": True}))
        for name in sorted(before - now):
            self._pending.append(Event(span, "alarm", {"alarm": name, "raised": False}))

    def _block(self, ch):
        flags = lib.cti_chanvoice_block(ch.voice, self._rx, self._tx, BLOCK, self._digits,
                                        self._ndigits, self._tones, self._ntones, PER_BLOCK)
        self._ringing_time(ch)
        if flags & (lib.CTI_CV_SILENCE_ON | lib.CTI_CV_SILENCE_OFF):
            self._emit(ch, "silence", on=bool(flags & lib.CTI_CV_SILENCE_ON))
        if flags & lib.CTI_CV_R2MF:
            self._emit(ch, "r2_mf", signal=lib.cti_chanvoice_r2mf_heard(ch.voice))
        if flags & lib.CTI_CV_CALLERID:
            self._caller_id_read(ch)
        for digit in ffi.unpack(self._digits, self._ndigits[0]).decode():
            self._digit(ch, digit)
        for i in range(self._ntones[0]):
            self._tone(ch, self._tones[i])
        op = ch.op
        if op is None:
            return
        op.elapsed_ms += BLOCK_MS
        op.since_digit_ms += BLOCK_MS
        silent = bool(flags & lib.CTI_CV_SILENT)
        op.silence_ms = op.silence_ms + BLOCK_MS if silent else 0
        op.sound_ms = 0 if silent else op.sound_ms + BLOCK_MS
        if op.kind == "record":
            op.unwritten_ms += BLOCK_MS
            if op.unwritten_ms >= RECORD_WRITE_MS and not self._keep_recording(ch, op):
                self._finish(ch, "error")       # the file takes no more (a full disk)
                return
        if flags & lib.CTI_CV_SENT_ALL and op.kind in ("play", "dial", "tone"):
            self._finish(ch, {"play": "end_of_data", "tone": "max_time"}.get(op.kind))
            return
        if flags & lib.CTI_CV_ANALYSED:
            how = ffi.new("cti_cp_connect *")
            result = lib.cti_chanvoice_result(ch.voice, how)
            self._finish(ch, None, result=CP_RESULTS[result],
                         connect_type=CONNECT_TYPES.get(how[0]))
            return
        t = op.termination
        if t is None:
            return
        self._end_if(ch, "max_time", t.max_time_ms and op.elapsed_ms >= t.max_time_ms)
        waited = op.elapsed_ms if (t.inter_digit_from_start and not op.digits) \
            else op.since_digit_ms
        self._end_if(ch, "inter_digit", t.inter_digit_ms and waited >= t.inter_digit_ms
                     and (op.digits or t.inter_digit_from_start))
        self._end_if(ch, "max_silence", t.max_silence_ms and op.silence_ms >= t.max_silence_ms)
        self._end_if(ch, "max_nonsilence",
                     t.max_nonsilence_ms and op.sound_ms >= t.max_nonsilence_ms)

    def _ringing_time(self, ch):
        if ch.since_ring_ms is None:
            return
        ch.since_ring_ms += BLOCK_MS
        if ch.since_ring_ms >= RING_GAP_S * 1000 and not ch.offhook:
            ch.since_ring_ms, ch.rings, ch.ringing_cid = None, 0, False
            lib.cti_chanvoice_cid(ch.voice, 1)  # the caller gave up: the next one's
            if "ring_stopped" in ch.kinds:
                self._emit(ch, "ring_stopped")

    def _digit(self, ch, digit):
        if "digit" in ch.kinds:
            self._emit(ch, "digit", digit=digit, type="dtmf")
        op = ch.op
        if op is not None and op.kind == "digits":
            op.digits += digit
            op.since_digit_ms = 0
            self._end_if(ch, _digit_reason(op.termination, op.digits), True)
            return
        if len(ch.typed) < DIGIT_BUFFER:
            ch.typed += digit
        if op is not None and op.termination is not None:
            self._end_if(ch, _digit_reason(op.termination, ch.typed), True)

    def _tone(self, ch, code):
        name = TONES[abs(code) - 1]
        if "tone" in ch.kinds:
            self._emit(ch, "tone", tone=name, on=code > 0)
        op = ch.op
        if op is not None and op.termination is not None and code > 0:
            self._end_if(ch, "tone", op.termination.tone == name)

    # -- operations --------------------------------------------------------
    def _idle(self, name, function):
        ch = self._channel(name, function)
        if ch.op is not None:
            raise errors.DeviceBusy(f"{name} is busy with {ch.op.kind}", function=function,
                                    device=name)
        return ch

    def _start(self, ch, op, watchdog_ms, own_ms=None):
        """Run `op`; if it has not ended by its deadline (the blocks stopped
        coming: a card gone, a channel stuck), the channel is reopened and
        the operation ends as hung.  It replaces a phone's earpiece tone."""
        ch.op, ch.tone = op, None
        deadline = deadline_ms(op.termination, watchdog_ms, own_ms)
        op.watchdog = self.clock.callLater(deadline / 1000, self._hung, ch.name, op)

    def _hung(self, name, op):
        ch = self._channels.get(name)
        if ch is None or ch.op is not op:
            return
        ch.op = None
        self._abandon(ch, op)
        self.reset(name)
        self._pending.append(Event(name, op.done, hung_data(op.done)))

    def _end_if(self, ch, reason, applies):
        if reason and applies and ch.op is not None:
            self._finish(ch, reason)

    def _finish(self, ch, reason, **progress):
        op, ch.op = ch.op, None
        if op.watchdog.active():
            op.watchdog.cancel()
        lib.cti_chanvoice_stop(ch.voice)
        data = {"reasons": frozenset({reason})} if reason else {}
        if op.kind == "digits":
            data["digits"] = op.digits
        elif op.kind == "record":
            lib.cti_chanvoice_record(ch.voice, 0)
            self._keep_recording(ch, op)
            op.recording.close()
            if op.recording.error is not None:
                log.error("{device}: recording {path} ended early: {error}", device=ch.name,
                          path=op.recording.path, error=op.recording.error)
                data = {"reasons": frozenset({"error"})}
        elif op.kind == "dial":
            data = progress or {"result": "stopped" if reason == "stopped" else None}
        self._emit(ch, op.done, **data)

    def _abandon(self, ch, op):
        """An operation ended without finishing (hung, reset, closed): a
        recording's file keeps all that was recorded (what the voice work
        still held written first)."""
        if op.recording is not None:
            self._keep_recording(ch, op)
            op.recording.close()

    def _keep_recording(self, ch, op):
        """What the voice work recorded since (RECORD_WRITE_MS of it, or
        less at the end), onto the recording's file; False when the file
        took no more (what the voice work held is dropped then, so the
        next recording starts clean); audio the voice work could not keep
        (out of memory) is logged, never lost silently."""
        op.unwritten_ms = 0
        if lost := lib.cti_chanvoice_lost(ch.voice):
            log.error("{channel}: {ms} ms of the recording were lost: no memory to keep them",
                      channel=ch.name, ms=lost // 8)
        written = True
        while n := lib.cti_chanvoice_take(ch.voice, self._recorded, RECORD_CHUNK):
            written = written and op.recording.write(self._recorded, n)
        return written

    def enable_events(self, name, kinds):
        ch = self._channel(name, "enable_events")
        before, ch.kinds = ch.kinds, frozenset(kinds)
        if ("silence" in before) != ("silence" in ch.kinds):
            lib.cti_chanvoice_silence_events(ch.voice, int("silence" in ch.kinds))

    def set_silence_level(self, name, dbm0):
        """Our voice work's level, per channel: below it is silence (its
        events, max_silence, max_nonsilence)."""
        ch = self._channel(name, "set_silence_level")
        low, high = SILENCE_DBM0_RANGE
        if not isinstance(dbm0, int) or isinstance(dbm0, bool) or not low <= dbm0 <= high:
            raise errors.BadParameter(f"silence level {dbm0!r} dBm0 is not an integer from "
                                      f"{low} to {high}", function="set_silence_level",
                                      device=name)
        ch.silence_dbm0 = dbm0
        lib.cti_chanvoice_silence_level(ch.voice, dbm0)

    def set_hook(self, name, offhook):
        ch = self._fxo(name, "set_hook")
        if ch.removed:
            if offhook:
                raise errors.DeviceRemoved(f"{name}'s board was removed: its line is gone",
                                           function="set_hook", device=name)
            self._emit(ch, "hook_done", offhook=False)     # no line: no loop
            return
        self.devices.ioctl(ch.line_fd, lib.DAHDI_HOOK, ffi.new(
            "int *", lib.DAHDI_OFFHOOK if offhook else lib.DAHDI_ONHOOK))
        hung_up = ch.offhook and not offhook
        ch.offhook, ch.loop_dropped = bool(offhook), False
        if offhook or hung_up:              # answered, or hung up: the next ringing's
            ch.ringing_cid = False
        if offhook:
            ch.rings, ch.since_ring_ms = 0, None
            lib.cti_chanvoice_cid_listen(ch.voice, 0)   # the far end's voice: no caller ID
        else:                               # the kernel's dahdi_hangup
            self._debounce_rings(ch)
            if hung_up:                     # listening afresh for the next call; else
                lib.cti_chanvoice_cid(ch.voice, 1)  # the ringing call's is kept
        self._emit(ch, "hook_done", offhook=bool(offhook))

    def play(self, name, prompts, termination=None, watchdog_ms=None):
        ch = self._idle(name, "play")
        audio = b"".join(prompt_pcm16(p, name, "play") for p in prompts)
        self._check_termination(name, "play", termination)
        if lib.cti_chanvoice_play(ch.voice, ffi.from_buffer("int16_t[]", audio),
                                  len(audio) // 2) < 0:
            raise errors.BoardError(f"no memory for {len(audio) // 16} ms of prompts",
                                    function="play", device=name)
        self._start(ch, _Operation("play", "play_done", termination), watchdog_ms,
                    len(audio) // 16)
        if termination is not None:
            self._end_if(ch, _digit_reason(termination, ch.typed), True)

    def record(self, name, path, fmt, termination, watchdog_ms=None):
        ch = self._idle(name, "record")
        if fmt not in RECORD_FORMATS:
            raise errors.BadParameter(f"format {fmt!r} is not one of "
                                      f"{', '.join(RECORD_FORMATS)}", function="record",
                                      device=name)
        self._check_termination(name, "record", termination)
        recording = Recording(path, fmt, name)     # there from the start, as on the boards
        lib.cti_chanvoice_record(ch.voice, 1)
        self._start(ch, _Operation("record", "record_done", termination, recording=recording),
                    watchdog_ms)

    def collect_digits(self, name, termination, watchdog_ms=None):
        ch = self._idle(name, "collect_digits")
        if termination is None or termination.is_empty():
            raise errors.BadParameter("collecting digits needs a termination",
                                      function="collect_digits", device=name)
        self._check_termination(name, "collect_digits", termination)
        op = _Operation("digits", "digits_done", termination)
        self._start(ch, op, watchdog_ms)
        for digit in ch.typed:
            op.digits += digit
            if reason := _digit_reason(termination, op.digits):
                ch.typed = ch.typed[len(op.digits):]
                self._finish(ch, reason)
                return
        ch.typed = ""

    def _check_termination(self, name, function, t):
        if t is not None and t.max_digits is not None and not 0 < t.max_digits <= DIGIT_BUFFER:
            raise errors.BadParameter(f"max_digits must be 1..{DIGIT_BUFFER}, not "
                                      f"{t.max_digits}", function=function, device=name)
        if t is not None and t.tone is not None and t.tone not in TONES:
            raise errors.BadParameter(f"tone {t.tone!r} is not one of {', '.join(TONES)}",
                                      function=function, device=name)

    def clear_digits(self, name):
        self._channel(name, "clear_digits").typed = ""

    def set_digit_types(self, name, dtmf=True, mf=False):
        lib.cti_chanvoice_digits(self._channel(name, "set_digit_types").voice, int(dtmf),
                                 int(mf))

    def dial(self, name, digits, call_progress=None, watchdog_ms=None):
        ch = self._idle(name, "dial")
        mode = 0
        if digits[:1] in DIAL_MODES:
            mode, digits = DIAL_MODES[digits[0]], digits[1:]
        cp = call_progress
        if cp is None:
            rc = lib.cti_chanvoice_dial(ch.voice, digits.encode(), mode) if digits else -1
        else:
            rc = lib.cti_chanvoice_dial_progress(
                ch.voice, digits.encode(), mode, cp.check_dial_tone_ms or 0,
                cp.no_signal_ms or NO_SIGNAL_MS, cp.no_answer_ms or NO_ANSWER_MS,
                cp.rings_before_no_answer or RINGS_BEFORE_NO_ANSWER) if digits else -1
        if rc < 0:
            raise errors.BadParameter(f"{digits!r} is not a dial string (T or M, then "
                                      "digits and ',' pauses)", function="dial", device=name)
        analysis = 0 if cp is None else (
            (cp.check_dial_tone_ms or 0) + (cp.no_signal_ms or NO_SIGNAL_MS)
            + (cp.no_answer_ms or NO_ANSWER_MS))
        self._start(ch, _Operation("dial", "dial_done"), watchdog_ms,
                    len(digits) * DIAL_DIGIT_MS + analysis)

    def play_tone(self, name, freq1, freq2=0, level_db=-13, duration_ms=None,
                  termination=None, watchdog_ms=None):
        ch = self._idle(name, "play_tone")
        self._check_termination(name, "play_tone", termination)
        if lib.cti_chanvoice_tone(ch.voice, freq1, freq2, level_db, duration_ms or 0) < 0:
            raise errors.BadParameter(f"no tone of {freq1} and {freq2} Hz at {level_db} dB",
                                      function="play_tone", device=name)
        self._start(ch, _Operation("tone", "tone_done", termination), watchdog_ms, duration_ms)

    def stop(self, name):
        ch = self._channel(name, "stop")
        if ch.op is None:
            self._emit(ch, "nothing_to_stop")
            return
        self._finish(ch, "stopped")

    def busy(self, name):
        return self._channel(name, "busy").op is not None

    # -- the bus: channels' audio cross-connected by DAHDI_SETCONF ----------
    def transmit_slot(self, name):
        """A channel's slot is its DAHDI number: what it carries is what the
        channel receives (a timeslot's far end, a phone's agent; a pseudo
        channel, so a voice channel or an FXO port's voice, what its voice
        work plays)."""
        return self._channel(name, "transmit_slot").channo

    def listen(self, name, slot):
        """A voice channel hears the slot (DAHDI_CONF_MONITOR: its reads are
        what that channel receives); a timeslot or a phone sends it
        (DAHDI_CONF_DIGITALMON: its line gets what that channel receives,
        its own audio replaced meanwhile)."""
        leg = _Leg(self._channel(name, "listen"), line=False)
        self._check_listen(leg, slot, "listen")
        self._connect(leg, slot)

    def _check_listen(self, leg, slot, function):
        name = leg.ch.name + (LINE if leg.line else "")
        if slot not in {i.slot for i in self._inventory if i.slot is not None}:
            raise errors.BusMisuse(f"no channel transmits on slot {slot}", function=function,
                                   device=name)
        if leg.hears() is not None:
            raise errors.BusMisuse(f"{name} already listens to slot {leg.hears()}: unlisten "
                                   "first", function=function, device=name)
        if slot == leg.slot and not self._in_conference(slot):
            raise errors.BusMisuse(f"{name} cannot listen to itself", function=function,
                                   device=name)

    def _connect(self, leg, slot):
        if slot == leg.slot:            # a party hearing its conference: it does
            leg.set_hears(slot)
        elif not leg.line and DEVICE_KIND[leg.ch.kind] == "voice":
            self._monitor(leg.ch, slot)
        else:
            leg.set_hears(slot)
            if leg.removed:             # an unplugged FXO port's line: nothing to send on
                return
            if leg.line or not leg.ch.r2_signal:    # an R2 signal sounding keeps the line
                self._setconf(leg.fd, slot, lib.DAHDI_CONF_DIGITALMON)

    def _monitor(self, ch, slot):
        self._setconf(ch.fd, slot, lib.DAHDI_CONF_MONITOR)
        ch.listen = slot

    def _setconf(self, fd, confno, mode):
        info = ffi.new("struct dahdi_confinfo *")
        info.chan, info.confno, info.confmode = 0, confno, mode
        self.devices.ioctl(fd, lib.DAHDI_SETCONF, info)

    def _unlisten(self, leg):
        self._let_go(leg)
        leg.set_hears(None)

    def _let_go(self, leg):
        """The leg back to DAHDI_CONF_NORMAL (hearing nothing, in no
        conference).  A removed leg has nothing to let go of, nor has one
        whose ioctl finds its board just gone (ENODEV: now removed)."""
        if leg.removed:
            return
        try:
            self._setconf(leg.fd, 0, lib.DAHDI_CONF_NORMAL)
        except errors.DeviceRemoved:
            if not leg.removed:
                raise

    def unlisten(self, name):
        self._unlisten(_Leg(self._channel(name, "unlisten"), line=False))

    # An FXO port is a line and a voice: the line is the DAHDI channel, its
    # slot the caller's voice, and what it sends the caller is set with
    # line_listen (DIGITALMON); the voice is a pseudo channel of its own.
    def line_transmit_slot(self, name):
        return self._fxo(name, "line_transmit_slot").line_channo

    def line_listen(self, name, slot):
        leg = _Leg(self._fxo(name, "line_listen"), line=True)
        self._check_listen(leg, slot, "line_listen")
        self._connect(leg, slot)

    def line_unlisten(self, name):
        self._unlisten(_Leg(self._fxo(name, "line_unlisten"), line=True))

    def _fxo(self, name, function):
        ch = self._channel(name, function)
        if ch.kind != "fxo":
            raise errors.BadParameter(f"{name} has no line of its own (not an FXO port)",
                                      function=function, device=name)
        return ch

    # -- T1 and E1 trunks ------------------------------------------------
    def _timeslot(self, name, function, kinds=("em", "cas", "clear", "ls")):
        ch = self._channel(name, function)
        if ch.kind not in kinds:
            what = {"fxo": "an FXO port (no robbed bits)",
                    "clear": "a clear channel (an ISDN B-channel: no bits)",
                    "cas": "a cas channel (raw bits: no wink)",
                    "em": "an e&m channel",
                    "ls": "an fxsls channel (T1 loop start: off or on hook only)"}[ch.kind]
            raise errors.BadParameter(f"{name} is {what}", function=function, device=name)
        return ch

    def _params(self, ch):
        params = ffi.new("struct dahdi_params *")
        self.devices.ioctl(ch.fd, lib.DAHDI_GET_PARAMS, params)
        return params

    def _rx_bits(self, ch):
        bits = ffi.new("int *")
        self.devices.ioctl(ch.fd, lib.DAHDI_GETRXBITS, bits)
        return bits[0]

    def enable_signalling_events(self, name):
        ch = self._timeslot(name, "enable_signalling_events", ("em", "cas", "ls"))
        ch.signalling_events = True
        if ch.kind == "cas":
            ch.rx_bits = self._rx_bits(ch)

    def set_bits(self, name, a, b, c=None, d=None):
        ch = self._timeslot(name, "set_bits", ("em", "cas", "ls"))
        if ch.removed:                  # the line is gone: it sends nothing, on hook
            if ch.kind != "cas" and a:
                raise self._gone(ch, "set_bits")
            return
        if ch.kind == "ls":
            if b != 1 or c not in (None, a) or d not in (None, 1):
                raise errors.BadParameter(
                    f"{name} is an fxsls channel (T1 loop start): DAHDI sends ABCD 1111 off "
                    "hook and 0101 on hook (set_bits(1, 1) or (0, 1))",
                    function="set_bits", device=name)
            self.devices.ioctl(ch.fd, lib.DAHDI_HOOK, ffi.new(
                "int *", lib.DAHDI_OFFHOOK if a else lib.DAHDI_ONHOOK))
            if not a:                       # the kernel's dahdi_hangup
                self._debounce_rings(ch)
            return
        if ch.kind == "em":
            if not a == b == (a if c is None else c) == (b if d is None else d):
                raise errors.BadParameter(
                    f"{name} is an e&m channel: DAHDI sends ABCD 1111 off hook and 0000 on "
                    "hook (configure it cas= in system.conf for other bits)",
                    function="set_bits", device=name)
            self.devices.ioctl(ch.fd, lib.DAHDI_HOOK, ffi.new(
                "int *", lib.DAHDI_OFFHOOK if a else lib.DAHDI_ONHOOK))
            return
        tx = self._params(ch).txbits
        e1 = self.status(ch.span)["type"] == "e1"
        if c is None and not e1:
            c, d = a, b                 # a T1 repeats A and B in C and D
        bits = 0
        for value, bit in zip((a, b, c, d), ABCD, strict=True):
            keep = tx & bit if value is None else (bit if value else 0)
            bits |= keep
        if e1 and bits == 0:
            raise errors.BadParameter("ABCD 0000 is forbidden on E1: it would mimic the "
                                      "multiframe alignment signal (keep D = 1: idle 1001)",
                                      function="set_bits", device=name)
        self.devices.ioctl(ch.fd, lib.DAHDI_SETTXBITS, ffi.new("int *", bits))

    def wink(self, name):
        ch = self._timeslot(name, "wink", ("em",))
        try:
            self.devices.ioctl(ch.fd, lib.DAHDI_HOOK, ffi.new("int *", lib.DAHDI_WINK))
        except OSError as e:
            if e.errno == lib.EBUSY:
                raise errors.DeviceBusy("cannot wink while off hook or winking",
                                        function="wink", device=name) from None
            if e.errno != lib.EINPROGRESS:  # non-blocking: HOOKCOMPLETE says when
                raise
        ch.winking = True

    def _bit_strings(self, name, function):
        ch = self._timeslot(name, function, ("em", "cas", "ls"))
        if ch.removed:
            return NO_BITS, NO_BITS
        params = self._params(ch)
        return tuple("".join("1" if bits & bit else "0" for bit in ABCD)
                     for bits in (params.txbits, params.rxbits))

    def bits(self, name):
        ours, theirs = self._bit_strings(name, "bits")
        return (int(ours[0]), int(ours[1])), (int(theirs[0]), int(theirs[1]))

    def abcd(self, name):
        return self._bit_strings(name, "abcd")

    # -- MFC/R2 register signals -------------------------------------------
    def r2_mf_mode(self, name, mode):
        """The cas channel's R2 MF transceiver, in our voice work on its
        audio (dsp.h's, over spandsp's r2_mf_tx and r2_mf_rx): block by
        block it hears the far end's set and sounds ours."""
        ch = self._timeslot(name, "r2_mf_mode", ("cas",))
        if mode not in R2_MF_MODES:
            raise errors.BadParameter(
                f"R2 MF mode {mode!r}: 'forward' (the calling side), 'backward' "
                "(the called side) or None (off)", function="r2_mf_mode", device=name)
        if lib.cti_chanvoice_r2mf(ch.voice, R2_MF_MODES[mode]) < 0:
            raise MemoryError(f"{name}: no memory for an R2 MF transceiver")
        ch.r2_mf = mode
        self._r2_sounds(ch, 0)

    def r2_mf_send(self, name, signal):
        ch = self._timeslot(name, "r2_mf_send", ("cas",))
        if ch.r2_mf is None:
            raise errors.BadParameter("R2 MF is off on this timeslot (r2_mf_mode first)",
                                      function="r2_mf_send", device=name)
        if not isinstance(signal, int) or not 0 <= signal <= 15:
            raise errors.BadParameter(f"R2 signal {signal!r}: 1 to 15, or 0 to stop",
                                      function="r2_mf_send", device=name)
        lib.cti_chanvoice_r2mf_send(ch.voice, signal)
        self._r2_sounds(ch, signal)

    def _r2_sounds(self, ch, signal):
        """A signal sounding replaces what the timeslot sends: DAHDI's
        DIGITALMON would replace our block with the slot it listens to,
        so the timeslot leaves it while a signal sounds and takes it back
        after (the bus's route is kept meanwhile: status still lists it)."""
        sounded, ch.r2_signal = ch.r2_signal, signal
        if bool(sounded) == bool(signal) or ch.listen in (None, ch.channo):
            return
        if signal:
            self._setconf(ch.fd, 0, lib.DAHDI_CONF_NORMAL)
        else:
            self._setconf(ch.fd, ch.listen, lib.DAHDI_CONF_DIGITALMON)

    def enable_alarm_events(self, span):
        self._alarm_spans[span] = self._alarms_now(span, "enable_alarm_events")
        if not self._alarm_reads.running and not self._stopped:
            self._alarm_reads.start(ALARM_READ_S, now=False)

    def alarms(self, span):
        return frozenset(self._alarms_now(span, "alarms"))

    def _alarms_now(self, span, function):
        """SPANSTAT's alarms, or "removed" alone for a span whose board went."""
        try:
            return _alarm_names(self._span_info(span, function).alarms)
        except errors.DeviceRemoved:
            return {REMOVED_ALARM}

    # -- span maintenance: DAHDI_SPANSTAT's counts, DAHDI_MAINT ------------
    def _line_span(self, span, function):
        """SPANSTAT of a T1 or E1 span (an analog one has no line to test)."""
        info = self._span_info(span, function)
        if span_type(info) == "analog":
            raise errors.BadParameter(f"{span} is an analog span: no T1/E1 line",
                                      function=function, device=span)
        return info

    def span_counters(self, span):
        """SPANSTAT's counts as the interface names them.  A card's driver
        fills the framer's counters (code violations, framing errors: cv,
        fe) or the older ones (bpv, fas), so each pair is added; DAHDI
        counts excessive zeros within the code violations (exz 0), keeps
        its slips to itself (SPANSTAT has no timingslips: slips 0) and
        counts no out-of-frame events (oof 0: oof_now from the red or LFA
        alarm).  seconds: on the driver's clock, since first read."""
        info = self._line_span(span, "span_counters")
        now = self.clock.seconds()
        since = self._counting_since.setdefault(span, now)
        alarms = info.alarms
        return {"bpv": info.bpvcount + info.cvcount, "exz": 0, "crc": info.crc4count,
                "fas": info.fascount + info.fecount, "oof": 0, "slips": 0,
                "ebit": info.ebitcount, "seconds": int(now - since + 1e-6),
                "los": bool(alarms & lib.DAHDI_ALARM_LOS), "ais": bool(alarms & AIS_ALARMS),
                "oof_now": bool(alarms & OOF_ALARMS)}

    def _maint(self, span, command, what, function):
        maint = ffi.new("struct dahdi_maintinfo *")
        maint.spanno, maint.command = self._spanno(span), command
        ctl = self.devices.open(CTL_PATH)
        try:
            self.devices.ioctl(ctl, lib.DAHDI_MAINT, maint)
        except OSError as e:
            if e.errno == lib.ENOSYS:
                raise errors.DriverNotSupported(
                    f"{span}'s card does not do {what} (DAHDI_MAINT: ENOSYS)",
                    function=function, device=span) from None
            if e.errno == lib.EBUSY:
                raise errors.DeviceBusy(f"{span} cannot {what} now (a test runs there)",
                                        function=function, device=span) from None
            raise
        finally:
            self.devices.close(ctl)

    def span_loopback(self, span, mode):
        self._line_span(span, "span_loopback")
        if mode not in LOOPBACK_COMMANDS:
            raise errors.BadParameter(f"loopback {mode!r} is not one of "
                                      f"{', '.join(LOOPBACK_COMMANDS)}",
                                      function="span_loopback", device=span)
        self._maint(span, LOOPBACK_COMMANDS[mode], f"loopback {mode}", "span_loopback")
        self._loopbacks[span] = mode

    def send_loop_code(self, span, code):
        info = self._line_span(span, "send_loop_code")
        if code not in LOOP_CODES:
            raise errors.BadParameter(f"loop code {code!r} is not one of "
                                      f"{', '.join(LOOP_CODES)}", function="send_loop_code",
                                      device=span)
        if span_type(info) == "e1":
            raise errors.BadParameter(f"{span} is an E1: it has no loop codes (in-band codes "
                                      "and the ESF data link are T1's)",
                                      function="send_loop_code", device=span)
        if code not in LOOP_CODE_COMMANDS:
            raise errors.DriverNotSupported(
                f"DAHDI_MAINT sends only the in-band line codes (line_up, line_down), not "
                f"{code} on the ESF data link", function="send_loop_code", device=span)
        self._maint(span, LOOP_CODE_COMMANDS[code], f"send {code}", "send_loop_code")
        self._loop_codes[span] = (code, self.clock.seconds() + LOOP_CODE_S)

    def _loop_code_now(self, span):
        """The loop code the kernel is sending (for LOOP_CODE_S), or None."""
        code, until = self._loop_codes.get(span, (None, 0.0))
        return code if code is not None and self.clock.seconds() < until else None

    # -- stations (FXS ports) -------------------------------------------
    def _station(self, name, function):
        ch = self._channel(name, function)
        if ch.kind != "fxs":
            raise errors.BadParameter(f"{name} is not an FXS port (fxoks): no phone",
                                      function=function, device=name)
        return ch

    def enable_station_events(self, name):
        self._station(name, "enable_station_events").station_events = True

    def ring_station(self, name, cycles, cadence="default"):
        ch = self._station(name, "ring_station")
        if cadence not in RING_CADENCES or cycles < 1:
            raise errors.BadParameter(f"ring {cycles} cycles with cadence {cadence!r}: cycles "
                                      f">= 1, cadence one of {', '.join(RING_CADENCES)}",
                                      function="ring_station", device=name)
        if ch.phone_offhook or ch.ring_cycles:
            raise errors.DeviceBusy(f"{name} is {'off hook' if ch.phone_offhook else 'ringing'}",
                                    function="ring_station", device=name)
        steps = ffi.new("struct dahdi_ring_cadence *")
        steps.ringcadence[0], steps.ringcadence[1] = RING_CADENCES[cadence]
        self.devices.ioctl(ch.fd, lib.DAHDI_SETCADENCE, steps)
        try:
            self.devices.ioctl(ch.fd, lib.DAHDI_HOOK, ffi.new("int *", lib.DAHDI_RING))
        except OSError as e:
            if e.errno == lib.ENODATA:
                raise errors.BadParameter(
                    f"{name}: DAHDI has no tone zone loaded, so it rings no phone: check "
                    f"loadzone= and defaultzone= in {self.conf.path} and run dahdi_cfg",
                    function="ring_station", device=name) from None
            if e.errno == lib.EBUSY:
                raise errors.DeviceBusy(f"{name}: DAHDI says the port is not on hook "
                                        "(ringing, or off hook)", function="ring_station",
                                        device=name) from None
            if e.errno != lib.EINPROGRESS:  # non-blocking: it rings on
                raise
        ch.ring_cycles, ch.bells = cycles, 0
        ch.ring_off_ms = RING_CADENCES[cadence][1]

    def stop_ring(self, name):
        ch = self._station(name, "stop_ring")
        if not ch.removed:              # else its bell went with the board
            self.devices.ioctl(ch.fd, lib.DAHDI_HOOK, ffi.new("int *", lib.DAHDI_RINGOFF))
        self._rung_out(ch)

    def _rung_out(self, ch):
        """The ringing is over (stopped, or the last ring's silence passed)."""
        self._cancel_ring_done(ch)
        if ch.ring_cycles:
            ch.ring_cycles = 0
            self._emit(ch, "station_ring_done")

    def _cancel_ring_done(self, ch):
        if ch.ring_done is not None and ch.ring_done.active():
            ch.ring_done.cancel()
        ch.ring_done = None

    def station_tone(self, name, tone):
        ch = self._station(name, "station_tone")
        if tone is not None and tone not in STATION_TONE_IDS:
            raise errors.BadParameter(f"tone {tone!r} is not one of "
                                      f"{', '.join(STATION_TONE_IDS)} or None",
                                      function="station_tone", device=name)
        if ch.op is not None:
            raise errors.DeviceBusy(f"{name} is busy with {ch.op.kind}",
                                    function="station_tone", device=name)
        self._earpiece(ch, tone)

    def _earpiece(self, ch, tone):
        """What our generator sends the phone: a tone, or nothing."""
        if tone is None:
            if ch.tone is not None and ch.op is None:
                lib.cti_chanvoice_stop(ch.voice)
        else:
            lib.cti_chanvoice_progress_tone(ch.voice, STATION_TONE_IDS[tone])
        ch.tone = tone

    def station_offhook(self, name):
        return self._station(name, "station_offhook").phone_offhook

    # -- conferences: DAHDI's own (DAHDI_SETCONF, DAHDI_CONF_CONF) --------
    # A party joins with its channel (an FXO port's line, its DAHDI
    # channel): what it receives goes into the mix, and its line (a pseudo
    # channel: its reads) gets everyone's but its own.  So its output is its
    # own slot: listening to it, it hears the conference; unlistening takes
    # it out.

    def _conference_device(self, dsp, function):
        if dsp not in self._conferences:
            raise errors.NoSuchDevice(f"no conference device {dsp}", function=function,
                                      device=dsp)
        return self._conferences[dsp]

    def _in_conference(self, slot):
        return any(slot in parties for confs in self._conferences.values()
                   for parties in confs.values())

    def _party(self, dsp, slot, function):
        """The leg transmitting on the slot: a channel, or an FXO port's line."""
        info = next((i for i in self._inventory if i.slot == slot), None)
        if info is None:
            raise errors.ConferenceError(f"no channel transmits on slot {slot}",
                                         function=function, device=dsp)
        return _Leg(self._channel(info.name.removesuffix(LINE), function),
                    line=info.kind == "line")

    def _flags(self, role, dsp, function):
        if role not in CONFERENCE_FLAGS:
            raise errors.ConferenceError(
                f"role {role!r} is not one DAHDI's conferences have ({', '.join(CONFERENCE_FLAGS)}"
                "; no whisper: coach and pupil)", function=function, device=dsp)
        return CONFERENCE_FLAGS[role]

    def _live(self, leg, function):
        """The leg, if its board is still there (else DeviceRemoved: an
        FXO port's line too, whose voice channel is not refused)."""
        if leg.removed:
            raise self._gone(leg.ch, function)
        return leg

    def _join(self, dsp, leg, confno, role, function):
        self._live(leg, function)
        if leg.hears() is not None or self._in_conference(leg.slot):
            raise errors.ConferenceError(f"slot {leg.slot} listens elsewhere or is in a "
                                         "conference", function=function, device=dsp)
        info = ffi.new("struct dahdi_confinfo *")
        info.chan, info.confno = 0, confno
        info.confmode = lib.DAHDI_CONF_CONF | self._flags(role, dsp, function)
        self.devices.ioctl(leg.fd, lib.DAHDI_SETCONF, info)
        return info.confno

    def conference_room(self, dsp):
        confs = self._conference_device(dsp, "conference_room")
        return CONFERENCE_PARTIES - sum(len(p) for p in confs.values())

    def conference_create(self, dsp, parties):
        confs = self._conference_device(dsp, "conference_create")
        if not parties:
            raise errors.ConferenceError("a conference needs at least one party",
                                         function="conference_create", device=dsp)
        if len(parties) > self.conference_room(dsp):
            raise errors.ConferenceError(f"{dsp} has room for {self.conference_room(dsp)} "
                                         "more parties", function="conference_create",
                                         device=dsp)
        for _, role in parties:
            self._flags(role, dsp, "conference_create")
        members = [(self._party(dsp, slot, "conference_create"), role)
                   for slot, role in parties]
        confno, joined = -1, {}
        try:
            for leg, role in members:
                confno = self._join(dsp, leg, confno, role, "conference_create")
                joined[leg.slot] = role
        except errors.DriverError:
            for leg, _ in members:
                if leg.slot in joined:
                    self._let_go(leg)
            raise
        confs[confno] = joined
        return confno, {slot: slot for slot in joined}

    def _parties(self, dsp, conference, function):
        confs = self._conference_device(dsp, function)
        if conference not in confs:
            raise errors.ConferenceError(f"no conference {conference} on {dsp}",
                                         function=function, device=dsp)
        return confs[conference]

    def conference_add(self, dsp, conference, slot, role):
        parties = self._parties(dsp, conference, "conference_add")
        if self.conference_room(dsp) < 1:
            raise errors.ConferenceError(f"{dsp} is full", function="conference_add",
                                         device=dsp)
        self._join(dsp, self._party(dsp, slot, "conference_add"), conference, role,
                   "conference_add")
        parties[slot] = role
        return slot

    def conference_remove(self, dsp, conference, slot):
        parties = self._parties(dsp, conference, "conference_remove")
        if slot not in parties:
            raise errors.ConferenceError(f"slot {slot} is not in conference {conference}",
                                         function="conference_remove", device=dsp)
        del parties[slot]               # out first, whatever its channel says
        if not parties:                 # the last one out ends it
            del self._conferences[dsp][conference]
        leg = self._party(dsp, slot, "conference_remove")
        if leg.hears() == slot:
            leg.set_hears(None)
        self._let_go(leg)

    def conference_delete(self, dsp, conference):
        """Every party out, each whatever another's channel says (the first
        error raised once all are out): the conference and its room freed."""
        failed = None
        for slot in list(self._parties(dsp, conference, "conference_delete")):
            try:
                self.conference_remove(dsp, conference, slot)
            except errors.DriverError as e:
                failed = failed or e
        if failed is not None:
            raise failed

    def conference_set_role(self, dsp, conference, slot, role):
        parties = self._parties(dsp, conference, "conference_set_role")
        if slot not in parties:
            raise errors.ConferenceError(f"slot {slot} is not in conference {conference}",
                                         function="conference_set_role", device=dsp)
        leg = self._live(self._party(dsp, slot, "conference_set_role"), "conference_set_role")
        info = ffi.new("struct dahdi_confinfo *")
        info.chan, info.confno = 0, conference
        info.confmode = lib.DAHDI_CONF_CONF | self._flags(role, dsp, "conference_set_role")
        self.devices.ioctl(leg.fd, lib.DAHDI_SETCONF, info)
        parties[slot] = role

    def caller_id(self, name):
        ch = self._channel(name, "caller_id")
        got = ffi.new("cti_callerid *")
        if not lib.cti_chanvoice_callerid(ch.voice, got):
            raise errors.CallerIdUnavailable("no caller ID received", function="caller_id",
                                             device=name)
        number = ffi.string(got.number).decode()
        if not number and got.number_absent:        # "P" private, "O" out of area
            number = chr(got.number_absent)
        return CallerId(number,
                        ffi.string(got.name).decode(), ffi.string(got.datetime).decode(),
                        "M" if got.mdmf else "S")


def board_names(inventory, kinds, span_types, boards):
    """{DAHDI device: (name, board)} for the boards of the server's
    configuration (BoardLayout, in order), named as the R4 boards name
    theirs: an analog board takes the next FXO ports (dxxxBnCm, four to a
    voice board), a voice board as many pseudo channels (keys "dahdiP1"...),
    a T1 or E1 board the next span of that type (dtiBn, its timeslots
    dtiBnTm: an E1's line timeslots 1-15 and 17-31 as T1-T30; an ISDN
    span's D-channel dtiBnD), a station
    board the next FXS ports (msiBnCm), a conference board its DSPs
    (dcbBnDm: DAHDI conferences, keys "dahdiConf<board>.<dsp>").
    BadParameter when DAHDI has too few."""
    by_kind = {"fxo": [], "fxs": []}
    spans = {"t1": [], "e1": []}
    for info in inventory:
        if info.kind == "span" and span_types[info.name] in spans:
            spans[span_types[info.name]].append(info.name)
        elif info.kind not in ("span", "line") and kinds[info.name] in by_kind:
            by_kind[kinds[info.name]].append(info.name)
    names, voice, dti, msi, dcb, pseudo = {}, 0, 0, 0, 0, 0

    def take(pool, n, what, index):
        if len(pool) < n:
            raise errors.BadParameter(
                f"boards[{index}] ({what}) needs {n}, system.conf has {len(pool)} more",
                function="boards", device=f"boards[{index}]")
        taken, pool[:] = pool[:n], pool[n:]
        return taken

    for index, board in enumerate(boards):
        if board.type in ("analog", "voice"):
            if board.type == "analog":
                devices = take(by_kind["fxo"], board.size, "FXO ports: fxsks", index)
            else:
                devices = [f"{PSEUDO_BOARD}{pseudo + k}" for k in range(1, board.size + 1)]
                pseudo += board.size
            for first in range(0, board.size, CHANNELS_PER_VOICE_BOARD):
                voice += 1
                for c, dahdi in enumerate(devices[first:first + CHANNELS_PER_VOICE_BOARD], 1):
                    names[dahdi] = (f"dxxxB{voice}C{c}", f"dxxxB{voice}")
        elif board.type in ("t1", "e1"):
            dti += 1
            span = take(spans[board.type], 1, f"a {board.type.upper()} span", index)[0]
            names[span] = (f"dtiB{dti}", f"dtiB{dti}")
            members = [i.name for i in inventory if i.board == span and i.kind == "timeslot"]
            for t, dahdi in enumerate(members, 1):
                names[dahdi] = (f"dtiB{dti}T{t}", f"dtiB{dti}")
            for dahdi in (i.name for i in inventory if i.board == span and i.kind == "dchannel"):
                names[dahdi] = (f"dtiB{dti}D", f"dtiB{dti}")
        elif board.type == "conference":
            for d in range(1, board.size + 1):
                dcb_names = (f"dcbB{dcb + 1}D{d}", f"dcbB{dcb + 1}")
                names[f"{CONFERENCE_DEVICE}{dcb + 1}.{d}"] = dcb_names
            dcb += 1
        elif board.type == "stations":
            msi += 1
            for c, dahdi in enumerate(take(by_kind["fxs"], board.size, "FXS ports: fxoks",
                                           index), 1):
                names[dahdi] = (f"msiB{msi}C{c}", f"msiB{msi}")
    return names


def _node_group():
    """The group owning /dev/dahdi, as the permission advice names it."""
    try:
        return f"group {grp.getgrgid(os.stat(os.path.dirname(CTL_PATH)).st_gid).gr_name}"
    except (OSError, KeyError):
        return "usually group asterisk"


def _kernel_signalling(sigtype):
    """What GET_PARAMS' sigtype says of a channel, in words where the
    kernel would refuse to open it (dahdi_specchan_open)."""
    if sigtype == lib.DAHDI_SIG_NONE:
        return "DAHDI has it unconfigured (dahdi_cfg not run, or unused)"
    if sigtype & lib.DAHDI_SIG_DACS & ~lib.DAHDI_SIG_CLEAR:
        return "DAHDI has it cross-connected (dacs)"
    return f"DAHDI reports signalling {sigtype:#x}"


def _listed(numbers):
    """[1, 2, 3, 7] -> "1-3,7" (system.conf's way)."""
    runs = []
    for n in numbers:
        if runs and runs[-1][1] == n - 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def _alarm_names(bits):
    return {name for bit, name in ALARM_NAMES.items() if bits & bit}


def _digit_reason(termination, digits):
    """digits or terminator if `digits` meet the termination, else None."""
    if termination is None or not digits:
        return None
    if termination.terminators and digits[-1] in termination.terminators:
        return "terminator"
    if termination.max_digits and len(digits) >= termination.max_digits:
        return "digits"
    return None


def _refuse(function, capability):
    def refused(self, name, *args, **kwargs):
        raise errors.DriverNotSupported(
            f"the DAHDI driver does not provide {capability}", function=function,
            device=name)
    refused.__name__ = function
    refused.__doc__ = f"Refused: the DAHDI driver does not provide {capability}."
    return refused


_REFUSED = {
    "a BERT (DAHDI's only one, DAHDI_MAINT_PRBS, runs the framer's own pattern on a "
    "whole span, with no choice of pattern or timeslot, and DAHDI 2.11's card drivers "
    "answer it ENOSYS)": ("bert_start", "bert_results", "bert_stop"),
}
for _capability, _functions in _REFUSED.items():
    for _function in _functions:
        setattr(DahdiDriver, _function, _refuse(_function, _capability))
