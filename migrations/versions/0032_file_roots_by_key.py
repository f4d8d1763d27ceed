"""Whether a path lies inside a file root is a lookup of its directories in hstvo.file_root's
key (hstvo.directory_ancestors, hstvo.under_file_root, hstvo.in_file_root), not a match of every
root's path as a pattern: at 180,000 roots an ingest spent a minute on each 5,000 directories,
and the file service read every root for every file (sql/75_archive_files.sql).

Revision ID: 0032
Revises: 0031
Create Date: 2026-11-30
"""

from migrations.sqlfiles import apply_sql_files

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

FILES = ["75_archive_files.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
