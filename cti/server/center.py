# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_callcenter -*-
"""The call layer assembled: the call core and its features, wired.

This is the one module that knows every feature.  It builds them around
the call core (cti.server.core.layer.CallLayer), gives each the others it
works with, registers their services at the protocol edge (each feature's
handlers.py), and is the channels' listener (IChannelListener): it hands
each line event to the feature it concerns, in the order that decides
who owns a phone (a consultation's, a call out's, then the ACD's offer).

    feature       package                  owns
    call core     cti.server.core          calls, bridging, the end, records
    ivr           cti.server.ivr           flow servers, the watchdog, voice operations
    queueing      cti.server.queueing      queues, music, announcements, offers (the ACD)
    agents        cti.server.agents        states, login, answering, hanging up
    desk          cti.server.desk          hold, transfer, DTMF, party roles, recording
    consult       cti.server.consult       consultations, conferences, extensions
    supervision   cti.server.supervision   monitor, whisper, barge, intercept, forcing
    outbound      cti.server.outbound      calls out, internal calls, classes of service
    callback      cti.server.callback      a waiting caller called back
    monitored     cti.server.monitored     lines a caller-ID box watches: their caller ID

One inbound call, through the floors: the channel offers it
(`trunk_offered`); the core admits it; the route sends it to the IVR
(a flow server's RouteRequest) or to queueing; the ACD offers it to an
agent (queueing rings the phone); the phone lifted (`station_answered`),
queueing bridges caller and agent; the desk serves the agent's requests;
either side hanging up ends it in the core, every feature letting go of
its part (ICallEnding), and the CDR is written.
"""
from pathlib import Path

from twisted.internet import task
from twisted.logger import Logger
from zope.interface import implementer

from cti.server.agents import handlers as agents_handlers
from cti.server.agents.agents import Agents
from cti.server.agents.presence import Presence
from cti.server.callback.callback import Callbacks
from cti.server.consult import handlers as consult_handlers
from cti.server.consult.consult import Consultations
from cti.server.consult.extension import Extensions
from cti.server.core import handlers as core_handlers
from cti.server.core.audit import Auditor
from cti.server.core.data import CallData
from cti.server.core.layer import CallLayer
from cti.server.core.records import Records
from cti.server.core.sweep import Sweep
from cti.server.desk import handlers as desk_handlers
from cti.server.desk.desk import Desk
from cti.server.interfaces import IChannelListener
from cti.server.ivr import handlers as ivr_handlers
from cti.server.ivr.flows import Flows
from cti.server.ivr.operations import FlowOperations
from cti.server.lines.channels import VOICE_HUNG
from cti.server.lines.talk import MusicOnHold
from cti.server.lines.voicetest import VoiceTests
from cti.server.monitored.lines import MonitoredLines
from cti.server.outbound import handlers as outbound_handlers
from cti.server.outbound.dialer import Dialer
from cti.server.queueing import handlers as queueing_handlers
from cti.server.queueing.acd import ACD, Settings
from cti.server.queueing.waiting import Queueing
from cti.server.scope import Scope
from cti.server.supervision import handlers as supervision_handlers
from cti.server.supervision.supervision import Supervisors

log = Logger()


