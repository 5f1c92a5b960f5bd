/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * t1.h - a T1 or E1 span and its timeslots, shared by t1.c (signalling,
 * alarms, the dt_ calls of a trunk), t1maint.c (the line itself: framing,
 * line code, clocks, errors, loopbacks, BERT) and dchannel.c (an ISDN
 * span's D-channel).
 *
 * A span's timeslot devices are its bearer channels, numbered as the
 * vendor numbers them:
 *
 *   T1, robbed bit   T1-T24   channels 1-24
 *   T1, ISDN PRI     T1-T23   channels 1-23; channel 24 is the D-channel
 *   E1               T1-T30   timeslots 1-15 and 17-31 (span_line_timeslot);
 *                             timeslot 0 frames the line, 16 carries the
 *                             CAS bits or, with CCS, the D-channel
 *
 * A T1 line carries mu-law, an E1 line A-law; the bus is mu-law whatever
 * the span, so an E1 timeslot converts between the two (tslot_tick).
 */
#ifndef CTI_T1_H
#define CTI_T1_H

#include "sim.h"

#define SPAN_MAX_TS 30             /* bearer timeslots: 24 on T1 (23 PRI), 30 on E1 */
#define E1_CAS_TS 16               /* the E1 timeslot of CAS bits or the D-channel */

typedef struct span {
    device *dev;
    int e1;                    /* an E1 span, else T1 */
    int signalling;            /* SIMFAR_SIG_x */
    int tones;
    int nts;                   /* its bearer timeslots (ts[0 .. nts - 1]) */
    unsigned alarms;           /* 1 << SIMFAR_AL_x: raised, as the application was told */
    unsigned forced;           /* raised by simfar_span_alarm */
    unsigned line_alarms;      /* raised by the line's state (t1maint_tick) */
    unsigned short errmask;    /* DTEC_ (T1) or DEEC_ (E1) */
    int alarm_mode;
    device *ts[SPAN_MAX_TS];
    device *dchan;             /* the D-channel "dtiBnD" (PRI, CCS), or NULL */
    int cas_aligned;           /* E1: both ends ran CAS at the last tick */
    struct t1maint *maint;     /* the line (t1maint.c) */
} span;

typedef struct tslot {
    device *dev;
    device *spandev;
    int index;                 /* 0 .. nts - 1 on its span */
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
    struct r2mf *r2;           /* our R2 MF transceiver (r2mf.c), once used */
    struct r2mf *far_r2;       /* the far end's */
    int far_watch;             /* queue far-end events (simfar_far_watch) */
} tslot;

/* Alarms that take the whole span down: no audio and no signalling get
 * through (the received bits are held) until they clear. */
int span_is_down(const span *s);
/* The span's timeslots carry signalling bits (robbed bit, E1 CAS); the
 * B-channels of an ISDN span carry none. */
int span_has_bits(const span *s);
/* The span has a D-channel: T1 PRI, E1 CCS. */
int span_has_dchannel(int signalling);
/* The line timeslot of bearer timeslot k (0-based): T1 channel k + 1; E1
 * timeslot 1-15, then 17-31. */
int span_line_timeslot(const span *s, int k);

/* Our bits change as if the application set them (A = 0x1 ... D = 0x8; a
 * T1 carries A and B, repeated in C and D): DAHDI's personality
 * (dahdisim.c), which keeps the kernel's own robbed-bit logic. */
void tslot_send_bits(tslot *t, unsigned char bits);

/* ---- r2mf.c: MFC/R2 register signals on a CAS timeslot --------------------*/
void r2mf_free(struct r2mf *m);
int r2mf_active(const struct r2mf *m);      /* switched on (not DTR2_OFF) */
/* What we send on the line this tick: `line` (or NULL: nothing), or the
 * signal our transceiver sends, made in buf. */
const uint8_t *r2mf_our_line(tslot *t, const uint8_t *line, uint8_t *buf);
/* What we receive from the line this tick (NULL: nothing). */
void r2mf_we_hear(tslot *t, const uint8_t *line);
/* The far end's side: its signal into what it sends, what it hears. */
void r2mf_far_line(tslot *t, uint8_t *line);
void r2mf_far_hears(tslot *t, const uint8_t *line);
/* Our bits reached the far end (t->seen): queued if it is watched. */
void r2mf_far_sees_bits(tslot *t);

/* ---- t1maint.c: the line --------------------------------------------------*/
struct t1maint *t1maint_new(span *s);
void t1maint_free(struct t1maint *m);
/* The span was opened: its counters start again from zero. */
void t1maint_opened(struct t1maint *m);
/* Once a tick, before the span's timeslots: returns the alarms the line's
 * state raises now (1 << SIMFAR_AL_x). */
unsigned t1maint_tick(struct t1maint *m);
/* Nothing on the line needs the tick: the span may sleep. */
int t1maint_idle(const struct t1maint *m);
/* The payload of the timeslots goes through t1maint_send and
 * t1maint_receive (a loop, errors, slips, a BERT or a loop code); they are
 * kept awake meanwhile. */
int t1maint_shapes(const struct t1maint *m);
/* Timeslot k: what the far end hears (NULL: nothing reaches it), given
 * what the application sends; then what we receive, given what the far end
 * says.  Bytes as the line carries them (A-law on E1).  down: the span is
 * in alarm. */
const uint8_t *t1maint_send(struct t1maint *m, int k, const uint8_t *ours, int down);
void t1maint_receive(struct t1maint *m, int k, const uint8_t *theirs, int down,
                     uint8_t *to_us);
/* Timeslot k received these line bytes this tick, unshaped (the line code
 * of what we receive is counted on them). */
void t1maint_received(struct t1maint *m, int k, const uint8_t *bytes);
/* A BERT runs on timeslot k (its own or the span's). */
int t1maint_testing(const struct t1maint *m, int k);
/* An OOF alarm raised by hand counts as an OOF event. */
void t1maint_count_oof(struct t1maint *m);
/* The E1 signalling bits get through: both ends run CAS in timeslot 16. */
int t1maint_cas_aligned(const struct t1maint *m);
/* Where a D-channel frame goes, sent by us (from_us) or by the far end. */
enum { DCHAN_LOST, DCHAN_TO_FAR, DCHAN_TO_US };
int t1maint_dchannel_route(const struct t1maint *m, int from_us);
int t1maint_status(const struct t1maint *m, char *buf, int max);
/* Our end's framing, coding and clock (DTFR_, DTCD_, DTCK_) and our
 * loopback (DTLB_); setting a loopback as dt_setloopback does. */
void t1maint_line(const struct t1maint *m, int *framing, int *coding, int *clock, int *loop);
void t1maint_set_loopback(struct t1maint *m, int mode);
/* Send the in-band line loop-up (up) or loop-down code as dt_sendloopcode
 * does (DAHDI_MAINT_LOOPUP / LOOPDOWN): -1 on an E1 or while a BERT runs. */
int t1maint_send_inband_code(struct t1maint *m, int up);
/* The counters since the span was opened (DAHDI_SPANSTAT's counts). */
typedef struct {
    unsigned long bpv, exz, crc, fas, oof, slips, ebit;
} t1maint_counts;
void t1maint_counters(const struct t1maint *m, t1maint_counts *c);

#endif
