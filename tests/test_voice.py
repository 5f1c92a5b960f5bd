# SPDX-License-Identifier: GPL-2.0-or-later
"""Voice resources through the driver: digit collection and every way it
ends, play and record in each format checked sample by sample at the far
end, stop, and recovery of a hung operation.  All in virtual time."""
import math
import wave
from array import array

import pytest

from drivers.interface import Prompt, Termination
from drivers.sim import alaw2linear, linear2alaw, linear2ulaw, ulaw2linear
from tests.rig import Rig, power_at, tone

ALL_DIGITS = "0123456789*#ABCD"
CH = "dxxxB1C1"                 # analog channel with its loop-start line


# ---- helpers ---------------------------------------------------------------

@pytest.fixture
def rig():
    return Rig([{"type": "analog", "lines": 2, "dtmf_abcd": True}])


@pytest.fixture
def trunk_rig():
    """A T1 span (E&M wink) and a voice board without lines: dxxxB1C1 is a
    voice resource, dtiB1T1 the trunk timeslot."""
    return Rig([{"type": "t1", "signalling": "em_wink"},
                {"type": "voice", "channels": 2, "dtmf_abcd": True}])


def answer(rig, ch=CH):
    """The far end calls the analog line and we go off-hook: a talking call."""
    fe = rig.sim.endpoint(ch)
    rig.driver.enable_events(ch, {"ring"})
    fe.call()
    rig.wait_for("ring", ch)
    rig.driver.set_hook(ch, True)
    assert rig.wait_for("hook_done", ch)["offhook"] is True
    assert fe.state == "connected"
    return fe


def route_both_ways(rig, voice, timeslot):
    """The voice channel hears the timeslot and the timeslot hears it."""
    d = rig.driver
    d.listen(timeslot, d.transmit_slot(voice))
    d.listen(voice, d.transmit_slot(timeslot))


def collect(rig, termination, ch=CH, within_ms=30_000):
    """collect_digits and wait for its digits_done; returns (event, ms taken)."""
    start = rig.sim.now_ms
    rig.driver.collect_digits(ch, termination)
    event = rig.wait_for("digits_done", ch, within_ms=within_ms)
    return event, rig.sim.now_ms - start


def companded(samples, law="ulaw"):
    """What G.711 makes of linear samples: encode then decode each one."""
    enc, dec = (linear2ulaw, ulaw2linear) if law == "ulaw" else (linear2alaw, alaw2linear)
    return [dec(enc(s)) for s in samples]


def find_lag(captured, expected):
    """Where `expected` starts in `captured`: both are silent (exact zeros)
    until the signal starts, so align their first non-zero samples."""
    first = next((i for i, s in enumerate(expected) if s), None)
    heard = next((i for i, s in enumerate(captured) if s), None)
    if first is None or heard is None or heard < first:
        return None
    return heard - first


def chirp(n, f0=300.0, f1=3000.0, level=9000.0):
    """A linear sweep f0 -> f1 over n samples, then two pure tones: a test
    signal where any slip, drop or distortion shows."""
    out = array("h")
    phase = 0.0
    for i in range(n):
        phase += 2 * math.pi * (f0 + (f1 - f0) * i / n) / 8000
        out.append(int(level * math.sin(phase)))
    out.extend(tone(697, 250, level=level))
    out.extend(tone(1633, 250, level=level / 2))
    return out


def write_wav(path, samples):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(samples.tobytes())


def dominant(samples, candidates=(400, 700, 1000, 1300, 1600, 2000, 2500)):
    return max(candidates, key=lambda f: power_at(samples, f))


# ---- digits from the far end -------------------------------------------

def test_every_dtmf_digit_is_collected_on_an_analog_line(rig):
    """All 16 DTMF keys sent by the caller come back from collect_digits in
    order, ending on max_digits."""
    fe = answer(rig)
    fe.send_digits(ALL_DIGITS)
    event, _ = collect(rig, Termination(max_digits=16, max_time_ms=20_000))
    assert event["digits"] == ALL_DIGITS
    assert event["reasons"] == {"digits"}


