# SPDX-License-Identifier: GPL-2.0-or-later
"""Reload: the configuration changed while the server runs.

Owns: what a new configuration changes and whether it can be taken live
(`changes`: every key of the file declared live or restart-only, as
data), and the reload itself (`reload`: read, check, refuse as a whole
or apply, log and audit).

Asks of the call centre: `reconfigure` (the ACD's queues and agents, the
routes, users and flows every feature reads from the configuration); of
the server, its logins.

Services (handlers.py): Reload (admin).  `cti server` and `twistd cti`
also reload on SIGHUP once started (`hangup`), and `cti reload` asks for
it (cti/reload.py).
"""
