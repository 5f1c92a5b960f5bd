# SPDX-License-Identifier: GPL-2.0-or-later
"""The server configuration: the sample loads, every mistake is a
ConfigError naming the file and the exact key, and routes are chosen in
the documented order."""
import re
from pathlib import Path

import pytest

from cti.auth import hash_password, verify_password
from cti.config import ConfigError
from cti.server.config import (
    Route,
    ServerConfig,
    board_devices,
    client_endpoint,
    load_server_config,
)

ROOT = Path(__file__).resolve().parent.parent
HASH = hash_password("x", salt=b"0123456789abcdef")

BASE = f"""
driver = "sim"

[[boards]]
type = "analog"
lines = 4

[[boards]]
type = "t1"
signalling = "em_wink"

[[boards]]
type = "voice"
channels = 8

[[boards]]
type = "stations"
count = 4

[[boards]]
type = "conference"
dsps = 1

[server]
listen = ["tcp:7600:interface=127.0.0.1"]

[[trunk_groups]]
name = "pstn_in"
direction = "in"
channels = ["dtiB1T1-24"]

[[trunk_groups]]
name = "local"
direction = "both"
channels = ["dxxxB1C1-4"]

[[station_groups]]
name = "floor"
stations = ["msiB1C1-4"]

[[routes]]
dnis = "5550100"
flow = "main_menu"

[[routes]]
dnis = "5550199"
queue = "support"

[routing]
default = {{flow = "main_menu"}}
flow_down = {{queue = "sales"}}

[[queues]]
name = "sales"

[[queues]]
name = "support"
strategy = "fewest_calls"
service_level_s = 30

[[agents]]
id = "1001"
name = "Alice"
password_hash = "{HASH}"
queues = ["sales"]
skills = {{english = 5}}
station = "msiB1C1"

[[users]]
name = "ivr"
roles = ["flow"]
password_hash = "{HASH}"

[flow]
user = "ivr"
password = "sample"
"""


#: The flows the test configurations route to: write() gives each a file.
FLOWS = ("main_menu", "short_prefix", "long_prefix", "exact_dnis", "exact_ani",
         "vip_prefix", "vip_exact")


def write(tmp_path, text, name="cti.toml", flows=FLOWS):
    """The configuration file, and a flows directory beside it holding a
    file for each name of `flows` (routes must name existing flows)."""
    path = tmp_path / name
    path.write_text(text)
    if flows is not None:
        (tmp_path / "flows").mkdir(exist_ok=True)
        for flow in flows:
            (tmp_path / "flows" / f"{flow}.toml").write_text("")
    return path


def error(tmp_path, text, flows=FLOWS):
    path = write(tmp_path, text, flows=flows)
    with pytest.raises(ConfigError) as info:
        load_server_config(path)
    assert str(info.value).startswith(f"{path}: "), str(info.value)
    return info.value


def edit(old, new, count=1):
    assert BASE.count(old) >= count, old
    return BASE.replace(old, new, count)


# -- the sample ------------------------------------------------------------
def test_sample_loads():
    config = load_server_config(ROOT / "etc" / "cti.toml")
    assert isinstance(config, ServerConfig)
    assert config.driver == "sim"
    assert Path(config.boards_path) == ROOT / "etc" / "boards.toml"
    assert [b["type"] for b in config.boards] == ["analog", "t1", "voice", "stations",
                                                   "conference"]
    assert config.listen == ("tcp:7500:interface=127.0.0.1",)
    assert config.heartbeat_s == 10
    assert config.var_dir == ROOT / "var"
    assert config.database == f"sqlite:///{ROOT / 'var' / 'cti.sqlite'}"
    pstn, local = config.trunk_groups
    assert (pstn.name, pstn.direction, len(pstn.channels)) == ("pstn_in", "in", 24)
    assert pstn.channels[0] == "dtiB1T1" and pstn.channels[-1] == "dtiB1T24"
    assert set(pstn.signalling.values()) == {"em_wink"}
    assert (local.name, local.direction) == ("local", "both")
    assert local.channels == ("dxxxB1C1", "dxxxB1C2", "dxxxB1C3", "dxxxB1C4")
    assert config.station_groups[0].stations == tuple(f"msiB1C{i}" for i in range(1, 9))
    assert config.voice_pool == tuple(f"dxxxB{b}C{c}" for b in range(2, 8)
                                      for c in range(1, 5))
    assert config.conference_pool == ("dcbB1D1", "dcbB1D2")
    assert [q.name for q in config.queues] == ["sales", "support", "spanish"]
    assert [a.id for a in config.agents] == [str(n) for n in range(1001, 1007)]
    assert {u.name: set(u.roles) for u in config.users} == {
        "ivr": {"flow"}, "sup": {"supervisor"}, "admin": {"admin"}}
    assert config.route_for(dnis="5550100").flow == "main_menu"
    assert config.route_for(dnis="5550199").queue == "support"
    assert config.route_for(dnis="5550111") == config.default_route
    assert config.default_route.flow == "main_menu"
    assert config.flow_down_queue == "sales"
    assert config.flow.server == "tcp:host=127.0.0.1:port=7500"
    assert config.flow.user == "ivr"
    assert config.flow.read_password() == "1234"


def test_the_door_is_configured_from_server_keys(tmp_path):
    config = load_server_config(write(tmp_path, edit(
        "[server]\n", "[server]\nmax_connections_per_source = 50\nlogin_lockout_s = 60\n")))
    assert (config.gate.max_connections_per_source, config.gate.lockout_s) == (50, 60)
    assert config.gate.max_connections == 5000                 # the default


def test_sample_passwords_are_1234():
    config = load_server_config(ROOT / "etc" / "cti.toml")
    for account in config.agents + config.users:
        assert verify_password(account.password_hash, "1234"), account


