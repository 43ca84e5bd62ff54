"""What the user already said about who is in a photo: named face regions in its XMP.

    tags = TagReader().read(["/photos/IMG_1.jpg", ...])       # path -> PhotoTags
    box = pixel_box(tags[path].regions[0], width, height, orientation)

Photo managers keep the people a user tagged in XMP, in the photo's sidecars (NAME.EXT.xmp,
NAME.xmp) or inside the file. Three shapes are read:

- MWG regions (digiKam, Lightroom, Picasa, photo servers): `mwg-rs:Regions/mwg-rs:RegionList`,
  a `Face` with `mwg-rs:Name` and `mwg-rs:Area` (stArea x, y = the centre, w, h, normalised),
  and `mwg-rs:AppliedToDimensions`, the image size the areas were drawn on.
- Microsoft Photo regions (Windows Photo Gallery, older digiKam): `MP:RegionInfo/MPRI:Regions`,
  `MPReg:Rectangle` "x, y, w, h" (top-left corner, normalised) and `MPReg:PersonDisplayName`.
- digiKam people tags, `digiKam:TagsList` "People/NAME": the photo names someone, not where.

Areas refer to the image as stored, before its EXIF orientation (the MWG rule, which digiKam
follows); an area whose applied-to dimensions are the displayed (rotated) size was drawn on the
displayed image and is taken as it is. The face region photorank writes with --write-xmp is
recorded in the photorank namespace: it is our own output, never the user's tag, so it is left out.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

from xmp_writer import embedded, merge, rdf
from xmp_writer.model import XmpError

from .collection import check_paths, require_photos
from .analysis import collect_images
from .records import Box

MWGRS_NS = merge.MWGRS_NS
STAREA_NS = merge.STAREA_NS
STDIM_NS = merge.STDIM_NS
MP_NS = "http://ns.microsoft.com/photo/1.2/"
MPRI_NS = "http://ns.microsoft.com/photo/1.2/t/RegionInfo#"
MPREG_NS = "http://ns.microsoft.com/photo/1.2/t/Region#"
DIGIKAM_PEOPLE = "People/"
# digiKam's own people tags that name nobody
DIGIKAM_UNNAMED = frozenset({"unknown", "unconfirmed", "ignored"})
# Our own region's area is written with 4 decimals (xmp_writer.merge.format_number).
OWN_AREA_TOLERANCE = 1e-3

Area = tuple[float, float, float, float]  # normalised x, y (top-left), w, h


@dataclass(frozen=True)
class NamedRegion:
    """One person the user named in a photo; `area` None when the tag says who, not where."""

    name: str
    area: Area | None
    applied_to: tuple[int, int] | None = None  # (width, height) the area was drawn on
    source: str = "mwg"  # "mwg" | "microsoft" | "digikam tag"


@dataclass
class PhotoTags:
    """The named regions of one photo, from its sidecars and its embedded XMP."""

    regions: list[NamedRegion] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # an XMP that could not be read, and why

    def naming(self, person: str) -> list[NamedRegion]:
        key = name_key(person)
        return [region for region in self.regions if name_key(region.name) == key]


def name_key(name: str) -> str:
    """Names compare without case and extra spaces: "marie  curie" is "Marie Curie"."""
    return " ".join(name.split()).casefold()


# --- reading one XMP document ----------------------------------------------------------------


def regions_in(packet: bytes) -> list[NamedRegion]:
    """Every named region of one XMP document, ours (photorank's) left out."""
    doc = rdf.Document(packet)
    state = merge.read_state(doc)
    own = own_regions(state)
    found = [region for region in mwg_regions(doc) if not _is_own(region, own)]
    return found + microsoft_regions(doc) + digikam_people(doc, state.added.get("AddedTagsList", set()))


def mwg_regions(doc: rdf.Document) -> list[NamedRegion]:
    found = doc.find_property(MWGRS_NS, "Regions")
    if found is None or found[1] is None:
        return []
    fields = rdf.struct_fields(found[1])
    applied_to = _dimensions(fields.find(f"{{{MWGRS_NS}}}AppliedToDimensions"))
    region_list = fields.find(f"{{{MWGRS_NS}}}RegionList")
    array = rdf.array_of(region_list) if region_list is not None else None
    regions = []
    for li in rdf.array_items(array) if array is not None else []:
        item = rdf.struct_fields(li)
        name = (rdf.struct_field_value(item, MWGRS_NS, "Name") or "").strip()
        kind = rdf.struct_field_value(item, MWGRS_NS, "Type") or "Face"
        area_element = item.find(f"{{{MWGRS_NS}}}Area")
        if not name or kind != "Face":
            continue
        centre = _numbers(rdf.struct_fields(area_element), STAREA_NS, "xywh") if area_element is not None else None
        area = None if centre is None else (centre[0] - centre[2] / 2, centre[1] - centre[3] / 2, centre[2], centre[3])
        regions.append(NamedRegion(name, area, applied_to, "mwg"))
    return regions


def microsoft_regions(doc: rdf.Document) -> list[NamedRegion]:
    found = doc.find_property(MP_NS, "RegionInfo")
    if found is None or found[1] is None:
        return []
    holder = rdf.struct_fields(found[1]).find(f"{{{MPRI_NS}}}Regions")
    array = rdf.array_of(holder) if holder is not None else None
    regions = []
    for li in rdf.array_items(array) if array is not None else []:
        item = rdf.struct_fields(li)
        name = (rdf.struct_field_value(item, MPREG_NS, "PersonDisplayName") or "").strip()
        if not name:
            continue
        regions.append(NamedRegion(name, _rectangle(rdf.struct_field_value(item, MPREG_NS, "Rectangle")), None, "microsoft"))
    return regions


def digikam_people(doc: rdf.Document, ours: set[str]) -> list[NamedRegion]:
    """digiKam's People/NAME tags; `ours`: the tags photorank added (its People/NAME beside its
    own face region), which are not the user's."""
    found = doc.find_property(merge.DIGIKAM_NS, "TagsList")
    array = rdf.array_of(found[1]) if found is not None and found[1] is not None else None
    names = []
    for li in rdf.array_items(array) if array is not None else []:
        tag = rdf.simple_value(li).strip()
        if tag in ours:
            continue
        name = tag[len(DIGIKAM_PEOPLE):].rsplit("/", 1)[-1].strip() if tag.startswith(DIGIKAM_PEOPLE) else ""
        if name and name.casefold() not in DIGIKAM_UNNAMED:
            names.append(NamedRegion(name, None, None, "digikam tag"))
    return names


def own_regions(state: merge.State) -> list[tuple[str, Area]]:
    """The regions photorank wrote, a set's members' included: (name, centre area), as recorded
    in its namespace."""
    return [(name, values) for person in state.persons.values() for name, values, _area in merge.region_keys(person)]


def _is_own(region: NamedRegion, own: list[tuple[str, Area]]) -> bool:
    if region.area is None:
        return False
    x, y, w, h = region.area
    centre = (x + w / 2, y + h / 2, w, h)
    return any(
        name == region.name and all(abs(a - b) < OWN_AREA_TOLERANCE for a, b in zip(area, centre)) for name, area in own
    )


def _numbers(fields, ns: str, names: str) -> tuple[float, ...] | None:
    try:
        values = tuple(float(rdf.struct_field_value(fields, ns, name) or "nan") for name in names)
    except ValueError:
        return None
    return values if all(0.0 <= value <= 1.5 for value in values) else None  # NaN fails too


def _dimensions(element) -> tuple[int, int] | None:
    if element is None:
        return None
    fields = rdf.struct_fields(element)
    try:
        width, height = (int(float(rdf.struct_field_value(fields, STDIM_NS, name) or "0")) for name in "wh")
    except ValueError:
        return None
    return (width, height) if width > 0 and height > 0 else None


def _rectangle(text: str | None) -> Area | None:
    try:
        values = tuple(float(part) for part in (text or "").split(","))
    except ValueError:
        return None
    return values if len(values) == 4 and all(0.0 <= value <= 1.5 for value in values) else None


# --- where in the photo ----------------------------------------------------------------------

# EXIF orientation -> where a normalised point (u, v) of the stored image is shown.
_SHOWN_AT = {
    1: lambda u, v: (u, v),
    2: lambda u, v: (1 - u, v),
    3: lambda u, v: (1 - u, 1 - v),
    4: lambda u, v: (u, 1 - v),
    5: lambda u, v: (v, u),
    6: lambda u, v: (1 - v, u),
    7: lambda u, v: (1 - v, 1 - u),
    8: lambda u, v: (v, 1 - u),
}


def pixel_box(region: NamedRegion, width: int, height: int, orientation: int) -> Box | None:
    """The region in pixels of the displayed full-size image (`width` x `height`, oriented)."""
    if region.area is None or width <= 0 or height <= 0:
        return None
    x, y, w, h = region.area
    drawn_on_displayed = (
        region.applied_to is not None and orientation in (5, 6, 7, 8) and region.applied_to[0] != region.applied_to[1]
        and _same_shape(region.applied_to, (width, height))
    )
    show = _SHOWN_AT[1] if drawn_on_displayed else _SHOWN_AT.get(orientation, _SHOWN_AT[1])
    corners = [show(u, v) for u, v in ((x, y), (x + w, y + h))]
    left, right = sorted(min(max(u, 0.0), 1.0) for u, _ in corners)
    top, bottom = sorted(min(max(v, 0.0), 1.0) for _, v in corners)
    box = (round(left * width), round(top * height), round((right - left) * width), round((bottom - top) * height))
    return box if box[2] > 0 and box[3] > 0 else None


def _same_shape(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Same aspect (a region drawn on a reduced copy still counts), landscape or portrait alike."""
    return (a[0] > a[1]) == (b[0] > b[1]) and abs(a[0] / a[1] - b[0] / b[1]) < 0.02


def share_inside(face: Box, region: Box) -> float:
    """How much of the face box lies inside the region (0-1)."""
    width = min(face[0] + face[2], region[0] + region[2]) - max(face[0], region[0])
    height = min(face[1] + face[3], region[1] + region[3]) - max(face[1], region[1])
    return 0.0 if width <= 0 or height <= 0 else width * height / float(face[2] * face[3])


# --- the collection --------------------------------------------------------------------------


class TagReader:
    """Reads the named regions of photos, remembering each photo's until its files change.

    A sidecar is NAME.EXT.xmp or NAME.xmp (any case of .xmp); each folder is listed once per
    read. The daemon keeps one reader, so a second ranking reads only what changed."""

    def __init__(self):
        self._known: dict[str, tuple[tuple, PhotoTags]] = {}

    def read(self, paths: list[str]) -> dict[str, PhotoTags]:
        listings: dict[str, dict[str, str]] = {}
        found = {}
        for path in paths:
            folder = os.path.dirname(path)
            if folder not in listings:
                listings[folder] = _xmp_names(folder)
            sidecars = _sidecars_of(path, listings[folder])
            try:
                stamp = tuple(_stamp(file) for file in [path, *sidecars])
            except OSError:
                continue  # gone meanwhile: its error is the image reader's to tell
            known = self._known.get(path)
            if known is None or known[0] != stamp:
                known = (stamp, photo_tags(path, sidecars))
                self._known[path] = known
            found[path] = known[1]
        return found


def photo_tags(path: str, sidecars: list[str]) -> PhotoTags:
    """The named regions of one photo: its sidecars' first, then its embedded XMP's, each once."""
    tags = PhotoTags()
    for source in sidecars + [path]:
        try:
            if source == path:
                packet = embedded.photo_metadata(path)[0]
            else:
                with open(source, "rb") as handle:
                    packet = handle.read()
            for region in regions_in(packet) if packet else []:
                if not any(_same_region(region, known) for known in tags.regions):
                    tags.regions.append(region)
        except (OSError, ValueError, XmpError) as error:
            tags.errors.append(f"cannot read the XMP of {source}: {error}")
    return tags


def _same_region(a: NamedRegion, b: NamedRegion) -> bool:
    """One tag written twice (a sidecar copying the file's XMP, digiKam's MWG and MP regions)."""
    if name_key(a.name) != name_key(b.name):
        return False
    if a.area is None or b.area is None:
        return a.area is None and b.area is None
    ax, ay, aw, ah = a.area
    bx, by, bw, bh = b.area
    width = min(ax + aw, bx + bw) - max(ax, bx)
    height = min(ay + ah, by + bh) - max(ay, by)
    return width > 0 and height > 0 and width * height > 0.5 * max(aw * ah, bw * bh)


def _xmp_names(folder: str) -> dict[str, str]:
    """Lower-cased name -> name of each .xmp file in the folder."""
    try:
        names = os.listdir(folder or ".")
    except OSError:
        return {}
    return {name.lower(): name for name in names if name.lower().endswith(".xmp")}


def _sidecars_of(path: str, xmp_names: dict[str, str]) -> list[str]:
    folder, name = os.path.split(path)
    candidates = [name + ".xmp", os.path.splitext(name)[0] + ".xmp"]
    return [os.path.join(folder, xmp_names[c.lower()]) for c in dict.fromkeys(candidates) if c.lower() in xmp_names]


def _stamp(path: str) -> tuple[str, int, int]:
    info = os.stat(path)
    return path, info.st_size, info.st_mtime_ns


def people_counts(tags: dict[str, PhotoTags]) -> list[tuple[str, int, int]]:
    """(name, photos naming them, face regions with a place), most photos first."""
    photos: Counter = Counter()
    placed: Counter = Counter()
    spelling: dict[str, str] = {}
    for photo in tags.values():
        for key in {name_key(region.name) for region in photo.regions}:
            photos[key] += 1
        for region in photo.regions:
            spelling.setdefault(name_key(region.name), region.name)
            placed[name_key(region.name)] += region.area is not None
    return sorted(((spelling[key], photos[key], placed[key]) for key in photos), key=lambda item: (-item[1], item[0]))


def people_document(paths: list[str], recursive: bool = False) -> dict:
    """`photorank people`: every name in the photos' regions and tags, with how many photos name it
    and how many of those regions say where the face is; XMP that could not be read, per file."""
    check_paths(paths)
    files, folders = collect_images(paths, recursive)
    require_photos(files, folders, recursive)
    tags = TagReader().read(files)
    return {
        "people": [{"name": name, "photos": photos, "regions": regions} for name, photos, regions in people_counts(tags)],
        "photos": len(files),
        "errors": [{"path": path, "error": error} for path, photo in sorted(tags.items()) for error in photo.errors],
    }
