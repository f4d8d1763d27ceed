"""Synthetic CAOM observations written into a database set-wise, through the lifecycle triggers
(checksums, timestamps, members, ObsCore) with one roll-up at the end: whole trees of
`planes` planes, each with one artifact, part and chunk. For the harvest's tests and benchmark,
which need many real trees quickly.
"""

from __future__ import annotations

import psycopg

FILL = """
SELECT caom2.set_flag('defer_rollup', true);
INSERT INTO caom2.observation (obsid, collection, observationid, algorithm_name, instrument_name,
       telescope_name, target_name, proposal_id, proposal_title, intent, metarelease)
SELECT md5(%(prefix)s || 'o' || i)::uuid, 'HST', %(prefix)s || i, 'exposure',
       (ARRAY['ACS/WFC', 'WFC3/UVIS', 'WFC3/IR', 'STIS/CCD'])[1 + i %% 4], 'HST',
       'FIELD-' || (i %% 500), (10000 + i %% 3000)::text, 'A synthetic programme', 'science',
       -- one in ten proprietary: its metadata released in 2100, to its team only
       CASE WHEN i %% 10 = 0 THEN '2100-01-01' ELSE '2001-01-01' END::timestamp
  FROM generate_series(1, %(count)s) AS i;
INSERT INTO caom2.plane (planeid, obsid, productid, calibrationlevel, dataproducttype,
       metarelease, datarelease, position_bounds, time_bounds_lower, time_bounds_upper,
       time_exposure, energy_bounds_lower, energy_bounds_upper, metareadgroups, datareadgroups)
SELECT md5(%(prefix)s || 'p' || i || '-' || k)::uuid, md5(%(prefix)s || 'o' || i)::uuid,
       %(prefix)s || i || '_' || k, least(k, 3), 'image',
       CASE WHEN i %% 10 = 0 THEN '2100-01-01' ELSE '2001-01-01' END::timestamp,
       CASE WHEN i %% 10 = 0 THEN '2100-01-01' ELSE '2001-01-01' END::timestamp,
       -- a 3-arcminute square, as an HST detector's footprint is a few-sided polygon
       ARRAY[ra, dec, ra + 0.05, dec, ra + 0.05, dec + 0.05, ra, dec + 0.05]::double precision[],
       50000 + i * 0.01, 50000 + i * 0.01 + 0.005, 300, 4e-7, 7e-7,
       CASE WHEN i %% 10 = 0 THEN 'ivo://hstvo.example/gms?team' END,
       CASE WHEN i %% 10 = 0 THEN 'ivo://hstvo.example/gms?team' END
  FROM generate_series(1, %(count)s) AS i, generate_series(1, %(planes)s) AS k,
       LATERAL (SELECT (i * 7.31) %% 359.9 AS ra, (i * 3.17) %% 160 - 80 AS dec) AS position;
INSERT INTO caom2.artifact (artifactid, planeid, obsid, uri, producttype, releasetype,
       contenttype, contentlength)
SELECT md5('a' || p.planeid)::uuid, p.planeid, p.obsid, 'mast:HST/product/' || p.productid || '.fits',
       'science', 'data', 'application/fits', 4000000
  FROM caom2.plane p WHERE p.productid LIKE %(prefix)s || '%%';
INSERT INTO caom2.part (partid, artifactid, obsid, planeid, name)
SELECT md5('p' || a.artifactid)::uuid, a.artifactid, a.obsid, a.planeid, 'SCI'
  FROM caom2.artifact a WHERE a.uri LIKE 'mast:HST/product/' || %(prefix)s || '%%';
INSERT INTO caom2.chunk (chunkid, partid, obsid, planeid, artifactid, naxis)
SELECT md5('c' || t.partid)::uuid, t.partid, t.obsid, t.planeid, t.artifactid, 2
  FROM caom2.part t JOIN caom2.artifact a USING (artifactid)
 WHERE a.uri LIKE 'mast:HST/product/' || %(prefix)s || '%%';
SELECT caom2.set_flag('defer_rollup', false);
SELECT caom2.rollup(ARRAY(SELECT obsid FROM caom2.observation WHERE observationid LIKE %(prefix)s || '%%'));
"""


def add_observations(conn: psycopg.Connection, count: int, prefix: str = "syn", planes: int = 4) -> None:
    """`count` observations named <prefix>1.., each with `planes` planes, in one transaction."""
    with conn.transaction():
        for statement in FILL.split(";\n"):
            if statement.strip():
                conn.execute(statement, {"prefix": prefix, "count": count, "planes": planes})
