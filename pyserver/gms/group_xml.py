"""CADC's group documents: <group uri="ivo://AUTHORITY/gms?NAME"> with its owner, description,
lastModified, groupMembers, userMembers, groupAdmins and userAdmins (the format of CADC's
access-control service, read and written by cadcutils.net.group_xml).

A user is written with an internal ID (ivo://AUTHORITY/user?NAME) and its identities: HTTP
(the user name) and, when the user has one, X500 (the distinguished name). A user in a
document sent to the service is found by its HTTP or X500 identity, or by the internal ID
this service wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

# cadcutils (through 1.6.2, cadcutils/net/group_xml/group_reader.py) refuses a group whose URI
# is not under this authority, and names every group it creates with it (net/group.py)
CADC_CLIENT_AUTHORITY = "ivo://cadc.nrc.ca/gms"


class DocumentError(ValueError):
    """A group document the service cannot read: the request is a 400."""


@dataclass
class GroupDocument:
    """What a document sent to the service asks for."""

    name: str
    description: str | None = None
    # {"kind": "user"|"group", "type": "HTTP"|"X500", "name": ..., "admin": bool}
    members: list[dict] = field(default_factory=list)


def group_authority(publisher_authority: str, user_agent: str) -> str:
    """The base of the group URIs a document is written with: the archive's own
    (ivo://<authority>/gms), except to CADC's client, which reads no other than CADC's."""
    if "cadcutils/" in user_agent:
        return CADC_CLIENT_AUTHORITY
    return f"{publisher_authority}/gms"


def write_group(group: dict, publisher_authority: str, groups_base: str) -> bytes:
    """The document of a group, as auth.gms_group returns it."""
    root = _group_element(group["name"], groups_base)
    if group.get("owner"):
        etree.SubElement(root, "owner").append(_user_element(group["owner"], publisher_authority))
    if group.get("description") is not None:
        etree.SubElement(root, "description").text = group["description"]
    etree.SubElement(root, "lastModified").text = group["modified"]
    for tag, kind in (("groupMembers", "group_members"), ("userMembers", "user_members"),
                      ("groupAdmins", "group_admins"), ("userAdmins", "user_admins")):
        if not group[kind]:
            continue
        holder = etree.SubElement(root, tag)
        for entry in group[kind]:
            holder.append(_group_element(entry, groups_base) if kind.startswith("group")
                          else _user_element(entry, publisher_authority))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def write_groups(names: list[str], groups_base: str) -> bytes:
    """<groups> of <group uri=...> elements: CADC's answer to a search by role."""
    root = etree.Element("groups")
    for name in names:
        root.append(_group_element(name, groups_base))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _group_element(name: str, groups_base: str) -> etree._Element:
    element = etree.Element("group")
    element.set("uri", f"{groups_base}?{name}")
    return element


def _user_element(user: dict, publisher_authority: str) -> etree._Element:
    element = etree.Element("user")
    etree.SubElement(etree.SubElement(element, "internalID"), "uri").text = \
        f"{publisher_authority}/user?{user['name']}"
    identities = etree.SubElement(element, "identities")
    for kind, value in (("HTTP", user["name"]), ("X500", user.get("dn"))):
        if value:
            identity = etree.SubElement(identities, "identity", type=kind)
            identity.text = value
    return element


def read_group(body: bytes, publisher_authority: str) -> GroupDocument:
    """The group a document describes; DocumentError when it is not one."""
    try:
        root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True,
                                                      remove_comments=True))
    except etree.XMLSyntaxError as exc:
        raise DocumentError(f"the group document is not well-formed XML: {exc.msg}") from None
    if root.tag != "group":
        raise DocumentError(f"the document is a <{root.tag}>, not a <group>")
    document = GroupDocument(_group_name(root, publisher_authority),
                             _text(root, "description"))
    for tag, admin in (("groupMembers", False), ("groupAdmins", True)):
        for element in root.findall(f"{tag}/group"):
            document.members.append({"kind": "group", "name": _group_name(element, publisher_authority),
                                     "admin": admin})
    for tag, admin in (("userMembers", False), ("userAdmins", True)):
        for element in root.findall(f"{tag}/user"):
            document.members.append({"kind": "user", **_user_identity(element, publisher_authority),
                                     "admin": admin})
    return document


def group_name_of(uri: str, publisher_authority: str) -> str:
    """The name a group URI gives (the archive's own, or CADC's client's); DocumentError for
    a group of another authority."""
    base, _, name = uri.partition("?")
    if not name or base not in (f"{publisher_authority}/gms", CADC_CLIENT_AUTHORITY):
        raise DocumentError(f"{uri!r} is not a group of this archive "
                            f"({publisher_authority}/gms?NAME)")
    return name


def _group_name(element: etree._Element, publisher_authority: str) -> str:
    uri = element.get("uri")
    if not uri:
        raise DocumentError("a <group> has no uri attribute")
    return group_name_of(uri, publisher_authority)


def _user_identity(element: etree._Element, publisher_authority: str) -> dict:
    """{"type": ..., "name": ...} of a <user>: its HTTP identity, its X500 one, or the
    internal ID this service wrote."""
    found = {identity.get("type"): (identity.text or "").strip()
             for identity in element.findall("identities/identity")}
    for kind in ("HTTP", "X500"):
        if found.get(kind):
            return {"type": kind, "name": found[kind]}
    internal = (element.findtext("internalID/uri") or "").strip()
    base, _, name = internal.partition("?")
    if base == f"{publisher_authority}/user" and name:
        return {"type": "HTTP", "name": name}
    raise DocumentError("a <user> has neither an HTTP nor an X500 identity nor an internal ID "
                        "of this archive")


def _text(root: etree._Element, tag: str) -> str | None:
    element = root.find(tag)
    return element.text if element is not None else None
