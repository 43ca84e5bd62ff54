"""What a photo says about itself: its embedded XMP packet and its EXIF rating.

A sidecar we create starts from these, so that a host reading the sidecar instead of the file
(darktable, digiKam) loses nothing the file had, and a rating set in the camera or by another
program is the user's: kept under the rating policy, given back by undo. We copy what a photo
manager shows as the user's own (rating, label, title, description, keywords, face regions),
not the rest: an exporter's edit history in the file must not become an edit of the original.

The packet is found precisely in a JPEG and in a JPEG XL container (its 'xml ' box, which need
not be xpacket-wrapped); in other formats (TIFF, DNG and TIFF-based RAW, CR3, HEIC, PNG, WebP) by
scanning for the xpacket wrapper, as part 3 of the XMP specification allows for any file. IPTC-IIM has no rating field; EXIF's is tag 0x4746 in IFD0.
"""

from __future__ import annotations

import copy
import mmap
import os
import struct

from lxml import etree

from . import jpeg, merge, rdf
from .merge import DC_NS, DIGIKAM_NS, KNOWN_PREFIXES, LR_NS, MWGRS_NS, XMP_NS
from .model import XmpError

# (namespace, prefix, name) of what a new sidecar copies from the photo, in this order.
USER_PROPERTIES = (
    (XMP_NS, "xmp", "Rating"),
    (XMP_NS, "xmp", "Label"),
    (DC_NS, "dc", "title"),
    (DC_NS, "dc", "description"),
    (DC_NS, "dc", "subject"),
    (LR_NS, "lr", "hierarchicalSubject"),
    (DIGIKAM_NS, "digiKam", "TagsList"),
    (MWGRS_NS, "mwg-rs", "Regions"),
)
EXIF_RATING_TAG = 0x4746
PACKET_START = b"<?xpacket begin="
PACKET_END = b"<?xpacket end="
TIFF_MAGIC = (b"II*\x00", b"MM\x00*")
JXL_CONTAINER = b"\x00\x00\x00\x0cJXL \r\n\x87\n"


def new_sidecar(image_path: str | os.PathLike) -> bytes:
    """The sidecar to create for this photo before our data goes in: its own user metadata, or empty.

    A photo that cannot be read, or whose packet is not XMP, gives the empty sidecar: the photo
    keeps what it has either way, and the sidecar is about to hold our result.
    """
    try:
        packet, rating = photo_metadata(os.fspath(image_path))
        if packet and merge.NS.encode() in packet:  # written with --embed: the user's part only
            packet = merge.remove(packet, None)[0]
        return seeded(rdf.EMPTY_SIDECAR, packet, rating)
    except (OSError, ValueError, XmpError):
        return rdf.EMPTY_SIDECAR


def new_packet(jpeg_data: bytes) -> bytes:
    """The XMP packet to embed into a JPEG that has none: empty, but for the EXIF rating it carries."""
    try:
        rating = exif_rating(_exif_tiff(jpeg_data))
    except (ValueError, XmpError):
        rating = None
    return seeded(jpeg.EMPTY_PACKET, None, rating)


def photo_metadata(path: str) -> tuple[bytes | None, str | None]:
    """(the photo's XMP packet, its EXIF rating), each None when absent."""
    if not os.path.isfile(path):  # a pipe named like a photo would block the read forever
        return None, None
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return None, None
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            if jpeg.is_jpeg(data[:3]):  # the segments before the image data only: no copy of the whole file
                return jpeg.locate(data).packet, exif_rating(_exif_tiff(data))
            if data[:12] == JXL_CONTAINER:
                return jxl_xml_box(data) or scan_packet(data), None
            tiff = data if data[:4] in TIFF_MAGIC else None
            return scan_packet(data), exif_rating(tiff)


