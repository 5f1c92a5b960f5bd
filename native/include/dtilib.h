/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dtilib.h - T1/E1 digital trunks: spans, timeslots, signalling bits,
 * alarms.
 *
 * Clean-room header of the cti board simulator after the vendor's DTI API.
 * "dtiBn" is span n (alarms are reported on it); "dtiBnTm" is its
 * timeslot m, whose signalling bits and bus connection the application
 * drives.  Signalling bit changes arrive as DTEV_SIG events when enabled
 * with dt_setevtmsk(ts, DTG_SIGEVT, ...); alarms as DTEV_T1ERRC on the span
 * when enabled with DTG_T1ERREVT.
 *
 * A T1 span has timeslots T1-T24 (robbed-bit A and B, C and D repeating
 * them), or T1-T23 when ISDN PRI keeps channel 24 for its D-channel.  An
 * E1 span (dt_getctinfo: ct_nettype CT_NTE1) has the 30 bearer timeslots
 * T1-T30 as the vendor numbers them: T1-T15 are timeslots 1-15 of the
 * line, T16-T30 timeslots 17-31; timeslot 0 carries the framing and 16
 * the signalling: with CAS the four bits ABCD of every timeslot (0000 is
 * forbidden: it would mimic the multiframe alignment signal), with CCS a
 * D-channel.  An E1 span's alarms are the DTE1_ codes (the same event and
 * event group: DTEV_E1ERRC is DTEV_T1ERRC, DTG_E1ERREVT is DTG_T1ERREVT),
 * enabled with the DEEC_ masks.
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
 *   dt_bertstart ...  a bit error rate test on the span (all its bearer
 *                     timeslots: 24 on T1, 1.536 Mb/s; 23 on PRI; 30 on E1,
 *                     1.920 Mb/s) or on one timeslot (64 kb/s)
 *
 * The D-channel of a span with one (E1 CCS: timeslot 16; T1 PRI: channel
 * 24) is the device "dtiBnD", also a simulator extension: a vendor's board
 * runs ISDN in its firmware.  It carries whole frames (HDLC without flags
 * and bit stuffing; the FCS is the sender's business, as libpri's two
 * trailing bytes are) at 64 kb/s to the far end and back:
 *
 *   dt_dchanwrite     queue one frame for the far end
 *   dt_dchanread      take the next frame received (0 when none waits);
 *                     DTEV_DCHAN tells one has arrived
 *
 * A frame is lost, as on a real line, while the span is in alarm or its
 * two ends do not both run a D-channel there; loopbacks send it back.
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
#define DTB_CON  0x44   /* (check) */
#define DTB_COFF 0x40   /* (check) */
#define DTB_DON  0x88   /* (check) */
#define DTB_DOFF 0x80   /* (check) */

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
#define DTMM_COFF 0x0440   /* (check) */
#define DTMM_CON  0x0044   /* (check) */
#define DTMM_DOFF 0x0880   /* (check) */
#define DTMM_DON  0x0088   /* (check) */
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

/* DTEV_E1ERRC data on an E1 span: raised; cleared = code + DTT1_CLEARED */
#define DTEV_E1ERRC DTEV_T1ERRC
#define DTE1_LOS    0x01   /* loss of signal */
#define DTE1_BPVS   0x03   /* bipolar violation count saturation */
#define DTE1_ECS    0x04   /* error count saturation */
#define DTE1_RRA    0x05   /* remote alarm: the A bit of timeslot 0 */
#define DTE1_FSERR  0x07   /* frame sync error: out of frame */
#define DTE1_RUA1   0x09   /* unframed all ones (AIS) */
#define DTE1_RLOS   0x0A   /* loss of sync */
#define DTE1_RED    0x0B   /* red alarm */
#define DTE1_MFSERR 0x0C   /* multiframe sync error: CRC-4's or CAS's not found */
#define DTE1_RSA1   0x0D   /* signalling all ones (timeslot 16 AIS) */
#define DTE1_RDMA   0x0E   /* distant multiframe alarm: the Y bit of timeslot 16 */
#define DTE1_CECS   0x0F   /* CRC-4 error count saturation */

