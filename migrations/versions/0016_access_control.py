"""Identities, groups and proprietary data: users, groups, tokens (auth schema), the caller's
signed identity per transaction, row policies on the caom2 tables (ObsCore and EnumField read
under them), data rights for /files, SODA and DataLink, owners of UWS jobs, the writers group,
the audit trail.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29
"""

from migrations.sqlfiles import apply_sql_files

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# 20, 61, 80, 81, 82 again: ObsCore, DataLink, MOC and SODA leave visibility to the policies
# 62 first: hstvo.ensure_role, which 92 calls
FILES = ["62_tap_role.sql", "90_auth_identities.sql", "91_auth_session.sql", "92_access_rules.sql",
         "93_auth_writers.sql", "94_auth_audit.sql", "20_ivoa_obscore.sql", "61_uws.sql",
         "80_datalink.sql", "81_moc.sql", "82_soda.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
