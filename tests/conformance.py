# SPDX-License-Identifier: GPL-2.0-or-later
"""The conformance suite every board driver must pass.

A driver joins by providing a `chassis` fixture that yields a `Chassis`:
the driver, a way to move time (`run(ms)`) and the names of a few of its
devices.  Everything here is checked through `IBoardDriver` alone, so the
same tests hold a Synway or DAHDI driver to the contract the R4 driver
keeps.  tests/test_conformance.py runs it against the R4 driver over the
simulator, through the full binding and through the vendor-only one;
tests/test_voice_modem.py against the voice modem driver over our modem
simulator.

What a driver provides it provides whole, or refuses whole: each call of
a capability (`CAPABILITIES`: the CT-Bus, T1 trunks, span maintenance
(counters, loopbacks, loop codes), bit error rate tests, stations,
conferences, the silence level) either works or raises
DriverNotSupported naming itself and its device.  `DriverConformance`, which every driver passes,
checks that, and that each capability a driver provides is held to its
own suite: a test class mixes in `BusConformance`, `TrunkConformance`,
`SpanMaintenanceConformance`, `BertConformance`, `StationConformance`,
`ConferenceConformance`, `SilenceLevelConformance` for what its driver
provides, and
`VoiceConformance` (play, record, digits, dial, tones) and
`AnalogLineConformance` (ring, caller ID, hook, audio both ways, keys,
the far end's hang-up, a call out) where it has voice channels and
analog lines.  Nothing is skipped: a suite that does not apply is not
mixed in, and DriverConformance proves it does not apply.  A driver
with E1 spans passes E1Conformance too, where an ISDN span's D-channel is
provided whole or refused whole.
"""
import select
from array import array
from dataclasses import dataclass
from pathlib import Path

import pytest
from zope.interface.verify import verifyObject

from drivers import errors
from drivers.interface import (
    BERT_RESULTS,
    DEVICE_KINDS,
    EVENT_SOURCES,
    LOOPBACKS,
    SPAN_CLOCKS,
    SPAN_CODINGS,
    SPAN_COUNTERS,
    SPAN_DEFECTS,
    SPAN_FRAMINGS,
    STATION_TONES,
    TERMINATION_REASONS,
    CallProgress,
    DeviceInfo,
    Event,
    IBoardDriver,
    Prompt,
    Termination,
)
from drivers.wavinfo import wav_samples
from tests.rig import hears, tone

DOCUMENTED_EVENTS = {
    "ring", "ring_stopped", "loop_current", "polarity_reversed", "digit", "tone", "silence",
    "hook_done", "play_done", "record_done", "digits_done", "dial_done", "tone_done",
    "signalling", "wink_done", "alarm", "station_hook", "station_flash", "station_answered",
    "station_ring_done", "nothing_to_stop",
}


@dataclass
class Chassis:
    """What a driver's test gives the suites.  voice, voice2: two voice
    channels (a modem's: its line, off hook); station, timeslot, dsp: for
    the capabilities that use them (None where the driver refuses them);
    line and far: an analog line and its far end (`FarLine`), for
    AnalogLineConformance."""

    driver: object
    run: object            # run(ms): move board time and the driver's clock
    voice: str             # a voice channel
    voice2: str            # another one
    events: list
    station: str | None = None
    timeslot: str | None = None
    dsp: str | None = None
    advance_board_only: object = None   # move board time without polling
    e1_timeslot: str | None = None      # a timeslot of an E1 CAS span (E1Conformance)
    dchannel: str | None = None         # the D-channel of an ISDN span (E1Conformance)
    line: str | None = None
    far: object = None
    clocks: tuple = ()      # the task.Clocks the driver's timers run on


def driver_timers(clocks):
    """The calls pending on `clocks` that a driver made (a LoopingCall's by
    the function it repeats), not a simulator's."""
    def module(call):
        return getattr(getattr(call.func, "f", call.func), "__module__", "") or ""
    return [call for clock in clocks for call in clock.getDelayedCalls()
            if module(call).startswith("drivers.")]


