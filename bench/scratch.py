"""A fresh, migrated scratch database for a benchmark, on the server the archive uses."""

from __future__ import annotations

import psycopg

from hstvo.db import upgrade


def scratch_database(base_url: str, name: str) -> str:
    """Drop and create database `name` on the server of base_url, migrate it, return its URL."""
    head = base_url.rpartition("/")[0]
    with psycopg.connect(head + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{head}/{name}"
    upgrade(url)
    return url