@implementer(IChannelListener)
class CallCenter:
    """Routing, IVR service, ACD hand-off and records for one server."""

    def __init__(self, clock, config, driver, channels, bus, model, hub, ports, store, *,
                 prompts_dir=None, recordings_dir=None):
        self.config = config
        self.channels = channels
        self.hub = hub
        self.moh = MusicOnHold(bus, ports, channels.voice_pool,
                               on_hung=lambda voice, op: self.voice_hung(None, voice, op))
        self.voice_tests = VoiceTests(clock, ports, channels.voice_pool, self.audit)
        self.records = Records(clock, store)
        layer = self.layer = CallLayer(clock, config, driver, channels, bus, model, ports,
                                       self.moh, self.records)
        layer.prompts_dir = Path(prompts_dir) if prompts_dir else None
        layer.recordings_dir = Path(recordings_dir or Path(config.var_dir) / "recordings")
        self.queueing = Queueing(layer)
        self.acd = ACD(clock, config.queues, config.agents, self.queueing, hub.publish,
                       settings=Settings(**vars(config.acd)))
        self.queueing.acd = self.acd
        self.monitored = MonitoredLines(clock, config.monitored_lines, hub.publish)
        self.scope = Scope(layer, self.acd, config.agent_agents, config.agent_calls,
                           self.monitored)
        hub.hidden, hub.event_hidden = self.scope.hidden, self.scope.event_hidden
        self.auditor = Auditor(layer)
        self.ivr = Flows(layer, hub, ports)
        self.operations = FlowOperations(layer, self.ivr, self.acd, ports, driver)
        self.agents = Agents(layer, self.acd)
        faults = config.faults
        self.presence = Presence(clock, self.acd, config.var_dir, faults.client_lost_s,
                                 restore=faults.restore_agents,
                                 restore_within_s=faults.restore_within_s)
        self.data = CallData(layer, self.agents)
        self.desk = Desk(layer, self.acd, self.scope, self.auditor)
        self.consults = Consultations(layer, self.acd)
        self.supervisors = Supervisors(layer, self.acd, hub, self.scope, self.auditor)
        self.dialer = Dialer(layer, self.acd)
        self.callbacks = Callbacks(layer, self.acd)
        self._wire()
        # Who lets go of a call first as it ends (cti.server.core.layer.finish).
        layer.ending = [self.ivr, self.queueing, self.consults, self.desk, self.supervisors,
                        self.agents]
        layer.released = [self.dialer, self.callbacks]
        self.sweep = Sweep(layer, [self.dialer, self.consults, self.supervisors], self.dialer)
        self._sweeper = task.LoopingCall(self.sweep.run)
        self._sweeper.clock = clock
        ports.on_digit = self.caller_digit
        core_handlers.register(hub, layer, self.ivr, self.agents, self.supervisors, self.data,
                               self.monitored)
        ivr_handlers.register(hub, self.ivr, self.operations)
        agents_handlers.register(hub, self.agents, self.presence)
        queueing_handlers.register(hub, self.acd)
        desk_handlers.register(hub, self.desk, self.auditor)
        consult_handlers.register(hub, self.consults, self.auditor)
        supervision_handlers.register(hub, self.supervisors, self.auditor)
        outbound_handlers.register(hub, self.dialer)

    def _wire(self):
        """Give each feature the others it works with (their public methods)."""
        layer, queueing, ivr, ops = self.layer, self.queueing, self.ivr, self.operations
        layer.queueing, layer.ivr = queueing, ivr
        queueing.ivr, queueing.callbacks = ivr, self.callbacks
        queueing.consults, queueing.supervisors = self.consults, self.supervisors
        ivr.consults = self.consults
        ops.queueing, ops.dialer = queueing, self.dialer
        ops.extensions = Extensions(self.consults, self.acd)
        ivr.queueing = queueing
        ops.supervisors, ops.data = self.supervisors, self.data
        agents = self.agents
        agents.queueing, agents.consults, agents.dialer = queueing, self.consults, self.dialer
        agents.desk = self.desk
        desk = self.desk
        desk.agents, desk.consults, desk.dialer, desk.ivr = agents, self.consults, \
            self.dialer, ivr
        desk.queueing, desk.supervisors = queueing, self.supervisors
        consults = self.consults
        consults.desk, consults.agents, consults.dialer = self.desk, agents, self.dialer
        consults.ivr, consults.queueing = ivr, queueing
        supervisors = self.supervisors
        supervisors.agents, supervisors.consults, supervisors.desk = agents, self.consults, \
            self.desk
        dialer = self.dialer
        dialer.agents, dialer.consults, dialer.supervisors = agents, self.consults, \
            self.supervisors
        dialer.queueing = queueing
        self.callbacks.dialer, self.callbacks.queueing = self.dialer, queueing

    # -- what tests and the server look at ------------------------------------------
    @property
    def calls(self):
        return self.layer.calls

    @property
    def by_trunk(self):
        return self.layer.by_trunk

    @property
    def model(self):
        return self.layer.model

    def start(self):
        """What the last run left open (a crash), the ACD, and the sweep of
        the call layer every [acd] sweep_s."""
        self.presence.start()
        calls, sessions = self.records.recover(self.presence.last_run_at)
        if calls or sessions:
            log.warn("the last run ended without a stop: {calls} calls in progress and "
                     "{sessions} agent sessions recorded as ended by a server failure",
                     calls=calls, sessions=sessions)
        self.acd.start()
        if not self._sweeper.running:
            self._sweeper.start(self.config.acd.sweep_s, now=False)

    def stop(self):
        self.acd.stop()
        if self._sweeper.running:
            self._sweeper.stop()

    def drain(self, timeout_s):
        """Take no new calls; a Deferred fired when every call has ended
        (those still up after `timeout_s` cleared) and every agent logged out."""
        d = self.layer.drain(timeout_s)
        d.addCallback(lambda _: self.presence.stop())     # who was in, before they are out
        return d.addCallback(lambda _: self.agents.log_out_everyone())

    def reconfigure(self, config):
        """Take a reloaded configuration whose parts that need a restart are
        the running ones (cti.server.reload checks it).  Its queues and
        agents are worked out first (ACDError invalid_state, and nothing
        changed, while a queue to remove has callers or an agent to remove
        is logged in); then every table is swapped, serving no call: the
        ACD's, the configuration every feature reads as it needs it
        (`layer.config`: the routes, the flows they name, the users), the
        supervisors' teams, the agents the presence watches.  What the new
        tables make possible is served right after (`_serve_reconfigured`),
        once the server has swapped its logins too, and the flow servers
        are told to reload their flows (FlowsReload)."""
        configuration = self.acd.configuration
        plan = configuration.plan(config.queues, config.agents, self.queueing.on_the_way())
        configuration.swap(plan)
        self.config = self.layer.config = config
        self.scope.reconfigure(config.users)
        self.presence.forget(plan.removed_agents)
        self.layer.clock.callLater(0, self._serve_reconfigured, plan)

    def _serve_reconfigured(self, plan):
        """After a reload's swap: the monitors of the queues and agents it
        removed end (MonitorEnded), then what the new tables make possible
        (cti.server.queueing.configuration.serve).  A failure here is
        logged; the reload stands."""
        try:
            for kind, names, table in (("queue", plan.removed_queues, self.acd.queues),
                                       ("agent", plan.removed_agents, self.acd.agents)):
                for name in names:
                    if name not in table:          # not back with a later reload
                        self.hub.drop_monitors(kind, name, f"{kind} {name} was removed from "
                                                           "the configuration")
            self.acd.configuration.serve(plan)
            self.ivr.reloaded()
        except Exception:
            log.failure("reload: serving what the new configuration makes possible failed")

    def audit(self, action, user, **detail):
        """A row of the audit log (the gate's lockouts and unlocks, reloads)."""
        self.records.audit(action, user, **detail)

    # -- IChannelListener -------------------------------------------------------------
    def trunk_offered(self, trunk, ani, dnis, presentation="allowed"):
        call = self.layer.admit(trunk, ani, dnis, presentation)
        if not self.layer.accepting:          # draining: busy, unanswered, and a CDR
            log.info("call {call} on {trunk}: refused (busy), the server is stopping",
                     call=call.id, trunk=trunk.name)
            call.disposition = "closed"
            self.layer.finish(call, "system", "server stopping")
            return
        route = self.config.route_for(dnis=dnis or None, ani=ani or None,
                                      trunk_group=trunk.group)
        if route is None:
            self.layer.finish(call, "system", "no route for the call")
            return
        kind, target = route.target
        log.info("call {call}: {ani} -> {dnis} routed to {kind} {target} ({key})",
                 call=call.id, ani=ani or "-", dnis=dnis or "-", kind=kind, target=target,
                 key=route.key)
        if kind == "queue":
            self.queueing.queue_call(call, target)
        else:
            self.ivr.to_flow(call, target)

    def trunk_released(self, trunk, reason):
        if self.dialer.trunk_released(trunk, reason):
            return
        call = self.layer.by_trunk.get(trunk.name)
        if call is not None:
            self.layer.finish(call, "caller", reason)

    def station_answered(self, station):
        if self.consults.station_answered(station) or self.dialer.answered(station):
            return
        agent = self.acd.agent_at(station.name)
        call = self.agents.call_of(agent) if agent is not None else None
        if call is None or call.state != "ringing":
            log.warn("{station} answered with no call offered to it", station=station.name)
            return
        call.agent, call.station = agent, station     # ring_all: the one who answered
        self.queueing.answered(call)

    def station_no_answer(self, station, pause=None):
        """A phone rang out; `pause`: its agent's not-ready reason instead
        of back in line (the phone gone with its board)."""
        if self.consults.station_no_answer(station, pause) \
                or self.dialer.rang_out(station, pause):
            return
        agent = self.acd.agent_at(station.name)
        if agent is not None:
            self.acd.no_answer(agent, pause=pause)

    def station_offhook(self, station):
        """A phone lifted with no call: dial tone (calls are placed with MakeCall)."""

    def station_onhook(self, station, was):
        if was == "talking":
            self._put_down(station)

    def _put_down(self, station, reason=None):
        """A phone on a call put down (or gone with its board: `reason`
        says why, the cause where a call ends): whoever has a part in it
        finds it, a supervisor's, a consultation's (the consulting one's
        transfers the caller), a call being placed, the called agent's
        of an internal call, an agent's, the one a supervisor took over."""
        if self.supervisors.station_onhook(station, reason) \
                or self.consults.hang_up(station, reason=reason) \
                or self.dialer.hang_up(station, reason):
            return
        call = self.layer.by_trunk.get(station.name)
        if call is not None:                    # the agent called on an internal call
            self.dialer.called_agent_hung_up(call, reason=reason)
            return
        agent = self.acd.agent_at(station.name)
        if agent is not None:
            call = self.agents.call_of(agent)
            if call is not None and call.state == "talking":
                self.desk.hung_up(call, agent, station, reason=reason)
            return
        for call in list(self.layer.calls.values()):   # a supervisor who took a call over
            if call.station is station and call.intercepted_by is not None:
                self.desk.hung_up(call, None, station, reason=reason)

    def station_removed(self, station, was, reason):
        """A phone gone with its board: a ring it had (or a headset's
        ringback) as unanswered (its agent straight to not ready, never
        ready in between); a call it
        was on as if put down, with `reason` as the cause where the call
        ends (a consulting agent's removal transfers the caller, as its
        hang-up does).  Its agent goes not ready with `reason` (after the
        call's wrap-up when on one; a log-out asked meanwhile stays), so
        no call is offered to a phone that cannot ring."""
        agent = self.acd.agent_at(station.name)
        if agent is not None and agent.state != "notReady" and (
                agent.pending is None or agent.pending[0] != "loggedOff"):
            self.acd.set_not_ready(agent.id, reason, force=True)
            log.error("agent {agent}: not ready, {reason}", agent=agent.id, reason=reason)
        if was == "ringing" or agent is not None and agent.state == "reserved":
            self.station_no_answer(station, pause=reason)      # a headset's ringback too
        elif was == "talking":
            self._put_down(station, reason)
        self.supervisors.station_gone(station, reason)         # one waiting, or off hook

    def span_down(self, span, reason):
        """Clear every call on the span's timeslots, with `reason` as the
        cause: a call whose outside party is there ends (released by the
        network); an outside party of another call (a consultation, a
        transfer out) leaves it as if the far end had cleared."""
        cleared = 0
        for trunk in span.channels:
            call = self.layer.by_trunk.get(trunk.name)
            if call is not None:
                self.layer.finish(call, "network", reason)
                cleared += 1
            elif self.dialer.trunk_released(trunk, reason):
                cleared += 1
        log.error("{span}: {n} calls cleared: {reason}", span=span.name, n=cleared,
                  reason=reason)
        self.records.audit("SpanDown", "system", span=span.name, reason=reason,
                           calls_cleared=cleared)

    def span_alarm(self, span, alarm, raised):
        event = "SpanAlarm" if raised else "SpanAlarmCleared"
        self.records.audit(event, "system", span=span.name, alarm=alarm)
        self.hub.publish("device", span.name, event, {
            "device": span.name, "alarm": alarm, "state": span.state,
            "alarms": sorted(span.active)})

    def span_up(self, span):
        self.records.audit("SpanInService", "system", span=span.name)
        self.hub.publish("device", span.name, "SpanInService", {
            "device": span.name, "state": span.state, "alarms": []})

    def voice_hung(self, trunk, hung, op):
        """An operation of the voice resource `hung` serving `trunk` never
        ended (the driver reset it; the trunk took another): it is tested
        before it is lent again, and the caller moves on, with the new
        resource (an analog line keeps its own, reset): a caller in the IVR
        to the default treatment (its flow is told RouteEnd), any other
        goes on where it was."""
        call = self.layer.by_trunk.get(trunk.name) if trunk is not None else None
        self.records.audit("VoiceHung", "system", call=call.id if call else None, voice=hung,
                           op=op, trunk=trunk.name if trunk is not None else None)
        if trunk is None or hung != trunk.voice:  # an analog line's own: reset, kept
            self.voice_tests.test(hung)
        if trunk is None:                         # given back before it hung: no call
            return
        if call is None:
            trunk.route_voice()
            return
        if trunk.voice is None:
            self.layer.finish(call, "system", f"{op} hung on {hung}, and no voice resource "
                              "free")
            return
        self.layer.voice_replaced(call)
        if call.state == "ivr":
            log.warn("call {call}: {op} hung on {voice}: default treatment", call=call.id,
                     op=op, voice=hung)
            self.ivr.flow_down(call, VOICE_HUNG, fault=True)

    def caller_digit(self, voice, digit):
        """A key the caller pressed (any time): a waiting caller's exit key
        or callback, a listening conference party's request to speak."""
        pool = self.channels.voice_pool
        trunk = pool.owner.get(voice) if pool is not None else None
        call = self.layer.by_trunk.get(trunk.name if trunk is not None else voice)  # analog
        if call is not None and call.state == "queued":
            self.queueing.caller_key(call, digit)
        elif call is not None and call.state == "talking":
            self.desk.caller_key(call, digit)