def test_board_devices_match_the_simulator():
    sim = pytest.importorskip("drivers.sim")
    if not sim.HAS_SIMULATOR:
        pytest.skip("built against a vendor SDK")
    boards = [{"type": "analog", "lines": 6}, {"type": "t1"}, {"type": "voice", "channels": 5},
              {"type": "stations", "count": 2}, {"type": "conference", "dsps": 2},
              {"type": "t1", "signalling": "loopstart"}, {"type": "e1"},
              {"type": "e1", "signalling": "ccs", "crc4": False},
              {"type": "t1", "signalling": "pri"}]
    simulator = sim.Simulator.from_config(boards)
    built = [d for d in simulator.devices()   # less boards and the lines' halves
             if not d.startswith("ag") and not re.fullmatch(r"(dxxx|msi|dcb)B\d+", d)]
    devices = board_devices(boards)
    assert list(devices) == built
    assert devices["dxxxB2C2"].kind == "line" and devices["dxxxB3C1"].kind == "voice"
    assert devices["dtiB2T1"].signalling == "fxs_loopstart"
    assert (devices["dtiB3T30"].signalling, devices["dtiB3"].tones) == ("cas", "cn")
    assert devices["dtiB4D"].kind == devices["dtiB5D"].kind == "dchannel"
    assert "dtiB5T24" not in devices and "dtiB3T31" not in devices


def test_pri_b_channels_are_trunks_with_the_span_s_default_d_channel_settings(tmp_path):
    text = edit('signalling = "em_wink"', 'signalling = "pri"').replace('["dtiB1T1-23"]',
                                                                       '["dtiB1T1-23"]')
    text = text.replace('["dtiB1T1-24"]', '["dtiB1T1-23"]')
    config = load_server_config(write(tmp_path, text))
    assert set(config.trunk_groups[0].signalling.values()) == {"pri"}
    settings = config.pri_settings("dtiB1")
    assert (settings.node, settings.switchtype, settings.channel_selection,
            settings.overlap) == ("cpe", "national", "exclusive", False)


def test_pri_spans_must_name_an_isdn_span(tmp_path):
    e = error(tmp_path, BASE + '\n[[pri_spans]]\nspan = "dtiB1"\n')
    assert e.key == "pri_spans[0].span"
    assert "'dtiB1' is a T1 E&M span, with no D-channel" in str(e)


def e1_r2(settings=""):
    """The base configuration with its T1 an E1 CAS span, its trunk group
    with these MFC/R2 settings."""
    text = edit('type = "t1"\nsignalling = "em_wink"', 'type = "e1"\nsignalling = "cas"')
    return text.replace('channels = ["dtiB1T1-24"]', 'channels = ["dtiB1T1-30"]\n' + settings)


def test_an_e1_cas_trunk_group_runs_mfc_r2_with_its_settings(tmp_path):
    config = load_server_config(write(tmp_path, e1_r2(
        'r2_variant = "cn"\nr2_max_ani = 11\nr2_max_dnis = 8\nr2_charge = "no_charge"')))
    pstn = config.trunk_groups[0]
    assert len(pstn.channels) == 30 and set(pstn.signalling.values()) == {"cas"}
    assert (pstn.r2.variant, pstn.r2.max_ani, pstn.r2.max_dnis, pstn.r2.category,
            pstn.r2.charge) == ("cn", 11, 8, "national_subscriber", "no_charge")
    assert config.trunk_groups[1].r2 is None
    assert load_server_config(write(tmp_path, e1_r2())).trunk_groups[0].r2.variant == "itu"


@pytest.mark.parametrize(("settings", "key", "message"), [
    ('r2_variant = "de"', "r2_variant", "'de' is not one of 'itu', 'cn', 'mx', 'br', 'ar'"),
    ("r2_max_dnis = 0", "r2_max_dnis", "expected an integer from 1 to 31, got integer 0"),
    ('r2_category = "vip"', "r2_category", "'vip' is not one of 'national_subscriber'"),
    ('r2_charge = "free"', "r2_charge", "'free' is not one of 'charge', 'no_charge'"),
    ("r2_mf_timeout_ms = 100", "r2_mf_timeout_ms", "an integer from 500 to 30000"),
])
def test_bad_mfc_r2_settings_are_named(tmp_path, settings, key, message):
    e = error(tmp_path, e1_r2(settings))
    assert e.key == f"trunk_groups[0].{key}" and message in str(e), str(e)


@pytest.mark.parametrize("variant", ["itu", "cn", "mx", "ar"])
def test_a_collect_call_category_is_refused_where_the_variant_has_no_signal_for_it(
        tmp_path, variant):
    """Only Brazil's variant has a collect-call signal: elsewhere every call
    out would die in an MF timeout (OpenR2) or go out as another category."""
    e = error(tmp_path, e1_r2(f'r2_variant = "{variant}"\nr2_category = "collect_call"'))
    assert e.key == "trunk_groups[0].r2_category", str(e)
    assert f"r2_variant '{variant}' has no collect-call category signal" in str(e), str(e)
    config = load_server_config(write(tmp_path, e1_r2(
        'r2_variant = "br"\nr2_category = "collect_call"')))
    assert config.trunk_groups[0].r2.category == "collect_call"


def test_an_mfc_r2_group_is_of_e1_cas_timeslots_only(tmp_path):
    text = e1_r2().replace('channels = ["dxxxB1C1-4"]', 'channels = ["dxxxB1C1-4"]', 1)
    text = text.replace('channels = ["dtiB1T1-30"]', 'channels = ["dtiB1T1-30", "dxxxB1C1"]')
    text = text.replace('channels = ["dxxxB1C1-4"]', 'channels = ["dxxxB1C2-4"]')
    e = error(tmp_path, text)
    assert e.key == "trunk_groups[0].channels" and "mixes E1 CAS timeslots" in str(e), str(e)


