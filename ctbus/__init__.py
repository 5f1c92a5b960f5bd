# SPDX-License-Identifier: GPL-2.0-or-later
"""The CT-Bus (H.100) switching map: see ctbus.switching."""
from ctbus.switching import (
    Broadcast,
    BusError,
    Conference,
    Route,
    RouteConflict,
    SwitchingMap,
)

__all__ = ["Broadcast", "BusError", "Conference", "Route", "RouteConflict", "SwitchingMap"]
