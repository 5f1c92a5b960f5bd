# SPDX-License-Identifier: GPL-2.0-or-later
"""cffi declarations, one module per vendor header.

Each module holds INCLUDES (the C #include lines), TYPES (partial structs
and `#define X ...` constants, so the C compiler fills in layouts and
values from whichever headers are compiled in: ours or a vendor SDK's),
FUNCTIONS, and CUSTOMIZATIONS (C code compiled into the binding).
"""

#: The vendor headers: every build, on real boards as on the simulator.
MODULES = ["srl", "dxxx", "dti", "msi", "dcb"]
#: Our simulator's own (the full simulator build only): its additions to the
#: vendor headers, its far-end control plane and its DSP.
SIMULATOR_MODULES = ["extensions", "simfar", "dsp"]
