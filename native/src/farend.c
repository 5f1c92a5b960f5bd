/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * farend.c - the other end of every wire: the telco, a caller, a phone.
 *
 * A far end transmits a mix of its sources (FSK caller ID, DTMF, MF, a
 * call-progress tone, queued audio) and listens with its own detectors to
 * what our boards send it: the digits our side dials, tones, and a capture
 * for tests.  Families (line.c, t1.c, station.c) drive its state; the
 * progress of an outbound call after the digits (ringback, answer, busy,
 * SIT, fax, silence) is common to lines and trunks and lives here.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

void farend_init(farend *fe, int kind, device *dev, int tones)
{
    memset(fe, 0, sizeof *fe);
    fe->kind = kind;
    fe->dev = dev;
    fe->tones = tones ? tones : SIMFAR_TONES_NA;
    fe->dtmf = cti_digit_tx_new(CTI_DIGITS_DTMF);
    fe->mf = cti_digit_tx_new(CTI_DIGITS_MF);
    fe->tone = cti_tone_tx_new();
    fe->drx = cti_digit_rx_new(CTI_DIGITS_DTMF);
    cti_digit_rx_set_abcd(fe->drx, 1);  /* a test set: it hears every key dialled */
    fe->mfrx = kind == SIMFAR_EP_T1 ? cti_digit_rx_new(CTI_DIGITS_MF) : NULL;
    fe->cpt = cti_cpt_rx_new(fe->tones == SIMFAR_TONES_CN ? CTI_TONESET_CN : CTI_TONESET_NA);
    fe->outbound = SIMFAR_OUT_ANSWER;
    fe->answer_rings = 2;
}

void farend_free(farend *fe)
{
    cti_digit_tx_free(fe->dtmf);
    cti_digit_tx_free(fe->mf);
    cti_tone_tx_free(fe->tone);
    if (fe->cid)
        cti_cid_tx_free(fe->cid);
    cti_digit_rx_free(fe->drx);
    if (fe->mfrx)
        cti_digit_rx_free(fe->mfrx);
    cti_cpt_rx_free(fe->cpt);
    fifo_free(&fe->audio);
    fifo_free(&fe->capture);
}

void farend_set_state(farend *fe, int state)
{
    if (fe->state != state) {
        fe->state = state;
        fe->state_ms = 0;
        fe->phase = 0;
        fe->phase_ms = 0;
    }
    if (state == SIMFAR_ST_IDLE) {
        fe->ndialled = 0;
        fe->dialled[0] = 0;
        fe->rings = 0;
    }
}

void farend_stop_sending(farend *fe)
{
    cti_digit_tx_clear(fe->dtmf);
    cti_digit_tx_clear(fe->mf);
    fe->dtmf_busy = fe->mf_busy = 0;
    farend_tone_stop(fe);
    if (fe->cid) {
        cti_cid_tx_free(fe->cid);
        fe->cid = NULL;
    }
    fifo_clear(&fe->audio);
}

static void mix(int16_t *acc, const int16_t *add, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        int v = acc[i] + add[i];
        acc[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
    }
}

int farend_tone(farend *fe, int tone_id, int level_dbm0)
{
    if (cti_tone_tx_start(fe->tone, fe->tones, tone_id, level_dbm0) < 0)
        return -1;
    fe->tone_on = 1;
    return 0;
}

void farend_tone_stop(farend *fe)
{
    cti_tone_tx_stop(fe->tone);
    fe->tone_on = 0;
}

int farend_put_digits(farend *fe, int mf, const char *digits, int on_ms, int off_ms,
                      int level_dbm0)
{
    if (cti_digit_tx_put(mf ? fe->mf : fe->dtmf, digits, on_ms, off_ms, level_dbm0) < 0)
        return -1;
    if (mf)
        fe->mf_busy = 1;
    else
        fe->dtmf_busy = 1;
    return 0;
}

int farend_quiet(const farend *fe)
{
    return !fe->cid && !fe->dtmf_busy && !fe->mf_busy && !fe->tone_on && !fe->audio.len;
}

