# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_pri -*-
"""D-channel traces for technicians: every frame of an ISDN span's
D-channel, both ways, sent to the administrator's session that asked.

    linediag trace dtiB1D --output call.pcap
        └── StartDChannelTrace {device: dtiB1D}
            <── DChannelFrame {device, at, direction, frame (hex), weNetwork}  (each frame)
        └── StopDChannelTrace {device: dtiB1D}  (or the session closes)

The frames are those libpri reads and writes on our side of the span
(cti.server.lines.pri.PriSpan.tracers), without their FCS; `direction`
is `sent` (by the server) or `received`, and `weNetwork` says which side
the server is, which is all a pcap of link type 177 needs to tell
User->Network from Network->User (drivers.lapdpcap).  A trace runs until
stopped or until its session ends: nothing is left tracing for nobody.
"""
from cti.logs import Logger
from cti.server.errors import InvalidState, NoSuchObject

log = Logger()


class DChannelTraces:
    """Traces running, by (session, D-channel).  `spans`: the server's
    PriSpans; `send(session, event, body)`: an event for one session."""

    def __init__(self, clock, spans, send):
        self.clock = clock
        self.spans = spans
        self.send = send
        self.running = {}                 # (session, device) -> [tracer, frames sent]

    def start(self, who, device):
        span = self.spans.get(device)
        if span is None:
            names = ", ".join(s.name for s in self.spans) or "none"
            raise NoSuchObject(f"{device} is no D-channel of an ISDN span with B-channels "
                               f"in this server's [[trunk_groups]] (D-channels: {names})",
                               object="device", id=device)
        key = (who.session, device)
        if key in self.running:
            raise InvalidState(f"{device}: this session traces it already",
                               object="device", id=device)
        we_network = span.settings.node == "network"
        entry = [None, 0]

        def tracer(frame, outgoing):
            entry[1] += 1
            self.send(who.session, "DChannelFrame", {
                "device": device, "at": self.clock.seconds(),
                "direction": "sent" if outgoing else "received", "frame": frame.hex(),
                "weNetwork": we_network})

        entry[0] = tracer
        self.running[key] = entry
        span.tracers.append(tracer)
        log.info("{user} traces {device}", user=who.user, device=device)
        return {"device": device, "weNetwork": we_network, "state": span.state}

    def stop(self, who, device):
        entry = self.running.get((who.session, device))
        if entry is None:
            raise InvalidState(f"{device}: this session has no trace of it running",
                               object="device", id=device)
        self._end(who.session, device)
        log.info("{user} stops tracing {device}: {n} frames", user=who.user, device=device,
                 n=entry[1])
        return {"device": device, "frames": entry[1]}

    def session_closed(self, session):
        """A session gone: its traces end with it."""
        for key in [k for k in self.running if k[0] is session]:
            self._end(*key)

    def _end(self, session, device):
        tracer, _ = self.running.pop((session, device))
        span = self.spans.get(device)
        if span is not None and tracer in span.tracers:
            span.tracers.remove(tracer)
