# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_channels -*-
"""Trunk channels and agents' stations, each a declared state machine.

A channel turns board events (drivers.interface vocabulary) into the
few facts the call layer cares about, and the call layer's requests
(answer, release, ring) into board operations:

    board events ──> Channel.handle(event) ──> machine.fire(...)
                                          └──> listener.trunk_offered(ch, ani, dnis)
    listener ──> ch.answer() / ch.release(reason)  ──> board operations

Inbound T1 E&M wink start (lines.md): the far end seizes (A bit on); we
take a voice resource, route it to the timeslot, arm digit collection,
then wink; the far end sends its address in-band (DTMF ``*ANI*DNIS*`` or
DNIS alone, MF ``*ANI#*DNIS#`` or ``*DNIS#``); we offer the call; answer
is our A bit on; either side clears with A off.

Inbound analog loop start: the line rings; caller ID arrives between the
first and second ring; we offer at the configured ring; answer is going
off-hook; the far end's hang-up is seen by the supervision its trunk
group says the line gives (cti.server.lines.disconnect): loop-current
drop, polarity reversal, the exchange's busy or reorder tone, or silence
for the group's time.

Outbound (`seize(number, no_answer_s)`, a Deferred of the connected channel or
OutboundFailed with a reason).  T1 E&M: our A bit on, the far end winks,
we send the number in-band from a voice resource, the far end's A bit on
is the answer; busy, reorder and SIT tones heard in-band fail the call,
and so does no answer within `no_answer_s` (NO_ANSWER_S unless told).  Glare on a two-way trunk (the
far end seized too: its A bit stays on instead of winking) is settled
for the far end: our call fails with "glare" (the caller of `seize`
tries another channel) and the channel takes the incoming call.  Analog
loop start: off-hook, then the voice channel dials with call-progress
analysis (dial tone checked; busy, no answer, SIT...), whose "connected"
is the answer; a line that rings meanwhile was seized by an incoming
call first: the outbound call fails with "glare".

Every channel has a history (statemachine.Machine) and recovers from a
board operation that never completes: the driver's watchdog reports
`operation_failed` (reason "hung") and the channel clears down to idle.
"""
from twisted.internet import defer
from zope.interface import implementer

from cti.logs import Logger
from cti.server.errors import InvalidState, OutboundFailed
from cti.server.interfaces import IOutsideParty
from cti.server.lines.disconnect import DEFAULTS, SilenceWatch, Supervision
from cti.statemachine import Table
from drivers.errors import CallerIdUnavailable, DeviceBusy, DeviceRemoved
from drivers.interface import (
    DEFAULT_SILENCE_DBM0,
    NOT_READY_ALARM,
    REMOVED_ALARM,
    CallProgress,
)

log = Logger()

#: The address after the wink: all of it within this time of the seizure,
#: and where its format leaves the end open (DNIS alone in DTMF, a KP
#: after the first ST in MF), this long without a digit ends it.
ADDRESS_TIMEOUT_MS = 8_000
ADDRESS_PAUSE_MS = 1_000
#: Outbound: the far end's wink within this of our seizure; its A bit on
#: longer than GLARE_S is a seizure of its own (a wink is 100-350 ms).
WINK_WAIT_S = 5.0
GLARE_S = 0.4
#: Outbound: the far end answers within this of the number's end.
NO_ANSWER_S = 45.0
#: Why a call out fails when the voice resource dialling it hung.
VOICE_HUNG = "voice resource hung"
#: How an off-hook that did not take (an answer's, a seizure's) begins its
#: reason; a call out tries the next line after it.
NO_OFFHOOK = "the line did not go off hook"
#: An analog port's own alarms (the driver's "alarm" events on its name)
#: as a line's out-of-service reason says them.
LINE_ALARMS = {REMOVED_ALARM: "its board was removed", "red": "no battery on the line",
               NOT_READY_ALARM: "its voice modem does not take its set-up (see the log)"}
#: The cause of a call a phone was on as its board went (Station.removal_cause).
PHONE_REMOVED = f"phone out of service: {LINE_ALARMS[REMOVED_ALARM]}"
#: In-band tones that end an outbound call, and the reason given.
FAILING_TONES = {"busy": "busy", "reorder": "reorder", "sit": "number unobtainable"}


EM_WINK = Table("em_wink", initial="idle", transitions=[
    ("idle", "seizure", "winking"),            # far end A on: we wink
    ("winking", "wink_done", "collecting"),    # its address comes in-band
    ("collecting", "address", "offered"),
    ("collecting", "address_failed", "clearing"),
    ("offered", "answer", "connected"),        # our A on
    ("offered", "release", "clearing"),
    ("connected", "release", "clearing"),
    ("*", "far_clear", "far_cleared"),         # far end A off
    ("far_cleared", "release", "clearing"),
    ("clearing", "idle", "idle"),
    ("far_cleared", "idle", "idle"),
    ("*", "hung", "clearing"),
    # outbound
    ("idle", "seize", "seizing"),              # our A on: the far end winks back
    ("seizing", "wink", "dialing"),            # the number goes in-band
    ("seizing", "glare", "idle"),              # it seized too: its call wins
    ("dialing", "dialed", "alerting"),         # ringback, or busy, in-band
    ("dialing", "answered", "connected"),      # its A on
    ("alerting", "answered", "connected"),
    ("seizing", "release", "clearing"),
    ("dialing", "release", "clearing"),
    ("alerting", "release", "clearing"),
    # the span in alarm (cti.server.lines.spans): out of service until it is healthy
    ("idle", "out_of_service", "out_of_service"),
    ("*", "span_down", "clearing"),          # no call on it yet: cleared with no one told
    ("clearing", "span_down", "="),
    ("out_of_service", "span_down", "="),
    ("out_of_service", "back_in_service", "idle"),
])

