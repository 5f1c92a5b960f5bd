# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_server_config -*-
"""The CT server's configuration (``cti server -c etc/cti.toml``).

One TOML file describes the chassis and the call centre built on it: the
boards, which channels form trunk groups, which phones are agents'
stations, the voice and conference resources, how inbound calls are
routed, the ACD queues, the agents and the users who may log in::

    config = load_server_config("etc/cti.toml")
    config.trunk_group_of("dtiB1T5").name             # 'pstn_in'
    config.route_for(dnis="5550199").queue              # 'support'
    config.route_for(dnis="5559999").flow               # 'main_menu' (the default)

Everything is checked on load, so the server starts only from a
configuration it can trust: every channel of a group exists on the boards
(device names are computed from the boards exactly as the simulator and
the vendor's drivers number them, see `board_devices`), no channel is in
two groups, routes name declared queues, declared trunk groups and flows
that have a file in the flows directory (``[flow] flows_dir``), and
password hashes are well formed.  A problem raises
`cti.config.ConfigError` naming the file, the key as a dotted path
counting from 0 (``queues[2].service_level_s``,
``trunk_groups[0].channels[1]``) and what was expected.  Unknown keys are
errors too: they are nearly always typos.

docs/configuration.md documents every key; etc/cti.toml is the sample.
"""
import difflib
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from cti.auth import check_hash_format
from cti.config import ConfigError, load
from cti.flow.loader import check_flows
from cti.flow.model import GotoStep, TransferStep
from cti.flow.prompts import MANIFEST
from cti.protocol.gate import Limits
from cti.protocol.services import ROLES  # flow, agent, supervisor, admin
from cti.server.lines.disconnect import (
    DEFAULT_SILENCE_S,
    DEFAULTS,
    MAX_SILENCE_S,
    METHODS,
    POSSIBLE,
    Supervision,
)
from cti.server.lines.modem import NO_BUS
from cti.server.outbound.dialing import (
    DAYS,
    DEFAULT_BARS,
    DEFAULT_EMERGENCY,
    NUMBERING,
    DialClass,
    DialingSettings,
)
from cti.server.outbound.routes import (
    PREFIX,
    PREPEND,
    OutboundRoute,
    PatternError,
    compile_pattern,
)
from cti.server.scope import AGENT_AGENTS, AGENT_CALLS
from drivers.gsm import MODES as SMS_MODES
from drivers.gsm import GsmSettings
from drivers.interface import (
    DEFAULT_SILENCE_DBM0,
    DEFAULT_TONE_SETS,
    E1_CODINGS,
    E1_SIGNALLINGS,
    ISDN_SIGNALLINGS,
    SILENCE_DBM0_RANGE,
    SPAN_CLOCKS,
    SPAN_CODINGS,
    SPAN_FRAMINGS,
    STATION_TONES,
    T1_SIGNALLINGS,
    TONE_SETS,
)
from drivers.modem import AUDIO_LAWS as MODEM_AUDIO_LAWS
from drivers.modem import ModemSettings, modem_name
from drivers.pri import NODES as PRI_NODES
from drivers.pri import SWITCH_TYPES
from drivers.r2 import MAX_DIGITS as R2_MAX_DIGITS
from drivers.r2 import VARIANTS as R2_VARIANTS
from drivers.r2 import categories_sent as r2_categories_sent

__all__ = [
    "Agent", "CallerIdBox", "Device", "FlowSettings", "MonitoredLine", "Queue", "Route",
    "ServerConfig", "SmsSettings", "StationGroup", "TrunkGroup", "UserConfig", "board_devices",
    "client_endpoint", "load_server_config",
    "DRIVERS",
    "STRATEGIES", "ROLES", "DIRECTIONS", "LOG_LEVELS", "DEFAULT_LISTEN",
]

DRIVERS = ("sim", "r4", "dahdi")
#: Where DAHDI keeps its span and channel configuration (driver = "dahdi").
DEFAULT_SYSTEM_CONF = "/etc/dahdi/system.conf"
DIRECTIONS = ("in", "out", "both")
STRATEGIES = ("longest_idle", "fewest_calls", "least_talk_time", "round_robin", "linear",
              "ring_all", "random", "weighted_random")
#: timed: the agent may end wrap-up early; forced: it may not; agent: until the agent ends it.
WRAP_UPS = ("timed", "forced", "agent")
#: join_empty / leave_empty conditions (cti.server.queueing.acd.EMPTY_CONDITIONS).
EMPTY_CONDITIONS = ("unavailable", "paused", "wrapup", "inuse")
#: What a queue's periodic announcement may say.
ANNOUNCEMENTS = ("position", "wait")
LOG_LEVELS = ("debug", "info", "warn", "error", "critical")
DEFAULT_LISTEN = ("tcp:7500:interface=127.0.0.1",)
#: Route match kinds, in the order that breaks ties (see ServerConfig.route_for).
MATCH_KINDS = ("dnis", "ani", "trunk_group")

BOARD_TYPES = ("analog", "t1", "e1", "voice", "stations", "conference")
BOARD_KEYS = {"analog": ("type", "lines", "tones", "dtmf_abcd"),
              "t1": ("type", "signalling", "tones", "framing", "coding", "clock"),
              "e1": ("type", "signalling", "tones", "crc4", "coding", "clock"),
              "voice": ("type", "channels", "dtmf_abcd"), "stations": ("type", "count"),
              "conference": ("type", "dsps")}
#: (key, default, maximum) of each board type's size; the simulator's limits.
BOARD_SIZE = {"analog": ("lines", 4, 1024), "voice": ("channels", 4, 1024),
              "stations": ("count", 8, 4096), "conference": ("dsps", 1, 16)}
#: A span's line: key, choices (the default first: drivers/interface.py); an
#: E1's framing is its `crc4` (true: CRC-4).
SPAN_LINE = {"t1": (("framing", SPAN_FRAMINGS), ("coding", SPAN_CODINGS),
                    ("clock", SPAN_CLOCKS)),
             "e1": (("coding", E1_CODINGS), ("clock", SPAN_CLOCKS))}
#: A span's signalling as configured -> as the server names it, per span type.
SIGNALLINGS = {"t1": {**{s: s for s in T1_SIGNALLINGS}, "loopstart": "fxs_loopstart"},
               "e1": {s: s for s in E1_SIGNALLINGS}}
#: A trunk group's MFC/R2 keys (R2Settings), its E1 CAS timeslots'.
R2_KEYS = ("r2_variant", "r2_max_ani", "r2_max_dnis", "r2_category", "r2_charge",
           "r2_mf_timeout_ms")
R2_CHARGES = ("charge", "no_charge")
#: The compelled cycle's timeout, ms: lowest and highest.
R2_MF_TIMEOUT_MS = (500, 30000)
CHANNELS_PER_VOICE_BOARD = 4
#: A span's timeslot devices: T1 24 (PRI 23, channel 24 its D-channel), E1 30.
TIMESLOTS_PER_SPAN = {"t1": 24, "pri": 23, "e1": 30}
#: ISDN spans ([[pri_spans]]): how B-channels are asked for, and the
#: switch types that receive the called number in overlap (digit by digit).
CHANNEL_SELECTIONS = ("exclusive", "preferred")
PRESENTATIONS = ("allowed", "restricted")
OVERLAP_SWITCH_TYPES = ("euroisdn_e1", "qsig")
#: A span's switch type when [[pri_spans]] does not say, by span type.
DEFAULT_SWITCH_TYPE = {"t1": "national", "e1": "euroisdn_e1"}

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")
_NAME_TEXT = "a name of letters, digits, '_', '-' and '.'"
_NUMBER = re.compile(r"[0-9A-Za-z+#]+\*?\Z")
_PROMPT = re.compile(r"[a-z0-9_]+\Z")      # as cti.flow.model.PROMPT_NAME
_FLOW_NAME = re.compile(r"[A-Za-z0-9_-]+\Z")     # as cti.flow.model.FLOW_NAME: a file stem
_FLOW_NAME_TEXT = ("a flow name (letters, digits, '_' and '-': the stem of a file in "
                   "the flows directory)")
_DEVICE = re.compile(r"(dxxx|dti|msi|dcb|mdm)B([1-9][0-9]*)([CTD])([1-9][0-9]*)"
                     r"(?:-([1-9][0-9]*))?\Z")
_DEVICE_LETTER = {"dxxx": "C", "dti": "T", "msi": "C", "dcb": "D", "mdm": "C"}
_DEVICE_EXAMPLES = "'dtiB1T1-24', 'dxxxB1C1-4', 'msiB1C1-8', 'dcbB1D1' ..."
_REQUIRED = object()
_CALLING_NUMBER = re.compile(r"[0-9]{1,20}\Z")
_PHONE_NUMBER = re.compile(r"\+?[0-9]{3,20}\Z")
_PIN = re.compile(r"[0-9]{4,8}\Z")
#: A voice modem's ([[modems]]) serial device, AT+VSM argument and commands.
_SERIAL_PORT = re.compile(r"/[^\s]+\Z")
_COMPRESSION = re.compile(r"[0-9]{1,3},8000\Z")
#: V.253's own G.711 compressions (AT+VSM) and the law each is; a maker's
#: (above 127) cannot be checked.
_VSM_LAWS = {"4": "ulaw", "5": "alaw"}
_AT_COMMAND = re.compile(r"AT[\x21-\x7e][\x20-\x7e]*\Z", re.IGNORECASE)


# -- the dataclasses -----------------------------------------------------
@dataclass(frozen=True)
class Device:
    """One channel of the boards.  `kind` is ``line`` (the voice channel of
    an analog loop-start line), ``voice`` (a voice resource without a
    line), ``span``, ``timeslot``, ``dchannel`` (an ISDN span's),
    ``station`` or ``dsp``; `board` is the index of its [[boards]] table;
    `signalling` is ``em_wink``, ``fxs_loopstart`` or ``pri`` for T1 spans
    and their timeslots, ``cas`` or ``ccs`` for E1's, ``loopstart`` for
    lines.  A voice modem of [[modems]] (``mdmB<n>C1``) is kind ``modem``,
    signalling ``modem``, `board` the index of its table there."""

    name: str
    kind: str
    board: int
    signalling: str | None = None
    tones: str | None = None


@dataclass(frozen=True)
class R2Settings:
    """MFC/R2 on a trunk group's E1 CAS timeslots (docs/configuration.md):
    the variant (drivers.r2.VARIANTS), how many ANI and DNIS digits the
    carrier's agreement fixes (the most taken; China's calling side sends
    exactly max_ani or ends a shorter ANI with I-15), the calling category
    of our calls out, how we accept calls in (charge or no_charge), and
    the compelled cycle's timeout."""

    variant: str = "itu"
    max_ani: int = 10
    max_dnis: int = 4
    category: str = "national_subscriber"
    charge: str = "charge"
    mf_timeout_ms: int = 5000


@dataclass(frozen=True)
class TrunkGroup:
    """Lines or timeslots used alike.  `signalling` maps each channel to
    its board's signalling (``em_wink``, ``fxs_loopstart``, ``loopstart``,
    ``cas``; ``modem`` for a voice modem of [[modems]]); `r2` is the
    MFC/R2 of its E1 CAS timeslots (None without)."""

    name: str
    direction: str                      # "in", "out" or "both"
    channels: tuple[str, ...]
    signalling: dict[str, str] = field(default_factory=dict, hash=False)
    address: str = "dtmf"               # E&M: the far end's ANI/DNIS, "dtmf" or "mf"
    #: loop start: the disconnect methods its lines give (None: each kind of
    #: line's default, cti.server.lines.disconnect.DEFAULTS), and silence's
    disconnect: tuple[str, ...] | None = None
    silence_s: float = DEFAULT_SILENCE_S
    silence_dbm0: int = DEFAULT_SILENCE_DBM0
    r2: R2Settings | None = None

    def supervision(self, signalling):
        """The Supervision of its lines of `signalling` (``loopstart``,
        ``fxs_loopstart``)."""
        methods = self.disconnect if self.disconnect is not None else DEFAULTS[signalling]
        return Supervision(frozenset(methods), self.silence_s, self.silence_dbm0)


