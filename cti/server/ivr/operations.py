# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_callcenter -*-
"""What a flow server does to a call in its hands.

Voice operations on the call's voice resource (one at a time): play
prompts, collect digits, clear the digit buffer, record a message; and
RouteSelect: the caller to a queue, to an extension (an agent's phone,
wherever it is logged in) or to an outside number.  Sent out, the caller
hears music while it rings; answered, they talk; not, the call is the
flow's again and the request fails (call_failed).

Files: prompts come from the prompts directory ([flow] prompts_dir); a
message a caller leaves is named by the server, CALL-N.wav in the
recordings directory (MESSAGE_FILE), and a voicemail flow may play those
back.  No client-given name reaches the file system.
"""
import os
import re

from twisted.internet import defer

from cti.server.errors import (
    CallFailed,
    InvalidField,
    InvalidState,
    NoSuchObject,
    OutboundFailed,
    QueueFull,
    ResourceBusy,
)
from drivers.errors import BoardError

#: The name RecordMessage gives a message left in a flow (CALL-N.wav); an
#: agent's call recording is CALL-call-N.wav (cti.server.desk).
MESSAGE_FILE = re.compile(r"c\d+-\d+\.wav\Z")
#: How long RouteSelect lets an extension or a number ring (`timeoutS`):
#: by default, and the range allowed.
ROUTE_RING_S = 30.0
ROUTE_RING_S_RANGE = (5.0, 300.0)


