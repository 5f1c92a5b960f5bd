# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_span_reports -*-
"""A technician's tests of a T1 span on the running server: loopbacks,
loop codes to the far end, and bit error rate tests (BERT).

Each of them breaks the calls of what it tests, so each first takes it
out of service: the span's trunk channels (or the one timeslot's) are
*held* (cti.server.lines.channels.Channel.hold) for the test's purpose,
no call is taken or placed there meanwhile, and they come back into
service when the last purpose holding them is released.  A channel with
a call refuses: the request is refused as a whole, naming the calls, and
nothing is held.

    tests = LineTests(clock, driver, watches, audit)
    tests.loop_code(who, "dtiB1", "line_up")         # the far end loops back to us
    tests.bert_start(who, "dtiB1", "qrss", seconds=60)
    tests.bert_results("dtiB1")                      # bits, errors, ber, sync...
    tests.bert_stop(who, "dtiB1")                    # or it stops by itself at 60 s
    tests.loop_code(who, "dtiB1", "line_down")

Purposes (what `held` of a channel's snapshot shows): "loopback" (our
side loops, `loopback`), "far loop" (a loop-up code sent to the far
end, until its loop-down), "bert".  A BERT that ended (stopped, or its
time up) keeps its final results until the next on that device.
"""
from dataclasses import dataclass, field

from cti.logs import Logger
from cti.server.errors import InvalidField, InvalidState, NoSuchObject, ResourceBusy
from drivers.errors import BadParameter, DeviceBusy
from drivers.interface import BERT_PATTERNS, LOOP_CODES, LOOPBACKS

log = Logger()

#: The longest a BERT may run, in seconds (a day), and how long when not told.
BERT_MAX_S = 86_400
BERT_DEFAULT_S = 60
#: Loop codes that loop the far end up (and hold the span), and down.
LOOP_UP = ("line_up", "payload_up")


@dataclass
class Bert:
    """One BERT: on a span or a timeslot, by whom, until when."""

    device: str
    span: str
    pattern: str
    user: str
    started_at: float
    seconds: int
    timer: object = None
    results: dict | None = None          # the final results, once it ended
    channels: list = field(default_factory=list)