@dataclass(frozen=True)
class PriSettings:
    """An ISDN span's D-channel ([[pri_spans]], or the defaults): our side
    (`node`: cpe facing a telco, network facing a PBX), the switch type,
    how our calls out ask for their B-channel, overlap receiving, and the
    calling number and presentation of our calls out.  `where`: its
    table's key, for messages ("pri_spans[0]"), or "" for the defaults."""

    span: str
    node: str = "cpe"
    switchtype: str = "national"
    channel_selection: str = "exclusive"
    overlap: bool = False
    calling_number: str = ""
    presentation: str = "allowed"
    where: str = ""


@dataclass(frozen=True)
class StationGroup:
    name: str
    stations: tuple[str, ...]


@dataclass(frozen=True)
class Route:
    """Where an inbound call goes.  `match` is ``dnis``, ``ani``,
    ``trunk_group`` or ``default``; `pattern` is the number (a prefix when
    it ends in ``*``), the trunk group's name, or "" for the default.
    Exactly one of `flow` and `queue` is set.  `key` is where the route
    was declared (``routes[3]``, ``routing.default``), for logs."""

    match: str
    pattern: str
    flow: str | None = None
    queue: str | None = None
    priority: int = 0
    key: str = ""

    @property
    def is_prefix(self):
        return self.match in ("dnis", "ani") and self.pattern.endswith("*")

    @property
    def target(self):
        """``("flow", name)`` or ``("queue", name)``."""
        return ("flow", self.flow) if self.flow is not None else ("queue", self.queue)

    def matches(self, dnis=None, ani=None, trunk_group=None):
        if self.match == "default":
            return True
        value = {"dnis": dnis, "ani": ani, "trunk_group": trunk_group}[self.match]
        if value is None:
            return False
        if self.is_prefix:
            return value.startswith(self.pattern[:-1])
        return value == self.pattern


@dataclass(frozen=True)
class Queue:
    name: str
    strategy: str = "longest_idle"
    service_level_s: int = 20
    max_wait_s: int | None = None
    max_length: int | None = None
    wrap_up_s: int = 10
    wrap_up: str = "timed"               # timed, forced, agent (see WRAP_UPS)
    ring_timeout_s: int = 15
    music: str | None = None
    priority: int = 0                    # callers' priority unless the flow sets one
    skills: dict = field(default_factory=dict, hash=False)    # skill -> least level
    widen: tuple = ()                    # ((after_s, {skill: level}), ...) ascending
    join_empty: tuple = ()               # conditions (EMPTY_CONDITIONS) refusing callers
    leave_empty: tuple = ()              # conditions making waiting callers leave
    overflow: tuple | None = None        # ("queue" | "flow", name): where leavers go
    exit_key: str | None = None          # a key that takes a waiting caller to overflow
    callback_key: str | None = None      # a digit asking to be called back, keeping the place
    announce_every_s: int | None = None  # announcements to waiting callers, this often
    announce: tuple = ()                 # of ANNOUNCEMENTS: place in line, expected wait
    messages: tuple = ()                 # prompts played in turn after them


@dataclass(frozen=True)
class ACDSettings:
    """[acd]: see cti.server.queueing.acd.Settings."""

    retry_s: int = 5
    max_no_answer: int = 3
    sweep_s: int = 5


@dataclass(frozen=True)
class FaultSettings:
    """[faults]: how the server rides out faults (docs/faults.md)."""

    span_healthy_s: int = 10             # a span clear of alarms this long is back in service
    client_lost_s: int = 15              # an agent's last session gone this long: not ready
    restore_agents: bool = True          # agents logged in at a stop come back as they were
    restore_within_s: int = 3600         # ...if their clients log in within this of the stop
    db_timeout_s: int = 30               # no record reaches the database this long: alarm


@dataclass(frozen=True)
class SmsSettings:
    """[sms]: the GSM modem (drivers.gsm.GsmSettings) and how the server's
    short messages are sent (cti.server.sms)."""

    modem: GsmSettings
    retries: int = 3                     # a temporary failure is tried again this often
    retry_s: int = 60                    # this long after


@dataclass(frozen=True)
class CallerIdBox:
    """[[caller_id_boxes]]: a USB caller-ID box (drivers.usbcid) by its
    vendor and product ids, and how many lines it watches."""

    name: str
    vendor_id: int
    product_id: int
    lines: int = 4


@dataclass(frozen=True)
class MonitoredLine:
    """[[monitored_lines]]: a line a caller-ID box watches and no board
    owns (cti.server.monitored): the device ``monitored:NAME``; `station`,
    the phone whose agent gets its caller ID."""

    name: str
    box: str
    line: int
    station: str | None = None

    @property
    def device(self):
        return f"monitored:{self.name}"


@dataclass(frozen=True)
class Agent:
    id: str                              # the agent code, digits
    name: str
    password_hash: str
    queues: tuple[str, ...] = ()
    skills: dict[str, int] = field(default_factory=dict, hash=False)
    station: str | None = None           # default station (msiBnCm)
    team: str | None = None              # supervisors act on a team at once
    ring_timeout_s: int | None = None    # its phone rings this long (None: the queue's)
    weight: int = 1                      # its share of weighted_random's picks
    dial_class: str | None = None        # its class of service for calls out


@dataclass(frozen=True)
class UserConfig:
    """A login; the same fields as cti.protocol.server.User."""

    name: str
    roles: frozenset
    password_hash: str
    dial_class: str | None = None        # its class of service for calls out
    teams: tuple = ()                    # a supervisor's teams: what it sees (empty: all)


@dataclass(frozen=True)
class FlowSettings:
    server: str                          # client endpoint string of the CT server
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    password_file: Path | None = None
    flows_dir: Path = Path("flows")
    prompts_dir: Path = Path("prompts")
    config_path: str = ""
    hooks: tuple = ()                    # (module name, its key): the site's hook modules
    hooks_dir: Path | None = None        # where they are, if not on the Python path

    def read_password(self):
        """The flow tier's password: `password`, or the first line of
        `password_file`, or $CTI_PASSWORD; None when none is set."""
        if self.password is not None:
            return self.password
        if self.password_file is None:
            return os.environ.get("CTI_PASSWORD") or None
        try:
            with open(self.password_file, encoding="utf-8") as f:
                return f.readline().rstrip("\r\n")
        except OSError as e:
            raise ConfigError(self.config_path, "flow.password_file",
                              f"cannot read {str(self.password_file)!r}: "
                              f"{e.strerror}") from None


@dataclass(frozen=True)
class TLSSettings:
    """[server.tls]: the files of cti.protocol.tls.ServerTLS (absolute)."""

    certificate: Path
    private_key: Path
    client_ca: Path | None = None

    def server_tls(self):
        from cti.protocol.tls import ServerTLS

        return ServerTLS(self.certificate, self.private_key, self.client_ca)


@dataclass(frozen=True)
class ServerConfig:
    path: str                            # the configuration file, as given
    driver: str                          # "sim", "r4" or "dahdi"
    boards: list = field(hash=False)     # [[boards]] tables, as Simulator.from_config takes
    boards_path: str                     # the file the boards came from
    devices: dict = field(hash=False, repr=False)   # name -> Device, in bus order
    system_conf: str = DEFAULT_SYSTEM_CONF   # DAHDI's channels (driver = "dahdi")
    listen: tuple[str, ...] = DEFAULT_LISTEN
    http: str | None = None              # /metrics and /status (cti.server.monitoring)
    heartbeat_s: int = 10
    var_dir: Path = Path("var")
    database: str = ""
    log_level: str = "info"
    record_hook: str | None = None       # saves an agent's edits of the customer record
    gate: Limits = Limits()              # connection caps, login throttling
    tls: "TLSSettings | None" = None     # [server.tls], for "tls:" listen entries
    dialing: DialingSettings = DialingSettings()   # classes of service for calls out
    agent_agents: str = "own"            # [visibility]: what agents see (cti.server.scope)
    agent_calls: str = "queues"
    trunk_groups: tuple[TrunkGroup, ...] = ()
    station_groups: tuple[StationGroup, ...] = ()
    voice_pool: tuple[str, ...] = ()
    conference_pool: tuple[str, ...] = ()
    station_tones: dict = field(default_factory=dict, hash=False)   # tone -> voice channel
    routes: tuple[Route, ...] = ()       # as declared
    outbound_routes: tuple[OutboundRoute, ...] = ()   # calls out by number; () every group
    default_route: Route | None = None
    flow_down_queue: str = ""
    queues: tuple[Queue, ...] = ()
    acd: ACDSettings = ACDSettings()
    faults: FaultSettings = FaultSettings()
    agents: tuple[Agent, ...] = ()
    users: tuple[UserConfig, ...] = ()
    flow: FlowSettings | None = None
    sms: SmsSettings | None = None       # [sms]: None, no GSM modem
    caller_id_boxes: tuple[CallerIdBox, ...] = ()
    modems: tuple[ModemSettings, ...] = ()   # [[modems]]: mdmB1C1, mdmB2C1, ... in order
    monitored_lines: tuple[MonitoredLine, ...] = ()
    pri_spans: dict = field(default_factory=dict, hash=False)   # span -> PriSettings

    def pri_settings(self, span):
        """The PriSettings of an ISDN span: its [[pri_spans]] table's, or
        the defaults for its type."""
        settings = self.pri_spans.get(span)
        if settings is None:
            kind = self.boards[self.devices[span].board]["type"]
            settings = PriSettings(span, switchtype=DEFAULT_SWITCH_TYPE[kind])
        return settings

    @property
    def boards_where(self):
        """The `where` to give Simulator.from_config, for its messages."""
        return f"{self.boards_path}: boards"

    @cached_property
    def route_order(self):
        """The routes in the order route_for tries them (see there)."""
        def rank(indexed):
            i, route = indexed
            if route.match == "trunk_group":
                specific = (0, 0)
            elif route.is_prefix:
                specific = (1, len(route.pattern) - 1)
            else:
                specific = (2, 0)
            return (-specific[0], -specific[1], -route.priority,
                    MATCH_KINDS.index(route.match), i)
        return tuple(route for _, route in sorted(enumerate(self.routes), key=rank))

    @cached_property
    def routed_flows(self):
        """The flows calls may be sent to (their route points,
        ``routepoint:FLOW``): those the routes, the default route and the
        queues' overflows name."""
        return frozenset(
            {r.flow for r in (*self.routes, self.default_route)
             if r is not None and r.flow is not None}
            | {q.overflow[1] for q in self.queues if q.overflow and q.overflow[0] == "flow"})

    def route_for(self, dnis=None, ani=None, trunk_group=None):
        """The route of an inbound call, or the default route.

        Routes are tried in this order, and the first that matches wins:
        1. exact DNIS or ANI matches, before
        2. prefix matches (``555*``), the longer prefix first, before
        3. trunk group matches;
        within each step the higher `priority` first, then DNIS before ANI
        before trunk group, then the order of the file.
        """
        for route in self.route_order:
            if route.matches(dnis, ani, trunk_group):
                return route
        return self.default_route

    def trunk_group_of(self, device):
        for group in self.trunk_groups:
            if device in group.channels:
                return group
        return None

    def queue(self, name):
        return next((q for q in self.queues if q.name == name), None)

    def agent(self, agent_id):
        return next((a for a in self.agents if a.id == agent_id), None)

    def user(self, name):
        return next((u for u in self.users if u.name == name), None)


