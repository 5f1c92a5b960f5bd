# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_errors -*-
"""The protocol edge of the CT server: where the call layer's errors
become the protocol's.

The call core and the features raise `cti.server.errors.CallError`s and
import nothing of `cti.protocol`; their `handlers.py` modules register
services on the Hub, turning each request into a domain call with the
Actor who sent it (`serve`), and the Hub asks `refusal` what any error a
handler raised means to the client.  This is the one place the two meet.
"""
from cti.protocol.services import ProtocolError
from cti.server.actor import Actor
from cti.server.errors import ACDError, CallError


def actor(request):
    """Who sent the request, as the domain knows it."""
    return Actor(request.user.name, request.role, request.session, request.invoke_id)


def serve(method):
    """The handler of a service whose domain method takes (actor, params)."""
    def handler(request, params):
        return method(actor(request), params)
    return handler


def refusal(error):
    """The ProtocolError the client gets for a handler's `error`: a
    CallError keeps its condition (the protocol's code of the same name),
    its message and detail; anything else is None (an internal error)."""
    if not isinstance(error, CallError):
        return None
    return ProtocolError(error.code, str(error), **error.detail)


def codes():
    """Every code the call layer may raise (a test holds them to ERRORS)."""
    found, classes = set(ACDError.CODES), [CallError]
    while classes:
        cls = classes.pop()
        found.add(cls.code)
        classes += cls.__subclasses__()
    return found

