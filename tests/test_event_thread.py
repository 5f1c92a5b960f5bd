# SPDX-License-Identifier: GPL-2.0-or-later
"""Board events from a library without a descriptor: one thread blocked in
sr_waitevtEx hands them to the reactor with callFromThread, and stops
cleanly, under load too: every event it took delivered once, in order,
before stop returns, none after, the rest left in the library."""
import queue
import threading
import time

from twisted.internet.testing import MemoryReactor
from twisted.logger import capturedLogs, formatEvent

from drivers.interface import Prompt
from drivers.pump import EventPump, EventThread, board_events
from drivers.r4 import binding
from tests.rig import Rig

VOICE = [{"type": "voice", "channels": 4}]
#: Not a timing claim: how long a broken thread may leave a test waiting.
HANG_GUARD_S = 60
#: DX_CST's cst_data is 16 bits: the injected events are numbered 1 to
#: 65535 over and over (a ring of count 0 is one the driver counts itself).
SEQUENCE = (1 << 16) - 1


def numbered(n):
    """The count the n-th injected ring carries (from n = 0)."""
    return n % SEQUENCE + 1


class ThreadedReactor:
    """The reactor's part: calls handed over from the thread wait in a
    queue for the test's thread (the reactor's) to run them."""

    def __init__(self):
        self.calls = queue.Queue()

    def callFromThread(self, f, *args, **kwargs):
        self.calls.put((f, args, kwargs))

    def run_until(self, predicate):
        while not predicate():
            f, args, kwargs = self.calls.get(timeout=HANG_GUARD_S)
            f(*args, **kwargs)

    def run_pending(self):
        while not self.calls.empty():
            f, args, kwargs = self.calls.get_nowait()
            f(*args, **kwargs)


def handle_of(lib, ffi, name):
    """A device's handle, by its name (ATDV_NAMEP), as the vendor API gives it."""
    return next(h for h in range(1, 4096) if ffi.string(lib.ATDV_NAMEP(h)) == name.encode())


def ring_injector(name):
    """inject(n): a ring event numbered `numbered(n)` on the device, put
    into the library's queue with sr_putevt as a board would send it."""
    vendor = binding("vendor")
    lib, ffi = vendor.lib, vendor.ffi
    h = handle_of(lib, ffi, name)
    cst = ffi.new("DX_CST *")
    cst.cst_event = lib.DE_RINGS

    def inject(n):
        cst.cst_data = numbered(n)
        assert lib.sr_putevt(h, lib.TDX_CST, ffi.sizeof("DX_CST"), cst, 0) == 0
    return inject


def test_a_driver_without_descriptor_gets_the_thread_and_the_log_says_so():
    full, vendor = Rig(VOICE), Rig(VOICE, binding="vendor")
    assert isinstance(board_events(full.driver, MemoryReactor()), EventPump)
    thread = board_events(vendor.driver, ThreadedReactor())
    assert isinstance(thread, EventThread)
    with capturedLogs() as logged:
        thread.startService()
        thread.stopService()
    said = " ".join(formatEvent(e) for e in logged)
    assert "no event descriptor" in said and "sr_waitevtEx" in said and "stopped" in said
    with capturedLogs() as logged:
        pump = board_events(full.driver, MemoryReactor())
        pump.startService()
    assert "descriptor" in formatEvent(logged[0]) and "watched by the reactor" in formatEvent(
        logged[0])


def test_board_events_reach_the_subscribers_from_the_thread():
    rig = Rig(VOICE, binding="vendor")
    reactor = ThreadedReactor()
    thread = EventThread(rig.driver, reactor)
    thread.startService()
    try:
        rig.driver.play("dxxxB1C1", [Prompt(b"\xff" * 160, "ulaw")])
        rig.sim.advance(100)          # the board ends the play: the thread takes it
        reactor.run_until(lambda: rig.of("play_done"))
    finally:
        thread.stopService()
    assert [e.device for e in rig.of("play_done")] == ["dxxxB1C1"]
    assert not rig.driver.busy("dxxxB1C1")


def test_the_thread_stops_under_load_losing_nothing_and_delivering_nothing_after():
    rig = Rig(VOICE, binding="vendor")
    reactor = ThreadedReactor()
    thread = EventThread(rig.driver, reactor)
    inject = ring_injector("dxxxB1C1")
    produced, flowing = [], threading.Event()
    flowing.set()

    def produce():
        while flowing.is_set():
            inject(len(produced))
            produced.append(True)

    thread.startService()
    producer = threading.Thread(target=produce)
    producer.start()
    try:
        reactor.run_until(lambda: len(rig.events) >= 5_000)
        thread.stopService()              # events still flowing into the library
        stopped_at = len(rig.events)
        assert producer.is_alive() and thread.thread is None
        while len(produced) <= stopped_at + 100:      # some more, after the stop
            time.sleep(0.001)
    finally:
        flowing.clear()
        producer.join()
    reactor.run_pending()                 # what the thread handed over before it stopped
    assert len(rig.events) == stopped_at, "an event was delivered after stop"
    rig.driver.poll()                     # what it never took is still in the library
    counts = [e["count"] for e in rig.events]
    assert len(produced) > stopped_at
    assert counts == [numbered(n) for n in range(len(produced))]


def test_a_stopped_thread_starts_again_and_stopping_twice_is_harmless():
    rig = Rig(VOICE, binding="vendor")
    reactor = ThreadedReactor()
    thread = EventThread(rig.driver, reactor)
    inject = ring_injector("dxxxB1C2")
    for n in range(2):
        thread.startService()
        inject(n)
        reactor.run_until(lambda n=n: len(rig.events) == n + 1)
        thread.stopService()
        thread.stopService()
    assert [e["count"] for e in rig.events] == [1, 2]
