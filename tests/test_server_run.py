# SPDX-License-Identifier: GPL-2.0-or-later
"""`cti server` and `twistd cti`: the service made from a configuration
file, with what a fresh installation lacks made for it, and a wrong file
refused with its file and key, without a traceback."""
import shutil
from argparse import Namespace

import pytest

from cti.server import twistd
from cti.server.run import main, make_service


def fresh_copy(tmp_path, var="var"):
    """etc/ copied, its var_dir pointing at a directory that does not exist
    and its prompts directory holding only the manifest."""
    etc = tmp_path / "etc"
    shutil.copytree("etc", etc, ignore=shutil.ignore_patterns("*.wav"))
    config = etc / "cti.toml"
    config.write_text(config.read_text().replace('var_dir = "../var"',
                                                 f'var_dir = "../{var}"'))
    return config


def test_a_fresh_installation_gets_its_var_directory_and_prompts(tmp_path):
    config = fresh_copy(tmp_path)
    assert not (tmp_path / "var").exists()
    assert not list((tmp_path / "etc" / "prompts").glob("*.wav"))
    service = make_service(str(config), drain_s=0)
    assert (tmp_path / "var").is_dir()
    prompts = {p.stem for p in (tmp_path / "etc" / "prompts").glob("*.wav")}
    assert {"hold_music", "welcome", "support_options"} <= prompts   # music and speech
    assert service.center.queueing.queue_music("support").endswith("hold_music.wav")


def test_a_wrong_configuration_is_refused_with_its_file_and_key(tmp_path, capsys):
    config = fresh_copy(tmp_path)
    config.write_text(config.read_text().replace("heartbeat_s = 10", "heartbeat_s = -1"))
    assert main(Namespace(config=str(config), drain=None)) == 2
    err = capsys.readouterr().err
    assert str(config) in err and "heartbeat_s" in err
    # twistd cti: tests/test_twistd.py


def test_twistd_finds_the_cti_plugin():
    """`twistd cti` lists and runs the plugin: Twisted finds it among its
    plugins (linked by the set-up, shipped in twisted/plugins by a wheel)."""
    from twisted.application.service import IServiceMaker
    from twisted.plugin import getPlugins

    makers = {maker.tapname: maker for maker in getPlugins(IServiceMaker)}
    assert "cti" in makers
    assert makers["cti"].module == "cti.server.twistd"
    assert isinstance(makers["cti"].options(), twistd.Options)


def test_the_server_gives_memory_back_to_the_system():
    """glibc takes the settings that make freed big blocks go back to the
    system (cti.server.memory; bench/fuzz.py measures the effect)."""
    from cti.server.memory import give_back_memory

    assert give_back_memory() is True


