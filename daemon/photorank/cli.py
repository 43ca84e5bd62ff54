"""The `photorank` command line: a thin layer over the library API in ranking.py."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Iterable, Sequence

from . import __version__
from .collection import check_output_file, require_photos
from .config import default_config_path, load_config
from .errors import PhotorankError, UsageError
from .index import collect_images, index_files
from .ranking import RankingReport, RankRequest, Reference, rank_collection
from .records import DetectedFace

EXIT_OK, EXIT_USAGE, EXIT_FAILED = 0, 2, 1
EXIT_CODES = """exit codes:
  0    done: every file read (rank: the person found at least once)
  1    done, but some files could not be read or nothing was found (no photos, the person in
       none), or the run could not go on (a reference without a face, a model missing, a wrong
       configuration file)
  2    usage: a bad option, or a photo, folder or reference that does not
       exist, or an output file that cannot be written
  130  interrupted (what was analysed is cached: run again to resume)
errors and the progress bar go to stderr; results to stdout (or -o FILE)."""
WITH_EXIT_CODES = {"epilog": EXIT_CODES, "formatter_class": argparse.RawDescriptionHelpFormatter}


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):  # file names that are not UTF-8 print as their own bytes
            stream.reconfigure(errors="surrogateescape")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except PhotorankError as error:
        print(f"photorank: {error}", file=sys.stderr)
        return EXIT_USAGE if error.kind in ("usage", "not_found") else EXIT_FAILED
    except KeyboardInterrupt:
        print("photorank: interrupted; what was analysed is cached, run again to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`photorank ... | head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="photorank",
        description="Find every photo of a person from one reference photo and rank them as a photographer would.",
        **WITH_EXIT_CODES,
    )
    parser.add_argument("--version", action="version", version=f"photorank {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    rank = commands.add_parser("rank", help="rank the photos a person is in, best first", **WITH_EXIT_CODES)
    rank.add_argument("--ref", action="append", required=True, metavar="REF", help="reference photo of the person (repeatable)")
    rank.add_argument("--ref-face", type=positive_int, metavar="N", help="use face N (1 = leftmost) of the reference instead of the largest")
    add_collection_arguments(rank)
    rank.add_argument("--top", type=positive_int, metavar="N", help="keep only the N best photos")
    rank.add_argument("--best-of-burst", action="store_true", help="keep only the best photo of each burst or near-duplicate group")
    rank.add_argument("--save-reference-crop", metavar="FILE", help="save the face used from each reference (side by side) as an image")
    rank.add_argument("--person", metavar="NAME", help="the person's name, for keywords and face regions (needed by --write-xmp)")
    rank.add_argument("--write-xmp", action="store_true", help="write stars, keywords and the face region into XMP sidecars")
    add_xmp_arguments(rank)
    rank.add_argument("--overwrite-ratings", action="store_true", default=None, help="replace ratings the user set (default: keep them; rejects are always kept)")
    rank.add_argument(
        "--unrated", type=star_list, metavar="N,N",
        help="ratings that count as not rated and may be replaced (default 0; darktable's default import rating is 1: use 0,1)",
    )
    rank.set_defaults(run=run_rank)

    undo = commands.add_parser("undo", help="take photorank's ratings, keywords and regions out of sidecars", **WITH_EXIT_CODES)
    undo.add_argument("paths", nargs="+", metavar="PATH", help="photos and folders")
    undo.add_argument("-r", "--recursive", action="store_true", help="look through sub-folders too")
    undo.add_argument("--person", metavar="NAME", help="only this person's data (default: all of photorank's)")
    add_xmp_arguments(undo)
    undo.add_argument("--config", metavar="FILE", help="configuration file (default: the user's config.toml, if any)")
    undo.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    undo.set_defaults(run=run_undo)

    analyze = commands.add_parser("analyze", help="show every face found and its signals", **WITH_EXIT_CODES)
    add_collection_arguments(analyze)
    analyze.add_argument("-v", "--verbose", action="store_true", help="also print every face's raw signal values")
    analyze.set_defaults(run=run_analyze)

    models = commands.add_parser("models", help="list the models, where they are and whether present; fetch the missing ones")
    models.add_argument("action", nargs="?", choices=["list", "fetch"], default="list", help="list (default) or fetch")
    models.add_argument("--insightface", metavar="PACK", help="also download an insightface model pack (buffalo_l, buffalo_s) into its model root")
    models.set_defaults(run=run_models)

    config = commands.add_parser("config", help="show the configuration file's location, or the settings in force")
    config.add_argument("--path", action="store_true", help="print where the user configuration file is read from")
    config.add_argument("--config", metavar="FILE", help="a configuration file to read instead of the default one")
    config.set_defaults(run=run_config)

    demo = commands.add_parser("demo", help="rank a small example collection made from photos shipped with the installed packages")
    demo.add_argument("--folder", metavar="DIR", help="where to make the example collection (default: a new temporary folder)")
    demo.add_argument("--json", action="store_true", help="print the result as one JSON document")
    demo.set_defaults(run=run_demo)
    return parser


def add_collection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="photos and folders to look through")
    parser.add_argument("-r", "--recursive", action="store_true", help="look through sub-folders too")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the output to FILE instead of stdout")
    parser.add_argument("--engine", choices=["auto", "dlib", "insightface"], default="auto", help="face engine (default: auto)")
    parser.add_argument("--no-cache", action="store_true", help="analyse everything afresh and keep nothing")
    parser.add_argument("--cache", metavar="FILE", help="face cache file (default: in the user cache dir)")
    parser.add_argument("--workers", type=positive_int, metavar="N", help="worker processes for analysis (default: all cores)")
    parser.add_argument("--config", metavar="FILE", help="configuration file (default: the user's config.toml, if any)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def add_xmp_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--xmp-naming", choices=["auto", "name.ext.xmp", "name.xmp"],
        help="sidecar naming (default from the config: auto = the sidecars that exist, else NAME.EXT.xmp)",
    )
    parser.add_argument("--embed", action="store_true", default=None, help="also write into (or undo in) the JPEG files themselves")


def xmp_settings(args: argparse.Namespace, config: dict[str, dict]) -> dict:
    """The [xmp] config section with the command line's choices on top."""
    settings = dict(config["xmp"])
    if args.xmp_naming:
        settings["naming"] = args.xmp_naming
    if getattr(args, "overwrite_ratings", None):
        settings["overwrite_ratings"] = True
    if getattr(args, "unrated", None) is not None:
        settings["unrated"] = args.unrated
    if args.embed:
        settings["embed"] = True
    return settings


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def star_list(text: str) -> list[int]:
    try:
        stars = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        stars = [-1]
    if not stars or any(not 0 <= star <= 5 for star in stars):
        raise argparse.ArgumentTypeError(f"expected star ratings 0-5 separated by commas, got {text!r}")
    return stars


