# SPDX-License-Identifier: GPL-2.0-or-later
"""Supervision: supervisors listening in, coaching, taking over, steering.

Owns: supervisions of agents' calls (monitor, whisper, barge), intercepts,
a supervision waiting for an agent's next call, a supervisor's clear-down
of a call, forcing agents' states, a queue's strategy; every use audited.

Asks of the call core: the call, its Talk, its end; of agents, the agent
named; of the desk and consult, a supervisor's phone hanging up.

Services (handlers.py): Supervise, EndSupervision, Intercept,
MonitorNextCall, ClearCall, ForceAgentState, SetQueueStrategy
(ClearConnection from a supervisor through the core's handlers).
"""
