"""VOSpace 2.1 documents: nodes and transfers, read from clients and written for them.

Written documents follow the VOSpace 2.1 schema's order: a node's properties, capabilities, then
(data and container nodes) accepts and provides, then a container's children or a link's target.
Documents from clients are parsed without entities or network access (lxml, resolve_entities
off), and whatever is wrong with one is an InvalidArgument fault, never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

from .faults import Fault

VOS = "http://www.ivoa.net/xml/VOSpace/v2.0"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
CORE = "ivo://ivoa.net/vospace/core#"
TYPES = {"container": "vos:ContainerNode", "data": "vos:DataNode", "link": "vos:LinkNode"}
KINDS = {"ContainerNode": "container", "DataNode": "data", "UnstructuredDataNode": "data",
         "StructuredDataNode": "data", "LinkNode": "link"}
# properties the service keeps: shown read-only
READ_ONLY = {CORE + name for name in ("length", "date", "ctime", "creator", "MD5", "quota")}
VIEW_DEFAULT = "ivo://ivoa.net/vospace/core#defaultview"
MAX_DOCUMENT_BYTES = 1_000_000

PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                         remove_comments=True)


def _property(uri: str, value: str) -> str:
    read_only = "true" if uri in READ_ONLY else "false"
    return (f'<vos:property uri={quoteattr(uri)} readOnly="{read_only}">'
            f"{escape(value)}</vos:property>")


def _node_body(node: dict, detail: str) -> str:
    """The elements of a node (not its children), in the schema's order: properties; then a
    link's target, or a data or container node's accepts, provides and capabilities."""
    if detail == "min":
        parts = ["<vos:properties/>"]
    else:
        parts = ["<vos:properties>" + "".join(
            _property(uri, value) for uri, value in sorted(node["properties"].items()))
            + "</vos:properties>"]
    if node["kind"] == "link":
        parts.append(f"<vos:target>{escape(node['target'] or '')}</vos:target>")
    elif detail == "max":
        parts.append(f'<vos:accepts><vos:view uri="{VIEW_DEFAULT}"/></vos:accepts>'
                     f'<vos:provides><vos:view uri="{VIEW_DEFAULT}"/></vos:provides>'
                     "<vos:capabilities/>")
    else:
        parts.append("<vos:accepts/><vos:provides/><vos:capabilities/>")
    return "".join(parts)


def _open(node: dict, namespaces: bool) -> str:
    declared = f' xmlns:vos="{VOS}" xmlns:xsi="{XSI}"' if namespaces else ""
    return (f"<vos:node{declared} uri={quoteattr(node['uri'])} "
            f'xsi:type="{TYPES[node["kind"]]}">')


def node_document(node: dict, children: Iterable[dict] | None, detail: str = "max") -> Iterable[str]:
    """A node's document, in pieces (a container of 100,000 children streams)."""
    yield '<?xml version="1.0" encoding="UTF-8"?>\n'
    yield _open(node, True) + _node_body(node, detail)
    if node["kind"] == "container":
        yield "<vos:nodes>"
        for child in children or ():
            yield _open(child, False) + _node_body(child, detail) + "</vos:node>"
        yield "</vos:nodes>"
    yield "</vos:node>\n"


def _parse(body: bytes, what: str) -> etree._Element:
    if not body.strip():
        raise Fault(400, f"InvalidArgument: the request has no {what} document")
    if len(body) > MAX_DOCUMENT_BYTES:
        raise Fault(413, f"InvalidArgument: the {what} document is larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        root = etree.fromstring(body, PARSER)
    except etree.XMLSyntaxError as exc:
        raise Fault(400, f"InvalidArgument: the {what} document is not XML: {exc.msg}") from None
    if root.getroottree().docinfo.doctype:
        # no VOSpace document has one; entities are how XML attacks a parser
        raise Fault(400, f"InvalidArgument: the {what} document declares a DOCTYPE")
    return root


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


@dataclass
class NodeRequest:
    """What a client's node document asks for."""

    uri: str | None
    kind: str
    target: str | None
    properties: dict[str, str | None] = field(default_factory=dict)


def read_node(body: bytes) -> NodeRequest:
    """The node a client's document describes (PUT: createNode; POST: setNode)."""
    root = _parse(body, "node")
    if _local(root.tag) != "node":
        raise Fault(400, f"InvalidArgument: a node document begins with <node>, not <{_local(root.tag)}>")
    declared = root.get(f"{{{XSI}}}type")
    if not declared:
        raise Fault(400, "InvalidArgument: a node document says its type (xsi:type)")
    kind = KINDS.get(declared.rpartition(":")[2])
    if kind is None:
        raise Fault(400, f"TypeNotSupported: {declared}")
    properties: dict[str, str | None] = {}
    target = None
    for element in root.iter():
        name = _local(element.tag)
        if name == "property":
            uri = element.get("uri")
            if not uri:
                raise Fault(400, "InvalidArgument: a property without a uri")
            nil = element.get(f"{{{XSI}}}nil") == "true"
            properties[uri] = None if nil else (element.text or "")
        elif name == "target" and element.getparent() is root:
            target = (element.text or "").strip()
    return NodeRequest(root.get("uri"), kind, target, properties)


@dataclass
class TransferRequest:
    """What a client's transfer document asks for."""

    target: str
    direction: str
    keep_bytes: bool | None
    protocols: list[str]
    length: int | None


def read_transfer(body: bytes) -> TransferRequest:
    """The transfer a client's document asks for (VOSpace 2.1 section 3.5)."""
    root = _parse(body, "transfer")
    if _local(root.tag) != "transfer":
        raise Fault(400, "InvalidArgument: a transfer document begins with <transfer>")

    def text(name: str) -> str | None:
        found = [e for e in root if _local(e.tag) == name]
        return (found[0].text or "").strip() if found else None

    target, direction = text("target"), text("direction")
    if not target or not direction:
        raise Fault(400, "InvalidArgument: a transfer names a target and a direction")
    keep = text("keepBytes")
    protocols = [e.get("uri", "") for e in root if _local(e.tag) == "protocol"]
    length = None
    for param in (e for e in root if _local(e.tag) == "param"):
        if param.get("uri") == CORE + "length" and (param.text or "").strip().isdigit():
            length = int(param.text.strip())
    return TransferRequest(target, direction, None if keep is None else keep.lower() == "true",
                           protocols, length)


def transfer_document(target: str, direction: str, endpoints: list[tuple[str, str]],
                      keep_bytes: bool | None = None) -> str:
    """A transfer document; `endpoints` are (protocol URI, URL) for the negotiated ones."""
    keep = "" if keep_bytes is None else f"<vos:keepBytes>{str(keep_bytes).lower()}</vos:keepBytes>"
    protocols = "".join(f'<vos:protocol uri={quoteattr(uri)}><vos:endpoint>{escape(url)}'
                        f"</vos:endpoint></vos:protocol>" for uri, url in endpoints)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<vos:transfer xmlns:vos="{VOS}" version="2.1">'
            f"<vos:target>{escape(target)}</vos:target><vos:direction>{escape(direction)}</vos:direction>"
            f"{protocols}{keep}</vos:transfer>\n")
