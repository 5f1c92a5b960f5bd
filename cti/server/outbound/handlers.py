# SPDX-License-Identifier: GPL-2.0-or-later
"""MakeCall: an agent's own call out, or an internal call to another agent
(cti.server.outbound.dialer)."""
from cti.protocol.services import Field, Service
from cti.server.edge import serve
from cti.server.errors import exactly_one


def register(hub, dialer):
    def make_call(who, params):
        exactly_one("MakeCall", params, ("number", "agent"), field="number")
        return dialer.make_call(who, params["number"], params["agent"])

    hub.catalogue.add(
        Service("MakeCall", {"agent"}, fields={"number": Field(str, False),
                                               "agent": Field(str, False)},
                errors=("no_such_object", "invalid_state", "barred")),
        serve(make_call))
