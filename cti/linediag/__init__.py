# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_linediag -*-
"""linediag: what a technician asks of the boards.

    linediag scan [--json]              every board, span, channel, station, voice
                                        and conference resource: state, hook,
                                        alarms, a plain verdict per span
    linediag bus [--json] [--all]       the CT-Bus map: who transmits on which
                                        timeslot, who hears what, and why
    linediag spans [SPAN] [--json]      line settings, alarms now, alarm history
                                        with raised and cleared times and durations
    linediag counters [SPAN] [--intervals N] [--json]
                                        T1.231 performance: ES, SES, SEFS, UAS,
                                        CSS, LES, BES, CV-L, CV-P in 15-minute
                                        intervals and the 24-hour total
    linediag bits [SPAN] [--json]       live A/B bits per timeslot, with their
                                        meaning for the span's signalling
    linediag loopback SPAN MODE         loop at our side: line, payload, local, none
    linediag loopcode SPAN CODE         loop the far end: line_up, line_down,
                                        payload_up, payload_down (ESF)
    linediag bert DEVICE [--pattern P] [--seconds S] [--follow]
                                        a BERT on a span or timeslot (qrss,
                                        2^15-1, 2^20-1, all_ones); --follow prints
                                        its results each second until it ends
    linediag bert DEVICE --results | --stop
    linediag watch [SPAN] [--every S]   spans, counters and bits, refreshed (Ctrl-C)
    linediag trace DCHANNEL --output FILE [--seconds S]
                                        every frame of an ISDN D-channel (dtiB1D),
                                        both ways, to a pcap file that tshark and
                                        Wireshark decode as Q.931 (until Ctrl-C, or
                                        for S seconds)
    linediag doctor [--json]            the configuration held against what the
                                        spans show: each finding with its evidence
                                        and the fix

By default it asks the running server (the admin role, through the
protocol: connection options as `cti show`, cti.shell; they may come
before or after the command), so it sees the boards as the server drives
them, calls and all, and the counters the server keeps.  `--offline`
opens the boards itself instead (with the simulator, a simulated chassis
of its own built from `-c`, a server configuration or a boards file): a
bench with no server, for `scan` and `bus`.  Readable tables by default,
one JSON document with --json.  Exit status 0, or 2 with one line saying
what was wrong.
"""
import argparse
import json
import shutil
import sys
import time

from cti import config, shell
from cti.linediag import render
from cti.linediag.source import Attached, NeedsServer, Offline
from cti.server.lines.performance import INTERVALS_KEPT
from cti.server.maintenance.linetests import BERT_DEFAULT_S
from cti.server.maintenance.scan import verdict
from drivers.interface import BERT_PATTERNS, LOOP_CODES, LOOPBACKS
from drivers.lapdpcap import LapdPcap

#: A trace waits for frames this long at a time (Ctrl-C is taken between).
TRACE_WAIT_S = 1.0
#: The fastest `linediag watch` refreshes, and the slowest (each refresh
#: is a request: slower, the server would take the session for dead).
WATCH_EVERY_S = (0.2, 20.0)

__all__ = ["main", "verdict"]


def _common(parser, suppress):
    """Connection options and --offline: on the top parser with their
    defaults, and on each command without (so that they may come before
    or after the command)."""
    shell.add_arguments(parser, roles=("admin",), suppress=suppress)
    parser.add_argument("--offline", action="store_true",
                        default=argparse.SUPPRESS if suppress else False,
                        help="open the boards of -c here instead of asking the running server")


