/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * r2mf.c - MFC/R2 register signalling on an E1 CAS timeslot: the board's
 * R2 MF transceiver (ours) and the far end's, over spandsp's R2 MF
 * generator and detector (lines-real.md 3.5).
 *
 * MFC/R2 signals a call in two layers.  The line signals (seize, seize
 * acknowledge, answer, clear-back, clear-forward, blocking) are the CAS
 * bits of timeslot 16, which t1.c already carries both ways.  The register
 * signals (the digits of the called and calling numbers, the calling
 * category, the requests and the answer of the called exchange) are tones
 * in the timeslot itself, two frequencies of six, "compelled": the calling
 * side (forward) sends a signal until the called side (backward) answers
 * with one of its own; the forward signal then stops, then the backward
 * one, and the next cycle starts.  The forward set is 1380-1980 Hz, the
 * backward set 1140-540 Hz; signals are numbered 1-15.
 *
 * Each timeslot of a CAS span can run two transceivers, each switched on
 * only while a call's register signalling runs (so idle timeslots still
 * sleep):
 *
 *   ours      (dt_r2mfmode, dt_r2mfsend): what it sends replaces what the
 *             timeslot would send on the line while a signal sounds; what
 *             it hears from the line is detected, and each change of the
 *             signal heard reaches the application as a DTEV_R2MF event
 *             (the signal, 0 when it stops);
 *   the far   (simfar_far_r2mf, simfar_far_r2mf_send): the same at the
 *   end's     telco's end; what it hears, and the bits of ours it sees,
 *             are queued as far-end events while the far end is watched
 *             (simfar_far_watch, simfar_far_events).
 *
 * The protocol itself (which signal answers which) is not here: OpenR2 or
 * cti's own China state machines decide it, from events, with no sample
 * ever crossing into Python.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "t1.h"

struct r2mf {
    int mode;                  /* DTR2_x: the set it sends (it hears the other) */
    int heard;                 /* the signal it hears now, 0 for none */
    cti_r2mf *dsp;             /* while on */
};

static struct r2mf *r2mf_new(void)
{
    return calloc(1, sizeof(struct r2mf));
}

void r2mf_free(struct r2mf *m)
{
    if (!m)
        return;
    cti_r2mf_free(m->dsp);
    free(m);
}

int r2mf_active(const struct r2mf *m)
{
    return m && m->mode != DTR2_OFF;
}

/* Switch the transceiver to a set (DTR2_FORWARD: it sends forward
 * signals and hears backward ones), or off. */
static int r2mf_set_mode(struct r2mf *m, int mode)
{
    cti_r2mf_free(m->dsp);
    m->dsp = NULL;
    m->mode = mode;
    m->heard = 0;
    if (mode == DTR2_OFF)
        return 0;
    m->dsp = cti_r2mf_new(mode == DTR2_FORWARD);
    if (!m->dsp) {
        m->mode = DTR2_OFF;
        return -1;
    }
    return 0;
}

static void r2mf_send(struct r2mf *m, int signal)
{
    cti_r2mf_send(m->dsp, signal);
}

static int r2mf_sending(const struct r2mf *m)
{
    return r2mf_active(m) && cti_r2mf_sending(m->dsp);
}

/* The signal sounding now, as line bytes (A-law) into out. */
static void r2mf_speak(struct r2mf *m, uint8_t *out)
{
    int16_t lin[TICK];
    cti_r2mf_gen(m->dsp, lin, TICK);
    linear_to_alaw(lin, out, TICK);
}

/* Hear a tick of line bytes (A-law; NULL: nothing): the signal heard if
 * it changed, else -1. */
static int r2mf_hear(struct r2mf *m, const uint8_t *line)
{
    int16_t lin[TICK];
    int signal;
    if (line)
        alaw_to_linear(line, lin, TICK);
    else
        memset(lin, 0, sizeof lin);
    signal = cti_r2mf_feed(m->dsp, lin, TICK);
    if (signal == m->heard)
        return -1;
    m->heard = signal;
    return signal;
}

/* ---- the tick (tslot_tick calls these) ---------------------------------*/

const uint8_t *r2mf_our_line(tslot *t, const uint8_t *line, uint8_t *buf)
{
    if (!r2mf_sending(t->r2))
        return line;
    r2mf_speak(t->r2, buf);
    return buf;
}

void r2mf_we_hear(tslot *t, const uint8_t *line)
{
    unsigned short signal;
    int heard;
    if (!r2mf_active(t->r2))
        return;
    heard = r2mf_hear(t->r2, line);
    if (heard >= 0 && t->dev->open) {
        signal = (unsigned short)heard;
        sim_post(t->dev, DTEV_R2MF, &signal, sizeof signal, 0);
    }
}

static void far_event(tslot *t, int kind, int value)
{
    sim *s = g_sim;
    if (!t->far_watch)
        return;
    if (s->farq_len + 3 > s->farq_cap) {
        size_t cap = s->farq_cap ? 2 * s->farq_cap : 384;
        int *q = realloc(s->farq, cap * sizeof *q);
        if (!q) {
            sim_misuse("%s: a far-end event lost (out of memory)", t->dev->name);
            return;
        }
        s->farq = q;
        s->farq_cap = cap;
    }
    s->farq[s->farq_len++] = (int)sim_handle(t->dev);
    s->farq[s->farq_len++] = kind;
    s->farq[s->farq_len++] = value;
}

