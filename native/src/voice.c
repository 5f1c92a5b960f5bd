/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * voice.c - voice resources: dx_ operations of the simulated boards.
 *
 * A voice channel hears its listen timeslot and transmits on its own.  One
 * operation runs at a time (play, record, getdig, dial, playtone, sethook);
 * its DV_TPT table is parsed once into a struct term, checked every tick,
 * and the first conditions that hold end the operation with their TM_ bits
 * in ATDX_TERMMSK.  Digits are always detected while the channel listens
 * and wait in a 31-digit buffer, so callers can type ahead of a prompt.
 *
 * With EV_ASYNC an operation ends with its TDX_ event; with EV_SYNC the call
 * itself runs the simulation (virtual time) or waits (wall clock) until the
 * operation ends.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim.h"

enum op { OP_NONE, OP_PLAY, OP_RECORD, OP_GETDIG, OP_DIAL, OP_TONE, OP_HOOK };

/* The silence threshold until dx_setparm(DXCH_SILENCETHRESH) changes it. */
#define SIL_DBM0 (-40)

/* Termination conditions parsed from a DV_TPT table (times in ms, 0 = off). */
typedef struct {
    int maxdtmf;
    unsigned digmask;
    char digits[16];          /* DX_DIGTYPE digits */
    long maxtime, iddtime, maxsil, maxnosil, lcoff;
    int iddfirst;
    int tone;                 /* TID_ of DX_TONE, 0 none */
} term;

/* Call-progress analysis state of a dial with DX_CALLP. */
typedef struct {
    DX_CAP cap;
    int phase;                /* 0 dial tone check, 1 dialling, 2 analysis */
    long phase_ms;
    long dialtone_ms;
    long quiet_ms;            /* below the silence threshold */
    long voice_ms;
    long signal_ms;           /* signal without a break of 300 ms */
    int bursts;               /* ringback bursts heard */
    int in_burst;
    long first_ring_ms;       /* phase time of the first ringback, -1 none */
    int ringback;             /* ringback recognized */
} callp;

typedef struct voice {
    device *dev;
    device *linedev;
    int state;
    unsigned evtmask;
    unsigned short digtypes;
    /* digit buffer */
    char dig[LEN_DIGBUF + 1];
    char digt[LEN_DIGBUF + 1];
    int ndig;
    /* the running operation */
    int op;
    unsigned short mode;
    term t;
    long op_ms, idd_ms, sil_ms, nosil_ms, lcoff_ms;
    int idd_armed;
    int newdigits;            /* digits that arrived during the operation */
    DV_DIGIT *digout;
    int ncollected;
    /* play / record */
    DX_IOTT *io;
    int file_format;
    cti_format fmt;
    cti_converter conv;
    long io_pos, io_left;     /* byte position, bytes left (-1: to EOF) */
    long io_start;            /* record: where the WAV header goes, -1 none */
    char *io_start_mem;       /* record: the header in memory */
    int io_start_fd;          /* record: the header in this file */
    long io_written;
    int io_eof;
    /* dial */
    char dialstr[128];
    int dialpos;
    int dial_mf;
    int callp_on;
    callp cp;
    /* tone */
    long tone_ms;             /* -1: until terminated */
    /* hook */
    int hook_target;
    /* detectors and generators */
    cti_digit_rx *drx, *mfrx;
    cti_cpt_rx *cpt;
    cti_digit_tx *dtx, *mtx;
    cti_tone_tx *tone;
    int cur_tone;             /* TID_ currently heard */
    int silent;               /* DE_SILON reported (silence events asked for) */
    int sil_dbm0;             /* below this level (dBm0) is silence */
    long sil_run, nosil_run;
    /* results */
    long termmsk;
    int cpterm;
    int conntype;
} voice;

/* ---- helpers ------------------------------------------------------------*/

static voice *V(device *d) { return d->voice; }

struct voice *voice_new(device *d)
{
    voice *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->dev = d;
    v->state = CS_IDLE;
    v->digtypes = D_DTMF;
    v->sil_dbm0 = SIL_DBM0;
    v->drx = cti_digit_rx_new(CTI_DIGITS_DTMF);
    v->dtx = cti_digit_tx_new(CTI_DIGITS_DTMF);
    v->mtx = cti_digit_tx_new(CTI_DIGITS_MF);
    v->tone = cti_tone_tx_new();
    return v;
}

void voice_free(struct voice *v)
{
    cti_digit_rx_free(v->drx);
    if (v->mfrx) cti_digit_rx_free(v->mfrx);
    if (v->cpt) cti_cpt_rx_free(v->cpt);
    cti_digit_tx_free(v->dtx);
    cti_digit_tx_free(v->mtx);
    cti_tone_tx_free(v->tone);
    free(v);
}

int voice_has_line(const device *d)
{
    return d->voice && d->voice->linedev;
}

device *voice_line_dev(const device *d)
{
    return d->voice ? d->voice->linedev : NULL;
}

void voice_pair_line(device *d, device *line)
{
    d->voice->linedev = line;
}

static int tid_of(int cti_tone)
{
    switch (cti_tone) {
    case CTI_TONE_DIAL: return TID_DIAL_LCL;
    case CTI_TONE_RINGBACK: return TID_RNGBK1;
    case CTI_TONE_BUSY: return TID_BUSY1;
    case CTI_TONE_REORDER: return TID_BUSY2;
    case CTI_TONE_SIT: return TID_SIT;
    case CTI_TONE_FAX_CNG: return TID_FAX1;
    case CTI_TONE_FAX_CED: return TID_FAX2;
    default: return 0;
    }
}

static void post_cst(voice *v, int event, int data)
{
    DX_CST cst;
    if (!(v->evtmask & (1u << (event - 1))))
        return;
    cst.cst_event = (unsigned short)event;
    cst.cst_data = (unsigned short)data;
    sim_post(v->dev, TDX_CST, &cst, sizeof cst, 0);
}

void voice_line_event(device *vd, int cst_event, int cst_data)
{
    post_cst(V(vd), cst_event, cst_data);
}

/* Call-progress tones are those of the country of the channel's line (a
 * CN exchange's busy tone is a 450 Hz cadence NA detectors take for
 * ringback); channels without a line hear the NA set. */
static cti_toneset voice_toneset(const voice *v)
{
    return v->linedev && line_farend(v->linedev->line)->tones == SIMFAR_TONES_CN
               ? CTI_TONESET_CN : CTI_TONESET_NA;
}

static int need_cpt(const voice *v)
{
    return (v->evtmask & (DM_TONEON | DM_TONEOFF)) || v->t.tone ||
           (v->op == OP_DIAL && v->callp_on);
}

/* ---- termination tables -------------------------------------------------*/

static const char digit_order[] = "D1234567890*#ABC";   /* DM_ bit order */

static unsigned digit_bit(char c)
{
    const char *p = strchr(digit_order, c);
    return p && c ? 1u << (p - digit_order) : 0;
}

/* Parse a DV_TPT table (IO_CONT: next element; IO_LINK: tp_nextp; IO_EOT:
 * last).  Returns 0 or an error on the device. */
