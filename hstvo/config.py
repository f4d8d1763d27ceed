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

    @property
    def embedded(self) -> bool:
        """True when no DATABASE_URL is given and the embedded cluster under var/ is used."""
        return self.database_url is None


def load_settings() -> Settings:
    """Read the settings from the environment (defaults suit a laptop)."""
    http_host = os.environ.get("HSTVO_HOST", "127.0.0.1")
    http_port = int(os.environ.get("HSTVO_PORT", "8080"))
    return Settings(
        database_url=os.environ.get("DATABASE_URL") or None,
        var_dir=Path(os.environ.get("HSTVO_VAR", PROJECT_ROOT / "var")).resolve(),
        pg_port=int(os.environ.get("HSTVO_PG_PORT", "54320")),
        http_host=http_host,
        http_port=http_port,
        public_url=os.environ.get("HSTVO_PUBLIC_URL", f"http://{http_host}:{http_port}").rstrip("/"),
        publisher_authority=os.environ.get("HSTVO_AUTHORITY", "ivo://hstvo.example"),
    )
