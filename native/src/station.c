/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * station.c - station ports (FXS): the agents' analog phones.
 *
 * The port rings the phone with a cadence until it goes off-hook
 * (MSEV_RING) or the cycles run out (MSEV_NORING), reports hook changes and
 * flashes (MSEV_SIGEVT), and can play dial, ringback, busy or reorder tone
 * to the earpiece by itself (ms_settone, a simulator extension).  The
 * phone's far end is the agent: it lifts the handset, talks, presses keys.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

typedef struct station {
    device *dev;
    farend fe;
    int offhook;
    int ring_cycles;           /* cycles left; 0: not ringing */
    int ring_on_ms, ring_off_ms, ring_on2_ms;
    long ring_ms;
    int ringing_async;
    unsigned short sigmask;
    cti_tone_tx *tone;
    int tone_id;
    int flashes;               /* hook flashes so far */
} station;

struct station *station_new(device *d)
{
    station *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->dev = d;
    farend_init(&s->fe, SIMFAR_EP_STATION, d, SIMFAR_TONES_NA);
    s->tone = cti_tone_tx_new();
    return s;
}

void station_free(struct station *s)
{
    farend_free(&s->fe);
    cti_tone_tx_free(s->tone);
    free(s);
}

farend *station_farend(struct station *s) { return &s->fe; }

static void post_sig(station *s, unsigned short what)
{
    if (s->dev->open && (s->sigmask & what))
        sim_post(s->dev, MSEV_SIGEVT, &what, sizeof what, 0);
}

static void stop_ring(station *s, unsigned long evt)
{
    if (!s->ring_cycles)
        return;
    s->ring_cycles = 0;
    if (s->dev->open && s->ringing_async)
        sim_post(s->dev, evt, NULL, 0, 0);
}

int station_fe_hook(struct station *s, int offhook)
{
    if (s->offhook == offhook)
        return sim_fail("%s is already %s", s->dev->name, offhook ? "off-hook" : "on-hook");
    s->offhook = offhook;
    if (offhook) {
        farend_set_state(&s->fe, SIMFAR_ST_CONNECTED);
        if (s->ring_cycles)
            stop_ring(s, MSEV_RING);        /* answered */
        else
            post_sig(s, MSMM_OFFHOOK);
    } else {
        farend_stop_sending(&s->fe);
        farend_set_state(&s->fe, SIMFAR_ST_IDLE);
        post_sig(s, MSMM_ONHOOK);
    }
    return 0;
}

int station_fe_flash(struct station *s)
{
    if (!s->offhook)
        return sim_fail("%s is on-hook: a flash needs the handset up", s->dev->name);
    s->flashes++;
    post_sig(s, MSMM_HOOKFLASH);
    return 0;
}

int station_phone_offhook(const struct station *s) { return s->offhook; }
int station_flashes(const struct station *s) { return s->flashes; }

void station_ring(struct station *s, int on_ms, int off_ms)
{
    sim_wake(s->dev);
    if (on_ms <= 0 || s->offhook) {
        s->ring_cycles = 0;
        if (!s->offhook)
            s->fe.state = SIMFAR_ST_IDLE;
        return;
    }
    s->ring_on_ms = on_ms;
    s->ring_off_ms = off_ms;
    s->ring_on2_ms = 0;
    s->ring_cycles = 1 << 30;           /* until stopped */
    s->ring_ms = 0;
    s->ringing_async = 0;
    s->fe.state = SIMFAR_ST_RINGING;
}

/* Idle: on-hook, not ringing, and the agent says nothing into the handset
 * it has put down; the far end's clocks alone would move. */
int station_idle(const struct station *s)
{
    return !s->offhook && !s->ring_cycles && farend_idle(&s->fe);
}

void station_slept(struct station *s, long ms)
{
    farend_clocks(&s->fe, ms);
}

