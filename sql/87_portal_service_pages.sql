-- The service pages a browser gets (/tap/tables as HTML): TAP_SCHEMA as one table of
-- schemas, tables and their columns, in TAP_SCHEMA's own order.

CREATE SCHEMA IF NOT EXISTS portal;

CREATE OR REPLACE FUNCTION portal.tap_tables()
RETURNS TABLE (schema_name text, schema_description text, table_name text, table_type text,
               table_description text, columns jsonb)
LANGUAGE sql STABLE AS $$
    SELECT s.schema_name::text, s.description::text, t.table_name::text, t.table_type::text,
           t.description::text,
           coalesce((SELECT jsonb_agg(jsonb_build_object(
                        'name', c.column_name, 'datatype', c.datatype, 'arraysize', c.arraysize,
                        'xtype', c.xtype, 'unit', c.unit, 'ucd', c.ucd,
                        'description', c.description, 'indexed', c.indexed = 1,
                        'principal', c.principal = 1) ORDER BY c.column_index, c.column_name)
                       FROM tap_schema.columns c WHERE c.table_name = t.table_name), '[]')
      FROM tap_schema.schemas s
      JOIN tap_schema.tables t ON t.schema_name = s.schema_name
     ORDER BY s.schema_index, s.schema_name, t.table_index, t.table_name $$;
-- (hstvo_reader's use of schema portal: sql/89_portal_search.sql)
