/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * codec.c - sample formats of the simulated boards (contract in codec.h).
 *
 * G.711.  Both laws compress a sign and a magnitude into a 3-bit segment
 * (exponent) and a 4-bit mantissa.  We follow ITU-T G.191 (STL g711.c):
 *
 *   mu-law  magnitude = 14 most significant bits, plus a bias of 33; a
 *           negative sample x uses the one's complement -x-1, so -1 maps
 *           like 0.  The 7 code bits are stored inverted, sign bit set
 *           for positive samples.
 *   A-law   magnitude = 12 bits after the sign (the 13-bit sample); the
 *           negative side again uses -x-1.  Even bits are toggled (^ 0x55).
 *
 * Decoders return the middle of the quantisation interval on the 16-bit
 * scale (mu-law: 14-bit value * 4, A-law: 13-bit value * 8).
 *
 * VOX.  Dialogic/OKI ADPCM: each 4-bit code is a sign bit and three bits
 * that scale the current step (step/8 + step/4 + step/2 + step); the step
 * then moves through a 49-entry table.  The encoder quantises by successive
 * subtraction and runs the decoder itself, so both sides stay in step.
 *
 * Converters turn a byte stream into samples and back, carrying half a
 * PCM16 sample or half a VOX byte between calls.  One converter serves one
 * direction (decode or encode) between two cti_converter_init calls.
 *
 * WAV.  A RIFF/WAVE walker that finds "fmt " and "data", and a writer of
 * the canonical 44-byte header.
 *
 * Right shifts are applied to non-negative values only, and negative values
 * are never left shifted, so the file does not lean on implementation-
 * defined or undefined behaviour of signed shifts.
 */
#include <string.h>

#include "codec.h"

/* ---- G.711 ------------------------------------------------------------- */

/* Magnitude of x on the "one's complement" side: x for x >= 0, -x-1 else. */
static int ones_magnitude(int x)
{
    return x < 0 ? -x - 1 : x;
}

/* Number of significant bits of a non-negative v (0 for 0). */
static int bit_length(int v)
{
    int n = 0;
    while (v > 0) {
        v >>= 1;
        n++;
    }
    return n;
}

uint8_t cti_linear2ulaw(int16_t sample)
{
    int mag = (ones_magnitude(sample) >> 2) + 33;   /* 14-bit + bias */
    int exponent, mantissa;

    if (mag > 0x1FFF)
        mag = 0x1FFF;
    exponent = bit_length(mag >> 6);                /* 0..7 */
    mantissa = (mag >> (exponent + 1)) & 0x0F;
    return (uint8_t)((sample >= 0 ? 0xFF : 0x7F) ^ ((exponent << 4) | mantissa));
}

int16_t cti_ulaw2linear(uint8_t code)
{
    int bits = ~code & 0xFF;
    int exponent = (bits >> 4) & 0x07;
    int mantissa = bits & 0x0F;
    int mag = (((mantissa << 3) + 132) << exponent) - 132;   /* 16-bit scale */

    return (int16_t)((code & 0x80) ? mag : -mag);
}

uint8_t cti_linear2alaw(int16_t sample)
{
    int mag = ones_magnitude(sample) >> 4;          /* 0..2047 */
    int code = mag;                                 /* segment 0: as is */

    if (mag > 15) {
        int exponent = bit_length(mag) - 4;         /* 1..7 */
        code = (exponent << 4) | ((mag >> (exponent - 1)) & 0x0F);
    }
    if (sample >= 0)
        code |= 0x80;
    return (uint8_t)(code ^ 0x55);
}

void cti_g711_decode(const uint8_t *in, int16_t *out, size_t n, int alaw)
{
    size_t i;
    for (i = 0; i < n; i++)
        out[i] = alaw ? cti_alaw2linear(in[i]) : cti_ulaw2linear(in[i]);
}

void cti_g711_encode(const int16_t *in, uint8_t *out, size_t n, int alaw)
{
    size_t i;
    for (i = 0; i < n; i++)
        out[i] = alaw ? cti_linear2alaw(in[i]) : cti_linear2ulaw(in[i]);
}