def test_every_dtmf_digit_is_collected_on_a_t1_timeslot(trunk_rig):
    """An E&M wink call on a T1 timeslot, routed both ways to a voice
    resource: the DNIS sent after our wink and then all 16 DTMF keys are
    collected exactly."""
    rig, d = trunk_rig, trunk_rig.driver
    ts, ch = "dtiB1T1", "dxxxB1C1"
    route_both_ways(rig, ch, ts)
    d.enable_signalling_events(ts)
    fe = rig.sim.endpoint(ts)
    fe.call(dnis="5551212")
    rig.wait_for("signalling", ts, where=lambda e: "a_on" in e["changed"])
    d.wink(ts)
    rig.wait_for("wink_done", ts)
    event, _ = collect(rig, Termination(max_digits=7, max_time_ms=5_000), ch=ch)
    assert event["digits"] == "5551212"
    d.set_bits(ts, 1, 1)                 # answer
    rig.run(500)
    assert fe.state == "connected"
    fe.send_digits(ALL_DIGITS)
    event, _ = collect(rig, Termination(max_digits=16, max_time_ms=20_000), ch=ch)
    assert event["digits"] == ALL_DIGITS
    assert event["reasons"] == {"digits"}


# ---- every way collect_digits ends -----------------------------------------

def test_max_digits_leaves_later_digits_buffered(rig):
    """max_digits=3 of "12345" returns "123"; the next collect gets "45"."""
    fe = answer(rig)
    fe.send_digits("12345")
    event, _ = collect(rig, Termination(max_digits=3, max_time_ms=10_000))
    assert (event["digits"], event["reasons"]) == ("123", {"digits"})
    rig.run(1_000)
    event, _ = collect(rig, Termination(max_digits=2, max_time_ms=10_000))
    assert (event["digits"], event["reasons"]) == ("45", {"digits"})


def test_terminator_is_included_and_later_digits_stay_buffered(rig):
    """With "#" as terminator, "12#34" gives "12#"; "34" waits for the next
    collect."""
    fe = answer(rig)
    fe.send_digits("12#34")
    event, _ = collect(rig, Termination(max_digits=10, terminators="#", max_time_ms=10_000))
    assert (event["digits"], event["reasons"]) == ("12#", {"terminator"})
    rig.run(1_000)
    event, _ = collect(rig, Termination(max_digits=2, max_time_ms=5_000))
    assert (event["digits"], event["reasons"]) == ("34", {"digits"})


def test_any_of_several_terminators_ends_collection(rig):
    """terminators="*#": the first of them ends it, whichever it is."""
    fe = answer(rig)
    fe.send_digits("9*1")
    event, _ = collect(rig, Termination(max_digits=10, terminators="*#", max_time_ms=10_000))
    assert (event["digits"], event["reasons"]) == ("9*", {"terminator"})


def test_max_time_returns_the_digits_so_far(rig):
    """max_time ends the collection at its time with what arrived."""
    fe = answer(rig)
    fe.send_digits("12")
    event, took = collect(rig, Termination(max_digits=10, max_time_ms=2_000))
    assert (event["digits"], event["reasons"]) == ("12", {"max_time"})
    assert 2_000 <= took <= 2_100


def test_inter_digit_from_start_ends_without_any_digit(rig):
    """The inter-digit timer counting from the start ends an empty
    collection after that time."""
    answer(rig)
    event, took = collect(rig, Termination(max_digits=10, inter_digit_ms=1_500,
                                           max_time_ms=10_000))
    assert (event["digits"], event["reasons"]) == ("", {"inter_digit"})
    assert 1_500 <= took <= 1_600


def test_inter_digit_restarts_at_each_digit(rig):
    """Digits 1 s apart keep the 1.5 s inter-digit timer from expiring; it
    ends 1.5 s after the last one."""
    fe = answer(rig)
    rig.driver.collect_digits(CH, Termination(max_digits=10, inter_digit_ms=1_500,
                                              max_time_ms=20_000))
    for digit in "123":
        fe.send_digits(digit)
        rig.run(1_000)
    event = rig.wait_for("digits_done", CH)
    assert (event["digits"], event["reasons"]) == ("123", {"inter_digit"})
    assert not rig.of("digits_done", CH)[:-1]


