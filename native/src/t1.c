/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * t1.c - T1 and E1 spans, their timeslots, signalling bits and alarms.
 *
 * Each timeslot carries audio both ways on the bus and four signalling
 * bits each way (ABCD; on T1 only A and B matter for the signallings
 * here):
 *
 *   E&M wink start      on-hook 0000, off-hook 1111, both directions.
 *                       Inbound: the far end seizes (1111), we wink (150 ms
 *                       of 1111), it sends the address in-band (DTMF or MF,
 *                       ANI and DNIS: see em_address_digits), we answer by
 *                       going off-hook.  Outbound: the mirror image; the far
 *                       end's register takes our number in DTMF or MF
 *                       (simfar_trunk_register), then answers with 1111.
 *   FXS loop start      our side is the FXS: on-hook 0101, off-hook 1111;
 *                       the exchange (FXO) sends 0101, and 0000 while ringing
 *                       (2 s on / 4 s off; 1 s / 4 s for the cn tone set).
 *
 * Only A and B are carried (an SF/D4 superframe): C and D repeat them, as
 * DAHDI sends two-state signalling on ESF, so the four bits always read as
 * in lines.md's table whatever the application writes to C and D.
 *
 * E1 CAS (lines-real.md 4.5): the four bits of each timeslot travel in
 * timeslot 16, all four carried; both ends start at 1001, the idle of
 * MFC/R2 (Q.421: A and B the line signals, C = 0 and D = 1 spare).  The
 * MFC/R2 line signalling runs outside the board (OpenR2, cti's China
 * state machines): the far end's bits are set by whoever plays it
 * (simfar_far_bits), and the register signals are tones in the timeslot
 * that r2mf.c sends and hears at both ends.  0000 is refused on our side: in the
 * first half of a timeslot-16 byte it would pass for the multiframe
 * alignment signal.  The bits get through only while both ends run CAS
 * in timeslot 16 (t1maint_cas_aligned).  ISDN spans (T1 PRI, E1 CCS)
 * carry no bits on their B-channels: their calls are signalled on the
 * D-channel (dchannel.c).
 *
 * Bit changes reach the application as DTEV_SIG events (DTMM_ masks) when
 * enabled; a far-end pulse of 100-350 ms on A is also reported as a wink.
 * Alarms are raised and cleared on the span device as DTEV_T1ERRC.  During
 * LOS, RED, OOF, AIS (blue) or RLOS the span is down: the timeslots carry
 * idle code both ways and the received bits are held at their last value;
 * bits changed meanwhile at either end are seen when the span recovers.  A
 * yellow alarm alone leaves the span up.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t1.h"

#define WINK_MS 150
#define WINK_MIN_MS 100
#define WINK_MAX_MS 350
#define WINK_WAIT_MS 5000      /* the far end gives up waiting for our wink */

#define BITS_ONHOOK_EM  0x0
#define BITS_OFFHOOK    0xF

/* A and B as written in lines.md order (ABCD): 0101 means A=0 B=1 C=0 D=1. */
#define ABCD(a, b, c, e) ((a) | (b) << 1 | (c) << 2 | (e) << 3)

/* The bits a timeslot starts with, both ways. */
static unsigned char idle_bits(int signalling)
{
    switch (signalling) {
    case SIMFAR_SIG_EM_WINK: return ABCD(0, 0, 0, 0);
    case SIMFAR_SIG_LOOPSTART: return ABCD(0, 1, 0, 1);
    case SIMFAR_SIG_CAS: return ABCD(1, 0, 0, 1);
    default: return 0;                       /* ISDN B-channels carry none */
    }
}

int span_has_bits(const span *s)
{
    return !span_has_dchannel(s->signalling);
}

int span_has_dchannel(int signalling)
{
    return signalling == SIMFAR_SIG_PRI || signalling == SIMFAR_SIG_CCS;
}

int span_line_timeslot(const span *s, int k)
{
    return s->e1 && k + 1 >= E1_CAS_TS ? k + 2 : k + 1;
}

struct span *span_new(device *d, int e1, int signalling, int tones)
{
    span *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->dev = d;
    s->e1 = e1;
    s->signalling = signalling;
    s->tones = tones;
    s->nts = e1 ? SPAN_MAX_TS : signalling == SIMFAR_SIG_PRI ? DTV_NUMTS - 1 : DTV_NUMTS;
    s->cas_aligned = signalling == SIMFAR_SIG_CAS;
    s->maint = t1maint_new(s);
    if (!s->maint) {
        free(s);
        return NULL;
    }
    return s;
}

void span_free(struct span *s)
{
    t1maint_free(s->maint);
    free(s);
}

static void set_receivers(tslot *t);

struct tslot *tslot_new(device *d, device *spandev, int signalling, int tones)
{
    tslot *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->dev = d;
    t->spandev = spandev;
    t->signalling = signalling;
    t->tx = t->rx = t->far_tx = t->seen = idle_bits(signalling);
    if (spandev && spandev->span) {
        span *s = spandev->span;
        int k;
        for (k = 0; k < s->nts && s->ts[k]; k++)
            ;
        if (k < s->nts)
            s->ts[k] = d;
        t->index = k;
    }
    farend_init(&t->fe, SIMFAR_EP_T1, d, tones);
    t->fe.alaw = spandev && spandev->span && spandev->span->e1;
    t->dtmf_rx = t->fe.drx;
    t->mf_rx = t->fe.mfrx;
    set_receivers(t);
    return t;
}