static int parse_tpt(voice *v, const DV_TPT *tpt, term *t)
{
    int guard = 0;
    memset(t, 0, sizeof *t);
    while (tpt) {
        long unit = (tpt->tp_flags & TF_10MS) ? 10 : 100;
        long ms = tpt->tp_length * unit;
        if (++guard > 64)
            return dev_err(v->dev, EDX_BADTPT, "DV_TPT table longer than 64 entries (a loop?)");
        switch (tpt->tp_termno) {
        case DX_MAXDTMF:
            if (tpt->tp_length < 1 || tpt->tp_length > LEN_DIGBUF)
                return dev_err(v->dev, EDX_BADTPT, "DX_MAXDTMF %u: must be 1..%d",
                               tpt->tp_length, LEN_DIGBUF);
            t->maxdtmf = tpt->tp_length;
            break;
        case DX_DIGMASK: t->digmask = tpt->tp_length; break;
        case DX_DIGTYPE: {
            size_t n = strlen(t->digits);
            char c = (char)(tpt->tp_length & 0xFF);
            if (!digit_bit(c) || n + 1 >= sizeof t->digits)
                return dev_err(v->dev, EDX_BADTPT, "DX_DIGTYPE: '%c' is not a digit", c);
            t->digits[n] = c;
            break;
        }
        case DX_MAXTIME: t->maxtime = ms; break;
        case DX_IDDTIME:
            t->iddtime = ms;
            t->iddfirst = (tpt->tp_flags & TF_FIRST) != 0;
            break;
        case DX_MAXSIL: t->maxsil = ms; break;
        case DX_MAXNOSIL: t->maxnosil = ms; break;
        case DX_LCOFF: t->lcoff = ms ? ms : 10; break;
        case DX_TONE: t->tone = tpt->tp_data; break;
        default:
            return dev_err(v->dev, EDX_BADTPT, "DV_TPT entry %d: unknown tp_termno %u",
                           guard, tpt->tp_termno);
        }
        if (tpt->tp_type == IO_EOT)
            break;
        else if (tpt->tp_type == IO_LINK)
            tpt = tpt->tp_nextp;
        else if (tpt->tp_type == IO_CONT)
            tpt++;
        else
            return dev_err(v->dev, EDX_BADTPT, "DV_TPT entry %d: tp_type %u is not "
                           "IO_CONT, IO_LINK or IO_EOT", guard, tpt->tp_type);
    }
    return 0;
}

/* Digits the running operation can see: collected (getdig) or buffered. */
static long check_term(voice *v)
{
    long m = 0;
    const char *digs = v->op == OP_GETDIG ? v->digout->dg_value : v->dig;
    int n = v->op == OP_GETDIG ? v->ncollected : v->ndig;
    int i;
    if (v->t.maxdtmf && n >= v->t.maxdtmf)
        m |= TM_MAXDTMF;
    for (i = 0; i < n; i++) {
        if (v->t.digmask & digit_bit(digs[i]))
            m |= TM_DIGIT;
        if (v->t.digits[0] && strchr(v->t.digits, digs[i]))
            m |= TM_DIGIT;
    }
    if (v->t.maxtime && v->op_ms >= v->t.maxtime)
        m |= TM_MAXTIME;
    if (v->t.iddtime && v->idd_armed && v->idd_ms >= v->t.iddtime)
        m |= TM_IDDTIME;
    if (v->t.maxsil && v->sil_ms >= v->t.maxsil)
        m |= TM_MAXSIL;
    if (v->t.maxnosil && v->nosil_ms >= v->t.maxnosil)
        m |= TM_MAXNOSIL;
    if (v->t.lcoff && v->lcoff_ms >= v->t.lcoff)
        m |= TM_LCOFF;
    if (v->t.tone && v->cur_tone == v->t.tone)
        m |= TM_TONE;
    return m;
}

/* ---- finishing an operation ---------------------------------------------*/

static void close_record(voice *v);

static void finish(voice *v, long termmsk)
{
    static const unsigned long evt[] = {
        [OP_PLAY] = TDX_PLAY, [OP_RECORD] = TDX_RECORD, [OP_GETDIG] = TDX_GETDIG,
        [OP_DIAL] = TDX_DIAL, [OP_TONE] = TDX_PLAYTONE, [OP_HOOK] = TDX_SETHOOK
    };
    int op = v->op;
    unsigned long type = evt[op];
    DX_CST cst;
    const void *data = NULL;
    long len = 0;
    if (op == OP_RECORD)
        close_record(v);
    if (op == OP_GETDIG) {
        v->digout->dg_value[v->ncollected] = 0;
        v->digout->dg_type[v->ncollected] = 0;
    }
    if (op == OP_DIAL) {
        cti_digit_tx_clear(v->dtx);
        cti_digit_tx_clear(v->mtx);
        if (v->callp_on)
            type = TDX_CALLP;
    }
    if (op == OP_TONE)
        cti_tone_tx_stop(v->tone);
    if (op == OP_HOOK) {
        cst.cst_event = (unsigned short)v->hook_target;
        cst.cst_data = 0;
        data = &cst;
        len = sizeof cst;
    }
    v->termmsk = termmsk;
    v->op = OP_NONE;
    v->state = CS_IDLE;
    v->io = NULL;
    memset(&v->t, 0, sizeof v->t);
    if (v->mode & EV_ASYNC)
        sim_post(v->dev, type, data, len, 0);
}

static int op_running(void *arg)
{
    return ((voice *)arg)->op == OP_NONE;
}

/* Start bookkeeping common to every operation, then run a sync call. */
static int begin(voice *v, int op, unsigned short mode, int state)
{
    v->op = op;
    v->mode = mode;
    v->state = state;
    v->op_ms = v->idd_ms = v->sil_ms = v->nosil_ms = v->lcoff_ms = 0;
    v->idd_armed = !v->t.iddfirst;
    v->newdigits = 0;
    v->termmsk = 0;
    if (v->dev->hang_next || v->dev->hang_always) {
        v->dev->hang_next = 0;
        v->dev->hung = 1;
    }
    return 0;
}

static int end_sync(voice *v)
{
    if (v->mode & EV_ASYNC)
        return 0;
    if (sim_run_until(op_running, v, 24L * 3600 * 1000) < 0)
        return dev_err(v->dev, EDX_TIMEOUT, "synchronous operation did not end");
    return 0;
}

static int busy_check(voice *v)
{
    if (v->op != OP_NONE)
        return dev_err(v->dev, EDX_BUSY, "channel busy: %s in progress",
                       v->op == OP_PLAY ? "play" : v->op == OP_RECORD ? "record" :
                       v->op == OP_GETDIG ? "getdig" : v->op == OP_DIAL ? "dial" :
                       v->op == OP_TONE ? "playtone" : "sethook");
    return 0;
}

/* ---- the tick -----------------------------------------------------------*/

static void add_digit(voice *v, char c, int type)
{
    if (v->ndig < LEN_DIGBUF) {
        v->dig[v->ndig] = c;
        v->digt[v->ndig] = (char)type;
        v->ndig++;
        v->dig[v->ndig] = v->digt[v->ndig] = 0;
    }
    v->newdigits++;
    v->idd_ms = 0;
    v->idd_armed = 1;
    post_cst(v, DE_DIGITS, (unsigned char)c | (type << 8));
}

/* getdig: move buffered digits to the caller's DV_DIGIT, one at a time, so
 * a terminating digit stops the transfer (later digits stay buffered). */
