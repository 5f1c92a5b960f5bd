# SPDX-License-Identifier: GPL-2.0-or-later
"""Voice modems as lines of the CT server ([[modems]], cti.server.lines.modem):
the sample server with a modem beside its simulated boards, our V.253
modem simulator on the modem's serial line.  A call in on the modem rings,
gives its caller ID, is answered by its flow, hears the prompts, keys in,
leaves a message and hangs up, and its CDR says so; what needs a CT-Bus
(a queue, an agent) is refused with the reason while the caller stays in
the flow, or, routed there, ends the call with the reason as its cause;
and the configuration's errors name the file, the key and the value."""
import textwrap
from pathlib import Path

import pytest
from twisted.internet import task

from cti.config import ConfigError
from cti.flow.loader import load_flows
from cti.flow.tier import FlowTier
from cti.server.config import load_server_config
from cti.storage.models import CallRecord
from drivers import g711
from drivers.errors import ModemError
from drivers.modem import ModemSettings
from simulators.serialline import SerialLine
from simulators.voicemodem import VoiceModemSimulator
from tests.centre import STEP_MS, Centre, admin, refused
from tests.rig import tone
from tests.serialpty import PtyDevice, PtyReactor
from tests.test_server_config import BASE, error, write

ROOT = Path(__file__).resolve().parent.parent
LINE = "mdmB1C1"
NO_BUS = "line mdmB1C1 is a voice modem: it has no CT-Bus, so its calls stay in the IVR"

#: The modem's flow: a menu (9: a message), the message, goodbye.
MODEM_MENU = """
[[steps]]
name = "answer"
type = "answer"
next = "menu"

[[steps]]
name = "menu"
type = "menu"
prompt = ["menu_options"]
options = { "9" = "voicemail" }
timeout_s = 5
retries = 1
on_failure = "bye"

[[steps]]
name = "voicemail"
type = "record"
prompt = ["leave_message"]
max_s = 30
silence_s = 3
terminator = "#"
store = "message_file"
next = "bye"

[[steps]]
name = "bye"
type = "hangup"
prompt = ["goodbye"]
"""

#: A flow for boards' callers too, with a transfer (1: sales) whose
#: on_failure leaves a message: a modem's caller gets to it by an ANI
#: route, which the configuration cannot tell from a board's.
SALES_MENU = MODEM_MENU.replace('{ "9" = "voicemail" }',
                                '{ "1" = "to_sales", "9" = "voicemail" }') + """
[[steps]]
name = "to_sales"
type = "transfer"
queue = "sales"
on_failure = "voicemail"
"""

#: What the sample configuration gets: a modem, its trunk group, its route.
MODEMS = """
[[modems]]
port = "/dev/ttyACM0"

[[trunk_groups]]
name = "modems"
direction = "in"
channels = ["mdmB1C1"]

[[routes]]
trunk_group = "modems"
flow = "modem_menu"
"""


def modem_config(tmp_path, extra="", modems=MODEMS, flows=None):
    """The sample configuration with `modems` (and `extra`), its flows those
    of etc/flows, the modem's menu and `flows` (name: text), its var
    directory in `tmp_path`."""
    etc = ROOT / "etc"
    tmp_path.mkdir(parents=True, exist_ok=True)
    directory = tmp_path / "flows"
    directory.mkdir()
    for flow in (etc / "flows").glob("*.toml"):
        (directory / flow.name).write_text(flow.read_text())
    for name, text in {"modem_menu": MODEM_MENU, "sales_menu": SALES_MENU,
                       **(flows or {})}.items():
        (directory / f"{name}.toml").write_text(text)
    text = (etc / "cti.toml").read_text()
    for old, new in (('boards = "boards.toml"', f'boards = "{etc / "boards.toml"}"'),
                     ('prompts_dir = "prompts"', f'prompts_dir = "{etc / "prompts"}"'),
                     ('var_dir = "../var"', 'var_dir = "var"')):
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "cti.toml"
    path.write_text(text + modems + extra)
    return load_server_config(path)


class ModemCentre(Centre):
    """The sample server with a voice modem (modem_config), our simulator
    on its line: in memory, or with `pty` on the master of a real pty pair
    whose slave the server opens itself, with Twisted's SerialPort
    (tests/serialpty.py: its reactor, one the test moves, is the server's).
    `driver`: the boards' (tests.centre.Centre); `plugged`: the modem
    plugged in at the start."""

    def __init__(self, tmp_path, extra="", pty=False, driver="r4", plugged=True):
        clock = task.Clock()
        self.modem = VoiceModemSimulator(clock)
        self.pty = None
        self.plugged, self.lines = plugged, []
        if pty:
            self.pty_reactor = PtyReactor(clock)
            self.pty = PtyDevice(self.modem, self.pty_reactor)
            config = modem_config(tmp_path, extra, MODEMS.replace("/dev/ttyACM0",
                                                                  self.pty.path))
            super().__init__(config, clock=self.pty_reactor, driver=driver,
                             var_dir=config.var_dir)
        else:
            config = modem_config(tmp_path, extra)
            super().__init__(config, clock=clock, driver=driver, serial=self._plug,
                             var_dir=config.var_dir)   # the file's: a reload changes none
        self.server.startService()
        self.run(200)                      # the modem's set-up

    def _plug(self, settings, protocol):
        """The server opens the modem's port: our line to the simulator, or
        the error pyserial gives while the modem is unplugged."""
        if not self.plugged:
            raise ModemError(f"cannot open the serial port: [Errno 2] could not open port "
                             f"{settings.port}", function="open", device=settings.port)
        line = SerialLine(self.clock)
        self.lines.append(line)
        line.connect(protocol, self.modem)

    def unplug(self):
        """The USB modem is pulled out: its port closes under the server."""
        self.plugged = False
        self.lines[-1].transport.loseConnection()

    def run(self, ms):
        if self.pty is None:
            return super().run(ms)
        for _ in range(0, ms, STEP_MS):   # the clock moves with the bytes through the pty
            self.sim.advance(STEP_MS)
            self.pty_reactor.run(STEP_MS)
            self._poll()
            self.flush()
        return None

    def close(self):
        self.center.stop()
        if self.pty is not None:
            self.pty.close()

    def flow_tier(self):
        settings = self.config.flow
        flows = load_flows(settings.flows_dir, settings.prompts_dir / "prompts.toml")
        client = self.client()
        self.call(client.login(settings.user, settings.read_password(), "flow"))
        tier = FlowTier.from_settings(client, flows, settings.prompts_dir, self.clock)
        self.call(tier.register())
        return tier

    def cdr(self):
        return self.records.of(CallRecord)

    def heard(self, start):
        """Whether the caller heard audio (not silence) in the prompts the
        modem played whole since `start` bytes of what it played."""
        return any(b not in (0xFF, 0x7F) for b in self.modem.heard[start:])