def cache_path(args: argparse.Namespace) -> str | None:
    return ":memory:" if args.no_cache else args.cache


class ProgressBar:
    """A tqdm bar on stderr, shown only on a terminal and only while there is work to do."""

    def __init__(self, enabled: bool, label: str = "analysing"):
        self.enabled = enabled and sys.stderr.isatty()  # never into logs or a caller's pipe
        self.label = label
        self.bar = None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            if done >= total:  # all answered from the cache: no bar at all
                return
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.label, unit="photo", file=sys.stderr, initial=done)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_rank(args: argparse.Namespace) -> int:
    if args.write_xmp and not (args.person and args.person.strip()):
        print("photorank: --write-xmp needs --person NAME (the name written into keywords and face regions)", file=sys.stderr)
        return EXIT_USAGE
    check_output_file(args.output, "-o")
    check_output_file(args.save_reference_crop, "--save-reference-crop")
    config = load_config(args.config)
    request = RankRequest(
        references=args.ref,
        paths=args.paths,
        recursive=args.recursive,
        reference_face=args.ref_face,
        engine=args.engine,
        cache_path=cache_path(args),
        workers=args.workers,
        best_of_burst=args.best_of_burst,
        top=args.top,
        config=config,
    )
    progress = ProgressBar(not args.quiet)
    try:
        report = rank_collection(request, progress)
    finally:
        progress.close()
    if args.save_reference_crop:
        save_reference_crop(report, args.save_reference_crop)
    written = None
    if args.write_xmp:
        from .writeback import write_back

        written = write_back(report, args.person.strip(), xmp_settings(args, config))
    emit(args, report_json(report, written) if args.json else report_text(report, written))
    report_errors(report.errors + (written.errors if written else []))
    return EXIT_FAILED if report.errors or not report.found or (written and written.errors) else EXIT_OK