# -- devices from boards -------------------------------------------------
def board_layout(boards):
    """The boards as the DAHDI driver maps DAHDI's channels onto them:
    drivers.dahdi.BoardLayout (type, and lines, channels or phones)."""
    from drivers.dahdi import BoardLayout

    return [BoardLayout(b["type"], b.get(BOARD_SIZE[b["type"]][0], BOARD_SIZE[b["type"]][1])
                        if b["type"] in BOARD_SIZE else None) for b in boards]


def board_devices(boards):
    """Every channel of a (checked) list of board tables, name -> Device,
    numbered as native/src/boards.c numbers them: per family in the order
    given; voice boards have 4 channels each, so an analog board of 8
    lines is dxxxB1 and dxxxB2 and the next voice board starts at dxxxB3.
    Board devices (dxxxB1, msiB1, dcbB1) and the line halves of analog
    channels are left out; spans are in."""
    devices = {}
    voice = dti = msi = dcb = 0
    for i, board in enumerate(boards):
        kind = board["type"]
        if kind in ("analog", "voice"):
            size_key, default, _ = BOARD_SIZE[kind]
            n = board.get(size_key, default)
            for first in range(0, n, CHANNELS_PER_VOICE_BOARD):
                voice += 1
                for c in range(1, min(CHANNELS_PER_VOICE_BOARD, n - first) + 1):
                    name = f"dxxxB{voice}C{c}"
                    devices[name] = (Device(name, "line", i, "loopstart",
                                            board.get("tones", DEFAULT_TONE_SETS[kind]))
                                     if kind == "analog" else Device(name, "voice", i))
        elif kind in ("t1", "e1"):
            dti += 1
            span = f"dtiB{dti}"
            signallings = SIGNALLINGS[kind]
            sig = signallings[board.get("signalling", next(iter(signallings)))]
            tones = board.get("tones", DEFAULT_TONE_SETS[kind])
            devices[span] = Device(span, "span", i, sig, tones)
            for t in range(1, TIMESLOTS_PER_SPAN["pri" if sig == "pri" else kind] + 1):
                devices[f"{span}T{t}"] = Device(f"{span}T{t}", "timeslot", i, sig, tones)
            if sig in ISDN_SIGNALLINGS:
                devices[f"{span}D"] = Device(f"{span}D", "dchannel", i, sig)
        elif kind == "stations":
            msi += 1
            for c in range(1, board.get("count", 8) + 1):
                devices[f"msiB{msi}C{c}"] = Device(f"msiB{msi}C{c}", "station", i)
        else:
            dcb += 1
            for d in range(1, board.get("dsps", 1) + 1):
                devices[f"dcbB{dcb}D{d}"] = Device(f"dcbB{dcb}D{d}", "dsp", i)
    return devices


# -- reading -------------------------------------------------------------
def _join(key, name):
    return f"{key}.{name}" if key else name


def _typename(value):
    for kind, name in ((bool, "boolean"), (int, "integer"), (float, "float"),
                       (str, "string"), (list, "array"), (dict, "table")):
        if isinstance(value, kind):
            return name
    return "date/time"


def _show(value):
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    text = repr(value)
    return f"{_typename(value)} {text if len(text) <= 60 else text[:57] + '...'}"


def _listing(names):
    return ", ".join(names) if names else "none"


def _absolute(base, value):
    return Path(os.path.normpath(os.path.abspath(os.path.join(base, value))))


