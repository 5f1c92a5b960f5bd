# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_reload -*-
"""What a new configuration changes, and whether the running server can
take it without a restart.

Two configurations (cti.server.config.ServerConfig) are compared field by
field.  Every field is declared here once, in FIELDS, with the key of the
file it comes from and how a change to it is taken:

    LIVE        a reload applies it, calls in progress untouched: the
                queues, agents, users, routes and the flows they name, the
                outbound routes (the next call out takes them)
    RESTART     the server takes it at its start only (the boards, the
                ports, the database...): a change refuses the whole reload
    FLOW_TIER   `cti flow` reads it, this server does not: none of its business
    DERIVED     computed from other keys (the devices from the boards)

A field that holds a table of its own (`[acd]`, `[faults]`, `[flow]`...)
is compared key by key, so that a refusal names the key::

    restart_keys(running, new)    # ["server.listen", "acd.retry_s"]
    live_changes(running, new)    # [Change("queue", "sales", "changed", ("strategy",)),
                                  #  Change("agent", "1007", "added"), ...]

A live change is one thing added, removed or changed: a queue (by name),
an agent (by id), a user (by name), a route (by its match: "dnis
5550199", "trunk_group pstn_in"), an outbound route (by name), the
routing's `default` or
`flow_down`, or a flow calls may be sent to (one a route, the default or
an overflow names).  A changed one says which of its keys changed.
"""
from dataclasses import dataclass, fields, is_dataclass

from cti.server.config import GATE_KEYS

LIVE, RESTART, FLOW_TIER, DERIVED = "live", "restart", "flow tier", "derived"

#: ServerConfig field -> (its key in the file, how a change to it is taken).
FIELDS = {
    "path": ("", DERIVED),                       # the file itself
    "driver": ("driver", RESTART),
    "system_conf": ("system_conf", RESTART),     # DAHDI's channels, read at start
    "boards": ("boards", RESTART),
    "boards_path": ("boards", DERIVED),          # where the boards are: what they are counts
    "devices": ("boards", DERIVED),              # numbered from the boards
    "listen": ("server.listen", RESTART),
    "http": ("server.http", RESTART),
    "heartbeat_s": ("server.heartbeat_s", RESTART),
    "var_dir": ("server.var_dir", RESTART),
    "database": ("server.database", RESTART),
    "log_level": ("server.log_level", RESTART),
    "record_hook": ("server.record_hook", RESTART),
    "gate": ("server", RESTART),                 # max_connections..., login_*
    "tls": ("server.tls", RESTART),
    "dialing": ("dialing", RESTART),             # and [[dial_classes]]
    "agent_agents": ("visibility.agent_agents", RESTART),
    "agent_calls": ("visibility.agent_calls", RESTART),
    "trunk_groups": ("trunk_groups", RESTART),
    "station_groups": ("station_groups", RESTART),
    "voice_pool": ("voice_pool", RESTART),
    "conference_pool": ("conference_pool", RESTART),
    "station_tones": ("station_tones", RESTART),
    "routes": ("routes", LIVE),
    "outbound_routes": ("outbound_routes", LIVE),   # the Dialer reads them per call out
    "default_route": ("routing.default", LIVE),
    "flow_down_queue": ("routing.flow_down", LIVE),
    "queues": ("queues", LIVE),
    "acd": ("acd", RESTART),
    "faults": ("faults", RESTART),
    "agents": ("agents", LIVE),
    "users": ("users", LIVE),
    "flow": ("flow", RESTART),                   # key by key: FLOW_KEYS
    "sms": ("sms", RESTART),                     # the GSM modem is opened at the start
    "caller_id_boxes": ("caller_id_boxes", RESTART),
    "monitored_lines": ("monitored_lines", RESTART),
    "pri_spans": ("pri_spans", RESTART),         # each D-channel's libpri is made at the start
    "modems": ("modems", RESTART),               # each voice modem's port is opened at the start
}

