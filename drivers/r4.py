# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_conformance,tests.test_binding,tests.test_vendor_only -*-
"""The R4 driver: Dialogic-style boards through the vendor API (or our
simulator of it), behind `IBoardDriver`.

The raw cffi bindings stay in this module, each wrapped in a `Binding`:
the full one (`drivers._r4`: the vendor API and the simulator's additions
to it, or a vendor SDK's API alone) and, in a simulator build, the
vendor-only one (`drivers._r4_vendor`: the vendor's calls alone, over the
same simulation).  A driver uses the binding it is given; where the
binding lacks one of the simulator's additions it does the same with the
vendor's documented calls:

==================  ===================================  =====================================
what                with the simulator's additions       with the vendor API alone
==================  ===================================  =====================================
events              a descriptor the reactor watches     one thread blocked in sr_waitevtEx
                    (sr_getevtfd: drivers.pump)          (drivers.pump.EventThread)
a span's alarms     ATDT_ALARMS                          kept from its DTEV_T1ERRC events
station tones       ms_settone                           voice channels playing them, the
                                                         phone listening (`tone_channels`)
span maintenance    dt_getcounters, dt_setloopback ...   DriverNotSupported
a D-channel         dt_dchanwrite, dt_dchanread          DriverNotSupported (a vendor's board
                                                         runs ISDN in its firmware)
R2 MF signals       dt_r2mfmode, dt_r2mfsend, DTEV_R2MF  DriverNotSupported
==================  ===================================  =====================================

The silence level is a channel parameter of the vendor's API either way
(dx_setparm with DXCH_SILENCETHRESH); a vendor SDK whose headers lack
that parameter builds without it (HAS_SILENCE_THRESHOLD 0), and then
`set_silence_level` is refused with DriverNotSupported naming it.

A span is a T1 or an E1 as dt_getctinfo says (ct_nettype), the vendor's
way; its alarms come in the codes of its kind (DTT1_, DTE1_).

Every C call goes through `_check`, which turns a failure into the right
`BoardError` subclass with the vendor code, the function and the device.
Memory given to an asynchronous call (DX_IOTT chains, DV_TPT tables,
DV_DIGIT buffers, open files) is held in an `_Operation` until its
completion event, as the vendor API requires.

A watchdog runs on the injected clock for every operation
(drivers.watchdog): if the completion does not come in time the driver
asks the board to stop; if that does not end it either, the device is
closed and reopened (its listen slot and event masks restored) and the
operation ends with reason "hung".  Its deadline is the operation's own
longest time plus OPERATION_GRACE_MS: a play, the length of its audio (or
its max time if shorter); digits, the max time, else the inter-digit time
per digit; a record, its max time; a dial, its digits and its
call-progress times.  Only an operation with no time of its own (a tone
without end) gets DEFAULT_WATCHDOG_MS.  An operation asked to stop
(`stop`) that has not ended STOP_GRACE_MS later is hung too.
"""
import functools
import importlib
import os
import re
from dataclasses import dataclass, field

from twisted.logger import Logger
from zope.interface import implementer

from drivers import errors
from drivers.interface import (
    SILENCE_DBM0_RANGE,
    STATION_TONES,
    CallerId,
    DeviceInfo,
    Event,
    IBoardDriver,
)
from drivers.stationtones import ToneChannels
from drivers.watchdog import OPERATION_GRACE_MS, STOP_GRACE_MS, deadline_ms, hung_data
from drivers.wavinfo import WavFormatError, wav_format

log = Logger()

#: The bindings a build may have, by the name a driver is given.
BINDINGS = {"full": "drivers._r4", "vendor": "drivers._r4_vendor"}

#: a dial's time per digit sent (DTMF and MF are 100 ms or less, with the gap)
DIAL_DIGIT_MS = 250
#: the most events one `wait_events` takes: a flood is handed over as it comes
WAIT_BATCH = 1024
#: The devices of a DTI board: the span "dtiBn", its timeslots "dtiBnTm", its
#: D-channel "dtiBnD".
DTI_DEVICE = re.compile(r"dtiB[0-9]+(?:(T)[0-9]+|(D))?\Z")