static void collect(voice *v)
{
    while (v->ndig > 0 && v->ncollected < LEN_DIGBUF && !check_term(v)) {
        v->digout->dg_value[v->ncollected] = v->dig[0];
        v->digout->dg_type[v->ncollected] = v->digt[0];
        v->ncollected++;
        if (!v->idd_armed) {            /* a typed-ahead digit is the first */
            v->idd_armed = 1;
            v->idd_ms = 0;
        }
        memmove(v->dig, v->dig + 1, v->ndig);
        memmove(v->digt, v->digt + 1, v->ndig);
        v->ndig--;
    }
}

static void hear(voice *v, const int16_t *in, int listening)
{
    char digits[16];
    int n, i, events[8];
    float pw;
    if (!listening)
        return;
    if (v->digtypes & D_DTMF) {
        n = cti_digit_rx_feed(v->drx, in, TICK, digits, sizeof digits);
        for (i = 0; i < n; i++)
            add_digit(v, digits[i], DG_DTMF);
    }
    if ((v->digtypes & D_MF) && v->mfrx) {
        n = cti_digit_rx_feed(v->mfrx, in, TICK, digits, sizeof digits);
        for (i = 0; i < n; i++)
            add_digit(v, digits[i], DG_MF);
    }
    if (need_cpt(v)) {
        if (!v->cpt)
            v->cpt = cti_cpt_rx_new(voice_toneset(v));
        n = cti_cpt_rx_feed(v->cpt, in, TICK, events, 8);
        for (i = 0; i < n; i++) {
            int tid = tid_of(events[i] > 0 ? events[i] : -events[i]);
            if (events[i] > 0) {
                v->cur_tone = tid;
                post_cst(v, DE_TONEON, tid);
            } else {
                if (v->cur_tone == tid)
                    v->cur_tone = 0;
                post_cst(v, DE_TONEOFF, tid);
            }
        }
    }
    if (v->op != OP_NONE || (v->evtmask & (DM_SILON | DM_SILOF))) {
        pw = cti_power_dbm0(in, TICK);
        if (pw < (float)v->sil_dbm0) {
            v->sil_run += TICK_MS;
            v->nosil_run = 0;
        } else {
            v->nosil_run += TICK_MS;
            v->sil_run = 0;
        }
        if (!(v->evtmask & (DM_SILON | DM_SILOF))) {
            /* nobody is told: `silent` stays what was last reported */
        } else if (!v->silent && v->sil_run >= 100) {
            v->silent = 1;
            post_cst(v, DE_SILON, 0);
        } else if (v->silent && v->nosil_run >= 30) {
            v->silent = 0;
            post_cst(v, DE_SILOF, 0);
        }
        v->sil_ms = v->sil_run ? v->sil_ms + TICK_MS : 0;
        v->nosil_ms = v->nosil_run ? v->nosil_ms + TICK_MS : 0;
    }
}

/* ---- play ---------------------------------------------------------------*/

static int io_is_mem(const DX_IOTT *io) { return (io->io_type & IO_MEM) != 0; }

static DX_IOTT *io_next(DX_IOTT *io)
{
    unsigned short flow = io->io_type & (IO_CONT | IO_LINK | IO_EOT);
    if (flow == IO_EOT || flow == 0)
        return NULL;
    if (flow == IO_LINK)
        return io->io_nextp;
    return io + 1;
}

static int xpb_format(voice *v, const DX_XPB *xpb, cti_format *fmt)
{
    if (!xpb) {
        *fmt = CTI_FMT_VOX;
        v->file_format = FILE_FORMAT_VOX;
        return 0;
    }
    if (xpb->wFileFormat != FILE_FORMAT_VOX && xpb->wFileFormat != FILE_FORMAT_WAVE)
        return dev_err(v->dev, EDX_XPBPARM, "wFileFormat %u: use FILE_FORMAT_VOX or "
                       "FILE_FORMAT_WAVE", xpb->wFileFormat);
    if (xpb->nSamplesPerSec != DRT_8KHZ)
        return dev_err(v->dev, EDX_XPBPARM, "nSamplesPerSec %lu: the board runs at 8000 Hz",
                       xpb->nSamplesPerSec);
    v->file_format = xpb->wFileFormat;
    switch (xpb->wDataFormat) {
    case DATA_FORMAT_DIALOGIC_ADPCM: *fmt = CTI_FMT_VOX; break;
    case DATA_FORMAT_MULAW: *fmt = CTI_FMT_ULAW; break;
    case DATA_FORMAT_ALAW: *fmt = CTI_FMT_ALAW; break;
    case DATA_FORMAT_PCM: *fmt = CTI_FMT_PCM16; break;
    default:
        return dev_err(v->dev, EDX_XPBPARM, "wDataFormat %u is not ADPCM, A-law, "
                       "mu-law or PCM", xpb->wDataFormat);
    }
    if ((*fmt == CTI_FMT_PCM16 && xpb->wBitsPerSample != 16) ||
        ((*fmt == CTI_FMT_ULAW || *fmt == CTI_FMT_ALAW) && xpb->wBitsPerSample != 8) ||
        (*fmt == CTI_FMT_VOX && xpb->wBitsPerSample != 4))
        return dev_err(v->dev, EDX_XPBPARM, "wBitsPerSample %u does not suit data format %u",
                       xpb->wBitsPerSample, xpb->wDataFormat);
    if (*fmt == CTI_FMT_VOX && v->file_format == FILE_FORMAT_WAVE)
        return dev_err(v->dev, EDX_XPBPARM, "ADPCM cannot be kept in a WAVE file here");
    return 0;
}

static const char *fmt_name(cti_format f)
{
    return f == CTI_FMT_PCM16 ? "PCM16" : f == CTI_FMT_ULAW ? "mu-law" :
           f == CTI_FMT_ALAW ? "A-law" : "VOX ADPCM";
}

/* Read the bytes of an element into buf: from memory or the file. */
static long io_read(DX_IOTT *io, uint8_t *buf, long want, long pos)
{
    if (io_is_mem(io)) {
        memcpy(buf, io->io_bufp + pos, want);
        return want;
    }
    return pread(io->io_fhandle, buf, want, pos);
}

/* Position v on element io for playing.  Returns 0 or an error. */
static int play_open_element(voice *v, DX_IOTT *io)
{
    long base = (long)io->io_offset;
    v->io = io;
    v->io_eof = 0;
    if (io->io_type & IO_UIO)
        return dev_err(v->dev, EDX_BADIOTT, "IO_UIO user I/O is not supported");
    if (io_is_mem(io) && (!io->io_bufp || io->io_length < 0))
        return dev_err(v->dev, EDX_BADIOTT, "IO_MEM element needs io_bufp and io_length >= 0");
    if (!io_is_mem(io) && io->io_fhandle < 0)
        return dev_err(v->dev, EDX_BADIOTT, "IO_DEV element has no file handle");
    if (v->file_format == FILE_FORMAT_WAVE) {
        uint8_t hdr[4096];
        cti_wav_info info;
        long hstart = (io->io_type & IO_USEOFFSET) ? base : 0;
        long got = io_is_mem(io) ? (io->io_length < 4096 ? io->io_length : 4096)
                                 : pread(io->io_fhandle, hdr, sizeof hdr, hstart);
        int rc;
        if (io_is_mem(io))
            memcpy(hdr, io->io_bufp + hstart, got);
        rc = got > 0 ? cti_wav_parse(hdr, got, &info) : CTI_WAV_ENOTRIFF;
        if (rc < 0)
            return dev_err(v->dev, EDX_BADWAVEFILE, "not a usable WAVE file (%s)",
                           rc == CTI_WAV_ENOTRIFF ? "no RIFF/WAVE header" :
                           rc == CTI_WAV_EFORMAT ? "not 8 kHz mono PCM16, A-law or mu-law" :
                           rc == CTI_WAV_ENODATA ? "no data chunk" : "truncated header");
        if (info.format != v->fmt)
            return dev_err(v->dev, EDX_XPBPARM, "the WAVE file holds %s but DX_XPB says %s",
                           fmt_name(info.format), fmt_name(v->fmt));
        v->io_pos = hstart + info.data_offset;
        v->io_left = info.data_length;
        if (io->io_length >= 0 && io->io_length < v->io_left)
            v->io_left = io->io_length;
    } else {
        v->io_pos = base;
        v->io_left = io->io_length;     /* -1: to the end of the file */
        if (io_is_mem(io))
            v->io_pos = base, v->io_left = io->io_length;
    }
    return 0;
}

