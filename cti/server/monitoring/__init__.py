# SPDX-License-Identifier: GPL-2.0-or-later
"""Monitoring: the running server's figures over HTTP, for Prometheus
(/metrics) and for anyone (/status JSON).  See figures.py."""
