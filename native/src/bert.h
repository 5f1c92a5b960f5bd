/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bert.h - test patterns and a bit error rate checker (lines-real.md 4.4).
 *
 * A pattern is either a pseudo-random sequence from a linear feedback shift
 * register (LFSR) or a short word repeated for ever (all ones, the in-band
 * loop codes 00001 and 001).  Bits go out most significant first, eight to
 * a byte, as they do in a T1 timeslot.
 *
 * The checker needs no start signal: it is self-synchronising.  It hunts
 * by loading a copy of the generator with bits it has just received (an
 * LFSR's next bit depends only on its last n bits), checks that copy
 * against the next bits, and once they agree it counts every bit that
 * differs as an error.  Far too many errors in a window and it has lost the
 * pattern: it counts a sync loss and hunts again.
 *
 *     cti_pattern gen;  cti_bert chk;
 *     cti_pattern_init(&gen, DTBT_QRSS);  cti_bert_init(&chk, DTBT_QRSS);
 *     cti_pattern_fill(&gen, out, 80);  ...  cti_bert_check(&chk, in, 80);
 */
#ifndef CTI_BERT_H
#define CTI_BERT_H

#include <stdint.h>

typedef struct {
    uint32_t reg;       /* LFSR: its stages, bit 0 the newest; word: the word */
    uint32_t mask;      /* one bit per stage (or per bit of the word) */
    int length;         /* stages, or bits of the word */
    int tap;            /* LFSR: the feedback stage besides the last; 0 for a word */
    int lookahead;      /* QRSS: bits the output runs behind the register */
    int pos;            /* word: the next bit to send, 0 = the most significant */
} cti_pattern;

/* A BERT pattern: DTBT_QRSS, DTBT_2E15, DTBT_2E20 or DTBT_ALLONES.
 * Returns -1 for anything else. */
int cti_pattern_init(cti_pattern *p, int dtbt);
/* A word of `bits` bits (1..32) repeated for ever, most significant first. */
void cti_pattern_word(cti_pattern *p, uint32_t word, int bits);
int cti_pattern_bit(cti_pattern *p);
/* The next n bytes of the pattern. */
void cti_pattern_fill(cti_pattern *p, uint8_t *out, int n);

enum { CTI_BERT_HUNT, CTI_BERT_VERIFY, CTI_BERT_SYNC };

typedef struct {
    int pattern;              /* DTBT_x */
    cti_pattern ref;          /* what the next bits should be, once aligned */
    int state;                /* CTI_BERT_x */
    uint32_t recent;          /* the last bits received, the newest in bit 0 */
    int nrecent;              /* how many of them since the hunt began */
    int window, wrong;        /* bits and errors of the verify or loss window */
    unsigned long long bits;  /* bits checked in sync */
    unsigned long long errors;
    unsigned long sync_losses;
    long second_ms;           /* time into the current second */
    int second_errors;        /* the current second saw an error or a sync loss */
    int second_synced;        /* ... or was in sync at some time */
    unsigned long seconds;
    unsigned long errored_seconds;
} cti_bert;

int cti_bert_init(cti_bert *b, int dtbt);
/* Check n received bytes. */
void cti_bert_check(cti_bert *b, const uint8_t *in, int n);
/* Time passes: whole seconds are counted, errored or error-free. */
void cti_bert_clock(cti_bert *b, long ms);

#endif
