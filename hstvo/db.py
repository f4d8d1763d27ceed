"""Database access: where the database is, migrations, connections."""

from __future__ import annotations

import logging

import psycopg

from .cluster import Cluster
from .config import PROJECT_ROOT, Settings

log = logging.getLogger("hstvo.db")


def embedded_cluster(settings: Settings) -> Cluster:
    """The cluster under var/ that `make run` uses when DATABASE_URL is not set."""
    return Cluster(settings.var_dir, settings.pg_port)


def database_url(settings: Settings) -> str:
    """DATABASE_URL, or the embedded cluster's URL."""
    return settings.database_url or embedded_cluster(settings).url()


def alembic_config(url: str):
    """An alembic Config for this project, without an alembic.ini."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    sqlalchemy_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    config.set_main_option("sqlalchemy.url", sqlalchemy_url.replace("%", "%%"))
    return config


def upgrade(url: str, settings: Settings | None = None) -> str:
    """Apply every pending migration (idempotent) and record the site settings.

    Returns the revision the database is at afterwards.
    """
    from alembic import command

    from migrations.sqlfiles import refresh

    command.upgrade(alembic_config(url), "head")
    with psycopg.connect(url, autocommit=True) as conn:
        changed = refresh(conn)
        if changed:
            log.info("sql/ files changed since they were applied (%s): all applied again",
                     ", ".join(changed))
        if settings is not None:
            conn.execute("SELECT hstvo.set_service_url(%s)", (settings.public_url,))
            conn.execute("UPDATE hstvo.setting SET value = %(v)s "
                         "WHERE name = 'publisher_authority'",
                         {"v": settings.publisher_authority})
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    revision = row[0] if row else "none"
    log.info("database at revision %s", revision)
    return revision


def connect(url: str, **kwargs) -> psycopg.Connection:
    """A psycopg connection with the project's defaults."""
    return psycopg.connect(url, **kwargs)
