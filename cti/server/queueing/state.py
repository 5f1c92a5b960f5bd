# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_acd -*-
"""What the ACD knows: its tables, its settings, and the state of every
caller waiting, queue and agent (cti.server.queueing.acd works on them).

- AGENT: an agent's states, a declared table (CSTA names); AGENT_EVENTS the
  event each publishes; EMPTY_CONDITIONS what makes a queue *empty* for
  join_empty / leave_empty; EXITS the queue-log event of a caller who
  leaves without an agent;
- `service_level`: the one definition of a queue's service level;
- `Entry` (a caller in a queue), `QueueState` (a queue's live figures),
  `AgentState` (an agent's state, statistics and timers).
"""
from collections import deque
from dataclasses import dataclass, field

from cti.server.queueing.router import Rule
from cti.statemachine import Table

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
    direct_queue: "QueueState | None" = None   # a direct call's queue (whose wrap-up ends it)
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
class Routed:
    name: str
    strategy: str
    rules: tuple


