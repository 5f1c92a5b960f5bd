# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_callback -*-
"""Callback: a waiting caller keeps its place without holding the line.

A queue with `callback_key` offers it in its announcements ("to be
called back without losing your place, press 5").  A waiting caller whose
number is known (the ANI) who presses it hears that it will be called
back, and the line is released; its entry stays where it was in the
queue.  When its turn comes an agent's phone rings as for any call
(`Delivered` with `callback: true` and the `number`); when the agent
answers, the number is dialled on a trunk for calls out (the agent hears
the progress) and, answered, they talk as on any call.  Busy or no
answer: the caller is called again ATTEMPTS times at most, RETRY_S apart,
keeping its first arrival; then the CDR says `callback_failed`.  Once the
key is pressed the place is kept until an agent takes it: the queue's
`max_wait_s`, `leave_empty` and (for a retry) `join_empty` no longer apply
(nobody is on the line to send to an overflow).  An agent who takes the
call while the confirmation plays simply talks with the caller.

The queue log says it too: CALLBACKREQ when asked, CALLBACKFAIL after a
failed attempt.
"""
from twisted.internet import defer
from twisted.logger import Logger
from zope.interface import implementer

from cti.server.errors import Barred, OutboundFailed
from cti.server.interfaces import ICallReleased
from cti.server.outbound.dialing import Caller

log = Logger()

ATTEMPTS = 3
RETRY_S = 300.0
CONFIRM = "queue_callback_confirm"


@implementer(ICallReleased)
class Callbacks:
    part = "the callback"  # what a failed release names (ICallReleased)

    def __init__(self, layer, acd):
        self.layer = layer               # ICallLayer
        self.acd = acd
        self.dialer = self.queueing = None   # given at assembly

    def offer_prompts(self, call, config):
        """What the announcements add when the queue offers callbacks (to a
        caller who called us, with a number to call back that the
        callbacks' class of service allows)."""
        if config.callback_key is None or not self.can_call_back(call) \
                or not self.dialer.guard.allows(self.caller(call), call.call.ani):
            return []
        return ["queue_callback_offer", f"digit_{config.callback_key}"]

    @staticmethod
    def caller(call):
        """Whose class of service a callback is dialled under: the queue's
        callbacks ([dialing] callback_class)."""
        return Caller("callback", call.queue)

    def can_call_back(self, call):
        """Not a call we placed (a call out, an internal call, a callback
        already dialled), and the caller's number is known (and not
        withheld: the agent would see it in the callback's offer), not an
        emergency number (a forged ANI of 911 must not make us call it)
        and one the outbound routes can dial (else the caller would hang
        up for a callback that never comes)."""
        return bool(call.call.shown_ani) and not call.trunk_out \
            and call.call.direction == "inbound" \
            and not self.dialer.guard.is_emergency(call.call.ani) \
            and self.dialer.can_route(call.call.ani)

    def key(self, call, digit):
        """A waiting caller's key: True when it asked for a callback."""
        config = self.layer.config.queue(call.queue)
        if config.callback_key != digit or call.entry is None or call.entry.ringing:
            return False
        if not self.can_call_back(call):
            log.info("call {call}: callback asked, but the caller's number is unknown "
                     "(or the call is one we placed)", call=call.id)
            return False
        try:                              # a spoofed premium-rate ANI is toll fraud too
            self.dialer.guard.check(self.caller(call), call.call.ani, "callback")
        except Barred:
            return False
        self.acd.keep_for_callback(call.call)     # no max wait from now on
        self.queueing.stop_music(call)
        self.layer.voice_hears_caller(call, duplex=True)
        self.layer.records.queue(call.id, call.queue, None, "CALLBACKREQ", call.call.ani)
        call.callback = call.call.ani
        prompts = self.layer.prompts_dir
        prompt = prompts / f"{CONFIRM}.wav" if prompts else None
        if prompt is not None and prompt.exists():
            d = self.layer.ports.play(call.voice, [str(prompt)], barge_in=False)
            d.addCallback(lambda _: self._hang_up(call))
        else:
            self._hang_up(call)
        return True

    def _hang_up(self, call):
        """The line is released; the entry waits on."""
        if call.state == "ended" or call.line_released:
            return
        if call.state != "queued":              # an agent took it during the confirmation
            call.callback = None
            return
        call.line_released = True
        if self.layer.by_trunk.get(call.trunk.name) is call:
            del self.layer.by_trunk[call.trunk.name]
        self.layer.model.clear(call.call, call.trunk.name, "callback requested")
        call.trunk.release("callback requested")
        log.info("call {call}: will be called back at {number}, keeping its place in {queue}",
                 call=call.id, number=call.callback, queue=call.queue)

    @defer.inlineCallbacks
    def dial(self, call):
        """The agent answered a callback's offer: call the caller."""
        station = call.station
        call.callback_attempts += 1

        def seized(trunk):
            self.dialer.hear_progress(station.name, trunk)
            self.layer.model.connect(call.call, trunk.name, "alerting", number=call.callback)
        try:                                 # hours and counts apply now, when it is placed
            self.dialer.guard.check(self.caller(call), call.callback, "callback")
            trunk = yield self.dialer.place(call.callback, self.caller(call), seized)
        except Barred as e:                  # an attempt (ATTEMPTS bound how often it tries)
            self._failed(call, f"barred: {e}")
            return
        except OutboundFailed as e:
            self._failed(call, e.reason)
            return
        if call.state != "talking" or call.station is not station:
            self.dialer.free(trunk, "the agent left")
            return
        self.dialer.far_end_answered(call, trunk)

    def _failed(self, call, reason):
        if call.state != "talking":
            return
        agent_id = call.agent.id if call.agent else None
        self.layer.records.queue(call.id, call.queue, agent_id, "CALLBACKFAIL", reason,
                                 call.callback_attempts)
        station, agent = call.station, call.agent
        if self.layer.bus.connection_of(station.name) is not None:
            self.layer.bus.release(station.name)
        self.acd.call_ended(agent.id, "system")
        if station.state == "talking":
            station.hang_up()
        self.layer.model.clear(call.call, station.name, f"callback failed: {reason}")
        call.agent = call.station = None
        if call.callback_attempts >= ATTEMPTS:
            call.disposition = "callback_failed"
            self.layer.finish(call, "system", f"callback to {call.callback} failed "
                              f"{ATTEMPTS} times ({reason})")
            return
        log.info("call {call}: callback to {number} failed ({reason}); again in {s} s",
                 call=call.id, number=call.callback, reason=reason, s=RETRY_S)
        call.phase.fire("transfer", to=f"queue:{call.queue}")
        call.callback_timer = self.layer.clock.callLater(RETRY_S, self._again, call)

    def _again(self, call):
        call.callback_timer = None
        if call.state == "routing":
            self.layer.to_queue(call, call.queue, priority=call.priority,
                                first_since=call.first_since)

    # -- ICallReleased ----------------------------------------------------------------
    def call_released(self, call, previous, reason, unwind):
        with unwind.step("the callback timer"):
            if call.callback_timer is not None and call.callback_timer.active():
                call.callback_timer.cancel()
