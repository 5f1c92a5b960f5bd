/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * t1.c - T1 spans, their 24 timeslots, robbed-bit signalling and alarms.
 *
 * Each timeslot carries audio both ways on the bus and four signalling
 * bits each way (ABCD; only A and B matter for the signallings here):
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

static unsigned char idle_bits(int signalling, int ours)
{
    if (signalling == SIMFAR_SIG_EM_WINK)
        return ABCD(0, 0, 0, 0);
    (void)ours;
    return ABCD(0, 1, 0, 1);
}

struct span *span_new(device *d, int signalling, int tones)
{
    span *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->dev = d;
    s->signalling = signalling;
    s->tones = tones;
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
    t->tx = idle_bits(signalling, 1);
    t->rx = t->far_tx = idle_bits(signalling, 0);
    t->seen = t->tx;
    if (spandev && spandev->span) {
        int k;
        for (k = 0; k < DTV_NUMTS && spandev->span->ts[k]; k++)
            ;
        if (k < DTV_NUMTS)
            spandev->span->ts[k] = d;
        t->index = k;
    }
    farend_init(&t->fe, SIMFAR_EP_T1, d, tones);
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
    free(t);
}

farend *tslot_farend(struct tslot *t) { return &t->fe; }

/* A yellow alarm (RAI) alone leaves the span up: it tells us the far end
 * does not see us.  Nor does RCL (a timing loop): the signal still passes. */
int span_is_down(const span *s)
{
    unsigned a = s->alarms;
    return (a & (1u << DTT1_LOS | 1u << DTT1_RED | 1u << DTT1_RLOS | 1u << DTT1_OOF |
                 1u << DTT1_RBL)) != 0;
}

static int span_down(const tslot *t) { return span_is_down(t->spandev->span); }

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
    if (!d || d->kind != DEV_TS) {
        r = sim_fail("%d is not the endpoint of a T1 timeslot", ep);
    } else {
        d->ts->register_mf = !!mf;
        set_receivers(d->ts);
    }
    sim_unlock();
    return r;
}

/* ---- alarms -------------------------------------------------------------*/

static unsigned short alarm_enable_bit(int code)
{
    switch (code) {
    case DTT1_RLOS: return DTEC_RLOS;
    case DTT1_RBL: return DTEC_RBL;
    case DTT1_RYEL: return DTEC_RYEL;
    case DTT1_LOS: return DTEC_LOS;
    case DTT1_RED: return DTEC_RED;
    case DTT1_OOF: return DTEC_OOF;
    default: return 0;
    }
}

/* The span's alarms become `want` (1 << DTT1_x): each one raised or
 * cleared is told to the application, if it asked for it. */
static void span_set_alarms(device *d, unsigned want)
{
    span *s = d->span;
    int was_down = span_is_down(s), code;
    for (code = 0; code <= DTT1_RED; code++) {
        unsigned bit = 1u << code;
        unsigned short en = alarm_enable_bit(code);
        int on = (want & bit) != 0;
        if (on == ((s->alarms & bit) != 0))
            continue;
        s->alarms ^= bit;
        if (d->open && (en == 0 || (s->errmask & en))) {
            unsigned short data = (unsigned short)(on ? code : code + DTT1_CLEARED);
            sim_post(d, DTEV_T1ERRC, &data, sizeof data, 0);
        }
    }
    if (was_down && !span_is_down(s))
        span_back_up(s);
}

/* An alarm raised or cleared by hand (simfar_span_alarm); the line's own
 * (t1maint.c) stand beside it: the span reports both. */
int span_alarm(device *d, int code, int on)
{
    span *s = d->span;
    unsigned bit;
    if (code < 0 || code > DTT1_RED || code == 2 || code == 8)
        return sim_fail("%d is not a DTT1_ alarm code", code);
    bit = 1u << code;
    if (!!(s->forced & bit) == !!on)
        return 0;
    if (on && code == DTT1_OOF)
        t1maint_count_oof(s->maint);
    s->forced ^= bit;
    span_set_alarms(d, s->forced | s->line_alarms);
    return 0;
}

/* Once a tick while the line needs it (t1maint_idle says when not). */
void span_tick(device *d)
{
    span *s = d->span;
    s->line_alarms = t1maint_tick(s->maint);
    span_set_alarms(d, s->forced | s->line_alarms);
}