void station_tick(device *d)
{
    station *s = d->station;
    int16_t in[TICK], out[TICK], tone[TICK];
    int i;
    if (s->ring_cycles) {
        long cycle = s->ring_on_ms + s->ring_off_ms + s->ring_on2_ms;
        long t;
        s->ring_ms += TICK_MS;
        t = s->ring_ms % cycle;
        if (t == 0 && --s->ring_cycles == 0) {
            s->ring_cycles = 1;
            stop_ring(s, MSEV_NORING);
        }
        s->fe.state = s->ring_cycles ? SIMFAR_ST_RINGING : SIMFAR_ST_IDLE;
    }
    if (s->offhook && s->tone_id) {           /* the board's tone in the earpiece */
        if (d->listen >= 0)
            ulaw_to_linear(sim_bus_in(d), in, TICK);
        else
            memset(in, 0, sizeof in);
        cti_tone_tx_gen(s->tone, tone, TICK);
        for (i = 0; i < TICK; i++) {
            int v = in[i] + tone[i];
            in[i] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
        }
        farend_hear(&s->fe, in);
    } else {
        farend_hear_wire(&s->fe, s->offhook && d->listen >= 0 ? sim_bus_in(d) : NULL);
    }
    if (s->offhook) {
        farend_speak_wire(&s->fe, sim_bus_out(d->txslot));
    } else {
        farend_speak(&s->fe, out);            /* on-hook: nothing reaches the bus */
        memset(sim_bus_out(d->txslot), IDLE_CODE, TICK);
    }
}

/* ---- the ms_ API --------------------------------------------------------*/

static device *st_dev(int dev)
{
    device *d = sim_dev(dev);
    if (d && d->kind != DEV_STATION) {
        dev_err(d, E_MSBADDEV, "%s is not a station", d->name);
        return NULL;
    }
    return d;
}

int ms_open(const char *name, int oflags)
{
    device *d;
    int r;
    (void)oflags;
    sim_lock();
    sim_ensure();
    d = name && strncmp(name, "msi", 3) == 0 ? sim_find(name) : NULL;
    if (!d || (d->kind != DEV_STATION && d->kind != DEV_BOARD)) {
        errno = ENOENT;
        r = sim_fail("no station named '%s'", name ? name : "(null)");
    } else if (d->open) {
        errno = EBUSY;
        r = sim_fail("%s is already open", name);
    } else {
        d->open = 1;
        dev_ok(d);
        r = (int)sim_handle(d);
    }
    sim_unlock();
    return r;
}

int ms_close(int dev)
{
    device *d;
    int r = -1;
    sim_lock();
    d = sim_dev(dev);
    if (d && (d->kind == DEV_STATION || d->kind == DEV_BOARD)) {
        if (d->kind == DEV_STATION) {
            d->station->ring_cycles = 0;
            d->station->sigmask = 0;
            d->station->tone_id = 0;
            bus_release_device(d);
        }
        d->open = 0;
        r = 0;
    } else {
        sim_fail("ms_close: %d is not an open station", dev);
    }
    sim_unlock();
    return r;
}

int ms_genringex(int dev, unsigned short cycles, unsigned short mode, unsigned short cadid)
{
    device *d;
    station *s;
    int r = -1;
    sim_lock();
    d = st_dev(dev);
    if (!d)
        goto out;
    s = d->station;
    if (s->offhook) {
        dev_err(d, E_MSOFFHOOK, "%s is off-hook: it cannot ring", d->name);
        goto out;
    }
    if (s->ring_cycles) {
        dev_err(d, E_MSBUSY, "%s is already ringing", d->name);
        goto out;
    }
    if (cycles < 1 || cadid > MS_RNG_CHINA) {
        dev_err(d, E_MSBADPARM, "ring cycles must be >= 1 and cadence id 0..2");
        goto out;
    }
    s->ring_on2_ms = 0;
    switch (cadid) {
    case MS_RNG_SHORT: s->ring_on_ms = 800; s->ring_off_ms = 400; s->ring_on2_ms = 4800; break;
    case MS_RNG_CHINA: s->ring_on_ms = 1000; s->ring_off_ms = 4000; break;
    default: s->ring_on_ms = 2000; s->ring_off_ms = 4000; break;
    }
    s->ring_cycles = cycles;
    s->ring_ms = 0;
    s->ringing_async = (mode & EV_ASYNC) != 0;
    s->fe.state = SIMFAR_ST_RINGING;
    dev_ok(d);
    r = 0;
out:
    sim_unlock();
    return r;
}

int ms_genring(int dev, unsigned short cycles, unsigned short mode)
{
    return ms_genringex(dev, cycles, mode, MS_RNG_DEFAULT);
}

