"""Plane footprints: the convex hull of the chunk corners, counter-clockwise on the sky.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from migrations.sqlfiles import apply_sql_files

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

FILES = ["52_caom2_hull.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
