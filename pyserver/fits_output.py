"""TAP results as FITS binary tables (RESPONSEFORMAT=fits, application/fits).

The database writes the rows as a BINARY2 VOTable, as for votable/b2; astropy reads it and
writes it out as a FITS BINTABLE, with each column's unit and UCD (TUNITn, TUCDn). A result
that failed partway has no FITS form: the transfer is cut off. The conversion holds the whole
result (MAXREC rows at most) and runs off the event loop (pyserver/offload.py).
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import AsyncIterator

from astropy.io.votable import parse_single_table
from astropy.utils.exceptions import AstropyWarning

from . import offload
from .streaming import StreamAborted

ERROR_STATUS = re.compile(rb'<INFO name="QUERY_STATUS" value="ERROR">([^<]*)</INFO>')


async def fits_document(chunks: AsyncIterator[bytes]) -> bytes:
    """The FITS file of a result whose BINARY2 VOTable comes in `chunks`."""
    document = b"".join([chunk async for chunk in chunks])
    return await offload.run(votable_to_fits, len(document), document)


def votable_to_fits(document: bytes) -> bytes:
    """A BINARY2 VOTable result as a FITS file (a primary HDU and one BINTABLE)."""
    failed = ERROR_STATUS.search(document[-4096:])
    if failed:  # the VOTable's trailing status: the query failed after its first rows
        raise StreamAborted(f"the query failed partway: {failed.group(1).decode()}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        table = parse_single_table(io.BytesIO(document)).to_table(use_names_over_ids=True)
        for column in table.columns.values():
            if column.dtype.kind == "O":  # variable-length text: FITS wants fixed-width strings
                table[column.name] = [("" if v is None else str(v)) for v in column]
        buffer = io.BytesIO()
        table.write(buffer, format="fits")
    return buffer.getvalue()
