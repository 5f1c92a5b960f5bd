# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_acd -*-
"""Queues and agents: who takes the next call.

The ACD knows callers waiting in queues and agents in states; it decides
pairings and times them, and leaves the telephony (ringing a phone,
connecting audio) to its owner, the call centre, through three calls::

    acd = ACD(clock, config.queues, config.agents, owner)
    acd.login("1001", "msiB1C1");  acd.set_ready("1001")
    acd.enqueue(call, "sales")           # -> owner.offer(entry, agent) when an agent is free
    acd.answered("1001")                 # the agent's phone was answered: busy
    acd.call_ended("1001")               # wrap-up, then ready for the next call

`owner.offer(entry, agent)` rings the agent's station; `owner.withdraw(entry,
agent)` stops it (ring timeout: the next agent is tried); `owner.
queue_timeout(entry)` is told when a caller waited `max_wait_s`.

The public methods take `cause=(session, invoke_id)`, the protocol request
they serve: every event published meanwhile (the agent events, and the
owner's call events, which read `acd.cause`) echoes that request's invoke
id to the session that sent it (cti.protocol.server.Hub.publish)::

    acd.set_ready("1001", cause=request.cause)   # AgentReady, and any offer it
                                                 # makes at once, carry the id

Each queue picks among its ready agents by its strategy: longest_idle
(whose last call, login or wrap-up ended the longest ago), fewest_calls
and least_talk_time (since login), linear (the order of the
configuration), round_robin (the next after the last one offered a call),
random, and weighted_random (weighted by seconds idle).  ring_all, which
rings every free agent at once, is not served yet: such a queue offers
its calls longest idle first, and the server says so in its log at start.
Queues are served oldest caller first; when one agent
serves several queues, the caller who has waited longest across them is
offered first.  An agent who lets a call ring out is not offered that
call again before RETRY_S seconds, nor before every other agent has been
tried.

Agent states use the CSTA names and move by a declared table: loggedOff,
notReady (with a reason), ready, reserved (a call rings at the station),
busy, workingAfterCall.  Every change is published to the agent's
monitors and recorded (AgentStateChange, and the Asterisk-style queue
log through `owner.record`).
"""
import functools
import random
from dataclasses import dataclass, field

from twisted.logger import Logger

from cti.statemachine import Table

log = Logger()

#: After every agent let a caller's call ring out, they are offered it
#: again only after this many seconds.
RETRY_S = 5.0

AGENT = Table("agent", initial="loggedOff", transitions=[
    ("loggedOff", "login", "notReady"),
    ("notReady", "ready", "ready"),
    ("notReady", "not_ready", "="),            # a new reason
    ("ready", "not_ready", "notReady"),
    ("ready", "offer", "reserved"),
    ("reserved", "answer", "busy"),
    ("reserved", "no_answer", "ready"),        # rang out: back in line, the next agent tried
    ("reserved", "withdrawn", "ready"),        # the caller hung up first
    ("busy", "call_ended", "workingAfterCall"),
    ("workingAfterCall", "ready", "ready"),    # wrap-up over (timer or the agent)
    ("workingAfterCall", "not_ready", "notReady"),
    ("notReady", "logout", "loggedOff"),
    ("ready", "logout", "loggedOff"),
    ("workingAfterCall", "logout", "loggedOff"),
])

#: The event published when an agent enters a state.
AGENT_EVENTS = {"loggedOff": "AgentLoggedOff", "notReady": "AgentNotReady",
                "ready": "AgentReady", "reserved": "AgentReserved", "busy": "AgentBusy",
                "workingAfterCall": "AgentWorkingAfterCall"}


def _serving(method):
    """Give a public method the `cause=` keyword: the protocol request it
    serves, kept in `ACD.cause` while it runs (an inner call without one
    keeps the outer request's)."""
    @functools.wraps(method)
    def serve(self, *args, cause=None, **kwargs):
        outer, self.cause = self.cause, cause or self.cause
        try:
            return method(self, *args, **kwargs)
        finally:
            self.cause = outer
    return serve


class ACDError(Exception):
    """A request the ACD refuses; `code` is the protocol error code."""

    def __init__(self, code, message):
        self.code = code
        super().__init__(message)


@dataclass(eq=False)
class Entry:
    """One caller waiting in one queue."""

    call: object
    queue: "QueueState"
    since: float
    tried: set = field(default_factory=set)   # agents who let it ring out this round
    agent: "AgentState | None" = None         # the agent it rings at
    timer: object = None                      # the ring timeout
    max_wait: object = None                   # the max-wait timer
    retry: object = None                      # the next round of agents who rang out

    @property
    def position(self):
        return self.queue.waiting.index(self) + 1 if self in self.queue.waiting else 0


