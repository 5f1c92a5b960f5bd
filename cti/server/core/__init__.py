# SPDX-License-Identifier: GPL-2.0-or-later
"""The call core: what every feature works on.

Owns:
- `model`: the CSTA call model (calls, connections, their events);
- `call`: the call layer's TrunkCall and its phases (a declared table);
- `layer`: CallLayer (ICallLayer): the calls by id and by outside party,
  answering trunks, who hears whom (bridging, holding), and the end of a
  call (`finish`, each feature letting go of its part: ICallEnding);
- `records`: the rows it writes (CDRs, queue log, agent states and
  sessions, audit, after-call edits); `audit`: the audit of supervisors'
  work; `data`: a call's attached data;
- `unwind`: a release that runs every step; `sweep`: what a failed
  release left behind, put right.

Asks of the features: to let go of a call as it ends (ICallEnding), and
where calls go (`to_queue`: queueing, `to_flow`: ivr).

Services (handlers.py): AnswerCall, ClearConnection and SetCallData, each
sent on to the feature of the role that asked; the snapshots of calls and
devices.
"""
