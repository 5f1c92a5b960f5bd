# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_callcenter -*-
"""`cti flow`: the flow tier, a client of the CT server serving its route points.

The flow tier logs in with the flow role, says `RouteRegister`, and from
then on the CT server sends it a `RouteRequest` event for every call routed
to a flow.  For each, a `FlowRunner` (cti.flow.runtime) executes the flow,
driving the call through a `ProtocolCallControl`, which turns each step's
needs into protocol requests::

    answer()            AnswerCall       {call}
    play(files, ...)    PlayMessage      {call, prompts, bargeIn, clearDigits}
    collect(...)        CollectDigits    {call, maxDigits, terminators, ...TimeoutS}
    clear_digits()      ClearDigits      {call}
    record(...)         RecordMessage    {call, maxS, silenceS, terminators, beep}
    set_data(data)      SetCallData      {call, data}
    keep(seconds)       KeepCall         {call, timeoutS}
    send_sms(to, text)  SendMessage      {call, to, text}
    transfer(...)       RouteSelect      {call, queue | extension | number, data}
    hangup()            ClearConnection  {call}

A `RouteEnd` event (the caller hung up, or the server took the call back)
makes every later request of that call fail with `CallGone`, so the flow
stops at once.  A `FlowsReload` event (the server's configuration was
reloaded) reloads the flow files (cti.flow.library), answered with
`FlowsReloaded`; a RouteRequest for a flow not loaded meanwhile waits for
that reload (the server may route to a new flow before it ends).
Prompt files are absolute paths: the CT server must be able to read them
(same machine, or the same path on shared storage).
"""
from collections import deque

from twisted.internet import defer
from twisted.logger import Logger

from cti.flow.library import FlowsRefused
from cti.flow.runtime import CallGone, FlowRunner
from cti.protocol.client import ConnectionClosed, RemoteError

#: How many outcomes `FlowTier.outcomes` keeps: the last calls' (the demo
#: and tests look at those); one kept per call would grow for ever.
OUTCOMES_KEPT = 100

log = Logger()

#: Error codes meaning "this call is no longer yours".
GONE_CODES = frozenset({"no_such_object", "invalid_state"})


class ProtocolCallControl:
    """One call of a RouteRequest, driven through the protocol."""

    def __init__(self, client, request):
        self.client = client
        self.call_id = request["call"]
        self.ani = request.get("ani", "")
        self.dnis = request.get("dnis", "")
        self.trunk_group = request.get("trunkGroup")
        self.data = dict(request.get("data") or {})
        self.gone = None                  # why, once RouteEnd arrived

    def _call(self, service, **params):
        if self.gone is not None:
            return defer.fail(CallGone(self.gone))

        def failed(f):
            if f.check(RemoteError) and f.value.code in GONE_CODES and (
                    self.gone is not None or f.value.code == "no_such_object"):
                raise CallGone(self.gone or str(f.value))
            if f.check(ConnectionClosed):
                raise CallGone("the connection to the CT server closed")
            return f
        return self.client.call(service, call=self.call_id, **params).addErrback(failed)

    def answer(self):
        return self._call("AnswerCall").addCallback(lambda _: None)

    def play(self, files, barge_in, clear_digits=False):
        return self._call("PlayMessage", prompts=list(files), bargeIn=barge_in,
                          clearDigits=clear_digits)

    def collect(self, max_digits, terminators, first_timeout_s, inter_digit_timeout_s):
        return self._call("CollectDigits", maxDigits=max_digits, terminators=terminators,
                          firstDigitTimeoutS=float(first_timeout_s),
                          interDigitTimeoutS=float(inter_digit_timeout_s))

    def clear_digits(self):
        return self._call("ClearDigits").addCallback(lambda _: None)

    def record(self, max_s, silence_s, terminators, beep):
        d = self._call("RecordMessage", maxS=float(max_s), silenceS=float(silence_s),
                       terminators=terminators, beep=beep)
        return d.addCallback(lambda r: {"file": r.get("file"), "reason": r.get("reason"),
                                        "duration_s": r.get("durationS", 0.0)})

    def set_data(self, data):
        self.data.update(data)
        return self._call("SetCallData", data=dict(data)).addCallback(lambda _: None)

    def keep(self, seconds):
        return self._call("KeepCall", timeoutS=float(seconds)).addCallback(lambda _: None)

    def send_sms(self, to, text):
        """SendMessage; a message the server refuses (a number it cannot
        send to, no [sms], a full queue) is a failed step, not an error."""
        def refused(f):
            f.trap(RemoteError)
            if f.value.code not in ("invalid_field", "invalid_state", "resource_busy"):
                return f
            return {"result": "failed", "reason": str(f.value)}
        d = self._call("SendMessage", to=to, text=text)
        return d.addCallbacks(lambda r: {"result": "queued", "message": r["message"]}, refused)

    def transfer(self, kind, target, timeout_s, data):
        """RouteSelect; a destination the server refuses (no such queue or
        extension, a full queue) or a call that does not connect (busy, no
        answer: `call_failed`) is a failed transfer (the flow goes on at
        on_failure), not an error.  `timeout_s` is the ring time of an
        extension or a number; a queue has none (its max_wait_s bounds the
        wait)."""
        def refused(f):
            f.trap(RemoteError)
            if f.value.code not in ("invalid_field", "queue_full", "call_failed"):
                return f
            log.warn("call {call}: transfer to {kind} {target} failed: {why}",
                     call=self.call_id, kind=kind, target=target, why=f.value)
            return {"result": "failed", "reason": f.value.body.get("reason", str(f.value))}
        ring = {} if kind == "queue" else {"timeoutS": float(timeout_s)}
        return self._call("RouteSelect", **{kind: target}, **ring,
                          data=dict(data)).addErrback(refused)

    def hangup(self):
        return self._call("ClearConnection").addCallback(lambda _: None)


