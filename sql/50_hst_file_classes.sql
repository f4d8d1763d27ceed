-- HST file classes: which suffix belongs to which plane, calibration level and product type.
--
-- The archive this project descends from sorted every file suffix of an instrument into classes
-- (../shared/docs/file-classes.md): ALL (every known suffix), RAW (calibration level 1), CAL (2),
-- PROD (3: drizzled, combined, extracted), NOMAP (no footprint of its own: logs, support and
-- association tables, headerlets, intermediate files), CTE (charge-transfer-efficiency corrected
-- variants). Classes overlap on purpose: ACS IMA is CAL and NOMAP, FLC is CAL and CTE.
--
-- hst.file_class_source keeps the source tables verbatim, slips included; hst.file_class_fix
-- records each decision that mends a slip, with its reason; hst.file_class is the result, and
-- hst.classify() applies it to a file name:
--   level          the highest of RAW 1 / CAL 2 / PROD 3 among the suffix's classes
--   maps           it has a level and is not NOMAP: its WCS contributes to the plane footprint
--   product_type   'science' when it maps, 'auxiliary' when NOMAP, 'preview' for JPEG/PNG
--   product_id     {rootname}_{suffix} for a file that maps (one plane per science file type,
--                  e.g. ib1n18kpq_flt); a NOMAP file joins the plane of its level's anchor, the
--                  first suffix of that class that maps (ACS: raw, flt, drz)
--   cte            the suffix is a CTE-corrected variant

CREATE SCHEMA IF NOT EXISTS hst;

-- an instrument's rootname letter and the class table it uses
CREATE TABLE IF NOT EXISTS hst.instrument (
    instrument   text PRIMARY KEY,      -- INSTRUME header value
    letter       character(1) NOT NULL UNIQUE,  -- first letter of its rootnames
    class_table  text NOT NULL          -- the source table of its file classes
);
INSERT INTO hst.instrument (instrument, letter, class_table) VALUES
    ('WFC3', 'i', 'ACS/WFC3'), ('ACS', 'j', 'ACS/WFC3'), ('COS', 'l', 'COS'),
    ('NICMOS', 'n', 'NICMOS'), ('STIS', 'o', 'STIS'), ('WFPC2', 'u', 'WFPC2'),
    ('FOC', 'x', 'FOC'), ('FOS', 'y', 'FOS'), ('HRS', 'z', 'HRS')
ON CONFLICT DO NOTHING;

CREATE TABLE IF NOT EXISTS hst.file_class_source (
    class_table  text NOT NULL,
    class        text NOT NULL CHECK (class IN ('ALL', 'RAW', 'CAL', 'PROD', 'NOMAP', 'CTE')),
    ordinal      integer NOT NULL,      -- position in the source list (a repeat keeps its own)
    suffix       text NOT NULL,
    PRIMARY KEY (class_table, class, ordinal)
);
COMMENT ON TABLE hst.file_class_source IS 'the file-class tables exactly as the source system had them, slips included';

CREATE TABLE IF NOT EXISTS hst.file_class_fix (
    class_table  text NOT NULL,
    class        text NOT NULL,
    suffix       text NOT NULL,
    action       text NOT NULL CHECK (action IN ('add', 'remove')),
    reason       text NOT NULL,
    PRIMARY KEY (class_table, class, suffix, action)
);
COMMENT ON TABLE hst.file_class_fix IS 'decisions that mend the slips of hst.file_class_source, each with its reason';

