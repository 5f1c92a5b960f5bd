# SPDX-License-Identifier: GPL-2.0-or-later
"""The GSM modem (drivers.gsm) against our GSM modem simulator: SMS in
English and in Chinese, in PDU and text mode, in memory and through a
real pty pair with Twisted's SerialPort; long messages in parts; delivery
reports; the SIM's PIN; the network's refusals in words; messages
received, their parts joined."""
import pytest
from twisted.internet import task

from drivers.errors import ModemError, SmsError
from drivers.gsm import GsmModem, GsmSettings, serial_port
from simulators.gsmmodem import GsmModemSimulator
from simulators.serialline import SerialLine
from tests.serialpty import PtyDevice, PtyReactor

CHINESE = "您好！您的预约已确认：明天上午十点。"
LONG_CHINESE = "这是一条很长的中文短信，用来确认拆分与合并都正确无误。" * 4
ENGLISH = "Your appointment is confirmed for 10:00 tomorrow. Reply STOP to opt out."


class Gsm:
    """A GSM modem on a simulated serial line (in memory or a real pty)."""

    def __init__(self, mode="pdu", pty=False, pin=None, sim_pin=None, reports=True):
        self.clock = task.Clock()
        self.sim = GsmModemSimulator(self.clock, pin=sim_pin)
        self.pty = None
        if pty:
            self.reactor = PtyReactor(self.clock)
            self.pty = PtyDevice(self.sim, self.reactor)
            settings = GsmSettings(self.pty.path, mode=mode, pin=pin, delivery_reports=reports)
            self.modem = GsmModem(settings, self.clock)
            serial_port(self.reactor)(settings, self.modem)
        else:
            self.reactor = None
            self.modem = GsmModem(GsmSettings("", mode=mode, pin=pin, delivery_reports=reports),
                                  self.clock)
            SerialLine(self.clock).connect(self.modem, self.sim)
        self.reports, self.messages = [], []
        self.modem.on_report = self.reports.append
        self.modem.on_message = self.messages.append
        self.run(100)

    def run(self, ms):
        for _ in range(0, ms, 10):
            if self.reactor is not None:
                self.reactor.run(10)
            else:
                self.clock.advance(0.01)

    def result(self, d, ms=1_000):
        got = []
        d.addBoth(got.append)
        self.run(ms)
        assert got, "no result"
        return got[0]

    def close(self):
        if self.pty is not None:
            self.pty.close()


@pytest.fixture(params=["memory", "pty"])
def transport(request):
    return request.param


@pytest.mark.parametrize("mode", ["pdu", "text"])
@pytest.mark.parametrize("text", [ENGLISH, CHINESE], ids=["english", "chinese"])
def test_sms_in_english_and_chinese_through_the_gsm_simulator(transport, mode, text):
    gsm = Gsm(mode=mode, pty=transport == "pty")
    assert gsm.result(gsm.modem.ready) is None
    references = gsm.result(gsm.modem.send("+8613800138000", text))
    assert [(s.number, s.text, s.status_report) for s in gsm.sim.sent] == [
        ("+8613800138000", text, True)]
    assert references == [gsm.sim.sent[0].reference]
    gsm.run(6_000)
    assert [(r.reference, r.outcome) for r in gsm.reports] == [(references[0], "delivered")]
    gsm.close()


def test_the_set_up_in_pdu_and_text_mode():
    pdu, text = Gsm(mode="pdu"), Gsm(mode="text")
    assert pdu.sim.commands == ["ATZ", "ATE0", "AT+CMEE=1", "AT+CPIN?", "AT+CMGF=0",
                                "AT+CNMI=2,1,0,1,0"]
    assert text.sim.commands[-2:] == ["AT+CNMI=2,1,0,1,0", 'AT+CSCS="UCS2"']


def test_a_long_chinese_message_goes_in_joined_parts_in_pdu_mode():
    gsm = Gsm()
    references = gsm.result(gsm.modem.send("+8613800138000", LONG_CHINESE))
    parts = gsm.sim.sent
    assert len(parts) == 2 and len(set(p.concat.reference for p in parts)) == 1
    assert [p.concat.sequence for p in parts] == [1, 2]
    assert "".join(p.text for p in parts) == LONG_CHINESE
    assert references == [p.reference for p in parts]


def test_a_long_message_in_text_mode_goes_as_whole_messages():
    gsm = Gsm(mode="text")
    gsm.result(gsm.modem.send("+15551234567", "x" * 200))
    assert [len(s.text) for s in gsm.sim.sent] == [160, 40]
    assert all(s.concat is None for s in gsm.sim.sent)


def test_a_failed_delivery_is_reported_in_words():
    gsm = Gsm()
    gsm.sim.statuses["+15551234567"] = 0x46
    references = gsm.result(gsm.modem.send("+15551234567", "hello"))
    gsm.run(6_000)
    report = gsm.reports[0]
    assert (report.reference, report.outcome, report.meaning) == (
        references[0], "failed", "validity period expired")


@pytest.mark.parametrize("refusal, code, temporary, words", [
    ("refuse", 42, True, "congestion"),
    ("refuse", 1, False, "unassigned (unallocated) number"),
    ("no network", 331, True, "no network service")])
def test_the_network_s_refusals_come_in_words(refusal, code, temporary, words):
    gsm = Gsm()
    if refusal == "refuse":
        gsm.sim.refuse_next(code)
    else:
        gsm.sim.network = False
    failure = gsm.result(gsm.modem.send("+15551234567", "hello"))
    error = failure.value
    assert isinstance(error, SmsError) and (error.code, error.temporary) == (code, temporary)
    assert words in str(error) and error.function.startswith("AT+CMGS=")


def test_the_sim_is_unlocked_with_its_pin_and_refuses_without():
    gsm = Gsm(pin="1234", sim_pin="1234")
    assert gsm.result(gsm.modem.ready) is None and 'AT+CPIN="1234"' in gsm.sim.commands
    missing = Gsm(sim_pin="1234")
    error = missing.result(missing.modem.ready).value
    assert isinstance(error, ModemError) and "set [sms] pin" in str(error)
    wrong = Gsm(pin="0000", sim_pin="1234")
    error = wrong.result(wrong.modem.ready).value
    assert error.code == 16 and "incorrect password" in str(error)


@pytest.mark.parametrize("mode", ["pdu", "text"])
def test_a_message_received_is_read_deleted_and_its_parts_joined(transport, mode):
    gsm = Gsm(mode=mode, pty=transport == "pty")
    text = LONG_CHINESE if mode == "pdu" else CHINESE
    gsm.sim.receive("+8613800138000", text)
    gsm.run(500)
    assert [(m.sender, m.text) for m in gsm.messages] == [("+8613800138000", text)]
    assert gsm.messages[0].timestamp == "2024-03-21T14:05:00+08:00"
    assert gsm.sim.stored == {}
    gsm.close()


class Silent:
    """A device that never answers."""

    def data_received(self, data):
        pass


def test_a_modem_that_never_answers_fails_its_commands_in_time():
    clock = task.Clock()
    modem = GsmModem(GsmSettings("/dev/ttyUSB9"), clock)
    SerialLine(clock).connect(modem, Silent())
    failures = []
    modem.ready.addErrback(failures.append)
    clock.advance(11)
    assert "no answer within 10 s" in str(failures[0].value)
    assert failures[0].value.device == "/dev/ttyUSB9"
