# SPDX-License-Identifier: GPL-2.0-or-later
"""The Sim* services: the simulated telephone company played through the
protocol (cti.server.simulation.telco), for administrators only.

    SimCall        the telco calls in on a trunk group, line or timeslot
    SimDigits      a far end sends DTMF or MF digits
    SimTone        a far end sends a tone
    SimAudio       a far end sends the audio of a WAV file
    SimHangup      a far end hangs up (analog lines: by a supervision method)
    SimHandset     a station's handset lifted, put down, flashed
    SimAnswerMode  how the far end answers our calls out
    SimStatus      what a far end is doing and has heard
    SimAlarm       the carrier raises or clears a span alarm
    SimLineErrors  error events on a span's line, second by second
    SimBitErrors   a random bit error rate on a span's line
    SimFarLine     the telco's framing, line code and clock on a span
    SimHang        a voice resource's operations hang
    SimRestart     the telco restarts a B-channel, or an ISDN span's channels
    SimDChannel    the telco's D-channel on an ISDN span: silent or back, its side
    SimBlock       the telco blocks an MFC/R2 timeslot, or unblocks it
"""
from cti.protocol.bodies import MAX_STRING
from cti.protocol.services import Field, Service
from cti.server.config import PRESENTATIONS
from cti.server.edge import serve
from cti.server.simulation.telco import (
    ALARMS,
    ALL_CODINGS,
    ANSWER_MODES,
    CLOCKS,
    FRAMINGS,
    HANDSET_ACTIONS,
    HANGUP_METHODS,
    TONES,
    TS16_USES,
)
from drivers.pri import NODES as PRI_NODES
from drivers.pri import SWITCH_TYPES
from drivers.r2 import VARIANTS as R2_VARIANTS

ADMIN = frozenset({"admin"})
#: Every Sim* service may be refused so, besides its own errors.
REFUSED = ("no_simulator", "no_such_object", "invalid_state")
DEVICE = {"device": Field(str, doc="the far end's device: a line, timeslot or station")}


def _service(name, fields, errors=REFUSED):
    return Service(name, ADMIN, fields=fields, errors=errors)


