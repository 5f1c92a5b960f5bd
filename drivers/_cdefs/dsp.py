# SPDX-License-Identifier: GPL-2.0-or-later
"""dsp.h: the simulator's own DSP (only in a simulator build), for tests
that measure a detector directly, such as the DTMF receiver sweep."""

INCLUDES = '#include "dsp.h"'

TYPES = """
typedef enum { CTI_DIGITS_DTMF = 1, CTI_DIGITS_MF = 2 } cti_digit_kind;
typedef struct cti_digit_rx cti_digit_rx;
"""

FUNCTIONS = """
cti_digit_rx *cti_digit_rx_new(cti_digit_kind kind);
void cti_digit_rx_free(cti_digit_rx *rx);
int cti_digit_rx_feed(cti_digit_rx *rx, const int16_t *amp, int n, char *out, int max);
void cti_digit_rx_set_abcd(cti_digit_rx *rx, int enabled);
"""

CUSTOMIZATIONS = ""