void tslot_free(struct tslot *t)
{
    t->fe.drx = t->dtmf_rx;
    t->fe.mfrx = t->mf_rx;
    farend_free(&t->fe);
    r2mf_free(t->r2);
    r2mf_free(t->far_r2);
    free(t);
}

farend *tslot_farend(struct tslot *t) { return &t->fe; }

/* A yellow alarm (RAI) alone leaves the span up: it tells us the far end
 * does not see us.  Nor does RCL (a timing loop): the signal still passes;
 * nor a multiframe not found (the frames are). */
int span_is_down(const span *s)
{
    unsigned a = s->alarms;
    return (a & (1u << SIMFAR_AL_LOS | 1u << SIMFAR_AL_RED | 1u << SIMFAR_AL_RLOS |
                 1u << SIMFAR_AL_OOF | 1u << SIMFAR_AL_BLUE)) != 0;
}

static int span_down(const tslot *t) { return span_is_down(t->spandev->span); }

/* The bits cannot pass: the span is down, or (E1) both ends do not run
 * CAS in timeslot 16.  The received bits are held meanwhile. */
static int bits_held(const tslot *t)
{
    const span *s = t->spandev->span;
    return span_is_down(s) || (s->e1 && !t1maint_cas_aligned(s->maint));
}

static void span_back_up(span *s);
static void far_end_sees(tslot *t, int a_on_ms);

/* The far end's digit receivers.  While it collects the number of a call
 * we place (SEIZED) only its register's kind listens: with both, DTMF "2"
 * (697 + 1336 Hz) also passes for MF "4" (700 + 1300 Hz).  Otherwise both
 * listen. */
static void set_receivers(tslot *t)
{
    /* While it takes the number of our call (seized), the far end listens
     * with the register's receiver only; otherwise with DTMF, and MF too
     * only on a trunk whose register is MF: an MF receiver always on takes
     * DTMF for MF (DTMF 2, 697+1336 Hz, is close enough to MF 4, 700+1300,
     * for spandsp's bell_mf_rx), and a caller would "hear" digits never sent. */
    farend *fe = &t->fe;
    int reg = fe->state == SIMFAR_ST_SEIZED;
    cti_digit_rx *dtmf = reg && t->register_mf ? NULL : t->dtmf_rx;
    cti_digit_rx *mf = t->register_mf ? t->mf_rx : NULL;
    if (dtmf && fe->drx != dtmf)
        cti_digit_rx_reset(dtmf);
    if (mf && fe->mfrx != mf)
        cti_digit_rx_reset(mf);
    fe->drx = dtmf;
    fe->mfrx = mf;
    t->receivers_for = fe->state;
}

/* Once per tick: the receivers follow the far end's state (set only when
 * the state changed, so an idle timeslot costs nothing here). */
static void follow_receivers(tslot *t)
{
    if (t->fe.state != t->receivers_for)
        set_receivers(t);
}

int simfar_trunk_register(int ep, int mf)
{
    device *d;
    int r = 0;
    sim_lock();
    d = g_sim ? sim_dev_any(ep) : NULL;
    if (!d || d->kind != DEV_TS || d->ts->spandev->span->e1) {
        r = sim_fail("%d is not the endpoint of a T1 timeslot", ep);
    } else {
        d->ts->register_mf = !!mf;
        set_receivers(d->ts);
    }
    sim_unlock();
    return r;
}

/* ---- alarms -------------------------------------------------------------*/

/* How a span reports an alarm condition: its code (DTT1_ on T1, DTE1_ on
 * E1; -1: the span has no such alarm) and the mask that enables it (0:
 * always reported). */
typedef struct {
    const char *name;
    int t1_code;
    unsigned short t1_enable;
    int e1_code;
    unsigned short e1_enable;
} alarm_report;

static const alarm_report ALARM_REPORTS[SIMFAR_AL_COUNT] = {
    [SIMFAR_AL_OOF] = {"OOF", DTT1_OOF, DTEC_OOF, DTE1_FSERR, DEEC_FSERR},
    [SIMFAR_AL_LOS] = {"LOS", DTT1_LOS, DTEC_LOS, DTE1_LOS, DEEC_LOS},
    [SIMFAR_AL_RED] = {"RED", DTT1_RED, DTEC_RED, DTE1_RED, DEEC_RED},
    [SIMFAR_AL_YELLOW] = {"YELLOW", DTT1_RYEL, DTEC_RYEL, DTE1_RRA, DEEC_RRA},
    [SIMFAR_AL_BLUE] = {"BLUE", DTT1_RBL, DTEC_RBL, DTE1_RUA1, DEEC_RUA1},
    [SIMFAR_AL_RCL] = {"RCL", DTT1_RCL, 0, -1, 0},
    [SIMFAR_AL_RLOS] = {"RLOS", DTT1_RLOS, DTEC_RLOS, DTE1_RLOS, DEEC_RLOS},
    [SIMFAR_AL_LMFA] = {"LMFA", -1, 0, DTE1_MFSERR, DEEC_MFSERR},
    [SIMFAR_AL_TS16_YELLOW] = {"TS16_YELLOW", -1, 0, DTE1_RDMA, DEEC_RDMA},
};

