# SPDX-License-Identifier: GPL-2.0-or-later
"""TLS for the protocol: the certificates docs/operations.md tells how to
make (its commands run here as written), the server's files checked and
rotated without a restart, and every kind of client over TLS: `cti server`
and `cti flow` as processes with a client certificate required, the
blocking client, and clients refused when they do not trust the server or
lack a certificate.  (The agent desktop and the supervisor console run over
TLS in tests/desktop_live.py.)"""
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
from twisted.logger import globalLogPublisher

from cti.config import ConfigError
from cti.protocol.client import BlockingClient
from cti.protocol.tls import ServerTLS, TLSFilesError, client_context
from cti.server.config import load_server_config

ROOT = Path(__file__).resolve().parent.parent


def documented_commands():
    """The shell block after <!-- tls-commands --> in docs/operations.md."""
    doc = (ROOT / "docs" / "operations.md").read_text()
    block = doc[doc.index("<!-- tls-commands -->"):]
    return re.search(r"```sh\n(.*?)```", block, re.S).group(1)


def make_pki(where):
    """Run the documented commands in `where`; the etc/tls they make."""
    subprocess.run(["bash", "-euo", "pipefail", "-c", documented_commands()], cwd=where,
                   check=True, capture_output=True)
    return where / "etc" / "tls"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_the_documented_commands_make_a_ca_a_server_and_a_client(pki):
    for name in ("ca/ca.pem", "ca.key", "server.pem", "server.key", "flow1.pem", "flow1.key"):
        assert (pki / name).is_file(), name
    verify = subprocess.run(["openssl", "verify", "-CAfile", "ca/ca.pem", "server.pem",
                             "flow1.pem"], cwd=pki, capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr
    ServerTLS(pki / "server.pem", pki / "server.key", pki / "ca" / "ca.pem")


def test_a_key_that_is_not_the_certificates_is_refused_naming_it(pki):
    with pytest.raises(TLSFilesError) as e:
        ServerTLS(pki / "server.pem", pki / "flow1.key")
    assert e.value.key == "private_key" and "is not the key of the certificate" in str(e.value)
    with pytest.raises(TLSFilesError) as e:
        ServerTLS(pki / "server.key", pki / "server.key")
    assert e.value.key == "certificate" and "holds no PEM certificate" in str(e.value)


def test_the_configuration_names_the_tls_setting_at_fault(tmp_path, pki):
    etc = copy_etc(tmp_path, pki)
    config = etc / "cti.toml"
    text = config.read_text()
    config.write_text(text.replace('private_key = "tls/server.key"',
                                   'private_key = "tls/missing.key"'))
    with pytest.raises(ConfigError) as e:
        load_server_config(config)
    assert e.value.key == "server.tls.private_key" and "cannot read" in str(e.value)
    config.write_text(text.replace("[server.tls]", "[server.nottls]"))
    with pytest.raises(ConfigError) as e:
        load_server_config(config)
    assert e.value.key == "server.nottls"
    config.write_text(text.split("\n[server.tls]")[0])                  # tls: with no files
    with pytest.raises(ConfigError) as e:
        load_server_config(config)
    assert e.value.key == "server.listen[0]" and "must name the certificate" in str(e.value)


def served_certificate(tls):
    """The certificate a new connection to `tls` (a ServerTLS) is shown."""
    from cryptography.x509.oid import NameOID
    from OpenSSL import SSL

    certificate = SSL.Connection(tls.getContext(), None).get_certificate(as_cryptography=True)
    return certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def test_new_files_are_served_to_new_connections_without_a_restart(tmp_path, pki):
    tls_dir = tmp_path / "tls"
    shutil.copytree(pki, tls_dir)
    tls = ServerTLS(tls_dir / "server.pem", tls_dir / "server.key")
    assert served_certificate(tls) == "cti.example.com"
    errors = []
    globalLogPublisher.addObserver(errors.append)
    try:
        # a half-done rotation: the new certificate, the old key
        shutil.copy(tls_dir / "flow1.pem", tls_dir / "server.pem")
        os.utime(tls_dir / "server.pem", ns=(1, time.time_ns() + 10**9))
        assert served_certificate(tls) == "cti.example.com"   # the previous pair serves
        logged = [e for e in errors if "cannot be used" in e.get("log_format", "")]
        assert len(logged) == 1 and logged[0]["key"] == "private_key"
        assert served_certificate(tls) == "cti.example.com" and len(
            [e for e in errors if "cannot be used" in e.get("log_format", "")]) == 1
        shutil.copy(tls_dir / "flow1.key", tls_dir / "server.key")   # the rotation done
        os.utime(tls_dir / "server.key", ns=(1, time.time_ns() + 2 * 10**9))
        assert served_certificate(tls) == "flow1"
    finally:
        globalLogPublisher.removeObserver(errors.append)


# -- the real processes ------------------------------------------------------------
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_etc(tmp_path, pki, port=7501):
    """etc/ copied, listening for TLS only (client certificates required),
    the flow tier connecting with its own certificate."""
    etc = tmp_path / "etc"
    shutil.copytree(ROOT / "etc", etc)
    shutil.copytree(pki, etc / "tls")
    config = etc / "cti.toml"
    text = config.read_text()
    text = text.replace('listen = ["tcp:7500:interface=127.0.0.1"]',
                        f'listen = ["tls:{port}:interface=127.0.0.1"]')
    text = text.replace('user = "ivr"', f'server = "tls:host=localhost:port={port}:'
                        'trustRoots=tls/ca:certificate=tls/flow1.pem:privateKey=tls/flow1.key"'
                        '\nuser = "ivr"')
    config.write_text(text + "\n".join([
        "", "[server.tls]", 'certificate = "tls/server.pem"', 'private_key = "tls/server.key"',
        'client_ca = "tls/ca/ca.pem"', ""]))
    return etc


def test_the_test_configuration_is_what_it_says(tmp_path, pki):
    config = load_server_config(copy_etc(tmp_path, pki, 7999) / "cti.toml")
    assert config.listen == ("tls:7999:interface=127.0.0.1",)
    assert config.tls.client_ca.name == "ca.pem" and config.log_level == "info"
    assert config.flow.server.startswith("tls:host=localhost:port=7999:trustRoots=/")


@pytest.fixture
def live(tmp_path, pki):
    """`cti server` and `cti flow` over TLS, as processes."""
    port = free_port()
    etc = copy_etc(tmp_path, pki, port)
    cti = [sys.executable, "-m", "cti"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([*cti, "server", "-c", str(etc / "cti.toml"), "--drain", "0"],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    procs = [server]
    try:
        wait_for_port(port, server)
        procs.append(subprocess.Popen([*cti, "flow", "-c", str(etc / "cti.toml")], cwd=tmp_path,
                                      env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
        yield port, etc / "tls"
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_for_port(port, proc, within_s=30):
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited: {proc.stdout.read()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the server did not listen in time")


def test_server_flow_tier_and_blocking_client_talk_tls_only(live):
    port, tls = live
    trusted = client_context(str(tls / "ca" / "ca.pem"), str(tls / "flow1.pem"),
                             str(tls / "flow1.key"))
    with BlockingClient("localhost", port, tls=trusted) as sup:
        assert sup.login("sup", "1234", "supervisor")["role"] == "supervisor"
        deadline = time.monotonic() + 20
        while sup.call("Snapshot", object="device", id="routepoint:main_menu")[
                "snapshot"]["flowServers"] != 1:
            assert time.monotonic() < deadline, "the flow tier never registered over TLS"
            time.sleep(0.2)
    no_certificate = client_context(str(tls / "ca" / "ca.pem"))
    with pytest.raises(ssl.SSLError, match="CERTIFICATE_REQUIRED"):   # refused by the server
        with BlockingClient("localhost", port, tls=no_certificate) as c:
            c.call("Heartbeat")
    with pytest.raises(ssl.SSLCertVerificationError):
        BlockingClient("localhost", port, tls=client_context())          # the system's CAs
    with socket.create_connection(("127.0.0.1", port), timeout=5) as plain:  # no TLS at all
        plain.sendall(b"\x00\x00\x00\x1d\x01\x01\x00\x00\x00\x01" + b'{"service":"Heartbeat"}')
        plain.settimeout(5)
        assert b"Heartbeat" not in plain.recv(4096)