class _Reader:
    """Typed access to one file's tables; every failure is a ConfigError."""

    def __init__(self, path):
        self.path = str(path)

    def fail(self, key, message):
        raise ConfigError(self.path, key, message)

    def table(self, value, key, known):
        if not isinstance(value, dict):
            self.fail(key, f"expected a table, got {_show(value)}")
        for name in value:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                self.fail(_join(key, name), f"unknown key ({hint}known keys here: "
                          f"{', '.join(sorted(known))})")
        return value

    def tables(self, data, name, known):
        """An array of tables ([[name]]), each checked for unknown keys."""
        value = data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
            self.fail(name, f"expected an array of tables ([[{name}]]), got {_show(value)}")
        return [(self.table(t, f"{name}[{i}]", known), f"{name}[{i}]")
                for i, t in enumerate(value)]

    def _get(self, t, key, name, default, expected):
        if name in t:
            return t[name], _join(key, name)
        if default is _REQUIRED:
            self.fail(_join(key, name), f"required key is missing (expected {expected})")
        return default, None

    def string(self, t, key, name, default=_REQUIRED, choices=None, pattern=None,
               expected="a string"):
        if choices:
            expected = "one of " + ", ".join(repr(c) for c in choices)
        value, where = self._get(t, key, name, default, expected)
        if where is None:
            return value
        if not isinstance(value, str):
            self.fail(where, f"expected {expected}, got {_show(value)}")
        if choices and value not in choices:
            self.fail(where, f"{value!r} is not {expected}")
        if pattern is not None and not pattern.match(value):
            self.fail(where, f"{value!r} is not {expected}")
        if not value:
            self.fail(where, f"expected {expected}, got an empty string")
        return value

    def name(self, t, key, name="name"):
        return self.string(t, key, name, pattern=_NAME, expected=_NAME_TEXT)

    def integer(self, t, key, name, default=_REQUIRED, low=None, high=None):
        expected = ("an integer" if low is None else
                    f"an integer >= {low}" if high is None else
                    f"an integer from {low} to {high}")
        value, where = self._get(t, key, name, default, expected)
        if where is None:
            return value
        if not isinstance(value, int) or isinstance(value, bool) \
                or (low is not None and value < low) or (high is not None and value > high):
            self.fail(where, f"expected {expected}, got {_show(value)}")
        return value

    def boolean(self, t, key, name, default=_REQUIRED):
        value, where = self._get(t, key, name, default, "true or false")
        if where is not None and not isinstance(value, bool):
            self.fail(where, f"expected true or false, got {_show(value)}")
        return value

    def strings(self, t, key, name, default=_REQUIRED, expected="a list of strings"):
        """[(item, item_key)] of a list of non-empty strings."""
        value, where = self._get(t, key, name, default, expected)
        if where is None:
            return value
        if not isinstance(value, list):
            self.fail(where, f"expected {expected}, got {_show(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item:
                self.fail(f"{where}[{i}]", f"expected a non-empty string, got {_show(item)}")
        return [(item, f"{where}[{i}]") for i, item in enumerate(value)]

    def unique(self, seen, value, key, what):
        if value in seen:
            shown = value if what == "a route for" else repr(value)
            self.fail(key, f"{what} {shown} is already declared at {seen[value]}")
        seen[value] = key


# -- boards --------------------------------------------------------------
def _check_boards(reader, tables, key):
    if not isinstance(tables, list) or not tables \
            or not all(isinstance(t, dict) for t in tables):
        reader.fail(key, "expected at least one [[boards]] table")
    boards = []
    for i, board in enumerate(tables):
        where = f"{key}[{i}]"
        kind = reader.string(board, where, "type", choices=BOARD_TYPES)
        reader.table(board, where, BOARD_KEYS[kind])
        if kind in BOARD_SIZE:
            size_key, default, high = BOARD_SIZE[kind]
            reader.integer(board, where, size_key, default, 1, high)
        if "tones" in board:
            reader.string(board, where, "tones", choices=TONE_SETS)
        if "dtmf_abcd" in board:
            reader.boolean(board, where, "dtmf_abcd")
        if "signalling" in board:
            reader.string(board, where, "signalling", choices=tuple(SIGNALLINGS[kind]))
        if kind == "e1":
            reader.boolean(board, where, "crc4", True)
        for line_key, choices in SPAN_LINE.get(kind, ()):
            reader.string(board, where, line_key, choices[0], choices=choices)
        boards.append(dict(board))
    return boards


def _load_boards(reader, data, base):
    value = data.get("boards", _REQUIRED)
    if value is _REQUIRED:
        reader.fail("boards", "required key is missing (expected a file name such as "
                    "\"boards.toml\" or [[boards]] tables)")
    if not isinstance(value, str):
        return _check_boards(reader, value, "boards"), reader.path
    if not value:
        reader.fail("boards", "expected a file name, got an empty string")
    boards_path = os.path.join(base, value)
    if not os.path.isfile(boards_path):
        reader.fail("boards", f"{value!r}: no such file (looked for {boards_path})")
    boards_reader = _Reader(boards_path)
    boards_data = load(boards_path)
    boards_reader.table(boards_data, "", ("boards",))
    if isinstance(boards_data.get("boards"), str):
        boards_reader.fail("boards", "expected [[boards]] tables here, not another file name")
    return _check_boards(boards_reader, boards_data.get("boards"), "boards"), boards_path


def _expand(reader, item, key, devices, kinds, what):
    """The device names of one channel entry ('dtiB1T1-24', 'msiB1C3')."""
    m = _DEVICE.match(item)
    whole = re.match(r"(dxxx|dti|msi|dcb)B([1-9][0-9]*)\Z", item)
    if whole:
        letter = _DEVICE_LETTER[whole.group(1)]
        reader.fail(key, f"{item!r} is a whole board or span; name its channels, e.g. "
                    f"'{item}{letter}1-4'")
    if item.startswith("mdm") and not (m and m.group(4) == "1" and m.group(5) is None):
        reader.fail(key, f"{item!r} is not a voice modem's name: a modem is one line, "
                    "mdmB<n>C1, the n-th of [[modems]]")
    if not m or _DEVICE_LETTER[m.group(1)] != m.group(3):
        reader.fail(key, f"{item!r} is not a device name or range (expected e.g. "
                    f"{_DEVICE_EXAMPLES})")
    family, board, letter, first, last = m.groups()
    first = int(first)
    last = int(last) if last else first
    if last < first:
        reader.fail(key, f"{item!r}: the range runs backwards ({first} > {last})")
    names = []
    for n in range(first, last + 1):
        name = f"{family}B{board}{letter}{n}"
        device = devices.get(name)
        if device is None and family == "mdm":
            modems = [d for d in devices if d.startswith("mdm")]
            reader.fail(key, f"{item!r} is not a declared voice modem ([[modems]] declares "
                        f"{_listing(modems) if modems else 'none'})")
        if device is None:
            on_board = [d for d in devices if d.startswith(f"{family}B{board}{letter}")]
            have = (f"{family}B{board} has {letter}1..{letter}{len(on_board)}" if on_board
                    else f"there is no {family}B{board}")
            reader.fail(key, f"{item!r}: {name} is not on the boards ({have})")
        if device.kind not in kinds:
            reader.fail(key, f"{item!r}: {name} is a {_KIND_TEXT[device.kind]}; {what}")
        names.append(name)
    return names


_KIND_TEXT = {"line": "voice channel with an analog line", "voice": "voice resource without "
              "a line", "span": "span", "timeslot": "span's timeslot",
              "dchannel": "D-channel", "station": "station", "dsp": "conference DSP",
              "modem": "voice modem"}
#: How a span of each signalling is named in messages.
_SPAN_TEXT = {"em_wink": "a T1 E&M", "fxs_loopstart": "a T1 loop-start",
              "pri": "a T1 ISDN PRI", "cas": "an E1 CAS", "ccs": "an E1 CCS (ISDN)"}


def _r2_settings(reader, t, key, name, signalling):
    """A trunk group's MFC/R2 settings: with E1 CAS timeslots, all of them
    (defaults for those not given); without, none may be given."""
    cas = [c for c, s in signalling.items() if s == "cas"]
    given = [k for k in R2_KEYS if k in t]
    if not cas:
        if given:
            reader.fail(f"{key}.{given[0]}", f"trunk group {name!r} has no E1 CAS timeslot: "
                        "MFC/R2 settings belong to a group of E1 CAS timeslots (a [[boards]] "
                        "table of type \"e1\", signalling \"cas\")")
        return None
    if len(cas) != len(signalling):
        other = next(c for c, s in signalling.items() if s != "cas")
        reader.fail(f"{key}.channels", f"trunk group {name!r} mixes E1 CAS timeslots "
                    f"({cas[0]}) with other channels ({other}): an MFC/R2 group is of E1 CAS "
                    "timeslots only")
    defaults = R2Settings()
    variant = reader.string(t, key, "r2_variant", defaults.variant, choices=R2_VARIANTS)
    if t.get("r2_category") == "collect_call" and "collect_call" not in r2_categories_sent(
            variant):
        reader.fail(f"{key}.r2_category", f"'collect_call': r2_variant {variant!r} has no "
                    "collect-call category signal (Brazil's, \"br\", has): our calls out "
                    "would fail")
    return R2Settings(
        variant=variant,
        max_ani=reader.integer(t, key, "r2_max_ani", defaults.max_ani, 1, R2_MAX_DIGITS),
        max_dnis=reader.integer(t, key, "r2_max_dnis", defaults.max_dnis, 1, R2_MAX_DIGITS),
        category=reader.string(t, key, "r2_category", defaults.category,
                               choices=r2_categories_sent(variant)),
        charge=reader.string(t, key, "r2_charge", defaults.charge, choices=R2_CHARGES),
        mf_timeout_ms=reader.integer(t, key, "r2_mf_timeout_ms", defaults.mf_timeout_ms,
                                     R2_MF_TIMEOUT_MS[0], R2_MF_TIMEOUT_MS[1]))


def _channels(reader, entries, devices, kinds, what, owners, group):
    """Expand a list of channel entries; a channel may belong to one group."""
    names = []
    for item, key in entries:
        for name in _expand(reader, item, key, devices, kinds, what):
            if name in owners:
                other = owners[name]
                reader.fail(key, f"{name} is already in {other}" if other != group
                            else f"{name} is listed twice")
            owners[name] = group
            names.append(name)
    return tuple(names)


# -- the whole file ------------------------------------------------------
TOP_KEYS = ("driver", "system_conf", "boards", "server", "trunk_groups", "station_groups",
            "voice_pool", "conference_pool", "station_tones", "routing", "routes",
            "outbound_routes", "queues", "acd",
            "agents", "users", "flow", "dialing", "dial_classes", "visibility", "faults",
            "sms", "caller_id_boxes", "monitored_lines", "pri_spans", "modems")


def load_server_config(path):
    """Read and check a server configuration; raises ConfigError."""
    reader = _Reader(path)
    data = load(path)
    base = os.path.dirname(os.fspath(path))
    reader.table(data, "", TOP_KEYS)
    driver = reader.string(data, "", "driver", choices=DRIVERS)
    system_conf = _absolute(base, reader.string(data, "", "system_conf", DEFAULT_SYSTEM_CONF))
    boards, boards_path = _load_boards(reader, data, base)
    devices = board_devices(boards)
    modems = _modems(reader, data, devices)

    server = reader.table(data.get("server", {}), "server",
                          ("listen", "heartbeat_s", "var_dir", "database", "log_level",
                           "record_hook", "tls", "http", *GATE_KEYS))
    tls = _tls(reader, server, base)
    listen = _listen(reader, server, tls)
    http = _http(reader, server)
    gate = _gate(reader, server)
    heartbeat_s = reader.integer(server, "server", "heartbeat_s", 10, 1)
    var_dir = _absolute(base, reader.string(server, "server", "var_dir", "var"))
    database = _database(reader, server, base, var_dir)
    log_level = reader.string(server, "server", "log_level", "info", choices=LOG_LEVELS)
    record_hook = reader.string(server, "server", "record_hook", None,
                                expected="the name of a hook (cti/flow/hooks.py)")

    trunk_groups, station_groups, voice_pool, conference_pool, station_tones = _groups(
        reader, data, devices)
    queues = _queues(reader, data)
    queue_names = [q.name for q in queues]
    acd_table = reader.table(data.get("acd", {}), "acd", ("retry_s", "max_no_answer",
                                                          "sweep_s"))
    acd = ACDSettings(retry_s=reader.integer(acd_table, "acd", "retry_s", 5, 0),
                      max_no_answer=reader.integer(acd_table, "acd", "max_no_answer", 3, 0),
                      sweep_s=reader.integer(acd_table, "acd", "sweep_s", 5, 1))
    faults = _faults(reader, data)
    routes, default_route, flow_down = _routing(reader, data, queue_names,
                                                [g.name for g in trunk_groups])
    agents = _agents(reader, data, queues, devices)
    users = _users(reader, data, agents)
    flow = _flow(reader, data, base, listen, users)
    dialing = _dialing(reader, data, agents, users, flow)
    visibility = reader.table(data.get("visibility", {}), "visibility", ("agent_agents",
                                                                         "agent_calls"))
    overflows = [Route("overflow", "", q.overflow[1], None, 0, f"queues[{i}].overflow")
                 for i, q in enumerate(queues) if q.overflow and q.overflow[0] == "flow"]
    _check_route_flows(reader, (*routes, default_route, *overflows), flow.flows_dir)
    _check_modem_routes(reader, trunk_groups, devices, routes, default_route, flow)
    sms = _sms(reader, data)
    _check_ports(reader, modems, sms)
    boxes = _caller_id_boxes(reader, data)
    pri_spans = _pri_spans(reader, data, devices, boards)
    return ServerConfig(
        pri_spans=pri_spans,
        sms=sms, caller_id_boxes=boxes, modems=modems,
        monitored_lines=_monitored_lines(reader, data, boxes, devices),
        path=str(path), driver=driver, system_conf=str(system_conf), boards=boards,
        boards_path=str(boards_path),
        devices=devices, listen=listen, http=http, heartbeat_s=heartbeat_s, var_dir=var_dir,
        database=database, log_level=log_level, record_hook=record_hook, gate=gate, tls=tls,
        trunk_groups=trunk_groups,
        station_groups=station_groups, voice_pool=voice_pool,
        conference_pool=conference_pool, station_tones=station_tones, routes=routes,
        outbound_routes=_outbound_routes(reader, data, trunk_groups),
        default_route=default_route,
        flow_down_queue=flow_down, queues=queues, acd=acd, faults=faults, agents=agents,
        users=users,
        flow=flow, dialing=dialing,
        agent_agents=reader.string(visibility, "visibility", "agent_agents", "own",
                                   choices=AGENT_AGENTS),
        agent_calls=reader.string(visibility, "visibility", "agent_calls", "queues",
                                  choices=AGENT_CALLS))


def _outbound_routes(reader, data, trunk_groups):
    """[[outbound_routes]]: which trunk groups a call out takes by its
    number (cti.server.outbound.routes)."""
    groups = {g.name: g for g in trunk_groups}
    routes, names, matches = [], {}, {}
    for t, key in reader.tables(data, "outbound_routes", ("name", "prefix", "pattern",
                                                          "trunk_groups", "strip", "prepend")):
        name = reader.name(t, key)
        reader.unique(names, name, f"{key}.name", "outbound route")
        if ("prefix" in t) == ("pattern" in t):
            reader.fail(key, "expected either prefix (\"91\"; \"\" for any number) or "
                        "pattern (\"_91NXXNXXXXXX\"), " + ("not both" if "prefix" in t
                                                             else "found neither"))
        prefix = pattern = None
        if "prefix" in t:
            prefix = t["prefix"]
            if not isinstance(prefix, str) or not PREFIX.match(prefix):
                reader.fail(f"{key}.prefix", "expected digits, * and # (\"\" for any "
                            f"number), got {_show(prefix)}")
        else:
            pattern = reader.string(t, key, "pattern", expected="an Asterisk pattern such as "
                                    "\"_9NXXXXXX\"")
            try:
                compile_pattern(pattern)
            except PatternError as e:
                reader.fail(f"{key}.pattern", f"{pattern!r}: {e}")
        match = ("prefix", prefix) if prefix is not None else ("pattern", pattern)
        if match in matches:
            reader.fail(f"{key}.{match[0]}", f"{match[0]} {match[1]!r} is routed already, by "
                        f"{matches[match]}")
        matches[match] = key
        entries = reader.strings(t, key, "trunk_groups",
                                 expected="a list of trunk groups to try in order, such as "
                                 "[\"pstn_out\", \"local\"]")
        if not entries:
            reader.fail(f"{key}.trunk_groups", "expected at least one trunk group")
        seen = {}
        for group, where in entries:
            reader.unique(seen, group, where, "trunk group")
            if group not in groups:
                reader.fail(where, f"trunk group {group!r} is not declared (trunk groups: "
                            f"{', '.join(groups) or 'none'})")
            if groups[group].direction == "in":
                reader.fail(where, f"trunk group {group!r} is inbound only (direction "
                            "\"in\"): calls out cannot use it")
        strip = reader.integer(t, key, "strip", 0, 0, 31)
        prepend = t.get("prepend", "")
        if not isinstance(prepend, str) or not PREPEND.match(prepend):
            reader.fail(f"{key}.prepend", "expected up to 16 digits, *, # and ',' (a pause), "
                        f"got {_show(prepend)}")
        routes.append(OutboundRoute(name, tuple(g for g, _ in entries), prefix, pattern,
                                    strip, prepend, key))
    return tuple(routes)


def _faults(reader, data):
    """[faults]: FaultSettings."""
    t = reader.table(data.get("faults", {}), "faults", (
        "span_healthy_s", "client_lost_s", "restore_agents", "restore_within_s",
        "db_timeout_s"))
    return FaultSettings(
        span_healthy_s=reader.integer(t, "faults", "span_healthy_s", 10, 0, 3600),
        client_lost_s=reader.integer(t, "faults", "client_lost_s", 15, 0, 3600),
        restore_agents=reader.boolean(t, "faults", "restore_agents", True),
        restore_within_s=reader.integer(t, "faults", "restore_within_s", 3600, 0),
        db_timeout_s=reader.integer(t, "faults", "db_timeout_s", 30, 1, 3600))


def _pri_spans(reader, data, devices, boards):
    """[[pri_spans]]: one table per ISDN span at most, naming a T1 PRI or
    E1 CCS span of the boards."""
    spans = {}
    isdn = [d.name for d in devices.values() if d.kind == "span"
            and d.signalling in ISDN_SIGNALLINGS]
    for t, key in reader.tables(data, "pri_spans", ("span", "node", "switchtype",
                                                    "channel_selection", "overlap",
                                                    "calling_number", "presentation")):
        span = reader.string(t, key, "span", expected="an ISDN span such as \"dtiB1\"")
        device = devices.get(span)
        if device is None or device.kind != "span" or device.signalling not in ISDN_SIGNALLINGS:
            what = ("not a span of the boards" if device is None or device.kind != "span"
                    else f"{_SPAN_TEXT[device.signalling]} span, with no D-channel")
            reader.fail(f"{key}.span", f"{span!r} is {what}; ISDN spans (T1 signalling "
                        f"\"pri\", E1 \"ccs\"): {', '.join(isdn) or 'none'}")
        if span in spans:
            reader.fail(f"{key}.span", f"{span} has a [[pri_spans]] table already "
                        f"({spans[span].where})")
        kind = boards[device.board]["type"]
        switchtype = reader.string(t, key, "switchtype", DEFAULT_SWITCH_TYPE[kind],
                                   choices=SWITCH_TYPES)
        overlap = reader.boolean(t, key, "overlap", False)
        if overlap and switchtype not in OVERLAP_SWITCH_TYPES:
            reader.fail(f"{key}.overlap", f"switch type {switchtype!r} sends the called "
                        "number en bloc; overlap receiving is for "
                        f"{' and '.join(OVERLAP_SWITCH_TYPES)}")
        calling = reader.string(t, key, "calling_number", "", pattern=_CALLING_NUMBER,
                                expected="the number our calls out give as theirs, up to "
                                "20 digits 0-9")
        spans[span] = PriSettings(
            span, node=reader.string(t, key, "node", "cpe", choices=PRI_NODES),
            switchtype=switchtype,
            channel_selection=reader.string(t, key, "channel_selection", "exclusive",
                                            choices=CHANNEL_SELECTIONS),
            overlap=overlap, calling_number=calling,
            presentation=reader.string(t, key, "presentation", "allowed",
                                       choices=PRESENTATIONS), where=key)
    return spans


def _sms(reader, data):
    """[sms]: SmsSettings, or None without the table."""
    if "sms" not in data:
        return None
    t = reader.table(data["sms"], "sms", ("port", "baud", "mode", "smsc", "pin",
                                          "delivery_reports", "retries", "retry_s"))
    modem = GsmSettings(
        port=reader.string(t, "sms", "port", expected="the modem's serial device, such as "
                           "\"/dev/ttyUSB2\""),
        baud=reader.integer(t, "sms", "baud", 115200, 300, 4_000_000),
        mode=reader.string(t, "sms", "mode", "pdu", choices=SMS_MODES),
        smsc=reader.string(t, "sms", "smsc", None, pattern=_PHONE_NUMBER,
                           expected="the SMSC's number, such as \"+8613800100500\""),
        pin=reader.string(t, "sms", "pin", None, pattern=_PIN,
                          expected="the SIM's PIN: 4 to 8 digits, as a string"),
        delivery_reports=reader.boolean(t, "sms", "delivery_reports", True))
    return SmsSettings(modem=modem, retries=reader.integer(t, "sms", "retries", 3, 0, 100),
                       retry_s=reader.integer(t, "sms", "retry_s", 60, 1, 86_400))


def _modems(reader, data, devices):
    """[[modems]]: each a ModemSettings, its line ``mdmB<n>C1`` added to
    `devices` (kind and signalling ``modem``)."""
    modems = []
    defaults = ModemSettings("")
    for i, (t, key) in enumerate(reader.tables(data, "modems", ("port", "baud", "compression",
                                                                "audio", "init"))):
        init = defaults.init
        if "init" in t:
            entries = reader.strings(t, key, "init", expected="a list of AT commands such as "
                                     "[\"AT+IFC=2,2\", \"AT+VCID=1\"]")
            for command, where in entries:
                if not _AT_COMMAND.match(command):
                    reader.fail(where, f"{command!r} is not an AT command (expected \"AT\" "
                                "and the command, printable characters, such as "
                                "\"AT+VCID=1\")")
            init = tuple(command for command, _ in entries)
        modems.append(ModemSettings(
            port=reader.string(t, key, "port", pattern=_SERIAL_PORT,
                               expected="the modem's serial device, such as \"/dev/ttyACM0\" "
                               "or \"/dev/serial/by-id/...\""),
            baud=reader.integer(t, key, "baud", defaults.baud, 300, 4_000_000),
            compression=reader.string(t, key, "compression", defaults.compression,
                                      pattern=_COMPRESSION, expected="AT+VSM's argument at "
                                      "8000 samples a second (the driver's G.711 rate), "
                                      "such as \"4,8000\" (G.711 mu-law) or \"5,8000\" "
                                      "(A-law): the modem's AT+VSM=? lists its own"),
            audio=reader.string(t, key, "audio", defaults.audio, choices=MODEM_AUDIO_LAWS),
            init=init))
        law = _VSM_LAWS.get(modems[-1].compression.split(",")[0])
        if law is not None and law != modems[-1].audio:
            reader.fail(f"{key}.compression", f"{modems[-1].compression!r} is V.253's G.711 "
                        f"{law}, but audio is {modems[-1].audio!r}: make them agree (4,8000 "
                        "is ulaw, 5,8000 alaw)")
        name = modem_name(i + 1)
        devices[name] = Device(name, "modem", i, "modem")
    return tuple(modems)


def _check_ports(reader, modems, sms):
    """No two serial devices on one port: the modems', and [sms]'s; two
    names of one device (a /dev/serial/by-id/ link and its /dev/ttyACM0)
    are one port."""
    def device(port):
        return os.path.realpath(port) if os.path.exists(port) else port

    seen = {} if sms is None else {device(sms.modem.port): ("sms.port", sms.modem.port)}
    for i, modem in enumerate(modems):
        key, real = f"modems[{i}].port", device(modem.port)
        if real in seen:
            where, named = seen[real]
            same = "" if named == modem.port else f" as {named!r} (both are {real})"
            reader.fail(key, f"serial port {modem.port!r} is already declared at "
                        f"{where}{same}")
        seen[real] = (key, modem.port)


def _check_modem_routes(reader, trunk_groups, devices, routes, default_route, flow):
    """Calls on a voice modem stay in the IVR: a route of a trunk group
    with a modem goes to a flow, and so does the default route when such a
    group has no route of its own; that flow keeps its callers
    (`_check_modem_flow`).  (A DNIS or ANI route that a modem's call
    matches is refused when the call comes: cti.server.queueing, a flow's
    transfer going on at its on_failure.)"""
    flows = None                          # loaded once, for the first modem group
    for group in trunk_groups:
        modem = next((c for c in group.channels if devices[c].kind == "modem"), None)
        if modem is None:
            continue
        if flows is None:
            flows = _loaded_flows(flow)
        own = [r for r in routes if r.match == "trunk_group" and r.pattern == group.name]
        for route in own:
            if route.queue is not None:
                reader.fail(f"{route.key}.queue", f"{route.queue!r}: "
                            f"{NO_BUS.format(line=modem)} (trunk group {group.name!r}): "
                            "route it to a flow")
            _check_modem_flow(reader, route, group.name, modem, flows)
        if not own and default_route.queue is not None:
            reader.fail("routing.default.queue", f"{default_route.queue!r}: trunk group "
                        f"{group.name!r} has no route of its own, and "
                        f"{NO_BUS.format(line=modem)}: give it a route to a flow "
                        f"([[routes]] trunk_group = \"{group.name}\", flow = ...)")
        if not own:
            _check_modem_flow(reader, default_route, group.name, modem, flows)


def _loaded_flows(flow):
    """The flows of [flow] flows_dir as the flow loader loads them (those
    without errors: the loader reports the rest; the site's hooks are not
    imported here), or none without [flow] or its manifest."""
    if flow is None:
        return {}
    try:
        flows, _, _ = check_flows(flow.flows_dir, flow.prompts_dir / MANIFEST, hooks=None)
    except ConfigError:
        return {}
    return flows


def _check_modem_flow(reader, route, group, modem, flows):
    """The flow `route` gives a modem's calls keeps its callers: no step
    it reaches (following gotos into other flows) is a transfer without
    on_failure (refused, it would hang up: with one the caller goes on
    there, as the runtime does) or lets the caller press a flow's
    agent_key (refused, the flow releases the call)."""
    if route.flow is None or route.flow not in flows:
        return
    why = (f"{NO_BUS.format(line=modem)} (trunk group {group!r}): give the group a flow "
           "that keeps its callers (messages, menus, recordings)")
    seen, todo = set(), [(route.flow, flows[route.flow].first)]
    while todo:
        name, step_name = todo.pop()
        flow = flows.get(name)
        if (name, step_name) in seen or flow is None or step_name not in flow.steps:
            continue                      # a flow with errors: the loader's to report
        seen.add((name, step_name))
        step = flow.steps[step_name]
        where = f"{route.flow!r}: {flow.path}" + (
            "" if name == route.flow else " (reached by a goto)")
        if flow.agent_escape(step):
            reader.fail(f"{route.key}.flow", f"{where} has agent_key {flow.agent_key!r} "
                        f"(step {step.name!r}), which takes the caller to an agent, but {why}")
        if isinstance(step, TransferStep) and step.on_failure is None:
            reader.fail(f"{route.key}.flow", f"{where} step {step.name!r} is a transfer with "
                        "no on_failure (a modem's caller is never transferred: refused, the "
                        f"call would be released), but {why}; or give it an on_failure")
        if isinstance(step, GotoStep) and step.flow in flows:
            todo.append((step.flow, step.step or flows[step.flow].first))
        todo += [(name, target) for _, target in step.targets()]


def _caller_id_boxes(reader, data):
    """[[caller_id_boxes]]: CallerIdBox, names unique."""
    boxes, names = [], {}
    for t, key in reader.tables(data, "caller_id_boxes", ("name", "vendor_id", "product_id",
                                                          "lines")):
        name = reader.name(t, key)
        reader.unique(names, name, f"{key}.name", "caller-ID box")
        boxes.append(CallerIdBox(
            name=name, vendor_id=reader.integer(t, key, "vendor_id", low=0, high=0xFFFF),
            product_id=reader.integer(t, key, "product_id", low=0, high=0xFFFF),
            lines=reader.integer(t, key, "lines", 4, 1, 64)))
    return tuple(boxes)


def _monitored_lines(reader, data, boxes, devices):
    """[[monitored_lines]]: MonitoredLine, each on a box's line of its own,
    its station a station of the boards."""
    lines, names, taken = [], {}, {}
    by_name = {box.name: box for box in boxes}
    for t, key in reader.tables(data, "monitored_lines", ("name", "box", "line", "station")):
        name = reader.name(t, key)
        reader.unique(names, name, f"{key}.name", "monitored line")
        box = reader.string(t, key, "box", expected="the name of a [[caller_id_boxes]] entry")
        if box not in by_name:
            reader.fail(f"{key}.box", f"no caller-ID box {box!r} (boxes: "
                        f"{_listing(list(by_name)) or 'none: add a [[caller_id_boxes]] table'})")
        line = reader.integer(t, key, "line", low=1, high=by_name[box].lines)
        reader.unique(taken, f"{box} line {line}", f"{key}.line", "a monitored line on")
        station = reader.string(t, key, "station", None, expected="a station such as "
                                "\"msiB1C3\"")
        if station is not None and getattr(devices.get(station), "kind", None) != "station":
            reader.fail(f"{key}.station", f"{station!r} is not a station of the boards")
        lines.append(MonitoredLine(name=name, box=box, line=line, station=station))
    return tuple(lines)


#: [server] keys of the gate (cti.protocol.gate.Limits): the key, its field.
GATE_KEYS = {
    "max_connections": "max_connections",
    "max_connections_per_source": "max_connections_per_source",
    "max_unauthenticated": "max_unauthenticated",
    "max_unauthenticated_per_source": "max_unauthenticated_per_source",
    "login_window_s": "window_s",
    "login_delay_after": "delay_after",
    "login_source_delay_after": "source_delay_after",
    "login_delay_s": "delay_s",
    "login_max_delay_s": "max_delay_s",
    "login_lockout_after": "lockout_after",
    "login_source_lockout_after": "source_lockout_after",
    "login_lockout_s": "lockout_s",
}


def _gate(reader, server):
    """The connection caps and login throttling of [server]."""
    defaults = Limits()
    values = {field: reader.integer(server, "server", key, int(getattr(defaults, field)),
                                    0 if key == "login_delay_s" else 1)
              for key, field in GATE_KEYS.items()}
    if values["max_delay_s"] < values["delay_s"]:
        reader.fail("server.login_max_delay_s", f"expected at least login_delay_s "
                    f"({values['delay_s']}), got {values['max_delay_s']}")
    return Limits(**values)


def _tls(reader, server, base):
    """[server.tls], its files read and checked now."""
    from cti.protocol.tls import TLSFilesError

    if "tls" not in server:
        return None
    t = reader.table(server["tls"], "server.tls", ("certificate", "private_key", "client_ca"))
    paths = {key: reader.string(t, "server.tls", key, None if key == "client_ca"
                                else _REQUIRED, expected="a PEM file name")
             for key in ("certificate", "private_key", "client_ca")}
    settings = TLSSettings(**{k: _absolute(base, v) if v else None for k, v in paths.items()})
    try:
        settings.server_tls()
    except TLSFilesError as e:
        reader.fail(f"server.tls.{e.key}", str(e))
    return settings


def _listen(reader, server, tls):
    from twisted.internet.endpoints import serverFromString

    entries = reader.strings(server, "server", "listen", [(e, None) for e in DEFAULT_LISTEN],
                             expected="a list of endpoint strings such as "
                             "\"tcp:7500:interface=127.0.0.1\"")
    if not entries:
        reader.fail("server.listen", "expected at least one endpoint")
    for item, key in entries:
        if key is None:
            continue
        parts = _endpoint_parts(item)
        if parts[0] == "tls":                 # ours: cti.protocol.tls, files of [server.tls]
            _tls_listen(reader, key, item, parts, tls)
            continue
        try:
            serverFromString(None, item)      # parses only; nothing listens
        except Exception as e:  # noqa: BLE001 - any parse failure is a config error
            reader.fail(key, f"{item!r} is not a Twisted server endpoint string such as "
                        f"\"tcp:7500:interface=127.0.0.1\" ({e})")
        if parts[0] in ("tcp", "tcp6"):
            port = parts[2].get("port", parts[1][0] if parts[1] else "")
            if not port.isdigit() or int(port) > 65535:
                reader.fail(key, f"{item!r}: port {port!r} is not 0..65535")
    return tuple(item for item, _ in entries)


def _http(reader, server):
    """[server] http: the endpoint of /metrics and /status, or None (off)."""
    from twisted.internet.endpoints import serverFromString

    item = reader.string(server, "server", "http", None,
                         expected="an endpoint string such as \"tcp:7580:interface=127.0.0.1\"")
    if item is None:
        return None
    if _endpoint_parts(item)[0] not in ("tcp", "tcp6", "unix"):
        reader.fail("server.http", f"{item!r}: the status pages are served on tcp, tcp6 or "
                    "unix endpoints (TLS: put a proxy in front)")
    try:
        serverFromString(None, item)          # parses only; nothing listens
    except Exception as e:  # noqa: BLE001 - any parse failure is a config error
        reader.fail("server.http", f"{item!r} is not a Twisted server endpoint string such "
                    f"as \"tcp:7580:interface=127.0.0.1\" ({e})")
    return item


def _tls_listen(reader, key, item, parts, tls):
    _, args, kwargs = parts
    port = kwargs.pop("port", args[0] if args else "")
    kwargs.pop("interface", None)
    if not port.isdigit() or int(port) > 65535 or len(args) > 1 or kwargs:
        reader.fail(key, f"{item!r}: expected \"tls:PORT\" or \"tls:PORT:interface=ADDRESS\" "
                    "(the certificate and key are [server.tls]'s)")
    if tls is None:
        reader.fail(key, f"{item!r} listens for TLS: [server.tls] must name the certificate "
                    "and the private key")


def tls_listen(item):
    """(port, interface) of a "tls:" listen entry."""
    _, args, kwargs = _endpoint_parts(item)
    return int(kwargs.get("port", args[0] if args else 0)), kwargs.get("interface", "")


def _database(reader, server, base, var_dir):
    from sqlalchemy import make_url
    from sqlalchemy.exc import ArgumentError

    default = f"sqlite:///{var_dir / 'cti.sqlite'}"
    value = reader.string(server, "server", "database", default,
                          expected="a database URL such as \"postgresql://cti@db/cti\"")
    try:
        url = make_url(value)
    except ArgumentError:
        reader.fail("server.database", f"{value!r} is not a database URL (expected e.g. "
                    "\"sqlite:///var/cti.sqlite\" or \"postgresql://cti@db/cti\")")
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
            and not os.path.isabs(url.database):
        url = url.set(database=str(_absolute(base, url.database)))
        return url.render_as_string(hide_password=False)
    return value


def _endpoint_parts(text):
    """Split an endpoint string at unescaped colons: (type, args, kwargs)."""
    parts, current, chars = [], [], iter(text)
    for ch in chars:
        if ch == "\\":
            current.append(next(chars, ""))
        elif ch == ":":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    args, kwargs = [], {}
    for part in parts[1:]:
        name, eq, value = part.partition("=")
        if eq:
            kwargs[name] = value
        else:
            args.append(part)
    return parts[0], args, kwargs


def client_paths(description, base):
    """A client endpoint string with the files a "tls:" one names (trustRoots,
    certificate, privateKey) made absolute against `base`, the directory of
    the configuration file that holds it."""
    kind, args, kwargs = _endpoint_parts(description)
    if kind != "tls" or not any(k in kwargs for k in ("trustRoots", "certificate",
                                                      "privateKey")):
        return description
    for k in ("trustRoots", "certificate", "privateKey"):
        if k in kwargs:
            kwargs[k] = str(_absolute(base, kwargs[k]))
    escape = str.maketrans({":": "\\:", "=": "\\="})
    return ":".join([kind, *(a.translate(escape) for a in args),
                     *(f"{k}={v.translate(escape)}" for k, v in kwargs.items())])


def client_endpoint(listen):
    """A client endpoint string reaching a server endpoint, or None."""
    kind, args, kwargs = _endpoint_parts(listen)
    if kind in ("tcp", "tcp6"):
        port = kwargs.get("port", args[0] if args else "")
        host = kwargs.get("interface", args[1] if len(args) > 1 else "")
        if host in ("", "0.0.0.0", "::"):
            host = "::1" if kind == "tcp6" else "127.0.0.1"
        return f"tcp:host={host.replace(':', chr(92) + ':')}:port={port}"
    if kind == "unix":
        address = kwargs.get("address", args[0] if args else "")
        return f"unix:path={address.replace(':', chr(92) + ':')}"
    return None


def _groups(reader, data, devices):
    owners = {}
    trunk_groups, names = [], {}
    for t, key in reader.tables(data, "trunk_groups",
                                ("name", "direction", "channels", "address", "disconnect",
                                 "silence_s", "silence_dbm0", *R2_KEYS)):
        name = reader.name(t, key)
        reader.unique(names, name, f"{key}.name", "trunk group")
        direction = reader.string(t, key, "direction", choices=DIRECTIONS)
        address = reader.string(t, key, "address", "dtmf", choices=("dtmf", "mf"))
        entries = reader.strings(t, key, "channels",
                                 expected="a list of channels such as [\"dtiB1T1-24\"]")
        channels = _channels(reader, entries, devices, ("line", "timeslot", "modem"),
                             "trunk groups take T1 or E1 timeslots or ISDN B-channels "
                             "(dtiBnTm), analog lines (dxxxBnCm of an analog board) or voice "
                             "modems (mdmBnC1)", owners, f"trunk group {name!r}")
        if not channels:
            reader.fail(f"{key}.channels", "expected at least one channel")
        modem = next((c for c in channels if devices[c].kind == "modem"), None)
        if modem is not None and direction != "in":
            reader.fail(f"{key}.direction", f"{direction!r}: {NO_BUS.format(line=modem)}; "
                        "calls out join an agent's phone or another line, so a group with "
                        "a modem takes calls in only (expected \"in\")")
        signalling = {c: devices[c].signalling for c in channels}
        trunk_groups.append(TrunkGroup(name, direction, channels, signalling, address,
                                       *_disconnect(reader, t, key, name, signalling),
                                       r2=_r2_settings(reader, t, key, name, signalling)))

    station_groups, names = [], {}
    for t, key in reader.tables(data, "station_groups", ("name", "stations")):
        name = reader.name(t, key)
        reader.unique(names, name, f"{key}.name", "station group")
        entries = reader.strings(t, key, "stations",
                                 expected="a list of stations such as [\"msiB1C1-8\"]")
        stations = _channels(reader, entries, devices, ("station",),
                             "station groups take stations (msiBnCm)", owners,
                             f"station group {name!r}")
        if not stations:
            reader.fail(f"{key}.stations", "expected at least one station")
        station_groups.append(StationGroup(name, stations))

    station_tones = _station_tones(reader, data, devices, owners)
    pool = reader.table(data.get("voice_pool", {}), "voice_pool", ("channels",))
    if "channels" in pool:
        entries = reader.strings(pool, "voice_pool", "channels",
                                 expected="a list of voice channels such as [\"dxxxB2C1-4\"]")
        voice_pool = _channels(reader, entries, devices, ("voice",),
                               "the voice pool takes voice resources without lines",
                               owners, "the voice pool")
    else:
        voice_pool = tuple(d.name for d in devices.values()
                           if d.kind == "voice" and d.name not in owners)

    pool = reader.table(data.get("conference_pool", {}), "conference_pool", ("dsps",))
    if "dsps" in pool:
        entries = reader.strings(pool, "conference_pool", "dsps",
                                 expected="a list of DSPs such as [\"dcbB1D1-2\"]")
        conference_pool = _channels(reader, entries, devices, ("dsp",),
                                    "the conference pool takes conference DSPs (dcbBnDm)",
                                    owners, "the conference pool")
    else:
        conference_pool = tuple(d.name for d in devices.values() if d.kind == "dsp")
    return tuple(trunk_groups), tuple(station_groups), voice_pool, conference_pool, station_tones


_LINE_KINDS = {"loopstart": "an analog line", "fxs_loopstart": "a T1 loop-start timeslot",
               "modem": "a voice modem"}


def _disconnect(reader, t, key, name, signalling):
    """(disconnect, silence_s, silence_dbm0) of a trunk group: how its
    loop-start lines learn the far end left (cti.server.lines.disconnect)."""
    given = [k for k in ("disconnect", "silence_s", "silence_dbm0") if k in t]
    if not given:
        return None, DEFAULT_SILENCE_S, DEFAULT_SILENCE_DBM0
    other = next((c for c, s in signalling.items() if s not in POSSIBLE), None)
    if other is not None:
        reader.fail(f"{key}.{given[0]}", f"trunk group {name!r} has {other}, whose far end "
                    "clears with its signalling bits: disconnect, silence_s and "
                    "silence_dbm0 are for analog lines and T1 loop-start timeslots")
    disconnect = None
    if "disconnect" in t:
        entries = reader.strings(t, key, "disconnect",
                                 expected=f"a list of {', '.join(map(repr, METHODS))}")
        if not entries:
            reader.fail(f"{key}.disconnect", "expected at least one of "
                        f"{', '.join(map(repr, METHODS))}")
        seen = {}
        for method, where in entries:
            if method not in METHODS:
                reader.fail(where, f"{method!r} is not one of {', '.join(map(repr, METHODS))}")
            reader.unique(seen, method, where, "disconnect method")
            for channel, kind in signalling.items():
                if method not in POSSIBLE[kind]:
                    reader.fail(where, f"{channel} is {_LINE_KINDS[kind]}, which gives only "
                                f"{' and '.join(map(repr, POSSIBLE[kind]))}: no {method!r}")
        disconnect = tuple(m for m, _ in entries)
    silent = disconnect is not None and "silence" in disconnect
    for k in ("silence_s", "silence_dbm0"):
        if k in t and not silent:
            reader.fail(f"{key}.{k}", 'applies only when disconnect includes "silence" '
                        f"(it is {list(disconnect) if disconnect else 'the default, without'})")
    silence_s = DEFAULT_SILENCE_S
    if "silence_s" in t:
        silence_s = t["silence_s"]
        if not isinstance(silence_s, (int, float)) or isinstance(silence_s, bool) \
                or not 0 < silence_s <= MAX_SILENCE_S:
            reader.fail(f"{key}.silence_s", f"expected seconds, a number above 0 and at most "
                        f"{MAX_SILENCE_S}, got {_show(silence_s)}")
    low, high = SILENCE_DBM0_RANGE
    silence_dbm0 = reader.integer(t, key, "silence_dbm0", DEFAULT_SILENCE_DBM0, low, high)
    return disconnect, silence_s, silence_dbm0


def _station_tones(reader, data, devices, owners):
    """[station_tones]: {tone: voice channel} for every one of STATION_TONES,
    or {} (the station ports play them)."""
    table = reader.table(data.get("station_tones", {}), "station_tones", STATION_TONES)
    if not table:
        return {}
    tones = {}
    for tone in STATION_TONES:
        value = reader.string(table, "station_tones", tone,
                              expected="a voice channel such as \"dxxxB3C1\" (each of "
                              f"{', '.join(STATION_TONES)} needs its own)")
        key = f"station_tones.{tone}"
        names = _channels(reader, [(value, key)], devices, ("voice",),
                          "station tones take voice resources without lines", owners,
                          "the station tones")
        if len(names) != 1:
            reader.fail(key, f"{value!r}: expected one voice channel, not a range")
        tones[tone] = names[0]
    return tones


def _skill_levels(reader, table, key, what="skill = least level (1..10)", empty=False):
    if not isinstance(table, dict) or not (table or empty):
        reader.fail(key, f"expected a table of {what}, such as {{english = 5}}, got "
                    f"{_show(table)}")
    levels = {}
    for skill in table:
        if not _NAME.match(skill):
            reader.fail(f"{key}.{skill}", f"a skill needs {_NAME_TEXT}")
        levels[skill] = reader.integer(table, key, skill, low=1, high=10)
    return levels


def _widen(reader, t, key, skills):
    """[{after_s = 30, skills = {english = 3}}, ...]: later rules, later waits."""
    if "widen" not in t:
        return ()
    where = f"{key}.widen"
    if not skills:
        reader.fail(where, "widen needs the queue's skills (the rule it widens from)")
    value = t["widen"]
    if not isinstance(value, list) or not value:
        reader.fail(where, "expected a list of rules such as [{after_s = 30, skills = "
                    f"{{english = 3}}}}], got {_show(value)}")
    rules, last = [], 0
    for i, rule in enumerate(value):
        rkey = f"{where}[{i}]"
        reader.table(rule, rkey, ("after_s", "skills"))
        after = reader.integer(rule, rkey, "after_s", low=1)
        if after <= last:
            reader.fail(f"{rkey}.after_s", f"expected more than {last} (rules in the order "
                        "they apply)")
        last = after
        rules.append((after, _skill_levels(reader, rule.get("skills"), f"{rkey}.skills")))
    return tuple(rules)


def _conditions(reader, t, key, name):
    found = []
    for value, where in reader.strings(t, key, name, [], expected="a list of conditions"):
        if value not in EMPTY_CONDITIONS:
            reader.fail(where, f"{value!r} is not one of {', '.join(EMPTY_CONDITIONS)}")
        found.append(value)
    return tuple(found)


def _queues(reader, data):
    queues, names = [], {}
    known = ("name", "strategy", "service_level_s", "max_wait_s", "max_length", "wrap_up_s",
             "wrap_up", "ring_timeout_s", "music", "priority", "skills", "widen", "join_empty",
             "leave_empty", "overflow", "exit_key", "announce_every_s", "announce",
             "messages", "callback_key")
    tables = reader.tables(data, "queues", known)
    for t, key in tables:
        reader.unique(names, reader.name(t, key), f"{key}.name", "queue")
    for t, key in tables:
        name = reader.name(t, key)
        skills = (_skill_levels(reader, t["skills"], f"{key}.skills")
                  if "skills" in t else {})
        overflow = None
        if "overflow" in t:
            target = reader.table(t["overflow"], f"{key}.overflow", ("flow", "queue"))
            flow, queue = _target(reader, target, f"{key}.overflow", list(names))
            if queue == name:
                reader.fail(f"{key}.overflow.queue", "a queue cannot overflow to itself")
            overflow = ("queue", queue) if queue else ("flow", flow)
        exit_key = reader.string(t, key, "exit_key", None, pattern=re.compile(r"[0-9*#]\Z"),
                                 expected="one key: 0-9, * or #")
        if exit_key is not None and overflow is None:
            reader.fail(f"{key}.exit_key", "an exit key needs an overflow target (where the "
                        "caller goes)")
        callback_key = reader.string(t, key, "callback_key", None,
                                     pattern=re.compile(r"[0-9]\Z"), expected="one digit, 0-9")
        if callback_key is not None and callback_key == exit_key:
            reader.fail(f"{key}.callback_key", f"{callback_key!r} is the exit_key already")
        every = reader.integer(t, key, "announce_every_s", None, 10)
        announce = []
        for value, where in reader.strings(t, key, "announce", [],
                                           expected="a list of announcements"):
            if value not in ANNOUNCEMENTS:
                reader.fail(where, f"{value!r} is not one of {', '.join(ANNOUNCEMENTS)}")
            announce.append(value)
        messages = []
        for message, where in reader.strings(t, key, "messages", [],
                                             expected="a list of prompt names"):
            if not _PROMPT.match(message):
                reader.fail(where, f"{message!r} is not a prompt name (lower-case letters, "
                            "digits and '_', as in etc/prompts/prompts.toml)")
            messages.append(message)
        if every is None and (announce or messages or callback_key):
            reader.fail(f"{key}.announce_every_s", "required with announce, messages or "
                        "callback_key (how often waiting callers hear them)")
        if every is not None and not (announce or messages):
            announce = list(ANNOUNCEMENTS)
        queues.append(Queue(
            name=name,
            strategy=reader.string(t, key, "strategy", "longest_idle", choices=STRATEGIES),
            service_level_s=reader.integer(t, key, "service_level_s", 20, 1),
            max_wait_s=reader.integer(t, key, "max_wait_s", None, 1),
            max_length=reader.integer(t, key, "max_length", None, 1),
            wrap_up_s=reader.integer(t, key, "wrap_up_s", 10, 0),
            wrap_up=reader.string(t, key, "wrap_up", "timed", choices=WRAP_UPS),
            ring_timeout_s=reader.integer(t, key, "ring_timeout_s", 15, 1),
            music=reader.string(t, key, "music", None, expected="a prompt name"),
            priority=reader.integer(t, key, "priority", 0, 0, 100),
            skills=skills, widen=_widen(reader, t, key, skills),
            join_empty=_conditions(reader, t, key, "join_empty"),
            leave_empty=_conditions(reader, t, key, "leave_empty"),
            overflow=overflow, exit_key=exit_key, announce_every_s=every,
            announce=tuple(announce), messages=tuple(messages), callback_key=callback_key))
    return tuple(queues)


def _target(reader, t, key, queue_names, kinds=("flow", "queue")):
    given = [k for k in ("flow", "queue") if k in t]
    if not given:
        reader.fail(key, f"expected a target: {' or '.join(kinds)}")
    if len(given) > 1:
        reader.fail(_join(key, given[1]), "give only one target: flow or queue "
                    f"(this one also has {given[0]})")
    if given[0] not in kinds:
        reader.fail(_join(key, given[0]), f"expected {' or '.join(kinds)} here"
                    + (" (calls wait in a queue while the flow server is down)"
                       if kinds == ("queue",) else ""))
    if given[0] == "flow":
        return reader.string(t, key, "flow", pattern=_FLOW_NAME,
                             expected=_FLOW_NAME_TEXT), None
    queue = reader.name(t, key, "queue")
    if queue not in queue_names:
        reader.fail(_join(key, "queue"), f"{queue!r} is not a declared queue (queues: "
                    f"{_listing(queue_names)})")
    return None, queue


def _routing(reader, data, queue_names, trunk_group_names):
    routes, seen = [], {}
    known = ("dnis", "ani", "trunk_group", "flow", "queue", "priority")
    for t, key in reader.tables(data, "routes", known):
        given = [k for k in MATCH_KINDS if k in t]
        if not given:
            reader.fail(key, "expected one match key: dnis, ani or trunk_group")
        if len(given) > 1:
            reader.fail(_join(key, given[1]), "give only one match key of dnis, ani and "
                        f"trunk_group (this route also has {given[0]})")
        match = given[0]
        if match == "trunk_group":
            pattern = reader.name(t, key, "trunk_group")
            if pattern not in trunk_group_names:
                reader.fail(f"{key}.trunk_group", f"{pattern!r} is not a declared trunk group "
                            f"(trunk groups: {_listing(trunk_group_names)})")
        else:
            pattern = reader.string(t, key, match, pattern=_NUMBER,
                                    expected="a number, or a prefix ending in '*' "
                                    "(\"5550100\", \"555*\")")
        reader.unique(seen, f"{match} {pattern!r}", f"{key}.{match}", "a route for")
        flow, queue = _target(reader, t, key, queue_names)
        priority = reader.integer(t, key, "priority", 0)
        routes.append(Route(match, pattern, flow, queue, priority, key))

    routing = reader.table(data.get("routing", {}), "routing", ("default", "flow_down"))
    if "default" not in routing:
        reader.fail("routing.default", "required key is missing (expected a table such as "
                    "{flow = \"main_menu\"} or {queue = \"sales\"})")
    default = reader.table(routing["default"], "routing.default", ("flow", "queue"))
    flow, queue = _target(reader, default, "routing.default", queue_names)
    default_route = Route("default", "", flow, queue, 0, "routing.default")
    if "flow_down" in routing:
        down = reader.table(routing["flow_down"], "routing.flow_down", ("flow", "queue"))
        _, flow_down = _target(reader, down, "routing.flow_down", queue_names, ("queue",))
    elif queue is not None:
        flow_down = queue
    else:
        reader.fail("routing.flow_down", "required when routing.default is a flow (expected "
                    "{queue = \"...\"}: where calls go while the flow server is down)")
    return tuple(routes), default_route, flow_down


def _check_route_flows(reader, routes, flows_dir):
    """Every flow a route names is a file ``NAME.toml`` in flows_dir, the
    directory the flow tier loads.  Only that the file is there: what is in
    it is the flow loader's to check (``python -m cti.flow.loader``)."""
    wanted = [route for route in routes if route.flow is not None]
    if not wanted:
        return                  # queues only: no flow tier needed
    if not flows_dir.is_dir():
        route = wanted[0]
        reader.fail(f"{route.key}.flow", f"{route.flow!r}: the flows directory {flows_dir} "
                    "(flow.flows_dir) does not exist")
    available = sorted(p.stem for p in flows_dir.glob("*.toml") if p.is_file())
    for route in wanted:
        if route.flow in available:
            continue
        close = difflib.get_close_matches(route.flow, available, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        reader.fail(f"{route.key}.flow", f"{route.flow!r} is not a flow: no {route.flow}.toml "
                    f"in {flows_dir} (flow.flows_dir; flows: {_listing(available)}{hint})")


def _password_hash(reader, t, key):
    value = reader.string(t, key, "password_hash",
                          expected="a hash from `cti passwd` ('scrypt$N$r$p$salt$hash')")
    problem = check_hash_format(value)
    if problem:
        reader.fail(f"{key}.password_hash", problem)
    return value


def _agents(reader, data, queue_configs, devices):
    agents, ids = [], {}
    queue_names = [q.name for q in queue_configs]
    by_skill = {q.name for q in queue_configs if q.skills}
    digits = re.compile(r"[0-9]+\Z")
    for t, key in reader.tables(data, "agents", ("id", "name", "password_hash", "queues",
                                                 "skills", "station", "team",
                                                 "ring_timeout_s", "weight", "dial_class")):
        agent_id = reader.string(t, key, "id", pattern=digits,
                                 expected="the agent code, a string of digits such as "
                                 "\"1001\" (quoted)")
        reader.unique(ids, agent_id, f"{key}.id", "agent id")
        name = reader.string(t, key, "name", expected="the agent's name")
        password_hash = _password_hash(reader, t, key)
        queues = []
        for queue, where in reader.strings(t, key, "queues", [],
                                           expected="a list of queue names"):
            if queue not in queue_names:
                reader.fail(where, f"{queue!r} is not a declared queue (queues: "
                            f"{_listing(queue_names)})")
            if queue in queues:
                reader.fail(where, f"{queue!r} is listed twice")
            if queue in by_skill:
                reader.fail(where, f"queue {queue!r} chooses its agents by skills: give the "
                            "agent the skills instead of listing the queue")
            queues.append(queue)
        skills = (_skill_levels(reader, t["skills"], f"{key}.skills", "skill = level (1..10)",
                                empty=True)
                  if "skills" in t else {})
        station = reader.string(t, key, "station", None, expected="a station such as "
                                "\"msiB1C1\"")
        if station is not None:
            device = devices.get(station)
            if device is None or device.kind != "station":
                reader.fail(f"{key}.station", f"{station!r} is not a station on the boards "
                            "(expected msiBnCm)")
        team = reader.name(t, key, "team") if "team" in t else None
        agents.append(Agent(agent_id, name, password_hash, tuple(queues), skills, station,
                            team, reader.integer(t, key, "ring_timeout_s", None, 1, 300),
                            reader.integer(t, key, "weight", 1, 1, 100),
                            reader.name(t, key, "dial_class") if "dial_class" in t else None))
    return tuple(agents)


def _users(reader, data, agents):
    agent_ids = {a.id for a in agents}
    users, names = [], {}
    teams = {a.team for a in agents if a.team}
    for t, key in reader.tables(data, "users", ("name", "roles", "password_hash",
                                                "dial_class", "teams")):
        name = reader.name(t, key)
        reader.unique(names, name, f"{key}.name", "user")
        if name in agent_ids:
            reader.fail(f"{key}.name", f"{name!r} is also an agent's id; agents log in "
                        "with their id, so a user needs another name")
        entries = reader.strings(t, key, "roles",
                                 expected=f"a list of roles from {', '.join(ROLES)}")
        if not entries:
            reader.fail(f"{key}.roles", f"expected at least one of {', '.join(ROLES)}")
        for role, where in entries:
            if role not in ROLES:
                reader.fail(where, f"{role!r} is not a role (roles: {', '.join(ROLES)})")
        its_teams = reader.strings(t, key, "teams", [], expected="a list of team names")
        for team, where in its_teams:
            if team not in teams:
                reader.fail(where, f"no agent is in team {team!r} (teams: "
                            f"{_listing(sorted(teams))})")
        users.append(UserConfig(name, frozenset(r for r, _ in entries),
                                _password_hash(reader, t, key),
                                reader.name(t, key, "dial_class") if "dial_class" in t
                                else None, tuple(team for team, _ in its_teams)))
    return tuple(users)


_HOURS = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-4]):([0-5][0-9])\Z")
_PREFIX = re.compile(r"[0-9*#]{1,32}\Z")