/* DTG_T1ERREVT enable masks */
#define DTEC_RLOS 0x0001
#define DTEC_RBL  0x0002
#define DTEC_RYEL 0x0020
#define DTEC_LOS  0x0100
#define DTEC_RED  0x0400
#define DTEC_OOF  0x8000

/* DTG_E1ERREVT enable masks (check) */
#define DTG_E1ERREVT DTG_T1ERREVT
#define DEEC_RLOS   0x0001
#define DEEC_RUA1   0x0002
#define DEEC_FSERR  0x0008
#define DEEC_RRA    0x0020
#define DEEC_ECS    0x0040
#define DEEC_BPVS   0x0080
#define DEEC_LOS    0x0100
#define DEEC_RED    0x0400
#define DEEC_MFSERR 0x0800
#define DEEC_RSA1   0x1000
#define DEEC_RDMA   0x2000
#define DEEC_CECS   0x4000

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
#define DTFR_E1      3      /* E1: FAS and NFAS alternating in timeslot 0 */
#define DTFR_E1_CRC4 4      /* E1 with the CRC-4 multiframe (its E bits report our errors) */
#define DTCD_B8ZS 1         /* bipolar with 8-zero substitution (T1) */
#define DTCD_AMI  2         /* alternate mark inversion */
#define DTCD_HDB3 3         /* high density bipolar 3: 4-zero substitution (E1) */
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

/* Multiframes an E1 span looks for and does not find (dl_mfalost). */
#define DTMFA_CRC4 0x1      /* the CRC-4 multiframe, in timeslot 0 */
#define DTMFA_CAS  0x2      /* the CAS multiframe, in timeslot 16 */

/* A D-channel frame is waiting on the span's "dtiBnD" (its length the data). */
#define DTEV_DCHAN 0x2060
/* The longest frame a D-channel carries (Q.921's 260 octets and more). */
#define DT_DCHAN_MAX 512

/* MFC/R2 register signals on an E1 CAS timeslot (dt_r2mfmode): the set
 * the timeslot sends (it hears the other one), or off.  Each change of the
 * signal heard is a DTEV_R2MF event, its data the signal (unsigned short,
 * 1-15; 0: it stopped). */
#define DTR2_OFF      0
#define DTR2_FORWARD  1     /* the calling side: sends forward, hears backward */
#define DTR2_BACKWARD 2     /* the called side: sends backward, hears forward */
#define DTEV_R2MF 0x2061

#pragma pack(push, 1)
/* Raw counters of a span since it was opened, and its defects now. */
typedef struct {
    unsigned long dc_seconds;     /* seconds since the span was opened */
    unsigned long dc_bpv;         /* bipolar violations */
    unsigned long dc_exz;         /* excessive zeros */
    unsigned long dc_crc;         /* ESF CRC-6 or E1 CRC-4 errors (0 on D4, E1 without CRC-4) */
    unsigned long dc_fas;         /* frame bit errors (E1: FAS errors) */
    unsigned long dc_oof;         /* out-of-frame events */
    unsigned long dc_slips;       /* controlled slips */
    unsigned long dc_ebit;        /* E1 CRC-4: the far end's block errors, from the E bits */
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
    unsigned char dl_dchannel;    /* the span has a D-channel device, "dtiBnD" */
    unsigned char dl_mfalost;     /* DTMFA_: multiframes looked for and not found now */
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

/* Simulator extension, the D-channel "dtiBnD" (see the top of this file):
 * dt_dchanwrite returns 0 (EDT_BUSY when frames wait unsent, more than
 * a second of them); dt_dchanread the frame's length, 0 when none waits
 * (EDT_PARAMERR when it is longer than max: it stays). */
int dt_dchanwrite(int dev, const void *frame, int len);
int dt_dchanread(int dev, void *frame, int max);

/* Simulator extension, MFC/R2 register signalling on an E1 CAS timeslot
 * (see DTR2_ above): the board's R2 MF transceiver.  dt_r2mfsend sends
 * signal 1-15 until told otherwise, 0 stops it; while a signal sounds it
 * replaces what the timeslot sends on the line. */
int dt_r2mfmode(int dev, int mode);
int dt_r2mfsend(int dev, int signal);
#endif

#ifdef __cplusplus
}
#endif
#endif
