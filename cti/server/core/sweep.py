# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_release -*-
"""The call layer's sweep: what a failed release left behind is put right.

Releases run every step even when one fails (cti.server.core.unwind), and the
ACD's own sweep reconciles agents with the calls that exist.  This sweep
closes the loop on the other side, every `sweep_s`:

- a call the call model still has but no part of the call layer holds
  (no inbound call, no call out being placed, no consultation) is cleared,
  with a CDR whose cause says the sweep cleared it (unless its release
  wrote one before it failed: one CDR per call); the ACD's sweep then
  frees its agent;
- a trunk left off-hook with no call on it (clearing and never idle, or
  seizing, dialling, connected with nobody's call: a call out's trunk
  whose call is gone too) is cleared down again;
- an agent's phone left talking with no call, consultation, call out or
  supervision on it is hung up.

Something is put right only when it is found wrong at two sweeps in a
row: what the call layer is in the middle of doing is never touched.
"""
from twisted.logger import Logger

from cti.server.lines.channels import Station

log = Logger()

#: Trunk states in which a channel must have an owner.
BUSY_TRUNK = ("seizing", "dialing", "connected", "answering", "far_cleared", "clearing")


class Sweep:
    def __init__(self, layer, holders, dialer):
        self.layer = layer               # ICallLayer
        self.holders = holders           # IHolds: the features that hold calls, trunks, phones
        self.dialer = dialer             # cti.server.outbound.dialer.Dialer
        self._suspects = set()           # what the last sweep found wrong

    def run(self):
        """One sweep; the list of what it put right."""
        found = {*self._orphan_calls(), *self._orphan_trunks(), *self._orphan_stations()}
        fixes = [what for what in found if what in self._suspects]
        self._suspects = found - set(fixes)
        for kind, name in fixes:
            try:
                getattr(self, f"_fix_{kind}")(name)
            except Exception:
                log.failure("sweep: putting right {kind} {name} failed", kind=kind, name=name)
            else:
                log.warn("sweep: {kind} {name} was left half released: put right", kind=kind,
                         name=name)
        return fixes

    # -- what is wrong ----------------------------------------------------------------
    def _held(self, what):
        """The union of what the features hold: `what` is calls, trunks or stations."""
        return set().union(*(getattr(h, f"{what}_held")() for h in self.holders))

    def _orphan_calls(self):
        held = set(self.layer.calls) | self._held("calls")
        return {("call", call_id) for call_id in self.layer.model.calls if call_id not in held}

    def _orphan_trunks(self):
        owned = set(self.layer.by_trunk) | self._held("trunks") | {
            t.name for call in self.layer.calls.values() for t in call.outside}
        return {("trunk", name) for name, ch in self.layer.channels.by_name.items()
                if not isinstance(ch, Station) and hasattr(ch, "release")
                and ch.state in BUSY_TRUNK and name not in owned}

    def _orphan_stations(self):
        used = self._held("stations")
        for call in self.layer.calls.values():
            used |= {s.name for s in (call.station, *(m[1] for m in call.members)) if s}
            if call.called_agent is not None:
                used.add(call.trunk.name)
        return {("station", name) for name, ch in self.layer.channels.by_name.items()
                if isinstance(ch, Station) and ch.state == "talking" and name not in used}

    # -- putting right ---------------------------------------------------------------------
    def _fix_call(self, call_id):
        call = self.layer.model.calls.get(call_id)
        if call is None:
            return
        cause = "left half released; cleared by the sweep"
        self.layer.model.clear_call(call, cause)
        self.layer.records.orphan(call, cause)   # unless its release wrote the CDR, then failed

    def _fix_trunk(self, name):
        channel = self.layer.channels.by_name[name]
        if self.dialer.holds(channel):          # a call out's, its call gone: let it go
            self.dialer.free(channel, "no call on it: cleared by the sweep")
        else:
            channel.clear_down_again()

    def _fix_station(self, name):
        station = self.layer.channels.by_name[name]
        if station.state == "talking":
            station.hang_up()
