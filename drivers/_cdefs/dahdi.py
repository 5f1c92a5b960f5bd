# SPDX-License-Identifier: GPL-2.0-or-later
"""dahdi/user.h (Debian dahdi-source): the DAHDI kernel's userspace ABI,
for drivers.dahdi.  Not a vendor header of the R4 family: its own binding,
drivers._dahdi (drivers/build_dahdi.py).

Constants are `#define X ...`, so the header gives every value (the ioctl
numbers are _IOW/_IOR/_IOWR expressions over DAHDI_CODE 0xDA).  The
structs the driver passes are declared member by member, as user.h has
them: cffi's API mode checks each size and offset against the compiler's
at build time, and tests/test_dahdi_abi.py checks them once more against
a program compiled from the header alone.  `struct dahdi_spaninfo` is
packed in the kernel (314 bytes): its cdef is declared packed too
(PACKED_TYPES).

Besides the ABI, the binding declares the C library's calls a device
node needs (open, ioctl, read, write, close), which the kernel device
layer uses, and the same calls of our simulator's DAHDI personality
(native/src/dahdisim.h), which answer the same requests with the same
errno conventions (drivers.dahdidev).  DAHDI detects no tones: the
driver's voice work is ours, in C (native/src/chanvoice.h over dsp.h).
"""

INCLUDES = """
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <dahdi/user.h>
#include "dahdisim.h"
#include "chanvoice.h"
#include "codec.h"
"""

