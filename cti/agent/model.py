# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_agent_desktop,tests.test_console_spans -*-
"""What a desktop knows, kept apart from how it is drawn.

A desktop starts from snapshots (the agent, its queues, every agent and
queue for a supervisor) and keeps them current from events.  The three
classes here hold that knowledge and nothing else: no Textual, no
Twisted, so the rules can be read (and tested) on their own.

- `Desk`, the agent's own: its snapshot, the call on screen (the screen
  pop: who calls, what the IVR collected, the consultation in progress),
  a `QueueBoard` of its queues, and who calls a monitored line of its
  phone (`outside`: a line a caller-ID box watches, not a call of ours).
- `QueueBoard`: queue snapshots and their waiting callers.  A caller's
  wait is turned into a local start time when it arrives (``clock() -
  waitS``), so waits keep counting between updates without trusting the
  server's clock.
- `Floor`, the supervisor's: every agent, every queue, the supervisions
  in progress, the calls being recorded and the T1 spans (`Spans`).  An
  agent or a queue it has no snapshot of joins with its first event (an
  agent event is the agent's whole snapshot; a queue starts with the
  callers its events name, its figures come with its next snapshot).
- `Spans`: the T1 spans and whether each carries calls.  A span is
  `in_service`, `down` (an alarm is up: its calls were cleared, its
  timeslots take none) or `recovering` (clear of alarms, not yet for
  long enough); its snapshot says since when, its events say only what
  it is now, so a change of state seen in an event starts at the
  desk's clock.

Every `apply(event)` returns whether something changed.  Agent snapshots
carry the server's `since`; the time in a state is ``clock() - since``,
which assumes the desk's clock is set (NTP), as a wall clock must be.
"""
import time
from dataclasses import dataclass, field

AGENT_EVENTS = frozenset({"AgentLoggedOn", "AgentReady", "AgentNotReady", "AgentReserved",
                          "AgentBusy", "AgentWorkingAfterCall", "AgentLoggedOff",
                          "AgentPendingState", "AgentChanged"})
#: The events of a span's device (docs/protocol.md, section 10, "Span events").
SPAN_EVENTS = frozenset({"SpanAlarm", "SpanAlarmCleared", "SpanInService"})
#: The events of a monitored line, which the station it is configured for
#: gets too (docs/protocol.md, section 10, "Monitored line events").
LINE_EVENTS = frozenset({"LineRinging", "LineCallerId", "LineOffHook", "LineIdle"})
#: Keys an agent event adds to the agent's snapshot.
_EVENT_ONLY = ("event", "monitor", "previous", "transition", "why")


def agent_of(body):
    """The agent snapshot inside an agent event."""
    return {k: v for k, v in body.items() if k not in _EVENT_ONLY}


def duration(seconds):
    """0:42, 12:05, 1:02:03: a duration as people read it."""
    if seconds is None:
        return ""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def time_of_day(seconds):
    """12:03:05: a time (seconds since the epoch) as the desk's wall clock
    reads it."""
    return time.strftime("%H:%M:%S", time.localtime(seconds))


@dataclass
class Call:
    """The call on the agent's screen: one that rings at the agent's
    phone, or one the agent makes (`outgoing`: `ani` is the agent, `dnis`
    the number or, `internal`, the agent called).  `direction` is the
    call's own: an agent's call out transferred to this agent is an
    "outbound" call that is not `outgoing`."""

    call: str
    ani: str = ""                       # "" when withheld
    dnis: str = ""
    queue: str | None = None
    wait_s: float | None = None
    state: str = "alerting"             # alerting or initiated, connected, hold, ended
    data: dict = field(default_factory=dict)
    consult: str | None = None          # the consultation call, while one is up
    reason: str = ""                    # why it ended
    outgoing: bool = False
    direction: str = "inbound"          # inbound, outbound or internal (between two agents)
    #: In a conference: each party's device -> "talk" or "listen".
    parties: dict = field(default_factory=dict)
    monitor: int | None = None          # the desktop's monitor of the call, in a conference
    #: Listening parties who pressed a key to speak: device -> the key.
    speak: dict = field(default_factory=dict)
    withheld: bool = False              # the caller withheld its number (ISDN)

    def set_role(self, device, role):
        self.parties[device] = role
        if role == "talk":
            self.speak.pop(device, None)

    @property
    def live(self):
        return self.state != "ended"

    @property
    def internal(self):
        return self.direction == "internal"


