# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_callcenter -*-
"""The call core: the calls the call layer handles, who hears whom on
them, and their end.

`CallLayer` keeps every TrunkCall (cti.server.core.call) by id and by its
outside party's device, answers trunks, joins caller and agent on the
CT-Bus (a cti.server.lines.talk.Talk), and ends a call once, whatever
ends it (`finish`): each feature holding part of the call lets go of it
(ICallEnding, in the order of assembly), the bridge comes down, the
outside party is released, the call model cleared and the CDR written.
A release runs every step even if one fails (cti.server.core.unwind).

Features reach it through ICallLayer (cti.server.interfaces); it knows
them only as ICallEnding listeners and as the two destinations of a call
(`to_queue`: the queueing feature, `to_flow`: the IVR), given at
assembly (cti.server.center).

Audio never passes through Python: the CT-Bus (ctbus.SwitchingMap) joins
timeslots and the boards play and record.
"""
from twisted.internet import defer
from twisted.logger import Logger
from zope.interface import implementer

from cti.server.core.call import TrunkCall
from cti.server.core.unwind import Unwind
from cti.server.errors import InvalidState, NoSuchObject
from cti.server.interfaces import ICallLayer
from cti.server.lines.talk import Talk

log = Logger()

#: How often a drain says how many calls are still up.
DRAIN_LOG_S = 5.0


