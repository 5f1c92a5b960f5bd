# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_callcenter -*-
"""The call layer: an inbound call from trunk, through the IVR, to an agent.

The CallCenter listens to the channels (trunk offered, far end cleared,
station answered...), routes each new call, serves the flow tier and the
agents through protocol services, and tells the ACD who waits and who is
free.  One inbound call moves through phases, a declared table with a
history like every machine here::

    routing ──> ivr ──> queued ──> ringing ──> talking ──> ended
        └────────────────┘  ^──────────┘ (rang out, next agent)
                 ivr <──> placing ──> talking
    routing ──> talking              (dialled: an agent's call out answered)

- placing: a flow sent the caller to an extension (an agent, by its
  agent code) or an outside number (RouteSelect): the caller hears music
  while it rings; answered, they talk; not, the caller is the flow's
  again.

- routing: the route for its DNIS / ANI / trunk group (etc/cti.toml
  [[routes]]) sends it to a flow or a queue.
- ivr: a flow server (a session that sent RouteRegister) gets a
  `RouteRequest` event and drives the call with AnswerCall, PlayMessage,
  CollectDigits, RecordMessage, SetCallData, RouteSelect, ClearConnection.
  With no flow server, or when the flow server's session ends, or when
  the call waits on it (no request of its for the call outstanding) for
  FLOW_RESPONSE_S, the call gets the default treatment: the `[routing]
  flow_down` queue.  No caller is left in dead air.  A flow that works on
  a call without a request (a look-up hook) says so first with KeepCall.
- queued: the trunk is answered, the caller hears the queue's music from
  the voice resource serving the trunk, and the ACD offers the call.  A
  full queue (max_length) takes no call: RouteSelect is refused
  (queue_full, the flow decides), and a call routed to it otherwise goes
  to the queue's overflow (past overflow queues full too), or without
  one gets busy: a trunk not answered yet is released unanswered, so the
  network gives the caller its busy or reorder tone (CDR disposition
  queue_full).
- ringing: the agent's phone rings (or, on a headset already off-hook,
  the agent answers with AnswerCall); rang out, the call goes back to
  the queue and the next agent.
- talking: trunk and station are joined full duplex on the CT-Bus; the
  voice resource keeps listening to the caller (digits).
- ended: either side hung up; everything is released, the CDR written.

An agent's own call out (MakeCall {number}, cti.server.outbound) joins
the call layer once the far end answers (take_call_out): the far end is in
the caller's place, so every call service works on it as on a caller's
call (hold, transfers, consultation, conference, recording, supervision,
a supervisor's ClearCall), and it may even be transferred to a queue.
An internal call (MakeCall {agent}) joins it the same way once the agent
called answers: the agent called is in the caller's place (its phone is
the call's outside party, outbound.CalledAgent), and can hang up.

Audio never passes through Python: the CT-Bus (ctbus.SwitchingMap) joins
timeslots and the boards play and record.
"""
import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from twisted.internet import defer, task
from twisted.logger import Logger

from cti.flow.model import say
from cti.protocol.services import KEEP_CALL_MAX_S, ROLES, Field, Service
from cti.server import customer
from cti.server.acd import ACD, Settings
from cti.server.callback import Callbacks
from cti.server.channels import Station
from cti.server.desk import Desk
from cti.server.errors import (
    ACDError,
    CallFailed,
    InvalidField,
    InvalidState,
    MissingField,
    NoSuchObject,
    OutboundFailed,
    QueueFull,
    ResourceBusy,
)
from cti.server.outbound import CalledAgent, Dialer
from cti.server.scope import Scope
from cti.server.sweep import Sweep
from cti.server.talk import MusicOnHold, Talk
from cti.server.unwind import Unwind
from cti.statemachine import Table
from cti.storage.models import (
    AfterCallEdit,
    AgentSession,
    AgentStateChange,
    AuditEntry,
    CallRecord,
    QueueLogEntry,
)
from drivers.errors import BoardError

log = Logger()

#: Whenever a call in the IVR waits on its flow server (from the RouteRequest,
#: and from the answer to each of its requests for the call), the flow server
#: must send its next request for the call within this time (plus what a
#: KeepCall asked for); then the server takes the call back.
FLOW_RESPONSE_S = 2.0
#: How long RouteSelect lets an extension or a number ring (`timeoutS`):
#: by default, and the range allowed.
ROUTE_RING_S = 30.0
ROUTE_RING_S_RANGE = (5.0, 300.0)

PHASES = Table("inbound_call", initial="routing", transitions=[
    ("routing", "to_flow", "ivr"),
    ("routing", "to_queue", "queued"),
    ("ivr", "to_queue", "queued"),
    ("queued", "offer", "ringing"),
    ("queued", "to_queue", "queued"),          # overflow to another queue
    ("queued", "to_flow_again", "routing"),    # overflow or exit key to a flow
    ("ivr", "to_flow_again", "routing"),       # a full queue's overflow to a flow
    ("ringing", "withdrawn", "queued"),
    ("ringing", "answered", "talking"),
    ("talking", "transfer", "routing"),        # to a queue or a flow (cti.server.desk)
    ("ivr", "place", "placing"),               # a flow sends the caller to an extension
    ("placing", "connected", "talking"),       # or a number: it answered
    ("placing", "failed", "ivr"),              # it did not: the flow's again
    ("routing", "dialled", "talking"),         # an agent's call out answered
    ("*", "end", "ended"),
])

AGENT_STATES = ("loggedOn", "ready", "notReady", "workingAfterCall", "loggedOff")
DTMF_KEYS = "0123456789*#ABCD"
#: The longest message a caller may leave in a flow (RecordMessage maxS), and
#: the longest silence that may end one (silenceS), in seconds.  (An agent's
#: recording of a call: cti.server.desk.CALL_RECORDING_MAX_S.)
MESSAGE_MAX_S = 3600.0
SILENCE_MAX_S = 600.0
#: The name RecordMessage gives a message left in a flow (CALL-N.wav); an
#: agent's call recording is CALL-call-N.wav (cti.server.desk).
MESSAGE_FILE = re.compile(r"c\d+-\d+\.wav\Z")
#: The most attached data a call may carry, in bytes of JSON: it travels in
#: every event and snapshot of the call.
MAX_ATTACHED = 65536


def utc(seconds):
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(eq=False)
class TrunkCall:
    """What the call layer tracks about one call with an outside party on a
    trunk: an inbound call, or an agent's call out once it is answered (or
    an internal call, with the agent called in the outside party's place)."""

    call: object                     # cti.server.calls.Call
    trunk: object                    # the trunk channel (an internal call: CalledAgent)
    phase: object = None             # a PHASES machine
    flow: str | None = None
    flow_session: object = None
    flow_timer: object = None        # the watchdog on the flow server (_arm_watchdog)
    flow_requests: int = 0           # the flow server's requests for it being served
    flow_keep_s: float = 0.0         # KeepCall: more time for the next wait
    op_busy: bool = False            # a flow's voice operation is running
    queue: str | None = None
    agent: object = None             # the ACD's AgentState once offered
    station: object = None
    offered_at: float = 0.0
    queued_at: float | None = None
    left_queue_at: float | None = None  # left `queue` unanswered for its overflow flow
    answered_at: float | None = None
    music: bool = False
    recordings: int = 0
    released_by: str | None = None
    cause: str = ""
    disposition: str | None = None   # the CDR's, when the phases do not tell it
    entry: object = None             # the ACD's Entry while queued
    talk: object = None              # cti.server.talk.Talk while connected
    held: bool = False               # the caller hears music on hold
    priority: int | None = None      # in the queue (kept when transferred back to one)
    answered_by: tuple | None = None # (agent id, station) of the last agent who answered
    intercepted_by: str | None = None   # the supervisor who took the call over
    members: list = field(default_factory=list)   # (agent, station) conferenced in
    outside: list = field(default_factory=list)  # trunks of outside parties: the call
                                     # sent out on one, or numbers conferenced in
    recording: tuple | None = None   # (voice resource, file) while the call is recorded
    callback: str | None = None      # the number to call back (cti.server.callback)
    line_released: bool = False      # the caller hung up to be called back
    trunk_out: bool = False          # `trunk` is one we seized (a callback dialled)
    callback_attempts: int = 0
    callback_timer: object = None
    first_since: float | None = None # its first arrival in a queue (kept by overflows)
    announcing: bool = False         # a queue announcement is playing
    announce_timer: object = None
    announcements: int = 0           # played so far (the messages take turns)
    at_end: list = field(default_factory=list)   # Deferreds fired when it ends

    @property
    def id(self):
        return self.call.id

    @property
    def state(self):
        return self.phase.state

    @property
    def called_agent(self):
        """On an internal call, the agent called (in the caller's place)."""
        return self.trunk.agent if isinstance(self.trunk, CalledAgent) else None

    @property
    def voice(self):
        """The voice resource hearing the caller; None while its line is
        released (a callback waiting its turn)."""
        return None if self.line_released else self.trunk.voice


