# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_linediag -*-
"""Where linediag's answers come from: the running server (`Attached`,
the technicians' services of cti.server.maintenance over the protocol) or
boards linediag opened itself (`Offline`, the same domain code on its own
driver).  Both answer the same questions with the same data::

    with Attached.connect(args) as source:      # or Offline.open("etc/cti.toml")
        rows = source.line_status()             # as GetLineStatus
        dump = source.bus_map()                 # as GetBusMap
"""
from cti import config, shell
from cti.server.maintenance.scan import scan


class Attached:
    """The running server, through a BlockingClient logged in as admin."""

    def __init__(self, client):
        self.client = client

    @classmethod
    def connect(cls, args):
        return cls(shell.connect(args, client="linediag"))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.client.close()

    def line_status(self):
        return self.client.call("GetLineStatus")["devices"]

    def bus_map(self):
        return self.client.call("GetBusMap")


class Offline:
    """The boards of a configuration, opened here: with the simulator, a
    simulated chassis of its own (nothing to do with a running server's)."""

    def __init__(self, driver, sim=None):
        self.driver = driver
        self.sim = sim

    @classmethod
    def open(cls, path, seed=1):
        """`path`: a server configuration (its boards) or a boards file."""
        from drivers.r4 import HAS_SIMULATOR, R4Driver

        tables = boards_of(path)
        sim = None
        if HAS_SIMULATOR:
            from drivers.sim import Simulator

            sim = Simulator.from_config(tables, seed=seed, where=f"{path}: boards")
        driver = R4Driver()
        driver.inventory()
        return cls(driver, sim)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def line_status(self):
        return scan(self.driver)

    def bus_map(self):
        from ctbus import SwitchingMap

        return SwitchingMap(self.driver).dump()


def boards_of(path):
    """The [[boards]] tables of a boards file, or of the server
    configuration at `path` (its `boards`, inline or a file of them)."""
    data = config.load(path)
    if isinstance(data.get("boards"), list):
        return config.boards(path)
    from cti.server.config import load_server_config

    return list(load_server_config(path).boards)
