/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dcb.c - conference DSPs: mixing parties on the bus.
 *
 * Each DSP owns MAX_PARTIES_PER_DSP output timeslots, reserved when the
 * board is created and driven only while a party holds one.  Every tick
 * each party's output is the sum of the parties it may hear:
 *
 *   a party never hears itself;
 *   receive-only parties (MSPA_RO) are never heard;
 *   the coach (MSPA_COACH) is heard by the pupil (MSPA_PUPIL) alone.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define MAX_CONFS MAX_PARTIES_PER_DSP

typedef struct {
    int in;          /* the party's transmit slot: what it says */
    int attr;
    int out;         /* its output slot: what it hears */
} party;

typedef struct {
    int used;
    int attr;
    int nparties;
    party p[MAX_PARTIES_PER_DSP];
} conference;

typedef struct dcb {
    device *dev;
    int first_slot;                  /* output slots first_slot .. + MAX */
    int slot_used[MAX_PARTIES_PER_DSP];
    conference conf[MAX_CONFS];
} dcb;

struct dcb *dcb_new(device *d)
{
    dcb *c = calloc(1, sizeof *c);
    int i;
    if (!c)
        return NULL;
    c->dev = d;
    if (g_sim->next_slot + MAX_PARTIES_PER_DSP > SIMFAR_SLOTS) {
        free(c);
        sim_fail("the bus has no room for %d more conference outputs", MAX_PARTIES_PER_DSP);
        return NULL;
    }
    c->first_slot = g_sim->next_slot;
    for (i = 0; i < MAX_PARTIES_PER_DSP; i++)
        g_sim->slot_driver[g_sim->next_slot++] = d->index;
    return c;
}

void dcb_free(struct dcb *c) { free(c); }

int dcb_owns_slot(const device *d, int slot)
{
    const dcb *c = d->dcb;
    int i = slot - c->first_slot;
    return i >= 0 && i < MAX_PARTIES_PER_DSP && c->slot_used[i];
}

static int parties_total(const dcb *c)
{
    int i, n = 0;
    for (i = 0; i < MAX_PARTIES_PER_DSP; i++)
        n += c->slot_used[i];
    return n;
}

static int alloc_slot(dcb *c)
{
    int i;
    for (i = 0; i < MAX_PARTIES_PER_DSP; i++)
        if (!c->slot_used[i]) {
            c->slot_used[i] = 1;
            return c->first_slot + i;
        }
    return -1;
}

static void free_slot(dcb *c, int slot)
{
    int i;
    c->slot_used[slot - c->first_slot] = 0;
    memset(g_sim->bus[0][slot], IDLE_CODE, TICK);
    memset(g_sim->bus[1][slot], IDLE_CODE, TICK);
    for (i = 0; i < g_sim->ndevs; i++)
        if (g_sim->devs[i]->listen == slot)
            sim_misuse("%s: conference output %d released while %s listens to it",
                       c->dev->name, slot, g_sim->devs[i]->name);
}

static int hears(const party *listener, const party *talker)
{
    if (listener == talker || (talker->attr & MSPA_RO))
        return 0;
    if (talker->attr & MSPA_COACH)
        return (listener->attr & MSPA_PUPIL) != 0;
    return 1;
}

void dcb_tick(device *d)
{
    dcb *c = d->dcb;
    int k, i, j, s;
    for (k = 0; k < MAX_CONFS; k++) {
        conference *cf = &c->conf[k];
        int16_t in[MAX_PARTIES_PER_DSP][TICK];
        if (!cf->used)
            continue;
        for (i = 0; i < cf->nparties; i++)
            ulaw_to_linear(g_sim->bus[g_sim->cur][cf->p[i].in], in[i], TICK);
        for (i = 0; i < cf->nparties; i++) {
            int32_t acc[TICK] = {0};
            int16_t out[TICK];
            for (j = 0; j < cf->nparties; j++)
                if (hears(&cf->p[i], &cf->p[j]))
                    for (s = 0; s < TICK; s++)
                        acc[s] += in[j][s];
            for (s = 0; s < TICK; s++)
                out[s] = (int16_t)(acc[s] > 32767 ? 32767 : acc[s] < -32768 ? -32768 : acc[s]);
            linear_to_ulaw(out, sim_bus_out(cf->p[i].out), TICK);
        }
    }
}

void dcb_reset(device *d)
{
    dcb *c = d->dcb;
    int k, i;
    for (k = 0; k < MAX_CONFS; k++) {
        for (i = 0; i < c->conf[k].nparties; i++)
            free_slot(c, c->conf[k].p[i].out);
        memset(&c->conf[k], 0, sizeof c->conf[k]);
    }
}

/* ---- the dcb_ API -------------------------------------------------------*/

static device *dcb_dev(int dev)
{
    device *d = sim_dev(dev);
    if (d && d->kind != DEV_DCB) {
        dev_err(d, E_DCBBADDEV, "%s is not a conference DSP", d->name);
        return NULL;
    }
    return d;
}

