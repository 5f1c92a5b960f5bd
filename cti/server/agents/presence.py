# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_presence -*-
"""Whether an agent's desktop is there: a dead desk takes no calls, a
desktop that returns (or a server that restarts) gives the agent back.

An agent's state lives in the ACD and outlives the agent's protocol
sessions: quitting a desktop leaves the agent as it was (docs/protocol.md,
section 4).  But a desktop that died, or a network that broke, leaves an
agent *ready* at a desk nobody sits at, and callers ring there in turn.
So this module watches the sessions of every agent (the hub's login and
close hooks):

- the agent's last session closes (a quit, a crash, or the hub dropping it
  after three missed heartbeats): after `client_lost_s` with none back,
  the agent is made not ready with reason "client lost", out of
  distribution (pending, if it is on a call: it goes not ready after it);
- a session of the agent logs in again: within the grace nothing has
  changed; after it, the agent gets back the state it had ("ready", or
  not ready with its own reason), unless someone changed it meanwhile;
- a reload removes the agent (logged out): its grace ends, and nothing
  is kept for it (`forget`).

And across a restart (`restore` on): the agents logged in, their
stations and states, are kept in `var/agents-present.json`, rewritten
(atomically) within a second of any change, every minute anyway (its
time says when the server was last up), and once more as the server
stops, before the drain logs everyone out.  If the next start comes
within `restore_within_s` of that time, an agent listed there whose
client logs in within `restore_within_s` of the start is logged in again
at its station, in its state: ready and not ready come back as they were;
an agent who was on a call or in its wrap-up (the call is gone) comes
back in after-call work, and goes ready when it says so.  A restart the
next morning restores nobody.
"""
import json
import os
from pathlib import Path

from twisted.internet import task
from twisted.logger import Logger

from cti.server.errors import ACDError

log = Logger()

#: The file of the agents logged in, in the server's var_dir.
PRESENT_FILE = "agents-present.json"
#: The reason an agent whose desktop is gone is not ready for.
CLIENT_LOST = "client lost"
#: How often the list of agents logged in is compared and, if changed, saved;
#: and how often it is written anyway (its time: when the server was last up).
SAVE_EVERY_S = 1.0
REFRESH_S = 60.0
#: States an agent comes back in after a restart: the calls are gone.
RESTORED_STATE = {"ready": "ready", "notReady": "notReady", "reserved": "ready",
                  "busy": "workingAfterCall", "workingAfterCall": "workingAfterCall"}


