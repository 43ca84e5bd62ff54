"""The `photorank` command line: a thin layer over the library, in-process or through photorankd.

With a daemon running on the default socket (or named by --daemon), rank, index, analyze and
undo ask it; otherwise, or with --no-daemon, they run a Library in this process. Either way
they print the same documents (docs/output.md).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import textwrap
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from . import __version__
from .api import PeopleRequest, Person, ProgressEvent, RankRequest, ReferenceSpec, XmpOptions
from .collection import check_output_file
from .config import default_config_path, default_settings, load_settings
from .document import progress_document
from .errors import PhotorankError, UsageError
from .scoring import star_bands
from .settings import ScoringSettings, to_tables

if TYPE_CHECKING:  # the client module loads grpc: only when a command needs a backend
    from .client import Backend

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
    # The library logs (a cache set aside, a model fetched); a command line shows those as its own lines.
    logging.basicConfig(level=logging.WARNING, format="photorank: %(message)s")
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

    rank = commands.add_parser(
        "rank", help="rank the photos a person is in, best first",
        epilog=textwrap.fill(
            f"Stars come from the score (0-100) alone, the same on every run: {star_bands(default_settings().stars)} "
            "(by default; [stars] score_thresholds in the configuration).", 92,
        ) + "\n\n" + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rank.add_argument(
        "--ref", action=InOrder, metavar="REF",
        help="reference photo of the person (repeatable); with --together or --any, of the --person before it; "
        "without it, the faces tagged --person NAME in the photos' XMP are the references",
    )
    rank.add_argument(
        "--ref-face", action=InOrder, type=positive_int, metavar="N",
        help="use face N (1 = leftmost) of the reference instead of the largest; with --together or --any, of the --ref before it",
    )
    add_collection_arguments(rank)
    rank.add_argument("--top", type=positive_int, metavar="N", help="keep only the N best photos")
    rank.add_argument("--best-of-burst", action="store_true", help="keep only the best photo of each burst or near-duplicate group")
    rank.add_argument("--save-reference-crop", metavar="FILE", help="save the face used from each reference (side by side) as an image")
    rank.add_argument(
        "--include-unsure", action="store_true",
        help="rank and rate photos where the match is unsure with the sure ones (default: listed after them, 0 stars)",
    )
    rank.add_argument(
        "--person", action=InOrder, metavar="NAME",
        help="the person's name, for keywords and face regions (needed by --write-xmp); faces tagged with it "
        "in the photos' XMP (face regions) serve as references too; "
        "for several people, --person NAME --ref PHOTO for each, with --together or --any",
    )
    several = rank.add_mutually_exclusive_group()
    several.add_argument(
        "--together", dest="mode", action="store_const", const="together",
        help="the photos all the people given are in, each as good as its worst-looking member and how they are framed together",
    )
    several.add_argument(
        "--any", dest="mode", action="store_const", const="any",
        help="the photos at least one of the people given is in, as good as the best-looking member present",
    )
    rank.add_argument("--write-xmp", action="store_true", help="write stars, keywords and the face region into XMP sidecars")
    rank.add_argument("--dry-run", action="store_true", help="with --write-xmp: say which sidecars would change, write nothing")
    add_xmp_arguments(rank)
    rank.add_argument("--overwrite-ratings", action="store_true", default=None, help="replace ratings the user set (default: keep them; rejects are always kept)")
    rank.add_argument(
        "--unrated", type=star_list, metavar="N,N",
        help="ratings that count as not rated and may be replaced (default 0; darktable's default import rating is 1: use 0,1)",
    )
    rank.set_defaults(run=run_rank, order=[])

    people = commands.add_parser("people", help="list the people named in the photos' face regions (XMP), with their counts", **WITH_EXIT_CODES)
    add_paths_arguments(people)
    people.set_defaults(run=run_people)

    undo = commands.add_parser("undo", help="take photorank's ratings, keywords and regions out of sidecars", **WITH_EXIT_CODES)
    add_paths_arguments(undo)
    undo.add_argument("--person", metavar="NAME", help="only this person's data (default: all of photorank's)")
    undo.add_argument("--dry-run", action="store_true", help="say which sidecars would change, write nothing")
    add_xmp_arguments(undo)
    add_backend_arguments(undo)
    undo.set_defaults(run=run_undo)

    analyze = commands.add_parser("analyze", help="show every face found and its signals", **WITH_EXIT_CODES)
    add_collection_arguments(analyze)
    analyze.add_argument("-v", "--verbose", action="store_true", help="also print every face's raw signal values")
    analyze.set_defaults(run=run_analyze)

    index = commands.add_parser("index", help="analyse photos ahead of time (after an import), so ranking them later is instant", **WITH_EXIT_CODES)
    add_collection_arguments(index)
    index.set_defaults(run=run_index)

    status = commands.add_parser("status", help="is photorankd running; what it holds")
    status.add_argument("--daemon", metavar="ADDRESS", help="the daemon's socket path, or HOST:PORT (default: its usual socket)")
    status.add_argument("--token-file", metavar="FILE", help="the token for a daemon on TCP (default: photorankd's)")
    status.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    status.set_defaults(run=run_status)

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


def add_paths_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH", help="photos and folders")
    parser.add_argument("--paths-from", metavar="FILE", help="read more photos and folders from FILE, one per line ('-' = stdin)")
    parser.add_argument("-r", "--recursive", action="store_true", help="look through sub-folders too")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def add_collection_arguments(parser: argparse.ArgumentParser) -> None:
    add_paths_arguments(parser)
    parser.add_argument("-o", "--output", metavar="FILE", help="write the output to FILE instead of stdout")
    parser.add_argument(
        "--progress", choices=["auto", "jsonl", "none"], default="auto",
        help="auto: a bar on a terminal; jsonl: one JSON object per event on stdout, then the JSON document on the last line",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar (--progress none)")
    add_backend_arguments(parser)


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the work runs. The library options choose a Library of this process's own."""
    parser.add_argument("--daemon", metavar="ADDRESS", help="ask the photorankd at this socket path or HOST:PORT (default: the usual socket, when one answers)")
    parser.add_argument("--no-daemon", action="store_true", help="run in this process even when photorankd is running")
    parser.add_argument("--token-file", metavar="FILE", help="the token for a daemon on TCP (default: photorankd's)")
    add_engine_arguments(parser, "runs in-process")
    parser.add_argument("--no-cache", action="store_true", help="analyse everything afresh and keep nothing (runs in-process)")
    parser.add_argument("--cache", metavar="FILE", help="face cache file (default: in the user cache dir; runs in-process)")
    parser.add_argument("--workers", type=positive_int, metavar="N", help="worker processes for analysis (default: all cores; runs in-process)")
    parser.add_argument("--config", metavar="FILE", help="configuration file (default: the user's config.toml, if any; runs in-process)")


