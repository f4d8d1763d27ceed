"""VOSpace 2.1: nodes, properties, permissions and quotas (sql/96_vospace_nodes.sql), transfers
and the bytes of data nodes (sql/97_vospace_transfers.sql), and the service in the registry
list (sql/40_service_status.sql). (The archive as folders: 0025.)

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-30
"""

from migrations.sqlfiles import apply_sql_files

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

FILES = ["40_service_status.sql", "96_vospace_nodes.sql", "97_vospace_transfers.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
