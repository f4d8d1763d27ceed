"""HAP single-visit mosaics as observations: a mosaic's file is its composite observation, whose
members are its visit's exposures (sql/54_hst_ingest.sql, sql/55_hst_single_visit.sql); a new
or recalibrated member enqueues its mosaic's rebuild (sql/74_hst_recalibration.sql); DataLink
links members to their mosaics as #derivation (sql/80_datalink.sql). Also: observations built
set-wise, files unchanged on disk not read again (sql/54_hst_ingest.sql), and a user's password
set (auth.set_password, sql/90_auth_identities.sql).

Revision ID: 0029
Revises: 0028
Create Date: 2026-11-30
"""

from migrations.sqlfiles import apply_sql_files

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

FILES = ["54_hst_ingest.sql", "55_hst_single_visit.sql", "74_hst_recalibration.sql",
         "90_auth_identities.sql",
         "80_datalink.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
