"""Merge photorank data into an XMP document, and take it out again.

Ownership rules (why undo can restore the original exactly):
- Everything in the photorank namespace is ours and is rewritten whole on
  every run, in a fixed order, so the same input gives the same bytes.
- Keywords and face regions are ours only if we added them: the namespace
  records which items we added and which containers (dc:subject, ...) we
  created.  A keyword the user already had is never recorded, so never removed.
- Each host reads one keyword list first (darktable lr:hierarchicalSubject,
  digiKam its TagsList), so a keyword the user has in any list is copied into
  every list we write; the copies are recorded as added, so undo takes them
  out again and leaves the user's lists as they were.
- xmp:Rating is ours while it still equals the value we recorded writing; the
  value that was there before is recorded so undo can put it back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Collection

from lxml import etree

from . import rdf
from .model import KINDS, FaceRegion, PersonRating
from .rdf import RDF, Document

NS = "http://ns.photorank.org/xmp/1.0/"
PREFIX = "photorank"
XMP_NS = "http://ns.adobe.com/xap/1.0/"
DC_NS = "http://purl.org/dc/elements/1.1/"
LR_NS = "http://ns.adobe.com/lightroom/1.0/"
DIGIKAM_NS = "http://www.digikam.org/ns/1.0/"
MWGRS_NS = "http://www.metadataworkinggroup.com/schemas/regions/"
STDIM_NS = "http://ns.adobe.com/xap/1.0/sType/Dimensions#"
STAREA_NS = "http://ns.adobe.com/xmp/sType/Area#"

KNOWN_PREFIXES = {
    PREFIX: NS, "xmp": XMP_NS, "dc": DC_NS, "lr": LR_NS, "digiKam": DIGIKAM_NS,
    "mwg-rs": MWGRS_NS, "stDim": STDIM_NS, "stArea": STAREA_NS,
}

ROOT_KEYWORD = "photorank"
# digiKam files a face region named X under the person tag named X, taking the most recently
# created tag of that name: People/X listed after photorank/X/... makes the person a People tag.
PEOPLE_ROOT = "People"


@dataclass(frozen=True)
class KeywordList:
    """One of the three keyword properties host apps read."""

    key: str  # also the name recorded in CreatedContainers
    ns: str
    prefix: str
    name: str
    array: str  # "Bag" or "Seq" when we create it
    added_field: str  # photorank field listing the items we added
    separator: str | None  # None: one item per path component (dc:subject)


KEYWORD_LISTS = (
    KeywordList("dc:subject", DC_NS, "dc", "subject", "Bag", "AddedSubject", None),
    KeywordList("lr:hierarchicalSubject", LR_NS, "lr", "hierarchicalSubject", "Bag",
                "AddedHierarchicalSubject", "|"),
    KeywordList("digiKam:TagsList", DIGIKAM_NS, "digiKam", "TagsList", "Seq", "AddedTagsList", "/"),
)
HIERARCHICAL = KEYWORD_LISTS[1]  # lr:hierarchicalSubject: the list darktable reads its tags from
REGIONS_KEY = "mwg-rs:Regions"

PERSON_FIELDS = ("Person", "Rank", "Score", "Stars", "Kind", "Engine", "Version", "RunTime", "Region")


# ---- state kept in our namespace -----------------------------------------


@dataclass
class State:
    sidecar_created: bool = False
    rating_before: str | None = None  # "" = there was no rating
    rating_written: str | None = None
    created: set[str] = field(default_factory=set)
    added: dict[str, set[str]] = field(default_factory=dict)
    persons: dict[str, dict] = field(default_factory=dict)  # name -> fields (+ "Tags": list)

    def is_empty(self) -> bool:
        return not (self.persons or self.created or any(self.added.values()) or self.rating_written is not None)


def read_state(doc: Document) -> State:
    state = State()
    for desc, elem, name in doc.properties_in(NS):
        if elem is None:
            value = desc.get(f"{{{NS}}}{name}")
            items = None
        else:
            value = rdf.simple_value(elem)
            array = rdf.array_of(elem)
            items = None if array is None else rdf.array_items(array)
        if name == "SidecarCreated":
            state.sidecar_created = value == "True"
        elif name == "RatingBefore":
            state.rating_before = value
        elif name == "RatingWritten":
            state.rating_written = value
        elif name == "CreatedContainers" and items is not None:
            state.created = {rdf.simple_value(li) for li in items}
        elif name.startswith("Added") and items is not None:
            state.added[name] = {rdf.simple_value(li) for li in items}
        elif name == "Persons" and items is not None:
            for li in items:
                person = _read_person(li)
                if person.get("Person"):
                    state.persons[person["Person"]] = person
    return state


def _read_person(li: etree._Element) -> dict:
    fields = rdf.struct_fields(li)
    person: dict = {"Tags": [], "MemberRegions": []}
    for key, value in fields.attrib.items():
        qname = etree.QName(key)
        if qname.namespace == NS:
            person[qname.localname] = value
    for child in fields:
        if not isinstance(child.tag, str) or etree.QName(child).namespace != NS:
            continue
        local = etree.QName(child).localname
        array = rdf.array_of(child)
        if array is not None:
            person[local] = [rdf.simple_value(i) for i in rdf.array_items(array)]
        else:
            person[local] = rdf.simple_value(child)
    return person


def remove_state(doc: Document) -> None:
    for desc, elem, name in doc.properties_in(NS):
        if elem is None:
            desc.attrib.pop(f"{{{NS}}}{name}", None)
        else:
            rdf.remove_keeping_layout(elem)


def write_state(doc: Document, state: State) -> None:
    if state.is_empty():
        return
    block = own_block(doc)

    def simple(name: str, value: str) -> None:
        elem = rdf.new_element(block, NS, PREFIX, name)
        elem.text = value
        rdf.place_last(block, elem)

    def bag(name: str, values) -> None:
        if not values:
            return
        elem = rdf.new_element(block, NS, PREFIX, name)
        array = etree.SubElement(elem, f"{{{RDF}}}Bag")
        for value in values:
            etree.SubElement(array, rdf.LI).text = value
        rdf.place_last(block, elem)
        rdf.pretty(elem, rdf.own_indent(elem))

    if state.sidecar_created:
        simple("SidecarCreated", "True")
    if state.rating_written is not None:
        simple("RatingBefore", state.rating_before or "")
        simple("RatingWritten", state.rating_written)
    bag("CreatedContainers", sorted(state.created))
    for kw in KEYWORD_LISTS:
        bag(kw.added_field, sorted(state.added.get(kw.added_field, ())))
    if state.persons:
        elem = rdf.new_element(block, NS, PREFIX, "Persons")
        array = etree.SubElement(elem, f"{{{RDF}}}Bag")
        for name in sorted(state.persons):
            _write_person(array, state.persons[name])
        rdf.place_last(block, elem)
        rdf.pretty(elem, rdf.own_indent(elem))


def _write_person(array: etree._Element, person: dict) -> None:
    li = etree.SubElement(array, rdf.LI, {rdf.PARSE_TYPE: "Resource"})
    for name in PERSON_FIELDS:
        if person.get(name):
            etree.SubElement(li, f"{{{NS}}}{name}").text = person[name]
    for name in ("Tags", "MemberRegions"):
        if person.get(name):
            items = etree.SubElement(etree.SubElement(li, f"{{{NS}}}{name}"), f"{{{RDF}}}Seq")
            for item in person[name]:
                etree.SubElement(items, rdf.LI).text = item


def own_block(doc: Document) -> etree._Element:
    """The rdf:Description that holds what we add: found, or made last."""
    for desc in doc.descriptions():
        parent_uris = set(desc.getparent().nsmap.values())
        if NS in desc.nsmap.values() and NS not in parent_uris:
            return desc
    about = next((d.get(f"{{{RDF}}}about") for d in doc.descriptions()
                  if d.get(f"{{{RDF}}}about") is not None), "")
    in_scope = set(doc.rdf.nsmap.values())
    nsmap = {p: u for p, u in KNOWN_PREFIXES.items() if u not in in_scope}
    block = etree.SubElement(doc.rdf, rdf.DESCRIPTION, {f"{{{RDF}}}about": about}, nsmap=nsmap)
    rdf.place_last(doc.rdf, block)
    return block


def drop_block_if_empty(doc: Document) -> None:
    for desc in doc.descriptions():
        parent_uris = set(desc.getparent().nsmap.values())
        if NS in desc.nsmap.values() and NS not in parent_uris:
            attrs = [k for k in desc.attrib if k != f"{{{RDF}}}about"]
            if not attrs and not any(isinstance(c.tag, str) for c in desc):
                rdf.remove_keeping_layout(desc)


# ---- turning results into state ------------------------------------------


def _clean_component(text: str) -> str:
    """A keyword path component: no separator of any host app, no commas."""
    text = rdf.clean_text(text)
    for bad in (",", "|", "/", "\\"):
        text = text.replace(bad, " ")
    return " ".join(text.split())


def format_number(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def area_text(region: FaceRegion | None) -> str:
    """'cx cy w h width height', as the Region field keeps it ('' without a region)."""
    if region is None:
        return ""
    area = " ".join(format_number(v) for v in (region.cx, region.cy, region.w, region.h))
    return area + f" {region.image_width} {region.image_height}"


def person_fields(rating: PersonRating) -> dict:
    area = area_text(rating.region)
    return {
        "Person": rdf.clean_text(rating.person),
        "Rank": str(rating.rank),
        "Score": format_number(rating.score),
        "Stars": str(rating.stars),
        "Kind": rating.kind,
        "Engine": rdf.clean_text(rating.engine),
        "Version": rdf.clean_text(rating.version),
        "RunTime": rdf.clean_text(rating.run_time),
        "Region": area,
        "Tags": [rdf.clean_text(t) for t in rating.tags],
        # A set's members' regions: 'cx cy w h width height Name' each.
        "MemberRegions": [f"{area_text(region)} {rdf.clean_text(name)}" for name, region in rating.member_regions],
    }


def keep_run_time_of_same_result(fields: dict, previous: dict | None) -> dict:
    """RunTime says when a result was established: a re-run that finds the same result keeps it,
    so writing the same result twice gives the same bytes."""
    if previous and {**previous, "RunTime": ""} == {**fields, "RunTime": ""}:
        return {**fields, "RunTime": previous["RunTime"]}
    return fields


def keyword_paths(person: dict) -> list[list[str]]:
    """A person's keywords as paths, from the fields our namespace keeps."""
    return person_keyword_paths(person["Person"], int(person.get("Rank") or 0), person.get("Kind"), person.get("Tags") or [])


