"""Indexing and re-ranking speed, each beside a naive baseline run in the same process.

    python bench/bench_index.py [--photos N] [--camera N]

Corpus (made in a temp folder, from photos that ship in the insightface wheel and, when present,
../shared/data/people): the photos as they are (web sizes, 0.1-5 MP), plus `--camera` of them
re-encoded at 24 MP, the size a photographer's camera writes.

- cold indexing: photorank's indexer with its default engine (BlazeFace, dlib's 68 landmarks and
  ResNet run by onnxruntime; reduced decode, analysis at <= 2048 px, all cores) against the naive way
  (full-resolution decode, dlib's HOG detector upsampled once at full size as face_recognition
  does by default, one process, no cache). Faces found by each are counted, to show nothing is
  lost; photorank's time per photo on one worker is printed too. `--engine dlib` measures
  the HOG engine instead. The web-size photos are indexed twice: as they are (50 with the shared
  photos), where photorank's fixed start (about 1.3 s: its worker processes and their models) is a
  large share, and as a first import of `--import-photos` (400) photos, the size of a real
  import, made of them and changed copies (mirrored, darker: other files, other pixels).
- stages: where one worker's CPU time goes on the web-size photos and on the 24 MP ones (decode,
  faces, face signals, image signals and thumbnail), per photo, and the cost per face of the
  photographer's signals.
- warm re-rank: `photorank rank --json` end to end (a new process, as a user runs it) over a
  folder of --photos cached photos, against ranking it with --no-cache.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))  # the one-shot helpers
from oneshot import index_paths, rank_collection  # noqa: E402
from photorank.api import RankRequest  # noqa: E402
from photorank.demo import make_demo_collection, package_image  # noqa: E402
from photorank.analysis import collect_images, whole_frame  # noqa: E402
from photorank.faces import FaceEngine, load_engine  # noqa: E402
from photorank.faces.dlib_engine import hog_detector  # noqa: E402
from photorank.faces.dlib_models import RESNET, landmark_predictor, model_path  # noqa: E402
from photorank.images import load_image  # noqa: E402
from photorank.signals import measure_face  # noqa: E402

SHARED_PEOPLE = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "people")
CAMERA_SIZE = (6000, 4000)


def source_photos() -> list[str]:
    photos = [package_image("t1.jpg")]
    if os.path.isdir(SHARED_PEOPLE):
        photos += sorted(os.path.join(SHARED_PEOPLE, name) for name in os.listdir(SHARED_PEOPLE))
    return photos


def make_corpus(folder: str, camera_count: int) -> list[str]:
    os.makedirs(folder)
    for index, path in enumerate(source_photos()):
        shutil.copy(path, os.path.join(folder, f"{index:03d}_{os.path.basename(path)}"))
    for index, path in enumerate(source_photos()[:camera_count]):
        image = Image.open(path).convert("RGB")
        scale = max(CAMERA_SIZE) / max(image.size)
        image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC).save(
            os.path.join(folder, f"camera_{index:03d}.jpg"), quality=90
        )
    return collect_images([folder])[0]


def naive_index(paths: list[str]) -> int:
    """Full-resolution decode, HOG upsampled once at full size, dlib's own ResNet face by face,
    one process, nothing cached."""
    import dlib

    detector, landmarks = hog_detector(), landmark_predictor()
    encoder = dlib.face_recognition_model_v1(model_path(RESNET))
    faces = 0
    for path in paths:
        try:
            pixels = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
        except OSError:
            continue
        for rect in detector(pixels, 1):
            shape = landmarks(pixels, rect)
            encoder.compute_face_descriptor(pixels, shape)
            faces += 1
    return faces


def timed_index(paths: list[str], engine: str | None, workers: int | None) -> tuple[float, int, str]:
    """Seconds to index `paths` into a new cache, the faces found, and the engine's id."""
    cache = os.path.join(tempfile.mkdtemp(), "faces.sqlite")
    start = time.perf_counter()
    used, records = index_paths(paths, engine=engine, cache_path=cache, workers=workers)
    return time.perf_counter() - start, sum(len(r.faces) for r in records.values()), used.id


def bench_cold(paths: list[str], label: str, engine: str | None) -> float:
    ours, ours_faces, engine_id = timed_index(paths, engine, None)
    one_worker, _, _ = timed_index(paths, engine, 1)
    start = time.perf_counter()
    naive_faces = naive_index(paths)
    naive = time.perf_counter() - start
    ratio = naive / ours
    print(
        f"cold index, {label}: {len(paths)} photos | photorank ({engine_id}) {len(paths) / ours:.2f} photos/s,"
        f" {ours_faces} faces, {1000 * one_worker / len(paths):.0f} ms a photo on one worker"
        f" | naive {len(paths) / naive:.2f} photos/s, {naive_faces} faces | speed-up x{ratio:.1f}"
    )
    return ratio


