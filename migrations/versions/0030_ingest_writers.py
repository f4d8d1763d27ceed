"""Ingest batches stored by several connections at once: a batch takes its observations'
advisory locks first (sql/54_hst_ingest.sql); put_observations rolls up only the observations
it replaced (sql/15_caom2_persistence.sql), and the member and input lists are written only where
there is one (sql/14_caom2_lifecycle.sql); the coverage MOC leaves out footprint vertices that
lie on a great circle, which pgsphere refused as degenerate corners (sql/81_moc.sql); headers
are compressed with LZ4 where the server has it, and an ingested plane's calibration record
reads its header from the file registry instead of keeping a copy (sql/54_hst_ingest.sql,
sql/72_hst_reference_files.sql).

Revision ID: 0030
Revises: 0029
Create Date: 2026-11-30
"""

from migrations.sqlfiles import apply_sql_files

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

FILES = ["14_caom2_lifecycle.sql", "15_caom2_persistence.sql", "54_hst_ingest.sql",
         "72_hst_reference_files.sql", "81_moc.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
