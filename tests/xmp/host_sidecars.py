"""Sidecars as the photo managers write them, each with the user's own rating and keywords: the
inputs of the keyword-reconciliation tests (test_xmp_keywords.py) and the digiKam import
(test_xmp_digikam.py)."""

from __future__ import annotations

from dataclasses import dataclass

from programs import run
from xmp_helpers import darktable_sidecar


def _array(prop: str, kind: str, items: tuple[str, ...]) -> str:
    """A keyword list laid out as exiv2 and Adobe's toolkit write one."""
    lis = "".join(f"     <rdf:li>{item}</rdf:li>\n" for item in items)
    return f"   <{prop}>\n    <rdf:{kind}>\n{lis}    </rdf:{kind}>\n   </{prop}>\n"


NAMESPACES = {
    "xmp": "http://ns.adobe.com/xap/1.0/", "dc": "http://purl.org/dc/elements/1.1/",
    "lr": "http://ns.adobe.com/lightroom/1.0/", "crs": "http://ns.adobe.com/camera-raw-settings/1.0/",
    "digiKam": "http://www.digikam.org/ns/1.0/", "MicrosoftPhoto": "http://ns.microsoft.com/photo/1.0/",
    "mwg-rs": "http://www.metadataworkinggroup.com/schemas/regions/",
    "stDim": "http://ns.adobe.com/xap/1.0/sType/Dimensions#", "stArea": "http://ns.adobe.com/xmp/sType/Area#",
}


def mwg_face_region(name: str, centre_area: tuple[float, float, float, float], applied_to: tuple[int, int] | None = None) -> str:
    """An MWG face region as digiKam and Lightroom write it (stArea: normalised centre x, y, w, h)."""
    x, y, w, h = centre_area
    dimensions = (f'    <mwg-rs:AppliedToDimensions stDim:w="{applied_to[0]}" stDim:h="{applied_to[1]}" stDim:unit="pixel"/>\n'
                  if applied_to else "")
    return (f'   <mwg-rs:Regions rdf:parseType="Resource">\n{dimensions}    <mwg-rs:RegionList>\n     <rdf:Bag>\n      <rdf:li>\n'
            f'       <rdf:Description mwg-rs:Name="{name}" mwg-rs:Type="Face">\n'
            f'        <mwg-rs:Area stArea:x="{x}" stArea:y="{y}" stArea:w="{w}" stArea:h="{h}" stArea:unit="normalized"/>\n'
            '       </rdf:Description>\n      </rdf:li>\n     </rdf:Bag>\n    </mwg-rs:RegionList>\n   </mwg-rs:Regions>\n')


def sidecar_of(toolkit: str, prefixes: tuple[str, ...], attributes: dict[str, str], body: str) -> str:
    """One rdf:Description with its namespaces, attribute-form properties and `body`."""
    declared = "".join(f'\n    xmlns:{prefix}="{NAMESPACES[prefix]}"' for prefix in prefixes)
    attributes_text = "".join(f'\n   {name}="{value}"' for name, value in attributes.items())
    return (f'<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="{toolkit}">\n'
            ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
            f'  <rdf:Description rdf:about=""{declared}{attributes_text}>\n{body}'
            '  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n')


LIGHTROOM = sidecar_of(
    "Adobe XMP Core 7.0-c000 1.000000, 0000/00/00-00:00:00", ("xmp", "dc", "lr", "crs"),
    {"xmp:Rating": "4", "crs:Exposure2012": "+0.35"},
    _array("dc:subject", "Bag", ("family", "trip", "wedding"))
    + _array("lr:hierarchicalSubject", "Bag", ("family|trip", "wedding")))

# digiKam 7.9 writes its tags in every list and a person it knows as a face region under People.
DIGIKAM = sidecar_of(
    "XMP Core 4.4.0-Exiv2", ("xmp", "dc", "lr", "digiKam", "MicrosoftPhoto", "mwg-rs", "stDim", "stArea"),
    {"xmp:Rating": "5", "MicrosoftPhoto:Rating": "99"},
    _array("digiKam:TagsList", "Seq", ("Places/Beach", "People/Carol"))
    + _array("MicrosoftPhoto:LastKeywordXMP", "Bag", ("Places/Beach", "People/Carol"))
    + _array("lr:hierarchicalSubject", "Bag", ("Places|Beach", "People|Carol"))
    + _array("dc:subject", "Bag", ("Beach", "Carol"))
    + mwg_face_region("Carol", (0.2, 0.3, 0.1, 0.15), applied_to=(640, 480)))


@dataclass(frozen=True)
class HostSidecar:
    """A sidecar some program wrote: the user's rating and keywords (as paths) in it."""

    host: str
    rating: int
    keywords: tuple[tuple[str, ...], ...]

    def write(self, sidecar, image) -> None:
        """Put this host's sidecar at `sidecar` (the exiftool one is made by exiftool itself)."""
        if self.host == "exiftool":
            run(["exiftool", "-q", "-o", str(sidecar), "-XMP-dc:Subject=holiday",
                 f"-XMP-xmp:Rating={self.rating}", str(image)], check=True)
        elif self.host == "darktable":
            sidecar.write_bytes(darktable_sidecar(history=3, rating=str(self.rating), keywords=("family|trip",)))
        else:
            sidecar.write_text(LIGHTROOM if self.host == "lightroom" else DIGIKAM, "utf-8")


HOSTS = (
    HostSidecar("exiftool", 3, (("holiday",),)),  # dc:subject only, as exiftool and many tools write it
    HostSidecar("darktable", 2, (("family", "trip"),)),
    HostSidecar("lightroom", 4, (("family", "trip"), ("wedding",))),
    HostSidecar("digikam", 5, (("Places", "Beach"), ("People", "Carol"))),
)
