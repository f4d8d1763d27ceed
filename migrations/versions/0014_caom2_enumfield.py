"""caom2.EnumField, the distinct values of the searchable fields (astroquery's Cadc reads it);
reference-file selections checked against their type; queue.jobs_within_reach (worker --once);
position_bounds published as a polygon; hstvo.set_service_url.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29
"""

from migrations.sqlfiles import apply_sql_files

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# 62 again: the query role reads the new table's published columns
FILES = ["00_extensions.sql", "21_caom2_enumfield.sql", "31_tap_schema_content.sql",
         "62_tap_role.sql", "73_work_queue.sql", "74_hst_recalibration.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