int farend_listening(const farend *fe)
{
    return fe->capturing || fe->state != SIMFAR_ST_IDLE;
}

int farend_idle(const farend *fe)
{
    return !farend_listening(fe) && farend_quiet(fe);
}

void farend_clocks(farend *fe, long ms)
{
    fe->state_ms += ms;
    fe->phase_ms += ms;
    fe->dial_gap_ms += ms;
}

void farend_speak(farend *fe, int16_t *out)
{
    int16_t tmp[TICK];
    memset(out, 0, TICK * sizeof *out);
    if (farend_quiet(fe))
        return;
    if (fe->cid) {
        if (!cti_cid_tx_gen(fe->cid, tmp, TICK)) {
            cti_cid_tx_free(fe->cid);
            fe->cid = NULL;
        }
        mix(out, tmp, TICK);
    }
    if (fe->dtmf_busy) {
        fe->dtmf_busy = cti_digit_tx_gen(fe->dtmf, tmp, TICK);
        mix(out, tmp, TICK);
    }
    if (fe->mf_busy) {
        fe->mf_busy = cti_digit_tx_gen(fe->mf, tmp, TICK);
        mix(out, tmp, TICK);
    }
    if (fe->tone_on) {
        fe->tone_on = cti_tone_tx_gen(fe->tone, tmp, TICK);
        mix(out, tmp, TICK);
    }
    if (fe->audio.len) {
        size_t n = fifo_pop(&fe->audio, tmp, TICK);
        memset(tmp + n, 0, (TICK - n) * sizeof *tmp);
        mix(out, tmp, TICK);
    }
}

void farend_speak_wire(farend *fe, uint8_t *out)
{
    int16_t lin[TICK];
    if (farend_quiet(fe)) {
        memset(out, fe->alaw ? ALAW_IDLE_CODE : IDLE_CODE, TICK);
        return;
    }
    farend_speak(fe, lin);
    (fe->alaw ? linear_to_alaw : linear_to_ulaw)(lin, out, TICK);
}

void farend_hear(farend *fe, const int16_t *in)
{
    char digits[16];
    int events[8], n, i;
    farend_clocks(fe, TICK_MS);
    if (fe->capturing)
        fifo_push(&fe->capture, in, TICK);
    if (fe->state == SIMFAR_ST_IDLE)
        return;
    n = cti_digit_rx_feed(fe->drx, in, TICK, digits, sizeof digits);
    if (fe->mfrx)
        n += cti_digit_rx_feed(fe->mfrx, in, TICK, digits + n, sizeof digits - n);
    for (i = 0; i < n; i++) {
        if (fe->nheard < (int)sizeof fe->heard - 1) {
            fe->heard[fe->nheard++] = digits[i];
            fe->heard[fe->nheard] = 0;
        }
        if (fe->state == SIMFAR_ST_SEIZED && fe->ndialled < (int)sizeof fe->dialled - 1) {
            fe->dialled[fe->ndialled++] = digits[i];
            fe->dialled[fe->ndialled] = 0;
            fe->dial_gap_ms = 0;
        }
    }
    n = cti_cpt_rx_feed(fe->cpt, in, TICK, events, 8);
    for (i = 0; i < n; i++)
        fe->heard_tone = events[i] > 0 ? events[i] : CTI_TONE_NONE;
}

void farend_hear_wire(farend *fe, const uint8_t *in)
{
    int16_t lin[TICK];
    if (!farend_listening(fe)) {
        farend_clocks(fe, TICK_MS);      /* only the clocks move */
        return;
    }
    if (in)
        (fe->alaw ? alaw_to_linear : ulaw_to_linear)(in, lin, TICK);
    else
        memset(lin, 0, sizeof lin);
    farend_hear(fe, lin);
}

/* A vowel-like sound: a 120-180 Hz glottal pulse train through two
 * formants, with a syllable envelope.  Enough for voice detection. */
