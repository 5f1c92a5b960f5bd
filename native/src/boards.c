/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * boards.c - building the simulated chassis, and per-device status.
 *
 * Boards are added in order and numbered per family, as the vendor's
 * drivers number them: voice boards "dxxxB1".."dxxxBn" (4 channels each;
 * an analog board of 8 lines is two virtual voice boards), spans "dtiB1"
 * (T1 or E1 alike),
 * station boards "msiB1", conference boards "dcbB1".  Each device takes
 * the next bus timeslot, so a configuration always yields the same map.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "t1.h"

#define CHANNELS_PER_VBOARD 4

static int entry(void)
{
    sim_lock();
    if (sim_ensure() < 0) {
        sim_unlock();
        return -1;
    }
    return 0;
}

static int add_voice(int channels, int lines, int tones)
{
    int b, c, first = g_sim->voice_boards + 1;
    if (channels < 1 || channels > 1024)
        return sim_fail("a board needs 1..1024 channels, not %d", channels);
    if (tones != 0 && tones != SIMFAR_TONES_NA && tones != SIMFAR_TONES_CN)
        return sim_fail("tone set %d: use SIMFAR_TONES_NA or SIMFAR_TONES_CN", tones);
    for (b = 0; b * CHANNELS_PER_VBOARD < channels; b++) {
        int n = channels - b * CHANNELS_PER_VBOARD;
        char name[24];
        device *bd;
        int bno = ++g_sim->voice_boards;
        n = n > CHANNELS_PER_VBOARD ? CHANNELS_PER_VBOARD : n;
        snprintf(name, sizeof name, "dxxxB%d", bno);
        if (!(bd = sim_add_device(DEV_BOARD, name, bno, 0)))
            return -1;
        bd->subdevs = n;
        for (c = 1; c <= n; c++) {
            device *v, *l;
            snprintf(name, sizeof name, "dxxxB%dC%d", bno, c);
            if (!(v = sim_add_device(DEV_VOICE, name, bno, 1)))
                return -1;
            v->voice = voice_new(v);
            if (!lines)
                continue;
            snprintf(name, sizeof name, "agB%dC%d", bno, c);
            if (!(l = sim_add_device(DEV_LINE, name, bno, 1)))
                return -1;
            l->line = line_new(l, v, tones);
            voice_pair_line(v, l);
            /* the board's power-on routing: channel and line hear each other */
            v->listen = l->txslot;
            l->listen = v->txslot;
        }
    }
    return first;
}

int simfar_add_voice_board(int channels)
{
    int r;
    if (entry() < 0)
        return -1;
    r = add_voice(channels, 0, 0);
    sim_unlock();
    return r;
}

int simfar_add_analog_board(int lines, int tones)
{
    int r;
    if (entry() < 0)
        return -1;
    r = add_voice(lines, 1, tones ? tones : SIMFAR_TONES_NA);
    sim_unlock();
    return r;
}

/* Span "dtiBn", its bearer timeslots "dtiBnT1".., and its D-channel
 * "dtiBnD" if it has one (t1.h says how they are numbered). */
static int add_span(int e1, int signalling, int tones)
{
    int r, t;
    char name[24];
    device *sd;
    r = ++g_sim->dti_boards;
    snprintf(name, sizeof name, "dtiB%d", r);
    if (!(sd = sim_add_device(DEV_SPAN, name, r, 0)))
        return -1;
    if (!(sd->span = span_new(sd, e1, signalling, tones ? tones : SIMFAR_TONES_NA)))
        return sim_fail("out of memory");
    sd->subdevs = sd->span->nts;
    for (t = 1; t <= sd->span->nts; t++) {
        device *td;
        snprintf(name, sizeof name, "dtiB%dT%d", r, t);
        if (!(td = sim_add_device(DEV_TS, name, r, 1)))
            return -1;
        td->ts = tslot_new(td, sd, signalling, tones ? tones : SIMFAR_TONES_NA);
    }
    if (span_has_dchannel(signalling)) {
        device *dd;
        snprintf(name, sizeof name, "dtiB%dD", r);
        if (!(dd = sim_add_device(DEV_DCHAN, name, r, 0)))
            return -1;
        if (!(dd->dchan = dchan_new(dd, sd)))
            return sim_fail("out of memory");
        sd->span->dchan = dd;
    }
    return r;
}

int simfar_add_t1_span(int signalling, int tones)
{
    int r;
    if (entry() < 0)
        return -1;
    if (signalling != SIMFAR_SIG_EM_WINK && signalling != SIMFAR_SIG_LOOPSTART &&
        signalling != SIMFAR_SIG_PRI)
        r = sim_fail("T1 signalling %d: SIMFAR_SIG_EM_WINK, SIMFAR_SIG_LOOPSTART or "
                     "SIMFAR_SIG_PRI", signalling);
    else
        r = add_span(0, signalling, tones);
    sim_unlock();
    return r;
}

