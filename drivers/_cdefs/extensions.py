# SPDX-License-Identifier: GPL-2.0-or-later
"""The simulator's additions to the vendor headers (simulator builds only).

None of these is in a vendor's R4 API; our headers declare them only
without CTI_VENDOR_ONLY:

- srllib.h: `sr_getevtfd`, a descriptor readable while events are pending
  (without it the driver waits for events in one thread: drivers/pump.py);
- dtilib.h: `ATDT_ALARMS`, a span's alarms now (without it the driver keeps
  them from the DTEV_T1ERRC events), span maintenance: counters, line
  state, loopbacks, loop codes, BERT, and an ISDN span's D-channel "dtiBnD"
  (`dt_dchanwrite`, `dt_dchanread`, DTEV_DCHAN), and MFC/R2 register
  signals on an E1 CAS timeslot (`dt_r2mfmode`, `dt_r2mfsend`, DTEV_R2MF)
  (without them DriverNotSupported);
- msilib.h: `ms_settone`, a tone from the station port itself (without it
  voice channels play the tones: drivers/stationtones.py).

The vendor-only binding (drivers._r4_vendor) and a vendor SDK build leave
this module out: their `lib` has none of these names.
"""

INCLUDES = """
#ifndef CTI_SIM_EXTENSIONS
#error "the simulator's extensions need the simulator's headers (native/include)"
#endif
"""

_CONSTANTS = """
MS_TONE_NONE MS_TONE_DIAL MS_TONE_RINGBACK MS_TONE_BUSY MS_TONE_REORDER
DTFR_ESF DTFR_D4 DTFR_E1 DTFR_E1_CRC4 DTCD_B8ZS DTCD_AMI DTCD_HDB3 DTCK_LINE
DTCK_INTERNAL DTMFA_CRC4 DTMFA_CAS DTEV_DCHAN DT_DCHAN_MAX
DTLB_NONE DTLB_LOCAL DTLB_LINE DTLB_PAYLOAD
DTLC_NONE DTLC_LINEUP DTLC_LINEDOWN DTLC_PAYLOADUP DTLC_PAYLOADDOWN
DTBT_QRSS DTBT_2E15 DTBT_2E20 DTBT_ALLONES
DTR2_OFF DTR2_FORWARD DTR2_BACKWARD DTEV_R2MF
"""

_STRUCTS = {
    "DT_COUNTERS": """
    unsigned long dc_seconds;
    unsigned long dc_bpv;
    unsigned long dc_exz;
    unsigned long dc_crc;
    unsigned long dc_fas;
    unsigned long dc_oof;
    unsigned long dc_slips;
    unsigned long dc_ebit;
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
    unsigned char dl_dchannel;
    unsigned char dl_mfalost;
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

TYPES = "".join(f"#define {name} ...\n" for name in _CONSTANTS.split()) + "".join(
    f"typedef struct {{{fields}    ...;\n}} {name};\n" for name, fields in _STRUCTS.items())

FUNCTIONS = """
int sr_getevtfd(void);
long ATDT_ALARMS(int dev);
int dt_getcounters(int dev, DT_COUNTERS *counters);
int dt_getlinestate(int dev, DT_LINESTATE *state);
int dt_setloopback(int dev, int mode);
int dt_sendloopcode(int dev, int code);
int dt_bertstart(int dev, int pattern);
int dt_bertresults(int dev, DT_BERT *results);
int dt_bertstop(int dev, DT_BERT *results);
int dt_dchanwrite(int dev, const void *frame, int len);
int dt_dchanread(int dev, void *frame, int max);
int dt_r2mfmode(int dev, int mode);
int dt_r2mfsend(int dev, int signal);
int ms_settone(int dev, int tone);
"""

CUSTOMIZATIONS = ""
