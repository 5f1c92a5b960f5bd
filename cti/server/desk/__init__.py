# SPDX-License-Identifier: GPL-2.0-or-later
"""The desk: what agents do to a connected call.

Owns: hold and retrieve, single-step transfers (to an agent, a queue, a
flow, a number), DTMF sent to the far side, party roles in a conference,
recording a call; an agent or a supervisor leaving a call that goes on.

Asks of the call core: the call, its Talk, its end, a queue or a flow for
a transfer; of consult, outbound, supervision and agents their public
methods (a blind transfer, a number's class of service, who watches).

Services (handlers.py): HoldCall, RetrieveCall, SingleStepTransferCall,
SendDTMF, SetPartyRole, StartRecording, StopRecording.
"""
