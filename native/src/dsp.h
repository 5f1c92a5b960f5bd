/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dsp.h - signal processing for the simulated boards, over spandsp.
 *
 * Everything works on blocks of 16-bit linear samples at 8 kHz.  Blocks may
 * be any length (the simulator uses 80 samples = 10 ms).  Detectors are fed
 * a block and report what they found during it; generators fill a block.
 * No callbacks reach the caller: results are returned or polled.
 *
 * Levels are in dBm0 (0 dBm0 = a sine of amplitude 32768 * 10^(-3.14/20)
 * ~= 22767 peak, as spandsp defines it).
 */
#ifndef CTI_DSP_H
#define CTI_DSP_H

#include <stdint.h>

/* ---- digits: DTMF and Bell MF ------------------------------------------ */

typedef enum { CTI_DIGITS_DTMF = 1, CTI_DIGITS_MF = 2 } cti_digit_kind;

typedef struct cti_digit_rx cti_digit_rx;
cti_digit_rx *cti_digit_rx_new(cti_digit_kind kind);
void cti_digit_rx_free(cti_digit_rx *rx);
void cti_digit_rx_reset(cti_digit_rx *rx);
/* Feed n samples; digits completed (DTMF: reported once per key press, at
 * its start or end, never twice) are written to out (at most max) and their
 * count returned.  DTMF digits are 0-9 * # A-D; Bell MF: 0-9, KP as '*',
 * ST as '#' (spandsp's convention), ST' ST'' ST''' as 'A' 'B' 'C'. */
int cti_digit_rx_feed(cti_digit_rx *rx, const int16_t *amp, int n,
                      char *out, int max);
/* DTMF only: receiver tuning (defaults 12, 8 and -40: see the Q.24
 * measurements in docs/dtmf-receiver.md).  Twists are limits on the bin
 * powers in dB (a twist < 0 keeps the current one); the threshold is per
 * tone (0 or <= -99 keeps the current one).  Returns 0. */
int cti_digit_rx_tune(cti_digit_rx *rx, int twist_db, int reverse_twist_db,
                      int threshold_dbm0);
/* DTMF only: whether keys A-D (the 1633 Hz column) are reported; a new
 * receiver reports only 0-9 * #, which is also what talks off most
 * easily.  A reset keeps the setting. */
void cti_digit_rx_set_abcd(cti_digit_rx *rx, int enabled);
int cti_digit_rx_abcd(const cti_digit_rx *rx);

typedef struct cti_digit_tx cti_digit_tx;
cti_digit_tx *cti_digit_tx_new(cti_digit_kind kind);
void cti_digit_tx_free(cti_digit_tx *tx);
/* Queue digits to send.  DTMF: on_ms/off_ms (0 = defaults 100/100 for
 * simulated far ends; the boards use 100/100 too); level per tone dBm0
 * (0 = default -10).  MF: 68 ms tones, KP 100 ms, 68 ms gaps (on/off
 * ignored).  ',' in the string is a 2-second pause (the vendor's dial-string
 * pause).  Characters that are not digits of the kind are rejected: returns
 * -1 and queues nothing; else 0. */
int cti_digit_tx_put(cti_digit_tx *tx, const char *digits, int on_ms,
                     int off_ms, int level_dbm0);
/* Twist for tests: high-group level = low-group level + twist_db. */
void cti_digit_tx_set_twist(cti_digit_tx *tx, float twist_db);
/* Fill out[0..n); writes zeros when idle; returns 1 while digits remain
 * queued or sounding after this block, else 0. */
int cti_digit_tx_gen(cti_digit_tx *tx, int16_t *out, int n);
void cti_digit_tx_clear(cti_digit_tx *tx);

/* ---- call-progress tones ---------------------------------------------- */

typedef enum { CTI_TONESET_NA = 1, CTI_TONESET_CN = 2 } cti_toneset;

/* Tone identities, shared by generators and detectors. */
typedef enum {
    CTI_TONE_NONE = 0,
    CTI_TONE_DIAL = 1,       /* NA 350+440 continuous; CN 450 continuous */
    CTI_TONE_RINGBACK = 2,   /* NA 440+480 2s/4s; CN 450 1s/4s */
    CTI_TONE_BUSY = 3,       /* NA 480+620 0.5/0.5; CN 450 0.35/0.35 */
    CTI_TONE_REORDER = 4,    /* NA 480+620 0.25/0.25; CN 450 0.7/0.7 */
    CTI_TONE_SIT = 5,        /* 913.8, 1370.6, 1776.7 Hz, 330/330/330 ms, then silence */
    CTI_TONE_FAX_CNG = 6,    /* 1100 Hz 0.5 s on / 3 s off */
    CTI_TONE_FAX_CED = 7,    /* 2100 Hz 2.6-4 s continuous */
    CTI_TONE_CUSTOM = 8      /* generator only: see cti_tone_tx_start_custom */
} cti_tone_id;

/* Name for logs and diagnostics ("dial", "busy", ...). */
const char *cti_tone_name(cti_tone_id id);

typedef struct cti_tone_tx cti_tone_tx;
cti_tone_tx *cti_tone_tx_new(void);
void cti_tone_tx_free(cti_tone_tx *tx);
/* Start a standard tone of a set at a level (dBm0 per frequency, 0 = -13).
 * Cadenced tones repeat until stopped (SIT plays its three segments once
 * then stays silent; CED plays 3 s once).  Returns 0, -1 for a bad id. */
