"""Identity benchmark for the dlib engine: how well one reference photo finds a person.

    python bench/eval_identity.py                       # everything, work files in /tmp/photorank_eval
    python bench/eval_identity.py --skip-smiles --skip-augment

Builds its evaluation sets in a work folder (degraded copies of every single-person photo of
../shared/data/people and of insightface's t1.jpg, upscaled SMILEsmileD crops), indexes them
through the library API with a face cache (a second run analyses nothing again) and prints:

1. same-person / different-person similarity on the people photos (all photo pairs);
2. per degradation: recall of the person's other photos used as references, and false matches
   of degraded strangers, at candidate thresholds;
3. false-match rate of ~1000 LFW-derived strangers against every reference;
4. whether a mirrored reference or dlib's `num_jitters` widens the margin.

Scores are photo level, as the ranking sees them: the best similarity over the faces found in a
photo (a photo where no face is found scores -1: a miss).
See docs/calibration.md for the method and the results.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections import defaultdict

import numpy as np
from PIL import Image, ImageFilter, ImageOps

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))  # one-shot helpers, data labels
from oneshot import index_paths  # noqa: E402
from shared_data import DISTRACTORS, identity, largest  # noqa: E402
from photorank.faces.dlib_engine import landmarks_in_box  # noqa: E402
from photorank.images import load_image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.join(os.path.dirname(REPO), "shared", "data")
THRESHOLDS = (0.80, 0.84, 0.86, 0.88, 0.89, 0.90, 0.905, 0.91, 0.9125, 0.915, 0.9175, 0.92, 0.925)
BASE_WIDTH = 1000  # degradations are defined at about this width
NO_FACE = -1.0


# --------------------------------------------------------------------------- people photos


def source(filename: str) -> str:
    """Copies of one picture share a source (obama_2 / obama_2_rgba, obama_6_240p / _720p)."""
    stem = os.path.splitext(filename)[0]
    match = re.match(r"^(.*?_\d+)", stem)
    return match.group(1) if match else stem


def group_people(filename: str, names: set[str]) -> set[str]:
    stem = os.path.splitext(filename)[0]
    return {name for name in names if name in stem}


def photo_score(record, embedding: np.ndarray) -> float:
    """The ranking's view of one photo for one reference embedding: its best face."""
    if record is None or record.error or not record.faces:
        return NO_FACE
    return max(float(np.dot(face.embedding, embedding)) for face in record.faces)


# --------------------------------------------------------------------------- degradations


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    values = values / 255.0
    return np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(values: np.ndarray) -> np.ndarray:
    values = np.clip(values, 0.0, 1.0)
    out = np.where(values <= 0.0031308, values * 12.92, 1.055 * values ** (1 / 2.4) - 0.055)
    return np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)


def exposure(image: Image.Image, stops: float) -> Image.Image:
    linear = srgb_to_linear(np.asarray(image, dtype=np.float64))
    return Image.fromarray(linear_to_srgb(linear * 2.0**stops))


def motion_blur(image: Image.Image, length: int) -> Image.Image:
    import cv2

    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    rotation = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), 30, 1.0)
    kernel = cv2.warpAffine(kernel, rotation, (length, length))
    kernel /= kernel.sum()
    return Image.fromarray(cv2.filter2D(np.asarray(image), -1, kernel))


