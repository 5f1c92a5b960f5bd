# SPDX-License-Identifier: GPL-2.0-or-later
"""The consultation services (cti.server.consult.consult), audited when a
supervisor or an administrator uses them on an agent's call."""
from cti.protocol.services import CALLERS, Field, Service
from cti.server.edge import serve

ON_CALL = ("no_such_object", "invalid_state")


def register(hub, consults, auditor):
    add, audited = hub.catalogue.add, auditor.audited

    def consultation(who, params):
        targets = {k: params[k] for k in ("agent", "queue", "number", "flow")}
        return consults.consultation_call(who, params["call"], targets)

    def on_both(method):
        """A service that names the caller's call and the consultation's."""
        return lambda who, params: method(who, params["call"], params["consultCall"])

    both = {"call": Field(str, doc="the caller's call"),
            "consultCall": Field(str, doc="the consultation's call")}
    add(Service("ConsultationCall", CALLERS, fields={
        "call": Field(str), "agent": Field(str, False), "queue": Field(str, False),
        "number": Field(str, False), "flow": Field(str, False)},
        errors=(*ON_CALL, "resource_busy", "queue_full", "queue_empty", "barred")),
        serve(audited("ConsultationCall", consultation)))
    add(Service("TransferCall", CALLERS, fields=both, errors=ON_CALL),
        serve(audited("TransferCall", on_both(consults.joining.transfer_call))))
    add(Service("ConferenceCall", CALLERS, fields=both, errors=(*ON_CALL, "resource_busy")),
        serve(audited("ConferenceCall", on_both(consults.joining.conference_call))))
    add(Service("ReconnectCall", CALLERS, fields=both, errors=(*ON_CALL, "resource_busy")),
        serve(audited("ReconnectCall", on_both(consults.reconnect_call))))
