# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_interfaces -*-
"""The contracts between the floors of the CT server (zope.interface).

    lines (cti.server.lines) ──IChannelListener──> the call layer
    features ──ICallLayer──> the call core (cti.server.core.layer.CallLayer)
    the call core ──ICallEnding, ICallReleased──> each feature, as a call ends
    the sweep (cti.server.core.sweep) ──IHolds──> features holding calls, trunks, phones
    the call core ──IOutsideParty──> a trunk, or an agent called
    the ACD (cti.server.queueing.acd) ──IACDOwner──> the queueing feature

A feature (ivr, queueing, desk, consult, supervision, outbound, callback,
agents) reaches the call core only through ICallLayer, and another
feature only through its public methods; `tests/test_interfaces.py`
verifies that each implementer provides what it declares.
"""
from zope.interface import Attribute, Interface


class IOutsideParty(Interface):
    """The party in the caller's place on a call: a trunk (an inbound
    caller, or the far end of a call we placed) or, on an internal call,
    the agent called (cti.server.outbound.CalledAgent)."""

    name = Attribute("the device: a trunk channel, or the called agent's phone")
    group = Attribute("its trunk group, or None")
    voice = Attribute("the voice resource hearing it (its keys, prompts), or None")
    endpoint = Attribute("its CT-Bus endpoint: a timeslot, an analog line, a phone")
    answered = Attribute("whether it talks: a trunk connected, an agent called")
    called_agent = Attribute("the agent called (an internal call), or None for a trunk")
    ivr_only = Attribute("why its calls cannot leave the IVR (a voice modem's line: no "
                         "CT-Bus joins it to anyone), or None")

    def end_call(reason, released_by, cause):
        """The call is over: a trunk is released, an agent called freed
        and its phone hung up."""

    def set_waiting(waiting):
        """The call core says, at each change, whether the caller now waits
        with no party to talk to (queued for an agent or offered to one,
        held by its agent, a call placed for it: TrunkCall.waiting) or
        talks again (an agent, a flow).  A loop-start trunk supervised by
        silence (cti.server.lines.disconnect) times no silence while its
        caller waits, and starts over from zero when it talks again; a
        line forgets it when its call is over."""


class IChannelListener(Interface):
    """What the channels (cti.server.lines.channels) tell the call layer."""

    def trunk_offered(trunk, ani, dnis, presentation="allowed"):
        """A call came in on `trunk`, its address complete; `presentation`
        ``restricted``: the caller withheld `ani` (ISDN), which routing and
        the CDR use but no agent or client sees."""

    def trunk_released(trunk, reason):
        """The far end left (or the trunk failed)."""

    def station_answered(station):
        """A ringing phone was lifted."""

    def station_no_answer(station):
        """A ringing phone rang out."""

    def station_offhook(station):
        """A phone lifted with nothing ringing (dial tone)."""

    def station_onhook(station, was):
        """A phone put down; `was` its state before."""

    def station_removed(station, was, reason):
        """A phone's board was removed (hot-unplugged) while it was `was`:
        a ring as unanswered, a call as if the phone were put down,
        `reason` the cause of the call it ends; its agent, if any, goes
        not ready with `reason` (after that call)."""

    def span_down(span, reason):
        """A span went into alarm (cti.server.lines.spans): every call on
        its timeslots is dead; `reason` names the span and its alarms."""

    def span_alarm(span, alarm, raised):
        """An alarm of `span` was raised or cleared."""

    def span_up(span):
        """A span is back in service, healthy for its time."""

    def voice_hung(trunk, hung, op):
        """An operation `op` of the voice resource `hung` serving `trunk`
        never ended; the trunk has another (or None, the pool empty).
        `trunk` None: the resource had been given back meanwhile."""


class ICallEnding(Interface):
    """A feature that holds something of a call lets go of it as the call
    ends.  The call core's finish calls every `call_ending` (in the order
    of assembly), takes the bridge down, calls every `call_released`
    (ICallReleased), then releases the outside party, clears the call
    model and writes the CDR.  Each part is let go under
    `unwind.step(...)` (cti.server.core.unwind): one failing stops nothing."""

    part = Attribute("what it holds of a call, as a release that failed names it "
                     "in the CDR: 'the desk', 'the queue'...")

    def call_ending(call, previous, released_by, reason, cause, unwind):
        """`call` (a TrunkCall) ends, from phase `previous`: what needs the
        bridge still up (timers, flows, the queue, phones, agents)."""


