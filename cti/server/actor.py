# SPDX-License-Identifier: GPL-2.0-or-later
"""Who asks: what the call layer knows of the client behind a request.

The protocol edge (each feature's handlers.py) turns a protocol request
into an Actor; domain code sees nothing else of the protocol.
"""
from dataclasses import dataclass


@dataclass(frozen=True, eq=False)
class Actor:
    user: str                  # the user's name (an agent's is its agent id)
    role: str                  # the role it logged in with: flow, agent, supervisor, admin
    session: object            # its session: where events for it alone go (opaque here)
    invoke_id: int = 0         # its request's id, echoed by the events the request causes

    @property
    def cause(self):
        """Pass as `cause=` to whatever publishes events this request causes."""
        return (self.session, self.invoke_id)
