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

FILES = ["80_datalink.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
