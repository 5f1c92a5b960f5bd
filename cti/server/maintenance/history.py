# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_span_reports -*-
"""The spans' alarm history and performance intervals, kept across a
restart of the server.

A technician chasing a fault that comes at night reads the last 24 hours
of 15-minute intervals and the alarms of the night (linediag spans,
counters): a restart in the morning must not wipe them.  So every span's
alarms (as cti.server.lines.spans keeps them) and its performance
intervals (cti.server.lines.performance: `export`) are written to
`var_dir/span-history.json`::

    {"at": 1700000000.5,                         # when it was written
     "spans": {"dtiB1": {"alarms": [{"alarm": "red", "raised": ..., "cleared": ...}],
                         "performance": {"framing": "esf", "intervals": [...],
                                         "current": {...}}}}}

It is written whole to a temporary file, flushed to the disk, then
renamed over the old one: a crash leaves the old file or the new, never
half of one.  SpanWatches writes it within a second of an alarm raised
or cleared or an interval completed, every minute anyway (the current
interval's seconds), and as the server stops; at the start it reads it
back: the alarms go before the new run's, the intervals of the last 24 h
come back (those older are dropped, the quarter hours the server was
down are intervals not monitored: invalid).  An alarm still up when the
server stopped ends in the history when the file was last written (the
server saw no further); if it is still up at the start, the span raises
it again.  A span no longer configured is forgotten; one whose framing
changed keeps its alarms, not its intervals.  A file that cannot be read
or understood is said once in the log and the server starts without it.
"""
import json
import os

from cti.logs import Logger

log = Logger()

#: The file, in the server's var_dir.
HISTORY_FILE = "span-history.json"
#: The longest the current interval's seconds go unsaved.
SAVE_EVERY_S = 60.0


class SpanHistoryFile:
    """var_dir/span-history.json: `load` at the start, `save` while running."""

    def __init__(self, path):
        self.path = path
        self._failing = False

    def load(self):
        """(written at, {span: its saved history}), or (None, {}) when there
        is no file or it cannot be understood (logged)."""
        try:
            saved = json.loads(self.path.read_text())
            return float(saved["at"]), dict(saved["spans"])
        except FileNotFoundError:
            return None, {}
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.warn("{path}: the spans' history of the last run is not read: {error}",
                     path=self.path, error=e)
            return None, {}

    def save(self, now, spans):
        """Write `spans` (span -> history) whole, then rename it in place;
        a failure is logged once (until a write works again), not raised."""
        temporary = self.path.with_suffix(".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(temporary, "w", encoding="utf-8") as f:
                json.dump({"at": now, "spans": spans}, f, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, self.path)
        except OSError as e:
            if not self._failing:
                log.warn("{path}: cannot save the spans' history: {error}", path=self.path,
                         error=e)
            self._failing = True
            return False
        if self._failing:
            log.info("{path}: the spans' history is saved again", path=self.path)
        self._failing = False
        return True


def alarms_saved(alarms):
    """A span's Alarms as the file keeps them."""
    return [{"alarm": a.name, "raised": a.raised_at, "cleared": a.cleared_at} for a in alarms]


def alarms_restored(saved, written_at):
    """(name, raised, cleared) of the saved alarms; one up when the file
    was written ends then."""
    return [(str(a["alarm"]), float(a["raised"]),
             float(written_at if a["cleared"] is None else a["cleared"])) for a in saved]
