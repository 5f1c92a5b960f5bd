/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sim.c - the simulation itself: devices, time, the tick, events, errors.
 *
 * Every public entry point of the library takes one recursive lock, so the
 * wall-clock ticker thread and the application never see half a device's
 * tick.  A tick of every device of a full chassis takes a millisecond or
 * more; an application call that had to wait for all of it would stall the
 * application's event loop for as long, dozens of times per call set up.  So
 * the ticker lets a waiting caller in between two devices, as a real board's
 * firmware takes host commands between its DSP frames.
 * Events are kept in a FIFO; an eventfd is readable exactly while the FIFO
 * is not empty, which is what lets an event loop watch the simulator.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"
#include "dahdisim.h"

sim *g_sim;
static pthread_mutex_t g_lock;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static atomic_int g_waiting;       /* application threads blocked in sim_lock */
static __thread int t_ticker;      /* this thread is the wall-clock ticker */
static char g_error[256];

static void init_lock(void)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&g_lock, &attr);
}

void sim_lock(void)
{
    pthread_once(&g_once, init_lock);
    if (pthread_mutex_trylock(&g_lock) == 0)
        return;
    atomic_fetch_add(&g_waiting, 1);
    pthread_mutex_lock(&g_lock);
    atomic_fetch_sub(&g_waiting, 1);
}

/* The ticker, between two devices: hand the lock to waiting callers. */
static void let_callers_in(void)
{
    if (!t_ticker || atomic_load_explicit(&g_waiting, memory_order_relaxed) == 0)
        return;
    pthread_mutex_unlock(&g_lock);
    while (atomic_load(&g_waiting) > 0)
        sched_yield();
    pthread_mutex_lock(&g_lock);
}

void sim_unlock(void)
{
    pthread_mutex_unlock(&g_lock);
}

int sim_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_error, sizeof g_error, fmt, ap);
    va_end(ap);
    return -1;
}

const char *simfar_error(void)
{
    return g_error;
}

int dev_err(device *d, long code, const char *fmt, ...)
{
    va_list ap;
    d->lasterr = code;
    va_start(ap, fmt);
    vsnprintf(d->errmsg, sizeof d->errmsg, fmt, ap);
    va_end(ap);
    snprintf(g_error, sizeof g_error, "%s: %s", d->name, d->errmsg);
    return -1;
}

void dev_ok(device *d)
{
    d->lasterr = 0;
    strcpy(d->errmsg, "No error");
}

void sim_misuse(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    size_t used = strlen(g_sim->misuse);
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (used + strlen(line) + 2 < sizeof g_sim->misuse) {
        strcat(g_sim->misuse, line);
        strcat(g_sim->misuse, "\n");
    }
}

/* ---- lifecycle ----------------------------------------------------------*/

static void free_device(device *d)
{
    if (d->voice) voice_free(d->voice);
    if (d->line) line_free(d->line);
    if (d->span) span_free(d->span);
    if (d->ts) tslot_free(d->ts);
    if (d->station) station_free(d->station);
    if (d->dcb) dcb_free(d->dcb);
    if (d->dchan) dchan_free(d->dchan);
    free(d);
}

static void sim_destroy(sim *s)
{
    int i;
    if (!s)
        return;
    for (i = 0; i < s->ndevs; i++)
        free_device(s->devs[i]);
    for (i = 0; i < SIMFAR_SLOTS; i++)
        fifo_free(&s->slot_fifo[i]);
    free(s->slot_fifo);
    free(s->devs);
    free(s->awake);
    free(s->bus);
    free(s->q);
    free(s->farq);
    if (s->evfd >= 0)
        close(s->evfd);
    free(s);
}

static sim *sim_create(int virtual_time, unsigned int seed)
{
    sim *s = calloc(1, sizeof *s);
    int i;
    if (!s)
        return NULL;
    bus_init_tables();
    s->virtual_time = virtual_time;
    s->seed = seed;
    s->bus = malloc(2 * sizeof *s->bus);
    s->slot_fifo = calloc(SIMFAR_SLOTS, sizeof *s->slot_fifo);
    s->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_cond_init(&s->cond, NULL);
    if (!s->bus || !s->slot_fifo || s->evfd < 0) {
        sim_destroy(s);
        return NULL;
    }
    memset(s->bus, IDLE_CODE, 2 * sizeof *s->bus);
    for (i = 0; i < SIMFAR_SLOTS; i++)
        s->slot_driver[i] = -1;
    strcpy(s->srl_errmsg, "No error");
    return s;
}

