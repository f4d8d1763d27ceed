"""Harvest: sources (another hstvo database through postgres_fdw, or a repository service over
HTTP), their cursors, runs and skipped observations, and CALL caom2.harvest(name), which copies
whole trees batch by batch and applies the source's deletions (sql/85_harvest.sql); a
harvested plane keeps its publisherID (sql/14_caom2_lifecycle.sql).

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-29
"""

from migrations.sqlfiles import apply_sql_files

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

FILES = ["14_caom2_lifecycle.sql", "20_ivoa_obscore.sql", "85_harvest.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
