# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_vendor_only -*-
"""Station tones from voice channels, for station ports that play none.

A vendor's station interface feeds the phone battery and ring, and hears
its hook, but has no call to play it dial tone (`ms_settone` is our
simulator's addition).  With the vendor's documented calls a phone hears a
tone the way it hears anything: it listens (`ms_listen`) to a bus timeslot
on which a voice channel plays the tone (`dx_playtone`).  So four voice
channels, one per tone, play their tone's cadence on their own timeslots,
and any number of phones listen to each::

    driver = R4Driver(tone_channels={"dial": "dxxxB3C1", "ringback": "dxxxB3C2",
                                     "busy": "dxxxB3C3", "reorder": "dxxxB3C4"})
    driver.station_tone("msiB1C1", "dial")    # msiB1C1 listens to dxxxB3C1's slot

A channel starts its cadence the first time a phone wants its tone and
plays it from then on (a phone joins the cadence where it is, as on a
PBX's shared tone plant): one `dx_playtone` per burst, the next burst
when the off time after its end has passed; a continuous tone plays in
bursts of CONTINUOUS_BURST_MS back to back.  The channels' events are
theirs: the driver hands them here, not to its subscribers.  What a phone
listens to (its tone, or the route the switching map gives it first) is
the driver's business (drivers.r4).
"""
from twisted.logger import Logger

from drivers import errors
from drivers.interface import STATION_TONES

log = Logger()

#: Each tone as (first Hz, second Hz, on ms, off ms), on None: continuous.
#: North American, as the simulator's ms_settone plays them.
TONE_PLAN = {
    "dial": (350, 440, None, 0),
    "ringback": (440, 480, 2_000, 4_000),
    "busy": (480, 620, 500, 500),
    "reorder": (480, 620, 250, 250),
}
#: The level of each frequency of a tone, dBm0.
TONE_LEVEL_DB = -13
#: A continuous tone's bursts (the board's TN_GEN takes up to 327 s).
CONTINUOUS_BURST_MS = 300_000


class ToneChannels:
    """The voice channels playing the phones' tones, {tone: channel} for
    every one of STATION_TONES, through `driver`'s own operations."""

    def __init__(self, driver, channels):
        missing = [tone for tone in STATION_TONES if tone not in channels]
        extra = sorted(set(channels) - set(STATION_TONES))
        if missing or extra or len(set(channels.values())) != len(channels):
            raise errors.BadParameter(
                f"tone channels {dict(channels)}: expected one voice channel of its own "
                f"for each of {', '.join(STATION_TONES)}", function="tone_channels")
        self.driver = driver
        self.channels = dict(channels)
        self._tone_of = {channel: tone for tone, channel in self.channels.items()}
        self._slots = {}         # tone -> its channel's transmit slot, once playing
        self._timers = {}        # tone -> the call of its next burst, in an off time

    def check(self, devices):
        """The channels against the inventory ({name: DeviceInfo})."""
        for tone, channel in self.channels.items():
            info = devices.get(channel)
            if info is None or info.kind != "voice":
                raise errors.BadParameter(f"the {tone} tone's channel is not a voice channel "
                                          "of these boards", function="tone_channels",
                                          device=channel)

    def owns(self, device):
        return device in self._tone_of

    def stop(self):
        """No burst after: the timers of the tones in their off time
        cancelled (the driver stops its events)."""
        for timer in self._timers.values():
            if timer.active():
                timer.cancel()
        self._timers.clear()

    def slot(self, tone):
        """The timeslot on which `tone` plays, its cadence started if need be."""
        if tone not in self._slots:
            self._slots[tone] = self.driver.transmit_slot(self.channels[tone])
            self._burst(tone)
        return self._slots[tone]

    def _burst(self, tone):
        self._timers.pop(tone, None)
        first, second, on_ms, _ = TONE_PLAN[tone]
        channel = self.channels[tone]
        try:
            self.driver.play_tone(channel, first, second, TONE_LEVEL_DB,
                                  duration_ms=on_ms or CONTINUOUS_BURST_MS)
        except errors.DriverError as e:
            log.error("{device}: the {tone} tone stopped: {error}", device=channel, tone=tone,
                      error=e)

    def handle(self, event):
        """An event of a tone channel: a burst ended, the next one follows
        (after a hung one too: the driver has reset the channel)."""
        if event.kind != "tone_done":
            return
        tone = self._tone_of[event.device]
        if "hung" in event["reasons"]:
            log.warn("{device}: a burst of the {tone} tone hung; playing on", tone=tone,
                     device=event.device)
        off_ms = TONE_PLAN[tone][3]
        if off_ms:
            self._timers[tone] = self.driver.clock.callLater(off_ms / 1000.0, self._burst, tone)
        else:
            self._burst(tone)
