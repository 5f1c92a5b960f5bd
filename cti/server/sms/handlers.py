# SPDX-License-Identifier: GPL-2.0-or-later
"""SendMessage: a short message through the server's GSM modem ([sms])."""
from cti.protocol.services import Field, Service
from cti.server.edge import serve
from cti.server.errors import InvalidState

SENDERS = {"flow", "agent", "supervisor", "admin"}
#: The longest text SendMessage takes: ten parts of a long message.
TEXT_MAX_CHARS = 1530


def register(hub, messages):
    """`messages`: cti.server.sms.messages.Messages, or None without [sms]."""

    def send_message(who, params):
        if messages is None:
            raise InvalidState("this server sends no short messages: it has no [sms] (a GSM "
                               "modem) in its configuration")
        message = messages.send(who.user, params["to"], params["text"], params["call"])
        return {"message": message.id, "parts": message.parts}

    hub.catalogue.add(Service("SendMessage", SENDERS, fields={
        "to": Field(str, doc="the number to send to"),
        "text": Field(str, doc="the message", max_len=TEXT_MAX_CHARS),
        "call": Field(str, False, doc="the call it is about, for the audit log")},
        errors=("invalid_state", "resource_busy")), serve(send_message))
