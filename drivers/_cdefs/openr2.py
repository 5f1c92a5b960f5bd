# SPDX-License-Identifier: GPL-2.0-or-later
"""openr2.h (Debian libopenr2-dev 1.3.3): MFC/R2 call control, for
drivers.r2.  Not a vendor header: its own binding, drivers._r2
(drivers/build_r2.py), built whatever the boards are.

OpenR2 1.3.3 has no custom I/O interface (its 2.x has one): it drives a
DAHDI channel descriptor itself, with ioctl() for the CAS bits, its events
and its settings, and read()/write() for the audio where its MF runs
(lines-real.md 3.1).  The binding links OpenR2's static library with
those calls wrapped (ld --wrap) by the "port" shim below: a port is a
descriptor number of ours (PORT_FD_BASE and up, never a real one) that
answers the DAHDI calls OpenR2 makes on it (lines-real.md 1.2, 1.4: the
ioctl numbers are DAHDI's ABI, checked against the ones libopenr2.a
passes):

  SETTXBITS / GETRXBITS   the ABCD bits each way (DAHDI's order: A = 8 ...
                          D = 1), moved to and from the board by drivers.r2
  GETEVENT, IOMUX         BITSCHANGED when the far end's bits changed;
                          readable when the board's R2 MF receiver heard a
                          new signal
  read()                  one byte that stands for that signal: OpenR2
                          hands it to our MF interface below
  write(), the settings   taken and dropped (speech goes over the bus)

OpenR2's MF interface (openr2_mflib_interface_t) is ours too: OpenR2
selects the signal to send (mf_select_tone) and asks what was heard
(mf_detect_tone); the tones are made and heard by the board's R2 MF
transceiver in C (native/src/r2mf.c), never by OpenR2 and never in
Python.  So OpenR2 keeps the whole protocol (line and register
signalling, its timers, the variants) and the samples stay on the board.

Time is ours as in drivers._pri: gettimeofday() and time() answer the time
`cti_r2_set_time` last set, which drivers.r2 sets from its injected clock
before every call into OpenR2.
"""

INCLUDES = """
#include <openr2.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
"""

_CONSTANTS = """
OR2_VAR_ARGENTINA OR2_VAR_BRAZIL OR2_VAR_CHINA OR2_VAR_ITU OR2_VAR_MEXICO
OR2_CALL_WITH_CHARGE OR2_CALL_NO_CHARGE OR2_CALL_SPECIAL
OR2_CAUSE_BUSY_NUMBER OR2_CAUSE_NETWORK_CONGESTION OR2_CAUSE_UNALLOCATED_NUMBER
OR2_CAUSE_OUT_OF_ORDER OR2_CAUSE_UNSPECIFIED OR2_CAUSE_NO_ANSWER OR2_CAUSE_NORMAL_CLEARING
OR2_CAUSE_COLLECT_CALL_REJECTED OR2_CAUSE_FORCED_RELEASE OR2_CAUSE_NUMBER_CHANGED
OR2_INVALID_CAS_BITS OR2_INVALID_MF_TONE OR2_BACK_MF_TIMEOUT OR2_SEIZE_TIMEOUT
OR2_FWD_SAFETY_TIMEOUT OR2_BROKEN_MF_SEQUENCE OR2_ANSWER_TIMEOUT OR2_INVALID_R2_STATE
OR2_INVALID_MF_STATE OR2_INVALID_MF_GROUP OR2_LIBRARY_BUG OR2_INTERNAL_ERROR
OR2_CALLING_PARTY_CATEGORY_NATIONAL_SUBSCRIBER
OR2_CALLING_PARTY_CATEGORY_NATIONAL_PRIORITY_SUBSCRIBER
OR2_CALLING_PARTY_CATEGORY_INTERNATIONAL_SUBSCRIBER
OR2_CALLING_PARTY_CATEGORY_INTERNATIONAL_PRIORITY_SUBSCRIBER
OR2_CALLING_PARTY_CATEGORY_COLLECT_CALL OR2_CALLING_PARTY_CATEGORY_UNKNOWN
OR2_CALLING_PARTY_CATEGORY_TEST_EQUIPMENT
OR2_LOG_ERROR OR2_LOG_WARNING OR2_LOG_NOTICE
CTI_R2_MF_OFF CTI_R2_MF_FORWARD CTI_R2_MF_BACKWARD
"""

TYPES = "".join(f"#define {name} ...\n" for name in _CONSTANTS.split()) + """
typedef void *openr2_chan_t;
typedef void *openr2_context_t;
"""

