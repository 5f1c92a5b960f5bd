# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_flow_reload -*-
"""The flows the flow tier serves, reloaded live from their directory.

`cti flow` loads every flow of `[flow] flows_dir` at its start.  An
operator who edits a flow file has it taken without a restart: on SIGHUP
to `cti flow`, and whenever the CT server has reloaded its configuration
(it sends its flow servers `FlowsReload`: cti.flow.tier), the library
loads the directory again and takes it as a whole, or not at all::

    library = FlowLibrary(settings.flows_dir, manifest, runner)
    library.reload("SIGHUP")   # -> Deferred: {"flows": [...], "changes": ["flow x changed"]}
                               #    or FlowsRefused, the old flows kept

- Checked as a whole, as at the start (cti.flow.loader): one error in one
  file refuses the whole reload, saying each error with its file, its
  line and what is wrong; the flows that ran go on running.
- Taken at once: the runner's flows are swapped in one assignment.  A
  call already in a flow walks the definitions it started on to its end
  (its gotos too: cti.flow.runtime); the calls after take the new ones.
- Prompts the new flows need and the manifest describes are generated
  (espeak-ng), as at the start, on a thread (calls go on meanwhile),
  before the flows are taken; a prompt that cannot be made (espeak-ng
  failing, a prompts directory full or not writable) is a warning.
- One at a time: a reload asked while another makes its prompts waits
  for it, then reads the files, so the flows served are the files as
  they were last, whichever prompts take longer.
- A call for a flow the runner does not have, while a reload is under
  way (the server routes to a new flow as soon as its own reload is
  taken), waits for that reload, then runs (cti.flow.tier `settled`).

Not reloaded: the [flow] settings themselves (where the server is, the
login, flows_dir, prompts_dir) and the site's hook modules, which `cti
flow` reads and imports at its start: a flow naming a hook that is not
registered is refused, naming the hook.
"""
from twisted.internet import defer, threads
from twisted.logger import Logger

from cti.config import ConfigError
from cti.flow.loader import FlowErrors, load_flows
from cti.flow.prompts import PromptError, ensure_prompts

log = Logger()


class FlowsRefused(Exception):
    """A reload refused: the message says each error, with file and line."""


class FlowLibrary:
    """The flows of `flows_dir`, checked against the prompt `manifest`
    (None: not checked), served by `runner` (a cti.flow.runtime.FlowRunner).
    `in_thread(f, *args)`: runs the prompt generation off the reactor's
    thread, a Deferred of its result (threads.deferToThread; a test runs
    it at once), so that calls go on being served meanwhile."""

    def __init__(self, flows_dir, manifest, runner, in_thread=None):
        self.flows_dir = flows_dir
        self.manifest = manifest
        self.runner = runner
        self.in_thread = in_thread or threads.deferToThread
        self._one_at_a_time = defer.DeferredLock()

    @property
    def flows(self):
        return self.runner.flows

    def reload(self, why):
        """Load the directory again and take it whole: a Deferred of
        {"flows": the names, "changes": ["flow NAME added|changed|removed",
        ...]}, or failing with FlowsRefused (logged) and nothing changed
        when a flow is wrong.  Missing prompts are made first, then the
        flows taken.  `why`: what asked, for the log ("SIGHUP", "the CT
        server's reload").  A reload asked while another makes its prompts
        reads the files once that one has taken its flows: the last to
        end is the last asked, the files as they are then."""
        return self._one_at_a_time.run(self._reload, why)

    def settled(self):
        """A Deferred that fires once no reload is under way (at once when
        none is): a call for a flow the runner lacks waits for it, as the
        reload under way may bring that flow."""
        return self._one_at_a_time.run(lambda: None)

    def _reload(self, why):
        try:
            flows = load_flows(self.flows_dir, self.manifest)
        except FlowErrors as e:
            lines = [error.located() for error in e.errors]
            return self._refused(why, f"{len(lines)} error{'s' if len(lines) != 1 else ''} "
                                      "in the flow files; nothing was reloaded, the flows "
                                      "running stay: " + "; ".join(lines))
        except ConfigError as e:                   # the directory or the manifest itself
            return self._refused(why, f"{e}; nothing was reloaded, the flows running stay")
        if self.manifest is None:
            return defer.succeed(self._take(flows, why))
        made = self.in_thread(ensure_prompts, self.manifest.parent)

        def no_prompts(failure):                   # espeak-ng failed, or the disk
            failure.trap(PromptError, OSError)
            log.warn("flows reloaded ({why}): {e}: callers hear silence where prompts are "
                     "missing", why=why, e=failure.value)
        return made.addErrback(no_prompts).addCallback(lambda _: self._take(flows, why))

    def _refused(self, why, message):
        log.error("flows not reloaded ({why}): {message}", why=why, message=message)
        return defer.fail(FlowsRefused(message))

    def _take(self, flows, why):
        changes = flow_changes(self.runner.flows, flows)
        self.runner.flows = flows                  # calls in progress keep theirs
        for warning in flows.warnings:
            log.warn("flows ({why}): warning: {warning}", why=why, warning=warning.located())
        log.info("flows reloaded ({why}): {changes}; {n} flows", why=why,
                 changes=", ".join(changes) or "nothing changed", n=len(flows))
        return {"flows": sorted(flows), "changes": changes}


def flow_changes(old, new):
    """["flow NAME added", "flow NAME changed", "flow NAME removed"], in
    name order (a flow changed: any of its settings or steps)."""
    changes = []
    for name in sorted(set(old) | set(new)):
        if name not in old:
            changes.append(f"flow {name} added")
        elif name not in new:
            changes.append(f"flow {name} removed")
        elif old[name] != new[name]:
            changes.append(f"flow {name} changed")
    return changes
