"""HST FITS ingest: staging, file registry, ingest log, observation builder, per-plane calibration.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from migrations.sqlfiles import apply_sql_files

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# 50 again: it gained hst.suffix_alias (WFPC2 waivered FITS) and classify() consults it
FILES = ["50_hst_file_classes.sql", "54_hst_ingest.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
