"""Write paths keep what refers to an observation: caom2.put_observation merges in place.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

from migrations.sqlfiles import apply_sql_files

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

FILES = ["14_caom2_lifecycle.sql", "15_caom2_persistence.sql", "54_hst_ingest.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
