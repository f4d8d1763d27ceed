"""Async TAP results as files in the archive's storage (HSTVO_STORAGE/tap-results/).

A job's result is written chunk by chunk as the database streams it, to `<job>.partial`, and
renamed to its final name only when complete: a reader never sees half a result, and the
server's memory stays flat however many rows there are. The job row (uws.job.result_file)
names the file relative to the storage directory, so every server process that shares the
storage serves any job's result. Files of deleted or expired jobs are removed with them, and
anything a killed server left behind is swept up (sweep_orphans).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

log = logging.getLogger("hstvo.uws")

DIRECTORY = "tap-results"
EXTENSIONS = {"text/csv": "csv", "text/tab-separated-values": "tsv", "application/fits": "fits"}
# a file with no job is left alone this long: its job may be about to be recorded as finished
ORPHAN_SECONDS = 3600


def result_name(job_id: str, media_type: str) -> str:
    """The result file of a job, relative to the storage directory."""
    extension = EXTENSIONS.get(media_type.split(";")[0], "xml")
    return f"{DIRECTORY}/{job_id}.{extension}"


def result_path(storage: Path, name: str) -> Path | None:
    """The absolute path of a stored result; None for a name that leaves the results
    directory (the name comes from the database, and is checked all the same)."""
    root = (storage / DIRECTORY).resolve()
    path = (storage / name).resolve()
    return path if path.parent == root else None


async def write_result(storage: Path, name: str, chunks: AsyncIterator[str | bytes]) -> int:
    """Write a result from its chunks; returns its size. On any failure nothing is left."""
    final = storage / name
    partial = final.with_name(final.name + ".partial")
    await asyncio.to_thread(final.parent.mkdir, parents=True, exist_ok=True)
    handle = await asyncio.to_thread(open, partial, "wb")
    try:
        size = 0
        async for chunk in chunks:
            data = chunk.encode() if isinstance(chunk, str) else chunk
            await asyncio.to_thread(handle.write, data)
            size += len(data)
        await asyncio.to_thread(handle.close)
        await asyncio.to_thread(os.replace, partial, final)
        return size
    except BaseException:
        handle.close()
        partial.unlink(missing_ok=True)
        raise


def remove_results(storage: Path, names: list[str | None]) -> int:
    """Remove the result files of deleted jobs; returns how many were removed."""
    removed = 0
    for name in filter(None, names):
        path = result_path(storage, name)
        if path is not None and path.exists():
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def stored_job_ids(storage: Path, older_than: float = ORPHAN_SECONDS) -> dict[str, list[Path]]:
    """The job IDs of the result files (finished or partial) not touched for `older_than`
    seconds, with their files."""
    directory = storage / DIRECTORY
    if not directory.is_dir():
        return {}
    found: dict[str, list[Path]] = {}
    limit = time.time() - older_than
    for path in directory.iterdir():
        try:
            if path.stat().st_mtime < limit:
                found.setdefault(path.name.split(".", 1)[0], []).append(path)
        except FileNotFoundError:  # removed meanwhile
            continue
    return found


async def sweep_orphans(conn, storage: Path, older_than: float = ORPHAN_SECONDS) -> int:
    """Remove result files whose job no longer exists (uws.unknown_jobs); returns how many."""
    candidates = await asyncio.to_thread(stored_job_ids, storage, older_than)
    if not candidates:
        return 0
    cursor = await conn.execute("SELECT uws.unknown_jobs(%s)", (list(candidates),))
    removed = 0
    for (job_id,) in await cursor.fetchall():
        for path in candidates[job_id]:
            path.unlink(missing_ok=True)
            removed += 1
    if removed:
        log.info("removed %d result file(s) of jobs that no longer exist", removed)
    return removed
