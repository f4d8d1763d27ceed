"""The bytes of VOSpace data nodes: files under HSTVO_STORAGE/vospace, named by the database.

A file is written once, under a name vospace.begin_upload chose, and never changed: an upload
goes to `<name>.part` with its MD5 and length counted on the way, and is renamed to its name
only when complete. The database then points the node at it (vospace.finish_upload). Whatever
happens before that commit (a client gone, a wrong MD5, a full quota, a killed server) leaves
the node as it was, and at most a file no node points at, which `hstvo vos fsck` reports.
"""

from __future__ import annotations

import hashlib
import os
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
    The part file is removed if anything goes wrong on the way (the client gone included)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + PART)
    digest, length = hashlib.md5(), 0
    try:
        with open(part, "wb") as out:
            async for chunk in chunks:
                length += len(chunk)
                if announced is not None and length > announced:
                    raise TooLong(f"the body is longer than its Content-Length, {announced}")
                digest.update(chunk)
                out.write(chunk)
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return Received(length, digest.hexdigest())


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
