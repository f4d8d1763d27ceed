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


def existing_database(base_url: str, name: str, hint: str = "") -> str:
    """The URL of database `name` on the server of base_url, an archive built elsewhere (such
    as the million observations of `hstvo synth --ingest`, README), brought up to the current
    schema; SystemExit, with `hint`, when there is none."""
    url = f"{base_url.rpartition('/')[0]}/{name}"
    try:
        psycopg.connect(url).close()
    except psycopg.OperationalError:
        raise SystemExit(f"no database {name} on {base_url.rpartition('/')[0]}"
                         + (f": {hint}" if hint else "")) from None
    upgrade(url)
    return url


def filled_scratch_database(base_url: str, name: str, fill: str, check: str, expected) -> str:
    """Scratch database `name`, kept between runs: reused (and brought up to the current
    revision) when the query `check` returns `expected`, else created afresh, migrated, and
    filled by the `;`-separated statements of `fill`."""
    url = f"{base_url.rpartition('/')[0]}/{name}"
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            reusable = conn.execute(check).fetchone() == expected
    except psycopg.OperationalError:
        reusable = False
    if reusable:   # (upgraded with no connection of ours open: it may replace triggers)
        upgrade(url)
        return url
    started = time.perf_counter()
    url = scratch_database(base_url, name)
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in fill.split(";\n"):
            if statement.strip():
                conn.execute(statement)
    print(f"built {name} in {time.perf_counter() - started:.0f} s (not counted)")
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


# the tables whose row policies decide what a caller sees (sql/92_access_rules.sql)
POLICED = ["caom2.observation", "caom2.plane", "caom2.artifact", "caom2.part", "caom2.chunk",
           "caom2.provenanceinput", "caom2.observationmember", "hstvo.obscore_rows"]


def set_row_security(url: str, on: bool) -> None:
    """Turn the access rules on or off in a scratch database (to measure what they cost)."""
    with psycopg.connect(url, autocommit=True) as conn:
        for table in POLICED:
            conn.execute(f"ALTER TABLE {table} {'ENABLE' if on else 'DISABLE'} ROW LEVEL SECURITY")


def member_of_groups(url: str, groups: int = 50) -> str:
    """A user `bench-member` in `groups` groups (half of them through nesting); its token."""
    token = "bench-member-token"
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM auth.user WHERE name = 'bench-member'").fetchone():
            return token
        conn.execute("SELECT auth.add_user('bench-member')")
        for i in range(groups):
            conn.execute("SELECT auth.create_group(%s, 'bench-member')", (f"bench-{i}",))
        for i in range(groups // 2):  # direct
            conn.execute("SELECT auth.add_member(%s, 'bench-member')", (f"bench-{i}",))
        for i in range(groups // 2, groups):  # each holds the one before it
            conn.execute("SELECT auth.add_member(%s, %s)", (f"bench-{i}", f"group:bench-{i - 1}"))
        conn.execute("SELECT auth.add_token('bench-member', %s)", (token,))
    return token


def access_modes(url: str, groups: int = 50) -> list[tuple[str, dict[str, str]]]:
    """(name, headers) of the three ways a benchmark asks: with the access rules off, and with
    them on as anonymous and as a member of `groups` groups. The caller calls
    set_row_security(url, name != 'rules off') before each."""
    token = member_of_groups(url, groups)
    return [("rules off", {}), ("anonymous", {}),
            (f"member of {groups} groups", {"Authorization": f"Bearer {token}"})]
