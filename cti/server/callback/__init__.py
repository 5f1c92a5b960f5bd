# SPDX-License-Identifier: GPL-2.0-or-later
"""Callback: a waiting caller keeps its place without holding the line.

Owns: the callback offer in a queue's announcements, the key that asks for
it, the line released, dialling the caller when an agent answers the
offer, and retries.

Asks of the call core: the call, the voice resource, its end; of queueing,
the queue again for a retry; of outbound, a trunk and the number's class
of service.  It registers no services: it is driven by the caller's key.
"""
