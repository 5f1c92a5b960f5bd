# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_server_run -*-
"""Running the CT server: `cti server -c etc/cti.toml`, or `twistd cti -c ...`.

Both build the same service (`make_service`): the configuration is loaded
and checked first (an error names the file and the key, and nothing
starts), then the CTServer tree.  Logs are structured: every event is a
JSON object, one per line, in var/cti-server.log (twisted.logger's JSON
format, readable back with `twisted.logger.eventsFromJSONLogFile`), and a
readable line per event goes to standard output at the configured level.

SIGHUP reloads the configuration file (cti.server.reload: what can
change live is applied, or the whole reload is refused; the log says
which, one line per change): ignored from the start (cti.server.reload
.hangup), answered once the server has started.  SIGTERM or SIGINT stops
the reactor; before it stops, the server drains (see CTServer.stopService): no new
calls, calls in progress finish or are cleared with a cause, agents are
logged out, records are flushed.
"listening" is logged once each port is bound.  The exit status: 0; 2
when the configuration is wrong or the server cannot start (a port taken,
a journal locked by another server...: one line on standard error says
what and where); 1 when records could be
neither written to the database nor kept in the journal (a full disk
during a database outage: the log says how many and where).
"""
import sys
from pathlib import Path

from twisted.internet import defer
from twisted.logger import (
    FilteringLogObserver,
    Logger,
    LogLevel,
    LogLevelFilterPredicate,
    globalLogBeginner,
    jsonFileLogObserver,
    textFileLogObserver,
)

from cti import logs
from cti.config import ConfigError
from cti.server.config import load_server_config
from cti.server.memory import give_back_memory
from cti.server.reload.hangup import ignore_hangups
from cti.storage.journal import JournalError
from drivers.errors import DriverError

log = Logger()

#: What keeps a server from starting that its operator fixes (another
#: server on the same var_dir, a directory it may not write, boards that
#: refuse): said in one line, without a traceback.  Anything else is a
#: fault of the server's, logged with its traceback too.
START_FAILURES = (JournalError, OSError, DriverError)


def start_logging(config, stream=None):
    """Events at `log_level` and above: as text to `stream`, as JSON to
    var/cti-server.log."""
    var = Path(config.var_dir)
    var.mkdir(parents=True, exist_ok=True)
    level = LogLevel.levelWithName(config.log_level)
    logs.set_level(level)
    json_file = open(var / "cti-server.log", "a", encoding="utf-8")  # noqa: SIM115 - the log's life
    observers = [logs.escaping(textFileLogObserver(stream or sys.stdout)),
                 jsonFileLogObserver(json_file)]
    globalLogBeginner.beginLoggingTo(
        [FilteringLogObserver(o, [LogLevelFilterPredicate(defaultLogLevel=level)])
         for o in observers], redirectStandardIO=False)


def make_service(config_path, drain_s=None):
    """The CTServer of a configuration file (ConfigError if it is wrong),
    its var directory made and its prompts generated if missing (queue
    music and announcements are prompts: without them callers would wait
    in silence)."""
    from cti.flow.hooks import import_site_hooks
    from cti.flow.prompts import PromptError, ensure_prompts
    from cti.server import customer
    from cti.server.app import DRAIN_S, CTServer

    config = load_server_config(config_path)
    give_back_memory()
    if config.flow is not None:
        import_site_hooks(config.flow)               # record_hook is one of theirs
    customer.check(config)
    Path(config.var_dir).mkdir(parents=True, exist_ok=True)
    if config.flow is not None:
        try:
            ensure_prompts(config.flow.prompts_dir)
        except PromptError as e:
            print(f"cti server: warning: {e}: callers will hear silence where prompts are "
                  "missing", file=sys.stderr)
    return CTServer(config, drain_s=DRAIN_S if drain_s is None else drain_s, freeze_heap=True,
                    reload_on_hangup=True)


def status_after_stop(service, stream=None):
    """1 when the stopped server's records could be neither written to the
    database nor kept in the journal (the store has logged how many and
    where), else 0."""
    unsaved = service.records.unsaved
    if unsaved:
        print(f"cti server: {unsaved} records could not be saved: see the log",
              file=stream or sys.stderr)
        return 1
    return 0


def main(args):
    """`cti server`: run in the foreground until SIGTERM / SIGINT."""
    from twisted.internet import reactor

    ignore_hangups()                    # SIGHUP: nothing, until the server has started
    try:
        service = make_service(args.config, args.drain)
    except ConfigError as e:
        print(f"cti server: {e}", file=sys.stderr)
        return 2
    except DriverError as e:           # the boards refuse: a device, a call they lack
        print(f"cti server: cannot start: {e}", file=sys.stderr)
        return 2
    start_logging(service.config)
    log.info("cti server: {path}: starting", path=args.config)
    outcome = {"exit": 0}

    def cannot_start(why):
        log.critical("cti server: cannot start: {why}", why=why)
        print(f"cti server: cannot start: {why}", file=sys.stderr)
        outcome["exit"] = 2
        reactor.stop()

    def start():
        try:
            service.startService()
        except Exception as e:          # a locked journal, an unreadable var directory...
            if not isinstance(e, START_FAILURES):
                log.failure("cti server: cannot start")   # a fault of ours: its traceback
            cannot_start(e)
            return
        reactor.addSystemEventTrigger("before", "shutdown", stop)
        service.listening.ready.addCallbacks(listening, lambda f: cannot_start(f.value))

    def listening(ports):
        for description, port in ports:
            log.info("cti server: listening on {where} ({address})", where=description,
                     address=port.getHost())

    def stop():
        def stopped(result):
            outcome["exit"] = max(outcome["exit"], status_after_stop(service))
            return result
        return defer.maybeDeferred(service.stopService).addBoth(stopped)

    reactor.callWhenRunning(start)
    reactor.run()
    return outcome["exit"]