FUNCTIONS = """
void cti_r2_set_time(long long ms);
openr2_context_t *cti_r2_context_new(int variant, int max_ani, int max_dnis);
int cti_r2_port_new(int channo);
void cti_r2_port_free(int fd);
void cti_r2_port_rx_bits(int fd, int bits);
void cti_r2_port_rx_mf(int fd, int signal);
int cti_r2_port_tx_bits(int fd);
int cti_r2_port_mf_mode(int fd);
int cti_r2_port_mf_send(int fd);
void cti_r2_port_mf_off(int fd);
openr2_chan_t *cti_r2_chan_new(openr2_context_t *ctx, int fd);

void openr2_context_delete(openr2_context_t *r2context);
void openr2_context_set_mf_back_timeout(openr2_context_t *r2context, int ms);
void openr2_context_set_log_level(openr2_context_t *r2context, int level);
int openr2_chan_process_event(openr2_chan_t *r2chan);
int openr2_chan_get_time_to_next_event(openr2_chan_t *r2chan);
int openr2_chan_get_fd(openr2_chan_t *r2chan);
int openr2_chan_set_idle(openr2_chan_t *r2chan);
int openr2_chan_set_blocked(openr2_chan_t *r2chan);
int openr2_chan_make_call(openr2_chan_t *r2chan, const char *ani, const char *dnis, int category);
int openr2_chan_accept_call(openr2_chan_t *r2chan, int mode);
int openr2_chan_answer_call(openr2_chan_t *r2chan);
int openr2_chan_disconnect_call(openr2_chan_t *r2chan, int cause);
void openr2_chan_delete(openr2_chan_t *r2chan);
void openr2_context_remove_channel(openr2_context_t *r2context, openr2_chan_t *r2chan);

extern "Python" void cti_r2_on_call_init(openr2_chan_t *chan);
extern "Python" void cti_r2_on_call_offered(openr2_chan_t *chan, const char *ani,
                                             const char *dnis, int category);
extern "Python" void cti_r2_on_call_accepted(openr2_chan_t *chan, int mode);
extern "Python" void cti_r2_on_call_answered(openr2_chan_t *chan);
extern "Python" void cti_r2_on_call_disconnect(openr2_chan_t *chan, int cause);
extern "Python" void cti_r2_on_call_end(openr2_chan_t *chan);
extern "Python" void cti_r2_on_protocol_error(openr2_chan_t *chan, int reason);
extern "Python" void cti_r2_on_line_blocked(openr2_chan_t *chan);
extern "Python" void cti_r2_on_line_idle(openr2_chan_t *chan);
extern "Python" void cti_r2_on_os_error(openr2_chan_t *chan, int code);
extern "Python" void cti_r2_on_billing_pulse(openr2_chan_t *chan);
extern "Python" void cti_r2_logged(openr2_chan_t *chan, int level, const char *text);
"""

