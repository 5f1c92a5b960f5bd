/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ctinfo.h - CT-Bus structures shared by every device family.
 *
 * Each device transmits on one bus timeslot fixed at board configuration
 * (read it with xx_getxmitslot) and listens to at most one timeslot chosen
 * by the application (xx_listen / xx_unlisten).
 */
#ifndef CTI_CTINFO_H
#define CTI_CTINFO_H

typedef struct {
    unsigned long sc_numts;
    long *sc_tsarrayp;
} SC_TSINFO;

typedef struct {
    unsigned long ct_prodid;
    unsigned char ct_devfamily;
    unsigned char ct_devmode;
    unsigned char ct_nettype;
    unsigned char ct_busmode;
    unsigned char ct_busencoding;
    unsigned char ct_rfu[7];
} CT_DEVINFO;

/* ct_devfamily (check) */
#define CT_DFD41D     1   /* analog voice board */
#define CT_DFSPAN     2   /* digital span with voice */
#define CT_DFMSI      3   /* station interface */
#define CT_DFDCB      4   /* conference DSP */
/* ct_devmode (check) */
#define CT_DMRESOURCE 0
#define CT_DMNETWORK  1
/* ct_nettype */
#define CT_NTNONE     0
#define CT_NTT1       1
#define CT_NTE1       2
#define CT_NTANALOG   3
#define CT_NTMSI      4
/* ct_busmode */
#define CT_BMSCBUS    1
#define CT_BMH100     6
#define CT_BMH110     7
/* ct_busencoding */
#define CT_BEULAW     0
#define CT_BEALAW     1

#endif
