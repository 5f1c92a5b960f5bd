# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_protocol -*-
"""The catalogue of services: who may call what, with which fields.

A service is declared once, with the roles allowed to call it and its
fields, each with a type and whether it is required::

    SetAgentState = Service(
        "SetAgentState", roles={"agent", "supervisor"},
        fields={"agent": Field(str), "state": Field(str, choices=AGENT_STATES),
                "reason": Field(str, required=False)})

`Service.check(params)` returns the parameters with defaults filled in, or
raises `ProtocolError` naming the field that is missing or wrong, so every
handler starts from parameters it can trust.  The same declarations are
what docs/protocol.md documents (a test keeps the two in step).

A service also declares the error codes its handler may answer
(`errors`), besides COMMON_ERRORS, which any request may get from the
edge before its handler runs (the frame, the body, the session, the
fields)::

    HoldCall = Service("HoldCall", CALLERS, fields={"call": Field(str)},
                       errors=("no_such_object", "invalid_state"))

The declaration is a promise to client writers, and it is kept: the test
suite records every error any session sends and fails the run on a code
a service did not declare (tests/conftest.py), and docs/protocol.md's
"Errors:" of each service names exactly these (tests/test_protocol_doc.py).
"""
from dataclasses import dataclass, field

ROLES = ("flow", "agent", "supervisor", "admin")
#: Who may work on calls (an agent its own; a supervisor or admin any it sees).
CALLERS = frozenset({"agent", "supervisor", "admin"})
#: Who may watch and steer others: supervisors and administrators.
SUPERVISORS = frozenset({"supervisor", "admin"})
#: The longest a flow server may keep a call without a request (KeepCall),
#: in seconds: a bound on the dead air a caller may hear.
KEEP_CALL_MAX_S = 300.0

#: Error codes, as the protocol documents them.
ERRORS = {
    "malformed_frame": "the bytes are not a frame (the connection is closed)",
    "unsupported_version": "the frame's protocol version is not supported",
    "bad_json": "the frame body is not a UTF-8 JSON object",
    "bad_kind": "clients send requests only",
    "unknown_service": "no service of that name",
    "missing_field": "a required field is absent",
    "invalid_field": "a field has the wrong type or value",
    "duplicate_invoke_id": "another request with this invoke id is still outstanding",
    "too_many_requests": "the session has the most requests outstanding it may have",
    "not_logged_in": "log in first",
    "already_logged_in": "this session is logged in already",
    "bad_credentials": "unknown user, wrong password or role not granted",
    "locked_out": "too many failed logins for this user or address: wait `retryAfterS`",
    "forbidden": "the session's role may not call this service",
    "no_such_object": "the device, call, queue, agent or monitor does not exist",
    "invalid_state": "the object is not in a state that allows this",
    "resource_busy": "no resource is free for this request",
    "queue_full": "the queue has its max_length of callers waiting",
    "queue_empty": "the queue has no agent logged in who could take the call",
    "call_failed": "a call out did not connect (busy, no answer...): `reason` says why",
    "barred": "the number may not be dialled by this caller now (its class of service): "
              "`reason` says why",
    "no_simulator": "the server drives real boards: there is no simulated far end to play",
    "invalid_config": "the configuration file is wrong: `file` and `key` say where (Reload)",
    "needs_restart": "the configuration changes what only a restart applies: `keys` names "
                     "them (Reload)",
    "internal_error": "the server failed; the message says how",
}


#: What any request may be answered, whatever its service: refused at the
#: edge (the frame, its body, the session's state and role, the fields'
#: types and limits) or failed inside (internal_error).  A service's own
#: `errors` are what its handler adds.
COMMON_ERRORS = ("missing_field", "invalid_field", "unknown_service", "not_logged_in",
                 "forbidden", "duplicate_invoke_id", "too_many_requests", "internal_error",
                 "bad_json", "malformed_frame", "unsupported_version", "bad_kind")


class ProtocolError(Exception):
    """A request refused: carries the protocol error code and a message
    that tells the client what was wrong and where."""

    def __init__(self, code, message, **detail):
        if code not in ERRORS:
            raise ValueError(f"unknown protocol error code {code!r}")
        self.code = code
        self.detail = detail
        super().__init__(message)

    def body(self, service=None):
        body = {"code": self.code, "message": str(self)}
        if service:
            body["service"] = service
        body.update(self.detail)
        return body