class Binding:
    """One compiled binding of the R4 API: cffi's `ffi` and `lib`, what it
    offers beyond the vendor's API, and the vendor's codes in the driver's
    words (the values its headers gave)."""

    def __init__(self, name, module):
        self.name = name
        self.ffi, self.lib = module.ffi, module.lib
        lib = self.lib
        #: the simulator's far-end control plane is in it (drivers.sim)
        self.has_simulator = bool(lib.HAS_SIMULATOR)
        #: the simulator's additions to the vendor API are in it
        #: (drivers/_cdefs/extensions.py: sr_getevtfd, ATDT_ALARMS,
        #: ms_settone, span maintenance)
        self.has_extensions = bool(lib.HAS_SIM_EXTENSIONS)
        #: its headers define the silence threshold's channel parameter
        self.has_silence_threshold = bool(lib.HAS_SILENCE_THRESHOLD)
        self.term_bits = [
            (lib.TM_MAXDTMF, "digits"), (lib.TM_DIGIT, "terminator"),
            (lib.TM_MAXTIME, "max_time"), (lib.TM_IDDTIME, "inter_digit"),
            (lib.TM_MAXSIL, "max_silence"), (lib.TM_MAXNOSIL, "max_nonsilence"),
            (lib.TM_LCOFF, "loop_off"), (lib.TM_TONE, "tone"), (lib.TM_EOD, "end_of_data"),
            (lib.TM_USRSTOP, "stopped"), (lib.TM_ERROR, "error"),
        ]
        self.cp_results = {
            lib.CR_CNCT: "connected", lib.CR_BUSY: "busy", lib.CR_NOANS: "no_answer",
            lib.CR_NORB: "no_ringback", lib.CR_CEPT: "operator_intercept",
            lib.CR_NODIALTONE: "no_dial_tone", lib.CR_FAXTONE: "fax", lib.CR_STOPD: "stopped",
            lib.CR_ERROR: "error",
        }
        self.conntypes = {lib.CON_CAD: "cadence", lib.CON_LPC: "loop", lib.CON_PVD: "voice"}
        self.tone_ids = {
            "dial": lib.TID_DIAL_LCL, "ringback": lib.TID_RNGBK1, "busy": lib.TID_BUSY1,
            "reorder": lib.TID_BUSY2, "sit": lib.TID_SIT, "fax_cng": lib.TID_FAX1,
            "fax_ced": lib.TID_FAX2,
        }
        self.tone_names = {v: k for k, v in self.tone_ids.items()}
        self.cst_masks = {
            "ring": lib.DM_RINGS, "ring_stopped": lib.DM_RNGOFF,
            "loop_current": lib.DM_LCON | lib.DM_LCOF, "polarity_reversed": lib.DM_LCREV,
            "digit": lib.DM_DIGITS, "tone": lib.DM_TONEON | lib.DM_TONEOFF,
            "silence": lib.DM_SILON | lib.DM_SILOF,
        }
        self.alarms = {
            lib.DTT1_OOF: "oof", lib.DTT1_LOS: "los", lib.DTT1_BPVS: "bpv",
            lib.DTT1_ECS: "errored", lib.DTT1_RYEL: "yellow", lib.DTT1_RCL: "carrier_loss",
            lib.DTT1_FERR: "frame_error", lib.DTT1_RBL: "blue", lib.DTT1_RLOS: "remote_los",
            lib.DTT1_RED: "red",
        }
        #: an E1 span's, in the same words where they mean the same
        self.e1_alarms = {
            lib.DTE1_LOS: "los", lib.DTE1_BPVS: "bpv", lib.DTE1_ECS: "errored",
            lib.DTE1_RRA: "yellow", lib.DTE1_FSERR: "oof", lib.DTE1_RUA1: "blue",
            lib.DTE1_RLOS: "remote_los", lib.DTE1_RED: "red", lib.DTE1_MFSERR: "lmfa",
            lib.DTE1_RSA1: "ts16_ais", lib.DTE1_RDMA: "ts16_yellow",
            lib.DTE1_CECS: "crc4_errors",
        }
        self.t1_alarm_mask = (lib.DTEC_LOS | lib.DTEC_RED | lib.DTEC_RYEL | lib.DTEC_RBL |
                              lib.DTEC_OOF | lib.DTEC_RLOS)
        self.e1_alarm_mask = (lib.DEEC_LOS | lib.DEEC_RED | lib.DEEC_RRA | lib.DEEC_RUA1 |
                              lib.DEEC_FSERR | lib.DEEC_RLOS | lib.DEEC_MFSERR | lib.DEEC_RSA1 |
                              lib.DEEC_RDMA | lib.DEEC_CECS)
        #: a signalling bit going on and off (A, B, C, D) in DTMM_ masks
        self.bit_masks = [(lib.DTMM_AON, lib.DTMM_AOFF), (lib.DTMM_BON, lib.DTMM_BOFF),
                          (lib.DTMM_CON, lib.DTMM_COFF), (lib.DTMM_DON, lib.DTMM_DOFF)]
        #: ... in dt_settssigsim's DTB_ values, and read in ATDT_TSSGBIT's
        self.bit_sets = [(lib.DTB_AON, lib.DTB_AOFF), (lib.DTB_BON, lib.DTB_BOFF),
                         (lib.DTB_CON, lib.DTB_COFF), (lib.DTB_DON, lib.DTB_DOFF)]
        self.bits_read = [(lib.DTSG_XMTA, lib.DTSG_RCVA), (lib.DTSG_XMTB, lib.DTSG_RCVB),
                          (lib.DTSG_XMTC, lib.DTSG_RCVC), (lib.DTSG_XMTD, lib.DTSG_RCVD)]
        self.roles = {
            "normal": lib.MSPA_NULL, "listen_only": lib.MSPA_RO, "coach": lib.MSPA_COACH,
            "pupil": lib.MSPA_PUPIL,
        }
        self.cadences = {"default": lib.MS_RNG_DEFAULT, "short": lib.MS_RNG_SHORT,
                         "china": lib.MS_RNG_CHINA}
        self.formats = {  # name: (file format, data format, bits per sample)
            "vox": (lib.FILE_FORMAT_VOX, lib.DATA_FORMAT_DIALOGIC_ADPCM, 4),
            "ulaw": (lib.FILE_FORMAT_VOX, lib.DATA_FORMAT_MULAW, 8),
            "alaw": (lib.FILE_FORMAT_VOX, lib.DATA_FORMAT_ALAW, 8),
            "pcm16": (lib.FILE_FORMAT_VOX, lib.DATA_FORMAT_PCM, 16),
            "wav-pcm16": (lib.FILE_FORMAT_WAVE, lib.DATA_FORMAT_PCM, 16),
            "wav-ulaw": (lib.FILE_FORMAT_WAVE, lib.DATA_FORMAT_MULAW, 8),
            "wav-alaw": (lib.FILE_FORMAT_WAVE, lib.DATA_FORMAT_ALAW, 8),
        }
        self.states = {lib.CS_IDLE: "idle", lib.CS_PLAY: "playing", lib.CS_RECD: "recording",
                       lib.CS_DIAL: "dialling", lib.CS_GTDIG: "collecting",
                       lib.CS_TONE: "tone", lib.CS_STOPD: "stopped",
                       lib.CS_CALL: "call_progress"}
        # vendor error code -> exception class, per API family
        self.errors = {
            "dx": {lib.EDX_BUSY: errors.DeviceBusy, lib.EDX_BADPARM: errors.BadParameter,
                   lib.EDX_BADTPT: errors.BadParameter, lib.EDX_BADIOTT: errors.BadParameter,
                   lib.EDX_XPBPARM: errors.BadParameter,
                   lib.EDX_BADWAVEFILE: errors.BadAudioFile,
                   lib.EDX_SH_BADEXTTS: errors.BusMisuse, lib.EDX_SH_LISTEN: errors.BusMisuse,
                   lib.EDX_CLIDINFO: errors.CallerIdUnavailable,
                   lib.EDX_BADDEV: errors.NoSuchDevice},
            "ag": {lib.EDX_SH_BADEXTTS: errors.BusMisuse, lib.EDX_SH_LISTEN: errors.BusMisuse,
                   lib.EDX_BADDEV: errors.NoSuchDevice},
            "dt": {lib.EDT_BUSY: errors.DeviceBusy, lib.EDT_BADDEV: errors.NoSuchDevice,
                   lib.EDT_PARAMERR: errors.BadParameter},
            "ms": {},
            "dcb": {},
        }
        if self.has_extensions:
            # span maintenance, in the words of drivers/interface.py
            self.framings = {lib.DTFR_ESF: "esf", lib.DTFR_D4: "d4", lib.DTFR_E1: "e1",
                             lib.DTFR_E1_CRC4: "e1_crc4"}
            self.codings = {lib.DTCD_B8ZS: "b8zs", lib.DTCD_AMI: "ami", lib.DTCD_HDB3: "hdb3"}
            self.multiframes = {lib.DTMFA_CRC4: "crc4", lib.DTMFA_CAS: "cas"}
            self.clocks = {lib.DTCK_LINE: "line", lib.DTCK_INTERNAL: "internal"}
            self.loopbacks = {"none": lib.DTLB_NONE, "line": lib.DTLB_LINE,
                              "payload": lib.DTLB_PAYLOAD, "local": lib.DTLB_LOCAL}
            self.loop_codes = {"line_up": lib.DTLC_LINEUP, "line_down": lib.DTLC_LINEDOWN,
                               "payload_up": lib.DTLC_PAYLOADUP,
                               "payload_down": lib.DTLC_PAYLOADDOWN}
            self.bert_patterns = {"qrss": lib.DTBT_QRSS, "2^15-1": lib.DTBT_2E15,
                                  "2^20-1": lib.DTBT_2E20, "all_ones": lib.DTBT_ALLONES}
            self.loopback_names = {v: k for k, v in self.loopbacks.items()}
            self.loop_code_names = {v: k for k, v in self.loop_codes.items()}
            self.bert_pattern_names = {v: k for k, v in self.bert_patterns.items()}
            self.r2_modes = {None: lib.DTR2_OFF, "forward": lib.DTR2_FORWARD,
                             "backward": lib.DTR2_BACKWARD}
            self.station_tones = {None: lib.MS_TONE_NONE, "dial": lib.MS_TONE_DIAL,
                                  "ringback": lib.MS_TONE_RINGBACK, "busy": lib.MS_TONE_BUSY,
                                  "reorder": lib.MS_TONE_REORDER}

    def __repr__(self):
        return f"<Binding {self.name}: {BINDINGS[self.name]}>"

    def error_class(self, function, code):
        """The BoardError subclass of a vendor error code from `function`."""
        family = function.split("_")[0].lower() if "_" in function else "dx"
        if family == "atdt":
            family = "dt"
        if family == "dcb":
            return errors.ConferenceError
        if function == "dt_listen" and code == self.lib.EDT_BUSY:
            return errors.DeviceBusy           # a BERT has the timeslot
        if function in ("dt_listen", "ms_listen") and code not in (0,):
            return errors.BusMisuse
        return self.errors.get(family, {}).get(code, errors.BoardError)


@functools.cache
def binding(name="full"):
    """The binding called `name` (BINDINGS), loaded once."""
    try:
        module = importlib.import_module(BINDINGS[name])
    except KeyError:
        raise errors.DriverError(f"binding {name!r} is not one of {', '.join(BINDINGS)}",
                                 function="binding") from None
    except ImportError as e:
        hint = ("a vendor SDK build has the full binding only" if name != "full"
                else "run `make setup` (pip install -e .) first")
        raise ImportError(f"{BINDINGS[name]} is not built: {hint}") from e
    return Binding(name, module)


_FULL = binding("full")
#: The full binding's cffi objects, for the far end (drivers.sim) and tests.
ffi, lib = _FULL.ffi, _FULL.lib
HAS_SIMULATOR = _FULL.has_simulator


@dataclass
class _Operation:
    """An asynchronous operation in flight, and what must outlive it."""

    kind: str               # play, record, digits, dial, tone, hook
    done: str               # the event kind that ends it
    keep: list = field(default_factory=list)
    files: list = field(default_factory=list)
    digits: object = None
    watchdog: object = None
    stopping: bool = False

    def release(self):
        for fd in self.files:
            os.close(fd)
        self.files = []
        self.keep = []
        if self.watchdog is not None and self.watchdog.active():
            self.watchdog.cancel()
        self.watchdog = None


