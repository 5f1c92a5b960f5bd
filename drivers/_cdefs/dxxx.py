# SPDX-License-Identifier: GPL-2.0-or-later
"""dxxxlib.h: voice resources (play, record, digits, dial) and analog lines.

The silence threshold's channel parameter (DXCH_SILENCETHRESH, set with
dx_setparm) may be missing from a vendor's SDK: HAS_SILENCE_THRESHOLD says
whether the headers compiled in define it (without, the driver refuses to
change the level: drivers.r4 `set_silence_level`)."""

INCLUDES = "#include <dxxxlib.h>"

_CONSTANTS = """
TDX_PLAY TDX_RECORD TDX_GETDIG TDX_DIAL TDX_CALLP TDX_CST TDX_SETHOOK TDX_WINK
TDX_ERROR TDX_PLAYTONE TDX_NOSTOP EV_NOSTOP DX_ONHOOK DX_OFFHOOK
DE_RINGS DE_SILON DE_SILOF DE_LCON DE_LCOF DE_WINK DE_RNGOFF DE_DIGITS DE_LCREV
DE_TONEON DE_TONEOFF DM_RINGS DM_SILON DM_SILOF DM_LCON DM_LCOF DM_WINK DM_RNGOFF
DM_DIGITS DM_LCREV DM_TONEON DM_TONEOFF
TID_DIAL_LCL TID_BUSY1 TID_BUSY2 TID_RNGBK1 TID_SIT TID_FAX1 TID_FAX2
TM_NORMTERM TM_MAXDTMF TM_MAXSIL TM_MAXNOSIL TM_LCOFF TM_IDDTIME TM_MAXTIME
TM_DIGIT TM_PATTERN TM_USRSTOP TM_EOD TM_TONE TM_ERROR
CS_IDLE CS_PLAY CS_RECD CS_DIAL CS_GTDIG CS_TONE CS_STOPD CS_CALL
CR_BUSY CR_NOANS CR_NORB CR_CNCT CR_CEPT CR_STOPD CR_NODIALTONE CR_FAXTONE CR_ERROR
CON_CAD CON_LPC CON_PVD
EDX_SYSTEM EDX_TIMEOUT EDX_BADIOTT EDX_BADTPT EDX_BADPARM EDX_BADDEV EDX_BUSY
EDX_IDLE EDX_BADWAVEFILE EDX_XPBPARM EDX_CLIDINFO EDX_SH_BADEXTTS EDX_SH_LISTEN
IO_DEV IO_CONT IO_LINK IO_EOT IO_MEM IO_UIO IO_USEOFFSET
DX_MAXDTMF DX_MAXSIL DX_MAXNOSIL DX_LCOFF DX_IDDTIME DX_MAXTIME DX_DIGMASK
DX_DIGTYPE DX_TONE TF_CLRBEG TF_10MS TF_FIRST
DM_D DM_1 DM_2 DM_3 DM_4 DM_5 DM_6 DM_7 DM_8 DM_9 DM_0 DM_S DM_P DM_A DM_B DM_C
LEN_DIGBUF DG_DTMF DG_MF D_DTMF D_MF
FILE_FORMAT_VOX FILE_FORMAT_WAVE DATA_FORMAT_DIALOGIC_ADPCM DATA_FORMAT_ALAW
DATA_FORMAT_MULAW DATA_FORMAT_PCM DRT_8KHZ DX_CALLP DX_OPTEN DX_OPTDIS
TN_SINGLE TN_DUAL
MCLASS_DATETIME MCLASS_DN MCLASS_ABSENCE1 MCLASS_NAME MCLASS_ABSENCE2
CLIDINFO_CMPLT CLIDINFO_GENERAL CLIDINFO_CALLID CLIDINFO_FRAMETYPE
RLS_LCSENSE RLS_RING RLS_POLARITY DXCH_SILENCETHRESH
"""