static void stop_ticker(void);
static void release_waiters(sim *s);

int simfar_reset(int virtual_time, unsigned int seed)
{
    sim *s;
    sim_lock();
    stop_ticker();
    if (g_sim)
        release_waiters(g_sim);
    dahdisim_reset();
    sim_destroy(g_sim);
    g_sim = NULL;
    s = sim_create(virtual_time, seed);
    if (!s) {
        sim_unlock();
        return sim_fail("out of memory or no eventfd: %s", strerror(errno));
    }
    srandom(seed);
    g_sim = s;
    sim_unlock();
    return 0;
}

int sim_ensure(void)
{
    if (g_sim)
        return 0;
    return simfar_reset(1, 1);
}

device *sim_add_device(dev_kind kind, const char *name, int board, int has_slot)
{
    sim *s = g_sim;
    device *d;
    if (has_slot && s->next_slot >= SIMFAR_SLOTS) {
        sim_fail("the bus is full: all %d timeslots are driven", SIMFAR_SLOTS);
        return NULL;
    }
    if (s->ndevs == s->capdevs) {
        int cap = s->capdevs ? 2 * s->capdevs : 64;     /* a multiple of 64 */
        device **n = realloc(s->devs, cap * sizeof *n);
        uint64_t *a = realloc(s->awake, cap / 64 * sizeof *a);
        if (n)
            s->devs = n;
        if (a)
            s->awake = a;
        if (!n || !a) {
            sim_fail("out of memory");
            return NULL;
        }
        memset(a + s->capdevs / 64, 0, (cap - s->capdevs) / 64 * sizeof *a);
        s->capdevs = cap;
    }
    d = calloc(1, sizeof *d);
    if (!d) {
        sim_fail("out of memory");
        return NULL;
    }
    d->index = s->ndevs;
    d->kind = kind;
    d->board = board;
    snprintf(d->name, sizeof d->name, "%s", name);
    d->txslot = -1;
    d->listen = -1;
    if (has_slot) {
        d->txslot = s->next_slot++;
        s->slot_driver[d->txslot] = d->index;
    }
    dev_ok(d);
    s->devs[s->ndevs++] = d;
    s->awake[d->index / 64] |= 1ull << d->index % 64;
    return d;
}

device *sim_find(const char *name)
{
    int i;
    if (!g_sim || !name)
        return NULL;
    for (i = 0; i < g_sim->ndevs; i++)
        if (strcmp(g_sim->devs[i]->name, name) == 0) {
            sim_wake(g_sim->devs[i]);
            return g_sim->devs[i];
        }
    return NULL;
}

long sim_handle(const device *d)
{
    return d->index + 1;
}

device *sim_dev_any(long handle)
{
    if (!g_sim || handle < 1 || handle > g_sim->ndevs)
        return NULL;
    sim_wake(g_sim->devs[handle - 1]);
    return g_sim->devs[handle - 1];
}

device *sim_dev(long handle)
{
    device *d = sim_dev_any(handle);
    return d && d->open ? d : NULL;
}

/* ---- events -------------------------------------------------------------*/

static void evfd_set(int readable)
{
    uint64_t v = 1;
    ssize_t r;
    if (readable)
        r = write(g_sim->evfd, &v, sizeof v);
    else
        r = read(g_sim->evfd, &v, sizeof v);
    (void)r;
}

void sim_post(device *d, unsigned long type, const void *data, long len, long err)
{
    sim *s = g_sim;
    sim_event *e;
    if (s->qlen == s->qcap) {
        size_t cap = s->qcap ? 2 * s->qcap : 256, i;
        sim_event *n = malloc(cap * sizeof *n);
        if (!n)
            return;
        for (i = 0; i < s->qlen; i++)
            n[i] = s->q[(s->qhead + i) % s->qcap];
        free(s->q);
        s->q = n;
        s->qhead = 0;
        s->qcap = cap;
    }
    e = &s->q[(s->qhead + s->qlen) % s->qcap];
    memset(e, 0, sizeof *e);
    e->dev = d ? sim_handle(d) : SRL_DEVICE;
    e->type = type;
    e->err = err;
    if (len > EVT_DATA_MAX)
        len = EVT_DATA_MAX;
    e->len = data ? len : 0;
    if (data && len > 0)
        memcpy(e->data, data, len);
    if (s->qlen++ == 0)
        evfd_set(1);
    pthread_cond_broadcast(&s->cond);
}

