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
    Ctrl-C, SIGTERM, SIGHUP:                reactor.stop()
    the reactor's shutdown (a "before" trigger):  stop()
        stop():  the calls up are noted (cleared at end); the view stops,
                 the callers hang up (their CDRs) and no other calls;
                 the calls still up are cleared (the demo's end, not the
                 server's drain); the CT server stops; the record store
                 flushes and stops, whatever failed before; the summary

A signal only stops the reactor (the demo's own handlers, taken before
anything else: cti.demo.signals; a second signal changes nothing): the
summary is the same whether the duration ran out or a person pressed
Ctrl-C, and a start-up cut short is no error.  The demo's server takes
no Reload: its configuration is the file's with the run directory in
place of the server's `var_dir` and database, which a reload could
never take.

Each run has a directory of its own, never the server's: by default a
new one under the configuration's `var_dir` (`var/demo/20250611-143005`),
made with its parents, or `--run-dir`, new or empty.  The demo's
database (SQLite), its journal, its recordings, the agents' file and its
log (`cti-demo.log`, JSON lines at the configuration's `log_level`) are
there, to look at afterwards; nothing of the server's `var/` (nor its
`database`, which may be a PostgreSQL server) is touched.  Warnings and
errors in the log (the record store's alarms, records not saved) are
also printed as they come, one line each on standard error, and counted
in the summary.  No run directory is started again: records the store
could only leave in its journal are reported as not saved.
"""
import io
import itertools
import json
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
from cti.demo import DEFAULT_DURATION_S, DEFAULT_RATE, DEFAULT_SEED, HOST, attach
from cti.demo.summary import counted, report, summary
from cti.storage.models import CallRecord
from cti.storage.sink import Forwarding

#: The run directories go here, under the configuration's var_dir.
RUNS_DIR = "demo"
LOG_NAME = "cti-demo.log"
#: The driver the demo plays: the simulated boards and telephone company.
DRIVER = "sim"
#: At the end the callers hang up; their calls have this long to clear
#: before the demo clears the rest.
HANG_UP_S = 2.0
#: Why the demo's server refuses a Reload.
NOT_RELOADED = ("a demo's configuration is not reloaded: the demo runs the file with its own "
                "run directory and database; end the demo and start it again")

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
    seed: int = DEFAULT_SEED
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
    """This run's directory: `given` (--run-dir: made if missing; it must
    be empty), else a new one named for the time `now` under
    `var_dir`/demo, its parents made (`var/` too, on a first run).
    DemoError when it cannot be."""
    if given is not None:
        path = Path(given)
        try:
            if path.exists() and not path.is_dir():
                raise DemoError(f"--run-dir {path}: not a directory")
            path.mkdir(parents=True, exist_ok=True)
            if any(path.iterdir()):
                raise DemoError(f"--run-dir {path}: not empty: a run directory must be new")
        except OSError as e:
            raise DemoError(f"--run-dir {path}: {e.strerror}") from None
        return path
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    for n in itertools.count(1):
        path = Path(var_dir) / RUNS_DIR / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue
        except OSError as e:
            raise DemoError(f"{path}: {e.strerror} (a run directory under the "
                            "configuration's var_dir; --run-dir DIR puts it elsewhere)") from None


def in_run_directory(config, run_dir):
    """The configuration with everything the server keeps moved into
    `run_dir`: its var_dir (recordings, journal, the agents' file) and its
    database, a SQLite file there."""
    from cti.storage.store import default_url

    return replace(config, var_dir=run_dir, database=default_url(run_dir))


def printer(stream_name):
    """A function that prints a line on sys.`stream_name` ("stdout",
    "stderr") as it is when the line comes: while the live view is up,
    rich's, which prints above it (a stream looked up once, before, would
    be written under it, and its next drawing would erase the line).  A
    terminal that is gone (closed: SIGHUP) takes the line without an
    error: the run's log has every warning, and the run goes on to its
    end."""
    def show(line):
        try:
            print(line, file=getattr(sys, stream_name), flush=True)
        except OSError:
            pass
    return show


def whole_writes(stream):
    """`stream` (sys.stdout, sys.stderr), or, if it writes its text
    straight to the file (Python unbuffered: -u, PYTHONUNBUFFERED, as many
    a container sets it), a line-buffered stream on the same file that
    writes each text whole.  Unbuffered, a write that a signal cuts short
    (Ctrl-C while a slow terminal takes a drawing of the live view) keeps
    only its start and the rest is lost; the view's next drawing, which
    erases as many lines as a whole one has, then erases the lines above
    it: the warnings.  A buffered writer writes the rest after the signal."""
    if not isinstance(getattr(stream, "buffer", None), io.RawIOBase):
        return stream
    return io.TextIOWrapper(io.BufferedWriter(stream.buffer), encoding=stream.encoding,
                            errors=stream.errors, line_buffering=True)


class Warnings:
    """A log observer: each event it is given, as one line to `show`
    (``cti demo: warning: ...``), kept in `lines` for the summary."""

    def __init__(self, show):
        self.show = show
        self.lines = []

    def __call__(self, event):
        text = formatEvent(event)
        failure = event.get("log_failure")
        if failure is not None:
            text += f": {failure.getErrorMessage()}"
        self.lines.append(text)
        self.show(f"cti demo: {event['log_level'].name}: {text}")


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
    goes on; `signals`: the demo's (cti.demo.signals), installed again
    once the CT server has started."""

    def __init__(self, reactor, config, settings, flows, options, say, warnings, signals=None):
        from cti.server.app import CTServer
        from cti.storage.store import RecordStore

        self.reactor = reactor
        self.config = config
        self.settings = settings
        self.flows = flows
        self.options = options
        self.say = say
        self.warnings = warnings        # a Warnings: the log's, for the summary
        self.signals = signals
        self.store = RecordStore(config.database, reactor, var_dir=config.var_dir,
                                 db_timeout_s=config.faults.db_timeout_s)
        self.records = Tee(self.store)
        self.server = CTServer(config, reactor=reactor, records=self.records,
                               listen=[f"tcp:0:interface={HOST}"], http="", drain_s=0,
                               freeze_heap=True)
        self.server.reloader.read = self._not_reloaded
        self.traffic = None
        self.view = None
        self.step = None            # what run() waits for: the start, then the duration
        self.began = None           # when the callers started
        self.ending = False         # the reactor was asked to stop
        self.stopped = False        # stop() has begun
        self.interrupted = False
        self.failure = None         # why the demo could not run or stop
        self.result = None          # the summary, once stopped

    @staticmethod
    def _not_reloaded(path):
        """The demo's server reading its file again (Reload): refused,
        logged and audited as any refused reload."""
        from cti.server.errors import InvalidState

        raise InvalidState(NOT_RELOADED)

    @defer.inlineCallbacks
    def run(self):
        """Start, let the callers call for the duration, stop the reactor."""
        if self.ending:                     # a signal came first
            return
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

    def interrupt(self, signal_name):
        """A signal (Ctrl-C, SIGTERM, SIGHUP): end now, with the summary."""
        if not self.ending:
            self.interrupted = True
            self.say(f"interrupted ({signal_name}): ending the demo")
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
        if self.signals is not None:
            self.signals.install()          # the demo's, not the server's (its SIGHUP reloads)
        [(_, port)] = yield self.server.listening.ready
        port = port.getHost().port
        for line in attach.lines(self.config, port, self.options.human, attach.program()):
            self.say(line)
        dial = attach.dial(port)
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
        up now are counted as cleared at the end.  Each part is stopped
        even if one before it failed (`failure`: the first that did), the
        record store last, always."""
        self.stopped = True
        if self.step is not None:
            self.step.cancel()              # an interrupted start or wait: no error
        in_progress = frozenset(self.server.center.calls)
        ended = self.reactor.seconds()
        for part, stopping in (("the live view", self._stop_view),
                               ("the callers", self._stop_traffic),
                               ("the CT server", self._stop_server),
                               ("the record store", self._stop_store)):
            try:
                yield defer.maybeDeferred(stopping)
            except Exception:
                failure = Failure()
                self.failure = self.failure or failure
                log.failure("could not stop {part}", failure, part=part)
        if self.failure is not None:
            return
        self.result = {
            "duration_s": self.options.duration, "calls_per_minute": self.options.rate,
            "ran_s": 0.0 if self.began is None else round(ended - self.began, 1),
            "interrupted": self.interrupted,
            **summary(self.records.cdrs, self.config, in_progress),
            "run_dir": str(self.config.var_dir), "unsaved": self.store.unsaved,
            "left_in_journal": self.store.kept,
            "warnings": list(self.warnings.lines)}

    def _stop_view(self):
        if self.view is not None:
            self.view.stop()

    @defer.inlineCallbacks
    def _stop_traffic(self):
        """The callers hang up and no other calls; the calls still up after
        HANG_UP_S (a caller's release not yet through) are cleared: the
        demo's end, not the server's (whose drain would warn of them)."""
        if self.traffic is None:
            return
        self.traffic.stop()
        yield self._calls_ended(HANG_UP_S)
        center = self.server.center
        if center.calls:
            log.info("the demo's end: {n} calls still up {s} s after the callers hung up: "
                     "cleared", n=len(center.calls), s=HANG_UP_S)
            for call in list(center.calls.values()):
                center.layer.finish(call, "system", "the demo ended")

    def _stop_server(self):
        if self.server.running:
            return self.server.stopService()

    def _stop_store(self):
        if self.store.running:
            return self.store.stopService()

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
    if config.driver != DRIVER:
        raise ConfigError(args.config, "driver", f"{config.driver!r}: the demo plays the "
                          f"simulated telephone company, on the simulated boards: it needs "
                          f"driver = {DRIVER!r}")
    if args.human is not None and args.human not in {a.id for a in config.agents
                                                     if a.station}:
        raise DemoError(f"--human {args.human}: no agent of {args.config} has that id and a "
                        "station (the demo's agents: "
                        + ", ".join(a.id for a in config.agents if a.station) + ")")
    run_dir = run_directory(config.var_dir, now, args.run_dir)
    return in_run_directory(config, run_dir), settings, flows, run_dir


def main(args, signals):
    """`cti demo`; `signals`: the ending signals (cti.demo.signals),
    installed by the caller before anything else."""
    from twisted.internet import reactor

    sys.stdout, sys.stderr = whole_writes(sys.stdout), whole_writes(sys.stderr)
    warnings = Warnings(printer("stderr"))
    try:
        config, settings, flows, run_dir = prepare(args, time.time())
        begin_logging(run_dir, LogLevel.levelWithName(config.log_level), warnings)
    except (ConfigError, DemoError) as e:
        print(f"cti demo: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"cti demo: {e.filename}: {e.strerror}", file=sys.stderr)
        return 2
    say = printer("stderr" if args.json else "stdout")   # --json: stdout is the summary's
    say(f"cti demo: this run's database, recordings and log: {run_dir}")
    live = not args.json and sys.stdout.isatty()
    if not args.json and not live:
        say("live view off: standard output is not a terminal (the summary comes at the end)")
    options = Options(args.duration, args.rate, args.seed, args.human, live)
    demo = Demo(reactor, config, settings, flows, options, say, warnings, signals)
    signals.then(lambda name: reactor.callFromThread(demo.interrupt, name))
    reactor.callWhenRunning(demo.run)
    reactor.addSystemEventTrigger("before", "shutdown", demo.stop)
    reactor.run(installSignalHandlers=False)
    if demo.failure is not None or demo.result is None:
        print(f"cti demo: failed; what happened is in {run_dir / LOG_NAME}", file=sys.stderr)
        return 1
    out = printer("stdout")
    if args.json:
        out(json.dumps(demo.result))
    else:
        for line in [*report(demo.result), *storage_lines(demo.result)]:
            out(line)
    return 1 if demo.result["unsaved"] or demo.result["left_in_journal"] else 0


def storage_lines(result):
    """What became of the records, and how many warnings there were."""
    lines = []
    if result["unsaved"]:
        lines.append(f"{counted(result['unsaved'], 'record')} could not be saved (the log has "
                     "them)")
    if result["left_in_journal"]:
        lines.append(f"{counted(result['left_in_journal'], 'record')} not in the database, "
                     f"only in the journal of {result['run_dir']}: no demo starts its run "
                     "directory again to write them")
    if not lines:
        lines.append(f"every record saved in {result['run_dir']}")
    if result["warnings"]:
        lines.append(f"{counted(len(result['warnings']), 'warning')} (printed above)")
    return lines
