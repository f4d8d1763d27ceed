"""Hot standbys of the embedded cluster, by PostgreSQL's own physical streaming replication.

`hstvo db replica add NAME` makes a standby of the primary under var/replicas/NAME: a physical
replication slot on the primary (so that the primary keeps the WAL the standby has not replayed
yet, however long it is away), a copy of the primary by pg_basebackup, and the standby started
on its own port, read-only, replaying the primary's WAL as it streams in. `db replica list`
shows each standby's state and lag as the primary sees it (pg_stat_replication);
`db replica remove NAME` stops the standby, deletes its files and drops its slot.

The service sends its reads to standbys listed in HSTVO_READ_URLS (pyserver/replicas.py).
"""

from __future__ import annotations

import logging
import re
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

import psycopg

from .cluster import SUPERUSER, Cluster, ClusterError, pg_bindir

log = logging.getLogger("hstvo.replicas")

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,30}$")


@dataclass
class ReplicaState:
    """A standby as `db replica list` shows it."""

    name: str
    port: int
    running: bool
    state: str | None  # pg_stat_replication.state: streaming, catchup, ... (None: not connected)
    lag_bytes: int | None  # WAL the primary has written that the standby has not replayed
    lag_seconds: float | None  # replay_lag: how long ago the replayed WAL was written
    url: str


def replicas_root(primary: Cluster) -> Path:
    return primary.root / "replicas"


def slot_name(name: str) -> str:
    return f"hstvo_{name}"


def replica_cluster(primary: Cluster, name: str) -> Cluster:
    """The standby NAME of this primary (its files under var/replicas/NAME)."""
    root = replicas_root(primary) / name
    port_file = root / "port"
    if not port_file.exists():
        raise ClusterError(f"there is no replica {name!r} (hstvo db replica list shows them)")
    return Cluster(root, int(port_file.read_text()), dbname=primary.dbname,
                   fast_and_unsafe=primary.fast_and_unsafe, cron_database=primary.cron_database)


def replica_names(primary: Cluster) -> list[str]:
    root = replicas_root(primary)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "port").exists())


def _free_port(after: int) -> int:
    """The first port above `after` that nothing listens on."""
    for port in range(after + 1, after + 200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise ClusterError(f"no free port found above {after}")


def add_replica(primary: Cluster, name: str, port: int | None = None) -> Cluster:
    """Make a hot standby of the running primary and start it; returns its cluster."""
    if not NAME_PATTERN.match(name):
        raise ClusterError(f"a replica's name is a lower-case letter, then letters, digits or _ "
                           f"(31 at most), not {name!r}")
    if not primary.running():
        raise ClusterError("the primary is not running: start it first (hstvo db start)")
    root = replicas_root(primary) / name
    if root.exists():
        raise ClusterError(f"replica {name!r} exists already ({root})")
    port = port or _free_port(max([primary.port] + [replica_cluster(primary, n).port
                                                     for n in replica_names(primary)]))
    replica = Cluster(root, port, dbname=primary.dbname, fast_and_unsafe=primary.fast_and_unsafe,
                      cron_database=primary.cron_database)
    with psycopg.connect(primary.url("postgres"), autocommit=True) as conn:
        # (reserved at once: the WAL from here on is kept for the standby)
        conn.execute("SELECT pg_create_physical_replication_slot(%s, true)", (slot_name(name),))
    try:
        replica._prepare_dirs()
        log.info("copying the primary into %s (pg_basebackup)", replica.data_dir)
        # (-R writes the connection, its application_name included, as the standby's
        # primary_conninfo: the standby names itself to the primary, so that
        # pg_stat_replication shows which standby each line is)
        replica._run([str(pg_bindir() / "pg_basebackup"),
                      "-d", f"host=127.0.0.1 port={primary.port} user={SUPERUSER} "
                            f"application_name={name}",
                      "-D", str(replica.data_dir), "-X", "stream", "-S", slot_name(name), "-R",
                      "--checkpoint=fast"])
        (root / "port").write_text(str(port))
        replica.start()
    except Exception:
        _discard(primary, name, replica)
        raise
    log.info("replica %s streaming from the primary on port %d", name, port)
    return replica


def remove_replica(primary: Cluster, name: str) -> None:
    """Stop the standby, delete its files and drop its slot on the primary."""
    _discard(primary, name, replica_cluster(primary, name))


def _discard(primary: Cluster, name: str, replica: Cluster) -> None:
    try:
        replica.stop()
    except ClusterError as exc:
        log.warning("replica %s did not stop cleanly: %s", name, exc)
    storage = replica._storage_root()
    shutil.rmtree(replica.root, ignore_errors=True)
    if storage != replica.root:
        shutil.rmtree(storage, ignore_errors=True)
    if primary.running():
        with psycopg.connect(primary.url("postgres"), autocommit=True) as conn:
            conn.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                         "WHERE slot_name = %s", (slot_name(name),))


def start_replicas(primary: Cluster) -> list[Cluster]:
    """Start every standby of this primary that is not running (after the primary)."""
    started = []
    for name in replica_names(primary):
        replica = replica_cluster(primary, name)
        replica.start()
        started.append(replica)
    return started


def stop_replicas(primary: Cluster) -> None:
    for name in replica_names(primary):
        replica_cluster(primary, name).stop()


def replica_states(primary: Cluster) -> list[ReplicaState]:
    """Each standby with its state and lag, as the primary sees it."""
    seen: dict[str, tuple] = {}
    if primary.running():
        with psycopg.connect(primary.url(), autocommit=True) as conn:
            for row in conn.execute("SELECT * FROM hstvo.replication_states()"):
                seen[row[0]] = row[1:]
    states = []
    for name in replica_names(primary):
        replica = replica_cluster(primary, name)
        state, lag_bytes, lag_seconds = seen.get(name, (None, None, None))
        states.append(ReplicaState(name, replica.port, replica.running(), state, lag_bytes,
                                   lag_seconds, replica.url()))
    return states