class Presence:
    """The agents' desktops, as the hub's sessions show them."""

    def __init__(self, clock, acd, var_dir, client_lost_s, restore=True,
                 restore_within_s=3600):
        self.clock = clock
        self.acd = acd
        self.path = Path(var_dir) / PRESENT_FILE
        self.client_lost_s = client_lost_s
        self.restore = restore
        self.restore_within_s = restore_within_s
        self.sessions = {}          # agent id -> its logged-in agent sessions
        self.grace = {}             # agent id -> the DelayedCall of its grace
        self.lost = {}              # agent id -> (state, reason) it had, made not ready
        self.expected = {}          # agent id -> (station, state, reason) from the last run
        self._saved = None          # what the file says now, and when it was written
        self._saved_at = float("-inf")
        self._forget = None         # the DelayedCall that forgets the last run's agents
        self.last_run_at = None     # when the last run was last known up (its file's time)
        self._failing = False       # the last save failed (said once)
        self._saver = task.LoopingCall(self.save)
        self._saver.clock = clock

    # -- starting and stopping -----------------------------------------------------
    def start(self):
        """Read who was logged in at the last stop (or crash), and when the
        last run was last up (`last_run_at`); save from now on."""
        expected = self._load()
        if self.restore:
            self.expected = expected
            if self.expected:
                self._forget = self.clock.callLater(self.restore_within_s, self._too_late)
        if not self._saver.running:
            self._saver.start(SAVE_EVERY_S, now=False)

    def stop(self):
        """Save once more (the drain logs everyone out next) and stop saving."""
        if self._saver.running:
            self._saver.stop()
            self.save(force=True)
        for call in (*self.grace.values(), self._forget):
            if call is not None and call.active():
                call.cancel()
        self.grace.clear()

    def _load(self):
        """The agents of the file, if it was written within restore_within_s."""
        try:
            data = json.loads(self.path.read_text())
            at, agents = float(data["at"]), dict(data["agents"])
            expected = {a: (v["station"], v["state"], v.get("reason", ""))
                        for a, v in agents.items() if a in self.acd.agents}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            log.warn("{path}: unreadable ({error}): no agent is restored", path=self.path,
                     error=e)
            return {}
        self.last_run_at = at
        gone_s = self.clock.seconds() - at
        if gone_s > self.restore_within_s:
            log.info("{path}: written {s:.0f} s ago, more than restore_within_s: no agent is "
                     "restored", path=self.path, s=gone_s)
            return {}
        if self.restore:
            log.info("{n} agents were logged in {s:.0f} s ago, at the last stop: each comes "
                     "back as its client logs in", n=len(expected), s=gone_s)
        return expected

    def _too_late(self):
        self._forget = None
        if self.expected:
            log.info("{n} agents of the last run did not come back within {s} s: forgotten",
                     n=len(self.expected), s=self.restore_within_s)
        self.expected.clear()

    def present(self):
        """The agents logged in, and those of the last run still expected:
        id -> station, state, reason."""
        agents = {a: {"station": s, "state": st, "reason": r}
                  for a, (s, st, r) in self.expected.items()}
        agents.update({a.id: {"station": a.station, "state": a.state, "reason": a.reason or ""}
                       for a in self.acd.agents.values() if a.state != "loggedOff"})
        return agents

    def save(self, force=False):
        """Write the agents present if that changed since the last write, or
        REFRESH_S passed (the file's time says when the server was last
        known up); a failure is logged, not raised."""
        agents, now = self.present(), self.clock.seconds()
        if agents == self._saved and now - self._saved_at < REFRESH_S and not force:
            return
        text = json.dumps({"at": now, "agents": agents}, sort_keys=True)
        temporary = self.path.with_suffix(".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(text)
            os.replace(temporary, self.path)
        except OSError as e:
            if not self._failing:               # once, not every second while it lasts
                log.warn("{path}: cannot save the agents logged in: {error}", path=self.path,
                         error=e)
            self._failing = True
            return
        if self._failing:
            log.info("{path}: the agents logged in are saved again", path=self.path)
        self._saved, self._saved_at, self._failing = agents, now, False

    # -- the hub's hooks -----------------------------------------------------------
    def session_login(self, session):
        if session.role != "agent" or session.user.name not in self.acd.agents:
            return
        agent_id = session.user.name
        self.sessions.setdefault(agent_id, set()).add(session)
        grace = self.grace.pop(agent_id, None)
        if grace is not None and grace.active():
            grace.cancel()
            log.info("agent {agent}: its client is back within the grace", agent=agent_id)
        if agent_id in self.lost:
            self._give_back(agent_id, *self.lost.pop(agent_id))
        elif agent_id in self.expected:
            self._restore(agent_id, *self.expected.pop(agent_id))

    def session_closed(self, session):
        if session.role != "agent":
            return
        agent_id = session.user.name
        live = self.sessions.get(agent_id, set())
        live.discard(session)
        if live:
            return
        self.sessions.pop(agent_id, None)
        agent = self.acd.agents.get(agent_id)
        if agent is None or agent.state == "loggedOff" or agent_id in self.grace:
            return
        self.grace[agent_id] = self.clock.callLater(self.client_lost_s, self._client_lost,
                                                    agent_id)

    # -- what happens ---------------------------------------------------------------
    def forget(self, agent_ids):
        """Agents a reload removed: their grace ends, and nothing is kept
        for them (a state to give back, a login to restore)."""
        for agent_id in agent_ids:
            grace = self.grace.pop(agent_id, None)
            if grace is not None and grace.active():
                grace.cancel()
            self.lost.pop(agent_id, None)
            self.expected.pop(agent_id, None)
            self.sessions.pop(agent_id, None)

    def _client_lost(self, agent_id):
        self.grace.pop(agent_id, None)
        agent = self.acd.agents.get(agent_id)
        if agent is None or agent.state == "loggedOff":
            return
        if agent.state == "notReady" or agent.pending is not None:
            # out of distribution already, or after its call (a log-out asked
            # for, a break): what the agent asked for stands
            log.warn("agent {agent}: no client for {s} s (it stays {state}{after})",
                     agent=agent_id, s=self.client_lost_s, state=agent.state,
                     after=f", then {agent.pending[0]}" if agent.pending else "")
            return
        if agent.state == "workingAfterCall" and agent.wrap_mode == "agent":
            was = ("workingAfterCall", "")         # its own after-call work, open-ended
        else:
            was = ("ready", "")                    # ready, or will be after the call
        self.lost[agent_id] = was
        result = self.acd.set_not_ready(agent_id, CLIENT_LOST, force=True)
        log.warn("agent {agent}: no client for {s} s: not ready ({reason}){after}",
                 agent=agent_id, s=self.client_lost_s, reason=CLIENT_LOST,
                 after=" after its call" if result == "pending" else "")

    def _give_back(self, agent_id, state, reason):
        """The client is back: the state the agent had, unless someone
        (a supervisor) changed it meanwhile."""
        agent = self.acd.agents[agent_id]
        ours = agent.reason == CLIENT_LOST and agent.state == "notReady" or \
            agent.pending == ("notReady", CLIENT_LOST)
        if not ours:
            return
        log.info("agent {agent}: its client is back: {state}", agent=agent_id, state=state)
        self._set(agent_id, state, reason)

    def _restore(self, agent_id, station, state, reason):
        """An agent logged in at the last stop: at its station, in its state."""
        agent = self.acd.agents[agent_id]
        if agent.state != "loggedOff":
            return
        try:
            self.acd.login(agent_id, station)
        except ACDError as e:
            log.warn("agent {agent}: not restored at {station}: {error}", agent=agent_id,
                     station=station, error=e)
            return
        log.info("agent {agent}: restored at {station} as it was at the last stop ({state})",
                 agent=agent_id, station=station, state=state)
        self._set(agent_id, RESTORED_STATE.get(state, "notReady"), reason)

    def _set(self, agent_id, state, reason):
        try:
            if state == "ready":
                self.acd.set_ready(agent_id, force=True)
            elif state == "workingAfterCall":
                self.acd.set_after_call_work(agent_id)
            else:
                self.acd.set_not_ready(agent_id, reason, force=True)
        except ACDError as e:
            log.warn("agent {agent}: state {state} not given back: {error}", agent=agent_id,
                     state=state, error=e)
