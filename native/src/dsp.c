/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dsp.c - the audio side of the simulated voice boards.
 *
 * Everything here works on 16-bit linear samples at 8 kHz, in blocks of any
 * length (the simulator feeds 80 samples = 10 ms).  The pieces:
 *
 *  - Generators (DTMF and Bell MF digits, call-progress tones, custom
 *    tones) are sums of one or two sine oscillators switched on and off by
 *    a cadence "player".  An oscillator is a unit phasor turned by
 *    e^(j*2*pi*f/8000) each sample: four multiplies per sample, any
 *    frequency (SIT needs 913.8 Hz), any level, renormalised once a block.
 *
 *  - The DTMF receiver is our own, because spandsp 0.0.6's is marginal on
 *    ITU-T Q.24: it needs two 12.75 ms blocks in a row, so it takes 23 ms
 *    tones ~18% of the time, and its "fraction of total energy" test
 *    (-0.85 dB) rejects keys with a 1633 Hz tone only 1.5% off.  Ours uses
 *    the same tool, the Goertzel filter, arranged for finer time steps:
 *      . a Goertzel runs per 5 ms segment (40 samples) for each of the 8
 *        DTMF frequencies (and dial tone's 2); its end state gives that
 *        segment's complex DFT value, so three consecutive segments add up
 *        (with the right phase turn) to the DFT of a 15 ms window,
 *        evaluated every 5 ms;
 *      . a window "hits" digit d when its best row and column tones are
 *        above the level threshold, within the twist limits, 7 dB above the
 *        other tones of their group, and hold >= 55% of the window energy
 *        that is not dial tone (two more bins, 350 and 440 Hz, measure the
 *        dial tone; it may explain away up to 94% of the energy, so digits
 *        are decoded under a dial tone up to ~11 dB stronger per tone).
 *        A tone that fills only a fraction p of a window holds ~p of it,
 *        so a window hits only when p >= ~0.55.  The twist limits (12 dB
 *        low group stronger, 8 dB high group stronger) are on the bins'
 *        powers, wider than Q.24's 8 and 4 dB by what a tone 1.5% off loses
 *        in its bin (up to 2 dB at 1633 Hz) and by the +-1 dB ripple the
 *        stronger group's leakage puts on the weaker, so a 40 ms key with
 *        all the accepted deviations at once is still taken;
 *      . a key press is reported once it has 6 hit windows, allowing gaps of
 *        up to 3 missed windows (interruptions <= 10 ms are bridged, a
 *        pause >= 20 ms ends the digit).  6 windows need a tone of about
 *        30 ms: <= 23 ms is never reported, >= 40 ms always is;
 *      . at that moment a last check runs on 24 ms of audio that lie
 *        inside the tone (they end 7 ms before the latest sample).  The
 *        tone frequencies are measured (phase advance between three
 *        Hann-windowed DFTs) and the key is dropped when either is more
 *        than 2.5% off, so +-1.5% is accepted and +-3.5% rejected for
 *        every key;
 *      . it is also dropped when the two frequencies' ratio is more than
 *        3.4% off the key's, or when the two tones at their measured
 *        frequencies hold less than 90% of the energy (dial tone taken
 *        out).  These are the talk-off defences: speech passes for a key
 *        with two harmonics of one voice, the 2nd and 4th for a high voice
 *        (a 2:1 ratio, 4.3% off keys 2, 6 and C) or the 3rd and 4th (4:3,
 *        3.8% off *), and keeps much of its energy in its other harmonics,
 *        while a key's tones 1.5% off either way are 3.05% off in ratio
 *        and hold all of the energy but the noise;
 *      . keys A-D (the 1633 Hz column) are reported only when enabled
 *        (cti_digit_rx_set_abcd): most lines never carry them, and high
 *        voices reach 1633 Hz with a harmonic easily.
 *    Measured against Q.24 point by point, and for talk-off on 30 minutes
 *    of synthetic speech, in docs/dtmf-receiver.md (made by
 *    tests/test_dtmf_receiver.py).
 *    Bell MF is spandsp's bell_mf_rx (KP = '*', ST = '#', ST' ST'' ST'''
 *    = 'A' 'B' 'C').
 *
 *  - The call-progress detector is a Goertzel bank too (spandsp's
 *    super_tone_rx accepts two bins holding 3% of the energy as a tone,
 *    which noise and DTMF can satisfy).  Every 25 ms window (200 samples,
 *    long enough to tell 440 from 480 Hz) is classified as one of the tone
 *    "colours" of the set (a dual-tone pair or a single frequency holding
 *    >= 60% of the energy), as quiet, or as other sound.  Two equal windows
 *    in a row start a new segment, so one odd window never splits a
 *    segment.  The tones are then recognised from the segment history:
 *    steady tones by duration, cadenced tones by their on/off lengths.
 *
 *  - Caller ID is spandsp's ADSI code (Bell 202 FSK, CLASS standard); the
 *    messages themselves are built and parsed here (spandsp's
 *    adsi_add_field doubles a length byte of 16 as if it were a DLE).
 *
 * Digital silence (all-zero blocks) costs almost nothing: the Goertzel
 * states are zero after zero input, so a zero chunk that starts a segment
 * is skipped without changing any result.
 *
 * No global mutable state: everything lives in the objects; tables are
 * const.
 */
#include "dsp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <spandsp.h>

#define RATE 8000
#define PI_F 3.14159265358979f

/* ---- levels -------------------------------------------------------------*/

/* Peak amplitude of a sine at a level in dBm0 (spandsp's 3.14 dB rule). */
static float dbm0_amp(float dbm0)
{
    return 32768.0f * powf(10.0f, (dbm0 - 3.14f) / 20.0f);
}

/* Level in dBm0 of a mean square power. */
static float ms_dbm0(double ms)
{
    double ref = 32768.0 * 32768.0 / 2.0;
    if (ms <= 0.0)
        return -99.0f;
    ms = 10.0 * log10(ms / ref) + 3.14;
    return ms < -99.0 ? -99.0f : (float)ms;
}