def save_reference_crop(report: RankingReport, path: str) -> None:
    from .reference_view import reference_sheet

    try:
        reference_sheet(report.references).save(path)
    except (OSError, ValueError) as error:  # an unwritable place or a name without an image extension
        raise PhotorankError(f"cannot save the reference crop to {path}: {error}") from error
    print(f"photorank: the face used from each reference is in {path}", file=sys.stderr)


def run_undo(args: argparse.Namespace) -> int:
    from .writeback import undo_paths

    paths, folders = collect_images(args.paths, args.recursive)
    require_photos(paths, folders, args.recursive)
    person = args.person.strip() if args.person else None
    summary = undo_paths(paths, person, xmp_settings(args, load_config(args.config)))
    if args.json:
        print(json.dumps(summary.as_dict(), indent=2))
    else:
        print(writeback_text(summary))
    report_errors(summary.errors)
    return EXIT_FAILED if summary.errors else EXIT_OK


def writeback_text(summary) -> str:
    counts = ", ".join(f"{count} {action}" for action, count in sorted(summary.actions.items())) or "nothing to do"
    lines = [f"sidecars: {counts}"]
    lines += [f"  {path}: {note}" for path, note in summary.notes]
    return "\n".join(lines)


def run_analyze(args: argparse.Namespace) -> int:
    check_output_file(args.output, "-o")
    config = load_config(args.config)
    files, folders = collect_images(args.paths, args.recursive)
    require_photos(files, folders, args.recursive)
    progress = ProgressBar(not args.quiet)
    try:
        engine, records = index_files(files, folders, args.engine, cache_path(args), args.workers, config, progress)
    finally:
        progress.close()
    from .ranking import faces_left_to_right

    document = {
        "engine": engine.id,
        "results": [
            {
                "path": path,
                "width": record.width,
                "height": record.height,
                "captured_at": record.captured_at,
                "image_signals": record.image_signals,
                "faces": [face_json(face) for face in faces_left_to_right(record.faces)],
            }
            for path, record in sorted(records.items())
            if not record.error
        ],
        "errors": [{"path": path, "error": record.error} for path, record in sorted(records.items()) if record.error],
    }
    if args.json:
        emit(args, json.dumps(document, indent=2))
    else:
        from .describe import describe_face

        lines = [f"engine: {engine.id}"]
        for result in document["results"]:
            lines.append(f"{result['path']}: {len(result['faces'])} face(s)")
            for number, face in enumerate(result["faces"], start=1):
                lines.append(f"  face {number} at {box_text(face['box'])}: {describe_face(face['signals'], config['scoring'])}")
                if args.verbose:
                    raw = ", ".join(f"{k} {v:.2f}" for k, v in face["signals"].items() if isinstance(v, (int, float)))
                    lines.append(f"    {raw}")
        emit(args, "\n".join(lines))
    report_errors((e["path"], e["error"]) for e in document["errors"])
    return EXIT_FAILED if document["errors"] or not document["results"] else EXIT_OK


def box_text(box) -> str:
    x, y, w, h = box
    return f"x {x}, y {y}, {w}x{h} px"


def report_errors(errors: Iterable[tuple[str, str]]) -> None:
    """Per-file errors, on stderr whatever the output (the JSON document lists them too)."""
    for path, error in errors:
        print(f"photorank: {path}: {error}", file=sys.stderr)


def face_json(face: DetectedFace) -> dict:
    return {
        "box": list(face.box),
        "detector_score": round(face.detector_score, 3),
        "signals": {name: (round(value, 4) if isinstance(value, float) else value) for name, value in face.signals.items()},
    }


