# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_sms_service -*-
"""The server's short messages: one queue to its GSM modem ([sms]).

Every feature that sends a text message goes through `Messages.send`: a
flow's `sms` step (through the SendMessage service), an agent's desktop,
a supervisor.  A message is checked as it is given (a number to send to:
not the withheld P or O of a caller's ANI; some text; at most 255 parts)
and waits its turn: the modem sends one at a time::

    message = messages.send("flow1", "+8613800138000", "您好", call="c17")
    message.id, message.parts           # 'm1', 1

    waiting --> sending --> sent --> delivered      (the delivery reports)
       ^           |          \\----> failed         (a report says it was not)
       |           v
       +-- a temporary failure (no network, congestion), `retries` times,
           `retry_s` apart; otherwise failed

Each outcome is a row of the audit log, with the user who sent it, the
call it was about, the number and the message's id: SmsSent (with its
parts), SmsDelivered, SmsNotDelivered (with what the report said),
SmsFailed (with the modem's error in words, drivers.smserrors); a message
received is SmsReceived (user "system", its sender and text).
"""
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from cti.logs import Logger
from cti.server.errors import InvalidField, ResourceBusy
from drivers.errors import ModemError, SmsError
from drivers.smspdu import split_text

log = Logger()

#: Messages that may wait for the modem; more are refused (resource_busy).
MAX_WAITING = 100
#: Delivery reports are matched by the modem's reference (0-255): the last
#: this many references sent are kept.
REFERENCES_KEPT = 256
#: A caller's number withheld (P) or unavailable (O), as the boards say it.
WITHHELD = ("", "P", "O")
NUMBER_DIGITS = "0123456789"


@dataclass
class Message:
    id: str
    to: str
    text: str
    user: str                         # who sent it
    call: str | None                  # the call it is about
    parts: int
    state: str = "waiting"            # waiting, sending, sent, delivered, failed
    attempts: int = 0
    references: list = field(default_factory=list)
    outcomes: dict = field(default_factory=dict)     # reference -> its report's outcome
    error: str | None = None


class Messages:
    """Sends through `modem` (drivers.gsm.GsmModem: send, on_report,
    on_message); `records` takes the audit rows."""

    def __init__(self, clock, modem, records, retries=3, retry_s=60):
        self.clock = clock
        self.modem = modem
        self.records = records
        self.retries = retries
        self.retry_s = retry_s
        self.waiting = deque()
        self.sending = None
        self._count = 0
        self._by_reference = OrderedDict()
        modem.on_report = self._report
        modem.on_message = self._received

    def send(self, user, to, text, call=None) -> Message:
        """Queue a message; InvalidField or ResourceBusy if it cannot be."""
        if to in WITHHELD:
            raise InvalidField("to: no number to send to (the caller's number is withheld "
                               "or unavailable)", field="to")
        digits = to[1:] if to.startswith("+") else to
        if not 3 <= len(digits) <= 20 or any(c not in NUMBER_DIGITS for c in digits):
            raise InvalidField(f"to: {to!r} is not a number a message can go to (digits, "
                               "an optional leading +)", field="to")
        if not text:
            raise InvalidField("text: a message needs some text", field="text")
        try:
            parts = len(split_text(text))
        except ValueError as e:
            raise InvalidField(f"text: {e}", field="text") from None
        if len(self.waiting) >= MAX_WAITING:
            raise ResourceBusy(f"{MAX_WAITING} messages already wait for the GSM modem")
        self._count += 1
        message = Message(f"m{self._count}", to, text, user, call, parts)
        self.waiting.append(message)
        log.info("sms {message}: {parts} part(s) to {to} from {user}, waiting for the modem",
                 message=message.id, parts=parts, to=to, user=user)
        self._next()
        return message

    def _next(self):
        if self.sending is not None or not self.waiting:
            return
        message = self.sending = self.waiting.popleft()
        message.state, message.attempts = "sending", message.attempts + 1
        d = self.modem.send(message.to, message.text)
        d.addCallbacks(self._sent, self._failed, callbackArgs=(message,),
                       errbackArgs=(message,))

    def _audit(self, action, message, **detail):
        self.records.audit(action, message.user, call=message.call, message=message.id,
                           to=message.to, **detail)

    def _sent(self, references, message):
        self.sending = None
        message.state, message.references = "sent", list(references)
        for reference in references:
            self._by_reference.pop(reference, None)
            self._by_reference[reference] = message
            while len(self._by_reference) > REFERENCES_KEPT:
                self._by_reference.popitem(last=False)
        self._audit("SmsSent", message, parts=len(references))
        log.info("sms {message} sent to {to}", message=message.id, to=message.to)
        self._next()

    def _failed(self, failure, message):
        """The modem did not send it: again later if that may work (an
        SmsError that says so, a modem that did not answer), else failed.
        An error of the server's own is logged, and fails the message."""
        self.sending = None
        error = failure.value
        if not failure.check(ModemError):
            log.failure("sms {message}: sending failed inside the server", failure,
                        message=message.id)
        temporary = error.temporary if isinstance(error, SmsError) else isinstance(
            error, ModemError)
        if temporary and message.attempts <= self.retries:
            message.state = "waiting"
            log.warn("sms {message} to {to}: {error}; again in {s} s (attempt {n} of {max})",
                     message=message.id, to=message.to, error=error, s=self.retry_s,
                     n=message.attempts, max=self.retries + 1)
            self.clock.callLater(self.retry_s, self._again, message)
        else:
            message.state, message.error = "failed", str(error)
            self._audit("SmsFailed", message, error=str(error), attempts=message.attempts)
            log.error("sms {message} to {to} failed: {error}", message=message.id,
                      to=message.to, error=error)
        self._next()

    def _again(self, message):
        self.waiting.append(message)
        self._next()

    def _report(self, report):
        message = self._by_reference.get(report.reference)
        if message is None:
            log.info("sms: a delivery report for reference {reference} ({meaning}): not a "
                     "message of this run", reference=report.reference, meaning=report.meaning)
            return
        if report.outcome == "pending":
            log.info("sms {message}: {meaning}; the SMSC tries again", message=message.id,
                     meaning=report.meaning)
            return
        message.outcomes[report.reference] = report.outcome
        if report.outcome == "failed" and message.state != "failed":
            message.state, message.error = "failed", report.meaning
            self._audit("SmsNotDelivered", message, status=report.status,
                        meaning=report.meaning)
        elif message.state == "sent" and all(
                message.outcomes.get(r) == "delivered" for r in message.references):
            message.state = "delivered"
            self._audit("SmsDelivered", message)

    def _received(self, deliver):
        log.info("sms received from {sender}", sender=deliver.sender)
        self.records.audit("SmsReceived", "system", sender=deliver.sender, text=deliver.text,
                           sent_at=deliver.timestamp)