def parser():
    top = argparse.ArgumentParser(prog="linediag", description=__doc__.split("\n\n")[0])
    _common(top, suppress=False)
    sub = top.add_subparsers(dest="command", required=True)

    def command(name, help_text, json_too=True):
        p = sub.add_parser(name, help=help_text)
        _common(p, suppress=True)
        if json_too:
            p.add_argument("--json", action="store_true", help="one JSON document")
        return p

    command("scan", "boards, spans, channels, stations, resources")
    p = command("bus", "the CT-Bus timeslot map")
    p.add_argument("--all", action="store_true", help="also endpoints that hear nothing")
    p = command("spans", "line settings, alarms and their history")
    p.add_argument("span", nargs="?")
    p = command("counters", "performance: errored, severely errored, unavailable seconds")
    p.add_argument("span", nargs="?")
    p.add_argument("--intervals", type=_between(0, INTERVALS_KEPT, int), default=4,
                   help=f"completed 15-minute intervals shown (default 4, up to "
                   f"{INTERVALS_KEPT})")
    p = command("bits", "A/B signalling bits per timeslot, with their meaning")
    p.add_argument("span", nargs="?")
    p = command("loopback", "loop the span at our side")
    p.add_argument("span")
    p.add_argument("mode", choices=LOOPBACKS)
    p = command("loopcode", "send a loop-up or loop-down code to the far end")
    p.add_argument("span")
    p.add_argument("code", choices=LOOP_CODES)
    p = command("bert", "a bit error rate test on a span or timeslot")
    p.add_argument("device")
    p.add_argument("--pattern", default=BERT_PATTERNS[0], choices=BERT_PATTERNS)
    p.add_argument("--seconds", type=int, default=BERT_DEFAULT_S,
                   help=f"how long it runs (default {BERT_DEFAULT_S})")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--follow", action="store_true",
                     help="print the results each second until it ends")
    how.add_argument("--results", action="store_true", help="the results of the last one")
    how.add_argument("--stop", action="store_true", help="stop the running one")
    p = command("watch", "spans, counters and bits, refreshed", json_too=False)
    p.add_argument("span", nargs="?")
    p.add_argument("--every", type=_between(*WATCH_EVERY_S, float), default=1.0,
                   help=f"seconds between refreshes ({WATCH_EVERY_S[0]:g} to "
                   f"{WATCH_EVERY_S[1]:g}; default 1)")
    p = command("trace", "an ISDN D-channel's frames to a pcap file (Q.931)")
    p.add_argument("device", help="the D-channel: dtiB1D")
    p.add_argument("--output", "-o", required=True, help="the pcap file to write")
    p.add_argument("--seconds", type=_between(0.1, 86_400.0, float),
                   help="stop after this long (default: at Ctrl-C)")
    command("doctor", "the configuration held against what the spans show")
    return top


