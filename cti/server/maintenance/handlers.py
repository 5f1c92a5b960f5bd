# SPDX-License-Identifier: GPL-2.0-or-later
"""The technicians' services (linediag against the running server), for
administrators:

    GetLineStatus   every device of the boards, as `linediag scan` shows it
    GetBusMap       the CT-Bus map, as `linediag bus` shows it
"""
from cti.protocol.services import Service
from cti.server.maintenance.scan import scan

ADMIN = frozenset({"admin"})


def register(hub, driver, bus):
    hub.catalogue.add(Service("GetLineStatus", ADMIN, errors=()),
                      lambda request, params: {"devices": scan(driver)})
    hub.catalogue.add(Service("GetBusMap", ADMIN, errors=()),
                      lambda request, params: bus.dump())