def test_an_e1_boards_line_settings_reach_the_simulated_span(tmp_path):
    sim = pytest.importorskip("drivers.sim")
    if not sim.HAS_SIMULATOR:
        pytest.skip("built against a vendor SDK")
    text = BASE.replace('type = "conference"\ndsps = 1', 'type = "conference"\ndsps = 1\n\n'
                        '[[boards]]\ntype = "e1"\nsignalling = "ccs"\ncrc4 = false\n'
                        'coding = "ami"\nclock = "internal"')
    config = load_server_config(write(tmp_path, text))
    status = sim.Simulator.from_config(config.boards).device_status("dtiB2")
    assert (status["type"], status["signalling"], status["framing"], status["coding"],
            status["clock"]) == ("e1", "ccs", "e1", "ami", "internal")


def test_a_t1_boards_line_settings_reach_the_simulated_span(tmp_path):
    sim = pytest.importorskip("drivers.sim")
    if not sim.HAS_SIMULATOR:
        pytest.skip("built against a vendor SDK")
    text = BASE.replace('signalling = "em_wink"', 'signalling = "em_wink"\nframing = "d4"\n'
                        'coding = "ami"\nclock = "internal"')
    config = load_server_config(write(tmp_path, text))
    status = sim.Simulator.from_config(config.boards).device_status("dtiB1")
    assert (status["framing"], status["coding"], status["clock"]) == ("d4", "ami", "internal")


#: The station tones on the last voice board of BASE.
TONES = ('[station_tones]\ndial = "dxxxB3C1"\nringback = "dxxxB3C2"\nbusy = "dxxxB3C3"\n'
         'reorder = "dxxxB3C4"\n\n')


def test_station_tones_take_voice_channels_out_of_the_pool(tmp_path):
    config = load_server_config(write(tmp_path, edit("[routing]", TONES + "[routing]")))
    assert config.station_tones == {"dial": "dxxxB3C1", "ringback": "dxxxB3C2",
                                    "busy": "dxxxB3C3", "reorder": "dxxxB3C4"}
    assert config.voice_pool == tuple(f"dxxxB2C{c}" for c in range(1, 5))
    assert load_server_config(write(tmp_path, BASE)).station_tones == {}


def test_keys_a_to_d_reach_the_voice_channels_of_the_boards_that_enable_them(tmp_path):
    """dtmf_abcd = true on an analog board: its channels' receivers report
    keys A-D; the voice board's, left at the default, do not."""
    sim = pytest.importorskip("drivers.sim")
    if not sim.HAS_SIMULATOR:
        pytest.skip("built against a vendor SDK")
    config = load_server_config(write(tmp_path, BASE.replace("lines = 4",
                                                             "lines = 4\ndtmf_abcd = true")))
    assert [b.get("dtmf_abcd") for b in config.boards if b["type"] in ("analog", "voice")] \
        == [True, None]
    simulator = sim.Simulator.from_config(config.boards)
    assert simulator.device_status("dxxxB1C4")["dtmf_abcd"] == "1"
    assert simulator.device_status("dxxxB2C1")["dtmf_abcd"] == "0"


def test_defaults(tmp_path):
    text = edit('[server]\nlisten = ["tcp:7600:interface=127.0.0.1"]\n', "")
    config = load_server_config(write(tmp_path, text))
    assert config.listen == ("tcp:7500:interface=127.0.0.1",)
    assert config.var_dir == tmp_path / "var"
    assert config.database == f"sqlite:///{tmp_path / 'var' / 'cti.sqlite'}"
    assert config.log_level == "info"
    sales = config.queue("sales")
    assert (sales.strategy, sales.service_level_s, sales.max_wait_s, sales.max_length,
            sales.wrap_up_s, sales.ring_timeout_s, sales.music) == (
        "longest_idle", 20, None, None, 10, 15, None)
    assert config.voice_pool == tuple(f"dxxxB{b}C{c}" for b in (2, 3) for c in range(1, 5))
    assert config.conference_pool == ("dcbB1D1",)
    assert config.flow.flows_dir == tmp_path / "flows"
    assert config.flow.prompts_dir == tmp_path / "prompts"
    assert config.agent("1001").skills == {"english": 5}
    assert config.user("ivr").roles == frozenset({"flow"})
    assert config.trunk_group_of("dxxxB1C3").name == "local"
    assert config.trunk_group_of("dxxxB2C1") is None


def test_paths_and_urls_relative_to_the_file(tmp_path):
    text = edit('[server]\n', '[server]\nvar_dir = "state"\n'
                'database = "sqlite:///db/cti.sqlite"\n')
    config = load_server_config(write(tmp_path, text))
    assert config.var_dir == tmp_path / "state"
    assert config.database == f"sqlite:///{tmp_path / 'db' / 'cti.sqlite'}"
    text = edit('[server]\n', '[server]\ndatabase = "postgresql://cti:pw@db/cti"\n')
    assert load_server_config(write(tmp_path, text)).database == "postgresql://cti:pw@db/cti"


def test_dahdi_reads_system_conf_where_the_file_says(tmp_path):
    """driver = "dahdi": DAHDI's own /etc/dahdi/system.conf, unless
    system_conf names another (relative to the configuration file)."""
    text = edit('driver = "sim"', 'driver = "dahdi"')
    config = load_server_config(write(tmp_path, text))
    assert (config.driver, config.system_conf) == ("dahdi", "/etc/dahdi/system.conf")
    text = edit('driver = "sim"', 'driver = "dahdi"\nsystem_conf = "dahdi/system.conf"')
    config = load_server_config(write(tmp_path, text))
    assert config.system_conf == str(tmp_path / "dahdi" / "system.conf")


