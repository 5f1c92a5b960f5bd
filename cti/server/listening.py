# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_server_run -*-
"""The server's listening ports, as one service that says when they are
bound, or which one could not be and why.

Twisted's StreamServerEndpointService logs a port it cannot bind and goes
on: a server would run on without its listener, having said "listening".
Here every endpoint is listened on as the service starts, and `ready`
fires with the bound ports once all are, or fails with ListenError naming
the first that could not be (`cti server` then says so in one line and
exits 2: cti.server.run).  Stopping stops listening on every port bound.

    ports = Listening(reactor)
    ports.add("tcp:7500:interface=127.0.0.1", endpoint, factory)
    ports.setServiceParent(server)
    ports.ready.addCallbacks(said_listening, could_not)
"""
from twisted.application.service import Service
from twisted.internet import defer


class ListenError(Exception):
    """An endpoint the server could not listen on."""

    def __init__(self, description, reason):
        super().__init__(f"cannot listen on {description}: {reason}")
        self.description = description


class Listening(Service):
    def __init__(self):
        self.wanted = []                 # (description, endpoint, factory)
        self.ports = []                  # (description, IListeningPort) bound
        self.ready = defer.Deferred()

    def add(self, description, endpoint, factory):
        self.wanted.append((description, endpoint, factory))

    def startService(self):
        super().startService()
        attempts = [self._listen(*wanted) for wanted in self.wanted]
        done = defer.gatherResults(attempts, consumeErrors=True)
        done.addCallbacks(lambda _: self.ready.callback(list(self.ports)),
                          lambda failure: self.ready.errback(failure.value.subFailure))

    def _listen(self, description, endpoint, factory):
        def bound(port):
            self.ports.append((description, port))

        def failed(failure):
            reason = failure.getErrorMessage() or failure.type.__name__
            raise ListenError(description, reason)
        return endpoint.listen(factory).addCallbacks(bound, failed)

    def stopService(self):
        super().stopService()
        ports, self.ports = self.ports, []
        return defer.gatherResults([defer.maybeDeferred(port.stopListening)
                                    for _, port in ports])
