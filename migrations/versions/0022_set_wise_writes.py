"""Set-wise writes: caom2.put_observations stores a batch of observation documents in one pass
(caom2.put_observation is a batch of one), and the HTTP harvest stores each fetched batch
through it (harvest.store_documents, harvest.store_all); checksums, footprints and roll-up
computed without a query per field or per vertex (sql/13_caom2_checksums.sql,
sql/12_caom2_geometry.sql, sql/14_caom2_lifecycle.sql); a duplicate index on the plane URI
dropped (sql/11_caom2_indexes.sql); the VOTable cell writers declared STABLE so that PostgreSQL
inlines them (sql/63_votable.sql, sql/64_obscore_written_rows.sql); a coverage MOC computed on a
read-only standby is not cached there (sql/81_moc.sql); replication state and lag as functions
(sql/40_service_status.sql); an ingest batch registers its files and
stores its observations set-wise, one observation at a time only when the batch is refused
(sql/54_hst_ingest.sql).

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-29
"""

from migrations.sqlfiles import apply_sql_files

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

FILES = ["11_caom2_indexes.sql", "12_caom2_geometry.sql", "13_caom2_checksums.sql",
         "14_caom2_lifecycle.sql", "15_caom2_persistence.sql", "40_service_status.sql",
         "54_hst_ingest.sql", "63_votable.sql",
         "64_obscore_written_rows.sql", "81_moc.sql", "85_harvest.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