def _dial_classes(reader, data, default_bar):
    """[[dial_classes]] by name; without any, the one built-in "default"."""
    classes = {}
    for t, key in reader.tables(data, "dial_classes", ("name", "bar", "allow", "hours", "days",
                                                       "max_concurrent", "max_daily")):
        name = reader.name(t, key)
        if name in classes:
            reader.fail(f"{key}.name", f"class {name!r} is declared twice")
        prefixes = {}
        for kind, default in (("bar", list(default_bar)), ("allow", [])):
            items = reader.strings(t, key, kind, [(p, None) for p in default],
                                   expected="a list of number prefixes such as \"011\"")
            for prefix, where in items:
                if where is not None and not _PREFIX.match(prefix):
                    reader.fail(where, f"{prefix!r} is not a number prefix (1 to 32 of "
                                "0-9, * and #)")
            prefixes[kind] = tuple(p for p, _ in items)
        hours = []
        for text, where in reader.strings(t, key, "hours", [], expected="a list of "
                                          "\"HH:MM-HH:MM\" spans such as \"08:00-20:00\""):
            m = _HOURS.match(text)
            start = int(m[1]) * 60 + int(m[2]) if m else 0
            end = int(m[3]) * 60 + int(m[4]) if m else 0
            if not m or end <= start or end > 24 * 60:
                reader.fail(where, f"{text!r} is not a span of the day \"HH:MM-HH:MM\" "
                            "(start before end, 00:00 to 24:00)")
            hours.append((start, end))
        days = set()
        for day, where in reader.strings(t, key, "days", [(d, None) for d in DAYS],
                                         expected=f"a list of days from {', '.join(DAYS)}"):
            if day not in DAYS:
                reader.fail(where, f"{day!r} is not a day ({', '.join(DAYS)})")
            days.add(DAYS.index(day))
        classes[name] = DialClass(
            name, bar=prefixes["bar"], allow=prefixes["allow"], hours=tuple(hours),
            days=frozenset(days),
            max_concurrent=reader.integer(t, key, "max_concurrent", None, 1),
            max_daily=reader.integer(t, key, "max_daily", None, 1))
    return classes or {"default": DialClass("default", bar=default_bar)}


