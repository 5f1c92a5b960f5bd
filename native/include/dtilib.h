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

/* Simulator extension: the span's active alarms as bits 1 << DTT1_x. */
long ATDT_ALARMS(int dev);

#ifdef __cplusplus
}
#endif
#endif
