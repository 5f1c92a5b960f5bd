/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dahdisim.c - the simulator's DAHDI personality (dahdisim.h says what it
 * is for).  What it answers, and where the kernel's behaviour comes from
 * (lines-real.md section 1):
 *
 *   open      "/dev/dahdi/channel" (then DAHDI_SPECIFY as the kernel's
 *             dahdi_specchan_open: EINVAL for no such channel, ENXIO for one
 *             not configured, EBUSY for a slave, a dacs channel or one another
 *             descriptor has), "/dev/dahdi/ctl" (DAHDI_CHANCONFIG as dahdi_cfg
 *             sends it: signalling, slaves, dacs),
 *             "/dev/dahdi/pseudo" (a pseudo channel of its own, numbered
 *             from 32768 as the kernel's: CHANNO says which); anything else ENOENT
 *   ioctl     SPECIFY, GET/SET_BLOCKSIZE (16..DAHDI_MAX_BLOCKSIZE), GET/SET_BUFINFO
 *             (16..DAHDI_MAX_BLOCKSIZE a buffer, DAHDI_MAX_BUF_SPACE in all), SETLINEAR,
 *             AUDIOMODE (a clear channel opens without audio, as the
 *             kernel's: SETLINEAR and SETCONF are EINVAL until AUDIOMODE 1),
 *             SETLAW, GET_PARAMS (a channel's own; on ctl the one named by
 *             channo), HOOK, GETEVENT, SPANSTAT (spanno 0 on a channel: its
 *             span; its counts as a framer card keeps them), CHANNO, FLUSH,
 *             GETCONF / SETCONF (DIGITALMON: a channel sends what another
 *             receives; MONITOR; CONF with TALKER / LISTENER: conferences),
 *             MAINT (a span's loopbacks, a T1's in-band loop codes),
 *             GETRXBITS / SETTXBITS, SETCADENCE; an unknown
 *             request ENOTTY; a request
 *             the channel's signalling has no use for EINVAL (HOOK RING on an
 *             FXS-signalled port, SETTXBITS on an analog line)
 *   read      one block at most, in the channel's law or 16-bit linear;
 *             EAGAIN until a block is whole; ELAST while an event waits;
 *             audio older than the channel's buffers (2 blocks, as the
 *             kernel's default, or SET_BUFINFO's numbufs) is dropped
 *   write     at most one block; EAGAIN when the transmit buffers are full
 *             (numbufs blocks); ELAST while an event waits
 *
 * An FXO port (fxsks): the far end's ring burst gives RINGOFFHOOK once the
 * ring trailer expires after it; the loop current dropping while we are off
 * hook gives ONHOOK (the kewl-start disconnect); battery reversal POLARITY.
 * Audio flows on hook too (caller ID between the rings reaches userspace,
 * as a real card's codec passes it).
 *
 * An FXS port (fxoks: a station's phone): the phone lifted gives
 * RINGOFFHOOK (ringing stops), put down ONHOOK, a flash WINKFLASH; HOOK
 * RING rings it with the cadence SETCADENCE gave (2 s on, 4 s off by
 * default) until RINGOFF or an answer, as the kernel's ring states do:
 * no event when it starts, RINGEROFF as each ring ends, RINGERON as each
 * ring from the second on begins.
 *
 * T1 and E1 spans (lines-real.md 1.9, 1.10): a T1 E&M wink-start span's
 * channels are e&m (DAHDI_SIG_EM): HOOK OFFHOOK / ONHOOK send ABCD 1111 /
 * 0000, HOOK WINK sends 1111 for winktime then HOOKCOMPLETE; the far end's
 * A bit held longer than rxwinktime gives RINGOFFHOOK, shorter WINKFLASH,
 * dropped ONHOOK.  A T1 loop-start span's channels are fxsls
 * (DAHDI_SIG_FXSLS, an FXO port in robbed bits): HOOK OFFHOOK / ONHOOK
 * send 1111 / 0101; the far end ringing (its B bit 0) gives RINGOFFHOOK
 * once the burst and the ring trailer are over, as an FXO port's ring
 * (loop start has no disconnect: nothing else comes).  An E1 CAS span's channels are cas (DAHDI_SIG_CAS): the
 * bits go as SETTXBITS sets them, and each change of the far end's gives
 * BITSCHANGED (GETRXBITS reads them).  ISDN spans' B-channels are clear
 * (DAHDI_SIG_CLEAR: audio, no bits, no hook); their D-channel (T1 24,
 * E1 16) is a hardhdlc channel (DAHDI_SIG_HARDHDLC) read and written in
 * whole frames as the kernel's hardhdlc does: a write is a frame and two
 * bytes for its FCS, which the card makes (the two are dropped); a read
 * is a frame and the two FCS bytes the card received; a frame longer than
 * the channel's buffer (SET_BUFINFO's bufsize) is lost with an OVERRUN
 * event.  The frames go through dchannel.c, as dt_dchanwrite's do; an E1
 * CAS span's timeslot 16 has no channel.  A span's alarms are SPANSTAT's
 * (red, yellow, blue, loopback), and every open channel of the span gets
 * ALARM as the first rises and NOALARM as the last clears (not when one
 * alarm becomes another), as the kernel's dahdi_alarm_notify.
 *
 * Each tick runs after the devices' (sim.c): a channel takes what its line
 * sent this tick, and puts what was written to it where the line hears it
 * next tick (the paired voice channel's transmit slot, the board's power-on
 * routing) - one tick of latency each way, as every hop in the simulator.
 *
 * A board unplugged (cti_dahdisim_unplug) is unregistered as the kernel's
 * dahdi_unregister_device does it: after 1 s (UNREGISTER_MS) if one of its
 * channels is open, else at once.  Where it differs from the kernel (and
 * docs/dahdi.md says so): a channel whose REMOVED event was read answers
 * ENODEV at once to every read, write and ioctl, where the kernel's stays
 * registered until dahdi_chan_unreg (its ioctls answered, nothing to read:
 * EAGAIN) - the driver closes it on REMOVED, so it never asks in between;
 * and DAHDI_CHANCONFIG of a channel with no device here (an E1 CAS span's
 * timeslot 16) is EINVAL, where the kernel takes any signalling within
 * the channel's sigcap.
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

#include "t1.h"
#include "dahdisim.h"

#define MAX_FDS 1024
#define MAX_PSEUDO 256           /* pseudo channels open at once */
#define MAX_CONFS 128            /* conferences (numbers 1..MAX_CONFS) */
#define RING_TRAILER_MS 50       /* RINGOFFHOOK this long after a ring burst
                                  * (kernel.h's DAHDI_RINGTRAILER) */
#define RING_DEBOUNCE_MS 2000    /* no ring reported this long after a hang-up
                                  * (kernel.h's RING_DEBOUNCE_TIME) */
/* GET_PARAMS' rxhooksig: kernel.h's enum dahdi_rxsig, which user.h lacks */
#define RXSIG_ONHOOK 0
#define RXSIG_OFFHOOK 1
#define RXSIG_RING 3
#define FIRST_PSEUDO 0x8000      /* the kernel's FIRST_PSEUDO_CHANNEL */
#define UNREGISTER_MS 1000       /* dahdi_unregister_device's msleep: a removed
                                  * board's channels keep their files this long,
                                  * if one of them is open (else none at all) */
#define EVENT_ROOM (DAHDI_MAX_EVENTSIZE - 1)    /* the kernel's ring keeps one free */
#define FXO_SIGCAP (DAHDI_SIG_FXSLS | DAHDI_SIG_FXSGS | DAHDI_SIG_FXSKS)
#define RBS_SIGCAP (DAHDI_SIG_EM | DAHDI_SIG_CAS | DAHDI_SIG_CLEAR | DAHDI_SIG_FXSLS | \
                    DAHDI_SIG_FXSKS | DAHDI_SIG_FXOLS | DAHDI_SIG_FXOKS)
#define WINK_MS 150              /* dahdi_params.winktime */
#define RX_WINK_MS 300           /* rxwinktime: a longer A pulse is a seizure */
#define EM_OFFHOOK (DAHDI_ABIT | DAHDI_BBIT | DAHDI_CBIT | DAHDI_DBIT)
#define EM_ONHOOK 0
#define LS_OFFHOOK (DAHDI_ABIT | DAHDI_BBIT | DAHDI_CBIT | DAHDI_DBIT)
#define LS_ONHOOK (DAHDI_BBIT | DAHDI_DBIT)
/* A CAS channel's idle bits as dahdi_cfg set them from system.conf's
 * cas=<channels>:1101 (simulated_system_conf's): MFC/R2's blocked */
#define CAS_IDLEBITS (DAHDI_ABIT | DAHDI_BBIT | DAHDI_DBIT)

struct dspan;

typedef struct dchannel {
    int channo, spanno, chanpos, sigtype;
    struct dspan *span;
    device *dev;                /* the analog line, or the span's timeslot */
    int txslot;                 /* where the device hears what we send */
    int opens;                  /* descriptors specified to it */
    size_t keep;                /* its buffers' samples (numbufs blocks): older
                                 * audio is dropped, as the kernel's overrun */
    int audio;                  /* DAHDI_FLAG_AUDIO: cleared on each open of a clear
                                 * or hardhdlc channel until DAHDI_AUDIOMODE 1 */
    int events[DAHDI_MAX_EVENTSIZE];
    int evhead, evlen;
    sample_fifo rx, tx;
    /* an FXO port (and a T1 loop-start channel: ringing, trailer_ms,
     * ringdeb_ms: the kernel's ringdebtimer, arm_ring_debounce) */
    int ringing;
    long trailer_ms, ringdeb_ms;
    int lc, reversed;
    /* a robbed-bit or CAS channel: the far end's bits as last seen (DAHDI's
     * ABCD), E&M's debouncing of its A bit, our wink */
    int rxbits;
    long rx_a_ms;
    int a_pending, seized;
    int ls_offhook;             /* loop start (fxsls): we are off hook */
    int idlebits;               /* cas: DAHDI_CHANCONFIG's, sent whenever the kernel
                                 * hangs the channel up (dahdi_hangup) */
    long wink_ms;
    int alarms;                 /* the span's, as this channel was told */
    int chan_alarms;            /* its own (an FXO port with no battery: RED) */
    int removed;                /* its board unplugged (cti_dahdisim_unplug): REMOVED
                                 * queued, then ENODEV for everything */
    int master;                 /* DAHDI_CHANCONFIG's: the channel it is a slave of
                                 * (0: none), or cross-connected to (dacs) */
    /* an FXS port: the phone's hook as last seen, its flashes, our ringing */
    int phone_off, flashes;
    int ring_on_ms, ring_off_ms, ringing_phone, bell;
    int tx_offhook;             /* HOOK OFFHOOK given (the kernel's TXSTATE_OFFHOOK) */
    long ring_ms;
    /* DAHDI_SETCONF: the channel sends what another receives (DIGITALMON),
     * or hears it (MONITOR) */
    int confmode, confno;
    /* a pseudo channel: in use; what was written to it this tick (what it
     * "receives", for the channels that monitor it) */
    int in_use;
    int16_t sent[TICK];
} dchannel;

typedef enum { SPAN_FXO, SPAN_FXS, SPAN_TRUNK, SPAN_PSEUDO } span_kind;

typedef struct dspan {
    int spanno, board, count;
    int removed;                /* its board unplugged (disable_span: REMOVED queued) */
    long unregister_ms;         /* ... until the kernel unregisters it */
    int gone;                   /* ... unregistered: no span, no channels, nodev */
    span_kind kind;
    device *dev;                /* a T1/E1 span; NULL for analog boards */
} dspan;

typedef struct {
    int used, ctl, nonblock;
    dchannel *ch;               /* NULL until DAHDI_SPECIFY */
    int blocksize, linear, law;
    int numbufs;                /* DAHDI_DEFAULT_NUM_BUFS until SET_BUFINFO */
} dfd;

static struct {
    sim *of;                    /* the simulation the map was made from */
    dchannel *chans;
    int nchans;
    dspan *spans;
    int nspans;
    dfd fds[MAX_FDS];
    dchannel pseudo[MAX_PSEUDO];        /* channels FIRST_PSEUDO ... */
    dspan pseudo_span;                  /* theirs: span 0 */
    int32_t mix[MAX_CONFS + 1][TICK];   /* each conference's talkers, this tick */
    int conferencing;                   /* channels in a conference now */
    int no_zone;                        /* no tone zone loaded (dahdi_cfg's) */
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
    for (i = 0; i < MAX_PSEUDO; i++) {
        fifo_free(&P.pseudo[i].rx);
        fifo_free(&P.pseudo[i].tx);
    }
    memset(P.pseudo, 0, sizeof P.pseudo);
    free(P.chans);
    free(P.spans);
    P.chans = NULL;
    P.spans = NULL;
    P.nchans = P.nspans = 0;
    P.no_zone = 0;
    memset(P.fds, 0, sizeof P.fds);
    P.of = NULL;
}

void dahdisim_reset(void)
{
    forget();
}

static dspan *new_span(span_kind kind, int board, device *dev)
{
    dspan *s = &P.spans[P.nspans++];
    s->spanno = P.nspans;
    s->kind = kind;
    s->board = board;
    s->dev = dev;
    return s;
}

/* The card's side of a device with no voice channel of its own (a T1
 * timeslot, a station): a bus slot it hears. */
static int card_slot(device *d, int spanno, int pos)
{
    char name[24];
    device *ours;
    snprintf(name, sizeof name, "dahdi%dP%d", spanno, pos);
    if (!(ours = sim_add_device(DEV_BOARD, name, 0, 1)))
        return -1;
    d->listen = ours->txslot;
    return ours->txslot;
}

static dchannel *new_channel(dspan *s, int chanpos, int sigtype, device *dev)
{
    dchannel *c = &P.chans[P.nchans++];
    c->channo = P.nchans;
    c->spanno = s->spanno;
    c->span = s;
    c->chanpos = chanpos;
    c->sigtype = sigtype;
    c->dev = dev;
    s->count++;
    return c;
}

/* A span's channels: every line timeslot has a channel number, as in
 * DAHDI (T1 24, E1 31); the D-channel's is hardhdlc, E1 CAS's timeslot 16
 * has no channel here (sigtype 0: GET_PARAMS says so, SPECIFY refuses it). */
static unsigned sim_bits(int abcd);

static int add_trunk_span(device *sd)
{
    span *sp = sd->span;
    int k, pos, npos = sp->e1 ? 31 : 24, sigtype;
    dchannel *c;
    dspan *s = new_span(SPAN_TRUNK, sd->board, sd);
    switch (sp->signalling) {
    case SIMFAR_SIG_EM_WINK: sigtype = DAHDI_SIG_EM; break;
    case SIMFAR_SIG_LOOPSTART: sigtype = DAHDI_SIG_FXSLS; break;
    case SIMFAR_SIG_CAS: sigtype = DAHDI_SIG_CAS; break;
    default: sigtype = DAHDI_SIG_CLEAR; break;
    }
    for (pos = 1; pos <= npos; pos++) {
        device *td = NULL;
        int slot;
        for (k = 0; k < sp->nts; k++)
            if (span_line_timeslot(sp, k) == pos)
                td = sp->ts[k];
        if (!td && sp->dchan && pos == (sp->e1 ? 16 : 24)) {
            new_channel(s, pos, DAHDI_SIG_HARDHDLC, sp->dchan);
            continue;
        }
        if (!td) {
            new_channel(s, pos, DAHDI_SIG_NONE, NULL);
            continue;
        }
        if ((slot = card_slot(td, s->spanno, pos)) < 0)
            return -1;
        c = new_channel(s, pos, sigtype, td);
        c->txslot = slot;
        if (sigtype == DAHDI_SIG_CAS) {
            /* the span started (DAHDI_STARTUP): dahdi_hangup on each channel,
             * a CAS channel sending its idle bits */
            c->idlebits = CAS_IDLEBITS;
            tslot_send_bits(td->ts, sim_bits(c->idlebits));
        }
    }
    return 0;
}

static int build(void)
{
    int i, board = -1, n = g_sim->ndevs;
    device **devs;
    if (P.of == g_sim && P.chans)
        return 0;
    forget();
    /* the chassis as it is now: build adds the card's side of trunks */
    devs = malloc(n * sizeof *devs + 1);
    P.chans = calloc(n * 32 + 1, sizeof *P.chans);
    P.spans = calloc(n + 1, sizeof *P.spans);
    if (!devs || !P.chans || !P.spans) {
        free(devs);
        return -1;
    }
    memcpy(devs, g_sim->devs, n * sizeof *devs);
    for (i = 0; i < n; i++) {
        device *d = devs[i];
        dchannel *c;
        if (d->kind == DEV_SPAN) {
            if (add_trunk_span(d) < 0) {
                free(devs);
                return -1;
            }
            board = -1;
            continue;
        }
        if (d->kind != DEV_LINE && d->kind != DEV_STATION)
            continue;
        if (d->board != board || P.spans[P.nspans - 1].kind !=
                                     (d->kind == DEV_LINE ? SPAN_FXO : SPAN_FXS)) {
            board = d->board;
            new_span(d->kind == DEV_LINE ? SPAN_FXO : SPAN_FXS, board, NULL);
        }
        if (d->kind == DEV_STATION) {
            dspan *s = &P.spans[P.nspans - 1];
            int slot = card_slot(d, s->spanno, s->count + 1);
            if (slot < 0) {
                free(devs);
                return -1;
            }
            c = new_channel(s, s->count + 1, DAHDI_SIG_FXOKS, d);
            c->txslot = slot;
            c->ring_on_ms = 2000;
            c->ring_off_ms = 4000;
            continue;
        }
        c = new_channel(&P.spans[P.nspans - 1], P.spans[P.nspans - 1].count + 1,
                        DAHDI_SIG_FXSKS, d);
        c->txslot = d->listen;
        line_pass_onhook_audio(d->line, 1);
    }
    free(devs);
    if (P.wakefd < 0)
        P.wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    P.of = g_sim;
    return 0;
}

static dchannel *channel(int channo)
{
    int k = channo - FIRST_PSEUDO;
    if (channo >= 1 && channo <= P.nchans)
        return P.chans[channo - 1].dev ? &P.chans[channo - 1] : NULL;
    return k >= 0 && k < MAX_PSEUDO && P.pseudo[k].in_use ? &P.pseudo[k] : NULL;
}

/* A new pseudo channel: the first free number from FIRST_PSEUDO, as the
 * kernel numbers them. */
static dchannel *new_pseudo(void)
{
    int k;
    for (k = 0; k < MAX_PSEUDO && P.pseudo[k].in_use; k++)
        ;
    if (k == MAX_PSEUDO)
        return NULL;
    memset(&P.pseudo[k], 0, sizeof P.pseudo[k]);
    P.pseudo[k].in_use = 1;
    P.pseudo[k].audio = 1;              /* the kernel's pseudo channels: audio */
    P.pseudo[k].channo = FIRST_PSEUDO + k;
    P.pseudo[k].sigtype = DAHDI_SIG_CLEAR;
    P.pseudo_span.kind = SPAN_PSEUDO;
    P.pseudo[k].span = &P.pseudo_span;
    return &P.pseudo[k];
}

/* A span the kernel has (span_find_and_get): not one whose board was
 * unplugged, which _dahdi_unassign_span took off its list. */
static dspan *span_no(int spanno)
{
    return spanno >= 1 && spanno <= P.nspans && !P.spans[spanno - 1].gone
               ? &P.spans[spanno - 1] : NULL;
}

/* ---- events and the wake descriptor ------------------------------------*/

static void queue_event(dchannel *c, int event)
{
    if (c->evlen == EVENT_ROOM)
        return;                 /* the kernel drops it too */
    c->events[(c->evhead + c->evlen++) % DAHDI_MAX_EVENTSIZE] = event;
}

static int fail(int err);
static int span_alarms(const dspan *s);
static void update_wakefd(void);

void cti_dahdisim_tone_zone(int loaded)
{
    sim_lock();
    P.no_zone = !loaded;
    sim_unlock();
}

/* A board hot-unplugged (an Astribank's USB cable pulled), as the kernel's
 * dahdi_unregister_device: disable_span queues DAHDI_EVENT_REMOVED on each
 * channel of span `spanno`, and dahdi_alarm_notify ALARM if the span had
 * no alarm (its alarms become NOTOPEN); nothing comes from the board any
 * more, and once REMOVED is read every read, write and ioctl is ENODEV
 * (earlier than the kernel's: its channel stays registered, its ioctls
 * answered, until dahdi_chan_unreg).  UNREGISTER_MS later if one of its
 * channels is open (the kernel's msleep), else at once,
 * _dahdi_unassign_span takes the span and its channels off the kernel's
 * lists and dahdi_chan_unreg gives their open files the nodev file
 * operations: ENODEV for everything, events read or not (GETEVENT still
 * says REMOVED); SPANSTAT of the span, GET_PARAMS and SPECIFY of its
 * channels EINVAL.  -1 (ENXIO): no such span. */
int cti_dahdisim_unplug(int spanno)
{
    int i, found = 0, open = 0, quiet;
    dspan *s;
    sim_lock();
    if (sim_ensure() < 0 || build() < 0 || !(s = span_no(spanno)) || s->removed) {
        sim_unlock();
        return fail(ENXIO);
    }
    quiet = span_alarms(s) == 0;
    for (i = 0; i < P.nchans; i++) {
        dchannel *c = &P.chans[i];
        if (c->spanno != spanno || c->removed)
            continue;
        found = 1;
        open += c->opens > 0;   /* open_channel_count */
        c->removed = 1;
        queue_event(c, DAHDI_EVENT_REMOVED);
        if (quiet)
            queue_event(c, DAHDI_EVENT_ALARM);
    }
    s->removed = 1;
    s->unregister_ms = open ? UNREGISTER_MS : 0;
    s->gone = !open;            /* nobody to tell: no msleep */
    update_wakefd();
    sim_unlock();
    return found ? 0 : fail(ENXIO);
}

/* A channel's own alarms, as a card's driver sets them with the kernel's
 * dahdi_alarm_channel (an FXO port finding no battery on its line: RED):
 * GET_PARAMS' chan_alarms, and ALARM or NOALARM queued when they change
 * to some or to none. */
int cti_dahdisim_line_alarm(int channo, int alarms)
{
    dchannel *c;
    int r = 0;
    sim_lock();
    if (sim_ensure() < 0 || build() < 0 || !(c = channel(channo)))
        r = fail(ENXIO);
    else if (c->chan_alarms != alarms) {
        c->chan_alarms = alarms;
        queue_event(c, alarms ? DAHDI_EVENT_ALARM : DAHDI_EVENT_NOALARM);
    }
    update_wakefd();
    sim_unlock();
    return r;
}

/* A CAS channel's idle bits as dahdi_cfg would set them (DAHDI_CHANCONFIG,
 * which hangs the channel up: the bits sent at once). */
int cti_dahdisim_idlebits(int channo, int bits)
{
    dchannel *c;
    int r = 0;
    sim_lock();
    if (sim_ensure() < 0 || build() < 0 || !(c = channel(channo)))
        r = fail(ENXIO);
    else if (c->sigtype != DAHDI_SIG_CAS)
        r = fail(EINVAL);
    else {
        c->idlebits = bits & 0xF;
        tslot_send_bits(c->dev->ts, sim_bits(c->idlebits));
    }
    sim_unlock();
    return r;
}

int cti_dahdisim_queue_event(int channo, int event)
{
    dchannel *c;
    int r = 0;
    sim_lock();
    if (sim_ensure() < 0 || build() < 0 || !(c = channel(channo)))
        r = fail(ENXIO);
    else if (c->evlen == EVENT_ROOM)
        r = fail(EBUSY);
    else
        queue_event(c, event);
    update_wakefd();
    sim_unlock();
    return r;
}

static int readable(const dfd *f)
{
    if (f->ch && f->ch->sigtype == DAHDI_SIG_HARDHDLC)
        return f->ch->evlen > 0 || dchan_unread(f->ch->dev->dchan) > 0;
    return f->ch && (f->ch->evlen > 0 || f->ch->removed
                     || (int)f->ch->rx.len >= f->blocksize);
}

/* The eventfd reads as poll() on the open channels would. */
static void update_wakefd(void)
{
    uint64_t v = 1;
    int i, saved = errno;        /* the call's own errno, not the eventfd's */
    ssize_t moved;
    for (i = 0; i < MAX_FDS && !(P.fds[i].used && readable(&P.fds[i])); i++)
        ;
    /* readable: the counter nonzero; else drained (EAGAIN if it was) */
    moved = i < MAX_FDS ? write(P.wakefd, &v, sizeof v) : read(P.wakefd, &v, sizeof v);
    (void)moved;                 /* the eventfd's state matters, not the count */
    errno = saved;
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

/* DAHDI's ABCD (A = 8) from the simulator's (A = 1) and back: the bit
 * order reversed. */
static int dahdi_bits(unsigned sim_bits)
{
    return (sim_bits & 1) << 3 | (sim_bits & 2) << 1 | (sim_bits & 4) >> 1 | (sim_bits & 8) >> 3;
}

static unsigned sim_bits(int abcd)
{
    return (unsigned)dahdi_bits((unsigned)abcd);
}

/* The span's alarms in DAHDI's words. */
static int span_alarms(const dspan *s)
{
    unsigned a;
    int out = 0;
    if (!s->dev)
        return 0;
    a = s->dev->span->alarms;
    if (a & (1u << SIMFAR_AL_LOS | 1u << SIMFAR_AL_OOF | 1u << SIMFAR_AL_RED |
             1u << SIMFAR_AL_RLOS | 1u << SIMFAR_AL_LMFA))
        out |= DAHDI_ALARM_RED;
    if (a & (1u << SIMFAR_AL_YELLOW | 1u << SIMFAR_AL_TS16_YELLOW))
        out |= DAHDI_ALARM_YELLOW;
    if (a & 1u << SIMFAR_AL_BLUE)
        out |= DAHDI_ALARM_BLUE;
    return out;
}

/* What channel c receives this tick: its line's (or timeslot's, or
 * phone's) audio; a pseudo channel, what was written to it. */
static void received(const dchannel *c, int16_t *lin)
{
    if (c->span->kind == SPAN_PSEUDO)
        memcpy(lin, c->sent, sizeof c->sent);
    else
        ulaw_to_linear(sim_bus_out(c->dev->txslot), lin, TICK);
}

static int in_conference(const dchannel *c, int flag)
{
    return (c->confmode & DAHDI_CONF_MODE_MASK) == DAHDI_CONF_CONF && (c->confmode & flag);
}

/* A conference party's share of the mix: everyone's talk but its own. */
static void conference_out(const dchannel *c, int16_t *lin)
{
    int16_t own[TICK];
    int i;
    if (in_conference(c, DAHDI_CONF_TALKER))
        received(c, own);
    else
        memset(own, 0, sizeof own);
    for (i = 0; i < TICK; i++) {
        int32_t v = P.mix[c->confno][i] - own[i];
        lin[i] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
    }
}

/* Every conference's mix this tick, from its talkers. */
static void mix_conferences(void)
{
    int i, k;
    if (!P.conferencing)
        return;
    memset(P.mix, 0, sizeof P.mix);
    for (i = 0; i < P.nchans + MAX_PSEUDO; i++) {
        const dchannel *c = i < P.nchans ? &P.chans[i] : &P.pseudo[i - P.nchans];
        int16_t talk[TICK];
        if ((i < P.nchans ? c->opens == 0 : !c->in_use) || !in_conference(c, DAHDI_CONF_TALKER))
            continue;
        received(c, talk);
        for (k = 0; k < TICK; k++)
            P.mix[c->confno][k] += talk[k];
    }
}

static void audio_tick(dchannel *c)
{
    int16_t lin[TICK];
    size_t n;
    int mode = c->confmode & DAHDI_CONF_MODE_MASK;
    int hears_conf = in_conference(c, DAHDI_CONF_LISTENER);
    const dchannel *other = mode == DAHDI_CONF_MONITOR || mode == DAHDI_CONF_DIGITALMON
                                ? channel(c->confno) : NULL;
    /* what the fd reads: what the channel receives, or (MONITOR) another's,
     * or a pseudo channel's share of its conference */
    if (hears_conf && c->span->kind == SPAN_PSEUDO)
        conference_out(c, lin);
    else
        received(mode == DAHDI_CONF_MONITOR && other ? other : c, lin);
    fifo_push(&c->rx, lin, TICK);
    while (c->rx.len > c->keep) {
        int16_t drop[TICK];
        fifo_pop(&c->rx, drop, TICK);
    }
    if (c->span->kind == SPAN_PSEUDO)
        return;                 /* it sent what was written: pseudo_tick */
    n = fifo_pop(&c->tx, lin, TICK);
    memset(lin + n, 0, (TICK - n) * sizeof *lin);
    if (mode == DAHDI_CONF_DIGITALMON && other) {
        /* what the other channel receives: our writes are replaced, as the
         * kernel's conference replaces them */
        received(other, lin);
        if (other->dev)
            sim_wake(other->dev);
    } else if (hears_conf) {
        conference_out(c, lin);         /* the line hears the others */
    }
    if (c->confmode)
        sim_wake(c->dev);
    linear_to_ulaw(lin, sim_bus_out(c->txslot), TICK);
}

/* A pseudo channel's tick, before the others': what was written to it. */
static void pseudo_tick(dchannel *c)
{
    size_t n = fifo_pop(&c->tx, c->sent, TICK);
    memset(c->sent + n, 0, (TICK - n) * sizeof *c->sent);
}

/* E&M: the far end's A bit, debounced as the kernel does. */
static void em_tick(dchannel *c, int rx)
{
    int a = !!(rx & DAHDI_ABIT), was = !!(c->rxbits & DAHDI_ABIT);
    if (a != was) {
        c->rx_a_ms = 0;
        if (a)
            c->a_pending = 1;
        else if (c->seized) {
            c->seized = 0;
            queue_event(c, DAHDI_EVENT_ONHOOK);
        } else if (c->a_pending) {
            c->a_pending = 0;
            queue_event(c, DAHDI_EVENT_WINKFLASH);
        }
    } else if ((c->rx_a_ms += TICK_MS) >= RX_WINK_MS && a && c->a_pending) {
        c->a_pending = 0;
        c->seized = 1;
        queue_event(c, DAHDI_EVENT_RINGOFFHOOK);
    }
    if (c->wink_ms > 0 && (c->wink_ms -= TICK_MS) <= 0) {
        tslot_send_bits(c->dev->ts, sim_bits(EM_ONHOOK));
        queue_event(c, DAHDI_EVENT_HOOKCOMPLETE);
    }
}

/* The kernel's ring debounce (dahdi-base.c's ringdebtimer), armed for an
 * FXS-signalled channel (fxsks, fxsls: an FXO port, T1 loop start) by
 * dahdi_hangup (DAHDI_HOOK ONHOOK, the channel's open: initialize_channel)
 * and, on fxsks, by the far end's disconnect (__dahdi_hooksig_pvt's
 * DAHDI_RXSIG_ONHOOK off hook); close_channel clears it. */
static void arm_ring_debounce(dchannel *c)
{
    if (c->sigtype == DAHDI_SIG_FXSKS || c->sigtype == DAHDI_SIG_FXSLS)
        c->ringdeb_ms = RING_DEBOUNCE_MS;
}

/* A tick of an FXS-signalled channel's ring detection, as the kernel's
 * receive path and __dahdi_hooksig_pvt do it: the ring debounce counts
 * down first; a ring beginning gives RINGBEGIN (DAHDI's default
 * dahdi_config.h defines RINGBEGIN), its trailer expiring RINGOFFHOOK -
 * neither while the debounce runs: such a ring is never reported. */
static void ring_detect_tick(dchannel *c, int ring, int offhook)
{
    if (c->ringdeb_ms > 0)
        c->ringdeb_ms -= TICK_MS;
    if (ring && !c->ringing) {
        c->trailer_ms = 0;
        if (c->ringdeb_ms <= 0)
            queue_event(c, DAHDI_EVENT_RINGBEGIN);
    } else if (!ring && c->ringing) {
        c->trailer_ms = RING_TRAILER_MS;
    }
    c->ringing = ring;
    if (c->trailer_ms > 0 && (c->trailer_ms -= TICK_MS) <= 0 && !offhook && c->ringdeb_ms <= 0)
        queue_event(c, DAHDI_EVENT_RINGOFFHOOK);
}

/* FXS loop start in robbed bits: the far end's B bit off is ringing. */
static void ls_tick(dchannel *c, int rx)
{
    ring_detect_tick(c, !(rx & DAHDI_BBIT), c->ls_offhook);
}

static void trunk_tick(dchannel *c)
{
    int rx, alarms = span_alarms(c->span);
    /* the kernel's dahdi_alarm_notify: an event only between no alarm and
     * some alarm (red to yellow says nothing: SPANSTAT tells) */
    if (!alarms != !c->alarms)
        queue_event(c, alarms ? DAHDI_EVENT_ALARM : DAHDI_EVENT_NOALARM);
    c->alarms = alarms;
    if (c->sigtype == DAHDI_SIG_HARDHDLC)
        return;                 /* frames, not audio: hdlc_read, hdlc_write */
    rx = dahdi_bits(c->dev->ts->rx);
    if (c->sigtype == DAHDI_SIG_EM)
        em_tick(c, rx);
    else if (c->sigtype == DAHDI_SIG_FXSLS)
        ls_tick(c, rx);
    else if (c->sigtype == DAHDI_SIG_CAS && rx != c->rxbits)
        queue_event(c, DAHDI_EVENT_BITSCHANGED);
    c->rxbits = rx;
    audio_tick(c);
}

/* An FXS port: the phone's hook and flashes; the bell's cadence steps. */
static void station_port_tick(dchannel *c)
{
    struct station *st = c->dev->station;
    int off = station_phone_offhook(st), flashes = station_flashes(st);
    if (off != c->phone_off) {
        c->phone_off = off;
        if (off && c->ringing_phone)
            station_ring(st, 0, 0);     /* the card trips the ring; the kernel's cadence goes
                                         * on until userspace says OFFHOOK (or RINGOFF) */
        queue_event(c, off ? DAHDI_EVENT_RINGOFFHOOK : DAHDI_EVENT_ONHOOK);
    }
    if (flashes != c->flashes) {
        c->flashes = flashes;
        queue_event(c, DAHDI_EVENT_WINKFLASH);
    }
    if (c->ringing_phone) {
        int bell = c->ring_ms % (c->ring_on_ms + c->ring_off_ms) < c->ring_on_ms;
        if (bell != c->bell) {
            queue_event(c, bell ? DAHDI_EVENT_RINGERON : DAHDI_EVENT_RINGEROFF);
            if (bell && !c->phone_off)  /* each ring on puts the line back to ringing */
                station_ring(st, c->ring_on_ms, c->ring_off_ms);
        }
        c->bell = bell;
        c->ring_ms += TICK_MS;
    } else {
        c->bell = 0;            /* stopped or answered: the kernel says nothing */
    }
    audio_tick(c);
}

static void channel_tick(dchannel *c)
{
    device *d = c->dev;
    int bits = line_status_bits(d->line), offhook = line_hook(d->line) == DX_OFFHOOK;
    int ring = !!(bits & RLS_RING), lc = !!(bits & RLS_LCSENSE);
    int reversed = !!(bits & RLS_POLARITY);
    ring_detect_tick(c, ring, offhook);
    if (offhook && c->lc && !lc) {
        arm_ring_debounce(c);           /* fxsks: the far end's disconnect */
        queue_event(c, DAHDI_EVENT_ONHOOK);
    }
    if (reversed != c->reversed)
        queue_event(c, DAHDI_EVENT_POLARITY);
    c->lc = lc;
    c->reversed = reversed;
    audio_tick(c);
}

void dahdisim_tick(void)
{
    int i;
    if (P.of != g_sim || !P.chans)
        return;
    for (i = 0; i < MAX_PSEUDO; i++)
        if (P.pseudo[i].in_use)
            pseudo_tick(&P.pseudo[i]);
    mix_conferences();
    for (i = 0; i < MAX_PSEUDO; i++)
        if (P.pseudo[i].in_use)
            audio_tick(&P.pseudo[i]);
    for (i = 0; i < P.nspans; i++) {
        dspan *s = &P.spans[i];
        if (s->removed && !s->gone && (s->unregister_ms -= TICK_MS) <= 0)
            s->gone = 1;        /* _dahdi_unassign_span, dahdi_chan_unreg */
    }
    for (i = 0; i < P.nchans; i++) {
        dchannel *c = &P.chans[i];
        if (c->opens == 0 || c->removed)
            continue;           /* nothing comes from a board unplugged */
        switch (c->span->kind) {
        case SPAN_TRUNK: trunk_tick(c); break;
        case SPAN_FXS: station_port_tick(c); break;
        default: channel_tick(c); break;
        }
    }
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
    int pseudo = strcmp(path, "/dev/dahdi/pseudo") == 0;
    if (!ctl && !pseudo && strcmp(path, "/dev/dahdi/channel") != 0)
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
    P.fds[fd].numbufs = DAHDI_DEFAULT_NUM_BUFS;
    if (pseudo) {
        /* each open makes a pseudo channel of its own */
        if (!(P.fds[fd].ch = new_pseudo())) {
            P.fds[fd].used = 0;
            sim_unlock();
            return fail(EBUSY);
        }
        P.fds[fd].ch->opens = 1;
        P.fds[fd].ch->keep = (size_t)DAHDI_DEFAULT_NUM_BUFS * DAHDI_DEFAULT_BLOCKSIZE;
    }
    sim_unlock();
    return fd;
}

static void count_conferencing(void)
{
    int k;
    P.conferencing = 0;
    for (k = 0; k < P.nchans + MAX_PSEUDO; k++) {
        const dchannel *o = k < P.nchans ? &P.chans[k] : &P.pseudo[k - P.nchans];
        P.conferencing += (o->confmode & DAHDI_CONF_MODE_MASK) == DAHDI_CONF_CONF;
    }
}

static void release(dchannel *c)
{
    if (--c->opens > 0)
        return;
    /* the last close: the port goes on hook and forgets its buffers */
    if (c->span->kind == SPAN_PSEUDO) {
        fifo_clear(&c->rx);
        fifo_clear(&c->tx);
        c->in_use = 0;
        c->confmode = c->confno = 0;
        count_conferencing();
        return;
    }
    if (c->span->kind == SPAN_TRUNK) {
        if (c->sigtype == DAHDI_SIG_EM) {
            c->wink_ms = 0;
            tslot_send_bits(c->dev->ts, sim_bits(EM_ONHOOK));
        } else if (c->sigtype == DAHDI_SIG_FXSLS) {
            c->ls_offhook = 0;
            tslot_send_bits(c->dev->ts, sim_bits(LS_ONHOOK));
        } else if (c->sigtype == DAHDI_SIG_CAS) {
            tslot_send_bits(c->dev->ts, sim_bits(c->idlebits));  /* dahdi_hangup */
        }
    } else if (c->span->kind == SPAN_FXS) {
        c->ringing_phone = 0;
        station_ring(c->dev->station, 0, 0);
    } else {
        line_set_hook(c->dev->line, 0);
    }
    c->confmode = c->confno = 0;
    c->ringdeb_ms = 0;          /* close_channel's */
    count_conferencing();
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

static int has_bits(const dchannel *c)
{
    return c->span->kind == SPAN_TRUNK && (c->sigtype == DAHDI_SIG_EM ||
           c->sigtype == DAHDI_SIG_CAS || c->sigtype == DAHDI_SIG_FXSLS);
}

static void fill_params(const dchannel *c, struct dahdi_params *p)
{
    int trunk = c->span->dev != NULL;
    memset(p, 0, sizeof *p);
    p->channo = c->channo;
    p->spanno = c->spanno;
    p->chanpos = c->chanpos;
    p->sigtype = c->sigtype;
    p->sigcap = trunk ? RBS_SIGCAP : FXO_SIGCAP;
    p->chan_alarms = (unsigned)c->chan_alarms;
    if (c->span->kind == SPAN_PSEUDO) {
        p->sigcap = DAHDI_SIG_CLEAR;
        p->rxbits = p->txbits = p->rxhooksig = p->txhooksig = -1;
        p->curlaw = DAHDI_LAW_MULAW;
        snprintf(p->name, sizeof p->name, "Pseudo/%d", c->channo - FIRST_PSEUDO + 1);
        return;
    }
    if (trunk && has_bits(c)) {
        p->rxbits = dahdi_bits(c->dev->ts->rx);
        p->txbits = dahdi_bits(c->dev->ts->tx);
        p->rxisoffhook = c->seized;
        p->rxhooksig = p->txhooksig = -1;
        if (c->sigtype == DAHDI_SIG_FXSLS)      /* dahdi_rbsbits: B off rings */
            p->rxhooksig = c->ringing ? RXSIG_RING : RXSIG_OFFHOOK;
        p->idlebits = c->sigtype == DAHDI_SIG_CAS ? c->idlebits : 0;   /* the kernel's:
                                                 * DAHDI_CHANCONFIG keeps a CAS channel's only */
    } else if (trunk) {
        p->rxbits = p->txbits = p->rxhooksig = p->txhooksig = -1;   /* clear */
    } else if (c->span->kind == SPAN_FXS) {
        p->sigcap = DAHDI_SIG_FXOLS | DAHDI_SIG_FXOGS | DAHDI_SIG_FXOKS;
        p->rxisoffhook = station_phone_offhook(c->dev->station);
        p->rxbits = p->txbits = -1;
        p->rxhooksig = p->rxisoffhook;
        p->txhooksig = c->ringing_phone;
    } else {
        /* the card's hooksig: ringing, the line's battery there (OFFHOOK) or
         * gone (ONHOOK: no battery, the far end's disconnect); the kernel's
         * rxisoffhook for a card without robbed bits: not ONHOOK */
        int off = line_hook(c->dev->line) == DX_OFFHOOK;
        p->rxhooksig = c->ringing ? RXSIG_RING
                       : (c->chan_alarms & DAHDI_ALARM_RED) || (off && !c->lc)
                           ? RXSIG_ONHOOK : RXSIG_OFFHOOK;
        p->rxisoffhook = p->rxhooksig != RXSIG_ONHOOK;
        p->rxbits = p->txbits = -1;        /* no robbed bits on an analog span */
        p->txhooksig = off;
    }
    p->curlaw = trunk && c->span->dev->span->e1 ? DAHDI_LAW_ALAW : DAHDI_LAW_MULAW;
    snprintf(p->name, sizeof p->name, "%s/%d/%d", trunk ? "SIMTE" : "SIMAN", c->spanno,
             c->chanpos);
    p->prewinktime = 50;
    p->preflashtime = 50;
    p->winktime = WINK_MS;
    p->flashtime = 750;
    p->starttime = 1500;
    p->rxwinktime = RX_WINK_MS;
    p->rxflashtime = 1250;
    p->debouncetime = 600;
    p->pulsebreaktime = 50;
    p->pulsemaketime = 50;
    p->pulseaftertime = 750;
}

static int lineconfig(const span *sp, int *loop)
{
    int framing, coding, clock, config = 0;
    t1maint_line(sp->maint, &framing, &coding, &clock, loop);
    config |= framing == DTFR_D4 ? DAHDI_CONFIG_D4 : 0;
    config |= framing == DTFR_ESF ? DAHDI_CONFIG_ESF : 0;
    config |= framing == DTFR_E1_CRC4 ? DAHDI_CONFIG_CRC4 : 0;
    config |= coding == DTCD_AMI ? DAHDI_CONFIG_AMI : 0;
    config |= coding == DTCD_B8ZS ? DAHDI_CONFIG_B8ZS : 0;
    config |= coding == DTCD_HDB3 ? DAHDI_CONFIG_HDB3 : 0;
    config |= sp->e1 && span_has_dchannel(sp->signalling) ? DAHDI_CONFIG_CCS : 0;
    return config;
}

static void fill_spaninfo(const dspan *s, struct dahdi_spaninfo *si)
{
    memset(si, 0, sizeof *si);
    si->spanno = s->spanno;
    si->numchans = si->totalchans = s->count;
    si->totalspans = P.nspans;
    snprintf(si->location, sizeof si->location, "simulator");
    snprintf(si->manufacturer, sizeof si->manufacturer, "cti");
    if (s->dev) {
        const span *sp = s->dev->span;
        int loop, framing, coding, clock;
        si->lineconfig = lineconfig(sp, &loop);
        t1maint_line(sp->maint, &framing, &coding, &clock, &loop);
        t1maint_counts n;
        si->alarms = s->removed ? DAHDI_ALARM_NOTOPEN     /* disable_span's */
                     : span_alarms(s) | (loop != DTLB_NONE ? DAHDI_ALARM_LOOPBACK : 0);
        /* the counts as a framer card's driver keeps them (wct4xxp): code
         * violations (bipolar violations and excessive zeros), framing
         * errors, CRC errors, E-bits */
        t1maint_counters(sp->maint, &n);
        si->cvcount = (uint32_t)(n.bpv + n.exz);
        si->fecount = (uint32_t)n.fas;
        si->crc4count = (int)n.crc;
        si->ebitcount = (int)n.ebit;
        si->syncsrc = clock == DTCK_LINE ? s->spanno : 0;
        snprintf(si->name, sizeof si->name, "SIMTE/%d", s->spanno);
        snprintf(si->desc, sizeof si->desc, "cti simulator %s span %s",
                 sp->e1 ? "E1" : "T1", s->dev->name);
        snprintf(si->devicetype, sizeof si->devicetype, "simulated %s span",
                 sp->e1 ? "E1" : "T1");
        snprintf(si->spantype, sizeof si->spantype, "%s", sp->e1 ? "E1" : "T1");
        si->linecompat = sp->e1 ? DAHDI_CONFIG_HDB3 | DAHDI_CONFIG_CRC4 | DAHDI_CONFIG_AMI
                                : DAHDI_CONFIG_D4 | DAHDI_CONFIG_ESF | DAHDI_CONFIG_AMI |
                                      DAHDI_CONFIG_B8ZS;
    } else {
        int fxs = s->kind == SPAN_FXS;
        snprintf(si->name, sizeof si->name, "SIMAN/%d", s->spanno);
        snprintf(si->desc, sizeof si->desc, "cti simulator %s board %d",
                 fxs ? "station" : "analog", s->board);
        snprintf(si->devicetype, sizeof si->devicetype, "simulated %s ports",
                 fxs ? "FXS" : "FXO");
        /* as the kernel names analog spans, cut to spantype's 5 characters:
         * a station board as xpp's FXS module, an analog board's FXO ports
         * as a mixed card (wctdm24xxp: ANALOG_MIXED, "ANALO") */
        snprintf(si->spantype, sizeof si->spantype, "%s", fxs ? "FXS" : "ANALO");
        si->alarms = s->removed ? DAHDI_ALARM_NOTOPEN : 0;
    }
}

/* DAHDI_GETCONF, DAHDI_SETCONF on a channel (chan 0: this one): leaving
 * ({0, NORMAL}), DIGITALMON (confno: the channel whose received audio
 * this one sends; not on a pseudo channel), MONITOR (the fd reads what
 * channel confno receives; a pseudo channel receives what was written to
 * it), and CONF with TALKER and LISTENER (confno -1: the first free one,
 * returned): a talker's received audio goes into the conference, a
 * listener gets everyone's but its own (a real channel's line, a pseudo
 * channel's reads).  A mode without a conference number, or the reverse,
 * is EINVAL as in the kernel; conferences proper are not simulated
 * (ENOSYS). */
static int conf_request(dchannel *c, unsigned long request, struct dahdi_confinfo *ci);

static int conf(dchannel *c, unsigned long request, struct dahdi_confinfo *ci)
{
    int r = conf_request(c, request, ci);
    count_conferencing();
    return r;
}

static int conf_request(dchannel *c, unsigned long request, struct dahdi_confinfo *ci)
{
    int mode = ci->confmode & DAHDI_CONF_MODE_MASK;
    if (ci->chan != 0 && ci->chan != c->channo)
        c = channel(ci->chan);
    if (!c || (request == DAHDI_SETCONF && !c->audio))
        return fail(EINVAL);
    if (request == DAHDI_GETCONF) {
        ci->chan = c->channo;
        ci->confno = c->confno;
        ci->confmode = c->confmode;
        return 0;
    }
    if ((mode == DAHDI_CONF_NORMAL) != (ci->confno == 0))
        return fail(EINVAL);
    if (mode == DAHDI_CONF_NORMAL) {
        c->confmode = c->confno = 0;
        return 0;
    }
    if (mode == DAHDI_CONF_CONF) {
        if (ci->confno == -1) {             /* the first free conference */
            int n, k, used[MAX_CONFS + 1] = {0};
            for (k = 0; k < P.nchans + MAX_PSEUDO; k++) {
                const dchannel *o = k < P.nchans ? &P.chans[k] : &P.pseudo[k - P.nchans];
                if ((o->confmode & DAHDI_CONF_MODE_MASK) == DAHDI_CONF_CONF)
                    used[o->confno] = 1;
            }
            for (n = 1; n <= MAX_CONFS && used[n]; n++)
                ;
            if (n > MAX_CONFS)
                return fail(EBUSY);
            ci->confno = n;
        }
        if (ci->confno < 1 || ci->confno > MAX_CONFS)
            return fail(EINVAL);
        c->confmode = ci->confmode;
        c->confno = ci->confno;
        return 0;
    }
    if (mode != DAHDI_CONF_DIGITALMON && mode != DAHDI_CONF_MONITOR)
        return fail(ENOSYS);
    if (!channel(ci->confno) || ci->confno == c->channo ||
        (mode == DAHDI_CONF_DIGITALMON && c->span->kind == SPAN_PSEUDO))
        return fail(EINVAL);
    c->confmode = mode;
    c->confno = ci->confno;
    fifo_clear(&c->tx);
    return 0;
}

/* DAHDI_MAINT: the loopbacks at our side of a T1/E1 span, and a T1's
 * in-band loop codes (the kernel sends them for DAHDI_LOOPCODE_TIME). */
static int maint(const struct dahdi_maintinfo *mi)
{
    const dspan *s = span_no(mi->spanno);
    if (!s)
        return fail(EINVAL);
    if (!s->dev)
        return fail(ENOSYS);    /* "not supported by the device": an analog span */
    switch (mi->command) {
    case DAHDI_MAINT_NONE: t1maint_set_loopback(s->dev->span->maint, DTLB_NONE); return 0;
    case DAHDI_MAINT_LOCALLOOP:
        t1maint_set_loopback(s->dev->span->maint, DTLB_LOCAL);
        return 0;
    case DAHDI_MAINT_NETWORKLINELOOP:
        t1maint_set_loopback(s->dev->span->maint, DTLB_LINE);
        return 0;
    case DAHDI_MAINT_NETWORKPAYLOADLOOP:
        t1maint_set_loopback(s->dev->span->maint, DTLB_PAYLOAD);
        return 0;
    case DAHDI_MAINT_LOOPUP:
    case DAHDI_MAINT_LOOPDOWN:
        /* the in-band codes; an E1 has none (wct4xxp: ENOSYS), and a BERT's
         * pattern would be replaced */
        if (t1maint_send_inband_code(s->dev->span->maint, mi->command == DAHDI_MAINT_LOOPUP) < 0)
            return fail(s->dev->span->e1 ? ENOSYS : EBUSY);
        return 0;
    default:
        return fail(ENOSYS);
    }
}

static int fxo_hook(dchannel *c, int how)
{
    switch (how) {
    case DAHDI_OFFHOOK:
    case DAHDI_ONHOOK:
        sim_wake(c->dev);
        line_set_hook(c->dev->line, how == DAHDI_OFFHOOK);
        c->lc = how == DAHDI_OFFHOOK;
        if (how == DAHDI_ONHOOK)
            arm_ring_debounce(c);       /* dahdi_hangup */
        return 0;
    default:                    /* RING, WINK... are not for an FXO port */
        return fail(EINVAL);
    }
}

/* E&M: the kernel's robbed-bit hook (dahdi_rbs_sethook). */
static int em_hook(dchannel *c, int how, int nonblock)
{
    switch (how) {
    case DAHDI_OFFHOOK:
    case DAHDI_ONHOOK:
        c->wink_ms = 0;
        tslot_send_bits(c->dev->ts, sim_bits(how == DAHDI_OFFHOOK ? EM_OFFHOOK : EM_ONHOOK));
        return 0;
    case DAHDI_WINK:
        if (c->wink_ms > 0 || (c->dev->ts->tx & 1))
            return fail(EBUSY);
        c->wink_ms = WINK_MS;
        tslot_send_bits(c->dev->ts, sim_bits(EM_OFFHOOK));
        return nonblock ? fail(EINPROGRESS) : 0;
    default:
        return fail(EINVAL);
    }
}

/* FXS loop start on a T1: the kernel's robbed-bit hook for FXSLS (off
 * hook: our seizure or answer). */
static int ls_hook(dchannel *c, int how)
{
    if (how != DAHDI_OFFHOOK && how != DAHDI_ONHOOK)
        return fail(EINVAL);
    c->ls_offhook = how == DAHDI_OFFHOOK;
    tslot_send_bits(c->dev->ts, sim_bits(c->ls_offhook ? LS_OFFHOOK : LS_ONHOOK));
    if (!c->ls_offhook)
        arm_ring_debounce(c);           /* dahdi_hangup */
    return 0;
}

/* An FXS port (FXO signalling): RING runs the cadence until RINGOFF,
 * OFFHOOK or ONHOOK (the phone answering does not stop it: userspace
 * says OFFHOOK then, as chan_dahdi does); RING is EBUSY unless the port
 * is on hook (ONHOOK after an OFFHOOK), as the kernel's txstate has it. */
static int fxs_hook(dchannel *c, int how, int nonblock)
{
    switch (how) {
    case DAHDI_RING:
        if (P.no_zone)
            return fail(ENODATA);       /* "Cannot start tone until a tone zone is loaded" */
        if (c->ringing_phone || c->tx_offhook)
            return fail(EBUSY);
        /* no event now, as the kernel's: RINGEROFF when the first ring
         * ends, RINGERON from the second on */
        c->ringing_phone = 1;
        c->bell = 1;
        c->ring_ms = 0;
        station_ring(c->dev->station, c->ring_on_ms, c->ring_off_ms);
        return nonblock ? fail(EINPROGRESS) : 0;
    case DAHDI_RINGOFF:
    case DAHDI_OFFHOOK:
    case DAHDI_ONHOOK:
        c->ringing_phone = 0;
        station_ring(c->dev->station, 0, 0);
        c->tx_offhook = how == DAHDI_OFFHOOK;
        return 0;
    default:
        return fail(EINVAL);
    }
}

static int hook(dfd *f, int how)
{
    dchannel *c = f->ch;
    if (c->span->kind == SPAN_FXS)
        return fxs_hook(c, how, f->nonblock);
    if (c->span->kind == SPAN_FXO)
        return fxo_hook(c, how);
    if (c->sigtype == DAHDI_SIG_EM)
        return em_hook(c, how, f->nonblock);
    if (c->sigtype == DAHDI_SIG_FXSLS)
        return ls_hook(c, how);
    return fail(EINVAL);        /* clear and CAS channels: no hook (SETTXBITS) */
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
        c->keep = (size_t)f->numbufs * (size_t)v;
        return 0;
    case DAHDI_SETLINEAR:
        if (!c->audio)
            return fail(EINVAL);        /* "makes no sense on non-audio channels" */
        f->linear = !!v;
        return 0;
    case DAHDI_AUDIOMODE:
        if (c->sigtype != DAHDI_SIG_CLEAR)
            return fail(EINVAL);        /* only clear channels change mode */
        c->audio = !!v;
        return 0;
    case DAHDI_GET_BUFINFO: {
        struct dahdi_bufferinfo *bi = arg;
        memset(bi, 0, sizeof *bi);
        bi->bufsize = f->blocksize;
        bi->numbufs = f->numbufs;
        return 0;
    }
    case DAHDI_SET_BUFINFO: {
        /* dahdi_chan_ioctl's DAHDI_SET_BUFINFO: a buffer of 16 to
         * DAHDI_MAX_BLOCKSIZE bytes, DAHDI_MAX_BUF_SPACE bytes in all, else
         * EINVAL; then dahdi_reallocbufs takes numbufs within 2 ..
         * DAHDI_MAX_NUM_BUFS (more or fewer are not refused: clamped).  The
         * buffers' size is the block size from now on (a D-channel's: the
         * longest frame it takes) */
        const struct dahdi_bufferinfo *bi = arg;
        if (bi->bufsize > DAHDI_MAX_BLOCKSIZE || bi->bufsize < 16 ||
            (long)bi->bufsize * bi->numbufs > DAHDI_MAX_BUF_SPACE)
            return fail(EINVAL);
        f->blocksize = bi->bufsize;
        f->numbufs = bi->numbufs < 2 ? 2 : bi->numbufs > DAHDI_MAX_NUM_BUFS
                         ? DAHDI_MAX_NUM_BUFS : bi->numbufs;
        c->keep = (size_t)f->numbufs * (size_t)f->blocksize;
        return 0;
    }
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
        const dspan *s = span_no(si->spanno ? si->spanno : c->spanno);
        if (!s)
            return fail(EINVAL);
        fill_spaninfo(s, si);
        return 0;
    }
    case DAHDI_HOOK:
        return hook(f, v);
    case DAHDI_GETCONF:
    case DAHDI_SETCONF:
        return conf(c, request, arg);
    case DAHDI_SETCADENCE: {
        const struct dahdi_ring_cadence *rc = arg;
        if (c->span->kind != SPAN_FXS || rc->ringcadence[0] <= 0 || rc->ringcadence[1] < 0)
            return fail(EINVAL);
        c->ring_on_ms = rc->ringcadence[0];
        c->ring_off_ms = rc->ringcadence[1];
        return 0;
    }
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
        if (c->span->kind != SPAN_TRUNK || !has_bits(c))
            return fail(EINVAL);        /* no bits on an analog port or a clear channel */
        *(int *)arg = dahdi_bits(c->dev->ts->rx);
        return 0;
    case DAHDI_SETTXBITS:
        if (c->sigtype != DAHDI_SIG_CAS)
            return fail(EINVAL);        /* the kernel's own signalling owns the bits */
        tslot_send_bits(c->dev->ts, sim_bits(v & 0xF));
        return 0;
    case DAHDI_MAINT:
        return maint(arg);
    default:
        return fail(ENOTTY);
    }
}

/* A channel of a span the kernel has (chan_from_num): configured or not
 * (a channel with no device here has sigtype 0, as one dahdi_cfg left
 * alone), not one whose board was unplugged.  NULL: none. */
static dchannel *span_channel(int channo)
{
    if (channo < 1 || channo > P.nchans || P.chans[channo - 1].span->gone)
        return NULL;
    return &P.chans[channo - 1];
}

/* DAHDI_CHANCONFIG, as dahdi_cfg sends it for each channel line (the
 * kernel's dahdi_ioctl_chanconfig, for what the personality models): a
 * slave (DAHDI_SIG_SLAVE: the channels after the first of a clear,
 * rawhdlc, nethdlc or fcshdlc line) takes its master's signalling and
 * SPECIFY refuses it; a dacs channel is cross-connected to `idlebits`
 * and SPECIFY refuses it too.  Only a channel with a device here can take
 * another signalling: one without is EINVAL (the kernel's takes one its
 * sigcap allows) and stays unconfigured.  EINVAL: no such channel, master
 * or dacs partner, as the kernel's. */
static int chanconfig(const struct dahdi_chanconfig *cc)
{
    dchannel *c = span_channel(cc->chan), *other = NULL;
    if (!c || !c->dev)
        return fail(EINVAL);
    if (cc->sigtype == DAHDI_SIG_SLAVE) {
        if (!(other = span_channel(cc->master)) || other == c)
            return fail(EINVAL);        /* "slave channel without master" */
        c->sigtype = other->sigtype;
        c->master = other->channo;
        return 0;
    }
    if ((cc->sigtype & __DAHDI_SIG_DACS) == __DAHDI_SIG_DACS) {
        if (!(other = span_channel(cc->idlebits)))
            return fail(EINVAL);        /* "dacs channel not found" */
        c->master = other->channo;
    } else
        c->master = 0;
    c->sigtype = cc->sigtype;
    return 0;
}

static int ctl_ioctl(unsigned long request, void *arg)
{
    switch (request) {
    case DAHDI_SPANSTAT: {
        struct dahdi_spaninfo *si = arg;
        const dspan *s = span_no(si->spanno);
        if (!s)
            return fail(EINVAL);
        fill_spaninfo(s, si);
        return 0;
    }
    case DAHDI_GET_PARAMS: {
        struct dahdi_params *p = arg;
        const dchannel *c = channel(p->channo);
        if (!c || c->span->gone)
            return fail(EINVAL);        /* chan_from_num: none, or unregistered */
        fill_params(c, p);
        return 0;
    }
    case DAHDI_CHANCONFIG:
        return chanconfig(arg);
    case DAHDI_MAINT:
        return maint(arg);
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
    else if (!arg)
        r = fail(EFAULT);       /* copy_from_user / put_user of NULL, as the kernel */
    else if (f->ctl)
        r = ctl_ioctl(request, arg);
    else if (request == DAHDI_SPECIFY) {
        /* dahdi_prechan_ioctl and dahdi_specchan_open: no such channel
         * (none, or its board unplugged: unregistered) EINVAL; one not
         * configured (sig 0: dahdi_cfg not run, or left unused) ENXIO; a
         * slave of another, a dacs cross-connect or a channel another
         * descriptor has (DAHDI_FLAGBIT_OPEN) EBUSY */
        int channo = *(int *)arg;
        dchannel *c = channo >= FIRST_PSEUDO ? channel(channo) : span_channel(channo);
        if (f->ch || !c)
            r = fail(EINVAL);
        else if (c->sigtype == DAHDI_SIG_NONE)
            r = fail(ENXIO);
        else if (c->master || (c->sigtype & __DAHDI_SIG_DACS) == __DAHDI_SIG_DACS ||
                 c->opens > 0)
            r = fail(EBUSY);
        else {
            f->ch = c;
            c->opens++;
            c->keep = (size_t)f->numbufs * (size_t)f->blocksize;
            /* the kernel's initialize_channel: a clear or hardhdlc channel
             * opens without audio (chan_dahdi sends AUDIOMODE 1 for a
             * B-channel); the others carry audio */
            c->audio = c->sigtype != DAHDI_SIG_CLEAR && c->sigtype != DAHDI_SIG_HARDHDLC;
            if (c->sigtype == DAHDI_SIG_HARDHDLC)
                dchan_opened(c->dev->dchan);    /* frames nobody read are gone */
            if (c->sigtype == DAHDI_SIG_CAS)    /* initialize_channel's dahdi_hangup */
                tslot_send_bits(c->dev->ts, sim_bits(c->idlebits));
            arm_ring_debounce(c);               /* ... likewise */
            r = 0;
        }
    } else if (!f->ch)
        r = fail(EINVAL);       /* not specified yet */
    else if (f->ch->removed && (f->ch->evlen == 0 || f->ch->span->gone)) {
        if (request == DAHDI_GETEVENT && arg)   /* nodev_unlocked_ioctl's hint */
            *(int *)arg = DAHDI_EVENT_REMOVED;
        r = fail(ENODEV);
    } else
        r = channel_ioctl(f, request, arg);
    if (f)
        update_wakefd();
    sim_unlock();
    return r;
}

/* ---- a hardhdlc channel's frames -----------------------------------------*/

/* HDLC's frame check sequence (CRC-16 of X.25), as a card's HDLC controller
 * appends it. */
static uint16_t hdlc_fcs(const uint8_t *p, int n)
{
    uint16_t fcs = 0xFFFF;
    int k;
    while (n-- > 0) {
        fcs ^= *p++;
        for (k = 0; k < 8; k++)
            fcs = fcs & 1 ? (uint16_t)((fcs >> 1) ^ 0x8408) : (uint16_t)(fcs >> 1);
    }
    return (uint16_t)~fcs;
}

/* The next frame that reached us and its FCS, cut to what the reader asked
 * (the kernel's read of an HDLC channel); one longer than the buffer was
 * lost on the way in (OVERRUN). */
static ssize_t hdlc_read(dfd *f, void *buf, size_t n)
{
    uint8_t frame[DT_DCHAN_MAX + 2];
    uint16_t fcs;
    int len;
    size_t amnt;
    if (f->ch->evlen > 0)
        return fail(ELAST);
    if (!(len = dchan_read(f->ch->dev->dchan, frame, DT_DCHAN_MAX)))
        return fail(EAGAIN);
    if (len + 2 > f->blocksize) {
        queue_event(f->ch, DAHDI_EVENT_OVERRUN);
        return fail(ELAST);
    }
    fcs = hdlc_fcs(frame, len);
    frame[len] = (uint8_t)(fcs & 0xFF);
    frame[len + 1] = (uint8_t)(fcs >> 8);
    amnt = (size_t)len + 2 < n ? (size_t)len + 2 : n;
    memcpy(buf, frame, amnt);
    return (ssize_t)amnt;
}

/* A frame and two bytes for its FCS (the kernel's write, cut to the block
 * size; dahdi_hdlc_getbuf strips the two and the card makes the FCS). */
static ssize_t hdlc_write(dfd *f, const void *buf, size_t n)
{
    int amnt = n < (size_t)f->blocksize ? (int)n : f->blocksize;
    if (f->ch->evlen > 0)
        return fail(ELAST);
    if (amnt - 2 > DT_DCHAN_MAX)
        return fail(EINVAL);    /* longer than the simulated line carries */
    if (amnt > 2 && dchan_write(f->ch->dev->dchan, buf, amnt - 2) < 0)
        return fail(EAGAIN);    /* a second of the line waits already */
    return amnt;
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
    if (f->ch->removed)
        r = fail(f->ch->evlen > 0 && !f->ch->span->gone ? ELAST : ENODEV);
    else if (f->ch->sigtype == DAHDI_SIG_HARDHDLC)
        r = hdlc_read(f, buf, n);
    else if (f->ch->evlen > 0)
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
    if (f->ch->removed)
        r = fail(f->ch->evlen > 0 && !f->ch->span->gone ? ELAST : ENODEV);
    else if (f->ch->sigtype == DAHDI_SIG_HARDHDLC)
        r = hdlc_write(f, buf, n);
    else if (f->ch->evlen > 0)
        r = fail(ELAST);
    else if (f->ch->tx.len + count > (size_t)f->numbufs * (size_t)f->blocksize)
        r = fail(EAGAIN);
    else {
        if (f->linear)
            memcpy(lin, buf, count * 2);
        else if (f->law == DAHDI_LAW_ALAW)
            alaw_to_linear(buf, lin, (int)count);
        else
            ulaw_to_linear(buf, lin, (int)count);
        fifo_push(&f->ch->tx, lin, count);
        if (f->ch->dev)
            sim_wake(f->ch->dev);
        r = (ssize_t)(count * sample_size(f));
    }
    sim_unlock();
    return r;
}
