# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_words -*-
"""The words people read for an agent's state, the same on every screen.

The protocol names an agent's states in camelCase (docs/protocol.md,
"Agent snapshot": `loggedOff`, `notReady`, `ready`, `reserved`, `busy`,
`workingAfterCall`): names for programs.  The agent desktop, the
supervisor console, `cti demo` and the docs show people these words
instead, always these, so that "wrap-up" on the supervisor's grid is
"wrap-up" on the agent's own state bar::

    >>> AGENT_STATES["workingAfterCall"]
    'wrap-up'
    >>> agent_state("notReady", "lunch")
    'not ready (lunch)'

Lower case, so that they read the same in a sentence ("then not ready
(lunch) after the call") as in a grid.  A state the table does not know
(a newer server's) is shown as the protocol names it, never hidden.

The server's messages name the states as the protocol does ("agent 1007
is loggedOff"); a screen shows them `in_words` ("agent 1007 is logged
off").

This module imports only the standard library: a tool without Textual or
rich (`cti show`, a report) can use it too.
"""
import re

#: The protocol's agent states -> their words, in the order an agent goes
#: through them in a shift.
AGENT_STATES = {
    "loggedOff": "logged off",
    "notReady": "not ready",
    "ready": "ready",
    "reserved": "ringing",               # a call is offered: the agent's phone rings
    "busy": "on a call",
    "workingAfterCall": "wrap-up",
}


def agent_state(state, reason=None):
    """The words for `state`, with its reason if there is one:
    "ready", "not ready (lunch)"."""
    words = AGENT_STATES.get(state, state)
    return f"{words} ({reason})" if reason else words


#: "agent 1007 is loggedOff": a state as a server's message names it.
_STATE_NAMED = re.compile(r"\b(agent \S+ is )(" + "|".join(AGENT_STATES) + r")\b")


def in_words(message):
    """A server's message with each agent state it names in these words:
    "agent 1007 is loggedOff" -> "agent 1007 is logged off"."""
    return _STATE_NAMED.sub(lambda m: m.group(1) + AGENT_STATES[m.group(2)], message)