/* Produce one tick of samples; returns samples produced (< TICK at end). */
static int play_fill(voice *v, int16_t *out)
{
    int got = 0;
    while (got < TICK && v->io) {
        uint8_t buf[2 * TICK];
        size_t bps = cti_format_bytes_per_second(v->fmt);
        long want = (long)((TICK - got) * bps / 8000);
        long n;
        size_t used;
        if (want < 1)
            want = 1;
        if (v->io_left >= 0 && want > v->io_left)
            want = v->io_left;
        n = want > 0 ? io_read(v->io, buf, want, v->io_pos) : 0;
        if (n <= 0) {
            DX_IOTT *next = io_next(v->io);
            if (!next) {
                v->io = NULL;
                break;
            }
            if (play_open_element(v, next) < 0) {
                v->io = NULL;
                v->termmsk |= TM_ERROR;
                break;
            }
            continue;
        }
        got += (int)cti_decode(&v->conv, buf, n, out + got, TICK - got, &used);
        v->io_pos += (long)used;
        if (v->io_left >= 0)
            v->io_left -= (long)used;
    }
    return got;
}

static int start_play(int ch, DX_IOTT *iott, DV_TPT *tpt, DX_XPB *xpb, unsigned short mode)
{
    device *d = sim_dev(ch);
    voice *v;
    cti_format fmt;
    if (!d || d->kind != DEV_VOICE)
        return -1;
    v = V(d);
    if (busy_check(v) < 0 || xpb_format(v, xpb, &fmt) < 0)
        return -1;
    if (!iott)
        return dev_err(d, EDX_BADIOTT, "no DX_IOTT given");
    if (tpt && parse_tpt(v, tpt, &v->t) < 0)
        return -1;
    if (!tpt)
        memset(&v->t, 0, sizeof v->t);
    v->fmt = fmt;
    cti_converter_init(&v->conv, fmt);
    if (play_open_element(v, iott) < 0)
        return -1;
    begin(v, OP_PLAY, mode, CS_PLAY);
    dev_ok(d);
    return end_sync(v);
}

int dx_play(int ch, DX_IOTT *iott, DV_TPT *tpt, unsigned short mode)
{
    int r;
    sim_lock();
    r = start_play(ch, iott, tpt, NULL, mode);
    sim_unlock();
    return r;
}

int dx_playiottdata(int ch, DX_IOTT *iott, DV_TPT *tpt, DX_XPB *xpb, unsigned short mode)
{
    int r;
    sim_lock();
    r = start_play(ch, iott, tpt, xpb, mode);
    sim_unlock();
    return r;
}

/* ---- record -------------------------------------------------------------*/

static void record_write(voice *v, const int16_t *in)
{
    uint8_t buf[2 * TICK + 2];
    size_t n = cti_encode(&v->conv, in, TICK, buf);
    size_t off = 0;
    while (off < n && v->io) {
        long room = v->io_left >= 0 ? v->io_left : (long)(n - off);
        long w = (long)(n - off) < room ? (long)(n - off) : room;
        if (w > 0) {
            if (io_is_mem(v->io))
                memcpy(v->io->io_bufp + v->io_pos, buf + off, w);
            else if (pwrite(v->io->io_fhandle, buf + off, w, v->io_pos) != w) {
                v->termmsk |= TM_ERROR;
                v->io = NULL;
                return;
            }
            v->io_pos += w;
            v->io_written += w;
            off += w;
            if (v->io_left >= 0)
                v->io_left -= w;
        }
        if (v->io_left == 0) {
            DX_IOTT *next = io_next(v->io);
            v->io = next;
            if (next) {
                v->io_pos = (long)next->io_offset;
                v->io_left = next->io_length;
            }
        }
    }
}

static void close_record(voice *v)
{
    uint8_t tail[2];
    size_t n = cti_encode_flush(&v->conv, tail);
    if (n && v->io && (v->io_left < 0 || v->io_left >= (long)n)) {
        if (io_is_mem(v->io))
            memcpy(v->io->io_bufp + v->io_pos, tail, n);
        else if (pwrite(v->io->io_fhandle, tail, n, v->io_pos) == (ssize_t)n)
            v->io_written += (long)n;
    }
    if (v->file_format == FILE_FORMAT_WAVE && v->io_start >= 0) {
        uint8_t hdr[44];
        cti_wav_header(hdr, v->fmt, (uint32_t)v->io_written);
        if (v->io_start_mem)
            memcpy(v->io_start_mem, hdr, sizeof hdr);
        else if (v->io_start_fd >= 0 && pwrite(v->io_start_fd, hdr, sizeof hdr, v->io_start) != 44)
            v->termmsk |= TM_ERROR;
    }
}

static int start_record(int ch, DX_IOTT *iott, DV_TPT *tpt, DX_XPB *xpb, unsigned short mode)
{
    device *d = sim_dev(ch);
    voice *v;
    cti_format fmt;
    if (!d || d->kind != DEV_VOICE)
        return -1;
    v = V(d);
    if (busy_check(v) < 0 || xpb_format(v, xpb, &fmt) < 0)
        return -1;
    if (!iott)
        return dev_err(d, EDX_BADIOTT, "no DX_IOTT given");
    if (iott->io_type & IO_UIO)
        return dev_err(d, EDX_BADIOTT, "IO_UIO user I/O is not supported");
    if (io_is_mem(iott) && (!iott->io_bufp || iott->io_length <= 0))
        return dev_err(d, EDX_BADIOTT, "IO_MEM element needs io_bufp and io_length > 0");
    if (!io_is_mem(iott) && iott->io_fhandle < 0)
        return dev_err(d, EDX_BADIOTT, "IO_DEV element has no file handle");
    if (!tpt)
        return dev_err(d, EDX_BADTPT, "recording needs a DV_TPT (it would never end)");
    if (parse_tpt(v, tpt, &v->t) < 0)
        return -1;
    v->fmt = fmt;
    cti_converter_init(&v->conv, fmt);
    v->io = iott;
    v->io_pos = (long)iott->io_offset;
    v->io_left = iott->io_length;
    v->io_written = 0;
    v->io_start = -1;
    v->io_start_mem = NULL;
    v->io_start_fd = -1;
    if (v->file_format == FILE_FORMAT_WAVE) {
        uint8_t hdr[44];
        cti_wav_header(hdr, fmt, 0);
        v->io_start = v->io_pos;
        if (io_is_mem(iott)) {
            if (v->io_left < 44)
                return dev_err(d, EDX_BADIOTT, "IO_MEM buffer too small for a WAVE header");
            v->io_start_mem = iott->io_bufp + v->io_pos;
            memcpy(v->io_start_mem, hdr, 44);
            v->io_left -= 44;
        } else {
            v->io_start_fd = iott->io_fhandle;
            if (pwrite(iott->io_fhandle, hdr, 44, v->io_pos) != 44)
                return dev_err(d, EDX_SYSTEM, "cannot write the WAVE header");
        }
        v->io_pos += 44;
    }
    begin(v, OP_RECORD, mode, CS_RECD);
    dev_ok(d);
    return end_sync(v);
}