SPAN = {"span": Field(str, doc="a T1 span")}
ISDN = {"span": Field(str, doc="an ISDN span (T1 PRI, E1 CCS)")}
#: The Sim* services, by name: what the server checks a request against,
#: and what `cti sim script` checks each step against as it loads a script.
SERVICES = {s.name: s for s in (
    _service("SimCall", {
        "target": Field(str, doc="a trunk group, or one line or timeslot of one"),
        "ani": Field(str, False, "", doc="the caller's number"),
        "dnis": Field(str, False, "", doc="the number called (T1 E&M)"),
        "name": Field(str, False, "", doc="the caller's name (analog caller ID)"),
        "mf": Field(bool, False, doc="E&M address in MF (default: the group's address)"),
        "category": Field(str, False, doc="MFC/R2 (E1 CAS): the calling category "
                          "(national_subscriber unless told)"),
        "presentation": Field(str, False, choices=PRESENTATIONS,
                              doc="ISDN: the calling number's presentation (allowed unless "
                              "told; restricted: the caller withheld it)")}),
    _service("SimDigits", {**DEVICE, "digits": Field(str), "mf": Field(bool, False, False)}),
    _service("SimTone", {**DEVICE, "tone": Field(str, choices=TONES)}),
    _service("SimAudio", {**DEVICE, "wav": Field(str, doc="a WAV file, base64",
                                                 max_len=MAX_STRING)}),
    _service("SimHangup", {**DEVICE, "method": Field(str, False, choices=HANGUP_METHODS),
                           "cause": Field(int, False, doc="ISDN: the Q.850 cause (16)")}),
    _service("SimHandset", {"station": Field(str),
                            "action": Field(str, choices=HANDSET_ACTIONS)}),
    _service("SimAnswerMode", {"target": Field(str), "mode": Field(str, choices=ANSWER_MODES),
                               "rings": Field(int, False, 2),
                               "cause": Field(int, False,
                                              doc="ISDN: refuse with this cause")}),
    _service("SimStatus", DEVICE, errors=("no_simulator", "no_such_object")),
    _service("SimAlarm", {"span": Field(str), "alarm": Field(str, choices=ALARMS),
                          "on": Field(bool, False, True)}),
    _service("SimLineErrors", {**SPAN, "errors": Field(dict, doc="bpv, crc, fas, oof, slips: "
                                                       "counts; ais: a boolean"),
                               "seconds": Field(int, False, 1)}),
    _service("SimBitErrors", {**SPAN, "ber": Field(float)}),
    _service("SimFarLine", {**SPAN, "framing": Field(str, False, choices=FRAMINGS),
                            "crc4": Field(bool, False),
                            "signalling": Field(str, False, choices=TS16_USES),
                            "coding": Field(str, False, choices=ALL_CODINGS),
                            "clock": Field(str, False, choices=CLOCKS),
                            "ppm": Field(float, False),
                            "variant": Field(str, False, choices=R2_VARIANTS,
                                             doc="E1 CAS: the MFC/R2 variant of its timeslots")}),
    _service("SimHang", {"device": Field(str, doc="a voice resource"),
                         "always": Field(bool, False, False), "on": Field(bool, False, True)}),
    _service("SimRestart", {**ISDN, "channel": Field(int, False, doc="a B-channel's Q.931 "
                                                     "number; none: every one")}),
    _service("SimDChannel", {**ISDN, "on": Field(bool, False, True),
                             "node": Field(str, False, choices=PRI_NODES),
                             "switchtype": Field(str, False, choices=SWITCH_TYPES)}),
    _service("SimBlock", {"device": Field(str, doc="an MFC/R2 (E1 CAS) timeslot"),
                          "on": Field(bool, False, True)}),
)}


def register(hub, telco):
    methods = {
        "SimCall": lambda who, p: telco.call(who, p["target"], p["ani"], p["dnis"], p["name"],
                                             p["mf"], p["category"], p["presentation"]),
        "SimDigits": lambda who, p: telco.digits(who, p["device"], p["digits"], p["mf"]),
        "SimTone": lambda who, p: telco.tone(who, p["device"], p["tone"]),
        "SimAudio": lambda who, p: telco.audio(who, p["device"], p["wav"]),
        "SimHangup": lambda who, p: telco.hangup(who, p["device"], p["method"], p["cause"]),
        "SimHandset": lambda who, p: telco.handset(who, p["station"], p["action"]),
        "SimAnswerMode": lambda who, p: telco.answer_mode(who, p["target"], p["mode"],
                                                          p["rings"], p["cause"]),
        "SimStatus": lambda who, p: telco.status(p["device"]),
        "SimAlarm": lambda who, p: telco.alarm(who, p["span"], p["alarm"], p["on"]),
        "SimLineErrors": lambda who, p: telco.line_errors(who, p["span"], p["errors"],
                                                          p["seconds"]),
        "SimBitErrors": lambda who, p: telco.bit_error_rate(who, p["span"], p["ber"]),
        "SimFarLine": lambda who, p: telco.far_line(who, p["span"], p["framing"], p["coding"],
                                                    p["clock"], p["ppm"], p["crc4"],
                                                    p["signalling"], p["variant"]),
        "SimHang": lambda who, p: telco.hang(who, p["device"], p["always"], p["on"]),
        "SimRestart": lambda who, p: telco.restart(who, p["span"], p["channel"]),
        "SimDChannel": lambda who, p: telco.dchannel(who, p["span"], p["on"], p["node"],
                                                     p["switchtype"]),
        "SimBlock": lambda who, p: telco.block(who, p["device"], p["on"]),
    }
    for name, service in SERVICES.items():
        hub.catalogue.add(service, serve(methods[name]))
