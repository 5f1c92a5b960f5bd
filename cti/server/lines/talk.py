# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_supervision -*-
"""Who hears whom on a call: parties with roles, and music on hold.

A connected call is a set of parties on the CT-Bus, each with a role::

    talk      hears every talker and is heard by all (caller, agent, barge-in)
    listen    hears every talker, is heard by nobody (silent monitor)
    coach     heard by the pupil only (whisper)
    pupil     a talker who also hears the coach (the agent being coached)

`Talk` keeps the arrangement the roles ask for with as little as it takes:
two talkers and nobody else are a duplex route (no DSP is used, as for
every ordinary call); anything more is a conference on a DSP of the
conference pool, changed in place (parties added, removed, roles set) so a
supervisor joining or leaving is not heard.  When the caller is held, the
caller leaves the arrangement for the music and the others stay together
(or hear silence, alone)::

    talk = Talk(bus, dsps, caller="dtiB1T3", music=moh)
    talk.set("msiB1C5", "talk")          # caller <-> agent: a route
    talk.set("msiB1C8", "listen")        # a supervisor: now a conference
    talk.hold(path);  talk.retrieve()
    talk.end()

Music on hold is one voice resource per piece of music, playing it in a
loop and broadcast on the CT-Bus to every caller who should hear it
(waiting in a queue or held): a thousand waiting callers take one voice
resource, not a thousand.  The voice resource is taken from the voice
pool when the first listener comes and given back after the last leaves.
"""
from twisted.logger import Logger

from ctbus.switching import BusError, Conference, Route
from cti.server.errors import TalkError
from drivers.errors import ConferenceError, DriverError

log = Logger()

#: Our roles -> the conference roles of the driver.
TALK_ROLES = {"talk": "normal", "listen": "listen_only", "coach": "coach", "pupil": "pupil"}


class MusicOnHold:
    """One looping voice resource per music file, broadcast to its listeners.
    A play of the music that hangs: the resource is quarantined (and
    `on_hung(voice, op)` told, to test it), another takes over the
    broadcast, and the music goes on."""

    def __init__(self, bus, ports, voice_pool, on_hung=None):
        self.bus = bus
        self.ports = ports
        self.voice_pool = voice_pool
        self.on_hung = on_hung or (lambda voice, op: None)
        self.sources = {}          # path -> _Source
        self.listening = {}        # endpoint -> path

    def join(self, endpoint, path):
        """The endpoint hears this music (silence if no voice resource is free)."""
        self.leave(endpoint)
        source = self.sources.get(path)
        if source is None:
            voice = self.voice_pool.take(_Owner(self, path))
            if voice is None:
                log.warn("music on hold: no voice resource free; {endpoint} hears silence",
                         endpoint=endpoint)
                return
            source = self.sources[path] = _Source(voice, self.bus.broadcast(voice))
            self._loop(path, source)
        self.bus.add_listener(source.cast, endpoint)
        self.listening[endpoint] = path

    def leave(self, endpoint):
        path = self.listening.pop(endpoint, None)
        if path is None:
            return
        source = self.sources[path]
        if endpoint in source.cast.listeners:
            self.bus.remove_listener(source.cast, endpoint)
        if not source.cast.listeners:
            del self.sources[path]
            source.stopped = True
            self.ports.stop(source.voice)
            self.bus.release(source.voice)
            self.voice_pool.give(source.voice)

    def _loop(self, path, source):
        """Play the music again and again until the last listener leaves
        (`stopped`); a play that hung is `hung`'s to replace."""
        if source.stopped:
            return
        voice = source.voice
        d = self.ports.play(voice, [path], barge_in=False)
        d.addCallback(lambda r: None if r["reason"] == "hung" or source.voice != voice
                      else self._loop(path, source))

    def hung(self, path, event):
        """The music's voice resource hung (the driver reset it): another
        plays the music to the same listeners."""
        source = self.sources.get(path)
        if source is None or source.voice != event.device:
            return
        old, listeners = source.voice, sorted(source.cast.listeners)
        for endpoint in listeners:
            self.bus.remove_listener(source.cast, endpoint)
        self.bus.release(old)
        self.voice_pool.quarantine(old)
        self.on_hung(old, event.data.get("op"))
        voice = self.voice_pool.take(_Owner(self, path))
        if voice is None:              # they join again with their next hold or announcement
            log.warn("music on hold: {path} hung on {voice} and no voice resource is free: "
                     "its listeners hear silence", path=path, voice=old)
            del self.sources[path]
            for endpoint in listeners:
                self.listening.pop(endpoint, None)
            return
        log.error("music on hold: {path} hung on {voice}; {new} plays it now", path=path,
                  voice=old, new=voice)
        source.voice, source.cast = voice, self.bus.broadcast(voice, listeners)
        self._loop(path, source)


