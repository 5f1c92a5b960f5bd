# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_storage -*-
"""Schema migrations with Alembic, configured in code (no alembic.ini).

The revisions live in ``versions/``, one file each, written out by hand;
``0001_initial`` creates the four tables.  The store runs :func:`upgrade`
on its writer thread at every start, so a new release migrates the
database it finds.  By hand::

    from cti.storage.migrations import upgrade, current_revision
    upgrade("postgresql+psycopg://cti@db/cti")
    current_revision("postgresql+psycopg://cti@db/cti")      # '0001'

A new revision: ``command.revision(alembic_config(), "add cost",
rev_id="0002")`` writes ``versions/0002_add_cost.py`` from
``script.py.mako``; fill in ``upgrade()``/``downgrade()`` with ``op.*``
calls (``op.batch_alter_table`` for changes SQLite must copy a table for).
Every function here accepts a URL (string or ``sqlalchemy.URL``) or an
existing Engine; they block, so call them off the reactor thread.
"""
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine

SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config(connection=None):
    """An Alembic Config for our scripts; ``connection`` is handed to env.py."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@contextmanager
def _engine(target):
    """Use ``target`` if it is an Engine, else make (and later dispose) one."""
    if isinstance(target, Engine):
        yield target
        return
    engine = create_engine(target)
    try:
        yield engine
    finally:
        engine.dispose()


def upgrade(target, revision="head"):
    """Migrate the database at ``target`` (URL or Engine) up to ``revision``."""
    with _engine(target) as engine, engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def current_revision(target):
    """The revision the database is at, or None if it was never migrated."""
    with _engine(target) as engine, engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision():
    """The newest revision in ``versions/``: what :func:`upgrade` reaches."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
