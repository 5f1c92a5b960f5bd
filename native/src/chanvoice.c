/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * chanvoice.c - a channel's voice work in userspace (chanvoice.h).
 */
#include <stdlib.h>
#include <string.h>

#include "chanvoice.h"

#define SILENCE_DBM0 (-40.0f)   /* the boards' silence threshold */

typedef enum { SEND_NOTHING, SEND_PROMPT, SEND_TONE, SEND_DIAL } sending;

struct cti_chanvoice {
    cti_toneset tones;
    sending what;
    int16_t *prompt;
    size_t prompt_len, prompt_pos;
    cti_tone_tx *tone;
    long tone_left;             /* samples; < 0: until stopped */
    cti_digit_tx *dtmf_tx, *mf_tx, *dialling;
    cti_digit_rx *dtmf_rx, *mf_rx;
    int dtmf_on, mf_on;
    cti_cpt_rx *cpt;
    cti_cid_rx *cid;
    int cid_on, cid_ready;
    cti_callerid callerid;
    int recording;
    int16_t *rec;
    size_t rec_len, rec_cap;
};

cti_chanvoice *cti_chanvoice_new(cti_toneset tones)
{
    cti_chanvoice *cv = calloc(1, sizeof *cv);
    if (!cv)
        return NULL;
    cv->tones = tones;
    cv->tone = cti_tone_tx_new();
    cv->dtmf_tx = cti_digit_tx_new(CTI_DIGITS_DTMF);
    cv->mf_tx = cti_digit_tx_new(CTI_DIGITS_MF);
    cv->dtmf_rx = cti_digit_rx_new(CTI_DIGITS_DTMF);
    cv->mf_rx = cti_digit_rx_new(CTI_DIGITS_MF);
    cv->cpt = cti_cpt_rx_new(tones);
    cv->cid = cti_cid_rx_new();
    cv->dtmf_on = 1;
    if (!cv->tone || !cv->dtmf_tx || !cv->mf_tx || !cv->dtmf_rx || !cv->mf_rx || !cv->cpt ||
        !cv->cid) {
        cti_chanvoice_free(cv);
        return NULL;
    }
    return cv;
}

void cti_chanvoice_free(cti_chanvoice *cv)
{
    if (!cv)
        return;
    free(cv->prompt);
    free(cv->rec);
    cti_tone_tx_free(cv->tone);
    cti_digit_tx_free(cv->dtmf_tx);
    cti_digit_tx_free(cv->mf_tx);
    cti_digit_rx_free(cv->dtmf_rx);
    cti_digit_rx_free(cv->mf_rx);
    cti_cpt_rx_free(cv->cpt);
    cti_cid_rx_free(cv->cid);
    free(cv);
}

void cti_chanvoice_stop(cti_chanvoice *cv)
{
    cv->what = SEND_NOTHING;
    free(cv->prompt);
    cv->prompt = NULL;
    cv->prompt_len = cv->prompt_pos = 0;
    cti_tone_tx_stop(cv->tone);
    cti_digit_tx_clear(cv->dtmf_tx);
    cti_digit_tx_clear(cv->mf_tx);
}

int cti_chanvoice_play(cti_chanvoice *cv, const int16_t *samples, size_t n)
{
    int16_t *copy = malloc(n ? n * sizeof *copy : 1);
    if (!copy)
        return -1;
    cti_chanvoice_stop(cv);
    memcpy(copy, samples, n * sizeof *copy);
    cv->prompt = copy;
    cv->prompt_len = n;
    cv->what = SEND_PROMPT;
    return 0;
}

int cti_chanvoice_tone(cti_chanvoice *cv, int f1, int f2, int level_dbm0, int duration_ms)
{
    cti_chanvoice_stop(cv);
    if (cti_tone_tx_start_custom(cv->tone, f1, f2, level_dbm0, 1000, 0, 0, 0, 1) < 0)
        return -1;
    cv->tone_left = duration_ms > 0 ? (long)duration_ms * 8 : -1;
    cv->what = SEND_TONE;
    return 0;
}

