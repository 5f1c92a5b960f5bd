# SPDX-License-Identifier: GPL-2.0-or-later
"""Queueing: callers waiting for agents.

Owns: the ACD (`acd`: queues, agents' states, pairing, ring timers, wrap-up;
its parts `agent_states`, `offers`, `agent_calls`, `callers`,
`configuration` (the queues and agents configured, taken again at a
reload), their state in `state`) with its router (`router`: skills, strategies, one global
order), and the
telephony of waiting (`waiting`: queue entry, full queues and overflows,
music, announcements, offers ringing a phone, the answer that bridges
caller and agent): the ACD's owner (IACDOwner).

Asks of the call core: answering the trunk, the voice resource hearing the
caller, bridging, the end; of ivr, a flow for an overflow; of callback,
its offer and its dialling; of consult, its queue consultations.

Services (handlers.py): the snapshots of queues.  (SetQueueStrategy is a
supervisor's: cti.server.supervision.)
"""
