/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * chanvoice.h - the voice work of a channel whose hardware does none: what
 * a DAHDI channel needs in userspace (drivers.dahdi), over dsp.h.
 *
 * A driver reads a block of the channel's audio (16-bit linear), hands it
 * to cti_chanvoice_block with room for the block to write back, and writes
 * that: the block runs the detectors on what the channel heard (DTMF or MF
 * digits, call-progress tones, caller ID, silence) and fills what it sends
 * (a prompt, a tone, dialled digits, else silence; an R2 signal over any of
 * them), and records what it heard while recording.  Python sees one call per block, never a sample.
 */
#ifndef CTI_CHANVOICE_H
#define CTI_CHANVOICE_H

#include <stddef.h>
#include <stdint.h>

#include "dsp.h"

typedef struct cti_chanvoice cti_chanvoice;

/* What a block did (cti_chanvoice_block's flags). */
#define CTI_CV_SENT_ALL  0x01   /* the prompt, tone or dial string ended in it */
#define CTI_CV_SILENT    0x02   /* what it heard was below the silence level */
#define CTI_CV_ANALYSED  0x04   /* a dial's call progress has its result */
#define CTI_CV_SILENCE_ON  0x08 /* silence began: 100 ms below the level */
#define CTI_CV_SILENCE_OFF 0x10 /* silence ended: 30 ms above it */
#define CTI_CV_R2MF      0x20   /* the R2 signal heard changed (cti_chanvoice_r2mf_heard) */
#define CTI_CV_CALLERID  0x40   /* a caller ID was read (cti_chanvoice_callerid has it) */

/* Call-progress results (cti_chanvoice_result). */
typedef enum {
    CTI_CP_NONE = 0, CTI_CP_CONNECTED, CTI_CP_BUSY, CTI_CP_NO_ANSWER, CTI_CP_NO_RINGBACK,
    CTI_CP_INTERCEPT, CTI_CP_NO_DIAL_TONE, CTI_CP_FAX
} cti_cp_result;
/* How a connection was recognised. */
typedef enum { CTI_CONNECT_NONE = 0, CTI_CONNECT_CADENCE, CTI_CONNECT_VOICE } cti_cp_connect;

cti_chanvoice *cti_chanvoice_new(cti_toneset tones);
void cti_chanvoice_free(cti_chanvoice *cv);

/* What the channel sends; each replaces what it was sending.  play copies
 * the samples.  tone: f2 = 0 for one frequency, duration 0 until stopped.
 * dial: DTMF (mf = 0) or MF digits and ',' pauses; -1 (and nothing sent) if
 * a character is not a digit of that kind. */
int cti_chanvoice_play(cti_chanvoice *cv, const int16_t *samples, size_t n);
int cti_chanvoice_tone(cti_chanvoice *cv, int f1, int f2, int level_dbm0, int duration_ms);
int cti_chanvoice_dial(cti_chanvoice *cv, const char *digits, int mf);
/* A call-progress tone of the channel's set (dial, ringback, busy,
 * reorder...) with its cadence, until stopped: a phone's earpiece tone. */
int cti_chanvoice_progress_tone(cti_chanvoice *cv, cti_tone_id id);
void cti_chanvoice_stop(cti_chanvoice *cv);     /* send silence from now on */

/* A dial with call-progress analysis, as a board does it: wait up to
 * dialtone_ms for dial tone (0: dial at once), send the digits, then
 * listen: busy or reorder, SIT (an intercept), a fax tone, a voice
 * answering (connected), ringback repeating more than `rings` times or
 * going on noanswer_ms (no answer), nothing at all for nosignal_ms (no
 * ringback).  The block that decides returns CTI_CV_ANALYSED. */
int cti_chanvoice_dial_progress(cti_chanvoice *cv, const char *digits, int mf,
                                int dialtone_ms, int nosignal_ms, int noanswer_ms,
                                int rings);
cti_cp_result cti_chanvoice_result(const cti_chanvoice *cv, cti_cp_connect *how);

/* What the channel hears.  digits: which receivers run.  record: keep what
 * it hears (on), or stop; take moves up to max recorded samples out and
 * returns how many.  cid: afresh, the caller ID read forgotten, and listen
 * for one (FSK) or not.  cid_listen: listen (on) or pause (an FXO port off
 * hook: the far end's voice is no caller ID), keeping the one read.  While
 * listening every caller ID read replaces the last (each block reading one
 * returns CTI_CV_CALLERID): a next call's comes after the one before. */
void cti_chanvoice_digits(cti_chanvoice *cv, int dtmf, int mf);
void cti_chanvoice_record(cti_chanvoice *cv, int on);
size_t cti_chanvoice_take(cti_chanvoice *cv, int16_t *out, size_t max);
/* Samples heard while recording that could not be kept (no memory) since
 * the last call: returned and reset to 0. */
size_t cti_chanvoice_lost(cti_chanvoice *cv);
void cti_chanvoice_cid(cti_chanvoice *cv, int on);
void cti_chanvoice_cid_listen(cti_chanvoice *cv, int on);
int cti_chanvoice_callerid(cti_chanvoice *cv, cti_callerid *out);  /* 1 once read */

/* Silence: a block heard below the channel's level (dBm0; -40 until set,
 * the boards' default) is CTI_CV_SILENT.  With silence events on, a block
 * also says when silence began (CTI_CV_SILENCE_ON: 100 ms below the level)
 * and ended (CTI_CV_SILENCE_OFF: 30 ms above it), as a board's voice
 * channel reports them; turning them on starts from "not silent", so
 * silence already there is reported once it has lasted 100 ms. */
void cti_chanvoice_silence_level(cti_chanvoice *cv, int dbm0);
void cti_chanvoice_silence_events(cti_chanvoice *cv, int on);

/* MFC/R2 register signals (dsp.h's cti_r2mf, lines-real.md 3.5): the
 * channel's R2 MF transceiver sends the forward set and hears the backward
 * one (CTI_R2MF_FORWARD: the calling side), the other way round
 * (CTI_R2MF_BACKWARD), or is off; -1 if it could not be made.  While on, a
 * block whose signal heard changed returns CTI_CV_R2MF, and r2mf_heard says
 * which it is now (0: none); r2mf_send sounds signal 1-15 until told
 * otherwise (0 stops), in place of whatever else the channel sends. */
#define CTI_R2MF_OFF 0
#define CTI_R2MF_FORWARD 1
#define CTI_R2MF_BACKWARD 2
int cti_chanvoice_r2mf(cti_chanvoice *cv, int mode);
void cti_chanvoice_r2mf_send(cti_chanvoice *cv, int signal);
int cti_chanvoice_r2mf_heard(const cti_chanvoice *cv);

/* One block: hear rx[0..n), fill tx[0..n).  Digits heard go to digits (at
 * most max, their count in *ndigits), call-progress tones as +id/-id into
 * tones (at most max, count in *ntones).  Returns CTI_CV_ flags. */
int cti_chanvoice_block(cti_chanvoice *cv, const int16_t *rx, int16_t *tx, int n,
                        char *digits, int *ndigits, int *tones, int *ntones, int max);

#endif
