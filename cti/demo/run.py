# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_demo -*-
"""`cti demo`: one run of the simulated call centre, from start to summary.

`Demo` brings the three tiers up in one process, on the simulated boards
and the wall clock: a record store, the CT server listening on a free
local port, the flow tier and the bot agents connected to it over TCP,
then the Poisson callers (simulators.callcentre).  It lets them run
`--duration` seconds and takes everything down again, once, whatever
ends it:

    run():  start ... wait the duration ... reactor.stop()
    Ctrl-C, SIGTERM:                        reactor.stop()
    the reactor's shutdown (a "before" trigger):  stop()
        stop():  the calls up are noted (cleared at end), the view and the
                 traffic stop (the callers hang up: their CDRs), the CT
                 server stops (clearing any call still up), the record
                 store flushes and stops; the summary

A signal only stops the reactor (the demo's own handlers, not
Twisted's, so a second Ctrl-C during the shutdown changes nothing): the
summary is the same whether the duration ran out or a person pressed
Ctrl-C, and a start-up cut short by Ctrl-C is no error.

Each run has a directory of its own, never the server's: by default a
new one under the configuration's `var_dir` (`var/demo/20250611-143005`),
made with its parents, or `--run-dir`, new or empty.  The demo's
database (SQLite), its journal, its recordings, the agents' file and its
log (`cti-demo.log`, JSON lines at the configuration's `log_level`) are
there, to look at afterwards; nothing of the server's `var/` (nor its
`database`, which may be a PostgreSQL server) is touched.  Warnings and
errors in the log (the record store's alarms, records not saved) are
also printed as they come, one line each on standard error, and counted
in the summary.
"""
import itertools
import json
import signal
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from twisted.internet import defer, task
from twisted.logger import (
    FilteringLogObserver,
    Logger,
    LogLevel,
    LogLevelFilterPredicate,
    formatEvent,
    globalLogBeginner,
    jsonFileLogObserver,
)
from twisted.python.failure import Failure

from cti import logs
from cti.config import ConfigError
from cti.demo import DEFAULT_DURATION_S, DEFAULT_RATE, attach
from cti.demo.summary import counted, report, summary
from cti.storage.models import CallRecord
from cti.storage.sink import Forwarding

#: The run directories go here, under the configuration's var_dir.
RUNS_DIR = "demo"
LOG_NAME = "cti-demo.log"
#: Where the CT server listens: a port the system picks, on this machine only.
LISTEN = "tcp:0:interface=127.0.0.1"
#: At the end the callers hang up; their calls have this long to clear
#: before the CT server stops and clears the rest.
HANG_UP_S = 2.0

log = Logger()


class DemoError(Exception):
    """A demo that cannot start as asked (the message says why)."""


@dataclass(frozen=True)
class Options:
    """What is asked of one run: `duration` (s) and `rate` (calls a
    minute) of the callers, the `seed` of their randomness, the agent left
    to a person (`human`, an id: no bot logs it in), whether to draw the
    `live` view."""

    duration: float = DEFAULT_DURATION_S
    rate: float = DEFAULT_RATE
    seed: int = 1
    human: str | None = None
    live: bool = False


class Tee(Forwarding):
    """Records to the store, and CDRs kept for the summary."""

    def __init__(self, store):
        super().__init__(store)
        self.cdrs = []

    def add(self, record):
        if isinstance(record, CallRecord):
            self.cdrs.append(record)
        super().add(record)


def run_directory(var_dir, now, given=None):
    """This run's directory: `given` (made if missing; it must be empty),
    else a new one named for the time `now` under `var_dir`/demo, its
    parents made (`var/` too, on a first run)."""
    if given is not None:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        if any(path.iterdir()):
            raise DemoError(f"{path} is not empty: a run directory must be new")
        return path
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    for n in itertools.count(1):
        path = Path(var_dir) / RUNS_DIR / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue


def in_run_directory(config, run_dir):
    """The configuration with everything the server keeps moved into
    `run_dir`: its var_dir (recordings, journal, the agents' file) and its
    database, a SQLite file there."""
    from cti.storage.store import default_url

    return replace(config, var_dir=run_dir, database=default_url(run_dir))


