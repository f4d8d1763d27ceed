"""CAOM 2.4 as a tree of XML elements mapped onto the columns of the caom2 schema.

This is the one description of the XML document shape: the reader walks it to turn a document into
rows, the writer walks it to emit elements in the order the CAOM-2.4 XSD requires. Column names
are CADC's TAP names (lower-cased, as PostgreSQL folds them): the path of element names joined by
``_``, e.g. ``<targetPosition><coordinates><cval1>`` is ``targetposition_coordinates_cval1``.

Leaf kinds:
  str, int (32-bit), long, double, bool (stored 0/1 like CADC), date (UTC timestamp),
  keywords  <keywords><keyword>a</keyword>...   -> text 'a|b' (CAOM 2.2: one space-separated text)
  groups    <xReadGroups><groupURI>...           -> text, space-separated
  urilist   <members><observationURI>... / <inputs><planeURI>... -> text, space-separated
  bands     <energyBands><emBand>...             -> text 'Optical|UV' in canonical band order
  states    <states><state>...                   -> text '/I/Q/' (CADC's encoding)
  shape     Plane position bounds (Polygon/Circle) -> double[] + double[] samples
  interval  <bounds><lower/><upper/><samples>... -> _lower, _upper, _samples double[] pairs
  bounds1d  chunk <bounds><samples><range>...    -> double[] of (start.pix, start.val, end.pix, end.val)
  bounds2d  chunk <bounds><circle>|<polygon>     -> double[]: [c1, c2, r] or [x1, y1, x2, y2, ...]
"""

from __future__ import annotations

from dataclasses import dataclass, field

CAOM22 = "vos://cadc.nrc.ca!vospace/CADC/xml/CAOM/v2.2"
CAOM23 = "http://www.opencadc.org/caom2/xml/v2.3"
CAOM24 = "http://www.opencadc.org/caom2/xml/v2.4"
NAMESPACES = {CAOM22: "2.2", CAOM23: "2.3", CAOM24: "2.4"}
XSI = "http://www.w3.org/2001/XMLSchema-instance"

# CAOM's EnergyBand enum, in its defined (canonical) order
ENERGY_BANDS = ("Radio", "Millimeter", "Infrared", "Optical", "UV", "EUV", "X-ray", "Gamma-ray")
POLARIZATION_STATES = ("I", "Q", "U", "V", "RR", "LL", "RL", "LR", "XX", "YY", "XY", "YX",
                       "POLI", "FPOLI", "POLA", "EPOLI", "CPOLI", "NPOLI")


@dataclass(frozen=True)
class Leaf:
    """An element holding one value (or one encoded list) stored in one column."""

    tag: str
    kind: str = "str"
    required: bool = False
    item: str | None = None  # child element name of list kinds
    column: str | None = None  # when it differs from the joined path
    legacy: bool = False  # an older CAOM version's name for another leaf: read, never written


@dataclass(frozen=True)
class Group:
    """An element holding other elements (a CAOM value object)."""

    tag: str
    children: tuple = field(default_factory=tuple)
    required: bool = False


def G(tag: str, *children, required: bool = False) -> Group:
    return Group(tag, tuple(children), required)


def L(tag: str, kind: str = "str", required: bool = False, item: str | None = None,
      column: str | None = None, legacy: bool = False) -> Leaf:
    return Leaf(tag, kind, required, item, column, legacy)


def _axis(tag: str = "axis", required: bool = False) -> Group:
    return G(tag, L("ctype", required=True), L("cunit"), required=required)


def _error(tag: str = "error") -> Group:
    return G(tag, L("syser", "double", True), L("rnder", "double", True))


def _ref(tag: str) -> Group:
    return G(tag, L("pix", "double", True), L("val", "double", True), required=True)


def _coord_axis_1d() -> Group:
    return G("axis",
             _axis(required=True),
             _error(),
             G("range", _ref("start"), _ref("end")),
             L("bounds", "bounds1d"),
             G("function", L("naxis", "long", True), L("delta", "double", True), _ref("refCoord")),
             required=True)


def _coord2d(tag: str) -> Group:
    return G(tag, _ref("coord1"), _ref("coord2"), required=True)


def _interval(tag: str) -> Leaf:
    return L(tag, "interval")


OBSERVATION = (
    L("collection", required=True),
    L("observationID", required=True),
    L("metaRelease", "date"),
    L("metaReadGroups", "groups", item="groupURI"),
    L("sequenceNumber", "int"),
    G("algorithm", L("name", required=True), required=True),
    L("type"),
    L("intent"),
    G("proposal", L("id", required=True), L("pi"), L("project"), L("title"),
      L("keywords", "keywords", item="keyword")),
    G("target", L("name", required=True), L("targetID"), L("type"), L("standard", "bool"),
      L("redshift", "double"), L("moving", "bool"), L("keywords", "keywords", item="keyword")),
    G("targetPosition", L("coordsys", required=True), L("equinox", "double"),
      G("coordinates", L("cval1", "double", True), L("cval2", "double", True), required=True)),
    G("requirements", L("flag", required=True)),
    G("telescope", L("name", required=True), L("geoLocationX", "double"),
      L("geoLocationY", "double"), L("geoLocationZ", "double"),
      L("keywords", "keywords", item="keyword")),
    G("instrument", L("name", required=True), L("keywords", "keywords", item="keyword")),
    G("environment", L("seeing", "double"), L("humidity", "double"), L("elevation", "double"),
      L("tau", "double"), L("wavelengthTau", "double"), L("ambientTemp", "double"),
      L("photometric", "bool")),
)
# DerivedObservation (CompositeObservation before 2.4) adds its members after the planes.
MEMBERS = L("members", "urilist", item="observationURI")