@implementer(ICallLayer)
class CallLayer:
    def __init__(self, clock, config, driver, channels, bus, model, ports, moh, records):
        self.clock = clock
        self.config = config
        self.driver = driver
        self.channels = channels
        self.bus = bus
        self.model = model
        self.ports = ports
        self.moh = moh
        self.records = records           # cti.server.core.records.Records
        self.prompts_dir = None          # the prompts ([flow] prompts_dir), and where
        self.recordings_dir = None       # recordings go: Paths, given at assembly
        self.calls = {}                  # call id -> TrunkCall
        self.by_trunk = {}               # outside party's device -> TrunkCall
        self.accepting = True
        self.totals = {"offered": 0, "ended": 0}
        self.ending = []                 # ICallEnding, in the order they let go
        self.released = []               # ICallReleased, after the bridge is down
        self.explain_missing = []        # callables(call id) raising a better error
        self.queueing = None             # the destinations of a call, given at
        self.ivr = None                  # assembly (cti.server.center)

    # -- the calls -----------------------------------------------------------------
    def admit(self, trunk, ani, dnis, presentation="allowed"):
        """A new inbound call on `trunk` (its digits heard from now on)."""
        call = self.model.new_call(trunk.name, ani=ani, dnis=dnis, trunk_group=trunk.group,
                                   presentation=presentation)
        call.data.update(trunk.offer_data)
        handled = TrunkCall.start(self.clock, call, trunk, offered_at=self.clock.seconds())
        self.add(handled)
        self.totals["offered"] += 1
        trunk.report_digits(True)
        self.model.connect(call, trunk.name, "alerting")
        return handled

    def add(self, call):
        """Handle `call` from now on (its outside party's keys and hang-up too);
        what a crash would leave of it is kept up to date from now on, and
        its outside party told whenever its caller starts or stops waiting."""
        self.calls[call.id] = call
        self.by_trunk[call.trunk.name] = call
        self.records.call_progress(call)

        def phase_changed(machine, transition):
            self.clock.callLater(0, self.records.call_progress, call)  # once its fields are set
            self._tell_waiting(call)
        call.phase.on_change = phase_changed
        call.media.on_change = lambda machine, transition: self._tell_waiting(call)

    @staticmethod
    def _tell_waiting(call):
        """The outside party learns whether its caller waits (IOutsideParty.
        set_waiting); a line released for a callback is another call's by now."""
        if not call.line_released:
            call.trunk.set_waiting(call.waiting)

    def call(self, call_id):
        call = self.calls.get(call_id)
        if call is None:
            for explain in self.explain_missing:
                explain(call_id)
            raise NoSuchObject(f"no call {call_id!r} (it may have ended)", object="call",
                               id=call_id)
        return call

    def call_alive(self, call):
        """Is this call (of the call model) still up here?  A call the
        layer handles is while it has it; a consultation, a call out or
        an internal call while the call model does (until it is cleared)."""
        return call.id in self.calls or call.id in self.model.calls

    def to_queue(self, call, queue, cause=None, priority=None, first_since=None):
        self.queueing.to_queue(call, queue, cause, priority, first_since)

    def to_flow(self, call, flow):
        self.ivr.to_flow(call, flow)

    # -- the trunk -------------------------------------------------------------------
    def answer_then(self, call, then, cause=None):
        """Answer the trunk (if not yet), then continue.  `cause`: the
        protocol request behind it, echoed by the trunk's Established."""
        trunk = call.trunk
        if trunk.answered:
            then()
            return
        if trunk.state not in ("offered", "answering"):
            return
        if trunk.state == "offered":
            trunk.answer()
        d = trunk.when("connected")          # an analog line: once off-hook
        d.addCallback(lambda _: None if call.state == "ended"
                      else self._answered(call, then, cause))

    def _answered(self, call, then, cause):
        self.model.connect(call.call, call.trunk.name, "connected", cause=cause)
        then()

    def answer(self, call, cause):
        """Answer the trunk of a call not answered yet: a Deferred fired
        once it is (an analog line: once off-hook), failing with
        NoSuchObject if the call ends first."""
        trunk = call.trunk
        if trunk.state != "offered":
            raise InvalidState(f"call {call.id}: the trunk is {trunk.state}")
        trunk.answer()
        ended = defer.Deferred()
        call.at_end.append(ended)
        d = defer.race([trunk.when("connected"), ended])

        def answered(_):
            if call.state == "ended":
                raise NoSuchObject(f"call {call.id} was cleared ({call.cause})",
                                   object="call", id=call.id)
            self.model.connect(call.call, trunk.name, "connected", cause=cause)
        return d.addCallback(answered)

    # -- the CT-Bus -----------------------------------------------------------------
    @staticmethod
    def caller_endpoint(call):
        return call.trunk.endpoint

    def voice_hears_caller(self, call, duplex):
        """The caller's voice resource hears the caller; and, duplex, the
        caller hears it (prompts).  Half duplex leaves the caller free to
        hear music or an agent."""
        if call.voice is None or call.trunk.ivr_only:   # an agent called with none free;
            return                                      # a modem's voice is its line's own
        caller = call.trunk.endpoint
        connection = self.bus.connection_of(call.voice)
        if connection is not None and getattr(connection, "duplex", None) is duplex \
                and {connection.a, connection.b} == {call.voice, caller}:
            return
        self.moh.leave(caller)
        self.bus.release(call.voice)
        if duplex and self.bus.connection_of(caller) is not None:
            self.bus.disconnect(self.bus.connection_of(caller))
        self.bus.route(call.voice, caller, duplex=duplex)

    def voice_replaced(self, call):
        """The call's voice resource was replaced (the old one hung): the
        new one hears the caller as the old one did, and is heard in the
        IVR; elsewhere it only listens (for keys), whatever the caller
        hears meanwhile (music, an agent) going on."""
        if call.state in ("ivr", "routing"):
            self.voice_hears_caller(call, duplex=True)
        else:
            self.bus.route(call.voice, call.trunk.endpoint, duplex=False)

    def talk_with(self, endpoint):
        """A Talk (who hears whom) around `endpoint`: the caller of a call,
        or the phone of an agent consulting (music on hold while alone)."""
        return Talk(self.bus, self.config.conference_pool, endpoint, self.moh)

    def bridge(self, call):
        """Caller and agent talk (a duplex route until someone else joins);
        the voice resource keeps hearing the caller."""
        call.station.tone(None)
        self.voice_hears_caller(call, duplex=False)
        call.talk = self.talk_with(call.trunk.endpoint)
        call.talk.set(call.station.name, "talk")

    def hold_caller(self, call, music):
        """The caller hears `music` (a file, or None: silence) while a call
        is placed for it: its voice resource only listens."""
        if call.talk is None:
            self.voice_hears_caller(call, duplex=False)
            call.talk = self.talk_with(call.trunk.endpoint)
        if not call.held:
            call.talk.hold(music)
            call.media.fire("hold")

    def unbridge(self, call):
        call.talk.end()
        call.talk = None
        if call.voice == call.trunk.name and not call.trunk_out:   # analog: its power-on route
            self.bus.release(call.voice)
            self.bus.route(call.voice, f"{call.voice}/line")

    # -- the end ----------------------------------------------------------------------
    def finish(self, call, released_by, reason, cause=None):
        """Release everything the call holds, once; write its CDR.  `cause`:
        the protocol request that ended it (ClearConnection), if any.  Each
        part is released on its own (cti.server.core.unwind): one that fails
        is logged and the rest still runs, the CDR says what failed."""
        if call.state == "ended":
            return
        previous = call.state
        call.released_by, call.cause = released_by, reason
        call.phase.fire("end", by=released_by, cause=reason)
        unwind = Unwind(f"call {call.id}")
        for part in self.ending:
            with unwind.step(part.part):
                part.call_ending(call, previous, released_by, reason, cause, unwind)
        if previous == "placing":
            with unwind.step("the hold"):       # the caller's music while it rang
                talk, call.talk = call.talk, None
                talk.end()
        elif previous == "talking":
            with unwind.step("the bridge"):
                if call.talk is not None:
                    self.unbridge(call)
        for part in self.released:
            with unwind.step(part.part):
                part.call_released(call, previous, reason, unwind)
        with unwind.step("the trunk"):
            if not call.trunk_out and not call.line_released:
                call.trunk.end_call(reason, released_by, cause)
        with unwind.step("the call model"):
            self.model.clear_call(call.call, reason, cause=cause)
        self.calls.pop(call.id, None)
        if self.by_trunk.get(call.trunk.name) is call:
            del self.by_trunk[call.trunk.name]
        self.totals["ended"] += 1
        call.cause = reason + unwind.summary()
        with unwind.step("the CDR"):
            self.records.call(call, previous)
        for d in call.at_end:            # after RouteEnd, as docs/protocol.md orders them
            with unwind.step("a request waiting for the end"):
                d.callback(call)         # (a Deferred cancelled meanwhile ignores it)

    def drain(self, timeout_s):
        """Take no new calls; a Deferred fired when every call has ended,
        clearing those still up after `timeout_s` with cause 'server shutdown'.
        Its progress is logged every DRAIN_LOG_S."""
        self.accepting = False
        done = defer.Deferred()
        started = self.clock.seconds()
        deadline = started + timeout_s
        said = [started]

        def check():
            now = self.clock.seconds()
            if not self.calls:
                log.info("drained: no call left after {s:.1f} s", s=now - started)
                done.callback(None)
                return
            if now >= deadline:
                log.warn("draining: {n} calls still up after {s} s: clearing them",
                         n=len(self.calls), s=timeout_s)
                for call in list(self.calls.values()):
                    self.finish(call, "system", "server shutdown")
            elif now - said[0] >= DRAIN_LOG_S:
                said[0] = now
                log.info("draining: {n} calls still up, {left:.0f} s before they are cleared",
                         n=len(self.calls), left=deadline - now)
            self.clock.callLater(0.1, check)
        log.info("draining: taking no new call; {n} calls up, {s} s for them to end",
                 n=len(self.calls), s=timeout_s)
        check()
        return done

    def snapshot(self, call_id):
        """The call model's snapshot, and for a call the layer handles what
        it knows: its phase, the agent on it, held, recorded (a
        supervisor's presence is not shown: a silent monitor must not be)."""
        model_call = self.model.calls.get(call_id)
        if model_call is None:
            return None
        call = self.calls.get(call_id)
        return {**model_call.snapshot(),
                "phase": call.state if call else None,
                "agent": call.agent.id if call and call.agent else None,
                "held": bool(call and call.held),
                "recording": call.recording[1] if call and call.recording else None}
