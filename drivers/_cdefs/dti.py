# SPDX-License-Identifier: GPL-2.0-or-later
"""dtilib.h: T1/E1 spans, timeslots, signalling bits and alarms (DTT1_ codes
on T1, DTE1_ on E1).  (Span maintenance, the alarm query and the D-channel
are the simulator's: extensions.py.)"""

INCLUDES = "#include <dtilib.h>"

_CONSTANTS = """
DTEV_T1ERRC DTEV_SIG DTEV_WINKCPLT DTG_T1ERREVT DTG_SIGEVT DTA_SETMSK DTA_ADDMSK
DTA_SUBMSK DTB_ABIT DTB_BBIT DTB_CBIT DTB_DBIT DTB_AON DTB_AOFF DTB_BON DTB_BOFF
DTB_CON DTB_COFF DTB_DON DTB_DOFF
DTSG_XMTA DTSG_XMTB DTSG_XMTC DTSG_XMTD DTSG_RCVA DTSG_RCVB DTSG_RCVC DTSG_RCVD
DTMM_AOFF DTMM_AON DTMM_BOFF DTMM_BON DTMM_COFF DTMM_CON DTMM_DOFF DTMM_DON
DTMM_WINK DTT1_OOF DTT1_LOS DTT1_BPVS DTT1_ECS DTT1_RYEL DTT1_RCL DTT1_FERR
DTT1_RBL DTT1_RLOS DTT1_RED DTT1_CLEARED DTEC_RLOS DTEC_RBL DTEC_RYEL DTEC_LOS
DTEC_RED DTEC_OOF DTEV_E1ERRC DTG_E1ERREVT DTE1_LOS DTE1_BPVS DTE1_ECS DTE1_RRA
DTE1_FSERR DTE1_RUA1 DTE1_RLOS DTE1_RED DTE1_MFSERR DTE1_RSA1 DTE1_RDMA DTE1_CECS
DEEC_RLOS DEEC_RUA1 DEEC_FSERR DEEC_RRA DEEC_ECS DEEC_BPVS DEEC_LOS DEEC_RED
DEEC_MFSERR DEEC_RSA1 DEEC_RDMA DEEC_CECS
DTA_NONE DTA_TERM DTA_DROP EDT_SYSTEM EDT_BADDEV EDT_BUSY
EDT_PARAMERR DTV_NUMTS CT_NTT1 CT_NTE1
"""

TYPES = "".join(f"#define {name} ...\n" for name in _CONSTANTS.split())

FUNCTIONS = """
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
"""

CUSTOMIZATIONS = ""
