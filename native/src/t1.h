/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * t1.h - a T1 span and its timeslots, shared by t1.c (signalling, alarms,
 * the dt_ calls of a trunk) and t1maint.c (the line itself: framing, line
 * code, clocks, errors, loopbacks, BERT).
 */
#ifndef CTI_T1_H
#define CTI_T1_H

#include "sim.h"

typedef struct span {
    device *dev;
    int signalling;
    int tones;
    unsigned alarms;           /* 1 << DTT1_x: raised, as the application was told */
    unsigned forced;           /* raised by simfar_span_alarm */
    unsigned line_alarms;      /* raised by the line's state (t1maint_tick) */
    unsigned short errmask;    /* DTEC_ */
    int alarm_mode;
    device *ts[DTV_NUMTS];
    struct t1maint *maint;     /* the line (t1maint.c) */
} span;

typedef struct tslot {
    device *dev;
    device *spandev;
    int index;                 /* 0 .. DTV_NUMTS - 1 on its span */
    int signalling;
    unsigned char tx;          /* our bits: A = 0x1, B = 0x2, C = 0x4, D = 0x8 */
    unsigned char rx;          /* far end's bits as we receive them */
    unsigned char far_tx;      /* far end's bits as it sends them (rx lags while down) */
    unsigned char seen;        /* our bits as the far end last received them */
    unsigned short sigmask;    /* DTMM_ enabled */
    long wink_ms;              /* > 0: we are winking */
    int wink_async;
    long tx_a_ms;              /* how long our A bit has held its value */
    long rx_a_ms;              /* how long the far end's A bit has held */
    int register_mf;           /* the far end collects our number in MF, not DTMF */
    int receivers_for;         /* the far-end state the receivers were set for */
    cti_digit_rx *dtmf_rx;     /* the far end's receivers (see set_receivers) */
    cti_digit_rx *mf_rx;
    farend fe;
} tslot;

/* Alarms that take the whole span down: no audio and no signalling get
 * through (the received bits are held) until they clear. */
int span_is_down(const span *s);

/* ---- t1maint.c: the line --------------------------------------------------*/
struct t1maint *t1maint_new(span *s);
void t1maint_free(struct t1maint *m);
/* The span was opened: its counters start again from zero. */
void t1maint_opened(struct t1maint *m);
/* Once a tick, before the span's timeslots: returns the alarms the line's
 * state raises now (1 << DTT1_x). */
unsigned t1maint_tick(struct t1maint *m);
/* Nothing on the line needs the tick: the span may sleep. */
int t1maint_idle(const struct t1maint *m);
/* The payload of the timeslots goes through t1maint_send and
 * t1maint_receive (a loop, errors, slips, a BERT or a loop code); they are
 * kept awake meanwhile. */
int t1maint_shapes(const struct t1maint *m);
/* Timeslot k: what the far end hears (NULL: nothing reaches it), given
 * what the application sends; then what we receive, given what the far end
 * says.  down: the span is in alarm. */
const uint8_t *t1maint_send(struct t1maint *m, int k, const uint8_t *ours, int down);
void t1maint_receive(struct t1maint *m, int k, const uint8_t *theirs, int down,
                     uint8_t *to_us);
/* A BERT runs on timeslot k (its own or the span's). */
int t1maint_testing(const struct t1maint *m, int k);
/* An OOF alarm raised by hand counts as an OOF event. */
void t1maint_count_oof(struct t1maint *m);
int t1maint_status(const struct t1maint *m, char *buf, int max);

#endif
