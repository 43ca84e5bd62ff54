"""Sidecars as the photo managers write them, each with the user's own rating and keywords: the
inputs of the keyword-reconciliation tests (test_xmp_keywords.py) and the digiKam import
(test_xmp_digikam.py)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from xmp_helpers import darktable_sidecar

LIGHTROOM = """<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0-c000 1.000000, 0000/00/00-00:00:00">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"
    xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"
   xmp:Rating="4"
   crs:Exposure2012="+0.35">
   <dc:subject>
    <rdf:Bag>
     <rdf:li>family</rdf:li>
     <rdf:li>trip</rdf:li>
     <rdf:li>wedding</rdf:li>
    </rdf:Bag>
   </dc:subject>
   <lr:hierarchicalSubject>
    <rdf:Bag>
     <rdf:li>family|trip</rdf:li>
     <rdf:li>wedding</rdf:li>
    </rdf:Bag>
   </lr:hierarchicalSubject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""

# digiKam 7.9 writes its tags in every list and a person it knows as a face region under People.
DIGIKAM = """<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"
    xmlns:digiKam="http://www.digikam.org/ns/1.0/"
    xmlns:MicrosoftPhoto="http://ns.microsoft.com/photo/1.0/"
    xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/"
    xmlns:stDim="http://ns.adobe.com/xap/1.0/sType/Dimensions#"
    xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#"
   xmp:Rating="5"
   MicrosoftPhoto:Rating="99">
   <digiKam:TagsList>
    <rdf:Seq>
     <rdf:li>Places/Beach</rdf:li>
     <rdf:li>People/Carol</rdf:li>
    </rdf:Seq>
   </digiKam:TagsList>
   <MicrosoftPhoto:LastKeywordXMP>
    <rdf:Bag>
     <rdf:li>Places/Beach</rdf:li>
     <rdf:li>People/Carol</rdf:li>
    </rdf:Bag>
   </MicrosoftPhoto:LastKeywordXMP>
   <lr:hierarchicalSubject>
    <rdf:Bag>
     <rdf:li>Places|Beach</rdf:li>
     <rdf:li>People|Carol</rdf:li>
    </rdf:Bag>
   </lr:hierarchicalSubject>
   <dc:subject>
    <rdf:Bag>
     <rdf:li>Beach</rdf:li>
     <rdf:li>Carol</rdf:li>
    </rdf:Bag>
   </dc:subject>
   <mwg-rs:Regions rdf:parseType="Resource">
    <mwg-rs:AppliedToDimensions stDim:w="640" stDim:h="480" stDim:unit="pixel"/>
    <mwg-rs:RegionList>
     <rdf:Bag>
      <rdf:li>
       <rdf:Description mwg-rs:Name="Carol" mwg-rs:Type="Face">
        <mwg-rs:Area stArea:x="0.2" stArea:y="0.3" stArea:w="0.1" stArea:h="0.15" stArea:unit="normalized"/>
       </rdf:Description>
      </rdf:li>
     </rdf:Bag>
    </mwg-rs:RegionList>
   </mwg-rs:Regions>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""


@dataclass(frozen=True)
class HostSidecar:
    """A sidecar some program wrote: the user's rating and keywords (as paths) in it."""

    host: str
    rating: int
    keywords: tuple[tuple[str, ...], ...]

    def write(self, sidecar, image) -> None:
        """Put this host's sidecar at `sidecar` (the exiftool one is made by exiftool itself)."""
        if self.host == "exiftool":
            subprocess.run(["exiftool", "-q", "-o", str(sidecar), "-XMP-dc:Subject=holiday",
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
