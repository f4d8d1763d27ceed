"""Observation document (from caom2.observation_document) -> CAOM 2.4 XML.

Elements are written in the order of model.py, which is the order of the CAOM-2.4 XSD sequences.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lxml import etree

from .model import (CAOM24, CHILDREN, ENTITIES, ENTITY_ATTRIBUTES, ENTITY_IDS, MEMBERS, XSI,
                    Group, Leaf, column_of)

NSMAP = {"caom2": CAOM24, "xsi": XSI}


def _q(tag: str) -> str:
    return f"{{{CAOM24}}}{tag}"


def write_document(document: dict[str, Any]) -> bytes:
    """Serialise an observation document as a CAOM 2.4 XML document (UTF-8 bytes)."""
    observation = document["observation"]
    root = etree.Element(_q("Observation"), nsmap=NSMAP)
    derived = observation.get("typecode") == "C"
    root.set(f"{{{XSI}}}type", "caom2:DerivedObservation" if derived else "caom2:SimpleObservation")
    _write_entity(root, "observation", {**observation, "planes": document["planes"]})
    if derived:  # DerivedObservation's members come after the planes
        _write_nodes(root, (MEMBERS,), (), observation)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _write_entity(element: etree._Element, entity: str, row: dict[str, Any]) -> None:
    """An entity's attributes and elements, then its child entities, recursively."""
    element.set(_q("id"), row[ENTITY_IDS[entity]])
    for attribute, column in ENTITY_ATTRIBUTES.items():
        if row.get(column) is not None:
            value = row[column]
            element.set(_q(attribute), _date(value) if "odified" in attribute else value)
    _write_nodes(element, ENTITIES[entity], (), row)
    container, child = CHILDREN.get(entity, (None, None))
    if container and row.get(container):
        holder = etree.SubElement(element, _q(container))
        for child_row in row[container]:
            _write_entity(etree.SubElement(holder, _q(child)), child, child_row)


# what makes a group of elements worth writing, per (spec, path): the columns of the leaves
# below it and the paths of the groups below it that a document may mark as present but empty.
# (Worked out once: walking the spec again for every group of every entity was most of the time
# of writing a document.) Keyed by the spec's id, and holding the spec, so that the id cannot
# be taken by another tuple while its entry lasts.
_PROBES: dict[tuple[int, tuple], tuple[tuple, tuple[str, ...], tuple[str, ...]]] = {}


def _probes(spec: tuple, path: tuple) -> tuple[tuple[str, ...], tuple[str, ...]]:
    found = _PROBES.get((id(spec), path))
    if found is None or found[0] is not spec:
        columns: list[str] = []
        empties: list[str] = []
        for node in spec:
            if isinstance(node, Group):
                below = path + (node.tag,)
                more_columns, more_empties = _probes(node.children, below)
                columns += more_columns
                empties += ("/".join(below),) + more_empties
            elif node.kind == "interval":
                columns.append(column_of(path, node) + "_lower")
            else:
                columns.append(column_of(path, node))
        found = _PROBES[(id(spec), path)] = (spec, tuple(columns), tuple(empties))
    return found[1], found[2]


def _present(spec: tuple, path: tuple, row: dict[str, Any]) -> bool:
    """Does any leaf below this spec have a value in the row (or a group below it say it is
    there, empty)?"""
    columns, empties = _probes(spec, path)
    for column in columns:
        if row.get(column) is not None:
            return True
    marked = row.get("empty_elements")
    return bool(marked) and any(empty in marked for empty in empties)


def _write_nodes(parent: etree._Element, spec: tuple, path: tuple, row: dict[str, Any]) -> None:
    for node in spec:
        if isinstance(node, Group):
            if _present(node.children, path + (node.tag,), row) or (
                    "/".join(path + (node.tag,)) in (row.get("empty_elements") or ())):
                element = etree.SubElement(parent, _q(node.tag))
                _write_nodes(element, node.children, path + (node.tag,), row)
        elif not node.legacy:
            _write_leaf(parent, node, path, row)


