"""Ingest HST FITS files: read headers in worker processes, COPY them to the database in batches.

Python's part is small on purpose. A pool of processes reads each file's headers and sky corners
(loaders.fits_header) and its MD5; the main process COPYs a batch of such rows into
hst.ingest_staging and calls hst.ingest_batch(), which classifies the files, registers them and
rebuilds their observations (sql/54_hst_ingest.sql). Reading the next files goes on while the
database works on the current batch.

Every file ends up in hst.ingest_log, ingested, unchanged or refused with a reason; a refused
file never stops the others.
"""

from __future__ import annotations

import collections
import contextlib
import glob
import json
import os
import multiprocessing
import queue
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import tuple_row

from loaders.fits_header import FitsReadError, read_fits
from loaders.orphans import exit_with_parent

FITS_PATTERNS = ("*.fits", "*.fits.gz", "*.fit", "*.fts")
# exposure keywords that some instruments (STIS, COS) keep in the science extensions only, and
# the reference-file selection keywords that live there (CRDS reads them for WFC3's and ACS's
# biases and darks); hst.effective_header() merges them under the primary header's own
EXTENSION_KEYWORDS = ("EXPSTART", "EXPEND", "EXPTIME", "BINAXIS1", "BINAXIS2", "LTV1", "LTV2",
                      "CCDCHIP")
STAGING_COLUMNS = ("batch", "seq", "path", "file_name", "size", "checksum", "primary_header",
                   "extensions", "read_error", "notes", "disk_stamp")
UNCHANGED_CHUNK = 5000  # paths asked about at once (hst.unchanged_files)


@dataclass
class StagedFile:
    """One file as the reader hands it to the database (a row of hst.ingest_staging)."""

    path: str
    file_name: str
    size: int | None = None
    checksum: str | None = None
    primary_header: str | None = None  # JSON
    extensions: str | None = None  # JSON
    read_error: str | None = None
    notes: list[str] = field(default_factory=list)
    read_seconds: float = 0.0
    disk_stamp: str | None = None  # '<bytes>:<mtime ns>' of the file as read


