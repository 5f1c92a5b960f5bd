/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bert.c - test patterns and a bit error rate checker (see bert.h).
 *
 * The pseudo-random patterns are maximal-length LFSRs: n stages, the new
 * bit the exclusive-or of stages `tap` and n, so the sequence repeats
 * every 2^n - 1 bits and holds at most n - 1 zeros in a row:
 *
 *   2^15-1 (O.151)   x^15 + x^14 + 1   at most 14 zeros
 *   2^20-1 (O.151)   x^20 + x^3 + 1    at most 19 zeros: B8ZS circuits only
 *   QRSS             x^20 + x^17 + 1   and every bit that 14 zeros would
 *                                      follow is forced to one, so at most
 *                                      14 zeros: a pattern AMI lines carry
 *
 * QRSS needs to see 14 bits ahead, so its output is the bit 14 stages back
 * in the register, forced to one when the 14 newer stages are all zero.
 */
#include <string.h>

#include "bert.h"
#include "dtilib.h"

#define QRSS_ZEROS 14           /* QRSS never sends more zeros in a row */
#define VERIFY_BITS 128         /* a candidate alignment must match this long */
#define VERIFY_MAX_ERRORS 4     /* ... with at most this many errors */
#define LOSS_WINDOW 1024        /* in sync, errors are judged per window */
#define LOSS_MAX_ERRORS 256     /* more (25 %) and the pattern is lost */

static void lfsr(cti_pattern *p, int length, int tap, int lookahead)
{
    memset(p, 0, sizeof *p);
    p->length = length;
    p->tap = tap;
    p->lookahead = lookahead;
    p->mask = (1u << length) - 1;
    p->reg = p->mask;              /* any state but all zeros */
}

int cti_pattern_init(cti_pattern *p, int dtbt)
{
    switch (dtbt) {
    case DTBT_QRSS: lfsr(p, 20, 17, QRSS_ZEROS); return 0;
    case DTBT_2E15: lfsr(p, 15, 14, 0); return 0;
    case DTBT_2E20: lfsr(p, 20, 3, 0); return 0;
    case DTBT_ALLONES: cti_pattern_word(p, 1, 1); return 0;
    default: return -1;
    }
}

void cti_pattern_word(cti_pattern *p, uint32_t word, int bits)
{
    memset(p, 0, sizeof *p);
    p->length = bits;
    p->mask = bits >= 32 ? 0xFFFFFFFFu : (1u << bits) - 1;
    p->reg = word & p->mask;
}

/* One shift of the register: the new bit enters at bit 0. */
static int lfsr_shift(cti_pattern *p)
{
    int fresh = ((p->reg >> (p->length - 1)) ^ (p->reg >> (p->tap - 1))) & 1;
    p->reg = ((p->reg << 1) | (uint32_t)fresh) & p->mask;
    return fresh;
}

int cti_pattern_bit(cti_pattern *p)
{
    if (!p->tap) {
        int bit = (p->reg >> (p->length - 1 - p->pos)) & 1;
        p->pos = (p->pos + 1) % p->length;
        return bit;
    }
    if (!p->lookahead)
        return lfsr_shift(p);
    lfsr_shift(p);
    if ((p->reg & ((1u << p->lookahead) - 1)) == 0)
        return 1;                  /* 14 zeros would follow: suppressed */
    return (p->reg >> p->lookahead) & 1;
}

void cti_pattern_fill(cti_pattern *p, uint8_t *out, int n)
{
    int i, k;
    for (i = 0; i < n; i++) {
        unsigned byte = 0;
        for (k = 0; k < 8; k++)
            byte = byte << 1 | (unsigned)cti_pattern_bit(p);
        out[i] = (uint8_t)byte;
    }
}

/* ---- the checker ---------------------------------------------------------*/

int cti_bert_init(cti_bert *b, int dtbt)
{
    memset(b, 0, sizeof *b);
    b->pattern = dtbt;
    return cti_pattern_init(&b->ref, dtbt);
}

/* Try an alignment: an LFSR's copy is loaded with the last bits received
 * (they are its stages, `lookahead` bits ago) and run forward to now; a word
 * is tried at its next phase.  Returns 0 until there is something to try. */
static int align(cti_bert *b)
{
    cti_pattern *r = &b->ref;
    int k;
    if (!r->tap) {
        r->pos = (r->pos + 1) % r->length;
    } else {
        if (b->nrecent < r->length || (b->recent & r->mask) == 0)
            return 0;              /* too few bits, or the state an LFSR never has */
        r->reg = b->recent & r->mask;
        for (k = 0; k < r->lookahead; k++)
            lfsr_shift(r);
    }
    b->state = CTI_BERT_VERIFY;
    b->window = b->wrong = 0;
    return 1;
}

static void hunt(cti_bert *b)
{
    b->state = CTI_BERT_HUNT;
    b->window = b->wrong = 0;
    align(b);                      /* the bits just received may do */
}

static void check_bit(cti_bert *b, int bit)
{
    int wrong;
    b->recent = b->recent << 1 | (uint32_t)bit;
    if (b->nrecent < 32)
        b->nrecent++;
    if (b->state == CTI_BERT_HUNT) {
        align(b);
        return;
    }
    wrong = cti_pattern_bit(&b->ref) != bit;
    b->window++;
    b->wrong += wrong;
    if (b->state == CTI_BERT_VERIFY) {
        if (b->wrong > VERIFY_MAX_ERRORS) {
            hunt(b);
        } else if (b->window == VERIFY_BITS) {
            b->state = CTI_BERT_SYNC;
            b->second_synced = 1;
            b->window = b->wrong = 0;
        }
        return;
    }
    b->bits++;
    if (wrong) {
        b->errors++;
        b->second_errors = 1;
    }
    if (b->window == LOSS_WINDOW) {
        if (b->wrong > LOSS_MAX_ERRORS) {
            b->sync_losses++;
            b->second_errors = 1;
            hunt(b);
        }
        b->window = b->wrong = 0;
    }
}

void cti_bert_check(cti_bert *b, const uint8_t *in, int n)
{
    int i, k;
    for (i = 0; i < n; i++)
        for (k = 7; k >= 0; k--)
            check_bit(b, (in[i] >> k) & 1);
}

/* A second is errored if it saw a bit error or a sync loss, or was never
 * in sync: so a test that never finds its pattern has no error-free second. */
void cti_bert_clock(cti_bert *b, long ms)
{
    b->second_ms += ms;
    while (b->second_ms >= 1000) {
        b->second_ms -= 1000;
        b->seconds++;
        if (b->second_errors || !b->second_synced)
            b->errored_seconds++;
        b->second_errors = 0;
        b->second_synced = b->state == CTI_BERT_SYNC;
    }
}