class FlowTier:
    """Serves every RouteRequest of one connection with the loaded flows.
    With a `library` (cti.flow.library.FlowLibrary), the server's
    FlowsReload reloads them and FlowsReloaded answers how it went."""

    def __init__(self, client, runner, library=None):
        self.client = client
        self.runner = runner
        self.library = library
        self.calls = {}                   # call id -> ProtocolCallControl
        self.outcomes = deque(maxlen=OUTCOMES_KEPT)   # the last (call id, Outcome)s
        client.on_event(self._event)

    @classmethod
    def from_settings(cls, client, flows, prompts_dir, clock, hooks=None):
        kwargs = {"hooks": hooks} if hooks is not None else {}
        return cls(client, FlowRunner(flows, prompts_dir, clock, **kwargs))

    def _reload(self):
        """The CT server reloaded its configuration: the flow files too."""
        def refused(failure):
            failure.trap(FlowsRefused)
            return {"flows": sorted(self.runner.flows), "error": str(failure.value)}

        d = self.library.reload("the CT server's reload").addErrback(refused)
        d.addCallback(lambda answer: self.client.call("FlowsReloaded", **answer))
        d.addErrback(lambda f: log.warn("FlowsReloaded not taken: {why}", why=f.value))

    def register(self):
        return self.client.call("RouteRegister")

    def _event(self, name, body, invoke_id):
        if name == "RouteRequest":
            self._start(body)
        elif name == "FlowsReload" and self.library is not None:
            self._reload()
        elif name == "RouteEnd":
            control = self.calls.get(body.get("call"))
            if control is not None:
                control.gone = body.get("reason", "route ended")

    def _start(self, request):
        control = ProtocolCallControl(self.client, request)
        self.calls[control.call_id] = control
        log.info("call {call}: flow {flow} for {ani} -> {dnis}", call=control.call_id,
                 flow=request.get("flow"), ani=control.ani or "-", dnis=control.dnis or "-")
        flow, step = request["flow"], request.get("step")
        if self.library is not None and flow not in self.runner.flows:   # on its way?
            d = self.library.settled().addCallback(
                lambda _: self.runner.run(control, flow, step))
        else:
            d = self.runner.run(control, flow, step)

        def done(outcome):
            self.calls.pop(control.call_id, None)
            self.outcomes.append((control.call_id, outcome))
            return outcome

        def failed(f):
            self.calls.pop(control.call_id, None)
            log.failure("call {call}: the flow failed", f, call=control.call_id)
        d.addCallbacks(done, failed)
