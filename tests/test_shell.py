# SPDX-License-Identifier: GPL-2.0-or-later
"""The shell commands against a real `cti server` process on the
simulator (wall clock, TCP): `cti sim` gives it a call, `cti show` and
`cti events` see it, `cti sim script` passes or fails with its status."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

PASSWORD = "1234"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("shell")
    shutil.copytree("etc", root / "etc")
    config = root / "etc" / "cti.toml"
    port = free_port()
    config.write_text(config.read_text()
                      .replace("tcp:7500:interface=127.0.0.1", f"tcp:{port}:interface=127.0.0.1")
                      .replace('http = "tcp:7580:interface=127.0.0.1"', ""))
    child = subprocess.Popen([sys.executable, "-m", "cti", "server", "-c", str(config),
                              "--drain", "0"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if child.poll() is not None or time.monotonic() > deadline:
                child.kill()
                pytest.fail(f"cti server did not start: {child.stderr.read()[-2000:]}")
            time.sleep(0.1)
    yield {"port": port, "root": root}
    child.terminate()
    child.wait(timeout=60)


def cti(server, *args, timeout=60):
    return subprocess.run([sys.executable, "-m", "cti", *args, "--server",
                           f"127.0.0.1:{server['port']}"], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "CTI_PASSWORD": PASSWORD})


def until(what, check, within_s=20):
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"{what}: not within {within_s} s")


def calls(server):
    done = cti(server, "show", "calls", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def hang_up_everything(server):
    for call in calls(server):
        for connection in call["connections"]:
            if connection["device"].startswith("dtiB1T"):
                cti(server, "sim", "hangup", connection["device"])
    until("every call cleared", lambda: not calls(server))


def test_a_call_given_with_cti_sim_is_seen_by_cti_show(server):
    done = cti(server, "sim", "call", "pstn_in", "--ani", "2125550101", "--dnis", "5550199")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[:2] == ["device=dtiB1T1", "group=pstn_in"]
    [call] = until("the call up", lambda: calls(server))
    assert (call["ani"], call["dnis"]) == ("2125550101", "5550199")
    text = cti(server, "show", "calls").stdout
    assert "2125550101" in text and "calls (1)" in text
    hang_up_everything(server)


def test_cti_events_tails_the_events_as_they_happen(server):
    tail = subprocess.Popen([sys.executable, "-m", "cti", "events", "call", "--json",
                             "--filter", "event=Queued", "--server",
                             f"127.0.0.1:{server['port']}"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "CTI_PASSWORD": PASSWORD})
    try:
        until("cti events watching", lambda: any(
            s["client"] == "cti-events" for s in sessions(server)))
        sessions_text = cti(server, "show", "sessions").stdout
        assert "cti-events" in sessions_text and "admin" in sessions_text
        cti(server, "sim", "call", "pstn_in", "--ani", "2125550102", "--dnis", "5550199")
        event = json.loads(tail.stdout.readline())
        assert event["event"] == "Queued" and event["callingDevice"] == "2125550102"
    finally:
        tail.terminate()
        tail.wait(timeout=30)
    hang_up_everything(server)


def sessions(server):
    done = cti(server, "show", "sessions", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_script_passes_or_fails_with_its_status(server, tmp_path):
    script = tmp_path / "queued.toml"
    script.write_text("""
