# SPDX-License-Identifier: GPL-2.0-or-later
"""The flow tier: IVR flows declared in TOML, their loader, prompts and look-up hooks."""