class FarLine:
    """The far end of an analog line, as a test plays it (each driver's
    test adapts its simulator to this):

        call(number, name)    a caller rings the line, with caller ID
        abandon()             the caller gives up before an answer
        press(keys)           the far end presses DTMF keys
        say_tone(freq, ms)    the far end sends a tone (its audio)
        hang_up()             the far end hangs up (the loop current drops)
        listen()              keep what the line sends the far end from now
        hears(freq)           whether what it kept holds the frequency
        answer_calls_out()    a call we place is answered
        dialled()             the number our last call out dialled
    """


def done_events(chassis, device, kind):
    return [e for e in chassis.events if e.device == device and e.kind == kind]


def span_of(chassis):
    """The span of the chassis's timeslot (its board in the inventory)."""
    return next(i.board for i in chassis.driver.inventory() if i.name == chassis.timeslot)


def _named(name, placeholder):
    return name if name is not None else placeholder


def capability_calls(chassis):
    """Every call of each capability a driver provides whole or refuses
    whole, on the chassis's devices (placeholders where it has none: a
    refusal comes before any name is looked at)."""
    d = chassis.driver
    ts, station = _named(chassis.timeslot, "dtiB1T1"), _named(chassis.station, "msiB1C1")
    dsp, voice = _named(chassis.dsp, "dcbB1D1"), chassis.voice
    span = span_of(chassis) if chassis.timeslot is not None else "dtiB1"
    return {
        "bus": [("transmit_slot", lambda: d.transmit_slot(voice)),
                ("listen", lambda: d.listen(voice, 4095)),
                ("unlisten", lambda: d.unlisten(voice)),
                ("line_transmit_slot", lambda: d.line_transmit_slot(voice)),
                ("line_listen", lambda: d.line_listen(voice, 4095)),
                ("line_unlisten", lambda: d.line_unlisten(voice))],
        "trunks": [("enable_signalling_events", lambda: d.enable_signalling_events(ts)),
                   ("set_bits", lambda: d.set_bits(ts, 0, 0)),
                   ("wink", lambda: d.wink(ts)),
                   ("bits", lambda: d.bits(ts)),
                   ("enable_alarm_events", lambda: d.enable_alarm_events(span)),
                   ("alarms", lambda: d.alarms(span))],
        "span_maintenance": [("span_counters", lambda: d.span_counters(span)),
                             ("span_loopback", lambda: d.span_loopback(span, "local")),
                             ("send_loop_code", lambda: d.send_loop_code(span, "line_up"))],
        "bert": [("bert_start", lambda: d.bert_start(ts, "qrss")),
                 ("bert_results", lambda: d.bert_results(ts)),
                 ("bert_stop", lambda: d.bert_stop(ts))],
        "stations": [("enable_station_events", lambda: d.enable_station_events(station)),
                     ("station_tone", lambda: d.station_tone(station, None)),
                     ("station_offhook", lambda: d.station_offhook(station)),
                     ("ring_station", lambda: d.ring_station(station, 1)),
                     ("stop_ring", lambda: d.stop_ring(station))],
        "silence_level": [("set_silence_level", lambda: d.set_silence_level(voice, -40))],
        "conferences": [("conference_room", lambda: d.conference_room(dsp)),
                        ("conference_create", lambda: d.conference_create(dsp, [])),
                        ("conference_add", lambda: d.conference_add(dsp, 0, 0, "normal")),
                        ("conference_set_role", lambda: d.conference_set_role(
                            dsp, 0, 0, "normal")),
                        ("conference_remove", lambda: d.conference_remove(dsp, 0, 0)),
                        ("conference_delete", lambda: d.conference_delete(dsp, 0))],
    }


def refused_calls(chassis, capability):
    """The calls of a capability the driver refuses (DriverNotSupported,
    naming the call, or the vendor's function it would need, and the
    device); a call it provides may still fail for its own reasons (a
    conference that does not exist)."""
    refused = []
    for name, call in capability_calls(chassis)[capability]:
        try:
            call()
        except errors.DriverNotSupported as e:
            refused.append(name)
            assert e.function and e.device, e
        except errors.DriverError:
            pass
    return refused