int dx_rec(int ch, DX_IOTT *iott, DV_TPT *tpt, unsigned short mode)
{
    int r;
    sim_lock();
    r = start_record(ch, iott, tpt, NULL, mode);
    sim_unlock();
    return r;
}

int dx_reciottdata(int ch, DX_IOTT *iott, DV_TPT *tpt, DX_XPB *xpb, unsigned short mode)
{
    int r;
    sim_lock();
    r = start_record(ch, iott, tpt, xpb, mode);
    sim_unlock();
    return r;
}

/* ---- getdig -------------------------------------------------------------*/

int dx_getdig(int ch, DV_TPT *tpt, DV_DIGIT *digits, unsigned short mode)
{
    device *d;
    voice *v;
    int r = -1;
    sim_lock();
    d = sim_dev(ch);
    if (!d || d->kind != DEV_VOICE)
        goto out;
    v = V(d);
    if (busy_check(v) < 0)
        goto out;
    if (!digits) {
        dev_err(d, EDX_BADPARM, "no DV_DIGIT buffer given");
        goto out;
    }
    if (!tpt) {
        dev_err(d, EDX_BADTPT, "dx_getdig needs a DV_TPT");
        goto out;
    }
    if (parse_tpt(v, tpt, &v->t) < 0)
        goto out;
    memset(digits, 0, sizeof *digits);
    v->digout = digits;
    v->ncollected = 0;
    begin(v, OP_GETDIG, mode, CS_GTDIG);
    dev_ok(d);
    r = end_sync(v);
out:
    sim_unlock();
    return r;
}

int dx_clrdigbuf(int ch)
{
    device *d;
    int r = -1;
    sim_lock();
    d = sim_dev(ch);
    if (d && d->kind == DEV_VOICE) {
        V(d)->ndig = 0;
        V(d)->dig[0] = V(d)->digt[0] = 0;
        dev_ok(d);
        r = 0;
    }
    sim_unlock();
    return r;
}

/* Channel parameters: DXCH_SILENCETHRESH alone, an int. */
int dx_setparm(int dev, unsigned long parm, void *valuep)
{
    device *d;
    int r = -1, level;
    sim_lock();
    d = sim_dev(dev);
    if (d && d->kind == DEV_VOICE) {
        if (parm != DXCH_SILENCETHRESH) {
            r = dev_err(d, EDX_BADPARM, "parameter 0x%lx is not one this board knows", parm);
        } else if (!valuep) {
            r = dev_err(d, EDX_BADPARM, "no value for DXCH_SILENCETHRESH");
        } else if ((level = *(const int *)valuep) < DX_SILENCETHRESH_MIN
                   || level > DX_SILENCETHRESH_MAX) {
            r = dev_err(d, EDX_BADPARM, "silence threshold %d dBm0 is not from %d to %d",
                        level, DX_SILENCETHRESH_MIN, DX_SILENCETHRESH_MAX);
        } else {
            V(d)->sil_dbm0 = level;
            dev_ok(d);
            r = 0;
        }
    }
    sim_unlock();
    return r;
}

int dx_getparm(int dev, unsigned long parm, void *valuep)
{
    device *d;
    int r = -1;
    sim_lock();
    d = sim_dev(dev);
    if (d && d->kind == DEV_VOICE) {
        if (parm != DXCH_SILENCETHRESH || !valuep) {
            r = dev_err(d, EDX_BADPARM, "parameter 0x%lx is not one this board knows", parm);
        } else {
            *(int *)valuep = V(d)->sil_dbm0;
            dev_ok(d);
            r = 0;
        }
    }
    sim_unlock();
    return r;
}

int simfar_dtmf_abcd(const char *voice, int on)
{
    device *d;
    int r = 0;
    sim_lock();
    d = sim_find(voice);
    if (!d || d->kind != DEV_VOICE)
        r = sim_fail("no voice channel named '%s'", voice ? voice : "(null)");
    else
        cti_digit_rx_set_abcd(V(d)->drx, on);
    sim_unlock();
    return r;
}

int dx_setdigtyp(int ch, unsigned short dmask)
{
    device *d;
    int r = -1;
    sim_lock();
    d = sim_dev(ch);
    if (d && d->kind == DEV_VOICE) {
        if (dmask & ~(D_DTMF | D_MF)) {
            r = dev_err(d, EDX_BADPARM, "digit types 0x%x: only D_DTMF and D_MF exist", dmask);
        } else {
            V(d)->digtypes = dmask;
            if ((dmask & D_MF) && !V(d)->mfrx)
                V(d)->mfrx = cti_digit_rx_new(CTI_DIGITS_MF);
            dev_ok(d);
            r = 0;
        }
    }
    sim_unlock();
    return r;
}

/* ---- dial and call progress ---------------------------------------------*/

void dx_clrcap(DX_CAP *cap)
{
    if (!cap)
        return;
    memset(cap, 0, sizeof *cap);
}

static void cap_defaults(DX_CAP *c)
{
    if (!c->ca_nbrdna) c->ca_nbrdna = 4;
    if (!c->ca_cnosig) c->ca_cnosig = 4000;
    if (!c->ca_noanswer) c->ca_noanswer = 3000;
    if (!c->ca_intflg) c->ca_intflg = DX_OPTEN;
    if (!c->ca_dtn_pres) c->ca_dtn_pres = 100;
}

/* Queue the next stretch of the dial string (up to a mode change). */
static int dial_next(voice *v)
{
    char seg[128];
    int n = 0;
    while (v->dialstr[v->dialpos]) {
        char c = v->dialstr[v->dialpos];
        if (c == 'T' || c == 'M') {
            if (n)
                break;
            v->dial_mf = c == 'M';
            v->dialpos++;
            continue;
        }
        seg[n++] = c;
        v->dialpos++;
    }
    seg[n] = 0;
    if (!n)
        return 0;
    cti_digit_tx_put(v->dial_mf ? v->mtx : v->dtx, seg, 100, 100, -10);
    return 1;
}

static int validate_dialstr(voice *v, const char *s)
{
    int mf = 0;
    for (; *s; s++) {
        char c = *s;
        if (c == 'T' || c == 'M') {
            mf = c == 'M';
            continue;
        }
        if (c == ',')
            continue;
        if (c == 'P' || c == 'L' || c == 'I' || c == 'X')
            return dev_err(v->dev, EDX_BADPARM, "dial string: '%c' (%s) is not supported", c,
                           c == 'P' ? "pulse dialling" : "wait for dial tone; use DX_CAP "
                           "ca_dtn_npres with DX_CALLP");
        if (!strchr(mf ? "0123456789*#ABC" : "0123456789*#ABCD", c))
            return dev_err(v->dev, EDX_BADPARM, "dial string: '%c' is not a %s digit",
                           c, mf ? "MF" : "DTMF");
    }
    return 0;
}

