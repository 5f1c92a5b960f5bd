# SPDX-License-Identifier: GPL-2.0-or-later
"""simfar.h: the simulator's far end (only in a simulator build)."""

INCLUDES = "#include <simfar.h>"

_CONSTANTS = """
SIMFAR_SLOTS SIMFAR_TICK_MS SIMFAR_TICK_SAMPLES SIMFAR_SIG_LOOPSTART
SIMFAR_SIG_EM_WINK SIMFAR_SIG_PRI SIMFAR_SIG_CAS SIMFAR_SIG_CCS
SIMFAR_AL_OOF SIMFAR_AL_LOS SIMFAR_AL_RED SIMFAR_AL_YELLOW SIMFAR_AL_BLUE
SIMFAR_AL_RCL SIMFAR_AL_RLOS SIMFAR_AL_LMFA SIMFAR_AL_TS16_YELLOW
SIMFAR_FAR_BITS SIMFAR_FAR_MF
SIMFAR_TONES_NA SIMFAR_TONES_CN SIMFAR_DISC_LCDROP
SIMFAR_DISC_POLARITY SIMFAR_DISC_BUSYTONE SIMFAR_DISC_SILENCE SIMFAR_OUT_ANSWER
SIMFAR_OUT_BUSY SIMFAR_OUT_NOANSWER SIMFAR_OUT_SIT SIMFAR_OUT_FAX
SIMFAR_OUT_NODIALTONE SIMFAR_OUT_SILENCE SIMFAR_EP_LINE SIMFAR_EP_T1
SIMFAR_EP_STATION SIMFAR_ST_IDLE SIMFAR_ST_RINGING SIMFAR_ST_SEIZED
SIMFAR_ST_CONNECTED SIMFAR_ST_CLEARING
"""

TYPES = "".join(f"#define {name} ...\n" for name in _CONSTANTS.split())

FUNCTIONS = """
int simfar_reset(int virtual_time, unsigned int seed);
const char *simfar_error(void);
int simfar_add_voice_board(int channels);
int simfar_add_analog_board(int lines, int tones);
int simfar_add_t1_span(int signalling, int tones);
int simfar_add_e1_span(int signalling, int tones);
int simfar_add_station_board(int stations);
int simfar_add_dcb_board(int dsps);
int simfar_dtmf_abcd(const char *voice, int on);
int simfar_advance(long ms);
long long simfar_now_ms(void);
int simfar_run_clock(int on);
long long simfar_ticks(void);
int simfar_endpoint(const char *devname);
int simfar_endpoint_kind(int ep);
int simfar_endpoint_state(int ep);
int simfar_call(int ep, const char *ani, const char *name, const char *dnis, int mf);
int simfar_abandon(int ep);
int simfar_hangup(int ep, int method);
int simfar_set_outbound(int ep, int behaviour, int answer_rings);
int simfar_trunk_register(int ep, int mf);
int simfar_offhook(int ep);
int simfar_onhook(int ep);
int simfar_flash(int ep);
int simfar_send_digits(int ep, const char *digits, int mf, int on_ms, int off_ms,
                       float level_dbm0, float twist_db, float freq_offset);
int simfar_send_tone(int ep, int tone_id);
int simfar_send_tone_custom(int ep, int f1, int f2, int level_dbm0, int on_ms, int off_ms);
int simfar_send_audio(int ep, const int16_t *samples, int n);
int simfar_send_stop(int ep);
int simfar_heard_digits(int ep, char *buf, int max);
int simfar_heard_tone(int ep);
int simfar_capture(int ep, int on);
int simfar_capture_read(int ep, int16_t *buf, int max);
int simfar_dialled(int ep, char *buf, int max);
int simfar_far_bits(int ep, int abcd);
int simfar_far_heard_bits(int ep);
int simfar_far_r2mf(int ep, int mode);
int simfar_far_r2mf_send(int ep, int signal);
int simfar_far_watch(int ep, int on);
int simfar_far_events(int *out, int max);
int simfar_span_alarm(const char *span, int alarm, int on);
int simfar_hang_next(const char *devname);
int simfar_hang_always(const char *devname, int on);
int simfar_span_line(const char *span, int framing, int coding, int clock);
int simfar_far_span_line(const char *span, int framing, int coding, int clock);
int simfar_far_span_ts16(const char *span, int signalling);
int simfar_far_span_ppm(const char *span, double ppm);
int simfar_span_errors(const char *span, int bpv, int crc, int fas, int oof, int slips,
                       int ais, int ebit);
int simfar_span_ber(const char *span, double ber);
int simfar_far_loopback(const char *span);
int simfar_dchannel_send(const char *span, const void *frame, int len);
int simfar_dchannel_receive(const char *span, void *frame, int max);
int simfar_slot_capture(int slot, int on);
int simfar_slot_capture_read(int slot, int16_t *buf, int max);
int simfar_slot_driver(int slot, char *name, int max);
int simfar_slot_listeners(int slot, char *buf, int max);
int simfar_misuse(char *buf, int max);
int simfar_device_count(void);
int simfar_device_name(int i, char *name, int max);
int simfar_device_status(const char *devname, char *buf, int max);
uint8_t simfar_linear2ulaw(int16_t sample);
int16_t simfar_ulaw2linear(uint8_t code);
uint8_t simfar_linear2alaw(int16_t sample);
int16_t simfar_alaw2linear(uint8_t code);
"""

CUSTOMIZATIONS = ""
