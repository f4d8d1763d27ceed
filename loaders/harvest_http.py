"""Harvest over HTTP from another archive's repository service (CADC's protocol: another hstvo's
/caom2repo, or CADC's own): list by maxLastModified, fetch the documents with a bounded number
of requests at once, read them strictly, and hand each batch to the database, which stores them
through caom2.put_observation, checks each accMetaChecksum against the listing's, keeps the
cursor and the skipped ones (harvest.store_documents, sql/85_harvest.sql). Then the source's
deletions (harvest.apply_deletions). Each batch is one transaction with its cursor: a run cut off
anywhere goes on from its last batch.
"""

from __future__ import annotations

import logging
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import httpx
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from .caom2xml import CaomXmlError, read_document

log = logging.getLogger("hstvo.harvest")
logging.getLogger("httpx").setLevel(logging.WARNING)  # (a line per document is no log for a DBA)
PARALLEL_REQUESTS = 8  # documents fetched at once: enough to hide latency, gentle on the source


class Listing:
    """A collection's observations or tombstones at the source, read page by page."""

    def __init__(self, client: httpx.Client, collection: str) -> None:
        self.client = client
        self.collection = collection

    def observations(self, after: tuple[datetime, str] | None, count: int) -> list[dict]:
        """The next `count` observations after `after` (maxLastModified, observationID)."""
        return self._page(f"/caom2repo/observations/{self.collection}", after, count,
                          lambda f: {"collection": f[0], "observationid": f[1],
                                     "maxlastmodified": f[2], "accmetachecksum": f[3]},
                          lambda e: (datetime.fromisoformat(e["maxlastmodified"]), e["observationid"]))

    def deletions(self, after: tuple[datetime, str] | None, count: int) -> list[dict]:
        """The next `count` tombstones after `after` (lastModified, id)."""
        return self._page(f"/caom2repo/deletions/{self.collection}", after, count,
                          lambda f: {"id": f[0], "lastmodified": f[3]},
                          lambda e: (datetime.fromisoformat(e["lastmodified"]), e["id"]))

    def _page(self, path: str, after, count: int, entry, key) -> list[dict]:
        # START is inclusive and timestamps are to the millisecond: what shares the cursor's
        # millisecond comes again, and is passed over here; ask for more until enough are new
        asked = count + 1
        while True:
            params = {"MAXREC": asked}
            if after is not None:
                params["START"] = after[0].isoformat(timespec="milliseconds")
            response = self.client.get(path, params=params)
            response.raise_for_status()
            rows = [line.split("\t") for line in response.text.splitlines() if line.strip()]
            entries = [entry(fields) for fields in rows if len(fields) >= 4]
            fresh = [e for e in entries if after is None or key(e) > after]
            if len(fresh) >= count or len(rows) < asked:
                return fresh[:count]
            asked *= 2


def fetch(client: httpx.Client, entry: dict) -> dict:
    """The listing's entry with its document read, or the reason it could not be."""
    path = f"/caom2repo/observations/{entry['collection']}/{entry['observationid']}"
    try:
        response = client.get(path)
        if response.status_code != 200:
            return {**entry, "error": f"the source answered {response.status_code} for {path}"}
        return {**entry, "document": read_document(response.content)}
    except CaomXmlError as exc:
        return {**entry, "error": f"the source's document is not valid CAOM2 XML: {exc}"}
    except httpx.HTTPError as exc:
        return {**entry, "error": f"no answer from the source for {path}: {exc}"}


def run_http_harvest(conn: psycopg.Connection, name: str, full: bool = False,
                     batch_size: int | None = None) -> int:
    """One run of an HTTP source, batch by batch with a progress bar; 0 when it ended well."""
    from tqdm import tqdm

    conn.row_factory = dict_row
    run_id = conn.execute("SELECT harvest.begin_run(%s, %s) AS id", (name, full)).fetchone()["id"]
    source = conn.execute("SELECT * FROM harvest.source WHERE name = %s", (name,)).fetchone()
    size = batch_size or source["batch_size"]
    headers = {"Authorization": f"Bearer {source['token']}"} if source["token"] else {}
    failure = None
    with httpx.Client(base_url=source["origin"], headers=headers, timeout=60) as client, \
            ThreadPoolExecutor(PARALLEL_REQUESTS) as pool:
        listing = Listing(client, source["collection"])
        try:
            retry_skipped(conn, client, pool, name, run_id)
            after = ((source["copied_to"], source["copied_key"] or "")
                     if source["copied_to"] and not full else None)
            # the next batch is listed and fetched while the database stores this one
            with tqdm(unit="obs", desc=f"harvest {name}", file=sys.stderr) as bar, \
                    ThreadPoolExecutor(1) as ahead:
                def batch_after(position):
                    entries = listing.observations(position, size)
                    return entries, list(pool.map(lambda e: fetch(client, e), entries))

                following = ahead.submit(batch_after, after)
                while True:
                    entries, fetched = following.result()
                    if not entries:
                        break
                    after = (datetime.fromisoformat(entries[-1]["maxlastmodified"]),
                             entries[-1]["observationid"])
                    following = ahead.submit(batch_after, after)
                    conn.execute("SELECT harvest.store_documents(%s, %s, %s)",
                                 (name, run_id, Jsonb(fetched)))
                    bar.update(len(entries))
            gone = ((source["deleted_to"], str(source["deleted_id"] or ""))
                    if source["deleted_to"] and not full else None)
            while tombstones := listing.deletions(gone, size):
                conn.execute("SELECT harvest.apply_deletions(%s, %s, %s)",
                             (name, run_id, Jsonb(tombstones)))
                gone = (datetime.fromisoformat(tombstones[-1]["lastmodified"]), tombstones[-1]["id"])
        except httpx.HTTPError as exc:
            failure = f"the source {source['origin']} did not answer: {exc}"
        except psycopg.Error as exc:
            if conn.closed:
                raise
            failure = exc.diag.message_primary or str(exc).strip()
    conn.execute("SELECT harvest.end_run(%s, %s)", (run_id, failure))
    return report_run(conn, name, run_id, failure)