INSERT INTO hst.file_class_source (class_table, class, ordinal, suffix) VALUES
    ('WFPC2', 'ALL', 1, 'C0M'),
    ('WFPC2', 'ALL', 2, 'CIM'),
    ('WFPC2', 'ALL', 3, 'D0M'),
    ('WFPC2', 'ALL', 4, 'DRZ'),
    ('WFPC2', 'ALL', 5, 'DRZPC'),
    ('WFPC2', 'ALL', 6, 'Q0M'),
    ('WFPC2', 'ALL', 7, 'Q1M'),
    ('WFPC2', 'ALL', 8, 'SHM'),
    ('WFPC2', 'ALL', 9, 'TRL'),
    ('WFPC2', 'ALL', 10, 'X0M'),
    ('WFPC2', 'RAW', 1, 'D0M'),
    ('WFPC2', 'RAW', 2, 'Q0M'),
    ('WFPC2', 'RAW', 3, 'Q1M'),
    ('WFPC2', 'RAW', 4, 'SHM'),
    ('WFPC2', 'RAW', 5, 'TRL'),
    ('WFPC2', 'RAW', 6, 'X0M'),
    ('WFPC2', 'CAL', 1, 'C0M'),
    ('WFPC2', 'CAL', 2, 'CIM'),
    ('WFPC2', 'PROD', 1, 'DRZ'),
    ('WFPC2', 'PROD', 2, 'DRZPC'),
    ('WFPC2', 'NOMAP', 1, 'SHM'),
    ('WFPC2', 'NOMAP', 2, 'TRL'),
    ('WFPC2', 'NOMAP', 3, 'X0M'),
    ('WFPC2', 'NOMAP', 4, 'Q0M'),
    ('WFPC2', 'NOMAP', 5, 'Q1M'),
    ('ACS/WFC3', 'ALL', 1, 'DRZ'),
    ('ACS/WFC3', 'ALL', 2, 'SPT'),
    ('ACS/WFC3', 'ALL', 3, 'TRL'),
    ('ACS/WFC3', 'ALL', 4, 'FLT'),
    ('ACS/WFC3', 'ALL', 5, 'RAW'),
    ('ACS/WFC3', 'ALL', 6, 'SFL'),
    ('ACS/WFC3', 'ALL', 7, 'ASN'),
    ('ACS/WFC3', 'ALL', 8, 'DRC'),
    ('ACS/WFC3', 'ALL', 9, 'FLC'),
    ('ACS/WFC3', 'ALL', 10, 'FLT_HLET'),
    ('ACS/WFC3', 'ALL', 11, 'IMA'),
    ('ACS/WFC3', 'RAW', 1, 'TRL'),
    ('ACS/WFC3', 'RAW', 2, 'RAW'),
    ('ACS/WFC3', 'RAW', 3, 'SPT'),
    ('ACS/WFC3', 'RAW', 4, 'SFL'),
    ('ACS/WFC3', 'RAW', 5, 'ASN'),
    ('ACS/WFC3', 'CAL', 1, 'FLT'),
    ('ACS/WFC3', 'CAL', 2, 'FLC'),
    ('ACS/WFC3', 'CAL', 3, 'IMA'),
    ('ACS/WFC3', 'PROD', 1, 'DRZ'),
    ('ACS/WFC3', 'PROD', 2, 'DRC'),
    ('ACS/WFC3', 'PROD', 3, 'FLT_HLET'),
    ('ACS/WFC3', 'PROD', 4, 'CRJ'),
    ('ACS/WFC3', 'NOMAP', 1, 'TRL'),
    ('ACS/WFC3', 'NOMAP', 2, 'SPT'),
    ('ACS/WFC3', 'NOMAP', 3, 'FLT_HLET'),
    ('ACS/WFC3', 'NOMAP', 4, 'ASN'),
    ('ACS/WFC3', 'NOMAP', 5, 'SFL'),
    ('ACS/WFC3', 'NOMAP', 6, 'IMA'),
    ('ACS/WFC3', 'CTE', 1, 'FLC'),
    ('ACS/WFC3', 'CTE', 2, 'DRC'),
    ('STIS', 'ALL', 1, 'RAW'),
    ('STIS', 'ALL', 2, 'SPT'),
    ('STIS', 'ALL', 3, 'TRL'),
    ('STIS', 'ALL', 4, 'FLT'),
    ('STIS', 'ALL', 5, 'CRJ'),
    ('STIS', 'ALL', 6, 'SX2'),
    ('STIS', 'ALL', 7, 'X2D'),
    ('STIS', 'ALL', 8, 'WAV'),
    ('STIS', 'ALL', 9, 'WSP'),
    ('STIS', 'ALL', 10, 'SX1'),
    ('STIS', 'ALL', 11, 'LRC'),
    ('STIS', 'ALL', 12, 'LSP'),
    ('STIS', 'ALL', 13, 'XID'),
    ('STIS', 'ALL', 14, 'TAG'),
    ('STIS', 'ALL', 15, 'SFL'),
    ('STIS', 'ALL', 16, 'ASN'),
    ('STIS', 'RAW', 1, 'RAW'),
    ('STIS', 'RAW', 2, 'TRL'),
    ('STIS', 'RAW', 3, 'SPT'),
    ('STIS', 'RAW', 4, 'TAG'),
    ('STIS', 'RAW', 5, 'WAV'),
    ('STIS', 'RAW', 6, 'LRC'),
    ('STIS', 'RAW', 7, 'LSP'),
    ('STIS', 'RAW', 8, 'WSP'),
    ('STIS', 'RAW', 9, 'ASN'),
    ('STIS', 'CAL', 1, 'FTL'),
    ('STIS', 'CAL', 2, 'XID'),
    ('STIS', 'CAL', 3, 'X2D'),
    ('STIS', 'PROD', 1, 'SX1'),
    ('STIS', 'PROD', 2, 'XID'),
    ('STIS', 'PROD', 3, 'CRJ'),
    ('STIS', 'PROD', 4, 'SFL'),
    ('STIS', 'NOMAP', 1, 'TRL'),
    ('STIS', 'NOMAP', 2, 'SPT'),
    ('STIS', 'NOMAP', 3, 'TAG'),
    ('STIS', 'NOMAP', 4, 'WAV'),
    ('STIS', 'NOMAP', 5, 'LRC'),
    ('STIS', 'NOMAP', 6, 'LSP'),
    ('STIS', 'NOMAP', 7, 'WSP'),
    ('STIS', 'NOMAP', 8, 'ASN'),
    ('FOC', 'ALL', 1, 'CGR'),
    ('FOC', 'ALL', 2, 'D0F'),
    ('FOC', 'ALL', 3, 'DGR'),
    ('FOC', 'ALL', 4, 'Q0F'),
    ('FOC', 'ALL', 5, 'SHF'),
    ('FOC', 'ALL', 6, 'TRL'),
    ('FOC', 'ALL', 7, 'ULF'),
    ('FOC', 'ALL', 8, 'C0F'),
    ('FOC', 'ALL', 9, 'CIF'),
    ('FOC', 'RAW', 1, 'DGR'),
    ('FOC', 'RAW', 2, 'TRL'),
    ('FOC', 'RAW', 3, 'Q0F'),
    ('FOC', 'RAW', 4, 'SHF'),
    ('FOC', 'RAW', 5, 'D0F'),
    ('FOC', 'RAW', 6, 'ULF'),
    ('FOC', 'CAL', 1, 'CGR'),
    ('FOC', 'CAL', 2, 'C0F'),
    ('FOC', 'CAL', 3, 'CIF'),
    ('FOC', 'NOMAP', 1, 'DGR'),
    ('FOC', 'NOMAP', 2, 'TRL'),
    ('FOC', 'NOMAP', 3, 'SHF'),
    ('FOC', 'NOMAP', 4, 'CGR'),
    ('FOC', 'NOMAP', 5, 'ULF'),
    ('FOC', 'NOMAP', 6, 'Q0F'),
    ('FOS', 'ALL', 1, 'C1F'),
    ('FOS', 'ALL', 2, 'C4F'),
    ('FOS', 'ALL', 3, 'C5F'),
    ('FOS', 'ALL', 4, 'CQF'),
    ('FOS', 'ALL', 5, 'D0F'),
    ('FOS', 'ALL', 6, 'Q0F'),
    ('FOS', 'ALL', 7, 'SHF'),
    ('FOS', 'ALL', 8, 'TRL'),
    ('FOS', 'ALL', 9, 'ULF'),
    ('FOS', 'ALL', 10, 'POA'),
    ('FOS', 'ALL', 11, 'C0F'),
    ('FOS', 'ALL', 12, 'C2F'),
    ('FOS', 'ALL', 13, 'C7F'),
    ('FOS', 'ALL', 14, 'X0F'),
    ('FOS', 'ALL', 15, 'XQF'),
    ('FOS', 'ALL', 16, 'DIF'),
    ('FOS', 'ALL', 17, 'QIF'),
    ('FOS', 'ALL', 18, 'C6F'),
    ('FOS', 'ALL', 19, 'C8F'),
    ('FOS', 'ALL', 20, 'C3F'),
    ('FOS', 'RAW', 1, 'D0F'),
    ('FOS', 'RAW', 2, 'Q0F'),
    ('FOS', 'RAW', 3, 'SHF'),
    ('FOS', 'RAW', 4, 'TRL'),
    ('FOS', 'RAW', 5, 'ULF'),
    ('FOS', 'RAW', 6, 'X0F'),
    ('FOS', 'RAW', 7, 'XQF'),
    ('FOS', 'RAW', 8, 'DIF'),
    ('FOS', 'RAW', 9, 'QIF'),
    ('FOS', 'CAL', 1, 'C1F'),
    ('FOS', 'CAL', 2, 'C4F'),
    ('FOS', 'CAL', 3, 'C5F'),
    ('FOS', 'CAL', 4, 'CQF'),
    ('FOS', 'CAL', 5, 'C0F'),
    ('FOS', 'CAL', 6, 'C2F'),
    ('FOS', 'CAL', 7, 'C7F'),
    ('FOS', 'CAL', 8, 'C6F'),
    ('FOS', 'CAL', 9, 'C8F'),
    ('FOS', 'CAL', 10, 'C3F'),
    ('FOS', 'PROD', 1, 'POA'),
    ('FOS', 'NOMAP', 1, 'X0Q'),
    ('FOS', 'NOMAP', 2, 'XQF'),
    ('FOS', 'NOMAP', 3, 'C4F'),
    ('FOS', 'NOMAP', 4, 'C5F'),
    ('FOS', 'NOMAP', 5, 'CQF'),
    ('FOS', 'NOMAP', 6, 'C2F'),
    ('FOS', 'NOMAP', 7, 'C7F'),
    ('FOS', 'NOMAP', 8, 'C6F'),
    ('FOS', 'NOMAP', 9, 'C8F'),
    ('FOS', 'NOMAP', 10, 'C3F'),
    ('FOS', 'NOMAP', 11, 'Q0F'),
    ('FOS', 'NOMAP', 12, 'SHF'),
    ('FOS', 'NOMAP', 13, 'TRL'),
    ('FOS', 'NOMAP', 14, 'ULF'),
    ('FOS', 'NOMAP', 15, 'X0F'),
    ('FOS', 'NOMAP', 16, 'XQF'),
    ('FOS', 'NOMAP', 17, 'QIF'),
    ('COS', 'ALL', 1, 'FLT'),
    ('COS', 'ALL', 2, 'FLTSUM'),
    ('COS', 'ALL', 3, 'LAMPFLASH'),
    ('COS', 'ALL', 4, 'FLT_A'),
    ('COS', 'ALL', 5, 'FLT_B'),
    ('COS', 'ALL', 6, 'PHA'),
    ('COS', 'ALL', 7, 'RAWACCUM'),
    ('COS', 'ALL', 8, 'RAWACQ'),
    ('COS', 'ALL', 9, 'RAWTAG'),
    ('COS', 'ALL', 10, 'SPT'),
    ('COS', 'ALL', 11, 'TRL'),
    ('COS', 'ALL', 12, 'XID'),
    ('COS', 'ALL', 13, 'XIDSUM'),
    ('COS', 'ALL', 14, 'XIDSUM1'),
    ('COS', 'ALL', 15, 'XIDSUM2'),
    ('COS', 'ALL', 16, 'XIDSUM3'),
    ('COS', 'ALL', 17, 'XIDSUM4'),
    ('COS', 'ALL', 18, 'ASN'),
    ('COS', 'RAW', 1, 'RAWACCUM'),
    ('COS', 'RAW', 2, 'SPT'),
    ('COS', 'RAW', 3, 'TRL'),
    ('COS', 'RAW', 4, 'RAWTAG'),
    ('COS', 'RAW', 5, 'RAWACQ'),
    ('COS', 'RAW', 6, 'ASN'),
    ('COS', 'RAW', 7, 'LAMPFLASH'),
    ('COS', 'RAW', 8, 'PHA'),
    ('COS', 'CAL', 1, 'FLT'),
    ('COS', 'CAL', 2, 'FLTSUM'),
    ('COS', 'CAL', 3, 'FLT_A'),
    ('COS', 'CAL', 4, 'FLT_B'),
    ('COS', 'PROD', 1, 'XIDSUM'),
    ('COS', 'PROD', 2, 'XID'),
    ('COS', 'PROD', 3, 'XIDSUM1'),
    ('COS', 'PROD', 4, 'XIDSUM2'),
    ('COS', 'PROD', 5, 'XIDSUM3'),
    ('COS', 'PROD', 6, 'XIDSUM4'),
    ('COS', 'NOMAP', 1, 'SPT'),
    ('COS', 'NOMAP', 2, 'TRL'),
    ('COS', 'NOMAP', 3, 'ASN'),
    ('COS', 'NOMAP', 4, 'LAMPFLASH'),
    ('COS', 'NOMAP', 5, 'CORRTAG'),
    ('COS', 'NOMAP', 6, 'PHA'),
    ('COS', 'NOMAP', 7, 'FLT_A'),
    ('COS', 'NOMAP', 8, 'FLT_B'),
    ('HRS', 'ALL', 1, 'D0F'),
    ('HRS', 'ALL', 2, 'Q0F'),
    ('HRS', 'ALL', 3, 'SHF'),
    ('HRS', 'ALL', 4, 'TRL'),
    ('HRS', 'ALL', 5, 'ULF'),
    ('HRS', 'ALL', 6, 'X0F'),
    ('HRS', 'ALL', 7, 'XQF'),
    ('HRS', 'ALL', 8, 'CIF'),
    ('HRS', 'ALL', 9, 'C2F'),
    ('HRS', 'ALL', 10, 'C3F'),
    ('HRS', 'ALL', 11, 'C4F'),
    ('HRS', 'ALL', 12, 'CQF'),
    ('HRS', 'ALL', 13, 'C0F'),
    ('HRS', 'ALL', 14, 'C5F'),
    ('HRS', 'ALL', 15, 'DIF'),
    ('HRS', 'ALL', 16, 'QIF'),
    ('HRS', 'RAW', 1, 'D0F'),
    ('HRS', 'RAW', 2, 'Q0F'),
    ('HRS', 'RAW', 3, 'QIF'),
    ('HRS', 'RAW', 4, 'X0F'),
    ('HRS', 'RAW', 5, 'DIF'),
    ('HRS', 'RAW', 6, 'TRL'),
    ('HRS', 'RAW', 7, 'ULF'),
    ('HRS', 'RAW', 8, 'XQF'),
    ('HRS', 'CAL', 1, 'C0F'),
    ('HRS', 'CAL', 2, 'CIF'),
    ('HRS', 'CAL', 3, 'C2F'),
    ('HRS', 'CAL', 4, 'C3F'),
    ('HRS', 'CAL', 5, 'C4F'),
    ('HRS', 'CAL', 6, 'C5F'),
    ('HRS', 'CAL', 7, 'CQF'),
    ('HRS', 'NOMAP', 1, 'C2F'),
    ('HRS', 'NOMAP', 2, 'C3F'),
    ('HRS', 'NOMAP', 3, 'C4F'),
    ('HRS', 'NOMAP', 4, 'C5F'),
    ('HRS', 'NOMAP', 5, 'CQF'),
    ('HRS', 'NOMAP', 6, 'Q0F'),
    ('HRS', 'NOMAP', 7, 'QIF'),
    ('HRS', 'NOMAP', 8, 'TRL'),
    ('HRS', 'NOMAP', 9, 'ULF'),
    ('HRS', 'NOMAP', 10, 'XQF'),
    ('NICMOS', 'ALL', 1, 'CAL'),
    ('NICMOS', 'ALL', 2, 'RAW'),
    ('NICMOS', 'ALL', 3, 'SPT'),
    ('NICMOS', 'ALL', 4, 'TRL'),
    ('NICMOS', 'ALL', 5, 'ASC'),
    ('NICMOS', 'ALL', 6, 'MOS'),
    ('NICMOS', 'ALL', 7, 'IMA'),
    ('NICMOS', 'ALL', 8, 'SAA'),
    ('NICMOS', 'ALL', 9, 'SPR'),
    ('NICMOS', 'RAW', 1, 'RAW'),
    ('NICMOS', 'RAW', 2, 'TRL'),
    ('NICMOS', 'RAW', 3, 'SPT'),
    ('NICMOS', 'RAW', 4, 'ASN'),
    ('NICMOS', 'CAL', 1, 'CAL'),
    ('NICMOS', 'CAL', 2, 'IMA'),
    ('NICMOS', 'CAL', 3, 'SAA'),
    ('NICMOS', 'PROD', 1, 'MOS'),
    ('NICMOS', 'PROD', 2, 'ASC'),
    ('NICMOS', 'NOMAP', 1, 'TRL'),
    ('NICMOS', 'NOMAP', 2, 'SPT'),
    ('NICMOS', 'NOMAP', 3, 'ASN'),
    ('NICMOS', 'NOMAP', 4, 'SAA'),
    ('NICMOS', 'NOMAP', 5, 'ASC'),
    ('NICMOS', 'NOMAP', 6, 'IMA')