def add_engine_arguments(parser: argparse.ArgumentParser, note: str) -> None:
    """--engine and --detector. Their choices are the registered engines (docs/engines.md), checked
    where an engine is loaded (engine_argument): listing them here would load every engine's
    code into the CLI that only talks to photorankd."""
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--engine", metavar="NAME",
                        help=f"face engine: auto, or a registered one, e.g. dlib, blazeface, insightface (default: [analysis] engine; {note})")
    choice.add_argument("--detector", metavar="NAME",
                        help=f"the engine by the detector it runs, e.g. hog (the dlib engine) or blazeface ({note})")


def engine_argument(args: argparse.Namespace) -> str | None:
    """The engine --engine or --detector names, checked against the registry; None: the config's."""
    from .faces import detector_names, engine_for_detector, engine_names

    if args.detector and args.detector not in detector_names():
        raise UsageError(f"--detector {args.detector}: choose {', '.join(detector_names())}")
    if args.engine and args.engine not in engine_names():
        raise UsageError(f"--engine {args.engine}: choose {', '.join(engine_names())}")
    return engine_for_detector(args.detector) if args.detector else args.engine


def add_xmp_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--xmp-naming", choices=["auto", "name.ext.xmp", "name.xmp"],
        help="sidecar naming (default from the config: auto = the sidecars that exist, else NAME.EXT.xmp)",
    )
    parser.add_argument("--embed", action="store_true", default=None, help="also write into (or undo in) the JPEG files themselves")