def test_boards_from_another_file(tmp_path):
    (tmp_path / "chassis.toml").write_text('[[boards]]\ntype = "t1"\n\n'
                                           '[[boards]]\ntype = "stations"\ncount = 4\n')
    head, tail = BASE.split("[server]", 1)
    text = 'driver = "r4"\nboards = "chassis.toml"\n\n[server]' + tail
    text = text.replace('channels = ["dxxxB1C1-4"]', 'channels = ["dtiB1T23-24"]')
    text = text.replace('["dtiB1T1-24"]', '["dtiB1T1-22"]')
    config = load_server_config(write(tmp_path, text))
    assert config.driver == "r4"
    assert config.boards == [{"type": "t1"}, {"type": "stations", "count": 4}]
    assert config.boards_path == str(tmp_path / "chassis.toml")
    assert config.voice_pool == () and config.conference_pool == ()

    (tmp_path / "chassis.toml").write_text('[[boards]]\ntype = "j1"\n')
    with pytest.raises(ConfigError) as info:
        load_server_config(tmp_path / "cti.toml")
    assert info.value.path == str(tmp_path / "chassis.toml")
    assert info.value.key == "boards[0].type"
    assert "'j1' is not one of 'analog', 't1', 'e1'" in str(info.value)

    e = error(tmp_path, text.replace("chassis.toml", "nope.toml"))
    assert e.key == "boards" and "no such file" in str(e)


def test_password_file(tmp_path):
    (tmp_path / "flow.secret").write_text("s3cret\n")
    text = edit('password = "sample"', 'password_file = "flow.secret"')
    flow = load_server_config(write(tmp_path, text)).flow
    assert flow.password is None and flow.read_password() == "s3cret"
    assert "s3cret" not in repr(flow)
    (tmp_path / "flow.secret").unlink()
    with pytest.raises(ConfigError) as info:
        flow.read_password()
    assert info.value.key == "flow.password_file"


def test_flow_server_derived_from_listen():
    assert client_endpoint("tcp:7500:interface=127.0.0.1") == "tcp:host=127.0.0.1:port=7500"
    assert client_endpoint("tcp:port=7501") == "tcp:host=127.0.0.1:port=7501"
    assert client_endpoint("tcp:7502:interface=10.0.0.5") == "tcp:host=10.0.0.5:port=7502"
    assert client_endpoint(r"tcp6:7503:interface=\:\:") == r"tcp:host=\:\:1:port=7503"
    assert client_endpoint("unix:/run/cti.sock") == "unix:path=/run/cti.sock"
    assert client_endpoint("ssl:7504:privateKey=k.pem") is None


