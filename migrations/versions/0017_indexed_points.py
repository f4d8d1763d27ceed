"""The TAP query role reads ObsCore's indexed point, which POINT(s_ra, s_dec) becomes, so that
position queries on s_ra and s_dec use its GiST index; adql.polygon of a missing coordinate is
NULL, and so is caom2.bounds_spoly of bounds with a missing number (pgsphere's polygon
aggregate crashed the server process on a NULL point).

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-29
"""

from migrations.sqlfiles import apply_sql_files

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

FILES = ["12_caom2_geometry.sql", "60_adql.sql", "62_tap_role.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