class FlowOperations:
    def __init__(self, layer, flows, acd, ports, driver):
        self.layer = layer               # ICallLayer
        self.flows = flows               # cti.server.ivr.flows.Flows
        self.acd = acd
        self.ports = ports
        self.driver = driver
        self.queueing = self.dialer = self.extensions = self.supervisors = self.data = None

    @defer.inlineCallbacks
    def _operation(self, actor, call_id, run):
        """Run one voice operation on the call (a Deferred of its result)."""
        call = self.flows.flow_call(actor, call_id)
        if call.op_busy:
            raise InvalidState(f"call {call_id}: another operation is still running on it")
        if call.voice is None:
            raise ResourceBusy(f"call {call_id} has no voice resource")
        call.op_busy = True
        try:
            result = yield run(call)
        finally:
            call.op_busy = False
        if call.state == "ended":
            raise NoSuchObject(f"call {call_id} was cleared ({call.cause})", object="call",
                               id=call_id)
        return result

    # -- voice ----------------------------------------------------------------------
    def prompt_files(self, prompts):
        """The files of a PlayMessage: absolute paths of the prompts
        directory, or messages callers left in a flow (RecordMessage's
        CALL-N.wav in the recordings: a voicemail flow plays them back),
        symbolic links followed.  Not the agents' call recordings, and
        whether any other path exists is never said: a flow server cannot
        probe the CT server's files."""
        if not prompts:
            raise InvalidField("PlayMessage: prompts is empty", field="prompts")
        prompts_dir, recordings_dir = self.layer.prompts_dir, self.layer.recordings_dir
        prompts_root = os.path.realpath(prompts_dir) if prompts_dir else None
        messages_root = os.path.realpath(recordings_dir)
        files = []
        for i, p in enumerate(prompts):
            if not isinstance(p, str) or not os.path.isabs(p):
                raise InvalidField(f"PlayMessage: prompts[{i}] must be an absolute file "
                                   f"path; got {p!r}", field="prompts")
            real = os.path.realpath(p)
            prompt = prompts_root is not None and \
                os.path.commonpath([prompts_root, real]) == prompts_root
            message = os.path.dirname(real) == messages_root and \
                MESSAGE_FILE.match(os.path.basename(real))
            if not (prompt or message):
                raise InvalidField(f"PlayMessage: prompts[{i}] {p!r} is neither a prompt (in "
                                   f"{prompts_dir or 'no prompts directory'}) nor a "
                                   f"message recorded by a flow ({messages_root}/CALL-N.wav)",
                                   field="prompts")
            if not os.path.isfile(real):
                raise InvalidField(f"PlayMessage: prompts[{i}] {p!r} does not exist",
                                   field="prompts")
            files.append(real)
        return files

    def play(self, actor, call_id, prompts, barge_in, clear_digits):
        files = self.prompt_files(prompts)

        def run(call):
            try:
                return self.ports.play(call.voice, files, barge_in, clear_digits)
            except BoardError as e:          # a file the board will not play
                raise InvalidField(f"PlayMessage: the board refuses the prompts: {e}",
                                   field="prompts") from None
        return self._operation(actor, call_id, run)

    def collect(self, actor, call_id, max_digits, terminators, first_s, inter_s):
        return self._operation(actor, call_id, lambda call: self.ports.collect(
            call.voice, max_digits, terminators, first_s, inter_s))

    def clear_digits(self, actor, call_id):
        call = self.flows.flow_call(actor, call_id)
        if call.voice is not None:
            self.driver.clear_digits(call.voice)

    def record(self, actor, call_id, max_s, silence_s, terminators, beep):
        """The file is named by the server (the call id and a count)."""
        clock = self.layer.clock

        @defer.inlineCallbacks
        def run(call):
            recordings_dir = self.layer.recordings_dir
            recordings_dir.mkdir(parents=True, exist_ok=True)
            call.recordings += 1
            path = recordings_dir / f"{call.id}-{call.recordings}.wav"
            if beep:
                yield self.ports.beep(call.voice)
                if call.state == "ended":
                    return {}
            started = clock.seconds()
            result = yield self.ports.record(call.voice, path, max_s, silence_s, terminators)
            result["durationS"] = round(clock.seconds() - started, 3)
            return result
        return self._operation(actor, call_id, run)

    # -- RouteSelect ----------------------------------------------------------------
    def route_select(self, actor, call_id, targets, data, priority, ring_s):
        """The caller to a queue ({"result": "queued"}), or to an extension
        or a number (a Deferred of {"result": "connected"}): `targets` holds
        queue, extension and number, one of them given (checked once the
        call is); `ring_s` how long an extension or a number rings."""
        call = self.flows.flow_call(actor, call_id)
        given = [k for k in ("queue", "extension", "number") if targets[k] is not None]
        if len(given) != 1:
            raise InvalidField("RouteSelect: give exactly one of queue, extension, number "
                               f"(got {', '.join(given) or 'none'})", field="queue")
        if call.op_busy:
            raise InvalidState(f"call {call.id}: an operation is still running")
        if call.trunk.ivr_only:
            raise CallFailed(f"RouteSelect: {call.trunk.ivr_only}", call.trunk.ivr_only)
        if call.state == "talking":
            raise InvalidState(f"call {call.id} was sent through this flow by an agent, who "
                               "gets it back when the flow releases it (ClearConnection)",
                               object="call", id=call.id)
        if priority is not None and not 0 <= priority <= 100:
            raise InvalidField("RouteSelect: field 'priority' must be from 0 to 100; got "
                               f"{priority}", field="priority")
        kind = given[0]
        if kind == "queue" and ring_s is not None:
            raise InvalidField("RouteSelect: field 'timeoutS' is the ring time of an "
                               "extension or a number; a queue has none (its max_wait_s "
                               "bounds the wait)", field="timeoutS")
        ring_s = ROUTE_RING_S if ring_s is None else ring_s
        if not ROUTE_RING_S_RANGE[0] <= ring_s <= ROUTE_RING_S_RANGE[1]:
            low, high = ROUTE_RING_S_RANGE
            raise InvalidField(f"RouteSelect: field 'timeoutS' must be from {low:g} to "
                               f"{high:g} seconds; got {ring_s:g}", field="timeoutS")
        if kind != "queue":
            return self._route_out(call, actor, data, kind, targets[kind], ring_s)
        queue = targets["queue"]
        config = self.layer.config.queue(queue)
        if config is None:
            raise InvalidField(f"RouteSelect: no queue {queue!r}", field="queue")
        if self.acd.full(queue):
            raise QueueFull(f"RouteSelect: queue {queue} is full (its max_length, "
                            f"{config.max_length} callers, are waiting)", object="queue",
                            id=queue)
        self.data.merge(call, data, actor.cause, "RouteSelect")
        call.flow_session = None           # out of the flow server's hands, from now on
        self.queueing.queue_call(call, queue, actor.cause, priority)
        return {"result": "queued", "queue": queue}

    @defer.inlineCallbacks
    def _route_out(self, call, actor, data, kind, target, ring_s):
        """To an extension or an outside number: answered once the other
        end is; else `call_failed` and the caller is the flow's again."""
        caller = self.dialer.caller_of(actor, flow=call.flow)
        if kind == "number":
            self.dialer.check_number("RouteSelect", target, caller)
        else:
            self.extensions.check(target)
        self.data.merge(call, data, actor.cause, "RouteSelect")
        call.flow_session = None
        self.flows.cancel_watchdog(call)
        if not call.trunk.answered:
            yield self.layer.answer(call, actor.cause)
        call.phase.fire("place", to=f"{kind}:{target}")
        self.layer.hold_caller(call, self.queueing.hold_music(call))
        try:
            if kind == "number":
                yield self.dialer.send_out(call, target, caller, actor.cause,
                                           no_answer_s=ring_s)
            else:
                yield self.extensions.ring(call, target, ring_s, actor.cause)
        except OutboundFailed as e:
            if call.state != "ended":
                self.flows.back(call, actor.session)
            raise CallFailed(f"RouteSelect: the call to {kind} {target} failed: {e.reason}",
                             e.reason) from None
        self.flows.clear_route_point(call, "redirected", actor.cause)
        call.phase.fire("connected", to=f"{kind}:{target}")
        if kind == "number":
            call.disposition = "transferred_out"
        else:
            call.answered_at = self.layer.clock.seconds()
            self.supervisors.call_connected(call)
        return {"result": "connected", kind: target}
