# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_linediag -*-
"""Loading TOML configuration with errors that say where.

Every error names the file, the key (as a dotted path such as
``boards[2].signalling``) and what was expected, so a technician can fix a
config without reading code.
"""
import tomllib


class ConfigError(Exception):
    def __init__(self, path, key, message):
        self.path = path
        self.key = key
        super().__init__(f"{path}: {key}: {message}" if key else f"{path}: {message}")


def load(path):
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(path, None, "no such file") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(path, None, f"not valid TOML: {e}") from None


def boards(path):
    """The [[boards]] tables of a configuration file, checked for shape."""
    data = load(path)
    tables = data.get("boards")
    if not isinstance(tables, list) or not tables:
        raise ConfigError(path, "boards", "expected at least one [[boards]] table")
    for i, table in enumerate(tables):
        if not isinstance(table, dict) or "type" not in table:
            raise ConfigError(path, f"boards[{i}]", "expected a table with a 'type' key")
    return tables