TYPES = "".join(f"#define {name} ...\n" for name in _CONSTANTS.split()) + """
static const int HAS_SILENCE_THRESHOLD;
typedef struct { unsigned long sc_numts; long *sc_tsarrayp; ...; } SC_TSINFO;
typedef struct {
    unsigned long ct_prodid;
    unsigned char ct_devfamily;
    unsigned char ct_devmode;
    unsigned char ct_nettype;
    unsigned char ct_busmode;
    unsigned char ct_busencoding;
    ...;
} CT_DEVINFO;
typedef struct DX_IOTT {
    unsigned short io_type;
    int io_fhandle;
    char *io_bufp;
    unsigned long io_offset;
    long io_length;
    struct DX_IOTT *io_nextp;
    struct DX_IOTT *io_prevp;
    ...;
} DX_IOTT;
typedef struct DV_TPT {
    unsigned short tp_type;
    unsigned short tp_termno;
    unsigned short tp_length;
    unsigned short tp_flags;
    unsigned short tp_data;
    struct DV_TPT *tp_nextp;
    ...;
} DV_TPT;
typedef struct { char dg_value[...]; char dg_type[...]; ...; } DV_DIGIT;
typedef struct { unsigned short cst_event; unsigned short cst_data; ...; } DX_CST;
typedef struct {
    unsigned short wFileFormat;
    unsigned short wDataFormat;
    unsigned long nSamplesPerSec;
    unsigned short wBitsPerSample;
    ...;
} DX_XPB;
typedef struct {
    unsigned short ca_nbrdna;
    unsigned short ca_cnosig;
    unsigned short ca_noanswer;
    unsigned short ca_intflg;
    unsigned short ca_dtn_pres;
    unsigned short ca_dtn_npres;
    unsigned short ca_dtn_deboff;
    ...;
} DX_CAP;
typedef struct {
    unsigned short tg_dflag;
    unsigned short tg_freq1;
    unsigned short tg_freq2;
    short tg_ampl1;
    short tg_ampl2;
    short tg_dur;
    ...;
} TN_GEN;
"""

FUNCTIONS = """
int dx_open(const char *name, int oflags);
int dx_close(int dev);
int dx_sethook(int ch, int state, unsigned short mode);
int dx_setevtmsk(int ch, unsigned int mask);
int dx_dial(int ch, const char *dialstr, DX_CAP *cap, unsigned short mode);
int dx_playiottdata(int ch, DX_IOTT *iott, DV_TPT *tpt, DX_XPB *xpb, unsigned short mode);
int dx_reciottdata(int ch, DX_IOTT *iott, DV_TPT *tpt, DX_XPB *xpb, unsigned short mode);
int dx_getdig(int ch, DV_TPT *tpt, DV_DIGIT *digits, unsigned short mode);
int dx_clrdigbuf(int ch);
int dx_setdigtyp(int ch, unsigned short dmask);
int dx_stopch(int ch, unsigned short mode);
void dx_clrcap(DX_CAP *cap);
int dx_bldtngen(TN_GEN *tngen, unsigned short freq1, unsigned short freq2,
                short ampl1, short ampl2, short dur);
int dx_playtone(int ch, TN_GEN *tngen, DV_TPT *tpt, unsigned short mode);
int dx_gtextcallid(int ch, int infotype, unsigned char *buf);
int dx_getctinfo(int ch, CT_DEVINFO *info);
int dx_setparm(int dev, unsigned long parm, void *valuep);
int dx_getparm(int dev, unsigned long parm, void *valuep);
long ATDX_TERMMSK(int ch);
long ATDX_STATE(int ch);
long ATDX_CPTERM(int ch);
long ATDX_CONNTYPE(int ch);
long ATDX_HOOKST(int ch);
long ATDX_LINEST(int ch);
int dx_getxmitslot(int ch, SC_TSINFO *ts);
int dx_listen(int ch, SC_TSINFO *ts);
int dx_unlisten(int ch);
int ag_getxmitslot(int ch, SC_TSINFO *ts);
int ag_listen(int ch, SC_TSINFO *ts);
int ag_unlisten(int ch);
"""

CUSTOMIZATIONS = """
#ifdef DXCH_SILENCETHRESH
static const int HAS_SILENCE_THRESHOLD = 1;
#else
static const int HAS_SILENCE_THRESHOLD = 0;
#define DXCH_SILENCETHRESH 0
#endif
"""
