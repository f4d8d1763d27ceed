"""Foundation: CAOM 2.4 schema, checksums, lifecycle triggers, ObsCore view, TAP_SCHEMA.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from migrations.sqlfiles import apply_sql_files

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

FILES = [
    "00_extensions.sql",
    "10_caom2_tables.sql",
    "11_caom2_indexes.sql",
    "12_caom2_geometry.sql",
    "13_caom2_checksums.sql",
    "14_caom2_lifecycle.sql",
    "15_caom2_persistence.sql",
    "20_ivoa_obscore.sql",
    "30_tap_schema.sql",
    "31_tap_schema_content.sql",
    "40_service_status.sql",
]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
