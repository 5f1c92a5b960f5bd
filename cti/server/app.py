# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_callcenter -*-
"""`cti server`: the CT tier as a tree of Twisted services.

    CTServer (MultiService)
    ├── RecordStore          CDRs, queue log, agent states (started first, stopped last)
    ├── board events         into the reactor: EventPump (the driver's descriptor)
    │                        or EventThread (one thread in the vendor's wait), as
    │                        drivers.pump.board_events chooses and logs
    ├── caller-ID boxes      one EventThread each ([[caller_id_boxes]]: a USB read)
    │                        (the voice modems of [[modems]] need none: their serial
    │                        ports are the reactor's, drivers.combined)
    └── Listening            the [server] listen endpoints, and the status pages
                             (/metrics, /status) on [server] http: `ready` fires
                             once all are bound, or fails naming the one that
                             is not (cti.server.listening)

plus the objects they serve: the driver (the simulator's or the real
boards', with [[modems]] the voice modems' beside them: drivers.combined),
the CT-Bus switching map, the channels and stations, the call model, the
ACD and the call centre that joins them; with [sms], the GSM
modem and the short messages sent through it (cti.server.sms).  Built from a
ServerConfig::

    server = CTServer(load_server_config("etc/cti.toml"))
    server.setServiceParent(application)     # twistd, or `cti server`

Stopping (SIGTERM) drains: no new call is taken, calls in progress get
`drain_s` seconds to end, the rest are cleared with cause "server
shutdown", agents are logged out, and the records are flushed before the
store stops; then the driver stops its own timers (`stop_events`: a
watchdog, DAHDI's alarm reads), so nothing of it runs after.

A changed configuration file is taken live by `reloader`
(cti.server.reload: the Reload service, and SIGHUP while the server runs
when `reload_on_hangup`), or refused as a whole.

Tests and the demo inject their own driver, clock and record sink and
drive time themselves (tests/rig.py).
"""
import gc
from pathlib import Path

from twisted.application.service import MultiService
from twisted.internet import defer
from twisted.internet.endpoints import serverFromString
from twisted.logger import Logger

from ctbus import SwitchingMap
from cti.logs import Logger as FastLogger
from cti.protocol.gate import Gate
from cti.protocol.server import Hub, SessionFactory, User
from cti.protocol.tls import server_endpoint
from cti.server.center import CallCenter
from cti.server.config import tls_listen
from cti.server.core.model import CallModel
from cti.server.lines.channels import (
    LOOP_START_OFF_HOOK,
    Channels,
    EmWinkTrunk,
    LoopStartLine,
    Station,
    T1LoopStartTrunk,
    VoicePool,
)
from cti.server.lines.modem import ModemLine
from cti.server.lines.pri import PriSpan, PriSpans, PriTrunk, bchannel
from cti.server.lines.r2 import R2Trunk, contexts_for
from cti.server.lines.spans import Span
from cti.server.lines.voice import VoicePorts
from cti.server.listening import Listening
from cti.server.maintenance import handlers as maintenance_handlers
from cti.server.maintenance.linetests import LineTests
from cti.server.maintenance.spans import SpanWatches
from cti.server.maintenance.trace import DChannelTraces
from cti.server.monitoring.figures import Figures
from cti.server.monitoring.http import site
from cti.server.monitoring.lag import ReactorLag
from cti.server.reload import handlers as reload_handlers
from cti.server.reload.hangup import Hangup
from cti.server.reload.reload import Reloader
from cti.server.simulation import handlers as simulation_handlers
from cti.server.simulation.telco import SimulatedTelco
from cti.server.sms import handlers as sms_handlers
from cti.server.sms.messages import Messages
from drivers.gsm import GsmModem
from drivers.gsm import serial_port as gsm_serial_port

log = Logger()

#: How long a stopping server lets calls finish before clearing them.
DRAIN_S = 30.0
#: After the drain, how long the server waits for its voice modems' lines
#: to be on hook (an AT+VLS=0 on its way) before it stops anyway.
MODEM_ONHOOK_S = 10.0


def hub_users(config):
    """Protocol logins: the [[users]], and every agent by id (role agent)."""
    users = [User(u.name, u.roles, u.password_hash) for u in config.users]
    users += [User(a.id, frozenset({"agent"}), a.password_hash) for a in config.agents]
    return users


