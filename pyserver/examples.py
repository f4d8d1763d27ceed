"""GET /tap/examples: DALI 1.1 examples, real HST queries a user can start from (XHTML+RDFa)."""

from __future__ import annotations

from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import Response

# (id, name, what it shows, ADQL); each runs on the bundled sample archive (a test checks)
EXAMPLES = [
    ("cone", "Cone search on footprints",
     "Data products whose footprint touches a 3 arcmin circle around 47 Tuc's core; the "
     "footprint index makes this fast at any archive size.",
     "SELECT obs_id, instrument_name, t_exptime FROM ivoa.ObsCore\n"
     "WHERE 1 = INTERSECTS(s_region, CIRCLE('ICRS', 6.0236, -72.0813, 0.05))"),
    ("point-in-footprint", "Which images cover a position",
     "Calibrated images whose footprint contains a position (omega Cen).",
     "SELECT obs_id, instrument_name, t_exptime, access_url FROM ivoa.ObsCore\n"
     "WHERE dataproduct_type = 'image' AND calib_level >= 2\n"
     "  AND 1 = CONTAINS(POINT('ICRS', 201.6967, -47.4743), s_region)"),
    ("by-instrument", "Exposure time per instrument",
     "How much exposure time the archive holds per instrument and calibration level.",
     "SELECT instrument_name, calib_level, COUNT(*) AS products, SUM(t_exptime) AS seconds\n"
     "FROM ivoa.ObsCore GROUP BY instrument_name, calib_level ORDER BY seconds DESC"),
    ("by-proposal", "Everything of a proposal",
     "All data products of HST proposal 11665, newest first.",
     "SELECT obs_id, instrument_name, t_min, obs_release_date FROM ivoa.ObsCore\n"
     "WHERE proposal_id = '11665' ORDER BY t_min DESC"),
    ("time-range", "Observations in a time range",
     "Exposures that started in 2002 (MJD 52275 to 52640).",
     "SELECT obs_id, target_name, t_min, t_exptime FROM ivoa.ObsCore\n"
     "WHERE t_min BETWEEN 52275 AND 52640 ORDER BY t_min"),
    ("wavelength", "Products covering a wavelength",
     "Data products whose spectral coverage includes 600 nm (em_min and em_max are metres).",
     "SELECT obs_id, instrument_name, em_min, em_max FROM ivoa.ObsCore\n"
     "WHERE em_min <= 6.0e-7 AND em_max >= 6.0e-7"),
    ("spectra", "Spectra",
     "Spectroscopic products, with their instrument and exposure time.",
     "SELECT obs_id, instrument_name, target_name, t_exptime FROM ivoa.ObsCore\n"
     "WHERE dataproduct_type = 'spectrum' ORDER BY obs_id"),
    ("distance", "Nearest products to a position",
     "The five data products whose centre is nearest to NGC 4151, with the distance in degrees.",
     "SELECT TOP 5 obs_id, instrument_name,\n"
     "       DISTANCE(POINT('ICRS', s_ra, s_dec), POINT('ICRS', 182.6357, 39.4057)) AS dist\n"
     "FROM ivoa.ObsCore WHERE s_ra IS NOT NULL ORDER BY dist"),
    ("caom-planes", "CAOM planes of an observation",
     "The planes (calibration levels) of one HST observation in the full CAOM model.",
     "SELECT o.observationID, p.productID, p.calibrationLevel, p.dataProductType\n"
     "FROM caom2.Observation AS o JOIN caom2.Plane AS p ON p.obsID = o.obsID\n"
     "WHERE o.observationID = 'j94f05bgq'"),
    ("caom-artifacts", "Files of a data product",
     "The files (artifacts) of each plane, with their size and checksum.",
     "SELECT p.productID, a.uri, a.productType, a.contentLength, a.contentChecksum\n"
     "FROM caom2.Plane AS p JOIN caom2.Artifact AS a ON a.planeID = p.planeID\n"
     "ORDER BY 1, 2"),
    ("footprint-area", "Largest footprints",
     "Data products by the area of their footprint, in square degrees.",
     "SELECT TOP 5 obs_id, instrument_name, AREA(s_region) AS sq_deg FROM ivoa.ObsCore\n"
     "WHERE s_region IS NOT NULL ORDER BY sq_deg DESC"),
    ("targets", "Targets observed more than once",
     "Targets with more than one data product, and the instruments that observed them.",
     "SELECT target_name, COUNT(*) AS products, COUNT(DISTINCT instrument_name) AS instruments\n"
     "FROM ivoa.ObsCore GROUP BY target_name HAVING COUNT(*) > 1 ORDER BY products DESC"),
]

async def examples(request: Request) -> Response:
    """The examples document (DALI 1.1 section 2.3); a browser gets it as a page with a Run
    button per example (still RDFa-marked, as DALI's document is)."""
    from .portal.service_pages import examples_page, wants_html

    if wants_html(request):
        return await examples_page(request)
    items = "\n".join(
        f'<div typeof="example" id="{key}" resource="#{key}">\n'
        f'<h2 property="name">{escape(name)}</h2>\n<p>{escape(text)}</p>\n'
        f'<pre class="dii-query" property="query">{escape(query)}</pre>\n</div>'
        for key, name, text, query in EXAMPLES)
    body = f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" vocab="http://www.ivoa.net/rdf/examples#">
<head><title>hstvo TAP examples</title></head>
<body>
<h1>Example queries of the HST archive</h1>
{items}
</body>
</html>
"""
    return Response(body, media_type="application/xhtml+xml")
