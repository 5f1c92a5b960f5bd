# SPDX-License-Identifier: GPL-2.0-or-later
"""twistd plugin: `twistd -n cti -c etc/cti.toml` runs the CT server
(the same service as `cti server`, under twistd's logging and daemon options)."""
from twisted.application.service import ServiceMaker

cti = ServiceMaker("cti", "cti.server.twistd", "the cti CT server (voice boards, ACD, "
                   "protocol)", "cti")
