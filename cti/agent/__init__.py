# SPDX-License-Identifier: GPL-2.0-or-later
"""`cti agent`: the agent desktop and the supervisor console."""