def xmp_options(args: argparse.Namespace) -> XmpOptions:
    """The command line's write-back choices (what is not given keeps the [xmp] setting)."""
    return XmpOptions(
        naming=args.xmp_naming,
        overwrite_ratings=getattr(args, "overwrite_ratings", None),
        unrated=getattr(args, "unrated", None),
        embed=args.embed,
        dry_run=args.dry_run,
    )


def collection_paths(args: argparse.Namespace) -> list[str]:
    """PATH arguments and the lines of --paths-from (a list from a program: spaces, quotes and
    any characters but newlines stay part of a name)."""
    paths = list(args.paths)
    if args.paths_from:
        try:
            if args.paths_from == "-":
                lines = sys.stdin.read().splitlines()
            else:
                with open(args.paths_from, encoding="utf-8", errors="surrogateescape") as handle:
                    lines = handle.read().splitlines()
        except OSError as error:
            raise PhotorankError(f"--paths-from {args.paths_from}: {error.strerror or error}") from error
        paths += [line for line in lines if line.strip()]
    if not paths:
        raise UsageError("no photos or folders given (PATH arguments or --paths-from FILE)")
    return paths


def open_backend(args: argparse.Namespace) -> Backend:
    """photorankd when it runs (and no option asks for a Library of our own), else in-process."""
    from .client import LocalBackend, find_daemon

    own_library = args.engine or args.detector or args.no_cache or args.cache or args.workers or args.config
    if not (args.no_daemon or own_library):
        client = find_daemon(args.daemon, args.token_file)
        if client is not None:
            return client
    elif args.daemon:
        raise UsageError("--daemon goes with neither --no-daemon nor --engine, --detector, --cache, --no-cache, --workers, --config (those are the daemon's own)")
    from .library import Library

    cache = ":memory:" if args.no_cache else args.cache
    return LocalBackend(Library(load_settings(args.config), engine=engine_argument(args), cache_path=cache, workers=args.workers))


class InOrder(argparse.Action):
    """Repeatable like action='append', and keeps --person and --ref in the order given, so each
    --ref belongs to the --person before it (people_of)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest, None) or []), values])
        namespace.order = [*namespace.order, (self.dest, values)]


def people_of(order: list[tuple[str, str | int]]) -> list[Person]:
    """`--person Alice --ref a.jpg --person Bob --ref team.jpg --ref-face 2` as the people it names."""
    people: list[Person] = []
    for option, value in order:
        if option == "person":
            people.append(Person(value))
        elif not people:
            raise UsageError(f"--{option.replace('_', '-')} {value} comes before any --person: with --together or --any, "
                             "give each person as --person NAME --ref PHOTO")
        elif option == "ref":
            people[-1].references.append(ReferenceSpec(value))
        elif not people[-1].references:
            raise UsageError(f"--ref-face {value} goes after the --ref it picks a face of")
        else:
            people[-1].references[-1].face = value
    return people


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


class ProgressBar:
    """A tqdm bar on stderr for the analysis, shown only on a terminal while there is work to do."""

    def __init__(self, enabled: bool, label: str = "analysing"):
        self.enabled = enabled
        self.label = label
        self.bar = None

    def __call__(self, event: ProgressEvent) -> None:
        if not self.enabled or event.phase not in ("indexing", "references"):
            return
        if self.bar is None:
            if event.done == event.total:
                return  # all cached: nothing to show
            from tqdm import tqdm

            self.bar = tqdm(total=event.total, desc=self.label, unit="photo", file=sys.stderr, initial=event.done)
        elif self.bar.total != event.total:
            self.bar.reset(event.total)
        self.bar.update(event.done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def jsonl_progress(event: ProgressEvent) -> None:
    print(json.dumps(progress_document(event), ensure_ascii=False), flush=True)


def run_with_progress(args: argparse.Namespace, work) -> dict:
    """`work(backend, progress)` with the progress the user asked for; the backend closed after."""
    mode = "none" if args.quiet else args.progress
    bar = ProgressBar(mode == "auto" and sys.stderr.isatty())
    progress = jsonl_progress if mode == "jsonl" else bar
    backend = open_backend(args)
    try:
        return work(backend, progress)
    finally:
        bar.close()
        backend.close()


def print_document(args: argparse.Namespace, document: dict, text) -> None:
    """The final document: one line after --progress jsonl's events, indented with --json, else text."""
    if getattr(args, "progress", None) == "jsonl" and not args.quiet:
        emit(args, json.dumps(document, ensure_ascii=False))
    elif args.json:
        emit(args, json.dumps(document, indent=2))
    else:
        emit(args, text(document))