def report_json(report: RankingReport, written=None) -> str:
    document = {
        "engine": report.engine,
        "threshold": report.threshold,
        "references": [
            {"path": ref.path, "face": ref.face_number, "faces": ref.faces, "box": list(ref.box)} for ref in report.references
        ],
        "results": [
            {
                "path": result.path,
                "rank": result.rank,
                "score": result.score,
                "stars": result.stars,
                "kind": result.kind,
                "similarity": result.similarity,
                "faces": result.faces,
                "prominent_faces": result.prominent_faces,
                "target_face": face_json(result.target_face),
                "signals": face_json(result.target_face)["signals"],
                "components": result.components,
                "reasons": result.reasons,
                "burst": result.burst,
                "best_of_burst": result.best_of_burst,
                "width": result.width,
                "height": result.height,
                "captured_at": result.captured_at,
            }
            for result in report.results
        ],
        "found": report.found,
        "not_found": report.not_found,
        "errors": [{"path": path, "error": error} for path, error in report.errors],
    }
    if written is not None:
        document["xmp"] = written.as_dict()
    return json.dumps(document, indent=2)


def report_text(report: RankingReport, written=None) -> str:
    lines = [f"engine {report.engine}; match threshold {report.threshold:.3f}"]
    lines += [f"reference {reference_text(ref)}" for ref in report.references]
    if report.results:
        lines.append(f"{'rank':>4} {'score':>5} {'stars':<5} {'kind':<6} {'match':>5}  photo - reasons")
    for result in report.results:
        burst = f" [burst {result.burst}{', best' if result.best_of_burst else ''}]" if result.burst else ""
        lines.append(
            f"{result.rank:>4} {result.score:>5.1f} {'*' * result.stars:<5} {result.kind:<6} {result.similarity:>5.2f}  "
            f"{result.path}{burst} - {', '.join(result.reasons)}"
        )
    shown = f" ({len(report.results)} shown)" if len(report.results) != report.found else ""
    lines.append(f"{report.found} photo(s) with the person{shown}, {report.not_found} without")
    if report.errors:
        lines.append(f"{len(report.errors)} file(s) could not be read (listed on stderr)")
    if written is not None:
        lines.append(writeback_text(written))
    return "\n".join(lines)


def reference_text(reference: Reference) -> str:
    """'alice.jpg: face 2 of 3 (numbered from the left) at x 410, y 96, 180x180 px'."""
    return (f"{reference.path}: face {reference.face_number} of {reference.faces} (numbered from the left) "
            f"at {box_text(reference.box)}")


def emit(args: argparse.Namespace, text: str) -> None:
    if getattr(args, "output", None):
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    else:
        print(text)


def run_models(args: argparse.Namespace) -> int:
    from .models import fetch_models, model_inventory

    if args.action == "list":
        if args.insightface:
            raise UsageError("--insightface PACK goes with `photorank models fetch`")
        for model in model_inventory():
            state = "present" if model.present else f"missing: {model.how_to_get}"
            print(f"{model.name:<22} {state}\n  for {model.used_for}\n  at {model.path}")
        return EXIT_OK
    for name, path in fetch_models().items():
        print(f"{name}: {path}")
    if args.insightface:
        from .faces.insightface_engine import fetch_model_pack

        print(f"insightface {args.insightface}: {fetch_model_pack(args.insightface)}")
    return EXIT_OK


def run_config(args: argparse.Namespace) -> int:
    if args.path:
        print(default_config_path())
        return EXIT_OK
    for section, values in load_config(args.config).items():
        print(f"[{section}]")
        for key, value in values.items():
            print(f"{key} = {json.dumps(value)}")
        print()
    return EXIT_OK


def run_demo(args: argparse.Namespace) -> int:
    if args.folder:
        return rank_demo(args.folder, args.json)
    with tempfile.TemporaryDirectory(prefix="photorank-demo-") as folder:
        code = rank_demo(folder, args.json)
    print("photorank demo: the example photos were removed again; `photorank demo --folder DIR` keeps them", file=sys.stderr)
    return code


def rank_demo(folder: str, as_json: bool) -> int:
    from .demo import explanation, make_demo_collection

    collection, reference = make_demo_collection(folder)
    print(explanation(collection, reference), file=sys.stderr)
    return main(["rank", "--ref", reference, collection, "--no-cache", *(["--json"] if as_json else [])])


if __name__ == "__main__":
    sys.exit(main())
