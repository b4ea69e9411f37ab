"""Initial schema: registry (districts, areas, cameras) and history (transitions, daily roll-ups, signatures).

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sharpeyes.registry.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "districts",
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("code_key", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("parent", sa.String(32), nullable=True),
        sa.CheckConstraint("level IN ('city', 'district', 'street', 'community', 'grid')", name="ck_districts_level"),
        sa.ForeignKeyConstraint(["parent"], ["districts.code"], name="fk_districts_parent_districts"),
        sa.PrimaryKeyConstraint("code", name="pk_districts"),
        sa.UniqueConstraint("code_key", name="uq_districts_code_key"),
    )
    op.create_index("ix_districts_parent", "districts", ["parent"])
    op.create_table(
        "areas",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("id_key", sa.String(128), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("district", sa.String(32), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("sector", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("required_cameras", sa.Integer(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.CheckConstraint("required_cameras >= 1", name="ck_areas_required_cameras"),
        sa.CheckConstraint("scope IN ('public', 'sector')", name="ck_areas_scope"),
        sa.CheckConstraint("scope <> 'sector' OR sector IS NOT NULL", name="ck_areas_sector_required"),
        sa.ForeignKeyConstraint(["district"], ["districts.code"], name="fk_areas_district_districts"),
        sa.PrimaryKeyConstraint("id", name="pk_areas"),
        sa.UniqueConstraint("id_key", name="uq_areas_id_key"),
    )
    op.create_index("ix_areas_district", "areas", ["district"])
    op.create_table(
        "cameras",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("id_key", sa.String(128), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("area_id", sa.String(128), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("rtsp_url", sa.String(2048), nullable=True),
        sa.Column("onvif_url", sa.String(2048), nullable=True),
        sa.Column("snapshot_url", sa.String(2048), nullable=True),
        sa.Column("username", sa.String(128), nullable=True),
        sa.Column("password_env", sa.String(128), nullable=True),
        sa.Column("password_file", sa.String(1024), nullable=True),
        sa.Column("auth", sa.String(16), nullable=False),
        sa.Column("point_class", sa.String(8), nullable=True),
        sa.Column("in_service", sa.Boolean(), nullable=False),
        sa.Column("expected_width", sa.Integer(), nullable=True),
        sa.Column("expected_height", sa.Integer(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.CheckConstraint("auth IN ('digest', 'basic_allowed')", name="ck_cameras_auth"),
        sa.ForeignKeyConstraint(["area_id"], ["areas.id"], name="fk_cameras_area_id_areas"),
        sa.PrimaryKeyConstraint("id", name="pk_cameras"),
        sa.UniqueConstraint("id_key", name="uq_cameras_id_key"),
    )
    op.create_index("ix_cameras_area_id", "cameras", ["area_id"])
    op.create_table(
        "transitions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("camera_id", sa.String(128), nullable=False),
        sa.Column("module", sa.String(64), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=False),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_transitions"),
        sa.UniqueConstraint("camera_id", "module", "at", name="uq_transitions_camera_module_at"),
    )
    op.create_index("ix_transitions_at", "transitions", ["at"])
    op.create_table(
        "daily_rollups",
        sa.Column("camera_id", sa.String(128), nullable=False),
        sa.Column("module", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("seconds_up", sa.Float(), nullable=False),
        sa.Column("seconds_known", sa.Float(), nullable=False),
        sa.Column("probes", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("camera_id", "module", "day", name="pk_daily_rollups"),
    )
    op.create_table(
        "frame_signatures",
        sa.Column("camera_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('last', 'reference')", name="ck_frame_signatures_kind"),
        sa.PrimaryKeyConstraint("camera_id", "kind", name="pk_frame_signatures"),
    )


def downgrade() -> None:
    op.drop_table("frame_signatures")
    op.drop_table("daily_rollups")
    op.drop_index("ix_transitions_at", table_name="transitions")
    op.drop_table("transitions")
    op.drop_index("ix_cameras_area_id", table_name="cameras")
    op.drop_table("cameras")
    op.drop_index("ix_areas_district", table_name="areas")
    op.drop_table("areas")
    op.drop_index("ix_districts_parent", table_name="districts")
    op.drop_table("districts")