def bench_stages(paths: list[str], label: str, engine_name: str | None) -> None:
    """Where one worker's time goes, stage by stage, as analysis.analyse runs them on each photo:
    CPU time of this process with one thread per pool, as a worker runs (analysis.start_worker),
    so that the other jobs of a shared machine move the figures less than they move wall time."""
    import cv2
    from threadpoolctl import threadpool_limits

    engine = load_engine(engine_name or "auto")
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        with threadpool_limits(1):
            stages, faces = _stage_seconds(paths, engine)
    finally:
        cv2.setNumThreads(threads)
    total = sum(stages.values())
    print(f"per-stage CPU times on one process ({engine.id}), {label}: {len(paths)} photos, {faces} faces: "
          + "; ".join(f"{stage} {1000 * seconds / len(paths):.0f} ms a photo ({100 * seconds / total:.0f}%)"
                      for stage, seconds in stages.items()))
    print(f"signals: {1000 * stages['face signals'] / max(1, faces):.1f} ms per face")


def _stage_seconds(paths: list[str], engine: FaceEngine) -> tuple[dict[str, float], int]:
    engine.detect(load_image(paths[0], max_side=engine.max_side).pixels)  # models loaded outside the timing
    stages = dict.fromkeys(("decode", "faces (detect, landmarks, embed)", "face signals", "image signals + thumbnail"), 0.0)
    faces = 0
    for path in paths:
        start = time.process_time()
        image = load_image(path, max_side=engine.max_side)
        decoded = time.process_time()
        found = engine.detect(image.pixels)
        detected = time.process_time()
        for face in found:
            measure_face(image.pixels, face, block_px=8.0 * image.scale)
        measured = time.process_time()
        whole_frame(image.pixels)
        finished = time.process_time()
        for stage, seconds in zip(stages, (decoded - start, detected - decoded, measured - detected, finished - measured)):
            stages[stage] += seconds
        faces += len(found)
    return stages, faces


def changed_copies(sources: list[str], count: int, folder: str) -> list[str]:
    """`count` distinct photos in `folder`: the sources, then again mirrored, then darker, and so on
    (other pixels and another file each time: nothing is found in a cache)."""
    os.makedirs(folder)
    paths = []
    for index in range(count):
        image = Image.open(sources[index % len(sources)]).convert("RGB")
        variant = index // len(sources)
        if variant % 2:
            image = ImageOps.mirror(image)
        image = ImageEnhance.Brightness(image).enhance(1.0 - 0.04 * (variant // 2))
        paths.append(os.path.join(folder, f"{index:04d}.jpg"))
        image.save(paths[-1], quality=88)
    return paths


def make_rerank_folder(folder: str, count: int) -> tuple[str, str]:
    """`count` distinct photos: the example collection and the corpus in slightly changed copies."""
    collection, reference = make_demo_collection(os.path.join(folder, "demo"))
    photos = os.path.join(folder, "photos")
    # the person's own photos first, so that even a small folder has them in it (no person, exit 1)
    changed_copies(collect_images([collection])[0] + source_photos(), count, photos)
    return photos, reference


def run_cli(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "photorank.cli", *args], check=True, capture_output=True)
    return time.perf_counter() - start


def bench_warm(count: int) -> None:
    folder = tempfile.mkdtemp()
    photos, reference = make_rerank_folder(folder, count)
    cache = os.path.join(folder, "faces.sqlite")
    cold = run_cli("rank", "--ref", reference, photos, "--json", "--quiet", "--cache", cache)
    warm = min(run_cli("rank", "--ref", reference, photos, "--json", "--quiet", "--cache", cache) for _ in range(3))
    report = rank_collection(RankRequest(references=[reference], paths=[photos]), cache_path=cache)
    print(
        f"re-rank of {count} photos ({len(report.results)} with the person), end to end in a new process:"
        f" warm {warm:.2f} s | cold {cold:.1f} s | x{cold / warm:.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=300, help="photos in the re-rank folder")
    parser.add_argument("--camera", type=int, default=12, help="24 MP photos in the cold-index corpus")
    parser.add_argument("--import-photos", type=int, default=400,
                        help="web-size photos in the first-import corpus (the web-size photos and changed copies; 0: none)")
    parser.add_argument("--engine", help="photorank's face engine (default: the configured one, auto)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        paths = make_corpus(os.path.join(folder, "corpus"), args.camera)
        web = [p for p in paths if not os.path.basename(p).startswith("camera_")]
        camera = [p for p in paths if os.path.basename(p).startswith("camera_")]
        print(f"machine: {os.cpu_count()} cores")
        bench_cold(web, "web-size photos as published", args.engine)
        if args.import_photos:
            first_import = changed_copies(web, args.import_photos, os.path.join(folder, "import"))
            bench_cold(first_import, "a first import: those photos and changed copies", args.engine)
        if camera:
            bench_cold(camera, "24 MP camera-size JPEGs", args.engine)
        bench_stages(web, "web-size", args.engine)
        if camera:
            bench_stages(camera, "24 MP", args.engine)
    bench_warm(args.photos)


if __name__ == "__main__":
    main()
