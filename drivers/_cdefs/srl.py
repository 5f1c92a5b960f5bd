# SPDX-License-Identifier: GPL-2.0-or-later
"""srllib.h: devices, events and errors of the Standard Runtime Library."""

INCLUDES = "#include <srllib.h>"

TYPES = """
#define EV_ANYDEV ...
#define EV_ANYEVT ...
#define SRL_DEVICE ...
#define EV_SYNC ...
#define EV_ASYNC ...
#define ESR_TMOUT ...
typedef long (*EVTHDLRTYP)(unsigned long);
"""

FUNCTIONS = """
long sr_waitevt(long tmout);
long sr_waitevtEx(long *handlep, int count, long tmout, long *evthp);
long sr_getevtdev(unsigned long evh);
long sr_getevttype(unsigned long evh);
long sr_getevtlen(unsigned long evh);
void *sr_getevtdatap(unsigned long evh);
long sr_putevt(long dev, unsigned long evt, long len, void *datap, long err);
long sr_enbhdlr(long dev, unsigned long evt, EVTHDLRTYP handler);
long sr_dishdlr(long dev, unsigned long evt, EVTHDLRTYP handler);
extern "Python" long cti_srl_handler(unsigned long);
int sr_getboardcnt(char *devclass, int *count);
long ATDV_LASTERR(long dev);
char *ATDV_ERRMSGP(long dev);
char *ATDV_NAMEP(long dev);
long ATDV_SUBDEVS(long dev);
"""

CUSTOMIZATIONS = ""