class CallCenter:
    """Routing, IVR service, ACD hand-off and records for one server."""

    def __init__(self, clock, config, driver, channels, bus, model, hub, ports, records, *,
                 prompts_dir=None, recordings_dir=None):
        self.clock = clock
        self.config = config
        self.driver = driver
        self.channels = channels
        self.bus = bus
        self.model = model
        self.hub = hub
        self.ports = ports
        self.records = records
        self.prompts_dir = Path(prompts_dir) if prompts_dir else None
        self.recordings_dir = Path(recordings_dir or Path(config.var_dir) / "recordings")
        self.acd = ACD(clock, config.queues, config.agents, self, hub.publish,
                       settings=Settings(**vars(config.acd)))
        self.calls = {}                 # call id -> TrunkCall
        self.by_trunk = {}              # trunk channel name -> TrunkCall
        self.flow_sessions = []         # sessions that sent RouteRegister, in turn
        self.route_points = {r.flow for r in (*config.routes, config.default_route)
                             if r is not None and r.flow is not None} | {
            q.overflow[1] for q in config.queues if q.overflow and q.overflow[0] == "flow"}
        self.accepting = True
        self.totals = {"offered": 0, "ended": 0}
        self.moh = MusicOnHold(bus, ports, channels.voice_pool)
        ports.on_digit = self.caller_digit
        hub.on_session_closed.append(self._session_closed)
        hub.provide_snapshots("agent", self._agent_snapshot, lambda: list(self.acd.agents))
        hub.provide_snapshots("queue", self._queue_snapshot, lambda: list(self.acd.queues))
        hub.provide_snapshots("device", self._device_snapshot,
                              lambda: list(self.channels.by_name))
        hub.provide_snapshots("call", self._call_snapshot, lambda: list(self.model.calls))
        scope = Scope(self, config.agent_agents, config.agent_calls)
        hub.hidden, hub.event_hidden = scope.hidden, scope.event_hidden
        self._register_services()
        self.desk = Desk(self)
        self.dialer = Dialer(self)
        self.callbacks = Callbacks(self)
        self.sweep = Sweep(self)
        self._sweeper = task.LoopingCall(self.sweep.run)
        self._sweeper.clock = clock

    def start(self):
        """The ACD, and the sweep of the call layer every [acd] sweep_s."""
        self.acd.start()
        if not self._sweeper.running:
            self._sweeper.start(self.config.acd.sweep_s, now=False)

    def stop(self):
        self.acd.stop()
        if self._sweeper.running:
            self._sweeper.stop()

    # -- channel listener --------------------------------------------------
    def trunk_offered(self, trunk, ani, dnis):
        if not self.accepting:
            log.info("{trunk}: call refused, the server is stopping", trunk=trunk.name)
            trunk.release("server stopping")
            return
        group = trunk.group
        call = self.model.new_call(trunk.name, ani=ani, dnis=dnis, trunk_group=group)
        ic = TrunkCall(call, trunk, offered_at=self.clock.seconds())
        ic.phase = PHASES.machine(self.clock, call.id)
        self.calls[call.id] = ic
        self.by_trunk[trunk.name] = ic
        self.totals["offered"] += 1
        trunk.report_digits(True)
        self.model.connect(call, trunk.name, "alerting")
        route = self.config.route_for(dnis=dnis or None, ani=ani or None, trunk_group=group)
        if route is None:
            self._finish(ic, "system", "no route for the call")
            return
        kind, target = route.target
        log.info("call {call}: {ani} -> {dnis} routed to {kind} {target} ({key})",
                 call=call.id, ani=ani or "-", dnis=dnis or "-", kind=kind, target=target,
                 key=route.key)
        if kind == "queue":
            self._queue_call(ic, target)
        else:
            self._to_flow(ic, target)

    def trunk_released(self, trunk, reason):
        if self.dialer.trunk_released(trunk, reason):
            return
        ic = self.by_trunk.get(trunk.name)
        if ic is not None:
            self._finish(ic, "caller", reason)

    def station_answered(self, station):
        if self.desk.consults.station_answered(station) or self.dialer.answered(station):
            return
        agent = self.acd.agent_at(station.name)
        ic = self.calls.get(agent.call.id) if agent and agent.call is not None else None
        if ic is None or ic.state != "ringing":
            log.warn("{station} answered with no call offered to it", station=station.name)
            return
        ic.agent, ic.station = agent, station     # ring_all: the one who answered
        self._agent_answered(ic)

    def station_no_answer(self, station):
        if self.desk.consults.station_no_answer(station) or self.dialer.rang_out(station):
            return
        agent = self.acd.agent_at(station.name)
        if agent is not None:
            self.acd.no_answer(agent)

    def station_offhook(self, station):
        """A phone lifted with no call: dial tone (calls are placed with MakeCall)."""

    def station_onhook(self, station, was):
        if was != "talking" or self.desk.station_onhook(station) \
                or self.desk.consults.hang_up(station) or self.dialer.hang_up(station):
            return
        ic = self.by_trunk.get(station.name)
        if ic is not None:                      # the agent called on an internal call
            self.called_agent_hung_up(ic)
            return
        agent = self.acd.agent_at(station.name)
        if agent is not None:
            ic = self.calls.get(agent.call.id) if agent.call is not None else None
            if ic is not None and ic.state == "talking":
                self.desk.hung_up(ic, agent, station)
            return
        for ic in list(self.calls.values()):    # a supervisor who took a call over
            if ic.station is station and ic.intercepted_by is not None:
                self.desk.hung_up(ic, None, station)

    def called_agent_hung_up(self, ic, cause=None):
        """The agent called on an internal call hung up, wherever the call
        is (with the agent who has it, or sent on to a queue: abandoned)."""
        self._finish(ic, "caller" if ic.state in ("queued", "ringing") else "far_end",
                     f"agent {ic.called_agent.id} (called) hung up", cause)

    # -- routing -----------------------------------------------------------
    def _to_flow(self, ic, flow):
        session = self.next_flow_session()
        if session is None:
            log.warn("call {call}: no flow server for flow {flow}: default treatment",
                     call=ic.id, flow=flow)
            self._flow_down(ic, "no flow server")
            return
        ic.phase.fire("to_flow", flow=flow)
        self.start_flow(ic, flow, session)

    def start_flow(self, ic, flow, session, cause=None):
        """Hand the call to a flow server (RouteRequest), and time it."""
        ic.flow, ic.flow_session = flow, session
        self.model.connect(ic.call, f"routepoint:{flow}", "alerting", cause=cause)
        self._arm_watchdog(ic)
        self.hub.send_event(session, "RouteRequest", self._route_request(ic))

    def _route_request(self, ic):
        c = ic.call
        return {"call": c.id, "flow": ic.flow, "ani": c.ani, "dnis": c.dnis,
                "direction": c.direction, "trunkGroup": c.trunk_group,
                "device": ic.trunk.name, "data": dict(c.data)}

    def flow_servers(self):
        """How many flow servers are registered and connected."""
        return sum(s in self.hub.sessions for s in self.flow_sessions)

    def next_flow_session(self):
        live = [s for s in self.flow_sessions if s in self.hub.sessions]
        self.flow_sessions = live
        if not live:
            return None
        self.flow_sessions = live[1:] + live[:1]
        return live[0]

    def _arm_watchdog(self, ic):
        """The call waits on its flow server: time it.  It has
        FLOW_RESPONSE_S (plus what its last KeepCall asked for) to send its
        next request for the call; a request stops the watchdog while it is
        served (_watched)."""
        seconds, ic.flow_keep_s = FLOW_RESPONSE_S + ic.flow_keep_s, 0.0
        self._cancel_flow_timer(ic)
        ic.flow_timer = self.clock.callLater(seconds, self._flow_silent, ic, seconds)

    def _flow_silent(self, ic, seconds):
        ic.flow_timer = None
        if ic.state in ("ivr", "talking"):
            log.warn("call {call}: no request from the flow server for {s} s: default "
                     "treatment", call=ic.id, s=seconds)
            self._flow_down(ic, "flow server silent")

    def _flow_down(self, ic, why):
        """The default treatment: the flow_down queue (or a clear-down); a
        caller an agent sent through a flow goes back to the agent."""
        if ic.state == "talking":                 # a flow consultation
            self.desk.consults.flow_over(ic, why)
            return
        self._stop_flow(ic, why)
        queue = self.config.flow_down_queue
        if not queue:
            self._finish(ic, "system", f"{why}, and no flow_down queue")
            return
        ic.call.data.setdefault("treatment", why)
        self._queue_call(ic, queue)

    def _stop_flow(self, ic, why):
        """The flow's part is over: its server is told (RouteEnd) if it
        still has the call; what it played or collected stops."""
        if ic.flow_session is not None:
            self.hub.send_event(ic.flow_session, "RouteEnd", {"call": ic.id, "reason": why})
            ic.flow_session = None
        self._cancel_flow_timer(ic)
        if ic.voice is not None:
            self.ports.stop(ic.voice)

    def leave_flow(self, ic, why):
        """A flow consultation's flow lets go of the caller."""
        self._stop_flow(ic, why)
        if f"routepoint:{ic.flow}" in ic.call.connections:
            self.model.clear(ic.call, f"routepoint:{ic.flow}", why)

    def _cancel_flow_timer(self, ic):
        if ic.flow_timer is not None and ic.flow_timer.active():
            ic.flow_timer.cancel()
        ic.flow_timer = None

    def _answer_then(self, ic, then, cause=None):
        """Answer the trunk (if not yet), then continue.  `cause`: the
        protocol request behind it, echoed by the trunk's Established."""
        if ic.trunk.state == "connected":
            then()
            return
        if ic.trunk.state not in ("offered", "answering"):
            return
        if ic.trunk.state == "offered":
            ic.trunk.answer()
        d = ic.trunk.when("connected")     # an analog line: once off-hook
        d.addCallback(lambda _: None if ic.state == "ended"
                      else self._answered_trunk(ic, then, cause))

    def _answered_trunk(self, ic, then, cause):
        self.model.connect(ic.call, ic.trunk.name, "connected", cause=cause)
        then()

    # -- queue and agents --------------------------------------------------
    def _queue_call(self, ic, queue, cause=None, priority=None, first_since=None):
        """Answer the trunk (if not yet) and queue the call (with the
        queue's priority unless given); a full queue's treatment if full."""
        if self.acd.full(queue):
            self._queue_full(ic, queue, priority, first_since)
            return
        self._answer_then(ic, lambda: self._to_queue(ic, queue, cause, priority, first_since),
                          cause)

    def _queue_full(self, ic, queue, priority=None, first_since=None):
        """A full queue's treatment: its overflow, followed past queues
        that are full too (a caller moved to a queue keeps its priority and
        first arrival), or busy when there is none: the call is cleared, a
        trunk not answered yet released unanswered (the network gives the
        caller busy or reorder, and does not charge the call)."""
        overflow = None if ic.line_released else self._overflow_of_full(queue)
        self.record_queue(ic.id, queue, None, "FULL",
                          "busy" if overflow is None else ":".join(overflow))
        if overflow is None:
            log.warn("call {call}: queue {queue} is full: busy", call=ic.id, queue=queue)
            ic.queue, ic.disposition = queue, "queue_full"
            self._finish(ic, "system", f"queue {queue} is full")
            return
        kind, target = overflow
        log.info("call {call}: queue {queue} is full: to {kind} {target}", call=ic.id,
                 queue=queue, kind=kind, target=target)
        if kind == "queue":
            self._queue_call(ic, target, priority=priority, first_since=first_since)
            return
        if ic.state == "queued":                    # left another queue for this one
            ic.left_queue_at = self.clock.seconds()
        elif ic.state == "ivr":                     # a flow's RouteSelect, as it filled
            self.leave_flow(ic, "redirected")
        if ic.state != "routing":
            ic.phase.fire("to_flow_again", flow=target)
        if ic.trunk.state == "connected":           # the flow's prompts are heard
            self.voice_hears_caller(ic, duplex=True)
        self._to_flow(ic, target)

    def _overflow_of_full(self, queue):
        """Where a caller who finds `queue` full goes: its overflow, and
        while that is a full queue, that queue's; None when the chain
        ends (or comes back) without a queue with room, or at a flow with
        no flow server to run it (its default treatment would be a queue
        again: the flow_down queue, full perhaps)."""
        seen = set()
        while queue not in seen:
            seen.add(queue)
            overflow = self.config.queue(queue).overflow
            if overflow is None:
                return None
            if overflow[0] == "flow":
                return overflow if self.flow_servers() else None
            if not self.acd.full(overflow[1]):
                return overflow
            queue = overflow[1]
        return None

    def _to_queue(self, ic, queue, cause=None, priority=None, first_since=None):
        if ic.state == "ended":
            return
        if self.acd.full(queue):             # it filled while the trunk was answered
            self._queue_full(ic, queue, priority, first_since)
            return
        if ic.flow is not None and f"routepoint:{ic.flow}" in ic.call.connections:
            self.model.clear(ic.call, f"routepoint:{ic.flow}", "redirected", cause=cause)
        ic.flow_session = None
        self._cancel_flow_timer(ic)
        ic.queue = queue
        ic.queued_at, ic.left_queue_at = self.clock.seconds(), None
        ic.phase.fire("to_queue", queue=queue)
        self.model.connect(ic.call, f"queue:{queue}", "queued", cause=cause,
                           priority=self.config.queue(queue).priority if priority is None
                           else priority,
                           firstWaitS=0.0 if first_since is None
                           else round(self.clock.seconds() - first_since, 3))
        try:
            entry = self.acd.enqueue(ic.call, queue, priority, first_since,
                                     callback=ic.line_released, cause=cause)
            ic.priority = entry.priority
        except ACDError as e:                # join_empty: nobody could take it
            self._leave_queue(ic, self.config.queue(queue), "join_empty", priority,
                              first_since, str(e))
            return
        ic.entry = entry
        if ic.first_since is None:
            ic.first_since = entry.first_since
        self._schedule_announcement(ic)
        if ic.state == "queued":
            self._start_music(ic)

    def flow_names(self):
        """The flows calls may be sent to: those the routes and overflows name."""
        return self.route_points

    def queue_music(self, name):
        """The path of queue `name`'s music, or None (no queue, no music)."""
        music = self.config.queue(name).music if name else None
        if not music or self.prompts_dir is None:
            return None
        path = self.prompts_dir / f"{music}.wav"
        return str(path) if path.exists() else None

    def hold_music(self, ic):
        """What a held caller hears: its queue's music, or for a call that
        was never in a queue the first queue's that has music."""
        return self.queue_music(ic.queue) or next(
            filter(None, (self.queue_music(q.name) for q in self.config.queues)), None)

    def _start_music(self, ic):
        """The waiting caller hears the queue's music (the broadcast of
        cti.server.talk.MusicOnHold); its voice resource keeps hearing the
        caller, for the exit key.  After a flow prompt still ending."""
        path = self.queue_music(ic.queue)
        if path is None or ic.line_released or ic.music or ic.state == "ended":
            return
        if ic.voice is not None and self.ports.busy(ic.voice):
            self.ports.pending[ic.voice].addBoth(lambda r: self._start_music(ic) or r)
            return
        ic.music = True
        self.voice_hears_caller(ic, duplex=False)
        self.moh.join(self._trunk_endpoint(ic), path)

    def _stop_music(self, ic):
        if ic.music:
            ic.music = False
            self.moh.leave(self._trunk_endpoint(ic))
        if ic.announcing:                     # an announcement playing: cut it
            ic.announcing = False
            self.ports.stop(ic.voice)
        if ic.announce_timer is not None and ic.announce_timer.active():
            ic.announce_timer.cancel()
        ic.announce_timer = None

    # -- announcements to waiting callers --------------------------------------
    def _schedule_announcement(self, ic):
        config = self.config.queue(ic.queue)
        if config.announce_every_s is not None and ic.voice is not None:
            ic.announce_timer = self.clock.callLater(config.announce_every_s,
                                                     self._announce, ic)

    def _announce(self, ic):
        """Every `announce_every_s` of waiting: place in line, expected wait,
        the next message; then the music again."""
        ic.announce_timer = None
        entry = ic.entry
        if ic.state != "queued" or entry is None or self.ports.busy(ic.voice):
            if ic.state in ("queued", "ringing"):
                self._schedule_announcement(ic)
            return
        config = self.config.queue(ic.queue)
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
            names.append(config.messages[ic.announcements % len(config.messages)])
        names += self.callbacks.offer_prompts(ic, config)
        ic.announcements += 1
        if not names:                         # nothing this caller is to hear now
            self._schedule_announcement(ic)
            return
        files = [str(self.prompts_dir / f"{n}.wav") for n in names] if self.prompts_dir \
            else []
        missing = [f for f in files if not os.path.isfile(f)]
        if missing or not files:
            log.warn("queue {queue}: announcement prompts missing: {missing}",
                     queue=ic.queue, missing=missing or names)
            self._schedule_announcement(ic)
            return
        self._stop_music(ic)
        self.voice_hears_caller(ic, duplex=True)
        ic.announcing = True
        d = self.ports.play(ic.voice, files, barge_in=False)

        def done(result):
            if not ic.announcing:
                return                        # cut: answered, left or hung up
            ic.announcing = False
            if ic.state in ("queued", "ringing"):
                self._start_music(ic)
                self._schedule_announcement(ic)
        d.addCallback(done)

    def voice_hears_caller(self, ic, duplex):
        """The caller's voice resource hears the caller; and, duplex, the
        caller hears it (prompts).  Half duplex leaves the caller free to
        hear music or an agent."""
        if ic.voice is None:                 # an agent called with none free
            return
        caller = self._trunk_endpoint(ic)
        connection = self.bus.connection_of(ic.voice)
        if connection is not None and getattr(connection, "duplex", None) is duplex \
                and {connection.a, connection.b} == {ic.voice, caller}:
            return
        self.moh.leave(caller)
        self.bus.release(ic.voice)
        if duplex and self.bus.connection_of(caller) is not None:
            self.bus.disconnect(self.bus.connection_of(caller))
        self.bus.route(ic.voice, caller, duplex=duplex)

    # the ACD's owner interface: acd.cause is the request being served, if any
    def offer(self, entry, agent):
        if self.desk.consults.offered(entry, agent):
            return
        ic = self.calls[entry.call.id]
        station = self.channels[agent.station]
        if ic.state == "queued":                  # ring_all: the first of several
            ic.phase.fire("offer", agent=agent.id)
        ic.agent, ic.station = agent, station
        wait = self.clock.seconds() - entry.since
        extra = {"agent": agent.id, "queue": entry.queue.name, "waitS": round(wait, 3)}
        if ic.callback is not None:
            extra.update(callback=True, number=ic.callback)
        self.ring(station, agent)
        self.model.connect(ic.call, station.name, "alerting", cause=self.acd.cause, **extra)

    def ring(self, station, agent):
        """Ring the agent's phone for the ACD's offer: its bell, or on a
        headset already off-hook a ringback tone (AnswerCall connects).  A
        phone busy otherwise cannot take it: the offer rings out at once."""
        if station.state == "onhook":
            station.ring()
        elif station.state == "offhook":
            self.driver.station_tone(station.name, "ringback")
        else:
            self.clock.callLater(0, self.acd.no_answer, agent)

    def withdraw(self, entry, agent):
        ic = self.calls.get(entry.call.id)
        station = self.channels[agent.station]
        station.stop_ring()
        if station.state == "offhook":
            self.driver.station_tone(station.name, None)
        if ic is None:
            self.desk.consults.withdrawn(entry, station)
            return
        if station.name in ic.call.connections:
            reason = ic.cause if ic.state == "ended" else (
                "answered elsewhere" if entry.agent is not None else "not answered")
            self.model.clear(ic.call, station.name, reason, cause=self.acd.cause)
        if entry.agent is not None:               # ring_all: another agent answered
            return
        if ic.agent is agent:
            ic.agent, ic.station = (entry.ringing[-1], self.channels[entry.ringing[-1].station]
                                    ) if entry.ringing else (None, None)
        if ic.state == "ringing" and not entry.ringing:
            ic.phase.fire("withdrawn")

    def queue_exit(self, entry, reason):
        """A caller (or a consultation) left the queue without an agent
        (the ACD says why)."""
        why = {"timeout": f"waited the longest allowed in queue {entry.queue_name}",
               "empty": f"no agent left to serve queue {entry.queue_name}",
               "exit_key": f"left queue {entry.queue_name} with its exit key"}[reason]
        ic = self.calls.get(entry.call.id)
        if ic is None:
            self.desk.consults.queue_exit(entry, why)
        else:
            self._leave_queue(ic, entry.queue.config, reason, entry.priority,
                              entry.first_since, why)

    def _leave_queue(self, ic, config, reason, priority, first_since, why):
        """To the queue's overflow (a queue, keeping priority and first
        arrival, or a flow), or released with `why` when it has none."""
        ic.entry = None
        if config.overflow is None:
            ic.disposition = {"join_empty": "queue_empty", "empty": "queue_empty",
                              "timeout": "timed_out", "exit_key": "exited"}[reason]
            self._finish(ic, "system", why)
            return
        self._stop_music(ic)
        self.model.clear(ic.call, f"queue:{config.name}", "overflow")
        kind, target = config.overflow
        log.info("call {call}: leaves queue {queue} ({reason}) for {kind} {target}",
                 call=ic.id, queue=config.name, reason=reason, kind=kind, target=target)
        if kind == "queue":
            self._to_queue(ic, target, priority=priority, first_since=first_since)
        else:
            ic.left_queue_at = self.clock.seconds()
            ic.phase.fire("to_flow_again", flow=target)
            self.voice_hears_caller(ic, duplex=True)
            self._to_flow(ic, target)

    def caller_digit(self, voice, digit):
        """A key the caller pressed (any time): a waiting caller's exit key."""
        pool = self.channels.voice_pool
        trunk = pool.owner.get(voice) if pool is not None else None
        ic = self.by_trunk.get(trunk.name if trunk is not None else voice)   # analog: itself
        if ic is not None and ic.state == "queued":
            if not self.acd.exit_key(ic.call, digit):
                self.callbacks.key(ic, digit)
        elif ic is not None and ic.state == "talking":
            self.desk.caller_key(ic, digit)

    def call_alive(self, call):
        """The ACD's sweep asks: is this call still up here?  An inbound
        call is while the call layer has it; a consultation, a call out or
        an internal call while the call model does (until it is cleared)."""
        return call.id in self.calls or call.id in self.model.calls

    def _agent_answered(self, ic, cause=None):
        """`ic.agent` answered (the phone lifted, or AnswerCall)."""
        entry = self.acd.answered(ic.agent.id, cause=cause)
        ic.answered_at = self.clock.seconds()
        ic.answered_by = (ic.agent.id, ic.station.name)
        self._stop_music(ic)
        if not ic.line_released:
            self._bridge(ic)
        ic.phase.fire("answered", agent=ic.agent.id)
        if ic.station.state == "offhook":
            ic.station.connect()
        self.model.clear(ic.call, f"queue:{entry.queue.name}", "answered", cause=cause)
        self.model.connect(ic.call, ic.station.name, "connected", cause=cause,
                           agent=ic.agent.id)
        if ic.line_released:                       # a callback: now call the caller
            self.callbacks.dial(ic)
            return
        self.desk.call_connected(ic)

    def take_call_out(self, out, party, cause=None):
        """An agent's call (cti.server.outbound.OutboundCall) answered: from
        now on a call like a caller's, the agent talking to `party` in the
        caller's place: the trunk it was dialled on, or for an internal call
        the agent called (outbound.CalledAgent).  `cause`: the request that
        answered it (AnswerCall at the phone called), if any."""
        agent, station = out.agent, out.station
        ic = TrunkCall(out.call, party, offered_at=out.started_at, agent=agent, station=station,
                       answered_at=self.clock.seconds(), answered_by=(agent.id, station.name))
        ic.phase = PHASES.machine(self.clock, ic.id)
        ic.phase.fire("dialled", number=out.number, agent=agent.id)
        self.calls[ic.id] = ic
        if out.to is None:
            ic.call.trunk_group = party.group
            self.far_end_answered(ic, party, out.cause)
        else:
            self.by_trunk[party.name] = ic           # its keys: SpeakRequested
            self._bridge(ic)
            self.model.connect(ic.call, party.name, "connected", cause=cause,
                               agent=party.agent.id)
        self.model.connect(ic.call, station.name, "connected", cause=cause or out.cause)
        self.desk.call_connected(ic)
        return ic

    def far_end_answered(self, ic, trunk, cause=None):
        """A trunk we dialled for the call answered (an agent's call out, a
        callback): it is the call's outside party from now on, and the
        agent's phone, which heard the call's progress, talks with it."""
        ic.trunk, ic.line_released, ic.trunk_out = trunk, False, True
        self.by_trunk[trunk.name] = ic               # its keys: SpeakRequested
        self.dialer.by_trunk[trunk.name] = lambda reason: self._finish(
            ic, "far_end" if ic.call.direction == "outbound"
            and ic.state not in ("queued", "ringing") else "caller", reason)
        self.bus.release(ic.station.name)            # the progress it heard
        self.voice_hears_caller(ic, duplex=False)
        ic.talk = Talk(self.bus, self.config.conference_pool, self._trunk_endpoint(ic), self.moh)
        ic.talk.set(ic.station.name, "talk")
        self.model.connect(ic.call, trunk.name, "connected", cause=cause)

    # -- the CT-Bus ----------------------------------------------------------
    def _trunk_endpoint(self, ic):
        """The bus endpoint of the caller: a T1 timeslot, or an analog line."""
        return f"{ic.trunk.name}/line" if ic.trunk.voice == ic.trunk.name else ic.trunk.name

    def _bridge(self, ic):
        """Caller and agent talk (cti.server.talk.Talk: a duplex route until
        someone else joins); the voice resource keeps hearing the caller."""
        caller = self._trunk_endpoint(ic)
        self.driver.station_tone(ic.station.name, None)
        self.voice_hears_caller(ic, duplex=False)
        ic.talk = Talk(self.bus, self.config.conference_pool, caller, self.moh)
        ic.talk.set(ic.station.name, "talk")

    def _unbridge(self, ic):
        ic.talk.end()
        ic.talk = None
        if ic.voice == ic.trunk.name and not ic.trunk_out:   # analog: its power-on route
            self.bus.release(ic.voice)
            self.bus.route(ic.voice, f"{ic.voice}/line")

    # -- the end -----------------------------------------------------------
    def _finish(self, ic, released_by, reason, cause=None):
        """Release everything the call holds, once; write its CDR.  `cause`:
        the protocol request that ended it (ClearConnection), if any.  Each
        part is released on its own (cti.server.unwind): one that fails is
        logged and the rest still runs, the CDR says what failed."""
        if ic.state == "ended":
            return
        previous = ic.state
        ic.released_by, ic.cause = released_by, reason
        ic.phase.fire("end", by=released_by, cause=reason)
        unwind = Unwind(f"call {ic.id}")
        with unwind.step("the flow timer"):
            self._cancel_flow_timer(ic)
        with unwind.step("the music"):
            self._stop_music(ic)
        with unwind.step("the voice resource"):
            if ic.voice is not None:
                self.ports.stop(ic.voice)
        with unwind.step("the flow server"):
            if ic.flow_session is not None:
                session, ic.flow_session = ic.flow_session, None
                self.hub.send_event(session, "RouteEnd", {"call": ic.id, "reason": reason})
        if previous in ("queued", "ringing"):
            with unwind.step("the queue"):
                if released_by == "caller":
                    self.acd.abandon(ic.call)
                else:
                    self.acd.cleared(ic.call, reason)
        elif previous == "placing":
            with unwind.step("the call placed"):
                self.desk.consults.call_ended(ic)
            with unwind.step("the hold"):
                talk, ic.talk = ic.talk, None
                talk.end()
        elif previous == "talking":
            self._release_talking(ic, released_by, reason, cause, unwind)
        with unwind.step("the callback timer"):
            if ic.callback_timer is not None and ic.callback_timer.active():
                ic.callback_timer.cancel()
        with unwind.step("the trunk"):
            if ic.trunk_out:
                self.dialer.free(ic.trunk, reason)
            elif ic.called_agent is not None:
                ic.trunk.release(reason, released_by, cause)
            elif not ic.line_released:
                ic.trunk.release(reason)
        with unwind.step("the call model"):
            self.model.clear_call(ic.call, reason, cause=cause)
        self.calls.pop(ic.id, None)
        if self.by_trunk.get(ic.trunk.name) is ic:
            del self.by_trunk[ic.trunk.name]
        self.totals["ended"] += 1
        ic.cause = reason + unwind.summary()
        with unwind.step("the CDR"):
            self._write_cdr(ic, previous)
        for d in ic.at_end:              # after RouteEnd, as docs/protocol.md orders them
            with unwind.step("a request waiting for the end"):
                d.callback(ic)           # (a Deferred cancelled meanwhile ignores it)

    def _release_talking(self, ic, released_by, reason, cause, unwind):
        """The parts of a connected call: the desk's, every agent and phone
        on it, the bridge, a trunk it was sent out on."""
        with unwind.step("the desk"):
            self.desk.call_ended(ic)
        for agent, station in [(ic.agent, ic.station), *ic.members]:
            with unwind.step(f"agent {agent.id if agent else '(supervisor)'}"):
                if agent is not None:         # None: a supervisor took it over
                    self.acd.call_ended(agent.id, released_by, cause=cause)
            with unwind.step(f"station {station.name if station else '-'}"):
                if station is not None and station.state == "talking":
                    station.hang_up()
        ic.members.clear()
        with unwind.step("the bridge"):
            if ic.talk is not None:
                self._unbridge(ic)
        for trunk in ic.outside:
            with unwind.step(f"the outside party on {trunk.name}"):
                self.dialer.free(trunk, reason)
        ic.outside.clear()

    def _write_cdr(self, ic, last_phase):
        ic.call.recorded = True
        now = self.clock.seconds()
        if ic.disposition is not None:
            disposition = ic.disposition
        elif ic.answered_at is not None:
            disposition = "answered"
        elif last_phase in ("queued", "ringing"):
            disposition = "abandoned" if ic.released_by == "caller" else "cleared"
        elif ic.left_queue_at is not None:
            disposition = "overflow"
        elif ic.queued_at is not None:
            disposition = "failed"
        elif ic.flow is not None:
            disposition = "ivr_only"
        else:
            disposition = "failed"
        wait = None
        if ic.queued_at is not None:
            left = next(t for t in (ic.left_queue_at, ic.answered_at, now)
                        if t is not None and t >= ic.queued_at)  # not an earlier answer
            wait = left - ic.queued_at
        c = ic.call
        self.records.add(CallRecord(
            call_id=c.id, direction=c.direction,
            trunk=None if ic.called_agent else ic.trunk.name, trunk_group=c.trunk_group,
            ani=c.ani or None, dnis=c.dnis or None, flow=ic.flow, queue=ic.queue,
            agent=ic.answered_by[0] if ic.answered_by else None,
            station=ic.answered_by[1] if ic.answered_by else None,
            offered_at=utc(ic.offered_at), queued_at=utc(ic.queued_at) if ic.queued_at else None,
            answered_at=utc(ic.answered_at) if ic.answered_at is not None else None,
            ended_at=utc(now), wait_s=wait,
            talk_s=now - ic.answered_at if ic.answered_at is not None else None,
            disposition=disposition, released_by=ic.released_by, cause=ic.cause,
            attached=dict(c.data)))

    def audit(self, action, user, agent=None, call=None, queue=None, **detail):
        """A row of the audit log: `user` did (or was refused) `action`."""
        self.records.add(AuditEntry(at=utc(self.clock.seconds()), user=user, action=action,
                                    agent=agent, call_id=call, queue=queue, detail=detail))

    def record_queue(self, call_id, queue, agent, event, *data):
        values = [None if d is None else str(d) for d in data] + [None] * (5 - len(data))
        self.records.add(QueueLogEntry(at=utc(self.clock.seconds()), call_id=call_id,
                                       queue=queue, agent=agent, event=event,
                                       data1=values[0], data2=values[1], data3=values[2],
                                       data4=values[3], data5=values[4]))

    def record_state(self, agent, state, reason, previous, call_id):
        self.records.add(AgentStateChange(agent=agent, at=utc(self.clock.seconds()),
                                          state=state, reason=reason, previous=previous,
                                          call_id=call_id))

    def record_session(self, agent, station, login_at, reason):
        self.records.add(AgentSession(agent=agent, station=station, login_at=utc(login_at),
                                      logout_at=utc(self.clock.seconds()),
                                      logout_reason=reason))

    # -- stopping ------------------------------------------------------------
    def drain(self, timeout_s):
        """Take no new calls; a Deferred fired when every call has ended,
        clearing those still up after `timeout_s` with cause 'server shutdown'."""
        self.accepting = False
        done = defer.Deferred()
        deadline = self.clock.seconds() + timeout_s

        def check():
            if not self.calls:
                self._log_out_everyone()
                done.callback(None)
                return
            if self.clock.seconds() >= deadline:
                for ic in list(self.calls.values()):
                    self._finish(ic, "system", "server shutdown")
            self.clock.callLater(0.1, check)
        check()
        return done

    def _log_out_everyone(self):
        for agent in self.acd.agents.values():
            if agent.state in ("ready", "notReady", "workingAfterCall"):
                self.acd.logout(agent.id, "server shutdown", force=True)

    # -- snapshots -----------------------------------------------------------
    def _agent_snapshot(self, agent_id):
        agent = self.acd.agents.get(agent_id)
        return self.acd.describe(agent) if agent else None

    def _queue_snapshot(self, name):
        queue = self.acd.queues.get(name)
        return self.acd.describe_queue(queue) if queue else None

    def _call_snapshot(self, call_id):
        """The call model's snapshot, and for a call with a trunk what the
        call layer knows: its phase, the agent on it, held, recorded (a
        supervisor's presence is not shown: a silent monitor must not be)."""
        call = self.model.calls.get(call_id)
        if call is None:
            return None
        ic = self.calls.get(call_id)
        return {**call.snapshot(),
                "phase": ic.state if ic else None,
                "agent": ic.agent.id if ic and ic.agent else None,
                "held": bool(ic and ic.held),
                "recording": ic.recording[1] if ic and ic.recording else None}

    def _device_snapshot(self, name):
        """A channel, or a route point (`routepoint:FLOW`, FLOW a flow the
        routes name); `queue:NAME` is the queue NAME's, not a device."""
        kind, _, target = name.partition(":")
        if kind == "queue" and target:
            raise NoSuchObject(f"{name} is the connection of calls waiting "
                               f"in queue {target!r}: monitor object 'queue', id {target!r}",
                               object="device", id=name)
        if kind == "routepoint" and target in self.route_points:
            snap = {"device": name, "kind": "routepoint", "flow": target,
                    "flowServers": self.flow_servers()}
        else:
            channel = self.channels.by_name.get(name)
            if channel is None:
                return None
            snap = channel.snapshot()
        snap["calls"] = [c.id for c in self.model.calls_at(name)]
        return snap

    # -- protocol services ---------------------------------------------------
    def _register_services(self):
        add = self.hub.catalogue.add
        flow = {"flow"}
        call = {"call": Field(str, doc="the call id from RouteRequest")}
        watched = self._watched
        # What the handlers may answer besides services.COMMON_ERRORS: a call
        # gone or not this session's; a voice operation with no voice resource.
        on_call = ("no_such_object", "invalid_state")
        voice_op = (*on_call, "resource_busy")
        add(Service("RouteRegister", flow, errors=()), self._route_register)
        add(Service("AnswerCall", {"flow", "agent"}, fields={
            "call": Field(str, required=False)}, errors=on_call), watched(self._answer_call))
        add(Service("PlayMessage", flow, fields={
            **call, "prompts": Field(list), "bargeIn": Field(bool, False, True),
            "clearDigits": Field(bool, False, False)}, errors=voice_op),
            watched(self._play_message))
        add(Service("CollectDigits", flow, fields={
            **call, "maxDigits": Field(int), "terminators": Field(str, False, ""),
            "firstDigitTimeoutS": Field(float, False, 5.0),
            "interDigitTimeoutS": Field(float, False, 3.0)}, errors=voice_op),
            watched(self._collect_digits))
        add(Service("ClearDigits", flow, fields=call, errors=on_call),
            watched(self._clear_digits))
        add(Service("RecordMessage", flow, fields={
            **call, "maxS": Field(float, False, 60.0), "silenceS": Field(float, False, 5.0),
            "terminators": Field(str, False, "#"), "beep": Field(bool, False, True)},
            errors=voice_op), watched(self._record_message))
        add(Service("SetCallData", {"flow", "agent"}, fields={**call, "data": Field(dict)},
                    errors=on_call), watched(self._set_call_data))
        add(Service("RouteSelect", flow, fields={
            **call, "queue": Field(str, False), "extension": Field(str, False),
            "number": Field(str, False), "data": Field(dict, False, {}),
            "priority": Field(int, False), "timeoutS": Field(float, False)},
            errors=(*on_call, "queue_full", "call_failed", "barred")),
            watched(self._route_select))
        add(Service("ClearConnection", set(ROLES), fields={
            "call": Field(str, required=False)}, errors=on_call),
            watched(self._clear_connection))
        add(Service("KeepCall", flow, fields={**call, "timeoutS": Field(float)},
                    errors=on_call), watched(self._keep_call))
        add(Service("SetAgentState", {"agent"}, fields={
            "state": Field(str, choices=AGENT_STATES), "station": Field(str, False),
            "reason": Field(str, False, ""), "lock": Field(str, False)},
            errors=(*on_call, "resource_busy")), self._set_agent_state)

    def _route_register(self, request, params):
        if request.session not in self.flow_sessions:
            self.flow_sessions.append(request.session)
        log.info("session {id} serves the flows ({n} flow servers)", id=request.session.id,
                 n=len(self.flow_sessions))
        return {"flowServers": len(self.flow_sessions)}

    def _session_closed(self, session):
        self.desk.session_closed(session)
        if session in self.flow_sessions:
            self.flow_sessions.remove(session)
        for ic in list(self.calls.values()):
            if ic.flow_session is session and ic.state in ("ivr", "talking"):
                ic.flow_session = None        # gone: no RouteEnd to send
                log.warn("call {call}: its flow server left: default treatment", call=ic.id)
                self._flow_down(ic, "flow server left")

    def _call(self, call_id):
        ic = self.calls.get(call_id)
        if ic is None:
            self.dialer.check_not_own(call_id)
            raise NoSuchObject(f"no call {call_id!r} (it may have ended)",
                               object="call", id=call_id)
        return ic

    @staticmethod
    def _holds(session, ic):
        """Whether the call is in this flow server's hands (in the IVR, or
        sent through a flow by an agent: a flow consultation)."""
        return ic.flow_session is session and ic.state in ("ivr", "talking")

    def _flow_call(self, request, call_id):
        ic = self._call(call_id)
        if not self._holds(request.session, ic):
            raise InvalidState(f"call {call_id} is not in this flow "
                               f"server's hands (it is {ic.state})")
        return ic

    def _watched(self, handler):
        """A handler of the flow server's requests for a call: while one is
        served the call's watchdog stops (a prompt playing is the flow at
        work); when the last is answered, it is armed again."""
        def serve(request, params):
            ic = self.calls.get(params["call"])
            if request.role != "flow" or ic is None or not self._holds(request.session, ic):
                return handler(request, params)
            ic.flow_requests += 1
            ic.flow_keep_s = 0.0
            self._cancel_flow_timer(ic)

            def answered(result):
                ic.flow_requests -= 1
                if ic.flow_requests == 0 and self._holds(request.session, ic):
                    self._arm_watchdog(ic)
                return result
            return defer.maybeDeferred(handler, request, params).addBoth(answered)
        return serve

    def _keep_call(self, request, params):
        self._check_range("KeepCall", params, "timeoutS", 0, KEEP_CALL_MAX_S)
        ic = self._flow_call(request, params["call"])
        ic.flow_keep_s = params["timeoutS"]
        return {}

    @defer.inlineCallbacks
    def _flow_op(self, request, call_id, run):
        ic = self._flow_call(request, call_id)
        if ic.op_busy:
            raise InvalidState(f"call {call_id}: another operation is "
                               "still running on it")
        if ic.voice is None:
            raise ResourceBusy(f"call {call_id} has no voice resource")
        ic.op_busy = True
        try:
            result = yield run(ic)
        finally:
            ic.op_busy = False
        if ic.state == "ended":
            raise NoSuchObject(f"call {call_id} was cleared ({ic.cause})",
                               object="call", id=call_id)
        return result

    def _answer_call(self, request, params):
        if request.role == "agent":
            return self._agent_answer(request, params)
        if params["call"] is None:
            raise MissingField("AnswerCall: a flow server names the call",
                               field="call")
        ic = self._flow_call(request, params["call"])
        if ic.trunk.state == "connected":
            return {}
        d = self._answer_trunk(ic, request.cause)
        d.addCallback(lambda _: self.model.connect(ic.call, f"routepoint:{ic.flow}",
                                                   "connected", cause=request.cause))
        return d.addCallback(lambda _: {})

    def _answer_trunk(self, ic, cause):
        """Answer a flow's call's trunk: a Deferred fired once it is
        (an analog line: once off-hook), failing if the call ends first."""
        if ic.trunk.state != "offered":
            raise InvalidState(f"call {ic.id}: the trunk is {ic.trunk.state}")
        ic.trunk.answer()
        ended = defer.Deferred()
        ic.at_end.append(ended)
        d = defer.race([ic.trunk.when("connected"), ended])

        def answered(_):
            if ic.state == "ended":
                raise NoSuchObject(f"call {ic.id} was cleared ({ic.cause})",
                                   object="call", id=ic.id)
            self.model.connect(ic.call, ic.trunk.name, "connected", cause=cause)
        return d.addCallback(answered)

    def _prompt_files(self, prompts):
        """The files of a PlayMessage: absolute paths of the prompts
        directory ([flow] prompts_dir), or messages callers left in a flow
        (RecordMessage's CALL-N.wav in the recordings: a voicemail flow plays
        them back), symbolic links followed.  Not the agents' call
        recordings, and whether any other path exists is never said: a flow
        server cannot probe the CT server's files."""
        if not prompts:
            raise InvalidField("PlayMessage: prompts is empty",
                               field="prompts")
        prompts_root = os.path.realpath(self.prompts_dir) if self.prompts_dir else None
        messages_root = os.path.realpath(self.recordings_dir)
        files = []
        for i, p in enumerate(prompts):
            if not isinstance(p, str) or not os.path.isabs(p):
                raise InvalidField(f"PlayMessage: prompts[{i}] must be an "
                                   f"absolute file path; got {p!r}", field="prompts")
            real = os.path.realpath(p)
            prompt = prompts_root is not None and \
                os.path.commonpath([prompts_root, real]) == prompts_root
            message = os.path.dirname(real) == messages_root and \
                MESSAGE_FILE.match(os.path.basename(real))
            if not (prompt or message):
                raise InvalidField(f"PlayMessage: prompts[{i}] {p!r} is "
                                   "neither a prompt (in "
                                   f"{self.prompts_dir or 'no prompts directory'}) nor a "
                                   f"message recorded by a flow ({messages_root}/CALL-N.wav)",
                                   field="prompts")
            if not os.path.isfile(real):
                raise InvalidField(f"PlayMessage: prompts[{i}] {p!r} does "
                                   "not exist", field="prompts")
            files.append(real)
        return files

    def _play_message(self, request, params):
        files = self._prompt_files(params["prompts"])

        def run(ic):
            try:
                return self.ports.play(ic.voice, files, params["bargeIn"],
                                       params["clearDigits"])
            except BoardError as e:          # a file the board will not play
                raise InvalidField(f"PlayMessage: the board refuses the "
                                   f"prompts: {e}", field="prompts") from None
        return self._flow_op(request, params["call"], run)

    @staticmethod
    def _check_keys(service, params, name="terminators"):
        bad = [key for key in params[name] if key not in DTMF_KEYS]
        if bad:
            raise InvalidField(f"{service}: {name}: {bad[0]!r} is not a "
                               "DTMF key (0-9, *, #, A-D)", field=name)

    @staticmethod
    def _check_range(service, params, name, low, high, low_included=False):
        """`name` in (low, high] (or [low, high]) seconds, or invalid_field."""
        value = params[name]
        if not (low <= value if low_included else low < value) or not value <= high:
            bracket = "[" if low_included else "("
            raise InvalidField(f"{service}: {name} must be in {bracket}"
                               f"{low:g}, {high:g}] seconds; got {value!r}", field=name)

    def _collect_digits(self, request, params):
        if not 1 <= params["maxDigits"] <= 31:
            raise InvalidField("CollectDigits: maxDigits must be 1..31 (the "
                               "board's digit buffer)", field="maxDigits")
        self._check_keys("CollectDigits", params)
        for key in ("firstDigitTimeoutS", "interDigitTimeoutS"):
            self._check_range("CollectDigits", params, key, 0, 600)
        return self._flow_op(request, params["call"], lambda ic: self.ports.collect(
            ic.voice, params["maxDigits"], params["terminators"],
            params["firstDigitTimeoutS"], params["interDigitTimeoutS"]))

    def _clear_digits(self, request, params):
        ic = self._flow_call(request, params["call"])
        if ic.voice is not None:
            self.driver.clear_digits(ic.voice)
        return {}

    def _record_message(self, request, params):
        """The file is named by the server (the call id and a count): no
        client-given name reaches the file system."""
        self._check_range("RecordMessage", params, "maxS", 0, MESSAGE_MAX_S)
        self._check_range("RecordMessage", params, "silenceS", 0, SILENCE_MAX_S,
                          low_included=True)
        self._check_keys("RecordMessage", params)

        @defer.inlineCallbacks
        def run(ic):
            self.recordings_dir.mkdir(parents=True, exist_ok=True)
            ic.recordings += 1
            path = self.recordings_dir / f"{ic.id}-{ic.recordings}.wav"
            if params["beep"]:
                yield self.ports.beep(ic.voice)
                if ic.state == "ended":
                    return {}
            started = self.clock.seconds()
            result = yield self.ports.record(ic.voice, path, params["maxS"], params["silenceS"],
                                             params["terminators"])
            result["durationS"] = round(self.clock.seconds() - started, 3)
            return result
        return self._flow_op(request, params["call"], run)

    def _set_call_data(self, request, params):
        follows = False                # an agent in the wrap-up of this call
        if request.role == "agent":
            agent = self._my_agent(request)
            follows = agent.state == "workingAfterCall" and agent.last_call is not None \
                and agent.last_call.id == params["call"]
            if params["call"] not in self.calls:
                return self._after_call_edit(agent, params, follows)
        ic = self._call(params["call"])
        if request.role == "flow" and ic.flow_session is not request.session:
            raise InvalidState(f"call {ic.id} is not in this flow "
                               "server's hands")
        if request.role == "agent" and not follows \
                and (ic.agent is None or ic.agent.id != request.user.name):
            raise InvalidState(f"call {ic.id} is not at your station")
        self._merge_data(ic, params["data"], request.cause)
        result = {"data": dict(ic.call.data)}
        if request.role != "agent" or self.config.record_hook is None or not params["data"]:
            return result
        d = customer.save(self.clock, self.config.record_hook, ic.id, request.user.name,
                          ic.call.data, params["data"])
        return d.addCallback(lambda record: {**result, "record": record})

    def _after_call_edit(self, agent, params, follows):
        """An agent in wrap-up edits the record of the call it follows
        (`follows`), which has ended: its CDR is written, so the edit goes
        to the record hook (the customer database) and to
        `after_call_edits`.  (A call it transferred, still up, is edited
        as a live call.)"""
        call, call_id = agent.last_call, params["call"]
        if not follows:
            self.dialer.check_not_own(call_id)
            raise NoSuchObject(f"no call {call_id!r}: it ended, and after "
                               "a call only its record in the wrap-up that follows it may "
                               "be edited", object="call", id=call_id)
        self.check_data_size("SetCallData", call.data, params["data"])
        call.data.update(params["data"])
        result = {"data": dict(call.data), "afterCall": True}
        if not params["data"]:
            return result
        at = utc(self.clock.seconds())

        def keep(record):
            self.records.add(AfterCallEdit(at=at, call_id=call_id, agent=agent.id,
                                           changes=dict(params["data"]),
                                           saved=None if record is None else record["saved"]))
            return result if record is None else {**result, "record": record}
        if self.config.record_hook is None:
            return keep(None)
        return customer.save(self.clock, self.config.record_hook, call_id, agent.id,
                             call.data, params["data"]).addCallback(keep)

    @staticmethod
    def check_data_size(service, current, data):
        """The attached data `current` with `data` merged stays within
        MAX_ATTACHED bytes (as JSON), or invalid_field: every event and
        snapshot of the call carries it."""
        size = len(json.dumps({**current, **data}, ensure_ascii=False,
                              separators=(",", ":")).encode())
        if size > MAX_ATTACHED:
            raise InvalidField(f"{service}: the call's attached data would "
                               f"be {size:,} bytes of JSON, over the {MAX_ATTACHED:,} a call "
                               "may carry", field="data")

    def _merge_data(self, ic, data, cause, service="SetCallData"):
        """Add `data` to the call's attached data (top-level keys replaced)
        and tell the call's monitors (AttachedDataChanged); nothing for {}."""
        if not data:
            return
        self.check_data_size(service, ic.call.data, data)
        ic.call.data.update(data)
        self.model.event(ic.call, ic.station.name if ic.station else ic.trunk.name,
                         "AttachedDataChanged", cause=cause)

    def _route_select(self, request, params):
        ic = self._flow_call(request, params["call"])
        given = [k for k in ("queue", "extension", "number") if params[k] is not None]
        if len(given) != 1:
            raise InvalidField("RouteSelect: give exactly one of queue, "
                               f"extension, number (got {', '.join(given) or 'none'})",
                               field="queue")
        if ic.op_busy:
            raise InvalidState(f"call {ic.id}: an operation is still running")
        if ic.state == "talking":
            raise InvalidState(f"call {ic.id} was sent through this flow by "
                               "an agent, who gets it back when the flow releases it "
                               "(ClearConnection)", object="call", id=ic.id)
        if params["priority"] is not None and not 0 <= params["priority"] <= 100:
            raise InvalidField("RouteSelect: field 'priority' must be from "
                               f"0 to 100; got {params['priority']}", field="priority")
        kind, ring_s = given[0], params["timeoutS"]
        if kind == "queue" and ring_s is not None:
            raise InvalidField("RouteSelect: field 'timeoutS' is the ring "
                               "time of an extension or a number; a queue has none (its "
                               "max_wait_s bounds the wait)", field="timeoutS")
        ring_s = ROUTE_RING_S if ring_s is None else ring_s
        if not ROUTE_RING_S_RANGE[0] <= ring_s <= ROUTE_RING_S_RANGE[1]:
            low, high = ROUTE_RING_S_RANGE
            raise InvalidField(f"RouteSelect: field 'timeoutS' must be from {low:g} to {high:g} "
                               f"seconds; got {ring_s:g}", field="timeoutS")
        if kind != "queue":
            return self._route_out(ic, request, params, kind, params[kind], ring_s)
        queue = params["queue"]
        if self.config.queue(queue) is None:
            raise InvalidField(f"RouteSelect: no queue {queue!r}",
                               field="queue")
        if self.acd.full(queue):
            raise QueueFull(f"RouteSelect: queue {queue} is full (its "
                            f"max_length, {self.config.queue(queue).max_length} callers, "
                            "are waiting)", object="queue", id=queue)
        self._merge_data(ic, params["data"], request.cause, "RouteSelect")
        ic.flow_session = None           # out of the flow server's hands, from now on
        self._queue_call(ic, queue, request.cause, params["priority"])
        return {"result": "queued", "queue": queue}

    @defer.inlineCallbacks
    def _route_out(self, ic, request, params, kind, target, ring_s):
        """RouteSelect to an extension (an agent's phone, wherever it is
        logged in) or an outside number: answered once the other end is;
        else `call_failed` and the caller is the flow's again."""
        caller = self.dialer.caller_of(request, flow=ic.flow)
        if kind == "number":
            self.dialer.check_number("RouteSelect", target, caller)
        else:
            self.desk.consults.check_extension(target)
        self._merge_data(ic, params["data"], request.cause, "RouteSelect")
        ic.flow_session = None
        self._cancel_flow_timer(ic)
        if ic.trunk.state != "connected":
            yield self._answer_trunk(ic, request.cause)
        ic.phase.fire("place", to=f"{kind}:{target}")
        self.hold_caller(ic)
        try:
            if kind == "number":
                yield self.dialer.send_out(ic, target, caller, request.cause, no_answer_s=ring_s)
            else:
                yield self.desk.consults.ring(ic, target, ring_s, request.cause)
        except OutboundFailed as e:
            if ic.state != "ended":
                self._back_to_flow(ic, request.session)
            raise CallFailed(f"RouteSelect: the call to {kind} {target} "
                             f"failed: {e.reason}", reason=e.reason) from None
        if ic.flow is not None and f"routepoint:{ic.flow}" in ic.call.connections:
            self.model.clear(ic.call, f"routepoint:{ic.flow}", "redirected",
                             cause=request.cause)
        ic.phase.fire("connected", to=f"{kind}:{target}")
        if kind == "number":
            ic.disposition = "transferred_out"
        else:
            ic.answered_at = self.clock.seconds()
            self.desk.call_connected(ic)
        return {"result": "connected", kind: target}

    def hold_caller(self, ic):
        """The caller hears music while a call is placed for it (to an
        extension, to a number): its voice resource only listens."""
        if ic.talk is None:
            self.voice_hears_caller(ic, duplex=False)
            ic.talk = Talk(self.bus, self.config.conference_pool, self._trunk_endpoint(ic),
                           self.moh)
        if not ic.held:
            ic.talk.hold(self.hold_music(ic))
            ic.held = True

    def _back_to_flow(self, ic, session):
        """A call placed for a flow's caller did not connect: the caller
        hears the flow's voice resource again, and the flow has the call."""
        ic.talk.end()
        ic.talk, ic.held = None, False
        self.voice_hears_caller(ic, duplex=True)
        ic.phase.fire("failed")
        ic.flow_session = session
        self._arm_watchdog(ic)

    def _clear_connection(self, request, params):
        if request.role == "flow":
            if params["call"] is None:
                raise MissingField("ClearConnection: name the call",
                                   field="call")
            ic = self._flow_call(request, params["call"])
            ic.flow_session = None
            if ic.state == "talking":             # a flow consultation: back to the agent
                self._flow_down(ic, "released by the flow")
            else:
                self._finish(ic, "system", "released by the flow", request.cause)
            return {}
        if request.role != "agent":
            return self._supervisor_hangs_up(request, params)
        agent = self._my_agent(request)
        station = self.channels.by_name.get(agent.station) if agent.station else None
        if station is not None and (self.desk.consults.hang_up(station, request.cause)
                                    or self.dialer.hang_up(station)):
            return {}
        ic = self.calls.get(agent.call.id) if agent.call is not None else None
        if ic is None or (params["call"] not in (None, ic.id)):
            raise InvalidState(f"agent {agent.id} has no such call")
        if ic.called_agent is agent:
            self.called_agent_hung_up(ic, request.cause)
        elif ic.state == "ringing":
            self.acd.no_answer(agent, cause=request.cause)     # rejected: the next agent
        else:
            self.desk.hung_up(ic, agent, station, request.cause)
        return {}

    def _supervisor_hangs_up(self, request, params):
        """A supervisor's ClearConnection: its phone leaves the call it took
        over (Intercept), as if put down: a consultation it made completes
        as a transfer, a conference goes on without it, else the call ends."""
        if params["call"] is None:
            raise MissingField("ClearConnection: name the call",
                               field="call")
        ic = self._call(params["call"])
        if ic.intercepted_by != request.user.name or ic.station is None:
            raise InvalidState(f"call {ic.id} is not one you took over "
                               "(Intercept); ClearCall releases another's call",
                               object="call", id=ic.id)
        self.desk.audit(request, "ClearConnection", call=ic.id)
        if not self.desk.consults.hang_up(ic.station, request.cause):
            self.desk.hung_up(ic, None, ic.station, request.cause)
        return {}

    def _my_agent(self, request):
        """The agent the session's user is; a [[users]] account granted the
        agent role is none."""
        name = request.user.name
        agent = self.acd.agents.get(name)
        if agent is None:
            raise NoSuchObject(f"user {name!r} is not an agent of the "
                               "configuration ([[agents]])", object="agent", id=name)
        return agent

    def _agent_answer(self, request, params):
        agent = self._my_agent(request)
        if self.desk.consults.answer(request, agent) or agent.station and \
                self.dialer.answered(self.channels[agent.station], request.cause):
            return {"call": agent.call.id}
        ic = self.calls.get(agent.call.id) if agent.call is not None else None
        if ic is None or ic.state != "ringing" or params["call"] not in (None, ic.id) \
                or agent.state != "reserved":
            raise InvalidState(f"agent {agent.id} has no call ringing")
        station = self.channels[agent.station]
        if station.state != "offhook":
            raise InvalidState(f"station {station.name} is on-hook: "
                               "answer by lifting the handset (AnswerCall is for headsets "
                               "already off-hook)")
        ic.agent, ic.station = agent, station     # ring_all: the one who answered
        self._agent_answered(ic, request.cause)
        return {"call": ic.id}

    def _set_agent_state(self, request, params):
        agent = self._my_agent(request)
        state = params["state"]
        if state == "loggedOn":
            station = params["station"] or agent.config.station
            if station is None:
                raise MissingField("SetAgentState: name the station to "
                                   "log in at", field="station")
            if not isinstance(self.channels.by_name.get(station), Station):
                raise NoSuchObject(f"no station {station!r}",
                                   object="device", id=station)
            self.acd.login(agent.id, station, cause=request.cause)
            result = "done"
        elif state == "ready":
            result = self.acd.set_ready(agent.id, params["lock"], cause=request.cause)
        elif state == "notReady":
            result = self.acd.set_not_ready(agent.id, params["reason"], params["lock"],
                                            cause=request.cause)
        elif state == "workingAfterCall":
            result = self.acd.set_after_call_work(agent.id, cause=request.cause)
        else:
            result = self.acd.logout(agent.id, params["reason"] or "agent",
                                     params["lock"], cause=request.cause)
        return {**self.acd.describe(agent), "result": result}
