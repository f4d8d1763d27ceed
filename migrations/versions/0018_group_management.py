"""Group management over HTTP (/gms/groups, CADC's group protocol): what the caller of a
request may read and change, and the changes, as functions that act as the request's signed
identity (sql/95_auth_group_management.sql); the registry list names the GMS service (0016
added it to sql/40_service_status.sql but did not apply that file); and hstvo.sql_file, the
version of each sql/ file the database holds, so that `hstvo db upgrade` applies again the files
that changed after the migration that last named them (sql/01_sql_files.sql).

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-29
"""

from migrations.sqlfiles import apply_sql_files

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

FILES = ["01_sql_files.sql", "40_service_status.sql", "95_auth_group_management.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