int dx_dial(int ch, const char *dialstr, DX_CAP *cap, unsigned short mode)
{
    device *d;
    voice *v;
    int r = -1;
    sim_lock();
    d = sim_dev(ch);
    if (!d || d->kind != DEV_VOICE)
        goto out;
    v = V(d);
    if (busy_check(v) < 0)
        goto out;
    if (!dialstr || strlen(dialstr) >= sizeof v->dialstr) {
        dev_err(d, EDX_BADPARM, "dial string missing or longer than %zu",
                sizeof v->dialstr - 1);
        goto out;
    }
    if (validate_dialstr(v, dialstr) < 0)
        goto out;
    snprintf(v->dialstr, sizeof v->dialstr, "%s", dialstr);
    v->dialpos = 0;
    v->dial_mf = 0;
    v->callp_on = (mode & DX_CALLP) != 0;
    memset(&v->cp, 0, sizeof v->cp);
    v->cpterm = 0;
    v->conntype = 0;
    if (cap)
        v->cp.cap = *cap;
    cap_defaults(&v->cp.cap);
    v->cp.first_ring_ms = -1;
    v->cp.phase = (v->callp_on && v->cp.cap.ca_dtn_npres) ? 0 : 1;
    memset(&v->t, 0, sizeof v->t);
    begin(v, OP_DIAL, mode & ~DX_CALLP, v->callp_on ? CS_CALL : CS_DIAL);
    if (v->cp.phase == 1)
        dial_next(v);
    dev_ok(d);
    r = end_sync(v);
out:
    sim_unlock();
    return r;
}

/* Share of the block's energy at call-progress tone frequencies (0..1). */
/* A signal that goes on this long without a break, and is neither voice nor
 * a known tone (dial tone still there after dialling, a howler), is no
 * ringback: the vendor's continuous non-silence limit, 6.5 s by default. */
#define CP_CNOSIL_MS 6500

static void callp_result(voice *v, int cr, int conntype)
{
    v->cpterm = cr;
    v->conntype = conntype;
    finish(v, TM_NORMTERM);
}

static void callp_tick(voice *v, const int16_t *in)
{
    callp *cp = &v->cp;
    float pw = cti_power_dbm0(in, TICK);
    cp->phase_ms += TICK_MS;
    if (cp->phase == 0) {
        cp->dialtone_ms = v->cur_tone == TID_DIAL_LCL ? cp->dialtone_ms + TICK_MS : 0;
        if (cp->dialtone_ms >= cp->cap.ca_dtn_pres * 10L) {
            cp->phase = 1;
            cp->phase_ms = 0;
            dial_next(v);
        } else if (cp->phase_ms >= cp->cap.ca_dtn_npres * 10L) {
            callp_result(v, CR_NODIALTONE, 0);
        }
        return;
    }
    if (cp->phase == 1)
        return;         /* digits still going out: see output() */
    /* analysis */
    switch (v->cur_tone) {
    case TID_BUSY1: case TID_BUSY2: callp_result(v, CR_BUSY, 0); return;
    case TID_SIT:
        if (cp->cap.ca_intflg != DX_OPTDIS) {
            callp_result(v, CR_CEPT, 0);
            return;
        }
        break;
    case TID_FAX1: case TID_FAX2: callp_result(v, CR_FAXTONE, 0); return;
    case TID_RNGBK1:
        if (!cp->ringback) {
            cp->ringback = 1;
            cp->first_ring_ms = cp->phase_ms;
        }
        break;
    default: break;
    }
    if (pw > -45.0f) {
        cp->quiet_ms = 0;
        cp->signal_ms += TICK_MS;
        if (!cp->in_burst) {
            cp->in_burst = 1;
            cp->bursts++;
        }
        if (cti_tone_share(in, TICK) < 0.5f)
            cp->voice_ms += TICK_MS;
        else
            cp->voice_ms = 0;
    } else {
        cp->quiet_ms += TICK_MS;
        cp->voice_ms = 0;
        if (cp->quiet_ms >= 300) {
            cp->in_burst = 0;
            cp->signal_ms = 0;
        }
    }
    if (cp->voice_ms >= 200) {
        callp_result(v, CR_CNCT, cp->ringback ? CON_CAD : CON_PVD);
        return;
    }
    if (cp->ringback && (cp->bursts > cp->cap.ca_nbrdna ||
                         cp->phase_ms - cp->first_ring_ms >= cp->cap.ca_noanswer * 10L)) {
        callp_result(v, CR_NOANS, 0);
        return;
    }
    if ((!cp->ringback && cp->bursts == 0 && cp->phase_ms >= cp->cap.ca_cnosig * 10L) ||
        cp->signal_ms >= CP_CNOSIL_MS)
        callp_result(v, CR_NORB, 0);
}

/* ---- playtone -----------------------------------------------------------*/

int dx_bldtngen(TN_GEN *g, unsigned short f1, unsigned short f2, short a1, short a2, short dur)
{
    if (!g)
        return -1;
    g->tg_dflag = f2 ? TN_DUAL : TN_SINGLE;
    g->tg_freq1 = f1;
    g->tg_freq2 = f2;
    g->tg_ampl1 = a1;
    g->tg_ampl2 = a2;
    g->tg_dur = dur;
    return 0;
}

int dx_playtone(int ch, TN_GEN *g, DV_TPT *tpt, unsigned short mode)
{
    device *d;
    voice *v;
    int r = -1;
    sim_lock();
    d = sim_dev(ch);
    if (!d || d->kind != DEV_VOICE)
        goto out;
    v = V(d);
    if (busy_check(v) < 0)
        goto out;
    if (!g || !g->tg_freq1 || g->tg_freq1 > 3400 || g->tg_freq2 > 3400) {
        dev_err(d, EDX_BADPARM, "TN_GEN: frequencies must be 1..3400 Hz");
        goto out;
    }
    if (tpt && parse_tpt(v, tpt, &v->t) < 0)
        goto out;
    if (!tpt)
        memset(&v->t, 0, sizeof v->t);
    if (g->tg_dur < 0 && !tpt) {
        dev_err(d, EDX_BADTPT, "a tone without duration needs a DV_TPT");
        goto out;
    }
    cti_tone_tx_start_custom(v->tone, g->tg_freq1, g->tg_dflag == TN_DUAL ? g->tg_freq2 : 0,
                             g->tg_ampl1, 1000, 0, 0, 0, 1);
    v->tone_ms = g->tg_dur < 0 ? -1 : g->tg_dur * 10L;
    begin(v, OP_TONE, mode, CS_TONE);
    dev_ok(d);
    r = end_sync(v);
out:
    sim_unlock();
    return r;
}

/* ---- hook ---------------------------------------------------------------*/

int dx_sethook(int ch, int state, unsigned short mode)
{
    device *d;
    voice *v;
    int r = -1;
    sim_lock();
    d = sim_dev(ch);
    if (!d || d->kind != DEV_VOICE)
        goto out;
    v = V(d);
    if (!v->linedev) {
        dev_err(d, EDX_BADPARM, "%s has no analog line: use the trunk's signalling", d->name);
        goto out;
    }
    if (state != DX_ONHOOK && state != DX_OFFHOOK) {
        dev_err(d, EDX_BADPARM, "hook state %d: use DX_ONHOOK or DX_OFFHOOK", state);
        goto out;
    }
    if (busy_check(v) < 0)
        goto out;
    line_set_hook(v->linedev->line, state == DX_OFFHOOK);
    v->hook_target = state;
    memset(&v->t, 0, sizeof v->t);
    begin(v, OP_HOOK, mode, CS_HOOK);
    dev_ok(d);
    r = end_sync(v);
out:
    sim_unlock();
    return r;
}