class DriverConformance:
    """Every driver: mix into a test class that provides the `chassis` fixture."""

    def test_provides_the_interface(self, chassis):
        assert verifyObject(IBoardDriver, chassis.driver)
        assert chassis.driver.event_source in EVENT_SOURCES

    def test_inventory_lists_known_kinds_with_unique_slots(self, chassis):
        inventory = chassis.driver.inventory()
        assert inventory and all(isinstance(i, DeviceInfo) for i in inventory)
        assert {i.kind for i in inventory} <= set(DEVICE_KINDS)
        slots = [i.slot for i in inventory if i.slot is not None]
        assert len(slots) == len(set(slots)), "two devices transmit on one timeslot"
        assert {chassis.voice, chassis.voice2} <= {i.name for i in inventory}

    def test_unknown_device_is_refused_by_name(self, chassis):
        with pytest.raises(errors.NoSuchDevice) as caught:
            chassis.driver.open("dxxxB99C9")
        assert "dxxxB99C9" in str(caught.value)

    def test_events_come_by_the_driver_s_own_path(self, chassis):
        """A descriptor that wakes when an event waits (poll() drains it);
        without one, the wait a thread blocks in (wait_events); or the
        driver's own transports, handing each event over as it comes."""
        d = chassis.driver
        if d.event_source == "descriptor":
            fd = d.fileno()
            d.poll()
            assert select.select([fd], [], [], 0)[0] == []
            d.play(chassis.voice, [Prompt(b"\xff" * 80, "ulaw")])
            chassis.advance_board_only(100)
            assert select.select([fd], [], [], 0)[0] == [fd]
            d.poll()
            assert select.select([fd], [], [], 0)[0] == []
        elif d.event_source == "thread":
            assert d.fileno() is None
            d.deliver(d.wait_events(0))
            assert d.wait_events(0) == []
            d.play(chassis.voice, [Prompt(b"\xff" * 80, "ulaw")])
            chassis.advance_board_only(100)
            raw = d.wait_events(0)
            assert [(e.device, e.kind) for e in d.deliver(raw)] == [
                (chassis.voice, "play_done")]
        else:
            assert d.fileno() is None and d.poll() == []
            d.play(chassis.voice, [Prompt(b"\xff" * 80, "ulaw")])
            chassis.advance_board_only(100)            # nobody polls
            assert d.poll() == []
        assert done_events(chassis, chassis.voice, "play_done")

    def test_stopped_events_leave_no_timer_and_reach_no_subscriber(self, chassis):
        """The server stopping (stop_events): a prompt's watchdog is gone
        from the clock, and neither the prompt's end nor anything else
        reaches a subscriber after."""
        d = chassis.driver
        d.play(chassis.voice, [Prompt(b"\xff" * 4000, "ulaw")], watchdog_ms=60_000)
        chassis.run(100)
        assert driver_timers(chassis.clocks), "a playing prompt has its watchdog"
        d.stop_events()
        chassis.events.clear()
        assert driver_timers(chassis.clocks) == []
        chassis.run(1_000)                              # the prompt would have ended
        assert chassis.events == []
        assert driver_timers(chassis.clocks) == []

    @pytest.mark.parametrize("capability", ["bus", "trunks", "span_maintenance", "bert",
                                            "stations", "conferences", "silence_level"])
    def test_a_capability_is_provided_whole_or_refused_whole(self, chassis, capability):
        """Refused whole, each call naming itself; or provided whole, and
        then this test class holds it to its suite."""
        refused = refused_calls(chassis, capability)
        every = [name for name, _ in capability_calls(chassis)[capability]]
        assert refused in ([], every), f"{capability}: refused {refused} of {every}"
        if not refused:
            assert isinstance(self, CAPABILITIES[capability]), (
                f"the driver provides {capability}: mix {CAPABILITIES[capability].__name__} "
                "into its test class")


