/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * t1maint.c - T1 and E1 span maintenance: the line between our framer and
 * the telco's, as a technician tests it (lines-real.md, section 4).
 *
 * Each end of a span has its framing (T1: ESF or D4; E1: with or without
 * CRC-4), line code (T1: B8ZS or AMI; E1: HDB3 or AMI) and clock
 * (recovered from the line, or its own oscillator); an E1 end also uses
 * timeslot 16 for CAS or for a D-channel (CCS).  What our framer receives
 * decides what it reports:
 *
 *   framing differs     out of frame at once (an OOF event and the OOF
 *                       alarm), red after RED_AFTER_MS of it; red clears
 *                       RED_CLEAR_MS after framing returns.  The far end
 *                       cannot frame us either: it goes red and sends
 *                       yellow, which we see.  No LOS: the signal is there.
 *   CRC-4 differs (E1)  both ends frame (timeslot 0's FAS and NFAS are the
 *                       same with or without CRC-4), so calls go on; the
 *                       end set for CRC-4 looks for the CRC-4 multiframe in
 *                       the Si bits and never finds it: its multiframe
 *                       alarm (LMFA, DTE1_MFSERR) for as long as it lasts,
 *                       and no CRC-4 error counted (there is no block to
 *                       check).  The other end ignores the Si bits: fine.
 *   TS16 use differs    (E1, CAS against CCS) the CAS end finds no CAS
 *                       multiframe in timeslot 16: LMFA too, and the bits
 *                       are held (t1.c); a D-channel carries nothing.
 *   line code differs   B8ZS (HDB3) received as AMI: every substitution (8
 *                       zeros; HDB3: 4) is two BPVs (HDB3: one, its V);
 *                       AMI received as B8ZS (HDB3): every run of 8 (4)
 *                       zeros or more is an EXZ (AMI at both ends: 16 or
 *                       more).  Counted on the bytes that really cross the
 *                       line, timeslot 0 and 16 of an E1 included, so the
 *                       rate follows the traffic; no alarm.
 *   both clocks internal  the oscillators differ by ppm: a controlled slip
 *                       every 1 / (ppm * 1e-6 * 8000) s (a slip is one
 *                       193-bit frame), the slipped frame repeated
 *   both line-timed     nobody makes the clock (a timing loop): slips at
 *                       TIMING_LOOP_PPM and the RCL alarm while it lasts
 *
 * Loopbacks decide what reaches whom, per timeslot and per tick:
 *
 *          ours (what we send)  ─────> line ─────>  the far end's callers
 *   to_us (what we receive)  <───── line <─────  theirs (what they say)
 *
 *   our local loop      we receive what we send (it still goes out too)
 *   our line, payload   the far end receives what it sent; we still get it
 *   far line, payload   we receive what we sent, through the far end's
 *                       transmit path (its errors); its callers are cut off
 *
 * A far-end line loop regenerates our own signal, so framing, line code
 * and clock all come back as ours; a payload loop puts our payload in the
 * far end's framing, code and clock.  Signalling bits are carried apart
 * from the payload (t1.c) and are not looped; a D-channel's frames are
 * (t1maint_dchannel_route).
 *
 * Errors: simfar_span_errors adds events to the counts of the current
 * second; simfar_span_ber flips bits on the far end's transmit path, the
 * gaps between them geometric, from the span's own generator seeded from
 * the simulation's seed, so a run repeats exactly.  A payload bit flipped
 * is flipped in the timeslot's byte and, on ESF, fails its superframe's
 * CRC-6 (one CRC error per errored superframe); a framing bit flipped is a
 * frame bit error (every F bit of D4, one in four of ESF: the FAS bits).
 * On E1 a frame is 256 bits, timeslot 0 first: bits 2-8 of a FAS frame's
 * timeslot 0 are the FAS (an error each), its bit 1 the CRC-4 C bit; with
 * CRC-4 any bit flipped fails its sub-multiframe (8 frames: one CRC-4
 * error each).  The E bits the far end sends report the blocks it found
 * errored in what we send, a path the simulation keeps clean: they count
 * (FEBE) as simfar_span_errors injects them.
 *
 * Loop codes (T1 only: E1 has neither in-band loop codes nor a data link):
 * an in-band code replaces our whole payload with its pattern;
 * the far end latches a line loop after INBAND_LATCH_MS of 00001 and
 * releases it after as long of 001.  We send until we see it done (our
 * code comes back once the far end loops, and no longer once it has
 * released), at most INBAND_SEND_MS.  Data-link codes (ESF only, both
 * ends) leave the payload alone; the far end acts on BOC_LATCH_REPEATS of
 * them.  A loop made by in-band codes is released by in-band codes, one
 * made by data-link codes by data-link codes.  Our side does not answer
 * loop codes.
 *
 * BERT: a generator replaces what we send on the span (all its bearer
 * timeslots, frame by frame: 24 on T1, 23 on PRI, 30 on E1) or on one
 * timeslot, and a checker reads what comes back (bert.c).  A span ticks before its timeslots (creation order): it checks
 * the bytes they received during the previous tick and makes this tick's
 * pattern for them to send.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bert.h"
#include "t1.h"

#define FRAMES TICK                 /* frames in a tick: a byte per timeslot each */
#define T1_FRAME_BITS 193           /* the framing bit, then 24 bytes */
#define E1_FRAME_BITS 256           /* 32 bytes, timeslot 0 first */
#define ESF_FRAMES 24               /* frames of an ESF superframe */
#define CRC4_SMF_FRAMES 8           /* frames of a CRC-4 sub-multiframe (a block) */
#define CAS_MF_FRAMES 16            /* frames of a CAS multiframe */
#define CAS_MFAS_BYTE 0x0B          /* timeslot 16 of CAS frame 0: 0000 1011 (no alarm) */
#define HDLC_FLAG 0x7E              /* what an idle D-channel carries */
#define RED_AFTER_MS 2500           /* out of frame this long: red */
#define RED_CLEAR_MS 10000          /* framed again this long: red clears */
#define TIMING_LOOP_PPM 1000.0      /* how far a timing loop wanders */
#define MAX_PPM 1000.0              /* a worse oscillator is no clock */
#define MAX_BER 1e-2                /* a worse line would be in alarm */
#define MAX_FLIPS 512               /* bit errors kept per tick (1e-2: ~154) */
#define INBAND_LATCH_MS 5000        /* in-band code heard this long: the far end acts */
#define INBAND_SEND_MS 10000        /* we give up sending one after this */
#define BOC_MS 4                    /* a 16-bit code on the 4 kb/s ESF data link */
#define BOC_LATCH_REPEATS 10
#define BOC_SEND_REPEATS 20