/* The code of alarm `al` on span s, or -1 if it has no such alarm. */
static int alarm_code(const span *s, int al)
{
    return s->e1 ? ALARM_REPORTS[al].e1_code : ALARM_REPORTS[al].t1_code;
}

/* The span's alarms become `want` (1 << SIMFAR_AL_x): each one raised or
 * cleared is told to the application with its span's code, if it asked
 * for it. */
static void span_set_alarms(device *d, unsigned want)
{
    span *s = d->span;
    int was_down = span_is_down(s), al;
    for (al = 0; al < SIMFAR_AL_COUNT; al++) {
        const alarm_report *r = &ALARM_REPORTS[al];
        unsigned bit = 1u << al;
        unsigned short en = s->e1 ? r->e1_enable : r->t1_enable;
        int on = (want & bit) != 0;
        if (on == ((s->alarms & bit) != 0))
            continue;
        s->alarms ^= bit;
        if (d->open && (en == 0 || (s->errmask & en))) {
            int code = alarm_code(s, al);
            unsigned short data = (unsigned short)(on ? code : code + DTT1_CLEARED);
            sim_post(d, DTEV_T1ERRC, &data, sizeof data, 0);
        }
    }
    if (was_down && !span_is_down(s))
        span_back_up(s);
}

/* An alarm raised or cleared by hand (simfar_span_alarm); the line's own
 * (t1maint.c) stand beside it: the span reports both. */
int span_alarm(device *d, int al, int on)
{
    span *s = d->span;
    unsigned bit;
    if (al < 0 || al >= SIMFAR_AL_COUNT)
        return sim_fail("%d is not a SIMFAR_AL_ alarm", al);
    if (alarm_code(s, al) < 0)
        return sim_fail("%s is %s: it has no %s alarm", d->name, s->e1 ? "an E1" : "a T1",
                        ALARM_REPORTS[al].name);
    bit = 1u << al;
    if (!!(s->forced & bit) == !!on)
        return 0;
    if (on && al == SIMFAR_AL_OOF)
        t1maint_count_oof(s->maint);
    s->forced ^= bit;
    span_set_alarms(d, s->forced | s->line_alarms);
    return 0;
}

/* Once a tick while the line needs it (t1maint_idle says when not). */
void span_tick(device *d)
{
    span *s = d->span;
    int was_aligned = s->cas_aligned;
    s->line_alarms = t1maint_tick(s->maint);
    span_set_alarms(d, s->forced | s->line_alarms);
    s->cas_aligned = s->e1 && t1maint_cas_aligned(s->maint);
    if (s->cas_aligned && !was_aligned)
        span_back_up(s);
}

int span_idle(const struct span *s)
{
    return t1maint_idle(s->maint);
}

/* Span alarms as the vendor API reports them: bits 1 << code. */
static long alarm_codes(const span *s)
{
    long bits = 0;
    int al;
    for (al = 0; al < SIMFAR_AL_COUNT; al++)
        if (s->alarms & (1u << al))
            bits |= 1L << alarm_code(s, al);
    return bits;
}

int simfar_span_alarm(const char *name, int code, int on)
{
    device *d;
    int r;
    sim_lock();
    d = sim_find(name);
    if (!d || d->kind != DEV_SPAN)
        r = sim_fail("no span named '%s'", name ? name : "(null)");
    else
        r = span_alarm(d, code, on);
    sim_unlock();
    return r;
}

/* ---- signalling ---------------------------------------------------------*/

/* The DTMM_ masks of bit k (A = 0 ... D = 3) going on and going off. */
static const unsigned short BIT_ON[4] = {DTMM_AON, DTMM_BON, DTMM_CON, DTMM_DON};
static const unsigned short BIT_OFF[4] = {DTMM_AOFF, DTMM_BOFF, DTMM_COFF, DTMM_DOFF};

/* The far end's bits reach us (unless they are held: then later).  The
 * application hears of the changes it asked for: A and B, and on E1 C and
 * D too (on T1 they only repeat A and B). */
static void deliver_far_bits(tslot *t)
{
    unsigned char old = t->rx, bits = t->far_tx;
    int nbits = t->spandev->span->e1 ? 4 : 2, k;
    unsigned short out = 0;
    if (old == bits)
        return;
    t->rx = bits;
    for (k = 0; k < nbits; k++) {
        unsigned short mask = (bits >> k & 1) ? BIT_ON[k] : BIT_OFF[k];
        if (((old ^ bits) >> k & 1) && (t->sigmask & mask) == mask)
            out |= mask;
    }
    if ((old ^ bits) & 0x1) {
        if (!(bits & 0x1) && t->rx_a_ms >= WINK_MIN_MS && t->rx_a_ms <= WINK_MAX_MS &&
            (t->sigmask & DTMM_WINK))
            out |= DTMM_WINK;
        t->rx_a_ms = 0;
    }
    if (out && t->dev->open)
        sim_post(t->dev, DTEV_SIG, &out, sizeof out, 0);
}

static void far_bits(tslot *t, unsigned char bits)
{
    t->far_tx = bits;
    if (!bits_held(t))
        deliver_far_bits(t);
}

/* An ANI or DNIS the far end can send in-band: digits only (KP/ST and the
 * DTMF '*' separators are added around them), and it must fit. */
static int address_ok(const char *s, size_t max)
{
    if (!s)
        return 1;
    if (strlen(s) >= max)
        return 0;
    return strspn(s, "0123456789") == strlen(s);
}

