"""Freezing a release: the folder exports/<name>/<version>/ written in a hidden temporary folder
and renamed into place in one step, so a crash never leaves a folder that looks complete; its
manifest and dataset card; and the database record that the database's triggers keep frozen."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import shutil
import tempfile
from collections import Counter
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session

from curation_app import __version__
from curation_app.core import audit
from curation_app.core.auth import require_role
from curation_app.core.errors import Conflict, InvalidInput
from curation_app.core.project import load_project
from curation_app.core.readers import file_sha256
from curation_app.core.release.provenance import contamination, funnel, query_flags, sources
from curation_app.core.release.card import dataset_card
from curation_app.core.release.files import ALL_FILES, RESPONSE_SUFFIX, parquet_from_jsonl, parquet_schema, write_jsonl
from curation_app.core.release.selection import (ReleaseSpec, _agreement_summary, preview, release_items,
                                                 response_models)
from curation_app.core.settings import all_settings
from curation_app.models import Annotation, AnnotationState, Release, ReleaseItem, Role, User, utcnow

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def exports_dir() -> Path:
    configured = os.environ.get("CURATION_EXPORTS_DIR")
    # This file is curation_app/core/release/freeze.py: parents[3] is the repository.
    return Path(configured) if configured else Path(__file__).resolve().parents[3] / "exports"


def shown_path(path: str | Path) -> str:
    """A release folder as people should see it: relative to the exports folder (name/version),
    not the server's absolute path; a folder outside it is shown by its last two parts."""
    folder = Path(path)
    try:
        return folder.resolve().relative_to(exports_dir().resolve()).as_posix()
    except ValueError:
        return "/".join(folder.parts[-2:])


# The columns' lengths (models.Release), so SQLite and PostgreSQL accept the same names.
_NAME_LIMITS = {"name": 100, "version": 50}


def _check_name(kind: str, value: str) -> str:
    limit = _NAME_LIMITS[kind]
    # fullmatch: with match and "$", a trailing newline ("v1\n") would pass.
    if not _NAME.fullmatch(value or "") or value in (".", "..") or len(value) > limit:
        raise InvalidInput(f"release {kind} {value!r} is not allowed: use letters, digits, '.', '_' or '-' "
                           f"(at most {limit}), starting with a letter or digit")
    return value


def create_release(session: Session, *, actor: User, name: str, version: str, spec: ReleaseSpec,
                   root: Path | None = None) -> dict:
    """Freeze a release. Returns {"path", "items", "sha256"} (sha256 of data.jsonl)."""
    require_role(actor, Role.LEAD, Role.ADMIN)
    _check_name("name", name)
    _check_name("version", version)
    root = root or exports_dir()
    final_path = root / name / version
    if session.execute(select(Release.id).where(Release.name == name, Release.version == version)).first():
        raise Conflict(f"release {name} {version} already exists and is frozen; make a new version")
    project = load_project(session)
    result = preview(session, actor=actor, spec=spec, project=project)
    if not result.items:
        raise InvalidInput("no final, kept item matches: nothing to release")
    taxonomy = project.taxonomy
    final_path.parent.mkdir(parents=True, exist_ok=True)
    for stale in final_path.parent.glob(f".{version}.partial-*"):
        shutil.rmtree(stale, ignore_errors=True)  # left by a crashed earlier attempt
    work = Path(tempfile.mkdtemp(prefix=f".{version}.partial-", dir=final_path.parent))
    items = result.items
    try:
        models = response_models(items)
        # One pass over the database writes data.jsonl; data.parquet and the snapshot rows are read
        # back from it, so the three hold the same items and no step holds all of them at once.
        files = {"data.jsonl": write_jsonl(release_items(session, items, models=models), work / "data.jsonl")}
        schema = parquet_schema([f.name for f in project.score_fields],
                                [f"{model}{RESPONSE_SUFFIX}" for model in models])
        files["data.parquet"] = parquet_from_jsonl(work / "data.jsonl", work / "data.parquet", schema)
        query_ids = [i["_query_id"] for i in items]
        versions = sorted({v for v in _guideline_versions(session, query_ids) if v})
        settings = all_settings(session)
        flags = query_flags(session)
        manifest = {
            "name": name, "version": version, "items": len(items),
            "files": files,
            "keys": schema.names,
            "distributions": result.distributions,
            "selection": {"spec": spec.as_dict(), "report": result.report},
            "agreement": result.agreement,  # on the released items' annotations
            "agreement_all": _project_agreement(session, actor, project, query_ids, result.agreement),
            "content": {"with_reference_answer": sum(1 for i in items if i["has_reference_answer"]),
                        "rewritten": sum(1 for i in items if i["rewritten"])},
            "license": settings["license"],
            "languages": settings["dataset_languages"],
            "sources": sources(session, result.distributions["source"]),
            "funnel": funnel(session, pool=result.report["pool"], released_query_ids=query_ids,
                                        flags=flags),
            "contamination": contamination(
                session, released_query_ids=query_ids, public_ids={i["_query_id"]: i["id"] for i in items},
                flags=flags),
            **({"scores": result.scores} if result.scores else {}),
            # Each baseline model, with how many items have its answer (as `<model>_response`).
            "baseline_models": dict(sorted(Counter(m for i in items for m in i["baseline_models"]).items())),
            "guideline_versions": versions,
            "taxonomy": {"name": taxonomy.name, "version": taxonomy.version},
            "rule": {"min_annotations": project.rule.min_annotations, "keep_quorum": project.rule.keep_quorum},
            "tool_version": __version__,
            "database": _database_fingerprint(session),
            "created_at": utcnow().isoformat(timespec="seconds"),
            "created_by": actor.name,
        }
        card = dataset_card(name, version, manifest, result.distributions, schema=schema)
        (work / "README.md").write_text(card, encoding="utf-8")
        manifest["files"]["README.md"] = {"sha256": file_sha256(work / "README.md"),
                                          "bytes": (work / "README.md").stat().st_size}
        (work / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                            encoding="utf-8")
        for file_name in ALL_FILES:
            with open(work / file_name, "rb") as handle:
                os.fsync(handle.fileno())
        digest = manifest["files"]["data.jsonl"]["sha256"]
        release = Release(name=name, version=version, path=str(final_path), n_items=len(items),
                          sha256=digest, manifest={k: manifest[k] for k in ("files", "items", "selection",
                                                                           "guideline_versions", "created_at")},
                          created_by_id=actor.id)
        session.add(release)
        session.flush()
        _insert_snapshot_rows(session, release_id=release.id, query_ids=query_ids, jsonl=work / "data.jsonl")
        audit.record(session, actor=actor, action="release.create", entity="release",
                     entity_id=f"{name}/{version}", new={"items": len(items), "sha256": digest,
                                                         "spec": spec.as_dict()})
        session.flush()
        os.chmod(work, 0o755)  # mkdtemp makes it private; a release is for everyone to read
        moved_aside = None
        if final_path.exists():
            # No database record. If this database made it, its export died between the folder's
            # rename and the commit: keep it under a hidden name and write the release again.
            if _made_by(final_path) != manifest["database"]:
                raise Conflict(f"{final_path} already exists and this database has no record of it (another "
                               "database's release?); move it away or choose another version")
            moved_aside = final_path.parent / f".{version}.unrecorded-{utcnow().strftime('%Y%m%dT%H%M%S%f')}"
            os.replace(final_path, moved_aside)
        os.replace(work, final_path)  # the folder appears complete, or not at all
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    problems = list(result.report["problems"])
    if moved_aside:
        problems.append(f"a folder already at {final_path} had no database record (an interrupted export?); "
                        f"it was moved to {moved_aside}")
    return {"path": str(final_path), "items": len(items), "sha256": digest, "problems": problems}


