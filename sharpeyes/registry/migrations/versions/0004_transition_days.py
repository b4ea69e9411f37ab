"""Transitions packed per camera, module and UTC day (``transition_days``) for the audit, filled from the
transitions already recorded (:func:`sharpeyes.registry.daysummary.rebuild`; ~15 s per million transitions).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sharpeyes.registry import daysummary

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transition_days",
        sa.Column("camera_id", sa.String(128), nullable=False),
        sa.Column("module", sa.String(64), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("states", sa.LargeBinary(), nullable=False),
        sa.Column("times", sa.LargeBinary(), nullable=False),
        sa.Column("online", sa.Integer(), nullable=False),
        sa.Column("last_from", sa.String(16), nullable=False),
        sa.Column("last_to", sa.String(16), nullable=False),
        sa.Column("last_reason", sa.String(32), nullable=False),
        sa.Column("last_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("camera_id", "module", "day", name="pk_transition_days"),
        sqlite_with_rowid=False,
    )
    daysummary.rebuild(op.get_bind())


def downgrade() -> None:
    op.drop_table("transition_days")