@implementer(IBoardDriver)
class R4Driver:
    """Boards speaking the R4 vendor API (real SDK or the simulator).

    `binding`: the `Binding` to drive them through (the full one by
    default).  `tone_channels`: {tone: voice channel} for each of
    STATION_TONES, to give the phones their tones from voice channels
    (drivers.stationtones); without them the station ports play them
    (ms_settone), and a binding without that call refuses to drive a
    station."""

    family = "r4"

    def __init__(self, clock=None, binding=None, tone_channels=None):
        if clock is None:
            from twisted.internet import reactor as clock
        self.clock = clock
        self._b = binding or _FULL
        self._lib, self._ffi = self._b.lib, self._b.ffi
        self._handles = {}       # name -> handle
        self._names = {}         # handle -> name
        self._info = {}          # name -> DeviceInfo
        self._ops = {}           # name -> _Operation
        self._listen = {}        # name -> slot (to restore after a reset)
        self._line_listen = {}
        self._masks = {}         # name -> (function, args) to restore
        self._subscribers = []
        self._stopped = False    # stop_events: no event delivered, no timer
        self._inventory = None
        self._open_handles = ()  # every open handle, replaced whole: the event thread's
        self._wait_array = ((), None)   # ... and its cffi copy (the event thread's own)
        self._span_alarms = {}   # span -> names of its alarms raised (its events)
        self._e1_spans = set()   # spans that are E1s (dt_getctinfo)
        self._r2_timeslots = set()  # timeslots found fit for R2 MF (_r2_mf_check)
        self._station_tones = {}  # station -> the tone asked for it
        self._rings = {}         # line -> rings of the call ringing now (_ring)
        self._tones = ToneChannels(self, tone_channels) if tone_channels else None

    # -- errors --------------------------------------------------------
    def _check(self, rc, function, name):
        if rc != -1:
            return rc
        lib = self._lib
        handle = self._handles.get(name)
        if handle is None:
            raise errors.NoSuchDevice(self._global_error(), function=function, device=name)
        code = lib.ATDV_LASTERR(handle)
        message = self._ffi.string(lib.ATDV_ERRMSGP(handle)).decode(errors="replace")
        raise self._b.error_class(function, code)(message, code=code, function=function,
                                                  device=name)

    def _global_error(self):
        ffi = self._ffi
        if self._b.has_simulator:
            text = ffi.string(self._lib.simfar_error()).decode(errors="replace")
            if text:
                return text
        return os.strerror(ffi.errno) if ffi.errno else "open failed"

    # -- devices -------------------------------------------------------
    def inventory(self):
        if self._inventory is None:
            self._inventory = self._scan()
        return list(self._inventory)

    def _scan(self):
        lib, ffi = self._lib, self._ffi
        found = []
        count = ffi.new("int *")

        def boards(devclass):
            cls = ffi.new("char[]", devclass.encode())
            if lib.sr_getboardcnt(cls, count) == -1:
                return 0
            return count[0]

        for b in range(1, boards("Voice") + 1):
            board = f"dxxxB{b}"
            n = self._subdevs(board, lib.dx_open, lib.dx_close)
            found.append(DeviceInfo(board, "board", board, None, n))
            for c in range(1, n + 1):
                name = f"{board}C{c}"
                self.open(name)
                analog = lib.ATDX_HOOKST(self._handles[name]) != -1
                found.append(DeviceInfo(name, "voice", board, self.transmit_slot(name)))
                if analog:
                    line_slot = self.line_transmit_slot(name)
                    found.append(DeviceInfo(name + "/line", "line", board, line_slot))
                    # analog boards power up with channel and line hearing each other
                    self._listen.setdefault(name, line_slot)
                    self._line_listen.setdefault(name, self.transmit_slot(name))
        for b in range(1, boards("DTI") + 1):
            span = f"dtiB{b}"
            self.open(span)
            n = lib.ATDV_SUBDEVS(self._handles[span])
            found.append(DeviceInfo(span, "span", span, None, n))
            info = ffi.new("CT_DEVINFO *")
            self._check(lib.dt_getctinfo(self._handles[span], info), "dt_getctinfo", span)
            if info.ct_nettype == lib.CT_NTE1:
                self._e1_spans.add(span)
            for t in range(1, n + 1):
                name = f"{span}T{t}"
                self.open(name)
                found.append(DeviceInfo(name, "timeslot", span, self.transmit_slot(name)))
            if self._b.has_extensions and self._line_state(span)["dchannel"]:
                self.open(f"{span}D")
                found.append(DeviceInfo(f"{span}D", "dchannel", span, None))
        for b in range(1, boards("MSI") + 1):
            board = f"msiB{b}"
            n = self._subdevs(board, lib.ms_open, lib.ms_close)
            found.append(DeviceInfo(board, "board", board, None, n))
            for c in range(1, n + 1):
                name = f"{board}C{c}"
                self.open(name)
                found.append(DeviceInfo(name, "station", board, self.transmit_slot(name)))
        for b in range(1, boards("DCB") + 1):
            board = f"dcbB{b}"
            n = self._subdevs(board, lib.dcb_open, lib.dcb_close)
            found.append(DeviceInfo(board, "board", board, None, n))
            for d in range(1, n + 1):
                name = f"{board}D{d}"
                self.open(name)
                found.append(DeviceInfo(name, "conference", board, None))
        for info in found:
            self._info[info.name] = info
        if self._tones is not None:
            self._tones.check(self._info)
        return found

    def _subdevs(self, board, opener, closer):
        h = opener(board.encode(), 0)
        if h == -1:
            return 0
        n = self._lib.ATDV_SUBDEVS(h)
        closer(h)
        return max(n, 0)

    @staticmethod
    def _dti_kind(name):
        """span, timeslot or dchannel: what a DTI device name names."""
        m = DTI_DEVICE.match(name)
        if m is None:
            raise errors.NoSuchDevice(f"'{name}' is not a DTI device name (dtiBn, dtiBnTm, "
                                      "dtiBnD)", function="open", device=name)
        return "timeslot" if m.group(1) else "dchannel" if m.group(2) else "span"

    def _span_of(self, name):
        """The span of a DTI device: dtiB2 of dtiB2T5."""
        return re.match(r"dtiB[0-9]+", name).group(0)

    @staticmethod
    def _family(name):
        for prefix, family in (("dxxx", "dx"), ("dti", "dt"), ("msi", "ms"), ("dcb", "dcb")):
            if name.startswith(prefix):
                return family
        raise errors.NoSuchDevice(f"'{name}' is not a device name (dxxx.., dti.., msi.., "
                                  "dcb..)", function="open", device=name)

    _OPEN = {"dx": "dx_open", "dt": "dt_open", "ms": "ms_open", "dcb": "dcb_open"}
    _CLOSE = {"dx": "dx_close", "dt": "dt_close", "ms": "ms_close", "dcb": "dcb_close"}

    def open(self, name):
        if name in self._handles:
            return
        family = self._family(name)
        function = self._OPEN[family]
        h = getattr(self._lib, function)(name.encode(), 0)
        if h == -1:
            raise errors.NoSuchDevice(self._global_error(), function=function, device=name)
        self._handles[name] = h
        self._names[h] = name
        self._open_handles += (h,)

    def close(self, name):
        h = self._handle(name)
        op = self._ops.pop(name, None)
        if op:
            op.release()
        getattr(self._lib, self._CLOSE[self._family(name)])(h)
        del self._handles[name]
        del self._names[h]
        self._open_handles = tuple(self._names)
        self._listen.pop(name, None)
        self._line_listen.pop(name, None)
        self._masks.pop(name, None)
        self._station_tones.pop(name, None)

    def reset(self, name):
        listen = self._listen.get(name)
        line_listen = self._line_listen.get(name)
        masks = dict(self._masks.get(name, {}))
        op = self._ops.pop(name, None)
        if op:
            op.release()
        h = self._handle(name)
        getattr(self._lib, self._CLOSE[self._family(name)])(h)
        del self._handles[name]
        del self._names[h]
        self._open_handles = tuple(self._names)
        self.open(name)
        heard = listen if listen is not None else self._tone_slot(name)
        if heard is not None:
            self._board_listen(name, heard)
        if line_listen is not None:
            self.line_listen(name, line_listen)
        for function, args in masks.values():
            self._check(getattr(self._lib, function)(self._handles[name], *args), function, name)
        self._masks[name] = masks
        log.warn("{device} reset to recover it", device=name)

    def _handle(self, name):
        try:
            return self._handles[name]
        except KeyError:
            raise errors.NoSuchDevice("device is not open", function="driver",
                                      device=name) from None

    def _remember_mask(self, name, key, function, *args):
        self._masks.setdefault(name, {})[key] = (function, args)

    def status(self, name):
        lib = self._lib
        h = self._handle(name)
        family = self._family(name)
        facts = {"name": name, "open": True}
        info = self._info.get(name)
        if info is not None:
            facts["kind"] = info.kind
            facts["slot"] = info.slot
        facts["listen"] = self._listen.get(name)
        if family == "dx":
            facts["state"] = self._b.states.get(lib.ATDX_STATE(h), "unknown")
            facts["busy_with"] = self._ops[name].kind if name in self._ops else None
            hook = lib.ATDX_HOOKST(h)
            if hook != -1:
                bits = lib.ATDX_LINEST(h)
                facts.update(hook="off" if hook == lib.DX_OFFHOOK else "on",
                             loop_current=bool(bits & lib.RLS_LCSENSE),
                             ringing=bool(bits & lib.RLS_RING),
                             polarity_reversed=bool(bits & lib.RLS_POLARITY),
                             line_listen=self._line_listen.get(name))
        elif family == "dt" and self._dti_kind(name) == "timeslot":
            ours, theirs = self.abcd(name)
            width = 4 if self._span_of(name) in self._e1_spans else 2
            facts.update(tx_bits=ours[:width], rx_bits=theirs[:width])
        elif family == "dt" and self._dti_kind(name) == "span":
            facts["alarms"] = sorted(self.alarms(name))
            facts["type"] = "e1" if name in self._e1_spans else "t1"
            if self._b.has_extensions:
                facts.update(self._line_state(name))
        elif family == "ms":
            facts["hook"] = "off" if self.station_offhook(name) else "on"
            facts["tone"] = self._station_tones.get(name)
        elif family == "dcb":
            facts["free_parties"] = self.conference_room(name)
        return facts

    # -- events --------------------------------------------------------
    @property
    def event_source(self):
        """descriptor with the simulator's sr_getevtfd, else thread."""
        return "thread" if self.fileno() is None else "descriptor"

    def fileno(self):
        if not self._b.has_extensions:
            return None          # the vendor's way: drivers.pump.EventThread
        fd = self._lib.sr_getevtfd()
        return fd if fd >= 0 else None

    def subscribe(self, callback):
        self._subscribers.append(callback)

    def stop_events(self):
        """The operations' watchdogs and the station tones' cadences
        stopped; events still taken from the boards reach no subscriber."""
        self._stopped = True
        for op in self._ops.values():
            if op.watchdog is not None and op.watchdog.active():
                op.watchdog.cancel()
            op.watchdog = None
        if self._tones is not None:
            self._tones.stop()

    def poll(self):
        raw = []
        while self._lib.sr_waitevt(0) != -1:
            raw.append(self._copy_event(0))
        return self.deliver(raw)

    def wait_events(self, timeout_ms):
        """The event thread's wait: block up to `timeout_ms` in sr_waitevtEx
        for an event of an open device, then take the others pending (up to
        WAIT_BATCH in all).  Returns raw events (handle, type, data), copied
        before the next wait as the vendor requires, for `deliver` on the
        reactor's thread.  It touches the library and the tuple of open
        handles (replaced whole), nothing else of the driver."""
        ffi = self._ffi
        handles = self._open_handles
        if self._wait_array[0] is not handles:
            self._wait_array = (handles, ffi.new("long[]", handles))
        array, evh = self._wait_array[1], ffi.new("long *")
        raw, timeout = [], timeout_ms
        while len(raw) < WAIT_BATCH and self._lib.sr_waitevtEx(array, len(handles), timeout,
                                                               evh) != -1:
            raw.append(self._copy_event(evh[0]))
            timeout = 0
        return raw

    def _copy_event(self, evh):
        lib, ffi = self._lib, self._ffi
        datap, length = lib.sr_getevtdatap(evh), lib.sr_getevtlen(evh)
        data = ffi.buffer(datap, length)[:] if datap != ffi.NULL and length > 0 else b""
        return lib.sr_getevtdev(evh), lib.sr_getevttype(evh), data

    def deliver(self, raw):
        """Translate raw events (`poll`'s, `wait_events`') and hand each to the
        subscribers; the list of Event."""
        events = [e for e in (self._translate(*r) for r in raw) if e is not None]
        for event in events:
            self._emit(event)
        return events

    def _emit(self, event):
        if self._stopped:
            return
        if self._tones is not None and self._tones.owns(event.device):
            self._tones.handle(event)       # a station tone's own cadence
            return
        for callback in list(self._subscribers):
            callback(event)

    def _finish(self, name, kind, **data):
        op = self._ops.pop(name, None)
        if op is not None:
            op.release()
        return Event(name, kind, data)

    def _reasons(self, h):
        mask = self._lib.ATDX_TERMMSK(h)
        reasons = frozenset(r for bit, r in self._b.term_bits if mask & bit)
        return reasons or frozenset({"normal"})

    def _ring(self, name, data):
        """The count of a ring, 1, 2, ... for one call's rings, from 1 again
        for the next call's (drivers/interface.py): the board's own in
        cst_data where it gives one (ours does, from 1 for each call), else
        counted here (SR 5.1.1 documents no count for DE_RINGS: 0), from 1
        after a DE_RNGOFF or a hook change."""
        count = data if data > 0 else self._rings.get(name, 0) + 1
        self._rings[name] = count
        return count

    def _translate(self, h, evtype, data):
        lib, ffi = self._lib, self._ffi
        name = self._names.get(h)
        if name is None:
            return None
        datap = ffi.from_buffer(data)
        if evtype == lib.TDX_CST:
            cst = ffi.cast("DX_CST *", datap)
            return self._cst_event(name, cst.cst_event, cst.cst_data)
        if evtype in (lib.TDX_PLAY, lib.TDX_RECORD, lib.TDX_PLAYTONE):
            kind = {lib.TDX_PLAY: "play_done", lib.TDX_RECORD: "record_done",
                    lib.TDX_PLAYTONE: "tone_done"}[evtype]
            return self._finish(name, kind, reasons=self._reasons(h))
        if evtype == lib.TDX_GETDIG:
            op = self._ops.get(name)
            digits = ffi.string(op.digits.dg_value).decode() if op and op.digits else ""
            return self._finish(name, "digits_done", digits=digits, reasons=self._reasons(h))
        if evtype == lib.TDX_DIAL:
            return self._finish(name, "dial_done", result=None, connect_type=None)
        if evtype == lib.TDX_CALLP:
            result = self._b.cp_results.get(lib.ATDX_CPTERM(h), "error")
            return self._finish(name, "dial_done", result=result,
                                connect_type=self._b.conntypes.get(lib.ATDX_CONNTYPE(h)))
        if evtype == lib.TDX_SETHOOK:
            cst = ffi.cast("DX_CST *", datap)
            self._rings.pop(name, None)
            return self._finish(name, "hook_done", offhook=cst.cst_event == lib.DX_OFFHOOK)
        if evtype == lib.TDX_NOSTOP:
            return Event(name, "nothing_to_stop")
        if evtype == lib.DTEV_SIG:
            return self._signalling_event(name, ffi.cast("unsigned short *", datap)[0])
        if evtype == lib.DTEV_WINKCPLT:
            return Event(name, "wink_done")
        if self._b.has_extensions and evtype == lib.DTEV_DCHAN:
            return self._dchannel_frame(name)
        if self._b.has_extensions and evtype == lib.DTEV_R2MF:
            return Event(name, "r2_mf", {"signal": ffi.cast("unsigned short *", datap)[0]})
        if evtype == lib.DTEV_T1ERRC:
            code = ffi.cast("unsigned short *", datap)[0]
            raised = code < lib.DTT1_CLEARED
            alarm = self._alarm_names(name).get(code if raised else code - lib.DTT1_CLEARED,
                                                f"code{code}")
            active = self._span_alarms.setdefault(name, set())
            (active.add if raised else active.discard)(alarm)
            return Event(name, "alarm", {"alarm": alarm, "raised": raised})
        if evtype == lib.MSEV_SIGEVT:
            what = ffi.cast("unsigned short *", datap)[0]
            if what & lib.MSMM_HOOKFLASH:
                return Event(name, "station_flash")
            return Event(name, "station_hook", {"offhook": bool(what & lib.MSMM_OFFHOOK)})
        if evtype == lib.MSEV_RING:
            return Event(name, "station_answered")
        if evtype == lib.MSEV_NORING:
            return Event(name, "station_ring_done")
        return Event(name, "unknown", {"type": evtype})

    def _signalling_event(self, name, mask):
        """DTEV_SIG: the far end's bits now, and which changed (C and D on E1)."""
        letters = "abcd" if self._span_of(name) in self._e1_spans else "ab"
        changed = {f"{x}_{way}" for x, masks in zip(letters, self._b.bit_masks, strict=False)
                   for way, m in zip(("on", "off"), masks, strict=True) if mask & m == m}
        if mask & self._lib.DTMM_WINK:
            changed.add("wink")
        _, theirs = self.abcd(name)
        return Event(name, "signalling", {**{x: int(theirs[k]) for k, x in enumerate(letters)},
                                          "changed": frozenset(changed)})

    def _dchannel_frame(self, name):
        """DTEV_DCHAN: the frame that arrived (None if the device was
        reopened since and it is gone)."""
        buf = self._ffi.new("char[]", self._lib.DT_DCHAN_MAX)
        n = self._check(self._lib.dt_dchanread(self._handle(name), buf, len(buf)),
                        "dt_dchanread", name)
        return Event(name, "dchannel_frame", {"frame": self._ffi.buffer(buf, n)[:]}) if n \
            else None

    def _alarm_names(self, span):
        return self._b.e1_alarms if span in self._e1_spans else self._b.alarms

    def _cst_event(self, name, event, data):
        lib = self._lib
        if event == lib.DE_RINGS:
            return Event(name, "ring", {"count": self._ring(name, data)})
        if event == lib.DE_RNGOFF:
            self._rings.pop(name, None)
            return Event(name, "ring_stopped")
        if event in (lib.DE_LCON, lib.DE_LCOF):
            return Event(name, "loop_current", {"on": event == lib.DE_LCON, "ms": data * 10})
        if event == lib.DE_LCREV:
            return Event(name, "polarity_reversed")
        if event == lib.DE_DIGITS:
            kind = "mf" if (data >> 8) == lib.DG_MF else "dtmf"
            return Event(name, "digit", {"digit": chr(data & 0xFF), "type": kind})
        if event in (lib.DE_TONEON, lib.DE_TONEOFF):
            return Event(name, "tone", {"tone": self._b.tone_names.get(data, str(data)),
                                        "on": event == lib.DE_TONEON})
        if event in (lib.DE_SILON, lib.DE_SILOF):
            return Event(name, "silence", {"on": event == lib.DE_SILON})
        return Event(name, "unknown", {"cst_event": event, "cst_data": data})

    # -- watchdog ------------------------------------------------------
    def _start(self, name, op, watchdog_ms):
        self._ops[name] = op
        op.watchdog = self.clock.callLater(watchdog_ms / 1000.0, self._expired, name, op)

    def _expired(self, name, op):
        lib = self._lib
        if self._ops.get(name) is not op:
            return
        if not op.stopping:
            op.stopping = True
            log.warn("{device}: {op} overran its watchdog; stopping it", device=name, op=op.kind)
            lib.dx_stopch(self._handles[name], lib.EV_ASYNC)
            op.watchdog = self.clock.callLater(STOP_GRACE_MS / 1000.0, self._expired, name, op)
            return
        log.error("{device}: {op} is hung; resetting the device", device=name, op=op.kind)
        self.reset(name)
        self._emit(Event(name, op.done, hung_data(op.done)))
        self._emit(Event(name, "operation_failed", {"op": op.kind, "reason": "hung"}))

    # -- termination tables --------------------------------------------
    def _time(self, ms):
        """(length, flags) for a time: 10 ms units when they fit."""
        if ms < 0:
            raise errors.BadParameter(f"time {ms} ms is negative", function="DV_TPT")
        if ms <= 655_350:
            return max(1, round(ms / 10)), self._lib.TF_10MS
        if ms <= 6_553_500:
            return round(ms / 100), 0
        raise errors.BadParameter(f"time {ms} ms is longer than the board's 6553 s",
                                  function="DV_TPT")

    @staticmethod
    def _cap_time(ms, what):
        """A DX_CAP time: always 10 ms units, at most 655.35 s."""
        if not 0 < ms <= 655_350:
            raise errors.BadParameter(f"call progress {what} = {ms} ms is outside "
                                      "10..655350 ms", function="dx_dial")
        return max(1, round(ms / 10))

    def _tpt(self, termination):
        lib = self._lib
        if termination is None or termination.is_empty():
            return None
        t = termination
        rows = []
        if t.max_digits:
            if not 1 <= t.max_digits <= lib.LEN_DIGBUF:
                raise errors.BadParameter(
                    f"max_digits {t.max_digits}: the board buffers 1..{lib.LEN_DIGBUF}",
                    function="DV_TPT")
            rows.append((lib.DX_MAXDTMF, t.max_digits, 0, 0))
        if t.terminators:
            mask = 0
            for d in t.terminators:
                bit = {"*": lib.DM_S, "#": lib.DM_P, "A": lib.DM_A, "B": lib.DM_B,
                       "C": lib.DM_C, "D": lib.DM_D}.get(d)
                if bit is None and d.isdigit():
                    bit = getattr(lib, f"DM_{d}")
                if bit is None:
                    raise errors.BadParameter(f"terminator {d!r} is not a DTMF digit",
                                              function="DV_TPT")
                mask |= bit
            rows.append((lib.DX_DIGMASK, mask, 0, 0))
        for ms, termno, extra in ((t.max_time_ms, lib.DX_MAXTIME, 0),
                                  (t.inter_digit_ms, lib.DX_IDDTIME,
                                   0 if t.inter_digit_from_start else lib.TF_FIRST),
                                  (t.max_silence_ms, lib.DX_MAXSIL, 0),
                                  (t.max_nonsilence_ms, lib.DX_MAXNOSIL, 0),
                                  (t.loop_off_ms, lib.DX_LCOFF, 0)):
            if ms:
                length, flags = self._time(ms)
                rows.append((termno, length, flags | extra, 0))
        if t.tone:
            if t.tone not in self._b.tone_ids:
                raise errors.BadParameter(
                    f"tone {t.tone!r} is not one of {sorted(self._b.tone_ids)}",
                    function="DV_TPT")
            rows.append((lib.DX_TONE, 0, 0, self._b.tone_ids[t.tone]))
        tpt = self._ffi.new("DV_TPT[]", len(rows))
        for i, (termno, length, flags, data) in enumerate(rows):
            tpt[i].tp_type = lib.IO_EOT if i == len(rows) - 1 else lib.IO_CONT
            tpt[i].tp_termno = termno
            tpt[i].tp_length = length
            tpt[i].tp_flags = flags
            tpt[i].tp_data = data
        return tpt

    # -- the bus -------------------------------------------------------
    def _slot(self, function, name, h):
        ffi = self._ffi
        arr = ffi.new("long[1]")
        ts = ffi.new("SC_TSINFO *", {"sc_numts": 1, "sc_tsarrayp": arr})
        self._check(getattr(self._lib, function)(h, ts), function, name)
        return int(arr[0])

    def _bus_function(self, name, verb):
        family = self._family(name)
        if family == "dcb":
            raise errors.BadParameter("a conference DSP has no single bus connection",
                                      function=verb, device=name)
        if family == "dt" and self._dti_kind(name) != "timeslot":
            raise errors.BadParameter("a span or a D-channel has no bus connection: use its "
                                      "timeslots", function=verb, device=name)
        return f"{family}_{verb}"

    def transmit_slot(self, name):
        return self._slot(self._bus_function(name, "getxmitslot"), name, self._handle(name))

    def listen(self, name, slot):
        tone = self._tone_slot(name)        # a phone's tone gives way to its route
        if tone is not None:
            self._board_unlisten(name)
        try:
            self._board_listen(name, slot)
        except errors.DriverError:
            if tone is not None:
                self._board_listen(name, tone)
            raise
        self._listen[name] = slot

    def unlisten(self, name):
        self._board_unlisten(name)
        self._listen.pop(name, None)
        tone = self._tone_slot(name)        # and comes back when the route goes
        if tone is not None:
            self._board_listen(name, tone)

    def _board_listen(self, name, slot):
        ffi = self._ffi
        function = self._bus_function(name, "listen")
        arr = ffi.new("long[1]", [slot])
        ts = ffi.new("SC_TSINFO *", {"sc_numts": 1, "sc_tsarrayp": arr})
        self._check(getattr(self._lib, function)(self._handle(name), ts), function, name)

    def _board_unlisten(self, name):
        function = self._bus_function(name, "unlisten")
        self._check(getattr(self._lib, function)(self._handle(name)), function, name)

    def line_transmit_slot(self, name):
        return self._slot("ag_getxmitslot", name, self._handle(name))

    def line_listen(self, name, slot):
        ffi = self._ffi
        arr = ffi.new("long[1]", [slot])
        ts = ffi.new("SC_TSINFO *", {"sc_numts": 1, "sc_tsarrayp": arr})
        self._check(self._lib.ag_listen(self._handle(name), ts), "ag_listen", name)
        self._line_listen[name] = slot

    def line_unlisten(self, name):
        self._check(self._lib.ag_unlisten(self._handle(name)), "ag_unlisten", name)
        self._line_listen.pop(name, None)

    # -- voice channels ------------------------------------------------
    def enable_events(self, name, kinds):
        mask = 0
        for kind in kinds:
            if kind not in self._b.cst_masks:
                raise errors.BadParameter(
                    f"event {kind!r} is not one of {sorted(self._b.cst_masks)}",
                    function="dx_setevtmsk", device=name)
            mask |= self._b.cst_masks[kind]
        self._check(self._lib.dx_setevtmsk(self._handle(name), mask), "dx_setevtmsk", name)
        self._remember_mask(name, "cst", "dx_setevtmsk", mask)

    def set_silence_level(self, name, dbm0):
        low, high = SILENCE_DBM0_RANGE
        if not self._b.has_silence_threshold:
            raise errors.DriverNotSupported(
                "the vendor's headers define no silence threshold parameter "
                "(DXCH_SILENCETHRESH): the board's own level stays",
                function="dx_setparm", device=name)
        if not isinstance(dbm0, int) or isinstance(dbm0, bool) or not low <= dbm0 <= high:
            raise errors.BadParameter(f"silence level {dbm0!r} dBm0 is not an integer from "
                                      f"{low} to {high}", function="dx_setparm", device=name)
        value = self._ffi.new("int *", dbm0)
        self._check(self._lib.dx_setparm(self._handle(name), self._lib.DXCH_SILENCETHRESH,
                                         value), "dx_setparm", name)
        self._remember_mask(name, "silence_level", "dx_setparm", self._lib.DXCH_SILENCETHRESH,
                            value)

    def _busy(self, name, function):
        if name in self._ops:
            raise errors.DeviceBusy(f"{self._ops[name].kind} in progress", function=function,
                                    device=name)

    def set_hook(self, name, offhook):
        lib = self._lib
        h = self._handle(name)
        self._busy(name, "dx_sethook")
        op = _Operation("hook", "hook_done")
        state = lib.DX_OFFHOOK if offhook else lib.DX_ONHOOK
        self._check(lib.dx_sethook(h, state, lib.EV_ASYNC), "dx_sethook", name)
        self._start(name, op, 5_000)

    def _iott(self, prompts, name, function):
        """DX_IOTT chain and DX_XPB for a list of Prompt; one format for all."""
        lib, ffi = self._lib, self._ffi
        if not prompts:
            raise errors.BadParameter("nothing to play", function=function, device=name)
        iott = ffi.new("DX_IOTT[]", len(prompts))
        op_files, keep, fmt = [], [iott], None
        try:
            for i, prompt in enumerate(prompts):
                this = self._prompt_format(prompt, name, function)
                if fmt is not None and this != fmt:
                    raise errors.BadParameter(
                        f"prompts of one play must share a format: {fmt} then {this}",
                        function=function, device=name)
                fmt = this
                if isinstance(prompt.source, bytes):
                    buf = ffi.from_buffer(prompt.source)
                    keep.append(buf)
                    iott[i].io_type = lib.IO_MEM
                    iott[i].io_bufp = ffi.cast("char *", buf)
                    iott[i].io_length = len(prompt.source)
                else:
                    try:
                        fd = os.open(prompt.source, os.O_RDONLY)
                    except OSError as e:
                        raise errors.BadParameter(f"cannot open {prompt.source}: {e.strerror}",
                                                  function=function, device=name) from None
                    op_files.append(fd)
                    iott[i].io_type = lib.IO_DEV
                    iott[i].io_fhandle = fd
                    iott[i].io_length = -1
                iott[i].io_offset = 0
                iott[i].io_type |= lib.IO_EOT if i == len(prompts) - 1 else lib.IO_CONT
        except BaseException:
            for fd in op_files:
                os.close(fd)
            raise
        return iott, self._xpb(fmt), keep, op_files, fmt

    def _prompt_format(self, prompt, name, function):
        if prompt.fmt != "wav":
            if prompt.fmt not in self._b.formats:
                raise errors.BadParameter(
                    f"format {prompt.fmt!r} is not wav, {', '.join(self._b.formats)}",
                    function=function, device=name)
            return prompt.fmt
        try:
            if isinstance(prompt.source, bytes):
                header, where = prompt.source[:4096], "the prompt in memory"
            else:
                with open(prompt.source, "rb") as f:
                    header, where = f.read(4096), prompt.source
            return "wav-" + wav_format(header, where)
        except (OSError, WavFormatError) as e:
            raise errors.BadAudioFile(str(e), function=function, device=name) from None

    def _xpb(self, fmt):
        file_format, data_format, bits = self._b.formats[fmt]
        return self._ffi.new("DX_XPB *", {"wFileFormat": file_format,
                                          "wDataFormat": data_format,
                                          "nSamplesPerSec": self._lib.DRT_8KHZ,
                                          "wBitsPerSample": bits})

    def play(self, name, prompts, termination=None, watchdog_ms=None):
        lib = self._lib
        h = self._handle(name)
        self._busy(name, "dx_playiottdata")
        iott, xpb, keep, files, fmt = self._iott(prompts, name, "dx_playiottdata")
        tpt = self._tpt(termination)
        op = _Operation("play", "play_done", keep + [xpb, tpt], files)
        try:
            self._check(lib.dx_playiottdata(h, iott, tpt if tpt is not None else self._ffi.NULL,
                                            xpb, lib.EV_ASYNC), "dx_playiottdata", name)
        except errors.DriverError:
            op.release()
            raise
        size = sum(os.fstat(fd).st_size for fd in files) + sum(
            len(p.source) for p in prompts if isinstance(p.source, bytes))
        audio_ms = size // self._b.formats[fmt][2]       # 8 kHz: a ms is as many bytes as bits
        self._start(name, op, deadline_ms(termination, watchdog_ms, audio_ms))

    def record(self, name, path, fmt, termination, watchdog_ms=None):
        lib = self._lib
        h = self._handle(name)
        self._busy(name, "dx_reciottdata")
        if fmt == "wav":
            fmt = "wav-pcm16"
        if fmt not in self._b.formats:
            raise errors.BadParameter(f"format {fmt!r} is not one of {sorted(self._b.formats)}",
                                      function="dx_reciottdata", device=name)
        if termination is None or termination.is_empty():
            raise errors.BadParameter("a recording needs a termination (it would never end)",
                                      function="dx_reciottdata", device=name)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        except OSError as e:
            raise errors.BadParameter(f"cannot create {path}: {e.strerror}",
                                      function="dx_reciottdata", device=name) from None
        iott = self._ffi.new("DX_IOTT *", {"io_type": lib.IO_DEV | lib.IO_EOT,
                                           "io_fhandle": fd, "io_length": -1})
        xpb, tpt = self._xpb(fmt), self._tpt(termination)
        op = _Operation("record", "record_done", [iott, xpb, tpt], [fd])
        try:
            self._check(lib.dx_reciottdata(h, iott, tpt, xpb, lib.EV_ASYNC),
                        "dx_reciottdata", name)
        except errors.DriverError:
            op.release()
            raise
        self._start(name, op, deadline_ms(termination, watchdog_ms))

    def collect_digits(self, name, termination, watchdog_ms=None):
        lib = self._lib
        h = self._handle(name)
        self._busy(name, "dx_getdig")
        tpt = self._tpt(termination)
        if tpt is None:
            raise errors.BadParameter("collecting digits needs a termination",
                                      function="dx_getdig", device=name)
        digits = self._ffi.new("DV_DIGIT *")
        op = _Operation("digits", "digits_done", [tpt], digits=digits)
        self._check(lib.dx_getdig(h, tpt, digits, lib.EV_ASYNC), "dx_getdig", name)
        self._start(name, op, deadline_ms(termination, watchdog_ms))

    def clear_digits(self, name):
        self._check(self._lib.dx_clrdigbuf(self._handle(name)), "dx_clrdigbuf", name)

    def set_digit_types(self, name, dtmf=True, mf=False):
        lib = self._lib
        mask = (lib.D_DTMF if dtmf else 0) | (lib.D_MF if mf else 0)
        self._check(lib.dx_setdigtyp(self._handle(name), mask), "dx_setdigtyp", name)
        self._remember_mask(name, "digtyp", "dx_setdigtyp", mask)

    def dial(self, name, digits, call_progress=None, watchdog_ms=None):
        lib, ffi = self._lib, self._ffi
        h = self._handle(name)
        self._busy(name, "dx_dial")
        mode = lib.EV_ASYNC
        cap = ffi.NULL
        if call_progress is not None:
            mode |= lib.DX_CALLP
            cap = ffi.new("DX_CAP *")
            lib.dx_clrcap(cap)
            cp = call_progress
            if cp.rings_before_no_answer:
                cap.ca_nbrdna = cp.rings_before_no_answer
            if cp.no_signal_ms:
                cap.ca_cnosig = self._cap_time(cp.no_signal_ms, "no_signal_ms")
            if cp.no_answer_ms:
                cap.ca_noanswer = self._cap_time(cp.no_answer_ms, "no_answer_ms")
            if cp.check_dial_tone_ms:
                cap.ca_dtn_npres = self._cap_time(cp.check_dial_tone_ms, "check_dial_tone_ms")
        op = _Operation("dial", "dial_done", [cap])
        self._check(lib.dx_dial(h, digits.encode(), cap, mode), "dx_dial", name)
        analysis = 0
        if call_progress is not None:       # the board's defaults where none is given
            cp = call_progress
            analysis = (cp.check_dial_tone_ms or 5_000) + (cp.no_signal_ms or 5_000) + (
                cp.no_answer_ms or 30_000)
        budget = watchdog_ms or (len(digits) * DIAL_DIGIT_MS + analysis + OPERATION_GRACE_MS)
        self._start(name, op, budget)

    def play_tone(self, name, freq1, freq2=0, level_db=-13, duration_ms=None,
                  termination=None, watchdog_ms=None):
        lib, ffi = self._lib, self._ffi
        h = self._handle(name)
        self._busy(name, "dx_playtone")
        gen = ffi.new("TN_GEN *")
        dur = -1 if duration_ms is None else max(1, round(duration_ms / 10))
        lib.dx_bldtngen(gen, freq1, freq2, level_db, level_db, dur)
        tpt = self._tpt(termination)
        op = _Operation("tone", "tone_done", [gen, tpt])
        self._check(lib.dx_playtone(h, gen, tpt if tpt is not None else ffi.NULL,
                                    lib.EV_ASYNC), "dx_playtone", name)
        budget = deadline_ms(termination, watchdog_ms, duration_ms)
        self._start(name, op, budget)

    def busy(self, name):
        return name in self._ops

    def stop(self, name):
        """Stop the running operation; one the board does not stop within
        STOP_GRACE_MS is hung (the device reset, as by the watchdog)."""
        lib = self._lib
        h = self._handle(name)
        self._check(lib.dx_stopch(h, lib.EV_ASYNC), "dx_stopch", name)
        op = self._ops.get(name)
        if op is not None and not op.stopping:
            op.stopping = True
            if op.watchdog is not None and op.watchdog.active():
                op.watchdog.cancel()
            op.watchdog = self.clock.callLater(STOP_GRACE_MS / 1000.0, self._expired, name, op)

    def caller_id(self, name):
        lib, ffi = self._lib, self._ffi
        h = self._handle(name)
        buf = ffi.new("unsigned char[128]")

        def get(info, required=True):
            rc = lib.dx_gtextcallid(h, info, buf)
            if rc == -1 and not required:
                return ""
            self._check(rc, "dx_gtextcallid", name)
            return ffi.string(ffi.cast("char *", buf)).decode(errors="replace")

        number = get(lib.CLIDINFO_CALLID)
        return CallerId(number=number, name=get(lib.MCLASS_NAME, required=False),
                        datetime=get(lib.MCLASS_DATETIME, required=False),
                        frame=get(lib.CLIDINFO_FRAMETYPE, required=False))

    # -- T1 and E1 trunks ----------------------------------------------
    def enable_signalling_events(self, name):
        lib = self._lib
        mask = lib.DTMM_WINK
        for on, off in self._b.bit_masks:
            mask |= on | off
        self._check(lib.dt_setevtmsk(self._handle(name), lib.DTG_SIGEVT, mask, lib.DTA_SETMSK),
                    "dt_setevtmsk", name)
        self._remember_mask(name, "sig", "dt_setevtmsk", lib.DTG_SIGEVT, mask, lib.DTA_SETMSK)

    def set_bits(self, name, a, b, c=None, d=None):
        bits = 0
        for value, (on, off) in zip((a, b, c, d), self._b.bit_sets, strict=True):
            if value is not None:
                bits |= on if value else off
        self._check(self._lib.dt_settssigsim(self._handle(name), bits), "dt_settssigsim", name)

    def wink(self, name):
        lib = self._lib
        self._check(lib.dt_xmitwink(self._handle(name), lib.EV_ASYNC), "dt_xmitwink", name)

    def bits(self, name):
        ours, theirs = self.abcd(name)
        return (int(ours[0]), int(ours[1])), (int(theirs[0]), int(theirs[1]))

    def abcd(self, name):
        v = self._check(self._lib.ATDT_TSSGBIT(self._handle(name)), "ATDT_TSSGBIT", name)
        return tuple("".join("1" if v & pair[side] else "0" for pair in self._b.bits_read)
                     for side in (0, 1))

    def dchannel_send(self, name, frame):
        self._maintenance("dt_dchanwrite", name)
        if self._family(name) != "dt" or self._dti_kind(name) != "dchannel":
            raise errors.BadParameter("not a D-channel (dtiBnD)", function="dt_dchanwrite",
                                      device=name)
        self._check(self._lib.dt_dchanwrite(self._handle(name), frame, len(frame)),
                    "dt_dchanwrite", name)

    def r2_mf_mode(self, name, mode):
        self._r2_mf_check("dt_r2mfmode", name)
        code = self._choose(self._b.r2_modes, mode, "R2 MF mode", "dt_r2mfmode", name)
        self._check(self._lib.dt_r2mfmode(self._handle(name), code), "dt_r2mfmode", name)

    def r2_mf_send(self, name, signal):
        self._r2_mf_check("dt_r2mfsend", name)
        self._check(self._lib.dt_r2mfsend(self._handle(name), signal), "dt_r2mfsend", name)

    def _r2_mf_check(self, function, name):
        if name in self._r2_timeslots:
            return
        if not self._b.has_extensions:
            raise errors.DriverNotSupported(
                "not in the vendor's API (the simulator's addition): no R2 MF "
                "transceiver on these boards' timeslots", function=function, device=name)
        if self._family(name) != "dt" or self._dti_kind(name) != "timeslot":
            raise errors.BadParameter("not a timeslot (dtiBnTm)", function=function,
                                      device=name)
        self._r2_timeslots.add(name)

    def enable_alarm_events(self, span):
        lib = self._lib
        mask = self._b.e1_alarm_mask if span in self._e1_spans else self._b.t1_alarm_mask
        self._check(lib.dt_setevtmsk(self._handle(span), lib.DTG_T1ERREVT, mask,
                                     lib.DTA_SETMSK), "dt_setevtmsk", span)
        self._remember_mask(span, "alarm", "dt_setevtmsk", lib.DTG_T1ERREVT, mask,
                            lib.DTA_SETMSK)

    def alarms(self, span):
        """The board's own answer (ATDT_ALARMS) with the simulator's additions;
        else what the span's DTEV_T1ERRC events said since they were enabled
        (the vendor's API has no query: an alarm up before then shows at its
        next event, as the board sends it)."""
        h = self._handle(span)
        if not self._b.has_extensions:
            return frozenset(self._span_alarms.get(span, ()))
        bits = self._check(self._lib.ATDT_ALARMS(h), "ATDT_ALARMS", span)
        return frozenset(n for code, n in self._alarm_names(span).items() if bits & (1 << code))

    # -- T1 span maintenance -------------------------------------------
    def _maintenance(self, function, name):
        """Span maintenance and the D-channel are the simulator's additions to
        dtilib.h."""
        if not self._b.has_extensions:
            raise errors.DriverNotSupported(
                "not in the vendor's API (the simulator's addition): span counters, "
                "loopbacks, loop codes, BERTs and D-channel frames are not available on "
                "these boards", function=function, device=name)

    @staticmethod
    def _choose(table, key, what, function, name):
        try:
            return table[key]
        except KeyError:
            raise errors.BadParameter(f"{what} {key!r} is not one of "
                                      f"{', '.join(map(str, table))}",
                                      function=function, device=name) from None

    def _span(self, name, function):
        """The handle of an open span (BadParameter for another device)."""
        self._maintenance(function, name)
        if self._family(name) != "dt" or self._dti_kind(name) != "span":
            raise errors.BadParameter("not a span (dtiBn)", function=function, device=name)
        return self._handle(name)

    def _line_state(self, span):
        h = self._span(span, "dt_getlinestate")
        state = self._ffi.new("DT_LINESTATE *")
        self._check(self._lib.dt_getlinestate(h, state), "dt_getlinestate", span)
        b = self._b
        facts = {"framing": b.framings[state.dl_framing], "coding": b.codings[state.dl_coding],
                 "clock": b.clocks[state.dl_clock],
                 "loopback": b.loopback_names[state.dl_loopback],
                 "loop_code": b.loop_code_names.get(state.dl_loopcode),
                 "dchannel": f"{span}D" if state.dl_dchannel else None}
        if span in self._e1_spans:
            facts["multiframes_lost"] = [name for bit, name in b.multiframes.items()
                                         if state.dl_mfalost & bit]
        return facts

    def span_counters(self, span):
        h = self._span(span, "dt_getcounters")
        c = self._ffi.new("DT_COUNTERS *")
        self._check(self._lib.dt_getcounters(h, c), "dt_getcounters", span)
        return {"bpv": c.dc_bpv, "exz": c.dc_exz, "crc": c.dc_crc, "fas": c.dc_fas,
                "oof": c.dc_oof, "slips": c.dc_slips, "ebit": c.dc_ebit, "seconds": c.dc_seconds,
                "los": bool(c.dc_los), "ais": bool(c.dc_ais), "oof_now": bool(c.dc_oofnow)}

    def span_loopback(self, span, mode):
        h = self._span(span, "dt_setloopback")
        code = self._choose(self._b.loopbacks, mode, "loopback", "dt_setloopback", span)
        self._check(self._lib.dt_setloopback(h, code), "dt_setloopback", span)

    def send_loop_code(self, span, code):
        h = self._span(span, "dt_sendloopcode")
        value = self._choose(self._b.loop_codes, code, "loop code", "dt_sendloopcode", span)
        self._check(self._lib.dt_sendloopcode(h, value), "dt_sendloopcode", span)

    def _bert_device(self, name, function):
        """The handle of a span or timeslot to test."""
        self._maintenance(function, name)
        if self._family(name) != "dt":
            raise errors.BadParameter("a BERT runs on a span or a timeslot (dtiBn, dtiBnTm)",
                                      function=function, device=name)
        return self._handle(name)

    def bert_start(self, device, pattern):
        h = self._bert_device(device, "dt_bertstart")
        value = self._choose(self._b.bert_patterns, pattern, "pattern", "dt_bertstart", device)
        self._check(self._lib.dt_bertstart(h, value), "dt_bertstart", device)

    def _bert(self, device, function):
        h = self._bert_device(device, function)
        r = self._ffi.new("DT_BERT *")
        self._check(getattr(self._lib, function)(h, r), function, device)
        return {"pattern": self._b.bert_pattern_names[r.db_pattern], "bits": r.db_bits,
                "errors": r.db_errors, "ber": r.db_errors / r.db_bits if r.db_bits else 0.0,
                "sync": bool(r.db_sync),
                "sync_losses": r.db_synclosses, "seconds": r.db_seconds,
                "errored_seconds": r.db_errsecs,
                "error_free_seconds": r.db_seconds - r.db_errsecs}

    def bert_results(self, device):
        return self._bert(device, "dt_bertresults")

    def bert_stop(self, device):
        return self._bert(device, "dt_bertstop")

    # -- stations ------------------------------------------------------
    def enable_station_events(self, name):
        """Also where a driver that could not give the phone its tones
        refuses, before it drives the station at all."""
        if self._tones is None and not self._b.has_extensions:
            raise self._no_station_tones(name)
        lib = self._lib
        mask = lib.MSMM_OFFHOOK | lib.MSMM_ONHOOK | lib.MSMM_HOOKFLASH
        self._check(lib.ms_setevtmsk(self._handle(name), lib.MSEV_SIGMSK, mask, lib.DTA_SETMSK),
                    "ms_setevtmsk", name)
        self._remember_mask(name, "sig", "ms_setevtmsk", lib.MSEV_SIGMSK, mask, lib.DTA_SETMSK)

    def ring_station(self, name, cycles, cadence="default"):
        lib = self._lib
        if cadence not in self._b.cadences:
            raise errors.BadParameter(
                f"cadence {cadence!r} is not one of {sorted(self._b.cadences)}",
                function="ms_genringex", device=name)
        self._check(lib.ms_genringex(self._handle(name), cycles, lib.EV_ASYNC,
                                     self._b.cadences[cadence]), "ms_genringex", name)

    def stop_ring(self, name):
        lib = self._lib
        self._check(lib.ms_stopfn(self._handle(name), lib.MTF_RING), "ms_stopfn", name)

    def station_tone(self, name, tone):
        """From a tone channel (`tone_channels`) if given, else from the port
        (ms_settone, the simulator's)."""
        if tone is not None and tone not in STATION_TONES:
            raise errors.BadParameter(f"station tone {tone!r} is not one of None, "
                                      f"{', '.join(STATION_TONES)}", function="station_tone",
                                      device=name)
        h = self._handle(name)
        if self._family(name) != "ms":
            raise errors.BadParameter("not a station (msiBnCm)", function="station_tone",
                                      device=name)
        if self._tones is not None:
            before = self._tone_slot(name)
            self._station_tones[name] = tone
            after = self._tone_slot(name)
            if before != after and before is not None:
                self._board_unlisten(name)
            if before != after and after is not None:
                self._board_listen(name, after)
        elif self._b.has_extensions:
            self._check(self._lib.ms_settone(h, self._b.station_tones[tone]), "ms_settone",
                        name)
            self._station_tones[name] = tone
        else:
            raise self._no_station_tones(name)

    def _tone_slot(self, name):
        """The slot of the tone channel a phone hears: its tone's while it has
        no route (a route comes first), else None."""
        tone = self._station_tones.get(name)
        if self._tones is None or tone is None or name in self._listen:
            return None
        return self._tones.slot(tone)

    @staticmethod
    def _no_station_tones(name):
        return errors.DriverNotSupported(
            "not in the vendor's API (the simulator's addition): a station port plays no "
            "dial, ringback, busy or reorder tone by itself.  Give the driver a voice channel "
            "to play each: in the server configuration, [station_tones] dial = \"dxxxBnCm\", "
            "ringback = ..., busy = ..., reorder = ... (voice channels in no trunk group and "
            "not in the voice pool; R4Driver(tone_channels=...) outside the server)",
            function="ms_settone", device=name)

    def station_offhook(self, name):
        lib = self._lib
        return self._check(lib.ATMS_TSSGBIT(self._handle(name)), "ATMS_TSSGBIT",
                           name) == lib.MS_OFFHOOK

    # -- conferences ---------------------------------------------------
    def _role(self, role, dsp):
        try:
            return self._b.roles[role]
        except KeyError:
            raise errors.ConferenceError(f"role {role!r} is not one of {sorted(self._b.roles)}",
                                         function="dcb", device=dsp) from None

    def conference_create(self, dsp, parties):
        lib, ffi = self._lib, self._ffi
        if not parties:
            raise errors.ConferenceError("a conference needs at least one party",
                                         function="dcb_estconf", device=dsp)
        cdt = ffi.new("MS_CDT[]", len(parties))
        for i, (slot, role) in enumerate(parties):
            cdt[i].chan_num = slot
            cdt[i].chan_sel = lib.MSPN_TS
            cdt[i].chan_attr = self._role(role, dsp)
        confid = ffi.new("int *")
        self._check(lib.dcb_estconf(self._handle(dsp), cdt, len(parties), lib.MSCA_NULL, confid),
                    "dcb_estconf", dsp)
        return confid[0], {slot: cdt[i].chan_attr for i, (slot, _) in enumerate(parties)}

    def conference_add(self, dsp, conference, slot, role):
        lib = self._lib
        cdt = self._ffi.new("MS_CDT *", {"chan_num": slot, "chan_sel": lib.MSPN_TS,
                                         "chan_attr": self._role(role, dsp)})
        self._check(lib.dcb_addtoconf(self._handle(dsp), conference, cdt), "dcb_addtoconf", dsp)
        return cdt.chan_attr

    def conference_remove(self, dsp, conference, slot):
        lib = self._lib
        cdt = self._ffi.new("MS_CDT *", {"chan_num": slot, "chan_sel": lib.MSPN_TS})
        self._check(lib.dcb_remfromconf(self._handle(dsp), conference, cdt), "dcb_remfromconf",
                    dsp)

    def conference_delete(self, dsp, conference):
        self._check(self._lib.dcb_delconf(self._handle(dsp), conference), "dcb_delconf", dsp)

    def conference_set_role(self, dsp, conference, slot, role):
        lib = self._lib
        cdt = self._ffi.new("MS_CDT *", {"chan_num": slot, "chan_sel": lib.MSPN_TS,
                                         "chan_attr": self._role(role, dsp)})
        self._check(lib.dcb_setcde(self._handle(dsp), conference, cdt), "dcb_setcde", dsp)

    def conference_room(self, dsp):
        n = self._ffi.new("int *")
        self._check(self._lib.dcb_dsprescount(self._handle(dsp), n), "dcb_dsprescount", dsp)
        return n[0]
