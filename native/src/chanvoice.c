/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * chanvoice.c - a channel's voice work in userspace (chanvoice.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chanvoice.h"

#define SILENCE_DBM0 (-40)      /* the boards' silence level, until set */
#define SILENCE_ON_MS 100       /* below the level this long: silence begins */
#define SILENCE_OFF_MS 30       /* above it this long: silence ends */
#define SIGNAL_DBM0 (-45.0f)    /* call progress: something is on the line */
#define DIAL_TONE_MS 100        /* dial tone heard this long: dial */
#define VOICE_MS 200            /* a voice this long: connected */
#define BURST_GAP_MS 300        /* quiet this long ends a burst */
#define NO_SILENCE_MS 6500      /* a signal this long, unbroken: no ringback */

typedef enum { SEND_NOTHING, SEND_PROMPT, SEND_TONE, SEND_DIAL } sending;
typedef enum { CP_OFF, CP_DIAL_TONE, CP_DIALLING, CP_LISTENING } cp_phase;

/* A dial's call progress (cti_chanvoice_dial_progress). */
typedef struct {
    cp_phase phase;
    char digits[64];
    int mf;
    long dialtone_ms, nosignal_ms, noanswer_ms;
    int rings;
    long phase_ms, heard_dial_ms, quiet_ms, signal_ms, voice_ms, first_ring_ms;
    int ringback, in_burst, bursts;
    cti_cp_result result;
    cti_cp_connect how;
} progress;

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
    int cid_listen, cid_ready;  /* feeding the receiver; callerid holds one read */
    cti_callerid callerid;
    int silence_dbm0;           /* below this level (dBm0) is silence */
    int silence_events, silent; /* reporting its changes; silent as last reported */
    long quiet_ms, loud_ms;     /* below / above the level, unbroken */
    cti_r2mf *r2mf;             /* the R2 MF transceiver, while on */
    int r2mf_heard;             /* the R2 signal it hears now, 0 for none */
    int recording;
    int16_t *rec;
    size_t rec_len, rec_cap;
    size_t rec_lost;            /* samples heard while recording and not kept
                                 * (no memory): cti_chanvoice_lost */
    progress cp;
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
    cv->silence_dbm0 = SILENCE_DBM0;
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
    cti_r2mf_free(cv->r2mf);
    free(cv);
}

static void stop_sending(cti_chanvoice *cv)
{
    cv->what = SEND_NOTHING;
    free(cv->prompt);
    cv->prompt = NULL;
    cv->prompt_len = cv->prompt_pos = 0;
    cti_tone_tx_stop(cv->tone);
    cti_digit_tx_clear(cv->dtmf_tx);
    cti_digit_tx_clear(cv->mf_tx);
}

void cti_chanvoice_stop(cti_chanvoice *cv)
{
    cv->cp.phase = CP_OFF;
    stop_sending(cv);
}

