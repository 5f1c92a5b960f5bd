# SPDX-License-Identifier: GPL-2.0-or-later
"""The CT server: the boards' calls as a call centre (see docs/architecture.md).

    lines/         trunks, stations, voice resources, who hears whom
    core/          the call core: calls, bridging, the end, records
    ivr/ queueing/ agents/ desk/ consult/ supervision/ outbound/ callback/
                   the features, each a domain module and a handlers.py
    center.py      the call layer assembled; the channels' listener
    errors.py      the one error hierarchy; edge.py: where it meets the protocol
    interfaces.py  the contracts between the floors
    scope.py       what each session may see
    app.py run.py twistd.py config.py memory.py   running the server
"""