# -- every kind of error ---------------------------------------------------
ERRORS = [
    # missing required keys
    ("no driver", ('driver = "sim"\n', ""), "driver", "required key is missing"),
    ("no queue name", ('[[queues]]\nname = "sales"\n', '[[queues]]\nstrategy = "linear"\n'),
     "queues[0].name", "required key is missing"),
    ("no direction", ('direction = "in"\n', ""), "trunk_groups[0].direction",
     "required key is missing (expected one of 'in', 'out', 'both')"),
    ("no default route", ('default = {flow = "main_menu"}\n', ""), "routing.default",
     "required key is missing"),
    ("no agent hash", (f'password_hash = "{HASH}"\nqueues', "queues"),
     "agents[0].password_hash", "required key is missing"),
    # wrong types
    ("string for int", ("service_level_s = 30", 'service_level_s = "30"'),
     "queues[1].service_level_s", "expected an integer >= 1, got string '30'"),
    ("bool for int", ("[server]\n", "[server]\nheartbeat_s = true\n"), "server.heartbeat_s",
     "got boolean True"),
    ("negative", ("service_level_s = 30", "service_level_s = 0"),
     "queues[1].service_level_s", "expected an integer >= 1"),
    ("listen string", ('listen = ["tcp:7600:interface=127.0.0.1"]', 'listen = "tcp:7600"'),
     "server.listen", "expected a list of endpoint strings"),
    ("numeric agent id", ('id = "1001"', "id = 1001"), "agents[0].id",
     "a string of digits such as \"1001\" (quoted), got integer 1001"),
    ("agent id letters", ('id = "1001"', 'id = "A1"'), "agents[0].id", "'A1' is not"),
    ("table for list", ('stations = ["msiB1C1-4"]', 'stations = "msiB1C1-4"'),
     "station_groups[0].stations", "expected a list of stations"),
    ("skills not table", ("skills = {english = 5}", 'skills = ["english"]'),
     "agents[0].skills", "expected a table of skill = level (1..10), such as "
     "{english = 5}, got an array"),
    ("skill level", ("skills = {english = 5}", "skills = {english = 11}"),
     "agents[0].skills.english", "expected an integer from 1 to 10, got integer 11"),
    ("bad listen", ('listen = ["tcp:7600:interface=127.0.0.1"]', 'listen = ["tpc:7600"]'),
     "server.listen[0]", "is not a Twisted server endpoint string"),
    ("bad port", ('listen = ["tcp:7600:interface=127.0.0.1"]', 'listen = ["tcp:99999"]'),
     "server.listen[0]", "port '99999' is not 0..65535"),
    ("zero connections", ("[server]\n", "[server]\nmax_connections = 0\n"),
     "server.max_connections", "expected an integer >= 1, got integer 0"),
    ("delays reversed", ("[server]\n", "[server]\nlogin_delay_s = 5\nlogin_max_delay_s = 2\n"),
     "server.login_max_delay_s", "expected at least login_delay_s (5), got 2"),
    ("bad database", ("[server]\n", '[server]\ndatabase = "not a url"\n'), "server.database",
     "is not a database URL"),
    ("bad log level", ("[server]\n", '[server]\nlog_level = "loud"\n'), "server.log_level",
     "'loud' is not one of 'debug'"),
    ("bad driver", ('driver = "sim"', 'driver = "zaptel"'), "driver",
     "'zaptel' is not one of 'sim', 'r4', 'dahdi'"),
    ("bad name", ('name = "floor"', 'name = "first floor"'), "station_groups[0].name",
     "'first floor' is not a name of letters"),
    # unknown keys
    ("unknown server key", ("[server]\n", "[server]\nheartbeat = 5\n"), "server.heartbeat",
     "unknown key (did you mean 'heartbeat_s'? known keys here: database, heartbeat_s"),
    ("unknown queue key", ("service_level_s = 30", "servicelevel = 30"),
     "queues[1].servicelevel", "unknown key (did you mean 'service_level_s'?"),
    ("unknown top key", ('driver = "sim"\n', 'driver = "sim"\nqueue = "x"\n'), "queue",
     "did you mean 'queues'?"),
    ("unknown board key", ("lines = 4", "line = 4"), "boards[0].line",
     "known keys here: dtmf_abcd, lines, tones, type"),
    ("dtmf_abcd not a boolean", ("lines = 4", "lines = 4\ndtmf_abcd = 1"),
     "boards[0].dtmf_abcd", "expected true or false, got integer 1"),
    ("unknown route key", ('dnis = "5550199"', 'dnis = "5550199"\nweight = 2'),
     "routes[1].weight", "unknown key"),
    ("unknown flow key", ('user = "ivr"', 'user = "ivr"\nhost = "x"'), "flow.host",
     "unknown key"),
    # boards
    ("bad board type", ('type = "t1"', 'type = "j1"'), "boards[1].type",
     "'j1' is not one of 'analog', 't1', 'e1', 'voice', 'stations', 'conference'"),
    ("board too big", ("dsps = 1", "dsps = 17"), "boards[4].dsps",
     "expected an integer from 1 to 16, got integer 17"),
    ("bad signalling", ('signalling = "em_wink"', 'signalling = "r2"'), "boards[1].signalling",
     "'r2' is not one of 'em_wink', 'fxs_loopstart', 'pri', 'loopstart'"),
    ("e1 signalling on a t1", ('signalling = "em_wink"', 'signalling = "cas"'),
     "boards[1].signalling", "'cas' is not one of"),
    ("t1 signalling on an e1", ('type = "t1"\nsignalling = "em_wink"',
                                'type = "e1"\nsignalling = "pri"'), "boards[1].signalling",
     "'pri' is not one of 'cas', 'ccs'"),
    ("e1 crc4 not a boolean", ('type = "t1"\nsignalling = "em_wink"',
                               'type = "e1"\ncrc4 = "on"'), "boards[1].crc4", "true or false"),
    ("t1 line code on an e1", ('type = "t1"\nsignalling = "em_wink"',
                               'type = "e1"\ncoding = "b8zs"'), "boards[1].coding",
     "'b8zs' is not one of 'hdb3', 'ami'"),
    ("framing on an e1", ('type = "t1"\nsignalling = "em_wink"',
                          'type = "e1"\nframing = "esf"'), "boards[1].framing",
     "unknown key (known keys here: clock, coding, crc4"),
    ("r2 settings on a t1 group", ('channels = ["dtiB1T1-24"]',
                                   'channels = ["dtiB1T1-24"]\nr2_variant = "cn"'),
     "trunk_groups[0].r2_variant", "trunk group 'pstn_in' has no E1 CAS timeslot: MFC/R2 "
     "settings belong to a group of E1 CAS timeslots"),
    ("channel 24 of a pri span", ('signalling = "em_wink"', 'signalling = "pri"'),
     "trunk_groups[0].channels[0]", "'dtiB1T1-24': dtiB1T24 is not on the boards (dtiB1 has "
     "T1..T23)"),
    ("bad framing", ('signalling = "em_wink"', 'signalling = "em_wink"\nframing = "sf"'),
     "boards[1].framing", "'sf' is not one of 'esf', 'd4'"),
    ("bad line code", ('signalling = "em_wink"', 'signalling = "em_wink"\ncoding = "hdb3"'),
     "boards[1].coding", "'hdb3' is not one of 'b8zs', 'ami'"),
    ("bad clock", ('signalling = "em_wink"', 'signalling = "em_wink"\nclock = "loop"'),
     "boards[1].clock", "'loop' is not one of 'line', 'internal'"),
    ("line key on an analog board", ("lines = 4", "lines = 4\nframing = \"esf\""),
     "boards[0].framing", "unknown key"),
    # ranges and channels
    ("backwards range", ('["dtiB1T1-24"]', '["dtiB1T24-1"]'), "trunk_groups[0].channels[0]",
     "'dtiB1T24-1': the range runs backwards (24 > 1)"),
    ("wrong letter", ('["dtiB1T1-24"]', '["dtiB1C1-24"]'), "trunk_groups[0].channels[0]",
     "'dtiB1C1-24' is not a device name or range"),
    ("open range", ('["dtiB1T1-24"]', '["dtiB1T1-"]'), "trunk_groups[0].channels[0]",
     "is not a device name or range"),
    ("timeslot zero", ('["dtiB1T1-24"]', '["dtiB1T0-3"]'), "trunk_groups[0].channels[0]",
     "is not a device name or range"),
    ("unknown span", ('["dtiB1T1-24"]', '["dtiB1T1-12", "dtiB2T1-12"]'),
     "trunk_groups[0].channels[1]", "'dtiB2T1-12': dtiB2T1 is not on the boards "
     "(there is no dtiB2)"),
    ("range too long", ('["dxxxB1C1-4"]', '["dxxxB1C1-8"]'), "trunk_groups[1].channels[0]",
     "'dxxxB1C1-8': dxxxB1C5 is not on the boards (dxxxB1 has C1..C4)"),
    ("voice resource as trunk", ('["dxxxB1C1-4"]', '["dxxxB2C1-4"]'),
     "trunk_groups[1].channels[0]", "dxxxB2C1 is a voice resource without a line; trunk "
     "groups take"),
    ("span as trunk", ('["dxxxB1C1-4"]', '["dtiB1"]'), "trunk_groups[1].channels[0]",
     "'dtiB1' is a whole board or span; name its channels, e.g. 'dtiB1T1-4'"),
    ("station as trunk", ('["dxxxB1C1-4"]', '["msiB1C1"]'), "trunk_groups[1].channels[0]",
     "msiB1C1 is a station; trunk groups take"),
    ("line in voice pool", ("[routing]", '[voice_pool]\nchannels = ["dxxxB1C4-4"]\n\n[routing]'),
     "voice_pool.channels[0]", "dxxxB1C4 is a voice channel with an analog line"),
    ("station tone missing", ("[routing]", '[station_tones]\ndial = "dxxxB3C1"\n\n[routing]'),
     "station_tones.ringback", "required key is missing (expected a voice channel"),
    ("unknown station tone", ("[routing]", '[station_tones]\nhowler = "dxxxB3C1"\n\n[routing]'),
     "station_tones.howler", "unknown key (known keys here: busy, dial, reorder, ringback)"),
    ("line as station tone", ("[routing]", TONES.replace("dxxxB3C1", "dxxxB1C1") + "[routing]"),
     "station_tones.dial", "dxxxB1C1 is a voice channel with an analog line; station tones"),
    ("station tone range", ("[routing]", TONES.replace('"dxxxB3C1"', '"dxxxB2C1-2"')
                            + "[routing]"), "station_tones.dial", "expected one voice channel"),
    ("one channel, two tones", ("[routing]", TONES.replace("dxxxB3C2", "dxxxB3C1")
                                + "[routing]"), "station_tones.ringback",
     "dxxxB3C1 is listed twice"),
    ("station tone in the voice pool", ("[routing]", TONES + '[voice_pool]\nchannels = '
                                        '["dxxxB3C1-4"]\n\n[routing]'),
     "voice_pool.channels[0]", "dxxxB3C1 is already in the station tones"),
    ("two groups", ('["dxxxB1C1-4"]', '["dxxxB1C1-4", "dtiB1T24"]'),
     "trunk_groups[1].channels[1]", "dtiB1T24 is already in trunk group 'pstn_in'"),
    ("twice in a group", ('["dtiB1T1-24"]', '["dtiB1T1-24", "dtiB1T3"]'),
     "trunk_groups[0].channels[1]", "dtiB1T3 is listed twice"),
    ("station in two groups", ('[[routes]]', '[[station_groups]]\nname = "b"\n'
                               'stations = ["msiB1C4"]\n\n[[routes]]'),
     "station_groups[1].stations[0]", "msiB1C4 is already in station group 'floor'"),
    ("duplicate group", ('name = "local"', 'name = "pstn_in"'), "trunk_groups[1].name",
     "trunk group 'pstn_in' is already declared at trunk_groups[0].name"),
    ("empty group", ('["dxxxB1C1-4"]', "[]"), "trunk_groups[1].channels",
     "expected at least one channel"),
    # routing
    ("route to unknown queue", ('queue = "support"', 'queue = "billing"'), "routes[1].queue",
     "'billing' is not a declared queue (queues: sales, support)"),
    ("default to unknown queue", ('default = {flow = "main_menu"}', 'default = {queue = "x"}'),
     "routing.default.queue", "'x' is not a declared queue"),
    ("flow_down to unknown queue", ('flow_down = {queue = "sales"}',
                                    'flow_down = {queue = "x"}'),
     "routing.flow_down.queue", "'x' is not a declared queue"),
    ("flow_down to a flow", ('flow_down = {queue = "sales"}', 'flow_down = {flow = "x"}'),
     "routing.flow_down.flow", "expected queue here (calls wait in a queue"),
    ("flow_down missing", ('flow_down = {queue = "sales"}\n', ""), "routing.flow_down",
     "required when routing.default is a flow"),
    ("two match keys", ('dnis = "5550199"', 'dnis = "5550199"\nani = "555*"'),
     "routes[1].ani", "give only one match key of dnis, ani and trunk_group (this route "
     "also has dnis)"),
    ("no match key", ('dnis = "5550199"\n', ""), "routes[1]",
     "expected one match key: dnis, ani or trunk_group"),
    ("two targets", ('queue = "support"', 'queue = "support"\nflow = "x"'), "routes[1].queue",
     "give only one target: flow or queue (this one also has flow)"),
    ("no target", ('queue = "support"\n', ""), "routes[1]", "expected a target: flow or queue"),
    ("bad number", ('dnis = "5550199"', 'dnis = "555*0199"'), "routes[1].dnis",
     "'555*0199' is not a number, or a prefix ending in '*'"),
    ("unknown trunk group", ('dnis = "5550199"', 'trunk_group = "pstn"'),
     "routes[1].trunk_group", "'pstn' is not a declared trunk group (trunk groups: "
     "pstn_in, local)"),
    ("duplicate route", ('dnis = "5550199"', 'dnis = "5550100"'), "routes[1].dnis",
     "a route for dnis '5550100' is already declared at routes[0].dnis"),
    # queues, agents, users
    ("bad strategy", ('strategy = "fewest_calls"', 'strategy = "fewest"'),
     "queues[1].strategy", "'fewest' is not one of 'longest_idle', 'fewest_calls'"),
    ("duplicate queue", ('name = "support"', 'name = "sales"'), "queues[1].name",
     "queue 'sales' is already declared at queues[0].name"),
    ("agent in unknown queue", ('queues = ["sales"]', 'queues = ["sales", "billing"]'),
     "agents[0].queues[1]", "'billing' is not a declared queue"),
    ("agent station", ('station = "msiB1C1"', 'station = "dxxxB1C1"'), "agents[0].station",
     "'dxxxB1C1' is not a station on the boards"),
    ("agent ring timeout", ('station = "msiB1C1"', 'station = "msiB1C1"\nring_timeout_s = 0'),
     "agents[0].ring_timeout_s", "expected an integer from 1 to 300, got integer 0"),
    ("agent weight", ('station = "msiB1C1"', 'station = "msiB1C1"\nweight = 2.5'),
     "agents[0].weight", "expected an integer from 1 to 100, got float 2.5"),
    ("bad agent hash", (f'password_hash = "{HASH}"\nqueues', 'password_hash = "1234"\nqueues'),
     "agents[0].password_hash", "expected 'scrypt$N$r$p$salt$hash'"),
    ("bad user hash", (f'roles = ["flow"]\npassword_hash = "{HASH}"',
                       'roles = ["flow"]\npassword_hash = "scrypt$3$8$1$AAAA$AAAA"'),
     "users[0].password_hash", "the scrypt parameters are not valid"),
    ("unknown role", ('roles = ["flow"]', 'roles = ["flow", "superviser"]'),
     "users[0].roles[1]", "'superviser' is not a role (roles: flow, agent, supervisor, admin)"),
    ("no roles", ('roles = ["flow"]', "roles = []"), "users[0].roles",
     "expected at least one of flow, agent, supervisor, admin"),
    ("user named like an agent", ('name = "ivr"', 'name = "1001"'), "users[0].name",
     "'1001' is also an agent's id"),
    ("flow user without role", ('roles = ["flow"]', 'roles = ["admin"]'), "flow.user",
     "'ivr' is not a user with the flow role"),
    ("two passwords", ('password = "sample"', 'password = "a"\npassword_file = "f"'),
     "flow.password_file", "give password or password_file, not both"),
    ("bad flow server", ('user = "ivr"', 'server = "tcp:host=x"\nuser = "ivr"'),
     "flow.server", "is not a Twisted client endpoint string"),
]


