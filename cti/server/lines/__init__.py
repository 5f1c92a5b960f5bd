# SPDX-License-Identifier: GPL-2.0-or-later
"""The lines: what the boards give the call layer, as declared state machines.

- `channels`: trunks (T1 E&M wink start, analog loop start) and stations
  (agents' phones), each a state table with a history, and the voice pool;
  the channels call their listener (cti.server.interfaces.IChannelListener).
- `disconnect`: how a loop-start line learns the caller left (loop current,
  reversal, tone, silence), per trunk group.
- `voice`: play, collect digits, record and beep on a voice resource, as
  Deferreds.
- `talk`: who hears whom on a call (a CT-Bus route while two talk, a
  conference on a DSP beyond), and music on hold.

Nothing here knows calls, queues or agents; the call core (cti.server.core)
and the features use these.
"""
