# SPDX-License-Identifier: GPL-2.0-or-later
"""The IVR: calls in the hands of flow servers.

Owns: the flow servers (RouteRegister, in turn), routing a call to a flow
(RouteRequest ... RouteEnd), the watchdog that takes a call back from a
silent flow server (the default treatment: the flow_down queue), and what
a flow does to its call: play, collect, record, RouteSelect
(`operations`).

Asks of the call core: the call, answering its trunk, its end, holding
the caller while a call is placed for it; of queueing, a queue; of
outbound and consult, a number or an extension to send the caller to.

Services (handlers.py): RouteRegister, PlayMessage, CollectDigits,
ClearDigits, RecordMessage, RouteSelect, KeepCall (and, through the core's
handlers, AnswerCall, ClearConnection and SetCallData from a flow).
"""