PLANE = (
    L("productID", required=True),
    L("creatorID"),
    L("metaRelease", "date"),
    L("metaReadGroups", "groups", item="groupURI"),
    L("dataRelease", "date"),
    L("dataReadGroups", "groups", item="groupURI"),
    L("dataProductType"),
    L("calibrationLevel", "int"),
    G("provenance", L("name", required=True), L("version"), L("project"), L("producer"),
      L("runID"), L("reference"), L("lastExecuted", "date"),
      L("keywords", "keywords", item="keyword"), L("inputs", "urilist", item="planeURI")),
    G("observable", L("ucd", required=True)),
    G("metrics", L("sourceNumberDensity", "double"), L("background", "double"),
      L("backgroundStddev", "double"), L("fluxDensityLimit", "double"), L("magLimit", "double"),
      L("sampleSNR", "double")),
    G("quality", L("flag", required=True)),
    G("position", L("bounds", "shape"),
      G("dimension", L("naxis1", "long", True), L("naxis2", "long", True)),
      L("resolution", "double"), _interval("resolutionBounds"), L("sampleSize", "double"),
      L("timeDependent", "bool")),
    G("energy", _interval("bounds"), L("dimension", "long"), L("resolvingPower", "double"),
      _interval("resolvingPowerBounds"), L("sampleSize", "double"), L("bandpassName"),
      L("energyBands", "bands", item="emBand"),
      # CAOM 2.3 and earlier: one <emBand> directly under <energy>; read only
      L("emBand", "bands", column="energy_energybands", legacy=True),
      L("restwav", "double"),
      G("transition", L("species", required=True), L("transition", required=True))),
    G("time", _interval("bounds"), L("dimension", "long"), L("resolution", "double"),
      _interval("resolutionBounds"), L("sampleSize", "double"), L("exposure", "double")),
    G("polarization", L("states", "states", item="state"), L("dimension", "long")),
    G("custom", L("ctype", required=True), _interval("bounds"), L("dimension", "long")),
)

ARTIFACT = (
    L("uri", required=True),
    L("productType", required=True),
    L("releaseType", required=True),
    L("contentRelease", "date"),
    L("contentReadGroups", "groups", item="groupURI"),
    L("contentType"),
    L("contentLength", "long"),
    L("contentChecksum"),
)

PART = (
    L("name", required=True),
    L("productType"),
)

CHUNK = (
    L("productType"),
    L("naxis", "int"),
    L("observableAxis", "int"),
    L("positionAxis1", "int"),
    L("positionAxis2", "int"),
    L("energyAxis", "int"),
    L("timeAxis", "int"),
    L("polarizationAxis", "int"),
    L("customAxis", "int"),
    G("observable",
      G("dependent", _axis(required=True), L("bin", "long", True), required=True),
      G("independent", _axis(required=True), L("bin", "long", True))),
    G("position",
      G("axis", _axis("axis1", True), _axis("axis2", True), _error("error1"), _error("error2"),
        G("range", _coord2d("start"), _coord2d("end")),
        L("bounds", "bounds2d"),
        G("function", G("dimension", L("naxis1", "long", True), L("naxis2", "long", True),
                        required=True),
          _coord2d("refCoord"), L("cd11", "double", True), L("cd12", "double", True),
          L("cd21", "double", True), L("cd22", "double", True)),
        required=True),
      L("coordsys"), L("equinox", "double"), L("resolution", "double")),
    G("energy", _coord_axis_1d(), L("specsys", required=True), L("ssysobs"), L("ssyssrc"),
      L("restfrq", "double"), L("restwav", "double"), L("velosys", "double"),
      L("zsource", "double"), L("velang", "double"), L("bandpassName"),
      L("resolvingPower", "double"),
      G("transition", L("species", required=True), L("transition", required=True))),
    G("time", _coord_axis_1d(), L("timesys"), L("trefpos"), L("mjdref", "double"),
      L("exposure", "double"), L("resolution", "double")),
    G("polarization", _coord_axis_1d()),
    G("custom", _coord_axis_1d()),
)

ENTITIES = {"observation": OBSERVATION, "plane": PLANE, "artifact": ARTIFACT, "part": PART,
            "chunk": CHUNK}
# an entity's child entities: (container element = document key, child element = entity)
CHILDREN = {"observation": ("planes", "plane"), "plane": ("artifacts", "artifact"),
            "artifact": ("parts", "part"), "part": ("chunks", "chunk")}
# the id column of each entity, and the caom2:* attributes every entity carries
ENTITY_IDS = {"observation": "obsid", "plane": "planeid", "artifact": "artifactid",
              "part": "partid", "chunk": "chunkid"}
ENTITY_ATTRIBUTES = {"lastModified": "lastmodified", "maxLastModified": "maxlastmodified",
                     "metaChecksum": "metachecksum", "accMetaChecksum": "accmetachecksum",
                     "metaProducer": "metaproducer"}


def column_of(path: tuple[str, ...], leaf: Leaf) -> str:
    """The caom2 column a leaf is stored in."""
    return leaf.column or "_".join(path + (leaf.tag,)).lower()


def leaf_columns(spec: tuple, path: tuple[str, ...] = ()) -> list[str]:
    """Every column a spec writes to, in document order (interval leaves give three)."""
    columns: list[str] = []
    for node in spec:
        if isinstance(node, Group):
            columns += leaf_columns(node.children, path + (node.tag,))
        elif node.kind == "interval":
            base = column_of(path, node)
            columns += [f"{base}_lower", f"{base}_upper", f"{base}_samples"]
        elif node.kind == "shape":
            base = column_of(path, node)
            columns += [base, f"{base}_samples"]
        elif column_of(path, node) not in columns:
            columns.append(column_of(path, node))
    return columns