def noise(image: Image.Image, sigma: float, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    pixels = np.asarray(image, dtype=np.float32) + rng.normal(0.0, sigma, np.asarray(image).shape)
    return Image.fromarray(np.clip(np.round(pixels), 0, 255).astype(np.uint8))


def face_scaled(image: Image.Image, face_width: float, target: int) -> Image.Image:
    factor = target / face_width
    return image.resize((max(8, round(image.width * factor)), max(8, round(image.height * factor))), Image.Resampling.LANCZOS)


def lfw_crop(image: Image.Image, box, side: int = 250, face_px: int = 100) -> Image.Image:
    """LFW-style: a square around the face, scaled so the face box is about `face_px` of `side`."""
    x, y, w, h = box
    span = w * side / face_px
    cx, cy = x + w / 2, y + h / 2
    crop = (round(cx - span / 2), round(cy - span / 2), round(cx + span / 2), round(cy + span / 2))
    return image.crop(crop).resize((side, side), Image.Resampling.LANCZOS)  # outside the frame: black, as LFW


# name -> (function(image, box, seed) -> image, JPEG quality of the saved file)
def degradations(width: int):
    s = width / BASE_WIDTH  # blur and motion are given for a ~1000 px wide picture
    return {
        "blur_s2": (lambda im, box, seed: im.filter(ImageFilter.GaussianBlur(2 * s)), 95),
        "blur_s4": (lambda im, box, seed: im.filter(ImageFilter.GaussianBlur(4 * s)), 95),
        "motion_15px": (lambda im, box, seed: motion_blur(im, max(3, round(15 * s)) | 1), 95),
        "dark_2stops": (lambda im, box, seed: exposure(im, -2.0), 95),
        "bright_1.5stops": (lambda im, box, seed: exposure(im, 1.5), 95),
        "jpeg_q15": (lambda im, box, seed: im, 15),
        "lfw_250px": (lambda im, box, seed: lfw_crop(im, box), 75),
        "face_50px": (lambda im, box, seed: face_scaled(im, box[2], 50), 90),
        "face_40px": (lambda im, box, seed: face_scaled(im, box[2], 40), 90),
        "grayscale": (lambda im, box, seed: ImageOps.grayscale(im).convert("RGB"), 95),
        "noise_s12": (lambda im, box, seed: noise(im, 12.0, seed), 95),
        "rotate_10": (lambda im, box, seed: im.rotate(10, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(128, 128, 128)), 95),
        "mirror": (lambda im, box, seed: ImageOps.mirror(im), 95),
        "lfw_250px_dark_jpeg30": (lambda im, box, seed: exposure(lfw_crop(im, box), -1.5), 30),
    }


def make_degraded(sources: dict[str, tuple[str, tuple, int]], folder: str) -> dict[str, tuple[str, str]]:
    """Write every degradation of every source photo once; {path: (source file, degradation)}."""
    made = {}
    for index, (name, (path, box, full_width)) in enumerate(sorted(sources.items())):
        original = Image.fromarray(load_image(path, max_side=2048).pixels)
        factor = min(1.0, BASE_WIDTH / original.width)
        base = original.resize((round(original.width * factor), round(original.height * factor)), Image.Resampling.LANCZOS) if factor < 1.0 else original
        base_box = tuple(v * base.width / full_width for v in box)  # boxes are in full-size pixels
        for kind, (function, quality) in degradations(base.width).items():
            os.makedirs(os.path.join(folder, kind), exist_ok=True)
            out = os.path.join(folder, kind, os.path.splitext(name)[0] + ".jpg")
            made[out] = (name, kind)
            if not os.path.exists(out):  # deterministic: the face cache recognises unchanged content
                function(base, base_box, index).save(out, quality=quality)
    return made


# --------------------------------------------------------------------------- statistics


def rate(values, threshold: float) -> float:
    values = np.asarray(values)
    return float((values >= threshold).mean()) if len(values) else float("nan")


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row) + " |")
    return "\n".join(lines)


def describe(values) -> str:
    v = np.asarray(values)
    return f"n={len(v)} min={v.min():.3f} p1={np.percentile(v, 1):.3f} p5={np.percentile(v, 5):.3f} median={np.median(v):.3f} p95={np.percentile(v, 95):.3f} p99={np.percentile(v, 99):.3f} max={v.max():.3f}"