#: [flow] (FlowSettings) field -> how a change is taken: this server reads
#: the prompts and imports the hooks at its start; the rest is the flow
#: tier's (the flows a route names are checked in flows_dir on every load).
FLOW_KEYS = {
    "server": FLOW_TIER, "user": FLOW_TIER, "password": FLOW_TIER, "password_file": FLOW_TIER,
    "flows_dir": FLOW_TIER, "prompts_dir": RESTART, "config_path": DERIVED,
    "hooks": RESTART, "hooks_dir": RESTART,
}

#: The file's key of a field of a table, where it is not "<table key>.<field>".
SUBKEYS = {
    "gate": {field: f"server.{key}" for key, field in GATE_KEYS.items()},
    "dialing": {"classes": "dial_classes", "default_class": "dialing.class"},
}


@dataclass(frozen=True)
class Change:
    """One thing a reload changes: `kind` (queue, agent, user, route,
    outbound_route, routing, flow), `name`, `change` (added, removed, changed) and, for a
    change, the keys that changed."""

    kind: str
    name: str
    change: str
    keys: tuple = ()

    def __str__(self):
        keys = f" ({', '.join(self.keys)})" if self.keys else ""
        return f"{self.kind} {self.name} {self.change}{keys}"

    def as_dict(self):
        body = {"kind": self.kind, "name": self.name, "change": self.change}
        if self.keys:
            body["keys"] = list(self.keys)
        return body


def restart_keys(running, new):
    """The keys of the file whose change needs a restart, in the order of
    FIELDS: an empty list when the new configuration can be reloaded."""
    keys = []
    for name, (key, how) in FIELDS.items():
        old_value, new_value = getattr(running, name), getattr(new, name)
        if how != RESTART or old_value == new_value:
            continue
        if name == "flow" and old_value is not None and new_value is not None:
            keys += [f"flow.{k}" for k in _differing(old_value, new_value)
                     if FLOW_KEYS[k] == RESTART]
        elif is_dataclass(old_value) and is_dataclass(new_value):
            subkeys = SUBKEYS.get(name, {})
            keys += [subkeys.get(k, f"{key}.{k}") for k in _differing(old_value, new_value)]
        else:
            keys.append(key)
    return list(dict.fromkeys(keys))


def live_changes(running, new):
    """What a reload of `new` changes, kind by kind, each in the order of
    the new file (removals after)."""
    return [
        *_by_name("queue", running.queues, new.queues, lambda q: q.name),
        *_by_name("agent", running.agents, new.agents, lambda a: a.id),
        *_by_name("user", running.users, new.users, lambda u: u.name),
        *_by_name("route", running.routes, new.routes, lambda r: f"{r.match} {r.pattern}",
                  ignore=("key",)),     # where it is in the file: the match names it
        *_by_name("outbound_route", running.outbound_routes, new.outbound_routes,
                  lambda r: r.name, ignore=("key",)),
        *[Change("routing", name, "changed")
          for name, old, now in (("default", running.default_route.target,
                                  new.default_route.target),
                                 ("flow_down", running.flow_down_queue, new.flow_down_queue))
          if old != now],
        *[Change("flow", name, "added")
          for name in sorted(new.routed_flows - running.routed_flows)],
        *[Change("flow", name, "removed")
          for name in sorted(running.routed_flows - new.routed_flows)],
    ]


def _by_name(kind, olds, news, name_of, ignore=()):
    before = {name_of(item): item for item in olds}
    after = {name_of(item): item for item in news}
    changes = []
    for name, item in after.items():
        if name not in before:
            changes.append(Change(kind, name, "added"))
        elif item != before[name]:
            keys = tuple(k for k in _differing(before[name], item) if k not in ignore)
            if keys:
                changes.append(Change(kind, name, "changed", keys))
    changes += [Change(kind, name, "removed") for name in before if name not in after]
    return changes


def _differing(old, new):
    """The names of the fields of two dataclasses that differ."""
    return [f.name for f in fields(old) if getattr(old, f.name) != getattr(new, f.name)]