ON CONFLICT DO NOTHING;

INSERT INTO hst.file_class_fix (class_table, class, suffix, action, reason) VALUES
    ('STIS', 'CAL', 'FTL', 'remove', 'typo: no STIS file has suffix FTL'),
    ('STIS', 'CAL', 'FLT', 'add', 'the flat-fielded image FLT is what CAL''s FTL means; FLT is in ALL but in no class'),
    ('STIS', 'PROD', 'SX2', 'add', 'SX2 (summed rectified 2-D spectrum) is in ALL but in no class; like SX1 it is a product'),
    ('STIS', 'CAL', 'XID', 'remove', 'XID is in both CAL and PROD; like COS XID it is a combined product: PROD only'),
    ('FOS', 'NOMAP', 'X0Q', 'remove', 'no FOS file has suffix X0Q; X0F, which it resembles, is already NOMAP'),
    ('ACS/WFC3', 'ALL', 'CRJ', 'add', 'CRJ (cosmic-ray rejected CR-SPLIT sum) is in PROD but missing from ALL'),
    ('COS', 'ALL', 'CORRTAG', 'add', 'CORRTAG (corrected time-tag events) is in NOMAP but missing from ALL'),
    ('COS', 'CAL', 'CORRTAG', 'add', 'CORRTAG is a calibrated product (level 2), an event list without a footprint of its own'),
    ('NICMOS', 'ALL', 'ASN', 'add', 'ASN (association table) is in RAW and NOMAP but missing from ALL'),
    ('NICMOS', 'RAW', 'SPR', 'add', 'SPR is in ALL but in no class; filed with the raw support files'),
    ('NICMOS', 'NOMAP', 'SPR', 'add', 'SPR is a support file without a footprint of its own, like SPT'),
    ('HRS', 'RAW', 'SHF', 'add', 'SHF (standard header packet) is in ALL but in no class; as for FOS and FOC it is a raw support file'),
    ('HRS', 'NOMAP', 'SHF', 'add', 'SHF has no footprint of its own (FOS and FOC list it as NOMAP)'),
    ('HRS', 'NOMAP', 'X0F', 'add', 'X0F (engineering/extracted header data) has no footprint; FOS lists it as NOMAP')
