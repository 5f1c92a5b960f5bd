# SPDX-License-Identifier: GPL-2.0-or-later
"""Who asks: what the call layer knows of the client behind a request.

The protocol edge (each feature's handlers.py) turns a protocol request
into an Actor; domain code sees nothing else of the protocol.
"""


class Actor:
    """One per request (a plain class: it is made for every request served)."""

    __slots__ = ("user", "role", "session", "invoke_id")

    def __init__(self, user, role, session, invoke_id=0):
        self.user = user                 # the user's name (an agent's is its agent id)
        self.role = role                 # the role it logged in with: flow, agent...
        self.session = session           # where events for it alone go (opaque here)
        self.invoke_id = invoke_id       # its request's id, echoed by the events it causes

    @property
    def cause(self):
        """Pass as `cause=` to whatever publishes events this request causes."""
        return (self.session, self.invoke_id)
