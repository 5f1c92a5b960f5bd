# SPDX-License-Identifier: GPL-2.0-or-later
"""What a technician asks of the running server's lines (linediag): the
boards' state (scan.py), span performance and reports (spans.py), loopbacks
and bit error rate tests (tests.py); handlers.py declares the services."""