float cti_tone_share(const int16_t *x, int n)
{
    static const float freqs[] = {350, 440, 480, 620, 450, 914, 1371, 1777, 1100, 2100};
    double total = 0, tone = 0;
    int i, k;
    for (i = 0; i < n; i++)
        total += (double)x[i] * x[i];
    if (total <= 0)
        return 0;
    for (k = 0; k < (int)(sizeof freqs / sizeof freqs[0]); k++) {
        double w = 2 * M_PI * freqs[k] / 8000.0, c = 2 * cos(w), s0, s1 = 0, s2 = 0;
        for (i = 0; i < n; i++) {
            s0 = x[i] + c * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        tone += (s1 * s1 + s2 * s2 - c * s1 * s2) * 2.0 / n;
    }
    return (float)(tone / total);
}

float cti_power_dbm0(const int16_t *amp, int n)
{
    double sum = 0.0;
    int i;
    if (!amp || n <= 0)
        return -99.0f;
    for (i = 0; i < n; i++)
        sum += (double)amp[i] * amp[i];
    return ms_dbm0(sum / n);
}

static int all_zero(const int16_t *amp, int n)
{
    int i;
    for (i = 0; i < n; i++)
        if (amp[i])
            return 0;
    return 1;
}

static int16_t sat16(float v)
{
    long r = lrintf(v);
    return (int16_t)(r > 32767 ? 32767 : r < -32768 ? -32768 : r);
}

/* ---- oscillators and the cadence player ----------------------------------*/

typedef struct {
    float re, im;       /* the unit phasor; the output is im */
    float c, s;         /* cos and sin of the step */
} osc;

static void osc_set(osc *o, float hz)
{
    double w = 2.0 * M_PI * hz / RATE;
    o->c = (float)cos(w);
    o->s = (float)sin(w);
    if (o->re == 0.0f && o->im == 0.0f)
        o->re = 1.0f;
}

static float osc_step(osc *o)
{
    float re = o->re * o->c - o->im * o->s;
    o->im = o->re * o->s + o->im * o->c;
    o->re = re;
    return o->im;
}

/* One Newton step back to unit magnitude; called once per block. */
static void osc_norm(osc *o)
{
    float k = (3.0f - (o->re * o->re + o->im * o->im)) * 0.5f;
    o->re *= k;
    o->im *= k;
}

typedef struct {
    float f1, f2;       /* Hz; f1 == 0 for silence; f2 == 0 for one tone */
    float a1, a2;       /* peak amplitudes */
    long len;           /* samples; < 0 for ever */
} seg;

#define MAX_SEGS 4

typedef struct {
    seg s[MAX_SEGS];
    int nseg, idx, repeat, active;
    long pos;
    osc o1, o2;
} player;

static void player_enter(player *p)
{
    const seg *sg = &p->s[p->idx];
    p->pos = 0;
    if (sg->f1 > 0.0f)
        osc_set(&p->o1, sg->f1);
    if (sg->f2 > 0.0f)
        osc_set(&p->o2, sg->f2);
}

static void player_start(player *p, const seg *segs, int nseg, int repeat)
{
    memset(p, 0, sizeof *p);
    memcpy(p->s, segs, (size_t)nseg * sizeof *segs);
    p->nseg = nseg;
    p->repeat = repeat;
    p->active = nseg > 0;
    if (p->active)
        player_enter(p);
}

static void synth(player *p, const seg *sg, int16_t *out, int n)
{
    int i;
    if (sg->f1 <= 0.0f) {
        memset(out, 0, (size_t)n * sizeof *out);
        return;
    }
    if (sg->f2 > 0.0f) {
        for (i = 0; i < n; i++) {
            float v = sg->a1 * osc_step(&p->o1);
            out[i] = sat16(v + sg->a2 * osc_step(&p->o2));
        }
        osc_norm(&p->o2);
    } else {
        for (i = 0; i < n; i++)
            out[i] = sat16(sg->a1 * osc_step(&p->o1));
    }
    osc_norm(&p->o1);
}

/* Fill out[0..n); returns how many samples came from the cadence (the rest,
 * after the cadence ended, are zeros). */
static int player_gen(player *p, int16_t *out, int n)
{
    int done = 0;
    while (done < n && p->active) {
        const seg *sg = &p->s[p->idx];
        long k = n - done;
        if (sg->len >= 0 && sg->len - p->pos < k)
            k = sg->len - p->pos;
        synth(p, sg, out + done, (int)k);
        done += (int)k;
        p->pos += k;
        if (sg->len >= 0 && p->pos >= sg->len) {
            if (++p->idx >= p->nseg) {
                p->idx = 0;
                p->active = p->repeat;
            }
            if (p->active)
                player_enter(p);
        }
    }
    if (done < n)
        memset(out + done, 0, (size_t)(n - done) * sizeof *out);
    return done;
}

static seg tone_seg(float f1, float f2, float a, int ms)
{
    seg s;
    s.f1 = f1;
    s.f2 = f2;
    s.a1 = a;
    s.a2 = f2 > 0.0f ? a : 0.0f;
    s.len = ms < 0 ? -1 : (long)ms * (RATE / 1000);
    return s;
}

static seg silence_seg(int ms)
{
    return tone_seg(0.0f, 0.0f, 0.0f, ms);
}

/* ---- digit tables ---------------------------------------------------------*/

static const char dtmf_keys[] = "123A456B789C*0#D";
static const float dtmf_row_hz[4] = {697.0f, 770.0f, 852.0f, 941.0f};
static const float dtmf_col_hz[4] = {1209.0f, 1336.0f, 1477.0f, 1633.0f};
/* North American dial tone, which the DTMF receiver measures to leave out. */
static const float dial_tone_hz[2] = {350.0f, 440.0f};

/* Bell MF: the keys in spandsp's convention and their two frequencies. */
static const char mf_keys[] = "1234567890*#ABC";
static const float mf_hz[15][2] = {
    {700, 900}, {700, 1100}, {900, 1100}, {700, 1300}, {900, 1300},
    {1100, 1300}, {700, 1500}, {900, 1500}, {1100, 1500}, {1300, 1500},
    {1100, 1700}, {1500, 1700}, {900, 1700}, {1300, 1700}, {700, 1700}};

/* The two frequencies of a key; returns 0 for a character that is not a
 * digit of the kind. */
static int key_freqs(cti_digit_kind kind, char c, float *lo, float *hi)
{
    const char *p;
    if (!c)
        return 0;
    if (kind == CTI_DIGITS_MF) {
        if (!(p = strchr(mf_keys, c)))
            return 0;
        *lo = mf_hz[p - mf_keys][0];
        *hi = mf_hz[p - mf_keys][1];
        return 1;
    }
    if (!(p = strchr(dtmf_keys, c)))
        return 0;
    *lo = dtmf_row_hz[(p - dtmf_keys) / 4];
    *hi = dtmf_col_hz[(p - dtmf_keys) % 4];
    return 1;
}

/* ---- digit generator ------------------------------------------------------*/

typedef struct {
    char key;
    short on_ms, off_ms, level;
} dig_item;

struct cti_digit_tx {
    cti_digit_kind kind;
    float twist_db;
    dig_item *q;
    int head, count, cap;
    player p;
};

cti_digit_tx *cti_digit_tx_new(cti_digit_kind kind)
{
    cti_digit_tx *tx;
    if (kind != CTI_DIGITS_DTMF && kind != CTI_DIGITS_MF)
        return NULL;
    if (!(tx = calloc(1, sizeof *tx)))
        return NULL;
    tx->kind = kind;
    return tx;
}

void cti_digit_tx_free(cti_digit_tx *tx)
{
    if (tx) {
        free(tx->q);
        free(tx);
    }
}

void cti_digit_tx_set_twist(cti_digit_tx *tx, float twist_db)
{
    if (tx)
        tx->twist_db = twist_db;
}

void cti_digit_tx_clear(cti_digit_tx *tx)
{
    if (!tx)
        return;
    tx->head = tx->count = 0;
    tx->p.active = 0;
}

/* Make room for n more items (the queue is a ring that grows). */
static int dig_reserve(cti_digit_tx *tx, int n)
{
    dig_item *q;
    int cap, i;
    if (tx->count + n <= tx->cap)
        return 0;
    cap = tx->cap ? tx->cap : 64;
    while (cap < tx->count + n)
        cap *= 2;
    if (!(q = malloc((size_t)cap * sizeof *q)))
        return -1;
    for (i = 0; i < tx->count; i++)
        q[i] = tx->q[(tx->head + i) % tx->cap];
    free(tx->q);
    tx->q = q;
    tx->cap = cap;
    tx->head = 0;
    return 0;
}

int cti_digit_tx_put(cti_digit_tx *tx, const char *digits, int on_ms, int off_ms,
                     int level_dbm0)
{
    float lo, hi;
    const char *c;
    int n;
    if (!tx || !digits)
        return -1;
    for (c = digits; *c; c++)
        if (*c != ',' && !key_freqs(tx->kind, *c, &lo, &hi))
            return -1;
    n = (int)(c - digits);
    if (dig_reserve(tx, n) < 0)
        return -1;
    if (on_ms <= 0)
        on_ms = 100;
    if (off_ms <= 0)
        off_ms = 100;
    if (level_dbm0 == 0)
        level_dbm0 = -10;
    for (c = digits; *c; c++) {
        dig_item *it = &tx->q[(tx->head + tx->count++) % tx->cap];
        it->key = *c;
        it->on_ms = (short)(on_ms > 30000 ? 30000 : on_ms);
        it->off_ms = (short)(off_ms > 30000 ? 30000 : off_ms);
        it->level = (short)level_dbm0;
    }
    return 0;
}

/* Start the player on the next queued key, pause or digit. */
static void dig_next(cti_digit_tx *tx)
{
    dig_item it = tx->q[tx->head];
    seg s[2];
    float lo = 0, hi = 0;
    tx->head = (tx->head + 1) % tx->cap;
    tx->count--;
    if (it.key == ',') {
        s[0] = silence_seg(2000);
        player_start(&tx->p, s, 1, 0);
        return;
    }
    key_freqs(tx->kind, it.key, &lo, &hi);
    if (tx->kind == CTI_DIGITS_MF) {
        it.on_ms = it.key == '*' ? 100 : 68;
        it.off_ms = 68;
    }
    s[0] = tone_seg(lo, hi, dbm0_amp(it.level), it.on_ms);
    s[0].a2 = dbm0_amp(it.level + tx->twist_db);
    s[1] = silence_seg(it.off_ms);
    player_start(&tx->p, s, 2, 0);
}

int cti_digit_tx_gen(cti_digit_tx *tx, int16_t *out, int n)
{
    int done = 0;
    if (!tx) {
        memset(out, 0, (size_t)(n > 0 ? n : 0) * sizeof *out);
        return 0;
    }
    while (done < n) {
        if (!tx->p.active) {
            if (!tx->count)
                break;
            dig_next(tx);
        }
        done += player_gen(&tx->p, out + done, n - done);
    }
    if (done < n)
        memset(out + done, 0, (size_t)(n - done) * sizeof *out);
    return tx->p.active || tx->count > 0;
}

/* ---- call-progress tone generator -----------------------------------------*/

struct cti_tone_tx {
    player p;
};

cti_tone_tx *cti_tone_tx_new(void)
{
    return calloc(1, sizeof(cti_tone_tx));
}

void cti_tone_tx_free(cti_tone_tx *tx)
{
    free(tx);
}

/* The cadence of a standard tone: segments, count and repeat flag. */
static int std_tone(cti_toneset set, cti_tone_id id, float a, seg *s, int *repeat)
{
    int cn = set == CTI_TONESET_CN;
    *repeat = 1;
    switch (id) {
    case CTI_TONE_DIAL:
        s[0] = cn ? tone_seg(450, 0, a, -1) : tone_seg(350, 440, a, -1);
        return 1;
    case CTI_TONE_RINGBACK:
        s[0] = cn ? tone_seg(450, 0, a, 1000) : tone_seg(440, 480, a, 2000);
        s[1] = silence_seg(4000);
        return 2;
    case CTI_TONE_BUSY:
        s[0] = cn ? tone_seg(450, 0, a, 350) : tone_seg(480, 620, a, 500);
        s[1] = silence_seg(cn ? 350 : 500);
        return 2;
    case CTI_TONE_REORDER:
        s[0] = cn ? tone_seg(450, 0, a, 700) : tone_seg(480, 620, a, 250);
        s[1] = silence_seg(cn ? 700 : 250);
        return 2;
    case CTI_TONE_SIT:
        s[0] = tone_seg(913.8f, 0, a, 330);
        s[1] = tone_seg(1370.6f, 0, a, 330);
        s[2] = tone_seg(1776.7f, 0, a, 330);
        *repeat = 0;
        return 3;
    case CTI_TONE_FAX_CNG:
        s[0] = tone_seg(1100, 0, a, 500);
        s[1] = silence_seg(3000);
        return 2;
    case CTI_TONE_FAX_CED:
        s[0] = tone_seg(2100, 0, a, 3000);
        *repeat = 0;
        return 1;
    default:
        return 0;
    }
}

int cti_tone_tx_start(cti_tone_tx *tx, cti_toneset set, cti_tone_id id, int level_dbm0)
{
    seg s[MAX_SEGS];
    int n, repeat;
    if (!tx || (set != CTI_TONESET_NA && set != CTI_TONESET_CN))
        return -1;
    n = std_tone(set, id, dbm0_amp(level_dbm0 ? level_dbm0 : -13), s, &repeat);
    if (!n)
        return -1;
    player_start(&tx->p, s, n, repeat);
    return 0;
}

int cti_tone_tx_start_custom(cti_tone_tx *tx, int f1, int f2, int level_dbm0,
                             int on1_ms, int off1_ms, int on2_ms, int off2_ms,
                             int repeat)
{
    seg s[MAX_SEGS];
    float a = dbm0_amp(level_dbm0);
    int n = 0;
    if (!tx || f1 <= 0 || f1 >= RATE / 2 || f2 < 0 || f2 >= RATE / 2 || on1_ms <= 0 ||
        off1_ms < 0 || on2_ms < 0 || off2_ms < 0)
        return -1;
    if (off1_ms == 0) {
        s[n++] = tone_seg((float)f1, (float)f2, a, repeat ? -1 : on1_ms);
    } else {
        s[n++] = tone_seg((float)f1, (float)f2, a, on1_ms);
        s[n++] = silence_seg(off1_ms);
        if (on2_ms > 0)
            s[n++] = tone_seg((float)f1, (float)f2, a, on2_ms);
        if (off2_ms > 0)
            s[n++] = silence_seg(off2_ms);
    }
    player_start(&tx->p, s, n, repeat != 0);
    return 0;
}

void cti_tone_tx_stop(cti_tone_tx *tx)
{
    if (tx)
        tx->p.active = 0;
}

int cti_tone_tx_gen(cti_tone_tx *tx, int16_t *out, int n)
{
    if (!tx) {
        memset(out, 0, (size_t)(n > 0 ? n : 0) * sizeof *out);
        return 0;
    }
    player_gen(&tx->p, out, n);
    return tx->p.active;
}

int cti_tone_tx_active(const cti_tone_tx *tx)
{
    return tx && tx->p.active;
}

const char *cti_tone_name(cti_tone_id id)
{
    static const char *const names[] = {"none", "dial", "ringback", "busy", "reorder",
                                        "sit", "fax-cng", "fax-ced", "custom"};
    return (unsigned)id < sizeof names / sizeof names[0] ? names[id] : "?";
}

/* ---- Goertzel bank ----------------------------------------------------------
 *
 * y[n] = x[n] + 2cos(w) y[n-1] - y[n-2] over a segment of M samples ends with
 * y1 - e^(-jw) y2 = e^(jw(M-1)) * sum x[m] e^(-jwm), the segment's DFT value
 * at w up to a fixed phase.  The recursion is sequential in n, so its speed
 * is set by the latency of one step; the bins are run four at a time in
 * vectors (GCC/Clang vector extension) whose states stay in registers,
 * which makes 8 or 12 bins cost about what one does. */

#define BANK 12

typedef float v4sf __attribute__((vector_size(16)));

typedef struct {
    v4sf coef[BANK / 4];        /* 2cos(w) */
    v4sf s1[BANK / 4], s2[BANK / 4];
    int64_t e;                  /* energy of the segment so far */
    int nv;                     /* vectors in use: 2 or 3 */
} bank;

static void bank_init(bank *b, const float *hz, int n)
{
    float c[BANK];
    int i;
    memset(b, 0, sizeof *b);
    memset(c, 0, sizeof c);
    for (i = 0; i < n; i++)
        c[i] = (float)(2.0 * cos(2.0 * M_PI * hz[i] / RATE));
    memcpy(b->coef, c, sizeof c);
    b->nv = n > 8 ? 3 : 2;
}

static void bank_clear(bank *b)
{
    memset(b->s1, 0, sizeof b->s1);
    memset(b->s2, 0, sizeof b->s2);
    b->e = 0;
}

/* Two samples per step: y[n] and y[n+1] both from y[n-1] (a), y[n-2] (d):
 *   y[n]   = x[n] - d + c a
 *   y[n+1] = x[n+1] + c (x[n] - d) + (c^2 - 1) a
 * which halves the chain of dependent operations. */
#define STEP2(a, d, c, c2)                                                     \
    do {                                                                       \
        v4sf u_ = v0 - d;                                                      \
        d = u_ + c * a;                                                        \
        a = (v1 + c * u_) + c2 * a;                                            \
    } while (0)
#define STEP1(a, d, c)                                                         \
    do {                                                                       \
        v4sf y_ = (v0 - d) + c * a;                                            \
        d = a;                                                                 \
        a = y_;                                                                \
    } while (0)

static void bank_run2(bank *b, const int16_t *x, int n)
{
    v4sf c0 = b->coef[0], c1 = b->coef[1];
    v4sf q0 = c0 * c0 - 1.0f, q1 = c1 * c1 - 1.0f;
    v4sf a0 = b->s1[0], a1 = b->s1[1], d0 = b->s2[0], d1 = b->s2[1];
    int i;
    for (i = 0; i + 1 < n; i += 2) {
        float v0 = x[i], v1 = x[i + 1];
        STEP2(a0, d0, c0, q0);
        STEP2(a1, d1, c1, q1);
    }
    if (i < n) {
        float v0 = x[i];
        STEP1(a0, d0, c0);
        STEP1(a1, d1, c1);
    }
    b->s1[0] = a0;
    b->s1[1] = a1;
    b->s2[0] = d0;
    b->s2[1] = d1;
}

static void bank_run3(bank *b, const int16_t *x, int n)
{
    v4sf c0 = b->coef[0], c1 = b->coef[1], c2 = b->coef[2];
    v4sf q0 = c0 * c0 - 1.0f, q1 = c1 * c1 - 1.0f, q2 = c2 * c2 - 1.0f;
    v4sf a0 = b->s1[0], a1 = b->s1[1], a2 = b->s1[2];
    v4sf d0 = b->s2[0], d1 = b->s2[1], d2 = b->s2[2];
    int i;
    for (i = 0; i + 1 < n; i += 2) {
        float v0 = x[i], v1 = x[i + 1];
        STEP2(a0, d0, c0, q0);
        STEP2(a1, d1, c1, q1);
        STEP2(a2, d2, c2, q2);
    }
    if (i < n) {
        float v0 = x[i];
        STEP1(a0, d0, c0);
        STEP1(a1, d1, c1);
        STEP1(a2, d2, c2);
    }
    b->s1[0] = a0;
    b->s1[1] = a1;
    b->s1[2] = a2;
    b->s2[0] = d0;
    b->s2[1] = d1;
    b->s2[2] = d2;
}

static void bank_run(bank *b, const int16_t *x, int n)
{
    int64_t e = 0;
    int i;
    for (i = 0; i < n; i++)
        e += (int32_t)x[i] * x[i];
    b->e += e;
    if (b->nv == 2)
        bank_run2(b, x, n);
    else
        bank_run3(b, x, n);
}

/* The DFT values of the finished segment for bins [0, n), then restart. */
static void bank_take(bank *b, const float *cw, const float *sw, float *re, float *im, int n)
{
    float s1[BANK], s2[BANK];
    int k;
    memcpy(s1, b->s1, sizeof s1);
    memcpy(s2, b->s2, sizeof s2);
    for (k = 0; k < n; k++) {
        re[k] = s1[k] - cw[k] * s2[k];
        im[k] = sw[k] * s2[k];
    }
    bank_clear(b);
}

/* ---- DTMF receiver --------------------------------------------------------*/

#define DT_SEG 40                       /* 5 ms hop */
#define DT_NSEG 3
#define DT_N (DT_SEG * DT_NSEG)         /* 15 ms window */
#define DT_MIN_HITS 6                   /* windows to accept a key */
#define DT_MAX_MISS 3                   /* missed windows bridged */
#define DT_FRACTION 0.55f               /* of the window energy */
#define DT_HOLD_FRACTION 0.45f          /* the same, for a key reported */
#define DT_REL_PEAK 5.01f               /* 7 dB over the group's others */
#define DT_BINS 10                      /* 4 rows, 4 columns, dial tone 350, 440 */
#define DT_ABCD_BIN 7                   /* the column of keys A-D, 1633 Hz */
#define DT_DIAL_FLOOR 0.06f             /* dial tone explains at most 94% */
#define DT_MAX_OFFSET 0.025f            /* frequency tolerance */
#define DT_MAX_RATIO_OFFSET 0.034f      /* of the two frequencies' ratio */
#define DT_HIST 256                     /* audio kept for the last check */
#define DT_FWIN 96                      /* frequency check: Hann window ... */
#define DT_FHOP 48                      /* ... and hop; 3 windows */
#define DT_SPAN (DT_FHOP * 2 + DT_FWIN)  /* 24 ms: what a key is checked on, */
#define DT_CHECK_LAG 56                 /* ... ending 7 ms before the latest sample */
_Static_assert(DT_SPAN + DT_CHECK_LAG <= DT_HIST, "the checked span is kept");
#define DT_PURITY 0.9f                  /* of its energy in the two tones */

typedef struct {
    bank b;
    float cw[DT_BINS], sw[DT_BINS];     /* cos, sin of w */
    float rr[DT_BINS], ri[DT_BINS];     /* e^(-jwM): one segment's turn */
    float gre[DT_NSEG][DT_BINS], gim[DT_NSEG][DT_BINS], ge[DT_NSEG];
    int pos, nsegs;                     /* in the segment; segments seen */
    float thresh;                       /* minimum Goertzel power per tone */
    float twist, rtwist;                /* as power ratios */
    int abcd;                           /* keys A-D are reported */
    int16_t hist[DT_HIST];
    unsigned hpos;
    /* the key press being followed */
    char cur, alt;
    int hits, misses, alt_hits, state; /* state: 0 pending, 1 reported, -1 dropped */
} dtmf_det;

static void dt_set_threshold(dtmf_det *d, int dbm0)
{
    float a = dbm0_amp((float)dbm0) * DT_N / 2.0f;
    d->thresh = a * a;
}

static void dt_init(dtmf_det *d)
{
    float hz[DT_BINS];
    int k;
    memset(d, 0, sizeof *d);
    for (k = 0; k < 4; k++) {
        hz[k] = dtmf_row_hz[k];
        hz[k + 4] = dtmf_col_hz[k];
    }
    hz[8] = dial_tone_hz[0];
    hz[9] = dial_tone_hz[1];
    bank_init(&d->b, hz, DT_BINS);
    for (k = 0; k < DT_BINS; k++) {
        double w = 2.0 * M_PI * hz[k] / RATE;
        d->cw[k] = (float)cos(w);
        d->sw[k] = (float)sin(w);
        d->rr[k] = (float)cos(w * DT_SEG);
        d->ri[k] = (float)-sin(w * DT_SEG);
    }
    /* Keys from -39 dBm0 per tone: with -3 dBm0, where two tones start to
     * clip, the 35 dB dynamic range of the Mitel test and 1 dB more. */
    dt_set_threshold(d, -40);
    /* Q.24's 8 dB normal and 4 dB reverse twist, measured in the bins (see
     * the top of the file for the margin). */
    d->twist = powf(10.0f, 12.0f / 10.0f);
    d->rtwist = powf(10.0f, 8.0f / 10.0f);
}

/* The Hann-windowed DFT at hz of n samples of the history, from start (a
 * position in the ring), with the phase counted from `origin` samples
 * before start: sum over m of h[m] x[start+m] e^(-jw(origin+m)), h the
 * Hann window of length n.  Returns sum (h[m] x[start+m])^2, the window's
 * energy.  The phasor and the window's cosine are turned by one step per
 * sample rather than computed: this runs only when a key is about to be
 * reported. */
static float dt_hann_dft(const dtmf_det *d, unsigned start, int n, int origin, float hz,
                         float *re, float *im)
{
    double w = 2.0 * M_PI * hz / RATE;
    float cw = (float)cos(w), sw = (float)sin(w);
    float hc = cosf(2.0f * PI_F / n), hs = sinf(2.0f * PI_F / n);
    float er = (float)cos(w * origin), ei = (float)-sin(w * origin);
    float hr = cosf(PI_F / n), hi = sinf(PI_F / n);
    float xr = 0.0f, xi = 0.0f, e = 0.0f;
    int m;
    for (m = 0; m < n; m++) {
        float x = d->hist[(start + m) % DT_HIST] * (0.5f - 0.5f * hr);
        float t;
        xr += x * er;
        xi += x * ei;
        e += x * x;
        t = er * cw + ei * sw;
        ei = ei * cw - er * sw;
        er = t;
        t = hr * hc - hi * hs;
        hi = hr * hs + hi * hc;
        hr = t;
    }
    *re = xr;
    *im = xi;
    return e;
}

/* Where the samples a key is checked on start in the history: the DT_SPAN
 * samples that end DT_CHECK_LAG before the latest.  When a key has its
 * DT_MIN_HITS windows in a row, the tone began at least 33 ms ago (the
 * first window hit with 55% of it covered, five more followed every 5 ms)
 * and the last window hit with at least 55% of it covered, so the tone
 * lasted until 7 ms ago at the latest: this span lies inside the tone. */
static unsigned dt_check_start(const dtmf_det *d)
{
    return d->hpos - DT_CHECK_LAG - DT_SPAN;
}

/* Frequency of a tone in the checked span, as an offset from hz (a
 * fraction): the phase advance between three Hann-windowed DFTs. */
static float dt_offset(const dtmf_det *d, float hz)
{
    float xr[3], xi[3], zr, zi;
    unsigned start = dt_check_start(d);
    int k;
    for (k = 0; k < 3; k++)
        dt_hann_dft(d, start + k * DT_FHOP, DT_FWIN, k * DT_FHOP, hz, &xr[k], &xi[k]);
    zr = xr[1] * xr[0] + xi[1] * xi[0] + xr[2] * xr[1] + xi[2] * xi[1];
    zi = xi[1] * xr[0] - xr[1] * xi[0] + xi[2] * xr[1] - xr[2] * xi[1];
    return atan2f(zi, zr) / DT_FHOP * RATE / (2.0f * PI_F) / hz;
}

/* The windowed energy of the checked span once the dial tone is taken
 * out.  Each dial tone frequency's DFT value X gives that tone's amplitude
 * and phase (a tone A cos(wn + p) gives X = A n/4 e^(jp) through a Hann
 * window of length n), so the tone is rebuilt as (4/n) Re(X e^(jwn)) and
 * subtracted sample by sample.  Subtracting powers instead would not do:
 * 350 and 440 Hz are only 2.2 bins apart in 24 ms, and the cross term of
 * the two in the energy is worth up to 12% of theirs, more than a key
 * 11 dB under them has. */
static float dt_energy_without_dial(const dtmf_det *d, unsigned start)
{
    float xr[2], xi[2], e = 0.0f;
    int k, m;
    for (k = 0; k < 2; k++)
        dt_hann_dft(d, start, DT_SPAN, 0, dial_tone_hz[k], &xr[k], &xi[k]);
    for (m = 0; m < DT_SPAN; m++) {
        float h = 0.5f - 0.5f * cosf(2.0f * PI_F * (m + 0.5f) / DT_SPAN);
        float x = d->hist[(start + m) % DT_HIST];
        for (k = 0; k < 2; k++) {
            float w = 2.0f * PI_F * dial_tone_hz[k] / RATE * m;
            x -= 4.0f / DT_SPAN * (xr[k] * cosf(w) - xi[k] * sinf(w));
        }
        e += (h * x) * (h * x);
    }
    return e;
}

/* The share of the checked span's energy (dial tone left out) that two
 * tones hold, at their measured frequencies.  Through a Hann window h of
 * length n a tone of amplitude A has |X|^2 = (A sum(h) / 2)^2 = A^2 n^2 / 16
 * and energy sum (h x)^2 = A^2 / 2 * sum(h^2) = 3 A^2 n / 16, so 3 |X|^2 / n
 * is the tone's part of the energy: the two tones of a key hold all of it
 * but the noise's (a tone's part: 90% is each tone 6.5 dB over white noise
 * across 0-4 kHz).  Speech that passes for a key does it with two
 * harmonics of one voice (say the 2nd and the 4th) and keeps energy in
 * the others: 0.79 to 0.92 for the keys that the talk-off corpus's voices
 * came closest to (bench/talkoff.py), which also fail the ratio check. */
static float dt_purity(const dtmf_det *d, float row_hz, float col_hz)
{
    const float hz[2] = {row_hz, col_hz};
    unsigned start = dt_check_start(d);
    float tones = 0.0f, e = 0.0f, re, im;
    int k;
    for (k = 0; k < 2; k++) {
        e = dt_hann_dft(d, start, DT_SPAN, 0, hz[k], &re, &im);
        tones += re * re + im * im;
    }
    if (e <= 0.0f)
        return 0.0f;
    e = fmaxf(dt_energy_without_dial(d, start), DT_DIAL_FLOOR * e);
    return tones * (3.0f / DT_SPAN) / e;
}

/* Do row r and column c pass as a key?  hold relaxes the tests for the key
 * already reported, so a marginal tone does not flicker into two. */
static int dt_pair_ok(const dtmf_det *d, const float *p, float e, int r, int c, int hold)
{
    float th = hold ? d->thresh * 0.25f : d->thresh;            /* -6 dB */
    float tw = hold ? d->twist * 2.5f : d->twist;               /* +4 dB */
    float rtw = hold ? d->rtwist * 2.5f : d->rtwist;
    float frac = hold ? DT_HOLD_FRACTION : DT_FRACTION;
    int k;
    if (p[r] < th || p[c] < th)
        return 0;
    if (p[r] > p[c] * tw || p[c] > p[r] * rtw)
        return 0;
    for (k = 0; k < 4; k++) {
        if ((k != r && p[k] * DT_REL_PEAK > p[r]) || (k + 4 != c && p[k + 4] * DT_REL_PEAK > p[c]))
            return 0;
    }
    return p[r] + p[c] >= frac * (DT_N / 2.0f) * e;
}

/* The key a 15 ms window holds, or 0. */
static char dt_classify(dtmf_det *d)
{
    const int o = d->nsegs % DT_NSEG;   /* the oldest of the three */
    const int m = (o + 1) % DT_NSEG, n = (o + 2) % DT_NSEG;
    float e = d->ge[0] + d->ge[1] + d->ge[2], p[DT_BINS], wr, wi, t;
    int k, r = 0, c = 4;
    if (e * DT_N < 0.5f * d->thresh)
        return 0;               /* too weak for two tones: no need to look */
    for (k = 0; k < DT_BINS; k++) {
        /* W = G_o + r (G_m + r G_n) */
        wr = d->gre[m][k] + d->rr[k] * d->gre[n][k] - d->ri[k] * d->gim[n][k];
        wi = d->gim[m][k] + d->rr[k] * d->gim[n][k] + d->ri[k] * d->gre[n][k];
        t = d->gre[o][k] + d->rr[k] * wr - d->ri[k] * wi;
        wi = d->gim[o][k] + d->rr[k] * wi + d->ri[k] * wr;
        p[k] = t * t + wi * wi;
    }
    /* The energy test is against what is not dial tone. */
    t = e - (p[8] + p[9]) * (2.0f / DT_N);
    e = t > DT_DIAL_FLOOR * e ? t : DT_DIAL_FLOOR * e;
    if (d->cur && d->state == 1) {
        k = (int)(strchr(dtmf_keys, d->cur) - dtmf_keys);
        if (dt_pair_ok(d, p, e, k / 4, k % 4 + 4, 1))
            return d->cur;
    }
    for (k = 1; k < 4; k++) {
        if (p[k] > p[r])
            r = k;
        if (p[k + 4] > p[c])
            c = k + 4;
    }
    if (c == DT_ABCD_BIN && !d->abcd)
        return 0;               /* the strongest column is no key's */
    return dt_pair_ok(d, p, e, r, c, 0) ? dtmf_keys[r * 4 + c - 4] : 0;
}

/* The last check before a key is reported, on the checked span: both
 * tones within DT_MAX_OFFSET of their frequencies, their ratio within
 * DT_MAX_RATIO_OFFSET of the key's, and the two of them holding
 * DT_PURITY of the energy. */
static int dt_key_confirmed(const dtmf_det *d, char key)
{
    int i = (int)(strchr(dtmf_keys, key) - dtmf_keys);
    float row_hz = dtmf_row_hz[i / 4], col_hz = dtmf_col_hz[i % 4];
    float row_off = dt_offset(d, row_hz), col_off = dt_offset(d, col_hz);
    if (fabsf(row_off) > DT_MAX_OFFSET || fabsf(col_off) > DT_MAX_OFFSET)
        return 0;
    if (fabsf((1.0f + col_off) / (1.0f + row_off) - 1.0f) > DT_MAX_RATIO_OFFSET)
        return 0;
    return dt_purity(d, row_hz * (1.0f + row_off), col_hz * (1.0f + col_off)) >= DT_PURITY;
}

/* Report the key once it has enough hit windows and passes the last check. */
static int dt_try_report(dtmf_det *d, char *out)
{
    if (d->state != 0 || d->hits < DT_MIN_HITS)
        return 0;
    if (!dt_key_confirmed(d, d->cur)) {
        d->state = -1;
        return 0;
    }
    d->state = 1;
    *out = d->cur;
    return 1;
}

static int dt_begin(dtmf_det *d, char key, int hits, char *out)
{
    d->cur = key;
    d->hits = hits;
    d->misses = 0;
    d->alt = 0;
    d->alt_hits = 0;
    d->state = 0;
    return dt_try_report(d, out);
}

/* Follow key presses through the window results; returns 1 with *out set
 * when a key is to be reported. */
static int dt_track(dtmf_det *d, char key, char *out)
{
    if (d->cur && key == d->cur) {
        d->hits++;
        d->misses = 0;
        d->alt = 0;
        d->alt_hits = 0;
        return dt_try_report(d, out);
    }
    if (!d->cur)
        return key ? dt_begin(d, key, 1, out) : 0;
    if (key && d->state == 0)
        return dt_begin(d, key, 1, out);        /* an unconfirmed key gives way */
    d->misses++;
    if (key) {
        d->alt_hits = key == d->alt ? d->alt_hits + 1 : 1;
        d->alt = key;
    } else {
        d->alt = 0;
        d->alt_hits = 0;
    }
    if (d->misses <= DT_MAX_MISS)
        return 0;
    d->cur = 0;
    return d->alt ? dt_begin(d, d->alt, d->alt_hits, out) : 0;
}

/* Keep the latest audio for the frequency check. */
static void dt_keep(dtmf_det *d, const int16_t *x, int n)
{
    unsigned at = d->hpos % DT_HIST, first = DT_HIST - at;
    if (first > (unsigned)n)
        first = (unsigned)n;
    memcpy(d->hist + at, x, first * sizeof *x);
    memcpy(d->hist, x + first, (n - first) * sizeof *x);
    d->hpos += (unsigned)n;
}

/* Run samples through the receiver; found keys go to out (at most max,
 * which must leave room for a few per segment). */
static int dt_feed(dtmf_det *d, const int16_t *x, int n, char *out, int max)
{
    int got = 0, zero = all_zero(x, n);
    while (n > 0) {
        int k = DT_SEG - d->pos;
        if (k > n)
            k = n;
        dt_keep(d, x, k);
        if (!(zero && d->b.e == 0))
            bank_run(&d->b, x, k);
        x += k;
        n -= k;
        if ((d->pos += k) < DT_SEG)
            break;
        d->pos = 0;
        {
            int slot = d->nsegs % DT_NSEG;
            d->ge[slot] = (float)d->b.e;
            if (d->b.e == 0) {
                memset(d->gre[slot], 0, sizeof d->gre[slot]);
                memset(d->gim[slot], 0, sizeof d->gim[slot]);
            } else {
                bank_take(&d->b, d->cw, d->sw, d->gre[slot], d->gim[slot], DT_BINS);
            }
            d->nsegs = (d->nsegs + 1) % (DT_NSEG * 1000);
        }
        if (got < max && dt_track(d, dt_classify(d), out + got))
            got++;
    }
    return got;
}

/* ---- digit receiver -------------------------------------------------------*/

#define DIG_QUEUE 32
#define MF_IDLE_ZEROS 720       /* 6 spandsp blocks: its history is clear */

struct cti_digit_rx {
    cti_digit_kind kind;
    dtmf_det dt;
    bell_mf_rx_state_t *mf;
    long mf_zeros;              /* zero samples in a row fed to spandsp */
    char q[DIG_QUEUE];
    int qn;
};

cti_digit_rx *cti_digit_rx_new(cti_digit_kind kind)
{
    cti_digit_rx *rx;
    if (kind != CTI_DIGITS_DTMF && kind != CTI_DIGITS_MF)
        return NULL;
    if (!(rx = calloc(1, sizeof *rx)))
        return NULL;
    rx->kind = kind;
    if (kind == CTI_DIGITS_MF) {
        if (!(rx->mf = bell_mf_rx_init(NULL, NULL, NULL))) {
            free(rx);
            return NULL;
        }
    } else {
        dt_init(&rx->dt);
    }
    return rx;
}

void cti_digit_rx_free(cti_digit_rx *rx)
{
    if (!rx)
        return;
    if (rx->mf)
        bell_mf_rx_free(rx->mf);
    free(rx);
}

void cti_digit_rx_reset(cti_digit_rx *rx)
{
    if (!rx)
        return;
    rx->qn = 0;
    rx->mf_zeros = 0;
    if (rx->mf) {
        bell_mf_rx_init(rx->mf, NULL, NULL);
    } else {
        float th = rx->dt.thresh, tw = rx->dt.twist, rtw = rx->dt.rtwist;
        int abcd = rx->dt.abcd;
        dt_init(&rx->dt);
        rx->dt.thresh = th;
        rx->dt.twist = tw;
        rx->dt.rtwist = rtw;
        rx->dt.abcd = abcd;
    }
}

int cti_digit_rx_tune(cti_digit_rx *rx, int twist_db, int reverse_twist_db, int threshold_dbm0)
{
    if (!rx || rx->kind != CTI_DIGITS_DTMF)
        return 0;
    if (twist_db >= 0)
        rx->dt.twist = powf(10.0f, (float)twist_db / 10.0f);
    if (reverse_twist_db >= 0)
        rx->dt.rtwist = powf(10.0f, (float)reverse_twist_db / 10.0f);
    if (threshold_dbm0 < 0 && threshold_dbm0 > -99)
        dt_set_threshold(&rx->dt, threshold_dbm0);
    return 0;
}

void cti_digit_rx_set_abcd(cti_digit_rx *rx, int enabled)
{
    if (rx && rx->kind == CTI_DIGITS_DTMF)
        rx->dt.abcd = enabled != 0;
}

int cti_digit_rx_abcd(const cti_digit_rx *rx)
{
    return rx && rx->kind == CTI_DIGITS_DTMF && rx->dt.abcd;
}

static void mf_feed(cti_digit_rx *rx, const int16_t *amp, int n)
{
    char buf[DIG_QUEUE + 1];
    int got;
    if (all_zero(amp, n)) {
        if (rx->mf_zeros >= MF_IDLE_ZEROS)
            return;             /* spandsp would see nothing new */
        rx->mf_zeros += n;
    } else {
        rx->mf_zeros = 0;
    }
    bell_mf_rx(rx->mf, amp, n);
    got = (int)bell_mf_rx_get(rx->mf, buf, DIG_QUEUE - rx->qn);
    memcpy(rx->q + rx->qn, buf, (size_t)got);
    rx->qn += got;
}

int cti_digit_rx_feed(cti_digit_rx *rx, const int16_t *amp, int n, char *out, int max)
{
    int got;
    if (!rx || !amp)
        return 0;
    while (n > 0) {
        int k = n > 400 ? 400 : n;      /* bounds the keys one call can find */
        if (rx->mf)
            mf_feed(rx, amp, k);
        else
            rx->qn += dt_feed(&rx->dt, amp, k, rx->q + rx->qn, DIG_QUEUE - rx->qn);
        amp += k;
        n -= k;
    }
    got = rx->qn < max ? rx->qn : (max > 0 ? max : 0);
    memcpy(out, rx->q, (size_t)got);
    memmove(rx->q, rx->q + got, (size_t)(rx->qn - got));
    rx->qn -= got;
    return got;
}

/* ---- call-progress detector -----------------------------------------------*/

#define CP_N 200                        /* 25 ms window */
#define CP_MS (CP_N * 1000 / RATE)
#define CP_FRACTION 0.6f                /* of the window energy in the tone */
#define CP_MIN_DBM0 -38                 /* per tone */
#define CP_TWIST 10.0f                  /* dB, dual tones */
#define CP_QUIET_DBM0 -42.0f
#define CP_QUIET_REL 12.0f              /* dB under the last tone */
#define CP_HIST 4
#define CP_EVQ 32

/* Window colours: quiet, other sound, or one of the tones' frequencies. */
enum { K_QUIET, K_OTHER, K_DIAL, K_RING, K_BUSY, K_450, K_SIT1, K_SIT2, K_SIT3,
       K_CNG, K_CED };

typedef struct {
    int colour;
    int bin1, bin2;                     /* bin2 < 0: one tone */
} colour_def;

/* Cadenced tones: on and off lengths accepted, in ms. */
typedef struct {
    int id, colour;
    int on_min, on_max, off_min, off_max;
} cadence;

typedef struct {
    int colour;
    int ms;
    int first;                          /* began when the detector did */
} cp_seg;

struct cti_cpt_rx {
    cti_toneset set;
    bank b;
    int nbins, pos;
    float cw[BANK], sw[BANK];
    const colour_def *colours;
    int ncolours;
    const cadence *cad;
    int ncad;
    int dial_colour, dial_ms;
    float min_p;                        /* minimum Goertzel power per tone */
    float tone_dbm0;                    /* level of the last tone window */
    /* segments */
    cp_seg cur, hist[CP_HIST];
    int pending, prev_ms, windows;
    /* the tone recognised */
    int tone;
    int ev[CP_EVQ], nev;
};

static const float na_bins[] = {350, 440, 480, 620, 913.8f, 1370.6f, 1776.7f, 1100, 2100};
static const colour_def na_colours[] = {
    {K_DIAL, 0, 1}, {K_RING, 1, 2}, {K_BUSY, 2, 3}, {K_SIT1, 4, -1},
    {K_SIT2, 5, -1}, {K_SIT3, 6, -1}, {K_CNG, 7, -1}, {K_CED, 8, -1}};
static const cadence na_cadences[] = {
    {CTI_TONE_RINGBACK, K_RING, 1500, 2600, 3000, 5000},
    {CTI_TONE_BUSY, K_BUSY, 375, 700, 375, 700},
    {CTI_TONE_REORDER, K_BUSY, 150, 350, 150, 350},
    {CTI_TONE_FAX_CNG, K_CNG, 350, 750, 2000, 4000}};

static const float cn_bins[] = {450, 913.8f, 1370.6f, 1776.7f, 1100, 2100};
static const colour_def cn_colours[] = {
    {K_450, 0, -1}, {K_SIT1, 1, -1}, {K_SIT2, 2, -1}, {K_SIT3, 3, -1},
    {K_CNG, 4, -1}, {K_CED, 5, -1}};
static const cadence cn_cadences[] = {
    {CTI_TONE_RINGBACK, K_450, 850, 1300, 3000, 5000},
    {CTI_TONE_BUSY, K_450, 250, 500, 250, 500},
    {CTI_TONE_REORDER, K_450, 550, 840, 550, 900},
    {CTI_TONE_FAX_CNG, K_CNG, 350, 750, 2000, 4000}};

#define NA_DIAL_MS 300
#define CN_DIAL_MS 1500                 /* longer than any 450 Hz cadence */
#define CED_MS 300
#define CNG_MS 400
#define SIT_MIN_MS 150
#define SIT_MAX_MS 500
#define SIT_MS 100                      /* of the third segment */

static void cp_clear(cti_cpt_rx *rx)
{
    bank_clear(&rx->b);
    rx->pos = 0;
    memset(&rx->cur, 0, sizeof rx->cur);
    memset(rx->hist, 0, sizeof rx->hist);
    rx->cur.colour = K_QUIET;
    rx->cur.first = 1;
    rx->pending = -1;
    rx->prev_ms = 0;
    rx->windows = 0;
    rx->tone = CTI_TONE_NONE;
    rx->tone_dbm0 = -99.0f;
    rx->nev = 0;
}

cti_cpt_rx *cti_cpt_rx_new(cti_toneset set)
{
    cti_cpt_rx *rx;
    const float *bins;
    float a;
    int k;
    if (set != CTI_TONESET_NA && set != CTI_TONESET_CN)
        return NULL;
    if (!(rx = calloc(1, sizeof *rx)))
        return NULL;
    rx->set = set;
    if (set == CTI_TONESET_NA) {
        bins = na_bins;
        rx->nbins = (int)(sizeof na_bins / sizeof na_bins[0]);
        rx->colours = na_colours;
        rx->ncolours = (int)(sizeof na_colours / sizeof na_colours[0]);
        rx->cad = na_cadences;
        rx->ncad = (int)(sizeof na_cadences / sizeof na_cadences[0]);
        rx->dial_colour = K_DIAL;
        rx->dial_ms = NA_DIAL_MS;
    } else {
        bins = cn_bins;
        rx->nbins = (int)(sizeof cn_bins / sizeof cn_bins[0]);
        rx->colours = cn_colours;
        rx->ncolours = (int)(sizeof cn_colours / sizeof cn_colours[0]);
        rx->cad = cn_cadences;
        rx->ncad = (int)(sizeof cn_cadences / sizeof cn_cadences[0]);
        rx->dial_colour = K_450;
        rx->dial_ms = CN_DIAL_MS;
    }
    bank_init(&rx->b, bins, rx->nbins);
    for (k = 0; k < rx->nbins; k++) {
        double w = 2.0 * M_PI * bins[k] / RATE;
        rx->cw[k] = (float)cos(w);
        rx->sw[k] = (float)sin(w);
    }
    a = dbm0_amp(CP_MIN_DBM0) * CP_N / 2.0f;
    rx->min_p = a * a;
    cp_clear(rx);
    return rx;
}

void cti_cpt_rx_free(cti_cpt_rx *rx)
{
    free(rx);
}

void cti_cpt_rx_reset(cti_cpt_rx *rx)
{
    if (rx)
        cp_clear(rx);
}

cti_tone_id cti_cpt_rx_current(const cti_cpt_rx *rx)
{
    return rx ? (cti_tone_id)rx->tone : CTI_TONE_NONE;
}

/* The colour of the window just finished. */
static int cp_colour(cti_cpt_rx *rx)
{
    float re[BANK], im[BANK], p[BANK], e = (float)rx->b.e, best = 0.0f, dbm0, quiet = -99.0f;
    int k, colour = K_OTHER, top = -1;
    dbm0 = ms_dbm0((double)e / CP_N);
    /* quiet: weak, or (in or after a tone) far below the tone */
    if (rx->cur.colour >= K_DIAL || rx->hist[0].colour >= K_DIAL)
        quiet = rx->tone_dbm0 - CP_QUIET_REL;
    if (dbm0 < CP_QUIET_DBM0 || dbm0 < quiet) {
        bank_take(&rx->b, rx->cw, rx->sw, re, im, rx->nbins);
        return K_QUIET;
    }
    bank_take(&rx->b, rx->cw, rx->sw, re, im, rx->nbins);
    for (k = 0; k < rx->nbins; k++)
        p[k] = re[k] * re[k] + im[k] * im[k];
    for (k = 0; k < rx->ncolours; k++) {
        const colour_def *c = &rx->colours[k];
        float pa = p[c->bin1], pb = c->bin2 >= 0 ? p[c->bin2] : 0.0f, sum = pa + pb;
        if (pa < rx->min_p || (c->bin2 >= 0 && pb < rx->min_p))
            continue;
        if (c->bin2 >= 0 && (pa > pb * powf(10.0f, CP_TWIST / 10.0f) ||
                             pb > pa * powf(10.0f, CP_TWIST / 10.0f)))
            continue;
        if (sum > best) {
            best = sum;
            top = k;
        }
    }
    if (top >= 0 && best >= CP_FRACTION * (CP_N / 2.0f) * e) {
        colour = rx->colours[top].colour;
        rx->tone_dbm0 = dbm0;
    }
    return colour;
}

/* Debounce: a new segment needs two windows of its colour in a row. */
static void cp_segment(cti_cpt_rx *rx, int colour)
{
    rx->prev_ms = rx->cur.ms;
    if (colour == rx->cur.colour) {
        rx->pending = -1;
        rx->cur.ms += CP_MS;
        return;
    }
    if (colour != rx->pending) {
        rx->pending = colour;
        rx->cur.ms += CP_MS;    /* for now, more of the same */
        return;
    }
    memmove(rx->hist + 1, rx->hist, (CP_HIST - 1) * sizeof rx->hist[0]);
    rx->hist[0] = rx->cur;
    rx->hist[0].ms -= CP_MS;
    rx->cur.colour = colour;
    rx->cur.ms = 2 * CP_MS;
    rx->cur.first = rx->windows <= 1;
    rx->prev_ms = 0;
    rx->pending = -1;
}

static void cp_event(cti_cpt_rx *rx, int ev)
{
    if (rx->nev < CP_EVQ)
        rx->ev[rx->nev++] = ev;
}

static int in_range(int ms, int lo, int hi)
{
    return ms >= lo && ms <= hi;
}

/* Has the current segment just reached ms? */
static int reached(const cti_cpt_rx *rx, int ms)
{
    return rx->prev_ms < ms && rx->cur.ms >= ms;
}

static const cadence *cad_of(const cti_cpt_rx *rx, int id)
{
    int i;
    for (i = 0; i < rx->ncad; i++)
        if (rx->cad[i].id == id)
            return &rx->cad[i];
    return NULL;
}

/* Does the tone recognised go on? */
static int cp_goes_on(const cti_cpt_rx *rx)
{
    const cp_seg *s = &rx->cur;
    const cadence *c;
    switch (rx->tone) {
    case CTI_TONE_DIAL:
        return s->colour == rx->dial_colour;
    case CTI_TONE_FAX_CED:
        return s->colour == K_CED;
    case CTI_TONE_SIT:
        return s->colour == K_SIT3 && s->ms <= SIT_MAX_MS;
    default:
        break;
    }
    if (!(c = cad_of(rx, rx->tone)))
        return 0;
    if (s->colour == c->colour) {
        if (s->ms > c->on_max)
            return 0;
        /* a new on period: the off period before it must have been long enough */
        return s->ms > 2 * CP_MS || rx->hist[0].colour != K_QUIET || rx->hist[0].ms >= c->off_min;
    }
    if (s->colour == K_QUIET) {
        if (s->ms > c->off_max)
            return 0;
        return s->ms > 2 * CP_MS || rx->hist[0].colour != c->colour || rx->hist[0].ms >= c->on_min;
    }
    return 0;
}

/* Does a cadenced tone start now? */
static int cp_cadence_starts(const cti_cpt_rx *rx, const cadence *c)
{
    const cp_seg *h = rx->hist;
    if (c->id == CTI_TONE_FAX_CNG)
        return rx->cur.colour == K_CNG && reached(rx, CNG_MS);
    if (rx->cur.colour != K_QUIET || h[0].colour != c->colour)
        return 0;
    if (c->id == CTI_TONE_RINGBACK) {
        /* one on period (NA: the first one heard may be cut short) */
        if (!reached(rx, 100))
            return 0;
        if (in_range(h[0].ms, c->on_min, c->on_max))
            return 1;
        return rx->set == CTI_TONESET_NA && h[0].first && h[0].ms <= c->on_max;
    }
    /* busy and reorder: on, off, on */
    return reached(rx, 2 * CP_MS) && in_range(h[0].ms, c->on_min, c->on_max) &&
           h[1].colour == K_QUIET && in_range(h[1].ms, c->off_min, c->off_max) &&
           h[2].colour == c->colour && in_range(h[2].ms, c->on_min, c->on_max);
}

static int cp_starts(const cti_cpt_rx *rx)
{
    const cp_seg *s = &rx->cur, *h = rx->hist;
    int i;
    if (s->colour == rx->dial_colour && reached(rx, rx->dial_ms))
        return CTI_TONE_DIAL;
    if (s->colour == K_CED && reached(rx, CED_MS))
        return CTI_TONE_FAX_CED;
    if (s->colour == K_SIT3 && reached(rx, SIT_MS) && h[0].colour == K_SIT2 &&
        in_range(h[0].ms, SIT_MIN_MS, SIT_MAX_MS) && h[1].colour == K_SIT1 &&
        in_range(h[1].ms, SIT_MIN_MS, SIT_MAX_MS))
        return CTI_TONE_SIT;
    for (i = 0; i < rx->ncad; i++)
        if (cp_cadence_starts(rx, &rx->cad[i]))
            return rx->cad[i].id;
    return CTI_TONE_NONE;
}

static void cp_window(cti_cpt_rx *rx)
{
    int id;
    cp_segment(rx, cp_colour(rx));
    rx->windows++;
    if (rx->tone && !cp_goes_on(rx)) {
        cp_event(rx, -rx->tone);
        rx->tone = CTI_TONE_NONE;
    }
    if ((id = cp_starts(rx)) != CTI_TONE_NONE && id != rx->tone) {
        if (rx->tone)
            cp_event(rx, -rx->tone);
        rx->tone = id;
        cp_event(rx, id);
    }
}

int cti_cpt_rx_feed(cti_cpt_rx *rx, const int16_t *amp, int n, int *events, int max)
{
    int zero, got;
    if (!rx || !amp)
        return 0;
    zero = all_zero(amp, n);
    while (n > 0) {
        int k = CP_N - rx->pos;
        if (k > n)
            k = n;
        if (!(zero && rx->b.e == 0))
            bank_run(&rx->b, amp, k);
        amp += k;
        n -= k;
        if ((rx->pos += k) < CP_N)
            break;
        rx->pos = 0;
        cp_window(rx);
    }
    got = rx->nev < max ? rx->nev : (max > 0 ? max : 0);
    memcpy(events, rx->ev, (size_t)got * sizeof *events);
    memmove(rx->ev, rx->ev + got, (size_t)(rx->nev - got) * sizeof *rx->ev);
    rx->nev -= got;
    return got;
}

/* ---- caller ID --------------------------------------------------------------
 *
 * Bellcore messages: type, length, body, checksum (spandsp adds the length
 * and checksum).  SDMF (0x04): 8 digits MMDDhhmm then the number, or 'O' /
 * 'P' in its place.  MDMF (0x80): parameters (type, length, value): 1 date
 * and time, 2 number, 4 reason the number is absent, 7 name, 8 reason the
 * name is absent. */

#define CID_SDMF 0x04
#define CID_MDMF 0x80

struct cti_cid_tx {
    adsi_tx_state_t *adsi;
    int done;
};

static int cid_param(uint8_t *msg, int len, uint8_t type, const char *val, int vlen)
{
    msg[len++] = type;
    msg[len++] = (uint8_t)vlen;
    memcpy(msg + len, val, (size_t)vlen);
    return len + vlen;
}

static int is_datetime(const char *s)
{
    int i;
    for (i = 0; i < 8; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return s[8] == '\0';
}

static size_t bounded_len(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n])
        n++;
    return n;
}