# --------------------------------------------------------------------------- evaluation


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--work", default=os.path.join("/tmp", "photorank_eval"), help="evaluation sets and face cache")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--engine", help="face engine (default: the configured one, auto)")
    parser.add_argument("--smiles", type=int, default=1000, help="how many SMILEsmileD crops to use as strangers")
    parser.add_argument("--skip-smiles", action="store_true")
    parser.add_argument("--skip-augment", action="store_true", help="skip the mirror / num_jitters study")
    args = parser.parse_args(argv)

    people_dir = os.path.join(args.data, "people")
    if not os.path.isdir(people_dir):
        print(f"no shared data at {people_dir}", file=sys.stderr)
        return 2
    os.makedirs(args.work, exist_ok=True)
    cache = os.path.join(args.work, "faces.sqlite")
    t1 = find_t1()
    started = time.time()

    # ---- 1. the people photos, all pairs
    files = sorted(f for f in os.listdir(people_dir) if not f.startswith("."))
    names = {identity(f) for f in files if not f.startswith("group_")}
    truth = {f: (group_people(f, names) if f.startswith("group_") else {identity(f)}) for f in files}
    paths = [os.path.join(people_dir, f) for f in files] + ([t1] if t1 else [])
    engine, records = index_paths(paths, engine=args.engine, cache_path=cache, workers=args.workers)
    records = {os.path.basename(p): r for p, r in records.items()}
    if t1:
        # insightface's t1.jpg is a cast photo of six; its leftmost face is Jennifer Aniston (checked by
        # eye after dlib matched her at 0.92-0.96 with every Aniston photo). The five others are strangers.
        truth["t1.jpg"] = {"jennifer_aniston"}
    singles = [f for f in files if not f.startswith("group_")]
    missing = [f for f in singles if not records[f].faces]
    references = {f: largest(records[f].faces) for f in singles if records[f].faces}
    print(f"engine {engine.id}; current threshold {engine.match_threshold}")
    print(f"{len(references)} single-person photos with a face (no face in: {missing or 'none'}), "
          f"{len(names - DISTRACTORS)} reference people + {len(DISTRACTORS & names)} distractors, "
          f"{len(files) - len(singles)} group photos{', t1.jpg (Jennifer Aniston + 5 strangers)' if t1 else ''}\n")

    genuine, impostor, duplicates = [], [], []
    worst_genuine, worst_impostor = (2.0, None), (-2.0, None)
    for ref, face in references.items():
        person = identity(ref)
        for other, record in records.items():
            if other == ref:
                continue
            score = photo_score(record, face.embedding)
            if source(other) == source(ref):
                duplicates.append(score)
            elif person in truth[other]:
                genuine.append(score)
                if score < worst_genuine[0]:
                    worst_genuine = (score, f"{ref} -> {other}")
            else:
                impostor.append(score)
                if score > worst_impostor[0]:
                    worst_impostor = (score, f"{ref} -> {other}")
    print("## 1. People photos, every single-person photo as reference vs every other photo")
    print(f"same person     : {describe(genuine)}   lowest: {worst_genuine[1]}")
    print(f"different people: {describe(impostor)}   highest: {worst_impostor[1]}")
    print(f"copies of one picture (not counted): min={min(duplicates):.3f}")
    stranger_faces = face_level_strangers(references, records, truth)
    print(f"face level, every face of another person (in group photos: the faces that are not the person): "
          f"{describe([s for s, _ in stranger_faces])}   highest: {max(stranger_faces)[1]}")
    print(f"margin (lowest same - highest different): {min(genuine) - max(impostor):+.3f}\n")

    # ---- 2. degraded copies
    sources = {f: (os.path.join(people_dir, f), references[f].box, records[f].width) for f in references}
    if t1:  # degraded strangers; the degradations that follow a face follow the largest one
        sources["t1.jpg"] = (t1, largest(records["t1.jpg"].faces).box, records["t1.jpg"].width)
    degraded_dir = os.path.join(args.work, "degraded")
    made = make_degraded(sources, degraded_dir)
    _, degraded_records = index_paths(sorted(made), engine=args.engine, cache_path=cache, workers=args.workers)
    kinds = sorted({kind for _, kind in made.values()}, key=list(degradations(BASE_WIDTH)).index)
    genuine_by_kind, impostor_by_kind, detected = defaultdict(list), defaultdict(list), defaultdict(list)
    worst_by_kind = {}
    for path, (name, kind) in made.items():
        record = degraded_records[path]
        is_person = name != "t1.jpg"
        if is_person:
            detected[kind].append(bool(record.faces))
        people_here = truth.get(name, set())
        for ref, face in references.items():
            if ref == name or source(ref) == source(name):
                continue
            score = photo_score(record, face.embedding)
            if identity(ref) in people_here:
                genuine_by_kind[kind].append(score)
                if score < worst_by_kind.get(kind, (2.0,))[0]:
                    worst_by_kind[kind] = (score, f"{ref} -> {kind}/{name}")
            else:
                impostor_by_kind[kind].append(score)
    print("## 2. Degraded copies (query) vs the person's other photos (references)")
    print("recall = share of (degraded photo, other reference photo of the person) pairs at or above the threshold")
    shown = (0.88, 0.90, 0.91, 0.915, 0.92)
    rows = []
    for kind in kinds:
        g, i = genuine_by_kind[kind], impostor_by_kind[kind]
        rows.append([kind, f"{sum(detected[kind])}/{len(detected[kind])}", float(np.median(g)), float(np.min(g))]
                    + [rate(g, t) for t in shown] + [float(np.max(i))])
    print(table(["degradation", "face found", "median same", "min same"] + [f"recall@{t}" for t in shown] + ["max stranger"], rows))
    all_g = [s for k in kinds for s in genuine_by_kind[k]]
    all_i = [s for k in kinds for s in impostor_by_kind[k]]
    print(f"\nall degradations, same person: {describe(all_g)}")
    print(f"all degradations, strangers   : {describe(all_i)}")
    print("worst same-person pair per degradation: " + "; ".join(f"{k}: {v[0]:.3f} {v[1]}" for k, v in worst_by_kind.items()))

    # clean photos + degraded photos together, as a collection per reference: precision and recall
    print("\nclean + degraded collection, every single-person photo of a reference person as the reference:")
    rows = []
    for t in THRESHOLDS:
        tp = sum(s >= t for s in genuine + all_g)
        fn = len(genuine) + len(all_g) - tp
        fp = sum(s >= t for s in impostor + all_i)
        rows.append([t, tp, fn, fp, tp / max(1, tp + fp), tp / max(1, tp + fn)])
    print(f"({len(genuine) + len(all_g)} same-person pairs, {len(impostor) + len(all_i)} different-person pairs)")
    print(table(["threshold", "found", "missed", "wrongly found", "precision", "recall"], rows))
    print()

    # ---- 3. strangers pool
    smiles = None
    if not args.skip_smiles:
        smiles = smiles_embeddings(args.data, args.work, args.smiles, engine)
        for method, embeddings in smiles.items():
            print(f"## 3. Strangers: {len(embeddings)} SMILEsmileD crops ({method}) vs {len(references)} references")
            sims = np.stack([embeddings @ face.embedding for face in references.values()])  # refs x strangers
            per_ref_max = sims.max(axis=1)
            top = np.dstack(np.unravel_index(np.argsort(-sims, axis=None)[:8], sims.shape))[0]
            ref_names = list(references)
            print(f"all pairs: {describe(sims.ravel())}")
            rows = [[t, f"{100 * (sims >= t).mean():.2f}%", int((sims >= t).sum()), int((per_ref_max >= t).sum())] for t in THRESHOLDS]
            print(table(["threshold", "false-match rate per pair", "pairs over", "references with >=1 false match"], rows))
            print("highest pairs: " + ", ".join(f"{ref_names[r]}~{smiles_names(args.data, args.smiles)[s]} {sims[r, s]:.3f}" for r, s in top))
            print()

        pool = smiles["crop box"]
        stranger_scores = np.concatenate([pool @ face.embedding for face in references.values()])
        print("## 3b. One collection: clean + degraded people photos + the SMILEsmileD strangers (crop box)")
        print(f"per reference: ~{len(genuine + all_g) / len(references):.0f} photos of the person, "
              f"~{(len(impostor) + len(all_i) + len(stranger_scores)) / len(references):.0f} of others")
        rows = []
        for t in THRESHOLDS:
            tp = sum(s >= t for s in genuine + all_g)
            fn = len(genuine) + len(all_g) - tp
            fp = sum(s >= t for s in impostor + all_i) + int((stranger_scores >= t).sum())
            fmr = fp / (len(impostor) + len(all_i) + len(stranger_scores))
            rows.append([t, f"{100 * fn / (tp + fn):.2f}%", f"{100 * fmr:.3f}%", tp / max(1, tp + fp), tp / max(1, tp + fn)])
        print(table(["threshold", "false non-match rate", "false-match rate", "precision", "recall"], rows))
        print()

    # ---- 4. augmented references
    if not args.skip_augment:
        augmented_references(people_dir, references, records, truth, made, degraded_records, smiles, engine)

    print(f"done in {time.time() - started:.0f} s; work files and face cache in {args.work}")
    return 0