int cti_tone_tx_start(cti_tone_tx *tx, cti_toneset set, cti_tone_id id,
                      int level_dbm0);
/* A custom dual tone: frequencies in Hz (f2 = 0 for one), level per tone,
 * cadence on1/off1/on2/off2 in ms (off1 = 0: continuous), repeat or once. */
int cti_tone_tx_start_custom(cti_tone_tx *tx, int f1, int f2, int level_dbm0,
                             int on1_ms, int off1_ms, int on2_ms, int off2_ms,
                             int repeat);
void cti_tone_tx_stop(cti_tone_tx *tx);
/* Fill out[0..n) (zeros when idle); returns 1 while a tone is active. */
int cti_tone_tx_gen(cti_tone_tx *tx, int16_t *out, int n);
int cti_tone_tx_active(const cti_tone_tx *tx);

typedef struct cti_cpt_rx cti_cpt_rx;
/* A call-progress detector for one tone set: dial, ringback, busy,
 * reorder, plus SIT, fax CNG and CED (set independent). */
cti_cpt_rx *cti_cpt_rx_new(cti_toneset set);
void cti_cpt_rx_free(cti_cpt_rx *rx);
void cti_cpt_rx_reset(cti_cpt_rx *rx);
/* Feed n samples.  Each recognized tone start is reported as +id, each end
 * as -id, in order, into events (at most max); returns the count.  Cadenced
 * tones are recognized after their cadence has been seen (ringback after
 * one on period with the right frequencies and one off period starting,
 * busy after two cycles), so a report's latency is part of the contract:
 * dial tone within 500 ms, busy within 2 cycles, ringback within its first
 * on period + 200 ms of the following silence, SIT within its three
 * segments, CNG within one burst, CED within 500 ms. */
int cti_cpt_rx_feed(cti_cpt_rx *rx, const int16_t *amp, int n,
                    int *events, int max);
/* The tone currently present (CTI_TONE_NONE if none). */
cti_tone_id cti_cpt_rx_current(const cti_cpt_rx *rx);

/* ---- energy ------------------------------------------------------------ */

/* Mean power of the block in dBm0 (-99 for digital silence). */
float cti_power_dbm0(const int16_t *amp, int n);
/* The share of the block's power at the call-progress tones' frequencies
 * (NA and CN tones, SIT, fax): near 1 for a tone, low for a voice.  Call
 * progress tells a voice answering from a tone with it. */
float cti_tone_share(const int16_t *amp, int n);

/* ---- caller ID: Bellcore Bell 202 FSK (SDMF and MDMF) ------------------ */

typedef struct {
    char number[21];       /* digits, "" when absent */
    char name[16];         /* up to 15 characters, "" when absent */
    char datetime[9];      /* MMDDhhmm, "" when absent */
    char number_absent;    /* 'O' out of area, 'P' private, 0 when present */
    char name_absent;      /* 'O' / 'P' / 0 */
    int mdmf;              /* 1 when the message was MDMF, 0 for SDMF */
} cti_callerid;

typedef struct cti_cid_tx cti_cid_tx;
/* Build the FSK burst for a caller ID (MDMF when a name or an absence
 * reason is given, else SDMF): 30 bytes of 0x55 channel seizure, 150 ms of
 * marks, the message with its checksum, at about -13.5 dBm0. */
cti_cid_tx *cti_cid_tx_new(const cti_callerid *cid);
void cti_cid_tx_free(cti_cid_tx *tx);
/* Fill out[0..n) (zeros after the end); returns 1 while samples remain. */
int cti_cid_tx_gen(cti_cid_tx *tx, int16_t *out, int n);

typedef struct cti_cid_rx cti_cid_rx;
cti_cid_rx *cti_cid_rx_new(void);
void cti_cid_rx_free(cti_cid_rx *rx);
void cti_cid_rx_reset(cti_cid_rx *rx);
/* Feed n samples; returns 1 (and fills *out) once, when a message with a
 * good checksum has been received; 0 otherwise. */
int cti_cid_rx_feed(cti_cid_rx *rx, const int16_t *amp, int n,
                    cti_callerid *out);

/* ---- MFC/R2 register signals (lines-real.md 3.5) --------------------------
 * Two frequencies of six, compelled: forward signals (the calling side's,
 * 1380-1980 Hz) and backward ones (the called side's, 1140-540 Hz), each
 * numbered 1-15.  A transceiver sends the signals of one set and hears the
 * other's (spandsp's r2_mf_tx and r2_mf_rx). */
typedef struct cti_r2mf cti_r2mf;
/* send_forward: it sends forward signals and hears backward ones. */
cti_r2mf *cti_r2mf_new(int send_forward);
void cti_r2mf_free(cti_r2mf *m);
/* Send signal 1-15 until told otherwise; 0 stops. */
void cti_r2mf_send(cti_r2mf *m, int signal);
int cti_r2mf_sending(const cti_r2mf *m);
/* Fill out with the signal sounding now (silence when none). */
void cti_r2mf_gen(cti_r2mf *m, int16_t *out, int n);
/* Hear n samples: the signal heard now, 0 for none. */
int cti_r2mf_feed(cti_r2mf *m, const int16_t *amp, int n);

#endif
