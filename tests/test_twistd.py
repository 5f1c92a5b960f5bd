# SPDX-License-Identifier: GPL-2.0-or-later
"""`twistd -n cti` as an operator runs it: real processes, real ports.
A start that fails (a port taken, another server on the var directory, a
wrong configuration) is one line on standard error and exit status 2,
and "listening on" is logged once the ports are bound."""
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def site(tmp_path, port, http_port):
    """etc/ copied (its var_dir tmp_path/var), listening on `port` and
    `http_port` of the loopback."""
    etc = tmp_path / "etc"
    if not etc.exists():
        shutil.copytree(ROOT / "etc", etc)
    config = etc / "cti.toml"
    text = re.sub(r'listen = \[.*\]', f'listen = ["tcp:{port}:interface=127.0.0.1"]',
                  config.read_text())
    text = re.sub(r'\nhttp = "[^"]*"', f'\nhttp = "tcp:{http_port}:interface=127.0.0.1"', text)
    config.write_text(text)
    return config


def twistd(config, out):
    return subprocess.Popen([sys.executable, "-c", "from twisted.scripts.twistd import run; "
                             "run()", "-n", "--pidfile=", "cti", "-c", str(config),
                             "--drain", "0"], cwd=ROOT, stdout=out, stderr=subprocess.PIPE,
                            text=True)


def ended(process):
    """Its exit status and its standard error's lines, once it has ended."""
    _, err = process.communicate(timeout=120)
    return process.returncode, err.splitlines()


def test_a_taken_protocol_port_is_one_line_and_status_2(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = site(tmp_path, port, free_port())
        status, err = ended(twistd(config, subprocess.DEVNULL))
    assert status == 2
    assert err == [f"twistd cti: cannot start: cannot listen on tcp:{port}:interface=127.0.0.1: "
                   f"Couldn't listen on 127.0.0.1:{port}: [Errno 98] Address already in use."]


def test_a_taken_status_page_port_is_one_line_and_status_2(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        http_port = taken.getsockname()[1]
        config = site(tmp_path, free_port(), http_port)
        status, err = ended(twistd(config, subprocess.DEVNULL))
    assert status == 2
    [line] = err
    assert line.startswith(f"twistd cti: cannot start: cannot listen on tcp:{http_port}:"
                           "interface=127.0.0.1 (status pages): ")
    assert "in use" in line


def test_a_wrong_configuration_is_one_line_and_status_2(tmp_path):
    config = site(tmp_path, free_port(), free_port())
    config.write_text(config.read_text().replace("heartbeat_s = 10", "heartbeat_s = -1"))
    status, err = ended(twistd(config, subprocess.DEVNULL))
    assert status == 2
    assert err == [f"twistd cti: {config}: server.heartbeat_s: expected an integer >= 1, "
                   "got integer -1"]


def test_a_second_server_on_the_same_var_dir_is_one_line_and_status_2(tmp_path):
    """The first listens (and says so, after its ports are bound); the
    second, on other ports but the same var directory, does not start."""
    port = free_port()
    first_config = site(tmp_path, port, free_port())
    log = tmp_path / "first.log"
    with open(log, "w") as out:
        first = twistd(first_config, out)
    try:
        deadline = time.monotonic() + 60
        while "twistd cti: listening on" not in log.read_text():
            assert first.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        with socket.create_connection(("127.0.0.1", port)):   # bound when it said so
            pass
        second_config = first_config.with_name("second.toml")   # its var_dir the same
        second_config.write_text(site(tmp_path, free_port(), free_port()).read_text())
        status, err = ended(twistd(second_config, subprocess.DEVNULL))
        assert status == 2
        [line] = err
        assert line.startswith("twistd cti: cannot start: ")
        assert "another server on the same var_dir" in line
        assert first.poll() is None                             # the first runs on
    finally:
        first.terminate()
        first.communicate(timeout=60)


def test_an_endpoint_that_fails_once_the_reactor_runs_stops_the_server(monkeypatch, capsys):
    """Another plugin's endpoint that binds later: its failure is the same
    one line, and the reactor stops (no process left without a listener)."""
    from twisted.application.service import MultiService
    from twisted.internet import defer, reactor

    from cti.server.listening import Listening
    from cti.server.twistd import TwistdServer

    later = defer.Deferred()

    class Later:
        def listen(self, factory):
            return later

    server = MultiService()
    server.listening = Listening()
    server.listening.add("later:7500", Later(), None)
    server.listening.setServiceParent(server)
    stopped = []
    monkeypatch.setattr(reactor, "stop", lambda: stopped.append(True))
    monkeypatch.setattr(sys, "__stderr__", sys.stderr)
    TwistdServer(server, {}).startService()
    assert stopped == []
    later.errback(OSError("no such network"))
    assert stopped == [True]
    assert capsys.readouterr().err == ("twistd cti: cannot start: cannot listen on later:7500: "
                                       "no such network\n")