@pytest.fixture
def centre(tmp_path):
    centre = ModemCentre(tmp_path)
    yield centre
    centre.close()


@pytest.fixture(params=["in memory", "over a pty", "beside DAHDI"])
def either(request, tmp_path):
    centre = ModemCentre(tmp_path, pty=request.param == "over a pty",
                         driver="dahdi" if request.param == "beside DAHDI" else "r4")
    yield centre
    centre.close()


def test_a_call_on_the_modem_is_answered_by_its_flow_and_leaves_a_message(either):
    """Ringing with caller ID, answered by the flow on its route, the
    menu heard, 9 pressed, a message left (ended with #), goodbye, the
    line back on hook; the CDR has the caller's number, the modem's line
    and group, the flow, the message; the recording holds what was said.
    The same through the server's own serial port on a real pty, and
    beside the boards of the DAHDI driver."""
    centre = either
    tier = centre.flow_tier()
    watcher = admin(centre)
    seen = centre.events(watcher)
    centre.call(watcher.call("MonitorStart", object="device", id=LINE))
    centre.modem.call("5551234", "ALICE")
    centre.run_until(lambda: centre.modem.offhook, within_ms=20_000, what="the flow answers")
    centre.run_until(lambda: centre.heard(0), what="the menu plays")
    centre.modem.press("9")
    centre.run(4_000)                                       # leave_message, the beep
    centre.modem.say(g711.encode(tone(440, 2_000).tobytes(), "ulaw"))
    centre.run(2_500)
    centre.modem.press("#")
    centre.run_until(lambda: tier.outcomes, within_ms=20_000, what="the flow ends")
    call_id, outcome = tier.outcomes[0]
    assert outcome.how == "hung_up", outcome
    centre.run_until(lambda: not centre.modem.offhook, what="the line hung up")
    centre.run_until(centre.cdr, what="the CDR")
    cdr = centre.cdr()[0]
    assert (cdr.call_id, cdr.trunk, cdr.trunk_group, cdr.ani, cdr.flow, cdr.disposition) == (
        call_id, LINE, "modems", "5551234", "modem_menu", "ivr_only")
    message = Path(cdr.attached["message_file"])
    assert message.stat().st_size > 8_000                   # a second and more, 8 kHz
    delivered = [body for name, body in seen if name == "Delivered"]
    assert delivered and delivered[0]["callingDevice"] == "5551234", seen


def test_a_queue_is_refused_with_the_reason_and_the_caller_stays_in_the_flow(centre):
    """RouteSelect to a queue fails (call_failed) saying why; the call is
    still up and the flow plays to it; the flow's own transfer step takes
    its on_failure."""
    flow = centre.client()
    centre.call(flow.login("ivr", "1234", "flow"))
    requests = []
    flow.on_event(lambda name, body, invoke_id: requests.append(body)
                  if name == "RouteRequest" else None)
    centre.call(flow.call("RouteRegister"))
    centre.modem.call("5551234", "")
    centre.run_until(lambda: requests, within_ms=20_000, what="the RouteRequest")
    call_id = requests[0]["call"]
    assert (requests[0]["device"], requests[0]["ani"]) == (LINE, "5551234")
    centre.call(flow.call("AnswerCall", call=call_id))
    e = refused(centre, flow, "RouteSelect", call=call_id, queue="sales")
    assert e.code == "call_failed" and NO_BUS in str(e)
    assert centre.modem.offhook                       # still up
    mark = len(centre.modem.heard)
    goodbye = str(centre.config.flow.prompts_dir / "goodbye.wav")
    centre.call(flow.call("PlayMessage", call=call_id, prompts=[goodbye]))
    assert centre.heard(mark) and centre.cdr() == []
    centre.modem.hang_up("loop")
    centre.run_until(centre.cdr, what="the CDR")
    assert centre.cdr()[0].released_by == "caller"
    assert not centre.modem.offhook


def test_the_flow_s_transfer_to_a_queue_goes_on_at_its_on_failure(tmp_path):
    """A modem's caller routed by number to a flow with a transfer: the
    transfer fails, the flow goes on at its on_failure."""
    centre = ModemCentre(tmp_path, '\n[[routes]]\nani = "5551234"\nflow = "sales_menu"\n')
    tier = centre.flow_tier()
    centre.modem.call("5551234", "")
    centre.run_until(lambda: centre.modem.offhook, within_ms=20_000, what="the flow answers")
    centre.run(1_000)
    centre.modem.press("1")
    centre.run(500)
    mark = len(centre.modem.heard)                          # the menu, stopped by the key
    centre.run_until(lambda: centre.heard(mark), what="leave_message plays")
    assert centre.modem.offhook
    centre.modem.hang_up("loop")
    centre.run_until(lambda: tier.outcomes, what="the flow ends")
    centre.run_until(centre.cdr, what="the CDR")
    assert centre.cdr()[0].queue is None
    assert centre.cdr()[0].flow == "sales_menu"
    centre.close()


