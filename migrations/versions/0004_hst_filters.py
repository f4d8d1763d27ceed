"""HST filter bandpasses (data/hst/filters.csv) and the CAOM energy-band rule.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from alembic import op

from hstvo.config import PROJECT_ROOT
from migrations.sqlfiles import apply_sql_files

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

FILES = ["53_hst_filters.sql"]
FILTERS_CSV = PROJECT_ROOT / "data" / "hst" / "filters.csv"


def upgrade() -> None:
    apply_sql_files(FILES)
    raw = op.get_bind().connection.driver_connection
    if raw.execute("SELECT count(*) FROM hst.filter_source").fetchone()[0] == 0:
        with raw.cursor().copy("COPY hst.filter_source FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
            copy.write(FILTERS_CSV.read_bytes())


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