int16_t cti_alaw2linear(uint8_t code)
{
    int bits = (code ^ 0x55) & 0x7F;
    int exponent = bits >> 4;
    int mantissa = bits & 0x0F;
    int mag;

    if (exponent > 0)
        mantissa += 16;                             /* the leading one */
    mag = (mantissa << 4) + 8;                      /* + half a step */
    if (exponent > 1)
        mag <<= exponent - 1;
    return (int16_t)((code & 0x80) ? mag : -mag);
}

/* ---- VOX (Dialogic/OKI ADPCM) ------------------------------------------- */

static const int16_t vox_steps[49] = {
    16, 17, 19, 21, 23, 25, 28, 31, 34, 37, 41, 45, 50, 55, 60, 66,
    73, 80, 88, 97, 107, 118, 130, 143, 157, 173, 190, 209, 230, 253,
    279, 307, 337, 371, 408, 449, 494, 544, 598, 658, 724, 796, 876,
    963, 1060, 1166, 1282, 1411, 1552
};

static const int8_t vox_index_adjust[8] = { -1, -1, -1, -1, 2, 4, 6, 8 };

static int clamp(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* floor(x / 16) without right-shifting a negative value. */
static int floor_div16(int x)
{
    return x >= 0 ? x / 16 : -((-x + 15) / 16);
}

void cti_vox_init(cti_vox_state *s)
{
    s->predicted = 0;
    s->step_index = 0;
}

/* Apply one code to the state; returns the new 12-bit prediction. */
static int vox_step(cti_vox_state *s, unsigned code)
{
    int step = vox_steps[s->step_index];
    int diff = step >> 3;

    if (code & 1)
        diff += step >> 2;
    if (code & 2)
        diff += step >> 1;
    if (code & 4)
        diff += step;
    if (code & 8)
        diff = -diff;
    s->predicted = clamp(s->predicted + diff, -2048, 2047);
    s->step_index = clamp(s->step_index + vox_index_adjust[code & 7], 0, 48);
    return s->predicted;
}

int16_t cti_vox_decode(cti_vox_state *s, uint8_t nibble)
{
    return (int16_t)(vox_step(s, nibble & 0x0Fu) * 16);
}

uint8_t cti_vox_encode(cti_vox_state *s, int16_t sample)
{
    int step = vox_steps[s->step_index];
    int diff = floor_div16(sample) - s->predicted;
    unsigned code = 0;

    if (diff < 0) {
        code = 8;
        diff = -diff;
    }
    if (diff >= step) {
        code |= 4;
        diff -= step;
    }
    if (diff >= step >> 1) {
        code |= 2;
        diff -= step >> 1;
    }
    if (diff >= step >> 2)
        code |= 1;
    vox_step(s, code);
    return (uint8_t)code;
}

/* ---- streaming converters ---------------------------------------------- */

void cti_converter_init(cti_converter *c, cti_format format)
{
    memset(c, 0, sizeof *c);
    c->format = format;
    cti_vox_init(&c->vox);
}

static int16_t pcm16_from_bytes(unsigned lo, unsigned hi)
{
    long v = (long)(lo | (hi << 8));
    return (int16_t)(v >= 32768 ? v - 65536 : v);
}

/* PCM16 little endian; a lone low byte waits in c->carry. */
static size_t decode_pcm16(cti_converter *c, const uint8_t *in, size_t len,
                           int16_t *out, size_t max, size_t *used)
{
    size_t i = 0, n = 0;

    while (i < len && n < max) {
        if (c->has_carry) {
            out[n++] = pcm16_from_bytes(c->carry, in[i++]);
            c->has_carry = 0;
        } else if (i + 1 < len) {
            out[n++] = pcm16_from_bytes(in[i], in[i + 1]);
            i += 2;
        } else {
            c->carry = in[i++];
            c->has_carry = 1;
        }
    }
    *used = i;
    return n;
}

static size_t decode_g711(const uint8_t *in, size_t len, int16_t *out,
                          size_t max, size_t *used, int alaw)
{
    size_t n = len < max ? len : max, i;

    for (i = 0; i < n; i++)
        out[i] = alaw ? cti_alaw2linear(in[i]) : cti_ulaw2linear(in[i]);
    *used = n;
    return n;
}

/* VOX: high nibble first.  When out has room for only the high nibble's
 * sample, the byte is consumed and its low nibble waits in c->carry. */
static size_t decode_vox(cti_converter *c, const uint8_t *in, size_t len,
                         int16_t *out, size_t max, size_t *used)
{
    size_t i = 0, n = 0;

    if (c->has_carry && n < max) {
        out[n++] = cti_vox_decode(&c->vox, c->carry);
        c->has_carry = 0;
    }
    while (i < len && n < max) {
        uint8_t byte = in[i++];
        out[n++] = cti_vox_decode(&c->vox, (uint8_t)(byte >> 4));
        if (n < max) {
            out[n++] = cti_vox_decode(&c->vox, (uint8_t)(byte & 0x0F));
        } else {
            c->carry = byte & 0x0F;
            c->has_carry = 1;
        }
    }
    *used = i;
    return n;
}

size_t cti_decode(cti_converter *c, const uint8_t *in, size_t len,
                  int16_t *out, size_t max, size_t *used)
{
    size_t dummy;

    if (!used)
        used = &dummy;
    *used = 0;
    switch (c->format) {
    case CTI_FMT_PCM16:
        return decode_pcm16(c, in, len, out, max, used);
    case CTI_FMT_ULAW:
        return decode_g711(in, len, out, max, used, 0);
    case CTI_FMT_ALAW:
        return decode_g711(in, len, out, max, used, 1);
    case CTI_FMT_VOX:
        return decode_vox(c, in, len, out, max, used);
    }
    return 0;
}

/* VOX: two codes per byte, high nibble first; an odd code waits in carry. */
static size_t encode_vox(cti_converter *c, const int16_t *in, size_t n,
                         uint8_t *out)
{
    size_t i, bytes = 0;

    for (i = 0; i < n; i++) {
        uint8_t code = cti_vox_encode(&c->vox, in[i]);
        if (c->has_carry) {
            out[bytes++] = (uint8_t)((c->carry << 4) | code);
            c->has_carry = 0;
        } else {
            c->carry = code;
            c->has_carry = 1;
        }
    }
    return bytes;
}

size_t cti_encode(cti_converter *c, const int16_t *in, size_t n, uint8_t *out)
{
    size_t i;

    switch (c->format) {
    case CTI_FMT_PCM16:
        for (i = 0; i < n; i++) {
            uint16_t u = (uint16_t)in[i];
            out[2 * i] = (uint8_t)(u & 0xFF);
            out[2 * i + 1] = (uint8_t)(u >> 8);
        }
        return 2 * n;
    case CTI_FMT_ULAW:
        for (i = 0; i < n; i++)
            out[i] = cti_linear2ulaw(in[i]);
        return n;
    case CTI_FMT_ALAW:
        for (i = 0; i < n; i++)
            out[i] = cti_linear2alaw(in[i]);
        return n;
    case CTI_FMT_VOX:
        return encode_vox(c, in, n, out);
    }
    return 0;
}

/* Writes a pending VOX code as a last byte with a zero low nibble. */
size_t cti_encode_flush(cti_converter *c, uint8_t *out)
{
    if (c->format != CTI_FMT_VOX || !c->has_carry)
        return 0;
    out[0] = (uint8_t)(c->carry << 4);
    c->has_carry = 0;
    return 1;
}

size_t cti_format_bytes_per_second(cti_format format)
{
    switch (format) {
    case CTI_FMT_PCM16:
        return 16000;
    case CTI_FMT_ULAW:
    case CTI_FMT_ALAW:
        return 8000;
    case CTI_FMT_VOX:
        return 4000;
    }
    return 0;
}

/* ---- WAV ----------------------------------------------------------------- */

#define WAV_TAG_PCM   1
#define WAV_TAG_ALAW  6
#define WAV_TAG_MULAW 7

static uint32_t get_le16(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

static uint32_t get_le32(const uint8_t *p)
{
    return get_le16(p) | (get_le16(p + 2) << 16);
}

static void put_le16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v & 0xFF);
    p[1] = (uint8_t)((v >> 8) & 0xFF);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    put_le16(p, v & 0xFFFF);
    put_le16(p + 2, v >> 16);
}