void r2mf_far_line(tslot *t, uint8_t *line)
{
    if (r2mf_sending(t->far_r2))
        r2mf_speak(t->far_r2, line);
}

void r2mf_far_hears(tslot *t, const uint8_t *line)
{
    int heard;
    if (!r2mf_active(t->far_r2))
        return;
    heard = r2mf_hear(t->far_r2, line);
    if (heard >= 0)
        far_event(t, SIMFAR_FAR_MF, heard);
}

void r2mf_far_sees_bits(tslot *t)
{
    far_event(t, SIMFAR_FAR_BITS, t->seen);
}

/* ---- our side: the dt_ extension -----------------------------------------*/

static device *cas_ts(int dev, const char *what)
{
    device *d = sim_dev(dev);
    if (d && (d->kind != DEV_TS || d->ts->signalling != SIMFAR_SIG_CAS)) {
        dev_err(d, EDT_BADDEV, "%s: %s runs on an E1 CAS timeslot only", d->name, what);
        return NULL;
    }
    return d;
}

static int mode_ok(int mode)
{
    return mode == DTR2_OFF || mode == DTR2_FORWARD || mode == DTR2_BACKWARD;
}

int dt_r2mfmode(int dev, int mode)
{
    device *d;
    int r = -1;
    sim_lock();
    d = cas_ts(dev, "R2 MF");
    if (d && !mode_ok(mode)) {
        r = dev_err(d, EDT_PARAMERR, "R2 MF mode %d: DTR2_OFF, DTR2_FORWARD or DTR2_BACKWARD",
                    mode);
    } else if (d) {
        if (!d->ts->r2)
            d->ts->r2 = r2mf_new();
        if (!d->ts->r2 || r2mf_set_mode(d->ts->r2, mode) < 0) {
            r = dev_err(d, EDT_SYSTEM, "out of memory for the R2 MF transceiver");
        } else {
            sim_wake(d);
            dev_ok(d);
            r = 0;
        }
    }
    sim_unlock();
    return r;
}

int dt_r2mfsend(int dev, int signal)
{
    device *d;
    int r = -1;
    sim_lock();
    d = cas_ts(dev, "R2 MF");
    if (d && !r2mf_active(d->ts->r2)) {
        r = dev_err(d, EDT_PARAMERR, "%s: R2 MF is off (dt_r2mfmode first)", d->name);
    } else if (d && (signal < 0 || signal > 15)) {
        r = dev_err(d, EDT_PARAMERR, "R2 signal %d: 1 to 15, or 0 for none", signal);
    } else if (d) {
        r2mf_send(d->ts->r2, signal);
        dev_ok(d);
        r = 0;
    }
    sim_unlock();
    return r;
}

/* ---- the far end ----------------------------------------------------------*/

static tslot *far_cas(int ep)
{
    device *d = g_sim ? sim_dev_any(ep) : NULL;
    if (!d || d->kind != DEV_TS || d->ts->signalling != SIMFAR_SIG_CAS) {
        sim_fail("%d is not the endpoint of an E1 CAS timeslot", ep);
        return NULL;
    }
    return d->ts;
}

int simfar_far_r2mf(int ep, int mode)
{
    tslot *t;
    int r = -1;
    sim_lock();
    t = far_cas(ep);
    if (t && !mode_ok(mode)) {
        sim_fail("R2 MF mode %d: 0 (off), 1 (forward) or 2 (backward)", mode);
    } else if (t) {
        if (!t->far_r2)
            t->far_r2 = r2mf_new();
        if (!t->far_r2 || r2mf_set_mode(t->far_r2, mode) < 0) {
            sim_fail("out of memory for the far end's R2 MF transceiver");
        } else {
            sim_wake(t->dev);
            r = 0;
        }
    }
    sim_unlock();
    return r;
}

int simfar_far_r2mf_send(int ep, int signal)
{
    tslot *t;
    int r = -1;
    sim_lock();
    t = far_cas(ep);
    if (t && !r2mf_active(t->far_r2)) {
        sim_fail("%s: the far end's R2 MF is off (simfar_far_r2mf first)", t->dev->name);
    } else if (t && (signal < 0 || signal > 15)) {
        sim_fail("R2 signal %d: 1 to 15, or 0 for none", signal);
    } else if (t) {
        r2mf_send(t->far_r2, signal);
        r = 0;
    }
    sim_unlock();
    return r;
}

int simfar_far_watch(int ep, int on)
{
    tslot *t;
    int r = -1;
    sim_lock();
    t = far_cas(ep);
    if (t) {
        t->far_watch = on != 0;
        r = 0;
    }
    sim_unlock();
    return r;
}

int simfar_far_events(int *out, int max)
{
    sim *s;
    int n;
    sim_lock();
    sim_ensure();
    s = g_sim;
    n = (int)(s->farq_len / 3);
    if (n > max)
        n = max;
    memcpy(out, s->farq, (size_t)n * 3 * sizeof *out);
    memmove(s->farq, s->farq + n * 3, (s->farq_len - (size_t)n * 3) * sizeof *out);
    s->farq_len -= (size_t)n * 3;
    sim_unlock();
    return n;
}
