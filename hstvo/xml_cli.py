"""hstvo xml import / export: CAOM2 XML documents in and out of the archive.

An import reads and validates documents in Python (loaders.caom2xml) and stores them a batch
at a time with caom2.put_observations, set-wise, in one transaction per batch. With --jobs N,
N processes each read and store batches of their own over their own connection: parsing XML
and the database's part both take a core, and batches of one observation wait for each other
in the database (put_observations' advisory locks), so the outcome is that of one importer.
"""

from __future__ import annotations

import argparse
import collections
import logging
import multiprocessing
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

log = logging.getLogger("hstvo")

# a file's outcome, as a reader process hands it back: (path, summary or None, refusal or None)
Outcome = tuple[str, dict[str, Any] | None, str | None]


def xml_files(paths: list[Path]) -> list[Path]:
    """The files named, and the *.xml files under the directories named, in order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(path.rglob("*.xml"))
        else:
            files.append(path)
    return files


def import_outcome(summary: dict) -> str:
    """What caom2.put_observation did with a document: created, updated or unchanged."""
    if summary["created"]:
        return "created"
    return "updated" if summary.get("changed", True) else "unchanged"


_connection: Any = None  # an importer process's own connection, opened on its first batch


def import_batch(url: str, paths: list[str], keep_timestamps: bool) -> list[Outcome]:
    """Read and store one batch (in an importer process, or in this one): each file's summary
    from caom2.put_observations, or why it was refused, in the order given."""
    import psycopg

    from loaders.caom2xml import CaomXmlError, read_document, store_documents

    global _connection
    if _connection is None or _connection.closed:
        _connection = psycopg.connect(url, autocommit=True)
    refusals: dict[str, str] = {}
    read: list[tuple[str, dict]] = []
    for path in paths:
        try:
            read.append((path, read_document(path)))
        except (CaomXmlError, OSError) as exc:  # bad XML or an unreadable file
            refusals[path] = str(exc)
    summaries = store_documents(_connection, [document for _, document in read],
                                keep_timestamps=keep_timestamps)
    stored: dict[str, dict] = {}
    for (path, _), summary in zip(read, summaries):
        if isinstance(summary, psycopg.Error):  # the database refused it: its reason
            refusals[path] = (summary.diag.message_primary or str(summary)).strip()
        else:
            stored[path] = summary
    return [(path, stored.get(path), refusals.get(path)) for path in paths]


def import_batches(url: str, files: list[Path], batch_size: int, keep: bool, jobs: int
                   ) -> Iterator[list[Outcome]]:
    """Each batch's outcomes, in the order of the files: in this process, or `jobs` at once."""
    batches = [[str(p) for p in files[i:i + batch_size]] for i in range(0, len(files), batch_size)]
    if jobs == 1:
        for batch in batches:
            yield import_batch(url, batch, keep)
        return
    from loaders.orphans import exit_with_parent

    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                             initializer=exit_with_parent, initargs=(os.getpid(),)) as pool:
        pending: collections.deque = collections.deque()
        for batch in batches:
            pending.append(pool.submit(import_batch, url, batch, keep))
            if len(pending) > 2 * jobs:  # a few batches ahead, not the whole run in memory
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def cmd_xml_import(args: argparse.Namespace) -> int:
    """hstvo xml import PATH...: validate and store CAOM2 XML documents."""
    from tqdm import tqdm

    from .cli import _url

    files = xml_files(args.paths)
    failures = mismatches = 0
    outcomes: dict[str, int] = {}

    def refused(path: str, reason: str) -> None:
        nonlocal failures
        failures += 1
        tqdm.write(f"error: {path}: {reason}", file=sys.stderr)

    def stored(path: str, summary: dict) -> None:
        nonlocal mismatches
        if not summary["checksums_match"]:
            mismatches += 1
            tqdm.write(f"warning: {path}: the document declares accMetaChecksum "
                       f"{summary['declared_accmetachecksum']}, computed "
                       f"{summary['accmetachecksum']} (stored the computed one)",
                       file=sys.stderr)
        outcome = import_outcome(summary)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        log.info("%s %s (%s)", outcome, summary["uri"], summary["accmetachecksum"])

    with tqdm(total=len(files), unit="obs",
              disable=len(files) < 10 or not sys.stderr.isatty()) as progress:
        for batch in import_batches(_url(), files, args.batch_size, not args.restamp,
                                       args.jobs):
            for path, summary, refusal in batch:
                if summary is None:
                    refused(path, refusal or "not stored")
                else:
                    stored(path, summary)
            progress.update(len(batch))
    loaded = len(files) - failures
    print(f"imported {loaded} of {len(files)} documents"
          + "".join(f", {outcomes[o]} {o}" for o in ("created", "updated", "unchanged")
                    if outcomes.get(o))
          + (f", {failures} failed" if failures else "")
          + (f", {mismatches} with stale checksums" if mismatches else ""))
    return 1 if failures else 0


def cmd_xml_export(args: argparse.Namespace) -> int:
    """hstvo xml export COLLECTION ID: one observation as a CAOM 2.4 document."""
    from loaders.caom2xml import load_document, write_document

    from .cli import _url
    from .db import connect

    with connect(_url()) as conn:
        document = load_document(conn, args.collection, args.observation_id)
    if document is None:
        print(f"error: no observation caom:{args.collection}/{args.observation_id}",
              file=sys.stderr)
        return 2
    xml = write_document(document)
    if args.output:
        args.output.write_bytes(xml)
    else:
        sys.stdout.buffer.write(xml)
    return 0