class QueueBoard:
    """Queue snapshots, with waiting callers counted in local time."""

    def __init__(self, clock):
        self.clock = clock
        self.queues = {}
        self._since = {}                # queue -> {call: local time it started waiting}
        self._first = {}                # queue -> {call: local time it first entered a queue}

    def set(self, snapshot):
        name = snapshot["queue"]
        self.queues[name] = snapshot
        now = self.clock()
        waiting = snapshot.get("waiting", [])
        self._since[name] = {e["call"]: now - e.get("waitS", 0.0) for e in waiting}
        self._first[name] = {e["call"]: now - e.get("firstWaitS", e.get("waitS", 0.0))
                             for e in waiting}

    def wait(self, queue, call):
        return self.clock() - self._since[queue][call]

    def longest(self, queue):
        waits = [self.wait(queue, e["call"]) for e in self.queues[queue]["waiting"]]
        return max(waits, default=None)

    def apply(self, body):
        name = body.get("event")
        if name == "QueueChanged":
            self.set({k: v for k, v in body.items() if k not in ("event", "monitor")})
            return True
        queue = _queue_of(body.get("device"))
        if queue not in self.queues:
            return False
        waiting = self.queues[queue]["waiting"]
        calls = [e["call"] for e in waiting]
        if name == "Queued" and body["call"] not in calls:
            # served highest priority first, then by first arrival in a
            # queue: a new caller goes after every caller of a higher
            # priority, and of its own who first arrived before it (one who
            # overflowed here may go ahead of callers already waiting)
            now, first = self.clock(), self._first[queue]
            priority = body.get("priority", 0)
            since = now - body.get("firstWaitS", 0.0)
            at = sum(e.get("priority", 0) > priority or (e.get("priority", 0) == priority
                                                         and first[e["call"]] <= since)
                     for e in waiting)
            waiting.insert(at, {"call": body["call"], "ani": body.get("callingDevice", ""),
                                "waitS": 0.0, "priority": priority})
            waiting[:] = [dict(e, position=i + 1) for i, e in enumerate(waiting)]
            self._since[queue][body["call"]] = now
            first[body["call"]] = since
            return True
        if name == "ConnectionCleared" and body["call"] in calls:
            waiting[:] = [dict(e, position=i + 1)
                          for i, e in enumerate(e for e in waiting if e["call"] != body["call"])]
            self._since[queue].pop(body["call"], None)
            self._first[queue].pop(body["call"], None)
            return True
        return False


def _withheld(body):
    """A call event's or snapshot's: the caller withheld its number."""
    return body.get("presentation") == "restricted"


def _caller(body):
    """The caller a call event names: `callingDevice`, or ``""`` when the
    number is withheld (the event names the trunk then)."""
    return "" if _withheld(body) else body.get("callingDevice", "")


def _queue_of(device):
    return device[len("queue:"):] if device and device.startswith("queue:") else None


