# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_acd -*-
"""Queues and agents: who takes the next call.

The ACD knows callers waiting in queues and agents in states; it decides
pairings and times them, and leaves the telephony (ringing a phone,
connecting audio, playing announcements) to its owner, the call centre::

    acd = ACD(clock, config.queues, config.agents, owner, publish)
    acd.login("1001", "msiB1C1");  acd.set_ready("1001")
    entry = acd.enqueue(call, "sales")   # -> owner.offer(entry, agent) when an agent is free
    acd.answered("1001")                 # the agent's phone was answered: busy
    acd.call_ended("1001", "caller")     # wrap-up, then ready for the next call

The owner's side: `offer(entry, agent)` rings the agent's station,
`withdraw(entry, agent)` stops it, `queue_exit(entry, reason)` is told that
a caller left the queue without an agent (reason "timeout", "empty" or
"exit_key": the owner sends it on to the queue's overflow), `call_alive(call)`
answers the sweep, and `record_queue`, `record_state`, `record_session`
write the records.

Who serves whom is the router's business (cti.server.queueing.router): members or
skills with rules that widen as the caller waits, the queue's strategy
among free agents, and one global order for a freed agent (the highest
priority, then the longest wait, across every queue it serves).  ring_all
offers a caller to every free agent who may serve it at once; the first to
answer takes it.

Per agent: a phone that rings out (`ring_timeout_s`: the agent's own,
else the queue's) is withdrawn and the next agent tried; agents who let
a caller ring out are passed over for it until a new round starts: when
no other agent is free for it, and no sooner than `retry_s` after the
round's first ring-out.  After
`max_no_answer` offers in a row rung out the agent is put not ready
(reason "no answer"), and its count starts again.  Wrap-up is
"timed" (the agent may end it early), "forced" (it may not) or "agent"
(it lasts until the agent ends it).  A not-ready or log-out asked during a
call is *pending*: it applies when the call and its wrap-up are over.

State lives here only.  A sweep every `sweep_s` reconciles it with the
owner: an agent reserved with no ringing call, busy on a call that is
gone, or a caller whose call ended without a word are put right, with the
reason "reconciled" in the event and the log.

Agent states use the CSTA names and move by a declared table: loggedOff,
notReady (with a reason), ready, reserved (a call rings at the station),
busy, workingAfterCall.  Every change is published to the agent's monitors
with its reason, and recorded (AgentStateChange, and the Asterisk-style
queue log through `owner.record_queue`).
"""
import functools
import hmac
import math
import os
import random
from collections import deque
from dataclasses import dataclass, field

from twisted.internet import task
from twisted.logger import Logger

from cti.server.errors import ACDError
from cti.server.queueing.router import STRATEGY_KEY, Router, Rule
from cti.statemachine import Table

log = Logger()

AGENT = Table("agent", initial="loggedOff", transitions=[
    ("loggedOff", "login", "notReady"),
    ("notReady", "ready", "ready"),
    ("notReady", "not_ready", "="),            # a new reason
    ("ready", "not_ready", "notReady"),
    ("ready", "offer", "reserved"),
    ("reserved", "answer", "busy"),
    ("reserved", "no_answer", "ready"),        # rang out: back in line, the next agent tried
    ("reserved", "no_answer_pause", "notReady"),   # rang out once too often
    ("reserved", "withdrawn", "ready"),        # the caller hung up, or another agent answered
    ("busy", "call_ended", "workingAfterCall"),
    ("busy", "released", "ready"),             # a direct call (consultation) with no wrap-up
    ("ready", "dial_out", "busy"),             # the agent's own call out (MakeCall)
    ("notReady", "dial_out", "busy"),
    ("busy", "released_paused", "notReady"),   # ...back to not ready, as it was
    ("workingAfterCall", "ready", "ready"),    # wrap-up over (timer or the agent)
    ("ready", "after_call_work", "workingAfterCall"),      # asked: work of its own
    ("notReady", "after_call_work", "workingAfterCall"),
    ("workingAfterCall", "not_ready", "notReady"),
    ("notReady", "logout", "loggedOff"),
    ("ready", "logout", "loggedOff"),
    ("reserved", "logout", "loggedOff"),       # its phone rang: the caller goes on
    ("workingAfterCall", "logout", "loggedOff"),
    ("busy", "reconcile", "workingAfterCall"),     # the sweep: its call is gone
    ("reserved", "reconcile", "ready"),            # the sweep: nothing rings
])

#: The event published when an agent enters a state.
AGENT_EVENTS = {"loggedOff": "AgentLoggedOff", "notReady": "AgentNotReady",
                "ready": "AgentReady", "reserved": "AgentReserved", "busy": "AgentBusy",
                "workingAfterCall": "AgentWorkingAfterCall"}

#: Conditions for `join_empty` / `leave_empty`: a queue is *empty* for a
#: list of them when every agent who could serve it is in one of their states.
EMPTY_CONDITIONS = {"unavailable": ("loggedOff",), "paused": ("notReady",),
                    "wrapup": ("workingAfterCall",), "inuse": ("busy", "reserved")}

#: Why a caller leaves a queue without an agent (queue log event).
EXITS = {"timeout": "EXITWITHTIMEOUT", "empty": "EXITEMPTY", "exit_key": "EXITWITHKEY"}