def test_inter_digit_from_first_digit_waits_for_the_first(rig):
    """inter_digit_from_start=False: no timeout before the first digit (3 s
    of nothing with a 1 s timer), then it ends 1 s after the last digit."""
    fe = answer(rig)
    start = rig.sim.now_ms
    rig.driver.collect_digits(CH, Termination(max_digits=10, inter_digit_ms=1_000,
                                              inter_digit_from_start=False,
                                              max_time_ms=20_000))
    rig.run(3_000)
    assert not rig.of("digits_done", CH)
    fe.send_digits("78")
    event = rig.wait_for("digits_done", CH)
    assert (event["digits"], event["reasons"]) == ("78", {"inter_digit"})
    took = rig.sim.now_ms - start
    assert 3_000 + 1_000 < took <= 3_000 + 400 + 1_200   # digits take ~400 ms


def test_inter_digit_from_first_digit_counts_typed_ahead_digits(rig):
    """A digit typed before the collection starts is the first digit: the
    timer runs from the start, not from some later digit that never comes."""
    fe = answer(rig)
    fe.send_digits("5")
    rig.run(500)
    event, took = collect(rig, Termination(max_digits=10, inter_digit_ms=1_000,
                                           inter_digit_from_start=False,
                                           max_time_ms=10_000))
    assert (event["digits"], event["reasons"]) == ("5", {"inter_digit"})
    assert took <= 1_100


def test_max_silence_ends_after_the_caller_goes_quiet(rig):
    """The caller talks for 1 s then says nothing: max_silence of 2 s ends
    the collection about 3 s after it started."""
    fe = answer(rig)
    fe.send_audio(tone(400, 1_000, level=6000))
    event, took = collect(rig, Termination(max_digits=5, max_silence_ms=2_000,
                                           max_time_ms=20_000))
    assert (event["digits"], event["reasons"]) == ("", {"max_silence"})
    assert 3_000 <= took <= 3_200


def test_loop_off_when_the_caller_hangs_up(rig):
    """The far end drops loop current: the collection ends with loop_off
    and the digits sent before."""
    fe = answer(rig)
    fe.send_digits("4")
    rig.run(500)
    rig.driver.collect_digits(CH, Termination(max_digits=5, loop_off_ms=100,
                                              max_time_ms=20_000))
    rig.run(500)
    fe.hangup("loop_current_drop")
    event = rig.wait_for("digits_done", CH, within_ms=1_000)
    assert (event["digits"], event["reasons"]) == ("4", {"loop_off"})


def test_tone_ends_the_collection(rig):
    """The far end sends busy tone: termination tone="busy" ends it."""
    fe = answer(rig)
    rig.driver.collect_digits(CH, Termination(max_digits=5, tone="busy", max_time_ms=20_000))
    rig.run(500)
    fe.send_tone("busy")
    event = rig.wait_for("digits_done", CH, within_ms=5_000)
    assert (event["digits"], event["reasons"]) == ("", {"tone"})


def test_stop_ends_the_collection_with_the_digits_so_far(rig):
    """driver.stop ends a collection with reason stopped and what came."""
    fe = answer(rig)
    rig.driver.collect_digits(CH, Termination(max_digits=5, max_time_ms=20_000))
    fe.send_digits("31")
    rig.run(1_000)
    rig.driver.stop(CH)
    event = rig.wait_for("digits_done", CH, within_ms=500)
    assert (event["digits"], event["reasons"]) == ("31", {"stopped"})


def test_typed_ahead_digits_are_returned_at_once(rig):
    """Digits typed before collect_digits are buffered and returned
    immediately by the next collection."""
    fe = answer(rig)
    fe.send_digits("42")
    rig.run(1_000)
    event, took = collect(rig, Termination(max_digits=2, max_time_ms=5_000))
    assert (event["digits"], event["reasons"]) == ("42", {"digits"})
    assert took <= 50


def test_clear_digits_forgets_typed_ahead_digits(rig):
    """clear_digits forgets buffered digits: the collection gets none."""
    fe = answer(rig)
    fe.send_digits("42")
    rig.run(1_000)
    rig.driver.clear_digits(CH)
    event, _ = collect(rig, Termination(max_digits=2, max_time_ms=1_000))
    assert (event["digits"], event["reasons"]) == ("", {"max_time"})


# ---- play: what the caller hears ------------------------------------------

