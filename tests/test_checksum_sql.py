"""The checksum SQL is generated from the element spec; the committed file must be current."""

from hstvo.config import SQL_DIR
from loaders.caom2xml.checksum_sql import attribute_name, generate


def test_committed_checksum_sql_matches_generator():
    assert (SQL_DIR / "13_caom2_checksums.sql").read_text() == generate(), (
        "run: python -m loaders.caom2xml.checksum_sql > sql/13_caom2_checksums.sql")


def test_attribute_names_follow_the_model():
    assert attribute_name("", "observationID") == "observation_id"
    assert attribute_name("proposal", "pi") == "pi_name"
    assert attribute_name("metrics", "backgroundStddev") == "background_std_dev"
    assert attribute_name("", "positionAxis1") == "position_axis_1"
    assert attribute_name("function", "refCoord") == "ref_coord"
    assert attribute_name("telescope", "geoLocationX") == "geo_location_x"