class ICallReleased(Interface):
    """A feature that lets go of its part of a call once the bridge is down
    (trunks placed for the call, the timer of a retry): see ICallEnding."""

    part = Attribute("what it holds of a call, as a release that failed names it")

    def call_released(call, previous, reason, unwind):
        """The bridge of `call` is down: let go of what is left."""


class ICallLayer(Interface):
    """The call core as the features use it."""

    calls = Attribute("call id -> TrunkCall, every call the call layer handles")
    by_trunk = Attribute("outside party's device -> its TrunkCall (for its keys and hang-up)")
    clock = Attribute("the reactor's clock (IReactorTime)")
    config = Attribute("the server's configuration (cti.server.config)")
    records = Attribute("the records it writes (cti.server.core.records.Records)")
    model = Attribute("the CSTA call model (cti.server.core.model.CallModel)")
    driver = Attribute("the boards (drivers.interface)")
    channels = Attribute("trunks and stations by name (cti.server.lines.channels.Channels)")
    bus = Attribute("the CT-Bus switching map (ctbus.switching.SwitchingMap)")
    ports = Attribute("play, collect, record on voice resources (cti.server.lines.voice)")
    moh = Attribute("music on hold (cti.server.lines.talk.MusicOnHold)")
    prompts_dir = Attribute("the prompts' directory (a Path), or None")
    recordings_dir = Attribute("where recordings and messages go (a Path)")
    explain_missing = Attribute("callables(call id) that raise a better error for a call "
                                "the layer does not have (an agent's call still placed)")

    def call(call_id):
        """The TrunkCall, or NoSuchObject (after asking `explain_missing`)."""

    def call_alive(call):
        """Whether a call of the call model is still up here."""

    def answer_then(call, then, cause=None):
        """Answer the call's trunk (if not yet), then run `then()`."""

    def finish(call, released_by, reason, cause=None):
        """Release everything the call holds, once; write its CDR."""

    def to_queue(call, queue, cause=None, priority=None, first_since=None):
        """Queue a call already answered (or whose line waits released)."""

    def to_flow(call, flow):
        """Send the call to a flow (its server gets a RouteRequest)."""

    def caller_endpoint(call):
        """The CT-Bus endpoint of the call's outside party."""

    def voice_hears_caller(call, duplex):
        """The caller's voice resource hears it; duplex, it hears the prompts."""

    def hold_caller(call, music):
        """The caller hears `music` while a call is placed for it."""

    def bridge(call):
        """Caller and agent (call.station) talk."""

    def talk_with(endpoint):
        """A new Talk (who hears whom) around `endpoint` (a call's caller)."""

    def add(call):
        """Handle a TrunkCall from now on (an agent's call out answered)."""

    def answer(call, cause):
        """Answer the call's trunk: a Deferred fired once it is."""


class IHolds(Interface):
    """A feature that holds calls, trunks or phones outside the call
    layer's calls (a call being placed, a consultation, a supervision):
    the sweep (cti.server.core.sweep) leaves those alone."""

    def calls_held():
        """The ids of the call model's calls it holds."""

    def trunks_held():
        """The names of the trunks it holds."""

    def stations_held():
        """The names of the phones it holds."""


class IACDOwner(Interface):
    """The telephony side of the ACD (cti.server.queueing.acd.ACD)."""

    def offer(entry, agent):
        """Ring the agent's station with the waiting caller."""

    def withdraw(entry, agent):
        """Stop ringing it (answered elsewhere, rang out, caller left)."""

    def queue_exit(entry, reason):
        """A caller left the queue without an agent: timeout, empty, exit_key."""

    def call_alive(call):
        """The ACD's sweep asks whether the call is still up."""

    def station_out_of_service(station):
        """Why the phone cannot take calls (its board removed), or None."""

    def record_queue(call_id, queue, agent, event, *data):
        """A queue-log row."""

    def record_state(agent, state, reason, previous, call_id):
        """An agent's state change."""

    def record_login(agent, station, login_at):
        """A login's session begins (kept open until `record_session`)."""

    def record_session(agent, station, login_at, reason):
        """A login's session, as it ends."""
