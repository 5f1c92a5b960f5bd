# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_acd -*-
"""Callers waiting in queues: entering, leaving, widening, and the
queues' live figures.

A caller enters a queue unless it is full (max_length) or, with
join_empty, nobody could take it; it leaves answered (cti.server.queueing
.offers), abandoned, cleared, or without an agent: its max wait, its
queue's exit key, or leave_empty when nobody is left to serve it (the
owner sends it on to the overflow).  Its skill rules widen as it waits.
"""
from twisted.logger import Logger

from cti.server.errors import ACDError
from cti.server.queueing.router import STRATEGY_KEY
from cti.server.queueing.state import EMPTY_CONDITIONS, EXITS, Entry, service_level

log = Logger()


class Callers:
    """The queues' side of the ACD (its part `callers`)."""

    def __init__(self, acd):
        self.acd = acd

    def enqueue(self, call, queue_name, priority=None, first_since=None, callback=False):
        """The caller waits in the queue; returns its Entry.  Raises ACDError
        `queue_full` (max_length) or `queue_empty` (join_empty).  `callback`:
        a caller to call back (after a failed attempt), see `keep_for_callback`:
        it waits even in a queue nobody serves now."""
        queue = self.acd.queue(queue_name)
        config = queue.config
        if self.acd.full(queue_name):
            queue.exits["full"] = queue.exits.get("full", 0) + 1
            raise ACDError("queue_full", f"queue {queue_name} is full ({config.max_length} "
                           "callers waiting)")
        if config.join_empty and not callback \
                and self.is_empty(queue_name, config.join_empty):
            queue.exits["join_empty"] = queue.exits.get("join_empty", 0) + 1
            raise ACDError("queue_empty", f"queue {queue_name} has no agent who could take "
                           f"the call ({', '.join(config.join_empty)})")
        now = self.acd.clock.seconds()
        entry = Entry(call, queue, now, config.priority if priority is None else priority,
                      now if first_since is None else first_since, callback=callback)
        entry.position = self.acd.router.add_caller(entry)
        self.acd.entries[call.id] = entry
        queue.offered += 1
        self.acd.owner.record_queue(call.id, queue.name, None, "ENTERQUEUE", "", call.ani,
                                    entry.position)
        if config.max_wait_s is not None and not callback:
            entry.timers["max_wait"] = self.acd.clock.callLater(config.max_wait_s,
                                                                self.timed_out, entry)
        self.schedule_widen(entry)
        self.acd.offers.serve_entry(entry)
        return entry

    def keep_for_callback(self, call):
        """The caller hung up to be called back: its entry keeps its place
        until an agent takes it.  The max wait and leave_empty no longer
        apply: nobody is on the line to send elsewhere."""
        entry = self.acd.entries.get(call.id)
        if entry is None:
            return
        entry.callback, entry.overdue = True, False
        timer = entry.timers.pop("max_wait", None)
        if timer is not None and timer.active():
            timer.cancel()

    def abandon(self, call):
        """The caller hung up while waiting (or while an agent's phone rang)."""
        entry = self.acd.entries.get(call.id)
        if entry is None:
            return
        waited = self.gone(entry, "ABANDON", "caller hung up")
        queue = entry.queue
        queue.abandoned += 1
        if waited <= queue.config.service_level_s:
            queue.abandoned_in_sl += 1

    def cleared(self, call, why):
        """The call was ended while it waited, by the server (shutdown) or a
        supervisor, not by the caller: no abandon in the figures."""
        entry = self.acd.entries.get(call.id)
        if entry is None:
            return
        queue = entry.queue
        queue.exits["cleared"] = queue.exits.get("cleared", 0) + 1
        self.gone(entry, "EXITCLEARED", why, why)

    def gone(self, entry, event, why, *data):
        """A waiting call ended: out of the queue, `event` in the queue log
        (position, original position, wait s, then `data`), any agent it
        was offered to let go.  Returns the seconds it waited."""
        position = self.acd.position(entry)
        self.leave(entry)
        waited = self.acd.clock.seconds() - entry.since
        self.acd.owner.record_queue(entry.call.id, entry.queue.name, None, event, position,
                                    entry.position, round(waited), *data)
        self.acd.offers.withdraw_all(entry, why)
        return waited

    def exit_key(self, call, key):
        """A key the caller pressed while waiting: True when it was the queue's
        exit key and the caller left (the owner is told, reason "exit_key")."""
        entry = self.acd.entries.get(call.id)
        if entry is None or entry.ringing or entry.agent is not None \
                or key != entry.queue.config.exit_key:
            return False
        self.exit(entry, "exit_key", key)
        return True

    def exit(self, entry, reason, *data):
        position = self.acd.position(entry)
        self.leave(entry)
        queue = entry.queue
        queue.exits[reason] = queue.exits.get(reason, 0) + 1
        waited = round(self.acd.clock.seconds() - entry.since)
        detail = (*data, position, entry.position, waited)     # exit_key: the key first
        self.acd.owner.record_queue(entry.call.id, queue.name, None, EXITS[reason], *detail)
        self.acd.owner.queue_exit(entry, reason)

    def timed_out(self, entry):
        entry.timers.pop("max_wait", None)
        if entry.ringing:          # ringing an agent now: let it ring (no_answer ends it)
            entry.overdue = True
            return
        self.exit(entry, "timeout")

    def leave(self, entry):
        if not entry.waiting:
            return
        entry.waiting = False
        self.acd.router.remove_caller(entry)
        self.acd.entries.pop(entry.call.id, None)
        for name in ("max_wait", "widen", "retry"):
            timer = entry.timers.pop(name, None)
            if timer is not None and timer.active():
                timer.cancel()

    def schedule_widen(self, entry):
        rules = self.acd.rules[entry.queue_name]
        if entry.rule + 1 < len(rules):
            due = entry.since + rules[entry.rule + 1].after_s - self.acd.clock.seconds()
            entry.timers["widen"] = self.acd.clock.callLater(max(0, due), self.widen, entry)

    def widen(self, entry):
        entry.timers.pop("widen", None)
        self.acd.router.widen(entry)
        self.schedule_widen(entry)
        self.acd.offers.serve_entry(entry)

    def is_empty(self, queue_name, conditions):
        states = {s for c in conditions for s in EMPTY_CONDITIONS[c]}
        return all(a.state in states for a in self.acd.serving(queue_name))

    def check_leave_empty(self, agent):
        """After an agent stopped serving: callers leave queues now empty."""
        for queue in self.acd.leave_empty:
            if self.acd.can_serve(agent, queue.name):
                self.leave_if_empty(queue)

    def leave_if_empty(self, queue):
        """The callers of a queue with leave_empty leave it when nobody is
        left to serve them (but those ringing an agent, or kept for a callback)."""
        if not self.acd.router.has_callers(queue.name) \
                or not self.is_empty(queue.name, queue.config.leave_empty):
            return
        for entry in self.acd.waiting(queue.name):
            if not entry.ringing and not entry.callback:
                self.exit(entry, "empty")

    def estimated_wait(self, entry):
        """Seconds until an agent is likely to take this caller: its position
        times the recent handle time, shared by the agents staffing the
        queue; None before the queue has handled a call."""
        queue = entry.queue
        if not queue.recent_handles:
            return None
        staffed = sum(1 for a in self.acd.serving(entry.queue_name)
                      if a.state in ("ready", "reserved", "busy", "workingAfterCall"))
        handle = sum(queue.recent_handles) / len(queue.recent_handles)
        return self.acd.position(entry) * handle / max(1, staffed)

    def set_strategy(self, queue_name, strategy):
        """Change a live queue's strategy; waiting callers keep their places."""
        queue = self.acd.queue(queue_name)
        if strategy not in STRATEGY_KEY:
            raise ACDError("invalid_field", f"{strategy!r} is not a strategy (strategies: "
                           f"{', '.join(STRATEGY_KEY)})")
        old, queue.strategy = queue.strategy, strategy
        self.acd.router.set_strategy(queue_name, strategy)
        log.info("queue {queue}: strategy {old} -> {new}", queue=queue_name, old=old,
                 new=strategy)
        self.acd.publish("queue", queue_name, "QueueChanged", self.describe_queue(queue),
                         cause=self.acd.cause)

    def describe_queue(self, queue):
        now = self.acd.clock.seconds()
        states, reasons = {}, {}
        for a in self.acd.serving(queue.name):
            states[a.state] = states.get(a.state, 0) + 1
            if a.state == "notReady":
                reasons[a.reason] = reasons.get(a.reason, 0) + 1
        waiting = self.acd.waiting(queue.name)
        return {
            "queue": queue.name, "strategy": queue.strategy,
            "waiting": [{"call": e.call.id, "ani": e.call.shown_ani,
                         "presentation": e.call.presentation, "waitS": round(now - e.since, 3),
                         "firstWaitS": round(now - e.first_since, 3),
                         "position": i + 1, "priority": e.priority,
                         "agents": [a.id for a in e.ringing]}
                        for i, e in enumerate(waiting)],
            "longestWaitS": round(max((now - e.since for e in waiting), default=0.0), 3),
            "agents": states, "notReadyReasons": reasons, "offered": queue.offered,
            "answered": queue.answered, "abandoned": queue.abandoned, "exits": dict(queue.exits),
            "serviceLevel": service_level(queue.answered_in_sl, queue.answered,
                                          queue.abandoned - queue.abandoned_in_sl,
                                          sum(queue.exits.get(r, 0) for r in EXITS)),
            "asaS": queue.wait_total / queue.answered if queue.answered else None,
            "ahtS": queue.handle_total / queue.handled if queue.handled else None,
            "handled": queue.handled}