LOOP_START = Table("loop_start", initial="idle", transitions=[
    ("idle", "ring", "ringing"),
    ("ringing", "ring", "="),
    ("ringing", "offer", "offered"),
    ("offered", "ring", "="),
    ("ringing", "abandoned", "idle"),          # the caller gave up before answer
    ("offered", "abandoned", "far_cleared"),
    ("offered", "answer", "answering"),        # off-hook requested
    ("answering", "answered", "connected"),
    ("answering", "answer_failed", "clearing"),  # the line did not go off hook
    # refused unanswered: on hook, the rest of its rings ignored until they
    # stop, or until a ring counted from 1 again shows a new call (the
    # refused caller gave up and the next one rings: LoopStartLine.handle;
    # offered, such a ring is "abandoned" too)
    ("offered", "release", "refused"),
    ("refused", "ring_stopped", "idle"),
    ("answering", "release", "clearing"),
    ("connected", "release", "clearing"),
    ("connected", "far_clear", "far_cleared"),
    ("answering", "far_clear", "far_cleared"),
    ("far_cleared", "release", "clearing"),
    ("clearing", "idle", "idle"),
    ("far_cleared", "idle", "idle"),
    ("*", "hung", "clearing"),
    # outbound
    ("idle", "seize", "seizing"),              # off-hook requested
    ("seizing", "dial", "dialing"),            # dial tone checked, number, progress
    ("dialing", "answered", "connected"),
    ("seizing", "release", "clearing"),
    ("dialing", "release", "clearing"),
    ("dialing", "far_clear", "far_cleared"),
    # a T1 timeslot's span in alarm, as for EM_WINK
    ("idle", "out_of_service", "out_of_service"),
    ("*", "span_down", "clearing"),
    ("clearing", "span_down", "="),
    ("out_of_service", "span_down", "="),
    ("out_of_service", "back_in_service", "idle"),
])

#: The loop-start states in which the line is, or may be, off hook: an
#: off-hook asked for (answering, seizing), a call on it, or its on-hook
#: not confirmed yet (clearing).  In every other state it is on hook
#: (LoopStartLine.when_on_hook).
LOOP_START_OFF_HOOK = frozenset({"answering", "connected", "far_cleared", "clearing",
                                 "seizing", "dialing"})

STATION = Table("station", initial="onhook", transitions=[
    ("onhook", "ring", "ringing"),
    ("ringing", "answered", "talking"),
    ("ringing", "no_answer", "onhook"),
    ("ringing", "stop_ring", "onhook"),
    ("onhook", "offhook", "offhook"),          # lifted with no call: dial tone
    ("offhook", "connect", "talking"),
    ("talking", "onhook", "onhook"),
    ("talking", "release", "offhook"),         # the other party left; the phone is still up
    ("offhook", "onhook", "onhook"),
    ("talking", "flash", "="),
    ("offhook", "flash", "="),
    # its board hot-unplugged (the driver's alarm "removed"): gone for good
    ("*", "removed", "out_of_service"),
    ("out_of_service", "removed", "="),
])


def parse_address(digits, register):
    """(ani, dnis) from what the far end sent after the wink."""
    if register == "mf":
        parts = [p for p in digits.replace("#", "").split("*") if p]
    else:
        parts = [p for p in digits.split("*") if p]
    if len(parts) >= 2:
        return parts[0], parts[1]
    return "", (parts[0] if parts else "")


class Channel:
    """What trunk channels share: the machine, the listener, release."""

    table = None

    def __init__(self, name, driver, clock, listener, group=None):
        self.name = name
        self.driver = driver
        self.clock = clock
        self.listener = listener
        self.group = group
        self.machine = self.table.machine(clock, name, on_change=self._changed)
        self.voice = None                 # the voice resource serving the call
        self.ani = self.dnis = ""
        self.cid_name = ""
        self.offer_data = {}              # what the line told of a call in beyond its numbers
                                          # (an R2 trunk's category): its attached data
        self._waiters = {}                # state -> [Deferred] (see `when`)
        self.outbound = None              # the Deferred of an outbound call placed
        self.number = ""                  # its number
        self.no_answer_s = NO_ANSWER_S    # a call out's ring time, before it fails
        self.span = None                  # a T1 timeslot's Span (cti.server.lines.spans)
        self.voice_events = frozenset()   # what the voice resource reports (`_listen`)
        self.held = set()                 # what a technician holds it out of service for

    @property
    def state(self):
        return self.machine.state

    def _changed(self, machine, transition):
        log.debug("{channel}: {t}", channel=self.name, t=transition)
        if transition.target == "idle":              # the numbers were the call's
            self.ani = self.dnis = self.cid_name = ""
        for d in self._waiters.pop(transition.target, ()):
            d.callback(self)
        if transition.target == "idle" and self.span is not None and not self.span.in_service:
            self.machine.fire("out_of_service", reason=self.span.reason)

    def snapshot(self):
        return {"device": self.name, "kind": "trunk", "group": self.group,
                "state": self.state, "since": self.machine.since, "ani": self.ani,
                "dnis": self.dnis, "voice": self.voice, "held": sorted(self.held),
                "history": self.machine.describe_history()[-10:]}

    def when(self, state):
        """A Deferred fired (with the channel) when it is next in `state`,
        at once if it is now."""
        d = defer.Deferred()
        if self.state == state:
            d.callback(self)
        else:
            self._waiters.setdefault(state, []).append(d)
        return d

    def wait_idle(self):
        return self.when("idle")

    def report_digits(self, on):
        """Digit events from the channel's voice resource (for the IVR)."""
        self._listen({"digit"} if on else set())

    def _listen(self, kinds):
        """The events the voice resource serving the channel reports (kept
        for a resource that replaces it)."""
        self.voice_events = frozenset(kinds)
        self.driver.enable_events(self.voice, kinds)

    def _replace_voice(self, event):
        """A hung operation of a voice resource that can be replaced: True
        when it was (PooledVoice)."""
        return False

    def _far_cleared(self, how):
        """The far end hung up: tell the call layer, which releases."""
        if self.machine.fire_if("far_clear", how=how):
            self.listener.trunk_released(self, f"far end cleared ({how})")

    def clear_down_again(self):
        """The sweep found this trunk busy with no call on it: release it,
        or, if it is clearing already (an on-hook that never took), hang up
        again."""
        if self.state == "clearing":
            self._clear_down()
        else:
            self.release("no call on it: cleared by the sweep")

    def take_out_of_service(self, reason):
        """The span went down: the call layer has cleared the call on the
        channel (if any).  Every channel is out of service at once: an idle
        one, one clearing down (its clear-down ends here: the far end's
        bits are frozen while the span is in alarm), one busy with no call
        yet (a seizure, an address, rings)."""
        if self.state == "idle":
            self.machine.fire("out_of_service", reason=reason)
            return
        if self.outbound is not None:            # a call out not connected yet
            self._outbound_failed(reason)
        elif self.state not in ("clearing", "out_of_service"):
            self.machine.fire("span_down", reason=reason)
            self._clear_down()
        if self.state in ("clearing", "far_cleared"):
            # The span is down: the far end's bits are frozen and the carrier
            # has cleared its side; there is nothing more to wait for.
            self.machine.fire("idle")           # and on out of service (_changed)

    def back_in_service(self):
        """The span has been healthy long enough: idle again (unless a
        technician holds it: then once released)."""
        if self.state == "out_of_service" and not self.held:
            self.machine.fire("back_in_service")

    def hold(self, purpose):
        """A technician takes the channel out of service for `purpose` (a
        loopback, a BERT: cti.server.maintenance): no call is taken or
        placed on it until every purpose holding it is released.  Only an
        idle channel (or one out of service already, its span down) may
        be held: InvalidState says what it is doing otherwise."""
        if self.state not in ("idle", "out_of_service"):
            raise InvalidState(f"{self.name} is {self.state}"
                               + (f" with a call from {self.ani}" if self.ani else "")
                               + ": wait for it to be idle, or clear its call first",
                               object="device", id=self.name)
        if not self.held:
            self._busy_out(True)
        self.held.add(purpose)
        if self.state == "idle":
            self.machine.fire("out_of_service", reason=f"held for maintenance: {purpose}")

    def release_hold(self, purpose):
        """`purpose` no longer holds the channel: back in service when
        nothing else holds it and its span is in service."""
        if purpose not in self.held:
            return
        self.held.discard(purpose)
        if not self.held:
            self._busy_out(False)
            if self.span is None or self.span.in_service:
                self.back_in_service()

    def _busy_out(self, on):
        """Show the far end the channel is not to be used while held (a
        T1 trunk sends off-hook bits: the carrier seizes none of them)."""

    def _outbound_start(self, number, no_answer_s):
        if self.state != "idle":
            raise OutboundFailed(self.name, f"the channel is {self.state}")
        self.number, self.dnis, self.ani = number, number, ""
        self.no_answer_s = no_answer_s
        self.outbound = defer.Deferred()
        self.machine.fire("seize", number=number)
        return self.outbound

    def _outbound_connected(self):
        self.machine.fire("answered")
        d, self.outbound = self.outbound, None
        if d is not None:
            d.callback(self)

    def _outbound_failed(self, reason):
        """The outbound call did not connect: clear down, tell the caller."""
        log.info("{channel}: outbound call to {number} failed: {reason}", channel=self.name,
                 number=self.number, reason=reason)
        d, self.outbound = self.outbound, None
        if self.machine.can("release"):
            self.machine.fire("release", reason=reason)
        self._clear_down()
        if d is not None:
            d.errback(OutboundFailed(self.name, reason))

    def _hung(self, event):
        if self._replace_voice(event):
            return
        log.warn("{channel}: {op} never completed; the channel was reset", channel=self.name,
                 op=event.data.get("op"))
        was_in_call = self.state not in ("idle", "clearing", "refused")
        self.machine.fire("hung", op=event.data.get("op"))
        if was_in_call:
            self.listener.trunk_released(self, "board operation hung")
        self._clear_down()