int span_idle(const struct span *s)
{
    return t1maint_idle(s->maint);
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

/* The far end's bits reach us (unless the span is down: then later). */
static void deliver_far_bits(tslot *t)
{
    unsigned char old = t->rx, bits = t->far_tx;
    unsigned short data = 0;
    if (old == bits)
        return;
    t->rx = bits;
    if ((old ^ bits) & 0x1) {
        data |= (bits & 0x1) ? DTMM_AON : DTMM_AOFF;
        if (!(bits & 0x1) && t->rx_a_ms >= WINK_MIN_MS && t->rx_a_ms <= WINK_MAX_MS)
            data |= DTMM_WINK;
        t->rx_a_ms = 0;
    }
    if ((old ^ bits) & 0x2)
        data |= (bits & 0x2) ? DTMM_BON : DTMM_BOFF;
    /* report only the transitions the application asked for */
    {
        unsigned short out = 0;
        if ((data & 0x0001) && (t->sigmask & DTMM_AON) == DTMM_AON) out |= DTMM_AON;
        if ((data & 0x0100) && (t->sigmask & DTMM_AOFF) == DTMM_AOFF) out |= DTMM_AOFF;
        if ((data & 0x0002) && (t->sigmask & DTMM_BON) == DTMM_BON) out |= DTMM_BON;
        if ((data & 0x0200) && (t->sigmask & DTMM_BOFF) == DTMM_BOFF) out |= DTMM_BOFF;
        if ((data & DTMM_WINK) && (t->sigmask & DTMM_WINK)) out |= DTMM_WINK;
        if (out && t->dev->open)
            sim_post(t->dev, DTEV_SIG, &out, sizeof out, 0);
    }
}

static void far_bits(tslot *t, unsigned char bits)
{
    t->far_tx = bits;
    if (!span_down(t))
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
    far_bits(t, idle_bits(t->signalling, 0));
    /* still off-hook after a glare the far end gave up: now it is our
     * seizure that it sees */
    t->seen = idle_bits(t->signalling, 1);
    if (!span_down(t))
        far_end_sees(t, 0);
    return 0;
}

int tslot_fe_hangup(struct tslot *t)
{
    farend *fe = &t->fe;
    if (fe->state != SIMFAR_ST_CONNECTED && fe->state != SIMFAR_ST_SEIZED)
        return sim_fail("%s has no call to hang up", t->dev->name);
    farend_stop_sending(fe);
    farend_set_state(fe, SIMFAR_ST_CLEARING);
    set_receivers(t);
    if (t->signalling == SIMFAR_SIG_EM_WINK)
        far_bits(t, BITS_ONHOOK_EM);
    else
        farend_tone(fe, CTI_TONE_BUSY, -13);
    return 0;
}

/* Only A and B are carried; C and D repeat them (see the top of the file). */
static unsigned char robbed_bits(unsigned char bits)
{
    return (unsigned char)((bits & 0x3) | (bits & 0x3) << 2);
}

/* Our bits changed (application or wink): what does the far end make of it? */
static void our_bits(tslot *t, unsigned char bits)
{
    unsigned char old = t->tx;
    int a_on_ms = (int)t->tx_a_ms;
    bits = robbed_bits(bits);
    if (old == bits)
        return;
    t->tx = bits;
    if ((old ^ bits) & 0x1)
        t->tx_a_ms = 0;
    if (!span_down(t))
        far_end_sees(t, a_on_ms);
}

/* Our bits reach the far end: what does it make of them?  a_on_ms: how long
 * our A bit held its previous value (a wink is 100-350 ms of off-hook). */
static void far_end_sees(tslot *t, int a_on_ms)
{
    farend *fe = &t->fe;
    unsigned char bits = t->tx;
    if (t->seen == bits)
        return;
    t->seen = bits;
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
    } else {
        int off = (bits & 0x3) == 0x3;
        if (off && fe->state == SIMFAR_ST_RINGING) {
            farend_stop_sending(fe);
            farend_set_state(fe, SIMFAR_ST_CONNECTED);
            far_bits(t, idle_bits(t->signalling, 0));
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

/* The span came out of alarm: both ends see the bits held meanwhile (a
 * sleeping timeslot wakes first, so its clocks are up to date). */
static void span_back_up(span *s)
{
    int k;
    for (k = 0; k < DTV_NUMTS && s->ts[k]; k++) {
        tslot *t = s->ts[k]->ts;
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
           !t1maint_shapes(t->spandev->span->maint);
}

void tslot_slept(struct tslot *t, long ms)
{
    t->tx_a_ms += ms;
    t->rx_a_ms += ms;
    farend_clocks(&t->fe, ms);
}

static void signalling_tick(tslot *t, int down)
{
    if (down)
        return;
    if (t->signalling == SIMFAR_SIG_EM_WINK)
        em_tick(t);
    else
        ls_tick(t);
}

/* The payload through the line's maintenance state (a loop, errors,
 * slips, a BERT, a loop code: t1maint.c): what the far end hears and what
 * we receive are its to decide. */
static void maintained_tick(tslot *t, int down)
{
    struct t1maint *m = t->spandev->span->maint;
    uint8_t theirs[TICK];
    farend_hear_bus(&t->fe, t1maint_send(m, t->index, sim_bus_in(t->dev), down));
    signalling_tick(t, down);
    farend_speak_bus(&t->fe, theirs);
    t1maint_receive(m, t->index, theirs, down, sim_bus_out(t->dev->txslot));
}

void tslot_tick(device *d)
{
    tslot *t = d->ts;
    int16_t out[TICK];
    int down = span_down(t);
    t->tx_a_ms += TICK_MS;
    t->rx_a_ms += TICK_MS;
    if (t->wink_ms > 0 && (t->wink_ms -= TICK_MS) <= 0) {
        our_bits(t, t->tx & ~0x3);
        if (t->wink_async && d->open)
            sim_post(d, DTEV_WINKCPLT, NULL, 0, 0);
    }
    if (t1maint_shapes(t->spandev->span->maint)) {
        maintained_tick(t, down);
        return;
    }
    farend_hear_bus(&t->fe, d->listen >= 0 && !down ? sim_bus_in(d) : NULL);
    signalling_tick(t, down);
    if (down) {
        farend_speak(&t->fe, out);          /* the far end talks into a dead span */
        memset(sim_bus_out(d->txslot), IDLE_CODE, TICK);
    } else {
        farend_speak_bus(&t->fe, sim_bus_out(d->txslot));
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
    if (!d || (d->kind != DEV_SPAN && d->kind != DEV_TS)) {
        errno = ENOENT;
        r = sim_fail("no T1 span or timeslot named '%s'", name ? name : "(null)");
    } else if (d->open) {
        errno = EBUSY;
        r = sim_fail("%s is already open", name);
    } else {
        d->open = 1;
        if (d->kind == DEV_SPAN)
            t1maint_opened(d->span->maint);
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
    if (d && (d->kind == DEV_SPAN || d->kind == DEV_TS)) {
        if (d->kind == DEV_TS) {
            d->ts->sigmask = 0;
            bus_release_device(d);
        } else {
            d->span->errmask = 0;
        }
        d->open = 0;
        r = 0;
    } else {
        sim_fail("dt_close: %d is not an open T1 device", dev);
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
        if (bits & ~0xF)
            r = dev_err(d, EDT_PARAMERR, "bits 0x%x: use DTB_ABIT..DTB_DBIT", bits);
        else if (action < DTA_SETMSK || action > DTA_SUBMSK)
            r = dev_err(d, EDT_PARAMERR, "action %d is not DTA_SETMSK/ADDMSK/SUBMSK", action);
        else {
            our_bits(d->ts, (unsigned char)apply(d->ts->tx, bits, action));
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
        if (!(bits & 0xF0) || (bits & ~0xFF))
            r = dev_err(d, EDT_PARAMERR, "bits 0x%x: combine DTB_AON/AOFF/BON/BOFF", bits);
        else {
            int k;
            for (k = 0; k < 4; k++)
                if (bits & (0x10 << k))
                    tx = (unsigned char)((tx & ~(1 << k)) | (bits & (1 << k)));
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
            r = dev_err(d, EDT_PARAMERR, "%s is loop-start signalled: a wink is E&M "
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
        r = d->span->alarms;
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
        memset(info, 0, sizeof *info);
        info->ct_prodid = 0x43544953;
        info->ct_devfamily = CT_DFSPAN;
        info->ct_devmode = CT_DMNETWORK;
        info->ct_nettype = CT_NTT1;
        info->ct_busmode = CT_BMH100;
        info->ct_busencoding = CT_BEULAW;
        dev_ok(d);
        r = 0;
    } else if (d) {
        dev_err(d, EDT_PARAMERR, "no CT_DEVINFO given or not a T1 device");
    }
    sim_unlock();
    return r;
}

int span_status(device *d, char *buf, int max)
{
    span *s = d->span;
    static const char *names[] = {"OOF", "LOS", "?", "BPVS", "ECS", "YELLOW", "RCL",
                                  "FERR", "?", "BLUE", "RLOS", "RED"};
    char al[128] = "";
    int k;
    for (k = 0; k <= DTT1_RED; k++)
        if (s->alarms & (1u << k)) {
            if (al[0])
                strcat(al, ",");
            strcat(al, names[k]);
        }
    int n = snprintf(buf, max, "kind=span signalling=%s alarms=%s ",
                     s->signalling == SIMFAR_SIG_EM_WINK ? "em_wink" : "fxs_ls",
                     al[0] ? al : "none");
    return n < max ? n + t1maint_status(s->maint, buf + n, max - n) : n;
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
