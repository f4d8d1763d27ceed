"""CAOM 2.2/2.3/2.4 XML -> observation document (the JSON shape caom2.put_observation takes).

The reader is strict: an element the model does not know, a required element that is missing, a
value of the wrong type or a repeated single element is a CaomXmlError naming the element and its
line, and nothing is returned (so nothing is written).
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import Any, BinaryIO

from lxml import etree

from .model import (CHILDREN, ENERGY_BANDS, ENTITIES, ENTITY_ATTRIBUTES, ENTITY_IDS, MEMBERS,
                    NAMESPACES, POLARIZATION_STATES, XSI, Group, Leaf, column_of)


# CAOM's DataProductType terms outside the ObsCore vocabulary are URIs in the CAOM vocabulary;
# CAOM 2.2 wrote them as bare terms.
CAOM_VOCABULARY_TERMS = {"catalog": "http://www.opencadc.org/caom2/DataProductType#catalog"}


class CaomXmlError(ValueError):
    """The document is not valid CAOM XML; the message names the element and line."""




def read_document(source: str | bytes | BinaryIO) -> dict[str, Any]:
    """Parse a CAOM XML document (path, bytes or binary file) into an observation document."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)
    try:
        if isinstance(source, bytes):
            root = etree.fromstring(source, parser)
        else:
            root = etree.parse(source, parser).getroot()
    except etree.XMLSyntaxError as exc:
        raise CaomXmlError(f"not well-formed XML: {exc}") from None
    # CAOM documents have no DTD; one could only define entities, which are not expanded here
    # and would silently vanish from the values (an entity bomb or an external file besides)
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise CaomXmlError("the document has a DTD (<!DOCTYPE ...>): CAOM XML has none; "
                           "remove it and write the values out")
    return _Reader(root).document()