/* Reads a "fmt " chunk body of size bytes; returns 0 or CTI_WAV_EFORMAT. */
static int wav_parse_fmt(const uint8_t *body, uint32_t size, cti_format *fmt)
{
    uint32_t tag, channels, rate, bits;

    if (size < 16)
        return CTI_WAV_EFORMAT;
    tag = get_le16(body);
    channels = get_le16(body + 2);
    rate = get_le32(body + 4);
    bits = get_le16(body + 14);
    if (channels != 1 || rate != 8000)
        return CTI_WAV_EFORMAT;
    if (tag == WAV_TAG_PCM && bits == 16)
        *fmt = CTI_FMT_PCM16;
    else if (tag == WAV_TAG_ALAW && bits == 8)
        *fmt = CTI_FMT_ALAW;
    else if (tag == WAV_TAG_MULAW && bits == 8)
        *fmt = CTI_FMT_ULAW;
    else
        return CTI_WAV_EFORMAT;
    return 0;
}

/*
 * Walks the chunks after "RIFF....WAVE".  A "fmt " chunk must come before
 * "data" (as RIFF requires).  data_length is the data chunk's size; when
 * buf is shorter than 4096 bytes it is the whole file (codec.h) and the
 * length is clipped to the bytes that are really there.
 */
int cti_wav_parse(const uint8_t *buf, size_t len, cti_wav_info *info)
{
    size_t off = 12;
    int have_fmt = 0;
    cti_format fmt = CTI_FMT_PCM16;

    if (len < 12 || memcmp(buf, "RIFF", 4) != 0 || memcmp(buf + 8, "WAVE", 4) != 0)
        return CTI_WAV_ENOTRIFF;
    while (off < len) {
        const uint8_t *id;
        uint32_t size;
        size_t body;

        if (len - off < 8)
            return CTI_WAV_ETRUNC;
        id = buf + off;
        size = get_le32(buf + off + 4);
        body = off + 8;
        if (memcmp(id, "data", 4) == 0) {
            uint32_t length = size;
            if (!have_fmt)
                return CTI_WAV_EFORMAT;
            if (len < 4096 && length > len - body)
                length = (uint32_t)(len - body);
            if (length > UINT32_MAX - body)
                length = (uint32_t)(UINT32_MAX - body);
            info->format = fmt;
            info->data_offset = (uint32_t)body;
            info->data_length = length;
            return 0;
        }
        if (size > len - body)
            return CTI_WAV_ETRUNC;
        if (memcmp(id, "fmt ", 4) == 0) {
            int rc = wav_parse_fmt(buf + body, size, &fmt);
            if (rc < 0)
                return rc;
            have_fmt = 1;
        }
        off = body + size + (size & 1);     /* chunks are padded to even */
    }
    return CTI_WAV_ENODATA;
}

int cti_wav_header(uint8_t out[44], cti_format format, uint32_t data_length)
{
    uint32_t tag, bits;

    switch (format) {
    case CTI_FMT_PCM16:
        tag = WAV_TAG_PCM;
        bits = 16;
        break;
    case CTI_FMT_ALAW:
        tag = WAV_TAG_ALAW;
        bits = 8;
        break;
    case CTI_FMT_ULAW:
        tag = WAV_TAG_MULAW;
        bits = 8;
        break;
    default:
        return -1;
    }
    if (data_length > UINT32_MAX - 36)
        data_length = UINT32_MAX - 36;
    memcpy(out, "RIFF", 4);
    put_le32(out + 4, 36 + data_length);
    memcpy(out + 8, "WAVEfmt ", 8);
    put_le32(out + 16, 16);
    put_le16(out + 20, tag);
    put_le16(out + 22, 1);                      /* mono */
    put_le32(out + 24, 8000);
    put_le32(out + 28, 8000 * (bits / 8));      /* byte rate */
    put_le16(out + 32, bits / 8);               /* block align */
    put_le16(out + 34, bits);
    memcpy(out + 36, "data", 4);
    put_le32(out + 40, data_length);
    return 44;
}
