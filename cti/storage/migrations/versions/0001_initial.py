# SPDX-License-Identifier: GPL-2.0-or-later
"""The first schema: cdr, agent_session, agent_state, queue_log.

Revision ID: 0001
Revises:
Create Date: 2024-06-01

Types are spelt here rather than imported from models.py, so this revision
keeps creating the same schema however the models change later.
Timestamps are TIMESTAMPTZ on PostgreSQL (text in UTC on SQLite); ids are
BIGSERIAL on PostgreSQL and INTEGER (the rowid) on SQLite.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DATA = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _id():
    return sa.Column("id", ROW_ID, primary_key=True, autoincrement=True)


def _at(name, nullable=False):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _text(name, nullable=True):
    return sa.Column(name, sa.String(), nullable=nullable)


def upgrade():
    op.create_table(
        "cdr",
        _id(),
        _text("call_id", nullable=False),
        _text("direction", nullable=False),
        _text("trunk"),
        _text("trunk_group"),
        _text("ani"),
        _text("dnis"),
        _text("flow"),
        _text("queue"),
        _text("agent"),
        _text("station"),
        _at("offered_at"),
        _at("queued_at", nullable=True),
        _at("answered_at", nullable=True),
        _at("ended_at"),
        sa.Column("wait_s", sa.Double(), nullable=True),
        sa.Column("talk_s", sa.Double(), nullable=True),
        _text("disposition", nullable=False),
        _text("released_by"),
        _text("cause"),
        sa.Column("attached", JSON_DATA, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cdr"),
    )
    op.create_index("ix_cdr_call_id", "cdr", ["call_id"])
    op.create_index("ix_cdr_offered_at", "cdr", ["offered_at"])
    op.create_index("ix_cdr_queue_offered_at", "cdr", ["queue", "offered_at"])
    op.create_index("ix_cdr_agent_offered_at", "cdr", ["agent", "offered_at"])
    op.create_index("ix_cdr_trunk_group_offered_at", "cdr", ["trunk_group", "offered_at"])

    op.create_table(
        "agent_session",
        _id(),
        _text("agent", nullable=False),
        _text("station", nullable=False),
        _at("login_at"),
        _at("logout_at", nullable=True),
        _text("logout_reason"),
        sa.PrimaryKeyConstraint("id", name="pk_agent_session"),
    )
    op.create_index("ix_agent_session_agent_login_at", "agent_session", ["agent", "login_at"])

    op.create_table(
        "agent_state",
        _id(),
        _text("agent", nullable=False),
        _at("at"),
        _text("state", nullable=False),
        _text("reason"),
        _text("previous"),
        _text("call_id"),
        sa.PrimaryKeyConstraint("id", name="pk_agent_state"),
    )
    op.create_index("ix_agent_state_agent_at", "agent_state", ["agent", "at"])

    op.create_table(
        "queue_log",
        _id(),
        _at("at"),
        _text("call_id", nullable=False),
        _text("queue", nullable=False),
        _text("agent"),
        _text("event", nullable=False),
        *(_text(f"data{n}") for n in range(1, 6)),
        sa.PrimaryKeyConstraint("id", name="pk_queue_log"),
    )
    op.create_index("ix_queue_log_at", "queue_log", ["at"])
    op.create_index("ix_queue_log_call_id", "queue_log", ["call_id"])
    op.create_index("ix_queue_log_queue_at", "queue_log", ["queue", "at"])
    op.create_index("ix_queue_log_agent_at", "queue_log", ["agent", "at"])


def downgrade():
    for table in ("queue_log", "agent_state", "agent_session", "cdr"):
        op.drop_table(table)
