/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dcblib.h - conference DSPs.
 *
 * Clean-room header of the cti board simulator after the vendor's DCB
 * API.  A conference mixes the transmit timeslots of its parties; each party
 * gets its own output timeslot (everyone but itself), returned in
 * MS_CDT.chan_attr by dcb_estconf / dcb_addtoconf, which the party's device
 * must then listen to.  Party attributes:
 *
 *   MSPA_NULL  hears everyone except the coach; heard by everyone
 *   MSPA_RO    receive only: hears, is never heard (silent monitor)
 *   MSPA_COACH heard by the pupil only (whisper)
 *   MSPA_PUPIL hears everyone and the coach
 *
 * Calls are synchronous.
 */
#ifndef CTI_DCBLIB_H
#define CTI_DCBLIB_H

#include "srllib.h"

#define MSPN_STATION 1   /* (check) */
#define MSPN_TS      2   /* (check) chan_num is a bus timeslot */

#define MSPA_NULL   0x00
#define MSPA_RO     0x01
#define MSPA_TARIFF 0x02
#define MSPA_COACH  0x08
#define MSPA_PUPIL  0x10
#define MSPA_NOAGC  0x20

#define MSCA_NULL 0x00
#define MSCA_ND   0x01
#define MSCA_NN   0x02

#define MAX_PARTIES_PER_DSP 32   /* (check) */

#define E_DCBSUCC     0
#define E_DCBBADDEV   0x41  /* (check) */
#define E_DCBBADPARM  0x42  /* (check) */
#define E_DCBNOROOM   0x43  /* (check) no party room left on the DSP */
#define E_DCBBADCONF  0x44  /* (check) no such conference */
#define E_DCBNOPARTY  0x45  /* (check) no such party */
#define E_DCBBADATTR  0x46  /* (check) second coach or pupil */

typedef struct {
    int chan_num;
    int chan_sel;
    int chan_attr;
} MS_CDT;

#ifdef __cplusplus
extern "C" {
#endif

int dcb_open(const char *name, int oflags);
int dcb_close(int dev);
int dcb_estconf(int dev, MS_CDT *cdt, int numpty, int confattr, int *confid);
int dcb_addtoconf(int dev, int confid, MS_CDT *cdt);
int dcb_remfromconf(int dev, int confid, MS_CDT *cdt);
int dcb_delconf(int dev, int confid);
int dcb_getcde(int dev, int confid, MS_CDT *cdt);
int dcb_setcde(int dev, int confid, MS_CDT *cdt);
int dcb_getcnflist(int dev, int confid, int *numpty, MS_CDT *cdt);
int dcb_dsprescount(int dev, int *count);

#ifdef __cplusplus
}
#endif
#endif
