# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_scope -*-
"""What each session may see: least privilege for snapshots, monitors and
the events of ``*`` monitors.

A caller's number and attached data (account numbers, the reason for the
call) are for the people serving that call, not for every login.  The hub
asks `Scope.hidden(session, kind, id)` before a `Snapshot` or a
`MonitorStart`, and for every event it would deliver through a ``*``
monitor; None means visible, else the reason, which the client gets
(``forbidden``)::

    role         agents          queues          calls                       devices
    agent        itself (or its  those it        those it is on, and those   its own station,
                 team, or all:   serves          waiting in queues it        the monitored
                 [visibility])                   serves (or all)             lines of it
    supervisor   its teams'      those its       its agents' calls, and      stations but other
    with teams   agents          agents serve    those waiting in its queues teams' agents'
    supervisor,  everything
    admin
    flow         every agent     every queue     the calls that came through    every device
                                                 a flow (not a call routed
                                                 straight to a queue, nor an
                                                 agent's own)

A supervisor's teams are its [[users]] ``teams``; without them it sees
everything.  A session whose user a reload removed, or took the role
away from, sees nothing until it ends (cti.protocol.server.Hub.set_users
ends it).  An object that does not exist is not hidden: the hub answers
``no_such_object`` for it as for anyone.  Who is on a call is read from
its parties (its phones, the agents the call layer has on it, the agent
who made a call still being placed), so a check costs what a call has,
not what the centre has; a call ending is seen as it was in the phase it ended from, so those
who followed it see it end.

What this does not show is what a silent monitor would give away: the
supervisor's phone is never a connection of the monitored call (only an
intercept makes it one), and an agent cannot look at any other device.
"""

from cti.server.errors import Forbidden
from cti.server.lines.channels import Station

#: What an agent may see of other agents, and of calls.
AGENT_AGENTS = ("own", "team", "all")
AGENT_CALLS = ("queues", "all")
WAITING = ("queued", "ringing")


