"""The embedded PostgreSQL + pgsphere cluster under ./var/.

`make run` and `make test` need a database without asking the user to set one up. This module
creates a private cluster (its own port, a unix socket inside var/, listening on 127.0.0.1 only)
with Debian's PostgreSQL binaries.

PostgreSQL refuses to run as root, and CI runs as root: when the caller is root the server runs as
the unprivileged system user ``hstvo`` (created on first use), which owns the data directory.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("hstvo.cluster")

SERVICE_USER = "hstvo"
SUPERUSER = "postgres"


def memory_options() -> list[str]:
    """Settings sized to the machine, as a DBA would set them for an archive: a quarter of the
    memory (at most 2 GB) for shared buffers, where PostgreSQL's default of 128 MB kept a
    harvest of 100,000 observations reading its own indexes back from the page cache; the
    planner told that the rest is cache, and that a page read at random costs little more
    than one read in sequence (the archive is in memory or on SSD: at the default, 4, a
    roll-up of 1,000 observations read all 400,000 parts of the archive rather than look up
    its 4,000); and checkpoints spaced for bulk loads."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return []
    mb = memory // (1024 * 1024)
    return [f"-c shared_buffers={max(128, min(mb // 4, 2048))}MB",
            f"-c effective_cache_size={max(512, mb // 2)}MB",
            "-c random_page_cost=1.1", "-c max_wal_size=4GB",
            "-c checkpoint_completion_target=0.9"]


class ClusterError(RuntimeError):
    """The embedded cluster could not be created, started or stopped."""


def pg_bindir() -> Path:
    """Directory of the PostgreSQL server binaries (the newest Debian version installed)."""
    override = os.environ.get("HSTVO_PG_BINDIR")
    if override:
        return Path(override)
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                        key=lambda p: int(Path(p).parts[-3]), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    found = shutil.which("postgres")
    if found:
        return Path(found).resolve().parent
    raise ClusterError("PostgreSQL server binaries not found: install postgresql-15 "
                       "and postgresql-15-pgsphere (make deps does it)")


def _is_root() -> bool:
    return os.geteuid() == 0


def _ensure_service_user() -> pwd.struct_passwd:
    """Return the unprivileged user the server runs as when we are root, creating it if needed."""
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        log.info("creating system user %s to run PostgreSQL (it refuses to run as root)",
                 SERVICE_USER)
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", SERVICE_USER], check=True)
        return pwd.getpwnam(SERVICE_USER)


def _traversable_by_others(path: Path) -> bool:
    """True when every ancestor of path lets other users pass (the x bit for 'other')."""
    for parent in [path, *path.parents]:
        if parent.exists() and not os.stat(parent).st_mode & 0o001:
            return False
    return True


@dataclass
class Cluster:
    """A PostgreSQL cluster living in `root` (data in root/pgdata, socket in root/run)."""

    root: Path
    port: int
    dbname: str = "hstvo"
    fast_and_unsafe: bool = False  # fsync off etc.: for throw-away test clusters only
    cron_database: str | None = None  # where pg_cron keeps its jobs (default: dbname)

    @property
    def data_dir(self) -> Path:
        return self._storage_root() / "pgdata"

    @property
    def socket_dir(self) -> Path:
        return self._storage_root() / "run"

    @property
    def log_file(self) -> Path:
        return self._storage_root() / "postgres.log"

    def url(self, dbname: str | None = None) -> str:
        """libpq URL of a database in this cluster (TCP on 127.0.0.1)."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname or self.dbname}"

    def _storage_root(self) -> Path:
        """Where data and socket live: root itself, unless the service user could not reach it.

        As root, the repository may sit below a directory other users cannot enter (/root, say);
        the server then keeps its files in /var/tmp and root/pgdata is a symbolic link to them.
        """
        if not _is_root() or _traversable_by_others(self.root):
            return self.root
        digest = hashlib.sha1(str(self.root).encode()).hexdigest()[:10]
        return Path("/var/tmp") / f"hstvo-{digest}"

    # --- running commands as the right user -------------------------------------------------
    def _run(self, args: list[str], check: bool = True, **kw) -> subprocess.CompletedProcess:
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        if _is_root():
            user = _ensure_service_user()
            kw.update(user=user.pw_uid, group=user.pw_gid, extra_groups=[], cwd="/")
        result = subprocess.run(args, check=False, **kw)
        if check and result.returncode != 0:
            raise ClusterError(f"{Path(args[0]).name} failed ({result.returncode}): "
                               f"{(result.stderr or result.stdout).strip()}")
        return result

    def _prepare_dirs(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        storage = self._storage_root()
        storage.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if storage != self.root:
            link = self.root / "pgdata"
            if not link.exists():
                link.symlink_to(storage / "pgdata")
        if _is_root():
            user = _ensure_service_user()
            for path in (storage, self.socket_dir, self.root):
                os.chown(path, user.pw_uid, user.pw_gid)
            if self.log_file.exists():
                os.chown(self.log_file, user.pw_uid, user.pw_gid)

    # --- lifecycle --------------------------------------------------------------------------
    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        """Create the cluster files (initdb) if they do not exist yet."""
        self._prepare_dirs()
        if self.initialised():
            return
        log.info("initdb %s", self.data_dir)
        self._run([str(pg_bindir() / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
                   "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions"])

    def running(self) -> bool:
        if not self.initialised():
            return False
        result = self._run([str(pg_bindir() / "pg_ctl"), "-D", str(self.data_dir), "status"],
                           check=False)
        return result.returncode == 0

    def start(self) -> None:
        """Initialise if needed, start the server, and create the application database."""
        self.init()
        if not self.running():
            options = [f"-p {self.port}", f"-k {self.socket_dir}",
                       "-c listen_addresses=127.0.0.1", "-c max_connections=200"]
            options += memory_options()
            if self.fast_and_unsafe:
                options += ["-c fsync=off", "-c synchronous_commit=off",
                            "-c full_page_writes=off"]
            options += self._cron_options()
            log.info("starting PostgreSQL on 127.0.0.1:%d (data %s)", self.port, self.data_dir)
            self._run([str(pg_bindir() / "pg_ctl"), "-D", str(self.data_dir), "-l",
                       str(self.log_file), "-w", "-t", "60", "-o", " ".join(options), "start"])
        self.create_database(self.dbname)

    def _cron_options(self) -> list[str]:
        """pg_cron preloaded, when installed (Debian's postgresql-15-cron), for the harvest's
        schedules (sql/85_harvest.sql): its jobs live in one database, the archive's; they run
        in background workers, which need no password."""
        if not (pg_bindir().parent / "lib" / "pg_cron.so").exists():
            return []
        return ["-c shared_preload_libraries=pg_cron",
                f"-c cron.database_name={self.cron_database or self.dbname}",
                "-c cron.use_background_workers=on", "-c max_worker_processes=16"]

    def stop(self) -> None:
        if self.running():
            log.info("stopping PostgreSQL (data %s)", self.data_dir)
            self._run([str(pg_bindir() / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast",
                       "-w", "stop"])

    def create_database(self, dbname: str) -> None:
        """Create a database unless it exists (waits briefly for the server to accept)."""
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
                    exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                          (dbname,)).fetchone()
                    if not exists:
                        conn.execute(f'CREATE DATABASE "{dbname}"')  # name is ours, not user input
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def status(self) -> str:
        if not self.initialised():
            return f"not initialised ({self.data_dir})"
        state = "running" if self.running() else "stopped"
        return f"{state}: {self.url()} (data {self.data_dir}, log {self.log_file})"
