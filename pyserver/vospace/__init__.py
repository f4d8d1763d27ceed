"""VOSpace 2.1 at /vospace: storage in the database (sql/96_vospace_nodes.sql,
sql/97_vospace_transfers.sql), bytes under HSTVO_STORAGE/vospace.

    service.py     capabilities, availability, protocols, views, properties
    nodes.py       /vospace/nodes/PATH: node documents; create, change, delete
    files.py       /vospace/files/PATH: the bytes of data nodes
    transfers.py   /vospace/synctrans and /vospace/transfers: UWS transfer jobs
    documents.py   node and transfer documents, read and written
    storage.py     files under the storage directory, written whole or not at all
    faults.py      the database's VOSpace faults as HTTP answers
"""

from __future__ import annotations

from starlette.routing import Route

from . import files, nodes, service, transfers


def routes() -> list[Route]:
    """The service's routes, for the app."""
    return [
        Route("/vospace/capabilities", service.capabilities),
        Route("/vospace/availability", service.availability),
        Route("/vospace/protocols", service.protocols),
        Route("/vospace/views", service.views),
        Route("/vospace/properties", service.properties),
        Route("/vospace/nodes", nodes.node, methods=["GET", "PUT", "POST", "DELETE"]),
        Route("/vospace/nodes/{path:path}", nodes.node, methods=["GET", "PUT", "POST", "DELETE"]),
        Route("/vospace/files/{path:path}", files.data, methods=["GET", "HEAD", "PUT"]),
        Route("/vospace/synctrans", transfers.sync, methods=["GET", "POST"]),
        Route("/vospace/transfers", transfers.job_list, methods=["GET", "POST"]),
        Route("/vospace/transfers/{job_id}", transfers.job, methods=["GET", "POST", "DELETE"]),
        Route("/vospace/transfers/{job_id}/phase", transfers.phase, methods=["GET", "POST"]),
        Route("/vospace/transfers/{job_id}/{attribute:path}", transfers.attribute),
    ]