def play_wav_and_capture(rig, ch, fe, signal, tmp_path):
    """Play `signal` as a PCM16 WAV on ch; return what the far end fe
    captured from the first sample of the prompt on, and the prompt as
    mu-law companded samples.  Asserts the prompt arrived whole, in order."""
    path = tmp_path / "prompt.wav"
    write_wav(path, signal)
    fe.capture()
    rig.driver.play(ch, [Prompt(str(path))])
    assert rig.wait_for("play_done", ch)["reasons"] == {"end_of_data"}
    rig.run(100)
    captured = list(fe.read_capture())
    expected = companded(signal)
    lag = find_lag(captured, expected)
    assert lag is not None
    assert captured[lag:lag + len(expected)] == expected
    return captured[lag:], expected


def test_wav_prompt_reaches_the_caller_sample_for_sample(rig, tmp_path):
    """A PCM16 WAV played on the analog line arrives at the far end as
    exactly the mu-law companded samples, in order, none lost."""
    fe = answer(rig)
    captured, expected = play_wav_and_capture(rig, CH, fe, chirp(4_000), tmp_path)
    assert not any(captured[len(expected):])        # then silence


def test_wav_prompt_reaches_a_t1_timeslot_sample_for_sample(trunk_rig, tmp_path):
    """The same through a voice resource routed to a T1 timeslot."""
    rig = trunk_rig
    ts, ch = "dtiB1T2", "dxxxB1C2"
    route_both_ways(rig, ch, ts)
    play_wav_and_capture(rig, ch, rig.sim.endpoint(ts), chirp(3_000), tmp_path)


def test_several_prompts_play_back_to_back(rig):
    """Two prompts in one play arrive one after the other without a gap."""
    fe = answer(rig)
    a, b = tone(500, 300), tone(1500, 300)
    fe.capture()
    rig.driver.play(CH, [Prompt(a.tobytes(), "pcm16"), Prompt(b.tobytes(), "pcm16")])
    assert rig.wait_for("play_done", CH)["reasons"] == {"end_of_data"}
    rig.run(100)
    captured = list(fe.read_capture())
    expected = companded(list(a) + list(b))
    lag = find_lag(captured, expected)
    assert lag is not None
    assert captured[lag:lag + len(expected)] == expected


@pytest.mark.parametrize("fmt,law", [("ulaw", "ulaw"), ("alaw", "alaw")])
def test_raw_g711_prompt_is_played_exactly(rig, fmt, law):
    """Raw mu-law / A-law bytes are decoded and reach the far end as those
    samples (A-law re-encoded to the bus's mu-law)."""
    fe = answer(rig)
    signal = chirp(2_000)
    enc = linear2ulaw if law == "ulaw" else linear2alaw
    data = bytes(enc(s) for s in signal)
    fe.capture()
    rig.driver.play(CH, [Prompt(data, fmt)])
    assert rig.wait_for("play_done", CH)["reasons"] == {"end_of_data"}
    rig.run(100)
    captured = list(fe.read_capture())
    expected = companded(companded(signal, law), "ulaw")
    lag = find_lag(captured, expected)
    assert lag is not None
    assert captured[lag:lag + len(expected)] == expected


# ---- record: what the caller says, in every format ------------------------

def record_tone(rig, fe, path, fmt, freq, ms=1_000, ch=CH):
    """The caller sends a tone; we record max_time=ms of it into path."""
    fe.send_audio(tone(freq, ms + 500, level=8000))
    rig.driver.record(ch, str(path), fmt, Termination(max_time_ms=ms))
    assert rig.wait_for("record_done", ch)["reasons"] == {"max_time"}


def play_back_and_capture(rig, fe, path, fmt, ch=CH):
    fe.capture()
    rig.driver.play(ch, [Prompt(str(path), fmt)])
    assert rig.wait_for("play_done", ch)["reasons"] == {"end_of_data"}
    rig.run(100)
    return list(fe.read_capture())


@pytest.mark.parametrize("fmt,law,freq", [("ulaw", "ulaw", 1000), ("alaw", "alaw", 700),
                                          ("pcm16", None, 1300)])