/* The message bytes for a caller ID, without the length and checksum. */
static int cid_build(const cti_callerid *cid, uint8_t *msg)
{
    int nlen = (int)bounded_len(cid->number, sizeof cid->number - 1);
    int alen = (int)bounded_len(cid->name, sizeof cid->name - 1);
    int dt = is_datetime(cid->datetime), len = 2;
    char r;
    if (!alen && !cid->number_absent && !cid->name_absent && dt) {
        msg[0] = CID_SDMF;
        memcpy(msg + len, cid->datetime, 8);
        len += 8;
        memcpy(msg + len, cid->number, (size_t)nlen);
        return len + nlen;
    }
    msg[0] = CID_MDMF;
    if (dt)
        len = cid_param(msg, len, 1, cid->datetime, 8);
    if (nlen)
        len = cid_param(msg, len, 2, cid->number, nlen);
    if (cid->number_absent && !nlen) {
        r = cid->number_absent;
        len = cid_param(msg, len, 4, &r, 1);
    }
    if (alen)
        len = cid_param(msg, len, 7, cid->name, alen);
    if (cid->name_absent && !alen) {
        r = cid->name_absent;
        len = cid_param(msg, len, 8, &r, 1);
    }
    return len;
}

cti_cid_tx *cti_cid_tx_new(const cti_callerid *cid)
{
    uint8_t msg[256];
    cti_cid_tx *tx;
    int len;
    if (!cid || !(tx = calloc(1, sizeof *tx)))
        return NULL;
    if (!(tx->adsi = adsi_tx_init(NULL, ADSI_STANDARD_CLASS))) {
        free(tx);
        return NULL;
    }
    /* 300 bits of 0101 (30 bytes of 0x55), 180 marks (150 ms), 1 stop bit */
    adsi_tx_set_preamble(tx->adsi, 300, 180, 5, 1);
    len = cid_build(cid, msg);
    msg[1] = (uint8_t)(len - 2);
    if (adsi_tx_put_message(tx->adsi, msg, len) <= 0) {
        cti_cid_tx_free(tx);
        return NULL;
    }
    return tx;
}

