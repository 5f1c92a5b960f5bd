# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_voice_modem -*-
"""Voice modems (ITU-T V.253, IS-101 "AT+V") as a board family: one
analog line per modem, on a serial port, behind `IBoardDriver`.

Each modem of the list is a board of one channel, ``mdmB<n>C1`` (board
``mdmB<n>``, its line ``mdmB<n>C1/line``), spoken to by a
drivers.voicemodem.VoiceModem over a Twisted serial transport (pyserial
under twisted.internet.serialport; `serial_ports` opens them) on the
injected clock::

    driver = VoiceModemDriver([ModemSettings("/dev/ttyACM0")], reactor,
                              serial_ports(reactor))
    driver.enable_events("mdmB1C1", {"ring", "digit"})
    driver.set_hook("mdmB1C1", True)          # hook_done
    driver.caller_id("mdmB1C1")               # after the first ring

What a modem does, it does as the boards do (tests/conformance.py: the
driver, voice and analog line suites): hook, rings and caller ID in every
dialect modems print it (drivers.callerid), play and record through its
DLE-shielded audio (G.711 converted to and from files:
drivers.modemaudio), DTMF keys with a digit buffer and the collection's
timers on the clock, dialling with the modem's call progress, tones.
What it cannot do it refuses whole, each call raising DriverNotSupported
naming itself and saying why (`REFUSED`): the CT-Bus (its audio reaches
only the computer, through the serial port), T1 trunks and spans and
their maintenance, stations, conferences, MF digits, a silence level
in dBm0 (AT+VSD has a sensitivity of its own), and the event
thread's calls (its events come from the serial ports, on the reactor's
thread: `event_source` "transports").  The termination conditions a
modem has no signal for (max_nonsilence_ms) are BadParameter, as is a
tone of no length (a modem plays one for a set time).
"""
from dataclasses import dataclass

from zope.interface import implementer

from drivers import errors
from drivers.interface import DIGIT_BUFFER, DeviceInfo, Event, IBoardDriver
from drivers.modemaudio import RECORD_FORMATS, prompt_samples, recording_file
from drivers.skeleton import refusal
from drivers.voicemodem import VoiceModem

#: Keys a dial string may hold (T: tone dialling, ',' a pause).
DIAL_KEYS = set("0123456789*#ABCDTt,")
#: The laws a modem's audio may be in (ModemSettings.audio).
AUDIO_LAWS = ("ulaw", "alaw")
#: What each kind of event enable_events may ask for.
LINE_EVENTS = frozenset({"ring", "ring_stopped", "loop_current", "polarity_reversed", "digit",
                         "tone", "silence"})


@dataclass(frozen=True)
class ModemSettings:
    """One modem: its serial port, and what its AT dialect needs.

    compression: AT+VSM's argument; V.253 names 4,8000 G.711 mu-law and
    5,8000 A-law, makers number their own above 127 (ELSA: 131 and 132;
    ``AT+VSM=?`` lists a modem's).  audio: the law it is (ulaw, alaw).
    init: commands after ATZ, ATE0V1, AT+FCLASS=8 and AT+VSM: flow control
    (V.253 AT+IFC=2,2, IS-101 AT+FLO=2) and caller ID (AT+VCID=1 fields,
    =2 the message in hex, Rockwell-era AT#CID=1)."""

    port: str
    baud: int = 115200
    compression: str = "4,8000"
    audio: str = "ulaw"
    init: tuple = ("AT+IFC=2,2", "AT+VCID=1")


def modem_name(n):
    """The name of the `n`-th modem of the list (from 1): its voice
    channel, ``mdmB<n>C1`` (its board ``mdmB<n>``, its line ``.../line``)."""
    return f"mdmB{n}C1"


def serial_ports(reactor, serial_factory=None):
    """connect(settings, protocol) opening each modem's port with pyserial
    under Twisted, RTS/CTS flow control on (as AT+IFC=2,2 asks);
    ModemError naming the port if it cannot be opened, whatever failed
    (pyserial's open; the flush after it, when a device re-plugged goes
    away again mid-open: OSError, termios.error), the port it did open
    closed again.  `serial_factory`: pyserial's Serial, or a test's."""
    import termios

    from serial import Serial
    from twisted.internet.serialport import SerialPort

    opened = []                       # the pyserial object of the port being opened

    class Port(SerialPort):
        @staticmethod
        def _serialFactory(*args, **kwargs):
            port = (serial_factory or Serial)(*args, **kwargs)
            opened.append(port)
            return port

    def connect(settings, protocol):
        opened.clear()
        try:
            Port(protocol, settings.port, reactor, baudrate=settings.baud, rtscts=True)
        except (OSError, termios.error) as e:      # SerialException is an OSError
            for port in opened:
                port.close()
            raise errors.ModemError(f"cannot open the serial port: {e}", function="open",
                                    device=settings.port) from None
        finally:
            opened.clear()
    return connect