void farend_say_hello(farend *fe)
{
    int16_t buf[8000 + 4000];
    int i, n = 12000;
    double ph = 0, f0;
    for (i = 0; i < n; i++) {
        double t = i / 8000.0, env, v;
        f0 = 120 + 60 * sin(2 * M_PI * 1.3 * t);
        ph += 2 * M_PI * f0 / 8000.0;
        env = (i < 8000) ? sin(M_PI * t / 1.0) : 0.6 * sin(M_PI * (t - 1.0) / 0.5);
        if (env < 0)
            env = 0;
        v = 0.5 * sin(ph) + 0.3 * sin(2 * ph) + 0.25 * sin(5 * ph + 0.3) +
            0.15 * sin(9 * ph + 1.1) + 0.1 * sin(14 * ph);
        buf[i] = (int16_t)(6000.0 * env * v);
    }
    fifo_push(&fe->audio, buf, n);
}

int farend_outbound_tick(farend *fe)
{
    /* The exchange takes the number as complete after an inter-digit
     * time longer than a dial-string pause (',', 2 s), so "9,5551234" is
     * one number, not "9" followed by digits dialled into the ringback. */
    const long end_of_number_ms = 3000;
    int cycle = fe->tones == SIMFAR_TONES_CN ? 5000 : 6000;
    int on = fe->tones == SIMFAR_TONES_CN ? 1000 : 2000;
    if (fe->state != SIMFAR_ST_SEIZED)
        return 0;
    if (fe->phase == 0) {
        /* dialling: the progress starts once the digits stop */
        if (fe->ndialled == 0 || fe->dial_gap_ms < end_of_number_ms)
            return 0;
        fe->phase = 1;
        fe->phase_ms = 0;
        switch (fe->outbound) {
        case SIMFAR_OUT_ANSWER:
        case SIMFAR_OUT_NOANSWER:
        case SIMFAR_OUT_FAX:
            farend_tone(fe, CTI_TONE_RINGBACK, -16);
            break;
        case SIMFAR_OUT_BUSY:
            farend_tone(fe, CTI_TONE_BUSY, -16);
            break;
        case SIMFAR_OUT_SIT:
            farend_tone(fe, CTI_TONE_SIT, -16);
            break;
        default:
            break;
        }
        return 0;
    }
    if (fe->phase == 1 && (fe->outbound == SIMFAR_OUT_ANSWER || fe->outbound == SIMFAR_OUT_FAX)) {
        int rings = fe->outbound == SIMFAR_OUT_FAX ? 1 : fe->answer_rings;
        if (rings < 1)
            rings = 1;
        if (fe->phase_ms >= (long)(rings - 1) * cycle + on + 500) {
            farend_tone_stop(fe);
            farend_set_state(fe, SIMFAR_ST_CONNECTED);
            if (fe->outbound == SIMFAR_OUT_FAX)
                farend_tone(fe, CTI_TONE_FAX_CED, -13);
            else
                farend_say_hello(fe);
            return 1;
        }
    }
    return 0;
}

/* ---- the public far-end API ---------------------------------------------*/

static farend *fe_of(device *d)
{
    if (!d)
        return NULL;
    if (d->kind == DEV_VOICE && d->voice && voice_has_line(d))
        d = voice_line_dev(d);
    if (d->kind == DEV_LINE)
        return line_farend(d->line);
    if (d->kind == DEV_TS)
        return tslot_farend(d->ts);
    if (d->kind == DEV_STATION)
        return station_farend(d->station);
    return NULL;
}

static farend *fe_get(int ep)
{
    farend *fe = g_sim ? fe_of(sim_dev_any(ep)) : NULL;
    if (!fe)
        sim_fail("%d is not a far-end endpoint (use simfar_endpoint)", ep);
    return fe;
}

int simfar_endpoint(const char *devname)
{
    int r;
    device *d;
    farend *fe;
    sim_lock();
    d = sim_find(devname);
    fe = fe_of(d);
    r = fe ? (int)sim_handle(fe->dev)
           : sim_fail("'%s' is not a line, a T1 timeslot or a station",
                      devname ? devname : "(null)");
    sim_unlock();
    return r;
}

#define FE_ENTRY(ep) \
    farend *fe; \
    int r = 0; \
    sim_lock(); \
    fe = fe_get(ep); \
    if (!fe) { sim_unlock(); return -1; }