[[step]]
call = { target = "pstn_in", ani = "2125550103", dnis = "5550199" }
as = "caller"
[[step]]
expect_event = { event = "Queued", callingDevice = "2125550103" }
save = { thecall = "call" }
[[step]]
hangup = { device = "$caller" }
[[step]]
expect_event = { event = "CallCleared", call = "$thecall" }
""")
    done = cti(server, "sim", "script", str(script))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"{script}: all 4 steps passed"
    script.write_text(script.read_text().replace('event = "CallCleared"',
                                                 'event = "Established"') + "within = 2\n")
    done = cti(server, "sim", "script", str(script))
    assert done.returncode == 1
    assert "step 4 (expect_event): no event" in done.stderr
    script.write_text("[[step]]\nwiat = 1\n")
    done = cti(server, "sim", "script", str(script))
    assert done.returncode == 2 and "step 1: give exactly one of" in done.stderr
    hang_up_everything(server)


def test_a_refused_action_is_one_line_and_status_2(server):
    done = cti(server, "sim", "call", "nowhere")
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith("cti sim call: no_such_object: nowhere is no trunk group")


def test_the_readme_s_first_call_pops_on_the_agent_s_screen(server):
    """README "Take your first call": the flow tier, agent 1005 ready (as
    its desktop makes it), `cti sim call` to the support number and
    `cti sim digits` 1: the call is delivered at the agent's phone."""
    from cti.protocol.client import BlockingClient

    flow = subprocess.Popen([sys.executable, "-m", "cti", "flow", "-c",
                             str(server["root"] / "etc" / "cti.toml")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with BlockingClient("127.0.0.1", server["port"]) as desktop:
            desktop.login("1005", PASSWORD, "agent", client="cti-agent")
            desktop.call("MonitorStart", object="agent", id="1005")
            desktop.call("MonitorStart", object="device", id="msiB1C5")
            desktop.call("SetAgentState", state="loggedOn", station="msiB1C5")
            desktop.call("SetAgentState", state="ready")
            until("the flow tier registered", lambda: any(
                s["role"] == "flow" for s in sessions(server)))
            done = cti(server, "sim", "call", "pstn_in", "--ani", "2125551234", "--dnis",
                       "5550200")
            device = done.stdout.split()[0].removeprefix("device=")
            until("the support menu answered", lambda: any(
                c["phase"] == "ivr" for c in calls(server)))
            time.sleep(1)                     # the caller hears the menu begin
            assert cti(server, "sim", "digits", device, "1").returncode == 0
            while True:
                name, body, _ = desktop.next_event(timeout=20)
                if name == "Delivered" and body.get("device") == "msiB1C5":
                    break
            assert body["callingDevice"] == "2125551234" and body["queue"] == "support"
            desktop.call("SetAgentState", state="loggedOff")
    finally:
        flow.terminate()
        flow.wait(timeout=30)
    hang_up_everything(server)


def test_linediag_sees_the_running_server_s_call_and_plays_audio_sent_in_pieces(server,
                                                                               tmp_path):
    """linediag attached (no --offline) shows the timeslot of a call up,
    and `cti sim play` sends a 10 s WAV, more than one request carries."""
    import wave
    from array import array

    done = cti(server, "sim", "call", "pstn_in", "--ani", "2125550104", "--dnis", "5550199")
    device = done.stdout.split()[0].removeprefix("device=")
    until("the call up", lambda: calls(server))
    linediag = subprocess.run([sys.executable, "-m", "cti", "linediag", "bits", "dtiB1",
                               "--server", f"127.0.0.1:{server['port']}"],
                              capture_output=True, text=True, timeout=60,
                              env={**os.environ, "CTI_PASSWORD": PASSWORD})
    assert linediag.returncode == 0, linediag.stderr
    [row] = [line for line in linediag.stdout.splitlines() if f"{device} " in line]
    assert "far end: off-hook" in row
    wav = tmp_path / "ten.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(array("h", [800, -800] * 40_000).tobytes())
    until("the far end answered", lambda: json.loads(cti(
        server, "sim", "status", device, "--json").stdout)["state"] == "connected")
    done = cti(server, "sim", "play", device, str(wav))
    assert done.returncode == 0, done.stderr
    assert "seconds=10.0" in done.stdout
    hang_up_everything(server)


def test_cti_flow_reloads_its_flows_on_cti_reload_and_on_sighup(server, tmp_path):
    """An operator edits a flow: `cti reload` has the running `cti flow`
    take it; a wrong edit and SIGHUP to `cti flow`: refused, the file and
    line said, the flows running stay; put right, SIGHUP takes it."""
    import signal

    menu = server["root"] / "etc" / "flows" / "main_menu.toml"
    original = menu.read_text()
    log = tmp_path / "flow.log"
    with open(log, "w") as out:
        flow = subprocess.Popen([sys.executable, "-m", "cti", "flow", "-c",
                                 str(server["root"] / "etc" / "cti.toml")],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        until("the flow tier registered", lambda: "flow tier serving" in log.read_text())
        menu.write_text(original.replace('description = "Main menu', 'description = "Menu'))
        done = cti(server, "reload")
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[1] == ("  1 flow server told to reload the flow files "
                                               "(their log and the server's say how it went)")
        until("the flows reloaded", lambda: "flows reloaded (the CT server's reload): flow "
              "main_menu changed; 4 flows" in log.read_text())
        menu.write_text(original.replace('"1" = "to_sales"', '"1" = "to_salse"'))
        os.kill(flow.pid, signal.SIGHUP)
        line = next(n for n, text in enumerate(original.splitlines(), 1)
                    if text.startswith("options = "))
        refused = until("the reload refused", lambda: [
            text for text in log.read_text().splitlines() if "flows not reloaded" in text])
        assert "flows not reloaded (SIGHUP): 1 error in the flow files; nothing was " \
               "reloaded, the flows running stay: " in refused[0]
        assert f"main_menu.toml, line {line}: steps[4] (menu): options.1: no step named " \
               "'to_salse'" in refused[0]
        menu.write_text(original)
        os.kill(flow.pid, signal.SIGHUP)
        until("put right, taken", lambda: "flows reloaded (SIGHUP): flow main_menu changed"
              in log.read_text())
        assert flow.poll() is None
    finally:
        menu.write_text(original)
        flow.terminate()
        flow.wait(timeout=30)
