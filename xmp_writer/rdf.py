"""Low-level access to an XMP document as an lxml tree.

XMP is RDF/XML, which allows one property to be spelled several ways: as an
attribute of rdf:Description or as a child element, spread over several
rdf:Description blocks, structs as rdf:parseType="Resource", as a nested
rdf:Description or as attributes of the property element.  Everything here
reads all of those forms, and changes only the nodes it is asked to change so
that whatever we do not own keeps its exact spelling.
"""

from __future__ import annotations

import re

from lxml import etree

from .model import XmpError

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
X = "adobe:ns:meta/"
XML_NS = "http://www.w3.org/XML/1998/namespace"

DESCRIPTION = f"{{{RDF}}}Description"
LI = f"{{{RDF}}}li"
PARSE_TYPE = f"{{{RDF}}}parseType"
ARRAY_TAGS = {f"{{{RDF}}}Bag", f"{{{RDF}}}Seq", f"{{{RDF}}}Alt"}
# Attributes of rdf:Description that are syntax, not properties.
_SYNTAX_ATTRS = {f"{{{RDF}}}about", f"{{{RDF}}}ID", f"{{{RDF}}}nodeID", f"{{{XML_NS}}}lang"}

# Characters XML 1.0 cannot carry; stripped from any text we write.
_XML_INVALID = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

EMPTY_SIDECAR = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="photorank xmp_writer">\n'
    b' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
    b" </rdf:RDF>\n"
    b"</x:xmpmeta>\n"
)


def clean_text(text: str) -> str:
    return _XML_INVALID.sub("", text)


class Document:
    """A parsed sidecar: the tree plus what is needed to write it back."""

    def __init__(self, data: bytes):
        self.had_declaration = data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<?xml")
        parser = etree.XMLParser(
            resolve_entities=False, no_network=True, huge_tree=True, remove_blank_text=False
        )
        try:
            self.tree = etree.ElementTree(etree.fromstring(data, parser))
        except (etree.XMLSyntaxError, ValueError) as exc:
            raise XmpError(f"not well-formed XML: {exc}") from None
        self.rdf = self._find_rdf()

    def _find_rdf(self) -> etree._Element:
        root = self.tree.getroot()
        if root.tag == f"{{{RDF}}}RDF":
            return root
        # usually the first child of x:xmpmeta: then it is also the first in
        # document order, found without walking a huge tree
        first = next((c for c in root if isinstance(c.tag, str)), None)
        if first is not None and first.tag == f"{{{RDF}}}RDF":
            return first
        found = root.find(f".//{{{RDF}}}RDF")
        if found is None:
            raise XmpError("not XMP: no rdf:RDF element")
        return found

    def descriptions(self) -> list[etree._Element]:
        return [d for d in self.rdf if d.tag == DESCRIPTION]

    def first_description(self) -> etree._Element:
        descs = self.descriptions()
        if descs:
            return descs[0]
        desc = etree.SubElement(self.rdf, DESCRIPTION, {f"{{{RDF}}}about": ""})
        place_last(self.rdf, desc)
        return desc

    def serialize(self) -> bytes:
        body = etree.tostring(self.tree, encoding="UTF-8", xml_declaration=False)
        head = b'<?xml version="1.0" encoding="UTF-8"?>\n' if self.had_declaration else b""
        return head + body + b"\n"

    # ---- properties directly on the resource -----------------------------

    def find_property(self, ns: str, name: str):
        """Return (description, element-or-None) holding ns:name, or None."""
        key = f"{{{ns}}}{name}"
        for desc in self.descriptions():
            if key in desc.attrib:
                return desc, None
            child = desc.find(key)
            if child is not None:
                return desc, child
        return None

    def get_simple(self, ns: str, name: str) -> str | None:
        found = self.find_property(ns, name)
        if found is None:
            return None
        desc, elem = found
        if elem is None:
            return desc.get(f"{{{ns}}}{name}")
        return simple_value(elem)

    def set_simple(self, ns: str, prefix: str, name: str, value: str) -> None:
        """Set a simple property, keeping the attribute/element form it has."""
        found = self.find_property(ns, name)
        if found is None:
            desc = self.first_description()
            elem = new_element(desc, ns, prefix, name)
            elem.text = value
            place_last(desc, elem)
            return
        desc, elem = found
        if elem is None:
            desc.set(f"{{{ns}}}{name}", value)
        else:
            elem.text = value

    def remove_property(self, ns: str, name: str) -> None:
        key = f"{{{ns}}}{name}"
        for desc in self.descriptions():
            if key in desc.attrib:
                del desc.attrib[key]
            for child in desc.findall(key):
                remove_keeping_layout(child)

    def properties_in(self, ns: str) -> list[tuple[etree._Element, etree._Element | None, str]]:
        """Every (description, element-or-None, local name) of namespace ns."""
        found = []
        for desc in self.descriptions():
            for key in desc.attrib:
                if etree.QName(key).namespace == ns:
                    found.append((desc, None, etree.QName(key).localname))
            for child in desc:
                if isinstance(child.tag, str) and etree.QName(child).namespace == ns:
                    found.append((desc, child, etree.QName(child).localname))
        return found

    def property_signature(self) -> list:
        """Every property and its value, independent of layout, attribute/element form and
        description: equal for two documents that say the same."""
        found = []
        for desc in self.descriptions():
            found += [(key, value) for key, value in desc.attrib.items() if key not in _SYNTAX_ATTRS]
            found += [(child.tag, _value_signature(child)) for child in desc if isinstance(child.tag, str)]
        return sorted(found, key=repr)

    def has_any_property(self) -> bool:
        for desc in self.descriptions():
            if any(k not in _SYNTAX_ATTRS and not k.startswith("{http://www.w3.org/2000/xmlns/}")
                   for k in desc.attrib):
                return True
            if any(isinstance(c.tag, str) for c in desc):
                return True
        return False