def test_a_taken_port_stops_the_server_with_one_line_and_status_2(tmp_path):
    """Another process holds the port: `cti server` says which in one line
    on standard error and exits 2 (it does not run on without it)."""
    import socket
    import subprocess
    import sys

    shutil.copytree("etc", tmp_path / "etc")
    config = tmp_path / "etc" / "cti.toml"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config.write_text(config.read_text()        # its var_dir: tmp_path/var
                          .replace("tcp:7500:interface=127.0.0.1",
                                   f"tcp:{port}:interface=127.0.0.1")
                          .replace('http = "tcp:7580:interface=127.0.0.1"', ""))
        done = subprocess.run([sys.executable, "-m", "cti", "server", "-c", str(config),
                               "--drain", "0"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    [line] = [x for x in done.stderr.splitlines() if x.startswith("cti server:")]
    assert line.startswith(f"cti server: cannot start: cannot listen on tcp:{port}:")
    assert "in use" in line


def test_cti_version(capsys):
    from cti import __version__
    from cti.cli import main as cti

    with pytest.raises(SystemExit) as done:
        cti(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out == f"cti {__version__}\n"


@pytest.mark.parametrize("unit", ["cti-server", "cti-flow"])
def test_the_systemd_units_run_commands_cti_takes(unit, monkeypatch):
    """ExecStart of each unit under etc/systemd is a `cti` command line the
    command accepts (parsed, not run)."""
    import configparser
    import shlex

    import cti.cli

    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read(f"etc/systemd/{unit}.service")
    command = shlex.split(parser["Service"]["ExecStart"])
    assert command[0].endswith("/cti") and parser["Service"]["RestartPreventExitStatus"] == "2"
    seen = []
    monkeypatch.setattr("cti.server.run.main", lambda args: seen.append(args) or 0)
    monkeypatch.setattr("cti.flow.run.main", lambda args: seen.append(args) or 0)
    assert cti.cli.main(command[1:]) == 0
    assert seen[0].config == "/etc/cti/cti.toml"


def copy_of_etc(tmp_path):
    shutil.copytree("etc", tmp_path / "etc")
    return tmp_path / "etc" / "cti.toml"


def test_check_passes_on_the_sample(tmp_path):
    import io

    from cti.server.check import run as check

    out = io.StringIO()
    assert check(str(copy_of_etc(tmp_path)), out) == 0
    lines = out.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "ok   configuration", "ok   flows", "ok   prompts", "ok   var directory",
        "ok   database", "ok   boards", "ok   devices"]


def test_check_says_every_problem_and_exits_2(tmp_path):
    import io
    import socket

    from cti.server.check import run as check

    config = copy_of_etc(tmp_path)
    (tmp_path / "etc" / "prompts" / "welcome.wav").unlink()
    with socket.socket() as closed:                  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    config.write_text(config.read_text().replace(
        'var_dir = "../var"', f'var_dir = "../var"\ndatabase = '
        f'"postgresql://cti@127.0.0.1:{port}/cti"'))
    out = io.StringIO()
    assert check(str(config), out) == 2
    report = dict(line.split(": ", 1) for line in out.getvalue().splitlines())
    assert "welcome" in report["FAIL prompts"] and "espeak-ng" in report["FAIL prompts"]
    assert str(port) in report["FAIL database"] or "refused" in report["FAIL database"]
    assert "ok   boards" in report and "ok   flows" in report


def test_check_of_a_wrong_configuration_names_the_key(tmp_path):
    import io

    from cti.server.check import run as check

    config = copy_of_etc(tmp_path)
    config.write_text(config.read_text().replace("heartbeat_s = 10", "heartbeat_s = -1"))
    out = io.StringIO()
    assert check(str(config), out) == 2
    assert out.getvalue().startswith("FAIL configuration:") and "heartbeat_s" in out.getvalue()


def test_check_opens_the_gsm_modem_s_port_and_looks_for_the_boxes(tmp_path):
    """[sms] on a pty, which opens; then a caller-ID box that is not there
    (or no libusb to look for it with)."""
    import io
    import os

    from cti.server.check import run as check

    config = copy_of_etc(tmp_path)
    sample = config.read_text()
    master, slave = os.openpty()
    path = os.ttyname(slave)
    try:
        config.write_text(sample + f'\n[sms]\nport = "{path}"\n')
        out = io.StringIO()
        assert check(str(config), out) == 0
        assert f"ok   devices: the GSM modem's port {path} opens" in out.getvalue()
        config.write_text(sample + '\n[[caller_id_boxes]]\nname = "reception"\n'
                          'vendor_id = 0xfeed\nproduct_id = 0xbeef\n')
        out = io.StringIO()
        assert check(str(config), out) == 2
    finally:
        os.close(master)
        os.close(slave)
    report = dict(line.split(": ", 1) for line in out.getvalue().splitlines())
    assert report["FAIL devices"].startswith("usb.core.find(reception): ")
    assert "no USB device feed:beef" in report["FAIL devices"] or "libusb" in report[
        "FAIL devices"]


def test_a_second_cti_server_on_the_same_var_dir_is_one_line_and_no_traceback(tmp_path):
    """Another server holds the var directory: `cti server` says so in one
    line and exits 2, and its log has the same line, no traceback."""
    import subprocess
    import sys
    import time

    from tests.test_twistd import free_port, site

    first_config = site(tmp_path, free_port(), free_port())
    log = tmp_path / "first.log"
    with open(log, "w") as out:
        first = subprocess.Popen([sys.executable, "-m", "cti", "server", "-c",
                                  str(first_config), "--drain", "0"], stdout=out,
                                 stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "cti server: listening on" not in log.read_text():
            assert first.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        second_config = first_config.with_name("second.toml")       # the same var_dir
        second_config.write_text(site(tmp_path, free_port(), free_port()).read_text())
        done = subprocess.run([sys.executable, "-m", "cti", "server", "-c",
                               str(second_config), "--drain", "0"], capture_output=True,
                              text=True, timeout=120)
    finally:
        first.terminate()
        first.wait(timeout=60)
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith("cti server: cannot start: ") and "same var_dir" in line
    assert "Traceback" not in done.stdout and line in done.stdout