typedef struct {
    int framing;                    /* DTFR_x */
    int coding;                     /* DTCD_x */
    int clock;                      /* DTCK_x */
    int ts16;                       /* E1: SIMFAR_SIG_CAS or SIMFAR_SIG_CCS; T1: 0 */
} line_end;

/* One end's framer: out of frame now, and red after long enough. */
typedef struct {
    int oof, red;
    long oof_ms;                    /* out of frame this long */
    long framed_ms;                 /* in frame again this long (while red) */
} framer;

/* A bit flipped this tick on the far end's transmit path. */
typedef struct {
    uint8_t frame, ts, mask;
} flip;

struct t1maint {
    span *s;
    line_end ours, far;
    double ppm;                     /* the far end's oscillator against ours */
    int our_loop, far_loop;         /* DTLB_x */
    /* loop codes: ours as sent, the far end's detector */
    int code;                       /* DTLC_x being sent */
    long code_ms;
    int heard;                      /* DTLC_x the far end receives */
    long heard_ms;
    int acted;                      /* ... and has acted on */
    /* the framers and what the far end says of ours */
    framer us, them;
    int yellow, timing_loop;
    int mfa_lost;                   /* E1: DTMFA_ multiframes we look for and miss */
    /* counters since the span was opened */
    long long opened_ms;
    unsigned long bpv, exz, crc, fas, oof, slips, ebit;
    long long ais_until_ms;         /* an AIS second injected lasts until then */
    /* impairments of the far end's transmit path */
    double ber;
    uint64_t rng;
    double gap;                     /* error-free bits before the next error */
    double slip_frames;             /* frames of drift since the last slip */
    int slip_frame;                 /* this tick's slip: the frame repeated, or -1 */
    unsigned long long frame_no;    /* frames since the span was made */
    unsigned long long crc_mark;    /* 1 + the last CRC block counted as a CRC error */
    flip flips[MAX_FLIPS];
    int nflips;
    /* each timeslot's payload as the line carries it: sent this tick,
     * received the last */
    uint8_t sent[SPAN_MAX_TS][TICK];
    uint8_t received[SPAN_MAX_TS][TICK];
    /* the span's pattern (a BERT or an in-band code), frame by frame: the
     * byte of timeslot k in frame f at f * nts + k */
    int pattern_on;
    cti_pattern gen;
    uint8_t block[FRAMES * SPAN_MAX_TS];
    int bert_on;
    cti_bert bert;
    uint8_t rxblock[FRAMES * SPAN_MAX_TS];
    /* BERTs on single timeslots */
    int ts_berts;
    int ts_bert_on[SPAN_MAX_TS];
    cti_pattern ts_gen[SPAN_MAX_TS];
    cti_bert ts_bert[SPAN_MAX_TS];
};

static const char *framing_name(int v)
{
    switch (v) {
    case DTFR_D4: return "d4";
    case DTFR_E1: return "e1";
    case DTFR_E1_CRC4: return "e1_crc4";
    default: return "esf";
    }
}

static const char *coding_name(int v)
{
    return v == DTCD_AMI ? "ami" : v == DTCD_HDB3 ? "hdb3" : "b8zs";
}
static const char *clock_name(int v) { return v == DTCK_INTERNAL ? "internal" : "line"; }

static const char *loop_name(int v)
{
    switch (v) {
    case DTLB_LOCAL: return "local";
    case DTLB_LINE: return "line";
    case DTLB_PAYLOAD: return "payload";
    default: return "none";
    }
}

static const char *code_name(int v)
{
    switch (v) {
    case DTLC_LINEUP: return "line_up";
    case DTLC_LINEDOWN: return "line_down";
    case DTLC_PAYLOADUP: return "payload_up";
    case DTLC_PAYLOADDOWN: return "payload_down";
    default: return "none";
    }
}

static int inband(int code) { return code == DTLC_LINEUP || code == DTLC_LINEDOWN; }

static int frame_bits(const struct t1maint *m)
{
    return m->s->e1 ? E1_FRAME_BITS : T1_FRAME_BITS;
}

/* The line code that substitutes long runs of zeros: B8ZS on T1, HDB3 on E1. */
static int substituting(const struct t1maint *m)
{
    return m->s->e1 ? DTCD_HDB3 : DTCD_B8ZS;
}

/* ---- life -----------------------------------------------------------------*/