class Warnings:
    """A log observer: each event it is given, as one line to `stream`
    (``cti demo: warning: ...``), kept in `lines` for the summary."""

    def __init__(self, stream):
        self.stream = stream
        self.lines = []

    def __call__(self, event):
        text = formatEvent(event)
        failure = event.get("log_failure")
        if failure is not None:
            text += f": {failure.getErrorMessage()}"
        self.lines.append(text)
        print(f"cti demo: {event['log_level'].name}: {text}", file=self.stream, flush=True)


def log_observers(log_file, level, warnings):
    """Every event at `level` and above to `log_file` (JSON lines);
    warnings and above to `warnings` (a `Warnings`) too."""
    return [FilteringLogObserver(jsonFileLogObserver(log_file),
                                 [LogLevelFilterPredicate(defaultLogLevel=level)]),
            FilteringLogObserver(warnings,
                                 [LogLevelFilterPredicate(defaultLogLevel=LogLevel.warn)])]


def begin_logging(run_dir, level, warnings):
    """The process's log: `log_observers` on the run's log file."""
    logs.set_level(level)
    log_file = open(run_dir / LOG_NAME, "a", encoding="utf-8")  # noqa: SIM115 - the run's life
    globalLogBeginner.beginLoggingTo(log_observers(log_file, level, warnings),
                                     redirectStandardIO=False)


class Demo:
    """One run of the `options` (`Options`) on `config` (in its run
    directory: `in_run_directory`); `say(line)` tells the person what
    goes on."""

    def __init__(self, reactor, config, settings, flows, options, say, warnings):
        from cti.server.app import CTServer
        from cti.storage.store import RecordStore

        self.reactor = reactor
        self.config = config
        self.settings = settings
        self.flows = flows
        self.options = options
        self.say = say
        self.warnings = warnings        # a Warnings: the log's, for the summary
        self.store = RecordStore(config.database, reactor, var_dir=config.var_dir,
                                 db_timeout_s=config.faults.db_timeout_s)
        self.records = Tee(self.store)
        self.server = CTServer(config, reactor=reactor, records=self.records, listen=[LISTEN],
                               http="", drain_s=0, freeze_heap=True)
        self.traffic = None
        self.view = None
        self.step = None            # what run() waits for: the start, then the duration
        self.began = None           # when the callers started
        self.ending = False         # the reactor was asked to stop
        self.stopped = False        # stop() has begun
        self.interrupted = False
        self.failure = None         # why the demo could not run
        self.result = None          # the summary, once stopped

    @defer.inlineCallbacks
    def run(self):
        """Start, let the callers call for the duration, stop the reactor."""
        try:
            self.step = self.start()
            yield self.step
            self.step = task.deferLater(self.reactor, self.options.duration, lambda: None)
            yield self.step
        except Exception:
            if not self.stopped:            # not an interrupted start or wait
                self.failure = Failure()
                log.failure("could not run", self.failure)
        self.end()

    def interrupt(self):
        """Ctrl-C or SIGTERM: end now, with the summary."""
        if not self.ending:
            self.interrupted = True
            self.say("interrupted: ending the demo")
        self.end()

    def end(self):
        """Stop the reactor, once; its shutdown runs `stop`."""
        if not self.ending:
            self.ending = True
            self.reactor.stop()

    @defer.inlineCallbacks
    def start(self):
        from cti.flow.tier import FlowTier
        from cti.protocol.client import connect
        from simulators.callcentre import Profile, Traffic

        self.store.startService()
        self.server.startService()
        [(_, port)] = yield self.server.listening.ready
        port = port.getHost().port
        for line in attach.lines(self.config, port, self.options.human, attach.program()):
            self.say(line)
        dial = f"tcp:host=127.0.0.1:port={port}"
        flow_client = yield connect(self.reactor, dial)
        yield flow_client.login(self.settings.user, self.settings.read_password(), "flow",
                                client="demo")
        yield FlowTier.from_settings(flow_client, self.flows, self.settings.prompts_dir,
                                     self.reactor).register()
        bots = [(a.id, a.station) for a in self.config.agents
                if a.station and a.id != self.options.human]
        for station in attach.headsets(self.config, self.options.human):
            self.server.sim.endpoint(station).offhook()
        self.traffic = Traffic(self.reactor, self.server.sim, self.server.center,
                               lambda: connect(self.reactor, dial),
                               Profile(calls_per_minute=self.options.rate,
                                       seed=self.options.seed), agents=bots)
        yield self.traffic.start_agents()
        self.began = self.reactor.seconds()
        self.traffic.start_callers()
        self.say(f"{len(bots)} bot agents ready; callers arrive, {self.options.rate:g} a minute, "
                 f"for {self.options.duration:g} s (Ctrl-C ends it sooner, with the summary)")
        if self.options.live:
            from cti.demo.view import LiveView

            self.view = LiveView(self.server.center, self.reactor)
            self.view.start()

    @defer.inlineCallbacks
    def stop(self):
        """Take everything down and make the summary (`result`); the calls
        up now are counted as cleared at the end."""
        self.stopped = True
        if self.step is not None:
            self.step.cancel()              # an interrupted start or wait: no error
        in_progress = frozenset(self.server.center.calls)
        ended = self.reactor.seconds()
        try:
            if self.view is not None:
                self.view.stop()
            if self.traffic is not None:
                self.traffic.stop()         # the callers hang up...
                yield self._calls_ended(HANG_UP_S)
            if self.server.running:         # ...and it clears what remains
                yield self.server.stopService()
            if self.store.running:
                yield self.store.stopService()
        except Exception:
            self.failure = Failure()
            log.failure("could not stop", self.failure)
            return
        self.result = {
            "duration_s": self.options.duration, "calls_per_minute": self.options.rate,
            "ran_s": 0.0 if self.began is None else round(ended - self.began, 1),
            "interrupted": self.interrupted,
            **summary(self.records.cdrs, self.config, in_progress),
            "run_dir": str(self.config.var_dir), "unsaved": self.store.unsaved,
            "warnings": list(self.warnings.lines)}

    @defer.inlineCallbacks
    def _calls_ended(self, within_s):
        """Wait until no call is up, for at most `within_s`."""
        deadline = self.reactor.seconds() + within_s
        while self.server.center.calls and self.reactor.seconds() < deadline:
            yield task.deferLater(self.reactor, 0.1, lambda: None)


