# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_shell -*-
"""`cti sim`: play the simulated telephone company of a running server.

A `cti server` on the simulator (`driver = "sim"`) has no real telco
beyond its trunks and no person at its phones; these commands are them,
through the protocol's Sim* services (administrators only)::

    cti sim call pstn_in --ani 2125551234 --dnis 5550199   # a call on a free trunk
    cti sim digits dtiB1T1 1                               # the caller presses 1
    cti sim handset msiB1C5 lift                           # the agent's phone answered
    cti sim hangup dtiB1T1                                 # the caller hangs up

    cti sim call TARGET [--ani N] [--dnis N] [--name NAME] [--mf | --dtmf]
    cti sim digits DEVICE DIGITS [--mf]
    cti sim tone DEVICE TONE              dial ringback busy reorder sit fax_cng fax_ced none
    cti sim play DEVICE FILE.wav          8 kHz mono WAV: PCM16, mu-law or A-law
    cti sim hangup DEVICE [--method loop_current_drop|polarity|busy_tone|silence]
    cti sim handset STATION lift|hangup|flash
    cti sim answer TARGET MODE [--rings N] how our calls out are answered there:
                                          answer busy no_answer sit fax no_dial_tone silence
    cti sim status DEVICE                 the far end's state, digits and tone heard
    cti sim alarm SPAN ALARM [--clear]    los red oof yellow blue remote_los
    cti sim hang VOICE [--always | --off] a voice resource's operations hang
    cti sim script FILE.toml              a scripted scenario (cti.sim_script)

Each prints the server's answer (JSON with --json) and exits 0, or prints
the refusal and exits 2 (1 for a script whose expectation failed).
Connection options as `cti show` (cti.shell).
"""
import argparse
import base64
import json
import sys

from cti import shell
from cti.config import ConfigError

#: command -> (service, how its arguments become the request's fields)
COMMANDS = {
    "call": ("SimCall", lambda a: {"target": a.target, "ani": a.ani, "dnis": a.dnis,
                                   "name": a.name, **({} if a.mf is None else {"mf": a.mf})}),
    "digits": ("SimDigits", lambda a: {"device": a.device, "digits": a.digits, "mf": a.mf}),
    "tone": ("SimTone", lambda a: {"device": a.device, "tone": a.tone}),
    "play": ("SimAudio", lambda a: {"device": a.device, "wav": _wav(a.file)}),
    "hangup": ("SimHangup", lambda a: {"device": a.device,
                                       **({"method": a.method} if a.method else {})}),
    "handset": ("SimHandset", lambda a: {"station": a.station, "action": a.action}),
    "answer": ("SimAnswerMode", lambda a: {"target": a.target, "mode": a.mode,
                                           "rings": a.rings}),
    "status": ("SimStatus", lambda a: {"device": a.device}),
    "alarm": ("SimAlarm", lambda a: {"span": a.span, "alarm": a.alarm, "on": not a.clear}),
    "hang": ("SimHang", lambda a: {"device": a.device, "always": a.always, "on": not a.off}),
}


def _wav(path):
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode("ascii")


def parser():
    top = argparse.ArgumentParser(prog="cti sim", description=__doc__.split("\n")[0])
    sub = top.add_subparsers(dest="command", required=True)

    def command(name, help_text):
        p = sub.add_parser(name, help=help_text)
        shell.add_arguments(p, roles=("admin",))
        p.add_argument("--json", action="store_true", help="print the answer as JSON")
        return p

    p = command("call", "the telco calls in on a trunk group, line or timeslot")
    p.add_argument("target", help="a trunk group, or one of its lines or timeslots")
    p.add_argument("--ani", default="", help="the caller's number")
    p.add_argument("--dnis", default="", help="the number called (T1)")
    p.add_argument("--name", default="", help="the caller's name (analog caller ID)")
    p.add_argument("--mf", action="store_const", const=True, default=None,
                   help="E&M address in MF (default: as the trunk group's `address`)")
    p.add_argument("--dtmf", dest="mf", action="store_const", const=False,
                   help="E&M address in DTMF")
    p = command("digits", "a far end sends digits")
    p.add_argument("device")
    p.add_argument("digits")
    p.add_argument("--mf", action="store_true", help="MF instead of DTMF")
    p = command("tone", "a far end sends a tone")
    p.add_argument("device")
    p.add_argument("tone")
    p = command("play", "a far end sends the audio of a WAV file")
    p.add_argument("device")
    p.add_argument("file")
    p = command("hangup", "a far end hangs up")
    p.add_argument("device")
    p.add_argument("--method", help="analog lines: loop_current_drop (default), polarity, "
                   "busy_tone or silence")
    p = command("handset", "a station's handset: lift, hangup, flash")
    p.add_argument("station")
    p.add_argument("action")
    p = command("answer", "how the far end answers our calls out")
    p.add_argument("target", help="a trunk group, or one of its lines or timeslots")
    p.add_argument("mode")
    p.add_argument("--rings", type=int, default=2, help="rings before it answers (2)")
    p = command("status", "what a far end is doing and has heard")
    p.add_argument("device")
    p = command("alarm", "the carrier raises (or --clear) a span alarm")
    p.add_argument("span")
    p.add_argument("alarm")
    p.add_argument("--clear", action="store_true", help="clear the alarm")
    p = command("hang", "a voice resource's next operation (or every one) hangs")
    p.add_argument("device")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--always", action="store_true", help="every operation, until --off")
    group.add_argument("--off", action="store_true", help="stop hanging")
    p = command("script", "run a scripted scenario (TOML)")
    p.add_argument("file")
    p.add_argument("--quiet", action="store_true", help="print only failures")
    return top


def main(argv=None):
    args = parser().parse_args(argv)
    from cti.protocol.client import RemoteError

    if args.command == "script":
        from cti.sim_script import run_file

        return run_file(args)
    service, fields = COMMANDS[args.command]
    try:
        request = fields(args)
        with shell.connect(args, client="cti-sim") as client:
            answer = client.call(service, **request)
    except (ConfigError, OSError, RemoteError) as e:
        print(f"cti sim {args.command}: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(answer, sort_keys=True))
    else:
        print(" ".join(f"{k}={_text(v)}" for k, v in answer.items()))
    return 0


def _text(value):
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)