_NO_BUS = "a voice modem has no CT-Bus: its audio reaches only the computer, through its port"
_NO_T1 = ("a voice modem is one analog line: no T1 or E1 trunks, spans, D-channels or their "
          "maintenance")
_NO_STATIONS = "a voice modem drives no station (phone) of its own"
_NO_CONFERENCES = "a voice modem has no conference DSP"
_NO_SILENCE_LEVEL = ("a voice modem's silence detection (AT+VSD) has a sensitivity of its "
                     "own, not a level in dBm0")
_OWN_EVENTS = ("the {family} driver's events come from its serial ports as they read, on the "
               "reactor's thread (event_source transports)")
#: Every call a modem refuses, and why.
REFUSED = {
    **dict.fromkeys(("transmit_slot", "listen", "unlisten", "line_transmit_slot",
                     "line_listen", "line_unlisten"), _NO_BUS),
    **dict.fromkeys(("enable_signalling_events", "set_bits", "wink", "bits", "abcd",
                     "enable_alarm_events", "alarms", "span_counters", "span_loopback",
                     "send_loop_code", "bert_start", "bert_results", "bert_stop",
                     "dchannel_send", "r2_mf_mode", "r2_mf_send"), _NO_T1),
    **dict.fromkeys(("enable_station_events", "ring_station", "stop_ring", "station_tone",
                     "station_offhook"), _NO_STATIONS),
    **dict.fromkeys(("conference_create", "conference_add", "conference_remove",
                     "conference_delete", "conference_set_role", "conference_room"),
                    _NO_CONFERENCES),
    **dict.fromkeys(("wait_events", "deliver"), _OWN_EVENTS),
    "set_silence_level": _NO_SILENCE_LEVEL,
}


