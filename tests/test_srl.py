# SPDX-License-Identifier: GPL-2.0-or-later
"""The Standard Runtime Library of the simulator, called as a C program
would: handlers, injected events, waiting on chosen devices, synchronous
operations, and runs that repeat exactly for a seed."""
from drivers.r4 import ffi, lib
from drivers.sim import Simulator

calls = []
verdict = {"keep": 0}


@ffi.def_extern()
def cti_srl_handler(evh):
    calls.append((lib.sr_getevtdev(evh), lib.sr_getevttype(evh)))
    return verdict["keep"]


def drain():
    while lib.sr_waitevt(0) != -1:
        pass


def voice_board():
    Simulator.from_config([{"type": "voice", "channels": 2}])
    return lib.dx_open(b"dxxxB1C1", 0), lib.dx_open(b"dxxxB1C2", 0)


def play_async(ch, nbytes=160):
    data = ffi.new("char[]", nbytes)
    iott = ffi.new("DX_IOTT *", {"io_type": lib.IO_MEM | lib.IO_EOT, "io_bufp": data,
                                 "io_length": nbytes})
    xpb = ffi.new("DX_XPB *", {"wFileFormat": lib.FILE_FORMAT_VOX,
                               "wDataFormat": lib.DATA_FORMAT_MULAW,
                               "nSamplesPerSec": 8000, "wBitsPerSample": 8})
    assert lib.dx_playiottdata(ch, iott, ffi.NULL, xpb, lib.EV_ASYNC) == 0
    return data, iott, xpb


def test_waiting_with_nothing_pending_times_out_with_esr_tmout():
    voice_board()
    assert lib.sr_waitevt(0) == -1
    assert lib.ATDV_LASTERR(lib.SRL_DEVICE) == lib.ESR_TMOUT


def test_a_handler_that_returns_zero_consumes_the_event():
    ch, _ = voice_board()
    calls.clear()
    verdict["keep"] = 0
    assert lib.sr_enbhdlr(lib.EV_ANYDEV, lib.TDX_PLAY, lib.cti_srl_handler) == 0
    keep = play_async(ch)
    lib.simfar_advance(100)
    assert lib.sr_waitevt(0) == -1          # consumed by the handler
    assert calls == [(ch, lib.TDX_PLAY)]
    assert lib.sr_dishdlr(lib.EV_ANYDEV, lib.TDX_PLAY, lib.cti_srl_handler) == 0
    del keep


def test_a_handler_that_returns_nonzero_lets_the_wait_return_it():
    ch, _ = voice_board()
    calls.clear()
    verdict["keep"] = 1
    lib.sr_enbhdlr(ch, lib.EV_ANYEVT, lib.cti_srl_handler)
    keep = play_async(ch)
    lib.simfar_advance(100)
    assert lib.sr_waitevt(0) == 0
    assert lib.sr_getevttype(0) == lib.TDX_PLAY and lib.sr_getevtdev(0) == ch
    assert calls == [(ch, lib.TDX_PLAY)]
    lib.sr_dishdlr(ch, lib.EV_ANYEVT, lib.cti_srl_handler)
    assert lib.sr_dishdlr(ch, lib.EV_ANYEVT, lib.cti_srl_handler) == -1   # not enabled
    del keep


def test_putevt_injects_an_event_with_its_data():
    ch, _ = voice_board()
    data = ffi.new("char[]", b"wake up")
    assert lib.sr_putevt(ch, 0x7777, 8, data, 0) == 0
    assert lib.sr_waitevt(0) == 0
    assert lib.sr_getevttype(0) == 0x7777 and lib.sr_getevtlen(0) == 8
    assert ffi.string(ffi.cast("char *", lib.sr_getevtdatap(0))) == b"wake up"


def test_waitevtex_returns_only_events_of_the_chosen_devices():
    ch1, ch2 = voice_board()
    keep = play_async(ch1), play_async(ch2)
    lib.simfar_advance(100)
    handles = ffi.new("long[]", [ch2])
    evh = ffi.new("long *")
    assert lib.sr_waitevtEx(handles, 1, 0, evh) == 0
    assert lib.sr_getevtdev(evh[0]) == ch2
    assert lib.sr_waitevtEx(handles, 1, 0, evh) == -1
    assert lib.sr_waitevt(0) == 0 and lib.sr_getevtdev(0) == ch1    # still queued
    del keep


def test_a_synchronous_play_runs_virtual_time_and_posts_no_event():
    ch, _ = voice_board()
    drain()
    data = ffi.new("char[]", 8000)                      # one second of mu-law
    iott = ffi.new("DX_IOTT *", {"io_type": lib.IO_MEM | lib.IO_EOT, "io_bufp": data,
                                 "io_length": 8000})
    xpb = ffi.new("DX_XPB *", {"wFileFormat": lib.FILE_FORMAT_VOX,
                               "wDataFormat": lib.DATA_FORMAT_MULAW,
                               "nSamplesPerSec": 8000, "wBitsPerSample": 8})
    before = lib.simfar_now_ms()
    assert lib.dx_playiottdata(ch, iott, ffi.NULL, xpb, lib.EV_SYNC) == 0
    assert 1000 <= lib.simfar_now_ms() - before <= 1030
    assert lib.ATDX_TERMMSK(ch) & lib.TM_EOD
    assert lib.sr_waitevt(0) == -1


def capture_run(seed):
    sim = Simulator.from_config([{"type": "analog", "lines": 1}], seed=seed)
    line = sim.endpoint("dxxxB1C1")
    line.capture()
    ch = lib.dx_open(b"dxxxB1C1", 0)
    lib.dx_sethook(ch, lib.DX_OFFHOOK, lib.EV_SYNC)
    lib.dx_dial(ch, b"5551234", ffi.NULL, lib.EV_SYNC)
    return bytes(line.read_capture())


def test_a_run_repeats_exactly_for_a_seed():
    assert capture_run(7) == capture_run(7)