static conference *conf_of(device *d, int confid)
{
    if (confid < 1 || confid > MAX_CONFS || !d->dcb->conf[confid - 1].used) {
        dev_err(d, E_DCBBADCONF, "no conference %d on %s", confid, d->name);
        return NULL;
    }
    return &d->dcb->conf[confid - 1];
}

static party *party_of(device *d, conference *cf, int slot)
{
    int i;
    for (i = 0; i < cf->nparties; i++)
        if (cf->p[i].in == slot)
            return &cf->p[i];
    dev_err(d, E_DCBNOPARTY, "no party transmitting on timeslot %d", slot);
    return NULL;
}

/* Check a new party (or a changed attribute) against the conference. */
static int check_party(device *d, conference *cf, const MS_CDT *cdt, const party *self)
{
    int i, attr = cdt->chan_attr;
    if (cdt->chan_sel != MSPN_TS)
        return dev_err(d, E_DCBBADPARM, "chan_sel %d: parties are bus timeslots (MSPN_TS)",
                       cdt->chan_sel);
    if (cdt->chan_num < 0 || cdt->chan_num >= SIMFAR_SLOTS ||
        g_sim->slot_driver[cdt->chan_num] < 0)
        return dev_err(d, E_DCBBADPARM, "timeslot %d is not driven by any device",
                       cdt->chan_num);
    if (attr & ~(MSPA_RO | MSPA_TARIFF | MSPA_COACH | MSPA_PUPIL | MSPA_NOAGC))
        return dev_err(d, E_DCBBADATTR, "party attributes 0x%x are unknown", attr);
    if ((attr & MSPA_COACH) && (attr & (MSPA_PUPIL | MSPA_RO)))
        return dev_err(d, E_DCBBADATTR, "a coach cannot also be pupil or receive-only");
    for (i = 0; i < cf->nparties; i++) {
        const party *p = &cf->p[i];
        if (p == self)
            continue;
        if (!self && p->in == cdt->chan_num)
            return dev_err(d, E_DCBBADPARM, "timeslot %d is already a party", cdt->chan_num);
        if ((attr & MSPA_COACH) && (p->attr & MSPA_COACH))
            return dev_err(d, E_DCBBADATTR, "the conference already has a coach");
        if ((attr & MSPA_PUPIL) && (p->attr & MSPA_PUPIL))
            return dev_err(d, E_DCBBADATTR, "the conference already has a pupil");
    }
    return 0;
}

static int add_party(device *d, conference *cf, MS_CDT *cdt)
{
    party *p;
    if (check_party(d, cf, cdt, NULL) < 0)
        return -1;
    if (parties_total(d->dcb) >= MAX_PARTIES_PER_DSP)
        return dev_err(d, E_DCBNOROOM, "%s has no room for another party (%d in use)",
                       d->name, MAX_PARTIES_PER_DSP);
    p = &cf->p[cf->nparties++];
    p->in = cdt->chan_num;
    p->attr = cdt->chan_attr;
    p->out = alloc_slot(d->dcb);
    cdt->chan_attr = p->out;       /* the vendor's convention: the listen slot */
    return 0;
}

static void remove_party(device *d, conference *cf, party *p)
{
    free_slot(d->dcb, p->out);
    memmove(p, p + 1, (cf->p + cf->nparties - p - 1) * sizeof *p);
    cf->nparties--;
}

