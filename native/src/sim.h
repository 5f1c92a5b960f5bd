/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sim.h - internals of the board simulator, shared by its C files.
 *
 * One process-wide simulation (struct sim) holds every device in creation
 * order.  A device is anything with a name and a handle: voice channels,
 * analog line front ends, T1 and E1 spans, their timeslots and D-channels,
 * stations, conference DSPs.  Devices that carry audio transmit on one fixed bus timeslot and
 * listen to at most one.
 *
 * A tick (10 ms) runs in three steps (sim.c):
 *   1. every device reads what it listens to from the bus as it was at the
 *      end of the previous tick, runs its detectors and operations and
 *      writes what it transmits into the next bus image;
 *   2. conference DSPs mix their parties the same way;
 *   3. the images swap.
 * So every hop costs one tick of latency and the order devices are visited
 * never changes what anyone hears.
 *
 * Idle devices sleep: a line, timeslot or station whose tick would only
 * move its clocks on and send idle code is not visited at all (sim.c, "who
 * is awake").  Finding a device by handle or name wakes it.
 */
#ifndef CTI_SIM_H
#define CTI_SIM_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "srllib.h"
#include "dxxxlib.h"
#include "dtilib.h"
#include "msilib.h"
#include "dcblib.h"
#include "simfar.h"
#include "codec.h"
#include "dsp.h"

#define TICK SIMFAR_TICK_SAMPLES
#define TICK_MS SIMFAR_TICK_MS
#define IDLE_CODE 0xFF             /* mu-law idle: the bus's silence */
#define ALAW_IDLE_CODE 0xD5        /* A-law idle: an E1 line's silence */

typedef enum {
    DEV_VOICE = 1,      /* dxxxBnCm */
    DEV_LINE,           /* the analog front end paired with a voice channel */
    DEV_SPAN,           /* dtiBn */
    DEV_TS,             /* dtiBnTm */
    DEV_STATION,        /* msiBnCm */
    DEV_DCB,            /* dcbBnDm */
    DEV_BOARD,          /* dxxxBn / msiBn / dcbBn board devices */
    DEV_DCHAN           /* dtiBnD: an ISDN span's D-channel */
} dev_kind;

struct voice;
struct line;
struct span;
struct tslot;
struct station;
struct dcb;
struct dchan;

/* ---- growable sample FIFO (far-end audio, captures) ---------------------*/
typedef struct {
    int16_t *buf;
    size_t head, len, cap;
} sample_fifo;

void fifo_push(sample_fifo *f, const int16_t *s, size_t n);
size_t fifo_pop(sample_fifo *f, int16_t *out, size_t max);
void fifo_clear(sample_fifo *f);
void fifo_free(sample_fifo *f);

/* ---- the far end of a wire ---------------------------------------------*/
typedef struct farend {
    /* looked at every tick: kept together at the start */
    int state;                /* SIMFAR_ST_x */
    int capturing;
    int dtmf_busy, mf_busy;   /* digits queued or sounding */
    int tone_on;              /* the tone generator is sounding */
    int phase;
    struct cti_cid_tx *cid;
    long state_ms;            /* time in the current state */
    long phase_ms;            /* a sub-timer (cadence, wink, ...) */
    long dial_gap_ms;         /* since the last dialled digit */
    sample_fifo audio;
    /* transmit side: what the far end sends into the wire */
    int kind;                 /* SIMFAR_EP_x */
    int tones;                /* SIMFAR_TONES_x */
    int alaw;                 /* the wire carries A-law (E1), else mu-law */
    struct device *dev;       /* the line / timeslot / station device */
    cti_digit_tx *dtmf;
    cti_digit_tx *mf;
    cti_tone_tx *tone;
    /* receive side: what the far end hears */
    cti_digit_rx *drx;
    cti_digit_rx *mfrx;
    cti_cpt_rx *cpt;
    int heard_tone;
    char heard[128];
    int nheard;
    char dialled[64];
    int ndialled;
    sample_fifo capture;
    /* the call */
    char ani[32], name[32], dnis[32];
    int mf_dnis;
    int outbound;             /* SIMFAR_OUT_x for calls we place */
    int answer_rings;
    int rings;
} farend;

void farend_init(farend *fe, int kind, struct device *dev, int tones);
void farend_free(farend *fe);
/* One tick: hear in[], produce out[] (linear).  Detectors run only while
 * the endpoint is not idle or capturing. */
void farend_hear(farend *fe, const int16_t *in);
void farend_speak(farend *fe, int16_t *out);
/* The same in the wire's G.711 bytes (mu-law, A-law on an E1).  They
 * decode and encode only when the far end listens (capturing, or not idle)
 * or says something, so an idle wire costs almost nothing.  in == NULL:
 * the wire carries nothing. */
void farend_hear_wire(farend *fe, const uint8_t *in);
void farend_speak_wire(farend *fe, uint8_t *out);
int farend_quiet(const farend *fe);      /* no source is sending */
int farend_listening(const farend *fe);  /* capturing or in a call */
/* Queue digits on the DTMF (mf = 0) or MF generator; -1 if a character is
 * not a digit of that kind. */
/* Start or stop the far end's tone generator (a tone of its set). */
int farend_tone(farend *fe, int tone_id, int level_dbm0);
void farend_tone_stop(farend *fe);
int farend_put_digits(farend *fe, int mf, const char *digits, int on_ms, int off_ms,
                      int level_dbm0);
void farend_set_state(farend *fe, int state);
void farend_stop_sending(farend *fe);
/* Idle: it neither listens nor sends, so a tick only moves its clocks on. */
int farend_idle(const farend *fe);
void farend_clocks(farend *fe, long ms);  /* move its clocks on by ms */

/* ---- devices ------------------------------------------------------------*/
typedef struct device {
    /* looked at every tick: kept together at the start */
    dev_kind kind;
    int txslot;               /* -1: transmits nothing */
    int listen;               /* -1: listens to nothing */
    int open;
    struct voice *voice;
    struct line *line;
    struct span *span;
    struct tslot *ts;
    struct station *station;
    struct dcb *dcb;
    struct dchan *dchan;
    int index;
    char name[24];
    int board;                /* board number in the name */
    int idle_ticks;           /* ticks in a row it began idle (sim_tick) */
    long long slept_at;       /* asleep: the first tick it was not visited */
    int hang_next;            /* the next operation will hang */
    int hang_always;          /* every operation hangs, reset or not */
    int hung;                 /* an operation is hung */
    int subdevs;              /* board devices: how many channels */
    long lasterr;
    char errmsg[160];
} device;

/* ---- events -------------------------------------------------------------*/
#define EVT_DATA_MAX 64
typedef struct {
    long dev;
    unsigned long type;
    long len;
    long err;
    unsigned char data[EVT_DATA_MAX];
} sim_event;

typedef struct {
    long dev;
    unsigned long evt;
    EVTHDLRTYP handler;
} sim_handler;

/* ---- the simulation -----------------------------------------------------*/
typedef struct sim {
    pthread_mutex_t lock;
    pthread_cond_t cond;      /* signalled when events are queued */
    int waiters;              /* threads blocked in sr_waitevt(Ex) */
    int closing;              /* being reset: the waiters leave */
    int virtual_time;
    unsigned int seed;
    long long now_ms;
    long long ticks;
    /* devices */
    device **devs;
    int ndevs, capdevs;
    uint64_t *awake;          /* one bit per device: visited by the tick */
    int boards;               /* board numbers handed out per family */
    int voice_boards, dti_boards, msi_boards, dcb_boards;
    /* bus */
    uint8_t (*bus)[SIMFAR_SLOTS][TICK];   /* two images */
    int cur;
    int slot_driver[SIMFAR_SLOTS];        /* device index, -1 none */
    int next_slot;
    int slot_capture[SIMFAR_SLOTS];
    sample_fifo *slot_fifo;               /* per captured slot */
    /* events */
    sim_event *q;
    size_t qhead, qlen, qcap;
    sim_event current;
    int have_current;
    int evfd;                             /* eventfd, readable while qlen > 0 */
    int *farq;                            /* far-end events (r2mf.c): ep, kind, value */
    size_t farq_len, farq_cap;
    sim_handler handlers[64];
    int nhandlers;
    long srl_lasterr;
    char srl_errmsg[160];
    /* diagnostics */
    char misuse[4096];
    char error[256];
    /* wall clock */
    pthread_t ticker;
    int ticker_running;
    int ticker_stop;
} sim;

extern sim *g_sim;

/* sim.c */
void sim_lock(void);
void sim_unlock(void);
int sim_ensure(void);                     /* creates a default empty sim */
device *sim_add_device(dev_kind kind, const char *name, int board, int has_slot);
device *sim_find(const char *name);
/* Finding a device wakes it (sim_wake): the caller is about to use it. */
device *sim_dev(long handle);             /* open device by handle, or NULL */
device *sim_dev_any(long handle);         /* by handle, open or not */
void sim_wake(device *d);                 /* visit d from the next tick on */
long sim_handle(const device *d);
void sim_post(device *d, unsigned long type, const void *data, long len, long err);
void sim_misuse(const char *fmt, ...);
int sim_fail(const char *fmt, ...);       /* sets simfar_error, returns -1 */
void sim_tick(void);
/* Run virtual time until pred(arg) holds (sync calls), at most limit_ms. */
int sim_run_until(int (*pred)(void *), void *arg, long limit_ms);
const uint8_t *sim_bus_in(const device *d);   /* what d hears this tick */
const uint8_t *sim_bus_slot(int slot);        /* what slot's listeners hear this tick */
uint8_t *sim_bus_out(int slot);               /* where slot's samples go */

/* Errors set on a device: return -1. */
int dev_err(device *d, long code, const char *fmt, ...);
void dev_ok(device *d);

/* bus helpers shared by every family (bus.c) */
int bus_getxmitslot(device *d, SC_TSINFO *ts);
int bus_listen(device *d, SC_TSINFO *ts, long err_notdriven, long err_listening);
int bus_unlisten(device *d);
void bus_release_device(device *d);       /* on close: report listeners */
void bus_init_tables(void);
void ulaw_to_linear(const uint8_t *in, int16_t *out, int n);
void linear_to_ulaw(const int16_t *in, uint8_t *out, int n);
void alaw_to_linear(const uint8_t *in, int16_t *out, int n);
void linear_to_alaw(const int16_t *in, uint8_t *out, int n);
/* G.711 transcoding, code to code (decoded, then encoded in the other law). */
void ulaw_to_alaw(const uint8_t *in, uint8_t *out, int n);
void alaw_to_ulaw(const uint8_t *in, uint8_t *out, int n);

/* per family (voice.c, line.c, t1.c, station.c, dcb.c) */
struct voice *voice_new(device *d);
void voice_free(struct voice *v);
void voice_tick(device *d);
void voice_reset(device *d);              /* on close: stop everything */
struct line *line_new(device *d, struct device *voice_dev, int tones);
void line_free(struct line *l);
void line_tick(device *d);
void line_set_hook(struct line *l, int offhook);
int line_hook(const struct line *l);
int line_loop_current(const struct line *l);
farend *line_farend(struct line *l);
struct span *span_new(device *d, int e1, int signalling, int tones);
void span_free(struct span *s);
struct tslot *tslot_new(device *d, device *span, int signalling, int tones);
void tslot_free(struct tslot *t);
void tslot_tick(device *d);
void span_tick(device *d);                /* only while the line needs it (t1maint.c) */
/* an ISDN span's D-channel (dchannel.c): ticks while frames are on the line */
struct dchan *dchan_new(device *d, device *spandev);
void dchan_free(struct dchan *c);
void dchan_tick(device *d);
int dchan_idle(const struct dchan *c);
void dchan_opened(struct dchan *c);       /* frames it had not read are gone */
int dchan_status(device *d, char *buf, int max);
/* DAHDI's personality: a frame our side wrote (-1: a second of the line
 * waits already), the next frame that reached us (its whole length, the
 * bytes cut to max; 0: none), how many wait to be read. */
int dchan_write(struct dchan *c, const void *bytes, int len);
int dchan_read(struct dchan *c, void *out, int max);
int dchan_unread(const struct dchan *c);
farend *tslot_farend(struct tslot *t);
struct station *station_new(device *d);
void station_free(struct station *s);
void station_tick(device *d);
farend *station_farend(struct station *s);
/* DAHDI's personality (dahdisim.c): the phone's hook and its flashes so
 * far; the port ringing it with a cadence until stopped (on_ms 0). */
int station_phone_offhook(const struct station *s);
int station_flashes(const struct station *s);
void station_ring(struct station *s, int on_ms, int off_ms);
struct dcb *dcb_new(device *d);
void dcb_free(struct dcb *c);
void dcb_tick(device *d);
void dcb_reset(device *d);
int dcb_owns_slot(const device *d, int slot);

/* Sleeping (sim.c): *_idle says a tick would only move the device's clocks
 * on and send idle code; *_slept moves them on by the time it slept. */
int line_idle(const struct line *l);
void line_slept(struct line *l, long ms);
int span_idle(const struct span *s);
int tslot_idle(const struct tslot *t);
void tslot_slept(struct tslot *t, long ms);
int station_idle(const struct station *s);
void station_slept(struct station *s, long ms);

/* the voice channel paired with an analog line tells it about hook changes */
void voice_line_event(device *voice_dev, int cst_event, int cst_data);
int voice_has_line(const device *d);
device *voice_line_dev(const device *voice_dev);
int line_callerid(struct line *l, cti_callerid *out);
int line_rings(const struct line *l);
/* A port whose codec passes the line's audio on hook (DAHDI's FXO ports:
 * the caller ID between the rings reaches userspace, dahdisim.c). */
void line_pass_onhook_audio(struct line *l, int on);
int line_status_bits(const struct line *l);

int status_line(device *d, char *buf, int max);   /* simfar_device_status */


/* ---- per-family far-end actions (line.c, t1.c, station.c) ---------------*/
int line_fe_call(struct line *l, const char *ani, const char *name);
int line_fe_abandon(struct line *l);
int line_fe_hangup(struct line *l, int method);
int tslot_fe_call(struct tslot *t, const char *ani, const char *dnis, int mf);
int tslot_fe_abandon(struct tslot *t);
int tslot_fe_hangup(struct tslot *t, int method);
int station_fe_hook(struct station *s, int offhook);
int station_fe_flash(struct station *s);
int span_alarm(device *span, int alarm, int on);

/* farend.c: outbound call progress after our side dialled.  Returns 1 on
 * the tick the far end answers. */
int farend_outbound_tick(farend *fe);
/* Speech-like audio for an answering far end ("hello"). */
void farend_say_hello(farend *fe);
int voice_status(device *d, char *buf, int max);
void voice_pair_line(device *d, device *line);

int span_status(device *d, char *buf, int max);
int tslot_status(device *d, char *buf, int max);
int line_status(device *d, char *buf, int max);
int station_status(device *d, char *buf, int max);
int dcb_status(device *d, char *buf, int max);

#endif