def _write_leaf(parent: etree._Element, leaf: Leaf, path: tuple, row: dict[str, Any]) -> None:
    column = column_of(path, leaf)
    if leaf.kind == "interval":
        _interval(parent, leaf.tag, row.get(f"{column}_lower"), row.get(f"{column}_upper"),
                  row.get(f"{column}_samples"))
        return
    value = row.get(column)
    if value is None:
        return
    if leaf.kind == "shape":
        _shape(parent, value, row.get(f"{column}_samples"))
    elif leaf.kind == "bounds1d":
        bounds = etree.SubElement(parent, _q("bounds"))
        samples = etree.SubElement(bounds, _q("samples"))
        for i in range(0, len(value), 4):
            sample = etree.SubElement(samples, _q("range"))
            _values(etree.SubElement(sample, _q("start")), ("pix", "val"), value[i:i + 2])
            _values(etree.SubElement(sample, _q("end")), ("pix", "val"), value[i + 2:i + 4])
    elif leaf.kind == "bounds2d":
        bounds = etree.SubElement(parent, _q("bounds"))
        if len(value) == 3:
            circle = etree.SubElement(bounds, _q("circle"))
            _values(etree.SubElement(circle, _q("center")), ("coord1", "coord2"), value[:2])
            _values(circle, ("radius",), value[2:])
        else:
            vertices = etree.SubElement(etree.SubElement(bounds, _q("polygon")), _q("vertices"))
            for i in range(0, len(value), 2):
                _values(etree.SubElement(vertices, _q("vertex")), ("coord1", "coord2"),
                        value[i:i + 2])
    elif leaf.item is not None:
        separator = {"keywords": "|", "bands": "|", "states": "/"}.get(leaf.kind, " ")
        items = [item for item in value.split(separator) if item]
        if items:
            element = etree.SubElement(parent, _q(leaf.tag))
            for item in items:
                etree.SubElement(element, _q(leaf.item)).text = item
    else:
        etree.SubElement(parent, _q(leaf.tag)).text = _text(leaf.kind, value)


def _text(kind: str, value: Any) -> str:
    if kind == "double":
        return repr(float(value))
    if kind == "bool":
        return "true" if value else "false"
    if kind == "date":
        return _date(value)
    return str(value)


def _date(value: str) -> str:
    """IVOA timestamp with milliseconds, as CAOM writes them."""
    return datetime.fromisoformat(value).isoformat(timespec="milliseconds")


def _values(parent: etree._Element, tags: tuple[str, ...], values: list) -> None:
    for tag, value in zip(tags, values):
        etree.SubElement(parent, _q(tag)).text = repr(float(value))


def _interval(parent, tag: str, lower, upper, samples) -> None:
    if lower is None or upper is None:
        return
    bounds = etree.SubElement(parent, _q(tag))
    _values(bounds, ("lower", "upper"), [lower, upper])
    if samples:
        holder = etree.SubElement(bounds, _q("samples"))
        for i in range(0, len(samples), 2):
            _values(etree.SubElement(holder, _q("sample")), ("lower", "upper"), samples[i:i + 2])


def _shape(parent, value: list, samples: list | None) -> None:
    bounds = etree.SubElement(parent, _q("bounds"))
    if len(value) == 3:
        bounds.set(f"{{{XSI}}}type", "caom2:Circle")
        _values(etree.SubElement(bounds, _q("center")), ("cval1", "cval2"), value[:2])
        _values(bounds, ("radius",), value[2:])
        return
    bounds.set(f"{{{XSI}}}type", "caom2:Polygon")
    points = etree.SubElement(bounds, _q("points"))
    for i in range(0, len(value), 2):
        _values(etree.SubElement(points, _q("point")), ("cval1", "cval2"), value[i:i + 2])
    vertices = etree.SubElement(etree.SubElement(bounds, _q("samples")), _q("vertices"))
    for i in range(0, len(samples or []), 3):
        vertex = etree.SubElement(vertices, _q("vertex"))
        _values(vertex, ("cval1", "cval2"), samples[i:i + 2])
        etree.SubElement(vertex, _q("type")).text = str(int(samples[i + 2]))
