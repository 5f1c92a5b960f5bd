# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_server_run -*-
"""`cti server --check`: would the server start, and serve, with this
configuration?  Everything it needs, checked without starting it:

    configuration   the file and everything it names (ConfigError: file, key)
    flows           every flow of [flow] flows_dir loads (errors: file, line, step)
    prompts         every prompt of the manifest has its WAV file (queue music
                    and announcements are prompts: without them, silence)
    var directory   exists or can be made, and is writable
    database        reachable within its connect timeout (SQLite: its file)
    boards          the driver opens them (the simulator builds its chassis),
                    and can drive the stations (their tones: [station_tones])
    devices         the GSM modem's serial port of [sms] opens, each voice
                    modem of [[modems]] answers AT with OK on its port (within
                    AT_WAIT_S), and every USB caller-ID box of
                    [[caller_id_boxes]] is there

One line per check, "ok" or "FAIL" with what is wrong and where; the
exit status is 0 when every check passed, else 2.  The flows' hook
modules are imported, as `cti server` imports them.
"""
import os
import sys
import termios
import time
from pathlib import Path

from cti.config import ConfigError
from drivers.modem import modem_name

#: How long `--check` waits for a voice modem's answer to AT.
AT_WAIT_S = 3.0


def run(config_path, out=None):
    """Check, print a line per check to `out`; the exit status."""
    out = out or sys.stdout
    from cti.server.config import load_server_config

    try:
        config = load_server_config(config_path)
    except ConfigError as e:
        print(f"FAIL configuration: {e}", file=out)
        return 2
    print(f"ok   configuration: {config_path}", file=out)
    failed = 0
    for name, check in (("flows", _flows), ("prompts", _prompts), ("var directory", _var),
                        ("database", _database), ("boards", _boards),
                        ("devices", _devices)):
        try:
            said = check(config)
        except Exception as e:  # noqa: BLE001 - every failure is one line of the report
            print(f"FAIL {name}: {_one_line(e)}", file=out)
            failed += 1
        else:
            print(f"ok   {name}: {said}", file=out)
    return 2 if failed else 0


def _one_line(error):
    """The gist of an error on one line (a database driver's own message,
    not SQLAlchemy's wrapping of it); a configuration or flow error whole,
    each of its lines naming a file and a key or step."""
    if isinstance(error, ConfigError):
        return str(error)
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _flows(config):
    if config.flow is None:
        return "no [flow]: every route goes to a queue"
    from cti.flow.hooks import import_site_hooks
    from cti.flow.loader import load_flows

    import_site_hooks(config.flow)
    manifest = config.flow.prompts_dir / "prompts.toml"
    flows = load_flows(config.flow.flows_dir, manifest if manifest.exists() else None)
    return f"{len(flows)} in {config.flow.flows_dir}"


def _prompts(config):
    if config.flow is None:
        return "no [flow]: no prompts"
    from cti.flow.prompts import load_manifest, missing_prompts

    manifest_path = config.flow.prompts_dir / "prompts.toml"
    if not manifest_path.exists():
        raise FileNotFoundError(f"{manifest_path} does not exist")
    manifest = load_manifest(manifest_path)
    names = [*manifest.prompts, *manifest.music]
    missing = missing_prompts(config.flow.prompts_dir, names)
    if missing:
        raise FileNotFoundError(f"{len(missing)} of {len(names)} prompts have no WAV file in "
                                f"{config.flow.prompts_dir} ({', '.join(missing[:5])}"
                                f"{', ...' if len(missing) > 5 else ''}): `cti server` makes "
                                "them at start with espeak-ng, or `python -m cti.flow.prompts`")
    return f"{len(names)} in {config.flow.prompts_dir}"


def _var(config):
    var = Path(config.var_dir)
    var.mkdir(parents=True, exist_ok=True)
    if not os.access(var, os.W_OK):
        raise PermissionError(f"{var} is not writable by this user")
    return str(var)


def _database(config):
    from sqlalchemy import text

    from cti.storage.store import default_url, make_engine

    url = config.database or default_url(config.var_dir)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    return engine.url.render_as_string(hide_password=True)


