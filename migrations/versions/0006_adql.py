"""ADQL geometry functions on pgsphere (degrees), called by the ADQL translator; TAP_SCHEMA fixes; UWS jobs of /tap/async.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from migrations.sqlfiles import apply_sql_files

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# 30 and 31 again: TAP_SCHEMA publishes "size" delimited, and s_region without a unit
FILES = ["30_tap_schema.sql", "31_tap_schema_content.sql", "60_adql.sql", "61_uws.sql",
         "62_tap_role.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
