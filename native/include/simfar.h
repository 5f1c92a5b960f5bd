/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * simfar.h - the simulator's far end: boards, time, telco, callers, faults.
 *
 * The vendor-style API (srllib.h, dxxxlib.h, ...) is what a CTI server
 * sees.  This header is everything on the other side of the wires:
 *
 *   - boards are created from a configuration (simfar_add_*), each device
 *     getting a fixed CT-Bus transmit timeslot in creation order;
 *   - time is virtual (simfar_advance moves it; runs are deterministic for
 *     a seed) or the wall clock (a ticker thread, simfar_run_clock);
 *   - every line, trunk timeslot and station has a far-end "endpoint" that
 *     can ring or seize it, send digits, tones and audio into it, hear
 *     what it sends back (digits detected, audio captured), answer or
 *     refuse outbound calls, and hang up by any supervision method;
 *   - faults: span alarms, an operation that hangs for ever;
 *   - the T1 and E1 line itself: each end's framing, line code and clock,
 *     errors injected second by second, a bit error rate, the far end's
 *     loopback; an E1 far end's CAS bits and a D-channel's frames.
 *
 * Every tick (10 ms, 80 samples) moves real G.711 samples over a 4096-slot
 * bus.  Functions return >= 0 on success and -1 on error, with the reason
 * in simfar_error().  Not thread-safe with respect to itself beyond the
 * single lock every entry point takes.
 */
#ifndef CTI_SIMFAR_H
#define CTI_SIMFAR_H

#include <stdint.h>

#define SIMFAR_SLOTS        4096
#define SIMFAR_TICK_MS      10
#define SIMFAR_TICK_SAMPLES 80

/* line signalling of an analog board / T1 or E1 span */
#define SIMFAR_SIG_LOOPSTART 1   /* analog FXO loop start, or FXS loop start on T1 */
#define SIMFAR_SIG_EM_WINK   2   /* T1 E&M wink start */
#define SIMFAR_SIG_PRI       3   /* T1 ISDN PRI: B-channels T1-T23, the D-channel on 24 */
#define SIMFAR_SIG_CAS       4   /* E1 CAS: each timeslot's ABCD bits in timeslot 16 */
#define SIMFAR_SIG_CCS       5   /* E1 CCS: timeslot 16 is a D-channel */

/* A span's alarm conditions, T1 or E1 (simfar_span_alarm); the board
 * reports each with its span's code (DTT1_ on T1, DTE1_ on E1). */
#define SIMFAR_AL_OOF         0  /* out of frame */
#define SIMFAR_AL_LOS         1  /* loss of signal */
#define SIMFAR_AL_RED         2  /* out of frame for seconds */
#define SIMFAR_AL_YELLOW      3  /* the far end does not frame on us (RAI) */
#define SIMFAR_AL_BLUE        4  /* unframed all ones (AIS) */
#define SIMFAR_AL_RCL         5  /* T1: a timing loop (receive carrier loss) */
#define SIMFAR_AL_RLOS        6  /* loss of sync */
#define SIMFAR_AL_LMFA        7  /* E1: a multiframe not found (CRC-4's or CAS's) */
#define SIMFAR_AL_TS16_YELLOW 8  /* E1 CAS: the far end lost our multiframe (Y bit) */
#define SIMFAR_AL_COUNT       9

/* tone sets */
#define SIMFAR_TONES_NA 1
#define SIMFAR_TONES_CN 2

/* how the far end hangs up on an analog line (a T1 loop-start timeslot:
 * SIMFAR_DISC_SILENCE, or else busy tone) */
#define SIMFAR_DISC_LCDROP   1   /* loop current drops (for disc_ms) */
#define SIMFAR_DISC_POLARITY 2   /* battery reversal */
#define SIMFAR_DISC_BUSYTONE 3   /* busy / disconnect tone, forever */
#define SIMFAR_DISC_SILENCE  4   /* nothing at all: silence */

/* what the far end does with an outbound call */
#define SIMFAR_OUT_ANSWER     1  /* ringback for answer_rings, then answer and talk */
#define SIMFAR_OUT_BUSY       2  /* busy tone */
#define SIMFAR_OUT_NOANSWER   3  /* ringback for ever */
#define SIMFAR_OUT_SIT        4  /* SIT then silence (number unobtainable) */
#define SIMFAR_OUT_FAX        5  /* ringback, answer, CED 2100 Hz */
#define SIMFAR_OUT_NODIALTONE 6  /* the line is dead: no dial tone */
#define SIMFAR_OUT_SILENCE    7  /* no ringback, nothing */

/* endpoint kinds and states (simfar_endpoint_state) */
#define SIMFAR_EP_LINE    1
#define SIMFAR_EP_T1      2
#define SIMFAR_EP_STATION 3

#define SIMFAR_ST_IDLE      0   /* nothing on the wire */
#define SIMFAR_ST_RINGING   1   /* far end rings us / we ring the station */
#define SIMFAR_ST_SEIZED    2   /* we seized (off-hook, dialling) */
#define SIMFAR_ST_CONNECTED 3   /* talking */
#define SIMFAR_ST_CLEARING  4   /* far end hung up, our side still off-hook */