#: Every constant the driver and its tests use, by group.
CONSTANT_GROUPS = {
    "limits": "ELAST DAHDI_CODE DAHDI_MAX_BLOCKSIZE DAHDI_DEFAULT_BLOCKSIZE "
              "DAHDI_MAX_EVENTSIZE DAHDI_MAX_SPANS DAHDI_MAX_CHANNELS",
    "ioctls": "DAHDI_GET_BLOCKSIZE DAHDI_SET_BLOCKSIZE DAHDI_FLUSH DAHDI_SYNC "
              "DAHDI_GET_PARAMS DAHDI_SET_PARAMS DAHDI_HOOK DAHDI_GETEVENT DAHDI_IOMUX "
              "DAHDI_SPANSTAT DAHDI_MAINT DAHDI_GETCONF DAHDI_SETCONF DAHDI_CONFLINK "
              "DAHDI_GETGAINS DAHDI_SETGAINS DAHDI_SENDTONE DAHDI_SETTONEZONE "
              "DAHDI_GET_BUFINFO DAHDI_SET_BUFINFO DAHDI_DIAL DAHDI_AUDIOMODE "
              "DAHDI_ECHOCANCEL DAHDI_CHANNO DAHDI_DIALING DAHDI_SPECIFY DAHDI_SETLAW "
              "DAHDI_SETLINEAR DAHDI_SETCADENCE DAHDI_GETRXBITS DAHDI_SETTXBITS "
              "DAHDI_GETVERSION DAHDI_LOOPBACK DAHDI_SETPOLARITY DAHDI_BUFFER_EVENTS "
              "DAHDI_CHANCONFIG",
    "hook": "DAHDI_ONHOOK DAHDI_OFFHOOK DAHDI_WINK DAHDI_FLASH DAHDI_START DAHDI_RING "
            "DAHDI_RINGOFF",
    "events": "DAHDI_EVENT_NONE DAHDI_EVENT_ONHOOK DAHDI_EVENT_RINGOFFHOOK "
              "DAHDI_EVENT_WINKFLASH DAHDI_EVENT_ALARM DAHDI_EVENT_NOALARM DAHDI_EVENT_ABORT "
              "DAHDI_EVENT_OVERRUN DAHDI_EVENT_BADFCS DAHDI_EVENT_DIALCOMPLETE "
              "DAHDI_EVENT_RINGERON DAHDI_EVENT_RINGEROFF DAHDI_EVENT_HOOKCOMPLETE "
              "DAHDI_EVENT_BITSCHANGED DAHDI_EVENT_PULSE_START DAHDI_EVENT_TIMER_EXPIRED "
              "DAHDI_EVENT_TIMER_PING DAHDI_EVENT_POLARITY DAHDI_EVENT_RINGBEGIN "
              "DAHDI_EVENT_EC_DISABLED DAHDI_EVENT_REMOVED DAHDI_EVENT_NEONMWI_ACTIVE "
              "DAHDI_EVENT_NEONMWI_INACTIVE DAHDI_EVENT_TX_CED_DETECTED "
              "DAHDI_EVENT_RX_CED_DETECTED DAHDI_EVENT_TX_CNG_DETECTED "
              "DAHDI_EVENT_RX_CNG_DETECTED DAHDI_EVENT_EC_NLP_DISABLED "
              "DAHDI_EVENT_EC_NLP_ENABLED DAHDI_EVENT_READ_OVERRUN "
              "DAHDI_EVENT_WRITE_UNDERRUN DAHDI_EVENT_PULSEDIGIT DAHDI_EVENT_DTMFDOWN "
              "DAHDI_EVENT_DTMFUP",
    "law": "DAHDI_LAW_DEFAULT DAHDI_LAW_MULAW DAHDI_LAW_ALAW",
    "buffers": "DAHDI_POLICY_IMMEDIATE DAHDI_POLICY_WHEN_FULL DAHDI_POLICY_HALF_FULL "
               "DAHDI_MAX_NUM_BUFS DAHDI_MAX_BUF_SPACE",
    "flush": "DAHDI_FLUSH_READ DAHDI_FLUSH_WRITE DAHDI_FLUSH_BOTH DAHDI_FLUSH_EVENT "
             "DAHDI_FLUSH_ALL",
    "signalling": "DAHDI_SIG_NONE DAHDI_SIG_FXSLS DAHDI_SIG_FXSGS DAHDI_SIG_FXSKS "
                  "DAHDI_SIG_FXOLS DAHDI_SIG_FXOGS DAHDI_SIG_FXOKS DAHDI_SIG_EM "
                  "DAHDI_SIG_CLEAR DAHDI_SIG_HDLCRAW DAHDI_SIG_HDLCFCS DAHDI_SIG_HDLCNET "
                  "DAHDI_SIG_SLAVE DAHDI_SIG_SF DAHDI_SIG_CAS DAHDI_SIG_DACS "
                  "DAHDI_SIG_EM_E1 DAHDI_SIG_DACS_RBS DAHDI_SIG_HARDHDLC DAHDI_SIG_MTP2 "
                  "DAHDI_SIG_BROKEN",
    "bits": "DAHDI_ABIT DAHDI_BBIT DAHDI_CBIT DAHDI_DBIT",
    "lineconfig": "DAHDI_CONFIG_D4 DAHDI_CONFIG_ESF DAHDI_CONFIG_AMI DAHDI_CONFIG_B8ZS "
                  "DAHDI_CONFIG_CCS DAHDI_CONFIG_HDB3 DAHDI_CONFIG_CRC4 DAHDI_CONFIG_NTTE "
                  "DAHDI_CONFIG_TERM DAHDI_CONFIG_NOTOPEN",
    "alarms": "DAHDI_ALARM_NONE DAHDI_ALARM_RECOVER DAHDI_ALARM_LOOPBACK DAHDI_ALARM_YELLOW "
              "DAHDI_ALARM_RED DAHDI_ALARM_BLUE DAHDI_ALARM_NOTOPEN DAHDI_ALARM_LOS "
              "DAHDI_ALARM_LFA DAHDI_ALARM_LMFA",
    "maint": "DAHDI_MAINT_NONE DAHDI_MAINT_LOCALLOOP DAHDI_MAINT_REMOTELOOP "
             "DAHDI_MAINT_NETWORKLINELOOP DAHDI_MAINT_LOOPUP DAHDI_MAINT_LOOPDOWN "
             "DAHDI_MAINT_FAS_DEFECT DAHDI_MAINT_MULTI_DEFECT DAHDI_MAINT_CRC_DEFECT "
             "DAHDI_MAINT_CAS_DEFECT DAHDI_MAINT_PRBS_DEFECT DAHDI_MAINT_BIPOLAR_DEFECT "
             "DAHDI_MAINT_PRBS DAHDI_MAINT_NETWORKPAYLOADLOOP DAHDI_MAINT_ALARM_SIM",
    "conference": "DAHDI_CONF_MODE_MASK DAHDI_CONF_NORMAL DAHDI_CONF_MONITOR "
                  "DAHDI_CONF_MONITORTX DAHDI_CONF_MONITORBOTH DAHDI_CONF_CONF "
                  "DAHDI_CONF_CONFANN DAHDI_CONF_CONFMON DAHDI_CONF_CONFANNMON "
                  "DAHDI_CONF_REALANDPSEUDO DAHDI_CONF_DIGITALMON "
                  "DAHDI_CONF_MONITOR_RX_PREECHO DAHDI_CONF_MONITOR_TX_PREECHO "
                  "DAHDI_CONF_MONITORBOTH_PREECHO DAHDI_CONF_FLAG_MASK DAHDI_CONF_LISTENER "
                  "DAHDI_CONF_TALKER DAHDI_CONF_PSEUDO_LISTENER DAHDI_CONF_PSEUDO_TALKER",
    "tones": "DAHDI_TONE_STOP DAHDI_TONE_DIALTONE DAHDI_TONE_BUSY DAHDI_TONE_RINGTONE "
             "DAHDI_TONE_CONGESTION DAHDI_TONE_DTMF_BASE DAHDI_TONE_MFR1_BASE",
    "dial": "DAHDI_DIAL_OP_APPEND DAHDI_DIAL_OP_REPLACE DAHDI_DIAL_OP_CANCEL",
    "libc": "O_RDWR O_NONBLOCK EAGAIN EINVAL EBUSY EINPROGRESS ENXIO ENOSYS ENODATA ENODEV "
            "EFAULT",
}
CONSTANTS = [name for group in CONSTANT_GROUPS.values() for name in group.split()]