@dataclass
class IngestReport:
    """What an ingest run did, with where the time went."""

    files: int = 0
    ingested: int = 0
    unchanged: int = 0
    refused: int = 0
    observations: int = 0
    rows_written: int = 0
    read_seconds: float = 0.0  # summed over the reader processes
    database_seconds: float = 0.0  # COPY + hst.ingest_batch, in the main process
    wall_seconds: float = 0.0
    refusals: list[tuple[str, str]] = field(default_factory=list)  # (path, message)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # ingested, with a remark

    def merge(self, other: "IngestReport") -> None:
        """Another run's counts and times added to these (a run in chunks: hstvo synth --ingest)."""
        for name in ("files", "ingested", "unchanged", "refused", "observations", "rows_written",
                     "read_seconds", "database_seconds", "wall_seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.refusals += other.refusals
        self.warnings += other.warnings

    def add(self, summary: dict[str, Any]) -> None:
        self.rows_written += int(summary.get("rows", 0))
        for key in ("files", "ingested", "unchanged", "refused", "observations"):
            setattr(self, key, getattr(self, key) + int(summary.get(key, 0)))


def find_files(paths: Iterable[str]) -> list[Path]:
    """Expand files, directories (recursively, FITS names only) and globs, sorted and unique.

    Sorting keeps a dataset's files together, so an observation is usually built once per run.
    A path that matches nothing is returned as is: reading it reports the error.
    """
    found: set[Path] = set()
    for given in paths:
        matches = glob.glob(given, recursive=True) if glob.has_magic(given) else [given]
        if not matches:
            found.add(Path(given))
        for match in matches:
            path = Path(match)
            if path.is_dir():
                for pattern in FITS_PATTERNS:
                    found.update(p for p in path.rglob(pattern) if p.is_file())
            else:
                found.add(path)
    return sorted(found, key=lambda p: (p.name, str(p)))


def read_for_staging(path: Path) -> StagedFile:
    """Read one file into a staging row; an unreadable file gives a row with read_error."""
    started = time.perf_counter()
    # the absolute path: the server that serves the file runs elsewhere than this command
    staged = StagedFile(path=str(Path(path).resolve()), file_name=path.name)
    # stamped before reading: a file changed while it is read gets a newer stamp next time
    with contextlib.suppress(OSError):
        staged.disk_stamp = disk_stamp(path)
    try:
        fits_file = read_fits(path)
        staged.size = fits_file.size
        staged.checksum = fits_file.checksum
        staged.primary_header = json.dumps(fits_file.primary)
        staged.extensions = json.dumps([_extension_payload(e, fits_file.primary)
                                        for e in fits_file.extensions])
        staged.notes = fits_file.problems
    except FitsReadError as exc:
        staged.read_error = str(exc)
    except Exception as exc:  # anything else astropy raises on a broken file is that file's error
        staged.read_error = f"cannot read: {type(exc).__name__}: {exc}"
    staged.read_seconds = time.perf_counter() - started
    return staged


def disk_stamp(path: Path) -> str:
    """'<bytes>:<modification time, ns>': a file found again with the same stamp is taken as
    unchanged (as make and rsync take one)."""
    status = os.stat(path)
    return f"{status.st_size}:{status.st_mtime_ns}"


def _unchanged_on_disk(conn: psycopg.Connection, paths: list[Path]) -> dict[str, Path]:
    """The paths registered with the stamp they have now, whose observations are whole, by
    their resolved path: a re-ingest logs them unchanged without reading them
    (hst.unchanged_files)."""
    stamped: list[tuple[str, str, Path]] = []  # (resolved path, stamp, path as given)
    for path in paths:
        try:
            stamped.append((str(Path(path).resolve()), disk_stamp(path), path))
        except OSError:
            continue  # missing or unreadable: reading it reports why
    found: dict[str, Path] = {}
    for start in range(0, len(stamped), UNCHANGED_CHUNK):
        chunk = stamped[start:start + UNCHANGED_CHUNK]
        given = {resolved: path for resolved, _, path in chunk}
        cursor = conn.execute("SELECT hst.unchanged_files(%s, %s)",
                              ([r for r, _, _ in chunk], [s for _, s, _ in chunk]))
        found.update((resolved, given[resolved]) for (resolved,) in cursor.fetchall())
    return found


def _extension_payload(extension: Any, primary: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = {"index": extension.index, "name": extension.name,
                               "ver": extension.version}
    if extension.shape:
        payload["shape"] = list(extension.shape)
    if extension.corners:
        payload["corners"] = [[ra, dec] for ra, dec in extension.corners]
    if extension.wcs:
        payload["wcs"] = extension.wcs
    keywords = {k: extension.header[k] for k in EXTENSION_KEYWORDS
                if extension.header.get(k) is not None}
    if keywords:
        payload["keywords"] = keywords
    if extension.rows is not None:
        payload["rows"] = extension.rows
    return payload


READ_CHUNK = 16  # files a reader process is handed at once


def read_chunk(paths: list[Path]) -> list[StagedFile]:
    """read_for_staging of several files (one hand-over to a reader process)."""
    return [read_for_staging(path) for path in paths]


def _read_ahead(pool: ProcessPoolExecutor, paths: list[Path], batch_size: int
                ) -> Iterator[StagedFile]:
    """The files read, in order, by the pool: up to two batches ahead of the database (an
    archive of millions of files is not held in memory)."""
    ahead = max(2, 2 * batch_size // READ_CHUNK)
    chunks = (paths[i:i + READ_CHUNK] for i in range(0, len(paths), READ_CHUNK))
    pending: collections.deque = collections.deque()
    for chunk in chunks:
        pending.append(pool.submit(read_chunk, chunk))
        if len(pending) >= ahead:
            yield from pending.popleft().result()
    while pending:
        yield from pending.popleft().result()


def _batches(items: Iterator[StagedFile], size: int) -> Iterator[list[StagedFile]]:
    """Batches of about `size` files, each ended where a dataset's files end (the name before
    its first '_': j8cw03xyq_raw.fits, j8cw03xyq_flt.fits, ...; files come sorted by name).
    Two batches that shared an observation would wait for each other in the database
    (hst.ingest_batch), and writers given consecutive batches would take turns instead of
    working at once. A batch is cut anyway at twice `size` (HAP's hst_... names share one
    stem); which observation a file belongs to stays the database's to say."""
    batch: list[StagedFile] = []
    for item in items:
        if len(batch) >= 2 * size or (
                len(batch) >= size and _dataset_stem(item) != _dataset_stem(batch[-1])):
            yield batch
            batch = []
        batch.append(item)
    if batch:
        yield batch


def _dataset_stem(staged: StagedFile) -> str:
    return staged.file_name.split("_", 1)[0].lower()


def ingest_batch(conn: psycopg.Connection, batch: list[StagedFile],
                 rebuild: bool = False) -> dict[str, Any]:
    """COPY one batch into staging and run hst.ingest_batch on it, in one transaction."""
    batch_id = uuid.uuid4()
    with conn.transaction():
        with conn.cursor(row_factory=tuple_row) as cur:  # whatever the connection's factory
            with cur.copy(f"COPY hst.ingest_staging ({', '.join(STAGING_COLUMNS)}) FROM STDIN") as copy:
                for seq, staged in enumerate(batch):
                    copy.write_row((batch_id, seq, staged.path, staged.file_name, staged.size,
                                    staged.checksum, staged.primary_header, staged.extensions,
                                    staged.read_error, staged.notes, staged.disk_stamp))
            summary = cur.execute("SELECT hst.ingest_batch(%s, %s)",
                                  (batch_id, rebuild)).fetchone()[0]
            remarks = cur.execute(
                "SELECT status = 'refused', path, message FROM hst.ingest_log"
                " WHERE batch = %s AND message IS NOT NULL ORDER BY id", (batch_id,)).fetchall()
    summary["refusals"] = [(path, message) for refused, path, message in remarks if refused]
    summary["warnings"] = [(path, message) for refused, path, message in remarks if not refused]
    return summary


def ingest(conn: psycopg.Connection, paths: list[Path], jobs: int = 2, batch_size: int = 500,
           progress: Callable[[int], None] | None = None, rebuild: bool = False,
           writers: int = 1, connect: Callable[[], psycopg.Connection] | None = None
           ) -> IngestReport:
    """Ingest files: `jobs` reader processes, batches of `batch_size` files per transaction.

    `progress` is called with the number of files each finished batch held. `rebuild` rebuilds
    observations whose files did not change (after a change of the rules in the database).
    `writers` batches go to the database at once, over `conn` and writers - 1 more connections
    that `connect` opens (autocommit): the database's part of an ingest is most of it, and one
    connection uses one core. Batches that share an observation wait for each other in the
    database (hst.ingest_batch). Readers are spawned processes: a script calling this needs an
    `if __name__ == "__main__"` guard.
    """
    report = IngestReport()
    started = time.perf_counter()
    _prepare_session(conn)
    conn.execute("SELECT hstvo.add_file_roots(%s)",
                 (sorted({str(Path(p).resolve().parent) for p in paths}),))
    if not rebuild:
        # files as they were at their last ingest are not read again: logged unchanged
        db_started = time.perf_counter()
        with conn.transaction():
            unchanged = _unchanged_on_disk(conn, paths)
            summary = conn.execute("SELECT hst.log_unchanged(%s)",
                                   (list(unchanged),)).fetchone()[0] if unchanged else None
        if unchanged:
            report.add(summary)
            if progress:
                progress(len(unchanged))
            skipped = set(unchanged.values())
            paths = [p for p in paths if p not in skipped]
        report.database_seconds += time.perf_counter() - db_started
    if writers > 1 and connect is None:
        raise ValueError("more than one writer needs a way to connect")
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=spawn,
                             initializer=exit_with_parent, initargs=(os.getpid(),)) as pool, \
            _Writers(conn, max(1, writers), connect, rebuild) as database:
        for batch in _batches(_read_ahead(pool, paths, batch_size), batch_size):
            report.read_seconds += sum(s.read_seconds for s in batch)
            for done, summary, seconds in database.submit(batch):
                _account(report, done, summary, seconds, progress)
        for done, summary, seconds in database.drain():
            _account(report, done, summary, seconds, progress)
    report.wall_seconds = time.perf_counter() - started
    return report


def _prepare_session(conn: psycopg.Connection) -> None:
    # If this process dies (kill -9), its open transaction must die with it. Forked readers would
    # inherit the database socket and keep that transaction, and its locks, open: readers are
    # spawned afresh instead, and the session gives up a transaction left idle.
    conn.execute("SET idle_in_transaction_session_timeout = '5min'")


def _account(report: IngestReport, batch: list[StagedFile], summary: dict[str, Any],
             seconds: float, progress: Callable[[int], None] | None) -> None:
    report.database_seconds += seconds
    report.refusals.extend(summary.pop("refusals"))
    report.warnings.extend(summary.pop("warnings"))
    report.add(summary)
    if progress:
        progress(len(batch))


DEADLOCK_RETRIES = 5


class _Writers:
    """Batches stored by up to `count` connections at once, each batch in its own transaction
    (a thread per connection: psycopg lets go of the GIL while the database works). Results
    come back in the order the batches went in."""

    def __init__(self, conn: psycopg.Connection, count: int,
                 connect: Callable[[], psycopg.Connection] | None, rebuild: bool) -> None:
        self._count, self._rebuild = count, rebuild
        self._own: list[psycopg.Connection] = []
        self._idle: "queue.SimpleQueue[psycopg.Connection]" = queue.SimpleQueue()
        self._idle.put(conn)
        for _ in range(count - 1):
            extra = connect()  # type: ignore[misc]
            _prepare_session(extra)
            self._own.append(extra)
            self._idle.put(extra)
        self._threads = ThreadPoolExecutor(max_workers=count, thread_name_prefix="ingest-writer")
        self._pending: collections.deque = collections.deque()

    def __enter__(self) -> "_Writers":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._threads.shutdown(wait=True, cancel_futures=True)
        for extra in self._own:
            extra.close()

    def _store(self, batch: list[StagedFile]) -> tuple[list[StagedFile], dict[str, Any], float]:
        conn = self._idle.get()
        try:
            started = time.perf_counter()
            for attempt in range(DEADLOCK_RETRIES):
                try:
                    summary = ingest_batch(conn, batch, self._rebuild)
                    break
                except psycopg.errors.DeadlockDetected:
                    # two writers' batches crossed (the database chose this one to give way):
                    # nothing of it was kept, so it runs again
                    if attempt == DEADLOCK_RETRIES - 1:
                        raise
            return batch, summary, time.perf_counter() - started
        finally:
            self._idle.put(conn)

    def submit(self, batch: list[StagedFile]) -> Iterator[tuple[list[StagedFile], dict[str, Any], float]]:
        """Hand a batch over and yield the batches finished meanwhile, once `count` are under
        way (a generator: the batch goes over when it is iterated, as ingest() does)."""
        self._pending.append(self._threads.submit(self._store, batch))
        while len(self._pending) >= self._count:
            yield self._pending.popleft().result()

    def drain(self) -> Iterator[tuple[list[StagedFile], dict[str, Any], float]]:
        while self._pending:
            yield self._pending.popleft().result()