def report_run(conn: psycopg.Connection, name: str, run_id: int, failure: str | None) -> int:
    """One line on what a run moved (harvest.run); 0 when it ended well, else 1."""
    row = conn.execute("SELECT * FROM harvest.run WHERE id = %s", (run_id,)).fetchone()
    print(f"{name}: {row['copied']} copied, {row['deleted']} deleted, {row['skipped']} skipped "
          f"in {(row['ended'] - row['started']).total_seconds():.1f} s"
          + (f"; failed: {failure}" if failure else ""))
    return 1 if failure else 0


def retry_skipped(conn: psycopg.Connection, client: httpx.Client, pool: ThreadPoolExecutor,
                  name: str, run_id: int) -> int:
    """The skipped observations fetched and stored again (the cursor stays); how many now are."""
    skipped = conn.execute("SELECT collection, observationid, maxlastmodified FROM harvest.skip "
                           "WHERE source = %s ORDER BY obsid", (name,)).fetchall()
    if not skipped:
        return 0
    states = {}
    for row in skipped:  # the source's accMetaChecksum now: from a listing at its timestamp
        listed = client.get(f"/caom2repo/observations/{row['collection']}",
                            params={"START": row["maxlastmodified"].isoformat(timespec="milliseconds")
                                    if row["maxlastmodified"] else None, "MAXREC": 1000})
        listed.raise_for_status()
        for line in listed.text.splitlines():
            fields = line.split("\t")
            if len(fields) >= 4:
                states[(fields[0], fields[1])] = fields
    entries = []
    for row in skipped:
        fields = states.get((row["collection"], row["observationid"]))
        if fields is None:  # moved on since, or deleted: the run's listing brings it
            continue
        entries.append({"collection": fields[0], "observationid": fields[1],
                        "maxlastmodified": fields[2], "accmetachecksum": fields[3]})
    fetched = list(pool.map(lambda e: fetch(client, e), entries))
    return conn.execute("SELECT harvest.store_documents(%s, %s, %s, true) AS n",
                        (name, run_id, Jsonb(fetched))).fetchone()["n"]


def retry_http(conn: psycopg.Connection, name: str) -> int:
    """`hstvo harvest retry` for an HTTP source: the skipped ones fetched and stored again."""
    conn.row_factory = dict_row
    run_id = conn.execute("SELECT harvest.begin_run(%s) AS id", (name,)).fetchone()["id"]
    source = conn.execute("SELECT * FROM harvest.source WHERE name = %s", (name,)).fetchone()
    headers = {"Authorization": f"Bearer {source['token']}"} if source["token"] else {}
    failure, copied = None, 0
    try:
        with httpx.Client(base_url=source["origin"], headers=headers, timeout=60) as client, \
                ThreadPoolExecutor(PARALLEL_REQUESTS) as pool:
            copied = retry_skipped(conn, client, pool, name, run_id)
    except httpx.HTTPError as exc:
        failure = f"the source {source['origin']} did not answer: {exc}"
    conn.execute("SELECT harvest.end_run(%s, %s)", (run_id, failure))
    return copied if failure is None else -1


def listing_states(client: httpx.Client, collection: str) -> list[dict]:
    """The source's whole listing of a collection (every observation's accMetaChecksum)."""
    listing, after, states = Listing(client, collection), None, []
    while page := listing.observations(after, 10_000):
        states += page
        after = (datetime.fromisoformat(page[-1]["maxlastmodified"]), page[-1]["observationid"])
    return states


def http_differences(conn: psycopg.Connection, name: str, repair: bool = False) -> tuple[list[dict], int]:
    """`hstvo harvest diff` for an HTTP source: the differences by accMetaChecksum, and, with
    `repair`, how many were mended (copied again, or deleted here)."""
    conn.row_factory = dict_row
    source = conn.execute("SELECT * FROM harvest.source WHERE name = %s", (name,)).fetchone()
    headers = {"Authorization": f"Bearer {source['token']}"} if source["token"] else {}
    with httpx.Client(base_url=source["origin"], headers=headers, timeout=60) as client:
        states = listing_states(client, source["collection"])
        found = conn.execute("SELECT * FROM harvest.differences_from_listing(%s, %s)",
                             (source["collection"], Jsonb(states))).fetchall()
        if not repair or not found:
            return found, 0
        listed = {s["observationid"]: s for s in states}
        fetch_again = [listed[d["observationid"]] for d in found if d["difference"] != "deleted there"]
        gone = [d["observationid"] for d in found if d["difference"] == "deleted there"]
        run_id = conn.execute("SELECT harvest.begin_run(%s) AS id", (name,)).fetchone()["id"]
        with ThreadPoolExecutor(PARALLEL_REQUESTS) as pool:
            fetched = list(pool.map(lambda e: fetch(client, e), fetch_again))
        mended = conn.execute("SELECT harvest.store_documents(%s, %s, %s, true) AS n",
                              (name, run_id, Jsonb(fetched))).fetchone()["n"]
        mended += conn.execute("SELECT harvest.delete_observations(%s, %s) AS n",
                               (source["collection"], gone)).fetchone()["n"]
        conn.execute("SELECT harvest.end_run(%s)", (run_id,))
    return found, mended
