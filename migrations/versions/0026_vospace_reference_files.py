"""HST reference files as a VOSpace tree, /hst-refer/<prefix>/<file>: a file written there is
registered from its header and enqueues the recalibrations it causes in the same transaction;
one in use is not deleted (sql/99_vospace_reference_files.sql).

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-30
"""

from migrations.sqlfiles import apply_sql_files

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

FILES = ["99_vospace_reference_files.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
