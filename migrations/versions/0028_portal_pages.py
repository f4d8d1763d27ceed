"""The portal's pages beyond search: the processing queue as people see it and act on it, its
monitoring (sql/88_portal_processing.sql); previews in DataLink (sql/80_datalink.sql) and as
ObsCore's preview URL (sql/20_ivoa_obscore.sql, sql/64_obscore_written_rows.sql: every row is
written again, cut around preview); the search's column filters and target names
(sql/89_portal_search.sql); TAP_SCHEMA for a browser (sql/87_portal_service_pages.sql).

Revision ID: 0028
Revises: 0027
Create Date: 2026-11-30
"""

from migrations.sqlfiles import apply_sql_files

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

FILES = ["20_ivoa_obscore.sql", "64_obscore_written_rows.sql", "80_datalink.sql",
         "87_portal_service_pages.sql", "88_portal_processing.sql", "89_portal_search.sql",
         "96_vospace_nodes.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
