# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_reload -*-
"""`cti reload`: the configuration file read again, and what can change
live applied, without dropping a call.

The server reads the file it was started with (`ServerConfig.path`) and
takes it in three steps, all or nothing:

1. the file is loaded and checked as at the start: a mistake refuses the
   reload with the error the start would give (InvalidConfig: the file,
   the key, what is wrong);
2. every key that only a restart applies must be as the server runs it
   (cti.server.reload.changes: FIELDS): any other refuses the reload,
   naming each such key (NeedsRestart);
3. the call centre takes it (CallCenter.reconfigure): a queue to remove
   must have nobody waiting in it or on the way to it, an agent to
   remove must be logged out (else the ACD refuses, invalid_state,
   naming each); then every table is swapped at once, serving no call
   meanwhile: the queues, agents, users, routes and flows are the new
   ones, and so are the logins (`users_changed`: the server's protocol
   users, whose removed users' sessions end).  What the new tables make
   possible (offers, callers leaving a queue nobody serves now, the
   monitors told) is served right after, on its own: a failure there is
   logged, and the reload stands.

Calls in progress keep what they had (their route, their agent, the
queue they talk from); new calls, logins and offers see the new
configuration.  Every reload, refused or not, is logged (one line per
change, or the refusal) and is a row of the audit log (`Reload`: who,
how, and the changes or the refusal).  Anything else that fails is the
server's fault: logged with its traceback under an incident id, audited,
and answered ReloadFailed (internal_error)::

    reloader = Reloader(center, users_changed=server.reloaded)
    reloader.reload("admin", "Reload")   # -> [Change("queue", "sales", "changed", ...)]
"""
import secrets

from twisted.logger import Logger

from cti.config import ConfigError
from cti.server.config import load_server_config
from cti.server.errors import CallError, InvalidConfig, NeedsRestart, ReloadFailed
from cti.server.reload.changes import live_changes, restart_keys

log = Logger()


class Reloader:
    def __init__(self, center, users_changed=None, read=load_server_config):
        """`center`: the CallCenter; `users_changed(config)`: told the new
        configuration once it is taken (the logins); `read(path)`: loads
        and checks a file (ConfigError when it is wrong)."""
        self.center = center
        self.users_changed = users_changed or (lambda config: None)
        self.read = read

    def reload(self, user, how):
        """Read the configuration file again and apply it; the changes
        (cti.server.reload.changes.Change), or InvalidConfig, NeedsRestart
        or the ACD's invalid_state with nothing applied, or ReloadFailed.
        `user`: who asked ("system" for a signal); `how`: by what (the
        service's name, "SIGHUP")."""
        running = self.center.config
        try:
            new = self._read(running.path)
            keys = restart_keys(running, new)
            if keys:
                raise NeedsRestart(
                    f"{running.path}: {', '.join(keys)}: "
                    f"{'this changes' if len(keys) == 1 else 'these change'} only with a "
                    "restart of the server; nothing was reloaded", keys=keys)
            changes = live_changes(running, new)
            self.center.reconfigure(new)
            self.users_changed(new)
        except CallError as e:
            log.warn("reload ({how} by {user}) refused: {why}", how=how, user=user, why=e)
            self.center.audit("Reload", user, how=how, refused=e.code, message=str(e))
            raise
        except Exception as e:
            incident = secrets.token_hex(4)
            log.failure("reload ({how} by {user}) failed: incident {incident}", how=how,
                        user=user, incident=incident)
            self.center.audit("Reload", user, how=how, refused="internal_error",
                              message=f"{type(e).__name__}: {e}", incident=incident)
            raise ReloadFailed(f"{running.path}: the reload failed inside the server "
                               f"(incident {incident}, logged there)",
                               incident=incident) from None
        for change in changes:
            log.info("reload ({how} by {user}): {change}", how=how, user=user, change=change)
        if not changes:
            log.info("reload ({how} by {user}): {path}: nothing changed", how=how, user=user,
                     path=running.path)
        self.center.audit("Reload", user, how=how, changes=[c.as_dict() for c in changes])
        return changes

    def _read(self, path):
        try:
            return self.read(path)
        except ConfigError as e:
            raise InvalidConfig(str(e), file=str(e.path), key=e.key) from None