def test_a_modem_call_routed_to_a_queue_by_its_number_ends_with_the_reason(tmp_path):
    """An ANI route to a queue matches the modem's caller: the call is not
    answered, and its CDR gives the reason."""
    centre = ModemCentre(tmp_path, '\n[[routes]]\nani = "5551234"\nqueue = "support"\n')
    centre.modem.call("5551234", "")
    centre.run_until(centre.cdr, within_ms=20_000, what="the CDR")
    cdr = centre.cdr()[0]
    assert (cdr.trunk, cdr.cause, cdr.queue) == (LINE, NO_BUS, None)
    assert not centre.modem.offhook
    centre.close()


# ---- configuration ---------------------------------------------------------------------

MODEM_BASE = BASE + textwrap.dedent("""
    [[modems]]
    port = "/dev/ttyACM0"

    [[modems]]
    port = "/dev/ttyACM1"
    compression = "132,8000"
    audio = "alaw"
    init = ["AT+IFC=2,2", "AT#CID=1"]
    baud = 57600

    [[trunk_groups]]
    name = "modems"
    direction = "in"
    channels = ["mdmB1C1", "mdmB2C1"]
    disconnect = ["loop_current", "tone"]

    [[routes]]
    trunk_group = "modems"
    flow = "main_menu"
""")


def test_modems_are_lines_named_in_order_with_their_settings(tmp_path):
    config = load_server_config(write(tmp_path, MODEM_BASE))
    assert config.modems == (
        ModemSettings("/dev/ttyACM0"),
        ModemSettings("/dev/ttyACM1", 57600, "132,8000", "alaw", ("AT+IFC=2,2", "AT#CID=1")))
    group = config.trunk_group_of("mdmB2C1")
    assert (group.name, group.signalling) == ("modems", {"mdmB1C1": "modem",
                                                         "mdmB2C1": "modem"})
    assert group.supervision("modem").methods == {"loop_current", "tone"}
    assert config.route_for(trunk_group="modems").flow == "main_menu"


def modem_edit(old, new):
    assert MODEM_BASE.count(old) >= 1, old
    return MODEM_BASE.replace(old, new, 1)


@pytest.mark.parametrize(("change", "key", "message"), [
    (('port = "/dev/ttyACM0"', 'port = "ttyACM0"'), "modems[0].port",
     "'ttyACM0' is not the modem's serial device, such as \"/dev/ttyACM0\""),
    (('port = "/dev/ttyACM1"', 'port = "/dev/ttyACM0"'), "modems[1].port",
     "serial port '/dev/ttyACM0' is already declared at modems[0].port"),
    (('port = "/dev/ttyACM0"', 'port = 3'), "modems[0].port", "got integer 3"),
    (('audio = "alaw"', 'audio = "pcm"'), "modems[1].audio", "'pcm' is not one of 'ulaw', "
     "'alaw'"),
    (('compression = "132,8000"', 'compression = "ulaw"'), "modems[1].compression",
     "'ulaw' is not AT+VSM's argument"),
    (('"AT#CID=1"', '"VCID=1"'), "modems[1].init[1]", "'VCID=1' is not an AT command"),
    (('baud = 57600', 'speed = 57600'), "modems[1].speed", "unknown key"),
    (('channels = ["mdmB1C1", "mdmB2C1"]', 'channels = ["mdmB1C1", "mdmB3C1"]'),
     "trunk_groups[2].channels[1]", "'mdmB3C1' is not a declared voice modem ([[modems]] "
     "declares mdmB1C1, mdmB2C1)"),
    (('channels = ["mdmB1C1", "mdmB2C1"]', 'channels = ["mdmB1C1-2"]'),
     "trunk_groups[2].channels[0]", "'mdmB1C1-2' is not a voice modem's name"),
    (('channels = ["mdmB1C1", "mdmB2C1"]', 'channels = ["mdmB1C2"]'),
     "trunk_groups[2].channels[0]", "'mdmB1C2' is not a voice modem's name"),
    (('name = "modems"\ndirection = "in"', 'name = "modems"\ndirection = "both"'),
     "trunk_groups[2].direction", NO_BUS + "; calls out join an agent's phone"),
    (('disconnect = ["loop_current", "tone"]', 'disconnect = ["silence"]'),
     "trunk_groups[2].disconnect[0]", "mdmB1C1 is a voice modem, which gives only "
     "'loop_current' and 'reversal' and 'tone': no 'silence'"),
    (('trunk_group = "modems"\nflow = "main_menu"', 'trunk_group = "modems"\nqueue = "sales"'),
     "routes[2].queue", f"'sales': {NO_BUS} (trunk group 'modems'): route it to a flow"),
    (('[[routes]]\ntrunk_group = "modems"\nflow = "main_menu"', ''),
     "routing.default.queue", None),
], ids=["port", "port twice", "port not a string", "audio", "compression", "init",
        "unknown key", "undeclared modem", "modem range", "second line", "calls out",
        "silence", "route to a queue", "default route to a queue"])
def test_modem_errors_name_file_key_and_value(tmp_path, change, key, message):
    text = modem_edit(*change)
    if message is None:                 # the default route a queue, the group without one
        text = text.replace('default = {flow = "main_menu"}', 'default = {queue = "sales"}')
        message = (f"'sales': trunk group 'modems' has no route of its own, and {NO_BUS}: "
                   "give it a route to a flow")
    e = error(tmp_path, text)
    assert e.key == key, str(e)
    assert message in str(e), str(e)


def test_a_modem_s_port_is_not_the_sms_modem_s(tmp_path):
    e = error(tmp_path, MODEM_BASE + '\n[sms]\nport = "/dev/ttyACM1"\n')
    assert e.key == "modems[1].port" and "already declared at sms.port" in str(e)