class Desk:
    """The agent's desktop: its own state, the call on screen, its queues."""

    def __init__(self, agent_id, station, clock):
        self.agent_id = agent_id
        self.station = station
        self.clock = clock
        self.agent = {}
        self.received = clock()          # when the agent snapshot arrived
        self.call = None
        self.queues = QueueBoard(clock)
        self.outside = None              # the last event of a monitored line of its phone

    # -- the agent ---------------------------------------------------------------
    def set_agent(self, snapshot):
        self.agent = snapshot
        self.received = self.clock()
        if snapshot.get("station"):
            self.station = snapshot["station"]

    @property
    def state(self):
        return self.agent.get("state", "loggedOff")

    @property
    def serves(self):
        """Every queue the agent may take calls from: those it lists, and the
        skill-based queues its skills meet (the snapshot's `serves`)."""
        return self.agent.get("serves") or self.agent.get("queues", [])

    @property
    def locked(self):
        """A break locked with a password: ending it asks the password."""
        return bool(self.agent.get("locked"))

    def in_state(self):
        """Seconds in the current state."""
        since = self.agent.get("since")
        return None if since is None else self.clock() - since

    def state_seconds(self):
        """{state: seconds} since log-in, the current state counted to now."""
        stats = dict(self.agent.get("statistics", {}).get("stateS", {}))
        if self.state != "loggedOff":
            stats[self.state] = stats.get(self.state, 0.0) + self.clock() - self.received
        return stats

    # -- the call ----------------------------------------------------------------
    @property
    def called(self):
        """The call on screen is an internal call to this agent: the agent
        who called has it (hold, transfer...); this one talks, and may hang
        up."""
        call = self.call
        return call is not None and call.internal and not call.outgoing \
            and call.dnis == self.agent_id

    def show_call(self, snapshot):
        """The call the agent is on when the desktop starts (a call snapshot)."""
        here = {c["device"]: c["state"] for c in snapshot.get("connections", [])}
        queue = next((_queue_of(d) for d in here if _queue_of(d)), None)
        self.call = Call(snapshot["call"], snapshot.get("ani", ""), snapshot.get("dnis", ""),
                         queue, None, here.get(self.station, "alerting"),
                         dict(snapshot.get("data", {})), withheld=_withheld(snapshot))

    def apply(self, body):
        name = body.get("event")
        if name in AGENT_EVENTS:
            if body.get("agent") != self.agent_id:
                return False
            self.set_agent(agent_of(body))
            return True
        if name == "AttachedDataChanged":
            return self._data(body)
        if name in LINE_EVENTS:
            self.outside = None if name == "LineIdle" else body
            return True
        if name == "QueueChanged" or _queue_of(body.get("device")):
            return self.queues.apply(body)
        if body.get("device") != self.station:
            return self._party(body)
        if "call" not in body:
            return False
        free = self.call is None or not self.call.live or self.call.call == body["call"]
        if name in ("Delivered", "Originated") and free:
            outgoing = name == "Originated"
            self.call = Call(body["call"], _caller(body),
                             body.get("calledDevice", ""), body.get("queue"),
                             body.get("waitS"), "initiated" if outgoing else "alerting",
                             dict(body.get("data", {})), outgoing=outgoing,
                             direction=body.get("direction", "inbound"),
                             withheld=_withheld(body))
            return True
        if name == "Established" and free and (self.call is None
                                               or self.call.call != body["call"]):
            # A call handed to us already connected: the agent who consulted
            # us completed the transfer or made a conference, and ours (the
            # consultation) ended just before.
            self.call = Call(body["call"], _caller(body),
                             body.get("calledDevice", ""), body.get("queue"), None,
                             "connected", dict(body.get("data", {})),
                             direction=body.get("direction", "inbound"),
                             withheld=_withheld(body))
            return True
        call = self.call
        if call is None or body["call"] not in (call.call, call.consult):
            return False
        if body["call"] == call.consult:
            if name == "ConnectionCleared":
                call.consult = None
                return True
            return False
        self._data(body)
        if name in ("Established", "Retrieved"):
            call.state = "connected"
        elif name == "Held":
            call.state = "hold"
        elif name == "Conferenced":
            call.state, call.consult = "connected", None
        elif name == "PartyRoleChanged":
            call.set_role(body["device"], body["role"])
        elif name == "SpeakRequested":
            call.speak[body["party"]] = body.get("digit", "")
        elif name == "ConnectionCleared":
            call.state, call.reason, call.consult = "ended", body.get("reason", ""), None
        return True

    def _party(self, body):
        """An event of another party of the conference on screen (the
        desktop monitors the call once it is one): a party that leaves is
        no longer offered, another's role follows."""
        call = self.call
        if call is None or body.get("call") != call.call:
            return False
        # a party is a bus endpoint: an analog line's is its device's "/line"
        device = next((p for p in call.parties
                       if p == body.get("device") or p.startswith(f"{body.get('device')}/")),
                      None)
        if device is None:
            return False
        if body.get("event") == "ConnectionCleared":
            del call.parties[device]
            call.speak.pop(device, None)
            return True
        if body.get("event") == "PartyRoleChanged":
            call.set_role(device, body["role"])
            return True
        return False

    def _data(self, body):
        if self.call is None or body.get("call") != self.call.call or "data" not in body:
            return False
        changed = body["data"] != self.call.data
        self.call.data = dict(body["data"])
        return changed


@dataclass
class Span:
    """One T1 span as the console knows it: `state` (`in_service`, `down`,
    `recovering`), since when, the alarms up (`los`, `red`, `yellow`,
    `blue`, `oof`) and how many timeslots it has (None when it was first
    heard of in an event)."""

    name: str
    state: str = "in_service"
    since: float | None = None
    alarms: tuple = ()
    timeslots: int | None = None

    @property
    def in_service(self):
        return self.state == "in_service"

    @property
    def down(self):
        return self.state == "down"