def person_keyword_paths(person: str, rank: int, kind: str | None, tags) -> list[list[str]]:
    """The keyword scheme, in this one place: photorank/<Person>/rank 007, its kind, its tags."""
    leaves = [f"rank {rank:03d}"]
    if kind in KINDS:  # "single" / "group": filter a person's portraits or group photos
        leaves.append(kind)
    leaves += tags
    root = [ROOT_KEYWORD, keyword_name(person)]
    return [root + [leaf] for leaf in map(_clean_component, leaves) if leaf]


def keyword_name(person: str) -> str:
    """The person's name as the middle component of every keyword of theirs."""
    return _clean_component(person) or "unnamed"


def hierarchical_keywords(person: str, rank: int, kind: str | None, tags=()) -> list[str]:
    """One person's keywords in one photo as darktable and Lightroom hold them (photorank|Alice|rank 007)."""
    return [HIERARCHICAL.separator.join(path) for path in person_keyword_paths(person, rank, kind, tags)]


def hierarchical_prefix(person: str) -> str:
    """What every keyword of `person` begins with (photorank|Alice|): a host's earlier tags of theirs."""
    return HIERARCHICAL.separator.join([ROOT_KEYWORD, keyword_name(person), ""])


def desired_items(kw: KeywordList, persons: dict[str, dict]) -> list[str]:
    items: list[str] = []
    for name in sorted(persons):
        for path in keyword_paths(persons[name]):
            for item in (path if kw.separator is None else [kw.separator.join(path)]):
                if item not in items:
                    items.append(item)
    return items