int tslot_fe_call(struct tslot *t, const char *ani, const char *dnis, int mf)
{
    farend *fe = &t->fe;
    if (t->signalling != SIMFAR_SIG_EM_WINK && t->signalling != SIMFAR_SIG_LOOPSTART)
        return sim_fail("%s: the simulator's far end places no call on %s timeslots yet "
                        "(their signalling is not there: MFC/R2 on CAS, ISDN on the "
                        "D-channel)", t->dev->name,
                        t->signalling == SIMFAR_SIG_CAS ? "E1 CAS" : "ISDN");
    if (span_down(t))
        return sim_fail("%s: span %s is in alarm", t->dev->name, t->spandev->name);
    if (fe->state != SIMFAR_ST_IDLE || (t->tx & 0x1))
        return sim_fail("%s is busy: cannot seize it", t->dev->name);
    if (t->signalling == SIMFAR_SIG_EM_WINK &&
        (!address_ok(ani, sizeof fe->ani) || !address_ok(dnis, sizeof fe->dnis)))
        return sim_fail("%s: ANI '%s' / DNIS '%s': up to %zu digits 0-9 each", t->dev->name,
                        ani ? ani : "", dnis ? dnis : "", sizeof fe->dnis - 1);
    snprintf(fe->ani, sizeof fe->ani, "%s", ani ? ani : "");
    snprintf(fe->dnis, sizeof fe->dnis, "%s", dnis ? dnis : "");
    fe->mf_dnis = mf;
    farend_set_state(fe, SIMFAR_ST_RINGING);
    if (t->signalling == SIMFAR_SIG_EM_WINK)
        far_bits(t, BITS_OFFHOOK);
    return 0;
}

int tslot_fe_abandon(struct tslot *t)
{
    farend *fe = &t->fe;
    if (fe->state != SIMFAR_ST_RINGING)
        return sim_fail("%s has no unanswered call to abandon", t->dev->name);
    farend_stop_sending(fe);
    farend_set_state(fe, SIMFAR_ST_IDLE);
    far_bits(t, idle_bits(t->signalling));
    /* still off-hook after a glare the far end gave up: now it is our
     * seizure that it sees */
    t->seen = idle_bits(t->signalling);
    if (!span_down(t))
        far_end_sees(t, 0);
    return 0;
}

/* The far end hangs up: E&M with its bits (`method` does not apply);
 * loop start, which has no disconnect bit, with busy tone, or into
 * silence (SIMFAR_DISC_SILENCE: nothing at all on the timeslot). */
int tslot_fe_hangup(struct tslot *t, int method)
{
    farend *fe = &t->fe;
    if (fe->state != SIMFAR_ST_CONNECTED && fe->state != SIMFAR_ST_SEIZED)
        return sim_fail("%s has no call to hang up", t->dev->name);
    farend_stop_sending(fe);
    farend_set_state(fe, SIMFAR_ST_CLEARING);
    set_receivers(t);
    if (t->signalling == SIMFAR_SIG_EM_WINK)
        far_bits(t, BITS_ONHOOK_EM);
    else if (method != SIMFAR_DISC_SILENCE)
        farend_tone(fe, CTI_TONE_BUSY, -13);
    return 0;
}

/* The bits the line carries of what we send: on T1 only A and B (C and D
 * repeat them, see the top of the file), on E1 all four. */
static unsigned char carried_bits(const tslot *t, unsigned char bits)
{
    if (t->spandev->span->e1)
        return bits;
    return (unsigned char)((bits & 0x3) | (bits & 0x3) << 2);
}

/* Our bits changed (application or wink): what does the far end make of it? */
static void our_bits(tslot *t, unsigned char bits)
{
    unsigned char old = t->tx;
    int a_on_ms = (int)t->tx_a_ms;
    bits = carried_bits(t, bits);
    if (old == bits)
        return;
    t->tx = bits;
    if ((old ^ bits) & 0x1)
        t->tx_a_ms = 0;
    if (!bits_held(t))
        far_end_sees(t, a_on_ms);
}

void tslot_send_bits(tslot *t, unsigned char bits)
{
    sim_wake(t->dev);
    our_bits(t, bits);
}

/* Our bits reach the far end: what does it make of them (an E1 CAS far
 * end only hears them: simfar_far_heard_bits)?  a_on_ms: how long our A
 * bit held its previous value (a wink is 100-350 ms of off-hook). */
