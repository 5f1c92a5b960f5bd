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

    cti sim call TARGET [--ani N] [--dnis N] [--name NAME] [--mf | --dtmf] [--category C]
                        [--withheld]
    cti sim digits DEVICE DIGITS [--mf]
    cti sim tone DEVICE TONE              dial ringback busy reorder sit fax_cng fax_ced none
    cti sim play DEVICE FILE.wav          8 kHz mono WAV: PCM16, mu-law or A-law (sent
                                          in pieces, played back to back; up to 600 s)
    cti sim hangup DEVICE [--method loop_current_drop|polarity|busy_tone|silence]
                                          (a T1 loop-start timeslot: busy_tone|silence)
                   [--cause N]            an ISDN B-channel clears with a Q.850 cause (16)
    cti sim handset STATION lift|hangup|flash
    cti sim answer TARGET MODE [--rings N] [--cause N]
                                          how our calls out are answered there: answer
                                          busy no_answer sit fax no_dial_tone silence;
                                          ISDN: answer no_answer busy, refuse --cause N
    cti sim status DEVICE                 the far end's state, digits and tone heard
    cti sim alarm SPAN ALARM [--clear]    los red oof yellow blue remote_los
    cti sim errors SPAN [--bpv N] [--crc N] [--fas N] [--oof N] [--slips N] [--ais]
                   [--seconds S]          error events on the line, each second for S s
    cti sim ber SPAN RATE                 random bit errors (0 to 0.01; 0 stops them)
    cti sim far-line SPAN [--framing esf|d4 | --crc4|--no-crc4] [--ts16 cas|ccs]
                   [--coding b8zs|hdb3|ami] [--clock line|internal] [--ppm N]
                   [--variant itu|cn|mx|br|ar]
                                          the telco's line settings, the MFC/R2 variant of
                                          an E1 CAS span (a mismatch shows)
    cti sim hang VOICE [--always | --off] a voice resource's operations hang
    cti sim restart SPAN [--channel N]    the telco sends RESTART (an ISDN span's B-channel,
                                          or every one)
    cti sim dchannel SPAN on|off [--node network|cpe] [--switchtype T]
                                          the telco's D-channel falls silent, or comes
                                          back; its side and switch type
    cti sim block DEVICE [--off]          the telco blocks an MFC/R2 timeslot (once the
                                          call on it clears), or unblocks it
    cti sim script FILE.toml              a scripted scenario (cti.sim_script)

