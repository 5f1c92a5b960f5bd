# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_callcenter -*-
"""One call as the call layer handles it: its phases and what it holds.

A `TrunkCall` is a call with an outside party: an inbound caller on a
trunk, the far end of an agent's call out once it answers, or on an
internal call the agent called (cti.server.outbound.CalledAgent), in the
caller's place.  The CSTA call (cti.server.core.model.Call: connections,
attached data) is its `call`; the outside party its `trunk`.

Its phases are a declared table with a history, like every machine here::

    routing ──> ivr ──> queued ──> ringing ──> talking ──> ended
        └────────────────┘  ^──────────┘ (rang out, next agent)
                 ivr <──> placing ──> talking
    routing ──> talking              (dialled: an agent's call out answered)

- routing: the route for its DNIS / ANI / trunk group sends it to a flow
  or a queue (cti.server.ivr, cti.server.queueing);
- ivr: a flow server drives it (RouteRequest ... RouteEnd);
- placing: a flow sent the caller to an extension or a number, which rings
  while the caller hears music;
- queued, ringing: waiting for an agent, and offered to one;
- talking: caller and agent joined on the CT-Bus (cti.server.lines.talk);
- ended: released, its CDR written (cti.server.core.layer.CallLayer.finish).

What the caller hears besides its party (a queue's music, an
announcement, music on hold) is its media, a table of its own (MEDIA).
From the two the call core knows when the caller waits with no party to
talk to (`TrunkCall.waiting`: queued, offered to an agent, held, a call
placed for it) and tells its outside party (IOutsideParty.set_waiting):
a loop-start line supervised by silence times none meanwhile.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cti.statemachine import Table

if TYPE_CHECKING:
    from twisted.internet.base import DelayedCall

    from cti.server.core.model import Call
    from cti.server.interfaces import IOutsideParty
    from cti.server.lines.channels import Channel, Station
    from cti.server.lines.talk import Talk
    from cti.server.queueing.state import AgentState, Entry
    from cti.statemachine import Machine

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

#: What the caller hears besides its party (a flow's prompts, an agent): a
#: queue's music while it waits, an announcement cutting in, music on hold
#: while an agent holds it or a call is placed for it.  A recording of the
#: call is not heard: it is the call's `recording` (its voice and file).
MEDIA = Table("media", initial="none", transitions=[
    ("none", "music", "music"),                # queued (cti.server.queueing)
    ("music", "stop", "none"),                 # answered, left the queue, ended
    ("none", "announce", "announcement"),      # place in line, expected wait...
    ("announcement", "announced", "none"),     # played to its end: music again
    ("announcement", "cut", "none"),           # answered, left or ended meanwhile
    ("none", "hold", "held"),                  # held by its agent, or a call placed for it
    ("held", "retrieve", "none"),
])

#: The phases in which the caller waits for an agent (its queue's music,
#: announcements, ringback while one is offered the call).
WAITING_PHASES = frozenset({"queued", "ringing"})


@dataclass(eq=False)
class TrunkCall:
    """What the call layer tracks about one call with an outside party."""

    call: Call
    trunk: IOutsideParty             # the trunk channel, or an internal call's CalledAgent
    phase: Machine | None = None     # a PHASES machine
    flow: str | None = None
    flow_session: object = None      # the flow server's session holding it (cti.server.ivr)
    flow_timer: DelayedCall | None = None   # the watchdog on the flow server
    flow_requests: int = 0           # the flow server's requests for it being served
    flow_keep_s: float = 0.0         # KeepCall: more time for the next wait
    op_busy: bool = False            # a flow's voice operation is running
    queue: str | None = None
    bound_for: str | None = None     # the queue it goes to once its trunk is answered
    agent: AgentState | None = None  # the ACD's agent once offered
    station: Station | None = None
    offered_at: float = 0.0
    queued_at: float | None = None
    left_queue_at: float | None = None  # left `queue` unanswered for its overflow flow
    answered_at: float | None = None
    media: Machine | None = None     # a MEDIA machine: what the caller hears
    recordings: int = 0
    released_by: str | None = None
    cause: str = ""
    disposition: str | None = None   # the CDR's, when the phases do not tell it
    entry: Entry | None = None       # the ACD's entry while queued
    talk: Talk | None = None         # who hears whom while connected
    priority: int | None = None      # in the queue (kept when transferred back to one)
    answered_by: tuple[str, str] | None = None  # (agent id, station) of the last to answer
    intercepted_by: str | None = None   # the supervisor who took the call over
    members: list[tuple[AgentState | None, Station]] = field(default_factory=list)
                                     # (agent, station) conferenced in
    outside: list[Channel] = field(default_factory=list)  # trunks of outside parties: the
                                     # call sent out on one, or numbers conferenced in
    recording: tuple[str, str] | None = None  # (voice resource, file) while recorded
    callback: str | None = None      # the number to call back (cti.server.callback)
    line_released: bool = False      # the caller hung up to be called back
    trunk_out: bool = False          # `trunk` is one we seized (a callback dialled)
    callback_attempts: int = 0
    callback_timer: DelayedCall | None = None
    first_since: float | None = None # its first arrival in a queue (kept by overflows)
    announce_timer: DelayedCall | None = None
    announcements: int = 0           # played so far (the messages take turns)
    at_end: list = field(default_factory=list)   # Deferreds fired when it ends

    @classmethod
    def start(cls, clock, call, trunk, **fields):
        """A TrunkCall with its machines (phases, media), in their first state."""
        handled = cls(call, trunk, **fields)
        handled.phase = PHASES.machine(clock, call.id)
        handled.media = MEDIA.machine(clock, call.id)
        return handled

    @property
    def id(self):
        return self.call.id

    @property
    def held(self):
        """The caller hears music on hold."""
        return self.media.state == "held"

    @property
    def waiting(self):
        """The caller waits with no party to talk to: for an agent, on
        hold (its agent's, or while a call is placed for it)."""
        return self.state in WAITING_PHASES or self.held

    @property
    def music(self):
        """The caller hears its queue's music."""
        return self.media.state == "music"

    @property
    def announcing(self):
        """A queue announcement is playing to the caller."""
        return self.media.state == "announcement"

    @property
    def state(self):
        return self.phase.state

    @property
    def called_agent(self):
        """On an internal call, the agent called (in the caller's place)."""
        return self.trunk.called_agent

    @property
    def voice(self):
        """The voice resource hearing the caller; None while its line is
        released (a callback waiting its turn)."""
        return None if self.line_released else self.trunk.voice