def test_a_modem_is_no_station(tmp_path):
    with pytest.raises(ConfigError, match="mdmB1C1 is a voice modem; station groups take"):
        load_server_config(write(tmp_path, MODEM_BASE.replace(
            'stations = ["msiB1C1-4"]', 'stations = ["msiB1C1-4", "mdmB1C1"]')))


def answer_at(master):
    """A modem on a pty's master that answers one AT with OK."""
    import os

    heard = b""
    while b"AT\r" not in heard:
        heard += os.read(master, 64)
    os.write(master, b"AT\r\r\nOK\r\n")


def test_check_asks_each_modem_for_ok_and_fails_on_a_port_that_cannot_open(
        tmp_path, monkeypatch):
    """`cti server --check` sends AT on each modem's port (a pty's here)
    and wants OK: nothing answering fails the check, saying what to
    check; a port that cannot be opened fails it, exit status 2 (the
    server itself starts, the line out of service: the next test)."""
    import io
    import os
    import threading

    import cti.server.check as check_module
    from cti.server.check import run as check

    master, slave = os.openpty()
    try:
        port = os.ttyname(slave)
        config = modem_config(tmp_path, modems=MODEMS.replace("/dev/ttyACM0", port))
        monkeypatch.setattr(check_module, "AT_WAIT_S", 0.5)
        out = io.StringIO()
        assert check(config.path, out) == 2                  # nothing on the port answers
        assert (f"FAIL devices: voice modem mdmB1C1 on {port}: no answer to AT within 0.5 s: "
                "is it the modem's AT port, is it powered?") in out.getvalue()
        monkeypatch.setattr(check_module, "AT_WAIT_S", 10.0)
        os.set_blocking(master, False)
        os.read(master, 1024)                                # the first check's AT
        os.set_blocking(master, True)
        answering = threading.Thread(target=answer_at, args=(master,), daemon=True)
        answering.start()
        out = io.StringIO()
        assert check(config.path, out) == 0, out.getvalue()
        assert f"ok   devices: voice modem mdmB1C1 answers AT on {port}" in out.getvalue()
        answering.join()
    finally:
        os.close(slave)
        os.close(master)
    (tmp_path / "flows").rename(tmp_path / "flows.1")
    missing = str(tmp_path / "no-such-tty")
    config = modem_config(tmp_path, modems=MODEMS.replace("/dev/ttyACM0", missing))
    out = io.StringIO()
    assert check(config.path, out) == 2
    assert (f"FAIL devices: voice modem mdmB1C1 on {missing}: [Errno 2] could not open port "
            f"{missing}") in out.getvalue()


def test_a_modem_missing_at_the_start_is_out_of_service_until_plugged_in(tmp_path):
    """The server starts with the modem not plugged in: it serves, the
    modem's line out of service (GetLineStatus: not ready; the log says
    which port and that it is tried again), and plugged in, the line
    takes calls."""
    from twisted.logger import formatEvent, globalLogPublisher

    logs = []
    globalLogPublisher.addObserver(logs.append)
    try:
        centre = ModemCentre(tmp_path, plugged=False)
    finally:
        globalLogPublisher.removeObserver(logs.append)
    said = [formatEvent(e) for e in logs if e.get("log_level").name == "error"]
    assert any(f"{LINE}: serial port /dev/ttyACM0 cannot be opened" in line and
               "out of service, opening it again every 5 s" in line for line in said), said
    client = admin(centre)
    rows = {r["device"]: r for r in centre.call(client.call("GetLineStatus"))["devices"]}
    assert rows[LINE]["ready"] is False
    assert centre.server.channels[LINE].state == "out_of_service"
    centre.run(20_000)
    assert centre.lines == []
    centre.plugged = True
    centre.run(6_000)
    assert centre.server.channels[LINE].state == "idle"
    centre.flow_tier()
    centre.modem.call("5551234", "")
    centre.run_until(lambda: centre.modem.offhook, within_ms=20_000, what="answered")
    centre.close()


def test_the_sample_s_modem_loads_and_every_modem_key_is_documented(tmp_path):
    """The commented [[modems]] sample of etc/cti.toml, uncommented, is a
    configuration that loads; docs/configuration.md has every key."""
    sample = (ROOT / "etc" / "cti.toml").read_text()
    block = sample.split("# A voice modem on an analog line", 1)[1].split(
        "# A USB caller-ID box", 1)[0]
    lines = block.splitlines()
    lines = lines[lines.index("# [[modems]]"):]
    text = "\n".join(line[2:] for line in lines)
    config = modem_config(tmp_path, modems="\n" + text + "\n")
    assert config.trunk_group_of("mdmB1C1").name == "modem_lines"
    assert config.route_for(trunk_group="modem_lines").flow == "messages"
    docs = (ROOT / "docs" / "configuration.md").read_text()
    section = docs.split("### `[[modems]]`", 1)[1].split("\n### ", 1)[0]
    assert [k for k in ("port", "baud", "compression", "audio", "init")
            if f"| `{k}` |" not in section] == []


def test_line_status_shows_the_modem_beside_the_boards(centre):
    """GetLineStatus (linediag scan): the modem's board, voice and line,
    off the bus, its port, and its line's hook."""
    client = admin(centre)
    rows = {r["device"]: r for r in centre.call(client.call("GetLineStatus"))["devices"]}
    voice, line = rows[LINE], rows[LINE + "/line"]
    assert (voice["kind"], voice["slot"], voice["port"], voice["ready"]) == (
        "voice", None, "/dev/ttyACM0", True)
    assert (line["hook"], line["ringing"], line["loop_current"]) == ("on", False, None)
    assert rows["dxxxB1C1/line"]["slot"] is not None