def _between(low, high, kind):
    """An argparse type: a number of `kind` from low to high."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is not {low:g} to {high:g}")
        return value
    return parse


def main(argv=None):
    args = parser().parse_args(argv)
    from cti.protocol.blocking import ConnectionClosed, RemoteError

    try:
        source = Offline.open(args.config) if args.offline else Attached.connect(args)
    except config.ConfigError as e:
        print(f"linediag: {e}", file=sys.stderr)
        return 2
    except RemoteError as e:
        print(f"linediag: the server refused the login: {e}", file=sys.stderr)
        return 2
    except (OSError, ConnectionClosed) as e:
        print(f"linediag: cannot reach the server: {e} (--offline opens the boards here)",
              file=sys.stderr)
        return 2
    except Exception as e:  # offline: a driver or simulator error, said plainly
        print(f"linediag: cannot open the boards: {e}", file=sys.stderr)
        return 2
    with source:
        try:
            return run(args, source)
        except (RemoteError, NeedsServer, config.ConfigError) as e:
            print(f"linediag {args.command}: {e}", file=sys.stderr)
            return 2
        except (ConnectionClosed, OSError) as e:
            print(f"linediag {args.command}: the connection ended: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            return 0


def run(args, source, out=None, sleep=time.sleep, now=time.monotonic):
    out = out or sys.stdout
    command = args.command
    if command == "scan":
        rows = source.line_status()
        return _out(args, out, {"devices": rows}, render.render_scan(rows))
    if command == "bus":
        dump = source.bus_map()
        return _out(args, out, dump, render.render_bus(dump, args.all))
    if command in ("spans", "counters", "bits"):
        reports = source.span_reports(args.span,
                                      args.intervals if command == "counters" else 0)
        text = {"spans": render.render_spans,
                "bits": render.render_bits}.get(command)
        text = text(reports) if text else render.render_counters(reports, args.intervals)
        return _out(args, out, {"spans": reports}, text)
    if command == "loopback":
        answer = source.loopback(args.span, args.mode)
        return _out(args, out, answer, f"{args.span}: loopback {args.mode}"
                    + (" (its channels out of service until `none`)\n"
                       if args.mode != "none" else " (its channels back in service)\n"))
    if command == "loopcode":
        answer = source.loop_code(args.span, args.code)
        return _out(args, out, answer, f"{args.span}: sending {args.code}"
                    + (" (the far end latches after 5 s of code; its channels out of "
                       "service until line_down)\n" if args.code.endswith("_up") else "\n"))
    if command == "bert":
        return _bert(args, source, out, sleep)
    if command == "watch":
        return _watch(args, source, out, sleep)
    if command == "doctor":
        return _doctor(args, source, out)
    if command == "trace":
        return _trace(args, source, out, now)
    raise AssertionError(command)


def _out(args, out, document, text):
    out.write(json.dumps(document, indent=2) + "\n" if getattr(args, "json", False) else text)
    return 0


def _bert(args, source, out, sleep):
    if args.results:
        answer = source.bert_results(args.device)
        return _out(args, out, answer, render.render_bert(answer))
    if args.stop:
        answer = source.bert_stop(args.device)
        return _out(args, out, answer, render.render_bert(answer))
    answer = source.bert_start(args.device, args.pattern, args.seconds)
    if not args.follow:
        return _out(args, out, answer, render.render_bert(answer) + (
            f"  (linediag bert {args.device} --results reads it; --stop ends it)\n"))
    try:
        while answer["running"]:
            if not args.json:
                out.write(render.render_bert(answer))
                out.flush()
            sleep(1.0)
            answer = source.bert_results(args.device)
    except KeyboardInterrupt:
        answer = source.bert_stop(args.device)
    return _out(args, out, answer, render.render_bert(answer))


def _watch(args, source, out, sleep, size=shutil.get_terminal_size):
    """Refresh spans, counters and bits every `--every` seconds, as
    dahdi_tool does, until Ctrl-C: one screen fitted to the terminal's
    `size()` at each refresh (render.render_watch), the state on top."""
    while True:
        reports = source.span_reports(args.span)
        width, height = size()
        title = f"linediag watch  {render.clock_time(time.time())}  (every {args.every:g} s)"
        out.write("\x1b[H\x1b[2J" if out.isatty() else "")
        out.write("\n".join(render.render_watch(reports, title, width, height)) + "\n")
        out.flush()
        sleep(args.every)


def _trace(args, source, out, now):
    """D-channel frames, as the server sends them (DChannelFrame), to a
    pcap of link type 177 (drivers.lapdpcap), until Ctrl-C or --seconds."""
    try:
        pcap = LapdPcap(args.output, we_network=False)
    except OSError as e:
        raise config.ConfigError(args.output, "--output", f"cannot write it: {e.strerror}") \
            from None
    try:
        answer = source.trace_start(args.device)
    except BaseException:
        pcap.close()
        raise
    pcap.we_network = answer["weNetwork"]        # which way a frame went, in the pcap
    frames = 0
    if not args.json:
        out.write(f"tracing {args.device} (D-channel {answer['state']}) to {args.output}"
                  + ("; Ctrl-C ends it\n" if args.seconds is None else "\n"))
        out.flush()
    deadline = None if args.seconds is None else now() + args.seconds
    try:
        while deadline is None or now() < deadline:
            wait = TRACE_WAIT_S if deadline is None else min(TRACE_WAIT_S, deadline - now())
            body = source.next_frame(max(wait, 0.0))
            if body is not None:
                pcap.frame(bytes.fromhex(body["frame"]), body["direction"] == "sent",
                           at=body["at"])
                frames += 1
    except KeyboardInterrupt:
        pass
    finally:
        pcap.close()
        source.trace_stop(args.device)
    return _out(args, out, {"device": args.device, "frames": frames, "output": args.output},
                f"{frames} frames written to {args.output} (read them: tshark -r "
                f"{args.output} -Y q931 -V)\n")


def _doctor(args, source, out):
    """The server runs the doctor on its own configuration and spans."""
    answer = source.diagnose()
    return _out(args, out, answer, render.render_findings(
        answer["findings"], [(s["rule"], s["reason"]) for s in answer["skipped"]]))