@pytest.mark.parametrize(("change", "key", "message"), [e[1:] for e in ERRORS],
                         ids=[e[0] for e in ERRORS])
def test_errors_name_file_and_key(tmp_path, change, key, message):
    e = error(tmp_path, edit(*change))
    assert e.key == key, str(e)
    assert f": {key}: " in str(e)
    assert message in str(e), str(e)


def test_no_boards(tmp_path):
    head, tail = BASE.split("[server]", 1)
    e = error(tmp_path, 'driver = "sim"\n[server]' + tail)
    assert e.key == "boards" and "required key is missing" in str(e)
    e = error(tmp_path, 'driver = "sim"\nboards = []\n[server]' + tail)
    assert e.key == "boards" and "expected at least one [[boards]] table" in str(e)


def test_not_toml(tmp_path):
    e = error(tmp_path, "driver = \n")
    assert e.key is None and "not valid TOML" in str(e)


def test_routes_name_flows_that_have_a_file(tmp_path):
    e = error(tmp_path, edit('flow = "main_menu"', 'flow = "main_mneu"'))
    assert e.key == "routes[0].flow"
    assert str(e) == (
        f"{tmp_path / 'cti.toml'}: routes[0].flow: 'main_mneu' is not a flow: no "
        f"main_mneu.toml in {tmp_path / 'flows'} (flow.flows_dir; flows: "
        f"{', '.join(sorted(FLOWS))}; did you mean 'main_menu'?)")

    (tmp_path / "b").mkdir()
    e = error(tmp_path / "b", BASE, flows=("support_menu",))
    assert e.key == "routes[0].flow"
    assert str(e).endswith(f"no main_menu.toml in {tmp_path / 'b' / 'flows'} "
                           "(flow.flows_dir; flows: support_menu)")

    (tmp_path / "c").mkdir()
    text = edit('default = {flow = "main_menu"}', 'default = {flow = "night"}')
    e = error(tmp_path / "c", text, flows=("main_menu",))
    assert e.key == "routing.default.flow"
    assert "'night' is not a flow: no night.toml in" in str(e)
    assert str(e).endswith("(flow.flows_dir; flows: main_menu)")