def people_items(kw: KeywordList, persons: dict[str, dict]) -> list[str]:
    """digiKam's person tags (People/Alice) for the persons given a face region: only in its
    own TagsList, so darktable and Lightroom show no People keyword of ours."""
    if kw.key != "digiKam:TagsList":
        return []
    names = [_clean_component(name) for _, p in sorted(persons.items()) for name, _values, _area in region_keys(p)]
    return [f"{PEOPLE_ROOT}/{name}" for name in dict.fromkeys(names) if name]


def _list_items(doc: Document, kw: KeywordList) -> list[str]:
    found = doc.find_property(kw.ns, kw.name)
    array = rdf.array_of(found[1]) if found is not None and found[1] is not None else None
    return [] if array is None else [rdf.simple_value(li) for li in rdf.array_items(array)]


def _path(kw: KeywordList, item: str) -> tuple[str, ...]:
    """A keyword list item as a path: split at the list's separator, blanks around parts ignored."""
    parts = [item] if kw.separator is None else item.split(kw.separator)
    return tuple(part.strip() for part in parts if part.strip())


def user_keyword_paths(doc: Document, state: State) -> list[tuple[str, ...]]:
    """Every keyword the user has in any list (not one we added), as a path.

    A dc:subject item that is a component of a hierarchical keyword is part of that keyword
    (darktable writes `family|trip` as `family`, `trip` there), not a keyword of its own."""
    paths: list[tuple[str, ...]] = []
    flat: list[tuple[str, ...]] = []
    for kw in KEYWORD_LISTS:
        added = state.added.get(kw.added_field, set())
        for item in _list_items(doc, kw):
            path = _path(kw, item)
            if item in added or not path:
                continue
            if kw.separator is None:
                flat.append(path)
            elif path not in paths:
                paths.append(path)
    components = {part for path in paths for part in path}
    for path in flat:
        if path[0] not in components and path not in paths:
            paths.append(path)
    return paths