int dcb_open(const char *name, int oflags)
{
    device *d;
    int r;
    (void)oflags;
    sim_lock();
    sim_ensure();
    d = name && strncmp(name, "dcb", 3) == 0 ? sim_find(name) : NULL;
    if (!d || (d->kind != DEV_DCB && d->kind != DEV_BOARD)) {
        errno = ENOENT;
        r = sim_fail("no conference device named '%s'", name ? name : "(null)");
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

int dcb_close(int dev)
{
    device *d;
    int r = -1;
    sim_lock();
    d = sim_dev(dev);
    if (d && (d->kind == DEV_DCB || d->kind == DEV_BOARD)) {
        if (d->kind == DEV_DCB)
            dcb_reset(d);
        d->open = 0;
        r = 0;
    } else {
        sim_fail("dcb_close: %d is not an open conference device", dev);
    }
    sim_unlock();
    return r;
}

int dcb_estconf(int dev, MS_CDT *cdt, int numpty, int confattr, int *confid)
{
    device *d;
    int r = -1, k, i;
    sim_lock();
    d = dcb_dev(dev);
    if (!d)
        goto out;
    if (!cdt || !confid || numpty < 1 || numpty > MAX_PARTIES_PER_DSP) {
        dev_err(d, E_DCBBADPARM, "dcb_estconf needs 1..%d parties and a confid pointer",
                MAX_PARTIES_PER_DSP);
        goto out;
    }
    if (numpty > MAX_PARTIES_PER_DSP - parties_total(d->dcb)) {
        dev_err(d, E_DCBNOROOM, "%s has room for %d more parties, not %d", d->name,
                MAX_PARTIES_PER_DSP - parties_total(d->dcb), numpty);
        goto out;
    }
    for (k = 0; k < MAX_CONFS && d->dcb->conf[k].used; k++)
        ;
    if (k == MAX_CONFS) {
        dev_err(d, E_DCBNOROOM, "%s has no free conference", d->name);
        goto out;
    }
    d->dcb->conf[k].used = 1;
    d->dcb->conf[k].attr = confattr;
    for (i = 0; i < numpty; i++)
        if (add_party(d, &d->dcb->conf[k], &cdt[i]) < 0) {
            long err = d->lasterr;
            char msg[160];
            snprintf(msg, sizeof msg, "party %d: %s", i + 1, d->errmsg);
            while (d->dcb->conf[k].nparties)
                remove_party(d, &d->dcb->conf[k], &d->dcb->conf[k].p[0]);
            memset(&d->dcb->conf[k], 0, sizeof d->dcb->conf[k]);
            dev_err(d, err, "%s", msg);
            goto out;
        }
    *confid = k + 1;
    dev_ok(d);
    r = 0;
out:
    sim_unlock();
    return r;
}

int dcb_addtoconf(int dev, int confid, MS_CDT *cdt)
{
    device *d;
    conference *cf;
    int r = -1;
    sim_lock();
    d = dcb_dev(dev);
    if (d && (cf = conf_of(d, confid)) != NULL) {
        if (!cdt)
            dev_err(d, E_DCBBADPARM, "no MS_CDT given");
        else if (add_party(d, cf, cdt) == 0) {
            dev_ok(d);
            r = 0;
        }
    }
    sim_unlock();
    return r;
}

int dcb_remfromconf(int dev, int confid, MS_CDT *cdt)
{
    device *d;
    conference *cf;
    party *p;
    int r = -1;
    sim_lock();
    d = dcb_dev(dev);
    if (d && (cf = conf_of(d, confid)) != NULL && cdt &&
        (p = party_of(d, cf, cdt->chan_num)) != NULL) {
        remove_party(d, cf, p);
        if (cf->nparties == 0)
            memset(cf, 0, sizeof *cf);   /* the last party out ends it */
        dev_ok(d);
        r = 0;
    }
    sim_unlock();
    return r;
}

int dcb_delconf(int dev, int confid)
{
    device *d;
    conference *cf;
    int r = -1;
    sim_lock();
    d = dcb_dev(dev);
    if (d && (cf = conf_of(d, confid)) != NULL) {
        while (cf->nparties)
            remove_party(d, cf, &cf->p[0]);
        memset(cf, 0, sizeof *cf);
        dev_ok(d);
        r = 0;
    }
    sim_unlock();
    return r;
}

int dcb_getcde(int dev, int confid, MS_CDT *cdt)
{
    device *d;
    conference *cf;
    party *p;
    int r = -1;
    sim_lock();
    d = dcb_dev(dev);
    if (d && (cf = conf_of(d, confid)) != NULL && cdt &&
        (p = party_of(d, cf, cdt->chan_num)) != NULL) {
        cdt->chan_attr = p->attr;
        dev_ok(d);
        r = 0;
    }
    sim_unlock();
    return r;
}

int dcb_setcde(int dev, int confid, MS_CDT *cdt)
{
    device *d;
    conference *cf;
    party *p;
    int r = -1;
    sim_lock();
    d = dcb_dev(dev);
    if (d && (cf = conf_of(d, confid)) != NULL && cdt &&
        (p = party_of(d, cf, cdt->chan_num)) != NULL && check_party(d, cf, cdt, p) == 0) {
        p->attr = cdt->chan_attr;
        dev_ok(d);
        r = 0;
    }
    sim_unlock();
    return r;
}

int dcb_getcnflist(int dev, int confid, int *numpty, MS_CDT *cdt)
{
    device *d;
    conference *cf;
    int r = -1, i;
    sim_lock();
    d = dcb_dev(dev);
    if (d && (cf = conf_of(d, confid)) != NULL) {
        if (!numpty || !cdt) {
            dev_err(d, E_DCBBADPARM, "numpty and an MS_CDT array of %d are needed",
                    MAX_PARTIES_PER_DSP);
        } else {
            *numpty = cf->nparties;
            for (i = 0; i < cf->nparties; i++) {
                cdt[i].chan_num = cf->p[i].in;
                cdt[i].chan_sel = MSPN_TS;
                cdt[i].chan_attr = cf->p[i].attr;
            }
            dev_ok(d);
            r = 0;
        }
    }
    sim_unlock();
    return r;
}

int dcb_dsprescount(int dev, int *count)
{
    device *d;
    int r = -1;
    sim_lock();
    d = dcb_dev(dev);
    if (d && count) {
        *count = MAX_PARTIES_PER_DSP - parties_total(d->dcb);
        dev_ok(d);
        r = 0;
    }
    sim_unlock();
    return r;
}

int dcb_status(device *d, char *buf, int max)
{
    int k, n = 0;
    for (k = 0; k < MAX_CONFS; k++)
        n += d->dcb->conf[k].used;
    return snprintf(buf, max, "kind=dcb conferences=%d parties=%d free=%d out_slots=%d-%d",
                    n, parties_total(d->dcb), MAX_PARTIES_PER_DSP - parties_total(d->dcb),
                    d->dcb->first_slot, d->dcb->first_slot + MAX_PARTIES_PER_DSP - 1);
}