def face_level_strangers(references, records, truth) -> list[tuple[float, str]]:
    """Similarity of every reference to every face that is someone else. In a photo holding the
    person, their face is the one closest on average to all their references."""
    by_person = defaultdict(list)
    for ref, face in references.items():
        by_person[identity(ref)].append(face.embedding)
    scores = []
    for ref, face in references.items():
        person = identity(ref)
        for other, record in records.items():
            if source(other) == source(ref) or not record.faces:
                continue
            own = None
            if person in truth[other]:
                own = int(np.argmax([np.mean([f.embedding @ e for e in by_person[person]]) for f in record.faces]))
            for number, f in enumerate(record.faces):
                if number != own:
                    scores.append((float(f.embedding @ face.embedding), f"{ref} -> {other} face {number + 1}"))
    return scores


def find_t1() -> str | None:
    try:
        import insightface
    except Exception:  # the wheel is optional: the benchmark runs without its strangers
        return None
    path = os.path.join(os.path.dirname(insightface.__file__), "data", "images", "t1.jpg")
    return path if os.path.exists(path) else None


def smiles_names(data: str, limit: int) -> list[str]:
    folder = os.path.join(data, "smiles")
    names = sorted(os.path.join(sub, f) for sub in ("neutral", "smile") for f in os.listdir(os.path.join(folder, sub)))
    return names[:limit]


