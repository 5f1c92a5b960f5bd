/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dtilib.h - T1/E1 digital trunks: spans, timeslots, robbed-bit signalling,
 * alarms.
 *
 * Clean-room header of the cti board simulator after the vendor's DTI API.
 * "dtiBn" is span n (alarms are reported on it); "dtiBnTm" is its
 * timeslot m (1-24), whose A/B signalling bits and bus connection the
 * application drives.  Signalling bit changes arrive as DTEV_SIG events when
 * enabled with dt_setevtmsk(ts, DTG_SIGEVT, ...); alarms as DTEV_T1ERRC on
 * the span when enabled with DTG_T1ERREVT.
 *
 * Span maintenance (lines-real.md, section 4), on the span device (simulator
 * extensions: a vendor's DTI API has none of these calls):
 *
 *   dt_getcounters    raw error counters since the span was opened (BPV,
 *                     EXZ, CRC-6, frame bit errors, OOF events, controlled
 *                     slips) and the defects present now; never reset, so a
 *                     poller diffs them every second as DAHDI's SPANSTAT
 *                     counters are diffed
 *   dt_getlinestate   framing, line code, clock source, our loopback and the
 *                     loop code we are sending
 *   dt_setloopback    loop at our side: the line (what we receive goes back,
 *                     regenerated), the payload (back with our framing), or
 *                     local (our transmit to our receive)
 *   dt_sendloopcode   ask the far end to loop: in-band codes (1-in-5 up,
 *                     1-in-3 down, any framing) or ESF data-link bit-oriented
 *                     codes (payload loop up and down)
 *   dt_bertstart ...  a bit error rate test on the span (all 24 timeslots,
 *                     1.536 Mb/s) or on one timeslot (64 kb/s)
 */
#ifndef CTI_DTILIB_H
#define CTI_DTILIB_H

#include "srllib.h"
#include "ctinfo.h"

#define DTEV_T1ERRC 0x2049
#define DTEV_SIG    0x204D
#define DTEV_WINKCPLT 0x2050   /* (check) dt_xmitwink finished */

#define DTG_T1ERREVT 1
#define DTG_SIGEVT   2
#define DTA_SETMSK 0
#define DTA_ADDMSK 1
#define DTA_SUBMSK 2

#define DTB_ABIT 0x01
#define DTB_BBIT 0x02
#define DTB_CBIT 0x04
#define DTB_DBIT 0x08
#define DTB_AON  0x11
#define DTB_AOFF 0x10
#define DTB_BON  0x22
#define DTB_BOFF 0x20

/* ATDT_TSSGBIT */
#define DTSG_XMTA 0x01
#define DTSG_XMTB 0x02
#define DTSG_XMTC 0x04
#define DTSG_XMTD 0x08
#define DTSG_RCVA 0x10
#define DTSG_RCVB 0x20
#define DTSG_RCVC 0x40
#define DTSG_RCVD 0x80

/* DTEV_SIG data and DTG_SIGEVT masks */
#define DTMM_AOFF 0x0110
#define DTMM_AON  0x0011
#define DTMM_BOFF 0x0220
#define DTMM_BON  0x0022
#define DTMM_WINK 0x1000

/* DTEV_T1ERRC data: alarm raised; cleared = code + DTT1_CLEARED */
#define DTT1_OOF  0x00
#define DTT1_LOS  0x01
#define DTT1_BPVS 0x03
#define DTT1_ECS  0x04
#define DTT1_RYEL 0x05
#define DTT1_RCL  0x06
#define DTT1_FERR 0x07
#define DTT1_RBL  0x09
#define DTT1_RLOS 0x0A
#define DTT1_RED  0x0B
#define DTT1_CLEARED 0x10

/* DTG_T1ERREVT enable masks */
#define DTEC_RLOS 0x0001
#define DTEC_RBL  0x0002
#define DTEC_RYEL 0x0020
#define DTEC_LOS  0x0100
#define DTEC_RED  0x0400
#define DTEC_OOF  0x8000

#define DTA_NONE 0
#define DTA_TERM 1
#define DTA_DROP 2

#define EDT_SYSTEM  0x0B
#define EDT_BADDEV  0x0C
#define EDT_BUSY    0x0E
#define EDT_PARAMERR 0x10   /* (check) */
#define EDT_SH_BADEXTTS 0x30 /* (check) timeslot not driven / bad bus use */
#define EDT_SH_LISTEN   0x31 /* (check) already listening: unlisten first */

#define DTV_NUMTS 24

#ifdef CTI_SIM_EXTENSIONS
/* Simulator extension: span maintenance (see the top of this file). */

/* Line configuration (DT_LINESTATE; the simulator's boards are configured
 * with them through simfar_span_line). */
#define DTFR_ESF 1          /* extended superframe: CRC-6 and a data link */
#define DTFR_D4  2          /* superframe (SF/D4): framing bits only */
#define DTCD_B8ZS 1         /* bipolar with 8-zero substitution */
#define DTCD_AMI  2         /* alternate mark inversion */
#define DTCK_LINE     1     /* transmit clock recovered from the received signal */
#define DTCK_INTERNAL 2     /* transmit clock from our own oscillator */

/* Loopbacks (dt_setloopback), numbered as DAHDI's maintenance modes. */
#define DTLB_NONE    0
#define DTLB_LOCAL   1      /* our transmit to our receive */
#define DTLB_LINE    2      /* what we receive goes back, regenerated */
#define DTLB_PAYLOAD 13     /* the payload goes back with our framing */

/* Loop codes (dt_sendloopcode). */
#define DTLC_NONE        0
#define DTLC_LINEUP      1  /* in-band, repeating 00001 */
#define DTLC_LINEDOWN    2  /* in-band, repeating 001 */
#define DTLC_PAYLOADUP   3  /* ESF data link, 00010100 11111111 */
#define DTLC_PAYLOADDOWN 4  /* ESF data link, 00110010 11111111 */

/* BERT patterns (dt_bertstart). */
#define DTBT_QRSS    1      /* 2^20-1, taps 17 and 20, at most 14 zeros */
#define DTBT_2E15    2      /* O.151 2^15-1 */
#define DTBT_2E20    3      /* O.151 2^20-1, up to 19 zeros */
#define DTBT_ALLONES 4

#pragma pack(push, 1)
/* Raw counters of a span since it was opened, and its defects now. */
typedef struct {
    unsigned long dc_seconds;     /* seconds since the span was opened */
    unsigned long dc_bpv;         /* bipolar violations */
    unsigned long dc_exz;         /* excessive zeros */
    unsigned long dc_crc;         /* ESF CRC-6 errors (0 on D4) */
    unsigned long dc_fas;         /* frame bit errors */
    unsigned long dc_oof;         /* out-of-frame events */
    unsigned long dc_slips;       /* controlled slips */
    unsigned char dc_los;         /* loss of signal now */
    unsigned char dc_ais;         /* alarm indication signal (all ones) now */
    unsigned char dc_oofnow;      /* out of frame now */
} DT_COUNTERS;

typedef struct {
    unsigned char dl_framing;     /* DTFR_ */
    unsigned char dl_coding;      /* DTCD_ */
    unsigned char dl_clock;       /* DTCK_ */
    unsigned char dl_loopback;    /* DTLB_: ours */
    unsigned char dl_loopcode;    /* DTLC_: the code we are sending, or DTLC_NONE */
} DT_LINESTATE;

/* A BERT's results: bits and errors count while the checker is in sync. */
typedef struct {
    unsigned char db_pattern;     /* DTBT_ */
    unsigned char db_sync;        /* the checker follows the pattern now */
    unsigned long long db_bits;
    unsigned long long db_errors;
    unsigned long db_synclosses;
    unsigned long db_seconds;     /* whole seconds since the start */
    unsigned long db_errsecs;     /* of which with an error or out of sync */
} DT_BERT;
#pragma pack(pop)
#endif

#ifdef __cplusplus
extern "C" {
#endif

int dt_open(const char *name, int oflags);
int dt_close(int dev);
int dt_setevtmsk(int dev, int event, unsigned short mask, int action);
int dt_settssig(int dev, unsigned short bits, int action);
int dt_settssigsim(int dev, unsigned short bits);
int dt_xmitwink(int dev, unsigned int tmo);
int dt_setalrm(int dev, unsigned int mode);
long ATDT_TSSGBIT(int dev);
int dt_getxmitslot(int dev, SC_TSINFO *ts);
int dt_listen(int dev, SC_TSINFO *ts);
int dt_unlisten(int dev);
int dt_getctinfo(int dev, CT_DEVINFO *info);

#ifdef CTI_SIM_EXTENSIONS
/* Simulator extension: the span's active alarms as bits 1 << DTT1_x. */
long ATDT_ALARMS(int dev);

/* Simulator extension, span maintenance (see the top of this file).  A BERT
 * runs on a span or a timeslot not in a call on the bus (EDT_BUSY
 * otherwise). */
int dt_getcounters(int dev, DT_COUNTERS *counters);
int dt_getlinestate(int dev, DT_LINESTATE *state);
int dt_setloopback(int dev, int mode);
int dt_sendloopcode(int dev, int code);
int dt_bertstart(int dev, int pattern);
int dt_bertresults(int dev, DT_BERT *results);
int dt_bertstop(int dev, DT_BERT *results);
#endif

#ifdef __cplusplus
}
#endif
#endif