#define FE_EXIT() sim_unlock(); return r

int simfar_endpoint_kind(int ep)
{
    FE_ENTRY(ep);
    r = fe->kind;
    FE_EXIT();
}

int simfar_endpoint_state(int ep)
{
    FE_ENTRY(ep);
    r = fe->state;
    FE_EXIT();
}

int simfar_call(int ep, const char *ani, const char *name, const char *dnis, int mf)
{
    FE_ENTRY(ep);
    if (fe->kind == SIMFAR_EP_LINE)
        r = line_fe_call(fe->dev->line, ani, name);
    else if (fe->kind == SIMFAR_EP_T1)
        r = tslot_fe_call(fe->dev->ts, ani, dnis, mf);
    else
        r = sim_fail("%s is a station: take it off-hook instead", fe->dev->name);
    FE_EXIT();
}

int simfar_abandon(int ep)
{
    FE_ENTRY(ep);
    if (fe->kind == SIMFAR_EP_LINE)
        r = line_fe_abandon(fe->dev->line);
    else if (fe->kind == SIMFAR_EP_T1)
        r = tslot_fe_abandon(fe->dev->ts);
    else
        r = station_fe_hook(fe->dev->station, 0);
    FE_EXIT();
}

int simfar_hangup(int ep, int method)
{
    FE_ENTRY(ep);
    if (fe->kind == SIMFAR_EP_LINE)
        r = line_fe_hangup(fe->dev->line, method);
    else if (fe->kind == SIMFAR_EP_T1)
        r = tslot_fe_hangup(fe->dev->ts, method);
    else
        r = station_fe_hook(fe->dev->station, 0);
    FE_EXIT();
}

int simfar_set_outbound(int ep, int behaviour, int answer_rings)
{
    FE_ENTRY(ep);
    if (behaviour < SIMFAR_OUT_ANSWER || behaviour > SIMFAR_OUT_SILENCE || answer_rings < 0)
        r = sim_fail("outbound behaviour %d / %d rings is not valid", behaviour, answer_rings);
    else if (fe->kind == SIMFAR_EP_STATION)
        r = sim_fail("%s is a station: it places no outbound calls", fe->dev->name);
    else {
        fe->outbound = behaviour;
        fe->answer_rings = answer_rings;
    }
    FE_EXIT();
}

int simfar_offhook(int ep)
{
    FE_ENTRY(ep);
    r = fe->kind == SIMFAR_EP_STATION ? station_fe_hook(fe->dev->station, 1)
                                      : sim_fail("%s is not a station", fe->dev->name);
    FE_EXIT();
}

int simfar_onhook(int ep)
{
    FE_ENTRY(ep);
    r = fe->kind == SIMFAR_EP_STATION ? station_fe_hook(fe->dev->station, 0)
                                      : sim_fail("%s is not a station", fe->dev->name);
    FE_EXIT();
}

int simfar_flash(int ep)
{
    FE_ENTRY(ep);
    r = fe->kind == SIMFAR_EP_STATION ? station_fe_flash(fe->dev->station)
                                      : sim_fail("%s is not a station", fe->dev->name);
    FE_EXIT();
}

/* Digits with a frequency offset or twist are made from a custom tone per
 * digit, so the receiver sweep can probe the Q.24 points. */
static const char dtmf_keys[] = "123A456B789C*0#D";
static const int dtmf_low[] = {697, 770, 852, 941};
static const int dtmf_high[] = {1209, 1336, 1477, 1633};

static void push_offset_digits(farend *fe, const char *digits, int on_ms, int off_ms,
                               float level, float twist, float offset)
{
    const char *p;
    for (p = digits; *p; p++) {
        const char *k = strchr(dtmf_keys, *p);
        int idx = (int)(k - dtmf_keys), i, non = on_ms * 8, noff = off_ms * 8;
        double fl = dtmf_low[idx / 4] * (1 + offset), fh = dtmf_high[idx % 4] * (1 + offset);
        double al = 32768.0 * pow(10, (level - 3.14) / 20.0);
        double ah = al * pow(10, twist / 20.0);
        double pl = 0, phh = 1.0;
        int16_t *buf = malloc((non + noff) * sizeof *buf);
        if (!buf)
            return;
        for (i = 0; i < non; i++) {
            double v = al * sin(pl) + ah * sin(phh);
            pl += 2 * M_PI * fl / 8000.0;
            phh += 2 * M_PI * fh / 8000.0;
            buf[i] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
        }
        memset(buf + non, 0, noff * sizeof *buf);
        fifo_push(&fe->audio, buf, non + noff);
        free(buf);
    }
}

