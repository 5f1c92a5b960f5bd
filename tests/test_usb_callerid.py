# SPDX-License-Identifier: GPL-2.0-or-later
"""The USB caller-ID box (drivers.hidcid, drivers.usbcid) and the
monitored lines it gives the server (cti.server.monitored): recorded HID
reports; the box through pyusb over our simulated backend (taken from
the kernel's HID driver, its rings counted and their end, caller ID in
FSK and DTMF, hook, keys, a report that does not parse, a box gone); its
event thread; and the server: a monitored line's snapshot and events,
the caller ID popped to the agent at the line's phone, what each role
may see."""
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
from twisted.internet import task
from twisted.logger import capturedLogs

from cti.agent.model import Desk
from cti.agent.widgets import outside_line
from cti.server.config import CallerIdBox as BoxConfig
from cti.server.config import MonitoredLine, load_server_config
from drivers.errors import BoardError, MalformedData, NoSuchDevice
from drivers.hidcid import BoxReports
from drivers.pump import EventThread
from drivers.usbcid import CallerIdBox
from simulators.hidbox import HidBoxBackend, report
from tests.centre import Centre, admin, refused
from tests.test_event_thread import ThreadedReactor

CASES = tomllib.loads((Path(__file__).parent / "fixtures" / "hid_reports.toml").read_text())
VENDOR, PRODUCT = 0x1234, 0x5678


def described(event):
    if event.kind == "caller_id":
        c = event.data["caller_id"]
        return [event.kind, event.line, f"{c.number} {c.name} {c.datetime} {c.frame}"]
    if event.kind == "hook":
        return [event.kind, event.line, "offhook" if event.data["offhook"] else "onhook"]
    return [event.kind, event.line, event.data.get("digit", "")]


@pytest.mark.parametrize("case", CASES["case"], ids=[c["label"] for c in CASES["case"]])
def test_recorded_reports_give_their_events(case):
    reports = BoxReports()
    events = [e for r in case["reports"] for e in reports.feed(bytes.fromhex(r))]
    assert [described(e) for e in events] == case["events"]


@pytest.mark.parametrize("reports, why", [
    (["01010000000000"], "7 bytes"), (["0901000000000000"], "kind 0x09"),
    (["0100000000000000"], "line 0"), (["0501014500000000"], "'E' is not a DTMF key"),
    (["0401050403303930", "0401010000000000"], "wrong checksum")])   # SDMF, checksum 00
def test_reports_that_do_not_parse_are_malformed_data(reports, why):
    box_reports = BoxReports()
    for raw in reports[:-1]:
        box_reports.feed(bytes.fromhex(raw))
    with pytest.raises(MalformedData, match=why):
        box_reports.feed(bytes.fromhex(reports[-1]))


class Box:
    """A box over the simulated backend, read as its thread would."""

    def __init__(self, clock=None):
        self.clock = clock or task.Clock()
        self.backend = HidBoxBackend(VENDOR, PRODUCT)
        self.box = CallerIdBox("reception", VENDOR, PRODUCT, self.clock, backend=self.backend)
        self.events = []
        self.box.subscribe(self.events.append)

    def read(self):
        while self.backend.waiting():
            self.box.deliver(self.box.wait_events(1))

    def of(self, kind):
        return [e for e in self.events if e.kind == kind]


def test_the_box_is_found_taken_from_the_kernel_and_read_through_pyusb():
    box = Box()
    assert not box.backend.kernel_driver and box.backend.configuration == 1
    assert box.box.endpoint == 0x81
    box.backend.ring(1)
    box.backend.caller_id(1, "13800138000", "WANG")
    box.backend.ring(1)
    box.backend.offhook(1)
    box.read()
    assert [(e.device, e.kind) for e in box.events] == [
        ("reception/1", "ring"), ("reception/1", "caller_id"), ("reception/1", "ring"),
        ("reception/1", "hook")]
    assert [e["count"] for e in box.of("ring")] == [1, 2]
    cid = box.of("caller_id")[0]["caller_id"]
    assert (cid.number, cid.name, cid.frame) == ("13800138000", "WANG", "M")
    box.clock.advance(20)
    assert box.of("ring_stopped") == []            # answered: no ring_stopped


def test_ringing_nobody_answers_stops_and_the_next_call_counts_from_one():
    box = Box()
    box.backend.ring(2)
    box.read()
    box.clock.advance(6)
    box.backend.ring(2)
    box.read()
    box.clock.advance(8)
    assert [e.device for e in box.of("ring_stopped")] == ["reception/2"]
    box.backend.ring(2)
    box.read()
    assert [e["count"] for e in box.of("ring")] == [1, 2, 1]


def test_a_report_that_does_not_parse_is_logged_and_skipped():
    box = Box()
    box.backend.push(report(9, 1))
    box.backend.ring(1)
    with capturedLogs() as logged:
        box.read()
    assert [e.kind for e in box.events] == ["ring"]
    assert any("kind 0x09" in str(e.get("error")) for e in logged)