CUSTOMIZATIONS = r"""
/* In the library, not in its headers: a channel deleted on its own must
 * leave its context's list first (openr2_context_delete deletes those on
 * it). */
void openr2_context_remove_channel(openr2_context_t *r2context, openr2_chan_t *r2chan);

/* ---- libc's streams, for the archive's log module (drivers/build_r2.py) -- */
__attribute__((visibility("hidden"))) FILE *cti_r2_stdout;
__attribute__((visibility("hidden"))) FILE *cti_r2_stderr;

/* ---- time ------------------------------------------------------------- */
static long long cti_r2_now_ms;

static void cti_r2_set_time(long long ms) { cti_r2_now_ms = ms; }

int __wrap_gettimeofday(struct timeval *tv, void *tz)
{
    (void)tz;
    tv->tv_sec = (time_t)(cti_r2_now_ms / 1000);
    tv->tv_usec = (suseconds_t)(cti_r2_now_ms % 1000 * 1000);
    return 0;
}

time_t __wrap_time(time_t *t)
{
    time_t now = (time_t)(cti_r2_now_ms / 1000);
    if (t)
        *t = now;
    return now;
}

/* ---- ports: the DAHDI channel OpenR2 thinks it drives ------------------ */
#define CTI_R2_PORTS 4096
#define PORT_FD_BASE (1 << 24)
#define PORT_EVENTS 64
#define CTI_R2_MF_OFF 0
#define CTI_R2_MF_FORWARD 1
#define CTI_R2_MF_BACKWARD 2

/* DAHDI's ABI (lines-real.md 1.2, 1.4), as libopenr2.a passes it. */
#define DAHDI_GET_PARAMS   0xc088da05UL
#define DAHDI_GETEVENT     0x8004da08UL
#define DAHDI_IOMUX        0xc004da09UL
#define DAHDI_GET_BUFINFO  0x8018da1bUL
#define DAHDI_SET_BUFINFO  0x4018da1bUL
#define DAHDI_CHANNO       0x8004da22UL
#define DAHDI_GETRXBITS    0x8004da2bUL
#define DAHDI_SETTXBITS    0x4004da2bUL
#define DAHDI_FLUSH        0x4004da03UL
#define DAHDI_SETGAINS     0x4204da10UL
#define DAHDI_ECHOCANCEL   0x4004da21UL
#define DAHDI_SPECIFY      0x4004da26UL
#define DAHDI_SETLAW       0x4004da27UL
#define DAHDI_SETLINEAR    0x4004da28UL
#define DAHDI_IOMUX_READ     1
#define DAHDI_IOMUX_SIGEVENT 8
#define DAHDI_EVENT_BITSCHANGED 13
#define DAHDI_SIG_CAS (1 << 15)
#define DAHDI_PARAMS_SIGTYPE 3          /* the fourth int of struct dahdi_params */
#define DAHDI_BUFINFO_BUFSIZE 3         /* the fourth int of struct dahdi_bufferinfo */
#define PORT_BUFSIZE 160

typedef struct {
    int used, channo;
    int txbits, rxbits;                 /* DAHDI's order: A = 8 ... D = 1 */
    int events[PORT_EVENTS], nevents;
    int mf_heard;                       /* the signal's character, 0: none */
    int mf_fresh;                       /* heard, not yet read by OpenR2 */
    int mf_read;                        /* read, for mf_detect_tone */
    int mf_have_read;
    int mf_send;                        /* the character OpenR2 selected, 0: none */
    int mf_mode;                        /* CTI_R2_MF_x: the set OpenR2 sends */
} cti_r2_port;

static cti_r2_port cti_r2_ports[CTI_R2_PORTS];
static const char CTI_R2_SIGNALS[] = "1234567890BCDEF";

static cti_r2_port *port_of(int fd)
{
    int k = fd - PORT_FD_BASE;
    return k >= 0 && k < CTI_R2_PORTS && cti_r2_ports[k].used ? &cti_r2_ports[k] : NULL;
}

static int cti_r2_port_new(int channo)
{
    int k;
    for (k = 0; k < CTI_R2_PORTS; k++) {
        if (!cti_r2_ports[k].used) {
            memset(&cti_r2_ports[k], 0, sizeof cti_r2_ports[k]);
            cti_r2_ports[k].used = 1;
            cti_r2_ports[k].channo = channo;
            cti_r2_ports[k].txbits = 0x9;       /* 1001, until OpenR2 sets its idle */
            cti_r2_ports[k].rxbits = 0;         /* unknown: the first bits are a change */
            return PORT_FD_BASE + k;
        }
    }
    return -1;
}

static void cti_r2_port_free(int fd)
{
    cti_r2_port *p = port_of(fd);
    if (p)
        p->used = 0;
}

static void cti_r2_port_rx_bits(int fd, int bits)
{
    cti_r2_port *p = port_of(fd);
    if (!p || p->rxbits == bits)
        return;
    p->rxbits = bits;
    if (p->nevents < PORT_EVENTS)
        p->events[p->nevents++] = DAHDI_EVENT_BITSCHANGED;
}

static void cti_r2_port_rx_mf(int fd, int signal)
{
    cti_r2_port *p = port_of(fd);
    if (!p)
        return;
    p->mf_heard = signal >= 1 && signal <= 15 ? CTI_R2_SIGNALS[signal - 1] : 0;
    p->mf_fresh = 1;
}

static int cti_r2_port_tx_bits(int fd)
{
    cti_r2_port *p = port_of(fd);
    return p ? p->txbits : -1;
}

static int cti_r2_port_mf_mode(int fd)
{
    cti_r2_port *p = port_of(fd);
    return p ? p->mf_mode : -1;
}

static void cti_r2_port_mf_off(int fd)
{
    cti_r2_port *p = port_of(fd);
    if (p)
        p->mf_mode = CTI_R2_MF_OFF;
}

static int cti_r2_port_mf_send(int fd)
{
    cti_r2_port *p = port_of(fd);
    const char *at;
    if (!p || !p->mf_send)
        return 0;
    at = strchr(CTI_R2_SIGNALS, p->mf_send);
    return at ? (int)(at - CTI_R2_SIGNALS) + 1 : 0;
}

int __real_ioctl(int fd, unsigned long request, ...);
ssize_t __real_read(int fd, void *buf, size_t n);
ssize_t __real_write(int fd, const void *buf, size_t n);

int __wrap_ioctl(int fd, unsigned long request, ...)
{
    cti_r2_port *p = port_of(fd);
    va_list ap;
    int *arg;
    va_start(ap, request);
    arg = va_arg(ap, int *);
    va_end(ap);
    if (!p)
        return __real_ioctl(fd, request, arg);
    switch (request) {
    case DAHDI_CHANNO:
        *arg = p->channo;
        return 0;
    case DAHDI_GET_PARAMS:
        arg[DAHDI_PARAMS_SIGTYPE] = DAHDI_SIG_CAS;
        return 0;
    case DAHDI_GET_BUFINFO:
        arg[DAHDI_BUFINFO_BUFSIZE] = PORT_BUFSIZE;
        return 0;
    case DAHDI_SETTXBITS:
        p->txbits = *arg & 0xF;
        return 0;
    case DAHDI_GETRXBITS:
        *arg = p->rxbits;
        return 0;
    case DAHDI_GETEVENT:
        *arg = 0;
        if (p->nevents) {
            *arg = p->events[0];
            memmove(p->events, p->events + 1, (size_t)--p->nevents * sizeof *p->events);
        }
        return 0;
    case DAHDI_IOMUX: {
        int want = *arg, got = 0;
        if ((want & DAHDI_IOMUX_SIGEVENT) && p->nevents)
            got |= DAHDI_IOMUX_SIGEVENT;
        if ((want & DAHDI_IOMUX_READ) && p->mf_fresh)
            got |= DAHDI_IOMUX_READ;
        *arg = got;
        return 0;
    }
    case DAHDI_SET_BUFINFO: case DAHDI_FLUSH: case DAHDI_SETGAINS: case DAHDI_ECHOCANCEL:
    case DAHDI_SPECIFY: case DAHDI_SETLAW: case DAHDI_SETLINEAR:
        return 0;
    default:
        errno = ENOTTY;
        return -1;
    }
}

ssize_t __wrap_read(int fd, void *buf, size_t n)
{
    cti_r2_port *p = port_of(fd);
    if (!p)
        return __real_read(fd, buf, n);
    if (!p->mf_fresh || n < 1) {
        errno = EAGAIN;
        return -1;
    }
    p->mf_fresh = 0;
    p->mf_read = p->mf_heard;
    p->mf_have_read = 1;
    ((unsigned char *)buf)[0] = 0xD5;           /* A-law silence: it stands for the signal */
    return 1;
}

ssize_t __wrap_write(int fd, const void *buf, size_t n)
{
    return port_of(fd) ? (ssize_t)n : __real_write(fd, buf, n);
}

/* ---- OpenR2's MF interface: the board's R2 MF transceiver -------------- */
static void *mf_read_init(void *handle, int forward_signals)
{
    (void)forward_signals;
    ((cti_r2_port *)handle)->mf_have_read = 0;
    return handle;
}

static void *mf_write_init(void *handle, int forward_signals)
{
    cti_r2_port *p = handle;
    p->mf_mode = forward_signals ? CTI_R2_MF_FORWARD : CTI_R2_MF_BACKWARD;
    p->mf_send = 0;
    return handle;
}

static int mf_detect_tone(void *handle, const int16_t buffer[], int samples)
{
    cti_r2_port *p = handle;
    (void)buffer;
    (void)samples;
    if (!p->mf_have_read)
        return -1;
    p->mf_have_read = 0;
    return p->mf_read;
}

static int mf_generate_tone(void *handle, int16_t buffer[], int samples)
{
    (void)handle;
    (void)buffer;
    (void)samples;
    return 0;
}

static int mf_select_tone(void *handle, char signal)
{
    ((cti_r2_port *)handle)->mf_send = signal;
    return 0;
}

static int mf_want_generate(void *handle, int signal)
{
    (void)handle;
    (void)signal;
    return 0;
}

static openr2_mflib_interface_t cti_r2_mflib = {
    .mf_read_init = mf_read_init,
    .mf_write_init = mf_write_init,
    .mf_detect_tone = mf_detect_tone,
    .mf_generate_tone = mf_generate_tone,
    .mf_select_tone = mf_select_tone,
    .mf_want_generate = mf_want_generate,
    .mf_read_dispose = NULL,
    .mf_write_dispose = NULL,
};

/* ---- events and logs into Python --------------------------------------- */
static void cti_r2_on_call_init(openr2_chan_t *chan);
static void cti_r2_on_call_offered(openr2_chan_t *chan, const char *ani, const char *dnis,
                                   int category);
static void cti_r2_on_call_accepted(openr2_chan_t *chan, int mode);
static void cti_r2_on_call_answered(openr2_chan_t *chan);
static void cti_r2_on_call_disconnect(openr2_chan_t *chan, int cause);
static void cti_r2_on_call_end(openr2_chan_t *chan);
static void cti_r2_on_protocol_error(openr2_chan_t *chan, int reason);
static void cti_r2_on_line_blocked(openr2_chan_t *chan);
static void cti_r2_on_line_idle(openr2_chan_t *chan);
static void cti_r2_on_os_error(openr2_chan_t *chan, int code);
static void cti_r2_on_billing_pulse(openr2_chan_t *chan);
static void cti_r2_logged(openr2_chan_t *chan, int level, const char *text);

static void on_offered(openr2_chan_t *chan, const char *ani, const char *dnis,
                       openr2_calling_party_category_t category)
{
    cti_r2_on_call_offered(chan, ani, dnis, (int)category);
}
static void on_accepted(openr2_chan_t *chan, openr2_call_mode_t mode)
{
    cti_r2_on_call_accepted(chan, (int)mode);
}
static void on_disconnect(openr2_chan_t *chan, openr2_call_disconnect_cause_t cause)
{
    cti_r2_on_call_disconnect(chan, (int)cause);
}
static void on_read(openr2_chan_t *chan, const unsigned char *buf, int len)
{
    (void)chan;
    (void)buf;
    (void)len;                          /* speech goes over the bus, not here */
}
static void on_alarm(openr2_chan_t *chan, int alarm)
{
    (void)chan;
    (void)alarm;                        /* span alarms reach the server from the board */
}
static void on_protocol_error(openr2_chan_t *chan, openr2_protocol_error_t reason)
{
    cti_r2_on_protocol_error(chan, (int)reason);
}
static int on_dnis_digit(openr2_chan_t *chan, char digit)
{
    (void)chan;
    (void)digit;
    return 1;                           /* the context's max_dnis (or I-15) ends the DNIS */
}
static void on_ani_digit(openr2_chan_t *chan, char digit)
{
    (void)chan;
    (void)digit;
}
static void on_context_log(openr2_context_t *ctx, openr2_log_level_t level, const char *fmt,
                           va_list ap)
{
    char text[512];
    (void)ctx;
    vsnprintf(text, sizeof text, fmt, ap);
    cti_r2_logged(NULL, (int)level, text);
}
static void on_chan_log(openr2_chan_t *chan, openr2_log_level_t level, const char *fmt,
                        va_list ap)
{
    char text[512];
    vsnprintf(text, sizeof text, fmt, ap);
    cti_r2_logged(chan, (int)level, text);
}

static openr2_event_interface_t cti_r2_events = {
    .on_call_init = cti_r2_on_call_init,
    .on_call_offered = on_offered,
    .on_call_accepted = on_accepted,
    .on_call_answered = cti_r2_on_call_answered,
    .on_call_disconnect = on_disconnect,
    .on_call_end = cti_r2_on_call_end,
    .on_call_read = on_read,
    .on_hardware_alarm = on_alarm,
    .on_os_error = cti_r2_on_os_error,
    .on_protocol_error = on_protocol_error,
    .on_line_blocked = cti_r2_on_line_blocked,
    .on_line_idle = cti_r2_on_line_idle,
    .on_context_log = on_context_log,
    .on_dnis_digit_received = on_dnis_digit,
    .on_ani_digit_received = on_ani_digit,
    .on_billing_pulse_received = cti_r2_on_billing_pulse,
};

static openr2_context_t *cti_r2_context_new(int variant, int max_ani, int max_dnis)
{
    cti_r2_stdout = stdout;
    cti_r2_stderr = stderr;
    return openr2_context_new(&cti_r2_mflib, &cti_r2_events, NULL, (openr2_variant_t)variant,
                              max_ani, max_dnis);
}

static openr2_chan_t *cti_r2_chan_new(openr2_context_t *ctx, int fd)
{
    cti_r2_port *p = port_of(fd);
    openr2_chan_t *chan;
    if (!p)
        return NULL;
    chan = openr2_chan_new_from_fd(ctx, fd, p, p);
    if (chan)
        openr2_chan_set_logging_func(chan, on_chan_log);
    return chan;
}
"""