Each prints the server's answer (JSON with --json) and exits 0, or prints
the refusal and exits 2 (1 for a script whose expectation failed).
Connection options as `cti show` (cti.shell).
"""
import argparse
import json
import sys

from cti import shell
from cti.config import ConfigError
from cti.sim_audio import play, wav_pieces

#: command -> (service, how its arguments become the request's fields)
COMMANDS = {
    "call": ("SimCall", lambda a: {"target": a.target, "ani": a.ani, "dnis": a.dnis,
                                   "name": a.name, **({} if a.mf is None else {"mf": a.mf}),
                                   **({"category": a.category} if a.category else {}),
                                   **({"presentation": "restricted"} if a.withheld else {})}),
    "digits": ("SimDigits", lambda a: {"device": a.device, "digits": a.digits, "mf": a.mf}),
    "tone": ("SimTone", lambda a: {"device": a.device, "tone": a.tone}),
    "play": ("SimAudio", None),
    "hangup": ("SimHangup", lambda a: {"device": a.device,
                                       **({"method": a.method} if a.method else {}),
                                       **({"cause": a.cause} if a.cause is not None else {})}),
    "handset": ("SimHandset", lambda a: {"station": a.station, "action": a.action}),
    "answer": ("SimAnswerMode", lambda a: {"target": a.target, "mode": a.mode,
                                           "rings": a.rings,
                                           **({"cause": a.cause} if a.cause is not None
                                              else {})}),
    "restart": ("SimRestart", lambda a: {"span": a.span, **(
        {"channel": a.channel} if a.channel is not None else {})}),
    "dchannel": ("SimDChannel", lambda a: {"span": a.span, "on": a.state == "on", **{
        k: v for k, v in (("node", a.node), ("switchtype", a.switchtype)) if v}}),
    "status": ("SimStatus", lambda a: {"device": a.device}),
    "alarm": ("SimAlarm", lambda a: {"span": a.span, "alarm": a.alarm, "on": not a.clear}),
    "block": ("SimBlock", lambda a: {"device": a.device, "on": not a.off}),
    "hang": ("SimHang", lambda a: {"device": a.device, "always": a.always, "on": not a.off}),
    "errors": ("SimLineErrors", lambda a: {"span": a.span, "seconds": a.seconds, "errors": {
        k: v for k, v in (("bpv", a.bpv), ("crc", a.crc), ("fas", a.fas), ("oof", a.oof),
                          ("slips", a.slips), ("ais", a.ais)) if v}}),
    "ber": ("SimBitErrors", lambda a: {"span": a.span, "ber": a.rate}),
    "far-line": ("SimFarLine", lambda a: {"span": a.span, **{
        k: v for k, v in (("framing", a.framing), ("crc4", a.crc4), ("signalling", a.ts16),
                          ("coding", a.coding), ("clock", a.clock), ("ppm", a.ppm),
                          ("variant", a.variant))
        if v is not None}}),
}
def parser():
    top = argparse.ArgumentParser(prog="cti sim", description=__doc__.split("\n\n")[0])
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
    p.add_argument("--category", help="MFC/R2 (E1 CAS): the calling category, e.g. "
                   "national_priority (default national_subscriber)")
    p.add_argument("--withheld", action="store_true", help="ISDN: the calling number's "
                   "presentation restricted (the caller withheld it)")
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
                   "busy_tone or silence; T1 loop-start timeslots: busy_tone (default) or "
                   "silence")
    p.add_argument("--cause", type=int, help="ISDN: the Q.850 cause it clears with (16)")
    p = command("handset", "a station's handset: lift, hangup, flash")
    p.add_argument("station")
    p.add_argument("action")
    p = command("answer", "how the far end answers our calls out")
    p.add_argument("target", help="a trunk group, or one of its lines or timeslots")
    p.add_argument("mode")
    p.add_argument("--rings", type=int, default=2, help="rings before it answers (2)")
    p.add_argument("--cause", type=int, help="ISDN, mode refuse: the Q.850 cause (17 busy, "
                   "34 no circuit...)")
    p = command("status", "what a far end is doing and has heard")
    p.add_argument("device")
    p = command("alarm", "the carrier raises (or --clear) a span alarm")
    p.add_argument("span")
    p.add_argument("alarm")
    p.add_argument("--clear", action="store_true", help="clear the alarm")
    p = command("errors", "error events on a span's line, each second for --seconds")
    p.add_argument("span")
    for name in ("bpv", "crc", "fas", "oof", "slips"):
        p.add_argument(f"--{name}", type=int, default=0, help=f"{name} events per second")
    p.add_argument("--ais", action="store_true", help="AIS (all ones) during those seconds")
    p.add_argument("--seconds", type=int, default=1, help="how many seconds (1)")
    p = command("ber", "a random bit error rate on a span's line (0 stops it)")
    p.add_argument("span")
    p.add_argument("rate", type=float)
    p = command("far-line", "the telco's framing, line code, clock and R2 variant on a span")
    p.add_argument("span")
    p.add_argument("--framing", choices=("esf", "d4"), help="a T1's")
    p.add_argument("--crc4", action=argparse.BooleanOptionalAction, help="an E1's CRC-4")
    p.add_argument("--ts16", choices=("cas", "ccs"), help="an E1's timeslot 16")
    p.add_argument("--coding", choices=("b8zs", "hdb3", "ami"))
    p.add_argument("--clock", choices=("line", "internal"))
    p.add_argument("--ppm", type=float, help="its oscillator's offset from ours")
    p.add_argument("--variant", choices=("itu", "cn", "mx", "br", "ar"),
                   help="an E1 CAS span's MFC/R2 variant at the telco")
    p = command("hang", "a voice resource's next operation (or every one) hangs")
    p.add_argument("device")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--always", action="store_true", help="every operation, until --off")
    group.add_argument("--off", action="store_true", help="stop hanging")
    p = command("restart", "the telco restarts an ISDN span's B-channel, or all of them")
    p.add_argument("span")
    p.add_argument("--channel", type=int, help="the B-channel's Q.931 number (default: all)")
    p = command("dchannel", "an ISDN span's D-channel at the telco: off (silent) or on")
    p.add_argument("span")
    p.add_argument("state", choices=("on", "off"))
    p.add_argument("--node", choices=("network", "cpe"), help="the telco's side")
    p.add_argument("--switchtype", help="the telco's switch type")
    p = command("block", "the telco blocks an MFC/R2 timeslot (or --off: unblocks it)")
    p.add_argument("device", help="an E1 CAS timeslot of an R2 trunk group")
    p.add_argument("--off", action="store_true", help="unblock it")
    p = command("script", "run a scripted scenario (TOML)")
    p.add_argument("file")
    p.add_argument("--quiet", action="store_true", help="print only failures")
    return top


def main(argv=None):
    args = parser().parse_args(argv)
    from cti.protocol.blocking import RemoteError

    if args.command == "script":
        from cti.sim_script import run_file

        return run_file(args)
    service, fields = COMMANDS[args.command]
    try:
        request = fields(args) if fields else None
        if args.command == "play":
            wav_pieces(args.file)                 # a wrong file: said before connecting
        with shell.connect(args, client="cti-sim") as client:
            answer = play(client, args.device, args.file) if args.command == "play" \
                else client.call(service, **request)
    except (ConfigError, OSError, RemoteError, ValueError) as e:
        print(f"cti sim {args.command}: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(answer, sort_keys=True))
    else:
        print(" ".join(f"{k}={_text(v)}" for k, v in answer.items()))
    return 0


def _text(value):
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)