static void far_end_sees(tslot *t, int a_on_ms)
{
    farend *fe = &t->fe;
    unsigned char bits = t->tx;
    if (t->seen == bits)
        return;
    t->seen = bits;
    r2mf_far_sees_bits(t);
    if (t->signalling == SIMFAR_SIG_EM_WINK) {
        int a = bits & 0x1;
        if (fe->state == SIMFAR_ST_RINGING && fe->phase == 0 && !a &&
            a_on_ms >= WINK_MIN_MS && a_on_ms <= WINK_MAX_MS) {
            fe->phase = 1;                 /* our wink: send the DNIS */
            fe->phase_ms = 0;
        } else if (fe->state == SIMFAR_ST_IDLE && a) {
            farend_set_state(fe, SIMFAR_ST_SEIZED);   /* we seize: it will wink */
            fe->phase = -1;
        } else if (!a && fe->state != SIMFAR_ST_IDLE && fe->state != SIMFAR_ST_RINGING) {
            farend_stop_sending(fe);
            farend_set_state(fe, SIMFAR_ST_IDLE);
            far_bits(t, BITS_ONHOOK_EM);
        }
    } else if (t->signalling == SIMFAR_SIG_LOOPSTART) {
        int off = (bits & 0x3) == 0x3;
        if (off && fe->state == SIMFAR_ST_RINGING) {
            farend_stop_sending(fe);
            farend_set_state(fe, SIMFAR_ST_CONNECTED);
            far_bits(t, idle_bits(t->signalling));
        } else if (off && fe->state == SIMFAR_ST_IDLE) {
            farend_set_state(fe, SIMFAR_ST_SEIZED);
            if (fe->outbound != SIMFAR_OUT_NODIALTONE)
                farend_tone(fe, CTI_TONE_DIAL, -13);
        } else if (!off && fe->state != SIMFAR_ST_IDLE && fe->state != SIMFAR_ST_RINGING) {
            farend_stop_sending(fe);
            farend_set_state(fe, SIMFAR_ST_IDLE);
        }
    }
    set_receivers(t);
}

/* The span came out of alarm, or its E1 ends both run CAS again: both
 * ends see the bits held meanwhile (a sleeping timeslot wakes first, so its
 * clocks are up to date). */
static void span_back_up(span *s)
{
    int k;
    for (k = 0; k < s->nts; k++) {
        tslot *t = s->ts[k]->ts;
        if (bits_held(t))
            return;
        sim_wake(s->ts[k]);
        deliver_far_bits(t);
        far_end_sees(t, 0);
    }
}

/* What the far end sends after our wink (KP is '*' and ST is '#' in the MF
 * generator's alphabet, as in spandsp's):
 *
 *   with an ANI (feature group D)   MF    KP ANI ST KP DNIS ST  "*ANI#*DNIS#"
 *                                   DTMF  "*ANI*DNIS*"
 *   without                         MF    KP DNIS ST            "*DNIS#"
 *                                   DTMF  "DNIS"
 */
static void em_address_digits(const farend *fe, char *out, size_t max)
{
    if (fe->ani[0] && fe->mf_dnis)
        snprintf(out, max, "*%s#*%s#", fe->ani, fe->dnis);
    else if (fe->ani[0])
        snprintf(out, max, "*%s*%s*", fe->ani, fe->dnis);
    else if (fe->mf_dnis)
        snprintf(out, max, "*%s#", fe->dnis);
    else
        snprintf(out, max, "%s", fe->dnis);
}

static void em_tick(tslot *t)
{
    farend *fe = &t->fe;
    if (fe->state == SIMFAR_ST_RINGING) {
        if (fe->phase == 0 && fe->state_ms >= WINK_WAIT_MS) {
            tslot_fe_abandon(t);           /* no wink: the far end gives up */
        } else if (fe->phase == 1 && fe->phase_ms >= 100) {
            char digits[2 * sizeof fe->ani + 8];
            em_address_digits(fe, digits, sizeof digits);
            if (digits[0])
                farend_put_digits(fe, fe->mf_dnis, digits, 70, 70, -10);
            fe->phase = 2;
            fe->phase_ms = 0;
        } else if (fe->phase == 2 && (t->tx & 0x1) && t->tx_a_ms > WINK_MAX_MS) {
            farend_set_state(fe, SIMFAR_ST_CONNECTED);    /* we answered */
        }
    } else if (fe->state == SIMFAR_ST_SEIZED) {
        if (fe->phase == -1 && fe->phase_ms >= 200) {
            far_bits(t, BITS_OFFHOOK);      /* wink back */
            fe->phase = -2;
            fe->phase_ms = 0;
        } else if (fe->phase == -2 && fe->phase_ms >= WINK_MS) {
            far_bits(t, BITS_ONHOOK_EM);
            fe->phase = 0;
            fe->phase_ms = 0;
        } else if (fe->phase >= 0 && farend_outbound_tick(fe)) {
            far_bits(t, BITS_OFFHOOK);      /* answer supervision */
        }
    }
    follow_receivers(t);
}

static void ls_tick(tslot *t)
{
    farend *fe = &t->fe;
    if (fe->state == SIMFAR_ST_RINGING) {
        long cyc = fe->tones == SIMFAR_TONES_CN ? 5000 : 6000;
        long on = fe->tones == SIMFAR_TONES_CN ? 1000 : 2000;
        long ms = fe->state_ms - TICK_MS;   /* the clock already counts this tick */
        far_bits(t, ms % cyc < on ? ABCD(0, 0, 0, 0) : ABCD(0, 1, 0, 1));
    } else if (fe->state == SIMFAR_ST_SEIZED) {
        if (fe->ndialled > 0 && fe->phase == 0 && fe->tone_on)
            farend_tone_stop(fe);
        farend_outbound_tick(fe);
    }
    follow_receivers(t);
}

/* Idle: the far end neither listens nor sends, we are not winking, its
 * receivers are set for its state and the line leaves the payload alone;
 * the clocks alone would move, whether the span is up or down. */
int tslot_idle(const struct tslot *t)
{
    return farend_idle(&t->fe) && t->wink_ms <= 0 && t->receivers_for == t->fe.state &&
           !t1maint_shapes(t->spandev->span->maint) && !r2mf_active(t->r2) &&
           !r2mf_active(t->far_r2);
}