def service_level(within, answered, abandoned_late, left):
    """The one definition of a queue's service level (docs/configuration.md),
    for the live figures and the reports alike: calls answered within the
    threshold / (calls answered + abandoned after the threshold + left the
    queue unanswered: max wait, leave_empty, exit key).  Callers who hung up
    within the threshold, and calls the server or a supervisor cleared,
    count neither way.  None before the first call it counts."""
    counted = answered + abandoned_late + left
    return within / counted if counted else None


@dataclass(frozen=True)
class Settings:
    """The ACD's own knobs ([acd] in etc/cti.toml)."""

    retry_s: float = 5.0            # before agents who let a caller ring out are tried again
    max_no_answer: int = 3          # offers rung out in a row before auto not-ready (0: never)
    sweep_s: float = 5.0            # how often state is reconciled with the calls


def _serving(method):
    """Give a public method the `cause=` keyword: the protocol request it
    serves (session, invoke id), kept in `ACD.cause` while it runs, so the
    events it causes echo the request's invoke id (an inner call without
    one keeps the outer request's)."""
    @functools.wraps(method)
    def serve(self, *args, cause=None, **kwargs):
        outer, self.cause = self.cause, cause or self.cause
        try:
            return method(self, *args, **kwargs)
        finally:
            self.cause = outer
    return serve


@dataclass(eq=False)
class Entry:
    """One caller waiting in one queue."""

    call: object
    queue: "QueueState"
    since: float                    # entered this queue
    priority: int = 0
    first_since: float = 0.0        # entered the first queue (overflow keeps it)
    rule: int = 0                   # the queue's skill rule in force (they widen)
    order_key: tuple = ()           # the router's sort key
    tried: set = field(default_factory=set)    # agents who let it ring out this round
    ringing: list = field(default_factory=list)   # agents whose phone rings with it
    agent: "AgentState | None" = None          # the agent who answered
    waiting: bool = True            # still in the queue
    callback: bool = False          # the caller hung up to be called back
    overdue: bool = False           # its max wait passed while an agent's phone rang
    position: int = 0               # when it entered (the queue log's original position)
    timers: dict = field(default_factory=dict)   # max_wait, widen, retry

    @property
    def queue_name(self):
        return self.queue.name


@dataclass(eq=False)
class QueueState:
    config: object
    strategy: str = ""
    offered: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    abandoned_in_sl: int = 0        # hung up within the service-level time
    exits: dict = field(default_factory=dict)   # reason -> callers who left without an agent
    wait_total: float = 0.0         # of answered calls
    handled: int = 0
    handle_total: float = 0.0       # talk + wrap-up of handled calls
    recent_handles: deque = field(default_factory=lambda: deque(maxlen=20))

    @property
    def name(self):
        return self.config.name


@dataclass(eq=False)
class AgentState:
    config: object
    order: int                      # its place in the configuration (linear, round robin)
    machine: object = None
    station: str | None = None
    reason: str = ""
    idle_since: float = 0.0
    login_at: float = 0.0
    entry: Entry | None = None      # the call offered or in progress
    call: object = None
    calls: int = 0                  # queue calls answered since login
    calls_out: int = 0              # calls it made (MakeCall) since login
    calls_direct: int = 0           # calls to it by name answered (internal, transfers)
    talk_s: float = 0.0             # talk time since login, every kind of call
    ring_timer: object = None       # its phone's ring timeout while an offer rings
    last_call: object = None        # the call its wrap-up follows (its record stays editable)
    no_answers: int = 0             # offers rung out in a row
    pending: tuple | None = None    # (state, reason) to apply when the call is over
    durations: dict = field(default_factory=dict)   # state -> seconds since login
    wrap_timer: object = None
    wrap_ends: float | None = None  # a timed or forced wrap-up's end
    wrap_mode: str = "timed"
    direct_queue: str | None = None # a direct call's queue (whose wrap-up ends it)
    return_to: tuple | None = None  # (state, reason) after its own call out
    lock: tuple | None = None       # (salt, HMAC) of a locked break's password
    wrap_started: float = 0.0
    wrap_queue: "QueueState | None" = None   # whose handle time the wrap-up ends
    wrap_talk: float = 0.0
    answered_at: float = 0.0
    state_started: float = 0.0
    why: str | None = None          # and its reason, for the event
    serves: list = field(default_factory=list)   # every queue it may serve
    state_reason: str = ""          # the reason of the state it is in, as last published

    @property
    def id(self):
        return self.config.id

    @property
    def state(self):
        return self.machine.state

    @property
    def skills(self):
        return self.config.skills

    @property
    def member_of(self):
        return self.config.queues

    @property
    def weight(self):
        return self.config.weight


def rules_of(queue):
    """The queue's skill rules: its `skills` from the start, then `widen`."""
    if not queue.skills:
        return ()
    rules = [Rule(0, tuple(sorted(queue.skills.items())))]
    for after_s, skills in queue.widen:
        rules.append(Rule(after_s, tuple(sorted(skills.items()))))
    return tuple(rules)


@dataclass(frozen=True)
class _Routed:
    name: str
    strategy: str
    rules: tuple