class LineTests:
    """Loopbacks, loop codes and BERTs on the spans of `watches`
    (cti.server.maintenance.spans.SpanWatches).  `audit(action, user,
    **detail)` writes each to the audit log."""

    def __init__(self, clock, driver, watches, audit):
        self.clock = clock
        self.driver = driver
        self.watches = watches
        self.audit = audit
        self.berts = {}                   # device -> Bert (running or ended)

    # -- loopbacks ------------------------------------------------------------
    def loopback(self, who, span, mode):
        """Loop the span at our side (`line`, `payload`, `local`), or stop
        (`none`): its channels are held meanwhile."""
        watch = self._watch(span)
        if mode not in LOOPBACKS:
            raise InvalidField(f"mode: {mode!r} is not one of {', '.join(LOOPBACKS)}",
                               field="mode")
        if mode != "none":
            self._hold(watch.timeslots, "loopback")
        try:
            self.driver.span_loopback(span, mode)
        except (BadParameter, DeviceBusy) as e:
            if mode != "none":
                self._release(watch.timeslots, "loopback")
            raise InvalidState(f"{span}: loopback {mode} refused: {e}",
                               object="device", id=span) from None
        if mode == "none":
            self._release(watch.timeslots, "loopback")
        self.audit("SpanLoopback", who.user, span=span, mode=mode)
        log.info("{span}: loopback {mode} by {user}", span=span, mode=mode, user=who.user)
        return {"span": span, "loopback": mode}

    def loop_code(self, who, span, code):
        """Send a loop-up or loop-down code to the far end: looped up, it
        sends back what we send (the span's channels are held until the
        loop-down)."""
        watch = self._watch(span)
        if code not in LOOP_CODES:
            raise InvalidField(f"code: {code!r} is not one of {', '.join(LOOP_CODES)}",
                               field="code")
        up = code in LOOP_UP
        if up:
            self._hold(watch.timeslots, "far loop")
        try:
            self.driver.send_loop_code(span, code)
        except (BadParameter, DeviceBusy) as e:
            if up:
                self._release(watch.timeslots, "far loop")
            raise InvalidState(f"{span}: loop code {code} refused: {e}",
                               object="device", id=span) from None
        if not up:
            self._release(watch.timeslots, "far loop")
        self.audit("SpanLoopCode", who.user, span=span, code=code)
        log.info("{span}: loop code {code} sent by {user}", span=span, code=code,
                 user=who.user)
        return {"span": span, "code": code}

    # -- BERT -----------------------------------------------------------------
    def bert_start(self, who, device, pattern, seconds=BERT_DEFAULT_S):
        """Start a BERT on a span (its 24 timeslots) or one timeslot, for
        `seconds`; what it tests is held until it ends."""
        span, channels = self._under_test(device)
        if pattern not in BERT_PATTERNS:
            raise InvalidField(f"pattern: {pattern!r} is not one of "
                               f"{', '.join(BERT_PATTERNS)}", field="pattern")
        if not 1 <= seconds <= BERT_MAX_S:
            raise InvalidField(f"seconds: {seconds} is not 1 to {BERT_MAX_S}",
                               field="seconds")
        running = self._running(device, span)
        if running is not None:
            raise InvalidState(f"{device}: a BERT runs on {running.device} already "
                               f"(started by {running.user}): stop it first",
                               object="device", id=device)
        self._hold(channels, "bert")
        try:
            self.driver.bert_start(device, pattern)
        except DeviceBusy as e:
            self._release(channels, "bert")
            raise ResourceBusy(f"{device}: {e}", object="device", id=device) from None
        except BadParameter as e:
            self._release(channels, "bert")
            raise InvalidState(f"{device}: BERT refused: {e}", object="device",
                               id=device) from None
        bert = Bert(device, span, pattern, who.user, self.clock.seconds(), seconds,
                    channels=list(channels))
        bert.timer = self.clock.callLater(seconds, self._end, bert, "its time was up")
        self.berts[device] = bert
        self.audit("BertStarted", who.user, device=device, pattern=pattern, seconds=seconds)
        log.info("{device}: BERT {pattern} for {s} s by {user}", device=device,
                 pattern=pattern, s=seconds, user=who.user)
        return self._describe(bert, self.driver.bert_results(device))

    def bert_results(self, device):
        """The BERT's results: live while it runs, final once it ended."""
        bert = self.berts.get(device)
        if bert is None:
            raise NoSuchObject(f"{device}: no BERT has run there", object="device",
                               id=device)
        results = bert.results if bert.results is not None \
            else self.driver.bert_results(device)
        return self._describe(bert, results)

    def bert_stop(self, who, device):
        """Stop a running BERT now: its final results."""
        bert = self.berts.get(device)
        if bert is None or bert.results is not None:
            raise InvalidState(f"{device}: no BERT runs there", object="device", id=device)
        self._end(bert, f"stopped by {who.user}")
        return self._describe(bert, bert.results)

    def stop(self):
        """The server stops: every running BERT ends."""
        for bert in list(self.berts.values()):
            if bert.results is None:
                self._end(bert, "the server stopped")

    def _end(self, bert, why):
        if bert.timer is not None and bert.timer.active():
            bert.timer.cancel()
        try:
            bert.results = self.driver.bert_stop(bert.device)
        except BadParameter:                   # gone already (the driver reset)
            bert.results = {}
        self._release(bert.channels, "bert")
        self.audit("BertEnded", "system", device=bert.device, why=why, **{
            k: bert.results.get(k) for k in ("bits", "errors", "ber")})
        log.info("{device}: BERT ended ({why}): {errors} errors in {bits} bits",
                 device=bert.device, why=why, errors=bert.results.get("errors"),
                 bits=bert.results.get("bits"))

    def _describe(self, bert, results):
        return {"device": bert.device, "pattern": bert.pattern, "startedBy": bert.user,
                "startedAt": bert.started_at, "plannedS": bert.seconds,
                "running": bert.results is None, "results": dict(results)}

    # -- helpers ----------------------------------------------------------------
    def _watch(self, span):
        if span not in self.watches:
            raise NoSuchObject(f"{span} is no T1 span of this server's boards",
                               object="device", id=span)
        return self.watches.watches[span]

    def _under_test(self, device):
        """(span, the trunk channels a BERT on `device` holds)."""
        if device in self.watches:
            watch = self.watches.watches[device]
            return device, watch.timeslots
        for name, watch in self.watches.watches.items():
            if device in watch.timeslot_names:
                return name, [c for c in watch.timeslots if c.name == device]
        raise NoSuchObject(f"{device} is no T1 span or timeslot of this server's boards",
                           object="device", id=device)

    def _running(self, device, span):
        """A BERT running on the device, its span, or a timeslot of it."""
        for bert in self.berts.values():
            if bert.results is None and (bert.device in (device, span)
                                         or (device == span and bert.span == span)):
                return bert
        return None

    @staticmethod
    def _hold(channels, purpose):
        """Hold every channel or none: InvalidState naming those with calls."""
        busy = [c for c in channels if c.state not in ("idle", "out_of_service")]
        if busy:
            names = ", ".join(f"{c.name} ({c.state})" for c in busy[:5])
            raise InvalidState(f"{len(busy)} channel(s) busy: {names}"
                               + (" ..." if len(busy) > 5 else "")
                               + ": wait for their calls to end, or clear them first",
                               object="device", id=busy[0].name)
        for channel in channels:
            channel.hold(purpose)

    @staticmethod
    def _release(channels, purpose):
        for channel in channels:
            channel.release_hold(purpose)
