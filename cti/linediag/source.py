# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_linediag -*-
"""Where linediag's answers come from: the running server (`Attached`,
the technicians' services of cti.server.maintenance over the protocol) or
boards linediag opened itself (`Offline`, the same domain code on its own
driver).  Both answer the same questions with the same data::

    with Attached.connect(args) as source:      # or Offline.open("etc/cti.toml")
        rows = source.line_status()             # as GetLineStatus
        dump = source.bus_map()                 # as GetBusMap

The span reports, loopbacks, BERTs and D-channel traces are the running
server's alone (it
keeps the performance counters second by second, and it owns the calls a
test must keep off the span): offline, they are refused with
`NeedsServer`.
"""
from cti import config, shell
from cti.server.maintenance.scan import scan


class NeedsServer(Exception):
    """Asked offline of what only the running server knows or does."""


class Attached:
    """The running server, through a BlockingClient logged in as admin."""

    def __init__(self, client):
        self.client = client

    @classmethod
    def connect(cls, args):
        return cls(shell.connect(args, client="linediag"))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.client.close()

    def line_status(self):
        return self.client.call("GetLineStatus")["devices"]

    def bus_map(self):
        return self.client.call("GetBusMap")

    def span_reports(self, span=None, intervals=0):
        """Span reports with `intervals` completed intervals each.  With
        intervals, every span's in one answer could outgrow a frame on a
        big chassis: they are asked span by span then."""
        if span is None and intervals:
            return [self.span_reports(r["span"], intervals)[0]
                    for r in self.span_reports()]
        return self.client.call("GetSpanReports", intervals=intervals,
                                **({"span": span} if span else {}))["spans"]

    def diagnose(self):
        return self.client.call("Diagnose")

    def loopback(self, span, mode):
        return self.client.call("SetSpanLoopback", span=span, mode=mode)

    def loop_code(self, span, code):
        return self.client.call("SendSpanLoopCode", span=span, code=code)

    def bert_start(self, device, pattern, seconds):
        return self.client.call("StartBert", device=device, pattern=pattern, seconds=seconds)

    def bert_results(self, device):
        return self.client.call("GetBertResults", device=device)

    def bert_stop(self, device):
        return self.client.call("StopBert", device=device)

    def trace_start(self, device):
        return self.client.call("StartDChannelTrace", device=device)

    def trace_stop(self, device):
        return self.client.call("StopDChannelTrace", device=device)

    def next_frame(self, timeout):
        """The next DChannelFrame event's body, or None if none came
        within `timeout` seconds (other events are passed over)."""
        try:
            name, body, _ = self.client.next_event(timeout)
        except TimeoutError:
            return None
        return body if name == "DChannelFrame" else self.next_frame(0)


class Offline:
    """The boards of a configuration, opened here: with the simulator, a
    simulated chassis of its own (nothing to do with a running server's)."""

    def __init__(self, driver, sim=None):
        self.driver = driver
        self.sim = sim

    @classmethod
    def open(cls, path, seed=1):
        """`path`: a server configuration (its boards) or a boards file."""
        from drivers.r4 import HAS_SIMULATOR, R4Driver

        tables = boards_of(path)
        sim = None
        if HAS_SIMULATOR:
            from drivers.sim import Simulator

            sim = Simulator.from_config(tables, seed=seed, where=f"{path}: boards")
        driver = R4Driver()
        driver.inventory()
        return cls(driver, sim)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def line_status(self):
        return scan(self.driver)

    def bus_map(self):
        from ctbus import SwitchingMap

        return SwitchingMap(self.driver).dump()

    def _server_only(self, *args):
        raise NeedsServer("the span reports, loopbacks, BERTs and D-channel traces come "
                          "from the running server (it keeps the counters, owns the calls "
                          "and runs the D-channels): run without --offline")

    span_reports = loopback = loop_code = diagnose = _server_only
    bert_start = bert_results = bert_stop = trace_start = _server_only


def boards_of(path):
    """The [[boards]] tables of a boards file, or of the server
    configuration at `path` (its `boards`, inline or a file of them)."""
    data = config.load(path)
    if isinstance(data.get("boards"), list):
        return config.boards(path)
    from cti.server.config import load_server_config

    return list(load_server_config(path).boards)