def prepare(args, now):
    """(config, settings, flows, run directory) for `args`, or DemoError /
    ConfigError saying why not."""
    from cti.flow.run import load

    config, settings, flows = load(args.config)
    if args.human is not None and args.human not in {a.id for a in config.agents
                                                     if a.station}:
        raise DemoError(f"--human {args.human}: no agent of {args.config} has that id and a "
                        "station (the demo's agents: "
                        + ", ".join(a.id for a in config.agents if a.station) + ")")
    run_dir = run_directory(config.var_dir, now, args.run_dir)
    return in_run_directory(config, run_dir), settings, flows, run_dir


def main(args):
    from twisted.internet import reactor

    try:
        config, settings, flows, run_dir = prepare(args, time.time())
    except (ConfigError, DemoError) as e:
        print(f"cti demo: {e}", file=sys.stderr)
        return 2
    out = sys.stderr if args.json else sys.stdout   # --json: stdout is the summary's

    def say(line):
        print(line, file=out, flush=True)

    warnings = Warnings(sys.stderr)
    begin_logging(run_dir, LogLevel.levelWithName(config.log_level), warnings)
    say(f"cti demo: this run's database, recordings and log: {run_dir}")
    live = not args.json and sys.stdout.isatty()
    if not args.json and not live:
        say("live view off: standard output is not a terminal (the summary comes at the end)")
    options = Options(args.duration, args.rate, args.seed, args.human, live)
    demo = Demo(reactor, config, settings, flows, options, say, warnings)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: reactor.callFromThread(demo.interrupt))
    reactor.callWhenRunning(demo.run)
    reactor.addSystemEventTrigger("before", "shutdown", demo.stop)
    reactor.run(installSignalHandlers=False)
    if demo.failure is not None or demo.result is None:
        print(f"cti demo: failed; what happened is in {run_dir / LOG_NAME}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(demo.result))
    else:
        for line in [*report(demo.result), *storage_lines(demo.result)]:
            print(line)
    return 1 if demo.result["unsaved"] else 0


def storage_lines(result):
    """What became of the records, and how many warnings there were."""
    if result["unsaved"]:
        lines = [f"{counted(result['unsaved'], 'record')} could not be saved (the log has "
                 "them)"]
    else:
        lines = [f"every record saved in {result['run_dir']}"]
    if result["warnings"]:
        lines.append(f"{counted(len(result['warnings']), 'warning')} (printed above)")
    return lines