@implementer(IOutsideParty)
class OutsideLine:
    """What makes a trunk channel a call's outside party (IOutsideParty)."""

    called_agent = None                   # only an internal call has one
    silence = None                        # its SilenceWatch, when its group heeds silence
    #: Why its calls cannot leave the IVR (a voice modem's line, with no
    #: CT-Bus: cti.server.lines.modem), or None.
    ivr_only = None

    @property
    def answered(self):
        return self.state == "connected"

    @property
    def endpoint(self):
        """Its CT-Bus endpoint: the timeslot, or an analog line's `/line`
        side (its own voice channel is the other)."""
        return f"{self.name}/line" if self.voice == self.name else self.name

    def end_call(self, reason, released_by=None, cause=None):
        """The call on it is over: release the trunk."""
        self.release(reason)

    def set_waiting(self, waiting):
        """Its caller waits (queued, held) or talks again: silence, when
        its group heeds it, is not timed meanwhile (SilenceWatch.set_waiting)."""
        if self.silence is not None:
            self.silence.set_waiting(waiting)


class PooledVoice:
    """A T1 timeslot's voice resource, from the pool: one whose operation
    hung is replaced, not the call cleared.

    The driver has reset the hung resource already (its watchdog); it goes
    to the pool's quarantine, to be tested before it is lent again
    (cti.server.lines.voicetest), and the channel takes another.  The
    listener's `voice_hung(channel, hung, op)` then routes the new one
    for the call (or the channel does, with no call yet) and moves the
    caller on.  With none free, the call cannot go on: released."""

    def _replace_voice(self, event):
        hung = event.device
        if hung != self.voice or hung == self.name:
            return False
        op = event.data.get("op")
        log.error("{channel}: {op} on {voice} hung: another voice resource takes over",
                  channel=self.name, op=op, voice=hung)
        self.bus.release(hung)
        self.voice_pool.quarantine(hung)
        self.voice = self.voice_pool.take(self)
        if self.voice is not None:
            self._listen(self.voice_events)
        if self.outbound is not None:           # a call out being dialled: it failed
            self._outbound_failed(VOICE_HUNG)
        self.listener.voice_hung(self, hung, op)
        return True

    def route_voice(self):
        """The voice resource to the timeslot, both ways (no call on it yet)."""
        if self.voice is not None:
            self.bus.route(self.voice, self.name)

    def _give_voice_back(self):
        """The call is over: the voice resource stops whatever it was doing
        (a no-op when idle), leaves the bus and goes back to the pool."""
        if self.voice is not None:
            voice, self.voice = self.voice, None
            self.driver.stop(voice)
            self.bus.release(voice)
            self.voice_pool.give(voice)