class VoiceConformance:
    """Voice channels: play, digits, tones, dial, one operation at a time."""

    def test_every_operation_ends_with_exactly_one_event(self, chassis):
        d = chassis.driver
        d.play(chassis.voice, [Prompt(b"\xff" * 1600, "ulaw")])
        d.collect_digits(chassis.voice2, Termination(max_time_ms=300))
        chassis.run(1000)
        d.play_tone(chassis.voice, 1000, 0, -13, duration_ms=200)
        chassis.run(1000)
        d.dial(chassis.voice2, "123")
        chassis.run(3000)
        assert len(done_events(chassis, chassis.voice, "play_done")) == 1
        assert len(done_events(chassis, chassis.voice, "tone_done")) == 1
        assert len(done_events(chassis, chassis.voice2, "digits_done")) == 1
        assert len(done_events(chassis, chassis.voice2, "dial_done")) == 1
        for event in chassis.events:
            assert isinstance(event, Event) and event.kind in DOCUMENTED_EVENTS
            if "reasons" in event.data:
                assert event["reasons"] <= TERMINATION_REASONS

    def test_one_operation_at_a_time(self, chassis):
        d = chassis.driver
        assert not d.busy(chassis.voice)
        d.play(chassis.voice, [Prompt(b"\xff" * 8000, "ulaw")])
        assert d.busy(chassis.voice)
        with pytest.raises(errors.DeviceBusy):
            d.collect_digits(chassis.voice, Termination(max_digits=1))
        d.stop(chassis.voice)
        chassis.run(100)
        assert done_events(chassis, chassis.voice, "play_done")[0]["reasons"] == {"stopped"}
        assert not d.busy(chassis.voice)        # until its done event

    def test_bad_requests_raise_bad_parameter_and_change_nothing(self, chassis):
        d = chassis.driver
        with pytest.raises(errors.BadParameter):
            d.collect_digits(chassis.voice, Termination())
        with pytest.raises(errors.BadParameter):
            d.collect_digits(chassis.voice, Termination(max_digits=99))
        with pytest.raises(errors.BadParameter):
            d.play(chassis.voice, [Prompt(b"\xff" * 80, "mp3")])
        with pytest.raises(errors.BadParameter):
            d.dial(chassis.voice, "12P3")
        assert d.status(chassis.voice)["state"] == "idle"
        d.play(chassis.voice, [Prompt(b"\xff" * 80, "ulaw")])     # still usable
        chassis.run(100)
        assert done_events(chassis, chassis.voice, "play_done")


class BusConformance:
    """The CT-Bus: devices transmit on timeslots and listen to others."""

    def test_each_device_transmits_on_its_inventory_slot(self, chassis):
        """...and one off the bus (its inventory slot None: a voice modem
        beside the boards) refuses to have one."""
        for info in chassis.driver.inventory():
            if info.kind not in ("voice", "timeslot", "station"):
                continue
            if info.slot is not None:
                assert chassis.driver.transmit_slot(info.name) == info.slot
            else:
                with pytest.raises(errors.DriverNotSupported):
                    chassis.driver.transmit_slot(info.name)

    def test_listening_to_an_undriven_slot_is_bus_misuse(self, chassis):
        driven = {i.slot for i in chassis.driver.inventory() if i.slot is not None}
        undriven = next(s for s in range(4095, 0, -1) if s not in driven)
        with pytest.raises(errors.BusMisuse):
            chassis.driver.listen(chassis.voice, undriven)

    def test_listen_twice_without_unlisten_is_bus_misuse(self, chassis):
        d = chassis.driver
        d.listen(chassis.voice, d.transmit_slot(chassis.station))
        with pytest.raises(errors.BusMisuse):
            d.listen(chassis.voice, d.transmit_slot(chassis.timeslot))
        d.unlisten(chassis.voice)
        d.listen(chassis.voice, d.transmit_slot(chassis.timeslot))
        assert d.status(chassis.voice)["listen"] == d.transmit_slot(chassis.timeslot)

    def test_reset_keeps_what_the_device_hears(self, chassis):
        d = chassis.driver
        slot = d.transmit_slot(chassis.station)
        d.listen(chassis.voice, slot)
        d.reset(chassis.voice)
        assert d.status(chassis.voice)["listen"] == slot


