# SPDX-License-Identifier: GPL-2.0-or-later
"""Agents' edits of a call's record made in wrap-up, after its CDR.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DATA = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade():
    op.create_table(
        "after_call_edits",
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("call_id", sa.String(), nullable=False),
        sa.Column("agent", sa.String(), nullable=False),
        sa.Column("changes", JSON_DATA, nullable=False),
        sa.Column("saved", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_after_call_edits"),
    )
    op.create_index("ix_after_call_edits_call_id", "after_call_edits", ["call_id"])


def downgrade():
    op.drop_table("after_call_edits")
