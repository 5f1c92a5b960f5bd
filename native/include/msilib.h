/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * msilib.h - station interface: the agents' analog phones (FXS ports).
 *
 * Clean-room header of the cti board simulator after the vendor's MSI API.
 * The board feeds battery and ring to "msiBnCm": ms_genring() rings the
 * phone with a cadence until it goes off-hook (MSEV_RING) or the cycles
 * run out (MSEV_NORING); hook changes arrive as MSEV_SIGEVT when enabled
 * with ms_setevtmsk().  The simulator extension ms_settone() plays dial,
 * busy, ringback or reorder tone to the phone from the port itself.
 */
#ifndef CTI_MSILIB_H
#define CTI_MSILIB_H

#include "srllib.h"
#include "ctinfo.h"

#define MSEV_RING    0x3101   /* (check) the phone answered while ringing */
#define MSEV_NORING  0x3102   /* (check) ring cycles ran out / stopped */
#define MSEV_SIGEVT  0x3103   /* (check) hook state change, data MSMM_x */
#define MSEV_ERREVT  0x3104

#define MSEV_SIGMSK   0x01    /* ms_setevtmsk event type (check) */
#define MSMM_OFFHOOK  0x01
#define MSMM_ONHOOK   0x02
#define MSMM_HOOKFLASH 0x04

#define MS_ONHOOK  0
#define MS_OFFHOOK 1

/* ms_genringex cadence ids (check) */
#define MS_RNG_DEFAULT 0      /* 2 s on / 4 s off */
#define MS_RNG_SHORT   1      /* 0.8 s on, 0.4 s off, 0.8 s on, 4 s off */
#define MS_RNG_CHINA   2      /* 1 s on / 4 s off */

#ifdef CTI_SIM_EXTENSIONS
/* ms_settone tones */
#define MS_TONE_NONE     0
#define MS_TONE_DIAL     1
#define MS_TONE_RINGBACK 2
#define MS_TONE_BUSY     3
#define MS_TONE_REORDER  4
#endif

#define E_MSSUCC    0
#define E_MSBADDEV  0x21   /* (check) */
#define E_MSBADPARM 0x22   /* (check) */
#define E_MSBUSY    0x23   /* (check) */
#define E_MSOFFHOOK 0x24   /* (check) ring requested while off-hook */

#ifdef __cplusplus
extern "C" {
#endif

int ms_open(const char *name, int oflags);
int ms_close(int dev);
int ms_genring(int dev, unsigned short cycles, unsigned short mode);
int ms_genringex(int dev, unsigned short cycles, unsigned short mode,
                 unsigned short cadid);
int ms_stopfn(int dev, unsigned long function);
int ms_setevtmsk(int dev, unsigned long event, unsigned short bitmask,
                 int action);
long ATMS_TSSGBIT(int dev);   /* MS_OFFHOOK / MS_ONHOOK */
int ms_getxmitslot(int dev, SC_TSINFO *ts);
int ms_listen(int dev, SC_TSINFO *ts);
int ms_unlisten(int dev);
int ms_getctinfo(int dev, CT_DEVINFO *info);

#ifdef CTI_SIM_EXTENSIONS
/* Simulator extension: a tone from the port to the phone. */
int ms_settone(int dev, int tone);
#endif

#define MTF_RING 0x01   /* ms_stopfn: stop ringing */

#ifdef __cplusplus
}
#endif
#endif
