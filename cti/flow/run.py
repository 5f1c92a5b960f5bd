# SPDX-License-Identifier: GPL-2.0-or-later
"""`cti flow -c etc/cti.toml`: the flow tier in its own process.

It reads the [flow] section of the server configuration (where the CT
server listens, the flow login, the flows and prompts directories, the
site's look-up hook modules), imports the hook modules, loads and checks
every flow (an error names the file and the step, and
nothing starts), generates missing prompts with espeak-ng, connects, logs
in with the flow role and serves RouteRequests until stopped.  When the
connection drops it reconnects every few seconds; meanwhile the CT server
gives calls for flows its default treatment (the flow_down queue).

The flow files are reloaded live (cti.flow.library): on SIGHUP, and when
the CT server reloads its configuration (its FlowsReload event); calls in
a flow finish on the definitions they started on.
"""
import signal
import sys

from twisted.internet import defer, task
from twisted.logger import Logger

from cti import logs
from cti.config import ConfigError
from cti.flow.hooks import import_site_hooks
from cti.server.config import load_server_config

log = Logger()

RECONNECT_S = 3.0


def load(config_path):
    """(flow settings, flows, prompts_dir) or ConfigError."""
    from cti.flow.loader import load_flows
    from cti.flow.prompts import ensure_prompts

    config = load_server_config(config_path)
    settings = config.flow
    if settings is None or settings.user is None:
        raise ConfigError(config_path, "flow.user", "required to run the flow tier")
    import_site_hooks(settings)
    manifest = settings.prompts_dir / "prompts.toml"
    flows = load_flows(settings.flows_dir, manifest if manifest.exists() else None)
    if manifest.exists():
        ensure_prompts(settings.prompts_dir)
    return config, settings, flows


@defer.inlineCallbacks
def serve(reactor, settings, library, password):
    """Connect, log in, RouteRegister; again after every disconnection.
    The flows are the library's, the same across connections."""
    from cti.flow.tier import FlowTier
    from cti.protocol.client import connect

    while True:
        try:
            client = yield connect(reactor, settings.server)
            yield client.login(settings.user, password, "flow", client="cti-flow")
            tier = FlowTier(client, library.runner, library)
            yield tier.register()
            log.info("flow tier serving {n} flows for {server}", n=len(library.flows),
                     server=settings.server)
            yield client.closed
            log.warn("the CT server closed the connection")
        except Exception as e:  # noqa: BLE001 - any failure: log, wait, retry
            log.warn("flow tier: {error}; retrying in {s} s", error=e, s=RECONNECT_S)
        yield task.deferLater(reactor, RECONNECT_S, lambda: None)


def library_of(settings, flows, clock, in_thread=None):
    """The FlowLibrary serving `flows` (loaded by `load`) from now on."""
    from cti.flow.library import FlowLibrary
    from cti.flow.runtime import FlowRunner

    manifest = settings.prompts_dir / "prompts.toml"
    return FlowLibrary(settings.flows_dir, manifest if manifest.exists() else None,
                       FlowRunner(flows, settings.prompts_dir, clock), in_thread)


def reload_on_hangup(reactor, library):
    """SIGHUP reloads the flow files (a refusal is logged: the old flows run on)."""
    from cti.flow.library import FlowsRefused

    def reload():
        library.reload("SIGHUP").addErrback(lambda f: f.trap(FlowsRefused))
    signal.signal(signal.SIGHUP, lambda signum, frame: reactor.callFromThread(reload))


def main(args):
    from twisted.internet import reactor
    from twisted.logger import globalLogBeginner, textFileLogObserver

    signal.signal(signal.SIGHUP, signal.SIG_IGN)     # until the flows are loaded
    try:
        config, settings, flows = load(args.config)
        password = settings.read_password()
    except ConfigError as e:
        print(f"cti flow: {e}", file=sys.stderr)
        return 2
    globalLogBeginner.beginLoggingTo([logs.escaping(textFileLogObserver(sys.stdout))],
                                     redirectStandardIO=False)
    library = library_of(settings, flows, reactor)
    reload_on_hangup(reactor, library)
    reactor.callWhenRunning(serve, reactor, settings, library, password)
    reactor.run()
    return 0
