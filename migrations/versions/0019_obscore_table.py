"""ObsCore served from a table (hstvo.obscore_rows), kept current by caom2.rollup on every
write in the same transaction, under the same row policy as the planes; ivoa.obscore is a view
over it that adds the access URL (sql/20_ivoa_obscore.sql). Filled once here.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-29
"""

from migrations.sqlfiles import apply_sql_files

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

FILES = ["00_extensions.sql", "14_caom2_lifecycle.sql", "20_ivoa_obscore.sql",
         "91_auth_session.sql", "92_access_rules.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
