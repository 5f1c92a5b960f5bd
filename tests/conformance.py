# SPDX-License-Identifier: GPL-2.0-or-later
"""The conformance suite every board driver must pass.

A driver joins by providing a `chassis` fixture that yields a `Chassis`:
the driver, a way to move time (`run(ms)`) and the names of a few of its
devices.  Everything here is checked through `IBoardDriver` alone, so the
same tests hold a Synway or DAHDI driver to the contract the R4 driver
keeps.  tests/test_conformance.py runs it against the R4 driver over the
simulator, through the full binding and through the vendor-only one.

Span maintenance (counters, loopbacks, loop codes, BERT) is provided whole
or refused whole (DriverConformance checks which): a driver without it
raises DriverNotSupported naming the call; a driver with it also passes
SpanMaintenanceConformance.  A driver with E1 spans passes E1Conformance,
where an ISDN span's D-channel is provided whole or refused whole too.
"""
import select
from dataclasses import dataclass

import pytest
from zope.interface.verify import verifyObject

from drivers import errors
from drivers.interface import (
    BERT_RESULTS,
    DEVICE_KINDS,
    LOOPBACKS,
    SPAN_CLOCKS,
    SPAN_CODINGS,
    SPAN_COUNTERS,
    SPAN_DEFECTS,
    SPAN_FRAMINGS,
    STATION_TONES,
    TERMINATION_REASONS,
    DeviceInfo,
    Event,
    IBoardDriver,
    Prompt,
    Termination,
)

DOCUMENTED_EVENTS = {
    "ring", "ring_stopped", "loop_current", "polarity_reversed", "digit", "tone", "silence",
    "hook_done", "play_done", "record_done", "digits_done", "dial_done", "tone_done",
    "signalling", "wink_done", "alarm", "station_hook", "station_flash", "station_answered",
    "station_ring_done", "nothing_to_stop",
}


@dataclass
class Chassis:
    driver: object
    run: object            # run(ms): move board time and the driver's clock
    voice: str             # a voice channel without a line
    voice2: str            # another one
    station: str
    timeslot: str
    dsp: str
    events: list
    advance_board_only: object = None   # move board time without polling
    e1_timeslot: str | None = None      # a timeslot of an E1 CAS span (E1Conformance)
    dchannel: str | None = None         # the D-channel of an ISDN span (E1Conformance)


def done_events(chassis, device, kind):
    return [e for e in chassis.events if e.device == device and e.kind == kind]


def span_of(chassis):
    """The span of the chassis's timeslot (its board in the inventory)."""
    return next(i.board for i in chassis.driver.inventory() if i.name == chassis.timeslot)


def maintenance_calls(chassis):
    """Every span maintenance call of the interface, on the chassis."""
    d, span, ts = chassis.driver, span_of(chassis), chassis.timeslot
    return [("span_counters", lambda: d.span_counters(span)),
            ("span_loopback", lambda: d.span_loopback(span, "local")),
            ("send_loop_code", lambda: d.send_loop_code(span, "line_up")),
            ("bert_start", lambda: d.bert_start(ts, "qrss")),
            ("bert_results", lambda: d.bert_results(ts)),
            ("bert_stop", lambda: d.bert_stop(ts))]


class DriverConformance:
    """Mix into a test class that provides the `chassis` fixture."""

    def test_provides_the_interface(self, chassis):
        assert verifyObject(IBoardDriver, chassis.driver)

    def test_inventory_lists_known_kinds_with_unique_slots(self, chassis):
        inventory = chassis.driver.inventory()
        assert inventory and all(isinstance(i, DeviceInfo) for i in inventory)
        assert {i.kind for i in inventory} <= set(DEVICE_KINDS)
        slots = [i.slot for i in inventory if i.slot is not None]
        assert len(slots) == len(set(slots)), "two devices transmit on one timeslot"
        for info in inventory:
            if info.kind in ("voice", "timeslot", "station"):
                assert chassis.driver.transmit_slot(info.name) == info.slot

    def test_unknown_device_is_refused_by_name(self, chassis):
        with pytest.raises(errors.NoSuchDevice) as caught:
            chassis.driver.open("dxxxB99C9")
        assert "dxxxB99C9" in str(caught.value)

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

    def test_the_span_status_names_its_alarms(self, chassis):
        status = chassis.driver.status(span_of(chassis))
        assert status["alarms"] == []

    def test_events_come_by_the_driver_s_own_path(self, chassis):
        """A descriptor that wakes when an event waits (poll() drains it),
        or, without one, the wait a thread blocks in (wait_events)."""
        d = chassis.driver
        fd = d.fileno()
        if fd is not None:
            d.poll()
            assert select.select([fd], [], [], 0)[0] == []
            d.play(chassis.voice, [Prompt(b"\xff" * 80, "ulaw")])
            chassis.advance_board_only(100)
            assert select.select([fd], [], [], 0)[0] == [fd]
            d.poll()
            assert select.select([fd], [], [], 0)[0] == []
        else:
            d.deliver(d.wait_events(0))
            assert d.wait_events(0) == []
            d.play(chassis.voice, [Prompt(b"\xff" * 80, "ulaw")])
            chassis.advance_board_only(100)
            raw = d.wait_events(0)
            assert [(e.device, e.kind) for e in d.deliver(raw)] == [
                (chassis.voice, "play_done")]
        assert done_events(chassis, chassis.voice, "play_done")

    def test_reset_keeps_what_the_device_hears(self, chassis):
        d = chassis.driver
        slot = d.transmit_slot(chassis.station)
        d.listen(chassis.voice, slot)
        d.reset(chassis.voice)
        assert d.status(chassis.voice)["listen"] == slot

    def test_a_station_takes_each_tone_and_none_and_refuses_others(self, chassis):
        d = chassis.driver
        for tone in (*STATION_TONES, None):
            d.station_tone(chassis.station, tone)
        with pytest.raises(errors.BadParameter):
            d.station_tone(chassis.station, "howler")

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

    # -- T1 span maintenance ---------------------------------------------------
    def test_span_maintenance_is_provided_whole_or_refused_whole(self, chassis):
        refused = []
        for name, call in maintenance_calls(chassis):
            try:
                call()
            except errors.DriverNotSupported as e:
                refused.append(name)
                assert e.device and e.function, e
            except errors.BoardError:
                pass                  # provided, refused for its own reasons (a loop code)
        assert refused in ([], [name for name, _ in maintenance_calls(chassis)])



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
