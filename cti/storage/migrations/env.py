# SPDX-License-Identifier: GPL-2.0-or-later
"""Alembic's environment for the cti schema, run by :func:`upgrade`.

There is no alembic.ini: :func:`cti.storage.migrations.alembic_config`
builds the configuration in code and hands over an open connection in
``config.attributes["connection"]``, so migrations run on whatever engine
the caller made (the store's writer thread, a test's engine).  Offline mode
(``--sql``, SQL printed rather than run) takes ``sqlalchemy.url`` instead.

SQLite cannot ALTER most things, so migrations there run in "batch" mode
(copy the table, change, rename back); write later revisions with
``op.batch_alter_table`` and they work on both databases.
"""
from alembic import context

from cti.storage.models import Base


def run_offline(config):
    context.configure(url=config.get_main_option("sqlalchemy.url"),
                      target_metadata=Base.metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online(connection):
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline(context.config)
else:
    run_online(context.config.attributes["connection"])
