# SPDX-License-Identifier: GPL-2.0-or-later
"""dcblib.h: conference DSPs."""

INCLUDES = "#include <dcblib.h>"

_CONSTANTS = """
MSPN_TS MSPA_NULL MSPA_RO MSPA_COACH MSPA_PUPIL MSCA_NULL MAX_PARTIES_PER_DSP
"""

TYPES = "".join(f"#define {name} ...\n" for name in _CONSTANTS.split()) + """
typedef struct { int chan_num; int chan_sel; int chan_attr; ...; } MS_CDT;
"""

FUNCTIONS = """
int dcb_open(const char *name, int oflags);
int dcb_close(int dev);
int dcb_estconf(int dev, MS_CDT *cdt, int numpty, int confattr, int *confid);
int dcb_addtoconf(int dev, int confid, MS_CDT *cdt);
int dcb_remfromconf(int dev, int confid, MS_CDT *cdt);
int dcb_delconf(int dev, int confid);
int dcb_getcde(int dev, int confid, MS_CDT *cdt);
int dcb_setcde(int dev, int confid, MS_CDT *cdt);
int dcb_dsprescount(int dev, int *count);
"""

CUSTOMIZATIONS = ""