void tslot_slept(struct tslot *t, long ms)
{
    t->tx_a_ms += ms;
    t->rx_a_ms += ms;
    farend_clocks(&t->fe, ms);
}

/* The far end's line signalling: E&M and loop start (E1 CAS and ISDN
 * have none here yet). */
static void signalling_tick(tslot *t, int down)
{
    if (down)
        return;
    if (t->signalling == SIMFAR_SIG_EM_WINK)
        em_tick(t);
    else if (t->signalling == SIMFAR_SIG_LOOPSTART)
        ls_tick(t);
}

/* What we send, as the line carries it: the bus's mu-law as it is on T1,
 * converted to A-law on E1 (into `line`). */
static const uint8_t *to_line(const tslot *t, const uint8_t *bus, uint8_t *line)
{
    if (!t->spandev->span->e1)
        return bus;
    ulaw_to_alaw(bus, line, TICK);
    return line;
}

/* What we receive, onto the bus: mu-law from an E1's A-law. */
static void to_bus(const tslot *t, const uint8_t *line, uint8_t *bus)
{
    if (t->spandev->span->e1)
        alaw_to_ulaw(line, bus, TICK);
    else
        memcpy(bus, line, TICK);
}

/* The payload through the line's maintenance state (a loop, errors,
 * slips, a BERT, a loop code: t1maint.c): what the far end hears and what
 * we receive are its to decide. */
static void maintained_tick(tslot *t, int down)
{
    struct t1maint *m = t->spandev->span->maint;
    uint8_t ours[TICK], tone[TICK], theirs[TICK], to_us[TICK];
    const uint8_t *sent = t1maint_send(m, t->index, r2mf_our_line(
        t, to_line(t, sim_bus_in(t->dev), ours), tone), down);
    farend_hear_wire(&t->fe, sent);
    r2mf_far_hears(t, sent);
    signalling_tick(t, down);
    farend_speak_wire(&t->fe, theirs);
    r2mf_far_line(t, theirs);
    t1maint_receive(m, t->index, theirs, down, to_us);
    r2mf_we_hear(t, to_us);
    to_bus(t, to_us, sim_bus_out(t->dev->txslot));
}

void tslot_tick(device *d)
{
    tslot *t = d->ts;
    struct t1maint *m = t->spandev->span->maint;
    int16_t out[TICK];
    uint8_t line[TICK], tone[TICK];
    const uint8_t *sent;
    int down = span_down(t);
    t->tx_a_ms += TICK_MS;
    t->rx_a_ms += TICK_MS;
    if (t->wink_ms > 0 && (t->wink_ms -= TICK_MS) <= 0) {
        our_bits(t, t->tx & ~0x3);
        if (t->wink_async && d->open)
            sim_post(d, DTEV_WINKCPLT, NULL, 0, 0);
    }
    if (t1maint_shapes(m)) {
        maintained_tick(t, down);
        return;
    }
    sent = down ? NULL : r2mf_our_line(t, d->listen >= 0 ? to_line(t, sim_bus_in(d), line)
                                                         : NULL, tone);
    farend_hear_wire(&t->fe, sent);
    r2mf_far_hears(t, sent);
    signalling_tick(t, down);
    if (down) {
        farend_speak(&t->fe, out);          /* the far end talks into a dead span */
        memset(sim_bus_out(d->txslot), IDLE_CODE, TICK);
    } else {
        farend_speak_wire(&t->fe, line);
        r2mf_far_line(t, line);
        t1maint_received(m, t->index, line);
        r2mf_we_hear(t, line);
        to_bus(t, line, sim_bus_out(d->txslot));
    }
}

/* ---- the dt_ API --------------------------------------------------------*/

int dt_open(const char *name, int oflags)
{
    device *d;
    int r;
    (void)oflags;
    sim_lock();
    sim_ensure();
    d = sim_find(name);
    if (!d || (d->kind != DEV_SPAN && d->kind != DEV_TS && d->kind != DEV_DCHAN)) {
        errno = ENOENT;
        r = sim_fail("no span, timeslot or D-channel named '%s'", name ? name : "(null)");
    } else if (d->open) {
        errno = EBUSY;
        r = sim_fail("%s is already open", name);
    } else {
        d->open = 1;
        if (d->kind == DEV_SPAN)
            t1maint_opened(d->span->maint);
        else if (d->kind == DEV_DCHAN)
            dchan_opened(d->dchan);
        dev_ok(d);
        r = (int)sim_handle(d);
    }
    sim_unlock();
    return r;
}

int dt_close(int dev)
{
    device *d;
    int r = -1;
    sim_lock();
    d = sim_dev(dev);
    if (d && (d->kind == DEV_SPAN || d->kind == DEV_TS || d->kind == DEV_DCHAN)) {
        if (d->kind == DEV_TS) {
            d->ts->sigmask = 0;
            bus_release_device(d);
        } else if (d->kind == DEV_SPAN) {
            d->span->errmask = 0;
        }
        d->open = 0;
        r = 0;
    } else {
        sim_fail("dt_close: %d is not an open span, timeslot or D-channel", dev);
    }
    sim_unlock();
    return r;
}

static device *ts_dev(int dev)
{
    device *d = sim_dev(dev);
    if (d && d->kind != DEV_TS) {
        dev_err(d, EDT_BADDEV, "%s is not a timeslot", d->name);
        return NULL;
    }
    return d;
}