def smiles_embeddings(data: str, work: str, limit: int, engine) -> dict[str, np.ndarray]:
    """Embeddings of the grey 64x64 crops, two ways, cached in the work folder:
    `detected`: upscaled to 160 px in a 40 px replicated margin, then the engine's own detect();
    `crop box`: upscaled to 160 px, landmarks and embedding in the full-crop box (no detector)."""
    names = smiles_names(data, limit)
    store = os.path.join(work, f"smiles_{limit}.npz")
    if os.path.exists(store):
        saved = np.load(store)
        return {"detected": saved["detected"], "crop box": saved["crop_box"]}
    import cv2
    import dlib

    engine.detect(np.zeros((80, 80, 3), np.uint8))  # loads the models
    detected, crop_box = [], []
    for name in names:
        grey = np.asarray(Image.open(os.path.join(data, "smiles", name)).convert("L"))
        big = cv2.resize(grey, (160, 160), interpolation=cv2.INTER_CUBIC)
        rgb = np.ascontiguousarray(np.dstack([big] * 3))
        padded = np.ascontiguousarray(cv2.copyMakeBorder(rgb, 40, 40, 40, 40, cv2.BORDER_REPLICATE))
        face = largest(engine.detect(padded))
        if face is not None:
            detected.append(face.embedding)
        points = landmarks_in_box(rgb, (0, 0, 160, 160))
        shape = dlib.full_object_detection(dlib.rectangle(0, 0, 159, 159), [dlib.point(int(x), int(y)) for x, y in points])
        crop_box.append(engine.embed_faces(rgb, [shape])[0])
    result = {"detected": np.array(detected, np.float32), "crop box": np.array(crop_box, np.float32)}
    print(f"SMILEsmileD: face found by the detector in {len(detected)}/{len(names)} upscaled crops")
    np.savez(store, detected=result["detected"], crop_box=result["crop box"])
    return result


