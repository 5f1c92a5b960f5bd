# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_release -*-
"""The call layer's sweep: what a failed release left behind is put right.

Releases run every step even when one fails (cti.server.unwind), and the
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
from datetime import UTC, datetime

from twisted.logger import Logger

from cti.server.channels import Station
from cti.storage.models import CallRecord

log = Logger()

#: Trunk states in which a channel must have an owner.
BUSY_TRUNK = ("seizing", "dialing", "connected", "answering", "far_cleared", "clearing")


class Sweep:
    def __init__(self, center):
        self.center = center
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
    def _held_calls(self):
        cc = self.center
        return set(cc.calls) | cc.dialer.calls_held() | cc.desk.consults.calls_held()

    def _orphan_calls(self):
        held = self._held_calls()
        return {("call", call_id) for call_id in self.center.model.calls if call_id not in held}

    def _orphan_trunks(self):
        cc = self.center
        owned = set(cc.by_trunk) | {t.name for ic in cc.calls.values() for t in ic.outside}
        owned |= cc.desk.consults.trunks_held() | cc.dialer.trunks_placing()
        return {("trunk", name) for name, ch in cc.channels.by_name.items()
                if not isinstance(ch, Station) and hasattr(ch, "release")
                and ch.state in BUSY_TRUNK and name not in owned}

    def _orphan_stations(self):
        cc = self.center
        used = cc.dialer.stations_held() | cc.desk.stations_held()
        for ic in cc.calls.values():
            used |= {s.name for s in (ic.station, *(m[1] for m in ic.members)) if s}
            if ic.called_agent is not None:
                used.add(ic.trunk.name)
        return {("station", name) for name, ch in cc.channels.by_name.items()
                if isinstance(ch, Station) and ch.state == "talking" and name not in used}

    # -- putting right ---------------------------------------------------------------------
    def _fix_call(self, call_id):
        cc = self.center
        call = cc.model.calls.get(call_id)
        if call is None:
            return
        now = cc.clock.seconds()
        cause = "left half released; cleared by the sweep"
        cc.model.clear_call(call, cause)
        if call.recorded:                     # its release wrote the CDR, then failed
            return
        call.recorded = True
        cc.records.add(CallRecord(
            call_id=call.id, direction=call.direction, trunk=None,
            trunk_group=call.trunk_group, ani=call.ani or None, dnis=call.dnis or None,
            flow=None, queue=None, agent=None, station=None,
            offered_at=datetime.fromtimestamp(call.created, UTC), queued_at=None,
            answered_at=None, ended_at=datetime.fromtimestamp(now, UTC), wait_s=None,
            talk_s=None, disposition="failed", released_by="system", cause=cause,
            attached=dict(call.data)))

    def _fix_trunk(self, name):
        cc = self.center
        channel = cc.channels.by_name[name]
        if name in cc.dialer.by_trunk:        # a call out's, its call gone: let it go
            cc.dialer.free(channel, "no call on it: cleared by the sweep")
        else:
            channel.clear_down_again()

    def _fix_station(self, name):
        station = self.center.channels.by_name[name]
        if station.state == "talking":
            station.hang_up()