static int ring_count_reached(void *arg)
{
    voice *v = arg;
    return line_rings(v->linedev->line) >= v->hook_target;
}

int dx_wtring(int ch, int nrings, int hstate, int timeout)
{
    device *d;
    voice *v;
    int r = -1;
    sim_lock();
    d = sim_dev(ch);
    if (!d || d->kind != DEV_VOICE)
        goto out;
    v = V(d);
    if (!v->linedev || nrings < 1) {
        dev_err(d, EDX_BADPARM, v->linedev ? "nrings must be >= 1" : "no analog line");
        goto out;
    }
    v->hook_target = nrings;
    if (sim_run_until(ring_count_reached, v, timeout < 0 ? 24L * 3600 * 1000
                                                          : timeout * 1000L) < 0) {
        dev_err(d, EDX_TIMEOUT, "%d rings did not come within %d s", nrings, timeout);
        goto out;
    }
    line_set_hook(v->linedev->line, hstate == DX_OFFHOOK);
    dev_ok(d);
    r = 0;
out:
    sim_unlock();
    return r;
}

/* ---- stop ---------------------------------------------------------------*/

int dx_stopch(int ch, unsigned short mode)
{
    device *d;
    voice *v;
    int r = -1;
    sim_lock();
    d = sim_dev(ch);
    if (!d || d->kind != DEV_VOICE)
        goto out;
    v = V(d);
    r = 0;
    dev_ok(d);
    if (v->op == OP_NONE) {
        if (mode & EV_NOSTOP)
            sim_post(d, TDX_NOSTOP, NULL, 0, 0);
        goto out;
    }
    if (d->hung)
        goto out;   /* a hung operation ignores the stop: recover by close/open */
    if (v->op == OP_DIAL && v->callp_on) {
        v->cpterm = CR_STOPD;
        finish(v, TM_USRSTOP);
    } else if (v->op != OP_HOOK) {
        finish(v, TM_USRSTOP);
    }
out:
    sim_unlock();
    return r;
}

/* ---- the tick -----------------------------------------------------------*/

static void output(voice *v, int16_t *out)
{
    int n;
    memset(out, 0, TICK * sizeof *out);
    switch (v->op) {
    case OP_PLAY:
        n = play_fill(v, out);
        if (n < TICK && !v->io)
            v->io_eof = 1;
        break;
    case OP_DIAL:
        if (v->cp.phase != 1 && v->callp_on)
            break;
        if (!cti_digit_tx_gen(v->dial_mf ? v->mtx : v->dtx, out, TICK) && !dial_next(v)) {
            if (v->callp_on) {
                v->cp.phase = 2;
                v->cp.phase_ms = 0;
            } else {
                v->io_eof = 1;
            }
        }
        break;
    case OP_TONE:
        cti_tone_tx_gen(v->tone, out, TICK);
        break;
    default:
        break;
    }
}

void voice_tick(device *d)
{
    voice *v = V(d);
    int16_t in[TICK], out[TICK];
    long m;
    int listening = d->listen >= 0 && d->open;
    if (listening)
        ulaw_to_linear(sim_bus_in(d), in, TICK);
    else
        memset(in, 0, sizeof in);
    hear(v, in, listening);
    if (v->op != OP_NONE && !d->hung) {
        v->op_ms += TICK_MS;
        if (v->idd_armed)
            v->idd_ms += TICK_MS;
        if (v->linedev)
            v->lcoff_ms = line_loop_current(v->linedev->line) ? 0 : v->lcoff_ms + TICK_MS;
        if (v->op == OP_GETDIG)
            collect(v);
        if (v->op == OP_RECORD)
            record_write(v, in);
    }
    v->io_eof = 0;
    if (!d->hung)
        output(v, out);
    else
        memset(out, 0, sizeof out);
    linear_to_ulaw(out, sim_bus_out(d->txslot), TICK);
    if (v->op == OP_NONE || d->hung)
        return;
    if (v->op == OP_HOOK) {
        finish(v, TM_NORMTERM);
        return;
    }
    if (v->op == OP_DIAL && v->callp_on) {
        callp_tick(v, in);
        return;
    }
    m = check_term(v) | (v->termmsk & TM_ERROR);
    if (v->op == OP_PLAY && v->io_eof)
        m |= TM_EOD;
    if (v->op == OP_RECORD && !v->io)
        m |= TM_EOD;
    if (v->op == OP_DIAL && v->io_eof)
        m |= TM_NORMTERM, finish(v, TM_NORMTERM);
    else if (v->op == OP_TONE && v->tone_ms >= 0 && v->op_ms >= v->tone_ms)
        finish(v, m | TM_EOD);
    else if (m && v->op != OP_DIAL)
        finish(v, m);
}

void voice_reset(device *d)
{
    voice *v = V(d);
    if (v->op == OP_RECORD)
        close_record(v);
    v->op = OP_NONE;
    v->state = CS_IDLE;
    v->io = NULL;
    v->evtmask = 0;
    v->ndig = 0;
    v->dig[0] = 0;
    cti_digit_tx_clear(v->dtx);
    cti_digit_tx_clear(v->mtx);
    cti_tone_tx_stop(v->tone);
    d->hung = 0;
    d->hang_next = 0;
}

/* ---- open, close, attributes --------------------------------------------*/

static device *find_kind(const char *name, dev_kind k1, dev_kind k2)
{
    device *d = sim_find(name);
    return d && (d->kind == k1 || d->kind == k2) ? d : NULL;
}

int dx_open(const char *name, int oflags)
{
    device *d;
    int r;
    (void)oflags;
    sim_lock();
    sim_ensure();
    d = name && strncmp(name, "dxxx", 4) == 0 ? find_kind(name, DEV_VOICE, DEV_BOARD) : NULL;
    if (!d) {
        errno = ENOENT;
        r = sim_fail("no voice device named '%s'", name ? name : "(null)");
    } else if (d->open) {
        errno = EBUSY;
        r = sim_fail("%s is already open", name);
    } else {
        d->open = 1;
        dev_ok(d);
        r = (int)sim_handle(d);
    }
    sim_unlock();
    return r;
}

int dx_close(int dev)
{
    device *d;
    int r = -1;
    sim_lock();
    d = sim_dev(dev);
    if (d && (d->kind == DEV_VOICE || d->kind == DEV_BOARD)) {
        if (d->kind == DEV_VOICE) {
            voice_reset(d);
            bus_release_device(d);
        }
        d->open = 0;
        r = 0;
    } else {
        sim_fail("dx_close: %d is not an open voice device", dev);
    }
    sim_unlock();
    return r;
}

int dx_setevtmsk(int ch, unsigned int mask)
{
    device *d;
    int r = -1;
    sim_lock();
    d = sim_dev(ch);
    if (d && d->kind == DEV_VOICE) {
        /* Silence events no longer asked for: what was reported is
         * forgotten, so the next to ask (a pooled channel's next call) is
         * told of silence already there after its 100 ms, as if it had
         * just begun (`silent` follows only what is reported: hear()). */
        if ((V(d)->evtmask & (DM_SILON | DM_SILOF)) && !(mask & (DM_SILON | DM_SILOF)))
            V(d)->silent = 0;
        V(d)->evtmask = mask;
        dev_ok(d);
        r = 0;
    }
    sim_unlock();
    return r;
}

