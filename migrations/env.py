"""Alembic environment: migrations are plain SQL files from sql/, applied in order.

There are no SQLAlchemy models; SQLAlchemy is only alembic's way to hold a connection. The SQL
files are executed on the raw psycopg connection so that plpgsql bodies, dollar quotes and
colons reach PostgreSQL untouched.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

config = context.config


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("hstvo migrations run online only (they execute SQL files)")
run_migrations_online()
