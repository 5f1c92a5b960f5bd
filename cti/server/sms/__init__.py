# SPDX-License-Identifier: GPL-2.0-or-later
"""Short messages: the server's one GSM modem, for flows and other features."""
