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
from cti.server.interfaces import ICallEnding
from cti.server.outbound.dialing import Caller

log = Logger()

ATTEMPTS = 3
RETRY_S = 300.0
CONFIRM = "queue_callback_confirm"


@implementer(ICallEnding)
class Callbacks:
    part = "the callback"  # what a failed release names (ICallEnding)

    def __init__(self, layer, acd):
        self.layer = layer               # ICallLayer
        self.acd = acd
        self.dialer = self.queueing = None   # given at assembly

    def offer_prompts(self, ic, config):
        """What the announcements add when the queue offers callbacks (to a
        caller who called us, with a number to call back that the
        callbacks' class of service allows)."""
        if config.callback_key is None or not self.can_call_back(ic) \
                or not self.dialer.guard.allows(self.caller(ic), ic.call.ani):
            return []
        return ["queue_callback_offer", f"digit_{config.callback_key}"]

    @staticmethod
    def caller(ic):
        """Whose class of service a callback is dialled under: the queue's
        callbacks ([dialing] callback_class)."""
        return Caller("callback", ic.queue)

    def can_call_back(self, ic):
        """Not a call we placed (a call out, an internal call, a callback
        already dialled), and the caller's number is known and not an
        emergency number (a forged ANI of 911 must not make us call it)."""
        return bool(ic.call.ani) and not ic.trunk_out and ic.call.direction == "inbound" \
            and not self.dialer.guard.is_emergency(ic.call.ani)

    def key(self, ic, digit):
        """A waiting caller's key: True when it asked for a callback."""
        config = self.layer.config.queue(ic.queue)
        if config.callback_key != digit or ic.entry is None or ic.entry.ringing:
            return False
        if not self.can_call_back(ic):
            log.info("call {call}: callback asked, but the caller's number is unknown "
                     "(or the call is one we placed)", call=ic.id)
            return False
        try:                              # a spoofed premium-rate ANI is toll fraud too
            self.dialer.guard.check(self.caller(ic), ic.call.ani, "callback")
        except Barred:
            return False
        self.acd.keep_for_callback(ic.call)     # no max wait from now on
        self.queueing.stop_music(ic)
        self.layer.voice_hears_caller(ic, duplex=True)
        self.layer.records.queue(ic.id, ic.queue, None, "CALLBACKREQ", ic.call.ani)
        ic.callback = ic.call.ani
        prompts = self.layer.prompts_dir
        prompt = prompts / f"{CONFIRM}.wav" if prompts else None
        if prompt is not None and prompt.exists():
            d = self.layer.ports.play(ic.voice, [str(prompt)], barge_in=False)
            d.addCallback(lambda _: self._hang_up(ic))
        else:
            self._hang_up(ic)
        return True

    def _hang_up(self, ic):
        """The line is released; the entry waits on."""
        if ic.state == "ended" or ic.line_released:
            return
        if ic.state != "queued":              # an agent took it during the confirmation
            ic.callback = None
            return
        ic.line_released = True
        if self.layer.by_trunk.get(ic.trunk.name) is ic:
            del self.layer.by_trunk[ic.trunk.name]
        self.layer.model.clear(ic.call, ic.trunk.name, "callback requested")
        ic.trunk.release("callback requested")
        log.info("call {call}: will be called back at {number}, keeping its place in {queue}",
                 call=ic.id, number=ic.callback, queue=ic.queue)

    @defer.inlineCallbacks
    def dial(self, ic):
        """The agent answered a callback's offer: call the caller."""
        station = ic.station
        ic.callback_attempts += 1

        def seized(trunk):
            self.dialer.hear_progress(station.name, trunk)
            self.layer.model.connect(ic.call, trunk.name, "alerting", number=ic.callback)
        try:                                 # hours and counts apply now, when it is placed
            self.dialer.guard.check(self.caller(ic), ic.callback, "callback")
            trunk = yield self.dialer.place(ic.callback, self.caller(ic), seized)
        except Barred as e:                  # an attempt (ATTEMPTS bound how often it tries)
            self._failed(ic, f"barred: {e}")
            return
        except OutboundFailed as e:
            self._failed(ic, e.reason)
            return
        if ic.state != "talking" or ic.station is not station:
            self.dialer.free(trunk, "the agent left")
            return
        self.dialer.far_end_answered(ic, trunk)

    def _failed(self, ic, reason):
        if ic.state != "talking":
            return
        self.layer.records.queue(ic.id, ic.queue, ic.agent.id if ic.agent else None, "CALLBACKFAIL",
                                 reason, ic.callback_attempts)
        station, agent = ic.station, ic.agent
        if self.layer.bus.connection_of(station.name) is not None:
            self.layer.bus.release(station.name)
        self.acd.call_ended(agent.id, "system")
        if station.state == "talking":
            station.hang_up()
        self.layer.model.clear(ic.call, station.name, f"callback failed: {reason}")
        ic.agent = ic.station = None
        if ic.callback_attempts >= ATTEMPTS:
            ic.disposition = "callback_failed"
            self.layer.finish(ic, "system", f"callback to {ic.callback} failed {ATTEMPTS} times "
                              f"({reason})")
            return
        log.info("call {call}: callback to {number} failed ({reason}); again in {s} s",
                 call=ic.id, number=ic.callback, reason=reason, s=RETRY_S)
        ic.phase.fire("transfer", to=f"queue:{ic.queue}")
        ic.callback_timer = self.layer.clock.callLater(RETRY_S, self._again, ic)

    def _again(self, ic):
        ic.callback_timer = None
        if ic.state == "routing":
            self.layer.to_queue(ic, ic.queue, priority=ic.priority,
                                first_since=ic.first_since)

    # -- ICallEnding ------------------------------------------------------------------
    def call_ending(self, call, previous, released_by, reason, cause, unwind):
        pass

    def call_released(self, call, previous, reason, unwind):
        with unwind.step("the callback timer"):
            if call.callback_timer is not None and call.callback_timer.active():
                call.callback_timer.cancel()