class ACD:
    def __init__(self, clock, queues, agents, owner, publish=None, seed=None,
                 settings=None):
        self.clock = clock
        self.cause = None                     # the request being served (see _serving)
        self.settings = settings or Settings()
        self.random = random.Random(seed)
        self.owner = owner
        self.publish = publish or (lambda *a, **k: None)
        self.queues = {q.name: QueueState(q, q.strategy) for q in queues}
        self.leave_empty = [s for s in self.queues.values() if s.config.leave_empty]
        self.rules = {q.name: rules_of(q) for q in queues}
        self.router = Router(clock, [_Routed(q.name, q.strategy, self.rules[q.name])
                                     for q in queues], self.random)
        self.at_station = {}                  # station -> the agent logged in there
        self.entries = {}                     # call id -> its Entry while queued or ringing
        self.agents = {}
        self.by_skill = {}                    # skill -> agents who have it
        self.members = {}                     # queue -> agents who list it
        for i, a in enumerate(agents):
            agent = AgentState(a, i)
            agent.machine = AGENT.machine(clock, f"agent {a.id}",
                                          on_change=self._changed(agent))
            self.agents[a.id] = agent
            for skill in a.skills:
                self.by_skill.setdefault(skill, []).append(agent)
            for queue in a.queues:
                self.members.setdefault(queue, []).append(agent)
        for name in self.queues:              # skills do not change while it runs
            for agent in self.serving(name):
                agent.serves.append(name)
        self._sweeper = task.LoopingCall(self.sweep)
        self._sweeper.clock = clock

    def start(self):
        """Sweep and reconcile every `sweep_s` from now on."""
        if not self._sweeper.running:
            self._sweeper.start(self.settings.sweep_s, now=False)

    def stop(self):
        if self._sweeper.running:
            self._sweeper.stop()

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

    def full(self, queue_name):
        """Whether the queue has its max_length of callers waiting."""
        limit = self.queue(queue_name).config.max_length
        return limit is not None and len(self.router.queues[queue_name].waiting) >= limit

    def agent_at(self, station):
        """The agent logged in at a station, or None."""
        return self.at_station.get(station)

    def entry_of(self, call):
        return self.entries.get(call.id)

    def waiting(self, queue_name):
        """The entries waiting in a queue, the next to be served first."""
        return self.router.waiting(queue_name)

    def position(self, entry):
        return self.router.position(entry) if entry.waiting else 0

    def can_serve(self, agent, queue_name, rule=-1):
        """Whether the agent serves the queue (by membership, or by skills
        under the rule: by default the widest)."""
        rules = self.rules[queue_name]
        if not rules:
            return queue_name in agent.member_of
        return rules[rule].accepts(agent.skills)

    def serving(self, queue_name, rule=-1):
        """Every agent (in any state) who may serve the queue."""
        rules = self.rules[queue_name]
        if not rules:
            return self.members.get(queue_name, [])
        skill = rules[rule].needs[0][0]
        return [a for a in self.by_skill.get(skill, ()) if rules[rule].accepts(a.skills)]

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
        agent.calls = agent.calls_out = agent.calls_direct = agent.no_answers = 0
        agent.talk_s = 0.0
        agent.durations = {}
        agent.state_started = agent.login_at
        agent.pending = None
        agent.reason = "login"
        self.owner.record_queue("NONE", "NONE", agent.id, "AGENTLOGIN", station)
        self._fire(agent, "login")

    @_serving
    def logout(self, agent_id, reason="agent", lock=None, force=False):
        """Log out now, or after the call (returns "pending") when on one."""
        agent = self.agent(agent_id)
        if agent.state == "loggedOff":
            raise ACDError("invalid_state", f"agent {agent_id} is not logged in")
        self._unlock(agent, lock, force)
        if agent.state == "busy":
            return self._pend(agent, "loggedOff", reason)
        entry = None
        if agent.state == "reserved":            # ringing: the caller goes to the next agent
            entry = self._release_offer(agent)
        self._logout(agent, reason)
        if entry is not None:
            self._ring_over(entry)
        return "done"

    def _logout(self, agent, reason):
        self._cancel_wrap(agent)
        station, login_at = agent.station, agent.login_at
        agent.reason = reason
        agent.pending = None
        self._fire(agent, "logout")
        self.owner.record_queue("NONE", "NONE", agent.id, "AGENTLOGOFF", station,
                                round(self.clock.seconds() - login_at))
        self.owner.record_session(agent.id, station, login_at, reason)
        del self.at_station[station]
        agent.station = None
        self._check_leave_empty(agent)

    @_serving
    def set_ready(self, agent_id, lock=None, force=False):
        agent = self.agent(agent_id)
        if agent.state == "ready":
            return "done"
        self._unlock(agent, lock, force)
        if agent.state in ("reserved", "busy"):
            if agent.pending is not None:        # "ready after this call": the pending is off
                agent.pending = None
                self._publish(agent, "AgentPendingState")
            return "done"
        if agent.state not in ("notReady", "workingAfterCall"):
            raise ACDError("invalid_state", f"agent {agent_id} is {agent.state}")
        if agent.state == "workingAfterCall" and agent.wrap_mode == "forced" \
                and agent.wrap_timer is not None:
            left = agent.wrap_ends - self.clock.seconds()
            raise ACDError("invalid_state", f"agent {agent_id}: wrap-up is forced for "
                           f"{math.ceil(left)} s more")
        was_paused, paused_for = agent.state == "notReady", agent.reason
        self._cancel_wrap(agent)
        agent.pending = None
        self._go_ready(agent, "agent")
        if was_paused:
            self.owner.record_queue("NONE", "NONE", agent.id, "UNPAUSE", paused_for)
        return "done"

    @_serving
    def set_not_ready(self, agent_id, reason="", lock=None, force=False):
        """Not ready now, or after the call (returns "pending") when on one.
        `lock`: a password the agent must give again to end the break."""
        agent = self.agent(agent_id)
        self._unlock(agent, lock, force or agent.state != "notReady")   # a new reason
        if lock:
            salt = os.urandom(16)
            agent.lock = (salt, hmac.new(salt, lock.encode(), "sha256").digest())
        if agent.state in ("reserved", "busy"):
            return self._pend(agent, "notReady", reason)
        if agent.state not in ("ready", "notReady", "workingAfterCall"):
            raise ACDError("invalid_state", f"agent {agent_id} is {agent.state}")
        if agent.state == "workingAfterCall" and agent.wrap_mode == "forced" \
                and agent.wrap_timer is not None:
            return self._pend(agent, "notReady", reason)
        self._cancel_wrap(agent)
        self._not_ready(agent, reason)
        return "done"

    def _not_ready(self, agent, reason, event="not_ready", **detail):
        agent.reason = reason
        agent.pending = None
        self._fire(agent, event, **detail)
        self.owner.record_queue("NONE", "NONE", agent.id, "PAUSE", reason)
        self._check_leave_empty(agent)

    def _pend(self, agent, state, reason):
        agent.pending = (state, reason)
        self._publish(agent, "AgentPendingState")
        return "pending"

    def _go_ready(self, agent, reason):
        agent.reason = ""
        agent.idle_since = self.clock.seconds()
        self._fire(agent, "ready", why=reason)
        self._serve_agent(agent)

    @_serving
    def set_after_call_work(self, agent_id):
        """After-call work asked for (CSTA workingAfterCall): no calls, no
        timer, until the agent goes ready or not ready; during a call or its
        wrap-up it is the wrap-up going on until then."""
        agent = self.agent(agent_id)
        if agent.state == "workingAfterCall":
            self._cancel_wrap(agent)                 # the wrap-up lasts until asked
            agent.wrap_mode = "agent"
            return "done"
        if agent.state in ("reserved", "busy"):
            return self._pend(agent, "workingAfterCall", "")
        if agent.state not in ("ready", "notReady"):
            raise ACDError("invalid_state", f"agent {agent_id} is {agent.state}")
        self._unlock(agent, None, False)
        agent.reason = ""
        agent.wrap_mode, agent.wrap_queue = "agent", None
        self._fire(agent, "after_call_work")
        return "done"

    def _unlock(self, agent, lock, force):
        """A locked break ends only with its lock (or by a supervisor's force)."""
        if agent.lock is None or force:
            agent.lock = None
            return
        salt, digest = agent.lock
        if lock is None or not hmac.compare_digest(
                hmac.new(salt, lock.encode(), "sha256").digest(), digest):
            raise ACDError("invalid_state", f"agent {agent.id}'s break is locked: give its "
                           "lock" + (" (that one is wrong)" if lock is not None else ""))
        agent.lock = None

    def _cancel_wrap(self, agent):
        if agent.wrap_timer is not None and agent.wrap_timer.active():
            agent.wrap_timer.cancel()
        agent.wrap_timer = None
        agent.wrap_ends = None

    # -- callers -----------------------------------------------------------
    @_serving
    def enqueue(self, call, queue_name, priority=None, first_since=None, callback=False):
        """The caller waits in the queue; returns its Entry.  Raises ACDError
        `queue_full` (max_length) or `queue_empty` (join_empty).  `callback`:
        a caller to call back (after a failed attempt), see `keep_for_callback`:
        it waits even in a queue nobody serves now."""
        queue = self.queue(queue_name)
        config = queue.config
        if self.full(queue_name):
            queue.exits["full"] = queue.exits.get("full", 0) + 1
            raise ACDError("queue_full", f"queue {queue_name} is full ({config.max_length} "
                           "callers waiting)")
        if config.join_empty and not callback \
                and self._is_empty(queue_name, config.join_empty):
            queue.exits["join_empty"] = queue.exits.get("join_empty", 0) + 1
            raise ACDError("queue_empty", f"queue {queue_name} has no agent who could take "
                           f"the call ({', '.join(config.join_empty)})")
        now = self.clock.seconds()
        entry = Entry(call, queue, now, config.priority if priority is None else priority,
                      now if first_since is None else first_since, callback=callback)
        entry.position = self.router.add_caller(entry)
        self.entries[call.id] = entry
        queue.offered += 1
        self.owner.record_queue(call.id, queue.name, None, "ENTERQUEUE", "", call.ani,
                                entry.position)
        if config.max_wait_s is not None and not callback:
            entry.timers["max_wait"] = self.clock.callLater(config.max_wait_s,
                                                            self._timed_out, entry)
        self._schedule_widen(entry)
        self._serve_entry(entry)
        return entry

    def keep_for_callback(self, call):
        """The caller hung up to be called back: its entry keeps its place
        until an agent takes it.  The max wait and leave_empty no longer
        apply: nobody is on the line to send elsewhere."""
        entry = self.entries.get(call.id)
        if entry is None:
            return
        entry.callback, entry.overdue = True, False
        timer = entry.timers.pop("max_wait", None)
        if timer is not None and timer.active():
            timer.cancel()

    def abandon(self, call):
        """The caller hung up while waiting (or while an agent's phone rang)."""
        entry = self.entries.get(call.id)
        if entry is None:
            return
        waited = self._gone(entry, "ABANDON", "caller hung up")
        queue = entry.queue
        queue.abandoned += 1
        if waited <= queue.config.service_level_s:
            queue.abandoned_in_sl += 1

    def cleared(self, call, why):
        """The call was ended while it waited, by the server (shutdown) or a
        supervisor, not by the caller: no abandon in the figures."""
        entry = self.entries.get(call.id)
        if entry is None:
            return
        queue = entry.queue
        queue.exits["cleared"] = queue.exits.get("cleared", 0) + 1
        self._gone(entry, "EXITCLEARED", why, why)

    def _gone(self, entry, event, why, *data):
        """A waiting call ended: out of the queue, `event` in the queue log
        (position, original position, wait s, then `data`), any agent it
        was offered to let go.  Returns the seconds it waited."""
        position = self.position(entry)
        self._leave(entry)
        waited = self.clock.seconds() - entry.since
        self.owner.record_queue(entry.call.id, entry.queue.name, None, event, position,
                                entry.position, round(waited), *data)
        self._withdraw_all(entry, why)
        return waited

    def exit_key(self, call, key):
        """A key the caller pressed while waiting: True when it was the queue's
        exit key and the caller left (the owner is told, reason "exit_key")."""
        entry = self.entries.get(call.id)
        if entry is None or entry.ringing or entry.agent is not None \
                or key != entry.queue.config.exit_key:
            return False
        self._exit(entry, "exit_key", key)
        return True

    def _exit(self, entry, reason, *data):
        position = self.position(entry)
        self._leave(entry)
        queue = entry.queue
        queue.exits[reason] = queue.exits.get(reason, 0) + 1
        waited = round(self.clock.seconds() - entry.since)
        detail = (*data, position, entry.position, waited)     # exit_key: the key first
        self.owner.record_queue(entry.call.id, queue.name, None, EXITS[reason], *detail)
        self.owner.queue_exit(entry, reason)

    def _timed_out(self, entry):
        entry.timers.pop("max_wait", None)
        if entry.ringing:          # ringing an agent now: let it ring (no_answer ends it)
            entry.overdue = True
            return
        self._exit(entry, "timeout")

    def _leave(self, entry):
        if not entry.waiting:
            return
        entry.waiting = False
        self.router.remove_caller(entry)
        self.entries.pop(entry.call.id, None)
        for name in ("max_wait", "widen", "retry"):
            timer = entry.timers.pop(name, None)
            if timer is not None and timer.active():
                timer.cancel()

    def _schedule_widen(self, entry):
        rules = self.rules[entry.queue_name]
        if entry.rule + 1 < len(rules):
            due = entry.since + rules[entry.rule + 1].after_s - self.clock.seconds()
            entry.timers["widen"] = self.clock.callLater(max(0, due), self._widen, entry)

    def _widen(self, entry):
        entry.timers.pop("widen", None)
        self.router.widen(entry)
        self._schedule_widen(entry)
        self._serve_entry(entry)

    # -- pairing -----------------------------------------------------------
    def _serve_entry(self, entry):
        """Offer a waiting caller to the agents its queue's strategy picks."""
        if not entry.waiting or entry.ringing:
            return
        agents = self.router.pick_agents(entry, exclude=entry.tried)
        if not agents and entry.tried and "retry" not in entry.timers:
            entry.tried.clear()                 # everyone free had a ring: a new round
            agents = self.router.pick_agents(entry)
        if agents:
            self._offer(entry, agents)

    def _serve_agent(self, agent):
        """A free agent takes the caller the global order puts first."""
        if agent.state != "ready":
            return
        entry = self.router.pick_caller(agent)
        if entry is None:
            return
        if entry.queue.strategy == "ring_all":
            self._serve_entry(entry)
        else:
            self._offer(entry, [agent])

    def _offer(self, entry, agents):
        entry.ringing = list(agents)
        for agent in agents:
            self.router.offered(entry, agent)
            agent.entry = entry
            agent.call = entry.call
            agent.ring_timer = self.clock.callLater(
                self.ring_s(agent, entry.queue_name), self.no_answer, agent)
            self._fire(agent, "offer", call=entry.call.id)
        for agent in agents:
            if agent.entry is entry and agent.state == "reserved":
                self.owner.offer(entry, agent)

    def ring_s(self, agent, queue_name=None):
        """How long the agent's phone rings with a call: the agent's own
        `ring_timeout_s`, else the queue's; None when neither says."""
        if agent.config.ring_timeout_s is not None:
            return agent.config.ring_timeout_s
        return self.queues[queue_name].config.ring_timeout_s if queue_name else None

    @staticmethod
    def _stop_ring_timer(agent):
        timer, agent.ring_timer = agent.ring_timer, None
        if timer is not None and timer.active():
            timer.cancel()

    def _release_offer(self, agent):
        """Take the offer off the agent (its phone stops ringing)."""
        entry = agent.entry
        entry.ringing.remove(agent)
        self._stop_ring_timer(agent)
        agent.entry = None
        agent.call = None
        self.owner.withdraw(entry, agent)
        return entry

    def _withdraw(self, agent, why):
        """The offer to this agent is over, not by its doing (the caller hung
        up, another agent answered, the agent logged out)."""
        entry = self._release_offer(agent)
        self._fire(agent, "withdrawn", call=entry.call.id, why=why)
        return entry

    def _withdraw_all(self, entry, why):
        agents = list(entry.ringing)
        for agent in agents:
            self._withdraw(agent, why)
        for agent in agents:                    # pending states first: not offered again
            if agent.pending is not None:
                self._free(agent)
        for agent in agents:
            self._free(agent)

    def _free(self, agent):
        """An offer to the agent is over: its pending state, or the next call."""
        if agent.state != "ready":
            return
        if agent.pending is not None:
            self._apply_pending(agent)
        else:
            self._serve_agent(agent)

    @_serving
    def no_answer(self, agent):
        """The agent's phone rang out (or the agent rejected the call)."""
        entry = agent.entry
        if entry is None or agent.state != "reserved":
            return
        ring_ms = round((self.clock.seconds() - agent.machine.since) * 1000)
        self._release_offer(agent)
        if not entry.tried and entry.waiting and "retry" not in entry.timers:
            entry.timers["retry"] = self.clock.callLater(self.settings.retry_s,
                                                         self._new_round, entry)
        entry.tried.add(agent)
        agent.no_answers += 1
        self.owner.record_queue(entry.call.id, entry.queue.name, agent.id, "RINGNOANSWER",
                                ring_ms)
        limit = self.settings.max_no_answer
        if limit and agent.no_answers >= limit:
            agent.no_answers = 0
            self._not_ready(agent, "no answer", "no_answer_pause", call=entry.call.id)
        else:
            self._fire(agent, "no_answer", call=entry.call.id)
        self._ring_over(entry)
        self._free(agent)

    def _ring_over(self, entry):
        """No phone rings with the waiting caller any more, unanswered: it
        leaves if its max wait passed while it rang, else the next agent."""
        if not entry.waiting or entry.ringing:
            return
        if entry.overdue:
            self._exit(entry, "timeout")
        else:
            self._serve_entry(entry)

    def _new_round(self, entry):
        """retry_s after the round's first ring-out: the agents who let it
        ring may be tried again, once no other agent is free for it."""
        entry.timers.pop("retry", None)
        self._serve_entry(entry)

    @_serving
    def answered(self, agent_id):
        """The agent took the call: it leaves the queue.  Returns the entry."""
        agent = self.agent(agent_id)
        entry = agent.entry
        if entry is None or agent.state != "reserved":
            raise ACDError("invalid_state", f"agent {agent_id} has no call ringing")
        now = self.clock.seconds()
        wait = now - entry.since
        ring = now - agent.machine.since
        entry.ringing.remove(agent)
        self._stop_ring_timer(agent)
        self._leave(entry)
        entry.agent = agent
        self._withdraw_all(entry, f"answered by agent {agent.id}")
        queue = entry.queue
        queue.answered += 1
        queue.wait_total += wait
        if wait <= queue.config.service_level_s:
            queue.answered_in_sl += 1
        agent.calls += 1
        agent.no_answers = 0
        agent.answered_at = now
        self._fire(agent, "answer", call=entry.call.id)
        self.owner.record_queue(entry.call.id, queue.name, agent.id, "CONNECT", round(wait),
                                entry.call.id, round(ring))
        return entry

    @_serving
    def call_ended(self, agent_id, released_by):
        """The agent's call is over: wrap-up, then the next call."""
        agent = self.agent(agent_id)
        entry = agent.entry
        if agent.state != "busy":
            return
        if entry is None:
            if agent.call is not None:
                self._end_direct(agent, released_by)
            return
        self._end_call(agent, entry, released_by, "call_ended")

    # -- direct calls (consultations, transfers to an agent) ----------------------
    @_serving
    def offer_direct(self, agent_id, call):
        """Reserve a ready agent for a call that comes to it by name, not
        through a queue (a consultation): the owner rings it and times it."""
        agent = self.agent(agent_id)
        if agent.state != "ready":
            raise ACDError("invalid_state", f"agent {agent_id} is {agent.state}, not ready")
        agent.entry, agent.call, agent.direct_queue = None, call, None
        self._fire(agent, "offer", call=call.id, why="direct")

    @_serving
    def answered_direct(self, agent_id):
        agent = self.agent(agent_id)
        if agent.state != "reserved" or agent.entry is not None:
            raise ACDError("invalid_state", f"agent {agent_id} has no direct call ringing")
        agent.answered_at = self.clock.seconds()
        agent.no_answers = 0
        agent.calls_direct += 1
        self._fire(agent, "answer", call=agent.call.id, why="direct")

    @_serving
    def withdraw_direct(self, agent_id, why):
        """A direct call stopped ringing unanswered (or its caller gave up)."""
        agent = self.agent(agent_id)
        if agent.state == "reserved" and agent.entry is None:
            call, agent.call = agent.call, None
            self._fire(agent, "withdrawn", call=call.id if call else None, why=why)
            self._free(agent)

    @_serving
    def dial_out(self, agent_id, call):
        """The agent makes a call of its own (ready or not ready): busy
        until it ends, then back to the state it was in."""
        agent = self.agent(agent_id)
        if agent.state not in ("ready", "notReady"):
            raise ACDError("invalid_state", f"agent {agent_id} is {agent.state}: a call of "
                           "its own needs ready or notReady")
        agent.return_to = (agent.state, agent.reason)
        agent.entry, agent.call, agent.direct_queue = None, call, None
        agent.answered_at = self.clock.seconds()
        agent.calls_out += 1
        self._fire(agent, "dial_out", call=call.id)

    def take_call(self, agent_id, call, queue_name=None):
        """A busy agent's call is now `call` (a transfer it consulted on
        completed): its end gets `queue_name`'s wrap-up, or none."""
        agent = self.agent(agent_id)
        agent.call, agent.direct_queue = call, queue_name

    def _end_direct(self, agent, released_by):
        call, agent.call = agent.call, None
        agent.talk_s += self.clock.seconds() - agent.answered_at
        queue = self.queues.get(agent.direct_queue) if agent.direct_queue else None
        agent.direct_queue = None
        agent.last_call = call if queue is not None else None
        back, agent.return_to = agent.return_to, None
        if queue is None and back is not None and back[0] == "notReady":
            agent.reason = back[1]
            self._fire(agent, "released_paused", call=call.id if call else None,
                       why=released_by)
            return
        if queue is None:
            self._fire(agent, "released", call=call.id if call else None, why=released_by)
            self._free(agent)
            return
        now = self.clock.seconds()
        config = queue.config
        agent.wrap_mode, agent.wrap_started, agent.wrap_queue = self._wrap_mode(agent, config),\
            now, queue
        agent.wrap_talk = now - agent.answered_at
        self._fire(agent, "call_ended", call=call.id if call else None, why=released_by)
        if agent.wrap_mode != "agent":
            agent.wrap_ends = now + config.wrap_up_s
            agent.wrap_timer = self.clock.callLater(config.wrap_up_s, self._wrap_done, agent)

    @staticmethod
    def _wrap_mode(agent, config):
        """The queue's wrap-up, or the agent's own after-call work asked
        during the call (no timer: until the agent ends it)."""
        if agent.pending is not None and agent.pending[0] == "workingAfterCall":
            agent.pending = None
            return "agent"
        return config.wrap_up

    def _end_call(self, agent, entry, released_by, event):
        now = self.clock.seconds()
        talk = now - agent.answered_at
        wait = agent.answered_at - entry.since
        kind = "COMPLETEAGENT" if released_by == "agent" else "COMPLETECALLER"
        self.owner.record_queue(entry.call.id, entry.queue.name, agent.id, kind, round(wait),
                                round(talk), entry.position)
        agent.entry = None
        agent.talk_s += talk
        call, agent.call = agent.call, None
        agent.last_call = call
        config = entry.queue.config
        agent.wrap_mode = self._wrap_mode(agent, config)
        agent.wrap_started = now
        agent.wrap_queue = entry.queue
        agent.wrap_talk = talk
        if agent.wrap_mode != "agent":          # before the event, which shows its end
            agent.wrap_ends = now + config.wrap_up_s
            agent.wrap_timer = self.clock.callLater(config.wrap_up_s, self._wrap_done, agent)
        self._fire(agent, event, call=call.id if call is not None else None,
                   why=released_by)

    def _wrap_done(self, agent):
        agent.wrap_timer = None
        agent.wrap_ends = None
        if agent.state != "workingAfterCall":
            return
        if agent.pending is not None:
            self._apply_pending(agent)
        else:
            self._go_ready(agent, "wrap-up over")

    def _apply_pending(self, agent):
        state, reason = agent.pending
        agent.pending = None
        if state == "loggedOff":
            self._logout(agent, reason)
        elif agent.state != "notReady":
            self._not_ready(agent, reason)

    def _handled(self, agent):
        """Leaving after-call work: the handle time (talk + wrap-up) is counted."""
        queue = agent.wrap_queue
        if queue is None:
            return
        handle = agent.wrap_talk + self.clock.seconds() - agent.wrap_started
        queue.handled += 1
        queue.handle_total += handle
        queue.recent_handles.append(handle)
        agent.wrap_queue = None

    # -- empty queues --------------------------------------------------------
    def _is_empty(self, queue_name, conditions):
        states = {s for c in conditions for s in EMPTY_CONDITIONS[c]}
        return all(a.state in states for a in self.serving(queue_name))

    def _check_leave_empty(self, agent):
        """After an agent stopped serving: callers leave queues now empty."""
        for queue in self.leave_empty:
            if not self.router.has_callers(queue.name) or not self.can_serve(agent,
                                                                              queue.name):
                continue
            if self._is_empty(queue.name, queue.config.leave_empty):
                for entry in self.waiting(queue.name):
                    if not entry.ringing and not entry.callback:
                        self._exit(entry, "empty")

    # -- estimates -------------------------------------------------------------
    def estimated_wait(self, entry):
        """Seconds until an agent is likely to take this caller: its position
        times the recent handle time, shared by the agents staffing the
        queue; None before the queue has handled a call."""
        queue = entry.queue
        if not queue.recent_handles:
            return None
        staffed = sum(1 for a in self.serving(entry.queue_name)
                      if a.state in ("ready", "reserved", "busy", "workingAfterCall"))
        handle = sum(queue.recent_handles) / len(queue.recent_handles)
        return self.position(entry) * handle / max(1, staffed)

    @_serving
    def set_strategy(self, queue_name, strategy):
        """Change a live queue's strategy; waiting callers keep their places."""
        queue = self.queue(queue_name)
        if strategy not in STRATEGY_KEY:
            raise ACDError("invalid_field", f"{strategy!r} is not a strategy (strategies: "
                           f"{', '.join(STRATEGY_KEY)})")
        old, queue.strategy = queue.strategy, strategy
        self.router.set_strategy(queue_name, strategy)
        log.info("queue {queue}: strategy {old} -> {new}", queue=queue_name, old=old,
                 new=strategy)
        self.publish("queue", queue_name, "QueueChanged", self.describe_queue(queue),
                     cause=self.cause)

    # -- the sweep ---------------------------------------------------------------
    def sweep(self):
        """Put right whatever a lost event left wrong; returns what was fixed."""
        fixed = []
        freed, released = [], []
        for agent in self.agents.values():
            entry = agent.entry
            direct = entry is None and agent.call is not None
            if agent.state == "reserved" and not direct and (
                    entry is None or agent not in entry.ringing or agent.ring_timer is None
                    or not agent.ring_timer.active()
                    or not self.owner.call_alive(entry.call)) \
                    or agent.state == "reserved" and direct \
                    and not self.owner.call_alive(agent.call):
                if entry is not None and agent in entry.ringing:
                    self._release_offer(agent)
                    released.append(entry)
                agent.entry = agent.call = None
                self._fire(agent, "reconcile", why="reconciled")
                fixed.append((agent.id, "reserved"))
                freed.append(agent)
            elif agent.state == "busy" and (agent.call is None
                                            or not self.owner.call_alive(agent.call)):
                if entry is not None:
                    self._end_call(agent, entry, "reconciled", "reconcile")
                else:                              # nothing to time: straight to wrap-up over
                    agent.call = None
                    self._fire(agent, "reconcile", why="reconciled")
                fixed.append((agent.id, "busy"))
            elif agent.state == "workingAfterCall" and agent.wrap_timer is None \
                    and agent.wrap_mode != "agent":
                self._wrap_done(agent)
                fixed.append((agent.id, "workingAfterCall"))
            elif agent.state == "ready" and not self.router.is_ready(agent):
                self.router.agent_ready(agent)
                fixed.append((agent.id, "ready"))
        for entry in list(self.entries.values()):
            if not self.owner.call_alive(entry.call):
                self.abandon(entry.call)
                fixed.append((entry.call.id, "gone"))
        for entry in released:                    # only now: gone calls are not offered
            self._ring_over(entry)
        for agent in freed:
            self._free(agent)
        if self.entries:                          # a pairing a lost event left undone
            for agent in list(self.agents.values()):
                self._serve_agent(agent)
        for what in fixed:
            log.warn("ACD sweep: {what} reconciled", what=what)
        return fixed

    # -- state changes and what monitors see -----------------------------------
    def _fire(self, agent, event, **detail):
        agent.why = detail.pop("why", None)
        try:
            agent.machine.fire(event, **detail)
        finally:
            agent.why = None

    def _changed(self, agent):
        def changed(machine, transition):
            source, target = transition.source, transition.target
            now = self.clock.seconds()
            agent.durations[source] = agent.durations.get(source, 0.0) + now \
                - agent.state_started
            agent.state_started = now
            if source == "workingAfterCall" and target != source:
                agent.last_call = None
                self._handled(agent)
            if target == "ready":
                if not self.router.is_ready(agent):
                    self.router.agent_ready(agent)
            else:
                self.router.agent_unready(agent)
            body = self.describe(agent)
            body["previous"] = source
            body["previousReason"], agent.state_reason = agent.state_reason, agent.reason
            body["transition"] = transition.event
            if agent.why:
                body["why"] = agent.why
            if transition.event == "login":     # then the state it logged in to
                self.publish("agent", agent.id, "AgentLoggedOn", body, cause=self.cause)
            self.publish("agent", agent.id, AGENT_EVENTS[target], body, cause=self.cause)
            self.owner.record_state(agent.id, target, agent.reason or agent.why or None,
                                    source, agent.call.id if agent.call is not None else None)
        return changed

    def _publish(self, agent, event):
        self.publish("agent", agent.id, event, self.describe(agent), cause=self.cause)

    def describe(self, agent):
        now = self.clock.seconds()
        durations = dict(agent.durations)
        if agent.state != "loggedOff":
            durations[agent.state] = durations.get(agent.state, 0.0) + now - agent.state_started
        return {"agent": agent.id, "name": agent.config.name, "team": agent.config.team,
                "state": agent.state, "reason": agent.reason, "station": agent.station,
                "since": agent.machine.since,
                "queues": list(agent.config.queues), "serves": list(agent.serves),
                "skills": dict(agent.skills),
                "call": agent.call.id if agent.call is not None else None,
                "locked": agent.lock is not None,
                "pendingState": agent.pending[0] if agent.pending else None,
                "pendingReason": agent.pending[1] if agent.pending else None,
                "wrapUpEndsAt": agent.wrap_ends,
                "statistics": {"calls": agent.calls, "callsOut": agent.calls_out,
                               "callsDirect": agent.calls_direct,
                               "talkS": round(agent.talk_s, 3),
                               "loginAt": agent.login_at if agent.station else None,
                               "stateS": {k: round(v, 3) for k, v in durations.items()
                                          if k != "loggedOff"}}}

    def describe_queue(self, queue):
        now = self.clock.seconds()
        states, reasons = {}, {}
        for a in self.serving(queue.name):
            states[a.state] = states.get(a.state, 0) + 1
            if a.state == "notReady":
                reasons[a.reason] = reasons.get(a.reason, 0) + 1
        waiting = self.waiting(queue.name)
        return {
            "queue": queue.name, "strategy": queue.strategy,
            "waiting": [{"call": e.call.id, "ani": e.call.ani, "waitS": round(now - e.since, 3),
                         "firstWaitS": round(now - e.first_since, 3),
                         "position": i + 1, "priority": e.priority,
                         "agents": [a.id for a in e.ringing]}
                        for i, e in enumerate(waiting)],
            "longestWaitS": round(max((now - e.since for e in waiting), default=0.0), 3),
            "agents": states, "notReadyReasons": reasons, "offered": queue.offered,
            "answered": queue.answered, "abandoned": queue.abandoned, "exits": dict(queue.exits),
            "serviceLevel": service_level(queue.answered_in_sl, queue.answered,
                                          queue.abandoned - queue.abandoned_in_sl,
                                          sum(queue.exits.get(r, 0) for r in EXITS)),
            "asaS": queue.wait_total / queue.answered if queue.answered else None,
            "ahtS": queue.handle_total / queue.handled if queue.handled else None,
            "handled": queue.handled}