def run_rank(args: argparse.Namespace) -> int:
    request = people_request(args) if args.mode else person_request(args)
    check_output_file(args.output, "-o")
    check_output_file(args.save_reference_crop, "--save-reference-crop")
    document = run_with_progress(args, lambda backend, progress: backend.rank(request, progress))
    if args.save_reference_crop:
        save_reference_crop(document["references"], args.save_reference_crop)
    print_document(args, document, rank_text)
    written_errors = document.get("xmp", {}).get("errors", [])
    report_errors(document["errors"] + written_errors)
    return EXIT_FAILED if document["errors"] or written_errors or not document["found"] else EXIT_OK


def person_request(args: argparse.Namespace) -> RankRequest:
    """The single-person form: `--ref PHOTO... [--person NAME]`, in any order."""
    if len(args.person or []) > 1:
        raise UsageError("several --person: rank them with --together (photos of all of them) or --any (of at least one)")
    face = (args.ref_face or [None])[-1]  # one person: the face number holds for every reference
    references = [ReferenceSpec(path, face) for path in args.ref or []]
    return RankRequest(references=references, person=(args.person or [None])[0], **ranking_choices(args))


def people_request(args: argparse.Namespace) -> PeopleRequest:
    """`--person A --ref a.jpg --person B --ref b.jpg --together|--any`; checked before any work."""
    return PeopleRequest(people=people_of(args.order), mode=args.mode, **ranking_choices(args))


def ranking_choices(args: argparse.Namespace) -> dict:
    """What a ranking for one person and for a set ask alike: the photos, how many, and write-back."""
    return {
        "paths": collection_paths(args),
        "recursive": args.recursive,
        "top": args.top,
        "best_of_burst": args.best_of_burst,
        "include_unsure": args.include_unsure,
        "write_xmp": args.write_xmp,
        "xmp": xmp_options(args),
    }


def save_reference_crop(references: list[dict], path: str) -> None:
    from .reference_view import reference_sheet

    try:
        reference_sheet([(reference["path"], reference["box"]) for reference in references]).save(path)
    except (OSError, ValueError) as error:  # an unwritable place or a name without an image extension
        raise PhotorankError(f"cannot save the reference crop to {path}: {error}") from error
    print(f"photorank: the face used from each reference is in {path}", file=sys.stderr)


def report_errors(errors: Iterable[dict]) -> None:
    """Per-file errors, on stderr whatever the output (the JSON document lists them too)."""
    for error in errors:
        print(f"photorank: {error['path']}: {error['error']}", file=sys.stderr)


def run_people(args: argparse.Namespace) -> int:
    from .regions import people_document

    document = people_document(collection_paths(args), args.recursive)
    emit(args, json.dumps(document, indent=2, ensure_ascii=False) if args.json else people_text(document))
    report_errors(document["errors"])
    return EXIT_FAILED if document["errors"] or not document["people"] else EXIT_OK


