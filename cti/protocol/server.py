# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_protocol -*-
"""The server side of the protocol: sessions, roles, monitors, events.

Three small pieces, as Twisted's AMP splits them:

- `Session` (a Protocol) cuts frames (framing.Framer), answers each
  request with exactly one response or error carrying its invoke id, and
  keeps the session's timers (log in within LOGIN_TIMEOUT_S; after that any
  frame at least every 3 heartbeat intervals).
- `Hub` knows the sessions, the services (services.Catalogue) and the
  monitors; `Hub.publish` delivers an event to every session monitoring
  the object, echoing the invoke id of the request that caused it to the
  session that sent that request.
- Handlers, registered by the components that own the objects (call
  model, ACD, flow routing), are plain functions ``handler(request,
  params)`` returning a result dict or a Deferred of one; they raise
  ProtocolError to refuse.

The services every server has are registered here: Login, Logout,
Heartbeat, MonitorStart, MonitorStop, Snapshot, GetServices.
"""
import functools
import itertools
import json
import re
import secrets
from dataclasses import dataclass

from twisted.internet import defer, protocol, task, threads
from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure

from cti.auth import hash_password, verify_password
from cti.logs import Throttle
from cti.protocol import bodies
from cti.protocol.framing import MAX_BODY, FrameError, Framer, Message, encode
from cti.protocol.gate import Gate, Refused
from cti.protocol.services import (
    COMMON_ERRORS,
    ROLES,
    Catalogue,
    Field,
    ProtocolError,
    Service,
)
from cti.statemachine import Table

log = Logger()

LOGIN_TIMEOUT_S = 30
HEARTBEAT_S = 10
#: A page of the snapshots of every object of a kind (Snapshot id "*"): at
#: most this many, and this many bytes of JSON (a frame holds 1 MiB).
PAGE_ITEMS = 500
PAGE_BYTES = MAX_BODY // 2
#: The largest frame body a session takes before it has logged in (a Login
#: is a few hundred bytes): what a stranger can make the server hold.
LOGIN_MAX_BODY = 4096
#: Requests one session may have outstanding (a flow server has one per
#: call at most; more is refused with too_many_requests).
MAX_PENDING = 4096
#: What a client may monitor and snapshot.
OBJECTS = ("device", "call", "queue", "agent", "session")
#: What only administrators may monitor and snapshot: the protocol
#: sessions (who is connected from where, doing what).
ADMIN_OBJECTS = ("session",)

#: A connection's life.  Admitted by the gate (cti.protocol.gate) or closed
#: at once; a Login moves it to `checking` while the password is checked
#: (one at a time), then to `active` or back.
SESSION = Table("session", initial="connecting", transitions=[
    ("connecting", "admitted", "anonymous"),
    ("anonymous", "login", "checking"),
    ("checking", "accepted", "active"),
    ("checking", "refused", "anonymous"),
    ("*", "close", "closed"),
])


def natural(object_id):
    """The sort key of an id with its numbers as numbers: c2 before c10,
    msiB1C2 before msiB1C10."""
    return tuple((0, int(part)) if part.isdigit() else (1, part)
                 for part in re.split(r"(\d+)", object_id) if part)


