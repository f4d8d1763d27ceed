-- Query results serialised inside PostgreSQL: VOTable TABLEDATA rows, CSV/TSV lines and
-- VOTable BINARY2 records.
--
-- The TAP service wraps a translated query as
--     SELECT <one expression per row> FROM (<query>) AS r(c1, c2, ...)
-- built from these functions (pyserver/votable.py composes it), so that a row leaves the
-- database already written: Python only joins rows and sends them. This is what lets a
-- result stream at hundreds of thousands of rows per second on one core.
--
-- Values are written as DALI 1.1 says: timestamps ISO 8601 (UTC, no zone letter), booleans
-- T/F, geometry in degrees (point "ra dec", circle "ra dec radius", polygon "ra1 dec1 ..."),
-- an adql:REGION column as STC-S, NULL and non-finite floats as empty cells. The functions
-- are one-expression SQL functions so that the planner inlines them: a call costs nothing.
--
-- Overloads are chosen by the column's PostgreSQL type; pyserver/votable.py casts a column of
-- any other type to text first (and declares it char, arraysize="*").

CREATE SCHEMA IF NOT EXISTS votable;

-- ---------------------------------------------------------------------------------------------
-- The text of a value (TABLEDATA cells and CSV/TSV fields): NULL for NULL
-- ---------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION votable.cell(x text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT x $$;

CREATE OR REPLACE FUNCTION votable.cell(x smallint) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT x::text $$;

CREATE OR REPLACE FUNCTION votable.cell(x integer) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT x::text $$;

CREATE OR REPLACE FUNCTION votable.cell(x bigint) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT x::text $$;

CREATE OR REPLACE FUNCTION votable.cell(x numeric) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT x::text $$;

-- PostgreSQL writes the shortest text that reads back to the same float, as Python's repr does
CREATE OR REPLACE FUNCTION votable.cell(x real) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN x IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE x::text END $$;

CREATE OR REPLACE FUNCTION votable.cell(x double precision) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN x IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE x::text END $$;

CREATE OR REPLACE FUNCTION votable.cell(x boolean) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN x THEN 'T' WHEN NOT x THEN 'F' END $$;

CREATE OR REPLACE FUNCTION votable.cell(x timestamp) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT to_char(x, 'YYYY-MM-DD"T"HH24:MI:SS.MS') $$;

CREATE OR REPLACE FUNCTION votable.cell(x timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT to_char(x AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS') $$;

CREATE OR REPLACE FUNCTION votable.cell(x date) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT to_char(x, 'YYYY-MM-DD') $$;

CREATE OR REPLACE FUNCTION votable.cell(x uuid) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT x::text $$;

-- arrays of numbers: the values, space-separated
CREATE OR REPLACE FUNCTION votable.cell(x anyarray) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT array_to_string(x, ' ') $$;

CREATE OR REPLACE FUNCTION votable.cell(x caom2.float8range) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT lower(x) || ' ' || upper(x) $$;

-- pgsphere writes degrees on a connection that called set_sphere_output('DEG') (the service's
-- connections do): the numbers of that text are the DALI value
CREATE OR REPLACE FUNCTION votable.sphere_numbers(sphere_text text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT btrim(regexp_replace(sphere_text, '[^-+.0-9eE]+', ' ', 'g')) $$;

-- points and circles from their coordinates (full precision, as BINARY2 has them); polygons,
-- whose vertices pgsphere 1.2 gives only as text, from that text (15 significant digits)
CREATE OR REPLACE FUNCTION votable.cell(x spoint) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT degrees(long(x)) || ' ' || degrees(lat(x)) $$;

CREATE OR REPLACE FUNCTION votable.cell(x scircle) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT votable.cell(center(x)) || ' ' || degrees(radius(x)) $$;

CREATE OR REPLACE FUNCTION votable.cell(x spoly) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT votable.sphere_numbers(x::text) $$;

-- an adql:REGION column (ObsCore s_region) is STC-S
CREATE OR REPLACE FUNCTION votable.region_cell(x spoly) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT 'Polygon ICRS ' || votable.sphere_numbers(x::text) $$;

-- ---------------------------------------------------------------------------------------------
-- Serialisations of a cell's text
-- ---------------------------------------------------------------------------------------------

-- TABLEDATA: XML character data, with the control characters XML 1.0 forbids dropped
CREATE OR REPLACE FUNCTION votable.xml_text(t text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN t ~ '[&<>\x01-\x08\x0b\x0c\x0e-\x1f]'
               THEN regexp_replace(replace(replace(replace(t, '&', '&amp;'), '<', '&lt;'),
                                           '>', '&gt;'),
                                   '[\x01-\x08\x0b\x0c\x0e-\x1f]', '', 'g')
               ELSE t END $$;

-- CSV (RFC 4180) and TSV fields: quoted when they hold the delimiter, a quote or a line break
CREATE OR REPLACE FUNCTION votable.delimited_text(t text, delimiter text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN strpos(t, delimiter) > 0 OR t ~ '["\r\n]'
               THEN '"' || replace(t, '"', '""') || '"'
               ELSE t END $$;

-- ---------------------------------------------------------------------------------------------
-- BINARY2 (VOTable 1.4 section 5.6): values big-endian; a NULL is flagged in the row's mask and
-- written as a placeholder (0 for integers, NaN for floats, empty for variable-length arrays)
-- ---------------------------------------------------------------------------------------------

-- one byte of the NULL mask: flags for up to 8 consecutive columns, the first in the high bit
CREATE OR REPLACE FUNCTION votable.mask_byte(b1 boolean, b2 boolean DEFAULT false,
                                             b3 boolean DEFAULT false, b4 boolean DEFAULT false,
                                             b5 boolean DEFAULT false, b6 boolean DEFAULT false,
                                             b7 boolean DEFAULT false, b8 boolean DEFAULT false)
RETURNS bytea LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT substring(int4send(b1::int * 128 + b2::int * 64 + b3::int * 32 + b4::int * 16
                            + b5::int * 8 + b6::int * 4 + b7::int * 2 + b8::int) FROM 4) $$;

CREATE OR REPLACE FUNCTION votable.b2(x smallint) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT int2send(coalesce(x, 0::smallint)) $$;

CREATE OR REPLACE FUNCTION votable.b2(x integer) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT int4send(coalesce(x, 0)) $$;

CREATE OR REPLACE FUNCTION votable.b2(x bigint) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT int8send(coalesce(x, 0::bigint)) $$;

CREATE OR REPLACE FUNCTION votable.b2(x real) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT float4send(coalesce(x, 'NaN'::real)) $$;

CREATE OR REPLACE FUNCTION votable.b2(x double precision) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT float8send(coalesce(x, 'NaN'::double precision)) $$;

CREATE OR REPLACE FUNCTION votable.b2(x numeric) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT float8send(coalesce(x::double precision, 'NaN'::double precision)) $$;

-- VOTable booleans are the characters T, F and ? (NULL)
CREATE OR REPLACE FUNCTION votable.b2(x boolean) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN x THEN '\x54'::bytea WHEN NOT x THEN '\x46'::bytea ELSE '\x3f'::bytea END $$;

-- char, arraysize="*": the UTF-8 bytes after their count
CREATE OR REPLACE FUNCTION votable.b2_chars(t text) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT int4send(octet_length(convert_to(coalesce(t, ''), 'UTF8')))
          || convert_to(coalesce(t, ''), 'UTF8') $$;

-- unicodeChar, arraysize="*": the count of characters, then UCS-2 (big-endian); a character
-- beyond the Basic Multilingual Plane, which UCS-2 cannot hold, becomes U+FFFD
CREATE OR REPLACE FUNCTION votable.b2_unicode_chars(t text) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT int4send(coalesce(char_length(t), 0))
          || coalesce((SELECT string_agg(substring(int4send(CASE WHEN ascii(c) > 65535 THEN 65533
                                                                 ELSE ascii(c) END) FROM 3),
                                         ''::bytea ORDER BY i)
                         FROM regexp_split_to_table(t, '') WITH ORDINALITY AS u(c, i)
                        WHERE c <> ''), ''::bytea) $$;

-- char, arraysize="n": exactly n bytes, NUL-padded
CREATE OR REPLACE FUNCTION votable.b2_fixed_chars(t text, n integer) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT substring(convert_to(coalesce(t, ''), 'UTF8') || decode(repeat('00', n), 'hex')
                    FROM 1 FOR n) $$;

-- arrays, arraysize="*": the count, then the values (each already encoded)
CREATE OR REPLACE FUNCTION votable.b2_array(encoded bytea[]) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT int4send(coalesce(cardinality(encoded), 0))
          || coalesce((SELECT string_agg(e, ''::bytea ORDER BY i)
                         FROM unnest(encoded) WITH ORDINALITY AS u(e, i)), ''::bytea) $$;

-- any array of the scalars above (the element's votable.b2 is found when the query is planned)
CREATE OR REPLACE FUNCTION votable.b2(x anyarray) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT votable.b2_array(ARRAY(SELECT votable.b2(v) FROM unnest(x) WITH ORDINALITY AS u(v, i) ORDER BY i)) $$;

-- double, arraysize="2": a point (ra, dec) or an interval (lower, upper); NULL is NaN NaN
CREATE OR REPLACE FUNCTION votable.b2(x spoint) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT float8send(coalesce(degrees(long(x)), 'NaN')) || float8send(coalesce(degrees(lat(x)), 'NaN')) $$;

CREATE OR REPLACE FUNCTION votable.b2(x caom2.float8range) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT float8send(coalesce(lower(x), 'NaN')) || float8send(coalesce(upper(x), 'NaN')) $$;

-- double, arraysize="3": a circle (ra, dec, radius)
CREATE OR REPLACE FUNCTION votable.b2(x scircle) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT votable.b2(center(x)) || float8send(coalesce(degrees(radius(x)), 'NaN')) $$;

-- double, arraysize="*": a polygon's vertices (ra1, dec1, ra2, dec2, ...)
CREATE OR REPLACE FUNCTION votable.b2(x spoly) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT votable.b2(
       string_to_array(votable.sphere_numbers(x::text), ' ')::double precision[]) $$;

-- the query role writes results with these functions
GRANT USAGE ON SCHEMA votable TO PUBLIC;