int ms_stopfn(int dev, unsigned long function)
{
    device *d;
    int r = -1;
    sim_lock();
    d = st_dev(dev);
    if (d) {
        if (function != MTF_RING)
            r = dev_err(d, E_MSBADPARM, "only MTF_RING can be stopped");
        else {
            stop_ring(d->station, MSEV_NORING);
            if (!d->station->offhook)
                d->station->fe.state = SIMFAR_ST_IDLE;
            dev_ok(d);
            r = 0;
        }
    }
    sim_unlock();
    return r;
}

int ms_setevtmsk(int dev, unsigned long event, unsigned short bitmask, int action)
{
    device *d;
    int r = -1;
    sim_lock();
    d = st_dev(dev);
    if (d) {
        station *s = d->station;
        if (event != MSEV_SIGMSK)
            r = dev_err(d, E_MSBADPARM, "event type %lu: only MSEV_SIGMSK", event);
        else if (action < DTA_SETMSK || action > DTA_SUBMSK)
            r = dev_err(d, E_MSBADPARM, "action %d is not DTA_SETMSK/ADDMSK/SUBMSK", action);
        else {
            s->sigmask = action == DTA_ADDMSK ? s->sigmask | bitmask :
                         action == DTA_SUBMSK ? s->sigmask & ~bitmask : bitmask;
            dev_ok(d);
            r = 0;
        }
    }
    sim_unlock();
    return r;
}

long ATMS_TSSGBIT(int dev)
{
    device *d;
    long r = -1;
    sim_lock();
    d = st_dev(dev);
    if (d)
        r = d->station->offhook ? MS_OFFHOOK : MS_ONHOOK;
    sim_unlock();
    return r;
}

int ms_settone(int dev, int tone)
{
    device *d;
    int r = -1;
    static const int map[] = {CTI_TONE_NONE, CTI_TONE_DIAL, CTI_TONE_RINGBACK,
                              CTI_TONE_BUSY, CTI_TONE_REORDER};
    sim_lock();
    d = st_dev(dev);
    if (d) {
        station *s = d->station;
        if (tone < MS_TONE_NONE || tone > MS_TONE_REORDER) {
            r = dev_err(d, E_MSBADPARM, "tone %d: use MS_TONE_NONE..MS_TONE_REORDER", tone);
        } else {
            s->tone_id = tone;
            if (tone)
                cti_tone_tx_start(s->tone, CTI_TONESET_NA, map[tone], -13);
            else
                cti_tone_tx_stop(s->tone);
            dev_ok(d);
            r = 0;
        }
    }
    sim_unlock();
    return r;
}

#define ST_BUS(fn, call) \
    int fn \
    { \
        device *d; \
        int r = -1; \
        sim_lock(); \
        d = st_dev(dev); \
        if (d) \
            r = (call); \
        sim_unlock(); \
        return r; \
    }

ST_BUS(ms_getxmitslot(int dev, SC_TSINFO *ts), bus_getxmitslot(d, ts))
ST_BUS(ms_listen(int dev, SC_TSINFO *ts), bus_listen(d, ts, E_MSBADPARM, E_MSBUSY))
ST_BUS(ms_unlisten(int dev), bus_unlisten(d))

int ms_getctinfo(int dev, CT_DEVINFO *info)
{
    device *d;
    int r = -1;
    sim_lock();
    d = st_dev(dev);
    if (d && info) {
        memset(info, 0, sizeof *info);
        info->ct_prodid = 0x43544953;
        info->ct_devfamily = CT_DFMSI;
        info->ct_devmode = CT_DMNETWORK;
        info->ct_nettype = CT_NTMSI;
        info->ct_busmode = CT_BMH100;
        info->ct_busencoding = CT_BEULAW;
        dev_ok(d);
        r = 0;
    }
    sim_unlock();
    return r;
}

int station_status(device *d, char *buf, int max)
{
    station *s = d->station;
    static const char *tones[] = {"none", "dial", "ringback", "busy", "reorder"};
    return snprintf(buf, max, "kind=station hook=%s ringing=%d tone=%s",
                    s->offhook ? "off" : "on", s->ring_cycles > 0, tones[s->tone_id]);
}
