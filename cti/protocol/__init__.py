# SPDX-License-Identifier: GPL-2.0-or-later
"""The cti protocol: one TCP protocol for flow, agent, supervisor and admin
clients (docs/protocol.md).  framing: bytes <-> frames; services: the
catalogue, field checks, error codes; server: sessions, roles, monitors;
client: Twisted and blocking clients."""