#define VOICE_ATTR(fn, expr) \
    long fn(int ch) \
    { \
        device *d; \
        long r = -1; \
        sim_lock(); \
        d = sim_dev(ch); \
        if (d && d->kind == DEV_VOICE) \
            r = (expr); \
        sim_unlock(); \
        return r; \
    }

VOICE_ATTR(ATDX_TERMMSK, V(d)->termmsk)
VOICE_ATTR(ATDX_STATE, V(d)->state)
VOICE_ATTR(ATDX_CPTERM, V(d)->cpterm)
VOICE_ATTR(ATDX_CONNTYPE, V(d)->conntype)
VOICE_ATTR(ATDX_HOOKST, V(d)->linedev ? line_hook(V(d)->linedev->line) : -1)
VOICE_ATTR(ATDX_LINEST, V(d)->linedev ? line_status_bits(V(d)->linedev->line) : -1)

int dx_gtcallid(int ch, unsigned char *buf)
{
    return dx_gtextcallid(ch, CLIDINFO_CALLID, buf);
}

int dx_gtextcallid(int ch, int infotype, unsigned char *buf)
{
    device *d;
    cti_callerid cid;
    int r = -1;
    char *out = (char *)buf;
    sim_lock();
    d = sim_dev(ch);
    if (!d || d->kind != DEV_VOICE || !buf)
        goto out;
    if (!V(d)->linedev) {
        dev_err(d, EDX_BADPARM, "%s has no analog line: caller ID comes with the trunk", d->name);
        goto out;
    }
    if (!line_callerid(V(d)->linedev->line, &cid)) {
        dev_err(d, EDX_CLIDINFO, "no caller ID received (yet): ask after the second ring");
        goto out;
    }
    switch (infotype) {
    case CLIDINFO_CALLID:
    case MCLASS_DN:
        if (cid.number[0])
            strcpy(out, cid.number);
        else if (cid.number_absent)
            sprintf(out, "%c", cid.number_absent);
        else {
            dev_err(d, EDX_CLIDINFO, "the caller ID message holds no number");
            goto out;
        }
        break;
    case MCLASS_NAME:
        if (!cid.name[0]) {
            dev_err(d, EDX_CLIDINFO, "the caller ID message holds no name");
            goto out;
        }
        strcpy(out, cid.name);
        break;
    case MCLASS_DATETIME: strcpy(out, cid.datetime); break;
    case MCLASS_ABSENCE1: sprintf(out, "%c", cid.number_absent ? cid.number_absent : ' '); break;
    case MCLASS_ABSENCE2: sprintf(out, "%c", cid.name_absent ? cid.name_absent : ' '); break;
    case CLIDINFO_FRAMETYPE: strcpy(out, cid.mdmf ? "M" : "S"); break;
    case CLIDINFO_CMPLT: sprintf(out, "%s %s", cid.number, cid.name); break;
    case CLIDINFO_GENERAL: sprintf(out, "%s,%s,%s", cid.datetime, cid.number, cid.name); break;
    default:
        dev_err(d, EDX_BADPARM, "caller ID info type 0x%x is unknown", infotype);
        goto out;
    }
    dev_ok(d);
    r = 0;
out:
    sim_unlock();
    return r;
}

int dx_fileopen(const char *path, int flags, ...)
{
    va_list ap;
    int mode;
    va_start(ap, flags);
    mode = (flags & O_CREAT) ? va_arg(ap, int) : 0;
    va_end(ap);
    return open(path, flags, mode);
}

int dx_fileclose(int fd)
{
    return close(fd);
}

int dx_clrtpt(DV_TPT *tpt, int size)
{
    if (!tpt || size < 1)
        return -1;
    memset(tpt, 0, size * sizeof *tpt);
    return 0;
}

static int ctinfo(device *d, CT_DEVINFO *info, int family, int net)
{
    if (!info)
        return dev_err(d, EDX_BADPARM, "no CT_DEVINFO given");
    memset(info, 0, sizeof *info);
    info->ct_prodid = 0x43544953;   /* "CTIS" */
    info->ct_devfamily = (unsigned char)family;
    info->ct_devmode = net == CT_NTNONE ? CT_DMRESOURCE : CT_DMNETWORK;
    info->ct_nettype = (unsigned char)net;
    info->ct_busmode = CT_BMH100;
    info->ct_busencoding = CT_BEULAW;
    dev_ok(d);
    return 0;
}

int dx_getctinfo(int ch, CT_DEVINFO *info)
{
    device *d;
    int r = -1;
    sim_lock();
    d = sim_dev(ch);
    if (d && d->kind == DEV_VOICE)
        r = ctinfo(d, info, V(d)->linedev ? CT_DFD41D : CT_DFSPAN, CT_NTNONE);
    sim_unlock();
    return r;
}

int ag_getctinfo(int ch, CT_DEVINFO *info)
{
    device *d;
    int r = -1;
    sim_lock();
    d = sim_dev(ch);
    if (d && d->kind == DEV_VOICE && V(d)->linedev)
        r = ctinfo(V(d)->linedev, info, CT_DFD41D, CT_NTANALOG);
    else if (d)
        dev_err(d, EDX_BADDEV, "%s has no analog line", d->name);
    sim_unlock();
    return r;
}

/* ---- bus ----------------------------------------------------------------*/

#define BUS_FN(fn, target, call) \
    int fn \
    { \
        device *d, *t; \
        int r = -1; \
        sim_lock(); \
        d = sim_dev(ch); \
        t = d && d->kind == DEV_VOICE ? (target) : NULL; \
        if (t) \
            r = (call); \
        else if (d) \
            dev_err(d, EDX_BADDEV, "%s has no such bus connection", d->name); \
        if (r < 0 && t && t != d) \
            dev_err(d, t->lasterr, "%s", t->errmsg); \
        sim_unlock(); \
        return r; \
    }

BUS_FN(dx_getxmitslot(int ch, SC_TSINFO *ts), d, bus_getxmitslot(t, ts))
BUS_FN(dx_listen(int ch, SC_TSINFO *ts), d, bus_listen(t, ts, EDX_SH_BADEXTTS, EDX_SH_LISTEN))
BUS_FN(dx_unlisten(int ch), d, bus_unlisten(t))
BUS_FN(ag_getxmitslot(int ch, SC_TSINFO *ts), V(d)->linedev, bus_getxmitslot(t, ts))
BUS_FN(ag_listen(int ch, SC_TSINFO *ts), V(d)->linedev,
       bus_listen(t, ts, EDX_SH_BADEXTTS, EDX_SH_LISTEN))
BUS_FN(ag_unlisten(int ch), V(d)->linedev, bus_unlisten(t))

int voice_status(device *d, char *buf, int max)
{
    voice *v = V(d);
    static const char *states[] = {"?", "idle", "play", "record", "dial", "getdig",
                                   "tone", "stopped", "hook", "?", "?", "?", "?", "callp"};
    return snprintf(buf, max, "kind=voice state=%s digits=%d hung=%d dtmf_abcd=%d",
                    v->state >= 0 && v->state <= 13 ? states[v->state] : "?",
                    v->ndig, d->hung, cti_digit_rx_abcd(v->drx));
}