#: The structs of the ioctls above, member by member as user.h declares them.
STRUCTS = {
    "dahdi_params": """
    int channo; int spanno; int chanpos; int sigtype; int sigcap; int rxisoffhook;
    int rxbits; int txbits; int txhooksig; int rxhooksig; int curlaw; int idlebits;
    char name[40];
    int prewinktime; int preflashtime; int winktime; int flashtime; int starttime;
    int rxwinktime; int rxflashtime; int debouncetime; int pulsebreaktime;
    int pulsemaketime; int pulseaftertime;
    uint32_t chan_alarms;""",
    "dahdi_maintinfo": "int spanno; int command;",
    "dahdi_confinfo": "int chan; int confno; int confmode;",
    "dahdi_gains": "int chan; unsigned char rxgain[256]; unsigned char txgain[256];",
    "dahdi_bufferinfo": "int txbufpolicy; int rxbufpolicy; int numbufs; int bufsize; "
                        "int readbufs; int writebufs;",
    "dahdi_dialoperation": "int op; char dialstr[256];",
    "dahdi_versioninfo": "char version[80]; char echo_canceller[80];",
    "dahdi_ring_cadence": "int ringcadence[16];",
    "dahdi_chanconfig": "int chan; char name[40]; int sigtype; int deflaw; int master; "
                        "int idlebits; char netdev_name[16];",
}
#: The kernel declares it __attribute__((packed)): cdef'd with packed=True.
PACKED_STRUCTS = {
    "dahdi_spaninfo": """
    int spanno; char name[20]; char desc[40]; int alarms; int txlevel; int rxlevel;
    int bpvcount; int crc4count; int ebitcount; int fascount;
    uint32_t fecount; uint32_t cvcount; uint32_t becount; uint32_t prbs; uint32_t errsec;
    int irqmisses; int syncsrc; int numchans; int totalchans; int totalspans; int lbo;
    int lineconfig; char lboname[40]; char location[40]; char manufacturer[40];
    char devicetype[40]; int irq; int linecompat; char spantype[6];""",
}


def _structs(table):
    return "".join(f"struct {name} {{{body}\n}};\n" for name, body in table.items())