class TrunkConformance:
    """T1 trunks: a span's status names its alarms."""

    def test_the_span_status_names_its_alarms(self, chassis):
        status = chassis.driver.status(span_of(chassis))
        assert status["alarms"] == []
        assert chassis.driver.alarms(span_of(chassis)) == frozenset()


class StationConformance:
    """Stations: the phones' tones."""

    def test_a_station_takes_each_tone_and_none_and_refuses_others(self, chassis):
        d = chassis.driver
        for name in (*STATION_TONES, None):
            d.station_tone(chassis.station, name)
        with pytest.raises(errors.BadParameter):
            d.station_tone(chassis.station, "howler")


class ConferenceConformance:
    """Conferences: each party hears the others on its own slot."""

    def test_conference_gives_each_party_its_own_output(self, chassis):
        d = chassis.driver
        a, b = d.transmit_slot(chassis.voice), d.transmit_slot(chassis.station)
        room = d.conference_room(chassis.dsp)
        conf, outputs = d.conference_create(chassis.dsp, [(a, "normal"), (b, "listen_only")])
        assert set(outputs) == {a, b} and len(set(outputs.values())) == 2
        assert d.conference_room(chassis.dsp) == room - 2
        d.conference_delete(chassis.dsp, conf)
        assert d.conference_room(chassis.dsp) == room
        with pytest.raises(errors.ConferenceError):
            d.conference_create(chassis.dsp, [(a, "boss")])


class SilenceLevelConformance:
    """The level below which a voice channel hears silence
    (set_silence_level): a caller quieter than it is silence, one louder
    is not; what analog disconnect supervision by silence stands on.  The
    chassis's voice channel hears voice2's tones through the bus."""

    def silence_offs(self, chassis, level):
        """With the channel's level set to `level`, whether a -30 dBm0 tone
        ends the silence of an idle voice2 (a silence off event)."""
        d = chassis.driver
        d.set_silence_level(chassis.voice, level)
        mark = len(chassis.events)
        d.play_tone(chassis.voice2, 1000, 0, -30, duration_ms=1_000)
        chassis.run(1_500)
        return [e["on"] for e in chassis.events[mark:]
                if e.device == chassis.voice and e.kind == "silence"]

    def hear_voice2(self, chassis):
        d = chassis.driver
        d.listen(chassis.voice, d.transmit_slot(chassis.voice2))
        d.enable_events(chassis.voice, {"silence"})
        chassis.run(500)
        assert [e["on"] for e in done_events(chassis, chassis.voice, "silence")] == [True]

    def test_a_tone_louder_than_the_level_is_not_silence_and_a_quieter_one_is(self, chassis):
        self.hear_voice2(chassis)
        assert self.silence_offs(chassis, -40) == [False, True]     # heard, then silence
        assert self.silence_offs(chassis, -25) == []                # below: silence still

    def test_a_reset_keeps_the_level(self, chassis):
        self.hear_voice2(chassis)
        chassis.driver.set_silence_level(chassis.voice, -25)
        chassis.driver.reset(chassis.voice)
        assert self.silence_offs(chassis, -25) == []

    def test_a_level_out_of_range_is_a_bad_parameter_and_changes_nothing(self, chassis):
        self.hear_voice2(chassis)
        for level in (-61, -19, -40.5, "loud"):
            with pytest.raises(errors.BadParameter):
                chassis.driver.set_silence_level(chassis.voice, level)
        d = chassis.driver
        mark = len(chassis.events)
        d.play_tone(chassis.voice2, 1000, 0, -30, duration_ms=1_000)
        chassis.run(1_500)
        assert [e["on"] for e in chassis.events[mark:]
                if e.device == chassis.voice and e.kind == "silence"] == [False, True]


