"""The VOSpace service's description: VOSI capabilities and availability, and the protocols,
views and properties it speaks (VOSpace 2.1 sections 6.1 and 5).

The capabilities name each endpoint with the standard IDs clients look for: VOSpace 2.1's
(nodes, transfers, sync, properties, views, protocols) and the `files` endpoint of CADC's
VOSpace services, where CADC's `vos` client fetches bytes directly. Every interface accepts
anonymous callers, tokens, passwords and session cookies (pyserver/identity.py).
"""

from __future__ import annotations


from starlette.requests import Request
from starlette.responses import Response

from ..vosi import base_url, capability
from .documents import CORE, VIEW_DEFAULT, VOS
from .transfers import PULL, PUSH

STANDARDS = [
    ("ivo://ivoa.net/std/VOSpace/v2.0#nodes", "nodes"),
    ("ivo://ivoa.net/std/VOSpace/v2.0#transfers", "transfers"),
    ("ivo://ivoa.net/std/VOSpace#sync-2.1", "synctrans"),
    ("ivo://ivoa.net/std/VOSpace/v2.0#properties", "properties"),
    ("ivo://ivoa.net/std/VOSpace/v2.0#views", "views"),
    ("ivo://ivoa.net/std/VOSpace/v2.0#protocols", "protocols"),
    ("ivo://ivoa.net/std/VOSpace#files-proto", "files"),
]
# the properties this service keeps or understands (VOSpace 2.1 section 3.1.2)
PROPERTIES = ["length", "date", "ctime", "creator", "MD5", "type", "ispublic", "groupread",
              "groupwrite", "quota", "title", "description"]


async def capabilities(request: Request) -> Response:
    """GET /vospace/capabilities."""
    base = base_url(request) + "/vospace"
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<vosi:capabilities '
            'xmlns:vosi="http://www.ivoa.net/xml/VOSICapabilities/v1.0" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1">'
            + capability("ivo://ivoa.net/std/VOSI#capabilities", f"{base}/capabilities", False)
            + capability("ivo://ivoa.net/std/VOSI#availability", f"{base}/availability", False)
            + "".join(capability(standard, f"{base}/{path}", True) for standard, path in STANDARDS)
            + "</vosi:capabilities>\n")
    return Response(body, media_type="text/xml")


async def availability(request: Request) -> Response:
    """GET /vospace/availability: up when the database answers."""
    async with request.app.state.pool.connection() as conn:
        await conn.execute("SELECT vospace.root()")
    return Response('<?xml version="1.0" encoding="UTF-8"?>\n<vosi:availability '
                    'xmlns:vosi="http://www.ivoa.net/xml/VOSIAvailability/v1.0">'
                    '<vosi:available>true</vosi:available></vosi:availability>\n',
                    media_type="text/xml")


async def protocols(request: Request) -> Response:
    """GET /vospace/protocols: what transfers may ask for."""
    provides = "".join(f'<vos:protocol uri="{uri}"/>' for uri in sorted(PUSH | PULL))
    return Response(f'<?xml version="1.0" encoding="UTF-8"?>\n<vos:protocols xmlns:vos="{VOS}">'
                    f"<vos:accepts/><vos:provides>{provides}</vos:provides></vos:protocols>\n",
                    media_type="text/xml")


async def views(request: Request) -> Response:
    """GET /vospace/views: a node's bytes as they were sent."""
    view = f'<vos:view uri="{VIEW_DEFAULT}"/>'
    return Response(f'<?xml version="1.0" encoding="UTF-8"?>\n<vos:views xmlns:vos="{VOS}">'
                    f"<vos:accepts>{view}</vos:accepts><vos:provides>{view}</vos:provides>"
                    "</vos:views>\n", media_type="text/xml")


async def properties(request: Request) -> Response:
    """GET /vospace/properties: the properties this service understands."""
    listed = "".join(f'<vos:property uri="{CORE}{name}"/>' for name in PROPERTIES)
    return Response(f'<?xml version="1.0" encoding="UTF-8"?>\n<vos:properties xmlns:vos="{VOS}">'
                    f"<vos:accepts>{listed}</vos:accepts><vos:provides>{listed}</vos:provides>"
                    "<vos:contains/></vos:properties>\n", media_type="text/xml")