static int pop_event(const long *handles, int count, sim_event *out)
{
    sim *s = g_sim;
    size_t i;
    for (i = 0; i < s->qlen; i++) {
        sim_event *e = &s->q[(s->qhead + i) % s->qcap];
        int j, match = handles == NULL;
        for (j = 0; !match && j < count; j++)
            match = handles[j] == e->dev;
        if (!match)
            continue;
        *out = *e;
        /* close the gap: move the events before it one place on */
        for (; i > 0; i--)
            s->q[(s->qhead + i) % s->qcap] = s->q[(s->qhead + i - 1) % s->qcap];
        s->qhead = (s->qhead + 1) % s->qcap;
        if (--s->qlen == 0)
            evfd_set(0);
        return 1;
    }
    return 0;
}

/* Handlers run without the lock; a handler returning 0 consumes the
 * event, any other value lets sr_waitevt return it as well. */
static int run_handlers(const sim_event *e)
{
    sim_handler hs[64];
    int i, n = 0, pass = 1, any = 0;
    for (i = 0; i < g_sim->nhandlers; i++) {
        sim_handler *h = &g_sim->handlers[i];
        if ((h->dev == EV_ANYDEV || h->dev == e->dev) &&
            (h->evt == EV_ANYEVT || h->evt == e->type))
            hs[n++] = *h;
    }
    for (i = 0; i < n; i++) {
        any = 1;
        sim_unlock();
        pass = hs[i].handler(0) != 0 && pass;
        sim_lock();
    }
    return !any || pass;
}

