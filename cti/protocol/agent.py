# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_agent_client -*-
"""The agent and supervisor services as methods, for desktops and scripts.

Every service an agent desktop or a supervisor console calls is declared
once, in `SERVICES`: its name, the role it is meant for, its required
fields, its optional ones, and the fields of which exactly one must be
given (a blind transfer goes to an agent, a queue or a flow).  From that
table `AgentServices` gets one method per service, named in snake case::

    SetAgentState           set_agent_state(state, *, reason=None, station=None)
    SingleStepTransferCall  single_step_transfer_call(call, *, agent=None,
                                                      queue=None, flow=None)

A method checks its arguments against the table (a missing field or two
destinations raise TypeError at once, nothing is sent), leaves out the
optional fields that are None, and hands the request to the class's
`call(service, **params)`.  So the same methods serve both clients:

- `AgentClient`, a Twisted protocol: each method returns a Deferred of
  the result (the response's `result` object) or fails with `RemoteError`
  (its `code` and the server's message).  Events are subscribed by name::

      client = yield connect(reactor, "tcp:host=127.0.0.1:port=7500")
      yield client.login("1005", password, "agent")
      client.on("Delivered", lambda body: print("ringing:", body["callingDevice"]))
      yield client.monitor_start("device", "msiB1C5")
      yield client.set_agent_state("loggedOn", station="msiB1C5")
      result = yield client.consultation_call("c17", "1002")   # {"consultCall": "c18"}

- `BlockingAgentClient`, for scripts: each method returns the result or
  raises `RemoteError`; events queue up for `next_event()`::

      with BlockingAgentClient("127.0.0.1", 7500) as sup:
          sup.login("sup", password, "supervisor")
          sup.force_agent_state("notReady", team="support", reason="meeting")

Results, by service: `SetAgentState` the agent snapshot plus `result`
("done", or "pending": the change applies when the call ends);
`ConsultationCall` `consultCall`; `Supervise` `call`, `mode`;
`ForceAgentState` `agents` (how it went for each: `agent`, `result`,
`state`, not snapshots); `StartRecording` `file`; `Snapshot` and
`MonitorStart` as docs/protocol.md says.
"""
import inspect
import re
from dataclasses import dataclass

from twisted.logger import Logger

from cti.protocol import client
from cti.protocol.client import BlockingClient, ClientProtocol

log = Logger()


@dataclass(frozen=True)
class Request:
    """One service: its fields, and which of them the caller must give."""

    service: str
    role: str                           # "agent" (a supervisor may call most: protocol.md
    #                                     section 4, Roles) or "supervisor"
    doc: str
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    one_of: tuple[str, ...] = ()        # exactly one of these

    @property
    def method(self):
        """The method's name: SetAgentState -> set_agent_state, SendDTMF -> send_dtmf."""
        return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", self.service).lower()

    def signature(self):
        """The method's signature: required fields positional, the others
        keyword-only and None by default."""
        P = inspect.Parameter
        return inspect.Signature(
            [P("self", P.POSITIONAL_OR_KEYWORD)]
            + [P(_python_name(f), P.POSITIONAL_OR_KEYWORD) for f in self.required]
            + [P(_python_name(f), P.KEYWORD_ONLY, default=None)
               for f in self.one_of + self.optional])

    def params(self, *args, **kwargs):
        """The request's params from a method call's arguments; TypeError
        when they do not fit the service."""
        bound = self.signature().bind(None, *args, **kwargs)
        given = {name: bound.arguments.get(_python_name(name))
                 for name in self.required + self.one_of + self.optional}
        if self.one_of and sum(given[name] is not None for name in self.one_of) != 1:
            raise TypeError(f"{self.method}() takes exactly one of "
                            f"{', '.join(map(_python_name, self.one_of))}")
        return {name: value for name, value in given.items() if value is not None}