/* splitmix64: a counter stepped by the golden ratio, then mixed */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The far end that matches an end: the same framing and line code, and the
 * other clock role (one end makes the clock, the other follows it: a span
 * to the telco is line-timed, the telco's end is the master). */
static line_end matching(line_end ours)
{
    line_end far = ours;
    far.clock = ours.clock == DTCK_LINE ? DTCK_INTERNAL : DTCK_LINE;
    return far;
}

struct t1maint *t1maint_new(span *s)
{
    struct t1maint *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->s = s;
    m->ours = s->e1 ? (line_end){DTFR_E1_CRC4, DTCD_HDB3, DTCK_LINE, s->signalling}
                    : (line_end){DTFR_ESF, DTCD_B8ZS, DTCK_LINE, 0};
    m->far = matching(m->ours);
    m->ppm = 32.0;                  /* a Stratum 4 oscillator's worst */
    /* the span's own random sequence, from the seed and the span, mixed so
     * that seeds 1, 2, 3 do not start one sequence a step apart */
    m->rng = mix64((uint64_t)g_sim->seed << 32 | (uint32_t)s->dev->index);
    m->slip_frame = -1;
    memset(m->received, s->e1 ? ALAW_IDLE_CODE : IDLE_CODE, sizeof m->received);
    t1maint_opened(m);
    return m;
}

void t1maint_free(struct t1maint *m) { free(m); }

void t1maint_opened(struct t1maint *m)
{
    m->opened_ms = g_sim->now_ms;
    m->bpv = m->exz = m->crc = m->fas = m->oof = m->slips = m->ebit = 0;
    m->ais_until_ms = 0;
}

void t1maint_count_oof(struct t1maint *m) { m->oof++; }

/* ---- what reaches our framer ---------------------------------------------*/

/* Framing, code and clock of the signal we receive: our own when it is
 * looped to us (locally, or regenerated by a far-end line loop). */
static line_end received_by_us(const struct t1maint *m)
{
    if (m->our_loop == DTLB_LOCAL || m->far_loop == DTLB_LINE)
        return m->ours;
    return m->far;
}

/* Framing of what the far end receives: its own, if we loop the line. */
static int received_by_far(const struct t1maint *m)
{
    return m->our_loop == DTLB_LINE ? m->far.framing : m->ours.framing;
}

/* The frequency offset between the clock of what we receive and ours, in
 * ppm (0: one clock); a timing loop sets *loop. */
static double slip_ppm(const struct t1maint *m, int *loop)
{
    *loop = 0;
    if (m->our_loop == DTLB_LOCAL || m->far_loop == DTLB_LINE)
        return 0.0;
    if (m->ours.clock == DTCK_INTERNAL && m->far.clock == DTCK_INTERNAL)
        return m->ppm;
    if (m->ours.clock == DTCK_LINE && m->far.clock == DTCK_LINE) {
        *loop = 1;
        return TIMING_LOOP_PPM;
    }
    return 0.0;
}

/* One tick of a framer; returns 1 when it has just lost frame. */
static int frame(framer *f, int in_frame)
{
    int onset = 0;
    if (!in_frame) {
        onset = !f->oof;
        f->oof = 1;
        f->oof_ms += TICK_MS;
        f->framed_ms = 0;
        if (f->oof_ms >= RED_AFTER_MS)
            f->red = 1;
    } else {
        f->oof = 0;
        f->oof_ms = 0;
        if (f->red && (f->framed_ms += TICK_MS) >= RED_CLEAR_MS)
            f->red = 0;
    }
    return onset;
}

/* Whether a framer set for framing `ours` finds frames in a signal framed
 * `rx`: on T1 only in its own framing; on E1 in either (timeslot 0's FAS
 * and NFAS are the same with or without CRC-4). */
static int frames_on(int ours, int rx)
{
    if (ours == DTFR_E1 || ours == DTFR_E1_CRC4)
        return rx == DTFR_E1 || rx == DTFR_E1_CRC4;
    return rx == ours;
}

/* E1: the multiframes our framer looks for in what it receives and does
 * not find (DTMFA_): CRC-4's, set for CRC-4 and receiving none; CAS's, set
 * for CAS and receiving a timeslot 16 that is not. */
static int multiframes_lost(const struct t1maint *m)
{
    line_end rx = received_by_us(m);
    int lost = 0;
    if (!m->s->e1)
        return 0;
    if (m->ours.framing == DTFR_E1_CRC4 && rx.framing != DTFR_E1_CRC4)
        lost |= DTMFA_CRC4;
    if (m->ours.ts16 == SIMFAR_SIG_CAS && rx.ts16 != SIMFAR_SIG_CAS)
        lost |= DTMFA_CAS;
    return lost;
}

static void frame_both_ends(struct t1maint *m)
{
    if (frame(&m->us, frames_on(m->ours.framing, received_by_us(m).framing)))
        m->oof++;
    frame(&m->them, frames_on(m->far.framing, received_by_far(m)));
    m->mfa_lost = m->us.oof ? 0 : multiframes_lost(m);   /* sought once in frame */
    /* a far end in red says so (RAI) to whoever it still transmits to */
    m->yellow = m->them.red && m->our_loop != DTLB_LOCAL && m->far_loop == DTLB_NONE;
}

/* ---- line code ------------------------------------------------------------*/

/* A run of zeros ended: what does our receiver make of it?  sent: the line
 * code it was sent in.  A substitution replaces 8 zeros (B8ZS: 000VB0VB,
 * two violations) or 4 (HDB3: 000V or B00V, one). */
static void zeros(struct t1maint *m, int sent, int run)
{
    int e1 = m->s->e1, length = e1 ? 4 : 8;
    if (run < length)
        return;
    if (sent != DTCD_AMI)
        m->bpv += (unsigned long)(e1 ? 1 : 2) * (unsigned long)(run / length);
    else if (m->ours.coding != DTCD_AMI || run >= 16)
        m->exz++;                                   /* > 7 zeros for B8ZS, > 3 for HDB3,
                                                       > 15 for AMI */
}

/* Signalling bits (A = 0x1 ... D = 0x8) as the line sends them: A first,
 * the most significant of the four. */
static unsigned abcd_nibble(unsigned char bits)
{
    return (bits & 0x1) << 3 | (bits & 0x2) << 1 | (bits & 0x4) >> 1 | (bits & 0x8) >> 3;
}

/* An E1's timeslot 16 as we receive it in frame frame_no: the far end's
 * CAS (the multiframe alignment in frame 0, then the ABCD of timeslots n
 * and n + 15 in frame n, most significant first) or its D-channel's idle
 * flags. */
static uint8_t received_ts16(const struct t1maint *m, unsigned long long frame_no)
{
    int n = (int)(frame_no % CAS_MF_FRAMES);
    const tslot *first, *second;
    if (received_by_us(m).ts16 != SIMFAR_SIG_CAS)
        return HDLC_FLAG;
    if (n == 0)
        return CAS_MFAS_BYTE;
    first = m->s->ts[n - 1]->ts;
    second = m->s->ts[n + 14]->ts;
    return (uint8_t)(abcd_nibble(first->far_tx) << 4 | abcd_nibble(second->far_tx));
}

/* Frame f of what we received during the last tick, as the line carried
 * it, into bytes[]; returns how many.  A T1 frame's framing bit is left
 * out (taken as a one: it ends a run of zeros); an E1's timeslot 0 is FAS
 * x0011011 or NFAS x1A11111, with Si = 1 and no remote alarm. */
static int received_frame(const struct t1maint *m, int f, uint8_t *bytes)
{
    const span *s = m->s;
    unsigned long long frame_no = m->frame_no - FRAMES + (unsigned)f;
    int k, n = 0;
    if (s->e1)
        bytes[n++] = frame_no % 2 == 0 ? 0x9B : 0xDF;
    for (k = 0; k < s->nts; k++) {
        if (s->e1 && span_line_timeslot(s, k) == E1_CAS_TS + 1)
            bytes[n++] = received_ts16(m, frame_no);
        bytes[n++] = m->received[k][f];
    }
    if (!s->e1 && s->nts < DTV_NUMTS)
        bytes[n++] = HDLC_FLAG;                     /* PRI: channel 24, the D-channel */
    return n;
}

/* The zero runs of what we received during the last tick, frame by frame.
 * B8ZS (HDB3) at both ends never lets 8 (4) zeros reach the line. */
static void count_line_code(struct t1maint *m)
{
    int sent = received_by_us(m).coding, f, k;
    uint8_t bytes[E1_FRAME_BITS / 8];
    if (sent == substituting(m) && m->ours.coding == substituting(m))
        return;
    for (f = 0; f < FRAMES; f++) {
        int run = 0, n = received_frame(m, f, bytes);
        for (k = 0; k < n; k++) {
            unsigned byte = bytes[k];
            if (byte == 0) {
                run += 8;
                continue;
            }
            run += __builtin_clz(byte) - 24;        /* its leading zeros end the run */
            zeros(m, sent, run);
            run = __builtin_ctz(byte);              /* its trailing zeros start one */
        }
        zeros(m, sent, run);
    }
}

/* ---- bit errors and slips -------------------------------------------------*/

static double uniform(struct t1maint *m)
{
    uint64_t z = mix64(m->rng += 0x9E3779B97F4A7C15ull);
    return ((double)(z >> 11) + 1.0) / 9007199254740993.0;   /* (0, 1] */
}

/* Error-free bits before the next error: geometric for a bit error rate. */
static double error_gap(struct t1maint *m)
{
    return floor(log(uniform(m)) / log1p(-m->ber));
}

/* CRC block `block` (an ESF superframe, a CRC-4 sub-multiframe) fails:
 * one CRC error, however many of its bits were wrong. */
static void crc_error(struct t1maint *m, unsigned long long block)
{
    if (m->crc_mark != block + 1) {
        m->crc++;
        m->crc_mark = block + 1;
    }
}

static void flip_payload(struct t1maint *m, int f, int k, int bit_in_byte)
{
    if (m->nflips < MAX_FLIPS) {
        flip *x = &m->flips[m->nflips++];
        x->frame = (uint8_t)f;
        x->ts = (uint8_t)k;
        x->mask = (uint8_t)(0x80 >> bit_in_byte);
    }
}

/* Bit `bit` (0-255) of E1 frame f of this tick is flipped: timeslot bit /
 * 8, bit 1 of each (its most significant) first.  With CRC-4 (and its
 * multiframe found) its sub-multiframe fails; in timeslot 0 of a FAS
 * frame, bits 2-8 are the FAS; timeslot 16 is signalling, not payload. */
static void flip_e1_bit(struct t1maint *m, unsigned long long frame_no, int f, int bit)
{
    int slot = bit / 8, in_byte = bit % 8;
    if (m->ours.framing == DTFR_E1_CRC4 && !(m->mfa_lost & DTMFA_CRC4))
        crc_error(m, frame_no / CRC4_SMF_FRAMES);
    if (slot == 0) {
        if (frame_no % 2 == 0 && in_byte > 0)
            m->fas++;
    } else if (slot != E1_CAS_TS) {
        flip_payload(m, f, slot < E1_CAS_TS ? slot - 1 : slot - 2, in_byte);
    }
}

/* Bit `bit` of frame f of this tick is flipped.  T1: bit 0 is the framing
 * bit, 1..192 the timeslots' bits, most significant first; on ESF the
 * framing bits of frames 4, 8, ... are the FAS, of 2, 6, ... the CRC-6. */
static void flip_bit(struct t1maint *m, int f, int bit)
{
    unsigned long long frame_no = m->frame_no + (unsigned)f;
    int esf = m->ours.framing == DTFR_ESF, channel;
    if (m->s->e1) {
        flip_e1_bit(m, frame_no, f, bit);
        return;
    }
    if (bit == 0) {
        int position = (int)(frame_no % ESF_FRAMES) + 1;
        if (!esf || position % 4 == 0)
            m->fas++;
        else if (position % 2 == 0)
            crc_error(m, frame_no / ESF_FRAMES);
        return;
    }
    if (esf)
        crc_error(m, frame_no / ESF_FRAMES);
    channel = (bit - 1) / 8;
    if (channel < m->s->nts)                   /* PRI: channel 24 is the D-channel */
        flip_payload(m, f, channel, (bit - 1) % 8);
}

/* This tick's bit errors, where the far end's signal reaches us framed. */
static void draw_errors(struct t1maint *m, int receiving)
{
    double at = m->gap;
    const int per_frame = frame_bits(m);
    const double bits = (double)FRAMES * per_frame;
    m->nflips = 0;
    if (m->ber <= 0.0 || !receiving)
        return;
    for (; at < bits; at += 1.0 + error_gap(m))
        flip_bit(m, (int)(at / per_frame), (int)fmod(at, per_frame));
    m->gap = at - bits;
}

/* The two clocks drift apart by ppm: a frame slips each time a whole frame
 * of drift has built up (the elastic store over- or underflows). */
static void drift(struct t1maint *m)
{
    double ppm = fabs(slip_ppm(m, &m->timing_loop)), per_frame = ppm * 1e-6, before;
    m->slip_frame = -1;
    if (ppm == 0.0) {
        m->slip_frames = 0.0;
        return;
    }
    before = m->slip_frames;
    m->slip_frames += per_frame * FRAMES;
    if (m->slip_frames >= 1.0) {
        int f = (int)((1.0 - before) / per_frame);
        m->slip_frames -= 1.0;
        m->slips++;
        m->slip_frame = f < 1 ? 1 : f >= FRAMES ? FRAMES - 1 : f;
    }
}

/* ---- loop codes -------------------------------------------------------------*/

static long latch_ms(int code)
{
    return inband(code) ? INBAND_LATCH_MS : BOC_LATCH_REPEATS * BOC_MS;
}

/* The far end's loop-code detector, for a tick of `code` (or none). */
static void far_hears(struct t1maint *m, int code)
{
    if (code != m->heard) {
        m->heard = code;
        m->heard_ms = 0;
        m->acted = 0;
    }
    if (code == DTLC_NONE || m->acted || (m->heard_ms += TICK_MS) < latch_ms(code))
        return;
    m->acted = 1;
    if (code == DTLC_LINEUP)
        m->far_loop = DTLB_LINE;
    else if (code == DTLC_PAYLOADUP)
        m->far_loop = DTLB_PAYLOAD;
    else if (code == DTLC_LINEDOWN && m->far_loop == DTLB_LINE)
        m->far_loop = DTLB_NONE;
    else if (code == DTLC_PAYLOADDOWN && m->far_loop == DTLB_PAYLOAD)
        m->far_loop = DTLB_NONE;
}

/* We stop sending once we see the result or give up: an in-band loop-up
 * comes back once the far end loops, a loop-down no longer comes back once
 * it has released; a data-link code is sent a fixed number of times. */
static int sent_enough(const struct t1maint *m)
{
    if (!inband(m->code))
        return m->code_ms >= BOC_SEND_REPEATS * BOC_MS;
    if (m->code_ms >= INBAND_SEND_MS)
        return 1;
    return m->code == DTLC_LINEUP ? m->far_loop != DTLB_NONE : m->far_loop == DTLB_NONE;
}

static void send_codes(struct t1maint *m)
{
    /* our line loop sends the far end its own signal, not ours; a data-link
     * code is read only by a far end framing us in ESF */
    int reaches = m->code != DTLC_NONE && m->our_loop != DTLB_LINE &&
                  (inband(m->code) || (m->ours.framing == DTFR_ESF &&
                                       m->far.framing == DTFR_ESF));
    far_hears(m, reaches ? m->code : DTLC_NONE);
    if (m->code == DTLC_NONE)
        return;
    m->code_ms += TICK_MS;
    if (sent_enough(m)) {
        if (inband(m->code))
            m->pattern_on = 0;
        m->code = DTLC_NONE;
    }
}

/* ---- the tick ---------------------------------------------------------------*/

int t1maint_shapes(const struct t1maint *m)
{
    int loop;
    return m->our_loop != DTLB_NONE || m->far_loop != DTLB_NONE || m->ber > 0.0 ||
           m->pattern_on || m->ts_berts > 0 || slip_ppm(m, &loop) != 0.0;
}

int t1maint_idle(const struct t1maint *m)
{
    line_end rx = received_by_us(m);
    return !t1maint_shapes(m) && m->code == DTLC_NONE && m->heard == DTLC_NONE &&
           !m->us.oof && !m->us.red && !m->them.oof && !m->them.red &&
           rx.framing == m->ours.framing && received_by_far(m) == m->far.framing &&
           rx.ts16 == m->ours.ts16 &&
           rx.coding == substituting(m) && m->ours.coding == substituting(m);
}

static void wake_timeslots(struct t1maint *m)
{
    int k;
    for (k = 0; k < m->s->nts; k++)
        sim_wake(m->s->ts[k]);
}

/* The span's BERT and BERT clocks; this tick's pattern for the timeslots. */
static void run_patterns(struct t1maint *m)
{
    int k, nts = m->s->nts;
    if (m->bert_on) {
        cti_bert_check(&m->bert, m->rxblock, FRAMES * nts);
        cti_bert_clock(&m->bert, TICK_MS);
    }
    for (k = 0; k < nts; k++)
        if (m->ts_bert_on[k])
            cti_bert_clock(&m->ts_bert[k], TICK_MS);
    if (m->pattern_on)
        cti_pattern_fill(&m->gen, m->block, FRAMES * nts);
}

unsigned t1maint_tick(struct t1maint *m)
{
    unsigned alarms = 0;
    int down = span_is_down(m->s);
    run_patterns(m);
    frame_both_ends(m);
    drift(m);
    if (!down)
        count_line_code(m);
    draw_errors(m, !down && m->our_loop != DTLB_LOCAL);
    send_codes(m);
    if (t1maint_shapes(m))
        wake_timeslots(m);
    m->frame_no += FRAMES;
    if (m->us.oof)
        alarms |= 1u << SIMFAR_AL_OOF;
    if (m->us.red)
        alarms |= 1u << SIMFAR_AL_RED;
    if (m->yellow)
        alarms |= 1u << SIMFAR_AL_YELLOW;
    if (m->timing_loop && !m->s->e1)
        alarms |= 1u << SIMFAR_AL_RCL;            /* an E1 shows its slips alone */
    if (m->mfa_lost)
        alarms |= 1u << SIMFAR_AL_LMFA;
    return alarms;
}

/* ---- the payload of timeslot k -------------------------------------------*/

const uint8_t *t1maint_send(struct t1maint *m, int k, const uint8_t *ours, int down)
{
    uint8_t *sent = m->sent[k];
    int f;
    if (m->ts_bert_on[k])
        cti_pattern_fill(&m->ts_gen[k], sent, TICK);
    else if (m->pattern_on)
        for (f = 0; f < FRAMES; f++)
            sent[f] = m->block[f * m->s->nts + k];
    else
        memcpy(sent, ours, TICK);
    if (down || m->far_loop != DTLB_NONE)
        return NULL;               /* a far-end loop cuts its callers off */
    if (m->our_loop == DTLB_LINE || m->our_loop == DTLB_PAYLOAD)
        return m->received[k];     /* what it sent us, back again */
    return sent;
}

/* The far end's transmit path: its bit errors, and our slips. */
static void impair(const struct t1maint *m, int k, uint8_t *bytes)
{
    int i;
    for (i = 0; i < m->nflips; i++)
        if (m->flips[i].ts == k)
            bytes[m->flips[i].frame] ^= m->flips[i].mask;
    if (m->slip_frame > 0)
        bytes[m->slip_frame] = bytes[m->slip_frame - 1];
}

void t1maint_receive(struct t1maint *m, int k, const uint8_t *theirs, int down,
                     uint8_t *to_us)
{
    int f;
    if (down) {
        memset(to_us, IDLE_CODE, TICK);
    } else if (m->our_loop == DTLB_LOCAL) {
        memcpy(to_us, m->sent[k], TICK);
    } else {
        if (m->far_loop == DTLB_NONE)
            memcpy(to_us, theirs, TICK);
        else if (m->our_loop == DTLB_NONE)
            memcpy(to_us, m->sent[k], TICK);
        else
            memset(to_us, IDLE_CODE, TICK);   /* looped at both ends: nothing starts */
        impair(m, k, to_us);
    }
    memcpy(m->received[k], to_us, TICK);
    if (m->bert_on)
        for (f = 0; f < FRAMES; f++)
            m->rxblock[f * m->s->nts + k] = to_us[f];
    if (m->ts_bert_on[k])
        cti_bert_check(&m->ts_bert[k], to_us, TICK);
}

void t1maint_received(struct t1maint *m, int k, const uint8_t *bytes)
{
    memcpy(m->received[k], bytes, TICK);
}

int t1maint_testing(const struct t1maint *m, int k)
{
    return m->bert_on || m->ts_bert_on[k];
}

int t1maint_cas_aligned(const struct t1maint *m)
{
    return m->ours.ts16 == SIMFAR_SIG_CAS && m->far.ts16 == SIMFAR_SIG_CAS;
}

/* Frames travel the payload's way (t1maint_send, t1maint_receive): lost
 * while the span is down or the two ends do not both run a D-channel;
 * ours come back to us through our local loop or a far-end loop, the far
 * end's go back to it through our line or payload loop. */
int t1maint_dchannel_route(const struct t1maint *m, int from_us)
{
    int both = !m->s->e1 || (m->ours.ts16 == SIMFAR_SIG_CCS && m->far.ts16 == SIMFAR_SIG_CCS);
    if (span_is_down(m->s))
        return DCHAN_LOST;
    if (from_us) {
        if (m->our_loop == DTLB_LOCAL || m->far_loop != DTLB_NONE)
            return DCHAN_TO_US;
        return both && m->our_loop == DTLB_NONE ? DCHAN_TO_FAR : DCHAN_LOST;
    }
    if (m->our_loop == DTLB_LINE || m->our_loop == DTLB_PAYLOAD)
        return DCHAN_TO_FAR;
    return both && m->our_loop == DTLB_NONE && m->far_loop == DTLB_NONE ? DCHAN_TO_US
                                                                       : DCHAN_LOST;
}

static const char *multiframes_name(int lost)
{
    switch (lost) {
    case DTMFA_CRC4: return "crc4";
    case DTMFA_CAS: return "cas";
    case DTMFA_CRC4 | DTMFA_CAS: return "crc4,cas";
    default: return "none";
    }
}

int t1maint_status(const struct t1maint *m, char *buf, int max)
{
    int n = snprintf(buf, max, "framing=%s coding=%s clock=%s loopback=%s far_loopback=%s "
                     "loop_code=%s", framing_name(m->ours.framing),
                     coding_name(m->ours.coding), clock_name(m->ours.clock),
                     loop_name(m->our_loop), loop_name(m->far_loop), code_name(m->code));
    if (m->s->e1 && n < max)
        n += snprintf(buf + n, max - n, " ts16=%s multiframes_lost=%s",
                      m->ours.ts16 == SIMFAR_SIG_CAS ? "cas" : "ccs",
                      multiframes_name(m->mfa_lost));
    return n;
}

/* ---- the dt_ calls ----------------------------------------------------------*/

/* The span device of a handle (EDT_BADDEV for anything else). */
static device *span_dev(int dev)
{
    device *d = sim_dev(dev);
    if (d && d->kind != DEV_SPAN) {
        dev_err(d, EDT_BADDEV, "%s is not a span", d->name);
        return NULL;
    }
    return d;
}

int dt_getcounters(int dev, DT_COUNTERS *c)
{
    device *d;
    int r = -1;
    sim_lock();
    d = span_dev(dev);
    if (d && !c) {
        dev_err(d, EDT_PARAMERR, "no DT_COUNTERS given");
    } else if (d) {
        struct t1maint *m = d->span->maint;
        unsigned forced = d->span->forced;
        c->dc_seconds = (unsigned long)((g_sim->now_ms - m->opened_ms) / 1000);
        c->dc_bpv = m->bpv;
        c->dc_exz = m->exz;
        c->dc_crc = m->crc;
        c->dc_fas = m->fas;
        c->dc_oof = m->oof;
        c->dc_slips = m->slips;
        c->dc_ebit = m->ebit;
        c->dc_los = !!(forced & 1u << SIMFAR_AL_LOS);
        c->dc_ais = (forced & 1u << SIMFAR_AL_BLUE) || g_sim->now_ms < m->ais_until_ms;
        c->dc_oofnow = m->us.oof || (forced & 1u << SIMFAR_AL_OOF);
        dev_ok(d);
        r = 0;
    }
    sim_unlock();
    return r;
}

int dt_getlinestate(int dev, DT_LINESTATE *ls)
{
    device *d;
    int r = -1;
    sim_lock();
    d = span_dev(dev);
    if (d && !ls) {
        dev_err(d, EDT_PARAMERR, "no DT_LINESTATE given");
    } else if (d) {
        struct t1maint *m = d->span->maint;
        ls->dl_framing = (unsigned char)m->ours.framing;
        ls->dl_coding = (unsigned char)m->ours.coding;
        ls->dl_clock = (unsigned char)m->ours.clock;
        ls->dl_loopback = (unsigned char)m->our_loop;
        ls->dl_loopcode = (unsigned char)m->code;
        ls->dl_dchannel = d->span->dchan != NULL;
        ls->dl_mfalost = (unsigned char)m->mfa_lost;
        dev_ok(d);
        r = 0;
    }
    sim_unlock();
    return r;
}

void t1maint_line(const struct t1maint *m, int *framing, int *coding, int *clock, int *loop)
{
    *framing = m->ours.framing;
    *coding = m->ours.coding;
    *clock = m->ours.clock;
    *loop = m->our_loop;
}

void t1maint_set_loopback(struct t1maint *m, int mode)
{
    m->our_loop = mode;
    wake_timeslots(m);
}

int dt_setloopback(int dev, int mode)
{
    device *d;
    int r = -1;
    sim_lock();
    d = span_dev(dev);
    if (d && mode != DTLB_NONE && mode != DTLB_LOCAL && mode != DTLB_LINE &&
        mode != DTLB_PAYLOAD) {
        dev_err(d, EDT_PARAMERR, "loopback %d: DTLB_NONE, DTLB_LOCAL, DTLB_LINE or "
                "DTLB_PAYLOAD", mode);
    } else if (d) {
        t1maint_set_loopback(d->span->maint, mode);
        dev_ok(d);
        r = 0;
    }
    sim_unlock();
    return r;
}

/* Start sending a loop code (DTLC_x), replacing the one being sent. */
static void start_code(struct t1maint *m, int code)
{
    if (inband(m->code))
        m->pattern_on = 0;
    m->code = code;
    m->code_ms = 0;
    if (inband(code)) {
        /* the in-band codes: 00001 (loop up) or 001 (loop down), repeated */
        cti_pattern_word(&m->gen, 1, code == DTLC_LINEUP ? 5 : 3);
        m->pattern_on = 1;
        wake_timeslots(m);
    }
}

int dt_sendloopcode(int dev, int code)
{
    device *d;
    struct t1maint *m;
    int r = -1;
    sim_lock();
    d = span_dev(dev);
    if (!d)
        goto out;
    m = d->span->maint;
    if (m->s->e1) {
        dev_err(d, EDT_PARAMERR, "%s is an E1: it has no loop codes (in-band codes and the "
                "ESF data link are T1's); ask the carrier to loop it", d->name);
    } else if (code < DTLC_LINEUP || code > DTLC_PAYLOADDOWN) {
        dev_err(d, EDT_PARAMERR, "loop code %d: DTLC_LINEUP, DTLC_LINEDOWN, DTLC_PAYLOADUP "
                "or DTLC_PAYLOADDOWN", code);
    } else if (!inband(code) && m->ours.framing != DTFR_ESF) {
        dev_err(d, EDT_PARAMERR, "%s is D4-framed: payload loop codes travel in the ESF "
                "data link; use the in-band line loop codes", d->name);
    } else if (inband(code) && (m->bert_on || m->ts_berts > 0)) {
        dev_err(d, EDT_BUSY, "a BERT runs on %s: an in-band code would replace its "
                "pattern; stop it first", d->name);
    } else {
        start_code(m, code);
        dev_ok(d);
        r = 0;
    }
out:
    sim_unlock();
    return r;
}

int t1maint_send_inband_code(struct t1maint *m, int up)
{
    if (m->s->e1 || m->bert_on || m->ts_berts > 0)
        return -1;
    start_code(m, up ? DTLC_LINEUP : DTLC_LINEDOWN);
    return 0;
}

void t1maint_counters(const struct t1maint *m, t1maint_counts *c)
{
    c->bpv = m->bpv;
    c->exz = m->exz;
    c->crc = m->crc;
    c->fas = m->fas;
    c->oof = m->oof;
    c->slips = m->slips;
    c->ebit = m->ebit;
}

/* Whether a timeslot carries a call on the bus: it listens to something,
 * or something listens to it.  why: what, for the error message. */
static int in_call(const device *ts, char *why, size_t max)
{
    int i;
    if (ts->listen >= 0) {
        snprintf(why, max, "%s listens to timeslot %d", ts->name, ts->listen);
        return 1;
    }
    for (i = 0; i < g_sim->ndevs; i++)
        if (g_sim->devs[i]->listen == ts->txslot) {
            snprintf(why, max, "%s listens to %s", g_sim->devs[i]->name, ts->name);
            return 1;
        }
    return 0;
}

/* The BERT device of a handle: a span, or a timeslot (*k its index). */
static device *bert_dev(int dev, int *k)
{
    device *d = sim_dev(dev);
    *k = -1;
    if (d && d->kind == DEV_TS) {
        *k = d->ts->index;
        return d;
    }
    if (d && d->kind != DEV_SPAN) {
        dev_err(d, EDT_BADDEV, "%s is neither a span nor a timeslot", d->name);
        return NULL;
    }
    return d;
}

static struct t1maint *maint_of(device *d)
{
    return d->kind == DEV_TS ? d->ts->spandev->span->maint : d->span->maint;
}

/* Why a BERT cannot start on d (timeslot k, or -1: the span): 0 if it can. */
static int bert_refused(device *d, int k)
{
    struct t1maint *m = maint_of(d);
    char why[96];
    int i;
    if (m->bert_on)
        return dev_err(d, EDT_BUSY, "a BERT runs on the span");
    if (m->pattern_on)
        return dev_err(d, EDT_BUSY, "an in-band loop code is being sent on the span");
    if (k >= 0) {
        if (m->ts_bert_on[k])
            return dev_err(d, EDT_BUSY, "a BERT runs on %s", d->name);
        if (in_call(d, why, sizeof why))
            return dev_err(d, EDT_BUSY, "%s is in a call (%s): take it out of service "
                           "first", d->name, why);
        return 0;
    }
    for (i = 0; i < m->s->nts; i++) {
        if (m->ts_bert_on[i])
            return dev_err(d, EDT_BUSY, "a BERT runs on %s", m->s->ts[i]->name);
        if (in_call(m->s->ts[i], why, sizeof why))
            return dev_err(d, EDT_BUSY, "%s is in a call (%s): take it out of service "
                           "first", m->s->ts[i]->name, why);
    }
    return 0;
}

int dt_bertstart(int dev, int pattern)
{
    device *d;
    cti_pattern probe;
    int k, r = -1;
    sim_lock();
    d = bert_dev(dev, &k);
    if (!d)
        goto out;
    if (cti_pattern_init(&probe, pattern) < 0) {
        dev_err(d, EDT_PARAMERR, "pattern %d: DTBT_QRSS, DTBT_2E15, DTBT_2E20 or "
                "DTBT_ALLONES", pattern);
    } else if (bert_refused(d, k) == 0) {
        struct t1maint *m = maint_of(d);
        if (k < 0) {
            m->gen = probe;
            cti_bert_init(&m->bert, pattern);
            m->pattern_on = m->bert_on = 1;
        } else {
            m->ts_gen[k] = probe;
            cti_bert_init(&m->ts_bert[k], pattern);
            m->ts_bert_on[k] = 1;
            m->ts_berts++;
        }
        wake_timeslots(m);
        dev_ok(d);
        r = 0;
    }
out:
    sim_unlock();
    return r;
}

/* The BERT running on d, or NULL (and the error set). */
static cti_bert *bert_of(device *d, int k)
{
    struct t1maint *m = maint_of(d);
    if (k < 0 ? m->bert_on : m->ts_bert_on[k])
        return k < 0 ? &m->bert : &m->ts_bert[k];
    dev_err(d, EDT_PARAMERR, "no BERT runs on %s", d->name);
    return NULL;
}

static void results(const cti_bert *b, DT_BERT *r)
{
    r->db_pattern = (unsigned char)b->pattern;
    r->db_sync = b->state == CTI_BERT_SYNC;
    r->db_bits = b->bits;
    r->db_errors = b->errors;
    r->db_synclosses = b->sync_losses;
    r->db_seconds = b->seconds;
    r->db_errsecs = b->errored_seconds;
}

/* dt_bertresults, and with stop = 1 dt_bertstop. */
static int bert_results(int dev, DT_BERT *r, int stop)
{
    device *d;
    cti_bert *b;
    int k, rc = -1;
    sim_lock();
    d = bert_dev(dev, &k);
    if (d && !r) {
        dev_err(d, EDT_PARAMERR, "no DT_BERT given");
    } else if (d && (b = bert_of(d, k)) != NULL) {
        struct t1maint *m = maint_of(d);
        results(b, r);
        if (stop && k < 0) {
            m->bert_on = m->pattern_on = 0;
        } else if (stop) {
            m->ts_bert_on[k] = 0;
            m->ts_berts--;
        }
        dev_ok(d);
        rc = 0;
    }
    sim_unlock();
    return rc;
}

int dt_bertresults(int dev, DT_BERT *r) { return bert_results(dev, r, 0); }
int dt_bertstop(int dev, DT_BERT *r) { return bert_results(dev, r, 1); }

/* ---- the far end's controls (simfar.h) -----------------------------------*/

/* The line of span `name`, or NULL with the error set. */
static struct t1maint *line_named(const char *name)
{
    device *d = sim_find(name);
    if (!d || d->kind != DEV_SPAN) {
        sim_fail("no span named '%s'", name ? name : "(null)");
        return NULL;
    }
    return d->span->maint;
}

/* A line end of m's span from the arguments; 0 keeps what `was`. */
static int line_end_of(const struct t1maint *m, line_end *out, line_end was, int framing,
                       int coding, int clock)
{
    int e1 = m->s->e1;
    if (framing && !(e1 ? framing == DTFR_E1 || framing == DTFR_E1_CRC4
                        : framing == DTFR_ESF || framing == DTFR_D4))
        return sim_fail(e1 ? "framing %d: an E1 is DTFR_E1 or DTFR_E1_CRC4"
                           : "framing %d: a T1 is DTFR_ESF or DTFR_D4", framing);
    if (coding && coding != DTCD_AMI && coding != substituting(m))
        return sim_fail(e1 ? "line code %d: an E1 is DTCD_HDB3 or DTCD_AMI"
                           : "line code %d: a T1 is DTCD_B8ZS or DTCD_AMI", coding);
    if (clock && clock != DTCK_LINE && clock != DTCK_INTERNAL)
        return sim_fail("clock %d: DTCK_LINE or DTCK_INTERNAL", clock);
    out->framing = framing ? framing : was.framing;
    out->coding = coding ? coding : was.coding;
    out->clock = clock ? clock : was.clock;
    out->ts16 = was.ts16;
    return 0;
}

int simfar_span_line(const char *span, int framing, int coding, int clock)
{
    struct t1maint *m;
    int r = -1;
    sim_lock();
    m = line_named(span);
    if (m && (r = line_end_of(m, &m->ours, m->ours, framing, coding, clock)) == 0)
        m->far = matching(m->ours);
    sim_unlock();
    return r;
}

int simfar_far_span_line(const char *span, int framing, int coding, int clock)
{
    struct t1maint *m;
    int r = -1;
    sim_lock();
    m = line_named(span);
    if (m && (r = line_end_of(m, &m->far, m->far, framing, coding, clock)) == 0)
        wake_timeslots(m);
    sim_unlock();
    return r;
}

int simfar_far_span_ts16(const char *span, int signalling)
{
    struct t1maint *m;
    int r = -1;
    sim_lock();
    m = line_named(span);
    if (m && !m->s->e1) {
        sim_fail("%s is a T1: timeslot 16 is an E1's", span);
    } else if (m && signalling != SIMFAR_SIG_CAS && signalling != SIMFAR_SIG_CCS) {
        sim_fail("timeslot 16 use %d: SIMFAR_SIG_CAS or SIMFAR_SIG_CCS", signalling);
    } else if (m) {
        m->far.ts16 = signalling;
        wake_timeslots(m);
        r = 0;
    }
    sim_unlock();
    return r;
}

int simfar_far_span_ppm(const char *span, double ppm)
{
    struct t1maint *m;
    int r = -1;
    sim_lock();
    m = line_named(span);
    if (m && !(fabs(ppm) <= MAX_PPM)) {
        r = sim_fail("ppm %g: a clock is within +-%g ppm", ppm, MAX_PPM);
    } else if (m) {
        m->ppm = ppm;
        r = 0;
    }
    sim_unlock();
    return r;
}

int simfar_span_errors(const char *span, int bpv, int crc, int fas, int oof, int slips,
                       int ais, int ebit)
{
    struct t1maint *m;
    int r = -1;
    sim_lock();
    m = line_named(span);
    if (!m) {
        ;
    } else if (bpv < 0 || crc < 0 || fas < 0 || oof < 0 || slips < 0 || ebit < 0) {
        r = sim_fail("%s: error counts cannot be negative", span);
    } else if (crc > 0 && m->ours.framing != DTFR_ESF && m->ours.framing != DTFR_E1_CRC4) {
        r = sim_fail("%s is %s: it has no CRC to fail", span,
                     m->s->e1 ? "an E1 without CRC-4" : "D4-framed");
    } else if (ebit > 0 && m->ours.framing != DTFR_E1_CRC4) {
        r = sim_fail("%s has no E bits: they are E1 CRC-4's", span);
    } else {
        long long second = (g_sim->now_ms - m->opened_ms) / 1000;
        m->bpv += (unsigned long)bpv;
        m->crc += (unsigned long)crc;
        m->fas += (unsigned long)fas;
        m->oof += (unsigned long)oof;
        m->slips += (unsigned long)slips;
        m->ebit += (unsigned long)ebit;
        if (ais)
            m->ais_until_ms = m->opened_ms + (second + 1) * 1000;
        r = 0;
    }
    sim_unlock();
    return r;
}

int simfar_span_ber(const char *span, double ber)
{
    struct t1maint *m;
    int r = -1;
    sim_lock();
    m = line_named(span);
    if (m && !(ber >= 0.0 && ber <= MAX_BER)) {
        r = sim_fail("bit error rate %g: from 0 to %g", ber, MAX_BER);
    } else if (m) {
        m->ber = ber;
        m->gap = ber > 0.0 ? error_gap(m) : 0.0;
        wake_timeslots(m);
        r = 0;
    }
    sim_unlock();
    return r;
}

int simfar_far_loopback(const char *span)
{
    struct t1maint *m;
    int r;
    sim_lock();
    m = line_named(span);
    r = m ? m->far_loop : -1;
    sim_unlock();
    return r;
}