int simfar_send_digits(int ep, const char *digits, int mf, int on_ms, int off_ms,
                       float level_dbm0, float twist_db, float freq_offset)
{
    FE_ENTRY(ep);
    if (!digits) {
        r = sim_fail("no digits given");
    } else if (!mf && (freq_offset != 0 || twist_db != 0)) {
        const char *p;
        for (p = digits; *p; p++)
            if (!strchr(dtmf_keys, *p))
                break;
        if (*p)
            r = sim_fail("'%c' is not a DTMF digit", *p);
        else
            push_offset_digits(fe, digits, on_ms ? on_ms : 100, off_ms ? off_ms : 100,
                               level_dbm0 ? level_dbm0 : -10, twist_db, freq_offset);
    } else if (farend_put_digits(fe, mf, digits, on_ms, off_ms, (int)level_dbm0) < 0) {
        r = sim_fail("'%s' holds characters that are not %s digits", digits,
                     mf ? "MF" : "DTMF");
    }
    FE_EXIT();
}

int simfar_send_tone(int ep, int tone_id)
{
    FE_ENTRY(ep);
    if (tone_id == 0)
        farend_tone_stop(fe);
    else if (farend_tone(fe, tone_id, 0) < 0)
        r = sim_fail("%d is not a tone id", tone_id);
    FE_EXIT();
}

int simfar_send_tone_custom(int ep, int f1, int f2, int level_dbm0, int on_ms, int off_ms)
{
    FE_ENTRY(ep);
    if (cti_tone_tx_start_custom(fe->tone, f1, f2, level_dbm0, on_ms, off_ms, 0, 0, 1) < 0)
        r = sim_fail("bad custom tone %d+%d Hz", f1, f2);
    else
        fe->tone_on = 1;
    FE_EXIT();
}

int simfar_send_audio(int ep, const int16_t *samples, int n)
{
    FE_ENTRY(ep);
    if (!samples || n < 0)
        r = sim_fail("no samples given");
    else
        fifo_push(&fe->audio, samples, n);
    FE_EXIT();
}

int simfar_send_stop(int ep)
{
    FE_ENTRY(ep);
    farend_stop_sending(fe);
    FE_EXIT();
}

int simfar_heard_digits(int ep, char *buf, int max)
{
    FE_ENTRY(ep);
    if (max < 1) {
        r = sim_fail("no room for digits");
    } else {
        int n = fe->nheard < max - 1 ? fe->nheard : max - 1;
        memcpy(buf, fe->heard, n);
        buf[n] = 0;
        memmove(fe->heard, fe->heard + n, fe->nheard - n + 1);
        fe->nheard -= n;
        r = n;
    }
    FE_EXIT();
}

int simfar_heard_tone(int ep)
{
    FE_ENTRY(ep);
    r = fe->heard_tone;
    FE_EXIT();
}

int simfar_capture(int ep, int on)
{
    FE_ENTRY(ep);
    fe->capturing = on;
    fifo_clear(&fe->capture);
    FE_EXIT();
}

int simfar_capture_read(int ep, int16_t *buf, int max)
{
    FE_ENTRY(ep);
    r = max < 0 ? sim_fail("negative size") : (int)fifo_pop(&fe->capture, buf, max);
    FE_EXIT();
}

int simfar_dialled(int ep, char *buf, int max)
{
    FE_ENTRY(ep);
    if (max < 1)
        r = sim_fail("no room");
    else {
        snprintf(buf, max, "%s", fe->dialled);
        r = (int)strlen(buf);
    }
    FE_EXIT();
}
