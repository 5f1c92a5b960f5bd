# SPDX-License-Identifier: GPL-2.0-or-later
"""Lines the boards do not own, watched by a USB caller-ID box."""
