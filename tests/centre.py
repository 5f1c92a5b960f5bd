# SPDX-License-Identifier: GPL-2.0-or-later
"""The whole CT server on simulated boards, in virtual time, for tests.

`Centre` builds the server of a configuration (etc/cti.toml by default)
on the simulator, with a `task.Clock`, an in-memory record sink and
protocol clients joined to the server over in-memory transports
(twisted.test.iosim).  `run` moves boards, clock and connections together
in 10 ms steps, so a test reads like the call it places::

    centre = Centre()
    agent = centre.client();  centre.call(agent.login("1005", "1234", "agent"))
    fe = centre.sim.endpoint("dtiB1T1");  fe.call(ani="2125551234", dnis="5550199")
    centre.run_until(lambda: ..., what="the agent's phone rings")
"""
import tempfile
from dataclasses import replace
from pathlib import Path

from twisted.internet import task
from twisted.test import iosim

from cti.protocol.client import ClientProtocol
from cti.protocol.server import SessionFactory
from cti.server.app import CTServer
from cti.server.config import load_server_config
from cti.storage.sink import InMemory
from drivers import r4
from drivers.r4 import R4Driver
from drivers.sim import Simulator

STEP_MS = 10


class Records(InMemory, list):
    """The record sink: every CDR, queue-log row and agent state, in order;
    and the records a crash would leave (`provisional`, by key)."""

    def __init__(self):
        list.__init__(self)
        InMemory.__init__(self)

    def add(self, record):
        self.append(record)

    def of(self, model, **where):
        return [r for r in self if isinstance(r, model) and all(
            getattr(r, k) == v for k, v in where.items())]


class Centre:
    def __init__(self, config="etc/cti.toml", seed=1, clock=None, records=None, var_dir=None,
                 simulated_telco=True, binding="full", serial=None, caller_id_boxes=(),
                 driver="r4"):
        """`clock` and `records`: another clock (one that takes calls from
        threads, for a real RecordStore) and record store than the defaults.
        `var_dir`: the server's own files (a temporary directory unless told).
        `simulated_telco`: the server is told of the simulator (its Sim*
        services play it); False, it behaves as on real boards.
        `binding`: the driver's (drivers.r4.BINDINGS), "vendor" for the
        vendor's calls alone: events then come as the event thread takes
        them (`wait_events`), without the thread.  `serial`: how the
        server's serial devices are connected (the GSM modem of [sms]:
        connect(settings, protocol), a simulated line).  `caller_id_boxes`:
        the USB caller-ID boxes, made over simulated backends, which the
        test reads (drivers.usbcid.CallerIdBox: deliver(wait_events(...))).
        `driver`: "r4", or "dahdi": the DAHDI driver on the simulator's
        DAHDI personality, with the system.conf that matches the boards."""
        config = load_server_config(config) if isinstance(config, str) else config
        if var_dir is None:
            self.var = tempfile.TemporaryDirectory(prefix="cti-centre-")   # gone with it
            var_dir = self.var.name
        self.config = replace(config, var_dir=Path(var_dir))
        self.sim = Simulator.from_config(self.config.boards, seed=seed)
        self.clock = clock or task.Clock()
        if driver == "dahdi":
            self.driver = dahdi_driver(self.config, self.clock)
        else:
            self.driver = R4Driver(clock=self.clock, binding=r4.binding(binding),
                                   tone_channels=self.config.station_tones or None)
        if self.driver.fileno() is None:
            self._poll = lambda: self.driver.deliver(self.driver.wait_events(0))
        else:
            self._poll = self.driver.poll
        self.records = Records() if records is None else records
        self.server = CTServer(self.config, reactor=self.clock, driver=self.driver,
                               simulator=self.sim if simulated_telco else None,
                               records=self.records, listen=[], http="", serial=serial,
                               caller_id_boxes=caller_id_boxes)
        self.hub = self.server.hub
        self.center = self.server.center
        self.pumps = []

    def client(self):
        """A protocol client connected to the server (not logged in)."""
        client, _, pump = iosim.connectedServerAndClient(
            lambda: SessionFactory(self.hub).buildProtocol(None),
            lambda: ClientProtocol(self.clock), greet=False)
        self.pumps.append(pump)
        pump.flush()
        return client

    def flush(self):
        for pump in self.pumps:
            pump.flush()

    def run(self, ms):
        for _ in range(0, ms, STEP_MS):
            self.sim.advance(STEP_MS)
            self.clock.advance(STEP_MS / 1000)
            self._poll()
            self.flush()

    def run_until(self, predicate, within_ms=30_000, what="condition"):
        for _ in range(0, within_ms + STEP_MS, STEP_MS):
            self.flush()
            if predicate():
                return
            self.run(STEP_MS)
        raise AssertionError(f"{what}: not reached within {within_ms} ms")

    def call(self, d, within_ms=30_000):
        """The result of a Deferred, running time until it fires."""
        box = []
        d.addBoth(box.append)
        self.run_until(lambda: box, within_ms, what="an answer")
        result = box[0]
        if hasattr(result, "raiseException"):
            result.raiseException()
        return result

    def events(self, client):
        """A list filling with (event name, body) of every event the client gets."""
        seen = []
        client.on_event(lambda name, body, invoke_id: seen.append((name, body)))
        return seen


def dahdi_driver(config, clock):
    """The DAHDI driver on the personality of the simulated boards of a
    configuration, its channels named as the boards (as `cti server` with
    driver = "dahdi" makes it on /dev/dahdi)."""
    from cti.server.config import board_layout
    from drivers import systemconf
    from drivers.dahdi import DahdiDriver
    from drivers.dahdidev import SimulatedDevices, simulated_system_conf

    conf = systemconf.parse(simulated_system_conf(config.boards), "simulated system.conf")
    return DahdiDriver(SimulatedDevices(), conf, clock, boards=board_layout(config.boards))


def tones_both_ways(centre, caller, phone, caller_hz=1000, phone_hz=1500):
    """Caller and phone, in a call, each send a tone for 2 s: (what the
    phone heard, what the caller heard), after the first 250 ms."""
    caller.capture(True)
    phone.capture(True)
    caller.send_tone_custom(caller_hz, 0, -10, on_ms=2000)
    phone.send_tone_custom(phone_hz, 0, -10, on_ms=2000)
    centre.run(1000)
    return phone.read_capture()[2000:], caller.read_capture()[2000:]


def admin(centre, password="1234"):
    """A protocol client of the centre logged in as the sample's administrator."""
    client = centre.client()
    centre.call(client.login("admin", password, "admin"))
    return client


def refused(centre, client, service, **params):
    """The RemoteError the server answers a request with (failing the test
    if it is answered)."""
    import pytest

    from cti.protocol.client import RemoteError

    with pytest.raises(RemoteError) as caught:
        centre.call(client.call(service, **params))
    return caught.value


def flow_tier(centre):
    """The flow tier of the centre's configuration, logged in and registered."""
    from cti.flow.run import load
    from cti.flow.tier import FlowTier

    _, settings, flows = load(centre.config.path)
    client = centre.client()
    centre.call(client.login(settings.user, settings.read_password(), "flow"))
    tier = FlowTier.from_settings(client, flows, settings.prompts_dir, centre.clock)
    centre.call(tier.register())
    return tier