def scan_packet(data) -> bytes | None:
    """The first xpacket-wrapped XMP packet anywhere in `data` (bytes or mmap)."""
    start = data.find(PACKET_START)
    if start < 0:
        return None
    end = data.find(PACKET_END, start)
    close = data.find(b"?>", end) if end >= 0 else -1
    return None if close < 0 else bytes(data[start:close + 2])


def jxl_xml_box(data) -> bytes | None:
    """The content of the first 'xml ' box of a JPEG XL container (ISO BMFF boxes), or None."""
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1 and offset + 16 <= len(data):  # a 64-bit size follows the type
            (size,) = struct.unpack_from(">Q", data, offset + 8)
            header = 16
        elif size == 0:  # the last box runs to the end of the file
            size = len(data) - offset
        if size < header:
            return None
        if kind == b"xml ":
            return bytes(data[offset + header:offset + size])
        offset += size
    return None


def _exif_tiff(jpeg_data: bytes) -> bytes | None:
    for segment in jpeg.segments(jpeg_data):
        if segment.marker == jpeg.APP1 and segment.payload.startswith(jpeg.EXIF_HEADER):
            return segment.payload[len(jpeg.EXIF_HEADER):]
    return None


def exif_rating(tiff) -> str | None:
    """EXIF Rating (0x4746) from IFD0 of a TIFF structure, as XMP writes it ('3'); None if absent."""
    if tiff is None or len(tiff) < 8 or tiff[:4] not in TIFF_MAGIC:
        return None
    order = "<" if tiff[:2] == b"II" else ">"
    (ifd,) = struct.unpack_from(order + "I", tiff, 4)
    if ifd + 2 > len(tiff):
        return None
    (count,) = struct.unpack_from(order + "H", tiff, ifd)
    for entry in range(ifd + 2, min(ifd + 2 + 12 * count, len(tiff) - 11), 12):
        tag, kind = struct.unpack_from(order + "HH", tiff, entry)
        if tag == EXIF_RATING_TAG:
            if kind == 3:  # SHORT
                return str(struct.unpack_from(order + "H", tiff, entry + 8)[0])
            if kind in (4, 9):  # LONG, SLONG
                return str(struct.unpack_from(order + ("I" if kind == 4 else "i"), tiff, entry + 8)[0])
            return None
    return None


def seeded(template: bytes, packet: bytes | None, rating: str | None) -> bytes:
    """`template` (an empty sidecar or packet) holding the user properties of `packet`, and the
    EXIF `rating` when the packet has none; the template itself when there is nothing to copy."""
    source = rdf.Document(packet) if packet else None
    found = [(ns, prefix, name, source.find_property(ns, name)) for ns, prefix, name in USER_PROPERTIES] if source else []
    found = [item for item in found if item[3] is not None]
    has_rating = any(name == "Rating" for _, _, name, _ in found)
    if not found and (rating is None or has_rating):
        return template
    doc = rdf.Document(template)
    nsmap = {prefix: KNOWN_PREFIXES[prefix] for prefix in ["xmp"] + [prefix for _, prefix, _, _ in found]}
    desc = etree.SubElement(doc.rdf, rdf.DESCRIPTION, {f"{{{rdf.RDF}}}about": ""}, nsmap=nsmap)
    rdf.place_last(doc.rdf, desc)
    if rating is not None and not has_rating:
        _append_simple(desc, XMP_NS, "xmp", "Rating", rating)
    for ns, prefix, name, (source_desc, element) in found:
        if element is None:  # attribute form: the same value as an element
            _append_simple(desc, ns, prefix, name, source_desc.get(f"{{{ns}}}{name}"))
        else:
            desc.append(copy.deepcopy(element))
            rdf.place_last(desc, desc[-1])
            rdf.pretty(desc[-1], rdf.own_indent(desc[-1]))
    return doc.serialize()


def _append_simple(desc: etree._Element, ns: str, prefix: str, name: str, value: str) -> None:
    element = rdf.new_element(desc, ns, prefix, name)
    element.text = value
    rdf.place_last(desc, element)
