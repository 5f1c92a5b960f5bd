# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_monitoring -*-
"""The status pages: twisted.web on `[server] http` (loopback in the sample).

    GET /metrics    Prometheus text exposition (prometheus_client writes it)
    GET /status     the same figures as one JSON object, and the version

Both are rendered on the reactor thread, where the figures live (the
prometheus_client's own Twisted resource would read them from a thread
of the pool: not safe here).  Anything else is 404.
"""
import json

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from twisted.web.pages import notFound
from twisted.web.resource import Resource
from twisted.web.server import Site

from cti import __version__
from cti.server.monitoring.metrics import Collector

INDEX = b"""<html><body><h1>cti server</h1>
<p><a href="/metrics">/metrics</a> (Prometheus), <a href="/status">/status</a> (JSON)</p>
</body></html>
"""


class Metrics(Resource):
    isLeaf = True

    def __init__(self, figures):
        super().__init__()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(Collector(figures))

    def render_GET(self, request):
        request.setHeader(b"Content-Type", CONTENT_TYPE_LATEST.encode())
        return generate_latest(self.registry)


class Status(Resource):
    isLeaf = True

    def __init__(self, figures):
        super().__init__()
        self.figures = figures

    def render_GET(self, request):
        request.setHeader(b"Content-Type", b"application/json")
        body = {"version": __version__, **self.figures.read()}
        return json.dumps(body, sort_keys=True).encode() + b"\n"


class Index(Resource):
    def getChild(self, path, request):
        return notFound()

    def render_GET(self, request):
        request.setHeader(b"Content-Type", b"text/html; charset=utf-8")
        return INDEX


def site(figures):
    """The twisted.web Site of the status pages."""
    root = Index()
    root.putChild(b"metrics", Metrics(figures))
    root.putChild(b"status", Status(figures))
    result = Site(root)
    result.displayTracebacks = False
    return result