def wanted_items(kw: KeywordList, persons: dict[str, dict], user_paths: list[tuple[str, ...]],
                 held: list[str]) -> list[str]:
    """What a list must hold: ours, the user's keywords it does not hold yet in any spelling
    (`held`: its items now), digiKam's person tags."""
    items = desired_items(kw, persons)
    held_paths = {_path(kw, item) for item in held}
    for path in user_paths:
        # dc:subject gets a user's keyword as its leaf, as digiKam and Lightroom write it there
        path = path[-1:] if kw.separator is None else path
        item = kw.separator.join(path) if kw.separator else path[0]
        if item not in items and (item in held or path not in held_paths):
            items.append(item)
    return items + [item for item in people_items(kw, persons) if item not in items]


# ---- reconciling the document with the state -----------------------------


def reconcile(doc: Document, old: State, new: State, *, overwrite_ratings: bool,
              unrated: frozenset[int] = frozenset({0}), notes: list[str]) -> None:
    """Make the document show exactly new.persons' data (and nothing older)."""
    _reconcile_rating(doc, new, overwrite_ratings, unrated, notes)
    user_paths = user_keyword_paths(doc, new) if new.persons else []  # undo: no copies kept
    for kw in KEYWORD_LISTS:
        _reconcile_keywords(doc, kw, new, wanted_items(kw, new.persons, user_paths, _list_items(doc, kw)), notes)
    _reconcile_regions(doc, old, new, notes)


def _rating_value(value: str | None) -> float | None:
    """The number in an xmp:Rating (None: absent, empty or not a number)."""
    if value is None or not value.strip():
        return None
    try:
        return float(value)
    except ValueError:
        return None


def is_reject(value: str | None) -> bool:
    """xmp:Rating -1 (any negative value): darktable's and Lightroom's 'rejected'."""
    number = _rating_value(value)
    return number is not None and number < 0