static long wait_common(const long *handles, int count, long tmout)
{
    struct timespec deadline;
    sim *s;
    if (sim_ensure() < 0)
        return -1;
    s = g_sim;
    if (tmout > 0) {
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += tmout / 1000;
        deadline.tv_nsec += (tmout % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    for (;;) {
        sim_event e;
        int timed_out = 0;
        if (pop_event(handles, count, &e)) {
            s->current = e;
            s->have_current = 1;
            if (run_handlers(&s->current))
                return 0;
            continue;
        }
        /* Nothing pending.  A bounded wait waits for an event from another
         * thread (the ticker, or calls made there) as a board's library
         * does.  Virtual time never moves by itself: waiting for ever
         * there, with no ticker, would never end. */
        if (tmout == 0 || s->closing || (tmout < 0 && (s->virtual_time || !s->ticker_running)))
            break;
        s->waiters++;
        if (tmout > 0)
            timed_out = pthread_cond_timedwait(&s->cond, &g_lock, &deadline) != 0;
        else
            pthread_cond_wait(&s->cond, &g_lock);
        s->waiters--;
        if (timed_out)
            break;
    }
    s->srl_lasterr = ESR_TMOUT;
    strcpy(s->srl_errmsg, "Timeout waiting for an event");
    return -1;
}

/* Before a reset frees the simulation: every thread waiting in it leaves
 * (with a timeout), so none wakes in freed memory. */
static void release_waiters(sim *s)
{
    s->closing = 1;
    while (s->waiters > 0) {
        pthread_cond_broadcast(&s->cond);
        sim_unlock();
        sched_yield();
        sim_lock();
    }
}

long sr_waitevt(long tmout)
{
    long r;
    sim_lock();
    r = wait_common(NULL, 0, tmout);
    sim_unlock();
    return r;
}

long sr_waitevtEx(long *handlep, int count, long tmout, long *evthp)
{
    long r;
    sim_lock();
    r = wait_common(handlep, count, tmout);
    if (r == 0 && evthp)
        *evthp = 1;
    sim_unlock();
    return r;
}

long sr_getevtdev(unsigned long evh)
{
    (void)evh;
    return g_sim && g_sim->have_current ? g_sim->current.dev : -1;
}

long sr_getevttype(unsigned long evh)
{
    (void)evh;
    return g_sim && g_sim->have_current ? (long)g_sim->current.type : -1;
}

long sr_getevtlen(unsigned long evh)
{
    (void)evh;
    return g_sim && g_sim->have_current ? g_sim->current.len : 0;
}

void *sr_getevtdatap(unsigned long evh)
{
    (void)evh;
    if (!g_sim || !g_sim->have_current || g_sim->current.len == 0)
        return NULL;
    return g_sim->current.data;
}

long sr_enbhdlr(long dev, unsigned long evt, EVTHDLRTYP handler)
{
    long r = 0;
    sim_lock();
    if (sim_ensure() < 0 || !handler ||
        g_sim->nhandlers >= (int)(sizeof g_sim->handlers / sizeof g_sim->handlers[0])) {
        g_sim->srl_lasterr = ESR_PARMERR;
        strcpy(g_sim->srl_errmsg, "no handler given or too many handlers");
        r = -1;
    } else {
        sim_handler *h = &g_sim->handlers[g_sim->nhandlers++];
        h->dev = dev;
        h->evt = evt;
        h->handler = handler;
    }
    sim_unlock();
    return r;
}

long sr_dishdlr(long dev, unsigned long evt, EVTHDLRTYP handler)
{
    int i, found = 0;
    sim_lock();
    for (i = 0; g_sim && i < g_sim->nhandlers; i++) {
        sim_handler *h = &g_sim->handlers[i];
        if (h->dev == dev && h->evt == evt && h->handler == handler) {
            memmove(h, h + 1, (g_sim->nhandlers - i - 1) * sizeof *h);
            g_sim->nhandlers--;
            found = 1;
            break;
        }
    }
    if (!found && g_sim) {
        g_sim->srl_lasterr = ESR_NOHDLR;
        strcpy(g_sim->srl_errmsg, "no such handler is enabled");
    }
    sim_unlock();
    return found ? 0 : -1;
}

long sr_putevt(long dev, unsigned long evt, long len, void *datap, long err)
{
    device *d;
    sim_lock();
    if (sim_ensure() < 0) {
        sim_unlock();
        return -1;
    }
    d = dev == SRL_DEVICE ? NULL : sim_dev_any(dev);
    if (dev != SRL_DEVICE && !d) {
        g_sim->srl_lasterr = ESR_PARMERR;
        snprintf(g_sim->srl_errmsg, sizeof g_sim->srl_errmsg, "no device %ld", dev);
        sim_unlock();
        return -1;
    }
    sim_post(d, evt, datap, len, err);
    sim_unlock();
    return 0;
}

int sr_getevtfd(void)
{
    int fd;
    sim_lock();
    fd = sim_ensure() < 0 ? -1 : g_sim->evfd;
    sim_unlock();
    return fd;
}

int sr_getboardcnt(const char *devclass, int *count)
{
    int n = -1;
    sim_lock();
    if (sim_ensure() == 0 && devclass && count) {
        if (strcmp(devclass, DEV_CLASS_VOICE) == 0) n = g_sim->voice_boards;
        else if (strcmp(devclass, DEV_CLASS_DTI) == 0) n = g_sim->dti_boards;
        else if (strcmp(devclass, DEV_CLASS_MSI) == 0) n = g_sim->msi_boards;
        else if (strcmp(devclass, DEV_CLASS_DCB) == 0) n = g_sim->dcb_boards;
        if (n >= 0)
            *count = n;
    }
    if (n < 0 && g_sim) {
        g_sim->srl_lasterr = ESR_PARMERR;
        snprintf(g_sim->srl_errmsg, sizeof g_sim->srl_errmsg,
                 "unknown device class '%s'", devclass ? devclass : "(null)");
    }
    sim_unlock();
    return n < 0 ? -1 : 0;
}

long ATDV_LASTERR(long dev)
{
    long r = -1;
    sim_lock();
    if (g_sim && dev == SRL_DEVICE)
        r = g_sim->srl_lasterr;
    else if (sim_dev_any(dev))
        r = sim_dev_any(dev)->lasterr;
    sim_unlock();
    return r;
}

char *ATDV_ERRMSGP(long dev)
{
    static char unknown[] = "Invalid device handle";
    char *r = unknown;
    sim_lock();
    if (g_sim && dev == SRL_DEVICE)
        r = g_sim->srl_errmsg;
    else if (sim_dev_any(dev))
        r = sim_dev_any(dev)->errmsg;
    sim_unlock();
    return r;
}

char *ATDV_NAMEP(long dev)
{
    static char unknown[] = "";
    char *r;
    sim_lock();
    r = sim_dev_any(dev) ? sim_dev_any(dev)->name : unknown;
    sim_unlock();
    return r;
}

long ATDV_SUBDEVS(long dev)
{
    long r = -1;
    sim_lock();
    if (sim_dev(dev))
        r = sim_dev(dev)->subdevs;
    sim_unlock();
    return r;
}

/* ---- who is awake -------------------------------------------------------
 *
 * Most of a big chassis is idle at any moment: a timeslot or a station
 * whose far end neither listens nor sends, an analog line on-hook that
 * does not ring.  Such a device's tick would only move its clocks on and
 * write idle code into its slot; once both bus images hold that idle code
 * it is put to sleep and the tick does not visit it at all: an idle device
 * costs one bit of a bitmap, not a cache miss.
 *
 * The tick visits the devices whose bit is set in the awake bitmap, in
 * creation order.  Nothing but the API changes an idle device (a sleeping
 * one hears nothing it would act on), and every entry point finds its
 * device through sim_dev or sim_find, which wake it; so do the two ways one
 * device works another: a voice channel its analog line, a span coming out
 * of alarm its timeslots, a span whose line loops, errs or tests (t1maint.c)
 * its timeslots; a D-channel while frames are on its line.  A device woken
 * moves its clocks on by the time it slept,
 * then is visited until it is idle again.  Voice channels and conference
 * DSPs are always visited; a span only while its line needs a tick (a
 * mismatched end or an AMI line, a loop, errors, a loop code, a BERT).
 */

static int device_idle(const device *d)
{
    switch (d->kind) {
    case DEV_LINE: return line_idle(d->line);
    case DEV_SPAN: return span_idle(d->span);
    case DEV_TS: return tslot_idle(d->ts);
    case DEV_STATION: return station_idle(d->station);
    case DEV_DCHAN: return dchan_idle(d->dchan);
    case DEV_VOICE:
    case DEV_DCB: return 0;
    default: return 1;             /* boards have no tick */
    }
}

static void device_slept(device *d, long ms)
{
    switch (d->kind) {
    case DEV_LINE: line_slept(d->line, ms); break;
    case DEV_TS: tslot_slept(d->ts, ms); break;
    case DEV_STATION: station_slept(d->station, ms); break;
    default: break;
    }
}

void sim_wake(device *d)
{
    sim *s = g_sim;
    uint64_t *word = &s->awake[d->index / 64], bit = 1ull << d->index % 64;
    if (!(*word & bit)) {
        device_slept(d, (long)(s->ticks - d->slept_at) * TICK_MS);
        d->idle_ticks = 0;
        *word |= bit;
    }
    /* an analog line is worked through its voice channel (dx_sethook, the
     * far-end calls on the channel's handle) */
    if (d->kind == DEV_VOICE && voice_has_line(d))
        sim_wake(voice_line_dev(d));
}

/* After d's tick: idle is whether it began the tick idle.  Two such ticks
 * in a row wrote idle code into both bus images, and an idle tick leaves
 * the device idle: it may sleep. */
static void maybe_sleep(device *d, int idle)
{
    d->idle_ticks = idle ? d->idle_ticks + 1 : 0;
    if (d->idle_ticks < 2)
        return;
    g_sim->awake[d->index / 64] &= ~(1ull << d->index % 64);
    d->slept_at = g_sim->ticks + 1;
}

/* ---- the tick -----------------------------------------------------------*/

const uint8_t *sim_bus_in(const device *d)
{
    static const uint8_t idle[TICK] = {
        [0 ... TICK - 1] = IDLE_CODE
    };
    if (d->listen < 0)
        return idle;
    return g_sim->bus[g_sim->cur][d->listen];
}

const uint8_t *sim_bus_slot(int slot)
{
    return g_sim->bus[g_sim->cur][slot];
}

uint8_t *sim_bus_out(int slot)
{
    return g_sim->bus[!g_sim->cur][slot];
}

void sim_tick(void)
{
    sim *s = g_sim;
    int w, i;
    for (w = 0; w * 64 < s->ndevs; w++) {
        uint64_t bits = s->awake[w];
        while (bits) {
            device *d = s->devs[w * 64 + __builtin_ctzll(bits)];
            int idle = device_idle(d);
            bits &= bits - 1;
            switch (d->kind) {
            case DEV_LINE: line_tick(d); break;
            case DEV_SPAN: span_tick(d); break;
            case DEV_TS: tslot_tick(d); break;
            case DEV_STATION: station_tick(d); break;
            case DEV_VOICE: voice_tick(d); break;
            case DEV_DCB: dcb_tick(d); break;
            case DEV_DCHAN: dchan_tick(d); break;
            default: break;
            }
            maybe_sleep(d, idle);
            let_callers_in();
        }
    }
    dahdisim_tick();
    for (i = 0; i < SIMFAR_SLOTS; i++) {
        int16_t lin[TICK];
        if (!s->slot_capture[i])
            continue;
        ulaw_to_linear(s->bus[!s->cur][i], lin, TICK);
        fifo_push(&s->slot_fifo[i], lin, TICK);
    }
    s->cur = !s->cur;
    s->now_ms += TICK_MS;
    s->ticks++;
}

int simfar_advance(long ms)
{
    long t;
    sim_lock();
    if (sim_ensure() < 0) {
        sim_unlock();
        return -1;
    }
    if (!g_sim->virtual_time || ms < 0) {
        sim_unlock();
        return sim_fail(ms < 0 ? "cannot advance by a negative time"
                               : "simfar_advance needs virtual time");
    }
    for (t = 0; t < ms; t += TICK_MS)
        sim_tick();
    sim_unlock();
    return 0;
}

int sim_run_until(int (*pred)(void *), void *arg, long limit_ms)
{
    long t = 0;
    while (!pred(arg)) {
        if (t >= limit_ms)
            return -1;
        if (g_sim->virtual_time) {
            sim_tick();
        } else {
            if (!g_sim->ticker_running)
                return -1;
            pthread_cond_wait(&g_sim->cond, &g_lock);
            continue;
        }
        t += TICK_MS;
    }
    return 0;
}

long long simfar_now_ms(void)
{
    long long t;
    sim_lock();
    t = g_sim ? g_sim->now_ms : 0;
    sim_unlock();
    return t;
}

long long simfar_ticks(void)
{
    long long t;
    sim_lock();
    t = g_sim ? g_sim->ticks : 0;
    sim_unlock();
    return t;
}

static void *ticker_main(void *arg)
{
    struct timespec next;
    (void)arg;
    t_ticker = 1;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (;;) {
        next.tv_nsec += TICK_MS * 1000000L;
        if (next.tv_nsec >= 1000000000L) {
            next.tv_sec++;
            next.tv_nsec -= 1000000000L;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
        sim_lock();
        if (g_sim->ticker_stop) {
            sim_unlock();
            break;
        }
        sim_tick();
        pthread_cond_broadcast(&g_sim->cond);
        sim_unlock();
    }
    return NULL;
}

static void stop_ticker(void)
{
    if (!g_sim || !g_sim->ticker_running)
        return;
    g_sim->ticker_stop = 1;
    pthread_cond_broadcast(&g_sim->cond);
    sim_unlock();
    pthread_join(g_sim->ticker, NULL);
    sim_lock();
    g_sim->ticker_running = 0;
    g_sim->ticker_stop = 0;
}

int simfar_run_clock(int on)
{
    int r = 0;
    sim_lock();
    if (sim_ensure() < 0) {
        sim_unlock();
        return -1;
    }
    if (g_sim->virtual_time) {
        r = sim_fail("this simulation runs on virtual time: reset it with virtual_time = 0");
    } else if (on && !g_sim->ticker_running) {
        if (pthread_create(&g_sim->ticker, NULL, ticker_main, NULL) != 0) {
            r = sim_fail("cannot start the ticker thread: %s", strerror(errno));
        } else {
            pthread_setname_np(g_sim->ticker, "sim-ticker");   /* for top -H, benchmarks */
            g_sim->ticker_running = 1;
        }
    } else if (!on) {
        stop_ticker();
    }
    sim_unlock();
    return r;
}

/* ---- sample FIFOs -------------------------------------------------------*/

void fifo_push(sample_fifo *f, const int16_t *s, size_t n)
{
    size_t i;
    if (f->len + n > f->cap) {
        size_t cap = f->cap ? f->cap : 1024;
        int16_t *b;
        while (cap < f->len + n)
            cap *= 2;
        b = malloc(cap * sizeof *b);
        if (!b)
            return;
        for (i = 0; i < f->len; i++)
            b[i] = f->buf[(f->head + i) % f->cap];
        free(f->buf);
        f->buf = b;
        f->cap = cap;
        f->head = 0;
    }
    for (i = 0; i < n; i++)
        f->buf[(f->head + f->len + i) % f->cap] = s[i];
    f->len += n;
}

size_t fifo_pop(sample_fifo *f, int16_t *out, size_t max)
{
    size_t i, n = f->len < max ? f->len : max;
    for (i = 0; i < n; i++)
        out[i] = f->buf[(f->head + i) % f->cap];
    if (f->cap)
        f->head = (f->head + n) % f->cap;
    f->len -= n;
    return n;
}

void fifo_clear(sample_fifo *f)
{
    f->head = f->len = 0;
}

void fifo_free(sample_fifo *f)
{
    free(f->buf);
    memset(f, 0, sizeof *f);
}
