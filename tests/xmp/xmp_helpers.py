"""Shared helpers for the xmp_writer tests (a unique module name: other
test folders have their own conftest)."""

from __future__ import annotations

import json
import shutil

import pytest
from programs import run

from xmp_writer import FaceRegion, PersonRating

needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool is not installed")
needs_exiv2 = pytest.mark.skipif(shutil.which("exiv2") is None, reason="exiv2 is not installed")

_HISTORY_ITEM = (
    '     <rdf:li\n'
    '      darktable:num="{num}"\n'
    '      darktable:operation="{op}"\n'
    '      darktable:enabled="1"\n'
    '      darktable:modversion="2"\n'
    '      darktable:params="{params}"\n'
    '      darktable:multi_name=""\n'
    '      darktable:multi_priority="0"\n'
    '      darktable:blendop_version="11"\n'
    '      darktable:blendop_params="gz14eJxjYIAACQYYOOHEgAZY0QVwggZ7CB6pfNoAAE8gGQg="/>\n'
)


def darktable_sidecar(history: int = 3, rating: str | None = "1", keywords: tuple[str, ...] = ()) -> bytes:
    """A sidecar laid out the way darktable 4.2 (exiv2) writes one."""
    ops = ("exposure", "colorin", "colorout", "gamma", "flip", "temperature")
    items = "".join(
        _HISTORY_ITEM.format(num=i, op=ops[i % len(ops)], params=f"{i:08x}" * 4) for i in range(history)
    )
    rating_attr = f'   xmp:Rating="{rating}"\n' if rating is not None else ""
    subject = ""
    if keywords:
        subject = (
            "   <dc:subject>\n    <rdf:Seq>\n"
            + "".join(f"     <rdf:li>{k.split('|')[-1]}</rdf:li>\n" for k in keywords)
            + "    </rdf:Seq>\n   </dc:subject>\n"
            + "   <lr:hierarchicalSubject>\n    <rdf:Seq>\n"
            + "".join(f"     <rdf:li>{k}</rdf:li>\n" for k in keywords)
            + "    </rdf:Seq>\n   </lr:hierarchicalSubject>\n"
        )
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        '    xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"\n'
        '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"\n'
        '    xmlns:darktable="http://darktable.sf.net/"\n'
        f"{rating_attr}"
        '   xmpMM:DerivedFrom="img.jpg"\n'
        '   darktable:xmp_version="5"\n'
        '   darktable:raw_params="0"\n'
        '   darktable:auto_presets_applied="1"\n'
        f'   darktable:history_end="{history}"\n'
        '   darktable:iop_order_version="2">\n'
        f"{subject}"
        "   <darktable:masks_history>\n    <rdf:Seq/>\n   </darktable:masks_history>\n"
        "   <darktable:history>\n    <rdf:Seq>\n"
        f"{items}"
        "    </rdf:Seq>\n   </darktable:history>\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
    )
    return text.encode("utf-8")


def make_rating(person: str = "Alice", rank: int = 7, stars: int = 3, kind: str = "single",
                tags: tuple[str, ...] = (), region: bool = True, score: float = 0.8125) -> PersonRating:
    return PersonRating(
        person=person, rank=rank, score=score, stars=stars, kind=kind, tags=tags,
        region=FaceRegion(0.5, 0.375, 0.125, 0.25, 640, 480) if region else None,
        engine="dlib", version="0.1.0", run_time="2025-03-01T12:00:00+00:00",
    )


def exiftool_json(path) -> dict:
    out = run(["exiftool", "-j", "-G1", "-struct", str(path)], check=True).stdout
    return json.loads(out)[0]


def exiv2_lines(path) -> list[str]:
    """exiv2's view of every XMP property: one "key type count value" line each."""
    result = run(["exiv2", "-px", str(path)], text=False)
    return result.stdout.decode("utf-8", "replace").splitlines()


def exiv2_types(path) -> dict[str, str]:
    types = {}
    for line in exiv2_lines(path):
        parts = line.split()
        if len(parts) >= 2:
            types[parts[0]] = parts[1]
    return types


def camera_packet(rating: str = "3", keywords: tuple[str, ...] = ("holiday", "sea"), title: str = "Harbour at dawn",
                  extra: str = "") -> bytes:
    """An XMP packet as a camera or another program embeds it: attribute-form rating, a title,
    a description and keywords; `extra` goes into the description as is."""
    subject = "".join(f"<rdf:li>{keyword}</rdf:li>" for keyword in keywords)
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Camera firmware 1.0">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        '    xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:darktable="http://darktable.sf.net/"\n'
        f'    xmp:Rating="{rating}" xmp:CreatorTool="Camera firmware 1.0">\n'
        f'   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{title}</rdf:li></rdf:Alt></dc:title>\n'
        '   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">Boats leaving</rdf:li></rdf:Alt></dc:description>\n'
        f'   <dc:subject><rdf:Bag>{subject}</rdf:Bag></dc:subject>\n'
        f'{extra}'
        '  </rdf:Description>\n'
        ' </rdf:RDF>\n'
        '</x:xmpmeta>\n'
        '<?xpacket end="w"?>'
    ).encode("utf-8")


def jpeg_with_packet(path, packet: bytes | None, exif_rating: int | None = None, size=(96, 64)) -> bytes:
    """Write a real JPEG at `path` carrying `packet` as its embedded XMP (and an EXIF Rating);
    returns its bytes."""
    from PIL import Image

    from xmp_writer import jpeg

    exif = Image.Exif()
    if exif_rating is not None:
        exif[0x4746] = exif_rating
    Image.new("RGB", size, (150, 100, 60)).save(path, quality=90, exif=exif)
    data = open(path, "rb").read()
    if packet is not None:
        data = jpeg.with_packet(jpeg.locate(data), packet)
        open(path, "wb").write(data)
    return data