def test_a_caller_who_hangs_up_while_leaving_a_message_is_cleared_whole(centre):
    """The loop current drops in the middle of the recording: the modem
    stops recording and goes on hook, the flow ends, the CDR says the
    caller released, and the modem takes the next call."""
    tier = centre.flow_tier()
    centre.modem.call("5551234", "")
    centre.run_until(lambda: centre.modem.offhook, within_ms=20_000, what="the flow answers")
    centre.run(1_000)
    centre.modem.press("9")
    centre.run_until(lambda: centre.modem.mode == "vrx", what="the recording (AT+VRX)")
    centre.modem.say(g711.encode(tone(440, 1_000).tobytes(), "ulaw"))
    centre.run(500)
    centre.modem.hang_up("loop")
    centre.run_until(lambda: tier.outcomes, what="the flow ends")
    centre.run_until(lambda: not centre.modem.offhook, what="the line hung up")
    centre.run_until(centre.cdr, what="the CDR")
    assert centre.cdr()[0].released_by == "caller"
    assert centre.server.driver.status(LINE)["state"] == "idle"
    centre.modem.call("5559876", "")
    centre.run_until(lambda: centre.modem.offhook, within_ms=20_000, what="the next call")
    centre.modem.hang_up("loop")
    centre.run_until(lambda: len(centre.cdr()) == 2, what="the second CDR")
    assert centre.cdr()[1].ani == "5559876"


def test_with_no_flow_server_a_modem_call_ends_saying_why(centre):
    """The default treatment ([routing] flow_down, a queue) cannot take a
    modem's caller: the call ends unanswered, the CDR says both reasons."""
    centre.modem.call("5551234", "")
    centre.run_until(centre.cdr, within_ms=20_000, what="the CDR")
    assert centre.cdr()[0].cause == f"no flow server; {NO_BUS}"
    assert not centre.modem.offhook


def test_a_refused_modem_call_that_rings_on_makes_one_cdr(tmp_path):
    """Routed to a queue, the call is refused at its offer; its caller
    rings on for a minute more (ten rings): no ring offers it again, one
    CDR; once the ringing stops the modem takes the next call."""
    centre = ModemCentre(tmp_path, '\n[[routes]]\nani = "5551234"\nqueue = "support"\n')
    centre.modem.call("5551234", "")
    centre.run_until(centre.cdr, within_ms=20_000, what="the CDR")
    centre.run(70_000)
    assert [(c.ani, c.cause) for c in centre.cdr()] == [("5551234", NO_BUS)]
    assert not centre.modem.offhook
    centre.modem.hang_up("loop")                    # the caller gives up: no more rings
    centre.run(10_000)
    centre.modem.call("5559876", "")
    centre.run_until(lambda: len(centre.cdr()) == 2, within_ms=20_000, what="the next CDR")
    assert centre.cdr()[1].ani == "5559876"
    centre.close()


def test_with_no_flow_server_a_modem_call_that_rings_on_makes_one_cdr(centre):
    centre.modem.call("5551234", "")
    centre.run_until(centre.cdr, within_ms=20_000, what="the CDR")
    centre.run(70_000)
    assert [c.cause for c in centre.cdr()] == [f"no flow server; {NO_BUS}"]


def test_a_modem_that_answers_error_to_the_off_hook_ends_the_call_saying_why(centre):
    """AT+VLS=1 answered ERROR (the modem lost voice mode): the call ends
    at once, its CDR says the line did not go off hook and why, the flow
    ends, and the line takes the next call."""
    tier = centre.flow_tier()
    sim = centre.modem
    answer = sim._hook

    def refuse(offhook):
        return sim._send("ERROR") if offhook else answer(offhook)
    sim._hook = refuse
    sim.call("5551234", "")
    centre.run_until(centre.cdr, within_ms=30_000, what="the CDR")
    assert centre.cdr()[0].cause == ("the line did not go off hook: the modem answered "
                                     "ERROR")
    centre.run_until(lambda: tier.outcomes, what="the flow ends")
    assert not sim.offhook and centre.server.center.layer.calls == {}
    sim._hook = answer
    sim.hang_up("loop")
    centre.run(10_000)
    sim.call("5559876", "")
    centre.run_until(lambda: sim.offhook, within_ms=20_000, what="the next call answered")


def test_a_modem_unplugged_mid_call_ends_it_at_once_and_comes_back_plugged_in(centre):
    """The USB modem pulled out while its caller hears the menu: the call
    ends at once, its CDR saying the line is out of service; the line is
    out of service (GetLineStatus, an alarm logged) and offers nothing;
    plugged back in, the server opens its port again, sets it up, and it
    takes the next call."""
    tier = centre.flow_tier()
    client = admin(centre)
    centre.modem.call("5551234", "")
    centre.run_until(lambda: centre.modem.offhook, within_ms=20_000, what="the flow answers")
    centre.run(1_000)
    centre.unplug()
    centre.run_until(centre.cdr, within_ms=1_000, what="the CDR at once")
    assert centre.cdr()[0].cause == (
        "line out of service: its modem's port is gone (unplugged, or not there)")
    centre.run_until(lambda: tier.outcomes, what="the flow ends")
    centre.run(120_000)
    rows = {r["device"]: r for r in centre.call(client.call("GetLineStatus"))["devices"]}
    assert rows[LINE]["ready"] is False
    assert centre.server.channels[LINE].state == "out_of_service"
    assert len(centre.cdr()) == 1 and centre.server.center.layer.calls == {}

    centre.plugged = True
    centre.modem.power_on()
    centre.run(10_000)
    rows = {r["device"]: r for r in centre.call(client.call("GetLineStatus"))["devices"]}
    assert rows[LINE]["ready"] is True
    assert centre.server.channels[LINE].state == "idle"
    centre.modem.call("5559876", "")
    centre.run_until(lambda: centre.modem.offhook, within_ms=20_000, what="the next call")
    centre.modem.hang_up("loop")
    centre.run_until(lambda: len(centre.cdr()) == 2, what="the second CDR")
    assert centre.cdr()[1].ani == "5559876"