def people_text(document: dict) -> str:
    lines = [f"{person['photos']:>6} photo(s)  {person['regions']:>6} face region(s)  {person['name']}" for person in document["people"]]
    lines.append(f"{len(document['people'])} people named in {document['photos']} photo(s)"
                 if document["people"] else f"no named face regions in {document['photos']} photo(s)")
    return "\n".join(lines)


def run_undo(args: argparse.Namespace) -> int:
    person = args.person.strip() if args.person else None
    paths = collection_paths(args)
    backend = open_backend(args)
    try:
        document = backend.undo(paths, args.recursive, person, xmp_options(args))
    finally:
        backend.close()
    emit(args, json.dumps(document, indent=2) if args.json else writeback_text(document))
    report_errors(document["errors"])
    return EXIT_FAILED if document["errors"] else EXIT_OK


def run_index(args: argparse.Namespace) -> int:
    paths = collection_paths(args)
    document = run_with_progress(args, lambda backend, progress: backend.index(paths, args.recursive, progress))
    print_document(args, document, index_text)
    report_errors(document["errors"])
    return EXIT_FAILED if document["errors"] else EXIT_OK


def index_text(document: dict) -> str:
    return f"{document['photos']} photo(s): {document['analysed']} analysed now, {document['cached']} already known"


def run_status(args: argparse.Namespace) -> int:
    from .client import find_daemon
    from .rpc import default_socket

    client = find_daemon(args.daemon, args.token_file)
    if client is None:
        document = {"running": False, "address": default_socket()}
        text = f"photorankd is not running (its socket would be {default_socket()}); start it with: photorankd"
    else:
        try:
            document = {"running": True, **client.status()}
        finally:
            client.close()
        text = "\n".join(
            [f"photorankd {document['version']} at {document['address']}, pid {document['pid']}, up {document['uptime_seconds']:.0f} s",
             f"engine {document['engine']}; {document['workers']} workers, {document['queued']} photos being analysed",
             f"cache {document['cache_path']}: {document['images']} images, {document['faces']} faces; "
             f"in memory {document['index_faces']} faces ({document['index_bytes'] / 1e6:.1f} MB)",
             reindex_text(document["reindex"])]
        )
    emit(args, json.dumps(document, indent=2) if args.json else text)
    return EXIT_OK if document["running"] else EXIT_FAILED


def reindex_text(reindex: dict) -> str:
    gone = f", {reindex['gone']} gone" if reindex["gone"] else ""
    return f"re-index of photos analysed under another engine or settings: {reindex['state']}, {reindex['done']} of {reindex['total']}{gone}"


def writeback_text(written: dict) -> str:
    counts = ", ".join(f"{count} {action}" for action, count in sorted(written["files"].items())) or "nothing to do"
    lines = [f"sidecars{' (dry run, nothing written)' if written['dry_run'] else ''}: {counts}"]
    lines += [f"  {note['path']}: {note['note']}" for note in written["notes"]]
    for change in written["changes"]:  # a dry run: each file that would change, and how
        lines.append(f"  {change['path']}: would be {change['action']}")
        lines += [f"    {line}" for line in change["changes"]]
    if written["errors"]:
        lines.append(f"{len(written['errors'])} file(s) could not be written (listed on stderr)")
    return "\n".join(lines)


def run_analyze(args: argparse.Namespace) -> int:
    paths = collection_paths(args)
    check_output_file(args.output, "-o")
    scoring_settings = load_settings(args.config).scoring
    document = run_with_progress(args, lambda backend, progress: backend.analyze(paths, args.recursive, progress))
    print_document(args, document, lambda document: analyze_text(document, scoring_settings, args.verbose))
    report_errors(document["errors"])
    return EXIT_FAILED if document["errors"] or not document["results"] else EXIT_OK


