/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * srllib.h - Standard Runtime Library: devices, events, errors.
 *
 * Clean-room header of the cti board simulator, following the names and
 * semantics of the vendor's documented R4 API (SRL Programming Guide).
 * Values marked (check) were not confirmed against vendor documentation; a
 * binding compiled against a real SDK takes the SDK's values instead.
 *
 * Every device is opened by name (dx_open("dxxxB1C1"), dt_open("dtiB1T1"),
 * ms_open("msiB1C1"), dcb_open("dcbB1D1")) and yields a handle > 0.  Calls
 * made with EV_ASYNC return at once; their completion arrives later as an
 * event, fetched with sr_waitevt() and read with the sr_getevt*() calls:
 *
 *     dx_play(ch, iott, tpt, EV_ASYNC);
 *     while (sr_waitevt(-1) == 0)
 *         if (sr_getevttype(0) == TDX_PLAY) ... ATDX_TERMMSK(ch) ...
 *
 * The simulator adds one call, sr_getevtfd(), a file descriptor that is
 * readable while events are pending, so an event loop (Twisted's reactor)
 * can watch it instead of blocking in sr_waitevt().
 *
 * Every simulator extension in these headers (this one, ATDT_ALARMS and the
 * span maintenance calls of dtilib.h, ms_settone of msilib.h) is declared
 * only without CTI_VENDOR_ONLY: compiled with -DCTI_VENDOR_ONLY the headers
 * offer what a vendor SDK offers and no more, which is how the vendor-only
 * binding (drivers._r4_vendor) proves the driver needs none of them.
 */
#ifndef CTI_SRLLIB_H
#define CTI_SRLLIB_H

#ifndef CTI_VENDOR_ONLY
#define CTI_SIM_EXTENSIONS 1    /* this header set is the simulator's */
#endif

#define EV_ANYDEV   -1
#define EV_ANYEVT   0xFFFFFFFFUL
#define SRL_DEVICE  0

#define EV_SYNC     0x0000
#define EV_ASYNC    0x8000

/* SRL errors (ATDV_LASTERR(SRL_DEVICE)) (check) */
#define ESR_NOERR   0
#define ESR_SCAN    1
#define ESR_PARMERR 2
#define ESR_TMOUT   3
#define ESR_SYS     4
#define ESR_NOHDLR  5

/* Device classes for sr_getboardcnt (check) */
#define DEV_CLASS_VOICE "Voice"
#define DEV_CLASS_DTI   "DTI"
#define DEV_CLASS_MSI   "MSI"
#define DEV_CLASS_DCB   "DCB"

#ifdef __cplusplus
extern "C" {
#endif

typedef long (*EVTHDLRTYP)(unsigned long);

long sr_waitevt(long tmout);
long sr_waitevtEx(long *handlep, int count, long tmout, long *evthp);
long sr_getevtdev(unsigned long evh);
long sr_getevttype(unsigned long evh);
long sr_getevtlen(unsigned long evh);
void *sr_getevtdatap(unsigned long evh);
long sr_enbhdlr(long dev, unsigned long evt, EVTHDLRTYP handler);
long sr_dishdlr(long dev, unsigned long evt, EVTHDLRTYP handler);
long sr_putevt(long dev, unsigned long evt, long len, void *datap, long err);
int sr_getboardcnt(const char *devclass, int *count);

long ATDV_LASTERR(long dev);
char *ATDV_ERRMSGP(long dev);
char *ATDV_NAMEP(long dev);
long ATDV_SUBDEVS(long dev);

#ifdef CTI_SIM_EXTENSIONS
/* Simulator extension: readable while events are pending. */
int sr_getevtfd(void);
#endif

#ifdef __cplusplus
}
#endif
#endif
