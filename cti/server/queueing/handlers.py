# SPDX-License-Identifier: GPL-2.0-or-later
"""The snapshots of queues (their live figures: cti.server.queueing.acd)."""


def register(hub, acd):
    def snapshot(name):
        queue = acd.queues.get(name)
        return acd.describe_queue(queue) if queue else None
    hub.provide_snapshots("queue", snapshot, lambda: list(acd.queues))
