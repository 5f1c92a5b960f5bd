# SPDX-License-Identifier: GPL-2.0-or-later
"""Reload: an administrator has the configuration file read again
(cti.server.reload.reload)."""
from cti.protocol.services import Service
from cti.server.edge import serve


def register(hub, reloader):
    def reload(who, params):
        changes = reloader.reload(who.user, "Reload")
        return {"path": str(reloader.center.config.path),
                "changes": [change.as_dict() for change in changes],
                "flowServers": reloader.center.ivr.servers()}

    hub.catalogue.add(Service("Reload", {"admin"}, errors=(
        "invalid_config", "needs_restart", "invalid_state")), serve(reload))