int simfar_add_e1_span(int signalling, int tones)
{
    int r;
    if (entry() < 0)
        return -1;
    if (signalling != SIMFAR_SIG_CAS && signalling != SIMFAR_SIG_CCS)
        r = sim_fail("E1 signalling %d: SIMFAR_SIG_CAS or SIMFAR_SIG_CCS", signalling);
    else
        r = add_span(1, signalling, tones);
    sim_unlock();
    return r;
}

int simfar_add_station_board(int stations)
{
    int r, c;
    char name[24];
    device *bd;
    if (entry() < 0)
        return -1;
    if (stations < 1 || stations > 4096) {
        sim_unlock();
        return sim_fail("a station board needs 1..4096 stations, not %d", stations);
    }
    r = ++g_sim->msi_boards;
    snprintf(name, sizeof name, "msiB%d", r);
    bd = sim_add_device(DEV_BOARD, name, r, 0);
    if (bd)
        bd->subdevs = stations;
    for (c = 1; bd && c <= stations; c++) {
        device *d;
        snprintf(name, sizeof name, "msiB%dC%d", r, c);
        if (!(d = sim_add_device(DEV_STATION, name, r, 1)))
            break;
        d->station = station_new(d);
    }
    sim_unlock();
    return bd && c > stations ? r : -1;
}

int simfar_add_dcb_board(int dsps)
{
    int r, k;
    char name[24];
    device *bd;
    if (entry() < 0)
        return -1;
    if (dsps < 1 || dsps > 16) {
        sim_unlock();
        return sim_fail("a conference board has 1..16 DSPs, not %d", dsps);
    }
    r = ++g_sim->dcb_boards;
    snprintf(name, sizeof name, "dcbB%d", r);
    bd = sim_add_device(DEV_BOARD, name, r, 0);
    if (bd)
        bd->subdevs = dsps;
    for (k = 1; bd && k <= dsps; k++) {
        device *d;
        snprintf(name, sizeof name, "dcbB%dD%d", r, k);
        if (!(d = sim_add_device(DEV_DCB, name, r, 0)))
            break;
        if (!(d->dcb = dcb_new(d)))
            break;
    }
    sim_unlock();
    return bd && k > dsps ? r : -1;
}

/* Make a voice channel's next operation hang (always = 0), or every one,
 * a reset or not (always = 1, a dead DSP; 2 ends that). */
static int hang(const char *devname, int always)
{
    device *d;
    int r = 0;
    sim_lock();
    d = sim_find(devname);
    if (!d || d->kind != DEV_VOICE)
        r = sim_fail("no voice channel named '%s'", devname ? devname : "(null)");
    else if (always)
        d->hang_always = always == 1;
    else
        d->hang_next = 1;
    sim_unlock();
    return r;
}

int simfar_hang_next(const char *devname)
{
    return hang(devname, 0);
}

int simfar_hang_always(const char *devname, int on)
{
    return hang(devname, on ? 1 : 2);
}

int line_status(device *d, char *buf, int max)
{
    static const char *st[] = {"idle", "ringing", "seized", "connected", "clearing"};
    farend *fe = line_farend(d->line);
    int bits = line_status_bits(d->line);
    return snprintf(buf, max, "kind=line hook=%s loop_current=%d ringing=%d reversed=%d far=%s",
                    line_hook(d->line) == DX_OFFHOOK ? "off" : "on",
                    !!(bits & RLS_LCSENSE), !!(bits & RLS_RING), !!(bits & RLS_POLARITY),
                    st[fe->state]);
}

int status_line(device *d, char *buf, int max)
{
    char body[320];
    switch (d->kind) {
    case DEV_VOICE: voice_status(d, body, sizeof body); break;
    case DEV_LINE: line_status(d, body, sizeof body); break;
    case DEV_SPAN: span_status(d, body, sizeof body); break;
    case DEV_TS: tslot_status(d, body, sizeof body); break;
    case DEV_STATION: station_status(d, body, sizeof body); break;
    case DEV_DCB: dcb_status(d, body, sizeof body); break;
    case DEV_DCHAN: dchan_status(d, body, sizeof body); break;
    default: snprintf(body, sizeof body, "kind=board channels=%d", d->subdevs); break;
    }
    return snprintf(buf, max, "%s open=%d tx=%d listen=%d", body, d->open, d->txslot,
                    d->listen);
}
