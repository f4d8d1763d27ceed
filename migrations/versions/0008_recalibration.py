"""HST reference types and files, best-reference rules, the recalibration work queue, file locations for /files.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from migrations.sqlfiles import apply_sql_files

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

FILES = ["70_hst_reference_types.sql", "71_hst_reftypes.sql", "72_hst_reference_files.sql",
         "73_work_queue.sql", "74_hst_recalibration.sql", "75_archive_files.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