#ifdef __cplusplus
extern "C" {
#endif

/* ---- lifecycle and configuration ---------------------------------------*/
/* Discard any previous simulation and start an empty one. */
int simfar_reset(int virtual_time, unsigned int seed);
const char *simfar_error(void);
/* Boards; each returns the board number used in device names. */
int simfar_add_voice_board(int channels);            /* dxxxBn.. 4 per virtual board */
int simfar_add_analog_board(int lines, int tones);   /* dxxx channels + loop-start lines */
int simfar_add_t1_span(int signalling, int tones);   /* dtiBn + dtiBnT1..T24 (PRI: T23 + D) */
int simfar_add_e1_span(int signalling, int tones);   /* dtiBn + dtiBnT1..T30 (CCS: + D) */
int simfar_add_station_board(int stations);          /* msiBnC1.. */
int simfar_add_dcb_board(int dsps);                  /* dcbBnD1.. */
/* Whether a voice channel's DTMF receiver reports keys A-D (off when the
 * board is added; the configuration's dtmf_abcd turns it on). */
int simfar_dtmf_abcd(const char *voice, int on);

/* ---- time ---------------------------------------------------------------*/
/* Virtual time: run ms milliseconds (whole ticks). */
int simfar_advance(long ms);
long long simfar_now_ms(void);
/* Wall clock: start (1) or stop (0) the ticker thread. */
int simfar_run_clock(int on);
/* Ticks run so far and the time spent in them (for benchmarks). */
long long simfar_ticks(void);

/* ---- endpoints ----------------------------------------------------------*/
/* The far end of a line (by its dx channel name), a T1 timeslot
 * ("dtiB1T3") or a station ("msiB1C2"). */
int simfar_endpoint(const char *devname);
int simfar_endpoint_kind(int ep);
int simfar_endpoint_state(int ep);

/* Inbound call: ring a line (cadence of its tone set, FSK caller ID after
 * the first ring when ani is not NULL/empty) or a loop-start T1 timeslot
 * (B bit), or seize an E&M T1 timeslot: wait for our wink, then send the
 * address in-band, in DTMF or in MF (mf = 1), where KP is '*' and ST '#':
 *
 *                 MF                       DTMF
 *   ANI given     KP ANI ST KP DNIS ST     *ANI*DNIS*   (feature group D)
 *                 "*ANI#*DNIS#"
 *   no ANI        KP DNIS ST  "*DNIS#"     DNIS
 *
 * On E&M, ani and dnis are digits 0-9 only, up to 31 each.  name may be
 * NULL. */
int simfar_call(int ep, const char *ani, const char *name, const char *dnis,
                int mf);
/* The caller gives up before answer. */
int simfar_abandon(int ep);
/* Hang up a connected call (lines and T1 loop-start timeslots: by method;
 * E&M timeslots and stations ignore it). */
int simfar_hangup(int ep, int method);
/* Outbound calls placed on this endpoint: what happens next. */
int simfar_set_outbound(int ep, int behaviour, int answer_rings);
/* T1 timeslots: the far end's register takes the number of a call we place
 * in DTMF (mf = 0, the default) or MF (mf = 1); only that receiver listens
 * while it does. */
int simfar_trunk_register(int ep, int mf);
/* Stations: the agent's phone. */
int simfar_offhook(int ep);
int simfar_onhook(int ep);
int simfar_flash(int ep);

/* Send into the endpoint (mixed into what the far end transmits). */
int simfar_send_digits(int ep, const char *digits, int mf, int on_ms,
                       int off_ms, float level_dbm0, float twist_db,
                       float freq_offset);
int simfar_send_tone(int ep, int tone_id);   /* a cti_tone_id; 0 stops */
int simfar_send_tone_custom(int ep, int f1, int f2, int level_dbm0,
                            int on_ms, int off_ms);
int simfar_send_audio(int ep, const int16_t *samples, int n);
int simfar_send_stop(int ep);
/* What the far end heard: digits it detected (consumed), tones it
 * recognized (the current one), and captured linear audio (consumed). */
int simfar_heard_digits(int ep, char *buf, int max);
int simfar_heard_tone(int ep);
int simfar_capture(int ep, int on);
int simfar_capture_read(int ep, int16_t *buf, int max);
/* The number our side dialled on an outbound call so far. */
int simfar_dialled(int ep, char *buf, int max);

/* E1 CAS timeslots: the far end's line signalling is played from outside
 * (the telco's MFC/R2, below), so its ABCD bits (A = 0x1 ... D = 0x8)
 * are set by whoever plays it, 0000 too (a far end misconfigured so);
 * simfar_far_heard_bits reads ours as the far end receives them. */
int simfar_far_bits(int ep, int abcd);
int simfar_far_heard_bits(int ep);

/* MFC/R2 at the far end of an E1 CAS timeslot (the telco's register
 * signalling; our side's is dtilib.h's dt_r2mfmode): its R2 MF transceiver
 * sends the set of `mode` (1 forward, 2 backward, 0 off: the values of
 * DTR2_x) and hears the other; send signal 1-15, 0 for none.  A watched
 * far end queues what it hears: each change of our bits (SIMFAR_FAR_BITS,
 * the ABCD as simfar_far_heard_bits reads them) and of the R2 signal heard
 * (SIMFAR_FAR_MF, 0 when it stops), taken in order by simfar_far_events as
 * triples (ep, kind, value) into out, at most max of them; it returns how
 * many. */
#define SIMFAR_FAR_BITS 1
#define SIMFAR_FAR_MF   2
int simfar_far_r2mf(int ep, int mode);
int simfar_far_r2mf_send(int ep, int signal);
int simfar_far_watch(int ep, int on);
int simfar_far_events(int *out, int max);

/* ---- faults -------------------------------------------------------------*/
/* Raise (on = 1) or clear an alarm (SIMFAR_AL_x) on span "dtiBn". */
int simfar_span_alarm(const char *span, int alarm, int on);
/* The next operation started on the device never completes and ignores
 * dx_stopch; closing and re-opening the device recovers it. */
int simfar_hang_next(const char *devname);
/* Every operation started on the device hangs, a reset or not (a dead DSP),
 * until it is called again with on = 0. */
int simfar_hang_always(const char *devname, int on);

/* ---- the T1 or E1 line ----------------------------------------------------
 * Framing (DTFR_x), line code (DTCD_x) and clock source (DTCK_x) are
 * dtilib.h's.  Mismatched ends show what a real span shows (docs/faults.md,
 * "Span maintenance"): framing -> OOF then red, and the far end's yellow;
 * E1 CRC-4 at one end only -> the CRC-4 end's multiframe alarm; line code
 * -> BPV or EXZ counts with no alarm; both clocks internal -> controlled
 * slips, one every 1 / (ppm * 1e-6 * 8000) s; both line-timed -> a timing
 * loop. */
/* Our side, as the board is configured; the far end is set to match: the
 * same framing and line code, and the other clock role (line-timed: the
 * far end is the master; internal: it follows us). */
int simfar_span_line(const char *span, int framing, int coding, int clock);
/* The far end's (the telco's); 0 leaves one as it is. */
int simfar_far_span_line(const char *span, int framing, int coding, int clock);
/* The E1 far end's use of timeslot 16: SIMFAR_SIG_CAS or SIMFAR_SIG_CCS (it
 * starts as ours; differing, neither the bits nor the D-channel get through). */
int simfar_far_span_ts16(const char *span, int signalling);
/* The far end's oscillator against ours, in ppm (sign: faster); it only
 * matters when both ends run on their internal clocks. */
int simfar_far_span_ppm(const char *span, double ppm);
/* Error events added to the span's current second: counted at once; ais
 * = 1 is the AIS defect until the second ends; ebit: E1 CRC-4 far-end
 * block errors (the E bits it sends us). */
int simfar_span_errors(const char *span, int bpv, int crc, int fas, int oof,
                       int slips, int ais, int ebit);
/* A random bit error rate (0 .. 1e-2) on the far end's transmit path. */
int simfar_span_ber(const char *span, double ber);
/* The far end's loopback toward us: DTLB_NONE, DTLB_LINE or DTLB_PAYLOAD. */
int simfar_far_loopback(const char *span);

/* ---- the D-channel (E1 CCS, T1 PRI) --------------------------------------
 * The far end of span "dtiBn"'s D-channel: frames as dt_dchanwrite and
 * dt_dchanread carry them on our side (dtilib.h), the same rules. */
int simfar_dchannel_send(const char *span, const void *frame, int len);
/* The next frame our side sent that reached the far end: its length, 0
 * when none waits, -1 when it is longer than max (it stays). */
int simfar_dchannel_receive(const char *span, void *frame, int max);

/* ---- the bus, for diagnostics and tests --------------------------------*/
/* Capture any timeslot's samples (linear). */
int simfar_slot_capture(int slot, int on);
int simfar_slot_capture_read(int slot, int16_t *buf, int max);
/* Who drives a slot: the device name, "" if no one. */
int simfar_slot_driver(int slot, char *name, int max);
/* Listeners of a slot (names, comma separated). */
int simfar_slot_listeners(int slot, char *buf, int max);
/* Bus misuse seen so far (one line each, consumed): listening to an
 * undriven slot, closing a device others listen to, ... */
int simfar_misuse(char *buf, int max);

/* ---- inventory (for linediag) ------------------------------------------*/
/* Number of devices and the name of the i-th (0-based), in board order. */
int simfar_device_count(void);
int simfar_device_name(int i, char *name, int max);
/* One line of state for a device: "kind=voice state=idle hook=on tx=3
 * listen=17 open=1 ..." (key=value pairs separated by spaces). */
int simfar_device_status(const char *devname, char *buf, int max);

/* ---- sample codecs, exposed for tests and tools ------------------------*/
uint8_t simfar_linear2ulaw(int16_t sample);
int16_t simfar_ulaw2linear(uint8_t code);
uint8_t simfar_linear2alaw(int16_t sample);
int16_t simfar_alaw2linear(uint8_t code);

#ifdef __cplusplus
}
#endif
#endif