@dataclass(eq=False)
class QueueState:
    config: object
    waiting: list = field(default_factory=list)
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    timed_out: int = 0
    answered_in_sl: int = 0
    wait_total: float = 0.0
    last_agent: object = None                 # round robin: the last agent offered a call

    @property
    def name(self):
        return self.config.name


@dataclass(eq=False)
class AgentState:
    config: object
    machine: object
    station: str | None = None
    reason: str = ""
    idle_since: float = 0.0
    login_at: float = 0.0
    entry: Entry | None = None                # the call offered or in progress
    call: object = None
    calls: int = 0
    talk_s: float = 0.0                       # talk time since login
    wrap_timer: object = None

    @property
    def id(self):
        return self.config.id

    @property
    def state(self):
        return self.machine.state

    def serves(self, queue_name):
        return queue_name in self.config.queues


class ACD:
    def __init__(self, clock, queues, agents, owner, publish=None, seed=None):
        self.clock = clock
        self.random = random.Random(seed)
        self.owner = owner
        self.publish = publish or (lambda *a, **k: None)
        self.cause = None                     # the request being served (see _serving)
        self.queues = {q.name: QueueState(q) for q in queues}
        self.at_station = {}                  # station -> the agent logged in there
        for q in queues:
            if q.strategy == "ring_all":
                log.warn("queue {queue}: ring_all is not served yet; longest_idle is used",
                         queue=q.name)
        self.agents = {}
        for a in agents:
            agent = AgentState(a, None)
            agent.machine = AGENT.machine(clock, f"agent {a.id}", on_change=self._changed(agent))
            self.agents[a.id] = agent

    # -- lookups -----------------------------------------------------------
    def agent(self, agent_id):
        try:
            return self.agents[agent_id]
        except KeyError:
            raise ACDError("no_such_object", f"no agent {agent_id!r}") from None

    def queue(self, name):
        try:
            return self.queues[name]
        except KeyError:
            raise ACDError("no_such_object", f"no queue {name!r}") from None

    def agent_at(self, station):
        """The agent logged in at a station, or None."""
        return self.at_station.get(station)

    def full(self, queue_name):
        """Whether the queue has its max_length of callers waiting."""
        queue = self.queue(queue_name)
        limit = queue.config.max_length
        return limit is not None and len(queue.waiting) >= limit

    def entry_of(self, call):
        return next((e for q in self.queues.values() for e in q.waiting if e.call is call),
                    None)

    # -- agents ------------------------------------------------------------
    @_serving
    def login(self, agent_id, station):
        agent = self.agent(agent_id)
        if agent.state != "loggedOff":
            raise ACDError("invalid_state", f"agent {agent_id} is logged in already at "
                           f"{agent.station}")
        other = self.agent_at(station)
        if other is not None:
            raise ACDError("resource_busy", f"station {station} is in use by agent {other.id}")
        agent.station = station
        self.at_station[station] = agent
        agent.login_at = agent.idle_since = self.clock.seconds()
        agent.calls = 0
        agent.talk_s = 0.0
        agent.reason = "login"
        self.owner.record_queue("NONE", "NONE", agent.id, "AGENTLOGIN", station)
        agent.machine.fire("login", reason="login")

    @_serving
    def logout(self, agent_id, reason="agent"):
        agent = self.agent(agent_id)
        if agent.state in ("reserved", "busy"):
            raise ACDError("invalid_state", f"agent {agent_id} is {agent.state}: finish the "
                           "call first")
        if agent.state == "loggedOff":
            raise ACDError("invalid_state", f"agent {agent_id} is not logged in")
        self._cancel_wrap(agent)
        station, login_at = agent.station, agent.login_at
        agent.reason = reason
        agent.machine.fire("logout", reason=reason)
        self.owner.record_queue("NONE", "NONE", agent.id, "AGENTLOGOFF", station,
                                round(self.clock.seconds() - login_at))
        self.owner.record_session(agent.id, station, login_at, reason)
        del self.at_station[station]
        agent.station = None

    @_serving
    def set_ready(self, agent_id):
        agent = self.agent(agent_id)
        if agent.state == "ready":
            return
        if agent.state not in ("notReady", "workingAfterCall"):
            raise ACDError("invalid_state", f"agent {agent_id} is {agent.state}")
        was_paused = agent.state == "notReady"
        self._cancel_wrap(agent)
        agent.reason = ""
        agent.idle_since = self.clock.seconds()
        agent.machine.fire("ready")
        if was_paused:
            self.owner.record_queue("NONE", "NONE", agent.id, "UNPAUSE")
        self.dispatch()

    @_serving
    def set_not_ready(self, agent_id, reason=""):
        agent = self.agent(agent_id)
        if agent.state not in ("ready", "notReady", "workingAfterCall"):
            raise ACDError("invalid_state", f"agent {agent_id} is {agent.state}")
        self._cancel_wrap(agent)
        agent.reason = reason
        agent.machine.fire("not_ready", reason=reason)
        self.owner.record_queue("NONE", "NONE", agent.id, "PAUSE", reason)

    def _cancel_wrap(self, agent):
        if agent.wrap_timer is not None and agent.wrap_timer.active():
            agent.wrap_timer.cancel()
        agent.wrap_timer = None

    # -- callers -----------------------------------------------------------
    @_serving
    def enqueue(self, call, queue_name):
        """The caller waits in the queue; False when the queue is full."""
        if self.full(queue_name):
            return False
        queue = self.queue(queue_name)
        entry = Entry(call, queue, self.clock.seconds())
        queue.waiting.append(entry)
        queue.offered += 1
        self.owner.record_queue(call.id, queue.name, None, "ENTERQUEUE", "", call.ani,
                                entry.position)
        if queue.config.max_wait_s is not None:
            entry.max_wait = self.clock.callLater(queue.config.max_wait_s, self._timed_out,
                                                  entry)
        self.dispatch()
        return True

    def abandon(self, call):
        """The caller hung up while waiting (or while an agent's phone rang)."""
        entry = self.entry_of(call)
        if entry is None:
            return
        position = entry.position
        self._leave(entry)
        entry.queue.abandoned += 1
        self.owner.record_queue(call.id, entry.queue.name, None, "ABANDON", position, 1,
                                round(self.clock.seconds() - entry.since))
        if entry.agent is not None:
            agent = entry.agent
            self._end_offer(entry)
            self.owner.withdraw(entry, agent)
            agent.machine.fire("withdrawn", call=call.id)
            self.dispatch()

    def _timed_out(self, entry):
        entry.max_wait = None
        if entry.agent is not None:          # ringing an agent now: let it ring
            return
        position = entry.position
        self._leave(entry)
        entry.queue.timed_out += 1
        self.owner.record_queue(entry.call.id, entry.queue.name, None, "EXITWITHTIMEOUT",
                                position, 1, round(self.clock.seconds() - entry.since))
        self.owner.queue_timeout(entry)

    def _leave(self, entry):
        if entry in entry.queue.waiting:
            entry.queue.waiting.remove(entry)
        for timer in (entry.max_wait, entry.retry):
            if timer is not None and timer.active():
                timer.cancel()
        entry.max_wait = entry.retry = None

    # -- pairing -----------------------------------------------------------
    def dispatch(self):
        """Offer waiting callers to free agents until no pair is left."""
        while True:
            pair = self._next_pair()
            if pair is None:
                return
            self._offer(*pair)

    def _next_pair(self):
        heads = sorted((e for q in self.queues.values() for e in q.waiting
                        if e.agent is None), key=lambda e: e.since)
        for entry in heads:
            agent = self._pick(entry)
            if agent is not None:
                return entry, agent
        return None

    def _pick(self, entry):
        """The free agent the queue's strategy chooses for the entry."""
        queue = entry.queue
        fresh = [a for a in self.agents.values() if a.state == "ready"
                 and a.serves(queue.name) and a.id not in entry.tried]
        if not fresh:
            return None
        strategy = queue.config.strategy
        if strategy == "fewest_calls":
            return min(fresh, key=lambda a: (a.calls, a.idle_since, a.id))
        if strategy == "least_talk_time":
            return min(fresh, key=lambda a: (a.talk_s, a.idle_since, a.id))
        if strategy in ("linear", "round_robin"):
            order = [a for a in self.agents.values() if a.serves(queue.name)]
            start = 0
            if strategy == "round_robin" and queue.last_agent in order:
                start = order.index(queue.last_agent) + 1
            ring = order[start:] + order[:start]
            return next(a for a in ring if a in fresh)
        if strategy == "random":
            return self.random.choice(fresh)
        if strategy == "weighted_random":        # weight: seconds idle (+1)
            now = self.clock.seconds()
            return self.random.choices(fresh, [now - a.idle_since + 1 for a in fresh])[0]
        return min(fresh, key=lambda a: (a.idle_since, a.id))   # longest_idle, ring_all

    def _new_round(self, entry):
        """Every agent let the call ring out: after RETRY_S they may be tried again."""
        entry.retry = None
        entry.tried.clear()
        self.dispatch()

    def _offer(self, entry, agent):
        entry.queue.last_agent = agent
        entry.agent = agent
        agent.entry = entry
        agent.call = entry.call
        agent.machine.fire("offer", call=entry.call.id)
        entry.timer = self.clock.callLater(entry.queue.config.ring_timeout_s,
                                           self._ring_timeout, entry)
        self.owner.offer(entry, agent)

    def _end_offer(self, entry):
        if entry.timer is not None and entry.timer.active():
            entry.timer.cancel()
        entry.timer = None
        agent, entry.agent = entry.agent, None
        if agent is not None:
            agent.entry = None
            agent.call = None

    def _ring_timeout(self, entry):
        entry.timer = None
        self.no_answer(entry.agent)

    @_serving
    def no_answer(self, agent):
        """The agent's phone rang out (or the agent rejected the call)."""
        entry = agent.entry
        if entry is None or agent.state != "reserved":
            return
        ring_ms = round((self.clock.seconds() - agent.machine.since) * 1000)
        self._end_offer(entry)
        entry.tried.add(agent.id)
        self.owner.record_queue(entry.call.id, entry.queue.name, agent.id, "RINGNOANSWER",
                                ring_ms)
        self.owner.withdraw(entry, agent)
        agent.machine.fire("no_answer", call=entry.call.id)
        if entry.retry is None:
            entry.retry = self.clock.callLater(RETRY_S, self._new_round, entry)
        if entry.max_wait is None and entry.queue.config.max_wait_s is not None \
                and entry in entry.queue.waiting:
            self._timed_out(entry)          # its max wait passed while this agent rang
        self.dispatch()

    @_serving
    def answered(self, agent_id):
        """The agent took the call: it leaves the queue."""
        agent = self.agent(agent_id)
        entry = agent.entry
        if entry is None or agent.state != "reserved":
            raise ACDError("invalid_state", f"agent {agent_id} has no call ringing")
        wait = self.clock.seconds() - entry.since
        ring = self.clock.seconds() - agent.machine.since
        position = entry.position
        if entry.timer is not None and entry.timer.active():
            entry.timer.cancel()
        entry.timer = None
        self._leave(entry)
        queue = entry.queue
        queue.answered += 1
        queue.wait_total += wait
        if wait <= queue.config.service_level_s:
            queue.answered_in_sl += 1
        agent.calls += 1
        agent.machine.fire("answer", call=entry.call.id)
        self.owner.record_queue(entry.call.id, queue.name, agent.id, "CONNECT", round(wait),
                                entry.call.id, round(ring))
        entry.original_position = position
        return entry

    @_serving
    def call_ended(self, agent_id, released_by):
        """The agent's call is over: wrap-up, then the next call."""
        agent = self.agent(agent_id)
        entry = agent.entry
        if agent.state != "busy" or entry is None:
            return
        talk = self.clock.seconds() - agent.machine.since
        wait = agent.machine.since - entry.since
        event = "COMPLETEAGENT" if released_by == "agent" else "COMPLETECALLER"
        self.owner.record_queue(entry.call.id, entry.queue.name, agent.id, event, round(wait),
                                round(talk), getattr(entry, "original_position", 1))
        agent.entry = None
        agent.talk_s += talk
        call, agent.call = agent.call, None
        agent.machine.fire("call_ended", call=call.id)
        wrap = entry.queue.config.wrap_up_s
        agent.wrap_timer = self.clock.callLater(wrap, self._wrap_done, agent)

    def _wrap_done(self, agent):
        agent.wrap_timer = None
        if agent.state == "workingAfterCall":
            agent.idle_since = self.clock.seconds()
            agent.machine.fire("ready", reason="wrap-up over")
            self.dispatch()

    # -- what monitors see -------------------------------------------------
    def _changed(self, agent):
        def changed(machine, transition):
            body = self.describe(agent)
            body["previous"] = transition.source
            if transition.event == "login":     # AgentLoggedOn, in the state entered
                self.publish("agent", agent.id, "AgentLoggedOn", body, cause=self.cause)
            self.publish("agent", agent.id, AGENT_EVENTS[transition.target], body,
                         cause=self.cause)
            self.owner.record_state(agent.id, transition.target, agent.reason or None,
                                    transition.source,
                                    agent.call.id if agent.call is not None else None)
        return changed

    def describe(self, agent):
        return {"agent": agent.id, "name": agent.config.name, "state": agent.state,
                "reason": agent.reason, "station": agent.station, "since": agent.machine.since,
                "queues": list(agent.config.queues), "calls": agent.calls,
                "call": agent.call.id if agent.call is not None else None}

    def describe_queue(self, queue):
        now = self.clock.seconds()
        states = {}
        for a in self.agents.values():
            if a.serves(queue.name):
                states[a.state] = states.get(a.state, 0) + 1
        return {"queue": queue.name, "strategy": queue.config.strategy,
                "waiting": [{"call": e.call.id, "ani": e.call.ani, "waitS": now - e.since,
                             "position": i + 1, "agent": e.agent.id if e.agent else None}
                            for i, e in enumerate(queue.waiting)],
                "agents": states, "offered": queue.offered, "answered": queue.answered,
                "abandoned": queue.abandoned, "timedOut": queue.timed_out,
                "serviceLevel": (queue.answered_in_sl / queue.answered
                                 if queue.answered else None),
                "asaS": queue.wait_total / queue.answered if queue.answered else None}
