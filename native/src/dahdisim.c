/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dahdisim.c - the simulator's DAHDI personality (dahdisim.h says what it
 * is for).  What it answers, and where the kernel's behaviour comes from
 * (lines-real.md section 1):
 *
 *   open      "/dev/dahdi/channel" (then DAHDI_SPECIFY), "/dev/dahdi/ctl";
 *             anything else ENOENT
 *   ioctl     SPECIFY, GET/SET_BLOCKSIZE (16..DAHDI_MAX_BLOCKSIZE), SETLINEAR,
 *             SETLAW, GET_PARAMS (a channel's own; on ctl the one named by
 *             channo), HOOK, GETEVENT, SPANSTAT (spanno 0 on a channel: its
 *             span), CHANNO, FLUSH; an unknown request ENOTTY; a request
 *             the channel's signalling has no use for EINVAL (HOOK RING on an
 *             FXS-signalled port, SETTXBITS on an analog line)
 *   read      one block at most, in the channel's law or 16-bit linear;
 *             EAGAIN until a block is whole; ELAST while an event waits
 *   write     at most one block; EAGAIN when the transmit buffers are full;
 *             ELAST while an event waits
 *
 * An FXO port (fxsks): the far end's ring burst gives RINGOFFHOOK once the
 * ring trailer expires after it; the loop current dropping while we are off
 * hook gives ONHOOK (the kewl-start disconnect); battery reversal POLARITY.
 * Audio flows on hook too (caller ID between the rings reaches userspace,
 * as a real card's codec passes it).
 *
 * Each tick runs after the devices' (sim.c): a channel takes what its line
 * sent this tick, and puts what was written to it where the line hears it
 * next tick (the paired voice channel's transmit slot, the board's power-on
 * routing) - one tick of latency each way, as every hop in the simulator.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <dahdi/user.h>

#include "sim.h"
#include "dahdisim.h"

#define MAX_FDS 1024
#define RX_KEEP_BLOCKS 4         /* older audio is dropped, as an overrun would */
#define TX_BLOCKS 4              /* write() refuses more than this many blocks */
#define RING_TRAILER_MS 200      /* RINGOFFHOOK this long after a ring burst */
#define FXO_SIGCAP (DAHDI_SIG_FXSLS | DAHDI_SIG_FXSGS | DAHDI_SIG_FXSKS)

typedef struct dchannel {
    int channo, spanno, chanpos, sigtype;
    device *line;               /* the analog line behind the port */
    int txslot;                 /* where the line hears what we send */
    int opens;                  /* descriptors specified to it */
    int events[DAHDI_MAX_EVENTSIZE];
    int evhead, evlen;
    sample_fifo rx, tx;
    int ringing;
    long trailer_ms;
    int lc, reversed;
} dchannel;

typedef struct {
    int spanno, board, first, count;
} dspan;

typedef struct {
    int used, ctl, nonblock;
    dchannel *ch;               /* NULL until DAHDI_SPECIFY */
    int blocksize, linear, law;
} dfd;

static struct {
    sim *of;                    /* the simulation the map was made from */
    dchannel *chans;
    int nchans;
    dspan *spans;
    int nspans;
    dfd fds[MAX_FDS];
    int wakefd;
} P = { .wakefd = -1 };

/* ---- the map: spans and channels from the chassis ----------------------*/

static void forget(void)
{
    int i;
    for (i = 0; i < P.nchans; i++) {
        fifo_free(&P.chans[i].rx);
        fifo_free(&P.chans[i].tx);
    }
    free(P.chans);
    free(P.spans);
    P.chans = NULL;
    P.spans = NULL;
    P.nchans = P.nspans = 0;
    memset(P.fds, 0, sizeof P.fds);
    P.of = NULL;
}

void dahdisim_reset(void)
{
    forget();
}

static int build(void)
{
    int i, board = -1;
    if (P.of == g_sim && P.chans)
        return 0;
    forget();
    P.chans = calloc(g_sim->ndevs + 1, sizeof *P.chans);
    P.spans = calloc(g_sim->ndevs + 1, sizeof *P.spans);
    if (!P.chans || !P.spans)
        return -1;
    for (i = 0; i < g_sim->ndevs; i++) {
        device *d = g_sim->devs[i];
        dchannel *c;
        dspan *s;
        if (d->kind != DEV_LINE)
            continue;
        if (d->board != board) {
            board = d->board;
            s = &P.spans[P.nspans++];
            s->spanno = P.nspans;
            s->board = board;
            s->first = P.nchans + 1;
        }
        s = &P.spans[P.nspans - 1];
        c = &P.chans[P.nchans++];
        c->channo = P.nchans;
        c->spanno = s->spanno;
        c->chanpos = ++s->count;
        c->sigtype = DAHDI_SIG_FXSKS;
        c->line = d;
        c->txslot = d->listen;
        line_pass_onhook_audio(d->line, 1);
    }
    if (P.wakefd < 0)
        P.wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    P.of = g_sim;
    return 0;
}

static dchannel *channel(int channo)
{
    return channo >= 1 && channo <= P.nchans ? &P.chans[channo - 1] : NULL;
}

static dspan *span(int spanno)
{
    return spanno >= 1 && spanno <= P.nspans ? &P.spans[spanno - 1] : NULL;
}

/* ---- events and the wake descriptor ------------------------------------*/

static void queue_event(dchannel *c, int event)
{
    if (c->evlen == DAHDI_MAX_EVENTSIZE)
        return;                 /* the kernel drops it too */
    c->events[(c->evhead + c->evlen++) % DAHDI_MAX_EVENTSIZE] = event;
}

static int fail(int err);
static void update_wakefd(void);

int cti_dahdisim_queue_event(int channo, int event)
{
    dchannel *c;
    int r = 0;
    sim_lock();
    if (sim_ensure() < 0 || build() < 0 || !(c = channel(channo)))
        r = fail(ENXIO);
    else if (c->evlen == DAHDI_MAX_EVENTSIZE)
        r = fail(EBUSY);
    else
        queue_event(c, event);
    update_wakefd();
    sim_unlock();
    return r;
}

static int readable(const dfd *f)
{
    return f->ch && (f->ch->evlen > 0 || (int)f->ch->rx.len >= f->blocksize);
}

/* The eventfd reads as poll() on the open channels would. */
static void update_wakefd(void)
{
    uint64_t v = 1;
    int i;
    for (i = 0; i < MAX_FDS; i++)
        if (P.fds[i].used && readable(&P.fds[i])) {
            if (write(P.wakefd, &v, sizeof v) < 0 && errno != EAGAIN)
                return;
            return;
        }
    if (read(P.wakefd, &v, sizeof v) < 0 && errno != EAGAIN)
        return;
}

int cti_dahdi_wakefd(void)
{
    int fd;
    sim_lock();
    fd = sim_ensure() < 0 || build() < 0 ? -1 : P.wakefd;
    sim_unlock();
    return fd;
}

/* ---- the tick ----------------------------------------------------------*/

static void channel_tick(dchannel *c)
{
    device *d = c->line;
    int bits = line_status_bits(d->line), offhook = line_hook(d->line) == DX_OFFHOOK;
    int ring = !!(bits & RLS_RING), lc = !!(bits & RLS_LCSENSE);
    int reversed = !!(bits & RLS_POLARITY);
    int16_t lin[TICK];
    size_t n;
    if (ring && !c->ringing)
        c->trailer_ms = 0;
    else if (!ring && c->ringing)
        c->trailer_ms = RING_TRAILER_MS;
    c->ringing = ring;
    if (c->trailer_ms > 0 && (c->trailer_ms -= TICK_MS) <= 0 && !offhook)
        queue_event(c, DAHDI_EVENT_RINGOFFHOOK);
    if (offhook && c->lc && !lc)
        queue_event(c, DAHDI_EVENT_ONHOOK);
    if (reversed != c->reversed)
        queue_event(c, DAHDI_EVENT_POLARITY);
    c->lc = lc;
    c->reversed = reversed;
    /* what the line sent this tick (idle code while it sleeps) */
    ulaw_to_linear(sim_bus_out(d->txslot), lin, TICK);
    fifo_push(&c->rx, lin, TICK);
    while (c->rx.len > (size_t)RX_KEEP_BLOCKS * DAHDI_MAX_BLOCKSIZE / 8) {
        int16_t drop[TICK];
        fifo_pop(&c->rx, drop, TICK);
    }
    n = fifo_pop(&c->tx, lin, TICK);
    memset(lin + n, 0, (TICK - n) * sizeof *lin);
    linear_to_ulaw(lin, sim_bus_out(c->txslot), TICK);
}

void dahdisim_tick(void)
{
    int i;
    if (P.of != g_sim || !P.chans)
        return;
    for (i = 0; i < P.nchans; i++)
        if (P.chans[i].opens > 0)
            channel_tick(&P.chans[i]);
    update_wakefd();
}

/* ---- open and close ----------------------------------------------------*/

static int fail(int err)
{
    errno = err;
    return -1;
}

static dfd *fd_of(int fd)
{
    return fd >= 0 && fd < MAX_FDS && P.fds[fd].used ? &P.fds[fd] : NULL;
}

int cti_dahdi_open(const char *path, int flags)
{
    int ctl = strcmp(path, "/dev/dahdi/ctl") == 0, fd;
    if (!ctl && strcmp(path, "/dev/dahdi/channel") != 0)
        return fail(ENOENT);
    sim_lock();
    if (sim_ensure() < 0 || build() < 0) {
        sim_unlock();
        return fail(ENOMEM);
    }
    for (fd = 0; fd < MAX_FDS && P.fds[fd].used; fd++)
        ;
    if (fd == MAX_FDS) {
        sim_unlock();
        return fail(EMFILE);
    }
    memset(&P.fds[fd], 0, sizeof P.fds[fd]);
    P.fds[fd].used = 1;
    P.fds[fd].ctl = ctl;
    P.fds[fd].nonblock = !!(flags & O_NONBLOCK);
    P.fds[fd].blocksize = DAHDI_DEFAULT_BLOCKSIZE;
    sim_unlock();
    return fd;
}

static void release(dchannel *c)
{
    if (--c->opens > 0)
        return;
    /* the last close: the port goes on hook and forgets its buffers */
    line_set_hook(c->line->line, 0);
    fifo_clear(&c->rx);
    fifo_clear(&c->tx);
    c->evlen = 0;
}

int cti_dahdi_close(int fd)
{
    dfd *f;
    sim_lock();
    if (!(f = fd_of(fd))) {
        sim_unlock();
        return fail(EBADF);
    }
    if (f->ch)
        release(f->ch);
    f->used = 0;
    update_wakefd();
    sim_unlock();
    return 0;
}

/* ---- ioctl -------------------------------------------------------------*/

static void fill_params(const dchannel *c, struct dahdi_params *p)
{
    memset(p, 0, sizeof *p);
    p->channo = c->channo;
    p->spanno = c->spanno;
    p->chanpos = c->chanpos;
    p->sigtype = c->sigtype;
    p->sigcap = FXO_SIGCAP;
    p->rxisoffhook = c->ringing;
    p->rxbits = p->txbits = -1;            /* no robbed bits on an analog span */
    p->txhooksig = line_hook(c->line->line) == DX_OFFHOOK;
    p->rxhooksig = c->ringing;
    p->curlaw = DAHDI_LAW_MULAW;
    snprintf(p->name, sizeof p->name, "SIMAN/%d/%d", c->spanno, c->chanpos);
    p->prewinktime = 50;
    p->preflashtime = 50;
    p->winktime = 150;
    p->flashtime = 750;
    p->starttime = 1500;
    p->rxwinktime = 300;
    p->rxflashtime = 1250;
    p->debouncetime = 600;
    p->pulsebreaktime = 50;
    p->pulsemaketime = 50;
    p->pulseaftertime = 750;
}

static void fill_spaninfo(const dspan *s, struct dahdi_spaninfo *si)
{
    memset(si, 0, sizeof *si);
    si->spanno = s->spanno;
    snprintf(si->name, sizeof si->name, "SIMAN/%d", s->spanno);
    snprintf(si->desc, sizeof si->desc, "cti simulator analog board %d", s->board);
    si->numchans = si->totalchans = s->count;
    si->totalspans = P.nspans;
    snprintf(si->location, sizeof si->location, "simulator");
    snprintf(si->manufacturer, sizeof si->manufacturer, "cti");
    snprintf(si->devicetype, sizeof si->devicetype, "simulated FXO ports");
}

static int hook(dchannel *c, int how)
{
    switch (how) {
    case DAHDI_OFFHOOK:
    case DAHDI_ONHOOK:
        sim_wake(c->line);
        line_set_hook(c->line->line, how == DAHDI_OFFHOOK);
        c->lc = how == DAHDI_OFFHOOK;
        return 0;
    default:                    /* RING, WINK... are not for an FXO port here */
        return fail(EINVAL);
    }
}

static int channel_ioctl(dfd *f, unsigned long request, void *arg)
{
    dchannel *c = f->ch;
    int v = arg ? *(int *)arg : 0;
    switch (request) {
    case DAHDI_GET_BLOCKSIZE:
        *(int *)arg = f->blocksize;
        return 0;
    case DAHDI_SET_BLOCKSIZE:
        if (v < 16 || v > DAHDI_MAX_BLOCKSIZE)
            return fail(EINVAL);
        f->blocksize = v;
        return 0;
    case DAHDI_SETLINEAR:
        f->linear = !!v;
        return 0;
    case DAHDI_SETLAW:
        if (v < DAHDI_LAW_DEFAULT || v > DAHDI_LAW_ALAW)
            return fail(EINVAL);
        f->law = v;
        return 0;
    case DAHDI_CHANNO:
        *(int *)arg = c->channo;
        return 0;
    case DAHDI_GET_PARAMS:
        fill_params(c, arg);
        return 0;
    case DAHDI_SPANSTAT: {
        struct dahdi_spaninfo *si = arg;
        const dspan *s = span(si->spanno ? si->spanno : c->spanno);
        if (!s)
            return fail(EINVAL);
        fill_spaninfo(s, si);
        return 0;
    }
    case DAHDI_HOOK:
        return hook(c, v);
    case DAHDI_GETEVENT:
        if (c->evlen == 0) {
            *(int *)arg = DAHDI_EVENT_NONE;
            return 0;
        }
        *(int *)arg = c->events[c->evhead];
        c->evhead = (c->evhead + 1) % DAHDI_MAX_EVENTSIZE;
        c->evlen--;
        return 0;
    case DAHDI_FLUSH:
        if (v & DAHDI_FLUSH_READ)
            fifo_clear(&c->rx);
        if (v & DAHDI_FLUSH_WRITE)
            fifo_clear(&c->tx);
        if (v & DAHDI_FLUSH_EVENT)
            c->evlen = 0;
        return 0;
    case DAHDI_GETRXBITS:
    case DAHDI_SETTXBITS:
        return fail(EINVAL);    /* no robbed bits on an analog port */
    default:
        return fail(ENOTTY);
    }
}

static int ctl_ioctl(unsigned long request, void *arg)
{
    switch (request) {
    case DAHDI_SPANSTAT: {
        struct dahdi_spaninfo *si = arg;
        const dspan *s = span(si->spanno);
        if (!s)
            return fail(EINVAL);
        fill_spaninfo(s, si);
        return 0;
    }
    case DAHDI_GET_PARAMS: {
        struct dahdi_params *p = arg;
        const dchannel *c = channel(p->channo);
        if (!c)
            return fail(EINVAL);
        fill_params(c, p);
        return 0;
    }
    default:
        return fail(ENOTTY);
    }
}

int cti_dahdi_ioctl(int fd, unsigned long request, void *arg)
{
    dfd *f;
    int r;
    sim_lock();
    if (!(f = fd_of(fd)))
        r = fail(EBADF);
    else if (f->ctl)
        r = ctl_ioctl(request, arg);
    else if (request == DAHDI_SPECIFY) {
        dchannel *c = channel(*(int *)arg);
        if (f->ch)
            r = fail(EINVAL);
        else if (!c)
            r = fail(ENXIO);
        else {
            f->ch = c;
            c->opens++;
            r = 0;
        }
    } else if (!f->ch)
        r = fail(EINVAL);       /* not specified yet */
    else
        r = channel_ioctl(f, request, arg);
    if (f)
        update_wakefd();
    sim_unlock();
    return r;
}

/* ---- audio -------------------------------------------------------------*/

static size_t sample_size(const dfd *f)
{
    return f->linear ? 2 : 1;
}

ssize_t cti_dahdi_read(int fd, void *buf, size_t n)
{
    dfd *f;
    ssize_t r;
    int16_t lin[DAHDI_MAX_BLOCKSIZE];
    size_t want;
    sim_lock();
    if (!(f = fd_of(fd)) || !f->ch) {
        sim_unlock();
        return fail(f ? EINVAL : EBADF);
    }
    want = n / sample_size(f) < (size_t)f->blocksize ? n / sample_size(f)
                                                     : (size_t)f->blocksize;
    if (f->ch->evlen > 0)
        r = fail(ELAST);
    else if (f->ch->rx.len < (size_t)f->blocksize)
        r = fail(EAGAIN);       /* blocking reads would wait: we never block */
    else {
        fifo_pop(&f->ch->rx, lin, want);
        if (f->linear)
            memcpy(buf, lin, want * 2);
        else if (f->law == DAHDI_LAW_ALAW)
            linear_to_alaw(lin, buf, (int)want);
        else
            linear_to_ulaw(lin, buf, (int)want);
        r = (ssize_t)(want * sample_size(f));
    }
    update_wakefd();
    sim_unlock();
    return r;
}

ssize_t cti_dahdi_write(int fd, const void *buf, size_t n)
{
    dfd *f;
    ssize_t r;
    int16_t lin[DAHDI_MAX_BLOCKSIZE];
    size_t count;
    sim_lock();
    if (!(f = fd_of(fd)) || !f->ch) {
        sim_unlock();
        return fail(f ? EINVAL : EBADF);
    }
    count = n / sample_size(f);
    if (count > (size_t)f->blocksize)
        count = f->blocksize;
    if (f->ch->evlen > 0)
        r = fail(ELAST);
    else if (f->ch->tx.len + count > (size_t)TX_BLOCKS * f->blocksize)
        r = fail(EAGAIN);
    else {
        if (f->linear)
            memcpy(lin, buf, count * 2);
        else if (f->law == DAHDI_LAW_ALAW)
            alaw_to_linear(buf, lin, (int)count);
        else
            ulaw_to_linear(buf, lin, (int)count);
        fifo_push(&f->ch->tx, lin, count);
        sim_wake(f->ch->line);
        r = (ssize_t)(count * sample_size(f));
    }
    sim_unlock();
    return r;
}
