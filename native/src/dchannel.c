/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dchannel.c - the D-channel of an ISDN span (E1 CCS: timeslot 16; T1 PRI:
 * channel 24), the device "dtiBnD", and its far end.
 *
 * A D-channel carries HDLC frames at 64 kb/s.  The simulator carries whole
 * frames, message by message, as a socketpair(SOCK_SEQPACKET) would carry
 * them between two libpri instances (lines-real.md 2.1), but through the
 * span, so that the line decides what arrives:
 *
 *   our side     dt_dchanwrite ──> to_far ──tick──> at_far ──> simfar_dchannel_receive
 *   the far end  simfar_dchannel_send ──> to_us ──tick──> at_us ──> dt_dchanread
 *                                                          └──> DTEV_DCHAN
 *
 * Each tick each direction sends as many of its queued frames as 64 kb/s
 * allows: 80 bytes a tick, a frame costing its length and a flag; a frame
 * longer than a tick's bytes waits the ticks it needs.  The line routes
 * each one (t1maint_dchannel_route): to the other end, back through a
 * loop, or lost (the span in alarm, or the far end not running a
 * D-channel there), as a real line loses frames in flight.  The bytes are
 * not looked at: the FCS is the sender's (libpri writes two bytes for it
 * and drops two on reading).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t1.h"

#define LINE_BYTES_PER_TICK (64000 / 8 / (1000 / TICK_MS))  /* 64 kb/s: 80 bytes */
#define FLAG_BYTES 1                  /* the flag between two frames */
#define QUEUE_FRAMES 64               /* frames a queue holds */
#define SEND_LIMIT_BYTES 8000         /* a second of the line: more waiting is refused */

typedef struct {
    uint16_t len;
    uint8_t bytes[DT_DCHAN_MAX];
} frame;

/* Frames in order, a ring of QUEUE_FRAMES. */
typedef struct {
    frame f[QUEUE_FRAMES];
    int head, count;
    long bytes;                       /* their lengths added */
    long credit;                      /* bytes the line has given the head frame */
} frame_queue;

struct dchan {
    device *dev;
    device *spandev;
    frame_queue to_far, to_us;        /* written, not through the line yet */
    frame_queue at_far, at_us;        /* through, not read yet */
    unsigned long sent, received, lost;
};

struct dchan *dchan_new(device *d, device *spandev)
{
    struct dchan *c = calloc(1, sizeof *c);
    if (c) {
        c->dev = d;
        c->spandev = spandev;
    }
    return c;
}

void dchan_free(struct dchan *c) { free(c); }

static void queue_clear(frame_queue *q) { q->head = q->count = 0, q->bytes = q->credit = 0; }

static int queue_push(frame_queue *q, const void *bytes, int len)
{
    frame *f;
    if (q->count == QUEUE_FRAMES)
        return -1;
    f = &q->f[(q->head + q->count++) % QUEUE_FRAMES];
    f->len = (uint16_t)len;
    memcpy(f->bytes, bytes, (size_t)len);
    q->bytes += len;
    return 0;
}

static const frame *queue_head(const frame_queue *q)
{
    return q->count ? &q->f[q->head] : NULL;
}

static void queue_pop(frame_queue *q)
{
    q->bytes -= q->f[q->head].len;
    q->head = (q->head + 1) % QUEUE_FRAMES;
    q->count--;
}

/* Opening the device starts it afresh: nothing it had not read is kept. */
void dchan_opened(struct dchan *c)
{
    queue_clear(&c->at_us);
}

int dchan_idle(const struct dchan *c)
{
    return c->to_far.count == 0 && c->to_us.count == 0;
}

/* A frame that came through the line reaches one end's receive queue (full:
 * an overrun, the frame lost); ours tells the application. */
static void arrive(struct dchan *c, const frame *f, int to_us)
{
    unsigned short len = f->len;
    if (queue_push(to_us ? &c->at_us : &c->at_far, f->bytes, f->len) < 0) {
        c->lost++;
        return;
    }
    if (to_us) {
        c->received++;
        if (c->dev->open)
            sim_post(c->dev, DTEV_DCHAN, &len, sizeof len, 0);
    }
}

/* One tick of one direction: the line's bytes to the queued frames, each
 * sent routed as the line says. */
static void transmit(struct dchan *c, frame_queue *q, int from_us)
{
    const frame *f;
    q->credit += LINE_BYTES_PER_TICK;
    while ((f = queue_head(q)) != NULL && q->credit >= f->len + FLAG_BYTES) {
        int route = t1maint_dchannel_route(c->spandev->span->maint, from_us);
        q->credit -= f->len + FLAG_BYTES;
        if (route == DCHAN_LOST)
            c->lost++;
        else
            arrive(c, f, route == DCHAN_TO_US);
        queue_pop(q);
    }
    if (!q->count)
        q->credit = 0;               /* an idle line sends flags: no bytes banked */
}