def test_a_modem_silent_at_start_is_out_of_service_until_it_answers(tmp_path):
    """A modem that does not answer AT at start (not powered, the wrong
    port): the line is out of service, a call ringing on it is not
    answered and makes no CDR, the log says what to check; once it answers,
    the next set-up takes it and the line takes calls."""
    from twisted.logger import formatEvent, globalLogPublisher

    logs = []
    globalLogPublisher.addObserver(logs.append)
    stall = VoiceModemSimulator.__init__

    def stalled(self, *args, **kwargs):
        stall(self, *args, **kwargs)
        self.stalled = True
    VoiceModemSimulator.__init__ = stalled
    try:
        centre = ModemCentre(tmp_path)
        centre.run(10_000)
    finally:
        VoiceModemSimulator.__init__ = stall
        globalLogPublisher.removeObserver(logs.append)
    said = [formatEvent(e) for e in logs if e.get("log_level").name == "error"]
    assert any("no answer on /dev/ttyACM0 to ATZ: is it the modem's AT port, is it powered?"
               in line for line in said), said
    assert centre.server.channels[LINE].state == "out_of_service"
    centre.modem.recover()
    centre.modem.call("5551234", "")
    centre.run(20_000)
    assert not centre.modem.offhook and centre.cdr() == []
    centre.modem.abandon()
    centre.run(40_000)                            # the next set-up
    assert centre.server.channels[LINE].state == "idle"
    centre.flow_tier()
    centre.modem.call("5551234", "")
    centre.run_until(lambda: centre.modem.offhook, within_ms=20_000, what="answered")
    centre.close()


@pytest.mark.parametrize(("change", "message"), [
    (('compression = "132,8000"', 'compression = "132,7200"'),
     "'132,7200' is not AT+VSM's argument at 8000 samples a second"),
    (('compression = "132,8000"', 'compression = "4,8000"'),
     "'4,8000' is V.253's G.711 ulaw, but audio is 'alaw': make them agree"),
], ids=["rate", "law"])
def test_a_modem_s_compression_must_be_one_the_driver_can_play(tmp_path, change, message):
    e = error(tmp_path, modem_edit(*change))
    assert e.key == "modems[1].compression" and message in str(e), str(e)


def test_a_port_named_twice_through_a_link_is_refused(tmp_path):
    """/dev/serial/by-id/... is a link to /dev/ttyACM0: one modem."""
    device = tmp_path / "ttyACM0"
    device.write_text("")
    link = tmp_path / "usb-modem-if00"
    link.symlink_to(device)
    text = modem_edit('port = "/dev/ttyACM0"', f'port = "{device}"').replace(
        'port = "/dev/ttyACM1"', f'port = "{link}"')
    e = error(tmp_path, text)
    assert e.key == "modems[1].port", str(e)
    assert f"serial port '{link}' is already declared at modems[0].port as '{device}'" in str(e)
    e = error(tmp_path, text.replace(f'port = "{link}"', 'port = "/dev/ttyACM1"')
              + f'\n[sms]\nport = "{link}"\n')
    assert e.key == "modems[0].port" and "already declared at sms.port" in str(e), str(e)


def test_the_server_stops_with_the_modem_s_line_on_hook(centre):
    """Stopped (no drain time) while its caller hears the menu: the
    server's stop ends once the modem is back on hook (a second after it
    was told, here), not before."""
    centre.server.drain_s = 0
    centre.flow_tier()
    centre.modem.call("5551234", "")
    centre.run_until(lambda: centre.modem.offhook, within_ms=20_000, what="the flow answers")
    centre.run(500)
    hook = centre.modem._hook
    centre.modem._hook = lambda offhook: centre.clock.callLater(1.0, hook, offhook)  # slow
    stopped = []                                  # the modem's hook as the stop ends
    centre.server.stopService().addBoth(lambda _: stopped.append(centre.modem.offhook))
    centre.run_until(lambda: stopped, within_ms=10_000, what="the server stops")
    assert stopped == [False] and centre.modem.commands[-1] == "AT+VLS=0"


def test_a_modem_whose_prompt_hangs_ends_the_call_saying_so_alone(centre):
    """The modem stops answering while its caller hears the menu: the
    play's watchdog ends it, and the call ends with the fault as its cause,
    no word of the CT-Bus (which is not why it ended)."""
    centre.flow_tier()
    centre.modem.call("5551234", "")
    centre.run_until(lambda: centre.modem.offhook, within_ms=20_000, what="the flow answers")
    centre.run(500)
    centre.modem.stall()
    centre.run_until(centre.cdr, within_ms=60_000, what="the CDR")
    assert centre.cdr()[0].cause == "voice resource hung"


@pytest.mark.parametrize(("flow", "message"), [
    ('[[steps]]\nname = "answer"\ntype = "answer"\nnext = "emergency"\n\n'
     '[[steps]]\nname = "emergency"\ntype = "transfer"\nnumber = "18005550911"\n',
     "step 'emergency' is a transfer with no on_failure (a modem's caller is never "
     "transferred: refused, the call would be released), but line mdmB1C1 is a voice modem"),
    ('agent_key = "0"\nagent_queue = "sales"\n\n[[steps]]\nname = "menu"\ntype = "menu"\n'
     'prompt = ["menu_options"]\noptions = { "9" = "bye" }\non_failure = "bye"\n\n'
     '[[steps]]\nname = "bye"\ntype = "hangup"\n',
     "has agent_key '0' (step 'menu'), which takes the caller to an agent, but line mdmB1C1 "
     "is a voice modem"),
], ids=["transfer", "agent_key"])
def test_a_modem_group_s_flow_that_would_take_its_caller_out_is_refused(tmp_path, flow,
                                                                          message):
    """The flow a modem's trunk group is routed to can take none of its
    callers to an agent or a number: the error names the route, the
    flow's file and its step."""
    with pytest.raises(ConfigError) as info:
        modem_config(tmp_path, flows={"modem_menu": flow})
    e = info.value
    assert e.key == "routes[6].flow", str(e)
    assert f"'modem_menu': {tmp_path / 'flows' / 'modem_menu.toml'} " in str(e), str(e)
    assert message in str(e) and "(trunk group 'modems')" in str(e), str(e)