class Scope:
    """Visibility over one call centre: its call layer and its ACD."""

    def __init__(self, layer, acd, agent_agents="own", agent_calls="queues", monitored=None):
        self.layer = layer               # ICallLayer
        self.acd = acd
        self.monitored = monitored       # cti.server.monitored.lines.MonitoredLines
        self.agent_agents = agent_agents
        self.agent_calls = agent_calls
        self.views = {}                  # supervisor -> (its teams, their agents, their queues)
        self.users = {}                  # name -> its [[users]] entry
        self.reconfigure(self.layer.config.users)

    def reconfigure(self, users):
        """What a team is, and whose teams a supervisor has: the ACD's agents
        and `users` (the configuration's), at the start and after a reload.
        A supervisor's view: (its teams, their agents' ids, the queues they
        serve)."""
        team_agents, team_queues = {}, {}
        for agent in self.acd.agents.values():
            if agent.config.team is not None:
                team_agents.setdefault(agent.config.team, set()).add(agent.id)
                team_queues.setdefault(agent.config.team, set()).update(
                    agent.serves, agent.config.queues)
        self.users = {user.name: user for user in users}
        self.views = {
            user.name: (frozenset(user.teams),
                        frozenset().union(*(team_agents.get(t, ()) for t in user.teams)),
                        frozenset().union(*(team_queues.get(t, ()) for t in user.teams)))
            for user in users if user.teams}

    def check(self, actor, kind, object_id):
        """A supervisor acts only on what it may see (its teams': [[users]]
        teams); Forbidden otherwise."""
        why = self.hidden(actor.session, kind, object_id)
        if why is not None:
            raise Forbidden(why, object=kind, id=object_id)

    def hidden(self, session, kind, object_id):
        """None if the session may see the object, else why not."""
        role = session.role
        if role == "admin" or object_id == "*":
            return None                     # "*" is the hub's to refuse or filter
        if role == "flow":
            return self._flow(kind, object_id)
        name = session.user.name
        if role == "supervisor":
            if not self._configured(name, "supervisor"):
                return f"user {name} is no longer a supervisor of the configuration"
            view = self.views.get(name)
            return None if view is None else self._supervisor(session, view, kind, object_id)
        agent = self.acd.agents.get(name)
        if agent is not None:
            return self._agent(agent, kind, object_id)
        if not self._configured(name, "agent"):
            return f"user {name} is no longer an agent of the configuration"
        # a [[users]] login with the agent role
        return None if kind not in ("call", "device") else \
            f"user {name} is not an agent: it sees no calls or devices"

    def _configured(self, name, role):
        """Whether [[users]] has `name` with `role` (a reload may have
        taken either away from a session still open: it sees nothing)."""
        user = self.users.get(name)
        return user is not None and role in user.roles

    # -- calls -------------------------------------------------------------------
    def _phase(self, call):
        """The call's phase; for a call ending, the phase it ended from (its
        last events are seen by those who saw it then)."""
        if call.state != "ended" or not call.phase.history:
            return call.state
        return call.phase.history[-1].source

    def _agents_on(self, call_id):
        """The ids of the agents on a call: at its phones (its connections),
        the agent who has it, conference members, the agent called on an
        internal call; and while it is being placed or is a consultation
        (no call of the call layer yet), the agent who made it, to its end."""
        model_call = self.layer.model.calls[call_id]
        on = set()
        for device in model_call.connections:
            agent = self.acd.agent_at(device)
            if agent is not None:
                on.add(agent.id)
        call = self.layer.calls.get(call_id)
        if call is not None:
            on.update(a.id for a in (call.agent, call.called_agent, *(m[0] for m in call.members))
                      if a is not None)
        elif model_call.made_by is not None:
            on.add(model_call.made_by)
        return on

    def _waiting_in(self, call_id):
        """The queue a call waits in (queued or ringing), or None."""
        call = self.layer.calls.get(call_id)
        return call.queue if call is not None and self._phase(call) in WAITING else None

    # -- agents ----------------------------------------------------------------
    def _agent(self, agent, kind, object_id):
        if kind == "agent":
            other = self.acd.agents.get(object_id)
            if other is None or other is agent or self.agent_agents == "all" or (
                    self.agent_agents == "team" and agent.config.team is not None
                    and other.config.team == agent.config.team):
                return None
            return f"agent {agent.id} sees its own state only, not agent {object_id}'s"
        if kind == "queue":
            if object_id not in self.acd.queues or object_id in agent.serves:
                return None
            return f"agent {agent.id} does not serve queue {object_id}"
        if kind == "call":
            if object_id not in self.layer.model.calls or self.agent_calls == "all" \
                    or agent.id in self._agents_on(object_id) \
                    or self._waiting_in(object_id) in agent.serves:
                return None
            return (f"call {object_id} is neither agent {agent.id}'s nor waiting in a queue "
                    "it serves")
        if object_id == agent.station or not self._device_exists(object_id):
            return None
        line, station = self._monitored(object_id)
        if line and station is not None and station in (agent.station, agent.config.station):
            return None                     # the line of its phone: its caller ID
        if agent.station is None and object_id == agent.config.station \
                and self.acd.agent_at(object_id) is None:
            return None                     # its own phone, before it logs on there
        return (f"agent {agent.id} may look at its own station "
                f"({agent.station or agent.config.station}) only")

    # -- supervisors with teams -------------------------------------------------
    def _supervisor(self, session, view, kind, object_id):
        teams, agents, queues = view
        shown = ", ".join(sorted(teams))
        if kind == "agent":
            other = self.acd.agents.get(object_id)
            if other is None or other.config.team in teams:
                return None
            return f"agent {object_id} is not in your teams ({shown})"
        if kind == "queue":
            if object_id not in self.acd.queues or object_id in queues:
                return None
            return f"no agent of your teams ({shown}) serves queue {object_id}"
        if kind == "call":
            model = self.layer.model
            if object_id not in model.calls:
                return None
            call = self.layer.calls.get(object_id)
            if self._agents_on(object_id) & agents or self._waiting_in(object_id) in queues \
                    or call is not None and call.intercepted_by == session.user.name \
                    or call is None and model.calls[object_id].made_by == session.user.name:
                return None                 # its own consultation, on a call it took over
            return f"call {object_id} is not one of your teams' ({shown})"
        if not self._device_exists(object_id):
            return None
        line, station = self._monitored(object_id)
        if line:                            # as its station is, or everyone's
            return None if station is None else self._supervisor(session, view, kind, station)
        other = self.acd.agent_at(object_id)
        if other is not None and other.config.team not in teams:
            return f"{object_id} is the station of agent {other.id}, not of your teams ({shown})"
        if isinstance(self.layer.channels.by_name.get(object_id), Station):
            return None
        return f"your view is your teams' ({shown}): their stations, not {object_id}"

    def event_hidden(self, session, body):
        """An event of a device or a queue a session sees, about a call it
        may not see: a flow server watching a station or a queue does not
        get the calls that never came through a flow.  (An agent's devices
        and queues, and a team supervisor's, carry only calls they see.)"""
        return session.role == "flow" and "call" in body and \
            self._flow("call", body["call"]) is not None

    # -- flow servers -------------------------------------------------------------
    def _flow(self, kind, object_id):
        """A flow server (the IVR) sees every agent, queue and device, and
        the calls that came through a flow: not a call routed straight to a
        queue, nor an agent's own call."""
        if kind != "call":
            return None
        call = self.layer.calls.get(object_id)
        if object_id not in self.layer.model.calls or call is not None and call.flow is not None:
            return None
        return f"call {object_id} has not been through a flow"

    def _monitored(self, name):
        """(whether `name` is a monitored line, its station or None)."""
        return self.monitored.station_of(name) if self.monitored else (False, None)

    def _device_exists(self, name):
        return name in self.layer.channels.by_name or name.startswith(("routepoint:",
                                                                       "queue:")) \
            or self._monitored(name)[0]