def _boards(config):
    from drivers.r4 import R4Driver

    if config.driver == "dahdi":
        from twisted.internet import task

        from cti.server.config import board_layout
        from drivers import systemconf
        from drivers.dahdi import DahdiDriver
        from drivers.dahdidev import KernelDevices

        driver = DahdiDriver(KernelDevices(), systemconf.read(config.system_conf), task.Clock(),
                             boards=board_layout(config.boards), probe=True)
        return _devices_found(config, driver, open_stations=False)
    if config.driver == "sim":
        from drivers.sim import Simulator

        Simulator.from_config(config.boards, where=config.boards_where)
    driver = R4Driver(tone_channels=config.station_tones or None)
    return _devices_found(config, driver)


def _devices_found(config, driver, open_stations=True):
    """Every device the configuration names is on the boards; the phones
    take their tones (not on DAHDI: a channel opened here would be taken
    from the server or Asterisk using it)."""
    found = {device.name for device in driver.inventory()}
    stations = [n for g in config.station_groups for n in g.stations]
    wanted = [*(n for g in config.trunk_groups for n in g.channels
                if config.devices[n].kind != "modem"), *stations,
              *config.voice_pool, *config.conference_pool, *config.station_tones.values()]
    missing = [name for name in wanted if name not in found]
    if missing:
        raise LookupError(f"the configuration names {len(missing)} devices the boards do not "
                          f"have: {', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}")
    for name in stations if open_stations else ():  # as the server starts them
        driver.enable_station_events(name)
    return f"{config.driver}: {len(found)} devices, the {len(wanted)} configured among them"


def _at(port):
    """What the modem on `port` answers to AT (its final result: OK,
    ERROR), or None if nothing within AT_WAIT_S."""
    port.reset_input_buffer()
    port.write(b"AT\r")
    heard = b""
    deadline = time.monotonic() + AT_WAIT_S
    while time.monotonic() < deadline:
        heard += port.read(64)
        for line in heard.decode("latin-1").splitlines():
            if line.strip() in ("OK", "ERROR"):
                return line.strip()
    return None


def _ask_modem(n, modem):
    """What is wrong with the `n`-th voice modem (from 1), or None if it
    answers AT with OK.  The write gives up after AT_WAIT_S (a powered-off
    modem holds CTS low, and flow control is on), and what was not sent is
    dropped before the port closes, or the close would wait for it."""
    import serial

    where = f"voice modem {modem_name(n)} on {modem.port}"
    try:
        port = serial.Serial(modem.port, modem.baud, timeout=0.1, write_timeout=AT_WAIT_S,
                             rtscts=True)
    except (OSError, ValueError, termios.error) as e:   # SerialException is an OSError;
        return f"{where}: {e}"                          # termios.error: a flush failed
    try:
        answer = _at(port)
    except serial.SerialTimeoutException:
        return (f"{where}: AT could not be sent within {AT_WAIT_S:g} s (the modem holds "
                "CTS off): is it powered, is its cable in?")
    except (serial.SerialException, termios.error) as e:      # the device went away
        return f"{where}: {e}"
    finally:
        try:
            port.reset_output_buffer()
        except (OSError, termios.error):
            pass                             # gone: nothing to wait for either
        port.close()
    if answer is None:
        return (f"{where}: no answer to AT within {AT_WAIT_S:g} s: is it the modem's AT "
                "port, is it powered?")
    return None if answer == "OK" else f"{where}: it answered {answer} to AT"


def _devices(config):
    import serial

    said = []
    if config.sms is not None:
        modem = config.sms.modem
        with serial.Serial(modem.port, modem.baud, timeout=0):
            said.append(f"the GSM modem's port {modem.port} opens")
    wrong = [why for why in (_ask_modem(n, modem) for n, modem in enumerate(config.modems, 1))
             if why is not None]
    if wrong:
        raise LookupError("; ".join(wrong))
    said += [f"voice modem {modem_name(n)} answers AT on {modem.port}"
             for n, modem in enumerate(config.modems, 1)]
    if config.caller_id_boxes:
        from drivers.usbcid import find

        for box in config.caller_id_boxes:
            find(box.name, box.vendor_id, box.product_id)
        said.append(f"{len(config.caller_id_boxes)} caller-ID boxes found")
    return "; ".join(said) or "no [sms] modem, no voice modem, no caller-ID box"
