"""Property-based: random sidecars keep everything we do not own, and undo
restores the original, as seen by exiv2 (the reader darktable and digiKam use)."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from xmp_helpers import exiv2_lines, make_rating, needs_exiv2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xmp_writer as xw

OWNED_KEYS = ("Xmp.photorank.", "Xmp.xmp.Rating", "Xmp.dc.subject", "Xmp.lr.hierarchicalSubject",
              "Xmp.digiKam.TagsList", "Xmp.mwg-rs.Regions")
NAMESPACES = {
    "xmp": "http://ns.adobe.com/xap/1.0/", "dc": "http://purl.org/dc/elements/1.1/",
    "lr": "http://ns.adobe.com/lightroom/1.0/", "digiKam": "http://www.digikam.org/ns/1.0/",
    "mwg-rs": "http://www.metadataworkinggroup.com/schemas/regions/",
    "stArea": "http://ns.adobe.com/xmp/sType/Area#",
    "u0": "http://example.org/u0/", "u1": "http://example.org/u%C3%BC/1/", "u2": "urn:x-test:u2#",
}

text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), max_codepoint=0x2FFFF),
    min_size=1, max_size=10,
)
keyword = st.one_of(text, st.sampled_from(["photorank", "Alice", "rank 007", "Zürich", "日本"]))
hier_keyword = st.one_of(
    st.lists(text, min_size=1, max_size=3).map("|".join),
    st.sampled_from(["photorank|Alice|rank 007", "photorank|Bob|group", "places|Zürich"]),
)


@st.composite
def foreign_property(draw, index: int):
    """One property of an unknown namespace, in one of RDF's spellings: (attr, element)."""
    prefix = draw(st.sampled_from(["u0", "u1", "u2"]))
    name = f"{prefix}:p{index}"
    form = draw(st.sampled_from(["attr", "elem", "struct_resource", "struct_desc", "struct_attrs",
                                 "bag", "seq", "alt"]))
    value = draw(text)
    if form == "attr":
        return f" {name}={quoteattr(value)}", ""
    if form == "elem":
        return "", f"<{name}>{escape(value)}</{name}>"
    other = draw(text)
    if form == "struct_resource":
        return "", f'<{name} rdf:parseType="Resource"><{prefix}:a>{escape(value)}</{prefix}:a>' \
                   f"<{prefix}:b>{escape(other)}</{prefix}:b></{name}>"
    if form == "struct_desc":
        return "", f"<{name}><rdf:Description {prefix}:a={quoteattr(value)}>" \
                   f"<{prefix}:b>{escape(other)}</{prefix}:b></rdf:Description></{name}>"
    if form == "struct_attrs":
        return "", f"<{name} {prefix}:a={quoteattr(value)} {prefix}:b={quoteattr(other)}/>"
    if form == "alt":
        return "", f'<{name}><rdf:Alt><rdf:li xml:lang="x-default">{escape(value)}</rdf:li>' \
                   f'<rdf:li xml:lang="de-DE">{escape(other)}</rdf:li></rdf:Alt></{name}>'
    kind = "Bag" if form == "bag" else "Seq"
    items = "".join(f"<rdf:li>{escape(v)}</rdf:li>" for v in draw(st.lists(text, min_size=1, max_size=3)))
    return "", f"<{name}><rdf:{kind}>{items}</rdf:{kind}></{name}>"


def _array(name: str, kind: str, items: list[str]) -> str:
    lis = "".join(f"<rdf:li>{escape(v)}</rdf:li>" for v in items)
    return f"<{name}><rdf:{kind}>{lis}</rdf:{kind}></{name}>"


