# SPDX-License-Identifier: GPL-2.0-or-later
"""Consultations: an agent calls someone about the caller.

Owns: consultations with an agent, a queue's agent, a number or a flow;
transferring, conferencing and reconnecting them; blind transfers to an
agent and a flow's RouteSelect to an extension (a ringing consultation
with nobody consulting); the outside parties of conferences.

Asks of the call core: the call, its Talk, its end; of the desk, hold,
retrieve and an agent leaving; of queueing, ringing a phone and music; of
outbound, placing a call; of ivr, a flow.

Map: consult.py (Consultations: starting, the consulted phone, ending,
ReconnectCall), joining.py (Joining: TransferCall and ConferenceCall, the
consulted party taken into the caller's call), extension.py (a flow's
caller rung at an agent's extension).  Services (handlers.py):
ConsultationCall, TransferCall, ConferenceCall, ReconnectCall.
"""