class CTServer(MultiService):
    """The CT tier's service tree.  `freeze_heap`: once started, take every
    object made so far out of the garbage collector's view (`gc.freeze`).
    The chassis, configuration and call centre of a full-size server are
    over 100,000 objects that live as long as it; left in view, each full
    collection walks them all, a pause of 100 ms or more under load that
    callers hear as dead air.  A process that runs one server sets it; tests
    that make hundreds do not, or nothing of theirs would ever be freed."""

    def __init__(self, config, *, reactor=None, driver=None, simulator=None, records=None,
                 listen=None, http=None, drain_s=DRAIN_S, freeze_heap=False,
                 reload_on_hangup=False, serial=None, caller_id_boxes=None):
        super().__init__()
        self.freeze_heap = freeze_heap
        if reactor is None:
            from twisted.internet import reactor
        self.config = config
        self.clock = reactor
        self.drain_s = drain_s
        if records is None:
            from cti.storage.store import RecordStore, default_url

            records = RecordStore(config.database or default_url(config.var_dir), reactor,
                                  var_dir=config.var_dir,
                                  db_timeout_s=config.faults.db_timeout_s)
            records.setServiceParent(self)
        self.records = records
        self.sim = simulator                 # drivers.sim.Simulator, or None: real boards
        if driver is None:
            driver = self._boards(reactor)
            from drivers.pump import board_events

            board_events(driver, reactor).setServiceParent(self)
        self.driver = driver = self._with_modems(driver, reactor, serial)
        self.bus = SwitchingMap(driver, log=FastLogger(namespace="ctbus.switching"))
        self.tls = None                      # cti.protocol.tls.ServerTLS, for tls: listeners
        self.hub = Hub(reactor, hub_users(config), heartbeat_s=config.heartbeat_s,
                       gate=Gate(reactor, config.gate, audit=lambda action, user, **detail:
                                 self.center.audit(action, user, **detail)))
        # Call ids go on from the start time in milliseconds: a restarted
        # server never reuses one (its records and recordings are named by
        # them), at up to 1000 calls a second.  On a test clock at 0: c1.
        self.model = CallModel(reactor, self.hub, first_id=int(reactor.seconds() * 1000) + 1)
        self.ports = VoicePorts(driver)
        self.voice_pool = VoicePool(config.voice_pool, busy=lambda name: driver.busy(name)
                                    or self.ports.busy(name))   # its done event not yet out
        self.channels = Channels(self.voice_pool)
        self.pri_spans = PriSpans()          # ISDN spans' D-channels (cti.server.lines.pri)
        prompts = config.flow.prompts_dir if config.flow else None
        self.center = CallCenter(reactor, config, driver, self.channels, self.bus, self.model,
                                 self.hub, self.ports, records, prompts_dir=prompts,
                                 recordings_dir=Path(config.var_dir) / "recordings")
        self.voice_pool.on_hung = lambda name, op: self.center.voice_hung(None, name, op)
        self._make_channels()
        self.telco = SimulatedTelco(self.sim, config, self.channels, reactor)
        simulation_handlers.register(self.hub, self.telco)
        self.span_watches = SpanWatches(reactor, driver, config, self.channels,
                                        self.pri_spans)
        self.line_tests = LineTests(reactor, driver, self.span_watches,
                                    lambda action, user, **detail:
                                    self.center.records.audit(action, user, **detail))
        self.traces = DChannelTraces(reactor, self.pri_spans, self.hub.send_event)
        maintenance_handlers.register(self.hub, driver, self.bus, self.span_watches,
                                      self.line_tests, lambda: self.center.config, self.traces)
        driver.subscribe(self.channels.handle)
        driver.subscribe(self.pri_spans.handle)
        driver.subscribe(self.ports.handle)
        self.lag = ReactorLag(reactor)
        self.figures = Figures(reactor, self.center, records,
                               lambda: [s.role for s in self.hub.sessions if s.role],
                               self.lag, started_at=reactor.seconds(),
                               span_watches=self.span_watches)
        self.boxes = self._caller_id_boxes(reactor, caller_id_boxes)
        self.messages = self._messages(reactor, serial)
        sms_handlers.register(self.hub, self.messages)
        self.reloader = Reloader(self.center, users_changed=self.reloaded)
        reload_handlers.register(self.hub, self.reloader)
        self.hangup = Hangup(reactor, self.reloader) if reload_on_hangup else None
        self.listening = Listening()
        for endpoint in (config.listen if listen is None else listen):
            self.listening.add(endpoint, self._endpoint(endpoint, reactor),
                               SessionFactory(self.hub))
        http = config.http if http is None else http
        if http:                                   # "" or None: no status pages
            self.listening.add(f"{http} (status pages)", serverFromString(reactor, http),
                               site(self.figures))
        self.listening.setServiceParent(self)      # the last to start, the first to stop

    def reloaded(self, config):
        """A reloaded configuration taken (cti.server.reload): its logins."""
        self.config = config
        self.hub.set_users(hub_users(config))

    def _endpoint(self, endpoint, reactor):
        """The endpoint of one [server] listen entry: a Twisted endpoint
        string, or "tls:PORT[:interface=...]" with the files of
        [server.tls] (cti.protocol.tls)."""
        if not endpoint.startswith("tls:"):
            return serverFromString(reactor, endpoint)
        if self.tls is None:
            self.tls = self.config.tls.server_tls()
        port, interface = tls_listen(endpoint)
        return server_endpoint(reactor, port, self.tls, interface)

    def _boards(self, reactor):
        """The driver of the configuration: the simulator on the wall clock
        (its clock thread started with the service: twistd forks between
        making the service and starting it, and a thread does not survive
        a fork), R4, or DAHDI (its system.conf, its channels named as the
        boards)."""
        from drivers.r4 import R4Driver

        if self.config.driver == "dahdi":
            from cti.server.config import board_layout
            from drivers import systemconf
            from drivers.dahdi import DahdiDriver
            from drivers.dahdidev import KernelDevices

            return DahdiDriver(KernelDevices(), systemconf.read(self.config.system_conf),
                               reactor, boards=board_layout(self.config.boards))
        if self.config.driver == "sim":
            from drivers.sim import Simulator

            self.sim = Simulator.from_config(self.config.boards, virtual_time=False,
                                             where=self.config.boards_where)
        return R4Driver(clock=reactor, tone_channels=self.config.station_tones or None)

    def _with_modems(self, boards, reactor, serial):
        """The boards' driver, and with [[modems]] the voice modems' beside
        it (drivers.combined): each on its serial port, which `serial`
        (settings, protocol) connects (a test's simulated line) or its own
        (pyserial under Twisted).  Their events come from the ports, on
        the reactor's thread: no service brings them."""
        if not self.config.modems:
            return boards
        from drivers.combined import CombinedDriver
        from drivers.modem import VoiceModemDriver, serial_ports

        modems = VoiceModemDriver(self.config.modems, reactor, serial or serial_ports(reactor))
        log.info("{n} voice modems beside the {family} boards: {names}",
                 n=len(self.config.modems), family=boards.family,
                 names=", ".join(i.name for i in modems.inventory() if i.kind == "voice"))
        return CombinedDriver(boards, modems)

    def _caller_id_boxes(self, reactor, boxes):
        """The USB caller-ID boxes of [[caller_id_boxes]], each read by a
        thread of its own (drivers.pump.EventThread), their lines'
        events to the monitored lines; or `boxes`, made and read by a
        test."""
        if boxes is None:
            from drivers.pump import EventThread
            from drivers.usbcid import BOX_WAIT, CallerIdBox

            boxes = [CallerIdBox(b.name, b.vendor_id, b.product_id, reactor)
                     for b in self.config.caller_id_boxes]
            for box in boxes:
                EventThread(box, reactor, announce=BOX_WAIT).setServiceParent(self)
        for box in boxes:
            self.center.monitored.attach(box)
        return boxes

    def _messages(self, reactor, serial):
        """The short messages of [sms] through its GSM modem, on the serial
        port `serial(settings, protocol)` opens (a test's simulated line),
        or its own; None without [sms]."""
        sms = self.config.sms
        if sms is None:
            return None
        modem = GsmModem(sms.modem, reactor)
        (serial or gsm_serial_port(reactor))(sms.modem, modem)
        return Messages(reactor, modem, self.center.records, sms.retries, sms.retry_s)

    def _make_channels(self):
        c, driver, clock, listener = self.config, self.driver, self.clock, self.center
        driver.inventory()
        pool = self.voice_pool
        self.r2_contexts = contexts_for(c.trunk_groups)
        for group in c.trunk_groups:
            for name in group.channels:
                signalling = group.signalling.get(name)
                if signalling == "cas":
                    ch = R2Trunk(name, driver, clock, listener, pool, self.bus, group.r2,
                                 self.r2_contexts[group.name],
                                 number=group.channels.index(name) + 1, group=group.name)
                elif signalling == "em_wink":
                    ch = EmWinkTrunk(name, driver, clock, listener, pool, self.bus,
                                     register=group.address, group=group.name)
                elif signalling == "loopstart":
                    ch = LoopStartLine(name, driver, clock, listener, group=group.name,
                                       supervision=group.supervision(signalling))
                elif signalling == "modem":
                    ch = ModemLine(name, driver, clock, listener, group=group.name,
                                   supervision=group.supervision(signalling))
                elif signalling in ("pri", "ccs"):
                    ch = self._pri_trunk(name, group.name)
                else:                                  # fxs_loopstart: a T1 timeslot
                    ch = T1LoopStartTrunk(name, driver, clock, listener, pool, self.bus,
                                          group=group.name,
                                          supervision=group.supervision(signalling))
                self.channels.add(ch)
        for group in c.station_groups:
            for name in group.stations:
                self.channels.add(Station(name, driver, clock, listener, group=group.name))
        for span in (d.name for d in c.devices.values() if d.kind == "span"):
            timeslots = [ch for ch in self.channels
                         if ch.name.startswith(f"{span}T") and not isinstance(ch, Station)]
            if timeslots:
                self.channels.add(Span(span, driver, clock, listener, timeslots,
                                       healthy_s=c.faults.span_healthy_s))

    def _pri_trunk(self, name, group):
        """The PriTrunk of B-channel `name`, on its span's PriSpan (made
        with the first of its B-channels)."""
        span = name.rsplit("T", 1)[0]
        e1 = self.config.boards[self.config.devices[span].board]["type"] == "e1"
        dchannel = self.pri_spans.get(f"{span}D") or self.pri_spans.add(PriSpan(
            f"{span}D", span, self.config.pri_settings(span), self.driver, self.clock, e1))
        trunk = PriTrunk(name, self.driver, self.clock, self.center, self.voice_pool, self.bus,
                         dchannel, bchannel(name, e1), group=group)
        dchannel.add(trunk)
        return trunk

    def _close_r2(self):
        """OpenR2's channels and contexts go with the server (their calls
        were drained)."""
        for channel in self.channels:
            if isinstance(channel, R2Trunk):
                channel.close()
        for context in self.r2_contexts.values():
            context.close()

    def _modems_on_hook(self):
        """A Deferred fired once every voice modem's line is on hook (their
        calls were drained; the modem may still be answering AT+VLS=0, or
        its line be out of service, its port gone), or after MODEM_ONHOOK_S
        on the clock, with a warning naming those left off hook: the
        server's stop must not leave a caller's line held."""
        modems = [ch for ch in self.channels if isinstance(ch, ModemLine)]
        waits = [ch.when_on_hook() for ch in modems]
        if all(d.called for d in waits):
            return defer.succeed(None)
        done = defer.DeferredList(waits, consumeErrors=True)
        done.addTimeout(MODEM_ONHOOK_S, self.clock)

        def late(failure):
            failure.trap(defer.TimeoutError)
            log.warn("stopping: voice modem lines {names} not on hook after {s:.0f} s",
                     names=", ".join(ch.name for ch in modems
                                     if ch.state in LOOP_START_OFF_HOOK), s=MODEM_ONHOOK_S)
        return done.addCallbacks(lambda _: None, late)

    def _close_pri(self):
        """libpri's links on the ISDN D-channels go silent with the server
        (their calls were drained): no timer of theirs runs on, no frame
        goes out after the stop."""
        for span in self.pri_spans:
            span.link.close()

    def startService(self):
        if self.hangup is not None:                # SIGHUP reloads from now on
            self.hangup.install()
        if self.sim is not None and not self.sim.virtual_time:
            self.sim.run_clock(True)
        super().startService()
        for channel in list(self.channels):
            if isinstance(channel, Span):
                channel.start()
        self.center.start()
        self.telco.start()
        self.span_watches.start()
        self.line_tests.start()
        self.lag.start()
        if self.freeze_heap:
            gc.collect()
            gc.freeze()

    @defer.inlineCallbacks
    def stopService(self):
        if self.hangup is not None:
            self.hangup.uninstall()
        log.info("stopping: draining calls (up to {s} s)", s=self.drain_s)
        yield self.center.drain(self.drain_s)
        yield self._modems_on_hook()
        self.line_tests.stop()
        self.telco.stop()
        self.span_watches.stop()
        self.center.stop()
        self._close_r2()
        self._close_pri()
        self.lag.stop()
        self.hub.close_all("server shutdown")
        yield defer.maybeDeferred(super().stopService)
        try:
            self.driver.stop_events()       # its events' service stopped: its timers too
        except Exception:
            log.failure("stopping the driver's timers failed")
        if self.sim is not None and not self.sim.virtual_time:
            self.sim.run_clock(False)
