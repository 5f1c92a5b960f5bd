# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_acd -*-
"""Agents' states: log in and out, ready and not, after-call work, and
what every change publishes and records.

Each agent moves by the declared AGENT table (cti.server.queueing.state);
every change is published to its monitors (with its reason, the previous
state, the transition) and recorded (AgentStateChange; the queue log's
PAUSE, UNPAUSE, AGENTLOGIN, AGENTLOGOFF).  A not-ready or log-out asked
during a call is *pending*: it applies when the call and its wrap-up are
over.  A break may be locked with a password, which only it (or a
supervisor's force) ends.
"""
import hmac
import math
import os

from twisted.logger import Logger

from cti.server.errors import ACDError
from cti.server.queueing.state import AGENT_EVENTS

log = Logger()


class AgentStates:
    """The agents' side of the ACD (its part `states`)."""

    def __init__(self, acd):
        self.acd = acd

    def login(self, agent_id, station):
        agent = self.acd.agent(agent_id)
        if agent.state != "loggedOff":
            raise ACDError("invalid_state", f"agent {agent_id} is logged in already at "
                           f"{agent.station}")
        other = self.acd.agent_at(station)
        if other is not None:
            raise ACDError("resource_busy", f"station {station} is in use by agent {other.id}")
        self.check_station(station)
        agent.station = station
        self.acd.at_station[station] = agent
        agent.login_at = agent.idle_since = self.acd.clock.seconds()
        agent.calls = agent.calls_out = agent.calls_direct = agent.no_answers = 0
        agent.talk_s = 0.0
        agent.durations = {}
        agent.state_started = agent.login_at
        agent.pending = None
        agent.reason = "login"
        self.acd.owner.record_queue("NONE", "NONE", agent.id, "AGENTLOGIN", station)
        self.acd.owner.record_login(agent.id, station, agent.login_at)
        self.fire(agent, "login")

    def logout(self, agent_id, reason="agent", lock=None, force=False):
        """Log out now, or after the call (returns "pending") when on one."""
        agent = self.acd.agent(agent_id)
        if agent.state == "loggedOff":
            raise ACDError("invalid_state", f"agent {agent_id} is not logged in")
        self.unlock(agent, lock, force)
        if agent.state == "busy":
            return self.pend(agent, "loggedOff", reason)
        entry = None
        if agent.state == "reserved":            # ringing: the caller goes to the next agent
            entry = self.acd.offers.release_offer(agent)
        self.logout_now(agent, reason)
        if entry is not None:
            self.acd.offers.ring_over(entry)
        return "done"

    def logout_now(self, agent, reason):
        self.cancel_wrap(agent)
        station, login_at = agent.station, agent.login_at
        agent.reason = reason
        agent.pending = None
        self.fire(agent, "logout")
        self.acd.owner.record_queue("NONE", "NONE", agent.id, "AGENTLOGOFF", station,
                                    round(self.acd.clock.seconds() - login_at))
        self.acd.owner.record_session(agent.id, station, login_at, reason)
        del self.acd.at_station[station]
        agent.station = None
        self.acd.callers.check_leave_empty(agent)

    def set_ready(self, agent_id, lock=None, force=False):
        agent = self.acd.agent(agent_id)
        if agent.state == "ready":
            return "done"
        self.check_station(agent.station)
        self.unlock(agent, lock, force)
        if agent.state in ("reserved", "busy"):
            if agent.pending is not None:        # "ready after this call": the pending is off
                agent.pending = None
                self.publish_state(agent, "AgentPendingState")
            return "done"
        if agent.state not in ("notReady", "workingAfterCall"):
            raise ACDError("invalid_state", f"agent {agent_id} is {agent.state}")
        if agent.state == "workingAfterCall" and agent.wrap_mode == "forced" \
                and agent.wrap_timer is not None:
            left = agent.wrap_ends - self.acd.clock.seconds()
            raise ACDError("invalid_state", f"agent {agent_id}: wrap-up is forced for "
                           f"{math.ceil(left)} s more")
        was_paused, paused_for = agent.state == "notReady", agent.reason
        self.cancel_wrap(agent)
        agent.pending = None
        self.go_ready(agent, "agent")
        if was_paused:
            self.acd.owner.record_queue("NONE", "NONE", agent.id, "UNPAUSE", paused_for)
        return "done"

    def check_station(self, station):
        """A phone out of service (its board removed) takes no calls: no
        agent logs in or goes ready there, not even by a supervisor's force."""
        why = self.acd.owner.station_out_of_service(station)
        if why is not None:
            raise ACDError("invalid_state", f"station {station} is out of service: {why} "
                           "(log in at another phone)")

    def set_not_ready(self, agent_id, reason="", lock=None, force=False):
        """Not ready now, or after the call (returns "pending") when on one.
        `lock`: a password the agent must give again to end the break."""
        agent = self.acd.agent(agent_id)
        self.unlock(agent, lock, force or agent.state != "notReady")   # a new reason
        if lock:
            salt = os.urandom(16)
            agent.lock = (salt, hmac.new(salt, lock.encode(), "sha256").digest())
        if agent.state in ("reserved", "busy"):
            return self.pend(agent, "notReady", reason)
        if agent.state not in ("ready", "notReady", "workingAfterCall"):
            raise ACDError("invalid_state", f"agent {agent_id} is {agent.state}")
        if agent.state == "workingAfterCall" and agent.wrap_mode == "forced" \
                and agent.wrap_timer is not None:
            return self.pend(agent, "notReady", reason)
        self.cancel_wrap(agent)
        self.not_ready(agent, reason)
        return "done"

    def not_ready(self, agent, reason, event="not_ready", **detail):
        agent.reason = reason
        agent.pending = None
        self.fire(agent, event, **detail)
        self.acd.owner.record_queue("NONE", "NONE", agent.id, "PAUSE", reason)
        self.acd.callers.check_leave_empty(agent)

    def pend(self, agent, state, reason):
        agent.pending = (state, reason)
        self.publish_state(agent, "AgentPendingState")
        return "pending"

    def go_ready(self, agent, reason):
        agent.reason = ""
        agent.idle_since = self.acd.clock.seconds()
        self.fire(agent, "ready", why=reason)
        self.acd.offers.serve_agent(agent)

    def set_after_call_work(self, agent_id):
        """After-call work asked for (CSTA workingAfterCall): no calls, no
        timer, until the agent goes ready or not ready; during a call or its
        wrap-up it is the wrap-up going on until then."""
        agent = self.acd.agent(agent_id)
        if agent.state == "workingAfterCall":
            self.cancel_wrap(agent)                 # the wrap-up lasts until asked
            agent.wrap_mode = "agent"
            return "done"
        if agent.state in ("reserved", "busy"):
            return self.pend(agent, "workingAfterCall", "")
        if agent.state not in ("ready", "notReady"):
            raise ACDError("invalid_state", f"agent {agent_id} is {agent.state}")
        self.unlock(agent, None, False)
        agent.reason = ""
        agent.wrap_mode, agent.wrap_queue = "agent", None
        self.fire(agent, "after_call_work")
        return "done"

    def unlock(self, agent, lock, force):
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

    def cancel_wrap(self, agent):
        if agent.wrap_timer is not None and agent.wrap_timer.active():
            agent.wrap_timer.cancel()
        agent.wrap_timer = None
        agent.wrap_ends = None

    def fire(self, agent, event, **detail):
        agent.why = detail.pop("why", None)
        try:
            agent.machine.fire(event, **detail)
        finally:
            agent.why = None

    def changed(self, agent):
        def changed(machine, transition):
            source, target = transition.source, transition.target
            now = self.acd.clock.seconds()
            agent.durations[source] = agent.durations.get(source, 0.0) + now \
                - agent.state_started
            agent.state_started = now
            if source == "workingAfterCall" and target != source:
                agent.last_call = None
                self.count_handled(agent)
            if target == "ready":
                if not self.acd.router.is_ready(agent):
                    self.acd.router.agent_ready(agent)
            else:
                self.acd.router.agent_unready(agent)
            body = self.describe(agent)
            body["previous"] = source
            body["previousReason"], agent.state_reason = agent.state_reason, agent.reason
            body["transition"] = transition.event
            if agent.why:
                body["why"] = agent.why
            if transition.event == "login":     # then the state it logged in to
                self.acd.publish("agent", agent.id, "AgentLoggedOn", body, cause=self.acd.cause)
            self.acd.publish("agent", agent.id, AGENT_EVENTS[target], body, cause=self.acd.cause)
            self.acd.owner.record_state(agent.id, target, agent.reason or agent.why or None,
                                        source, agent.call.id if agent.call is not None else None)
        return changed

    def publish_state(self, agent, event):
        self.acd.publish("agent", agent.id, event, self.describe(agent), cause=self.acd.cause)

    def describe(self, agent):
        now = self.acd.clock.seconds()
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

    def count_handled(self, agent):
        """Leaving after-call work: the handle time (talk + wrap-up) is counted."""
        queue = agent.wrap_queue
        if queue is None:
            return
        handle = agent.wrap_talk + self.acd.clock.seconds() - agent.wrap_started
        queue.handled += 1
        queue.handle_total += handle
        queue.recent_handles.append(handle)
        agent.wrap_queue = None
