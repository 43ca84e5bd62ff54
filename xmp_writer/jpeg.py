"""The XMP packet embedded in a JPEG file, changed by segment surgery.

A JPEG starts with SOI, then marker segments (APPn, DQT, SOF, ...) up to the
first SOS, after which the entropy-coded image data follows.  The standard XMP
packet lives in one APP1 segment whose payload starts with XMP_HEADER.  We
replace that one segment (or insert one after SOI/APP0/APP1-Exif) and copy
every other byte of the file unchanged: Exif, ICC, MPF, Extended XMP, the
image data and anything after EOI.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import XmpError

SOI = b"\xff\xd8"
APP0, APP1, APP2, SOS, EOI = 0xE0, 0xE1, 0xE2, 0xDA, 0xD9
XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
EXTENDED_HEADER = b"http://ns.adobe.com/xmp/extension/\x00"
EXIF_HEADER = b"Exif\x00\x00"
MPF_HEADER = b"MPF\x00"
# The XMP specification (part 3) limits the standard packet in a JPEG to this.
MAX_PACKET = 65502
# Markers without a length field (besides SOI/EOI): TEM and RST0-7.
_STANDALONE = {0x01, *range(0xD0, 0xD8)}

# What we embed when the file has no XMP yet: an xpacket wrapper, no XML
# declaration (an embedded packet must not have one), no padding.
EMPTY_PACKET = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="photorank xmp_writer">\n'
    ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
    " </rdf:RDF>\n"
    "</x:xmpmeta>\n"
    '<?xpacket end="w"?>'
).encode("utf-8")


@dataclass(frozen=True)
class Segment:
    marker: int
    start: int  # offset of the segment's first 0xFF (fill bytes included)
    end: int  # offset just after it
    payload: bytes  # the bytes after the length field


def is_jpeg(data: bytes) -> bool:
    return data[:3] == b"\xff\xd8\xff"


def segments(data: bytes) -> list[Segment]:
    """The marker segments between SOI and the first SOS (or EOI)."""
    if not is_jpeg(data):
        raise XmpError("not a JPEG file")
    found: list[Segment] = []
    pos = 2
    while True:
        start = pos
        if pos >= len(data) or data[pos] != 0xFF:
            raise XmpError(f"not a valid JPEG: no marker at byte {pos}")
        while pos < len(data) and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= len(data):
            raise XmpError("not a valid JPEG: truncated")
        marker = data[pos]
        pos += 1
        if marker in (SOS, EOI):
            return found
        if marker in _STANDALONE:
            found.append(Segment(marker, start, pos, b""))
            continue
        if marker in (0x00, 0xD8) or pos + 2 > len(data):
            raise XmpError(f"not a valid JPEG: bad marker 0x{marker:02X} at byte {pos - 1}")
        length = int.from_bytes(data[pos:pos + 2], "big")
        end = pos + length
        if length < 2 or end > len(data):
            raise XmpError(f"not a valid JPEG: bad length of segment 0x{marker:02X} at byte {start}")
        found.append(Segment(marker, start, end, data[pos + 2:end]))
        pos = end


def _app1(segs: list[Segment], header: bytes) -> list[Segment]:
    return [s for s in segs if s.marker == APP1 and s.payload.startswith(header)]


@dataclass(frozen=True)
class Embedded:
    """Where the standard XMP packet is (or would go) in one JPEG."""

    data: bytes
    packet: bytes | None  # None: the file has no XMP segment
    start: int  # the span to replace (start == end: insertion point)
    end: int
    has_extended: bool
    after_mpf: bool  # an MPF segment comes before this position


def locate(data: bytes) -> Embedded:
    segs = segments(data)
    xmp = _app1(segs, XMP_HEADER)
    if len(xmp) > 1:
        raise XmpError("the JPEG has more than one standard XMP segment")
    if xmp:
        start, end = xmp[0].start, xmp[0].end
        packet = xmp[0].payload[len(XMP_HEADER):]
    else:
        start = 2
        for seg in segs:  # after SOI, JFIF/JFXX (APP0) and Exif (APP1)
            if seg.marker == APP0 or (seg.marker == APP1 and seg.payload.startswith(EXIF_HEADER)):
                start = seg.end
            else:
                break
        end, packet = start, None
    after_mpf = any(s.marker == APP2 and s.payload.startswith(MPF_HEADER) and s.end <= start for s in segs)
    return Embedded(data, packet, start, end, bool(_app1(segs, EXTENDED_HEADER)), after_mpf)


def with_packet(where: Embedded, packet: bytes | None) -> bytes:
    """The whole file with packet as its standard XMP (None: no XMP segment)."""
    if packet is None:
        segment = b""
    else:
        if len(packet) > MAX_PACKET:
            raise XmpError(f"the XMP packet would be {len(packet)} bytes, more than the {MAX_PACKET} "
                           "a JPEG segment holds (photorank does not write Extended XMP)")
        payload = XMP_HEADER + packet
        segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    old_size = where.end - where.start
    if where.after_mpf and len(segment) != old_size:
        # MPF offsets count from the MPF segment: a segment after it that
        # changes size would move the other pictures away from their offsets.
        raise XmpError("the XMP segment comes after the MPF (multi-picture) segment; "
                       "changing it would break the offsets of the other pictures")
    return where.data[:where.start] + segment + where.data[where.end:]
