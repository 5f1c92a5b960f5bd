# SPDX-License-Identifier: GPL-2.0-or-later
"""Calls out: an agent's own calls, internal calls, and trunks seized for others.

Owns: trunks for calls out (seizing, glare, progress), an agent's call out
and internal call until answered, then handed to the call core as a call
like a caller's (`take_call_out`); the classes of service every number
dialled is checked against (`dialing`: toll fraud).

Asks of the call core: registering the answered call, bridging, its end;
of supervision, a supervision waiting for the agent's next call.

Services (handlers.py): MakeCall.
"""