def _is_unrated(value: str | None, unrated: frozenset[int]) -> bool:
    if value is None or not value.strip():
        return True
    number = _rating_value(value)
    return number is not None and number.is_integer() and int(number) in unrated


def _reconcile_rating(doc: Document, state: State, overwrite: bool, unrated: frozenset[int],
                      notes: list[str]) -> None:
    current = doc.get_simple(XMP_NS, "Rating")
    ours = state.rating_written is not None and current == state.rating_written
    if not state.persons:  # undo: give the rating back if it is still ours
        if ours:
            if state.rating_before:
                doc.set_simple(XMP_NS, "xmp", "Rating", state.rating_before)
            else:
                doc.remove_property(XMP_NS, "Rating")
        elif state.rating_written is not None:
            notes.append("rating kept: changed by user since photorank wrote it")
        state.rating_before = state.rating_written = None
        return
    wanted = str(max(int(p["Stars"]) for p in state.persons.values()))
    if not ours:
        if is_reject(current):  # an explicit decision: not even overwrite_ratings changes it
            notes.append(f"rating kept: rejected by user ({current})")
            state.rating_before = state.rating_written = None
            return
        if not (_is_unrated(current, unrated) or overwrite):
            notes.append(f"rating kept: set by user ({current})")
            state.rating_before = state.rating_written = None
            return
        state.rating_before = current if current is not None else ""
    if current != wanted:
        _set_rating(doc, wanted)
    state.rating_written = wanted


def _set_rating(doc: Document, value: str) -> None:
    if doc.find_property(XMP_NS, "Rating") is None:
        block = own_block(doc)
        elem = rdf.new_element(block, XMP_NS, "xmp", "Rating")
        elem.text = value
        rdf.place_last(block, elem)
    else:
        doc.set_simple(XMP_NS, "xmp", "Rating", value)


def _reconcile_keywords(doc: Document, kw: KeywordList, state: State, wanted: list[str], notes: list[str]) -> None:
    added = set(state.added.get(kw.added_field, ()))
    found = doc.find_property(kw.ns, kw.name)
    array = None
    if found is not None:
        desc, prop = found
        array = rdf.array_of(prop) if prop is not None else None
        if array is None:
            if wanted or added:
                notes.append(f"{kw.key} is not an array: left as it is")
            return
    elif wanted:
        prop, array = _create_array(doc, kw.ns, kw.prefix, kw.name, kw.array)
        state.created.add(kw.key)
    else:
        state.created.discard(kw.key)
        state.added.pop(kw.added_field, None)
        return

    present = set()
    for li in rdf.array_items(array):
        text = rdf.simple_value(li)
        if text in added and text not in wanted:
            rdf.remove_keeping_layout(li)
        else:
            present.add(text)
    _make_room_in_order(array, wanted, present, added)
    people = people_items(kw, state.persons)
    users_person = next((li for li in rdf.array_items(array) if rdf.simple_value(li) in people and rdf.simple_value(li) not in added), None)
    for item in wanted:
        if item not in present:
            li = etree.SubElement(array, rdf.LI)
            li.text = item
            if users_person is not None and item not in people:
                rdf.place_before(users_person, li)  # the user's People/X must stay the newest tag named X
            else:
                rdf.place_last(array, li)
            added.add(item)
            present.add(item)
    added &= present & set(wanted)
    state.added[kw.added_field] = added
    _drop_if_created_and_empty(state, kw.key, prop, array)


def _make_room_in_order(array: etree._Element, wanted: list[str], present: set[str], added: set[str]) -> None:
    """Before new items are appended, take out our items that come after them in `wanted`, so
    they are appended again behind them: digiKam's People/X stays after photorank/X/..."""
    missing = [wanted.index(item) for item in wanted if item not in present]
    if not missing:
        return
    later = set(wanted[min(missing):])
    for li in rdf.array_items(array):
        text = rdf.simple_value(li)
        if text in later and text in added:
            rdf.remove_keeping_layout(li)
            present.discard(text)


