# SPDX-License-Identifier: GPL-2.0-or-later
"""cti: a voice-board CTI server for call centres."""

__version__ = "0.1.0"
