"""CAOM2 XML in and out of the database.

    read_document(path_or_bytes) -> document      (model.py's shape, strict validation)
    store_document(conn, document) -> summary     (caom2.put_observation)
    load_document(conn, collection, id) -> document | None   (caom2.observation_document)
    write_document(document) -> CAOM 2.4 XML bytes
"""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from .reader import CaomXmlError, read_document
from .writer import write_document

__all__ = ["CaomXmlError", "read_document", "write_document", "store_document", "load_document"]


def store_document(conn, document: dict[str, Any], keep_timestamps: bool = False) -> dict:
    """Create or replace the observation in one transaction; returns put_observation's summary.

    keep_timestamps keeps the document's lastModified/maxLastModified (an archive copy being
    loaded or harvested); otherwise the database clock decides, as for a new version.
    """
    with conn.transaction():
        row = conn.execute("SELECT caom2.put_observation(%(doc)s, %(keep)s)",
                           {"doc": Jsonb(document), "keep": keep_timestamps}).fetchone()
    return row[0]


def load_document(conn, collection: str, observation_id: str) -> dict[str, Any] | None:
    """The stored observation as a document, or None when there is none."""
    row = conn.execute("SELECT caom2.observation_document(%(c)s, %(o)s)",
                       {"c": collection, "o": observation_id}).fetchone()
    return row[0] if row else None