@implementer(IBoardDriver)
class VoiceModemDriver:
    """Voice modems, one analog line each.  `connect(settings, protocol)`
    attaches each modem's serial transport (`serial_ports`, or a test's
    simulated line)."""

    family = "modem"
    event_source = "transports"

    def __init__(self, modems, clock, connect):
        self.clock = clock
        self._subscribers = []
        self._modems = {}
        for n, settings in enumerate(modems, 1):
            if settings.audio not in AUDIO_LAWS:
                raise errors.BadParameter(f"audio {settings.audio!r}: a modem's driver "
                                          "speaks ulaw or alaw", function="ModemSettings",
                                          device=settings.port)
            modem = VoiceModem(modem_name(n), settings, clock, self._emit)
            modem.reopen = lambda settings=settings, modem=modem: connect(settings, modem)
            self._modems[modem.name] = modem
            try:
                connect(settings, modem)
            except errors.ModemError as e:
                modem.missing(e)

    # -- devices ------------------------------------------------------------------
    def inventory(self):
        found = []
        for name in self._modems:
            board = name[:-2]
            found += [DeviceInfo(board, "board", board, None, 1),
                      DeviceInfo(name, "voice", board, None),
                      DeviceInfo(name + "/line", "line", board, None)]
        return found

    def modem(self, name, function="driver"):
        try:
            return self._modems[name]
        except KeyError:
            raise errors.NoSuchDevice(f"'{name}' is not a voice modem ({', '.join(self._modems)})",
                                      function=function, device=name) from None

    def open(self, name):
        self.modem(name, "open")

    def close(self, name):
        """The operation running ends without an event; the port stays open."""
        modem = self.modem(name, "close")
        modem.reset()

    def reset(self, name):
        self.modem(name, "reset").reset()

    def status(self, name):
        return self.modem(name, "status").status()

    # -- events -----------------------------------------------------------------------
    def fileno(self):
        return None

    def poll(self):
        return []                      # every event was handed over as it came

    def subscribe(self, callback):
        """`callback(event)` for every event from now on; told at once of
        each line alarm already raised (a modem whose port was missing at
        the start), so it knows which lines are out of service."""
        self._subscribers.append(callback)
        for modem in self._modems.values():
            for alarm in sorted(modem.alarms):
                callback(Event(modem.name, "alarm", {"alarm": alarm, "raised": True}))

    def stop_events(self):
        """No subscriber told from now on, and each modem shut down
        (VoiceModem.shut_down): none of its timers left, no port opened or
        set-up tried again."""
        self._subscribers.clear()
        for modem in self._modems.values():
            modem.shut_down()

    def _emit(self, event):
        for callback in list(self._subscribers):
            callback(event)

    # -- the line and its voice -----------------------------------------------------------
    def enable_events(self, name, kinds):
        unknown = set(kinds) - LINE_EVENTS
        if unknown:
            raise errors.BadParameter(f"events {sorted(unknown)} are not of "
                                      f"{sorted(LINE_EVENTS)}", function="enable_events",
                                      device=name)
        self.modem(name, "enable_events").reported = frozenset(kinds)

    def set_hook(self, name, offhook):
        self.modem(name, "AT+VLS").set_hook(offhook)

    def play(self, name, prompts, termination=None, watchdog_ms=None):
        modem = self.modem(name, "AT+VTX")
        self._check_termination(name, termination, "AT+VTX")
        audio = b"".join(prompt_samples(p, modem.settings.audio, name) for p in prompts)
        modem.play(audio, termination, watchdog_ms)

    def record(self, name, path, fmt, termination, watchdog_ms=None):
        modem = self.modem(name, "AT+VRX")
        if fmt not in RECORD_FORMATS:
            raise errors.BadParameter(f"format {fmt!r} is not one of {', '.join(RECORD_FORMATS)}",
                                      function="AT+VRX", device=name)
        if termination is None or termination.is_empty():
            raise errors.BadParameter("a recording needs a termination (it would never end)",
                                      function="AT+VRX", device=name)
        self._check_termination(name, termination, "AT+VRX")
        modem.check_idle("AT+VRX")
        try:
            file = open(path, "wb")    # written when the recording ends
        except OSError as e:
            raise errors.BadParameter(f"cannot create {path}: {e.strerror}", function="AT+VRX",
                                      device=name) from None
        law = modem.settings.audio

        def save(data):
            with file:
                file.write(recording_file(data.pop("samples", b""), law, fmt))
            return data
        modem.record(termination, watchdog_ms, save)

    def collect_digits(self, name, termination, watchdog_ms=None):
        modem = self.modem(name, "digits")
        if termination is None or termination.is_empty():
            raise errors.BadParameter("collecting digits needs a termination",
                                      function="digits", device=name)
        if termination.max_digits and not 1 <= termination.max_digits <= DIGIT_BUFFER:
            raise errors.BadParameter(f"max_digits {termination.max_digits}: the driver "
                                      f"buffers 1..{DIGIT_BUFFER}", function="digits",
                                      device=name)
        self._check_termination(name, termination, "digits")
        modem.collect(termination, watchdog_ms)

    def clear_digits(self, name):
        self.modem(name, "clear_digits").clear_digits()

    def set_digit_types(self, name, dtmf=True, mf=False):
        self.modem(name, "set_digit_types")
        if mf or not dtmf:
            raise errors.DriverNotSupported("a voice modem detects DTMF keys only, always",
                                            function="set_digit_types", device=name)

    def dial(self, name, digits, call_progress=None, watchdog_ms=None):
        modem = self.modem(name, "ATD")
        bad = set(digits) - DIAL_KEYS
        if not digits or bad:
            raise errors.BadParameter(f"dial string {digits!r}: a modem dials DTMF keys, "
                                      "T and ',' (no pulse, no MF)", function="ATD", device=name)
        modem.dial(digits, call_progress, watchdog_ms)

    def play_tone(self, name, freq1, freq2=0, level_db=-13, duration_ms=None,
                  termination=None, watchdog_ms=None):
        modem = self.modem(name, "AT+VTS")
        duration = duration_ms or (termination and termination.max_time_ms)
        if not duration:
            raise errors.BadParameter("a modem plays a tone for a set time: give duration_ms "
                                      "or a max_time_ms", function="AT+VTS", device=name)
        modem.tone(freq1, freq2, duration, watchdog_ms)

    def stop(self, name):
        self.modem(name, "stop").stop()

    def busy(self, name):
        return self.modem(name, "busy").busy()

    def caller_id(self, name):
        cid = self.modem(name, "caller ID").caller_id()
        if cid is None:
            raise errors.CallerIdUnavailable("no caller ID received (yet): ask after the "
                                             "second ring", function="caller ID", device=name)
        return cid

    @staticmethod
    def _check_termination(name, termination, function):
        if termination is not None and termination.max_nonsilence_ms:
            raise errors.BadParameter("max_nonsilence_ms: a modem reports silence, not speech "
                                      "that goes on", function=function, device=name)


for _name, _why in REFUSED.items():
    setattr(VoiceModemDriver, _name, refusal(_name, _why))
