# SPDX-License-Identifier: GPL-2.0-or-later
"""cffi declarations, one module per vendor header.

Each module holds INCLUDES (the C #include lines), TYPES (partial structs
and `#define X ...` constants, so the C compiler fills in layouts and
values from whichever headers are compiled in: ours or a vendor SDK's),
FUNCTIONS, and CUSTOMIZATIONS (C code compiled into the binding, used for
feature flags such as HAS_SIM_EXTENSIONS).
"""

#: The vendor headers: every build, on real boards as on the simulator.
MODULES = ["srl", "dxxx", "dti", "msi", "dcb"]
#: Our simulator's own: its far-end control plane and DSP (simulator builds only).
SIMULATOR_MODULES = ["simfar", "dsp"]