class EmWinkTrunk(OutsideLine, PooledVoice, Channel):
    """A T1 timeslot with E&M wink-start signalling (inbound)."""

    table = EM_WINK

    def __init__(self, name, driver, clock, listener, voice_pool, bus, register="dtmf",
                 group=None):
        super().__init__(name, driver, clock, listener, group)
        self.voice_pool = voice_pool
        self.bus = bus
        self.register = register
        self._addr = ""                   # the address digits so far
        self._timer = None                # address timeout / end-of-address pause
        self._glare_at = None             # outbound: the far end's A on, maybe a seizure
        driver.enable_signalling_events(name)

    def handle(self, event):
        kind = event.kind
        if self.state == "out_of_service":      # its span is down: nothing gets through
            return
        if self.state in ("seizing", "dialing", "alerting") and self._outbound_event(event):
            return
        if kind == "signalling":
            changed = event.data.get("changed", frozenset())
            if "a_on" in changed and self.state == "idle":
                self._seized()
            elif "a_off" in changed and self.state != "idle":
                if self.state == "clearing":
                    self.machine.fire("idle")
                elif self.state in ("winking", "collecting"):
                    self.machine.fire("far_clear", how="gave up before the address")
                    self.machine.fire("release", reason="abandoned")
                    self._clear_down()
                else:
                    self._far_cleared("A bit off")
        elif kind == "wink_done" and self.state == "winking":
            self.machine.fire("wink_done")
        elif kind == "digit" and event.device == self.voice and self.state in (
                "winking", "collecting"):
            self._digit(event.data["digit"])
        elif kind == "operation_failed":
            self._hung(event)

    def _seized(self):
        voice = self.voice_pool.take(self)
        if voice is None:
            log.warn("{channel}: seized with no voice resource free: not winking",
                     channel=self.name)
            return
        self.machine.fire("seizure")
        self.voice = voice
        self.bus.route(voice, self.name)
        self.driver.set_digit_types(voice, dtmf=self.register != "mf",
                                    mf=self.register == "mf")
        self.driver.clear_digits(voice)
        self._listen({"digit"})
        self._addr = ""
        self._timer = self.clock.callLater(ADDRESS_TIMEOUT_MS / 1000, self._address_done)
        self.driver.wink(self.name)

    def _digit(self, digit):
        """Digits of the address one by one: complete at its last ST / '*',
        or after a pause when the format leaves the end open."""
        self._addr += digit
        a = self._addr
        if self.register == "mf":
            complete = a.count("#") >= 2
            pause = ADDRESS_PAUSE_MS if a.count("#") == 1 else None   # a second KP may follow
        else:
            complete = a.startswith("*") and a.count("*") >= 3
            pause = None if a.startswith("*") else ADDRESS_PAUSE_MS   # DNIS alone
        if complete:
            self._address_done()
        elif pause is not None:
            self._timer.reset(pause / 1000)

    def _address_done(self):
        if self._timer.active():
            self._timer.cancel()
        if self.state not in ("winking", "collecting"):
            return
        self._listen(set())
        self.driver.clear_digits(self.voice)
        digits = self._addr
        ani, dnis = parse_address(digits, self.register)
        if not dnis:
            self.machine.fire("address_failed", digits=digits)
            log.warn("{channel}: no address after the wink ({digits!r})", channel=self.name,
                     digits=digits)
            self._clear_down()
            return
        self.ani, self.dnis = ani, dnis
        self.machine.fire("address", ani=ani, dnis=dnis)
        self.listener.trunk_offered(self, ani, dnis)

    def answer(self):
        self.machine.fire("answer")
        self.driver.set_bits(self.name, a=1, b=1)

    def _busy_out(self, on):
        self.driver.set_bits(self.name, a=int(on), b=int(on))

    def back_in_service(self):
        """Idle again; a far end that seized meanwhile is answered now."""
        super().back_in_service()
        _, (far_a, _) = self.driver.bits(self.name)
        if far_a and self.state == "idle":
            self._seized()

    # -- outbound ------------------------------------------------------------
    def seize(self, number, no_answer_s=NO_ANSWER_S):
        """Place an outbound call (see the module's docstring)."""
        d = self._outbound_start(number, no_answer_s)
        self._glare_at = None
        self.driver.set_bits(self.name, a=1, b=1)
        self._timer = self.clock.callLater(WINK_WAIT_S, self._outbound_failed, "no wink")
        return d

    def _outbound_event(self, event):
        """An event of an outbound call in progress; True when handled."""
        kind, state = event.kind, self.state
        if kind == "signalling":
            changed = event.data.get("changed", frozenset())
            if state == "seizing":
                if "wink" in changed or ("a_off" in changed and self._glare_at is not None):
                    self._winked()
                elif "a_on" in changed:
                    self._glare_at = self.clock.callLater(GLARE_S, self._glare)
                return True
            if "a_on" in changed:                 # answer supervision
                self._stop_timer()
                self._listen(set())
                self._outbound_connected()
                return True
            return False
        if kind == "dial_done" and "hung" in event.data.get("reasons", ()):
            return True                           # its operation_failed replaces the voice
        if kind == "dial_done" and event.device == self.voice and state == "dialing":
            self.machine.fire("dialed")
            self._listen({"tone"})
            self._timer = self.clock.callLater(self.no_answer_s, self._outbound_failed,
                                               "no_answer")
            return True
        if kind == "tone" and event.device == self.voice and event.data.get("on") \
                and event.data.get("tone") in FAILING_TONES:
            self._outbound_failed(FAILING_TONES[event.data["tone"]])
            return True
        return False

    def _winked(self):
        self._stop_timer()
        if self._glare_at is not None and self._glare_at.active():
            self._glare_at.cancel()
        voice = self.voice_pool.take(self)
        if voice is None:
            self._outbound_failed("no voice resource free")
            return
        self.voice = voice
        self.bus.route(voice, self.name)
        self.machine.fire("wink")
        self.driver.dial(voice, self.number)

    def _glare(self):
        """The far end's A bit stayed on: it seized the trunk too; its call wins."""
        if self.state != "seizing":
            return
        self._stop_timer()
        d, self.outbound = self.outbound, None
        self.machine.fire("glare")
        self.driver.set_bits(self.name, a=0, b=0)
        log.info("{channel}: glare: the incoming call wins over ours to {number}",
                 channel=self.name, number=self.number)
        self._seized()
        d.errback(OutboundFailed(self.name, "glare"))

    def _stop_timer(self):
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def release(self, reason="normal"):
        """Clear the call: drop our A bit; idle when the far end drops its."""
        if self.state in ("idle", "clearing"):
            return self.wait_idle()
        if self.outbound is not None:           # a call out not connected yet: given up
            self._outbound_failed(reason)
            return self.wait_idle()
        self.machine.fire("release", reason=reason)
        self._clear_down()
        return self.wait_idle()

    def _clear_down(self):
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        if self._glare_at is not None and self._glare_at.active():
            self._glare_at.cancel()
        self._give_voice_back()
        self.driver.set_bits(self.name, a=0, b=0)
        _, (far_a, _) = self.driver.bits(self.name)
        if not far_a and self.state in ("clearing", "far_cleared"):
            self.machine.fire("idle")


