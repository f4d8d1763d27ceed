"""CAOM2 XML in and out of the database.

    read_document(path_or_bytes) -> document      (model.py's shape, strict validation)
    store_document(conn, document) -> summary     (caom2.put_observation)
    store_documents(conn, documents) -> summaries (caom2.put_observations: a batch at once)
    load_document(conn, collection, id) -> document | None   (caom2.observation_document)
    write_document(document) -> CAOM 2.4 XML bytes
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from .reader import CaomXmlError, read_document
from .writer import write_document

__all__ = ["CaomXmlError", "read_document", "write_document", "store_document", "store_documents",
           "load_document"]


def store_document(conn, document: dict[str, Any], keep_timestamps: bool = False) -> dict:
    """Create or replace the observation in one transaction; returns put_observation's summary.

    keep_timestamps keeps the document's lastModified/maxLastModified (an archive copy being
    loaded or harvested); otherwise the database clock decides, as for a new version.
    """
    with conn.transaction():
        row = conn.execute("SELECT caom2.put_observation(%(doc)s, %(keep)s)",
                           {"doc": Jsonb(document), "keep": keep_timestamps}).fetchone()
    return row[0]


def store_documents(conn, documents: list[dict[str, Any]],
                    keep_timestamps: bool = False) -> list[dict | Exception]:
    """Create or replace many observations: all in one set-wise transaction when the database
    takes every one of them, else each in its own (so that one refused document costs only
    itself). Returns, per document in order, put_observation's summary or the database's
    refusal."""
    if not documents:
        return []
    try:
        with conn.transaction():
            row = conn.execute("SELECT caom2.put_observations(%(docs)s, %(keep)s)",
                               {"docs": Jsonb(documents), "keep": keep_timestamps}).fetchone()
        return list(row[0])
    except psycopg.Error:
        pass  # one of them was refused: the batch is undone, and each is tried alone
    outcomes: list[dict | Exception] = []
    for document in documents:
        try:
            outcomes.append(store_document(conn, document, keep_timestamps))
        except psycopg.Error as exc:
            outcomes.append(exc)
    return outcomes


def load_document(conn, collection: str, observation_id: str) -> dict[str, Any] | None:
    """The stored observation as a document, or None when there is none."""
    row = conn.execute("SELECT caom2.observation_document(%(c)s, %(o)s)",
                       {"c": collection, "o": observation_id}).fetchone()
    return row[0] if row else None
