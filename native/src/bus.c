/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bus.c - the CT-Bus as every device family sees it, and bus diagnostics.
 *
 * A device's transmit slot is fixed when its board is created; listening
 * is the application's choice and follows the hardware's rules, which the
 * simulator enforces loudly instead of leaving a silent call:
 *   - listening to a slot no device drives fails (EDX_SH_BADEXTTS);
 *   - listening again without unlistening first fails (EDX_SH_LISTEN);
 *   - closing a device that others listen to is recorded as misuse (they
 *     keep hearing its idle code), readable with simfar_misuse().
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "sim.h"

/* The bus's mu-law and an E1 line's A-law, table driven for speed; the
 * tables are filled from the reference codec (codec.c), so they are
 * bit-exact to it by construction.  Transcoding decodes one law and
 * encodes the other, as G.711's conversion tables do within a step. */
static int16_t ulaw_decode[256], alaw_decode[256];
static uint8_t ulaw_encode[65536], alaw_encode[65536];
static uint8_t ulaw_of_alaw[256], alaw_of_ulaw[256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void build_tables(void)
{
    int i;
    for (i = 0; i < 256; i++) {
        ulaw_decode[i] = cti_ulaw2linear((uint8_t)i);
        alaw_decode[i] = cti_alaw2linear((uint8_t)i);
    }
    for (i = 0; i < 65536; i++) {
        ulaw_encode[i] = cti_linear2ulaw((int16_t)(i - 32768));
        alaw_encode[i] = cti_linear2alaw((int16_t)(i - 32768));
    }
    for (i = 0; i < 256; i++) {
        ulaw_of_alaw[i] = ulaw_encode[alaw_decode[i] + 32768];
        alaw_of_ulaw[i] = alaw_encode[ulaw_decode[i] + 32768];
    }
}

void bus_init_tables(void)
{
    pthread_once(&tables_once, build_tables);
}

void ulaw_to_linear(const uint8_t *in, int16_t *out, int n)
{
    int i;
    for (i = 0; i < n; i++)
        out[i] = ulaw_decode[in[i]];
}

void linear_to_ulaw(const int16_t *in, uint8_t *out, int n)
{
    int i;
    for (i = 0; i < n; i++)
        out[i] = ulaw_encode[in[i] + 32768];
}

void alaw_to_linear(const uint8_t *in, int16_t *out, int n)
{
    int i;
    for (i = 0; i < n; i++)
        out[i] = alaw_decode[in[i]];
}

void linear_to_alaw(const int16_t *in, uint8_t *out, int n)
{
    int i;
    for (i = 0; i < n; i++)
        out[i] = alaw_encode[in[i] + 32768];
}

void ulaw_to_alaw(const uint8_t *in, uint8_t *out, int n)
{
    int i;
    for (i = 0; i < n; i++)
        out[i] = alaw_of_ulaw[in[i]];
}

void alaw_to_ulaw(const uint8_t *in, uint8_t *out, int n)
{
    int i;
    for (i = 0; i < n; i++)
        out[i] = ulaw_of_alaw[in[i]];
}

static int slot_driven(int slot)
{
    int i = g_sim->slot_driver[slot];
    if (i < 0)
        return 0;
    if (g_sim->devs[i]->kind == DEV_DCB)
        return dcb_owns_slot(g_sim->devs[i], slot);
    return 1;
}

int bus_getxmitslot(device *d, SC_TSINFO *ts)
{
    if (!ts || !ts->sc_tsarrayp)
        return dev_err(d, EDX_BADPARM, "no SC_TSINFO or timeslot array given");
    if (d->txslot < 0)
        return dev_err(d, EDX_BADDEV, "%s does not transmit on the bus", d->name);
    ts->sc_numts = 1;
    ts->sc_tsarrayp[0] = d->txslot;
    dev_ok(d);
    return 0;
}

int bus_listen(device *d, SC_TSINFO *ts, long err_notdriven, long err_listening)
{
    long slot;
    if (!ts || !ts->sc_tsarrayp || ts->sc_numts != 1)
        return dev_err(d, EDX_BADPARM, "SC_TSINFO must name exactly one timeslot");
    slot = ts->sc_tsarrayp[0];
    if (slot < 0 || slot >= SIMFAR_SLOTS)
        return dev_err(d, err_notdriven, "timeslot %ld is outside the bus (0..%d)",
                       slot, SIMFAR_SLOTS - 1);
    if (!slot_driven((int)slot)) {
        sim_misuse("%s: listen to timeslot %ld, which no device drives", d->name, slot);
        return dev_err(d, err_notdriven, "timeslot %ld is not driven by any device", slot);
    }
    if (d->listen >= 0 && d->listen != slot) {
        sim_misuse("%s: listen to %ld while still listening to %d", d->name, slot, d->listen);
        return dev_err(d, err_listening,
                       "already listening to timeslot %d: unlisten first", d->listen);
    }
    d->listen = (int)slot;
    dev_ok(d);
    return 0;
}

int bus_unlisten(device *d)
{
    d->listen = -1;
    dev_ok(d);
    return 0;
}

void bus_release_device(device *d)
{
    int i;
    if (d->txslot < 0)
        return;
    for (i = 0; i < g_sim->ndevs; i++) {
        device *o = g_sim->devs[i];
        if (o != d && o->listen == d->txslot)
            sim_misuse("%s closed while %s listens to its timeslot %d",
                       d->name, o->name, d->txslot);
    }
}

/* ---- diagnostics --------------------------------------------------------*/

int simfar_slot_capture(int slot, int on)
{
    int r = 0;
    sim_lock();
    if (sim_ensure() < 0 || slot < 0 || slot >= SIMFAR_SLOTS) {
        r = sim_fail("timeslot %d is outside the bus", slot);
    } else {
        g_sim->slot_capture[slot] = on;
        fifo_clear(&g_sim->slot_fifo[slot]);
    }
    sim_unlock();
    return r;
}

int simfar_slot_capture_read(int slot, int16_t *buf, int max)
{
    int r;
    sim_lock();
    if (!g_sim || slot < 0 || slot >= SIMFAR_SLOTS || max < 0)
        r = sim_fail("timeslot %d is outside the bus", slot);
    else
        r = (int)fifo_pop(&g_sim->slot_fifo[slot], buf, max);
    sim_unlock();
    return r;
}

int simfar_slot_driver(int slot, char *name, int max)
{
    int r = 0;
    sim_lock();
    if (!g_sim || slot < 0 || slot >= SIMFAR_SLOTS || max < 1)
        r = sim_fail("timeslot %d is outside the bus", slot);
    else if (!slot_driven(slot))
        name[0] = 0;
    else
        snprintf(name, max, "%s", g_sim->devs[g_sim->slot_driver[slot]]->name);
    sim_unlock();
    return r;
}

int simfar_slot_listeners(int slot, char *buf, int max)
{
    int i, n = 0;
    sim_lock();
    if (!g_sim || slot < 0 || slot >= SIMFAR_SLOTS || max < 1) {
        sim_unlock();
        return sim_fail("timeslot %d is outside the bus", slot);
    }
    buf[0] = 0;
    for (i = 0; i < g_sim->ndevs; i++) {
        device *d = g_sim->devs[i];
        if (d->listen == slot) {
            size_t used = strlen(buf);
            snprintf(buf + used, max - used, "%s%s", n ? "," : "", d->name);
            n++;
        }
    }
    sim_unlock();
    return n;
}

int simfar_misuse(char *buf, int max)
{
    int n;
    sim_lock();
    if (!g_sim || max < 1) {
        sim_unlock();
        return sim_fail("no simulation or no room");
    }
    snprintf(buf, max, "%s", g_sim->misuse);
    n = (int)strlen(buf);
    g_sim->misuse[0] = 0;
    sim_unlock();
    return n;
}

int simfar_device_count(void)
{
    int n;
    sim_lock();
    n = g_sim ? g_sim->ndevs : 0;
    sim_unlock();
    return n;
}

int simfar_device_name(int i, char *name, int max)
{
    int r = 0;
    sim_lock();
    if (!g_sim || i < 0 || i >= g_sim->ndevs || max < 1)
        r = sim_fail("no device number %d", i);
    else
        snprintf(name, max, "%s", g_sim->devs[i]->name);
    sim_unlock();
    return r;
}

int simfar_device_status(const char *devname, char *buf, int max)
{
    int r;
    device *d;
    sim_lock();
    d = sim_find(devname);
    if (!d || max < 1)
        r = sim_fail("no device named '%s'", devname ? devname : "(null)");
    else
        r = status_line(d, buf, max);
    sim_unlock();
    return r;
}

uint8_t simfar_linear2ulaw(int16_t s) { return cti_linear2ulaw(s); }
int16_t simfar_ulaw2linear(uint8_t c) { return cti_ulaw2linear(c); }
uint8_t simfar_linear2alaw(int16_t s) { return cti_linear2alaw(s); }
int16_t simfar_alaw2linear(uint8_t c) { return cti_alaw2linear(c); }
