"""Reading frozen releases back: verify a folder against its manifest and the database's record,
load its items, compare two releases, and list the releases the database holds."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session

from curation_app.core.errors import InvalidInput, NotFound
from curation_app.core.readers import file_sha256
from curation_app.core.release.files import CHANGE_KEYS, response_keys
from curation_app.models import Release, User


def recorded_files(session: Session, path: str | Path) -> dict | None:
    """The file checksums the database recorded when it froze the release at `path`, or (for a
    copy kept elsewhere) the release its manifest names; None when the database knows neither."""
    target = str(Path(path).resolve())
    for stored_path, manifest in session.execute(select(Release.path, Release.manifest)):
        if str(Path(stored_path).resolve()) == target:
            return (manifest or {}).get("files")
    try:
        named = json.loads((Path(path) / "manifest.json").read_text(encoding="utf-8"))
        name, version = str(named["name"]), str(named["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    manifest = session.execute(select(Release.manifest).where(Release.name == name, Release.version == version)
                               ).scalar_one_or_none()
    return None if manifest is None else (manifest or {}).get("files")


def verify(path: str | Path, recorded: dict | None = None) -> list[str]:
    """Problems with a release folder: each file that is missing, changed, or not in the manifest.
    With `recorded` (the database's copy of the manifest's file list), a manifest rewritten to
    match changed files is caught too."""
    path = Path(path)
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        return [f"{manifest_path}: missing (not a release folder?)"]
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files = manifest["files"]
    except (ValueError, KeyError, TypeError) as exc:
        return [f"{manifest_path}: unreadable manifest ({exc})"]
    problems = []
    for file_name, expected in sorted((recorded or {}).items()):
        if files.get(file_name) != expected:
            problems.append(f"{manifest_path}: the entry for {file_name} differs from the database's record "
                            "of this release")
    for file_name in sorted(set(files) - set(recorded)) if recorded else ():
        problems.append(f"{manifest_path}: lists {file_name}, which the database's record of this release does not")
    for file_name, expected in sorted(files.items()):
        target = path / file_name
        if not target.is_file():
            problems.append(f"{target}: missing")
        elif target.stat().st_size != expected["bytes"]:
            problems.append(f"{target}: {target.stat().st_size} bytes, the manifest says {expected['bytes']}")
        elif file_sha256(target) != expected["sha256"]:
            problems.append(f"{target}: sha256 differs from the manifest")
    for extra in sorted(p.name for p in path.iterdir() if p.name not in files and p.name != "manifest.json"):
        problems.append(f"{path / extra}: not in the manifest")
    return problems


def load_items(path: str | Path) -> dict[str, dict]:
    data = Path(path) / "data.jsonl"
    if not data.is_file():
        raise NotFound(f"{data}: missing (not a release folder?)")
    items = {}
    with open(data, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                item = json.loads(line)
                items[item["id"]] = item
            except (ValueError, KeyError, TypeError):
                raise InvalidInput(f"{data}: line {number} is not a release item") from None
    return items


def diff(path_a: str | Path, path_b: str | Path) -> dict:
    """Items added, removed and changed (with the changed fields) from release A to release B."""
    a, b = load_items(path_a), load_items(path_b)
    changed = []
    for item_id in sorted(set(a) & set(b)):
        responses = sorted(set(response_keys(a[item_id])) | set(response_keys(b[item_id])))
        fields = [k for k in (*CHANGE_KEYS, *responses) if a[item_id].get(k) != b[item_id].get(k)]
        if fields:
            changed.append({"id": item_id, "fields": fields})
    return {"added": sorted(set(b) - set(a)), "removed": sorted(set(a) - set(b)), "changed": changed,
            "unchanged": len(set(a) & set(b)) - len(changed)}


def list_releases(session: Session) -> list[dict]:
    rows = session.execute(select(Release, User.name).outerjoin(User, User.id == Release.created_by_id)
                           .order_by(Release.created_at.desc())).all()
    return [{"name": r.name, "version": r.version, "items": r.n_items, "sha256": r.sha256, "path": r.path,
             "created_at": r.created_at, "created_by": by} for r, by in rows]
