# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_span_reports -*-
"""A technician's tests of a T1 span on the running server: loopbacks,
loop codes to the far end, and bit error rate tests (BERT).

Each of them breaks the calls of what it tests, so each first takes it
out of service: the span's trunk channels (or the one timeslot's) are
*held* (cti.server.lines.channels.Channel.hold) for the test's purpose,
busied out toward the carrier, no call is taken or placed there
meanwhile, and they come back into service when the last purpose holding
them is released.  A channel with a call refuses: the request is refused
as a whole, naming the calls, and nothing is held.

    tests = LineTests(clock, driver, watches, audit)
    tests.loop_code(who, "dtiB1", "line_up")         # the far end loops back to us
    tests.bert_start(who, "dtiB1", "qrss", seconds=60)
    tests.bert_results("dtiB1")                      # bits, errors, ber, sync...
    tests.bert_stop(who, "dtiB1")                    # or it stops by itself at 60 s
    tests.loop_code(who, "dtiB1", "line_down")       # released once the code is done

Purposes (what `held` of a channel's snapshot shows): "loopback" (our
side loops, `loopback`), "far loop" (a loop-up code sent to the far
end, until the matching loop-down has been sent), "bert".  A BERT that
ended (stopped, or its time up) keeps its final results until the next
on that device.  A board that refuses leaves nothing held that the
request took.
"""
from dataclasses import dataclass, field

from cti.logs import Logger
from cti.server.errors import InvalidField, InvalidState, NoSuchObject, ResourceBusy
from drivers.errors import DeviceBusy, DriverError
from drivers.interface import BERT_PATTERNS, LOOP_CODES, LOOPBACKS

log = Logger()

