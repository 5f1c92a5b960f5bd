# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_callcenter -*-
"""Callers waiting in queues: the telephony side of the ACD.

The ACD (cti.server.queueing.acd) decides who takes the next call; this
module does what its decisions mean for the caller and the phones
(IACDOwner): a queued caller's trunk is answered and it hears the queue's
music from the voice resource serving the trunk (still hearing its keys,
for the exit key), every `announce_every_s` its place in line and the
expected wait; an offer rings the agent's phone (or on a headset already
off-hook, a ringback tone: AnswerCall connects); the phone lifted, caller
and agent talk.

A full queue (max_length) takes no call: RouteSelect is refused
(queue_full, the flow decides), and a call routed to it otherwise goes to
the queue's overflow (past overflow queues full too), or without one gets
busy: a trunk not answered yet is released unanswered, so the network
gives the caller its busy or reorder tone (CDR disposition queue_full).
A caller who leaves a queue without an agent (max wait, nobody left to
serve it, its exit key) goes to the queue's overflow, a queue (keeping its
priority and first arrival) or a flow; without one the call is released.
A call sent to a queue a reload removed (back from a transfer that did
not connect) goes to the flow_down queue, or is released without one; a
callback to try again ends.  While a call is on its way to a queue (its
trunk being answered, a callback between attempts: `on_the_way`), a
reload may not remove the queue.
"""
import os

from twisted.logger import Logger
from zope.interface import implementer

from cti.flow.model import say
from cti.server.errors import ACDError
from cti.server.interfaces import IACDOwner, ICallEnding

log = Logger()

#: The CDR disposition of a caller who leaves a queue without an agent,
#: when the queue has no overflow, by the ACD's reason.
LEFT = {"join_empty": "queue_empty", "empty": "queue_empty", "timeout": "timed_out",
        "exit_key": "exited"}


