"""Building observations from their files costs less: a filter's energy bounds are looked up once
per instrument, detector, filter and mode of a batch, through an index that takes the filter in
any case (sql/53_hst_filters.sql), and a part's chunk is made from its own extension instead of
a search of its file's extensions for it (sql/54_hst_ingest.sql: hst.extension_chunks replaces
hst.file_chunks).

Revision ID: 0031
Revises: 0030
Create Date: 2026-11-30
"""

from migrations.sqlfiles import apply_sql_files

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

FILES = ["53_hst_filters.sql", "54_hst_ingest.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
