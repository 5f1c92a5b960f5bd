# SPDX-License-Identifier: GPL-2.0-or-later
"""The desk's services (cti.server.desk.desk), audited when a supervisor
or an administrator uses them on an agent's call."""
from cti.protocol.services import CALLERS, Field, Service
from cti.server.edge import serve
from cti.server.errors import exactly_one

CALL = {"call": Field(str, doc="the call id")}
# What the handlers may answer besides services.COMMON_ERRORS: no such call
# or device; not in a state for it; a resource taken.
ON_CALL = ("no_such_object", "invalid_state")
BUSY = (*ON_CALL, "resource_busy")


def register(hub, desk, auditor):
    add, audited = hub.catalogue.add, auditor.audited

    def on_call(method):
        """A service whose one field is the call."""
        return lambda who, params: method(who, params["call"])

    def transfer(who, params):
        kind = exactly_one("SingleStepTransferCall", params,
                           ("agent", "queue", "flow", "number"), field="queue")
        return desk.single_step_transfer(who, params["call"], kind, params[kind])

    add(Service("HoldCall", CALLERS, fields=CALL, errors=BUSY),
        serve(audited("HoldCall", on_call(desk.hold_call))))
    add(Service("RetrieveCall", CALLERS, fields=CALL, errors=BUSY),
        serve(audited("RetrieveCall", on_call(desk.retrieve_call))))
    add(Service("SingleStepTransferCall", CALLERS, fields={
        **CALL, "agent": Field(str, False), "queue": Field(str, False),
        "flow": Field(str, False), "number": Field(str, False)},
        errors=(*BUSY, "queue_full", "barred")),
        serve(audited("SingleStepTransferCall", transfer)))
    add(Service("SendDTMF", CALLERS, fields={**CALL, "digits": Field(str)}, errors=BUSY),
        serve(audited("SendDTMF", lambda who, params: desk.send_dtmf(
            who, params["call"], params["digits"]))))
    add(Service("SetPartyRole", CALLERS, fields={
        **CALL, "device": Field(str), "role": Field(str, choices=("talk", "listen"))},
        errors=ON_CALL), serve(audited("SetPartyRole", lambda who, params: desk.set_party_role(
            who, params["call"], params["device"], params["role"]))))
    add(Service("StartRecording", CALLERS, fields=CALL, errors=BUSY),
        serve(audited("StartRecording", on_call(desk.start_recording), on_success=False)))
    add(Service("StopRecording", CALLERS, fields=CALL, errors=ON_CALL),
        serve(audited("StopRecording", on_call(desk.stop_recording), on_success=False)))