def augmented_references(people_dir, references, records, truth, made, degraded_records, smiles, engine) -> None:
    """Reference variants computed with dlib directly (the ranking is unchanged): plain, plain +
    mirrored (best of both, or their mean), num_jitters=10. Queries stay plain embeddings."""
    import dlib

    from photorank.faces.dlib_models import LANDMARKS_68, RESNET, model_path

    predictor = dlib.shape_predictor(model_path(LANDMARKS_68))
    encoder = dlib.face_recognition_model_v1(model_path(RESNET))

    def unit(v):
        v = np.asarray(v, np.float32)
        return v / np.linalg.norm(v)

    def embed(pixels, box, jitters=0):
        x, y, w, h = box
        shape = predictor(pixels, dlib.rectangle(x, y, x + w - 1, y + h - 1))
        return unit(encoder.compute_face_descriptor(pixels, shape, num_jitters=jitters) if jitters else encoder.compute_face_descriptor(pixels, shape))

    variants = defaultdict(dict)  # variant -> tuple of reference photos -> list of embeddings
    for ref, face in references.items():
        image = load_image(os.path.join(people_dir, ref), max_side=engine.max_side)
        pixels = np.ascontiguousarray(image.pixels)
        box = tuple(round(v * image.scale) for v in face.box)
        plain = embed(pixels, box)
        mirrored_pixels = np.ascontiguousarray(pixels[:, ::-1])
        x, y, w, h = box
        mirrored = embed(mirrored_pixels, (pixels.shape[1] - x - w, y, w, h))
        jittered = embed(pixels, box, 10)
        variants["plain (as ranked today)"][(ref,)] = [face.embedding]
        variants["plain + mirror, best of"][(ref,)] = [face.embedding, mirrored]
        variants["plain + mirror, mean"][(ref,)] = [unit(face.embedding + mirrored)]
        variants["num_jitters=10"][(ref,)] = [jittered]
        variants["num_jitters=10 + mirror mean"][(ref,)] = [unit(jittered + mirrored)]
        del plain
    for first in references:  # two different photos of the person as references
        for second in references:
            if first < second and identity(first) == identity(second) and source(first) != source(second):
                pair = [references[first].embedding, references[second].embedding]
                variants["2 photos, best of (today's ranking)"][(first, second)] = pair
                variants["2 photos, mean"][(first, second)] = [unit(pair[0] + pair[1])]

    print("## 4. Augmented references (queries are plain embeddings, as in the cache)")
    rows = []
    stranger_pool = smiles["crop box"] if smiles else None
    for variant, refs in variants.items():
        genuine, impostor, g_deg, i_deg = [], [], [], []
        for used, embeddings in refs.items():
            person, used_sources = identity(used[0]), {source(r) for r in used}
            for other, record in records.items():
                if source(other) in used_sources:
                    continue
                score = max(photo_score(record, e) for e in embeddings)
                (genuine if person in truth[other] else impostor).append(score)
            for path, (name, kind) in made.items():
                if source(name) in used_sources:
                    continue
                score = max(photo_score(degraded_records[path], e) for e in embeddings)
                (g_deg if person in truth.get(name, set()) else i_deg).append(score)
        row = [variant, len(refs), min(genuine), max(impostor), min(genuine) - max(impostor),
               float(np.percentile(g_deg, 1)), rate(g_deg, 0.91), rate(g_deg, 0.915), max(i_deg)]
        if stranger_pool is not None:
            sims = np.stack([np.max([stranger_pool @ e for e in embeddings], axis=0) for embeddings in refs.values()])
            row += [f"{100 * rate(sims.ravel(), 0.91):.2f}%", f"{100 * rate(sims.ravel(), 0.915):.2f}%"]
        rows.append(row)
    header = ["reference", "cases", "min same (clean)", "max different (clean)", "margin", "p1 same (degraded)",
              "recall@0.91 (degraded)", "recall@0.915 (degraded)", "max stranger (degraded)"]
    if stranger_pool is not None:
        header += ["FMR@0.91 (smiles)", "FMR@0.915 (smiles)"]
    print(table(header, rows))
    print()


if __name__ == "__main__":
    sys.exit(main())
