-- TAP_SCHEMA (TAP 1.1 section 4), derived from the database catalog.
--
-- What only a person can say about a column (description, unit, UCD, utype, principal, std) is
-- kept in annotation tables; everything the database knows (does the column exist, its type, is
-- it indexed, is the table a view) is read from pg_catalog by the views tap_schema.tables and
-- tap_schema.columns. An annotation of a column that does not exist cannot appear, and
-- tests/test_tap_schema.py fails when a column of a published table has no annotation (it must
-- then be published or hidden on purpose).

CREATE TABLE IF NOT EXISTS tap_schema.schemas (
    schema_name   text PRIMARY KEY,
    utype         text,
    description   text,
    schema_index  integer
);

CREATE TABLE IF NOT EXISTS tap_schema.table_annotation (
    table_name    text PRIMARY KEY,      -- as published, schema-qualified: 'caom2.Plane'
    schema_name   text NOT NULL REFERENCES tap_schema.schemas,
    utype         text,
    description   text,
    table_index   integer
);

CREATE TABLE IF NOT EXISTS tap_schema.column_annotation (
    table_name    text NOT NULL REFERENCES tap_schema.table_annotation ON UPDATE CASCADE,
    column_name   text NOT NULL,         -- as published (case as shown); matched to the database
                                         -- column case-insensitively
    published     boolean NOT NULL DEFAULT true,  -- false: hidden on purpose (internal columns)
    description   text,
    unit          text,
    ucd           text,
    utype         text,
    datatype      text,                  -- NULL: derived from the column's type
    arraysize     text,                  -- NULL: derived from the column's type
    xtype         text,                  -- NULL: derived from the column's type
    indexed       integer,               -- NULL: derived from pg_index (views say it explicitly)
    principal     integer NOT NULL DEFAULT 0 CHECK (principal IN (0, 1)),
    std           integer NOT NULL DEFAULT 0 CHECK (std IN (0, 1)),
    column_index  integer,
    PRIMARY KEY (table_name, column_name)
);
CREATE UNIQUE INDEX IF NOT EXISTS column_annotation_name_idx
    ON tap_schema.column_annotation (table_name, lower(column_name));

CREATE TABLE IF NOT EXISTS tap_schema.keys (
    key_id        text PRIMARY KEY,
    from_table    text NOT NULL REFERENCES tap_schema.table_annotation,
    target_table  text NOT NULL REFERENCES tap_schema.table_annotation,
    description   text,
    utype         text
);

CREATE TABLE IF NOT EXISTS tap_schema.key_columns (
    key_id         text NOT NULL REFERENCES tap_schema.keys,
    from_column    text NOT NULL,
    target_column  text NOT NULL,
    PRIMARY KEY (key_id, from_column)
);

-- VOTable datatype, arraysize and DALI xtype of a PostgreSQL type (TAP 1.1 section 4.3)
CREATE OR REPLACE FUNCTION tap_schema.votable_type(pg_type regtype, typmod integer,
                                                   OUT datatype text, OUT arraysize text,
                                                   OUT xtype text)
LANGUAGE sql IMMUTABLE AS
$$
SELECT t.datatype, t.arraysize, t.xtype FROM (VALUES
    ('text'::regtype, 'char', '*', NULL),
    ('character varying', 'char', '*', NULL),
    ('character', 'char', CASE WHEN typmod > 4 THEN (typmod - 4)::text ELSE '1' END, NULL),
    ('smallint', 'short', NULL, NULL),
    ('integer', 'int', NULL, NULL),
    ('bigint', 'long', NULL, NULL),
    ('real', 'float', NULL, NULL),
    ('double precision', 'double', NULL, NULL),
    ('boolean', 'boolean', NULL, NULL),
    ('timestamp without time zone', 'char', '*', 'timestamp'),
    ('timestamp with time zone', 'char', '*', 'timestamp'),
    ('uuid', 'char', '36', NULL),
    ('double precision[]', 'double', '*', NULL),
    ('spoint', 'double', '2', 'point'),
    ('scircle', 'double', '3', 'circle'),
    ('spoly', 'double', '*', 'polygon'),
    ('caom2.float8range', 'double', '2', 'interval')
) AS t(pg, datatype, arraysize, xtype)
WHERE t.pg = pg_type
$$;

CREATE OR REPLACE VIEW tap_schema.tables AS
SELECT a.schema_name,
       a.table_name,
       CASE WHEN c.relkind IN ('v', 'm') THEN 'view' ELSE 'table' END AS table_type,
       a.utype,
       a.description,
       a.table_index
  FROM tap_schema.table_annotation a
  JOIN pg_class c ON c.oid = to_regclass(lower(a.table_name));

-- the database column of a published column name: case-insensitive, and without the quotes of
-- a delimited name (TAP 1.1 publishes the reserved word size as "size")
CREATE OR REPLACE FUNCTION tap_schema.db_column(published text) RETURNS name
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT lower(btrim(published, '"'))::name $$;

CREATE OR REPLACE VIEW tap_schema.columns AS
SELECT a.table_name,
       a.column_name,
       coalesce(a.datatype, v.datatype) AS datatype,
       coalesce(a.arraysize, v.arraysize) AS arraysize,
       coalesce(a.xtype, v.xtype) AS xtype,
       -- "size": the integer part of a 1-D arraysize (deprecated in TAP 1.1, still mandatory)
       CASE WHEN coalesce(a.arraysize, v.arraysize) ~ '^[0-9]+\*?$'
            THEN rtrim(coalesce(a.arraysize, v.arraysize), '*')::integer END AS "size",
       a.description,
       a.utype,
       a.unit,
       a.ucd,
       coalesce(a.indexed, CASE WHEN EXISTS (
           SELECT 1 FROM pg_index i WHERE i.indrelid = att.attrelid AND att.attnum = i.indkey[0])
           THEN 1 ELSE 0 END) AS indexed,
       a.principal,
       a.std,
       a.column_index
  FROM tap_schema.column_annotation a
  JOIN pg_attribute att ON att.attrelid = to_regclass(lower(a.table_name))
                       AND att.attname = tap_schema.db_column(a.column_name) AND NOT att.attisdropped
  CROSS JOIN LATERAL tap_schema.votable_type(att.atttypid::regtype, att.atttypmod) AS v
 WHERE a.published;

-- Published tables whose catalog columns lack an annotation: must be empty (a test checks).
CREATE OR REPLACE VIEW tap_schema.unannotated_columns AS
SELECT t.table_name, att.attname AS column_name
  FROM tap_schema.table_annotation t
  JOIN pg_attribute att ON att.attrelid = to_regclass(lower(t.table_name))
                       AND att.attnum > 0 AND NOT att.attisdropped
 WHERE NOT EXISTS (SELECT 1 FROM tap_schema.column_annotation a
                    WHERE a.table_name = t.table_name AND tap_schema.db_column(a.column_name) = att.attname);

-- Annotations naming a column the database does not have: must be empty too.
CREATE OR REPLACE VIEW tap_schema.orphan_annotations AS
SELECT a.table_name, a.column_name
  FROM tap_schema.column_annotation a
 WHERE NOT EXISTS (SELECT 1 FROM pg_attribute att
                    WHERE att.attrelid = to_regclass(lower(a.table_name))
                      AND att.attname = tap_schema.db_column(a.column_name) AND NOT att.attisdropped);