def analyze_text(document: dict, scoring_settings: ScoringSettings, verbose: bool = False) -> str:
    """One plain-language line per face; with `verbose`, its raw signal values under it."""
    from .describe import describe_face

    lines = [f"engine: {document['engine']}"]
    for result in document["results"]:
        lines.append(f"{result['path']}: {len(result['faces'])} face(s)")
        for number, face in enumerate(result["faces"], start=1):
            # The photo's highlights judge its exposure along with the face's level, as in `rank`.
            seen = {**face["signals"], "image_highlights": result.get("image_signals", {}).get("image_highlights")}
            lines.append(f"  face {number} at {box_text(face['box'])}: {describe_face(seen, scoring_settings)}")
            if verbose:
                raw = ", ".join(f"{k} {v:.2f}" for k, v in face["signals"].items() if isinstance(v, (int, float)))
                lines.append(f"    {raw}")
    return "\n".join(lines)


def box_text(box) -> str:
    x, y, w, h = box
    return f"x {x}, y {y}, {w}x{h} px"


def reference_text(reference: dict) -> str:
    """'/photos/team.jpg: face 2 of 5 (numbered from the left) at x 410, y 96, 180x180 px'."""
    return (f"{reference['path']}: face {reference['face']} of {reference['faces']} (numbered from the left) "
            f"at {box_text(reference['box'])}")


def rank_text(document: dict) -> str:
    lines = [f"engine {document['engine']}; match threshold {document['threshold']:.3f}"]
    if document["people"]:
        lines += [f"{person['name']}: reference {reference_text(reference)}"
                  for person in document["people"] for reference in person["references"]]
    else:
        given = [reference for reference in document["references"] if reference["source"] != "tag"]
        lines += [f"reference {reference_text(reference)}" for reference in given]
        tagged = len(document["references"]) - len(given)
        lines += [f"references: {tagged} face(s) tagged as the person in the photos' XMP"] if tagged else []
    if document["results"]:
        lines.append(f"{'rank':>4} {'score':>5} {'stars':<5} {'kind':<8} {'match':>6}  photo - reasons ('?': unsure match)")
    for result in document["results"]:
        burst = f" [burst {result['burst']}{', best' if result['best_of_burst'] else ''}]" if result["burst"] else ""
        lines.append(
            f"{result['rank']:>4} {result['score']:>5.1f} {'*' * result['stars']:<5} {result['kind']:<8} "
            f"{result['similarity']:>5.2f}{'?' if result['match'] == 'unsure' else ' '}  "
            f"{result['path']}{burst} - {', '.join(result['reasons'])}"
        )
    shown = f" ({len(document['results'])} shown)" if len(document["results"]) != document["found"] else ""
    unsure = sum(result["match"] == "unsure" for result in document["results"])
    unsure_note = f"; {unsure} shown unsure (?), to confirm" if unsure else ""
    lines.append(f"{document['found']} photo(s) with {who_is_ranked(document)}{shown}, {document['not_found']} without{unsure_note}")
    lines += [f"not ranked: {other['path']}: {other['reason']}" for other in document["tagged_as_other"]]
    if document["errors"]:
        lines.append(f"{len(document['errors'])} file(s) could not be read (listed on stderr)")
    if "xmp" in document:
        lines.append(writeback_text(document["xmp"]))
    return "\n".join(lines)


def who_is_ranked(document: dict) -> str:
    """'the person', 'all of Alice, Bob' (--together) or 'any of Alice, Bob' (--any)."""
    if not document["people"]:
        return "the person"
    names = ", ".join(person["name"] for person in document["people"])
    return f"{'all' if document['mode'] == 'together' else 'any'} of {names}"


def emit(args: argparse.Namespace, text: str) -> None:
    if getattr(args, "output", None):
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    else:
        print(text)


def run_models(args: argparse.Namespace) -> int:
    from .inventory import fetch_models, model_inventory

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
    for section, values in to_tables(load_settings(args.config)).items():
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
    return main(["rank", "--ref", reference, collection, "--no-cache", "--quiet", *(["--json"] if as_json else [])])


if __name__ == "__main__":
    sys.exit(main())
