# SPDX-License-Identifier: GPL-2.0-or-later
"""dtilib.h: T1/E1 spans, timeslots, robbed-bit signalling and alarms, and
span maintenance (counters, loopbacks, loop codes, BERT)."""

INCLUDES = "#include <dtilib.h>"

_CONSTANTS = """
DTEV_T1ERRC DTEV_SIG DTEV_WINKCPLT DTG_T1ERREVT DTG_SIGEVT DTA_SETMSK DTA_ADDMSK
DTA_SUBMSK DTB_ABIT DTB_BBIT DTB_AON DTB_AOFF DTB_BON DTB_BOFF
DTSG_XMTA DTSG_XMTB DTSG_RCVA DTSG_RCVB DTMM_AOFF DTMM_AON DTMM_BOFF DTMM_BON
DTMM_WINK DTT1_OOF DTT1_LOS DTT1_BPVS DTT1_ECS DTT1_RYEL DTT1_RCL DTT1_FERR
DTT1_RBL DTT1_RLOS DTT1_RED DTT1_CLEARED DTEC_RLOS DTEC_RBL DTEC_RYEL DTEC_LOS
DTEC_RED DTEC_OOF DTA_NONE DTA_TERM DTA_DROP EDT_SYSTEM EDT_BADDEV EDT_BUSY
EDT_PARAMERR DTV_NUMTS
"""

# Span maintenance: the simulator's calls (a vendor SDK build gets stubs).
_MAINTENANCE_CONSTANTS = """
DTFR_ESF DTFR_D4 DTCD_B8ZS DTCD_AMI DTCK_LINE DTCK_INTERNAL
DTLB_NONE DTLB_LOCAL DTLB_LINE DTLB_PAYLOAD
DTLC_NONE DTLC_LINEUP DTLC_LINEDOWN DTLC_PAYLOADUP DTLC_PAYLOADDOWN
DTBT_QRSS DTBT_2E15 DTBT_2E20 DTBT_ALLONES
"""

_MAINTENANCE_STRUCTS = {
    "DT_COUNTERS": """
    unsigned long dc_seconds;
    unsigned long dc_bpv;
    unsigned long dc_exz;
    unsigned long dc_crc;
    unsigned long dc_fas;
    unsigned long dc_oof;
    unsigned long dc_slips;
    unsigned char dc_los;
    unsigned char dc_ais;
    unsigned char dc_oofnow;
""",
    "DT_LINESTATE": """
    unsigned char dl_framing;
    unsigned char dl_coding;
    unsigned char dl_clock;
    unsigned char dl_loopback;
    unsigned char dl_loopcode;
""",
    "DT_BERT": """
    unsigned char db_pattern;
    unsigned char db_sync;
    unsigned long long db_bits;
    unsigned long long db_errors;
    unsigned long db_synclosses;
    unsigned long db_seconds;
    unsigned long db_errsecs;
""",
}

_MAINTENANCE_FUNCTIONS = """
int dt_getcounters(int dev, DT_COUNTERS *counters);
int dt_getlinestate(int dev, DT_LINESTATE *state);
int dt_setloopback(int dev, int mode);
int dt_sendloopcode(int dev, int code);
int dt_bertstart(int dev, int pattern);
int dt_bertresults(int dev, DT_BERT *results);
int dt_bertstop(int dev, DT_BERT *results);
"""

TYPES = "".join(
    f"#define {name} ...\n" for name in (_CONSTANTS + _MAINTENANCE_CONSTANTS).split()
) + "".join(
    f"typedef struct {{{fields}    ...;\n}} {name};\n"
    for name, fields in _MAINTENANCE_STRUCTS.items()
)

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
long ATDT_ALARMS(int dev);
""" + _MAINTENANCE_FUNCTIONS


def _stubs():
    """For a vendor SDK: the maintenance names exist so the binding builds,
    every call fails, and the driver refuses before making one
    (HAS_SIM_EXTENSIONS is 0).  The values are placeholders."""
    names = _MAINTENANCE_CONSTANTS.split()
    defines = "".join(f"#define {name} {i}\n" for i, name in enumerate(names, 1))
    structs = "".join(f"typedef struct {{{fields}}} {name};\n"
                      for name, fields in _MAINTENANCE_STRUCTS.items())
    bodies = "".join(
        line.replace(";", " { return -1; }\n")
        for line in _MAINTENANCE_FUNCTIONS.strip().splitlines())
    return defines + structs + bodies


CUSTOMIZATIONS = f"""
#ifndef CTI_SIM_EXTENSIONS
long ATDT_ALARMS(int dev) {{ (void)dev; return -1; }}
{_stubs()}#endif
"""