_TYPE_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean",
               dict: "object", list: "array"}
#: The most a field of each type may hold unless its declaration says
#: otherwise: characters of a string, items of an array, keys of an object.
#: (Every body's own limits, for nesting and numbers: cti.protocol.bodies.)
MAX_LEN = {str: 256, list: 64, dict: 256}
_LEN_UNITS = {str: "characters", list: "items", dict: "keys"}


@dataclass(frozen=True)
class Field:
    type: type
    required: bool = True
    default: object = None
    choices: tuple = ()
    doc: str = ""
    max_len: int | None = None        # None: MAX_LEN of the type

    def check(self, service, name, value):
        ok = isinstance(value, self.type) and not (self.type is int and isinstance(value, bool))
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            ok, value = True, float(value)
        if not ok:
            raise ProtocolError(
                "invalid_field", f"{service}: field {name!r} must be a "
                f"{_TYPE_NAMES.get(self.type, self.type.__name__)}, not {json_type(value)}",
                field=name)
        limit = self.max_len or MAX_LEN.get(self.type)
        if limit is not None and len(value) > limit:
            raise ProtocolError(
                "invalid_field", f"{service}: field {name!r} has {len(value):,} "
                f"{_LEN_UNITS[self.type]}, over the {limit:,} allowed", field=name)
        if self.choices and value not in self.choices:
            raise ProtocolError(
                "invalid_field", f"{service}: field {name!r} must be one of "
                f"{', '.join(map(str, self.choices))}; got {value!r}", field=name)
        return value


def json_type(value):
    for t, name in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"),
                    (dict, "object"), (list, "array")):
        if isinstance(value, t):
            return name
    return "null" if value is None else type(value).__name__


@dataclass(frozen=True)
class Service:
    name: str
    roles: frozenset
    fields: dict = field(default_factory=dict)
    doc: str = ""
    before_login: bool = False        # Login and Heartbeat only
    #: The error codes the handler may answer, besides COMMON_ERRORS.
    errors: tuple = ()

    def __post_init__(self):
        bad = set(self.roles) - set(ROLES)
        if bad:
            raise ValueError(f"{self.name}: unknown roles {sorted(bad)}")
        object.__setattr__(self, "roles", frozenset(self.roles))
        unknown = [code for code in self.errors if code not in ERRORS]
        if unknown:
            raise ValueError(f"{self.name}: unknown error codes {unknown}")
        common = [code for code in self.errors if code in COMMON_ERRORS]
        if common:
            raise ValueError(f"{self.name}: {common} may answer any request: they are "
                             "COMMON_ERRORS, not the service's own")
        object.__setattr__(self, "errors", tuple(self.errors))

    def may_answer(self, code):
        """Whether this service's requests may be refused with `code`."""
        return code in COMMON_ERRORS or code in self.errors

    def check(self, params):
        """Validated parameters (defaults filled in) or ProtocolError."""
        unknown = sorted(set(params) - set(self.fields))
        if unknown:
            raise ProtocolError("invalid_field",
                                f"{self.name}: unknown field {unknown[0]!r} (known: "
                                f"{', '.join(sorted(self.fields)) or 'none'})", field=unknown[0])
        out = {}
        for name, spec in self.fields.items():
            if name not in params or params[name] is None:
                if spec.required:
                    raise ProtocolError("missing_field",
                                        f"{self.name}: required field {name!r} is missing",
                                        field=name)
                out[name] = spec.default
            else:
                out[name] = spec.check(self.name, name, params[name])
        return out


class Catalogue:
    """Services by name; each component registers its own."""

    def __init__(self):
        self._services = {}

    def add(self, service, handler):
        if service.name in self._services:
            raise ValueError(f"service {service.name} is registered twice")
        self._services[service.name] = (service, handler)

    def get(self, name):
        try:
            return self._services[name]
        except KeyError:
            shown = repr(name) if len(name) <= 64 else repr(name[:60]) + "..."
            raise ProtocolError("unknown_service", f"no service named {shown}") from None

    def __contains__(self, name):
        return isinstance(name, str) and name in self._services

    def names(self):
        return sorted(self._services)

    def services(self):
        return [s for s, _ in self._services.values()]
