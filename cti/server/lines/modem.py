# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_modem_lines -*-
"""A voice modem's line ([[modems]], ``mdmB<n>C1``) as a trunk channel.

A voice modem is an analog loop-start line with its own voice: it rings,
gives caller ID, answers by going off hook, plays, records and hears keys
(drivers.modem), so its calls take the IVR as an analog board's line does
(cti.server.lines.channels.LoopStartLine).  Its audio reaches only the
computer, through its serial port: it has no CT-Bus, so nothing can join
its caller to an agent's phone, another line, a conference or a
supervisor.  Its calls stay in the IVR: `ivr_only` says why, and the call
core and the features refuse, before they start, what would take the
caller out (a flow's RouteSelect fails with it; a route or a default
treatment to a queue ends the call with it as its cause).  Its voice and
its line are always joined (the modem's own), so the IVR has nothing to
switch.
"""
from cti.server.lines.channels import LINE_ALARMS, LoopStartLine
from drivers.interface import REMOVED_ALARM

#: Why a modem's caller cannot leave the IVR (the line's name in it).
NO_BUS = "line {line} is a voice modem: it has no CT-Bus, so its calls stay in the IVR"


class ModemLine(LoopStartLine):
    """A voice modem's line: a loop-start line whose calls stay in the IVR."""

    OFFHOOK_ERROR = "the modem answered ERROR"
    ALARM_WORDS = {**LINE_ALARMS,
                   REMOVED_ALARM: "its modem's port is gone (unplugged, or not there)"}

    def __init__(self, name, driver, clock, listener, group=None, supervision=None):
        super().__init__(name, driver, clock, listener, group=group, supervision=supervision)
        self.ivr_only = NO_BUS.format(line=name)