ON CONFLICT DO NOTHING;

-- The source spells the extracted 1-D spectrum XID (letter I) where HST names its files x1d
-- (digit one): o4k19a010_x1d.fits, lbgu17qnq_x1dsum.fits. The X1D forms join the classes of
-- their XID spellings (PROD, and ALL); the XID rows stay, as the source has them.
INSERT INTO hst.file_class_fix (class_table, class, suffix, action, reason)
SELECT t.class_table, c.class, replace(t.suffix, 'XID', 'X1D'), 'add',
       'the source writes ' || t.suffix || ' (letter I) for ' || replace(t.suffix, 'XID', 'X1D')
       || ' (digit one), the extracted 1-D spectrum HST files are named after'
  FROM (VALUES ('STIS', 'XID'), ('COS', 'XID'), ('COS', 'XIDSUM'), ('COS', 'XIDSUM1'),
               ('COS', 'XIDSUM2'), ('COS', 'XIDSUM3'), ('COS', 'XIDSUM4')) AS t(class_table, suffix)
 CROSS JOIN (VALUES ('ALL'), ('PROD')) AS c(class)
ON CONFLICT DO NOTHING;

-- Other names of a suffix: the same data written in another format. WFPC2's class table lists
-- the FITS-with-extensions forms (C0M, D0M, ...); the older "waivered FITS" conversions of the
-- same GEIS files end in F (C0F, D0F, ...). An alias takes its suffix's rule and plane, so both
-- formats of one dataset are artifacts of the same plane.
CREATE TABLE IF NOT EXISTS hst.suffix_alias (
    instrument  text NOT NULL,
    alias       text NOT NULL,
    suffix      text NOT NULL,
    product_type text,                  -- when set: the alias is a companion, not a science file
    reason      text NOT NULL,
    PRIMARY KEY (instrument, alias)
);
COMMENT ON TABLE hst.suffix_alias IS 'suffixes that name another format of a classified suffix, with the reason';