void cti_cid_tx_free(cti_cid_tx *tx)
{
    if (!tx)
        return;
    if (tx->adsi)
        adsi_tx_free(tx->adsi);
    free(tx);
}

int cti_cid_tx_gen(cti_cid_tx *tx, int16_t *out, int n)
{
    int got = 0;
    if (tx && !tx->done) {
        got = adsi_tx(tx->adsi, out, n);
        if (got < 0)
            got = 0;
        if (got < n)
            tx->done = 1;
    }
    if (got < n)
        memset(out + got, 0, (size_t)(n - got) * sizeof *out);
    return tx && !tx->done;
}

#define CID_IDLE_ZEROS 320      /* enough for the FSK receiver to settle */

struct cti_cid_rx {
    adsi_rx_state_t *adsi;
    long zeros;
    int ready;
    cti_callerid got;
};

static void copy_field(char *dst, size_t size, const uint8_t *src, int len)
{
    size_t n = len < 0 ? 0 : (size_t)len;
    if (n > size - 1)
        n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static char reason(const uint8_t *body, int len)
{
    return len >= 1 && (body[0] == 'O' || body[0] == 'P') ? (char)body[0] : 'O';
}

static void cid_parse_sdmf(cti_callerid *c, const uint8_t *body, int len)
{
    if (len < 8)
        return;
    copy_field(c->datetime, sizeof c->datetime, body, 8);
    body += 8;
    len -= 8;
    if (len == 1 && (body[0] == 'O' || body[0] == 'P'))
        c->number_absent = (char)body[0];
    else
        copy_field(c->number, sizeof c->number, body, len);
}

static void cid_parse_param(cti_callerid *c, uint8_t type, const uint8_t *body, int len)
{
    switch (type) {
    case 1:
        copy_field(c->datetime, sizeof c->datetime, body, len);
        break;
    case 2:
        copy_field(c->number, sizeof c->number, body, len);
        break;
    case 4:
        c->number_absent = reason(body, len);
        break;
    case 7:
        copy_field(c->name, sizeof c->name, body, len);
        break;
    case 8:
        c->name_absent = reason(body, len);
        break;
    default:
        break;
    }
}

/* spandsp hands over a message whose checksum was right. */
static void cid_put_msg(void *user, const uint8_t *msg, int len)
{
    cti_cid_rx *rx = user;
    cti_callerid c;
    const uint8_t *body;
    uint8_t type;
    int pos, flen;
    memset(&c, 0, sizeof c);
    pos = adsi_next_field(rx->adsi, msg, len, 0, &type, &body, &flen);
    if (pos < 0 || (type != CID_SDMF && type != CID_MDMF))
        return;
    c.mdmf = type == CID_MDMF;
    while ((pos = adsi_next_field(rx->adsi, msg, len, pos, &type, &body, &flen)) > 0) {
        if (c.mdmf)
            cid_parse_param(&c, type, body, flen);
        else
            cid_parse_sdmf(&c, body, flen);
    }
    if (pos == -2)
        return;                 /* a parameter runs past the end */
    rx->got = c;
    rx->ready = 1;
}

cti_cid_rx *cti_cid_rx_new(void)
{
    cti_cid_rx *rx = calloc(1, sizeof *rx);
    if (!rx)
        return NULL;
    if (!(rx->adsi = adsi_rx_init(NULL, ADSI_STANDARD_CLASS, cid_put_msg, rx))) {
        free(rx);
        return NULL;
    }
    return rx;
}

void cti_cid_rx_free(cti_cid_rx *rx)
{
    if (!rx)
        return;
    adsi_rx_free(rx->adsi);
    free(rx);
}

void cti_cid_rx_reset(cti_cid_rx *rx)
{
    if (!rx)
        return;
    adsi_rx_init(rx->adsi, ADSI_STANDARD_CLASS, cid_put_msg, rx);
    rx->zeros = 0;
    rx->ready = 0;
}

int cti_cid_rx_feed(cti_cid_rx *rx, const int16_t *amp, int n, cti_callerid *out)
{
    if (!rx || !amp || n <= 0)
        return 0;
    if (all_zero(amp, n)) {
        if (rx->zeros >= CID_IDLE_ZEROS)
            return 0;           /* the receiver has settled: nothing to see */
        rx->zeros += n;
    } else {
        rx->zeros = 0;
    }
    adsi_rx(rx->adsi, amp, n);
    if (!rx->ready)
        return 0;
    rx->ready = 0;
    if (out)
        *out = rx->got;
    return 1;
}

/* ---- MFC/R2 register signals ------------------------------------------- */

/* spandsp's alphabet: signal n is the n-th character. */
static const char R2_SIGNALS[] = "1234567890BCDEF";

struct cti_r2mf {
    r2_mf_tx_state_t *tx;
    r2_mf_rx_state_t *rx;
    int sending;
};

cti_r2mf *cti_r2mf_new(int send_forward)
{
    cti_r2mf *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->tx = r2_mf_tx_init(NULL, send_forward);
    m->rx = r2_mf_rx_init(NULL, !send_forward, NULL, NULL);
    if (!m->tx || !m->rx) {
        cti_r2mf_free(m);
        return NULL;
    }
    return m;
}

void cti_r2mf_free(cti_r2mf *m)
{
    if (!m)
        return;
    if (m->tx)
        r2_mf_tx_free(m->tx);
    if (m->rx)
        r2_mf_rx_free(m->rx);
    free(m);
}

void cti_r2mf_send(cti_r2mf *m, int signal)
{
    m->sending = signal >= 1 && signal <= 15 ? signal : 0;
    r2_mf_tx_put(m->tx, m->sending ? R2_SIGNALS[m->sending - 1] : 0);
}

int cti_r2mf_sending(const cti_r2mf *m)
{
    return m->sending;
}

void cti_r2mf_gen(cti_r2mf *m, int16_t *out, int n)
{
    int made = m->sending ? r2_mf_tx(m->tx, out, n) : 0;
    if (made < n)
        memset(out + made, 0, (size_t)(n - made) * sizeof *out);
}

int cti_r2mf_feed(cti_r2mf *m, const int16_t *amp, int n)
{
    const char *at;
    int code;
    r2_mf_rx(m->rx, amp, n);
    code = r2_mf_rx_get(m->rx);
    at = code > 0 ? strchr(R2_SIGNALS, code) : NULL;
    return at ? (int)(at - R2_SIGNALS) + 1 : 0;
}