@st.composite
def sidecar(draw) -> bytes:
    parts = [(' u0:sentinel="1"', "")]  # so that exiv2 always has something to print
    parts += [draw(foreign_property(i)) for i in range(draw(st.integers(0, 6)))]
    rating = draw(st.sampled_from([None, "0", "3", "-1"]))
    if rating is not None:
        parts.append(draw(st.sampled_from([(f' xmp:Rating="{rating}"', ""),
                                           ("", f"<xmp:Rating>{rating}</xmp:Rating>")])))
    if draw(st.booleans()):
        parts.append(("", _array("dc:subject", draw(st.sampled_from(["Bag", "Seq"])),
                                 draw(st.lists(keyword, min_size=1, max_size=3, unique=True)))))
    if draw(st.booleans()):
        parts.append(("", _array("lr:hierarchicalSubject", "Bag",
                                 draw(st.lists(hier_keyword, min_size=1, max_size=3, unique=True)))))
    if draw(st.booleans()):
        parts.append(("", _array("digiKam:TagsList", "Seq", ["places/Zürich"])))
    if draw(st.booleans()):
        name = draw(st.sampled_from(["Alice", "Carol"]))
        parts.append(("", '<mwg-rs:Regions rdf:parseType="Resource"><mwg-rs:RegionList><rdf:Bag><rdf:li>'
                          f'<rdf:Description mwg-rs:Name="{name}" mwg-rs:Type="Face"><mwg-rs:Area '
                          'stArea:x="0.1" stArea:y="0.2" stArea:w="0.05" stArea:h="0.05" stArea:unit="normalized"/>'
                          "</rdf:Description></rdf:li></rdf:Bag></mwg-rs:RegionList></mwg-rs:Regions>"))
    blocks = draw(st.integers(1, 2))
    split = draw(st.integers(0, len(parts)))
    groups = [parts[:split], parts[split:]] if blocks == 2 else [parts]
    decls = " ".join(f'xmlns:{p}="{u}"' for p, u in NAMESPACES.items())
    descs = []
    for group in groups:
        attrs = "".join(a for a, _ in group)
        elems = "\n   ".join(e for _, e in group if e)
        descs.append(f'  <rdf:Description rdf:about="" {decls}{attrs}>\n   {elems}\n  </rdf:Description>')
    body = ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
            + "\n".join(descs) + "\n</rdf:RDF>")
    wrapped = draw(st.booleans())
    if wrapped:
        body = f'<x:xmpmeta xmlns:x="adobe:ns:meta/">\n{body}\n</x:xmpmeta>'
    # exiv2 only recognises a bare rdf:RDF inside an xpacket
    if not wrapped or draw(st.booleans()):
        body = f'<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n{body}\n<?xpacket end="w"?>'
    return body.encode("utf-8")


def _not_owned(lines: list[str]) -> list[str]:
    return [line for line in lines if not line.startswith(OWNED_KEYS)]


def _items(lines: list[str], key: str) -> str:
    return next((line for line in lines if line.startswith(key + " ")), "")


@needs_exiv2
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=sidecar(), person=st.sampled_from(["Alice", "Zoë Ünal", "陈"]), second=st.booleans(),
       overwrite=st.booleans())
def test_foreign_data_survives_and_undo_restores(tmp_path_factory, data, person, second, overwrite):
    folder = tmp_path_factory.mktemp("prop")
    image = folder / "photo.jpg"
    sidecar_path = folder / "photo.jpg.xmp"
    sidecar_path.write_bytes(data)
    original = exiv2_lines(sidecar_path)
    assert original, "exiv2 could not read the generated sidecar"

    assert xw.write_rating(image, make_rating(person, kind="group"), overwrite_ratings=overwrite).ok
    if second:
        assert xw.write_rating(image, make_rating("Bob", rank=2, stars=5)).ok
    written = exiv2_lines(sidecar_path)
    assert _not_owned(written) == _not_owned(original)
    # user keywords are still all there, in order
    for key in ("Xmp.dc.subject", "Xmp.lr.hierarchicalSubject", "Xmp.digiKam.TagsList"):
        before = _items(original, key).split(None, 3)[3:] if _items(original, key) else []
        if before:
            assert _items(written, key).split(None, 3)[3].startswith(before[0])

    once = sidecar_path.read_bytes()
    xw.write_rating(image, make_rating("Bob", rank=2, stars=5) if second else make_rating(person, kind="group"))
    assert sidecar_path.read_bytes() == once  # idempotent

    if second:
        assert xw.undo(image, "Bob").ok
    assert xw.undo(image).ok
    assert exiv2_lines(sidecar_path) == original


def _jpeg_with_packet(packet: bytes) -> bytes:
    """A small real JPEG (from Pillow) with packet as its XMP segment, after APP0."""
    import io

    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", (16, 8), (200, 30, 90)).save(out, format="JPEG")
    data = out.getvalue()
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + packet
    app0_end = 4 + int.from_bytes(data[4:6], "big")
    return data[:app0_end] + b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload + data[app0_end:]


@needs_exiv2
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=sidecar(), person=st.sampled_from(["Alice", "Zoë Ünal"]), overwrite=st.booleans())
def test_embedded_foreign_data_survives_and_undo_restores(tmp_path_factory, data, person, overwrite):
    folder = tmp_path_factory.mktemp("embed")
    image = folder / "photo.jpg"
    image.write_bytes(_jpeg_with_packet(data))
    original = exiv2_lines(image)
    assert original, "exiv2 could not read the generated packet"

    outcome = xw.write_rating(image, make_rating(person, kind="group"), overwrite_ratings=overwrite,
                              naming="name.xmp", embed=True)
    assert outcome.ok and outcome.files[-1].action == "updated"
    assert _not_owned(exiv2_lines(image)) == _not_owned(original)
    once = image.read_bytes()
    xw.write_rating(image, make_rating(person, kind="group"), overwrite_ratings=overwrite,
                    naming="name.xmp", embed=True)
    assert image.read_bytes() == once
    assert xw.undo(image, embed=True, naming="name.xmp").ok
    assert exiv2_lines(image) == original