def _value_signature(elem: etree._Element):
    """A simple value's text; a structure's attributes and children, recursively."""
    children = tuple(_value_signature_of(child) for child in elem if isinstance(child.tag, str))
    attributes = tuple(sorted((k, v) for k, v in elem.attrib.items() if k != PARSE_TYPE))
    if not children and not attributes:
        return (elem.text or "").strip()
    return attributes, children


def _value_signature_of(elem: etree._Element):
    return elem.tag, _value_signature(elem)


# ---- values --------------------------------------------------------------


def simple_value(elem: etree._Element) -> str:
    """Text of a simple property element (also the rdf:value form)."""
    value = elem.find(f"{{{RDF}}}value")
    if value is not None:
        return value.text or ""
    if f"{{{RDF}}}resource" in elem.attrib:
        return elem.get(f"{{{RDF}}}resource")
    return elem.text or ""


def array_of(prop: etree._Element) -> etree._Element | None:
    for child in prop:
        if child.tag in ARRAY_TAGS:
            return child
    return None


def array_items(array: etree._Element) -> list[etree._Element]:
    return [c for c in array if c.tag == LI]


def struct_fields(node: etree._Element) -> etree._Element:
    """The element whose attributes/children are the fields of a struct value.

    Handles rdf:parseType="Resource", a nested rdf:Description and the
    shorthand form where the fields are attributes of the property element.
    """
    if node.get(PARSE_TYPE) == "Resource":
        return node
    inner = node.find(DESCRIPTION)
    return inner if inner is not None else node


def struct_field_value(fields: etree._Element, ns: str, name: str) -> str | None:
    key = f"{{{ns}}}{name}"
    if key in fields.attrib:
        return fields.get(key)
    child = fields.find(key)
    return None if child is None else simple_value(child)


def writable_struct(node: etree._Element) -> etree._Element:
    """Like struct_fields, but one we may append child elements to.

    A property element whose fields are attributes cannot also have child
    elements, so its attributes move onto a nested rdf:Description (same RDF).
    """
    fields = struct_fields(node)
    if fields is not node or node.get(PARSE_TYPE) == "Resource":
        return fields
    inner = etree.SubElement(node, DESCRIPTION)
    for key in list(node.attrib):
        if etree.QName(key).namespace not in (RDF, XML_NS):
            inner.set(key, node.attrib.pop(key))
    place_last(node, inner)
    return inner


# ---- building and layout -------------------------------------------------


def new_element(parent: etree._Element, ns: str, prefix: str, name: str, attrib=None) -> etree._Element:
    """A child element; declares the namespace locally only when not in scope."""
    nsmap = None if ns in parent.nsmap.values() else {prefix: ns}
    elem = etree.SubElement(parent, f"{{{ns}}}{name}", nsmap=nsmap)
    for key, value in (attrib or {}).items():
        elem.set(key, value)
    return elem


def _indent_before(elem: etree._Element) -> str | None:
    prev = elem.getprevious()
    text = prev.tail if prev is not None else elem.getparent().text
    if text is None or "\n" not in text or text.strip():
        return None
    return text


def place_last(parent: etree._Element, elem: etree._Element) -> None:
    """Give a just-appended last child the indentation its siblings have."""
    siblings = [c for c in parent if c is not elem]
    if siblings:
        last = siblings[-1]
        child_indent = _indent_before(siblings[0]) if len(siblings) == 1 else last.getprevious().tail
        if child_indent is None or "\n" not in child_indent or child_indent.strip():
            return
        elem.tail, last.tail = last.tail, child_indent
        return
    outer = _indent_before(parent) if parent.getparent() is not None else "\n"
    if outer is None:
        return
    parent.text = outer + " "
    elem.tail = outer


def place_before(anchor: etree._Element, elem: etree._Element) -> None:
    """Insert elem just before anchor, indented as anchor is (remove_keeping_layout undoes it)."""
    prev = anchor.getprevious()
    indent = prev.tail if prev is not None else anchor.getparent().text
    anchor.addprevious(elem)
    elem.tail = indent if indent is not None and not indent.strip() else None


def pretty(elem: etree._Element, indent: str) -> None:
    """Indent a subtree we built ourselves (indent = this element's own indent)."""
    children = list(elem)
    if not children:
        return
    inner = indent + " "
    elem.text = inner
    for child in children:
        pretty(child, inner)
        child.tail = inner
    children[-1].tail = indent


def own_indent(elem: etree._Element) -> str:
    text = _indent_before(elem)
    return text if text is not None else "\n"


def remove_keeping_layout(elem: etree._Element) -> None:
    """Remove elem together with the whitespace in front of it.

    The inverse of appending with place_last, so remove-then-append gives the
    same bytes.
    """
    parent = elem.getparent()
    prev = elem.getprevious()
    tail = elem.tail
    if prev is not None:
        if prev.tail is None or not prev.tail.strip():
            prev.tail = tail
    elif parent.text is None or not parent.text.strip():
        parent.text = tail if (tail and tail.strip()) or elem.getnext() is not None else None
    parent.remove(elem)
