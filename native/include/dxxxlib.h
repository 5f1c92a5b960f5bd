/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dxxxlib.h - voice resources: hook, rings, dial, play, record, digits.
 *
 * Clean-room header of the cti board simulator after the vendor's Voice
 * API.  A voice channel "dxxxBnCm" is channel m (1-4) of virtual board n.
 * On an analog board each voice channel is paired with a loop-start line:
 * hook, rings, loop current and polarity of that line are driven and
 * reported through the voice channel (dx_sethook, TDX_CST events), and the
 * line's own bus connection is reached with ag_getxmitslot / ag_listen.
 *
 * Operations (play, record, getdig, dial) run one at a time per channel and
 * end when any condition of their DV_TPT table holds; ATDX_TERMMSK says
 * which.  Values marked (check) were not confirmed against vendor
 * documentation.
 */
#ifndef CTI_DXXXLIB_H
#define CTI_DXXXLIB_H

#include "srllib.h"
#include "ctinfo.h"

/* ---- events -------------------------------------------------------------*/
#define TDX_PLAY     0x81
#define TDX_RECORD   0x82
#define TDX_GETDIG   0x83
#define TDX_DIAL     0x84
#define TDX_CALLP    0x85
#define TDX_CST      0x86
#define TDX_SETHOOK  0x87
#define TDX_WINK     0x88
#define TDX_ERROR    0x89
#define TDX_PLAYTONE 0x8A
#define TDX_NOSTOP   0x8D

/* ---- hook ---------------------------------------------------------------*/
#define EV_NOSTOP  0x0200   /* dx_stopch: TDX_NOSTOP when idle */

#define DX_ONHOOK  0
#define DX_OFFHOOK 1

/* ---- call status transitions (DX_CST.cst_event) -------------------------*/
#define DE_RINGS   1
#define DE_SILON   2
#define DE_SILOF   3
#define DE_LCON    4
#define DE_LCOF    5
#define DE_WINK    6
#define DE_RNGOFF  7
#define DE_DIGITS  8
#define DE_LCREV   13
#define DE_TONEON  17
#define DE_TONEOFF 18

#define DM_RINGS   (1 << (DE_RINGS - 1))
#define DM_SILON   (1 << (DE_SILON - 1))
#define DM_SILOF   (1 << (DE_SILOF - 1))
#define DM_LCON    (1 << (DE_LCON - 1))
#define DM_LCOF    (1 << (DE_LCOF - 1))
#define DM_WINK    (1 << (DE_WINK - 1))
#define DM_RNGOFF  (1 << (DE_RNGOFF - 1))
#define DM_DIGITS  (1 << (DE_DIGITS - 1))
#define DM_LCREV   (1 << (DE_LCREV - 1))
#define DM_TONEON  (1 << (DE_TONEON - 1))
#define DM_TONEOFF (1 << (DE_TONEOFF - 1))

/* Tone ids reported in DE_TONEON / DE_TONEOFF and used in DX_TONE (check) */
#define TID_DIAL_LCL 251
#define TID_BUSY1    253
#define TID_BUSY2    254   /* reorder (fast busy) */
#define TID_RNGBK1   255
#define TID_SIT      257
#define TID_FAX1     258   /* CNG, calling fax 1100 Hz */
#define TID_FAX2     259   /* CED, answering fax 2100 Hz */

/* ---- termination --------------------------------------------------------*/
#define TM_NORMTERM 0x0
#define TM_MAXDTMF  0x1
#define TM_MAXSIL   0x2
#define TM_MAXNOSIL 0x4
#define TM_LCOFF    0x8
#define TM_IDDTIME  0x10
#define TM_MAXTIME  0x20
#define TM_DIGIT    0x40
#define TM_PATTERN  0x80
#define TM_USRSTOP  0x100
#define TM_EOD      0x200
#define TM_TONE     0x2000
#define TM_ERROR    0x80000

/* ---- channel states (ATDX_STATE) ----------------------------------------*/
#define CS_IDLE  1
#define CS_PLAY  2
#define CS_RECD  3
#define CS_DIAL  4
#define CS_GTDIG 5
#define CS_TONE  6
#define CS_STOPD 7
#define CS_HOOK  8   /* (check) a sethook in progress */
#define CS_CALL  13

/* ---- call progress results (ATDX_CPTERM) --------------------------------*/
#define CR_BUSY       7
#define CR_NOANS      8
#define CR_NORB       9
#define CR_CNCT       10
#define CR_CEPT       11
#define CR_STOPD      12
#define CR_NODIALTONE 17
#define CR_FAXTONE    18
#define CR_ERROR      0x100

