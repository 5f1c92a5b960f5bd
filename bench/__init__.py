# SPDX-License-Identifier: GPL-2.0-or-later
"""Benchmarks: `python -m bench.NAME`, each printing one JSON object last."""
