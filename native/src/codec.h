/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * codec.h - sample formats of the simulated boards.
 *
 * The CT-Bus carries 8-bit G.711 codes (mu-law by default); voice resources
 * play and record files in four formats (Dialogic naming in dxxxlib.h):
 *
 *   PCM16 little endian, mu-law, A-law - one sample per 2/1/1 bytes
 *   VOX   - Dialogic/OKI 4-bit ADPCM, 12-bit internal range, two samples per
 *           byte, HIGH nibble first; the decoder state starts at predicted 0,
 *           step index 0 and is NOT reset between bytes of one file.
 *
 * G.711 here is our own and bit-exact to ITU-T G.191 (the STL g711.c):
 * mu-law takes the 14 most significant bits of a 16-bit sample, A-law the
 * 13 most significant bits.  Every one of the 65536 inputs is tested.
 *
 * WAV: RIFF/WAVE with a "fmt " chunk (format 1 PCM 16-bit, 6 A-law, 7 mu-law,
 * 8 kHz mono); unknown chunks are skipped; the "data" chunk gives the
 * samples.  Other rates, channel counts or formats are rejected.
 */
#ifndef CTI_CODEC_H
#define CTI_CODEC_H

#include <stddef.h>
#include <stdint.h>

uint8_t cti_linear2ulaw(int16_t sample);
int16_t cti_ulaw2linear(uint8_t code);
uint8_t cti_linear2alaw(int16_t sample);
int16_t cti_alaw2linear(uint8_t code);
/* n samples at once, either way (alaw 0: mu-law), for drivers that keep
 * files in G.711 and work in 16-bit linear (the DAHDI driver's prompts and
 * recordings), so no sample goes through Python. */
void cti_g711_decode(const uint8_t *in, int16_t *out, size_t n, int alaw);
void cti_g711_encode(const int16_t *in, uint8_t *out, size_t n, int alaw);

/* Dialogic VOX (OKI) ADPCM codec state. */
typedef struct {
    int predicted;      /* last decoded sample, 12-bit range -2048..2047 */
    int step_index;     /* 0..48 */
} cti_vox_state;

void cti_vox_init(cti_vox_state *s);
/* Decode one 4-bit code to a 16-bit linear sample (12-bit value << 4). */
int16_t cti_vox_decode(cti_vox_state *s, uint8_t nibble);
/* Encode one 16-bit linear sample to a 4-bit code (uses sample >> 4). */
uint8_t cti_vox_encode(cti_vox_state *s, int16_t sample);

typedef enum {
    CTI_FMT_PCM16 = 1,
    CTI_FMT_ULAW = 2,
    CTI_FMT_ALAW = 3,
    CTI_FMT_VOX = 4
} cti_format;

/*
 * A streaming decoder/encoder for one of the formats above.  Bytes in,
 * samples out (and the reverse); partial input (half a PCM16 sample, a VOX
 * byte split across calls is never the case: one byte = two samples) is
 * kept inside the converter so callers may feed any number of bytes.
 */
typedef struct {
    cti_format format;
    cti_vox_state vox;
    uint8_t carry;      /* PCM16: low byte waiting for its high byte */
    int has_carry;
} cti_converter;

void cti_converter_init(cti_converter *c, cti_format format);
/* Decode len bytes; writes at most max samples; returns samples written.
 * *used receives the number of bytes consumed (all of them unless out
 * filled up). */
size_t cti_decode(cti_converter *c, const uint8_t *in, size_t len,
                  int16_t *out, size_t max, size_t *used);
/* Encode n samples; writes bytes to out (room for 2*n bytes is enough for
 * every format; VOX writes one byte per two samples and keeps an odd
 * sample's nibble until the next call or cti_encode_flush). Returns bytes. */
size_t cti_encode(cti_converter *c, const int16_t *in, size_t n, uint8_t *out);
size_t cti_encode_flush(cti_converter *c, uint8_t *out);

/* Bytes per second of a format at 8 kHz (PCM16 16000, G.711 8000, VOX 4000). */
size_t cti_format_bytes_per_second(cti_format format);

/* WAV header parsing.  buf holds the start of the file (at least the first
 * 4096 bytes or the whole file if shorter).  Returns 0 and fills info, or a
 * negative CTI_WAV_E* code. */
typedef struct {
    cti_format format;
    uint32_t data_offset;   /* byte offset of the first sample */
    uint32_t data_length;   /* bytes of samples (clipped to what buf says) */
} cti_wav_info;

#define CTI_WAV_ENOTRIFF   -1   /* not a RIFF/WAVE file */
#define CTI_WAV_EFORMAT    -2   /* not 8 kHz mono PCM16 / A-law / mu-law */
#define CTI_WAV_ENODATA    -3   /* no data chunk within buf */
#define CTI_WAV_ETRUNC     -4   /* header chunks run past buf */

int cti_wav_parse(const uint8_t *buf, size_t len, cti_wav_info *info);
/* Write a 44-byte canonical WAV header (PCM16/A-law/mu-law; 46+fact not
 * needed) for data_length bytes; returns 44, or -1 for VOX (no WAV VOX). */
int cti_wav_header(uint8_t out[44], cti_format format, uint32_t data_length);

#endif
