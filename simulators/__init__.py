# SPDX-License-Identifier: GPL-2.0-or-later
"""The far end in Python: scripted callers, agents and traffic."""