void dchan_tick(device *d)
{
    struct dchan *c = d->dchan;
    transmit(c, &c->to_far, 1);
    transmit(c, &c->to_us, 0);
}

int dchan_status(device *d, char *buf, int max)
{
    struct dchan *c = d->dchan;
    return snprintf(buf, max, "kind=dchannel sent=%lu received=%lu lost=%lu waiting=%d "
                    "unread=%d", c->sent, c->received, c->lost, c->to_far.count,
                    c->at_us.count);
}

/* Queue a frame on q (to_far or to_us), or say why not. */
static int send_frame(struct dchan *c, frame_queue *q, const void *bytes, int len)
{
    if (!bytes || len < 1 || len > DT_DCHAN_MAX)
        return sim_fail("%s: a frame is 1 to %d bytes, not %d", c->dev->name, DT_DCHAN_MAX,
                        len);
    if (q->bytes + len > SEND_LIMIT_BYTES || queue_push(q, bytes, len) < 0)
        return sim_fail("%s: %ld bytes wait to be sent, more than a second of the line",
                        c->dev->name, q->bytes);
    sim_wake(c->dev);
    return 0;
}

/* The next frame of q into out (max bytes): its length, 0 if none. */
static int take_frame(struct dchan *c, frame_queue *q, void *out, int max)
{
    const frame *f = queue_head(q);
    if (!f)
        return 0;
    if (!out || f->len > max)
        return sim_fail("%s: the next frame is %d bytes, the buffer %d", c->dev->name,
                        f->len, max);
    memcpy(out, f->bytes, f->len);
    queue_pop(q);
    return f->len;
}

/* ---- DAHDI's personality: a hardhdlc channel (dahdisim.c) ----------------*/

int dchan_write(struct dchan *c, const void *bytes, int len)
{
    if (send_frame(c, &c->to_far, bytes, len) < 0)
        return -1;
    c->sent++;
    return 0;
}

int dchan_read(struct dchan *c, void *out, int max)
{
    const frame *f = queue_head(&c->at_us);
    int len;
    if (!f)
        return 0;
    len = f->len;
    memcpy(out, f->bytes, (size_t)(len < max ? len : max));
    queue_pop(&c->at_us);
    return len;
}

int dchan_unread(const struct dchan *c)
{
    return c->at_us.count;
}

/* ---- the dt_ calls (our side) -----------------------------------------------*/

static device *dchan_dev(int dev)
{
    device *d = sim_dev(dev);
    if (d && d->kind != DEV_DCHAN) {
        dev_err(d, EDT_BADDEV, "%s is not a D-channel (dtiBnD)", d->name);
        return NULL;
    }
    return d;
}

int dt_dchanwrite(int dev, const void *bytes, int len)
{
    device *d;
    int r = -1;
    sim_lock();
    d = dchan_dev(dev);
    if (d && send_frame(d->dchan, &d->dchan->to_far, bytes, len) < 0) {
        dev_err(d, len < 1 || len > DT_DCHAN_MAX ? EDT_PARAMERR : EDT_BUSY, "%s",
                simfar_error());
    } else if (d) {
        d->dchan->sent++;
        dev_ok(d);
        r = 0;
    }
    sim_unlock();
    return r;
}

int dt_dchanread(int dev, void *out, int max)
{
    device *d;
    int r = -1;
    sim_lock();
    d = dchan_dev(dev);
    if (d && (r = take_frame(d->dchan, &d->dchan->at_us, out, max)) < 0)
        dev_err(d, EDT_PARAMERR, "%s", simfar_error());
    else if (d)
        dev_ok(d);
    sim_unlock();
    return r;
}

/* ---- the far end (simfar.h) ------------------------------------------------*/

static struct dchan *dchan_of_span(const char *span)
{
    device *d = sim_find(span);
    if (!d || d->kind != DEV_SPAN) {
        sim_fail("no span named '%s'", span ? span : "(null)");
        return NULL;
    }
    if (!d->span->dchan) {
        sim_fail("%s has no D-channel (an E1 CCS or a T1 PRI span has one)", span);
        return NULL;
    }
    return d->span->dchan->dchan;
}

int simfar_dchannel_send(const char *span, const void *bytes, int len)
{
    struct dchan *c;
    int r = -1;
    sim_lock();
    c = dchan_of_span(span);
    if (c)
        r = send_frame(c, &c->to_us, bytes, len);
    sim_unlock();
    return r;
}

int simfar_dchannel_receive(const char *span, void *out, int max)
{
    struct dchan *c;
    int r = -1;
    sim_lock();
    c = dchan_of_span(span);
    if (c)
        r = take_frame(c, &c->at_far, out, max);
    sim_unlock();
    return r;
}
