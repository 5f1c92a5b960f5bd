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

The ACD is one object to the call layer, made of parts by concern, each
a module: `agent_states` (log in, ready, not ready, what every change
publishes), `offers` (pairing and ringing), `agent_calls` (wrap-up, direct
calls, calls out), `callers` (entering and leaving queues, the queues'
figures), `configuration` (the queues and agents configured, at the start
and again at a reload: `plan`, `swap`, `serve`); `state` holds the tables
and the state they work on.

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
import random

from twisted.internet import task
from twisted.logger import Logger

from cti.server.errors import ACDError
from cti.server.queueing.agent_calls import AgentCalls
from cti.server.queueing.agent_states import AgentStates
from cti.server.queueing.callers import Callers
from cti.server.queueing.configuration import Configuration
from cti.server.queueing.offers import Offers
from cti.server.queueing.state import Settings

log = Logger()


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



class ACD:
    def __init__(self, clock, queues, agents, owner, publish=None, seed=None,
                 settings=None):
        self.clock = clock
        self.cause = None                     # the request being served (see _serving)
        self.states = AgentStates(self)       # its parts, by concern (each module's docstring)
        self.offers = Offers(self)
        self.agent_calls = AgentCalls(self)
        self.callers = Callers(self)
        self.settings = settings or Settings()
        self.random = random.Random(seed)
        self.owner = owner
        self.publish = publish or (lambda *a, **k: None)
        self.at_station = {}                  # station -> the agent logged in there
        self.entries = {}                     # call id -> its Entry while queued or ringing
        # What the configuration gives (cti.server.queueing.configuration):
        self.queues, self.agents = {}, {}     # name -> QueueState, id -> AgentState
        self.leave_empty = []                 # the queues with leave_empty conditions
        self.rules = {}                       # queue -> its skill rules
        self.by_skill = {}                    # skill -> agents who have it
        self.members = {}                     # queue -> agents who list it
        self.router = None                    # the index of free agents and waiting callers
        self.configuration = Configuration(self)
        self.configuration.swap(self.configuration.plan(queues, agents))
        self._sweeper = task.LoopingCall(self.sweep)
        self._sweeper.clock = clock

    def start(self):
        """Sweep and reconcile every `sweep_s` from now on."""
        if not self._sweeper.running:
            self._sweeper.start(self.settings.sweep_s, now=False)

    def stop(self):
        if self._sweeper.running:
            self._sweeper.stop()

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

    # -- agents' requests (cti.server.queueing.agent_states) ----------------------
    @_serving
    def login(self, agent_id, station):
        return self.states.login(agent_id, station)

    @_serving
    def logout(self, agent_id, reason="agent", lock=None, force=False):
        """Log out now, or after the call (returns "pending") when on one."""
        return self.states.logout(agent_id, reason, lock, force)

    @_serving
    def set_ready(self, agent_id, lock=None, force=False):
        return self.states.set_ready(agent_id, lock, force)

    @_serving
    def set_not_ready(self, agent_id, reason="", lock=None, force=False):
        """Not ready now, or after the call (returns "pending") when on one."""
        return self.states.set_not_ready(agent_id, reason, lock, force)

    @_serving
    def set_after_call_work(self, agent_id):
        return self.states.set_after_call_work(agent_id)

    def describe(self, agent):
        return self.states.describe(agent)

    # -- callers (cti.server.queueing.callers) ------------------------------------------
    @_serving
    def enqueue(self, call, queue_name, priority=None, first_since=None, callback=False):
        """The caller waits in the queue; returns its Entry (ACDError
        queue_full or queue_empty when it may not)."""
        return self.callers.enqueue(call, queue_name, priority, first_since, callback)

    def keep_for_callback(self, call):
        self.callers.keep_for_callback(call)

    def abandon(self, call):
        self.callers.abandon(call)

    def cleared(self, call, why):
        self.callers.cleared(call, why)

    def exit_key(self, call, key):
        return self.callers.exit_key(call, key)

    def estimated_wait(self, entry):
        return self.callers.estimated_wait(entry)

    @_serving
    def set_strategy(self, queue_name, strategy):
        self.callers.set_strategy(queue_name, strategy)

    def describe_queue(self, queue):
        return self.callers.describe_queue(queue)

    # -- offers (cti.server.queueing.offers) --------------------------------------------
    def ring_s(self, agent, queue_name=None):
        return self.offers.ring_s(agent, queue_name)

    @_serving
    def no_answer(self, agent, pause=None):
        self.offers.no_answer(agent, pause)

    @_serving
    def answered(self, agent_id):
        """The agent took the call: it leaves the queue.  Returns the entry."""
        return self.offers.answered(agent_id)

    # -- agents' calls (cti.server.queueing.agent_calls) --------------------------------
    @_serving
    def call_ended(self, agent_id, released_by):
        self.agent_calls.call_ended(agent_id, released_by)

    @_serving
    def offer_direct(self, agent_id, call):
        self.agent_calls.offer_direct(agent_id, call)

    @_serving
    def answered_direct(self, agent_id):
        self.agent_calls.answered_direct(agent_id)

    @_serving
    def withdraw_direct(self, agent_id, why, pause=None):
        self.agent_calls.withdraw_direct(agent_id, why, pause)

    @_serving
    def dial_out(self, agent_id, call):
        self.agent_calls.dial_out(agent_id, call)

    def take_call(self, agent_id, call, queue=None):
        self.agent_calls.take_call(agent_id, call, queue)

    # -- the sweep -----------------------------------------------------------------------
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
                    self.offers.release_offer(agent)
                    released.append(entry)
                agent.entry = agent.call = None
                self.states.fire(agent, "reconcile", why="reconciled")
                fixed.append((agent.id, "reserved"))
                freed.append(agent)
            elif agent.state == "busy" and (agent.call is None
                                            or not self.owner.call_alive(agent.call)):
                if entry is not None:
                    self.agent_calls.end_call(agent, entry, "reconciled", "reconcile")
                else:                              # nothing to time: straight to wrap-up over
                    agent.call = None
                    self.states.fire(agent, "reconcile", why="reconciled")
                fixed.append((agent.id, "busy"))
            elif agent.state == "workingAfterCall" and agent.wrap_timer is None \
                    and agent.wrap_mode != "agent":
                self.agent_calls.wrap_done(agent)
                fixed.append((agent.id, "workingAfterCall"))
            elif agent.state == "ready" and not self.router.is_ready(agent):
                self.router.agent_ready(agent)
                fixed.append((agent.id, "ready"))
        for entry in list(self.entries.values()):
            if not self.owner.call_alive(entry.call):
                self.callers.abandon(entry.call)
                fixed.append((entry.call.id, "gone"))
        for entry in released:                    # only now: gone calls are not offered
            self.offers.ring_over(entry)
        for agent in freed:
            self.offers.free(agent)
        if self.entries:                          # a pairing a lost event left undone
            for agent in list(self.agents.values()):
                self.offers.serve_agent(agent)
        for what in fixed:
            log.warn("ACD sweep: {what} reconciled", what=what)
        return fixed
