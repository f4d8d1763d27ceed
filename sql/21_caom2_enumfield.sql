-- caom2.EnumField: the distinct values a search form and its facets offer (collection,
-- telescope, instrument, observation type and intent, product type, calibration level,
-- energy band, bandpass), with how many planes have each combination. CADC publishes the same
-- table (as a materialised view refreshed daily); clients such as astroquery's Cadc read it
-- (get_collections: SELECT DISTINCT collection, energy_emBand FROM caom2.EnumField).
-- Here it is a view over the tables, so it is never stale: it is current the moment a plane
-- is written.
CREATE OR REPLACE VIEW caom2.enumfield AS
SELECT o.collection, o.telescope_name, o.instrument_name, o.type, o.intent,
       p.dataproducttype, p.calibrationlevel,
       p.energy_energybands AS energy_emband, p.energy_bandpassname,
       count(*) AS num_tuples
  FROM caom2.observation o
  JOIN caom2.plane p ON p.obsid = o.obsid
 GROUP BY o.collection, o.telescope_name, o.instrument_name, o.type, o.intent,
          p.dataproducttype, p.calibrationlevel, p.energy_energybands, p.energy_bandpassname;
COMMENT ON VIEW caom2.enumfield IS 'distinct values of the searchable CAOM fields with their plane counts (CADC''s caom2.EnumField)';

INSERT INTO tap_schema.table_annotation (table_name, schema_name, description, utype, table_index) VALUES
    ('caom2.EnumField', 'caom2', 'the distinct values of the searchable fields (collection, instrument, band, ...) with how many planes have each combination', NULL, 15)
ON CONFLICT DO NOTHING;

INSERT INTO tap_schema.column_annotation
    (table_name, column_name, published, description, unit, ucd, indexed, principal, column_index) VALUES
    ('caom2.EnumField', 'collection', true, 'data collection', NULL, 'meta.id', 0, 1, 1),
    ('caom2.EnumField', 'telescope_name', true, 'telescope', NULL, 'meta.id;instr.tel', 0, 1, 2),
    ('caom2.EnumField', 'instrument_name', true, 'instrument', NULL, 'meta.id;instr', 0, 1, 3),
    ('caom2.EnumField', 'type', true, 'type of data collected (FITS OBSTYPE)', NULL, 'meta.code.class', 0, 0, 4),
    ('caom2.EnumField', 'intent', true, 'science or calibration', NULL, 'meta.code', 0, 1, 5),
    ('caom2.EnumField', 'dataProductType', true, 'IVOA ObsCore data product type', NULL, 'meta.code.class', 0, 1, 6),
    ('caom2.EnumField', 'calibrationLevel', true, 'calibration level of the planes', NULL, 'meta.code;obs.calib', 0, 1, 7),
    ('caom2.EnumField', 'energy_emBand', true, 'energy bands of the planes (e.g. Optical, Infrared|Optical)', NULL, 'instr.bandpass', 0, 1, 8),
    ('caom2.EnumField', 'energy_bandpassName', true, 'bandpass (filter) name', NULL, 'instr.bandpass;instr.filter', 0, 1, 9),
    ('caom2.EnumField', 'num_tuples', true, 'how many planes have this combination of values', NULL, 'meta.number', 0, 1, 10)
ON CONFLICT DO NOTHING;
