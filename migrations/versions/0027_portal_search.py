"""The portal's Advanced Search: conditions, facet counts and pages over ObsCore's rows under
the caller's access rules (sql/89_portal_search.sql).

Revision ID: 0027
Revises: 0026
Create Date: 2026-11-30
"""

from migrations.sqlfiles import apply_sql_files

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

FILES = ["89_portal_search.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
