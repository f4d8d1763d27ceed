"""HAP single-visit mosaics: the rule that groups a visit's calibrated exposures into one mosaic
per instrument, detector and filter, with HAP's names, and each visit's poller list
(sql/55_hst_single_visit.sql).

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-29
"""

from migrations.sqlfiles import apply_sql_files

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

FILES = ["55_hst_single_visit.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
