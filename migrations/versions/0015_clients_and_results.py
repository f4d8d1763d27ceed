"""CADC's registry list (hstvo.registry, served at /reg/resource-caps for caom2-repo and
cadc-tap); ADQL's CENTROID of polygons and CAST to POINT, CIRCLE and POLYGON from DALI strings;
async results as files in the archive's storage (uws.job.result_file); the queue's retries back
off, and its history names who moved a job.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29
"""

from migrations.sqlfiles import apply_sql_files

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

FILES = ["40_service_status.sql", "60_adql.sql", "61_uws.sql", "73_work_queue.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