def _dialing(reader, data, agents, users, flow):
    """[dialing] and [[dial_classes]]: every class named exists."""
    t = reader.table(data.get("dialing", {}), "dialing", (
        "numbering", "class", "callback_class", "teams", "flows", "emergency", "timezone",
        "site_max_concurrent", "site_max_daily", "alarm_refusals", "alarm_window_s"))
    numbering = reader.string(t, "dialing", "numbering", "nanp", choices=NUMBERING)
    classes = _dial_classes(reader, data, DEFAULT_BARS[numbering])
    names = sorted(classes)

    def known(name, where):
        if name not in classes:
            reader.fail(where, f"{name!r} is not a class of [[dial_classes]] (classes: "
                        f"{_listing(names)})")
        return name
    default = known(reader.string(t, "dialing", "class", "default" if "default" in classes
                                  else _REQUIRED, expected="a class of [[dial_classes]]"),
                    "dialing.class")
    callback = reader.string(t, "dialing", "callback_class", None,
                             expected="a class of [[dial_classes]]")
    if callback is not None:
        known(callback, "dialing.callback_class")
    maps = {}
    for kind in ("teams", "flows"):
        table = reader.table(t.get(kind, {}), f"dialing.{kind}", tuple(t.get(kind, {})))
        for name, value in table.items():
            where = f"dialing.{kind}.{name}"
            if not isinstance(value, str):
                reader.fail(where, f"expected a class name, got {_show(value)}")
            known(value, where)
        maps[kind] = dict(table)
    for name in maps["flows"]:
        if not (flow.flows_dir / f"{name}.toml").is_file():
            reader.fail(f"dialing.flows.{name}", f"no flow {name!r} (no file {name}.toml in "
                        f"{str(flow.flows_dir)!r})")
    teams = {a.team for a in agents if a.team}
    for team in maps["teams"]:
        if team not in teams:
            reader.fail(f"dialing.teams.{team}", f"no agent is in team {team!r} (teams: "
                        f"{_listing(sorted(teams))})")
    for i, who in enumerate(agents):
        if who.dial_class is not None:
            known(who.dial_class, f"agents[{i}].dial_class")
    for i, who in enumerate(users):
        if who.dial_class is not None:
            known(who.dial_class, f"users[{i}].dial_class")
    emergency = tuple(n for n, _ in reader.strings(
        t, "dialing", "emergency", [(n, None) for n in DEFAULT_EMERGENCY],
        expected="a list of emergency numbers such as \"911\""))
    zone = reader.string(t, "dialing", "timezone", None,
                         expected="an IANA time zone such as \"America/New_York\"")
    if zone is not None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            reader.fail("dialing.timezone", f"{zone!r} is not a time zone this machine "
                        "knows (an IANA name such as \"Europe/Paris\")")
    return DialingSettings(
        classes=classes, default_class=default, callback_class=callback,
        teams=maps["teams"], flows=maps["flows"], emergency=emergency, timezone=zone,
        site_max_concurrent=reader.integer(t, "dialing", "site_max_concurrent", None, 1),
        site_max_daily=reader.integer(t, "dialing", "site_max_daily", None, 1),
        alarm_refusals=reader.integer(t, "dialing", "alarm_refusals", 5, 1),
        alarm_window_s=reader.integer(t, "dialing", "alarm_window_s", 300, 1))


