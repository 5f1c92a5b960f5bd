# SPDX-License-Identifier: GPL-2.0-or-later
"""`cti agent`: the terminal agent desktop and supervisor console.

model: what a desktop knows (pure Python); console: the Textual app both
share (requests, events, the status line); desktop: the agent's screen;
supervisor: the supervisor's grid and actions; widgets and dialogs: their
parts; run: the command line, and how Twisted and Textual share one
asyncio loop.
"""