@functools.cache
def _dummy_hash():
    """A hash of no one's password, checked for an unknown user name so that
    the answer takes as long as for a known one (no way to tell which
    names exist from the time a refusal takes)."""
    return hash_password(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class User:
    name: str
    roles: frozenset
    password_hash: str


@dataclass
class Request:
    """What a handler gets besides its parameters."""

    hub: "Hub"
    session: "Session"
    invoke_id: int
    service: str

    @property
    def user(self):
        return self.session.user

    @property
    def role(self):
        return self.session.role

    @property
    def cause(self):
        """Pass as `cause=` to Hub.publish for events this request causes."""
        return (self.session, self.invoke_id)


class Hub:
    """Sessions, services and monitors of one server."""

    def __init__(self, clock, users=(), heartbeat_s=HEARTBEAT_S, gate=None):
        self.clock = clock
        self.users = {u.name: u for u in users}
        self.heartbeat_s = heartbeat_s
        self.gate = gate or Gate(clock)
        self.throttle = Throttle(clock)
        self.catalogue = Catalogue()
        self.sessions = set()
        self._session_ids = itertools.count(1)
        self._monitor_ids = itertools.count(1)
        self.monitors = {}            # monitor id -> (session, kind, object id)
        self._watchers = {}           # (kind, id) -> {monitor id}
        self.snapshots = {}           # kind -> callable(id) -> dict or None
        self.on_session_closed = []   # callables(session)
        self.on_session_login = []    # callables(session), once it is logged in
        self.listers = {}             # kind -> ids() of every object (Snapshot id "*")
        #: hidden(session, kind, id): None if the session may see the object,
        #: else why not (its owner's least privilege: cti.server.scope);
        #: event_hidden(session, body): whether an event about an object the
        #: session sees tells of one it may not (a call at a device).
        self.hidden = lambda session, kind, object_id: None
        self.event_hidden = lambda session, body: False
        #: refusal(error): the ProtocolError a handler's own error means to
        #: the client, or None (an internal error).  The server's edge gives
        #: it (cti.server.edge), so that its domain code raises its own errors;
        #: a code the service does not declare is an internal error still.
        self.refusal = lambda error: None
        self._register_core()
        self.provide_snapshots("session", self._session_snapshot, self._session_ids_now)

    def set_users(self, users):
        """The logins from now on (a reloaded configuration's): a user added
        may log in, one removed may not.  A session whose user was removed,
        or no longer has the role it logged in with, is refused every
        request from now on and ends on the next turn (`SessionClosed`
        saying why), once the request that reloaded has its answer; a
        session whose user stays in its role (a new password, new teams)
        goes on."""
        self.users = {u.name: u for u in users}
        if any(self.revoked(session) for session in self.sessions):
            self.clock.callLater(0, self._end_revoked)

    def revoked(self, session):
        """Why a logged-in session's user may no longer act in its role (a
        reload took the user, or the role, away), or None."""
        if session.state != "active":
            return None
        name, role = session.user.name, session.role
        user = self.users.get(name)
        if user is None:
            return f"user {name} removed from the configuration"
        if role not in user.roles:
            return f"role {role} taken away from user {name} by the configuration"
        return None

    def _end_revoked(self):
        for session in list(self.sessions):
            why = self.revoked(session)
            if why is not None:
                session.close(why)

    # -- objects ---------------------------------------------------------
    def provide_snapshots(self, kind, snapshot, ids=None):
        """The owner of a kind of object says how to describe one by id
        (None if no such object), and `ids()` lists them (for id "*")."""
        if kind not in OBJECTS:
            raise ValueError(f"unknown object kind {kind!r}")
        self.snapshots[kind] = snapshot
        if ids is not None:
            self.listers[kind] = ids

    def page(self, kind, session=None, after=None):
        """One page of the snapshots of every object of the kind that
        `session` (if given) may see, in the owner's order (configuration
        order; calls as they came), from the object after `after` (one that
        has gone meanwhile: after where its id would be, numbers in ids
        read as numbers, c2 before c10): (snapshots, the id to continue
        after, or None at the end).  A page holds at most PAGE_ITEMS
        snapshots and PAGE_BYTES of JSON, so that it fits in a frame
        however many objects there are."""
        lister = self.listers.get(kind)
        ids = list(lister() if lister else ())
        if after is not None:
            if after in ids:
                ids = ids[ids.index(after) + 1:]
            else:
                ids = [i for i in ids if natural(i) > natural(after)]
        page, size, last = [], 0, None
        for object_id in ids:
            if session is not None and self.hidden(session, kind, object_id) is not None:
                continue
            snap = self.snapshots[kind](object_id)
            if snap is None:
                continue
            cost = len(json.dumps(snap, ensure_ascii=False).encode())
            if page and (len(page) >= PAGE_ITEMS or size + cost > PAGE_BYTES):
                return page, last
            page.append(snap)
            size, last = size + cost, object_id
        return page, None

    def snapshot(self, kind, object_id):
        """The snapshot of one object (no_such_object if there is none);
        every object of a kind comes a page at a time (`page`)."""
        getter = self.snapshots.get(kind)
        snap = getter(object_id) if getter else None
        if snap is None:
            raise ProtocolError("no_such_object", f"no {kind} {object_id!r}",
                                object=kind, id=object_id)
        return snap

    def _session_snapshot(self, object_id):
        session = next((s for s in self.sessions if str(s.id) == object_id), None)
        return None if session is None else session.snapshot()

    def _session_ids_now(self):
        return [str(s.id) for s in sorted(self.sessions, key=lambda s: s.id)]

    # -- events ----------------------------------------------------------
    def publish(self, kind, object_id, event, body=None, cause=None):
        """Deliver `event` about one object to every session monitoring it
        (or monitoring every object of its kind, id "*")."""
        body = dict(body or {})
        for key in ((kind, object_id), (kind, "*")):
            for monitor_id in sorted(self._watchers.get(key, ())):
                session = self.monitors[monitor_id][0]
                why = self.hidden(session, kind, object_id)
                if why is not None:
                    if key[1] != "*":         # it was visible when started: no longer
                        self._end_monitor(monitor_id, why)
                    continue
                if kind != "call" and self.event_hidden(session, body):
                    continue
                invoke_id = cause[1] if cause and cause[0] is session else 0
                session.send_event(event, {**body, "monitor": monitor_id}, invoke_id)

    def send_event(self, session, event, body=None, invoke_id=0):
        """An event for one session (e.g. RouteRequest to a flow server)."""
        session.send_event(event, dict(body or {}), invoke_id)

    def log_from(self, session, topic, level, message, **fields):
        """Log what a client's input caused, at most Throttle's share per
        source address and kind (a flood of bad logins cannot fill the
        disk); how many were left out is said with the next one logged."""
        suppressed = self.throttle(session.source, topic)
        if suppressed is None:
            return
        if suppressed:
            message += " ({suppressed} more of these from {source} not logged)"
        log.emit(level, message, suppressed=suppressed, source=session.source, **fields)

    # -- sessions --------------------------------------------------------
    def session_opened(self, session):
        session.id = next(self._session_ids)
        self.sessions.add(session)

    def session_closed(self, session):
        if session not in self.sessions:
            return
        self.sessions.discard(session)
        for monitor_id in [m for m, (s, _, _) in self.monitors.items() if s is session]:
            self._drop_monitor(monitor_id)
        self.publish("session", str(session.id), "SessionEnded",
                     {**session.snapshot(), "reason": session.close_reason})
        self.drop_monitors("session", str(session.id))
        self._tell(self.on_session_closed, session, "session-closed")

    @staticmethod
    def _tell(callbacks, session, what):
        """Call each of `callbacks` with the session; one failing is logged
        and stops neither the others nor the session."""
        for callback in list(callbacks):
            try:
                callback(session)
            except Exception:
                log.failure("{what} callback failed for session {id}", what=what,
                            id=session.id)

    def close_all(self, reason):
        """End every session with `SessionClosed` `reason` (the server stops)."""
        for session in list(self.sessions):
            session.close(reason)

    def _end_monitor(self, monitor_id, why):
        """A monitor whose object the session may no longer see (a call
        waiting in the agent's queue, answered by another), or that is
        gone with a reason: it ends, and the session is told
        (MonitorEnded)."""
        session, kind, object_id = self.monitors[monitor_id]
        self._drop_monitor(monitor_id)
        session.send_event("MonitorEnded", {"monitor": monitor_id, "object": kind,
                                            "id": object_id, "reason": why})

    def drop_monitors(self, kind, object_id, reason=None):
        """The object is gone (a call ended, its CallCleared published): its
        monitors end with it, silently (monitors of `*` go on); with a
        `reason` (a queue a reload removed), each session is told
        (MonitorEnded)."""
        for monitor_id in list(self._watchers.get((kind, object_id), ())):
            if reason is None:
                self._drop_monitor(monitor_id)
            else:
                self._end_monitor(monitor_id, reason)

    def _drop_monitor(self, monitor_id):
        session, kind, object_id = self.monitors.pop(monitor_id)
        session.monitors -= 1
        watchers = self._watchers.get((kind, object_id))
        if watchers:
            watchers.discard(monitor_id)
            if not watchers:
                del self._watchers[(kind, object_id)]

    def dispatch(self, session, invoke_id, body):
        """Run one request; returns a Deferred of the result dict.  It fails
        with the handler's own error: the session turns that into what the
        client gets (`refused`)."""
        try:
            bodies.check(body)
        except bodies.BodyError as e:
            raise ProtocolError(e.code, str(e),
                                **({"field": e.field} if e.field else {})) from None
        name = body.get("service")
        if name is None:
            raise ProtocolError("missing_field", "request has no 'service' field", field="service")
        if not isinstance(name, str):
            raise ProtocolError("invalid_field", "'service' must be a string", field="service")
        service, handler = self.catalogue.get(name)
        active = session.state == "active"
        if not active and not service.before_login:
            raise ProtocolError("not_logged_in", f"{name}: log in first")
        if active and not service.before_login and session.role not in service.roles:
            raise ProtocolError("forbidden", f"{name} is not allowed for role {session.role!r} "
                                f"(allowed: {', '.join(sorted(service.roles))})")
        revoked = self.revoked(session) if active and not service.before_login else None
        if revoked is not None:
            raise ProtocolError("forbidden", f"{name}: {revoked}: this session ends")
        params = body.get("params", {})
        if not isinstance(params, dict):
            raise ProtocolError("invalid_field", f"{name}: 'params' must be an object",
                                field="params")
        extra = sorted(set(body) - {"service", "params"})
        if extra:
            raise ProtocolError("invalid_field", f"{name}: unknown top-level field {extra[0]!r} "
                                "(parameters go in 'params')", field=extra[0])
        params = service.check(params)
        return defer.maybeDeferred(handler, Request(self, session, invoke_id, name), params)

    def refused(self, error, name):
        """The ProtocolError a handler's own `error` means to the client
        (`refusal`), if its code is one the service `name` declares (or any
        request may get); else None: a failure inside the server."""
        refusal = self.refusal(error)
        if refusal is None:
            return None
        declared = self.catalogue.get(name)[0].errors if name in self.catalogue else ()
        return refusal if refusal.code in declared or refusal.code in COMMON_ERRORS else None

    # -- the core services ---------------------------------------------
    def _register_core(self):
        everyone = set(ROLES)
        add = self.catalogue.add
        add(Service("Login", everyone, before_login=True, fields={
            "user": Field(str), "password": Field(str),
            "role": Field(str, choices=ROLES),
            "client": Field(str, required=False, default="")},
            errors=("already_logged_in", "bad_credentials", "locked_out", "invalid_state")),
            self._login)
        add(Service("Logout", everyone, errors=()), self._logout)
        add(Service("Heartbeat", everyone, before_login=True, errors=()), self._heartbeat)
        add(Service("GetServices", everyone, errors=()), self._services)
        add(Service("MonitorStart", everyone, fields={
            "object": Field(str, choices=OBJECTS), "id": Field(str)},
            errors=("no_such_object",)), self._monitor_start)
        add(Service("MonitorStop", everyone, fields={"monitor": Field(int)},
                    errors=("no_such_object",)), self._monitor_stop)
        add(Service("Snapshot", everyone, fields={
            "object": Field(str, choices=OBJECTS), "id": Field(str),
            "after": Field(str, required=False)}, errors=("no_such_object",)),
            self._snapshot)
        add(Service("GetLoginLockouts", {"admin"}, errors=()), self._lockouts)
        add(Service("UnlockLogin", {"admin"}, fields={
            "user": Field(str, required=False), "source": Field(str, required=False)},
            errors=()), self._unlock)

    def _verify(self, stored, password):
        """A Deferred of the password check.  scrypt takes some 50 ms of CPU
        on purpose: with a reactor that has a thread pool it runs there, so
        400 agents logging in at a shift's start do not freeze the calls."""
        pool = getattr(self.clock, "getThreadPool", None)
        if pool is None:                       # a test's task.Clock: at once
            return defer.succeed(verify_password(stored, password))
        return threads.deferToThreadPool(self.clock, pool(), verify_password, stored, password)

    def _login(self, request, params):
        session, name = request.session, params["user"]
        if session.state == "active":
            raise ProtocolError("already_logged_in",
                                f"session is logged in as {session.user.name}")
        if session.state == "checking":
            raise ProtocolError("invalid_state", "a Login is being checked on this session "
                                "already: wait for its answer")
        try:
            self.gate.check(name, session.source)
        except Refused as e:
            self.log_from(session, "login locked", LogLevel.warn,
                          "login for {user} as {role} from {source} refused: locked out",
                          user=name, role=params["role"])
            raise ProtocolError("locked_out", str(e), retryAfterS=e.retry_after_s) from None
        session.machine.fire("login")
        user = self.users.get(name)
        d = self._verify(user.password_hash if user else _dummy_hash(), params["password"])
        return d.addCallback(self._checked, request, params, user)

    def _checked(self, good, request, params, user):
        """The password checked: the session is active, or the refusal is
        answered after the gate's delay (the session stays `checking`
        meanwhile: no other Login on it)."""
        session, name, role = request.session, params["user"], params["role"]
        if session.state != "checking":
            raise ProtocolError("not_logged_in", "the session closed during the login")
        try:                          # locked while the password was checked: still locked
            self.gate.check(name, session.source)
        except Refused as e:
            session.machine.fire("refused")
            raise ProtocolError("locked_out", str(e), retryAfterS=e.retry_after_s) from None
        if good and user is not None and role in user.roles:
            session.machine.fire("accepted", user=name, role=role)
            self.gate.succeeded(name)
            session.logged_in(user, role, params["client"])
            log.info("session {id}: {user} logged in as {role} from {source}", id=session.id,
                     user=user.name, role=role, source=session.source)
            self._tell(self.on_session_login, session, "session-login")
            self.publish("session", str(session.id), "SessionLoggedIn", session.snapshot())
            return {"session": session.id, "role": session.role, "protocol": 1,
                    "heartbeatS": self.heartbeat_s, "services": self._allowed(session.role)}
        delay = self.gate.failed(name, session.source)
        self.log_from(session, "login refused", LogLevel.info,
                      "login refused for {user} as {role} from {source}", user=name, role=role)

        def refuse():
            if session.state == "checking":
                session.machine.fire("refused")
            raise ProtocolError("bad_credentials",
                                "unknown user, wrong password or role not granted")
        if delay <= 0:
            return refuse()
        return task.deferLater(self.clock, delay, refuse)

    def _allowed(self, role):
        return [s.name for s in sorted(self.catalogue.services(), key=lambda s: s.name)
                if role in s.roles]

    def _logout(self, request, params):
        self.clock.callLater(0, request.session.close, "logged out")
        return {}

    def _lockouts(self, request, params):
        return {"lockouts": self.gate.lockouts()}

    def _unlock(self, request, params):
        if params["user"] is None and params["source"] is None:
            raise ProtocolError("missing_field", "UnlockLogin: name a user, a source address "
                                "or both", field="user")
        lifted = self.gate.unlock(request.user.name, params["user"], params["source"])
        log.info("{by} lifted login lockouts: {lifted}", by=request.user.name, lifted=lifted)
        return {"unlocked": lifted}

    def _heartbeat(self, request, params):
        return {"time": self.clock.seconds()}

    def _services(self, request, params):
        return {"services": self._allowed(request.role)}

    def _monitor_start(self, request, params):
        kind, object_id = params["object"], params["id"]
        if object_id == "*" and request.role not in ("supervisor", "admin"):
            raise ProtocolError("forbidden", f"monitoring every {kind} needs the supervisor "
                                "or admin role")
        self._check_visible(request.session, kind, object_id)
        more = {}
        if object_id == "*":
            snap, more["next"] = self.page(kind, request.session)
        else:
            snap = self.snapshot(kind, object_id)
        monitor_id = next(self._monitor_ids)
        self.monitors[monitor_id] = (request.session, kind, object_id)
        request.session.monitors += 1
        self._watchers.setdefault((kind, object_id), set()).add(monitor_id)
        return {"monitor": monitor_id, "object": kind, "id": object_id, "snapshot": snap,
                **more}

    def _monitor_stop(self, request, params):
        entry = self.monitors.get(params["monitor"])
        if entry is None or entry[0] is not request.session:
            raise ProtocolError("no_such_object", f"no monitor {params['monitor']} in this "
                                "session", object="monitor", id=params["monitor"])
        self._drop_monitor(params["monitor"])
        return {}

    def _snapshot(self, request, params):
        if params["id"] == "*" and request.role not in ("supervisor", "admin"):
            raise ProtocolError("forbidden", "Snapshot of every object (id '*') is for "
                                "supervisors and administrators", field="id")
        kind, object_id, after = params["object"], params["id"], params["after"]
        self._check_visible(request.session, kind, object_id)
        if object_id != "*":
            if after is not None:
                raise ProtocolError("invalid_field", "Snapshot: 'after' pages through id "
                                    "'*' only", field="after")
            return {"object": kind, "id": object_id,
                    "snapshot": self.snapshot(kind, object_id)}
        snaps, next_id = self.page(kind, request.session, after)
        return {"object": kind, "id": object_id, "snapshot": snaps, "next": next_id}

    def _check_visible(self, session, kind, object_id):
        if kind in ADMIN_OBJECTS and session.role != "admin":
            raise ProtocolError("forbidden", f"{kind}s are for administrators (role admin)",
                                object=kind, id=object_id)
        why = self.hidden(session, kind, object_id)
        if why is not None:
            raise ProtocolError("forbidden", why, object=kind, id=object_id)


class Session(protocol.Protocol):
    """One client connection.  `source`: the peer's address (its host),
    what the gate counts connections and failed logins by."""

    def __init__(self, hub, source="local"):
        self.hub = hub
        self.source = source
        self.machine = SESSION.machine(hub.clock, on_change=self._changed)
        self.framer = Framer(max_body=LOGIN_MAX_BODY)
        self.user = None
        self.role = None
        self.client = ""
        self.id = None
        self._pending = set()          # invoke ids being served
        self._timer = None
        self.opened_at = hub.clock.seconds()
        self.last_frame_at = None      # when the client last sent anything
        self.requests = 0              # requests served (answered or refused)
        self.monitors = 0              # monitors it has now
        self.close_reason = None

    @property
    def state(self):
        return self.machine.state

    @property
    def closed(self):
        return self.machine.state == "closed"

    def snapshot(self):
        """The session as `cti show sessions` lists it (protocol.md, "Session
        snapshot")."""
        logins = [t.at for t in self.machine.history if t.event == "accepted"]
        return {"session": str(self.id), "user": self.user.name if self.user else None,
                "role": self.role, "client": self.client, "source": self.source,
                "state": self.state, "openedAt": self.opened_at,
                "loggedInAt": logins[-1] if logins else None,
                "lastFrameAt": self.last_frame_at, "requests": self.requests,
                "pending": len(self._pending), "monitors": self.monitors}

    # -- life ------------------------------------------------------------
    def connectionMade(self):
        refusal = self.hub.gate.admit(self.source)
        if refusal is not None:
            self.machine.fire("close", reason=refusal)
            self.transport.write(encode(Message("event", 0, {
                "event": "SessionClosed", "reason": f"connection refused: {refusal}"})))
            self.transport.loseConnection()
            self.hub.log_from(self, "connection refused", LogLevel.warn,
                              "connection from {source} refused: {refusal}", refusal=refusal)
            return
        self.machine.fire("admitted")
        self.hub.session_opened(self)
        self._arm(LOGIN_TIMEOUT_S, f"no login within {LOGIN_TIMEOUT_S} s")

    def _changed(self, machine, transition):
        """While a Login is checked (its delay included) the login timer
        waits; refused, the session has LOGIN_TIMEOUT_S again to log in."""
        if transition.target == "checking" and self._timer and self._timer.active():
            self._timer.cancel()
        elif transition.event == "refused":
            self._arm(LOGIN_TIMEOUT_S, f"no login within {LOGIN_TIMEOUT_S} s")

    def logged_in(self, user, role, client):
        self.user, self.role, self.client = user, role, client
        self.hub.gate.authenticated(self.source)
        self.framer.max_body = MAX_BODY
        self._arm_idle()

    def _arm(self, seconds, reason):
        if self._timer and self._timer.active():
            self._timer.cancel()
        self._timer = self.hub.clock.callLater(seconds, self.close, reason)

    def _arm_idle(self):
        limit = 3 * self.hub.heartbeat_s
        self._arm(limit, f"no frame for {limit} s (heartbeat every {self.hub.heartbeat_s} s)")

    def close(self, reason):
        if self.closed:
            return
        self.send_event("SessionClosed", {"reason": reason})
        self.hub.log_from(self, "session closed", LogLevel.info,
                          "session {id} from {source} closed: {reason}", id=self.id,
                          reason=reason)
        self.transport.loseConnection()
        self._closed(reason)

    def connectionLost(self, reason=protocol.connectionDone):
        self._closed("connection lost")

    def _closed(self, reason):
        if self.closed:
            return
        was = self.state
        self.close_reason = reason
        self.machine.fire("close", reason=reason)
        if self._timer and self._timer.active():
            self._timer.cancel()
        if was != "connecting":                       # admitted by the gate
            self.hub.gate.closed(self.source, authenticated=was == "active")
        self.hub.session_closed(self)

    # -- frames in ---------------------------------------------------------
    def dataReceived(self, data):
        if self.closed:
            return
        try:
            frames = self.framer.feed(data)
        except FrameError as e:
            self._send(Message("error", 0, ProtocolError(e.code, str(e)).body()))
            self.close(f"malformed frame: {e}")
            return
        self.last_frame_at = self.hub.clock.seconds()
        if self.state == "active":
            self._arm_idle()
        for invoke_id, item in frames:
            if self.closed:
                return
            self._serve(invoke_id, item)

    def _serve(self, invoke_id, item):
        if isinstance(item, FrameError):
            self._send_error(invoke_id, ProtocolError(item.code, str(item)))
            return
        if item.kind != "request":
            self._send_error(invoke_id, ProtocolError(
                "bad_kind", f"clients send requests (kind 1), not {item.kind}s"))
            return
        if invoke_id == 0:
            self._send_error(0, ProtocolError("invalid_field", "invoke_id 0 is reserved for "
                                              "events; number requests from 1",
                                              field="invoke_id"))
            return
        if invoke_id in self._pending:
            self._send_error(invoke_id, ProtocolError(
                "duplicate_invoke_id", f"request {invoke_id} is still being served"))
            return
        if len(self._pending) >= MAX_PENDING:
            self._send_error(invoke_id, ProtocolError(
                "too_many_requests", f"this session has {len(self._pending)} requests "
                "outstanding, the most allowed: wait for answers before sending more"))
            return
        service = item.body.get("service")
        service = service if service in self.hub.catalogue else None   # echoed if known
        self.requests += 1
        try:
            d = self.hub.dispatch(self, invoke_id, item.body)
        except ProtocolError as e:
            self._send_error(invoke_id, e, service)
            return
        except Exception:
            self._internal_error(Failure(), invoke_id, service)
            return
        self._pending.add(invoke_id)
        d.addCallbacks(self._answer, self._refuse, callbackArgs=(invoke_id, service),
                       errbackArgs=(invoke_id, service))
        d.addErrback(self._internal_error, invoke_id, service)

    def _answer(self, result, invoke_id, service):
        self._pending.discard(invoke_id)
        self._send(Message("response", invoke_id, {"service": service, "result": result or {}}),
                   strict=True)

    def _refuse(self, failure, invoke_id, service):
        error = failure.value if failure.check(ProtocolError) \
            else self.hub.refused(failure.value, service)
        if error is None:
            return failure                        # to _internal_error
        self._pending.discard(invoke_id)
        self._send_error(invoke_id, error, service)

    def _internal_error(self, failure, invoke_id, service):
        """Whatever failed while serving a request (the handler, or the
        answer that could not be written): the client gets internal_error
        with an incident id, the log the traceback under the same id, and
        the session goes on."""
        self._pending.discard(invoke_id)
        incident = secrets.token_hex(4)
        fields = dict(incident=incident, service=service, id=self.id, invoke_id=invoke_id,
                      error=failure.getErrorMessage())
        if self.hub.throttle(self.source, "incident traceback") is not None:
            log.failure("incident {incident}: {service} (session {id}, invoke {invoke_id}) "
                        "failed", failure, **fields)
        else:                         # the id is always logged; the traceback a few a minute
            log.critical("incident {incident}: {service} (session {id}, invoke {invoke_id}) "
                         "failed: {error} (more tracebacks of {source} than are logged)",
                         source=self.source, **fields)
        self._send_error(invoke_id, ProtocolError(
            "internal_error", f"{service or 'the request'} failed inside the server "
            f"(incident {incident}, logged there)", incident=incident), service)

    # -- frames out --------------------------------------------------------
    def _send_error(self, invoke_id, error, service=None):
        self._send(Message("error", invoke_id, error.body(service)))

    def send_event(self, event, body, invoke_id=0):
        self._send(Message("event", invoke_id, {"event": event, **body}))

    def _send(self, message, strict=False):
        """Write one frame.  A message that cannot be encoded is a bug of
        the server's, never the client's: it is logged and dropped (an
        event), or raised to the caller (`strict`: a response, which
        becomes internal_error), and never ends the session."""
        if self.transport is None or self.closed:
            return
        try:
            data = encode(message)
        except (ValueError, TypeError, RecursionError):
            if strict:
                raise
            self.hub.log_from(self, "unencodable", LogLevel.critical,
                              "session {id}: a {kind} could not be encoded: dropped",
                              log_failure=Failure(), id=self.id, kind=message.kind)
            return
        self.transport.write(data)


class SessionFactory(protocol.Factory):
    def __init__(self, hub):
        self.hub = hub

    def buildProtocol(self, addr):
        session = Session(self.hub, source_of(addr))
        session.factory = self
        session.peer = str(addr)
        return session


def source_of(address):
    """What the gate counts a peer by: its host address (a TCP or TLS
    peer), "unix" for a Unix socket, "local" for none (in-memory tests)."""
    if address is None:
        return "local"
    host = getattr(address, "host", None)
    return host if isinstance(host, str) else "unix"