class LoopStartLine(OutsideLine, Channel):
    """An analog loop-start line (FXO) with its voice channel (inbound).
    `supervision`: how its far end's hang-up shows (its trunk group's;
    the analog default without)."""

    table = LOOP_START

    def __init__(self, name, driver, clock, listener, offer_on_ring=2, group=None,
                 supervision=None):
        super().__init__(name, driver, clock, listener, group)
        self.offer_on_ring = offer_on_ring
        self.voice = name                 # the line's own voice channel
        self._supervise(supervision or Supervision(frozenset(DEFAULTS["loopstart"])))
        if self.silence is not None:
            driver.set_silence_level(name, self.supervision.silence_dbm0)
        driver.enable_events(name, self.line_events)

    LINE_EVENTS = frozenset({"ring", "ring_stopped", "loop_current", "polarity_reversed",
                             "tone"})
    _on_hook_after_stop = False          # a clear-down waits for an operation to end
    _last_ring = None                    # the count of the last ring (`_new_call`)
    _on_hook_waiters = ()                # when_on_hook's Deferreds, while off hook
    #: What an off-hook that failed with an error says (`_answer_failed`).
    OFFHOOK_ERROR = "the board reported an error"

    def when_on_hook(self):
        """A Deferred fired (with the line) once it is on hook: at once if it
        is, else when it leaves LOOP_START_OFF_HOOK (idle, out of service)."""
        d = defer.Deferred()
        if self.state not in LOOP_START_OFF_HOOK:
            d.callback(self)
        else:
            self._on_hook_waiters = [*self._on_hook_waiters, d]
        return d

    def _supervise(self, supervision):
        """Heed the disconnect methods of `supervision`; with silence, its
        voice resource reports silence too, timed while connected."""
        self.supervision = supervision
        self.line_alarms = set()          # the port's own alarms (LINE_ALARMS)
        self.silence = None
        self.line_events = self.LINE_EVENTS
        if supervision.heeds("silence"):
            self.silence = SilenceWatch(self.clock, supervision.silence_s, self._silent)
            self.line_events = self.LINE_EVENTS | {"silence"}

    def _changed(self, machine, transition):
        super()._changed(machine, transition)
        if self._on_hook_waiters and transition.target not in LOOP_START_OFF_HOOK:
            waiters, self._on_hook_waiters = self._on_hook_waiters, []
            for d in waiters:
                d.callback(self)
        if transition.target == "idle" and self.line_alarms:
            self.machine.fire("out_of_service", reason=self._alarm_reason())
        if self.silence is not None:
            if self.state == "connected":
                self.silence.start()
            else:
                self.silence.stop()
            if transition.target == "idle":      # the next call's caller waits for nothing yet
                self.silence.set_waiting(False)

    def _silent(self):
        """The caller has been silent for the group's time: gone."""
        self._far_cleared(self.supervision.silence_cause())

    def _heed(self, method, how):
        """A disconnect the line showed: the call clears if its group says
        the line gives that method, else it is only logged."""
        if self.supervision.heeds(method):
            self._far_cleared(how)
        elif self.state in ("connected", "answering"):
            log.info("{channel}: {how}, which its trunk group does not take as a "
                     "disconnect: the call goes on", channel=self.name, how=how)

    def report_digits(self, on):
        self.driver.enable_events(self.name, self.line_events | ({"digit"} if on else set()))

    def _replace_voice(self, event):
        """A play, record, digits or tone of the line's own voice channel
        hung: the driver reset it (the hook, its route and events kept), so
        a connected call goes on with it; the listener moves the caller on.
        A hook or a dial that hung is the line's own trouble: cleared."""
        op = event.data.get("op")
        if op not in ("play", "record", "digits", "tone") or self.state != "connected":
            return False
        log.error("{channel}: {op} hung; the channel was reset, the call goes on",
                  channel=self.name, op=op)
        self.listener.voice_hung(self, self.name, op)
        return True

    #: What the port's own alarms say (a kind of line may say them its way).
    ALARM_WORDS = LINE_ALARMS

    def _alarm_reason(self):
        return "line out of service: " + ", ".join(
            self.ALARM_WORDS.get(a, a) for a in sorted(self.line_alarms))

    def _line_alarm(self, name, raised):
        """An alarm of the port itself (a DAHDI FXO port: its board
        removed, its battery gone): the call on it cleared with the reason
        as its cause and the line out of service while any is up; back in
        service once the last clears (unless a technician holds it)."""
        if not raised:
            if name in self.line_alarms:
                self.line_alarms.discard(name)
                log.warn("{channel}: {alarm} cleared", channel=self.name,
                         alarm=LINE_ALARMS.get(name, name), alarm_kind="line")
                if not self.line_alarms and not self.held:
                    self.back_in_service()
            return
        first = not self.line_alarms
        self.line_alarms.add(name)
        reason = self._alarm_reason()
        log.error("{channel}: {reason}", channel=self.name, reason=reason, alarm_kind="line")
        if not first:
            return
        if self.state not in ("idle", "clearing", "far_cleared", "out_of_service",
                              "refused") and self.outbound is None:
            self.listener.trunk_released(self, reason)      # the call layer releases it
        self.take_out_of_service(reason)

    def handle(self, event):
        kind = event.kind
        if kind == "alarm" and event.device == self.name:
            self._line_alarm(event.data["alarm"], event.data["raised"])
            return
        if self.state in ("seizing", "dialing") and self._outbound_event(event):
            return
        self._operation_ended(event)
        if kind == "ring":
            count = event.data.get("count")
            if self.state in ("refused", "offered") and self._new_call(count):
                if self.state == "refused":
                    self.machine.fire("ring_stopped", new_call=True)
                else:                       # the offered caller gave up: released first
                    self.machine.fire("abandoned", new_call=True)
                    self.listener.trunk_released(self, "caller abandoned while ringing")
            if self.state in ("idle", "ringing", "offered"):
                self.machine.fire("ring", count=count)
            self._last_ring = count
            if self.state == "ringing" and event.data.get("count", 1) >= self.offer_on_ring:
                self._offer()
        elif kind == "ring_stopped":
            if self.state == "offered":
                self.machine.fire("abandoned")
                self.listener.trunk_released(self, "caller abandoned while ringing")
            elif self.state == "refused":
                self.machine.fire("ring_stopped")
            else:
                self.machine.fire_if("abandoned")
        elif kind == "hook_done" and self.state == "answering":
            if event.data.get("offhook"):
                self.machine.fire("answered")
            elif "hung" not in event.data.get("reasons", ()):   # hung: operation_failed
                self._answer_failed(event.data.get("reasons", ()))
        elif kind == "hook_done":
            if not event.data.get("offhook") and self.state in ("clearing", "far_cleared"):
                self.machine.fire("idle")
        elif kind == "loop_current" and not event.data.get("on"):
            self._heed("loop_current", "loop current drop")
        elif kind == "polarity_reversed":
            self._heed("reversal", "polarity reversal")
        elif kind == "tone" and event.data.get("on") and event.data.get("tone") in (
                "busy", "reorder"):
            self._heed("tone", f"{event.data['tone']} tone")
        elif kind == "silence" and self.silence is not None:
            self.silence.heard(event.data.get("on"))
        elif kind == "operation_failed":
            self._hung(event)

    def _far_cleared(self, how):
        if self.state in ("connected", "answering"):
            super()._far_cleared(how)

    def _new_call(self, count):
        """Whether a ring on an offered or refused line is a new call's:
        the driver counts each call's rings from 1 (drivers/interface.py),
        so a count not above the last ring's is a new caller (the one
        before gave up, and the driver's ring_stopped never came: R4
        cancels it when the next call rings).  The caller before is
        abandoned; the new one is offered once the line is idle again,
        with its own caller ID, at its next ring."""
        if count is None or self._last_ring is None or count > self._last_ring:
            return False
        log.info("{channel}: ring {count} after ring {last}: the caller gave up, a new call "
                 "rings", channel=self.name, count=count, last=self._last_ring)
        return True

    def _offer(self):
        try:
            cid = self.driver.caller_id(self.name)
            self.ani, self.cid_name = cid.number, cid.name
        except CallerIdUnavailable:
            self.ani, self.cid_name = "", ""   # no caller ID on this call
        self.machine.fire("offer", ani=self.ani)
        self.listener.trunk_offered(self, self.ani, "")

    def answer(self):
        self.machine.fire("answer")
        self.driver.set_hook(self.name, True)

    def _answer_failed(self, reasons):
        """The off-hook of an answer did not take (a modem answered ERROR
        to AT+VLS=1): the call is released with the reason as its cause,
        the line put back on hook."""
        reason = self._offhook_failure(reasons)
        log.error("{channel}: {reason}", channel=self.name, reason=reason)
        self.machine.fire("answer_failed", reason=reason)
        self.listener.trunk_released(self, reason)
        self._clear_down()

    def _offhook_failure(self, reasons):
        """What an off-hook that did not take (an answer's, a seizure's) says."""
        why = self.OFFHOOK_ERROR if "error" in reasons else "the board left it on hook"
        return f"{NO_OFFHOOK}: {why}"

    # -- outbound ------------------------------------------------------------
    def seize(self, number, no_answer_s=NO_ANSWER_S):
        """Place an outbound call (see the module's docstring)."""
        d = self._outbound_start(number, no_answer_s)
        self.driver.set_hook(self.name, True)
        return d

    def _outbound_event(self, event):
        kind, state = event.kind, self.state
        if kind == "hook_done" and event.data.get("offhook") and state == "seizing":
            self.machine.fire("dial")
            self.driver.dial(self.name, self.number, call_progress=CallProgress(
                check_dial_tone_ms=2000, no_answer_ms=round(self.no_answer_s * 1000)))
            return True
        if kind == "hook_done" and state == "seizing":     # the off-hook did not take
            reasons = event.data.get("reasons", ())
            if "hung" in reasons:                 # reset by the driver
                self._outbound_failed(VOICE_HUNG)
            else:
                self._outbound_failed(self._offhook_failure(reasons))
            return True
        if kind == "dial_done" and "hung" in event.data.get("reasons", ()):
            if self.voice == self.name:           # an analog line's own: reset, given up
                self._outbound_failed(VOICE_HUNG)
            return True                           # a pooled one: replaced as it fails
        if kind == "dial_done" and state == "dialing":
            result = event.data.get("result")
            if result == "connected":
                self._outbound_connected()
            else:
                self._outbound_failed(result or "no progress")
            return True
        if kind == "ring":                       # an incoming call had the line first
            self.driver.stop(self.voice)
            self._outbound_failed("glare")
            return True
        return kind in ("loop_current", "polarity_reversed", "tone", "ring_stopped")

    def release(self, reason="normal"):
        if self.state in ("idle", "clearing", "refused"):
            return self.wait_idle()
        if self.outbound is not None:           # a call out not connected yet: given up
            self.driver.stop(self.voice)
            self._outbound_failed(reason)
            return self.wait_idle()
        if self.state == "offered":
            # not answered: it stays on hook, refused, the rest of its rings
            # ignored until they stop (each would offer the call anew)
            self.machine.fire("release", reason=reason)
            return self.wait_idle()
        self.machine.fire("release", reason=reason)
        self._clear_down()
        return self.wait_idle()

    def _clear_down(self):
        """Hang up.  An operation still running on the line (the off-hook of
        a seizure, a dial, a prompt) is stopped first; the board refuses a
        hook change until it has ended, so the on-hook waits for its end
        (`handle`: `_on_hook_after_stop`)."""
        self.driver.stop(self.name)
        try:
            self.driver.set_hook(self.name, False)
        except DeviceBusy:
            self._on_hook_after_stop = True

    def _operation_ended(self, event):
        """An operation stopped for a clear-down has ended: hang up now."""
        if self._on_hook_after_stop and event.kind.endswith("_done"):
            self._on_hook_after_stop = False
            self.driver.set_hook(self.name, False)