def _flow(reader, data, base, listen, users):
    from twisted.internet.endpoints import clientFromString

    t = reader.table(data.get("flow", {}), "flow", ("server", "user", "password",
                                                    "password_file", "flows_dir",
                                                    "prompts_dir", "hooks", "hooks_dir"))
    if "server" in t:
        server = reader.string(t, "flow", "server",
                               expected="a client endpoint such as "
                               "\"tcp:host=127.0.0.1:port=7500\"")
        server = client_paths(server, base)
        try:
            clientFromString(None, server)
        except Exception as e:  # noqa: BLE001 - any parse failure is a config error
            reader.fail("flow.server", f"{server!r} is not a Twisted client endpoint string "
                        f"such as \"tcp:host=127.0.0.1:port=7500\" ({e})")
    else:
        server = next(filter(None, map(client_endpoint, listen)), None)
        if server is None:
            reader.fail("flow.server", f"required: no client endpoint can be derived from "
                        f"server.listen {list(listen)!r} (for TLS, give the server's name "
                        "and CAs: \"tls:host=NAME:port=PORT:trustRoots=DIR\")")
    user = reader.name(t, "flow", "user") if "user" in t else None
    if user is not None:
        account = next((u for u in users if u.name == user), None)
        if account is None or "flow" not in account.roles:
            reader.fail("flow.user", f"{user!r} is not a user with the flow role (users "
                        "with the flow role: "
                        f"{_listing([u.name for u in users if 'flow' in u.roles])})")
    if "password" in t and "password_file" in t:
        reader.fail("flow.password_file", "give password or password_file, not both")
    password = reader.string(t, "flow", "password", None, expected="a password")
    password_file = reader.string(t, "flow", "password_file", None, expected="a file name")
    hooks = reader.strings(t, "flow", "hooks", [], expected="a list of Python module names")
    for module, key in hooks:
        if not all(part.isidentifier() for part in module.split(".")):
            reader.fail(key, f"{module!r} is not a Python module name (such as "
                        "\"crm_hooks\" or \"site.hooks\")")
    hooks_dir = reader.string(t, "flow", "hooks_dir", None, expected="a directory")
    if hooks_dir is not None and not _absolute(base, hooks_dir).is_dir():
        reader.fail("flow.hooks_dir", f"{str(_absolute(base, hooks_dir))!r} is not a directory")
    return FlowSettings(
        server=server, user=user, password=password,
        password_file=_absolute(base, password_file) if password_file else None,
        flows_dir=_absolute(base, reader.string(t, "flow", "flows_dir", "flows")),
        prompts_dir=_absolute(base, reader.string(t, "flow", "prompts_dir", "prompts")),
        config_path=reader.path, hooks=tuple(hooks),
        hooks_dir=_absolute(base, hooks_dir) if hooks_dir else None)