def _create_array(doc: Document, ns: str, prefix: str, name: str, kind: str):
    block = own_block(doc)
    prop = rdf.new_element(block, ns, prefix, name)
    array = etree.SubElement(prop, f"{{{RDF}}}{kind}")
    rdf.place_last(block, prop)
    rdf.pretty(prop, rdf.own_indent(prop))
    return prop, array


def _drop_if_created_and_empty(state: State, key: str, prop, array) -> None:
    if key in state.created and not rdf.array_items(array):
        rdf.remove_keeping_layout(prop)
        state.created.discard(key)


# ---- face regions --------------------------------------------------------


def region_keys(person: dict) -> list[tuple[str, tuple[float, ...], str]]:
    """(name, (cx, cy, w, h), area text) of each face region an entry holds: its own, and for a
    set of people ("Alice + Bob") each member's, under the member's name."""
    regions = [(person["Person"], person.get("Region") or "")]
    for item in person.get("MemberRegions") or []:
        parts = item.split(" ", 6)
        if len(parts) == 7:
            regions.append((parts[6], " ".join(parts[:6])))
    keys = []
    for name, area in regions:
        parts = area.split()
        if len(parts) >= 4:
            keys.append((name, tuple(float(p) for p in parts[:4]), area))
    return keys


def _drop_region(person: dict, name: str) -> None:
    """The entry no longer claims a region for `name` (the user has one of their own)."""
    if person["Person"] == name:
        person["Region"] = ""
    person["MemberRegions"] = [item for item in person.get("MemberRegions") or [] if item.split(" ", 6)[6:] != [name]]


def _li_region_key(li: etree._Element):
    fields = rdf.struct_fields(li)
    name = rdf.struct_field_value(fields, MWGRS_NS, "Name")
    kind = rdf.struct_field_value(fields, MWGRS_NS, "Type")
    area = fields.find(f"{{{MWGRS_NS}}}Area")
    if name is None or kind != "Face" or area is None:
        return name, kind, None
    area_fields = rdf.struct_fields(area)
    try:
        values = tuple(float(rdf.struct_field_value(area_fields, STAREA_NS, k) or "nan") for k in "xywh")
    except ValueError:
        values = None
    return name, kind, values


def _same_region(key, li_key) -> bool:
    name, kind, values = li_key
    if values is None or name != key[0]:
        return False
    return all(abs(a - b) < 1e-6 for a, b in zip(values, key[1]))


def _reconcile_regions(doc: Document, old: State, new: State, notes: list[str]) -> None:
    ours_before = [key[:2] for person in old.persons.values() for key in region_keys(person)]
    # One region per name: a person's own entry before a set that also holds them.
    wanted: dict[str, tuple[tuple[float, ...], str, dict]] = {}
    for person in sorted(new.persons.values(), key=lambda person: bool(person.get("MemberRegions"))):
        for name, values, area in region_keys(person):
            wanted.setdefault(name, (values, area, person))
    found = doc.find_property(MWGRS_NS, "Regions")
    if found is None or found[1] is None:
        if found is not None or not wanted:
            if found is not None and wanted:
                notes.append("mwg-rs:Regions has an unexpected form: left as it is")
            for p in new.persons.values():
                p["Region"] = ""
                p["MemberRegions"] = []
            new.created.discard(REGIONS_KEY)
            return
        regions, array = _create_regions(doc, next(iter(wanted.values()))[1])
        new.created.add(REGIONS_KEY)
    else:
        regions = found[1]
        array = _region_array(regions, create=bool(wanted))
        if array is None:
            return

    kept = set()
    for li in rdf.array_items(array):
        li_key = _li_region_key(li)
        mine = [k for k in ours_before if _same_region(k, li_key)]
        if not mine:
            continue
        still = wanted.get(mine[0][0])
        if still is not None and _same_region((mine[0][0], still[0]), li_key):
            kept.add(mine[0][0])
        else:
            rdf.remove_keeping_layout(li)
    for name in sorted(wanted):
        if name in kept:
            continue
        if _user_has_face(array, name, ours_before):
            notes.append(f"face region kept: {name} already has one")
            for person in new.persons.values():
                _drop_region(person, name)
            continue
        _append_region(array, name, wanted[name][1])
    if REGIONS_KEY in new.created and not rdf.array_items(array):
        rdf.remove_keeping_layout(regions)
        new.created.discard(REGIONS_KEY)