class SpanMaintenanceConformance:
    """For a driver that provides span maintenance: mix into a test class
    with a `chassis` fixture of such a driver."""

    def test_span_counters_have_the_documented_keys_and_never_go_back(self, chassis):
        d, span = chassis.driver, span_of(chassis)
        before = d.span_counters(span)
        assert set(before) == set(SPAN_COUNTERS) | set(SPAN_DEFECTS)
        assert all(type(before[k]) is int for k in SPAN_COUNTERS)
        assert all(type(before[k]) is bool for k in SPAN_DEFECTS)
        chassis.run(2_000)
        after = d.span_counters(span)
        assert after["seconds"] == before["seconds"] + 2
        assert all(after[k] >= before[k] for k in SPAN_COUNTERS)

    def test_span_status_shows_its_line_and_our_loopback(self, chassis):
        d, span = chassis.driver, span_of(chassis)
        status = d.status(span)
        assert status["framing"] in SPAN_FRAMINGS and status["coding"] in SPAN_CODINGS
        assert status["clock"] in SPAN_CLOCKS and status["loopback"] in LOOPBACKS
        d.span_loopback(span, "local")
        assert d.status(span)["loopback"] == "local"
        d.span_loopback(span, "none")
        assert d.status(span)["loopback"] == "none"
        with pytest.raises(errors.BadParameter):
            d.span_loopback(span, "sideways")

    def test_a_loop_code_being_sent_shows_in_the_status(self, chassis):
        d, span = chassis.driver, span_of(chassis)
        d.send_loop_code(span, "line_up")
        assert d.status(span)["loop_code"] == "line_up"
        with pytest.raises(errors.BadParameter):
            d.send_loop_code(span, "jump")


class BertConformance:
    """For a driver that runs bit error rate tests: mix into a test class
    with a `chassis` fixture of such a driver (span maintenance too: the
    BERT runs through a local loopback)."""

    def test_a_bert_through_a_local_loop_syncs_error_free_and_stops_with_results(self, chassis):
        d, span = chassis.driver, span_of(chassis)
        d.span_loopback(span, "local")
        d.bert_start(chassis.timeslot, "qrss")
        chassis.run(2_000)
        results = d.bert_results(chassis.timeslot)
        assert set(results) == set(BERT_RESULTS)
        assert (results["pattern"], results["sync"], results["errors"]) == ("qrss", True, 0)
        assert results["bits"] > 0 and results["ber"] == 0.0
        assert d.bert_stop(chassis.timeslot)["bits"] >= results["bits"]
        with pytest.raises(errors.BadParameter):
            d.bert_results(chassis.timeslot)
        with pytest.raises(errors.BadParameter):
            d.bert_start(span, "one_in_eight")

    def test_a_bert_is_refused_on_a_timeslot_in_a_call(self, chassis):
        d = chassis.driver
        d.listen(chassis.timeslot, d.transmit_slot(chassis.voice))
        with pytest.raises(errors.DeviceBusy):
            d.bert_start(chassis.timeslot, "qrss")
        d.unlisten(chassis.timeslot)
        d.bert_start(chassis.timeslot, "qrss")