#: The longest a BERT may run, in seconds (a day), and how long when not told.
BERT_MAX_S = 86_400
BERT_DEFAULT_S = 60
#: Loop-up codes and the loop-down code that undoes each.
LOOP_DOWN = {"line_up": "line_down", "payload_up": "payload_down"}
#: How often, and how long at most, a loop-down is watched until the
#: board stops sending it (in-band codes go on for up to 10 s).
LOOP_DOWN_CHECK_S = 1.0
LOOP_DOWN_LIMIT_S = 30.0


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
        self.far_loops = {}               # span -> the loop-up code in force

    def start(self):
        """A span the board reports looped (a test left running when the
        server stopped, or a loop made outside it) is held: no call goes
        onto a looped span."""
        for name, watch in self.watches.watches.items():
            mode = watch.loopback_now()
            if mode not in (None, "none"):
                log.warn("{span}: looped ({mode}) at start: held until `linediag loopback "
                         "{span} none`", span=name, mode=mode)
                self._hold(watch.timeslots, "loopback")

    # -- loopbacks ------------------------------------------------------------
    def loopback(self, who, span, mode):
        """Loop the span at our side (`line`, `payload`, `local`), or stop
        (`none`): its channels are held meanwhile."""
        watch = self._watch(span)
        if mode not in LOOPBACKS:
            raise InvalidField(f"mode: {mode!r} is not one of {', '.join(LOOPBACKS)}",
                               field="mode")
        taken = self._hold(watch.timeslots, "loopback") if mode != "none" else []
        try:
            self.driver.span_loopback(span, mode)
        except DriverError as e:
            self._release(taken, "loopback")
            raise _refused(span, f"loopback {mode}", e) from None
        if mode == "none":
            self._release(watch.timeslots, "loopback")
        self.audit("SpanLoopback", who.user, span=span, mode=mode)
        log.info("{span}: loopback {mode} by {user}", span=span, mode=mode, user=who.user)
        return {"span": span, "loopback": mode}

    def loop_code(self, who, span, code):
        """Send a loop-up or loop-down code to the far end.  Looped up, it
        sends back what we send: the span's channels are held from the
        loop-up until its loop-down has been sent out (the board sends
        an in-band code for seconds; the far end acts after 5 s of it)."""
        watch = self._watch(span)
        if code not in LOOP_CODES:
            raise InvalidField(f"code: {code!r} is not one of {', '.join(LOOP_CODES)}",
                               field="code")
        up = code in LOOP_DOWN
        looped = self.far_loops.get(span)
        if not up and looped is not None and LOOP_DOWN[looped] != code:
            raise InvalidField(f"code: the far end was looped with {looped}: "
                               f"{LOOP_DOWN[looped]} undoes it, not {code}", field="code")
        taken = self._hold(watch.timeslots, "far loop") if up else []
        try:
            self.driver.send_loop_code(span, code)
        except DriverError as e:
            self._release(taken, "far loop")
            raise _refused(span, f"loop code {code}", e) from None
        if up:
            self.far_loops[span] = code
        else:
            self.far_loops.pop(span, None)
            self._release_when_sent(watch, self.clock.seconds() + LOOP_DOWN_LIMIT_S)
        watch.far_loop = self.far_loops.get(span)
        self.audit("SpanLoopCode", who.user, span=span, code=code)
        log.info("{span}: loop code {code} sent by {user}", span=span, code=code,
                 user=who.user)
        return {"span": span, "code": code}

    def _release_when_sent(self, watch, limit):
        """The far loop's hold goes once the board has sent its loop-down
        (and none was sent up again meanwhile)."""
        if watch.name in self.far_loops:
            return
        if watch.loop_code_now() is None or self.clock.seconds() >= limit:
            self._release(watch.timeslots, "far loop")
        else:
            self.clock.callLater(LOOP_DOWN_CHECK_S, self._release_when_sent, watch, limit)

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
        taken = self._hold(channels, "bert")
        try:
            self.driver.bert_start(device, pattern)
            first = self.driver.bert_results(device)
        except DriverError as e:
            self._release(taken, "bert")
            raise _refused(device, "BERT", e) from None
        bert = Bert(device, span, pattern, who.user, self.clock.seconds(), seconds,
                    channels=taken)
        bert.timer = self.clock.callLater(seconds, self._end, bert, "its time was up")
        self.berts[device] = bert
        self.audit("BertStarted", who.user, device=device, pattern=pattern, seconds=seconds)
        log.info("{device}: BERT {pattern} for {s} s by {user}", device=device,
                 pattern=pattern, s=seconds, user=who.user)
        return self._describe(bert, first)

    def bert_results(self, device):
        """The BERT's results: live while it runs, final once it ended."""
        bert = self._bert(device)
        if bert.results is not None:
            return self._describe(bert, bert.results)
        try:
            return self._describe(bert, self.driver.bert_results(device))
        except DriverError as e:
            raise _refused(device, "BERT results", e) from None

    def bert_stop(self, who, device):
        """Stop a running BERT now: its final results."""
        bert = self._bert(device)
        if bert.results is not None:
            raise InvalidState(f"{device}: its BERT ended already (GetBertResults reads "
                               "its results)", object="device", id=device)
        self._end(bert, f"stopped by {who.user}")
        return self._describe(bert, bert.results)

    def stop(self):
        """The server stops: every running BERT ends, our loopbacks and the
        far end's loops are taken down (a server starting again finds its
        spans as a technician would expect: not looped)."""
        for bert in list(self.berts.values()):
            if bert.results is None:
                self._end(bert, "the server stopped")
        for name, watch in self.watches.watches.items():
            if watch.loopback_now() not in (None, "none"):
                self._quietly(self.driver.span_loopback, name, "none")
        for name, code in list(self.far_loops.items()):
            self._quietly(self.driver.send_loop_code, name, LOOP_DOWN[code])
            self.watches.watches[name].far_loop = None
        self.far_loops.clear()

    def _end(self, bert, why):
        if bert.timer is not None and bert.timer.active():
            bert.timer.cancel()
        try:
            bert.results = self.driver.bert_stop(bert.device)
        except DriverError as e:               # the board reset, or refused: ended all the same
            bert.results = {"error": str(e)}
        finally:
            if bert.results is None:
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
    def _bert(self, device):
        bert = self.berts.get(device)
        if bert is None:
            raise NoSuchObject(f"{device}: no BERT has run there", object="device",
                               id=device)
        return bert

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
        """Hold every channel or none (InvalidState naming those with
        calls); the channels this purpose did not hold already, to give
        back should the request fail."""
        busy = [c for c in channels if c.state not in ("idle", "out_of_service")]
        if busy:
            names = ", ".join(f"{c.name} ({c.state})" for c in busy[:5])
            raise InvalidState(f"{len(busy)} channel(s) busy: {names}"
                               + (" ..." if len(busy) > 5 else "")
                               + ": wait for their calls to end, or clear them first",
                               object="device", id=busy[0].name)
        taken = [c for c in channels if purpose not in c.held]
        for channel in taken:
            channel.hold(purpose)
        return taken

    @staticmethod
    def _release(channels, purpose):
        for channel in channels:
            channel.release_hold(purpose)

    @staticmethod
    def _quietly(function, *args):
        try:
            function(*args)
        except DriverError as e:
            log.warn("{args}: not undone at stop: {e}", args=args, e=e)


def _refused(device, what, error):
    """The board refused a test: busy (resource_busy), or otherwise
    (invalid_state), with the board's words."""
    cls = ResourceBusy if isinstance(error, DeviceBusy) else InvalidState
    return cls(f"{device}: {what} refused by the board: {error}", object="device", id=device)
