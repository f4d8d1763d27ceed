"""The portal's searches by index at archive scale: one facet value is an equality, and ObsCore's
rows are indexed by (instrument_name, obs_id), so a refinement to one instrument reads its first
page in order; target names and obs_ids by their beginning in any case are ranges of
text_pattern_ops indexes on the lower-case name instead of an ILIKE that read every row
(sql/20_ivoa_obscore.sql, sql/89_portal_search.sql). The names are compared as hstvo.name_key, a
lower() that is LEAKPROOF, so that the indexes serve callers under the row policies too. The
facet cube knows the transactions it has seen (a snapshot) instead of a flag that writes set:
writes no longer wait for its refresh, seconds on a million rows.

Revision ID: 0033
Revises: 0032
Create Date: 2026-11-30
"""

from alembic import op

from migrations.sqlfiles import apply_sql_files

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None

FILES = ["20_ivoa_obscore.sql", "89_portal_search.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)
    # the statistics of the new indexes' expressions, without which the planner guesses how
    # many rows a name selects (and read the obs_id index to its end for a name of none)
    op.execute("ANALYZE hstvo.obscore_rows")


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
