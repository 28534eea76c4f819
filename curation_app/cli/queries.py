"""`import`: raw queries from JSONL, JSON, CSV or Parquet, or baseline answers keyed by query id."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from curation_app.cli.common import CommandFailed, Commands, actor, print_json, print_problems, ready_engine
from curation_app.cli.triage_flags import triage_with_progress
from curation_app.core.errors import CurationError, ImportRefused


IMPORT_SHAPES = """\
Reads JSONL, JSON, CSV or Parquet (also gzipped), in the shape its first record shows:
  CodeArena      `messages`: a list of {role, content}, or that list as a JSON or Python string
  LMSYS-Chat-1M  `conversation`: a list of {role, content}, and `conversation_id` (required), kept
                 as the original id; the first answer is a baseline of the row's `model`; every
                 other field (model, turn, language, openai_moderation, redacted) is metadata
  WildChat       `conversation` and `conversation_hash` (early WildChat: `conversation_id`, with
                 `timestamp`): as LMSYS-Chat-1M, and each turn's other keys (timestamp, country,
                 hashed_ip, header, toxic, turn_identifier, ...) go to metadata `turn_metadata`
  Arena-Hard     `turns`: a list of {content}
  ShareGPT       `conversations`: a list of {from, value}
  MT-Bench       `turns`: a list of strings
  flat           the first of prompt, instruction, question, query, text (or --text-field)
Other fields are kept as metadata (Parquet timestamps and durations as ISO 8601 text), and a
`<model>_response` field as that model's baseline answer. A bad row refuses the whole file,
each problem named with its line or row. Parquet is read one row group at a time."""


def register_import(commands: Commands) -> None:
    imp = commands.add_parser(
        "import", help="import raw queries (JSONL, JSON, CSV, Parquet) or an answers file",
        formatter_class=argparse.RawDescriptionHelpFormatter, description=IMPORT_SHAPES)
    imp.add_argument("file", help="a file, or a folder: every JSONL, JSON, CSV and Parquet file in it and below, "
                                  "in one transaction (symlinks leading outside the folder are not followed)")
    imp.add_argument("--source", help="source name kept as provenance (default: the file's or the folder's name)")
    imp.add_argument("--text-field", help="the field holding the query text, when detection cannot decide")
    imp.add_argument("--format", choices=("jsonl", "json", "csv", "parquet"), help="override format detection")
    imp.add_argument("--no-triage", action="store_true",
                     help="skip the near-duplicate and secrets check that follows an import (run `triage` later)")
    imp.add_argument("--skip-bad-rows", action="store_true",
                     help="import the good rows and list the bad ones instead of refusing the file")
    imp.add_argument("--answers", action="store_true",
                     help="the file holds baseline answers keyed by query id (detected for Arena-Hard answers); "
                          "each adds a baseline of its model, or replaces that model's earlier answer")
    imp.add_argument("--model", help="with --answers: the model of answers whose records do not name one "
                                     "(default: the file name, e.g. gpt-4-0314 for gpt-4-0314_answers.jsonl)")
    imp.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    imp.set_defaults(run=cmd_import)


def _progress_bar(path: Path) -> tuple[Callable[[int], None] | None, Any]:
    from tqdm import tqdm

    bar = tqdm(total=path.stat().st_size if path.is_file() else None, unit="B", unit_scale=True,
               desc=path.name, file=sys.stderr, disable=None, leave=False)
    return bar.update, bar


def cmd_import(args: argparse.Namespace) -> int:
    from curation_app.core.import_report import answers_lines
    from curation_app.core.importer import import_answers, import_file, import_folder, looks_like_answers

    engine = ready_engine()
    path = Path(args.file)
    if path.is_dir():
        if args.answers or args.model or args.format:
            raise CommandFailed(f"{path}: --answers, --model and --format take one file, not a folder")
        return _import_folder(args, path, engine, import_folder)
    if args.answers or (path.is_file() and looks_like_answers(path)):
        summary: Any = import_answers(path, actor=actor(), source=args.source, model=args.model, engine=engine)
        result = summary.as_dict()
        if args.json:
            print_json(result)
        else:
            for line in answers_lines(result, path.name):
                print(line)
        return 0
    if args.model:
        raise CommandFailed("--model names the model of an answers file; this file holds queries "
                            "(their `<model>_response` fields name their models)")
    update, bar = _progress_bar(path)
    try:
        summary = import_file(path, actor=actor(), source=args.source, text_field=args.text_field,
                              file_format=args.format, skip_bad_rows=args.skip_bad_rows,
                              engine=engine, on_progress=update)
    except ImportRefused as refused:
        bar.close()
        _refused(args, refused)
    bar.close()
    return _report(args, summary.as_dict(), [path.name], engine)


def _refused(args: argparse.Namespace, refused: ImportRefused) -> NoReturn:
    from curation_app.core.import_report import refusal_line

    if args.json:
        print_json({"read": refused.n_read, "imported": 0, "duplicates": 0, "errors": refused.n_problems,
                    "refused": True, "file": refused.file_name,
                    "problems": [{"location": w, "problem": p} for w, p in refused.problems]})
    else:
        print_problems(refused)
    raise CommandFailed(refusal_line(refused)) from None


def _import_folder(args: argparse.Namespace, folder: Path, engine: Any, import_folder: Callable[..., Any]) -> int:
    try:
        summary = import_folder(folder, actor=actor(), source=args.source, text_field=args.text_field,
                                skip_bad_rows=args.skip_bad_rows, engine=engine)
    except ImportRefused as refused:
        _refused(args, refused)
    result = summary.as_dict()
    for link in result["skipped_links"]:
        print(f"{folder.name}/{link}: a symlink leading outside the folder, not followed", file=sys.stderr)
    return _report(args, result, [Path(f["file"]).name for f in result["files"]], engine)


def _report(args: argparse.Namespace, result: dict, file_names: list[str], engine: Any) -> int:
    """Triage the new queries, then print the summary (a folder's: one per file)."""
    from curation_app.core.import_report import summary_lines, triage_summary

    if result["imported"] and not args.no_triage:  # new queries are checked at once, not only on demand
        try:
            report = triage_with_progress(engine=engine)
        except CurationError as error:  # the import stands; triage can be run again on its own
            result["triage"] = {"error": str(error)}
        else:
            result["triage"] = triage_summary(report)
    if args.json:
        print_json(result)
        return 0
    per_file = result.get("files", [result])
    for number, (file_result, name) in enumerate(zip(per_file, file_names), start=1):
        shown = {k: v for k, v in file_result.items() if k != "triage"}
        if number == len(per_file) and "triage" in result:  # the triage ran once, after every file
            shown["triage"] = result["triage"]
        for line in summary_lines(shown, name):
            print(line)
    return 0