class _Reader:
    def __init__(self, root: etree._Element) -> None:
        self.root = root
        qname = etree.QName(root)
        if qname.namespace not in NAMESPACES:
            raise CaomXmlError(f"root element <{root.tag}> is not in a CAOM 2.2/2.3/2.4 namespace")
        if qname.localname != "Observation":
            raise CaomXmlError(f"root element must be <caom2:Observation>, not "
                               f"<{qname.localname}> (line {root.sourceline})")
        self.ns = qname.namespace
        self.version = NAMESPACES[self.ns]
        # lxml writes a namespaced tag as '{namespace}name': the CAOM elements' names are read
        # off the tag itself (etree.QName, made for each of a document's thousands of elements,
        # was a third of the time of reading one)
        self.prefix = "{" + self.ns + "}"

    def _name(self, element: etree._Element) -> str:
        """The local name of an element of the document's CAOM namespace."""
        return element.tag[len(self.prefix):]

    # --- helpers ----------------------------------------------------------------------------
    def _fail(self, element: etree._Element, message: str) -> CaomXmlError:
        return CaomXmlError(f"<caom2:{etree.QName(element).localname}> (line "
                            f"{element.sourceline}): {message}")

    def _children(self, element: etree._Element) -> list[etree._Element]:
        out = []
        prefix = self.prefix
        for child in element:
            tag = child.tag
            if not isinstance(tag, str):
                continue  # comments and processing instructions
            if not tag.startswith(prefix):
                raise self._fail(child, f"element outside the CAOM {self.version} namespace")
            out.append(child)
        return out

    def _by_tag(self, element: etree._Element, allowed: set[str]) -> dict[str, etree._Element]:
        found: dict[str, etree._Element] = {}
        for child in self._children(element):
            tag = self._name(child)
            if tag not in allowed:
                raise self._fail(child, f"unknown element inside <caom2:"
                                        f"{etree.QName(element).localname}>")
            if tag in found:
                raise self._fail(child, "appears more than once")
            found[tag] = child
        return found

    def _attribute(self, element: etree._Element, name: str) -> str | None:
        return element.get(f"{{{self.ns}}}{name}")

    def _xsi_type(self, element: etree._Element) -> str | None:
        value = element.get(f"{{{XSI}}}type")
        return value.split(":")[-1] if value else None

    # --- entities ---------------------------------------------------------------------------
    def document(self) -> dict[str, Any]:
        kind = self._xsi_type(self.root)
        if kind not in ("SimpleObservation", "DerivedObservation", "CompositeObservation"):
            raise self._fail(self.root, f"xsi:type must be SimpleObservation or "
                                        f"DerivedObservation, not {kind!r}")
        extra = (MEMBERS,) if kind != "SimpleObservation" else ()
        observation = self._entity(self.root, "observation", extra)
        observation["typecode"] = "S" if kind == "SimpleObservation" else "C"
        planes = observation.pop("planes")
        for plane in planes:
            term = plane.get("dataproducttype")
            plane["dataproducttype"] = CAOM_VOCABULARY_TERMS.get(term, term)
        return {"observation": observation, "planes": planes}

    def _list(self, container: etree._Element | None, tag: str) -> list[etree._Element]:
        if container is None:
            return []
        items = self._children(container)
        for item in items:
            if self._name(item) != tag:
                raise self._fail(item, f"expected <caom2:{tag}> inside "
                                       f"<caom2:{etree.QName(container).localname}>")
        return items

    def _entity(self, element, entity: str, extra: tuple = ()) -> dict[str, Any]:
        """One entity's row, with its child entities (recursively) under their container key."""
        spec = ENTITIES[entity] + extra
        row: dict[str, Any] = {}
        ident = self._attribute(element, "id")
        if ident is None:
            raise self._fail(element, "missing attribute caom2:id")
        row[ENTITY_IDS[entity]] = self._uuid(element, ident)
        for attribute, column in ENTITY_ATTRIBUTES.items():
            value = self._attribute(element, attribute)
            if value is not None:
                row[column] = self._date(element, value) if "odified" in attribute else value
        container, child = CHILDREN.get(entity, (None, None))
        children = self._by_tag(element, {n.tag for n in spec} | ({container} - {None}))
        self._read_nodes(element, children, spec, (), row)
        if container:
            row[container] = [self._entity(e, child)
                              for e in self._list(children.get(container), child)]
        return row

    # --- value objects and leaves -----------------------------------------------------------
    def _read_nodes(self, parent, children: dict, spec: tuple, path: tuple, row: dict) -> None:
        for node in spec:
            element = children.get(node.tag)
            if element is None:
                if node.required:
                    raise self._fail(parent, f"missing required element <caom2:{node.tag}>")
                continue
            if isinstance(node, Group):
                grand = self._by_tag(element, {n.tag for n in node.children})
                if not grand:  # e.g. MAST's <polarization/> on every HST plane
                    row.setdefault("empty_elements", []).append("/".join(path + (node.tag,)))
                self._read_nodes(element, grand, node.children, path + (node.tag,), row)
            else:
                self._read_leaf(element, node, path, row)

    def _read_leaf(self, element, leaf: Leaf, path: tuple, row: dict) -> None:
        column = column_of(path, leaf)
        kind = leaf.kind
        if kind == "interval":
            self._interval(element, column, row)
        elif kind == "shape":
            self._shape(element, column, row)
        elif kind == "bounds1d":
            row[column] = self._bounds1d(element)
        elif kind == "bounds2d":
            row[column] = self._bounds2d(element)
        elif kind in ("keywords", "groups", "urilist", "bands", "states"):
            row[column] = self._list_value(element, leaf)
        else:
            if self._children(element):
                raise self._fail(element, "expected a value, found child elements")
            row[column] = self._scalar(element, kind, element.text or "")

    def _scalar(self, element, kind: str, text: str) -> Any:
        text = text.strip() if kind != "str" else text
        try:
            if kind == "str":
                return text
            if kind in ("int", "long"):
                return int(text)
            if kind == "double":
                value = float(text)
                if math.isnan(value) or math.isinf(value):
                    raise ValueError
                return value
            if kind == "bool":
                return {"true": 1, "false": 0, "1": 1, "0": 0}[text]
            if kind == "date":
                return self._date(element, text)
        except (ValueError, KeyError):
            raise self._fail(element, f"{text!r} is not a valid {kind}") from None
        raise AssertionError(kind)

    def _date(self, element, text: str) -> str:
        try:
            value = datetime.fromisoformat(text.strip().rstrip("Z"))
        except ValueError:
            raise self._fail(element, f"{text!r} is not an IVOA timestamp "
                                      f"(YYYY-MM-DDThh:mm:ss.sss)") from None
        return value.replace(tzinfo=None).isoformat(timespec="milliseconds")

    def _uuid(self, element, text: str) -> str:
        try:
            return str(uuid.UUID(text))
        except ValueError:
            raise self._fail(element, f"caom2:id {text!r} is not a UUID") from None

    def _list_value(self, element, leaf: Leaf) -> str | None:
        items = self._children(element)
        if items:
            for item in items:
                if self._name(item) != leaf.item:
                    raise self._fail(item, f"expected <caom2:{leaf.item}>")
            values = [(item.text or "").strip() for item in items]
        elif leaf.kind == "keywords":
            values = (element.text or "").split()  # CAOM 2.2: one space-separated text
        else:
            values = [(element.text or "").strip()] if (element.text or "").strip() else []
        values = [v for v in values if v]
        if leaf.kind == "bands":
            for value in values:
                if value not in ENERGY_BANDS:
                    raise self._fail(element, f"unknown energy band {value!r}")
            return "|".join(b for b in ENERGY_BANDS if b in values) or None
        if leaf.kind == "states":
            for value in values:
                if value not in POLARIZATION_STATES:
                    raise self._fail(element, f"unknown polarization state {value!r}")
            return "/" + "/".join(values) + "/" if values else None
        if leaf.kind == "keywords":
            for value in values:
                if "|" in value:
                    raise self._fail(element, f"keyword {value!r} contains '|'")
            return "|".join(sorted(set(values))) or None
        for value in values:
            if " " in value:
                raise self._fail(element, f"URI {value!r} contains a space")
        return " ".join(sorted(set(values))) or None

    def _doubles(self, element, tags: tuple[str, ...], allowed: set[str] | None = None
                 ) -> list[float]:
        """The values of the named child elements, as doubles (other children: `allowed`)."""
        found = self._by_tag(element, allowed or set(tags))
        out = []
        for tag in tags:
            if tag not in found:
                raise self._fail(element, f"missing required element <caom2:{tag}>")
            out.append(self._scalar(found[tag], "double", found[tag].text or ""))
        return out

    def _interval(self, element, column: str, row: dict) -> None:
        found = self._by_tag(element, {"lower", "upper", "samples"})
        lower, upper = self._doubles(element, ("lower", "upper"),
                                                            {"lower", "upper", "samples"}) if found else (None, None)
        if lower is not None and upper is not None and lower > upper:
            raise self._fail(element, f"lower {lower} is greater than upper {upper}")
        row[f"{column}_lower"], row[f"{column}_upper"] = lower, upper
        if "samples" in found:
            samples = []
            for sample in self._list(found["samples"], "sample"):
                samples += self._doubles(sample, ("lower", "upper"))
            row[f"{column}_samples"] = samples

    def _shape(self, element, column: str, row: dict) -> None:
        kind = self._xsi_type(element)
        if kind == "Circle":
            found = self._by_tag(element, {"center", "radius"})
            if "center" not in found:
                raise self._fail(element, "missing required element <caom2:center>")
            ra, dec = self._doubles(found["center"], ("cval1", "cval2"))
            radius = self._doubles(element, ("radius",), {"center", "radius"})[0]
            if radius <= 0:
                raise self._fail(element, "circle radius must be positive")
            row[column] = [ra, dec, radius]
            return
        if kind != "Polygon":
            raise self._fail(element, f"position bounds must be xsi:type caom2:Polygon or "
                                      f"caom2:Circle, not {kind!r}")
        found = self._by_tag(element, {"points", "samples"})
        if "points" not in found:
            raise self._fail(element, "missing required element <caom2:points>")
        points = []
        for point in self._list(found["points"], "point"):
            points += self._doubles(point, ("cval1", "cval2"))
        if len(points) < 6:
            raise self._fail(element, "a polygon needs at least 3 points")
        row[column] = points
        if "samples" in found:
            vertices = self._by_tag(found["samples"], {"vertices"})
            samples: list[float] = []
            for vertex in self._list(vertices.get("vertices"), "vertex"):
                samples += self._doubles(vertex, ("cval1", "cval2", "type"))
            row[f"{column}_samples"] = samples

    def _bounds1d(self, element) -> list[float]:
        found = self._by_tag(element, {"samples"})
        out: list[float] = []
        for sample in self._list(found.get("samples"), "range"):
            ends = self._by_tag(sample, {"start", "end"})
            for tag in ("start", "end"):
                if tag not in ends:
                    raise self._fail(sample, f"missing required element <caom2:{tag}>")
                out += self._doubles(ends[tag], ("pix", "val"))
        return out

    def _bounds2d(self, element) -> list[float]:
        found = self._by_tag(element, {"circle", "polygon"})
        if "circle" in found:
            circle = self._by_tag(found["circle"], {"center", "radius"})
            if "center" not in circle:
                raise self._fail(found["circle"], "missing required element <caom2:center>")
            return (self._doubles(circle["center"], ("coord1", "coord2"))
                    + self._doubles(found["circle"], ("radius",), {"center", "radius"}))
        if "polygon" in found:
            vertices = self._by_tag(found["polygon"], {"vertices"})
            out: list[float] = []
            for vertex in self._list(vertices.get("vertices"), "vertex"):
                out += self._doubles(vertex, ("coord1", "coord2"))
            if len(out) < 6:
                raise self._fail(found["polygon"], "a polygon needs at least 3 vertices")
            return out
        raise self._fail(element, "expected <caom2:circle> or <caom2:polygon>")
