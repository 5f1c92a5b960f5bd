# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_show -*-
"""Plain text tables for the shell commands (`cti show`, `linediag`):
each column as wide as its widest cell, two spaces between, no colour,
nothing cut, so that a thousand rows print in milliseconds and a table
pasted into a ticket reads the same::

    >>> print(text_table(["span", "state"], [["dtiB1", "in_service"]], title="spans (1)"))
    spans (1)
    span   state
    dtiB1  in_service
"""


def cell(value):
    """A value as a table shows it: - for none, yes/no, lists joined."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ",".join(map(str, value)) or "none"
    return str(value)


def text_table(headers, rows, title=None):
    """`rows`: lists of strings, one per header."""
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]
    lines = [title] if title is not None else []
    for row in [headers, *rows]:
        lines.append("  ".join(value.ljust(width)
                               for value, width in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def table(rows, columns):
    """`rows`: dicts; `columns`: the keys shown, their headings in capitals."""
    return text_table([c.upper() for c in columns],
                      [[cell(r.get(c)) for c in columns] for r in rows])
