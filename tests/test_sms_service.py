# SPDX-License-Identifier: GPL-2.0-or-later
"""Short messages through the CT server (cti.server.sms): the sample
server with an [sms] GSM modem, our GSM modem simulator on its serial
line.  A flow's `sms` step texts the caller (in Chinese); SendMessage
from any role that may; a message refused as it is given, or by the
network (tried again when it may work, failed in words when not); its
delivery report; a message received; every outcome in the audit log."""
import textwrap
from dataclasses import replace

import pytest
from twisted.internet import task

from cti.flow.loader import load_flows
from cti.flow.run import load
from cti.flow.tier import FlowTier
from cti.server.config import SmsSettings, load_server_config
from cti.storage.models import AuditEntry
from drivers.gsm import GsmSettings
from simulators.gsmmodem import GsmModemSimulator
from simulators.serialline import SerialLine
from tests.centre import Centre, admin, refused

ROOT_CONFIG = "etc/cti.toml"


class SmsCentre(Centre):
    """The sample server with [sms], its modem our simulator."""

    def __init__(self, mode="pdu", retries=2, retry_s=30):
        clock = task.Clock()
        self.gsm = GsmModemSimulator(clock)
        config = replace(load_server_config(ROOT_CONFIG), sms=SmsSettings(
            GsmSettings("/dev/ttyUSB2", mode=mode), retries=retries, retry_s=retry_s))
        super().__init__(config, clock=clock,
                         serial=lambda settings, modem: SerialLine(clock).connect(modem,
                                                                                  self.gsm))
        self.server.startService()
        self.run(200)                      # the modem's set-up

    def audit(self, action):
        return [r for r in self.records if isinstance(r, AuditEntry) and r.action == action]


@pytest.fixture
def centre():
    centre = SmsCentre()
    yield centre
    centre.center.stop()


def test_a_flow_texts_its_caller_in_chinese(centre, tmp_path):
    """The flow tier runs a flow with an sms step for a call: the message
    goes to the caller's number through the modem, its id kept in the
    call's data, and the delivery report is in the audit log."""
    flows_dir = tmp_path / "flows"
    flows_dir.mkdir()
    (flows_dir / "main_menu.toml").write_text(textwrap.dedent("""
        [[steps]]
        name = "welcome"
        type = "answer"
        next = "text_them"

        [[steps]]
        name = "text_them"
        type = "sms"
        text = "感谢您的来电（$ani），我们会尽快回复您。"
        store = "sms"
        next = "bye"

        [[steps]]
        name = "bye"
        type = "hangup"
    """))
    _, settings, _ = load(ROOT_CONFIG)
    flows = load_flows(flows_dir, settings.prompts_dir / "prompts.toml")
    client = centre.client()
    centre.call(client.login(settings.user, settings.read_password(), "flow"))
    tier = FlowTier.from_settings(client, flows, settings.prompts_dir, centre.clock)
    centre.call(tier.register())
    centre.sim.endpoint("dtiB1T1").call(ani="13800138000", dnis="5550100")
    centre.run_until(lambda: tier.outcomes, what="the flow ends")
    call_id, outcome = tier.outcomes[0]
    assert outcome.how == "hung_up", outcome
    centre.run(200)
    assert [(s.number, s.text) for s in centre.gsm.sent] == [
        ("13800138000", "感谢您的来电（13800138000），我们会尽快回复您。")]
    sent = centre.audit("SmsSent")[0]
    assert (sent.user, sent.call_id, sent.detail["to"]) == ("ivr", call_id, "13800138000")
    centre.run(6_000)
    assert centre.audit("SmsDelivered")[0].detail["message"] == sent.detail["message"]


def test_send_message_from_a_supervisor_in_english_and_its_refusals(centre):
    sup = centre.client()
    centre.call(sup.login("sup", "1234", "supervisor"))
    got = centre.call(sup.call("SendMessage", to="+15551234567",
                               text="Your engineer arrives at 10:00."))
    assert got == {"message": "m1", "parts": 1}
    centre.run(100)
    assert [(s.number, s.text) for s in centre.gsm.sent] == [
        ("+15551234567", "Your engineer arrives at 10:00.")]
    withheld = refused(centre, sup, "SendMessage", to="P", text="hi")
    assert (withheld.code, withheld.body["field"]) == ("invalid_field", "to")
    assert "withheld" in str(withheld)
    empty = refused(centre, sup, "SendMessage", to="5551234", text="")
    assert empty.body["field"] == "text"


def test_a_temporary_refusal_is_tried_again_and_a_permanent_one_fails_in_words(centre):
    client = admin(centre)
    centre.gsm.refuse_next(42)                       # congestion: later
    centre.call(client.call("SendMessage", to="5551234", text="one"))
    centre.run(100)
    assert centre.gsm.sent == [] and centre.audit("SmsFailed") == []
    centre.run(30_000)
    assert [s.text for s in centre.gsm.sent] == ["one"]
    centre.gsm.refuse_next(1)                        # no such number: never
    centre.call(client.call("SendMessage", to="5559999", text="two"))
    centre.run(100)
    failed = centre.audit("SmsFailed")[0]
    assert (failed.detail["to"], failed.detail["attempts"]) == ("5559999", 1)
    assert "+CMS ERROR 1: unassigned (unallocated) number" in failed.detail["error"]


def test_an_undelivered_message_and_one_received_are_audited(centre):
    client = admin(centre)
    centre.gsm.statuses["5551234"] = 0x46
    centre.call(client.call("SendMessage", to="5551234", text="too late"))
    centre.run(6_000)
    assert centre.audit("SmsNotDelivered")[0].detail["meaning"] == "validity period expired"
    centre.gsm.receive("+8613800138000", "收到，谢谢！")
    centre.run(200)
    received = centre.audit("SmsReceived")[0]
    assert (received.user, received.detail["sender"], received.detail["text"]) == (
        "system", "+8613800138000", "收到，谢谢！")


def test_a_server_without_sms_says_so():
    centre = Centre()
    client = admin(centre)
    error = refused(centre, client, "SendMessage", to="5551234", text="hi")
    assert error.code == "invalid_state" and "[sms]" in str(error)