def test_recording_holds_what_the_caller_sent_and_plays_back(rig, tmp_path, fmt, law, freq):
    """1 s recorded in mu-law, A-law or raw PCM16 has 8000 samples, the
    caller's frequency, and played back reaches the caller exactly."""
    fe = answer(rig)
    path = tmp_path / f"rec.{fmt}"
    record_tone(rig, fe, path, fmt, freq)
    raw = path.read_bytes()
    if law == "ulaw":
        samples = [ulaw2linear(b) for b in raw]
    elif law == "alaw":
        samples = [alaw2linear(b) for b in raw]
    else:
        samples = list(array("h", raw))
    assert len(samples) == 8_000
    assert dominant(samples[800:]) == freq
    captured = play_back_and_capture(rig, fe, path, fmt)
    expected = companded(samples)
    lag = find_lag(captured, expected)
    assert lag is not None
    assert captured[lag:lag + len(expected)] == expected


@pytest.mark.parametrize("fmt,width,law", [("wav", 2, None), ("wav-ulaw", 1, "ulaw"),
                                           ("wav-alaw", 1, "alaw")])
def test_wav_recording_has_a_valid_header(rig, tmp_path, fmt, width, law):
    """A WAV recording is a readable 8 kHz mono file of the right length and
    frequency, and plays back."""
    fe = answer(rig)
    path = tmp_path / "rec.wav"
    record_tone(rig, fe, path, fmt, 1000)
    if law is None:
        with wave.open(str(path), "rb") as w:
            assert (w.getnchannels(), w.getframerate(), w.getsampwidth()) == (1, 8000, 2)
            assert w.getnframes() == 8_000
            samples = list(array("h", w.readframes(8_000)))
    else:
        raw = path.read_bytes()
        assert raw[:4] == b"RIFF" and raw[8:12] == b"WAVE"
        data = raw[raw.index(b"data") + 8:]
        assert len(data) == 8_000
        dec = ulaw2linear if law == "ulaw" else alaw2linear
        samples = [dec(b) for b in data]
    assert dominant(samples[800:]) == 1000
    captured = play_back_and_capture(rig, fe, path, "wav")
    assert dominant(captured) == 1000
    assert sum(1 for s in captured if abs(s) > 1000) > 7_000 * 0.6


def test_vox_recording_keeps_the_frequency_and_length(rig, tmp_path):
    """Dialogic ADPCM (VOX): 1 s is 4000 bytes; played back the caller hears
    the same frequency for about a second."""
    fe = answer(rig)
    path = tmp_path / "rec.vox"
    record_tone(rig, fe, path, "vox", 1600)
    assert len(path.read_bytes()) == 4_000
    captured = play_back_and_capture(rig, fe, path, "vox")
    loud = [i for i, s in enumerate(captured) if abs(s) > 2_000]
    assert loud
    body = captured[loud[0] + 800:loud[-1]]
    assert dominant(body) == 1600
    assert 7_000 <= loud[-1] - loud[0] <= 8_000


# ---- stop and hung operations ---------------------------------------------

def test_stop_ends_a_long_play_midway(rig):
    """A 10 s prompt stopped after 1 s ends with reasons {stopped}, and the
    caller heard no more of it."""
    fe = answer(rig)
    long_prompt = tone(1000, 10_000).tobytes()
    fe.capture()
    rig.driver.play(CH, [Prompt(long_prompt, "pcm16")])
    rig.run(1_000)
    rig.driver.stop(CH)
    event = rig.wait_for("play_done", CH, within_ms=500)
    assert event["reasons"] == {"stopped"}
    rig.run(500)
    captured = fe.read_capture()
    heard = [i for i, s in enumerate(captured) if s]
    assert 7_900 <= heard[-1] - heard[0] <= 8_800          # about 1 s of it
    assert not any(captured[-3_000:])


def test_hung_play_is_recovered_by_the_watchdog(rig):
    """A play that never ends (the board hangs) is ended by the watchdog with
    reasons {hung}; the channel then plays normally and stays connected."""
    fe = answer(rig)
    rig.sim.hang_next(CH)
    rig.driver.play(CH, [Prompt(tone(1000, 500).tobytes(), "pcm16")],
                    Termination(max_time_ms=1_000))
    event = rig.wait_for("play_done", CH, within_ms=20_000)
    assert event["reasons"] == {"hung"}
    fe.capture()
    rig.driver.play(CH, [Prompt(tone(1000, 500).tobytes(), "pcm16")],
                    Termination(max_time_ms=5_000))
    event = rig.wait_for("play_done", CH, within_ms=2_000)
    assert event["reasons"] == {"end_of_data"}
    rig.run(100)
    assert dominant(fe.read_capture()) == 1000        # still routed to the line
    assert fe.state == "connected"
