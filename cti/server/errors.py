# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_errors -*-
"""The one error hierarchy of the call layer: what a request is refused with.

Domain code (the call core and every feature) raises these, never the
protocol's `ProtocolError`; the protocol edge (cti.server.edge) turns each
into the error a client gets, in one place::

    CallError                   a request refused; `code` names the condition
    ├── NoSuchObject            no_such_object: no such call, agent, device...
    ├── InvalidState            invalid_state: not now (the object's state)
    ├── Forbidden               forbidden: not this user's to act on
    ├── InvalidField            invalid_field: a value given is wrong
    ├── MissingField            missing_field: a value needed is not given
    ├── ResourceBusy            resource_busy: nothing free to do it with
    ├── QueueFull               queue_full
    ├── CallFailed              call_failed: a call placed did not connect
    │   └── OutboundFailed      ... said by the channel that placed it
    ├── Barred                  barred: the class of service refuses the number
    ├── TalkError               resource_busy: no conference for the parties
    ├── NoSimulator             no_simulator: real boards, no simulated far end
    ├── ACDError                the ACD's refusals, each with its condition
    ├── InvalidConfig           invalid_config: a configuration file is wrong
    ├── NeedsRestart            needs_restart: a change only a restart applies
    └── ReloadFailed            internal_error: a reload failed inside the server

A condition's name is the protocol's error code of the same meaning
(docs/protocol.md, "Errors"): the call layer and its clients share one
vocabulary, so the edge passes it on as it is, and a test checks that
every code raised here is one the protocol documents.

`detail` (keyword arguments) travels to the client with the message:
`field` names the request field at fault, `object` and `id` the object,
`reason` why a call failed or was barred; a reload's refusals say `file`
and `key`, `keys`, or `objects`; a reload that failed inside the server,
its `incident`.
"""


class CallError(Exception):
    """A request the call layer refuses.  The message says what was wrong
    and where, for the person reading it; `detail` says it for programs."""

    code = "invalid_state"

    def __init__(self, message, **detail):
        super().__init__(message)
        self.detail = detail


class NoSuchObject(CallError):
    code = "no_such_object"


class InvalidState(CallError):
    code = "invalid_state"


class Forbidden(CallError):
    """The user may not act on that object (least privilege:
    cti.server.scope)."""

    code = "forbidden"


class InvalidField(CallError):
    code = "invalid_field"


class MissingField(CallError):
    code = "missing_field"


class ResourceBusy(CallError):
    code = "resource_busy"


class QueueFull(CallError):
    code = "queue_full"


class CallFailed(CallError):
    """A call placed for the request did not connect: `reason` (busy,
    no_answer, glare, not_ready...) says why."""

    code = "call_failed"

    def __init__(self, message, reason, **detail):
        super().__init__(message, reason=reason, **detail)
        self.reason = reason


class OutboundFailed(CallFailed):
    """The channel (or agent) a call was placed on says it did not connect."""

    def __init__(self, channel, reason):
        super().__init__(f"{channel}: outbound call failed: {reason}", reason)
        self.channel = channel


class Barred(CallError):
    """A call out refused by the class of service: `reason` is one of
    barred, not_allowed, hours, concurrent, daily, site_concurrent,
    site_daily; the message says it for people."""

    code = "barred"

    def __init__(self, reason, message, **detail):
        super().__init__(message, reason=reason, **detail)
        self.reason = reason


class TalkError(CallError):
    """The arrangement of who hears whom cannot be made (no conference
    room for the parties, a bad role)."""

    code = "resource_busy"


class NoSimulator(CallError):
    """The server drives real boards: there is no simulated telephone
    company to play (cti.server.simulation)."""

    code = "no_simulator"


class ACDError(CallError):
    """A request the ACD refuses; `code` names the condition (one of
    CODES)."""

    CODES = ("invalid_state", "invalid_field", "no_such_object", "queue_empty",
             "queue_full", "resource_busy")

    def __init__(self, code, message, **detail):
        if code not in self.CODES:
            raise ValueError(f"not a condition of the ACD: {code!r}")
        super().__init__(message, **detail)
        self.code = code


def exactly_one(service, params, names, field):
    """The one of `names` given in `params` (not None), else MissingField
    (none given) or InvalidField (several), blaming `field`."""
    given = [name for name in names if params[name] is not None]
    if len(given) != 1:
        error = MissingField if not given else InvalidField
        raise error(f"{service}: give exactly one of {', '.join(names[:-1])} and {names[-1]}",
                    field=field)
    return given[0]


class InvalidConfig(CallError):
    """A configuration file that is wrong (a reload's): the message is the
    one the server gives at its start (cti.config.ConfigError); `file` and
    `key` say where."""

    code = "invalid_config"


class NeedsRestart(CallError):
    """A configuration that changes what the server takes only at its start
    (the boards, the ports...): `keys` names them (cti.server.reload)."""

    code = "needs_restart"


class ReloadFailed(CallError):
    """A reload that failed inside the server (a fault of the server's,
    not of the file): the log has the traceback under `incident`, and
    the audit log the failure (cti.server.reload)."""

    code = "internal_error"
