"""HST reference files as a VOSpace tree, /hst-refer/<prefix>/<file>: a file written there is
registered from its header and enqueues the recalibrations it causes in the same transaction;
one in use is not deleted (sql/99_vospace_reference_files.sql). CRDS's rules as rows: a file may
calibrate under several selections (hst.reference_selection, sql/72), seeded by `hstvo reffile
seed`; a registration enqueues only datasets whose best reference it becomes (sql/74); the
selection keywords of the first science extension join a file's header (sql/54).

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-30
"""

from migrations.sqlfiles import apply_sql_files

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

FILES = ["54_hst_ingest.sql", "72_hst_reference_files.sql", "74_hst_recalibration.sql",
         "99_vospace_reference_files.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