class E1Conformance:
    """For a driver with E1 spans: mix into a test class whose chassis names
    `e1_timeslot` (a timeslot of an E1 CAS span) and `dchannel` (an ISDN
    span's D-channel, "dtiBnD")."""

    def test_an_e1_span_has_30_timeslots_numbered_as_the_vendor_numbers_them(self, chassis):
        d = chassis.driver
        span = next(i.board for i in d.inventory() if i.name == chassis.e1_timeslot)
        timeslots = [i.name for i in d.inventory() if i.kind == "timeslot" and i.board == span]
        assert timeslots == [f"{span}T{n}" for n in range(1, 31)]
        assert d.status(span)["type"] == "e1"
        assert d.status(span_of(chassis))["type"] == "t1"

    def test_cas_timeslots_carry_four_bits_and_refuse_0000(self, chassis):
        d, ts = chassis.driver, chassis.e1_timeslot
        d.set_bits(ts, 1, 1, c=0, d=1)
        assert d.abcd(ts)[0] == d.status(ts)["tx_bits"] == "1101"
        d.set_bits(ts, 1, 0)                   # C and D kept
        assert d.abcd(ts)[0] == "1001"
        with pytest.raises(errors.BadParameter):
            d.set_bits(ts, 0, 0, c=0, d=0)
        assert d.abcd(ts)[0] == "1001"

    def test_an_e1_timeslot_is_on_the_bus_as_any_other(self, chassis):
        d, ts = chassis.driver, chassis.e1_timeslot
        d.listen(ts, d.transmit_slot(chassis.voice))
        d.listen(chassis.voice2, d.transmit_slot(ts))
        chassis.run(50)
        d.unlisten(ts)
        d.unlisten(chassis.voice2)

    def test_the_d_channel_is_provided_whole_or_refused_whole(self, chassis):
        d = chassis.driver
        listed = [i.name for i in d.inventory() if i.kind == "dchannel"]
        try:
            d.dchannel_send(chassis.dchannel, b"\x02\x01\x7f")
        except errors.DriverNotSupported as e:
            assert e.device and e.function, e
            assert listed == []                # refused whole: not even listed
            return
        assert chassis.dchannel in listed
        with pytest.raises(errors.BadParameter):
            d.dchannel_send(chassis.e1_timeslot, b"\x02\x01\x7f")

    def test_r2_mf_is_provided_whole_or_refused_whole(self, chassis):
        d, ts = chassis.driver, chassis.e1_timeslot
        try:
            d.r2_mf_mode(ts, "backward")
        except errors.DriverNotSupported as e:
            assert e.device == ts and e.function, e
            with pytest.raises(errors.DriverNotSupported):
                d.r2_mf_send(ts, 1)
            return
        d.r2_mf_send(ts, 1)
        chassis.run(50)
        d.r2_mf_send(ts, 0)
        with pytest.raises(errors.BadParameter):
            d.r2_mf_send(ts, 16)
        with pytest.raises(errors.BadParameter):
            d.r2_mf_mode(ts, "sideways")
        d.r2_mf_mode(ts, None)
        with pytest.raises(errors.BadParameter):
            d.r2_mf_send(ts, 1)                # off: nothing to send with


