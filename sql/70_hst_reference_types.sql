-- HST reference types: what the best-reference rules are made of (the content, generated from
-- CRDS's rules, is sql/71_hst_reftypes.sql; the rules themselves sql/72_hst_reference_files.sql)

CREATE TABLE IF NOT EXISTS hst.reftype (
    instrument     text NOT NULL,          -- as INSTRUME says it: ACS, WFC3, STIS, ...
    reftype        text NOT NULL,          -- CRDS's name: biasfile
    keyword        text NOT NULL,          -- the header keyword naming the file: BIASFILE
    suffix         text,                   -- of the file's name: bia (p3v2228mj_bia.fits)
    parkeys        text[] NOT NULL,        -- the keywords that select a file of this type
    useafter_keys  text[] NOT NULL,        -- DATE-OBS, TIME-OBS: what USEAFTER is compared with
    switch         text,                   -- the calibration switch (BIASCORR); NULL when none
    relevance      text,                   -- CRDS's condition; hst.reftype_relevant evaluates it
    description    text,
    PRIMARY KEY (instrument, reftype),
    UNIQUE (instrument, keyword)
);
COMMENT ON TABLE hst.reftype IS 'HST reference types per instrument (CRDS rules, data/hst/reftypes.csv)';

-- a header value as the rules compare it: upper-case, trimmed, UNDEFINED when missing (CRDS)
CREATE OR REPLACE FUNCTION hst.selection_value(header jsonb, keyword text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT coalesce(upper(nullif(btrim(header->>keyword), '')), 'UNDEFINED') $$;

