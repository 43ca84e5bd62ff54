"""A small example collection made from the photos that ship inside the insightface wheel.

`t1.jpg` is a group of six people; `Tom_Hanks_54745.png` a 112-px face crop. From them we make
what a photographer's folder holds: the person alone (a good frame, a soft one, a dark one),
the person in a group, and a group without the person. The reference is a mirrored copy, so
the reference and the collection are not the same picture.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile

from PIL import Image, ImageEnhance, ImageFilter, ImageOps

PACKAGE_IMAGES = ("insightface", "data", "images")


def package_image(name: str) -> str:
    """Path of a photo shipped inside the insightface wheel (found without importing insightface)."""
    spec = importlib.util.find_spec(PACKAGE_IMAGES[0])
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the demo photos ship with the insightface package, which is not installed")
    return os.path.join(spec.submodule_search_locations[0], *PACKAGE_IMAGES[1:], name)


def portrait_from_crop(crop: Image.Image, size: int = 480) -> Image.Image:
    """A tight 112-px face crop, enlarged and given the margin a detector expects around a face."""
    face = crop.convert("RGB").resize((size // 2, size // 2), Image.Resampling.LANCZOS)
    canvas = ImageOps.expand(face, border=size // 4, fill=(128, 124, 120))
    return canvas.filter(ImageFilter.GaussianBlur(0.6))  # soften the enlargement's ringing only


def make_demo_collection(folder: str | None = None) -> tuple[str, str]:
    """Write the example photos into `folder` (a new temp dir by default); return (folder, reference)."""
    folder = folder or tempfile.mkdtemp(prefix="photorank-demo-")
    os.makedirs(folder, exist_ok=True)
    person = portrait_from_crop(Image.open(package_image("Tom_Hanks_54745.png")))
    group = Image.open(package_image("t1.jpg")).convert("RGB")

    reference = os.path.join(folder, "reference", "person.jpg")
    os.makedirs(os.path.dirname(reference), exist_ok=True)
    ImageOps.mirror(person).save(reference, quality=92)

    collection = os.path.join(folder, "collection")
    os.makedirs(collection, exist_ok=True)
    person.save(os.path.join(collection, "portrait.jpg"), quality=92)
    person.filter(ImageFilter.GaussianBlur(4)).save(os.path.join(collection, "portrait_soft.jpg"), quality=92)
    ImageEnhance.Brightness(person).enhance(0.25).save(os.path.join(collection, "portrait_dark.jpg"), quality=92)
    with_person = group.copy()
    with_person.paste(person.resize((240, 240), Image.Resampling.LANCZOS), (1020, 40))
    with_person.save(os.path.join(collection, "group_with_person.jpg"), quality=92)
    group.save(os.path.join(collection, "group_without_person.jpg"), quality=92)
    return collection, reference


def explanation(collection: str, reference: str) -> str:
    """What the demo shows, said before its result."""
    return (
        f"photorank demo: the reference {reference} is one person's face; the collection {collection} holds\n"
        "  portrait.jpg (that person, sharp), portrait_soft.jpg (out of focus), portrait_dark.jpg (underexposed),\n"
        "  group_with_person.jpg (the person among six others) and group_without_person.jpg (six other people).\n"
        "Expect the four photos with the person, best first, with the reasons for each score, and the group\n"
        "without them counted as 'without'. The same command on your photos: photorank rank --ref YOU.jpg FOLDER"
    )
