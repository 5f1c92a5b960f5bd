# SPDX-License-Identifier: GPL-2.0-or-later
"""msilib.h: station ports (the agents' analog phones)."""

INCLUDES = "#include <msilib.h>"

_CONSTANTS = """
MSEV_RING MSEV_NORING MSEV_SIGEVT MSEV_SIGMSK MSMM_OFFHOOK MSMM_ONHOOK
MSMM_HOOKFLASH MS_ONHOOK MS_OFFHOOK MS_RNG_DEFAULT MS_RNG_SHORT MS_RNG_CHINA
MTF_RING
"""

TYPES = "".join(f"#define {name} ...\n" for name in _CONSTANTS.split())

FUNCTIONS = """
int ms_open(const char *name, int oflags);
int ms_close(int dev);
int ms_genringex(int dev, unsigned short cycles, unsigned short mode, unsigned short cadid);
int ms_stopfn(int dev, unsigned long function);
int ms_setevtmsk(int dev, unsigned long event, unsigned short bitmask, int action);
long ATMS_TSSGBIT(int dev);
int ms_getxmitslot(int dev, SC_TSINFO *ts);
int ms_listen(int dev, SC_TSINFO *ts);
int ms_unlisten(int dev);
"""

CUSTOMIZATIONS = ""
