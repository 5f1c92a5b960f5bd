/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * line.c - analog loop-start lines (FXO ports) and the exchange behind them.
 *
 * Our side: the hook (dx_sethook on the paired voice channel), ring
 * detection, loop current, polarity, and the Bell 202 caller ID decoded
 * from the silence after the first ring.  The far end is the central
 * office: it rings with its country's cadence, sends the caller ID, gives
 * dial tone when we seize, runs an outbound call's progress, and hangs up
 * by dropping loop current, reversing battery, sending busy tone, or doing
 * nothing at all - every supervision method a real line may (not) give.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define CID_DELAY_MS 500       /* FSK starts this long after the first ring */
#define LC_DROP_MS 600         /* a loop-current-drop disconnect lasts this */

typedef struct line {
    device *dev;
    device *vdev;
    farend fe;
    int hook;                  /* 1: off-hook (our side) */
    int ringing;               /* ring voltage present now */
    int ring_on_ms, ring_off_ms;
    int rings;                 /* rings of the current call */
    long rngoff_ms;            /* > 0: DE_RNGOFF due after this */
    int lc;                    /* loop current present */
    long lc_ms;                /* time in the current loop-current state */
    long lcdrop_ms;            /* > 0: loop current dropped for this long yet */
    int reversed;              /* battery polarity reversed */
    cti_cid_rx *cidrx;
    cti_callerid cid;
    int cid_ready;
    int onhook_audio;          /* the far end's audio reaches us on hook too */
} line;

struct line *line_new(device *d, device *vdev, int tones)
{
    line *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->dev = d;
    l->vdev = vdev;
    farend_init(&l->fe, SIMFAR_EP_LINE, d, tones);
    l->ring_on_ms = tones == SIMFAR_TONES_CN ? 1000 : 2000;
    l->ring_off_ms = 4000;
    l->cidrx = cti_cid_rx_new();
    return l;
}

void line_free(struct line *l)
{
    farend_free(&l->fe);
    cti_cid_rx_free(l->cidrx);
    free(l);
}

farend *line_farend(struct line *l) { return &l->fe; }
int line_hook(const struct line *l) { return l->hook ? DX_OFFHOOK : DX_ONHOOK; }
int line_loop_current(const struct line *l) { return l->lc; }
int line_rings(const struct line *l) { return l->rings; }
void line_pass_onhook_audio(struct line *l, int on) { l->onhook_audio = on; }

int line_status_bits(const struct line *l)
{
    return (l->lc ? RLS_LCSENSE : 0) | (l->ringing ? RLS_RING : 0) |
           (l->reversed ? RLS_POLARITY : 0);
}

int line_callerid(struct line *l, cti_callerid *out)
{
    if (!l->cid_ready)
        return 0;
    *out = l->cid;
    return 1;
}

static void cst(line *l, int event, int data)
{
    if (l->vdev->open)
        voice_line_event(l->vdev, event, data);
}

static void set_lc(line *l, int on)
{
    if (l->lc == on)
        return;
    cst(l, on ? DE_LCON : DE_LCOF, (int)(l->lc_ms / 10 > 0xFFFF ? 0xFFFF : l->lc_ms / 10));
    l->lc = on;
    l->lc_ms = 0;
}

void line_set_hook(struct line *l, int offhook)
{
    farend *fe = &l->fe;
    if (l->hook == offhook)
        return;
    l->hook = offhook;
    if (!offhook) {
        l->lc = 0;
        l->lc_ms = 0;
        l->lcdrop_ms = 0;
        l->reversed = 0;
        l->ringing = 0;
        farend_stop_sending(fe);
        farend_set_state(fe, SIMFAR_ST_IDLE);
        return;
    }
    set_lc(l, 1);
    if (fe->state == SIMFAR_ST_RINGING) {
        /* answered */
        l->ringing = 0;
        farend_stop_sending(fe);
        farend_set_state(fe, SIMFAR_ST_CONNECTED);
    } else {
        /* seized for an outbound call */
        farend_set_state(fe, SIMFAR_ST_SEIZED);
        if (fe->outbound != SIMFAR_OUT_NODIALTONE)
            farend_tone(fe, CTI_TONE_DIAL, -13);
    }
}

int line_fe_call(struct line *l, const char *ani, const char *name)
{
    farend *fe = &l->fe;
    if (fe->state != SIMFAR_ST_IDLE || l->hook)
        return sim_fail("%s is busy (%s): cannot ring it", l->vdev->name,
                        l->hook ? "off-hook" : "already ringing");
    snprintf(fe->ani, sizeof fe->ani, "%s", ani ? ani : "");
    snprintf(fe->name, sizeof fe->name, "%s", name ? name : "");
    farend_set_state(fe, SIMFAR_ST_RINGING);
    l->rings = 0;
    l->cid_ready = 0;
    l->rngoff_ms = 0;
    cti_cid_rx_reset(l->cidrx);
    return 0;
}