def test_flows_dir_must_exist_when_a_route_names_a_flow(tmp_path):
    text = edit('password = "sample"', 'password = "sample"\nflows_dir = "ivr"')
    e = error(tmp_path, text)
    assert e.key == "routes[0].flow"
    assert str(e).endswith(f"'main_menu': the flows directory {tmp_path / 'ivr'} "
                           "(flow.flows_dir) does not exist")
    (tmp_path / "ivr").mkdir()
    (tmp_path / "ivr" / "main_menu.toml").write_text("")
    config = load_server_config(tmp_path / "cti.toml")
    assert config.flow.flows_dir == tmp_path / "ivr"


def test_queues_only_need_no_flows(tmp_path):
    text = edit('flow = "main_menu"', 'queue = "sales"')
    text = text.replace('default = {flow = "main_menu"}', 'default = {queue = "sales"}')
    config = load_server_config(write(tmp_path, text, flows=None))
    assert not (tmp_path / "flows").exists()
    assert {r.target for r in (*config.routes, config.default_route)} == {
        ("queue", "sales"), ("queue", "support")}


def test_flow_names_are_file_stems(tmp_path):
    e = error(tmp_path, edit('flow = "main_menu"', 'flow = "main.menu"'))
    assert e.key == "routes[0].flow"
    assert "'main.menu' is not a flow name (letters, digits, '_' and '-'" in str(e)


def test_default_queue_gives_flow_down(tmp_path):
    text = edit('default = {flow = "main_menu"}\nflow_down = {queue = "sales"}\n',
                'default = {queue = "support"}\n')
    config = load_server_config(write(tmp_path, text))
    assert config.default_route == Route("default", "", None, "support", 0, "routing.default")
    assert config.flow_down_queue == "support"