def _user_has_face(array, name: str, ours_before) -> bool:
    for li in rdf.array_items(array):
        li_key = _li_region_key(li)
        if li_key[0] == name and li_key[1] == "Face" and not any(_same_region(k, li_key) for k in ours_before):
            return True
    return False


def _nsmap_for(parent: etree._Element, prefixes) -> dict:
    in_scope = set(parent.nsmap.values())
    return {p: KNOWN_PREFIXES[p] for p in prefixes if KNOWN_PREFIXES[p] not in in_scope}


def _create_regions(doc: Document, area: str):
    block = own_block(doc)
    regions = rdf.new_element(block, MWGRS_NS, "mwg-rs", "Regions", {rdf.PARSE_TYPE: "Resource"})
    width, height = (area.split() + ["0", "0"])[4:6]
    dims = etree.SubElement(regions, f"{{{MWGRS_NS}}}AppliedToDimensions",
                            nsmap=_nsmap_for(regions, ["stDim"]))
    dims.set(f"{{{STDIM_NS}}}w", width)
    dims.set(f"{{{STDIM_NS}}}h", height)
    dims.set(f"{{{STDIM_NS}}}unit", "pixel")
    region_list = etree.SubElement(regions, f"{{{MWGRS_NS}}}RegionList")
    array = etree.SubElement(region_list, f"{{{RDF}}}Bag")
    rdf.place_last(block, regions)
    rdf.pretty(regions, rdf.own_indent(regions))
    return regions, array


def _region_array(regions: etree._Element, create: bool):
    fields = rdf.struct_fields(regions)
    region_list = fields.find(f"{{{MWGRS_NS}}}RegionList")
    if region_list is not None:
        return rdf.array_of(region_list)
    if not create:
        return None
    fields = rdf.writable_struct(regions)
    region_list = rdf.new_element(fields, MWGRS_NS, "mwg-rs", "RegionList")
    array = etree.SubElement(region_list, f"{{{RDF}}}Bag")
    rdf.place_last(fields, region_list)
    rdf.pretty(region_list, rdf.own_indent(region_list))
    return array


def _append_region(array: etree._Element, name: str, area: str) -> None:
    cx, cy, w, h = area.split()[:4]
    li = etree.SubElement(array, rdf.LI)
    desc = etree.SubElement(li, rdf.DESCRIPTION, nsmap=_nsmap_for(array, ["mwg-rs"]))
    desc.set(f"{{{MWGRS_NS}}}Name", name)
    desc.set(f"{{{MWGRS_NS}}}Type", "Face")
    area = etree.SubElement(desc, f"{{{MWGRS_NS}}}Area", nsmap=_nsmap_for(desc, ["stArea"]))
    for key, value in (("x", cx), ("y", cy), ("w", w), ("h", h), ("unit", "normalized")):
        area.set(f"{{{STAREA_NS}}}{key}", value)
    rdf.place_last(array, li)
    rdf.pretty(li, rdf.own_indent(li))


# ---- what a change does, in words (dry runs) -----------------------------


def _region_names(doc: Document) -> list[str]:
    found = doc.find_property(MWGRS_NS, "Regions")
    array = _region_array(found[1], create=False) if found is not None and found[1] is not None else None
    names = [_li_region_key(li) for li in rdf.array_items(array)] if array is not None else []
    return [name for name, kind, _ in names if name is not None and kind == "Face"]


def _item_changes(label: str, old: list[str], new: list[str]) -> list[str]:
    gone = [item for item in old if item not in new]
    came = [item for item in new if item not in old]
    return ([f"{label} - {', '.join(gone)}"] if gone else []) + ([f"{label} + {', '.join(came)}"] if came else [])