int cti_chanvoice_dial(cti_chanvoice *cv, const char *digits, int mf)
{
    cti_digit_tx *tx = mf ? cv->mf_tx : cv->dtmf_tx;
    cti_chanvoice_stop(cv);
    if (cti_digit_tx_put(tx, digits, 100, 100, -10) < 0)
        return -1;
    cv->dialling = tx;
    cv->what = SEND_DIAL;
    return 0;
}

void cti_chanvoice_digits(cti_chanvoice *cv, int dtmf, int mf)
{
    cv->dtmf_on = dtmf;
    cv->mf_on = mf;
}

void cti_chanvoice_record(cti_chanvoice *cv, int on)
{
    cv->recording = on;
}

size_t cti_chanvoice_take(cti_chanvoice *cv, int16_t *out, size_t max)
{
    size_t n = cv->rec_len < max ? cv->rec_len : max;
    memcpy(out, cv->rec, n * sizeof *out);
    memmove(cv->rec, cv->rec + n, (cv->rec_len - n) * sizeof *out);
    cv->rec_len -= n;
    return n;
}

void cti_chanvoice_cid(cti_chanvoice *cv, int on)
{
    cv->cid_on = on;
    cv->cid_ready = 0;
    cti_cid_rx_reset(cv->cid);
}

int cti_chanvoice_callerid(cti_chanvoice *cv, cti_callerid *out)
{
    if (!cv->cid_ready)
        return 0;
    *out = cv->callerid;
    return 1;
}

static void keep(cti_chanvoice *cv, const int16_t *rx, int n)
{
    if (cv->rec_len + n > cv->rec_cap) {
        size_t cap = cv->rec_cap ? cv->rec_cap : 8000;
        int16_t *b;
        while (cap < cv->rec_len + n)
            cap *= 2;
        if (!(b = realloc(cv->rec, cap * sizeof *b)))
            return;
        cv->rec = b;
        cv->rec_cap = cap;
    }
    memcpy(cv->rec + cv->rec_len, rx, n * sizeof *rx);
    cv->rec_len += n;
}

/* Fill tx with what is being sent; 1 if it ended in this block. */
static int send(cti_chanvoice *cv, int16_t *tx, int n)
{
    size_t left;
    memset(tx, 0, n * sizeof *tx);
    switch (cv->what) {
    case SEND_PROMPT:
        left = cv->prompt_len - cv->prompt_pos;
        if ((size_t)n < left)
            left = n;
        memcpy(tx, cv->prompt + cv->prompt_pos, left * sizeof *tx);
        cv->prompt_pos += left;
        if (cv->prompt_pos < cv->prompt_len)
            return 0;
        break;
    case SEND_TONE:
        cti_tone_tx_gen(cv->tone, tx, n);
        if (cv->tone_left < 0 || (cv->tone_left -= n) > 0)
            return 0;
        break;
    case SEND_DIAL:
        if (cti_digit_tx_gen(cv->dialling, tx, n))
            return 0;
        break;
    default:
        return 0;
    }
    cti_chanvoice_stop(cv);
    return 1;
}

int cti_chanvoice_block(cti_chanvoice *cv, const int16_t *rx, int16_t *tx, int n,
                        char *digits, int *ndigits, int *tones, int *ntones, int max)
{
    int flags = 0;
    *ndigits = 0;
    if (cv->dtmf_on)
        *ndigits += cti_digit_rx_feed(cv->dtmf_rx, rx, n, digits, max);
    if (cv->mf_on)
        *ndigits += cti_digit_rx_feed(cv->mf_rx, rx, n, digits + *ndigits, max - *ndigits);
    *ntones = cti_cpt_rx_feed(cv->cpt, rx, n, tones, max);
    if (cv->cid_on && !cv->cid_ready && cti_cid_rx_feed(cv->cid, rx, n, &cv->callerid))
        cv->cid_ready = 1;
    if (cti_power_dbm0(rx, n) < SILENCE_DBM0)
        flags |= CTI_CV_SILENT;
    if (cv->recording)
        keep(cv, rx, n);
    if (tx && send(cv, tx, n))
        flags |= CTI_CV_SENT_ALL;
    return flags;
}