# Snapshot rows inserted in one statement.
_SNAPSHOT_BATCH = 2000


def _insert_snapshot_rows(session: Session, *, release_id: int, query_ids: list[int], jsonl: Path) -> None:
    """One ReleaseItem per line of data.jsonl (in the order of `query_ids`), holding that line's
    JSON text as it is: the row as written to data.jsonl, without decoding and encoding it again."""
    # The driver's own executemany with plain tuples: 100,000 rows of SQLAlchemy parameter
    # processing cost more than SQLite's inserting them.
    if session.get_bind().dialect.name == "sqlite":
        statement = "INSERT INTO release_item (release_id, query_id, item) VALUES (?, ?, ?)"
    else:
        statement = "INSERT INTO release_item (release_id, query_id, item) VALUES (%s, %s, %s::json)"
    with open(jsonl, "rb") as handle:
        lines = (line.rstrip(b"\n").decode("utf-8") for line in handle)
        rows = ((release_id, query_id, line) for query_id, line in zip(query_ids, lines, strict=True))
        while batch := list(itertools.islice(rows, _SNAPSHOT_BATCH)):
            session.connection().exec_driver_sql(statement, batch)


def _project_agreement(session: Session, actor: User, project, query_ids: list[int], released: dict) -> dict:
    """Agreement over every annotated item of the project; the released items' figures when the
    release holds every annotated item."""
    annotated = set(session.execute(select(Annotation.query_id).where(
        Annotation.state == AnnotationState.SUBMITTED).distinct()).scalars())
    if annotated.issubset(query_ids):
        return released
    return _agreement_summary(session, actor, None, project)


def _database_fingerprint(session: Session) -> str:
    """Which database made a release (a hash of its address, without the password)."""
    url = session.get_bind().url.render_as_string(hide_password=True)
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def _made_by(folder: Path) -> str | None:
    try:
        return json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("database")
    except (OSError, ValueError, AttributeError):
        return None


def _guideline_versions(session: Session, query_ids: list[int]) -> list[str]:
    """The guideline versions of the released items' submitted annotations."""
    released = set(query_ids)
    submitted = (Annotation.state == AnnotationState.SUBMITTED, Annotation.guideline_version.is_not(None))
    found = []
    # Few versions: for each, its annotations until one is on a released item (in a release of
    # every annotated item, the first one is).
    for version in session.execute(select(Annotation.guideline_version).where(*submitted).distinct()).scalars():
        rows = session.connection().execute(select(Annotation.query_id).where(
            *submitted, Annotation.guideline_version == version).execution_options(yield_per=20_000))
        if any(query_id in released for (query_id,) in rows):
            found.append(version)
        rows.close()
    return sorted(v for v in found if v)