class T1LoopStartTrunk(PooledVoice, LoopStartLine):
    """A T1 timeslot with FXS loop-start robbed-bit signalling (lines.md):
    the far end rings with B=0 in the ring cadence, we answer and seize
    with off-hook bits (ABCD 1111) and hang up with on-hook (0101).  Loop
    start carries no disconnect bit: the far end's hang-up is the busy or
    reorder tone it sends, heard by the voice resource; so is the progress
    of a call out (call-progress analysis, as on an analog line).  The
    voice resource comes from the pool at the first ring (or the seizure)
    and goes back at clear-down; no caller ID comes on the timeslot."""

    RING_GAP_S = 7.0       # the ring cadence is 6 s: no ring for longer, the caller gave up

    def __init__(self, name, driver, clock, listener, voice_pool, bus, offer_on_ring=1,
                 group=None, supervision=None):
        Channel.__init__(self, name, driver, clock, listener, group)
        self.offer_on_ring = offer_on_ring
        self.voice_pool = voice_pool
        self.bus = bus
        self.voice = None
        self._rings = 0
        self._gap = None
        self._supervise(supervision or Supervision(frozenset(DEFAULTS["fxs_loopstart"])))
        if self.silence is not None and voice_pool.free:
            # the level is set on the resource each call borrows: a driver
            # that cannot set it refuses now, at the start, not at a call
            driver.set_silence_level(voice_pool.free[0], DEFAULT_SILENCE_DBM0)
        driver.enable_signalling_events(name)

    def report_digits(self, on):
        self._listen({"tone", "digit"} if on else {"tone"})

    def _listen(self, kinds):
        """The pooled resource's events, silence among them (at the group's
        level) when the trunk watches for it."""
        if self.silence is not None and self.voice is not None:
            kinds = set(kinds) | {"silence"}
            self.driver.set_silence_level(self.voice, self.supervision.silence_dbm0)
        super()._listen(kinds)

    def handle(self, event):
        kind = event.kind
        if self.state == "out_of_service":      # its span is down: nothing gets through
            return
        if self.state in ("seizing", "dialing") and self._outbound_event(event):
            return
        if kind == "signalling":
            changed = event.data.get("changed", frozenset())
            if "b_off" in changed and self.state in ("idle", "ringing", "offered", "refused"):
                self._ring()
        elif kind == "tone" and event.data.get("on") and event.data.get("tone") in (
                "busy", "reorder"):
            self._heed("tone", f"{event.data['tone']} tone")
        elif kind == "silence" and self.silence is not None and event.device == self.voice:
            self.silence.heard(event.data.get("on"))
        elif kind == "operation_failed":
            self._hung(event)

    def _ring(self):
        if self.state == "idle":
            if not self._take_voice():
                return
            self._rings = 0
        if self.state != "refused":             # a refused call's rings are only timed
            self._rings += 1
            self.machine.fire("ring", count=self._rings)
        if self._gap is not None and self._gap.active():
            self._gap.reset(self.RING_GAP_S)
        else:
            self._gap = self.clock.callLater(self.RING_GAP_S, self._rings_stopped)
        if self.state == "ringing" and self._rings >= self.offer_on_ring:
            self.ani = self.cid_name = ""
            self.machine.fire("offer", ani="")
            self.listener.trunk_offered(self, "", "")

    def _rings_stopped(self):
        self._gap = None
        if self.state == "offered":
            self.machine.fire("abandoned")
            self.listener.trunk_released(self, "caller abandoned while ringing")
        elif self.state == "ringing":
            self.machine.fire("abandoned")
            self._clear_down()
        elif self.state == "refused":
            self.machine.fire("ring_stopped")

    def _take_voice(self):
        voice = self.voice_pool.take(self)
        if voice is None:
            log.warn("{channel}: no voice resource free: the call is not taken",
                     channel=self.name)
            return False
        self.voice = voice
        self.bus.route(voice, self.name)
        self._listen({"tone"})
        return True

    def answer(self):
        self._stop_gap()
        self.machine.fire("answer")
        self.driver.set_bits(self.name, a=1, b=1)
        self.machine.fire("answered")

    def seize(self, number, no_answer_s=NO_ANSWER_S):
        d = self._outbound_start(number, no_answer_s)
        if not self._take_voice():
            self._outbound_failed("no voice resource free")
            return d
        self.driver.set_bits(self.name, a=1, b=1)
        self.machine.fire("dial")
        self.driver.dial(self.voice, number, call_progress=CallProgress(
            check_dial_tone_ms=2000, no_answer_ms=round(self.no_answer_s * 1000)))
        return d

    def _far_cleared(self, how):
        if self.state in ("connected", "answering"):
            super(LoopStartLine, self)._far_cleared(how)   # not the analog line's

    def release(self, reason="normal"):
        if self.state in ("offered", "refused"):
            # refused unanswered: on hook, its voice resource back; the gap
            # timer goes on, so the rest of its rings offer nothing
            if self.state == "offered":
                self.machine.fire("release", reason=reason)
                self._clear_down()
            return self.wait_idle()
        self._stop_gap()
        return super().release(reason)

    def _stop_gap(self):
        if self._gap is not None and self._gap.active():
            self._gap.cancel()
        self._gap = None

    def _busy_out(self, on):
        self.driver.set_bits(self.name, a=int(on), b=1)       # off-hook, or on-hook (idle)

    def _replace_voice(self, event):
        hung = self.voice
        if not super()._replace_voice(event):
            return False
        if self.silence is not None:        # the new resource says its own silence;
            self.silence.heard(False)       # the hung one, tested, goes back to the
            self.driver.enable_events(hung, set())      # pool as _clear_down leaves one
            self.driver.set_silence_level(hung, DEFAULT_SILENCE_DBM0)
        return True

    def _clear_down(self):
        if self.voice is not None:
            voice, self.voice = self.voice, None
            self.driver.stop(voice)
            self.driver.enable_events(voice, set())
            if self.silence is not None:            # the pool's next user: the default
                self.silence.heard(False)
                self.driver.set_silence_level(voice, DEFAULT_SILENCE_DBM0)
            self.bus.release(voice)
            self.voice_pool.give(voice)
        self.driver.set_bits(self.name, a=0, b=1)
        if self.state in ("clearing", "far_cleared"):
            self.machine.fire("idle")