def test_a_transfer_a_goto_reaches_is_refused_for_a_modem(tmp_path):
    """A goto into another flow is followed: a transfer with no
    on_failure there is refused, naming that flow's file."""
    goto = MODEM_MENU.replace('options = { "9" = "voicemail" }',
                              'options = { "1" = "out", "9" = "voicemail" }') + """
[[steps]]
name = "out"
type = "goto"
flow = "hand_over"
"""
    hand_over = ('[[steps]]\nname = "emergency"\ntype = "transfer"\n'
                 'number = "18005550911"\n')
    with pytest.raises(ConfigError) as info:
        modem_config(tmp_path, flows={"modem_menu": goto, "hand_over": hand_over})
    assert info.value.key == "routes[6].flow", str(info.value)
    assert (f"'modem_menu': {tmp_path / 'flows' / 'hand_over.toml'} (reached by a goto) step "
            "'emergency' is a transfer with no on_failure") in str(info.value), str(info.value)


def test_a_transfer_with_on_failure_is_allowed_for_a_modem(tmp_path):
    """A flow shared with the boards' callers may offer a transfer whose
    on_failure keeps the caller: a modem's caller choosing it goes on at
    on_failure (the sample's after_hours, its emergency option going to
    goodbye; sales_menu, its sales option to a message)."""
    for flow in ("after_hours", "sales_menu"):
        config = modem_config(tmp_path / flow, modems=MODEMS.replace(
            'flow = "modem_menu"', f'flow = "{flow}"'))
        assert config.trunk_group_of(LINE).name == "modems"