# -- route order -----------------------------------------------------------
ROUTES = """
[[routes]]
trunk_group = "local"
queue = "sales"
priority = 9

[[routes]]
dnis = "555*"
flow = "short_prefix"
priority = 5

[[routes]]
dnis = "55501*"
flow = "long_prefix"

[[routes]]
dnis = "5550100"
flow = "exact_dnis"

[[routes]]
ani = "5551234"
flow = "exact_ani"

[[routes]]
ani = "800*"
flow = "vip_prefix"
priority = 1

[[routes]]
ani = "9990000"
flow = "vip_exact"
priority = 2
"""


@pytest.fixture
def routed(tmp_path):
    head, tail = BASE.split("[[routes]]", 1)
    text = head + ROUTES + "\n[routing]" + tail.split("[routing]", 1)[1]
    return load_server_config(write(tmp_path, text))


def test_exact_beats_prefix_and_trunk_group(routed):
    assert routed.route_for(dnis="5550100", trunk_group="local").flow == "exact_dnis"
    assert routed.route_for(dnis="5550100", ani="8001").flow == "exact_dnis"


def test_longer_prefix_beats_shorter_and_priority(routed):
    assert routed.route_for(dnis="5550177").flow == "long_prefix"
    assert routed.route_for(dnis="5559999").flow == "short_prefix"
    # ani "800*" (3 digits) is as long as dnis "555*"; priority 5 beats 1
    assert routed.route_for(dnis="5559999", ani="8001234").flow == "short_prefix"


def test_priority_then_dnis_before_ani(routed):
    # both exact: the higher priority wins, else DNIS before ANI
    assert routed.route_for(dnis="5550100", ani="9990000").flow == "vip_exact"
    assert routed.route_for(dnis="5550100", ani="5551234").flow == "exact_dnis"
    assert routed.route_for(ani="5551234").flow == "exact_ani"


def test_trunk_group_last_then_default(routed):
    assert routed.route_for(dnis="4441234", trunk_group="local").queue == "sales"
    assert routed.route_for(dnis="5551111", trunk_group="local").flow == "short_prefix"
    assert routed.route_for(dnis="4441234", trunk_group="pstn_in") == routed.default_route
    assert routed.route_for() == routed.default_route
    assert [r.key for r in routed.route_order] == [
        "routes[6]", "routes[3]", "routes[4]", "routes[2]", "routes[1]", "routes[5]",
        "routes[0]"]


def test_every_key_is_documented():
    text = (ROOT / "docs" / "configuration.md").read_text()
    section = text.split("## Server: `etc/cti.toml`", 1)[1]
    keys = ["driver", "boards", "listen", "heartbeat_s", "var_dir", "database", "log_level",
            "name", "direction", "channels", "stations", "voice_pool.channels",
            "conference_pool.dsps", "dnis", "ani", "trunk_group", "flow", "queue", "priority",
            "default", "flow_down", "strategy", "service_level_s", "max_wait_s", "max_length",
            "wrap_up_s", "ring_timeout_s", "music", "id", "password_hash", "queues", "skills",
            "station", "team", "weight", "roles", "server", "user", "password", "password_file",
            "flows_dir", "prompts_dir", "span", "node", "switchtype", "channel_selection",
            "overlap", "calling_number", "presentation"]
    assert [k for k in keys if f"| `{k}` |" not in section] == []


# -- serial and USB devices ------------------------------------------------------
DEVICES = """
[sms]
port = "/dev/ttyUSB2"
mode = "text"
smsc = "+8613800100500"
pin = "1234"

[[caller_id_boxes]]
name = "reception"
vendor_id = 0x1234
product_id = 0x5678
lines = 2

[[monitored_lines]]
name = "front-desk"
box = "reception"
line = 1
station = "msiB1C3"

[[monitored_lines]]
name = "back-office"
box = "reception"
line = 2
"""


def test_a_gsm_modem_a_caller_id_box_and_its_lines(tmp_path):
    config = load_server_config(write(tmp_path, BASE + DEVICES))
    modem = config.sms.modem
    assert (modem.port, modem.mode, modem.smsc, modem.pin, modem.baud) == (
        "/dev/ttyUSB2", "text", "+8613800100500", "1234", 115200)
    assert (config.sms.retries, config.sms.retry_s, modem.delivery_reports) == (3, 60, True)
    assert "1234" not in repr(config.sms)
    box = config.caller_id_boxes[0]
    assert (box.name, box.vendor_id, box.product_id, box.lines) == ("reception", 0x1234,
                                                                    0x5678, 2)
    assert [(m.device, m.line, m.station) for m in config.monitored_lines] == [
        ("monitored:front-desk", 1, "msiB1C3"), ("monitored:back-office", 2, None)]
    assert load_server_config(write(tmp_path, BASE)).sms is None


@pytest.mark.parametrize("change, key, message", [
    (('mode = "text"', 'mode = "at"'), "sms.mode", "is not one of 'pdu', 'text'"),
    (('pin = "1234"', "pin = 1234"), "sms.pin", "the SIM's PIN: 4 to 8 digits, as a string"),
    (('port = "/dev/ttyUSB2"', ""), "sms.port", "the modem's serial device"),
    (('box = "reception"\nline = 2', 'box = "lobby"\nline = 2'), "monitored_lines[1].box",
     "no caller-ID box 'lobby' (boxes: reception)"),
    (("line = 2", "line = 3"), "monitored_lines[1].line", "expected an integer from 1 to 2"),
    (("line = 2", "line = 1"), "monitored_lines[1].line",
     "a monitored line on 'reception line 1' is already declared at monitored_lines[0].line"),
    (('station = "msiB1C3"', 'station = "dxxxB1C1"'), "monitored_lines[0].station",
     "'dxxxB1C1' is not a station of the boards"),
    (("vendor_id = 0x1234", "vendor_id = 0x12345"), "caller_id_boxes[0].vendor_id",
     "expected an integer from 0 to 65535"),
])
def test_serial_and_usb_device_errors_name_the_key(tmp_path, change, key, message):
    e = error(tmp_path, BASE + DEVICES.replace(*change))
    assert e.key == key and message in str(e), str(e)