class Station(Channel):
    """An agent's phone on a station board."""

    table = STATION

    def __init__(self, name, driver, clock, listener, group=None):
        super().__init__(name, driver, clock, listener, group)
        self._stopping = False             # a stop_ring not yet confirmed by the board
        self._ring_next = None             # cycles of a ring asked for meanwhile
        driver.enable_station_events(name)

    def snapshot(self):
        snap = super().snapshot()
        snap["kind"] = "station"
        del snap["held"]                        # a phone is never held for maintenance
        return snap

    def handle(self, event):
        kind = event.kind
        if kind == "alarm" and event.data.get("alarm") == REMOVED_ALARM and event.data["raised"]:
            self._removed()
        elif kind == "station_answered" and self.state == "ringing":
            self.machine.fire("answered")
            self.listener.station_answered(self)
        elif kind == "station_ring_done" and self._stopping:
            self._stopping = False
            if self._ring_next is not None:
                cycles, self._ring_next = self._ring_next, None
                self._drive(self.driver.ring_station, cycles)
        elif kind == "station_ring_done" and self.state == "ringing":
            self.machine.fire("no_answer")
            self.listener.station_no_answer(self)
        elif kind == "station_hook":
            if event.data.get("offhook") and self.state == "onhook":
                self.machine.fire("offhook")
                self._drive(self.driver.station_tone, "dial")
                self.listener.station_offhook(self)
            elif not event.data.get("offhook") and self.state in ("talking", "offhook"):
                was = self.state
                self.machine.fire("onhook")
                self._drive(self.driver.station_tone, None)
                self.listener.station_onhook(self, was)
        elif kind == "station_flash":
            self.machine.fire_if("flash")

    def out_of_service_reason(self):
        """Why the phone is out of service (its board removed), or None."""
        return LINE_ALARMS[REMOVED_ALARM] if self.state == "out_of_service" else None

    def removal_cause(self):
        """The cause of a call that ends as the phone went with its board
        (the CDR's, "phone out of service: ..."), or None while in service."""
        return PHONE_REMOVED if self.state == "out_of_service" else None

    def _removed(self):
        """Its board was removed: out of service for good (no ring, no
        hook: a phone plugged back needs a restart); a ring it had rings
        out, a call it had ends with the removal as its cause, and its
        agent takes no more calls (ICallControl.station_removed)."""
        if self.state == "out_of_service":        # said already (an ENODEV met first)
            return
        was = self.state
        reason = PHONE_REMOVED
        self.machine.fire("removed", reason=reason)
        log.error("{station}: {reason}", station=self.name, reason=reason, alarm_kind="line")
        self.listener.station_removed(self, was, reason)

    def _drive(self, function, *args):
        """A driver call on this phone.  Its board gone before the REMOVED
        event is read (ENODEV: DeviceRemoved) is the removal all the same,
        said on the next turn of the reactor, so that whoever asked (an
        offer ringing it) finishes first and then hears of it."""
        try:
            function(self.name, *args)
        except DeviceRemoved as e:
            log.warn("{station}: {error}", station=self.name, error=e)
            self.clock.callLater(0, self._removed)

    def tone(self, tone):
        """A tone in the earpiece: "dial", "ringback", "busy"..., None to stop."""
        self._drive(self.driver.station_tone, tone)

    def ring(self, cycles=6):
        self.machine.fire("ring", cycles=cycles)
        if self._stopping:                 # the board ends the last ring first
            self._ring_next = cycles
        else:
            self._drive(self.driver.ring_station, cycles)

    def stop_ring(self):
        """Stop ringing; the board confirms with station_ring_done, which
        then belongs to this ring, not to one started meanwhile."""
        if self.state == "ringing":
            self.machine.fire("stop_ring")
            if self._ring_next is not None:
                self._ring_next = None
            else:
                self._stopping = True
                self._drive(self.driver.stop_ring)

    def hang_up(self):
        """The other party left while the phone is still off-hook."""
        self._drive(self.driver.station_tone, None)
        self.machine.fire("release")

    def connect(self):
        """An off-hook phone (auto-answer headset) joins a call."""
        self._drive(self.driver.station_tone, None)
        self.machine.fire("connect")


