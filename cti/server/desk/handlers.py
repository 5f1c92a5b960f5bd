# SPDX-License-Identifier: GPL-2.0-or-later
"""The desk's services (cti.server.desk.desk), audited when a supervisor
or an administrator uses them on an agent's call."""
from cti.protocol.services import CALLERS, Field, Service
from cti.server.edge import serve

CALL = {"call": Field(str, doc="the call id")}
# What the handlers may answer besides services.COMMON_ERRORS: no such call
# or device; not in a state for it; a resource taken.
ON_CALL = ("no_such_object", "invalid_state")
BUSY = (*ON_CALL, "resource_busy")


def register(hub, desk, auditor):
    add, audited = hub.catalogue.add, auditor.audited
    add(Service("HoldCall", CALLERS, fields=CALL, errors=ON_CALL),
        serve(audited("HoldCall", desk.hold_call)))
    add(Service("RetrieveCall", CALLERS, fields=CALL, errors=ON_CALL),
        serve(audited("RetrieveCall", desk.retrieve_call)))
    add(Service("SingleStepTransferCall", CALLERS, fields={
        **CALL, "agent": Field(str, False), "queue": Field(str, False),
        "flow": Field(str, False), "number": Field(str, False)},
        errors=(*BUSY, "queue_full", "barred")),
        serve(audited("SingleStepTransferCall", desk.single_step_transfer)))
    add(Service("SendDTMF", CALLERS, fields={**CALL, "digits": Field(str)}, errors=BUSY),
        serve(audited("SendDTMF", desk.send_dtmf)))
    add(Service("SetPartyRole", CALLERS, fields={
        **CALL, "device": Field(str), "role": Field(str, choices=("talk", "listen"))},
        errors=ON_CALL), serve(audited("SetPartyRole", desk.set_party_role)))
    add(Service("StartRecording", CALLERS, fields=CALL, errors=BUSY),
        serve(audited("StartRecording", desk.start_recording, on_success=False)))
    add(Service("StopRecording", CALLERS, fields=CALL, errors=ON_CALL),
        serve(audited("StopRecording", desk.stop_recording, on_success=False)))