def test_linediag_scan_shows_each_modem_s_port_and_readiness(tmp_path):
    """`linediag scan`'s table has the modems, their ports, whether each
    is ready and its alarms: one that does not answer shows no."""
    from cti.linediag.render import render_scan

    centre = ModemCentre(tmp_path)
    client = admin(centre)
    text = render_scan(centre.call(client.call("GetLineStatus"))["devices"])
    section = text.split("VOICE MODEMS (1)\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert section[0].split() == ["DEVICE", "PORT", "READY", "ALARMS", "STATE", "HOOK"]
    assert section[1].split() == ["mdmB1C1", "/dev/ttyACM0", "yes", "none", "idle", "on"]
    centre.modem.stall()
    centre.server.driver.reset(LINE)            # set up again: no answer now
    centre.run(10_000)
    text = render_scan(centre.call(client.call("GetLineStatus"))["devices"])
    row = text.split("VOICE MODEMS (1)\n", 1)[1].splitlines()[1].split()
    assert row[:4] == ["mdmB1C1", "/dev/ttyACM0", "no", "not_ready"]
    centre.close()


@pytest.mark.parametrize(("old", "new", "key"), [
    ('[[modems]]\nport = "/dev/ttyACM0"\n',
     '[[modems]]\nport = "/dev/ttyACM0"\n\n[[modems]]\nport = "/dev/ttyACM1"\n', "modems"),
    ('name = "modems"\ndirection = "in"\n', 'name = "modems"\ndirection = "in"\n'
     'disconnect = ["loop_current"]\n', "trunk_groups"),
], ids=["a modem added", "its group changed"])
def test_a_reload_that_changes_the_modems_is_refused_naming_the_key(centre, old, new, key):
    """Modems and their trunk groups change only with a restart: Reload
    says which key, and nothing changes (the modem still takes calls)."""
    path = Path(centre.config.path)
    text = path.read_text()
    assert text.count(old) == 1
    path.write_text(text.replace(old, new))
    e = refused(centre, admin(centre), "Reload")
    assert (e.code, e.body["keys"]) == ("needs_restart", [key])
    assert str(e).endswith(f"{path}: {key}: this changes only with a restart of the server; "
                           "nothing was reloaded"), str(e)
    centre.flow_tier()
    centre.modem.call("5551234", "")
    centre.run_until(lambda: centre.modem.offhook, within_ms=20_000, what="the flow answers")


def test_a_stopped_server_opens_no_port_again_when_the_modem_is_plugged_back(tmp_path):
    """The modem unplugged, then the server stopped: plugged back in, its
    port is not opened again, and no timer of the modem is left."""
    centre = ModemCentre(tmp_path)
    centre.unplug()
    centre.run(1_000)
    stopped = []
    centre.server.stopService().addBoth(stopped.append)
    centre.run_until(lambda: stopped, within_ms=15_000, what="the server stops")
    opened = len(centre.lines)
    centre.plugged = True
    centre.run(60_000)
    assert len(centre.lines) == opened
    assert centre.clock.getDelayedCalls() == []


def test_a_stopped_server_sets_no_failing_modem_up_again(tmp_path):
    """The modem stops answering and its set-up fails, then the server
    stops: the modem, answering again, is sent nothing more."""
    centre = ModemCentre(tmp_path)
    centre.modem.stall()
    centre.server.driver.reset(LINE)
    centre.run(10_000)
    assert centre.server.channels[LINE].state == "out_of_service"
    stopped = []
    centre.server.stopService().addBoth(stopped.append)
    centre.run_until(lambda: stopped, within_ms=15_000, what="the server stops")
    centre.modem.recover()
    sent = len(centre.modem.commands)
    centre.run(120_000)
    assert centre.modem.commands[sent:] == []
    assert centre.clock.getDelayedCalls() == []


def test_a_seizure_whose_off_hook_the_modem_refuses_fails_saying_why(centre):
    """A call out on the line (the channel's own seize: no route dials out
    on a modem) whose AT+VLS=1 the modem answers ERROR: the seizure fails
    with the reason, the line is idle again and takes the next call."""
    from cti.server.errors import OutboundFailed

    sim = centre.modem
    answer = sim._hook
    sim._hook = lambda offhook: sim._send("ERROR") if offhook else answer(offhook)
    line = centre.server.channels[LINE]
    failed = []
    line.seize("5551234").addErrback(lambda f: failed.append(f.trap(OutboundFailed) and
                                                             str(f.value)))
    centre.run_until(lambda: failed, within_ms=10_000, what="the seizure fails")
    assert "the line did not go off hook: the modem answered ERROR" in failed[0]
    centre.run_until(lambda: line.state == "idle", within_ms=5_000, what="idle again")
    sim._hook = answer
    centre.flow_tier()
    sim.call("5559876", "")
    centre.run_until(lambda: sim.offhook, within_ms=20_000, what="the next call answered")


def test_no_call_out_ever_takes_the_modem_s_line(centre):
    """The modem's group is inbound only (the configuration demands it):
    neither an ordinary call out nor an emergency one, which tries every
    group, is ever placed on it."""
    dialer = centre.server.center.dialer
    for everywhere in (False, True):
        names = [trunk.name for trunk in dialer.trunks(everywhere=everywhere)]
        assert names and LINE not in names


def test_a_modem_unplugged_while_the_server_stops_ends_the_wait_for_its_hook(centre):
    """Stopped while its caller hears the menu, the modem never answering
    the on-hook, then unplugged: its line is out of service, so on hook;
    the stop ends there, not after the ten seconds it waits for a hook,
    and warns of no line left off hook."""
    from twisted.logger import formatEvent, globalLogPublisher

    centre.server.drain_s = 0
    centre.flow_tier()
    centre.modem.call("5551234", "")
    centre.run_until(lambda: centre.modem.offhook, within_ms=20_000, what="the flow answers")
    centre.run(500)
    centre.modem._hook = lambda offhook: None          # AT+VLS=0 never answered
    logs = []
    globalLogPublisher.addObserver(logs.append)
    try:
        stopped = []
        centre.server.stopService().addBoth(stopped.append)
        centre.run(1_000)
        assert not stopped
        centre.unplug()
        centre.run_until(lambda: stopped, within_ms=1_000, what="the server stops")
    finally:
        globalLogPublisher.removeObserver(logs.append)
    assert centre.server.channels[LINE].state == "out_of_service"
    assert not any("not on hook" in formatEvent(e) for e in logs)


def test_the_server_s_stop_waits_for_a_line_dialling_out_to_be_on_hook(centre):
    """The line off hook dialling (the channel's own seize): the stop
    waits while it is, and ends once it is back on hook."""
    centre.server.drain_s = 0
    centre.modem.outbound = "no_answer"
    line = centre.server.channels[LINE]
    line.seize("5551234").addErrback(lambda f: None)
    centre.run_until(lambda: line.state == "dialing", within_ms=5_000, what="dialling")
    stopped = []
    centre.server.stopService().addBoth(lambda _: stopped.append(centre.modem.offhook))
    centre.run(3_000)
    assert not stopped and centre.modem.offhook
    line.release("the server stops")
    centre.run_until(lambda: stopped, within_ms=5_000, what="the server stops")
    assert stopped == [False]


def test_check_names_every_modem_that_fails_not_only_the_first(tmp_path, monkeypatch):
    """Two modems: the first silent on its port (a pty's), the second's
    port missing: `cti server --check` names both in its devices line."""
    import io
    import os

    import cti.server.check as check_module
    from cti.server.check import run as check

    master, slave = os.openpty()
    try:
        port = os.ttyname(slave)
        missing = str(tmp_path / "no-such-tty")
        modems = MODEMS.replace("/dev/ttyACM0", port).replace(
            'channels = ["mdmB1C1"]', 'channels = ["mdmB1C1", "mdmB2C1"]').replace(
            "\n[[trunk_groups]]", f'\n[[modems]]\nport = "{missing}"\n\n[[trunk_groups]]')
        config = modem_config(tmp_path, modems=modems)
        monkeypatch.setattr(check_module, "AT_WAIT_S", 0.3)
        out = io.StringIO()
        assert check(config.path, out) == 2
    finally:
        os.close(slave)
        os.close(master)
    [line] = [x for x in out.getvalue().splitlines() if x.startswith("FAIL devices")]
    assert line == (f"FAIL devices: voice modem mdmB1C1 on {port}: no answer to AT within "
                    "0.3 s: is it the modem's AT port, is it powered?; voice modem mdmB2C1 on "
                    f"{missing}: [Errno 2] could not open port {missing}: [Errno 2] No such "
                    f"file or directory: '{missing}'"), line


def test_check_names_a_modem_whose_port_fails_as_it_opens(tmp_path, monkeypatch):
    """A USB modem pulled as `--check` opens its port: pyserial's flush
    fails with a termios error (not an OSError).  The devices line names
    the modem and its port with the error, and the check goes on."""
    import io
    import os
    import termios

    import serial

    from cti.server.check import run as check

    def gone(self):
        raise termios.error(5, "Input/output error")
    monkeypatch.setattr(serial.Serial, "reset_input_buffer", gone)
    master, slave = os.openpty()
    try:
        port = os.ttyname(slave)
        config = modem_config(tmp_path, modems=MODEMS.replace("/dev/ttyACM0", port))
        out = io.StringIO()
        assert check(config.path, out) == 2
    finally:
        os.close(slave)
        os.close(master)
    [line] = [x for x in out.getvalue().splitlines() if x.startswith("FAIL devices")]
    assert line.startswith(f"FAIL devices: voice modem mdmB1C1 on {port}: ")
    assert "Input/output error" in line