/* ATDX_CONNTYPE: how a connection was recognized (check) */
#define CON_CAD  1   /* cadence break: voice after ringback */
#define CON_LPC  2   /* loop current / polarity */
#define CON_PVD  3   /* positive voice detection */

/* ---- errors (ATDV_LASTERR) ----------------------------------------------*/
#define EDX_NOERROR     0
#define EDX_SYSTEM      1
#define EDX_TIMEOUT     3
#define EDX_BADIOTT     4
#define EDX_BADTPT      5
#define EDX_BADPARM     6
#define EDX_BADDEV      7
#define EDX_BUSY        9
#define EDX_IDLE        10
#define EDX_BADWAVEFILE 12
#define EDX_XPBPARM     13
#define EDX_CLIDINFO    0x1A  /* (check) caller id not (yet) available */
#define EDX_SH_BADEXTTS 0x30  /* (check) timeslot not driven / bad bus use */
#define EDX_SH_LISTEN   0x31  /* (check) already listening: unlisten first */

/* ---- I/O transfer tables ------------------------------------------------*/
#define IO_DEV       0x00
#define IO_CONT      0x01
#define IO_LINK      0x02
#define IO_EOT       0x04
#define IO_MEM       0x08
#define IO_UIO       0x10
#define IO_USEOFFSET 0x80

typedef struct DX_IOTT {
    unsigned short io_type;
    unsigned short rfu;
    int io_fhandle;
    char *io_bufp;
    unsigned long io_offset;
    long io_length;              /* -1: to the end of the file */
    struct DX_IOTT *io_nextp;
    struct DX_IOTT *io_prevp;
} DX_IOTT;

/* ---- termination parameter tables ---------------------------------------*/
#define DX_MAXDTMF  1
#define DX_MAXSIL   2
#define DX_MAXNOSIL 3
#define DX_LCOFF    4
#define DX_IDDTIME  5
#define DX_MAXTIME  6
#define DX_DIGMASK  7
#define DX_DIGTYPE  11
#define DX_TONE     12

#define TF_CLRBEG 0x10   /* (check) clear silence/LC history at start */
#define TF_10MS   0x20   /* time in 10 ms units instead of 100 ms */
#define TF_FIRST  0x80   /* (check) DX_IDDTIME: start after the first digit */

/* DX_DIGMASK bits (tp_length) */
#define DM_D 0x0001
#define DM_1 0x0002
#define DM_2 0x0004
#define DM_3 0x0008
#define DM_4 0x0010
#define DM_5 0x0020
#define DM_6 0x0040
#define DM_7 0x0080
#define DM_8 0x0100
#define DM_9 0x0200
#define DM_0 0x0400
#define DM_S 0x0800      /* '*' */
#define DM_P 0x1000      /* '#' */
#define DM_A 0x2000
#define DM_B 0x4000
#define DM_C 0x8000

typedef struct DV_TPT {
    unsigned short tp_type;      /* IO_CONT, IO_LINK or IO_EOT */
    unsigned short tp_termno;
    unsigned short tp_length;
    unsigned short tp_flags;
    unsigned short tp_data;
    unsigned short rfu;
    struct DV_TPT *tp_nextp;
} DV_TPT;

/* ---- digits -------------------------------------------------------------*/
#define LEN_DIGBUF 31
#define DG_DTMF 0x30   /* (check) dg_type values and DE_DIGITS high byte */
#define DG_MF   0x31

#define D_DTMF 0x01    /* dx_setdigtyp */
#define D_MF   0x04

typedef struct {
    char dg_value[LEN_DIGBUF + 1];
    char dg_type[LEN_DIGBUF + 1];
} DV_DIGIT;

typedef struct {
    unsigned short cst_event;
    unsigned short cst_data;
} DX_CST;

typedef struct {
    unsigned short ev_event;
    unsigned short ev_data;
    unsigned char ev_rfu[12];
} DX_EBLK;

/* ---- play / record formats ----------------------------------------------*/
#define FILE_FORMAT_VOX  1
#define FILE_FORMAT_WAVE 2
#define DATA_FORMAT_DIALOGIC_ADPCM 1
#define DATA_FORMAT_ALAW  3
#define DATA_FORMAT_MULAW 7
#define DATA_FORMAT_PCM   8
#define DRT_8KHZ 8000

typedef struct {
    unsigned short wFileFormat;
    unsigned short wDataFormat;
    unsigned long nSamplesPerSec;
    unsigned short wBitsPerSample;
} DX_XPB;

/* ---- call progress ------------------------------------------------------*/
#define DX_CALLP 0x0100