class VoicePool:
    """Voice resources handed out one per need and always given back.  One
    given back with its operation still running (stopped, not ended yet;
    or hung) is *parked* until that operation's end: then free, or, if
    it hung, in quarantine until it passes a test (then free again), or
    retired.  `busy(name)`: whether an operation runs on it (the driver's)."""

    def __init__(self, names, busy=None):
        self.free = list(names)
        self.busy_with_operation = busy or (lambda name: False)
        self.on_hung = lambda name, op: None   # a resource quarantined: test it (assembly)
        self.owner = {}                   # busy resource -> the channel it serves
        self.parked = set()               # given back, its operation not ended yet
        self.hung_while_lent = {}         # resource -> the op that hung, its user not told
        self.quarantined = set()          # hung: being tested
        self.retired = set()              # failed its tests: never lent again

    def quarantine(self, name):
        self.owner.pop(name, None)
        self.quarantined.add(name)

    def passed(self, name):
        """A quarantined resource passed its test: free again."""
        self.quarantined.discard(name)
        self.free.append(name)

    def retire(self, name):
        self.quarantined.discard(name)
        self.retired.add(name)

    @property
    def busy(self):
        return set(self.owner)

    def take(self, owner=None):
        if not self.free:
            return None
        name = self.free.pop(0)
        self.owner[name] = owner
        return name

    def give(self, name):
        if self.owner.pop(name, "free") == "free":
            return
        if name in self.hung_while_lent:        # quarantined now it is back
            op = self.hung_while_lent.pop(name)
            self.quarantine(name)
            self.on_hung(name, op)
        elif self.busy_with_operation(name):
            self.parked.add(name)
        else:
            self.free.append(name)

    def idle_event(self, event):
        """An event of a resource nobody holds (parked, or free: given back
        by a user its operation's hang was told to first): its operation
        ended (a parked one is free again), or hung: in quarantine now,
        and `on_hung` told."""
        name = event.device
        if event.kind == "operation_failed":
            self.parked.discard(name)
            if name in self.free:
                self.free.remove(name)
            self.quarantine(name)
            self.on_hung(name, event.data.get("op"))
        elif name in self.parked and event.kind.endswith("_done") \
                and "hung" not in event.data.get("reasons", ()):
            self.parked.discard(name)
            self.free.append(name)

    def hung(self, event):
        """A lent resource's operation hung, and its user does not replace
        it: quarantined when given back."""
        if event.device in self.owner:
            self.hung_while_lent[event.device] = event.data.get("op")


class Channels:
    """Every channel and station by device name; board events go to the
    device's channel, or to the trunk its voice resource serves (the voice
    pool knows which); those of a resource nobody holds to the pool."""

    def __init__(self, voice_pool=None):
        self.by_name = {}
        self.voice_pool = voice_pool

    def add(self, channel):
        self.by_name[channel.name] = channel
        return channel

    def __getitem__(self, name):
        return self.by_name[name]

    def __iter__(self):
        return iter(self.by_name.values())

    def handle(self, event):
        channel = self.by_name.get(event.device)
        pool = self.voice_pool
        if channel is None and pool is not None:
            channel = pool.owner.get(event.device)
            if channel is None and (event.device in pool.parked or event.device in pool.free):
                pool.idle_event(event)
                return
        if channel is not None:
            channel.handle(event)
