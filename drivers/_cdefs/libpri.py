# SPDX-License-Identifier: GPL-2.0-or-later
"""libpri.h (Debian libpri-dev 1.6): ISDN PRI layer 2 and 3 (Q.921, Q.931)
on a D-channel, for drivers.pri.  Not a vendor header: its own binding,
drivers._pri (drivers/build_pri.py), built whatever the boards are.

Frames go through two callbacks (pri_new_cb) that Python provides as
extern "Python" functions; the event structures are declared with only
the members we read (`...;`), so the header decides their layout.

libpri's time is ours: the binding links libpri's static library with
its gettimeofday() and time() wrapped (ld --wrap), and the wrappers
answer the time `cti_pri_set_time` last set, which drivers.pri sets from
its injected clock before every call into libpri.
"""

INCLUDES = "#include <libpri.h>\n#include <sys/time.h>"

_CONSTANTS = """
PRI_NETWORK PRI_CPE
PRI_SWITCH_NI2 PRI_SWITCH_DMS100 PRI_SWITCH_EUROISDN_E1 PRI_SWITCH_QSIG
PRI_EVENT_DCHAN_UP PRI_EVENT_DCHAN_DOWN PRI_EVENT_RESTART PRI_EVENT_CONFIG_ERR
PRI_EVENT_RING PRI_EVENT_HANGUP PRI_EVENT_RINGING PRI_EVENT_ANSWER PRI_EVENT_HANGUP_ACK
PRI_EVENT_RESTART_ACK PRI_EVENT_INFO_RECEIVED PRI_EVENT_PROCEEDING PRI_EVENT_SETUP_ACK
PRI_EVENT_HANGUP_REQ PRI_EVENT_PROGRESS PRI_EVENT_CONNECT_ACK
PRI_TRANS_CAP_SPEECH PRI_LAYER_1_ULAW PRI_LAYER_1_ALAW
PRI_UNKNOWN PRI_INTERNATIONAL_ISDN PRI_NATIONAL_ISDN PRI_LOCAL_ISDN
PRES_ALLOWED_USER_NUMBER_NOT_SCREENED PRES_PROHIB_USER_NUMBER_NOT_SCREENED
PRI_PROG_INBAND_AVAILABLE PRI_PRES_RESTRICTION PRI_PRES_ALLOWED
"""

TYPES = "".join(f"#define {name} ...\n" for name in _CONSTANTS.split()) + """
struct pri;
struct pri_sr;
typedef ... q931_call;
struct timeval { long tv_sec; long tv_usec; ...; };
typedef int (*pri_io_cb)(struct pri *pri, void *buf, int buflen);
typedef struct { int e; int channel; ...; } pri_event_restart;
typedef struct { int e; char err[256]; ...; } pri_event_error;
typedef struct { int e; int channel; int progress; int progressmask; q931_call *call; ...; }
    pri_event_ringing;
typedef struct { int e; int channel; int progress; int progressmask; q931_call *call; ...; }
    pri_event_answer;
typedef struct { int e; int channel; int callingpres; int callingplan; char callingnum[256];
                 char callingname[256]; int calledplan; char callednum[256]; int flexible;
                 int layer1; int complete; q931_call *call; ...; } pri_event_ring;
typedef struct { int e; int channel; int cause; q931_call *call; ...; } pri_event_hangup;
typedef struct { int e; int channel; int progress; int progressmask; int cause;
                 q931_call *call; ...; } pri_event_proceeding;
typedef struct { int e; int channel; q931_call *call; ...; } pri_event_setup_ack;
typedef union {
    int e;
    pri_event_restart restart;
    pri_event_error err;
    pri_event_ring ring;
    pri_event_hangup hangup;
    pri_event_ringing ringing;
    pri_event_answer answer;
    pri_event_proceeding proceeding;
    pri_event_setup_ack setup_ack;
    ...;
} pri_event;
"""

FUNCTIONS = """
struct pri *pri_new_cb(int fd, int nodetype, int switchtype, pri_io_cb io_read,
                       pri_io_cb io_write, void *userdata);
void *pri_get_userdata(struct pri *pri);
void pri_set_message(void (*func)(struct pri *pri, char *));
void pri_set_error(void (*func)(struct pri *pri, char *));
void pri_facility_enable(struct pri *pri);
void pri_set_overlapdial(struct pri *pri, int state);
pri_event *pri_check_event(struct pri *pri);
struct timeval *pri_schedule_next(struct pri *pri);
pri_event *pri_schedule_run(struct pri *pri);
void cti_pri_set_time(long sec, long usec);
char *pri_event2str(int id);
char *pri_cause2str(int cause);
q931_call *pri_new_call(struct pri *pri);
struct pri_sr *pri_sr_new(void);
void pri_sr_free(struct pri_sr *sr);
int pri_sr_set_channel(struct pri_sr *sr, int channel, int exclusive, int nonisdn);
int pri_sr_set_bearer(struct pri_sr *sr, int transmode, int userl1);
int pri_sr_set_called(struct pri_sr *sr, char *called, int calledplan, int complete);
int pri_sr_set_caller(struct pri_sr *sr, char *caller, char *callername, int callerplan,
                      int callerpres);
int pri_setup(struct pri *pri, q931_call *call, struct pri_sr *req);
int pri_proceeding(struct pri *pri, q931_call *call, int channel, int info);
int pri_progress(struct pri *pri, q931_call *call, int channel, int info);
int pri_acknowledge(struct pri *pri, q931_call *call, int channel, int info);
int pri_setup_ack(struct pri *ctrl, q931_call *call, int channel, int nonisdn, int inband);
int pri_information(struct pri *pri, q931_call *call, char digit);
int pri_answer(struct pri *pri, q931_call *call, int channel, int nonisdn);
int pri_hangup(struct pri *pri, q931_call *call, int cause);
int pri_restart(struct pri *pri);
int pri_reset(struct pri *pri, int channel);
void pri_destroycall(struct pri *pri, q931_call *call);

extern "Python" int _pri_read(struct pri *, void *, int);
extern "Python" int _pri_write(struct pri *, void *, int);
extern "Python" void _pri_message(struct pri *, char *);
"""

CUSTOMIZATIONS = """
#include <time.h>
static struct timeval cti_pri_now;

void cti_pri_set_time(long sec, long usec)
{
    cti_pri_now.tv_sec = sec;
    cti_pri_now.tv_usec = usec;
}

/* libpri's own calls to gettimeofday() and time() (ld --wrap) */
int __wrap_gettimeofday(struct timeval *tv, void *tz)
{
    (void)tz;
    if (tv)
        *tv = cti_pri_now;
    return 0;
}

time_t __wrap_time(time_t *t)
{
    if (t)
        *t = cti_pri_now.tv_sec;
    return cti_pri_now.tv_sec;
}
"""
