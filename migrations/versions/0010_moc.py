"""Coverage MOCs (hstvo.coverage_moc over pgsphere smoc, cached until planes change) , SODA targets, the CAOM2 repository listings.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24
"""

from migrations.sqlfiles import apply_sql_files

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# 75 again: hstvo.file_checksum for /files
FILES = ["75_archive_files.sql", "81_moc.sql", "82_soda.sql", "83_caom2_repository.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
