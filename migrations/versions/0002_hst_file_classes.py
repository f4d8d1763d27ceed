"""HST file-class rules: which suffix goes to which plane, level and product type.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from migrations.sqlfiles import apply_sql_files

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

FILES = ["50_hst_file_classes.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