static unsigned short apply(unsigned short cur, unsigned short mask, int action)
{
    return action == DTA_ADDMSK ? cur | mask : action == DTA_SUBMSK ? cur & ~mask : mask;
}

/* Why our bits cannot become `bits` on timeslot d: 0 if they can. */
static int bits_refused(device *d, unsigned char bits)
{
    tslot *t = d->ts;
    if (!span_has_bits(t->spandev->span))
        return dev_err(d, EDT_PARAMERR, "%s is an ISDN B-channel: it carries no signalling "
                       "bits (its calls are signalled on the D-channel %sD)", d->name,
                       t->spandev->name);
    if (t->spandev->span->e1 && bits == 0)
        return dev_err(d, EDT_PARAMERR, "ABCD 0000 is forbidden on E1: it would mimic the "
                       "multiframe alignment signal in timeslot 16 (keep D = 1: idle 1001)");
    return 0;
}

int dt_setevtmsk(int dev, int event, unsigned short mask, int action)
{
    device *d;
    int r = -1;
    sim_lock();
    d = sim_dev(dev);
    if (!d || (d->kind != DEV_SPAN && d->kind != DEV_TS))
        goto out;
    if (action < DTA_SETMSK || action > DTA_SUBMSK) {
        dev_err(d, EDT_PARAMERR, "action %d: use DTA_SETMSK, DTA_ADDMSK or DTA_SUBMSK", action);
        goto out;
    }
    if (event == DTG_T1ERREVT && d->kind == DEV_SPAN)
        d->span->errmask = apply(d->span->errmask, mask, action);
    else if (event == DTG_SIGEVT && d->kind == DEV_TS)
        d->ts->sigmask = apply(d->ts->sigmask, mask, action);
    else {
        dev_err(d, EDT_PARAMERR, "event %d does not apply to %s (DTG_T1ERREVT on a span, "
                "DTG_SIGEVT on a timeslot)", event, d->name);
        goto out;
    }
    dev_ok(d);
    r = 0;
out:
    sim_unlock();
    return r;
}

int dt_settssig(int dev, unsigned short bits, int action)
{
    device *d;
    int r = -1;
    sim_lock();
    d = ts_dev(dev);
    if (d) {
        unsigned char tx = (unsigned char)apply(d->ts->tx, bits, action);
        if (bits & ~0xF)
            r = dev_err(d, EDT_PARAMERR, "bits 0x%x: use DTB_ABIT..DTB_DBIT", bits);
        else if (action < DTA_SETMSK || action > DTA_SUBMSK)
            r = dev_err(d, EDT_PARAMERR, "action %d is not DTA_SETMSK/ADDMSK/SUBMSK", action);
        else if (bits_refused(d, tx) == 0) {
            our_bits(d->ts, tx);
            dev_ok(d);
            r = 0;
        }
    }
    sim_unlock();
    return r;
}

int dt_settssigsim(int dev, unsigned short bits)
{
    device *d;
    int r = -1;
    sim_lock();
    d = ts_dev(dev);
    if (d) {
        unsigned char tx = d->ts->tx;
        int k;
        for (k = 0; k < 4; k++)
            if (bits & (0x10 << k))
                tx = (unsigned char)((tx & ~(1 << k)) | (bits & (1 << k)));
        if (!(bits & 0xF0) || (bits & ~0xFF))
            r = dev_err(d, EDT_PARAMERR, "bits 0x%x: combine DTB_AON/AOFF ... DTB_DON/DOFF",
                        bits);
        else if (bits_refused(d, tx) == 0) {
            our_bits(d->ts, tx);
            dev_ok(d);
            r = 0;
        }
    }
    sim_unlock();
    return r;
}

int dt_xmitwink(int dev, unsigned int tmo)
{
    device *d;
    int r = -1;
    sim_lock();
    d = ts_dev(dev);
    if (d) {
        if (d->ts->signalling != SIMFAR_SIG_EM_WINK)
            r = dev_err(d, EDT_PARAMERR, "%s is not E&M signalled: a wink is E&M "
                        "signalling", d->name);
        else if (d->ts->tx & 0x1)
            r = dev_err(d, EDT_BUSY, "cannot wink while off-hook");
        else if (d->ts->wink_ms > 0)
            r = dev_err(d, EDT_BUSY, "already winking");
        else {
            d->ts->wink_ms = WINK_MS;
            d->ts->wink_async = (tmo & EV_ASYNC) != 0;
            our_bits(d->ts, d->ts->tx | 0x3);
            dev_ok(d);
            r = 0;
        }
    }
    sim_unlock();
    return r;
}

int dt_setalrm(int dev, unsigned int mode)
{
    device *d;
    int r = -1;
    sim_lock();
    d = sim_dev(dev);
    if (d && d->kind == DEV_SPAN) {
        if (mode > DTA_DROP)
            r = dev_err(d, EDT_PARAMERR, "alarm mode %u: DTA_NONE, DTA_TERM or DTA_DROP", mode);
        else {
            d->span->alarm_mode = (int)mode;
            dev_ok(d);
            r = 0;
        }
    } else if (d) {
        dev_err(d, EDT_BADDEV, "%s is not a span", d->name);
    }
    sim_unlock();
    return r;
}

