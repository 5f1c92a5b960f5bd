# SPDX-License-Identifier: GPL-2.0-or-later
"""Agents: who they are, their states, and their part of a call.

Owns: an agent's own requests (log in and out, ready, not ready, wrap-up;
answering on a headset; hanging up), and as a call ends each agent on it
going to wrap-up and its phone hung up.  The states themselves live in
the ACD (cti.server.queueing.acd), which publishes and records them.

Asks of the call core: the calls; of queueing, the answer to an offer; of
consult and outbound, whether the phone is theirs; of the desk, an
agent's hang-up on a connected call.

Services (handlers.py): SetAgentState (AnswerCall and ClearConnection
from an agent through the core's handlers); the snapshots of agents.
"""
