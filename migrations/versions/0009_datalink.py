"""DataLink: the links of a plane, from one SQL function (hstvo.datalink_links).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24
"""

from migrations.sqlfiles import apply_sql_files

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# 11 again: an index on caom2.plane (planeuri), for DataLink IDs given as plane URIs
FILES = ["11_caom2_indexes.sql", "80_datalink.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