long ATDT_TSSGBIT(int dev)
{
    device *d;
    long r = -1;
    sim_lock();
    d = ts_dev(dev);
    if (d)
        r = d->ts->tx | (d->ts->rx << 4);
    sim_unlock();
    return r;
}

long ATDT_ALARMS(int dev)
{
    device *d;
    long r = -1;
    sim_lock();
    d = sim_dev(dev);
    if (d && d->kind == DEV_SPAN)
        r = alarm_codes(d->span);
    else if (d)
        dev_err(d, EDT_BADDEV, "%s is not a span", d->name);
    sim_unlock();
    return r;
}

#define TS_BUS(fn, call) \
    int fn \
    { \
        device *d; \
        int r = -1; \
        sim_lock(); \
        d = ts_dev(dev); \
        if (d) \
            r = (call); \
        sim_unlock(); \
        return r; \
    }

TS_BUS(dt_getxmitslot(int dev, SC_TSINFO *ts), bus_getxmitslot(d, ts))
TS_BUS(dt_unlisten(int dev), bus_unlisten(d))

/* A timeslot under a BERT sends the pattern, not what it would hear. */
int dt_listen(int dev, SC_TSINFO *ts)
{
    device *d;
    int r = -1;
    sim_lock();
    d = ts_dev(dev);
    if (d && t1maint_testing(d->ts->spandev->span->maint, d->ts->index))
        r = dev_err(d, EDT_BUSY, "a BERT runs on %s: stop it first", d->name);
    else if (d)
        r = bus_listen(d, ts, EDT_SH_BADEXTTS, EDT_SH_LISTEN);
    sim_unlock();
    return r;
}
int dt_getctinfo(int dev, CT_DEVINFO *info)
{
    device *d;
    int r = -1;
    sim_lock();
    d = sim_dev(dev);
    if (d && (d->kind == DEV_TS || d->kind == DEV_SPAN) && info) {
        const span *s = d->kind == DEV_SPAN ? d->span : d->ts->spandev->span;
        memset(info, 0, sizeof *info);
        info->ct_prodid = 0x43544953;
        info->ct_devfamily = CT_DFSPAN;
        info->ct_devmode = CT_DMNETWORK;
        info->ct_nettype = s->e1 ? CT_NTE1 : CT_NTT1;
        info->ct_busmode = CT_BMH100;
        info->ct_busencoding = CT_BEULAW;
        dev_ok(d);
        r = 0;
    } else if (d) {
        dev_err(d, EDT_PARAMERR, "no CT_DEVINFO given or not a span or timeslot");
    }
    sim_unlock();
    return r;
}

static const char *signalling_name(int signalling)
{
    switch (signalling) {
    case SIMFAR_SIG_EM_WINK: return "em_wink";
    case SIMFAR_SIG_LOOPSTART: return "fxs_ls";
    case SIMFAR_SIG_PRI: return "pri";
    case SIMFAR_SIG_CAS: return "cas";
    default: return "ccs";
    }
}

int span_status(device *d, char *buf, int max)
{
    span *s = d->span;
    char al[128] = "";
    int k, n;
    for (k = 0; k < SIMFAR_AL_COUNT; k++)
        if (s->alarms & (1u << k)) {
            if (al[0])
                strcat(al, ",");
            strcat(al, ALARM_REPORTS[k].name);
        }
    n = snprintf(buf, max, "kind=span type=%s signalling=%s alarms=%s ", s->e1 ? "e1" : "t1",
                 signalling_name(s->signalling), al[0] ? al : "none");
    return n < max ? n + t1maint_status(s->maint, buf + n, max - n) : n;
}

/* ---- the far end's CAS bits (simfar.h) ------------------------------------*/

/* The E1 CAS timeslot of endpoint ep, or NULL with the error set. */
static tslot *cas_timeslot(int ep)
{
    device *d = g_sim ? sim_dev_any(ep) : NULL;
    if (!d || d->kind != DEV_TS || d->ts->signalling != SIMFAR_SIG_CAS) {
        sim_fail("%d is not the endpoint of an E1 CAS timeslot", ep);
        return NULL;
    }
    return d->ts;
}

int simfar_far_bits(int ep, int abcd)
{
    tslot *t;
    int r = -1;
    sim_lock();
    t = cas_timeslot(ep);
    if (t && (abcd < 0 || abcd > 0xF)) {
        sim_fail("ABCD %d: from 0 to 15 (A = 0x1 ... D = 0x8)", abcd);
    } else if (t) {
        sim_wake(t->dev);
        far_bits(t, (unsigned char)abcd);
        r = 0;
    }
    sim_unlock();
    return r;
}

int simfar_far_heard_bits(int ep)
{
    tslot *t;
    int r = -1;
    sim_lock();
    t = cas_timeslot(ep);
    if (t)
        r = t->seen;
    sim_unlock();
    return r;
}

int tslot_status(device *d, char *buf, int max)
{
    tslot *t = d->ts;
    static const char *st[] = {"idle", "ringing", "seized", "connected", "clearing"};
    return snprintf(buf, max, "kind=timeslot tx_abcd=%d%d%d%d rx_abcd=%d%d%d%d far=%s",
                    t->tx & 1, (t->tx >> 1) & 1, (t->tx >> 2) & 1, (t->tx >> 3) & 1,
                    t->rx & 1, (t->rx >> 1) & 1, (t->rx >> 2) & 1, (t->rx >> 3) & 1,
                    st[t->fe.state]);
}