int line_fe_abandon(struct line *l)
{
    farend *fe = &l->fe;
    if (fe->state != SIMFAR_ST_RINGING)
        return sim_fail("%s is not ringing: nothing to abandon", l->vdev->name);
    farend_stop_sending(fe);
    farend_set_state(fe, SIMFAR_ST_IDLE);
    l->ringing = 0;
    l->rngoff_ms = l->ring_off_ms;
    return 0;
}

int line_fe_hangup(struct line *l, int method)
{
    farend *fe = &l->fe;
    if (method < SIMFAR_DISC_LCDROP || method > SIMFAR_DISC_SILENCE)
        return sim_fail("disconnect method %d is unknown", method);
    if (fe->state != SIMFAR_ST_CONNECTED && fe->state != SIMFAR_ST_SEIZED)
        return sim_fail("%s has no call to hang up", l->vdev->name);
    farend_stop_sending(fe);
    farend_set_state(fe, SIMFAR_ST_CLEARING);
    switch (method) {
    case SIMFAR_DISC_LCDROP:
        l->lcdrop_ms = 1;
        set_lc(l, 0);
        break;
    case SIMFAR_DISC_POLARITY:
        l->reversed = !l->reversed;
        cst(l, DE_LCREV, 0);
        break;
    case SIMFAR_DISC_BUSYTONE:
        farend_tone(fe, CTI_TONE_BUSY, -13);
        break;
    default:
        break;
    }
    return 0;
}

/* The exchange's clock for caller ID, MMDDhhmm: the simulation starts on
 * 22 November at 00:00 and the month's 30 days repeat. */
static void cid_datetime(char *out, size_t size)
{
    long long min = g_sim->now_ms / 60000;
    snprintf(out, size, "11%02d%02d%02d", (int)((21 + min / 1440) % 30 + 1),
             (int)(min / 60 % 24), (int)(min % 60));
}

static void ring_tick(line *l, const int16_t *fe_out)
{
    farend *fe = &l->fe;
    long cycle = l->ring_on_ms + l->ring_off_ms;
    /* state_ms already counts this tick: the cadence starts with it */
    long t = (fe->state_ms >= TICK_MS ? fe->state_ms - TICK_MS : 0) % cycle;
    int on = t < l->ring_on_ms;
    cti_callerid got;
    if (on && !l->ringing) {
        l->ringing = 1;
        l->rings++;
        cst(l, DE_RINGS, l->rings);
    } else if (!on && l->ringing) {
        l->ringing = 0;
    }
    if (l->rings == 1 && !on && fe->ani[0] && !fe->cid &&
        t - l->ring_on_ms == CID_DELAY_MS) {
        cti_callerid cid;
        memset(&cid, 0, sizeof cid);
        snprintf(cid.number, sizeof cid.number, "%s", fe->ani);
        snprintf(cid.name, sizeof cid.name, "%s", fe->name);
        if (strcmp(fe->ani, "P") == 0 || strcmp(fe->ani, "O") == 0) {
            cid.number[0] = 0;
            cid.number_absent = fe->ani[0];
        }
        cid_datetime(cid.datetime, sizeof cid.datetime);
        fe->cid = cti_cid_tx_new(&cid);
    }
    if (!l->cid_ready && cti_cid_rx_feed(l->cidrx, fe_out, TICK, &got)) {
        l->cid = got;
        l->cid_ready = 1;
    }
}

/* Idle: on-hook, the exchange neither rings nor sends, and no DE_RNGOFF or
 * loop-current drop is pending; the clocks alone would move. */
int line_idle(const struct line *l)
{
    return !l->hook && l->rngoff_ms <= 0 && l->lcdrop_ms == 0 && farend_idle(&l->fe);
}

void line_slept(struct line *l, long ms)
{
    l->lc_ms += ms;
    farend_clocks(&l->fe, ms);
}

void line_tick(device *d)
{
    line *l = d->line;
    farend *fe = &l->fe;
    int16_t out[TICK];
    farend_hear_wire(fe, l->hook && d->listen >= 0 ? sim_bus_in(d) : NULL);
    l->lc_ms += TICK_MS;
    if (l->rngoff_ms > 0 && (l->rngoff_ms -= TICK_MS) <= 0)
        cst(l, DE_RNGOFF, 0);
    if (fe->state == SIMFAR_ST_SEIZED) {
        if (fe->ndialled > 0 && fe->phase == 0 && fe->tone_on)
            farend_tone_stop(fe);       /* dial tone stops at the first digit */
        farend_outbound_tick(fe);
    }
    if (l->lcdrop_ms > 0 && (l->lcdrop_ms += TICK_MS) > LC_DROP_MS) {
        l->lcdrop_ms = 0;
        if (l->hook)
            set_lc(l, 1);
    }
    if (fe->state == SIMFAR_ST_RINGING) {
        farend_speak(fe, out);
        ring_tick(l, out);
        if (!l->hook && !l->onhook_audio)
            memset(out, 0, sizeof out);    /* on-hook: no talk path */
        linear_to_ulaw(out, sim_bus_out(d->txslot), TICK);
    } else if (l->hook) {
        farend_speak_wire(fe, sim_bus_out(d->txslot));
    } else {
        farend_speak(fe, out);
        memset(sim_bus_out(d->txslot), IDLE_CODE, TICK);
    }
}