@implementer(IACDOwner, ICallEnding)
class Queueing:
    part = "the queue"  # what a failed release names (ICallEnding)

    def __init__(self, layer):
        self.layer = layer               # ICallLayer
        self.acd = None                  # the ACD, and the features it works with,
        self.ivr = self.callbacks = self.consults = self.supervisors = None   # assembly

    # -- into a queue -----------------------------------------------------------------
    def queue_call(self, call, queue, cause=None, priority=None, first_since=None):
        """Answer the trunk (if not yet) and queue the call (with the
        queue's priority unless given); a full queue's treatment if full.
        A call on a voice modem's line cannot wait for an agent (no CT-Bus
        joins them): it ends, the reason its cause."""
        if call.trunk.ivr_only:
            log.error("call {call}: not queued to {queue}: {why}", call=call.id, queue=queue,
                      why=call.trunk.ivr_only)
            self.layer.finish(call, "system", call.trunk.ivr_only)
            return
        if self.layer.config.queue(queue) is None:
            self._queue_gone(call, queue)
            return
        if self.acd.full(queue):
            self._queue_full(call, queue, priority, first_since)
            return
        call.bound_for = queue               # until to_queue: on its way (a reload asks)
        self.layer.answer_then(call, lambda: self.to_queue(call, queue, cause, priority,
                                                           first_since), cause)

    def to_queue(self, call, queue, cause=None, priority=None, first_since=None):
        """Queue a call whose trunk is answered (or whose line waits
        released, a callback)."""
        call.bound_for = None
        if call.state == "ended":
            return
        config = self.layer.config.queue(queue)
        if config is None:                   # a reload removed it meanwhile
            self._queue_gone(call, queue)
            return
        if self.acd.full(queue):             # it filled while the trunk was answered
            self._queue_full(call, queue, priority, first_since)
            return
        self.ivr.clear_route_point(call, "redirected", cause)
        call.flow_session = None
        self.ivr.cancel_watchdog(call)
        now = self.layer.clock.seconds()
        call.queue = queue
        call.queued_at, call.left_queue_at = now, None
        call.phase.fire("to_queue", queue=queue)
        self.layer.model.connect(call.call, f"queue:{queue}", "queued", cause=cause,
                                 priority=config.priority if priority is None else priority,
                                 firstWaitS=0.0 if first_since is None
                                 else round(now - first_since, 3))
        try:
            entry = self.acd.enqueue(call.call, queue, priority, first_since,
                                     callback=call.line_released, cause=cause)
            call.priority = entry.priority
        except ACDError as e:                # join_empty: nobody could take it
            self._leave_queue(call, config, "join_empty", priority, first_since, str(e))
            return
        call.entry = entry
        if call.first_since is None:
            call.first_since = entry.first_since
        self._schedule_announcement(call)
        if call.state == "queued":
            self._start_music(call)

    def queue_of(self, call):
        """The ACD's state of the queue the call came through (its wrap-up,
        its figures): its entry's, kept even when a reload removed the
        queue; None for a call no queue handled."""
        if call.entry is not None and call.entry.queue_name == call.queue:
            return call.entry.queue
        return self.acd.queues.get(call.queue) if call.queue else None

    def on_the_way(self):
        """Queue -> the calls heading for it that are not in it yet, [(call
        id, how)]: a trunk being answered for it, a callback between
        attempts (a reload may not remove the queue meanwhile)."""
        heading = {}
        for call in self.layer.calls.values():
            if call.bound_for is not None:
                heading.setdefault(call.bound_for, []).append(
                    (call.id, "its trunk being answered for it"))
            elif call.callback_timer is not None and call.state == "routing":
                heading.setdefault(call.queue, []).append(
                    (call.id, "a callback to try again"))
        return heading

    def _queue_gone(self, call, queue):
        """A call sent to a queue no longer configured (a reload removed it
        while the call talked, or was on its way to it): a callback ends
        (callback_failed: nobody is on the line to send elsewhere), a
        caller goes to the flow_down queue, or is released without one."""
        why = f"queue {queue} is no longer configured"
        if call.line_released:
            call.disposition = "callback_failed"
            self.layer.finish(call, "system", f"{why}: the callback to {call.callback} is "
                              "not tried again")
            return
        flow_down = self.layer.config.flow_down_queue
        if not flow_down or flow_down == queue:
            self.layer.finish(call, "system", f"{why}, and there is no flow_down queue")
            return
        log.warn("call {call}: {why}: to the flow_down queue {flow_down}", call=call.id,
                 why=why, flow_down=flow_down)
        call.call.data.setdefault("treatment", why)
        self.queue_call(call, flow_down, priority=call.priority)

    def _queue_full(self, call, queue, priority=None, first_since=None):
        """A full queue's treatment: its overflow, followed past queues
        that are full too (a caller moved to a queue keeps its priority and
        first arrival), or busy when there is none: the call is cleared, a
        trunk not answered yet released unanswered (the network gives the
        caller busy or reorder, and does not charge the call)."""
        overflow = None if call.line_released else self._overflow_of_full(queue)
        self.record_queue(call.id, queue, None, "FULL",
                          "busy" if overflow is None else ":".join(overflow))
        if overflow is None:
            log.warn("call {call}: queue {queue} is full: busy", call=call.id, queue=queue)
            call.queue, call.disposition = queue, "queue_full"
            self.layer.finish(call, "system", f"queue {queue} is full")
            return
        kind, target = overflow
        log.info("call {call}: queue {queue} is full: to {kind} {target}", call=call.id,
                 queue=queue, kind=kind, target=target)
        if kind == "queue":
            self.queue_call(call, target, priority=priority, first_since=first_since)
            return
        if call.state == "queued":                  # left another queue for this one
            call.left_queue_at = self.layer.clock.seconds()
        elif call.state == "ivr":                   # a flow's RouteSelect, as it filled
            self.ivr.leave(call, "redirected")
        if call.state != "routing":
            call.phase.fire("to_flow_again", flow=target)
        if call.trunk.answered:                     # the flow's prompts are heard
            self.layer.voice_hears_caller(call, duplex=True)
        self.ivr.to_flow(call, target)

    def _overflow_of_full(self, queue):
        """Where a caller who finds `queue` full goes: its overflow, and
        while that is a full queue, that queue's; None when the chain
        ends (or comes back) without a queue with room, or at a flow with
        no flow server to run it (its default treatment would be a queue
        again: the flow_down queue, full perhaps)."""
        seen = set()
        while queue not in seen:
            seen.add(queue)
            overflow = self.layer.config.queue(queue).overflow
            if overflow is None:
                return None
            if overflow[0] == "flow":
                return overflow if self.ivr.servers() else None
            if not self.acd.full(overflow[1]):
                return overflow
            queue = overflow[1]
        return None

    def _leave_queue(self, call, config, reason, priority, first_since, why):
        """To the queue's overflow (a queue, keeping priority and first
        arrival, or a flow), or released with `why` when it has none."""
        call.entry = None
        if config.overflow is None:
            call.disposition = LEFT[reason]
            self.layer.finish(call, "system", why)
            return
        self.stop_music(call)
        self.layer.model.clear(call.call, f"queue:{config.name}", "overflow")
        kind, target = config.overflow
        log.info("call {call}: leaves queue {queue} ({reason}) for {kind} {target}",
                 call=call.id, queue=config.name, reason=reason, kind=kind, target=target)
        if kind == "queue":
            self.to_queue(call, target, priority=priority, first_since=first_since)
        else:
            call.left_queue_at = self.layer.clock.seconds()
            call.phase.fire("to_flow_again", flow=target)
            self.layer.voice_hears_caller(call, duplex=True)
            self.ivr.to_flow(call, target)

    def caller_key(self, call, digit):
        """A waiting caller's key: its queue's exit key, or a callback asked."""
        if not self.acd.exit_key(call.call, digit):
            self.callbacks.key(call, digit)

    # -- music ------------------------------------------------------------------------
    def queue_music(self, name):
        """The path of queue `name`'s music, or None (no queue, one no
        longer configured, no music)."""
        queue = self.layer.config.queue(name) if name else None
        music = queue.music if queue is not None else None
        if not music or self.layer.prompts_dir is None:
            return None
        path = self.layer.prompts_dir / f"{music}.wav"
        return str(path) if path.exists() else None

    def hold_music(self, call):
        """What a held caller hears: its queue's music, or for a call that
        was never in a queue the first queue's that has music."""
        return self.queue_music(call.queue) or next(
            filter(None, (self.queue_music(q.name) for q in self.layer.config.queues)), None)

    def _start_music(self, call):
        """The waiting caller hears the queue's music (the broadcast of
        cti.server.lines.talk.MusicOnHold); its voice resource keeps
        hearing the caller, for the exit key.  After a flow prompt still
        ending."""
        path = self.queue_music(call.queue)
        if path is None or call.line_released or call.media.state != "none" \
                or call.state not in ("queued", "ringing"):   # answered, left, held...
            return
        ports = self.layer.ports
        if call.voice is not None and ports.busy(call.voice):
            ports.pending[call.voice].addBoth(lambda r: self._start_music(call) or r)
            return
        call.media.fire("music")
        self.layer.voice_hears_caller(call, duplex=False)
        self.layer.moh.join(call.trunk.endpoint, path)

    def stop_music(self, call):
        """The queue's music and announcements stop (answered, left, ended)."""
        if call.music:
            call.media.fire("stop")
            self.layer.moh.leave(call.trunk.endpoint)
        if call.announcing:                   # an announcement playing: cut it
            call.media.fire("cut")
            self.layer.ports.stop(call.voice)
        if call.announce_timer is not None and call.announce_timer.active():
            call.announce_timer.cancel()
        call.announce_timer = None

    # -- announcements to waiting callers ---------------------------------------------
    def _schedule_announcement(self, call):
        config = self.layer.config.queue(call.queue)
        if config.announce_every_s is not None and call.voice is not None:
            call.announce_timer = self.layer.clock.callLater(config.announce_every_s,
                                                             self._announce, call)

    def _announcement(self, call, entry, config):
        """The prompts of the caller's next announcement."""
        names = []
        if "position" in config.announce:
            names += ["queue_position", *say("number", str(self.acd.position(entry)))]
        if "wait" in config.announce:
            wait = self.acd.estimated_wait(entry)
            if wait is not None and wait < 60:
                names.append("queue_wait_short")
            elif wait is not None:
                minutes = round(wait / 60)
                names += ["queue_wait", *say("number", str(minutes)),
                          "queue_minute" if minutes == 1 else "queue_minutes"]
        if config.messages:
            names.append(config.messages[call.announcements % len(config.messages)])
        return names + self.callbacks.offer_prompts(call, config)

    def _announce(self, call):
        """Every `announce_every_s` of waiting: place in line, expected wait,
        the next message; then the music again."""
        call.announce_timer = None
        entry, ports = call.entry, self.layer.ports
        if call.state != "queued" or entry is None or ports.busy(call.voice):
            if call.state in ("queued", "ringing"):
                self._schedule_announcement(call)
            return
        names = self._announcement(call, entry, self.layer.config.queue(call.queue))
        call.announcements += 1
        if not names:                         # nothing this caller is to hear now
            self._schedule_announcement(call)
            return
        prompts = self.layer.prompts_dir
        files = [str(prompts / f"{n}.wav") for n in names] if prompts else []
        missing = [f for f in files if not os.path.isfile(f)]
        if missing or not files:
            log.warn("queue {queue}: announcement prompts missing: {missing}",
                     queue=call.queue, missing=missing or names)
            self._schedule_announcement(call)
            return
        self.stop_music(call)
        self.layer.voice_hears_caller(call, duplex=True)
        call.media.fire("announce")
        d = ports.play(call.voice, files, barge_in=False)

        def done(result):
            if not call.announcing:
                return                        # cut: answered, left or hung up
            call.media.fire("announced")
            if call.state in ("queued", "ringing"):
                self._start_music(call)
                self._schedule_announcement(call)
        d.addCallback(done)

    # -- IACDOwner: offers to agents ----------------------------------------------------
    def offer(self, entry, agent):
        if self.consults.offered(entry, agent):
            return
        call = self.layer.calls[entry.call.id]
        station = self.layer.channels[agent.station]
        if call.state == "queued":                # ring_all: the first of several
            call.phase.fire("offer", agent=agent.id)
        call.agent, call.station = agent, station
        wait = self.layer.clock.seconds() - entry.since
        extra = {"agent": agent.id, "queue": entry.queue.name, "waitS": round(wait, 3)}
        if call.callback is not None:
            extra.update(callback=True, number=call.callback)
        self.ring(station, agent)
        self.layer.model.connect(call.call, station.name, "alerting", cause=self.acd.cause,
                                 **extra)

    def ring(self, station, agent):
        """Ring the agent's phone for the ACD's offer: its bell, or on a
        headset already off-hook a ringback tone (AnswerCall connects).  A
        phone busy otherwise cannot take it: the offer rings out at once."""
        if station.state == "onhook":
            station.ring()
        elif station.state == "offhook":
            station.tone("ringback")
        else:
            self.layer.clock.callLater(0, self.acd.no_answer, agent)

    def withdraw(self, entry, agent):
        call = self.layer.calls.get(entry.call.id)
        station = self.layer.channels[agent.station]
        station.stop_ring()
        if station.state == "offhook":
            station.tone(None)
        if call is None:
            self.consults.withdrawn(entry, station)
            return
        if station.name in call.call.connections:
            reason = call.cause if call.state == "ended" else (
                "answered elsewhere" if entry.agent is not None else "not answered")
            self.layer.model.clear(call.call, station.name, reason, cause=self.acd.cause)
        if entry.agent is not None:               # ring_all: another agent answered
            return
        if call.agent is agent:
            call.agent, call.station = (
                entry.ringing[-1], self.layer.channels[entry.ringing[-1].station]
            ) if entry.ringing else (None, None)
        if call.state == "ringing" and not entry.ringing:
            call.phase.fire("withdrawn")

    def queue_exit(self, entry, reason):
        """A caller (or a consultation) left the queue without an agent
        (the ACD says why)."""
        why = {"timeout": f"waited the longest allowed in queue {entry.queue_name}",
               "empty": f"no agent left to serve queue {entry.queue_name}",
               "exit_key": f"left queue {entry.queue_name} with its exit key"}[reason]
        call = self.layer.calls.get(entry.call.id)
        if call is None:
            self.consults.queue_exit(entry, why)
        else:
            self._leave_queue(call, entry.queue.config, reason, entry.priority,
                              entry.first_since, why)

    def answered(self, call, cause=None):
        """`call.agent` answered its offer (the phone lifted, or AnswerCall)."""
        entry = self.acd.answered(call.agent.id, cause=cause)
        call.answered_at = self.layer.clock.seconds()
        call.answered_by = (call.agent.id, call.station.name)
        self.stop_music(call)
        if not call.line_released:
            self.layer.bridge(call)
        call.phase.fire("answered", agent=call.agent.id)
        if call.station.state == "offhook":
            call.station.connect()
        model = self.layer.model
        model.clear(call.call, f"queue:{entry.queue.name}", "answered", cause=cause)
        model.connect(call.call, call.station.name, "connected", cause=cause,
                      agent=call.agent.id)
        if call.line_released:                     # a callback: now call the caller
            self.callbacks.dial(call)
            return
        self.supervisors.call_connected(call)

    def call_alive(self, call):
        return self.layer.call_alive(call)

    def station_out_of_service(self, station):
        phone = self.layer.channels.by_name.get(station)
        return phone.out_of_service_reason() if phone is not None else None

    def record_queue(self, call_id, queue, agent, event, *data):
        self.layer.records.queue(call_id, queue, agent, event, *data)

    def record_state(self, agent, state, reason, previous, call_id):
        self.layer.records.agent_state(agent, state, reason, previous, call_id)

    def record_login(self, agent, station, login_at):
        self.layer.records.agent_login(agent, station, login_at)

    def record_session(self, agent, station, login_at, reason):
        self.layer.records.agent_session(agent, station, login_at, reason)

    # -- ICallEnding --------------------------------------------------------------------
    def call_ending(self, call, previous, released_by, reason, cause, unwind):
        with unwind.step("the music"):
            self.stop_music(call)
        if previous in ("queued", "ringing"):
            with unwind.step("the queue"):
                if released_by == "caller":
                    self.acd.abandon(call.call)
                else:
                    self.acd.cleared(call.call, reason)