INSERT INTO hst.suffix_alias (instrument, alias, suffix, reason)
SELECT 'WFPC2', left(m, 2) || 'F', m,
       'waivered FITS conversion of the GEIS ' || m || ' file: same data, older format'
  FROM unnest(ARRAY['C0M', 'C1M', 'D0M', 'Q0M', 'Q1M', 'SHM', 'X0M']) AS m
 WHERE m <> 'C1M'
ON CONFLICT DO NOTHING;
INSERT INTO hst.suffix_alias (instrument, alias, suffix, product_type, reason) VALUES
    ('WFPC2', 'C1F', 'C0M', 'auxiliary', 'data-quality mask of the calibrated C0F image; travels with its plane'),
    ('WFPC2', 'C1M', 'C0M', 'auxiliary', 'data-quality mask of the calibrated C0M image; travels with its plane')
ON CONFLICT DO NOTHING;

-- the effective rules: source minus removals plus additions, repeats collapsed
CREATE OR REPLACE VIEW hst.file_class AS
SELECT class_table, class, suffix, min(ordinal) AS ordinal
  FROM (SELECT s.class_table, s.class, s.suffix, s.ordinal
          FROM hst.file_class_source s
         WHERE NOT EXISTS (SELECT 1 FROM hst.file_class_fix f
                            WHERE f.action = 'remove' AND (f.class_table, f.class, f.suffix)
                                                          = (s.class_table, s.class, s.suffix))
        UNION ALL
        SELECT f.class_table, f.class, f.suffix, 1000
          FROM hst.file_class_fix f WHERE f.action = 'add') AS rules
 GROUP BY class_table, class, suffix;