TYPES = "".join(f"#define {name} ...\n" for name in CONSTANTS) + _structs(STRUCTS) + """
typedef enum { CTI_TONESET_NA = 1, CTI_TONESET_CN = 2 } cti_toneset;
typedef enum {
    CTI_TONE_NONE = 0, CTI_TONE_DIAL = 1, CTI_TONE_RINGBACK = 2, CTI_TONE_BUSY = 3,
    CTI_TONE_REORDER = 4, ...
} cti_tone_id;
typedef struct {
    char number[21]; char name[16]; char datetime[9]; char number_absent;
    char name_absent; int mdmf; ...;
} cti_callerid;
typedef struct cti_chanvoice cti_chanvoice;
#define CTI_CV_SENT_ALL ...
#define CTI_CV_SILENT ...
#define CTI_CV_ANALYSED ...
#define CTI_CV_SILENCE_ON ...
#define CTI_CV_SILENCE_OFF ...
#define CTI_CV_R2MF ...
#define CTI_CV_CALLERID ...
#define CTI_R2MF_OFF ...
#define CTI_R2MF_FORWARD ...
#define CTI_R2MF_BACKWARD ...
typedef enum {
    CTI_CP_NONE = 0, CTI_CP_CONNECTED, CTI_CP_BUSY, CTI_CP_NO_ANSWER, CTI_CP_NO_RINGBACK,
    CTI_CP_INTERCEPT, CTI_CP_NO_DIAL_TONE, CTI_CP_FAX
} cti_cp_result;
typedef enum { CTI_CONNECT_NONE = 0, CTI_CONNECT_CADENCE, CTI_CONNECT_VOICE } cti_cp_connect;
"""
PACKED_TYPES = _structs(PACKED_STRUCTS)

FUNCTIONS = """
int open(const char *path, int flags);
int close(int fd);
int ioctl(int fd, unsigned long request, ...);
ssize_t read(int fd, void *buf, size_t n);
ssize_t write(int fd, const void *buf, size_t n);

int cti_dahdi_open(const char *path, int flags);
int cti_dahdi_close(int fd);
int cti_dahdi_ioctl(int fd, unsigned long request, void *arg);
ssize_t cti_dahdi_read(int fd, void *buf, size_t n);
ssize_t cti_dahdi_write(int fd, const void *buf, size_t n);
int cti_dahdi_wakefd(void);
int cti_dahdisim_queue_event(int channo, int event);
void cti_dahdisim_tone_zone(int loaded);
int cti_dahdisim_unplug(int spanno);
int cti_dahdisim_line_alarm(int channo, int alarms);
int cti_dahdisim_idlebits(int channo, int bits);

void cti_g711_decode(const uint8_t *in, int16_t *out, size_t n, int alaw);
void cti_g711_encode(const int16_t *in, uint8_t *out, size_t n, int alaw);

cti_chanvoice *cti_chanvoice_new(cti_toneset tones);
void cti_chanvoice_free(cti_chanvoice *cv);
int cti_chanvoice_play(cti_chanvoice *cv, const int16_t *samples, size_t n);
int cti_chanvoice_tone(cti_chanvoice *cv, int f1, int f2, int level_dbm0, int duration_ms);
int cti_chanvoice_dial(cti_chanvoice *cv, const char *digits, int mf);
int cti_chanvoice_progress_tone(cti_chanvoice *cv, cti_tone_id id);
void cti_chanvoice_stop(cti_chanvoice *cv);
int cti_chanvoice_dial_progress(cti_chanvoice *cv, const char *digits, int mf,
                                int dialtone_ms, int nosignal_ms, int noanswer_ms,
                                int rings);
cti_cp_result cti_chanvoice_result(const cti_chanvoice *cv, cti_cp_connect *how);
void cti_chanvoice_digits(cti_chanvoice *cv, int dtmf, int mf);
void cti_chanvoice_record(cti_chanvoice *cv, int on);
size_t cti_chanvoice_take(cti_chanvoice *cv, int16_t *out, size_t max);
size_t cti_chanvoice_lost(cti_chanvoice *cv);
void cti_chanvoice_cid(cti_chanvoice *cv, int on);
void cti_chanvoice_cid_listen(cti_chanvoice *cv, int on);
int cti_chanvoice_callerid(cti_chanvoice *cv, cti_callerid *out);
void cti_chanvoice_silence_level(cti_chanvoice *cv, int dbm0);
void cti_chanvoice_silence_events(cti_chanvoice *cv, int on);
int cti_chanvoice_r2mf(cti_chanvoice *cv, int mode);
void cti_chanvoice_r2mf_send(cti_chanvoice *cv, int signal);
int cti_chanvoice_r2mf_heard(const cti_chanvoice *cv);
int cti_chanvoice_block(cti_chanvoice *cv, const int16_t *rx, int16_t *tx, int n,
                        char *digits, int *ndigits, int *tones, int *ntones, int max);
"""

CUSTOMIZATIONS = ""
