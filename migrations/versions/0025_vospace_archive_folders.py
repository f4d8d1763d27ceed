"""The archive as VOSpace folders, computed from CAOM under the access rules:
/HST_MOUNT_BY_TARGETS, /HST_MOUNT_BY_PROPOSAL and /HST_HIGH_LEVEL_PRODUCTS
(sql/98_vospace_archive_folders.sql).

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-30
"""

from migrations.sqlfiles import apply_sql_files

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

FILES = ["98_vospace_archive_folders.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