int cti_chanvoice_play(cti_chanvoice *cv, const int16_t *samples, size_t n)
{
    int16_t *copy = malloc(n ? n * sizeof *copy : 1);
    if (!copy)
        return -1;
    cti_chanvoice_stop(cv);
    if (n)                      /* samples may be NULL for an empty prompt */
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

int cti_chanvoice_progress_tone(cti_chanvoice *cv, cti_tone_id id)
{
    cti_chanvoice_stop(cv);
    if (cti_tone_tx_start(cv->tone, cv->tones, id, 0) < 0)
        return -1;
    cv->tone_left = -1;
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

int cti_chanvoice_dial_progress(cti_chanvoice *cv, const char *digits, int mf,
                                int dialtone_ms, int nosignal_ms, int noanswer_ms,
                                int rings)
{
    progress *cp = &cv->cp;
    if (strlen(digits) >= sizeof cp->digits || cti_chanvoice_dial(cv, digits, mf) < 0)
        return -1;
    memset(cp, 0, sizeof *cp);
    snprintf(cp->digits, sizeof cp->digits, "%s", digits);
    cp->mf = mf;
    cp->dialtone_ms = dialtone_ms;
    cp->nosignal_ms = nosignal_ms;
    cp->noanswer_ms = noanswer_ms;
    cp->rings = rings;
    if (dialtone_ms > 0) {
        stop_sending(cv);               /* the digits wait for dial tone */
        cp->phase = CP_DIAL_TONE;
    } else {
        cp->phase = CP_DIALLING;
    }
    return 0;
}

cti_cp_result cti_chanvoice_result(const cti_chanvoice *cv, cti_cp_connect *how)
{
    *how = cv->cp.how;
    return cv->cp.result;
}

static int decided(progress *cp, cti_cp_result result, cti_cp_connect how)
{
    cp->phase = CP_OFF;
    cp->result = result;
    cp->how = how;
    return CTI_CV_ANALYSED;
}

/* One block of a dial's call progress: CTI_CV_ANALYSED once decided. */
static int analyse(cti_chanvoice *cv, const int16_t *rx, int n, int sent_all)
{
    progress *cp = &cv->cp;
    long ms = n / 8;
    cti_tone_id tone = cti_cpt_rx_current(cv->cpt);
    float pw;
    cp->phase_ms += ms;
    switch (cp->phase) {
    case CP_DIAL_TONE:
        cp->heard_dial_ms = tone == CTI_TONE_DIAL ? cp->heard_dial_ms + ms : 0;
        if (cp->heard_dial_ms >= DIAL_TONE_MS) {
            cti_digit_tx_put(cp->mf ? cv->mf_tx : cv->dtmf_tx, cp->digits, 100, 100, -10);
            cv->dialling = cp->mf ? cv->mf_tx : cv->dtmf_tx;
            cv->what = SEND_DIAL;
            cp->phase = CP_DIALLING;
            cp->phase_ms = 0;
        } else if (cp->phase_ms >= cp->dialtone_ms) {
            return decided(cp, CTI_CP_NO_DIAL_TONE, CTI_CONNECT_NONE);
        }
        return 0;
    case CP_DIALLING:
        if (sent_all) {
            cp->phase = CP_LISTENING;
            cp->phase_ms = 0;
        }
        return 0;
    case CP_LISTENING:
        break;
    default:
        return 0;
    }
    switch (tone) {
    case CTI_TONE_BUSY:
    case CTI_TONE_REORDER:
        return decided(cp, CTI_CP_BUSY, CTI_CONNECT_NONE);
    case CTI_TONE_SIT:
        return decided(cp, CTI_CP_INTERCEPT, CTI_CONNECT_NONE);
    case CTI_TONE_FAX_CNG:
    case CTI_TONE_FAX_CED:
        return decided(cp, CTI_CP_FAX, CTI_CONNECT_NONE);
    case CTI_TONE_RINGBACK:
        if (!cp->ringback) {
            cp->ringback = 1;
            cp->first_ring_ms = cp->phase_ms;
        }
        break;
    default:
        break;
    }
    pw = cti_power_dbm0(rx, n);
    if (pw > SIGNAL_DBM0) {
        cp->quiet_ms = 0;
        cp->signal_ms += ms;
        if (!cp->in_burst) {
            cp->in_burst = 1;
            cp->bursts++;
        }
        cp->voice_ms = cti_tone_share(rx, n) < 0.5f ? cp->voice_ms + ms : 0;
    } else {
        cp->quiet_ms += ms;
        cp->voice_ms = 0;
        if (cp->quiet_ms >= BURST_GAP_MS) {
            cp->in_burst = 0;
            cp->signal_ms = 0;
        }
    }
    if (cp->voice_ms >= VOICE_MS)
        return decided(cp, CTI_CP_CONNECTED,
                       cp->ringback ? CTI_CONNECT_CADENCE : CTI_CONNECT_VOICE);
    if (cp->ringback && (cp->bursts > cp->rings ||
                         cp->phase_ms - cp->first_ring_ms >= cp->noanswer_ms))
        return decided(cp, CTI_CP_NO_ANSWER, CTI_CONNECT_NONE);
    if ((!cp->ringback && cp->bursts == 0 && cp->phase_ms >= cp->nosignal_ms) ||
        cp->signal_ms >= NO_SILENCE_MS)
        return decided(cp, CTI_CP_NO_RINGBACK, CTI_CONNECT_NONE);
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
    if (!n)                     /* nothing kept yet: rec may be NULL */
        return 0;
    memcpy(out, cv->rec, n * sizeof *out);
    memmove(cv->rec, cv->rec + n, (cv->rec_len - n) * sizeof *out);
    cv->rec_len -= n;
    return n;
}

size_t cti_chanvoice_lost(cti_chanvoice *cv)
{
    size_t lost = cv->rec_lost;
    cv->rec_lost = 0;
    return lost;
}

void cti_chanvoice_cid(cti_chanvoice *cv, int on)
{
    cv->cid_listen = on;
    cv->cid_ready = 0;
    cti_cid_rx_reset(cv->cid);
}

void cti_chanvoice_cid_listen(cti_chanvoice *cv, int on)
{
    if (on && !cv->cid_listen)
        cti_cid_rx_reset(cv->cid);      /* nothing half heard before the pause */
    cv->cid_listen = on;
}

int cti_chanvoice_callerid(cti_chanvoice *cv, cti_callerid *out)
{
    if (!cv->cid_ready)
        return 0;
    *out = cv->callerid;
    return 1;
}

void cti_chanvoice_silence_level(cti_chanvoice *cv, int dbm0)
{
    cv->silence_dbm0 = dbm0;
}

void cti_chanvoice_silence_events(cti_chanvoice *cv, int on)
{
    cv->silence_events = on;
    cv->silent = 0;
    cv->quiet_ms = cv->loud_ms = 0;
}

int cti_chanvoice_r2mf(cti_chanvoice *cv, int mode)
{
    cti_r2mf_free(cv->r2mf);
    cv->r2mf = NULL;
    cv->r2mf_heard = 0;
    if (mode == CTI_R2MF_OFF)
        return 0;
    cv->r2mf = cti_r2mf_new(mode == CTI_R2MF_FORWARD);
    return cv->r2mf ? 0 : -1;
}

void cti_chanvoice_r2mf_send(cti_chanvoice *cv, int signal)
{
    if (cv->r2mf)
        cti_r2mf_send(cv->r2mf, signal);
}

int cti_chanvoice_r2mf_heard(const cti_chanvoice *cv)
{
    return cv->r2mf_heard;
}

/* Hear a block with the R2 MF transceiver, and sound its signal in tx in
 * place of what the channel sends: CTI_CV_R2MF if the signal heard changed. */
static int r2mf_block(cti_chanvoice *cv, const int16_t *rx, int16_t *tx, int n)
{
    int heard = cti_r2mf_feed(cv->r2mf, rx, n);
    if (tx && cti_r2mf_sending(cv->r2mf))
        cti_r2mf_gen(cv->r2mf, tx, n);
    if (heard == cv->r2mf_heard)
        return 0;
    cv->r2mf_heard = heard;
    return CTI_CV_R2MF;
}

/* A block heard below the level (quiet) or not: CTI_CV_SILENCE_ON or _OFF
 * when the silence began or ended with it, while reporting. */
static int silence_changes(cti_chanvoice *cv, int quiet, int n)
{
    long ms = n / 8;
    if (!cv->silence_events)
        return 0;
    cv->quiet_ms = quiet ? cv->quiet_ms + ms : 0;
    cv->loud_ms = quiet ? 0 : cv->loud_ms + ms;
    if (!cv->silent && cv->quiet_ms >= SILENCE_ON_MS) {
        cv->silent = 1;
        return CTI_CV_SILENCE_ON;
    }
    if (cv->silent && cv->loud_ms >= SILENCE_OFF_MS) {
        cv->silent = 0;
        return CTI_CV_SILENCE_OFF;
    }
    return 0;
}

static void keep(cti_chanvoice *cv, const int16_t *rx, int n)
{
    if (cv->rec_len + n > cv->rec_cap) {
        size_t cap = cv->rec_cap ? cv->rec_cap : 8000;
        int16_t *b;
        while (cap < cv->rec_len + n)
            cap *= 2;
        if (!(b = realloc(cv->rec, cap * sizeof *b))) {
            cv->rec_lost += (size_t)n;      /* counted: the driver reports it */
            return;
        }
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
    stop_sending(cv);
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
    if (cv->cid_listen && cti_cid_rx_feed(cv->cid, rx, n, &cv->callerid)) {
        cv->cid_ready = 1;
        flags |= CTI_CV_CALLERID;
    }
    if (cti_power_dbm0(rx, n) < (float)cv->silence_dbm0)
        flags |= CTI_CV_SILENT;
    flags |= silence_changes(cv, flags & CTI_CV_SILENT, n);
    if (cv->recording)
        keep(cv, rx, n);
    if (cv->cp.phase != CP_OFF)
        flags |= analyse(cv, rx, n, tx && send(cv, tx, n));
    else if (tx && send(cv, tx, n))
        flags |= CTI_CV_SENT_ALL;
    if (cv->r2mf)
        flags |= r2mf_block(cv, rx, tx, n);
    return flags;
}