typedef struct {
    unsigned short ca_nbrdna;    /* ringbacks before CR_NOANS (default 4) */
    unsigned short ca_cnosig;    /* 10 ms units of no signal before CR_NORB (default 4000) */
    unsigned short ca_noanswer;  /* 10 ms units after ringback before CR_NOANS (default 3000) */
    unsigned short ca_intflg;    /* SIT handling: DX_OPTEN reports CR_CEPT (default) */
    unsigned short ca_dtn_pres;  /* 10 ms units of dial tone required before dialling */
    unsigned short ca_dtn_npres; /* 10 ms units to wait for dial tone; 0: do not check */
    unsigned short ca_dtn_deboff;
    unsigned short ca_hedge;     /* 1: report CR_CNCT at the first voice */
} DX_CAP;
#define DX_OPTEN  1
#define DX_OPTDIS 2

/* ---- tone generation ----------------------------------------------------*/
typedef struct {
    unsigned short tg_dflag;   /* TN_SINGLE or TN_DUAL */
    unsigned short tg_freq1, tg_freq2;
    short tg_ampl1, tg_ampl2;  /* dB */
    short tg_dur;              /* 10 ms units; -1 forever */
} TN_GEN;
#define TN_SINGLE 0
#define TN_DUAL   1

/* ---- channel parameters (dx_setparm / dx_getparm) -----------------------*/
/* The level below which a voice channel hears silence (DE_SILON / DE_SILOF,
 * DX_MAXSIL, DX_MAXNOSIL): an int in dBm0 from -60 to -20, -40 unless set.
 * (check) the parameter's name in a vendor's SDK: drivers/_cdefs/dxxx.py
 * builds without it and the driver then refuses to change the level. */
#define DXCH_SILENCETHRESH 0x0E10
#define DX_SILENCETHRESH_MIN (-60)
#define DX_SILENCETHRESH_MAX (-20)

#ifdef __cplusplus
extern "C" {
#endif

int dx_open(const char *name, int oflags);
int dx_close(int dev);
int dx_sethook(int ch, int state, unsigned short mode);
int dx_setevtmsk(int ch, unsigned int mask);
int dx_wtring(int ch, int nrings, int hstate, int timeout);
int dx_dial(int ch, const char *dialstr, DX_CAP *cap, unsigned short mode);
int dx_play(int ch, DX_IOTT *iott, DV_TPT *tpt, unsigned short mode);
int dx_playiottdata(int ch, DX_IOTT *iott, DV_TPT *tpt, DX_XPB *xpb,
                    unsigned short mode);
int dx_rec(int ch, DX_IOTT *iott, DV_TPT *tpt, unsigned short mode);
int dx_reciottdata(int ch, DX_IOTT *iott, DV_TPT *tpt, DX_XPB *xpb,
                   unsigned short mode);
int dx_getdig(int ch, DV_TPT *tpt, DV_DIGIT *digits, unsigned short mode);
int dx_clrdigbuf(int ch);
int dx_setdigtyp(int ch, unsigned short dmask);
int dx_stopch(int ch, unsigned short mode);
void dx_clrcap(DX_CAP *cap);
int dx_clrtpt(DV_TPT *tpt, int size);
int dx_bldtngen(TN_GEN *tngen, unsigned short freq1, unsigned short freq2,
                short ampl1, short ampl2, short dur);
int dx_playtone(int ch, TN_GEN *tngen, DV_TPT *tpt, unsigned short mode);
int dx_gtcallid(int ch, unsigned char *buf);
int dx_gtextcallid(int ch, int infotype, unsigned char *buf);
int dx_fileopen(const char *path, int flags, ...);
int dx_fileclose(int fd);
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
int ag_getctinfo(int ch, CT_DEVINFO *info);

#ifdef __cplusplus
}
#endif

/* dx_gtextcallid info types (check) */
#define MCLASS_DATETIME   0x01
#define MCLASS_DN         0x02
#define MCLASS_ABSENCE1   0x04
#define MCLASS_NAME       0x07
#define MCLASS_ABSENCE2   0x08
#define CLIDINFO_CMPLT    0x100   /* number and name: "number name" */
#define CLIDINFO_GENERAL  0x101   /* date/time, number, name on separate fields */
#define CLIDINFO_CALLID   0x102   /* the number */
#define CLIDINFO_FRAMETYPE 0x103  /* "S" single or "M" multiple data message */

/* ATDX_LINEST bits (check) */
#define RLS_LCSENSE  0x01   /* loop current present */
#define RLS_RING     0x02   /* ringing now */
#define RLS_POLARITY 0x04   /* reversed polarity */

#endif
