"""The bytes of VOSpace data nodes: files under HSTVO_STORAGE/vospace, named by the database.

A file is written once, under a name vospace.begin_upload chose, and never changed: an upload
goes to `<name>.part` with its MD5 and length counted on the way, and is renamed to its name
only when complete. The database then points the node at it (vospace.finish_upload). Whatever
happens before that commit (a client gone, a wrong MD5, a full quota, a killed server) leaves
the node as it was, and at most a file no node points at, which `hstvo vos fsck` reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import queue
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

PART = ".part"


def storage_root(storage_dir: Path) -> Path:
    """Where the VOSpace files live."""
    return storage_dir / "vospace"


def file_of(root: Path, key: str) -> Path:
    """The file of storage key `key` ('ab/cd/abcd...': made by the database, never a user)."""
    path = (root / key).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ValueError(f"storage key {key!r} leads outside the storage directory")
    return path


@dataclass
class Received:
    """An upload written whole: its length and hex MD5."""

    length: int
    md5: str


class TooLong(Exception):
    """The body passed the length the client announced."""


async def receive(chunks: AsyncIterator[bytes], path: Path, announced: int | None) -> Received:
    """Write `chunks` to `path` + '.part', counting length and MD5, then rename it to `path`.
    The part file is removed if anything goes wrong on the way (the client gone included).

    The MD5 and the writing happen in a thread of their own (hashlib and the file system let go
    of the GIL), beside the event loop that receives the next chunks: on two cores an upload
    then runs at the speed of a plain copy rather than of a copy plus an MD5."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + PART)
    pending: queue.Queue[bytes | None] = queue.Queue(maxsize=WRITE_QUEUE)
    writer = asyncio.get_running_loop().run_in_executor(None, _write, part, pending)
    length = 0
    gathered: list[bytes] = []
    gathered_bytes = 0
    try:
        try:
            async for chunk in chunks:
                length += len(chunk)
                if announced is not None and length > announced:
                    raise TooLong(f"the body is longer than its Content-Length, {announced}")
                gathered.append(chunk)
                gathered_bytes += len(chunk)
                if gathered_bytes >= BLOCK:  # a block at a time: fewer hand-overs and writes
                    await _hand_over(pending, writer, b"".join(gathered))
                    gathered, gathered_bytes = [], 0
            if gathered:
                await _hand_over(pending, writer, b"".join(gathered))
        finally:
            await _hand_over(pending, writer, None)  # the end
        md5 = await writer
        os.replace(part, path)
    except BaseException:
        with contextlib.suppress(BaseException):  # the thread done with the file first
            await writer
        part.unlink(missing_ok=True)
        raise
    return Received(length, md5)


WRITE_QUEUE = 16  # blocks waiting for the disk
BLOCK = 1 << 20


async def _hand_over(pending: queue.Queue, writer: asyncio.Future, block: bytes | None) -> None:
    """Give the writing thread a block (None: the end), waiting while it is behind (unless it
    has died)."""
    while not writer.done():
        try:
            pending.put_nowait(block)
            return
        except queue.Full:
            await asyncio.sleep(0.001)


def _write(part: Path, pending: queue.Queue) -> str:
    """The writing thread: chunks to the part file until None; their MD5."""
    digest = hashlib.md5()
    with open(part, "wb") as out:
        while (chunk := pending.get()) is not None:
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def remove(root: Path, keys: list[str]) -> None:
    """Remove the files no node points at any more (after the commit that let them go)."""
    for key in keys:
        if key:
            file_of(root, key).unlink(missing_ok=True)


def stored_keys(root: Path) -> dict[str, int]:
    """Every file under the storage root (part files included) and its size, by key."""
    found: dict[str, int] = {}
    if not root.is_dir():
        return found
    for directory, _, names in os.walk(root):
        for name in names:
            full = Path(directory) / name
            found[str(full.relative_to(root))] = full.stat().st_size
    return found
