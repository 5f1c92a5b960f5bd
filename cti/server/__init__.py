# SPDX-License-Identifier: GPL-2.0-or-later
"""The CT server: channels, calls, ACD, protocol services, storage."""