class AnalogLineConformance:
    """An analog loop-start line (FXO) and its voice: the chassis's `line`
    (on hook, events off) and `far` (FarLine).  Times suit the exchange's
    6 s ring cadence, the caller ID coming between the first two rings."""

    LINE_EVENTS = {"ring", "ring_stopped", "loop_current", "digit"}
    #: The longest a first ring may take to be reported: a board reports it
    #: as the ring starts, DAHDI once the burst and its trailer are over
    #: (RINGOFFHOOK: lines-real.md 1.4), 2.2 s into a 2 s ring.
    FIRST_RING_MS = 3_000

    def ring_in(self, chassis, number="5551234", name="ALICE"):
        chassis.driver.enable_events(chassis.line, self.LINE_EVENTS)
        chassis.far.call(number, name)
        for _ in range(0, self.FIRST_RING_MS, 100):
            chassis.run(100)
            if done_events(chassis, chassis.line, "ring"):
                break
        assert [e["count"] for e in done_events(chassis, chassis.line, "ring")] == [1]

    def answer(self, chassis):
        self.ring_in(chassis)
        chassis.driver.set_hook(chassis.line, True)
        chassis.run(200)
        assert done_events(chassis, chassis.line, "hook_done")[-1]["offhook"] is True

    def test_caller_id_is_read_between_the_first_and_second_ring(self, chassis):
        d = chassis.driver
        with pytest.raises(errors.CallerIdUnavailable) as caught:
            d.caller_id(chassis.line)
        assert caught.value.device == chassis.line
        self.ring_in(chassis, "13800138000", "ALICE")
        chassis.run(4_000)
        cid = d.caller_id(chassis.line)
        assert (cid.number, cid.name, cid.frame) == ("13800138000", "ALICE", "M")
        assert len(cid.datetime) == 8 and cid.datetime.isdigit()
        chassis.run(3_000)
        assert [e["count"] for e in done_events(chassis, chassis.line, "ring")] == [1, 2]

    def test_a_caller_who_gives_up_stops_the_ringing(self, chassis):
        self.ring_in(chassis)
        chassis.far.abandon()
        chassis.run(12_000)
        assert len(done_events(chassis, chassis.line, "ring_stopped")) == 1
        assert [e["count"] for e in done_events(chassis, chassis.line, "ring")] == [1]

    def test_off_hook_answers_and_on_hook_hangs_up(self, chassis):
        d = chassis.driver
        self.answer(chassis)
        assert d.status(chassis.line)["hook"] == "off"
        chassis.run(7_000)
        assert [e["count"] for e in done_events(chassis, chassis.line, "ring")] == [1]
        d.set_hook(chassis.line, False)
        chassis.run(200)
        assert done_events(chassis, chassis.line, "hook_done")[-1]["offhook"] is False
        assert d.status(chassis.line)["hook"] == "on"

    def test_the_caller_hears_a_prompt(self, chassis):
        self.answer(chassis)
        chassis.far.listen()
        chassis.driver.play(chassis.line, [Prompt(tone_ulaw(1000, 600), "ulaw")])
        chassis.run(1_500)
        assert done_events(chassis, chassis.line, "play_done")[0]["reasons"] <= {
            "end_of_data", "normal"}
        assert chassis.far.hears(1000) and not chassis.far.hears(1800)

    def test_the_caller_s_keys_are_reported_and_collected(self, chassis):
        d = chassis.driver
        self.answer(chassis)
        chassis.far.press("42#")
        chassis.run(1_500)
        assert [e["digit"] for e in done_events(chassis, chassis.line, "digit")] == [
            "4", "2", "#"]
        d.collect_digits(chassis.line, Termination(max_digits=5, terminators="#"))
        chassis.run(200)
        done = done_events(chassis, chassis.line, "digits_done")[0]
        assert (done["digits"], done["reasons"]) == ("42#", {"terminator"})

    def test_a_key_ends_a_prompt_and_stays_typed_ahead(self, chassis):
        d = chassis.driver
        self.answer(chassis)
        d.play(chassis.line, [Prompt(tone_ulaw(1000, 5_000), "ulaw")],
               Termination(max_digits=1))
        chassis.run(500)
        chassis.far.press("7")
        chassis.run(1_000)
        assert done_events(chassis, chassis.line, "play_done")[0]["reasons"] == {"digits"}
        d.collect_digits(chassis.line, Termination(max_digits=1, max_time_ms=1_000))
        chassis.run(200)
        assert done_events(chassis, chassis.line, "digits_done")[0]["digits"] == "7"

    def test_a_recording_holds_what_the_caller_says(self, chassis, tmp_path):
        self.answer(chassis)
        path = tmp_path / "message.wav"
        chassis.driver.record(chassis.line, str(path), "wav", Termination(max_time_ms=1_000))
        chassis.far.say_tone(1000, 1_500)
        chassis.run(2_000)
        assert done_events(chassis, chassis.line, "record_done")[0]["reasons"] == {"max_time"}
        fmt, data = wav_samples(Path(path).read_bytes())
        samples = array("h", data)
        assert fmt == "pcm16" and 6_000 <= len(samples) <= 10_000
        assert hears(samples[len(samples) // 2:], 1000)

    def test_the_far_end_hanging_up_drops_the_loop_current(self, chassis):
        self.answer(chassis)
        mark = len(chassis.events)
        chassis.far.hang_up()
        chassis.run(2_000)
        assert any(e.kind == "loop_current" and e["on"] is False
                   for e in chassis.events[mark:] if e.device == chassis.line)

    def test_a_call_out_dials_and_connects(self, chassis):
        d = chassis.driver
        chassis.far.answer_calls_out()
        d.set_hook(chassis.line, True)
        chassis.run(500)
        d.dial(chassis.line, "5551000", CallProgress(no_answer_ms=30_000))
        chassis.run(20_000)
        assert done_events(chassis, chassis.line, "dial_done")[0]["result"] == "connected"
        assert chassis.far.dialled() == "5551000"


def tone_ulaw(freq, ms):
    """A tone as mu-law bytes (a prompt)."""
    from drivers import g711

    return g711.encode(tone(freq, ms).tobytes(), "ulaw")


#: Each capability's suite (DriverConformance holds a driver that provides
#: one to it).
CAPABILITIES = {"bus": BusConformance, "trunks": TrunkConformance,
                "span_maintenance": SpanMaintenanceConformance, "bert": BertConformance,
                "stations": StationConformance, "conferences": ConferenceConformance,
                "silence_level": SilenceLevelConformance}
