"""Settings, read once from the environment.

Every knob a deployment turns is an environment variable, so `make run`, the Docker image and a
worker VM configure the same way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = PROJECT_ROOT / "sql"


@dataclass(frozen=True)
class Settings:
    """What the service and the CLI need to know about their surroundings."""

    database_url: str | None
    var_dir: Path
    pg_port: int
    http_host: str
    http_port: int
    public_url: str
    publisher_authority: str
    storage_dir: Path  # HSTVO_STORAGE: where files written through /files are kept
    write_token: str | None  # HSTVO_TOKEN: the bearer token that may write (PUT /files/...)
    archive_url: str  # HSTVO_ARCHIVE_URL: the archive a worker fetches from and returns to

    @property
    def embedded(self) -> bool:
        """True when no DATABASE_URL is given and the embedded cluster under var/ is used."""
        return self.database_url is None


@dataclass(frozen=True)
class TapLimits:
    """What one TAP query may take: times in seconds, result and upload sizes. The capabilities
    document declares them."""

    sync_seconds: int = 60  # HSTVO_TAP_SYNC_SECONDS: statement_timeout of /tap/sync
    async_default_seconds: int = 600  # HSTVO_TAP_ASYNC_SECONDS: an async job's default
    async_max_seconds: int = 3600  # HSTVO_TAP_ASYNC_MAX_SECONDS: the most a job may ask for
    maxrec_default: int = 10_000  # HSTVO_TAP_MAXREC: rows when MAXREC is not given
    maxrec_hard: int = 10_000_000  # HSTVO_TAP_MAXREC_HARD: rows whatever MAXREC says
    upload_bytes: int = 10_000_000  # HSTVO_TAP_UPLOAD_BYTES: the largest uploaded table
    upload_rows: int = 200_000  # HSTVO_TAP_UPLOAD_ROWS: its most rows
    upload_columns: int = 1_000  # HSTVO_TAP_UPLOAD_COLUMNS: its most columns (PostgreSQL: 1,600)
    query_bytes: int = 100_000  # HSTVO_TAP_QUERY_BYTES: the longest ADQL text
    body_bytes: int = 20_000_000  # HSTVO_TAP_BODY_BYTES: the largest request body, all parts
    async_slots: int = 2  # HSTVO_TAP_ASYNC_SLOTS: jobs one server process runs at once
    streams: int = 4  # HSTVO_TAP_STREAMS: queries one server process streams at once
    streams_per_client: int = 3  # HSTVO_TAP_STREAMS_PER_CLIENT: of those, one client's


def load_tap_limits() -> TapLimits:
    """The TAP limits: defaults, each overridden by its HSTVO_TAP_* environment variable."""
    names = {"sync_seconds": "SYNC_SECONDS", "async_default_seconds": "ASYNC_SECONDS",
             "async_max_seconds": "ASYNC_MAX_SECONDS", "maxrec_default": "MAXREC",
             "maxrec_hard": "MAXREC_HARD", "upload_bytes": "UPLOAD_BYTES",
             "upload_rows": "UPLOAD_ROWS", "upload_columns": "UPLOAD_COLUMNS",
             "query_bytes": "QUERY_BYTES", "body_bytes": "BODY_BYTES",
             "async_slots": "ASYNC_SLOTS", "streams": "STREAMS",
             "streams_per_client": "STREAMS_PER_CLIENT"}
    given = {key: int(os.environ[f"HSTVO_TAP_{name}"]) for key, name in names.items()
             if os.environ.get(f"HSTVO_TAP_{name}")}
    return TapLimits(**given)


def load_settings() -> Settings:
    """Read the settings from the environment (defaults suit a laptop)."""
    http_host = os.environ.get("HSTVO_HOST", "127.0.0.1")
    http_port = int(os.environ.get("HSTVO_PORT", "8080"))
    var_dir = Path(os.environ.get("HSTVO_VAR", PROJECT_ROOT / "var")).resolve()
    public_url = os.environ.get("HSTVO_PUBLIC_URL", f"http://{http_host}:{http_port}").rstrip("/")
    return Settings(
        database_url=os.environ.get("DATABASE_URL") or None,
        var_dir=var_dir,
        pg_port=int(os.environ.get("HSTVO_PG_PORT", "54320")),
        http_host=http_host,
        http_port=http_port,
        public_url=public_url,
        publisher_authority=os.environ.get("HSTVO_AUTHORITY", "ivo://hstvo.example"),
        storage_dir=Path(os.environ.get("HSTVO_STORAGE", var_dir / "storage")).resolve(),
        write_token=os.environ.get("HSTVO_TOKEN") or None,
        archive_url=os.environ.get("HSTVO_ARCHIVE_URL", public_url).rstrip("/"),
    )