def _python_name(field):
    """consultCall -> consult_call: protocol fields are camelCase, arguments are not."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", field).lower()


SERVICES = (
    # -- any session: objects and monitors --------------------------------------------
    Request("Snapshot", "agent", "The current state of an object (agent, queue, call, "
            "device); id '*': a page of every one (after: where the last page ended; "
            "snapshot_all reads every page).", required=("object", "id"), optional=("after",)),
    Request("MonitorStart", "agent", "Events of an object from now on; the result "
            "carries its snapshot and the monitor id.", required=("object", "id")),
    Request("MonitorStop", "agent", "Stop a monitor.", required=("monitor",)),
    # -- the agent ---------------------------------------------------------------------
    Request("SetAgentState", "agent", "loggedOn, ready, notReady, workingAfterCall or "
            "loggedOff; the result is the agent, with result 'done' or 'pending' (applies "
            "after the call); lock: a password locking a break.",
            required=("state",), optional=("reason", "station", "lock")),
    Request("AnswerCall", "agent", "Answer the call offered (phone off-hook).",
            optional=("call",)),
    Request("ClearConnection", "agent", "Reject the call while it rings, hang up after "
            "(a supervisor: leave the call it took over).", optional=("call",)),
    Request("HoldCall", "agent", "Put the call on hold.", required=("call",)),
    Request("RetrieveCall", "agent", "Take the held call back.", required=("call",)),
    Request("SingleStepTransferCall", "agent", "Blind transfer to an agent, a queue, a "
            "flow (back to the IVR) or an outside number.", required=("call",),
            one_of=("agent", "queue", "flow", "number")),
    Request("ConsultationCall", "agent", "Hold the call and call another agent, a queue's "
            "agent or an outside number, or send the caller through a flow and back; the "
            "result names the consultation call.",
            required=("call",), one_of=("agent", "queue", "number", "flow")),
    Request("TransferCall", "agent", "Complete a consultative transfer: the caller and the "
            "consulted party are joined, the agent leaves.", required=("call", "consultCall")),
    Request("ConferenceCall", "agent", "Join the caller and the consulted party, staying "
            "on the call.", required=("call", "consultCall")),
    Request("ReconnectCall", "agent", "Drop the consultation and go back to the caller.",
            required=("call", "consultCall")),
    Request("SendDTMF", "agent", "Send keys down the call.", required=("call", "digits")),
    Request("SetCallData", "agent", "Add or replace attached data (the customer record).",
            required=("call", "data")),
    Request("SetPartyRole", "agent", "talk or listen for a party of a conference.",
            required=("call", "device", "role")),
    Request("MakeCall", "agent", "Call an outside number, or another agent, from the "
            "agent's phone (off-hook).", one_of=("number", "agent")),

    # -- the supervisor ----------------------------------------------------------------
    Request("Supervise", "supervisor", "Join an agent's call from the supervisor's station: "
            "monitor (silent), whisper (the agent hears) or barge (both hear); again to "
            "change the mode.", required=("agent", "mode"), optional=("station",)),
    Request("EndSupervision", "supervisor", "Leave the agent's call.", required=("agent",)),
    Request("Intercept", "supervisor", "Take the agent's caller over; the agent drops.",
            required=("agent",)),
    Request("ClearCall", "supervisor", "Release the whole call.", required=("call",)),
    Request("ForceAgentState", "supervisor", "ready, notReady or loggedOff for an agent or "
            "a whole team.", required=("state",), one_of=("agent", "team"),
            optional=("reason",)),
    Request("StartRecording", "supervisor", "Record the call; the result names the file "
            "(an agent may record its own call too).", required=("call",)),
    Request("StopRecording", "supervisor", "Stop recording the call.", required=("call",)),
    Request("MonitorNextCall", "supervisor", "Supervise the agent's next call as it is "
            "answered.", required=("agent", "mode", "station")),
    Request("SetQueueStrategy", "supervisor", "Change how a queue picks its agents.",
            required=("queue", "strategy")),
)


def _method(request):
    def method(self, *args, **kwargs):
        return self.call(request.service, **request.params(*args, **kwargs))

    method.__name__ = method.__qualname__ = request.method
    method.__signature__ = request.signature()
    method.__doc__ = f"{request.service} ({request.role}): {request.doc}"
    return method


class AgentServices:
    """One method per entry of SERVICES, each sending its request through
    `self.call(service, **params)`: what that returns, the method returns."""


for _request in SERVICES:
    setattr(AgentServices, _request.method, _method(_request))
del _request


class AgentClient(AgentServices, ClientProtocol):
    """The Twisted client with the agent and supervisor services, and
    events by name: `on("Delivered", handler)` calls handler(body) for each
    Delivered event; `on("*", handler)` for every event.  A handler that
    raises is logged and the others still run."""

    def __init__(self, clock=None):
        super().__init__(clock)
        self._handlers = {}
        self.on_event(self._dispatch)

    def on(self, name, handler):
        """Call handler(body) for each event `name`; returns a function
        that unsubscribes it."""
        self._handlers.setdefault(name, []).append(handler)
        return lambda: self._handlers[name].remove(handler)

    def _dispatch(self, name, body, invoke_id):
        for handler in self._handlers.get(name, []) + self._handlers.get("*", []):
            try:
                handler(body)
            except Exception:
                log.failure("handler of event {name} failed", name=name)


def connect(reactor, description, clock=None):
    """Deferred of a connected AgentClient (description: a client endpoint
    string such as "tcp:host=127.0.0.1:port=7500")."""
    return client.connect(reactor, description, clock, protocol_class=AgentClient)


class BlockingAgentClient(AgentServices, BlockingClient):
    """The blocking client with the same methods: each returns the result
    or raises RemoteError."""
