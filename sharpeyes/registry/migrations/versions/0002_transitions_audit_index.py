"""Transitions: an index on (camera_id, module, at, to_state, from_state, reason) that answers the audit's
reads by itself, per camera and module in time order.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS = ["camera_id", "module", "at", "to_state", "from_state", "reason"]


def upgrade() -> None:
    op.create_index("ix_transitions_audit", "transitions", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_transitions_audit", table_name="transitions")
