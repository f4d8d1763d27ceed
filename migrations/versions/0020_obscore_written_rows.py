"""ObsCore's rows written out ahead: each row of hstvo.obscore_rows holds its TABLEDATA, CSV and
BINARY2 serialisations around access_url, computed with the row (sql/64_obscore_written_rows.sql),
so that a full-width `SELECT * FROM ivoa.ObsCore` streams stored text; the view ivoa.obscore
shows them to the service (sql/20_ivoa_obscore.sql). Existing rows are written out here.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-29
"""

from migrations.sqlfiles import apply_sql_files

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

FILES = ["20_ivoa_obscore.sql", "31_tap_schema_content.sql", "62_tap_role.sql", "63_votable.sql",
         "64_obscore_written_rows.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