def describe_changes(before: bytes | None, after: bytes | None) -> list[str]:
    """What differs between two versions of an XMP document, in the terms a user knows: the
    rating, each keyword list, the face regions and photorank's own data (None: no document)."""
    old = Document(before) if before is not None else None
    new = Document(after) if after is not None else None
    lines = []
    ratings = [doc.get_simple(XMP_NS, "Rating") if doc is not None else None for doc in (old, new)]
    if ratings[0] != ratings[1]:
        lines.append(f"xmp:Rating: {ratings[0] or 'none'} -> {ratings[1] or 'none'}")
    for kw in KEYWORD_LISTS:
        lines += _item_changes(kw.key, *[_list_items(doc, kw) if doc is not None else [] for doc in (old, new)])
    lines += _item_changes("face region", *[_region_names(doc) if doc is not None else [] for doc in (old, new)])
    persons = [sorted(read_state(doc).persons.items()) if doc is not None else [] for doc in (old, new)]
    if persons[0] != persons[1]:
        lines += _item_changes("photorank data", *[[name for name, _ in found] for found in persons])
        if [name for name, _ in persons[0]] == [name for name, _ in persons[1]]:
            lines.append("photorank data: results updated")
    return lines


# ---- entry points on bytes -----------------------------------------------


def check_unrated(unrated: Collection[int]) -> frozenset[int]:
    """The validated set of ratings that count as 'not rated by the user'."""
    values = frozenset(unrated)
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 5:
            raise ValueError(f"unrated must hold star ratings 0..5 (a reject, -1, is never "
                             f"overwritten), got {value!r}")
    return values


def apply(data: bytes | None, ratings: list[PersonRating], *, overwrite_ratings: bool,
          unrated: Collection[int] = (0,), empty: bytes = rdf.EMPTY_SIDECAR) -> tuple[bytes, list[str]]:
    """Merge ratings into sidecar bytes (None: a new document, made from empty).

    Returns (bytes, notes).
    """
    unrated = check_unrated(unrated)
    doc = Document(data if data is not None else empty)
    old = read_state(doc)
    if data is None:
        old.sidecar_created = True
    new = State(old.sidecar_created, old.rating_before, old.rating_written,
                set(old.created), {k: set(v) for k, v in old.added.items()},
                {k: dict(v) for k, v in old.persons.items()})
    for rating in ratings:
        fields = person_fields(rating)
        new.persons[fields["Person"]] = keep_run_time_of_same_result(fields, old.persons.get(fields["Person"]))
    notes: list[str] = []
    remove_state(doc)
    reconcile(doc, old, new, overwrite_ratings=overwrite_ratings, unrated=unrated, notes=notes)
    write_state(doc, new)
    drop_block_if_empty(doc)
    return doc.serialize(), notes


def remove(data: bytes, person: str | None, created_from: bytes | None = None) -> tuple[bytes | None, list[str]]:
    """Take photorank data out. Returns (bytes, notes); bytes None = delete the sidecar.

    created_from: what a sidecar we created started as (the photo's own metadata); when it
    holds nothing more than that, it is deleted like an empty one.
    """
    doc = Document(data)
    old = read_state(doc)
    notes: list[str] = []
    if old.is_empty() and not old.sidecar_created:
        return data, ["no photorank data"]
    new = State(old.sidecar_created, old.rating_before, old.rating_written,
                set(old.created), {k: set(v) for k, v in old.added.items()},
                {k: dict(v) for k, v in old.persons.items()})
    if person is None:
        new.persons.clear()
    elif person in new.persons:
        del new.persons[person]
    else:
        notes.append(f"no photorank data for {person}")
        return data, notes
    remove_state(doc)
    reconcile(doc, old, new, overwrite_ratings=False, notes=notes)
    if new.persons:
        write_state(doc, new)
    drop_block_if_empty(doc)
    if not new.persons and old.sidecar_created and (
        not doc.has_any_property()
        or (created_from is not None and doc.property_signature() == Document(created_from).property_signature())
    ):
        return None, notes
    if not new.persons and old.sidecar_created:
        notes.append("sidecar kept: other programs added data to it")
    return doc.serialize(), notes
