"""Hostile input: async jobs run fairly between requesters (uws.job.client, uws.claim_job).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29
"""

from migrations.sqlfiles import apply_sql_files

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

FILES = ["60_adql.sql", "61_uws.sql", "74_hst_recalibration.sql", "75_archive_files.sql", "82_soda.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
