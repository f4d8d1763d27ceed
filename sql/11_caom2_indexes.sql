-- Indexes beyond primary and unique keys: what TAP, DataLink, the repository and the harvester
-- filter on (CADC's caom2.extra_indices.sql, plus the parent keys every cascade needs).

-- parent keys (cascading deletes, per-observation work)
CREATE INDEX IF NOT EXISTS plane_obsid_idx ON caom2.plane (obsid);
CREATE INDEX IF NOT EXISTS artifact_planeid_idx ON caom2.artifact (planeid);
CREATE INDEX IF NOT EXISTS artifact_obsid_idx ON caom2.artifact (obsid);
CREATE INDEX IF NOT EXISTS part_artifactid_idx ON caom2.part (artifactid);
CREATE INDEX IF NOT EXISTS part_obsid_idx ON caom2.part (obsid);
CREATE INDEX IF NOT EXISTS chunk_partid_idx ON caom2.chunk (partid);
CREATE INDEX IF NOT EXISTS chunk_obsid_idx ON caom2.chunk (obsid);

-- harvesting: list observations by maxLastModified, tombstones by lastModified
CREATE INDEX IF NOT EXISTS observation_maxlastmodified_idx
    ON caom2.observation (collection, maxlastmodified);
CREATE INDEX IF NOT EXISTS deletedobservation_lastmodified_idx
    ON caom2.deletedobservation (collection, lastmodified);

-- spatial, spectral, temporal searches
CREATE INDEX IF NOT EXISTS plane_position_bounds_spoly_idx
    ON caom2.plane USING gist (position_bounds_spoly);
CREATE INDEX IF NOT EXISTS plane_position_bounds_center_idx
    ON caom2.plane USING gist (position_bounds_center);
CREATE INDEX IF NOT EXISTS plane_energy_bounds_idx ON caom2.plane USING gist (energy_bounds);
CREATE INDEX IF NOT EXISTS plane_time_bounds_idx ON caom2.plane USING gist (time_bounds);
CREATE INDEX IF NOT EXISTS plane_energy_bounds_lower_idx ON caom2.plane (energy_bounds_lower);
CREATE INDEX IF NOT EXISTS plane_energy_bounds_upper_idx ON caom2.plane (energy_bounds_upper);
CREATE INDEX IF NOT EXISTS plane_time_bounds_lower_idx ON caom2.plane (time_bounds_lower);
CREATE INDEX IF NOT EXISTS plane_time_bounds_upper_idx ON caom2.plane (time_bounds_upper);

-- common metadata filters
CREATE INDEX IF NOT EXISTS observation_instrument_idx ON caom2.observation (instrument_name);
CREATE INDEX IF NOT EXISTS observation_target_name_idx ON caom2.observation (lower(target_name));
CREATE INDEX IF NOT EXISTS observation_proposal_id_idx ON caom2.observation (proposal_id);
CREATE INDEX IF NOT EXISTS plane_bandpassname_idx ON caom2.plane (energy_bandpassname);
CREATE INDEX IF NOT EXISTS plane_calibrationlevel_idx ON caom2.plane (calibrationlevel);
CREATE INDEX IF NOT EXISTS plane_datarelease_idx ON caom2.plane (datarelease);
CREATE INDEX IF NOT EXISTS artifact_uri_idx ON caom2.artifact (uri text_pattern_ops);

-- DataLink and SODA find a plane by its URI as well as by its publisher ID: the unique
-- constraint's index (plane_uri_unique) serves; a second index on the URI only cost writes
DROP INDEX IF EXISTS caom2.plane_planeuri_idx;
