# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_reload -*-
"""SIGHUP: the running server reads its configuration file again.

Its default would end the process: `cti server` and `twistd cti` ignore
it from the moment they start building the server (`ignore_hangups`), so
that a `systemctl reload` during a start does no harm; the server
answers it once started (`Hangup.install`, from CTServer.startService,
on the reactor's thread), and gives the handling it found back as it
stops (`uninstall`)::

    ignore_hangups()                     # cti.server.run.main, twistd's makeService
    hangup = Hangup(reactor, reloader)
    hangup.install()                     # started: SIGHUP reloads
    hangup.uninstall()                   # stopping: as before (ignored)
"""
import signal
from contextlib import suppress

from cti.server.errors import CallError


def ignore_hangups():
    """SIGHUP does nothing until a started server answers it."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


class Hangup:
    """SIGHUP reloads the configuration (cti.server.reload.reload.Reloader)."""

    def __init__(self, reactor, reloader):
        self.reactor = reactor
        self.reloader = reloader
        self.previous = None             # the handling found at `install`

    def install(self):
        self.previous = signal.signal(signal.SIGHUP, self._signalled)

    def uninstall(self):
        if self.previous is not None:
            signal.signal(signal.SIGHUP, self.previous)
            self.previous = None

    def _signalled(self, signum, frame):
        self.reactor.callFromThread(self._reload)

    def _reload(self):
        # A refusal needs no more here: the reloader has logged and audited it.
        with suppress(CallError):
            self.reloader.reload("system", "SIGHUP")