class Spans:
    """The T1 spans: set from their snapshots (`kind` "span"), kept from
    their events.

    The events (`SpanAlarm`, `SpanAlarmCleared`, `SpanInService`) carry
    the span's `state` and `alarms` after the change, not its time: a span
    whose state changes starts it at the desk's clock; another alarm on a
    span already down, or one of two cleared, leaves its `since` as it was,
    as the server's own does::

        12:03:05 SpanAlarm red         down  [red]         since 12:03:05
        12:03:09 SpanAlarm blue        down  [blue, red]   since 12:03:05
        12:03:40 SpanAlarmCleared ...  recovering  []      since 12:03:40
        12:03:50 SpanInService         in_service          (not shown)

    No alarm left means `recovering`, whatever the event's `state` says:
    the span's machine (cti.server.lines.spans) is down only with an alarm.
    """

    def __init__(self, clock):
        self.clock = clock
        self.spans = {}                 # name -> Span

    def set(self, snapshot):
        """A span's snapshot (MonitorStart's, or Snapshot's)."""
        name = snapshot["device"]
        self.spans[name] = Span(name, snapshot.get("state", "in_service"),
                                snapshot.get("since"), tuple(snapshot.get("alarms", ())),
                                len(snapshot.get("timeslots", ())))

    def apply(self, body):
        if body.get("event") not in SPAN_EVENTS:
            return False
        name = body["device"]
        span = self.spans.setdefault(name, Span(name))
        state, alarms = body.get("state", span.state), tuple(body.get("alarms", ()))
        if state == "down" and not alarms:
            # A span is down while an alarm is up; the last one cleared, it
            # recovers (a server that tells of the clearing before its span
            # moves on still says "down" in that SpanAlarmCleared).
            state = "recovering"
        if state != span.state:
            span.since = self.clock()
        changed = (state, alarms) != (span.state, span.alarms)
        span.state, span.alarms = state, alarms
        return changed

    def out_of_service(self):
        """The spans not in service (down or recovering), by name."""
        return [self.spans[name] for name in sorted(self.spans)
                if not self.spans[name].in_service]


class Floor:
    """The supervisor's view of the floor, and of the supervisor's own
    phone (`station`): the call it took over with Intercept (`own`)."""

    def __init__(self, clock, station=None):
        self.clock = clock
        self.agents = {}
        self.queues = QueueBoard(clock)
        self.spans = Spans(clock)
        self.supervising = {}            # agent -> {"call": ..., "mode": ...}
        self.recording = set()           # calls being recorded, as the server last said
        self.station = station
        self.own = None                  # {"call", "state", "caller", "consult"} there

    def set_agent(self, snapshot):
        self.agents[snapshot["agent"]] = snapshot

    def set_calls(self, snapshots):
        """Every call's snapshot (Snapshot call *): which are recorded."""
        self.recording = {c["call"] for c in snapshots if c.get("recording")}

    def in_state(self, agent):
        since = self.agents[agent].get("since")
        return None if since is None else self.clock() - since

    def apply(self, body):
        name = body.get("event")
        if name in AGENT_EVENTS:
            self.set_agent(agent_of(body))
            return True
        if name in SPAN_EVENTS:
            return self.spans.apply(body)
        if self.station is not None and body.get("device") == self.station:
            return self._at_station(name, body)
        if name in ("SupervisionStarted", "SupervisionChanged"):
            self.supervising[body["agent"]] = {"call": body.get("call"), "mode": body["mode"]}
            return True
        if name == "SupervisionEnded":
            return self.supervising.pop(body["agent"], None) is not None
        queue = _queue_of(body.get("device"))
        joined = queue is not None and queue not in self.queues.queues
        if joined:
            self.queues.set({"queue": queue, "waiting": []})
        return self.queues.apply(body) or joined

    def _at_station(self, name, body):
        """A call event at the supervisor's phone: only a call it took over
        connects there (a supervision is silent: no event), and the
        consultation it makes on it (`consult`: the second call the phone
        originates while it has one)."""
        own = self.own
        if own is not None and body["call"] != own["call"]:
            if name == "Originated":
                own["consult"] = body["call"]
            elif body["call"] == own["consult"] and name == "ConnectionCleared":
                own["consult"] = None               # transferred, conferenced, over
            return True
        if name in ("Established", "Held", "Retrieved"):
            if own is not None:
                own["state"] = body["state"]
            else:
                self.own = {"call": body["call"], "state": body["state"],
                            "caller": body.get("callingDevice", ""), "consult": None}
            return True
        if name == "ConnectionCleared" and own and own["call"] == body["call"]:
            self.own = None
            return True
        return False