-- the per-suffix summary of the rules: classes, level, footprint, CTE, anchor of its level.
-- Materialized (hst.classify reads it for every ingested file) and refreshed by triggers when
-- the rule tables change; it was a plain view before revision 0005.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_class WHERE oid = to_regclass('hst.suffix_rule') AND relkind = 'v') THEN
        DROP VIEW hst.suffix_rule;
    END IF;
END $$;
CREATE MATERIALIZED VIEW IF NOT EXISTS hst.suffix_rule AS
WITH classes AS (
    SELECT i.instrument, c.suffix, array_agg(c.class ORDER BY c.class) AS classes,
           max(CASE c.class WHEN 'RAW' THEN 1 WHEN 'CAL' THEN 2 WHEN 'PROD' THEN 3 END) AS level,
           bool_or(c.class = 'NOMAP') AS nomap, bool_or(c.class = 'CTE') AS cte
      FROM hst.instrument i JOIN hst.file_class c ON c.class_table = i.class_table
     GROUP BY i.instrument, c.suffix
), anchors AS (
    -- per instrument and level: the first suffix of that class (source order) that maps
    SELECT DISTINCT ON (i.instrument, lv.level) i.instrument, lv.level, c.suffix AS anchor
      FROM hst.instrument i
      JOIN hst.file_class c ON c.class_table = i.class_table
      JOIN (VALUES ('RAW', 1), ('CAL', 2), ('PROD', 3)) AS lv(class, level) ON lv.class = c.class
     WHERE NOT EXISTS (SELECT 1 FROM hst.file_class n WHERE n.class_table = c.class_table
                          AND n.class = 'NOMAP' AND n.suffix = c.suffix)
     ORDER BY i.instrument, lv.level, c.ordinal
)
SELECT k.instrument, k.suffix, k.classes, k.level,
       k.level IS NOT NULL AND NOT k.nomap AS maps,
       k.cte,
       CASE WHEN k.level IS NULL THEN NULL
            WHEN NOT k.nomap THEN k.suffix ELSE a.anchor END AS plane_suffix
  FROM classes k LEFT JOIN anchors a ON a.instrument = k.instrument AND a.level = k.level;
