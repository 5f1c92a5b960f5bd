# SPDX-License-Identifier: GPL-2.0-or-later
"""The simulated telephone company, played from outside the server
(telco.py: the far ends; handlers.py: the Sim* services)."""
