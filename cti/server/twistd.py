# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_server_run -*-
"""What twistd needs for `twistd cti`: Options and makeService.

`twistd cti` keeps the promises `cti server` keeps (cti.server.run): a
wrong configuration, boards that refuse, a journal locked by another
server on the same var_dir or a port taken ends the process before its
reactor runs, with one line on standard error saying what and where and
exit status 2 (no traceback, no process left running without its
listener); "listening on ..." is logged once each port is bound.

twistd builds the service (makeService), then starts it (startService)
before running its reactor: both are the moments a start fails.  The
server's endpoints (tcp, tls, unix) listen at once, so whether every port
is bound is known when startService returns.  (Another plugin's endpoint
that binds later stops the server with the same line once it fails, but
twistd then exits with its own status.)  Daemonised (without
`-n`), the child has no terminal: the line goes to twistd's status pipe,
and the parent prints it ("An error has occurred: ...") and exits 1.
"""
import os
import sys

from twisted.application.service import MultiService
from twisted.logger import Logger
from twisted.python import usage

from cti.config import ConfigError
from cti.server.reload.hangup import ignore_hangups
from cti.server.run import START_FAILURES, make_service
from drivers.errors import DriverError

log = Logger()
PROG = "twistd cti"


class Options(usage.Options):
    optParameters = [
        ["config", "c", "etc/cti.toml", "the server configuration (TOML)"],
        ["drain", None, None, "seconds calls may take to finish at stop", float],
    ]


def cannot_start(why, status_pipe=None):
    """One line on standard error, then exit status 2 (SystemExit passes
    through twistd's runner without a traceback).  The process's own
    standard error: twistd has sent sys.stderr into its log by then.  A
    daemon's line goes to the parent waiting on `status_pipe` too."""
    line = f"{PROG}: {why}"
    print(line, file=sys.__stderr__, flush=True)
    if status_pipe is not None:                    # twistd's format: "1 " and 98 bytes
        os.write(status_pipe, b"1 " + line.encode()[:98])
        os.close(status_pipe)
    raise SystemExit(2)


class TwistdServer(MultiService):
    """The CTServer under twistd: its start checked, its ports said once
    bound.  `twistd_options`: twistd's own (its status pipe, once
    daemonised)."""

    def __init__(self, server, twistd_options):
        super().__init__()
        self.server = server
        self.twistd_options = twistd_options
        server.setServiceParent(self)

    def startService(self):
        try:
            super().startService()
        except Exception as e:          # a locked journal, an unreadable var directory...
            if not isinstance(e, START_FAILURES):
                log.failure("{prog}: cannot start", prog=PROG)   # a fault of ours
            self._cannot_start(e)
        ready = self.server.listening.ready
        if not ready.called:             # an endpoint that binds later (not tcp, tls, unix)
            ready.addCallbacks(self._listening, self._failed_later)
            return
        outcome = []
        ready.addBoth(outcome.append)
        [ports] = outcome
        if not isinstance(ports, list):
            self.server.listening.stopService()
            self._cannot_start(ports.value)
        self._listening(ports)

    def _listening(self, ports):
        for description, port in ports:
            log.info("{prog}: listening on {where} ({address})", prog=PROG, where=description,
                     address=port.getHost())

    def _failed_later(self, failure):
        """A port that could not be bound once the reactor ran: the same
        line, and the server stops (twistd's exit status then is its own)."""
        from twisted.internet import reactor

        log.critical("{prog}: cannot start: {why}", prog=PROG, why=failure.value)
        print(f"{PROG}: cannot start: {failure.value}", file=sys.__stderr__, flush=True)
        reactor.stop()

    def _cannot_start(self, why):
        log.critical("{prog}: cannot start: {why}", prog=PROG, why=why)
        cannot_start(f"cannot start: {why}", self.twistd_options.get("statusPipe"))


def makeService(options):
    ignore_hangups()                         # SIGHUP: nothing, until the server has started
    try:
        return TwistdServer(make_service(options["config"], options["drain"]),
                            getattr(options, "parent", {}))
    except ConfigError as e:                 # names the file and the key
        cannot_start(e)
    except DriverError as e:                 # the boards refuse: a device, a call they lack
        cannot_start(f"cannot start: {e}")