CREATE UNIQUE INDEX IF NOT EXISTS suffix_rule_key ON hst.suffix_rule (instrument, suffix);
REFRESH MATERIALIZED VIEW hst.suffix_rule;

CREATE OR REPLACE FUNCTION hst.refresh_suffix_rule() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    REFRESH MATERIALIZED VIEW hst.suffix_rule;
    RETURN NULL;
END $$;
DO $$
DECLARE
    rules text;
BEGIN
    FOREACH rules IN ARRAY ARRAY['hst.instrument', 'hst.file_class_source', 'hst.file_class_fix'] LOOP
        EXECUTE format('CREATE OR REPLACE TRIGGER refresh_suffix_rule AFTER INSERT OR UPDATE OR DELETE '
                       'OR TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION hst.refresh_suffix_rule()',
                       rules);
    END LOOP;
END $$;

-- hst.classify: what the rules say of one file.
--   instrume    the INSTRUME keyword, or NULL to take it from the rootname's first letter
--   file_name   e.g. 'ib1n18kpq_flt.fits', 'lbgu17qnq_rawtag_a.fits.gz', a path is fine
-- An unknown instrument or suffix gives a row whose level is NULL and whose problem says why.
CREATE OR REPLACE FUNCTION hst.classify(instrume text, file_name text)
RETURNS TABLE (instrument text, rootname text, suffix text, classes text[], level integer,
               maps boolean, cte boolean, product_id text, product_type text, problem text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    base text := lower(regexp_replace(file_name, '^.*/', ''));
    stem text := regexp_replace(base, '\.(fits|fit|fits\.gz|jpg|jpeg|png|gif)$', '');
    is_preview boolean := base ~ '\.(jpg|jpeg|png|gif)$';
    inst text;
    rule hst.suffix_rule;
    companion_type text;
BEGIN
    rootname := split_part(stem, '_', 1);
    suffix := upper(substr(stem, length(rootname) + 2));
    inst := upper(coalesce(nullif(btrim(instrume), ''),
                           (SELECT i.instrument FROM hst.instrument i
                             WHERE i.letter = left(rootname, 1))));
    classify.instrument := inst;
    IF NOT EXISTS (SELECT 1 FROM hst.instrument i WHERE i.instrument = inst) THEN
        problem := format('unknown instrument %L for %s', coalesce(inst, '?'), base);
        RETURN NEXT; RETURN;
    END IF;
    SELECT * INTO rule FROM hst.suffix_rule r WHERE r.instrument = inst AND r.suffix = classify.suffix;
    IF NOT FOUND AND classify.suffix ~ '_[AB]$' THEN
        -- COS writes one file per detector segment: rawtag_a, corrtag_b, ... (FLT_A/B are listed)
        SELECT * INTO rule FROM hst.suffix_rule r
         WHERE r.instrument = inst AND r.suffix = left(classify.suffix, -2);
    END IF;
    IF rule.suffix IS NULL THEN
        SELECT a.product_type INTO companion_type FROM hst.suffix_alias a
         WHERE a.instrument = inst AND a.alias = classify.suffix;
        SELECT r.* INTO rule FROM hst.suffix_alias a
          JOIN hst.suffix_rule r ON r.instrument = a.instrument AND r.suffix = a.suffix
         WHERE a.instrument = inst AND a.alias = classify.suffix;
    END IF;
    IF rule.suffix IS NULL THEN
        problem := format('unknown %s suffix %L in %s', inst, lower(classify.suffix), base);
        RETURN NEXT; RETURN;
    END IF;
    classes := rule.classes;
    level := rule.level;
    maps := rule.maps AND NOT is_preview AND companion_type IS NULL;
    cte := rule.cte;
    IF rule.level IS NULL THEN
        problem := format('%s suffix %L is in no RAW, CAL or PROD class', inst, lower(classify.suffix));
    ELSE
        product_id := rootname || '_' || lower(rule.plane_suffix);
    END IF;
    product_type := CASE WHEN is_preview THEN 'preview' WHEN companion_type IS NOT NULL
                         THEN companion_type WHEN rule.maps THEN 'science' ELSE 'auxiliary' END;
    RETURN NEXT;
END $$;