class _Source:
    def __init__(self, voice, cast):
        self.voice, self.cast, self.stopped = voice, cast, False


class _Owner:
    """What the voice pool records as the user of a music voice resource
    (its board events are not a channel's business, but its hang is)."""

    def __init__(self, music, path):
        self.music, self.path = music, path
        self.name = f"music {path}"

    def handle(self, event):
        if event.kind == "operation_failed":
            self.music.hung(self.path, event)


class Talk:
    """The parties of one connected call and the bus arrangement for them."""

    def __init__(self, bus, dsps, caller, music):
        self.bus = bus
        self.dsps = list(dsps)
        self.caller = caller
        self.music = music
        self.parties = {caller: "talk"}
        self.held = False
        self.music_path = None
        self.fed = None            # the Route feeding the caller a source (feed)
        self.connection = None     # the Route or Conference in place

    def role(self, endpoint):
        return self.parties.get(endpoint)

    def set(self, endpoint, role):
        """Add a party, or change its role.  A role the boards' conferences
        refuse (a driver's ConferenceError: DAHDI has no whisper), no
        conference room, or a board failing is a TalkError, the arrangement
        left as it was (see `_rearrange`)."""
        if role not in TALK_ROLES:
            raise TalkError(f"role {role!r} is not one of {', '.join(TALK_ROLES)}")
        if role in ("coach", "pupil") and any(
                r == role for e, r in self.parties.items() if e != endpoint):
            raise TalkError(f"a conference has one {role} at most")
        before = self.parties.get(endpoint)
        self.parties[endpoint] = role
        try:
            self._apply()
        except (DriverError, BusError, TalkError) as e:
            if before is None:
                del self.parties[endpoint]
            else:
                self.parties[endpoint] = before
            why = (f"the conference refuses {endpoint} as {role}: {e}"
                   if isinstance(e, ConferenceError) else str(e))
            self._rearrange(why)
            raise TalkError(why) from None

    def drop(self, endpoint):
        """Take a party out; a TalkError only if the boards refuse even
        the arrangement of those left (`_rearrange`)."""
        if self.parties.pop(endpoint, None) is not None:
            self._rearrange(f"{endpoint} could not leave the call")

    def _rearrange(self, why):
        """The arrangement the parties ask for: changed in place or, when
        the boards refuse that (a board gone meanwhile), built again from
        nothing.  Both refused is a TalkError saying so (`why` first): the
        parties are kept, but nobody hears anybody until the next change."""
        try:
            self._apply()
            return
        except (DriverError, BusError, TalkError) as e:
            log.warn("{why}: changing the call's arrangement failed ({error}), building "
                     "it again", why=why, error=e)
        try:
            self._teardown()
            self._apply()
        except (DriverError, BusError, TalkError) as e:
            self._teardown()
            raise TalkError(f"{why}; and the call's audio could not be put back: {e}") from None

    def hold(self, path):
        """The caller hears the music; the others stay together.  Like
        every change of the arrangement (`retrieve`, `feed`, `unfeed`), one
        the boards refuse is a TalkError, the call left as it was (`_change`)."""
        def undo():
            self.held, self.music_path = False, None
            self.music.leave(self.caller)
        self._change("the caller could not be put on hold", undo, self._hold, path)

    def _hold(self, path):
        self._teardown()
        self.held = True
        self.music_path = path
        if path is not None:                    # else silence
            self.music.join(self.caller, path)
        self._apply()

    def retrieve(self):
        """The caller back with the others; a feed left over (its route the
        boards refused to take down: `unfeed`) is taken down first."""
        path = self.music_path

        def undo():
            self.held = True
            if path is not None:
                self.music.join(self.caller, path)
        self._change("the caller could not be taken off hold", undo, self._retrieve)

    def _retrieve(self):
        self._unroute_fed()
        self.held = False
        self.music.leave(self.caller)
        self._apply()

    def feed(self, source):
        """For a moment the caller hears `source` only (keys sent to it), on
        a route of its own: tones pass unmixed; the others stay together."""
        def undo():
            self._unroute_fed()
            if self.held and self.music_path is not None:
                self.music.join(self.caller, self.music_path)
        self._change(f"the caller could not hear {source}", undo, self._feed, source)

    def _feed(self, source):
        self._teardown()
        self.music.leave(self.caller)
        self.fed = self.bus.route(self.caller, source, duplex=False)
        self._apply()

    def unfeed(self):
        """The caller back from `feed`: with the others, or on hold again."""
        self._change("the caller could not come back from what it heard", lambda: None,
                     self._unfeed)

    def _unfeed(self):
        self._unroute_fed()
        if self.held:
            self._teardown()
            self.held = False
            self._hold(self.music_path)
        else:
            self._apply()

    def _unroute_fed(self):
        """The route feeding the caller taken down, then forgotten: one the
        boards refuse to take down stays the caller's, to undo or retry."""
        if self.fed is not None and self.fed.id in self.bus.routes:
            self.bus.disconnect(self.fed)
        self.fed = None

    def _change(self, why, undo, change, *args):
        """Make a change; the boards refusing it (a board gone meanwhile)
        is a TalkError saying `why`, after `undo` puts the parties' wishes
        back and `_rearrange` the arrangement for them."""
        try:
            change(*args)
        except (DriverError, BusError, TalkError) as e:
            try:
                undo()
            except (DriverError, BusError) as also:
                log.warn("{why}: undoing it failed too ({error})", why=why, error=also)
            self._rearrange(why)
            raise TalkError(f"{why}: {e}") from None

    def end(self):
        """Take the whole arrangement down (the call is over)."""
        self._teardown()
        self._unroute_fed()
        self.music.leave(self.caller)
        self.parties = {}

    # -- the arrangement -------------------------------------------------------
    def _apply(self):
        """Arrange the bus for the parties now: a route for two talkers, a
        conference (changed in place if there is one) for anything else."""
        aside = self.held or self.fed is not None       # the caller is elsewhere
        new = {e: r for e, r in self.parties.items() if not (aside and e == self.caller)}
        wants_route = len(new) == 2 and set(new.values()) == {"talk"}
        if isinstance(self.connection, Conference) and len(new) >= 2 and not wants_route:
            self._change_conference(new)
            return
        self._teardown()
        if wants_route:
            a, b = new
            self.connection = self.bus.route(a, b)
        elif len(new) >= 2:
            self.connection = self._conference(new)

    def _change_conference(self, new):
        conf = self.connection
        for endpoint in [e for e in conf.parties if e not in new]:
            self.bus.remove_party(conf, endpoint)
        for endpoint, role in new.items():
            if endpoint not in conf.parties:
                self.bus.add_party(conf, endpoint, TALK_ROLES[role])
            elif conf.parties[endpoint] != TALK_ROLES[role]:
                self.bus.set_role(conf, endpoint, TALK_ROLES[role])

    def _conference(self, parties):
        for dsp in self.dsps:
            try:
                if self.bus.driver.conference_room(dsp) < len(parties):
                    continue
                return self.bus.conference(dsp, {e: TALK_ROLES[r] for e, r in parties.items()})
            except (DriverError, BusError) as e:
                log.warn("conference on {dsp} failed: {error}", dsp=dsp, error=e)
        raise TalkError(f"no conference room for {len(parties)} parties on "
                        f"{', '.join(self.dsps) or 'no DSP'}")

    def _teardown(self):
        connection, self.connection = self.connection, None
        if isinstance(connection, Route) and connection.id in self.bus.routes:
            self.bus.disconnect(connection)
        elif isinstance(connection, Conference) and connection.id in self.bus.conferences:
            self.bus.disconnect(connection)
