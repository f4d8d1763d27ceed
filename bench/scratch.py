"""A fresh, migrated scratch database for a benchmark, on the server the archive uses."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import psycopg

from hstvo.config import PROJECT_ROOT
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


def serve(url: str, port: int, workers: int = 1, probe: str = "/tap/availability") -> subprocess.Popen:
    """`hstvo serve` on the database at `url`, started and answering `probe`."""
    env = {**os.environ, "DATABASE_URL": url, "HSTVO_PORT": str(port)}
    process = subprocess.Popen([sys.executable, "-m", "hstvo.cli", "serve", "--workers",
                                str(workers)], env=env, cwd=PROJECT_ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}{probe}", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError("hstvo serve did not start")