def test_a_box_not_plugged_in_and_one_unplugged_are_clear_errors():
    with pytest.raises(NoSuchDevice, match="no USB device 1234:9999: is the box plugged in"):
        CallerIdBox("reception", VENDOR, 0x9999, task.Clock(), backend=HidBoxBackend(
            VENDOR, PRODUCT))
    box = Box()
    box.backend.unplug()
    with pytest.raises(BoardError, match="the box stopped answering") as caught:
        box.box.wait_events(1)
    assert caught.value.device == "reception"


def test_the_box_s_thread_brings_its_events_to_the_reactor():
    """One thread waits in the USB read (drivers.pump.EventThread), as for
    a vendor's board library; what it took is delivered on the reactor's
    thread, and it stops within a wait."""
    box = Box()
    reactor = ThreadedReactor()
    thread = EventThread(box.box, reactor)
    thread.startService()
    box.backend.ring(1)
    box.backend.dtmf_caller_id(1, "01088886666")
    reactor.run_until(lambda: len(box.events) == 2)
    thread.stopService()
    assert [e.kind for e in box.events] == ["ring", "caller_id"]
    assert box.of("caller_id")[0]["caller_id"].number == "01088886666"


# ---- the server: monitored lines ---------------------------------------------------

class MonitoredCentre(Centre):
    """The sample server with a box of two lines: front-desk (for the
    phone msiB1C5, agent 1005's) and back-office (for no phone)."""

    def __init__(self):
        clock = task.Clock()
        self.box = Box(clock)
        config = replace(
            load_server_config("etc/cti.toml"),
            caller_id_boxes=(BoxConfig("reception", VENDOR, PRODUCT, lines=2),),
            monitored_lines=(MonitoredLine("front-desk", "reception", 1, "msiB1C5"),
                             MonitoredLine("back-office", "reception", 2)))
        super().__init__(config, clock=clock, caller_id_boxes=[self.box.box])
        self.server.startService()

    def act(self, *actions):
        for action in actions:
            action()
            self.box.read()
            self.run(100)


@pytest.fixture
def centre():
    centre = MonitoredCentre()
    yield centre
    centre.center.stop()


def test_a_monitored_line_pops_its_caller_to_the_agent_at_its_phone(centre):
    agent = centre.client()
    centre.call(agent.login("1005", "1234", "agent"))
    centre.call(agent.call("SetAgentState", state="loggedOn", station="msiB1C5"))
    centre.call(agent.call("MonitorStart", object="device", id="msiB1C5"))
    seen = centre.events(agent)
    b = centre.box.backend
    centre.act(lambda: b.ring(1), lambda: b.caller_id(1, "13800138000", "WANG"),
               lambda: b.ring(1), lambda: b.offhook(1))
    centre.run(3_000)
    centre.act(lambda: b.onhook(1))
    names = [name for name, _ in seen]
    assert names == ["LineRinging", "LineCallerId", "LineRinging", "LineOffHook", "LineIdle"]
    pop = dict(seen)["LineCallerId"]
    assert (pop["device"], pop["station"], pop["state"]) == ("monitored:front-desk", "msiB1C5",
                                                             "ringing")
    assert pop["callerId"] == {"number": "13800138000", "name": "WANG", "datetime": "03211405"}
    idle = seen[-1][1]
    assert (idle["answered"], idle["durationS"]) == (True, 3.1)
    desk = Desk("1005", "msiB1C5", lambda: 0.0)
    for _, body in seen[:-1]:
        desk.apply({"event": _, **body})
    assert outside_line(desk.outside) == "front-desk answered: 13800138000 WANG"


def test_a_monitored_line_s_snapshot_and_events_to_its_monitors(centre):
    sup = admin(centre)
    snap = centre.call(sup.call("Snapshot", object="device", id="monitored:back-office"))
    assert {k: snap["snapshot"][k] for k in ("kind", "state", "box", "line", "station")} == {
        "kind": "monitored_line", "state": "idle", "box": "reception", "line": 2,
        "station": None}
    centre.call(sup.call("MonitorStart", object="device", id="*"))
    seen = centre.events(sup)
    b = centre.box.backend
    centre.act(lambda: b.offhook(2), lambda: b.key(2, "9"), lambda: b.key(2, "5"),
               lambda: b.onhook(2), lambda: b.ring(2))
    centre.run(9_000)
    assert [(n, body["device"]) for n, body in seen] == [
        ("LineOffHook", "monitored:back-office"), ("LineIdle", "monitored:back-office"),
        ("LineRinging", "monitored:back-office"), ("LineIdle", "monitored:back-office")]
    assert seen[1][1]["dialled"] == "95" and seen[3][1]["answered"] is False
    every = centre.call(sup.snapshot_all("device"))
    assert {"monitored:front-desk", "monitored:back-office"} <= {s["device"] for s in every}


def test_an_agent_sees_the_monitored_line_of_its_phone_only(centre):
    agent = centre.client()
    centre.call(agent.login("1005", "1234", "agent"))
    centre.call(agent.call("Snapshot", object="device", id="monitored:front-desk"))
    error = refused(centre, agent, "Snapshot", object="device", id="monitored:back-office")
    assert error.code == "forbidden"
