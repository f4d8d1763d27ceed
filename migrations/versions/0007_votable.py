"""Results serialised in the database (VOTable TABLEDATA, BINARY2, CSV/TSV); a fast url_encode for ObsCore access_url; ADQL BOX.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from migrations.sqlfiles import apply_sql_files

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# 20 again: hstvo.url_encode is a chain of replace() calls (the per-character version stays
# as hstvo.url_encode_any, for what the fast one does not cover); 60 again: adql.box
FILES = ["20_ivoa_obscore.sql", "60_adql.sql", "63_votable.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
