"""Frozen benchmark releases: select, preview, write, verify and compare.

A release is one self-contained folder, exports/<name>/<version>/, with data.jsonl, data.parquet,
manifest.json (sha256 and size of every file) and README.md (a dataset card). It is written in a
hidden temporary folder and renamed into place in one step, so a crash never leaves a folder
that looks complete. The same database state and selection give byte-identical data files.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import shutil
import statistics
import tempfile
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

import orjson
from sqlalchemy import func, select
from sqlmodel import Session

from curation_app import __version__
from curation_app.core import audit
from curation_app.core.auth import require_role
from curation_app.core.errors import Conflict, InvalidInput, NotFound
from curation_app.core.readers import file_sha256
from curation_app.core.scores import ScoreField, project_score_fields
from curation_app.core.settings import get_setting
from curation_app.core.taxonomy import Taxonomy, project_taxonomy
from curation_app.models import Annotation, FinalLabel, Query, Release, ReleaseItem, User, utcnow

DATA_FILES = ("data.jsonl", "data.parquet")
ALL_FILES = DATA_FILES + ("README.md", "manifest.json")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# Keys of one item, in file order: CodeArena's first, then provenance.
ITEM_KEYS = ("id", "messages", "difficulty", "programming_language", "category", "subcategory",
             "reference_answer", "baseline_answer", "source", "original_id", "label_source", "n_annotators",
             "field_sources", "rewritten", "original_messages")
# Items of a project with score fields (setting score_fields) also carry "scores": {name: number}.
CHANGE_KEYS = ITEM_KEYS[1:] + ("scores",)


def exports_dir() -> Path:
    configured = os.environ.get("CURATION_EXPORTS_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parent.parent.parent / "exports"


@dataclass(frozen=True)
class ReleaseSpec:
    """What goes into a release: filters, then an optional stratified sample of `size` items."""

    size: int | None = None
    seed: int = 0
    categories: tuple[str, ...] = ()
    subcategories: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    difficulties: tuple[str, ...] = ()
    batch_ids: tuple[int, ...] = ()
    sources: tuple[str, ...] = ()
    mix: tuple[tuple[str, float], ...] = ()  # difficulty -> share of the size, e.g. CodeArena's 23/44/33 %

    def as_dict(self) -> dict:
        data = asdict(self)
        data["mix"] = dict(self.mix)
        return data


def parse_mix(text: str | None, taxonomy: Taxonomy) -> tuple[tuple[str, float], ...]:
    """'easy=23,medium=44,hard=33' (shares, any scale) -> normalised shares."""
    if not text:
        return ()
    shares: dict[str, float] = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in taxonomy.difficulties:
            raise InvalidInput(f"mix: {name!r} is not a difficulty ({', '.join(taxonomy.difficulties)})")
        try:
            shares[name] = float(value)
        except ValueError:
            raise InvalidInput(f"mix: {part.strip()!r} is not DIFFICULTY=NUMBER") from None
        if shares[name] < 0:
            raise InvalidInput(f"mix: {name} must not be negative")
    total = sum(shares.values())
    if total <= 0:
        raise InvalidInput("mix: the shares must add up to more than 0")
    return tuple((d, shares.get(d, 0.0) / total) for d in taxonomy.difficulties)


def _pool(session: Session, spec: ReleaseSpec) -> tuple[list[dict], list[str]]:
    """Final, kept items that pass the filters, each as the row it would be in the release; and
    the ids held back by triage flags that no lead has cleared."""
    # Plain columns, not ORM objects: a 100,000-item release reads them all.
    statement = (select(Query.id, Query.public_id, Query.messages, Query.source, Query.original_id,
                        Query.baseline_answer, Query.triage_flags, FinalLabel.difficulty, FinalLabel.languages,
                        FinalLabel.category, FinalLabel.subcategory, FinalLabel.reference_answer,
                        FinalLabel.rewritten_prompt, FinalLabel.source.label("label_source"), FinalLabel.field_sources,
                        FinalLabel.scores)
                 .join(FinalLabel, FinalLabel.query_id == Query.id)
                 .where(FinalLabel.decision == "keep").order_by(Query.public_id))
    if spec.categories:
        statement = statement.where(FinalLabel.category.in_(spec.categories))
    if spec.subcategories:
        statement = statement.where(FinalLabel.subcategory.in_(spec.subcategories))
    if spec.difficulties:
        statement = statement.where(FinalLabel.difficulty.in_(spec.difficulties))
    if spec.batch_ids:
        statement = statement.where(Query.batch_id.in_(spec.batch_ids))
    if spec.sources:
        statement = statement.where(Query.source.in_(spec.sources))
    counts = dict(session.execute(select(Annotation.query_id, func.count()).where(
        Annotation.state == "submitted").group_by(Annotation.query_id)).all())
    wanted_languages = set(spec.languages)
    score_names = [f.name for f in project_score_fields(session)]
    rows = []
    held_back = []
    for row in session.connection().execute(statement.execution_options(yield_per=5000)):
        languages = list(row.languages or [])
        if wanted_languages and not wanted_languages & set(languages):
            continue
        if (row.triage_flags or {}).get("blocked"):
            held_back.append(row.public_id)  # contamination, secrets or a duplicate a lead has not cleared
            continue
        rewritten = bool(row.rewritten_prompt)
        rows.append({
            "id": row.public_id,
            "messages": [{"role": "user", "content": row.rewritten_prompt}] if rewritten else row.messages,
            "difficulty": row.difficulty,
            "programming_language": languages,
            "category": row.category,
            "subcategory": row.subcategory,
            "reference_answer": row.reference_answer,
            "baseline_answer": row.baseline_answer,
            "source": row.source,
            "original_id": row.original_id,
            "label_source": row.label_source,
            "n_annotators": counts.get(row.id, 0),
            "field_sources": orjson.dumps(row.field_sources or {}, option=orjson.OPT_SORT_KEYS).decode(),
            "rewritten": rewritten,
            "original_messages": json.dumps(row.messages, ensure_ascii=False) if rewritten else None,
            "_query_id": row.id,
        })
        if score_names:
            scores = row.scores or {}
            rows[-1]["scores"] = {name: scores.get(name) for name in score_names}
    return rows, held_back


def _quotas(size: int, mix: tuple[tuple[str, float], ...]) -> dict[str, int]:
    """Largest-remainder rounding, so the quotas add up to the size exactly."""
    raw = {d: size * share for d, share in mix}
    quotas = {d: math.floor(v) for d, v in raw.items()}
    leftovers = sorted(raw, key=lambda d: (-(raw[d] - quotas[d]), list(raw).index(d)))
    for difficulty in leftovers[: size - sum(quotas.values())]:
        quotas[difficulty] += 1
    return quotas


def select_items(pool: list[dict], spec: ReleaseSpec, taxonomy: Taxonomy) -> tuple[list[dict], dict]:
    """Choose `spec.size` items reproducibly: one per subcategory first, then each language the
    pool has, then fill the difficulty quotas, balancing subcategories. Reports any shortfall."""
    size = spec.size if spec.size is not None else len(pool)
    order = sorted(pool, key=lambda r: r["id"])
    random.Random(spec.seed).shuffle(order)
    quotas = _quotas(size, spec.mix) if spec.mix else None
    chosen: list[dict] = []
    chosen_ids: set[str] = set()
    per_difficulty: Counter[str] = Counter()
    per_subcategory: Counter[str] = Counter()
    languages_covered: set[str] = set()

    def fits(item: dict) -> bool:
        if item["id"] in chosen_ids or len(chosen) >= size:
            return False
        return quotas is None or per_difficulty[item["difficulty"]] < quotas.get(item["difficulty"], 0)

    def take(item: dict) -> None:
        chosen.append(item)
        chosen_ids.add(item["id"])
        per_difficulty[item["difficulty"]] += 1
        per_subcategory[item["subcategory"]] += 1
        languages_covered.update(item["programming_language"])

    by_subcategory: dict[str, list[dict]] = defaultdict(list)
    for item in order:
        by_subcategory[item["subcategory"]].append(item)
    if size < len(pool):
        subcategory_order = [s for subs in taxonomy.categories.values() for s in subs if s in by_subcategory]
        subcategory_order += sorted(set(by_subcategory) - set(subcategory_order), key=str)
        for subcategory in subcategory_order:  # coverage: every subcategory once, a new language if possible
            candidates = [i for i in by_subcategory[subcategory] if fits(i)]
            fresh = [i for i in candidates if set(i["programming_language"]) - languages_covered]
            if fresh or candidates:
                take((fresh or candidates)[0])
        language_counts = Counter(lang for item in order for lang in item["programming_language"])
        for language in sorted(language_counts, key=lambda lang: (language_counts[lang], lang)):
            if language not in languages_covered:
                candidate = next((i for i in order if language in i["programming_language"] and fits(i)), None)
                if candidate:
                    take(candidate)
        while len(chosen) < size:  # fill: the least represented subcategory that still has a fitting item
            open_subcategories = [s for s, items in by_subcategory.items() if any(fits(i) for i in items)]
            if not open_subcategories:
                break
            subcategory = min(open_subcategories, key=lambda s: (per_subcategory[s], str(s)))
            take(next(i for i in by_subcategory[subcategory] if fits(i)))
    else:
        for item in order:
            if fits(item):
                take(item)
    chosen.sort(key=lambda r: r["id"])
    pool_difficulties = Counter(item["difficulty"] for item in pool)
    report = {
        "requested": spec.size, "pool": len(pool), "selected": len(chosen),
        "shortfall": max(0, (spec.size or 0) - len(chosen)),
        "difficulty": {d: {"quota": (quotas or {}).get(d), "selected": per_difficulty[d],
                           "available": pool_difficulties[d]} for d in taxonomy.difficulties},
        "subcategories_covered": len({i["subcategory"] for i in chosen}),
        "subcategories_in_taxonomy": sum(len(s) for s in taxonomy.categories.values()),
        "subcategories_missing_from_pool": [s for subs in taxonomy.categories.values() for s in subs
                                            if s not in by_subcategory],
        "languages_covered": len(languages_covered),
        "languages_in_pool": len({lang for item in pool for lang in item["programming_language"]}),
    }
    report["problems"] = _shortfall_messages(report)
    return chosen, report


def _shortfall_messages(report: dict) -> list[str]:
    messages = []
    if report["shortfall"]:
        messages.append(f"asked for {report['requested']} items, the pool allows {report['selected']}: "
                        f"{report['shortfall']} short")
    for difficulty, figures in report["difficulty"].items():
        if figures["quota"] is not None and figures["selected"] < figures["quota"]:
            messages.append(f"{difficulty}: quota {figures['quota']}, only {figures['selected']} "
                            f"({figures['available']} in the pool)")
    missing = len(report["subcategories_missing_from_pool"])
    if missing:
        messages.append(f"{missing} subcategor{'y has' if missing == 1 else 'ies have'} no final kept item yet")
    return messages


def distributions(items: list[dict]) -> dict[str, dict[str, int]]:
    """Counts per category, subcategory, language, difficulty, source and label source."""
    return {
        "category": dict(Counter(i["category"] for i in items).most_common()),
        "subcategory": dict(Counter(i["subcategory"] for i in items).most_common()),
        "programming_language": dict(Counter(lang for i in items for lang in i["programming_language"]).most_common()),
        "difficulty": dict(Counter(i["difficulty"] for i in items).most_common()),
        "source": dict(Counter(i["source"] for i in items).most_common()),
        "label_source": dict(Counter(i["label_source"] for i in items).most_common()),
        "n_annotators": {str(k): v for k, v in sorted(Counter(i["n_annotators"] for i in items).items())},
    }


@dataclass
class Preview:
    items: list[dict]
    report: dict
    distributions: dict
    agreement: dict = field(default_factory=dict)
    scores: list[dict] = field(default_factory=list)  # per score field of the project (score_summary)


def _agreement_summary(session: Session, actor: User, public_ids: set[str]) -> dict:
    """Krippendorff's alpha and percent agreement per field on the released items' annotations."""
    from curation_app.core import agreement_db

    if not public_ids:
        return {}
    table = agreement_db.annotation_table(session, actor=actor)
    if not public_ids.issuperset(table["item"].unique()):  # a full release needs no filtering
        table = table[table["item"].isin(public_ids)]
    summary = {}
    for name in agreement_db.field_levels(session):
        report = agreement_db.field_report(session, table, name, n_bootstrap=200, seed=0)
        summary[name] = {k: report.get(k) for k in ("level", "n_items", "n_annotators", "percent_agreement",
                                                     "krippendorff_alpha")}
        summary[name]["alpha_ci95"] = report["ci95"].get("krippendorff_alpha")
    return summary


def preview(session: Session, *, actor: User, spec: ReleaseSpec, with_agreement: bool = True) -> Preview:
    require_role(actor, "lead", "admin")
    taxonomy = project_taxonomy(session)
    pool, held_back = _pool(session, spec)
    items, report = select_items(pool, spec, taxonomy)
    report["held_back_by_triage"] = {"count": len(held_back), "ids": held_back[:100]}
    if held_back:
        report["problems"].append(f"{len(held_back)} final item(s) held back by triage flags (contamination, "
                                  "secrets or duplicates) until a lead clears them")
    agreement = _agreement_summary(session, actor, {i["id"] for i in items}) if with_agreement else {}
    return Preview(items, report, distributions(items), agreement,
                   score_summary(items, project_score_fields(session)))


# Writing -------------------------------------------------------------------------------------

def _check_name(kind: str, value: str) -> str:
    if not _NAME.match(value or "") or value in (".", ".."):
        raise InvalidInput(f"release {kind} {value!r} is not allowed: use letters, digits, '.', '_' or '-' "
                           "(at most 100), starting with a letter or digit")
    return value


def item_keys(items: list[dict]) -> tuple[str, ...]:
    return ITEM_KEYS + (("scores",) if items and "scores" in items[0] else ())


def _public(item: dict) -> dict:
    public = {key: item[key] for key in ITEM_KEYS}
    if "scores" in item:
        public["scores"] = item["scores"]
    return public


def write_jsonl(items: Iterable[dict], path: Path) -> None:
    with open(path, "wb") as handle:
        for item in items:  # compact, UTF-8, keys in ITEM_KEYS order: the same items give the same bytes
            handle.write(orjson.dumps(_public(item)) + b"\n")


def parquet_schema(score_names: list[str] | tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    import pyarrow as pa

    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    scores = [("scores", pa.struct([(name, pa.float64()) for name in score_names]))] if score_names else []
    return pa.schema([
        ("id", pa.string()), ("messages", pa.list_(message)), ("difficulty", pa.string()),
        ("programming_language", pa.list_(pa.string())), ("category", pa.string()), ("subcategory", pa.string()),
        ("reference_answer", pa.string()), ("baseline_answer", pa.string()), ("source", pa.string()),
        ("original_id", pa.string()), ("label_source", pa.string()), ("n_annotators", pa.int32()),
        ("field_sources", pa.string()), ("rewritten", pa.bool_()), ("original_messages", pa.string()),
        *scores,
    ])


def write_parquet(items: list[dict], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = parquet_schema(list(items[0]["scores"]) if items and "scores" in items[0] else ())
    columns = {name: [item[name] for item in items] for name in schema.names}
    table = pa.Table.from_pydict(columns, schema=schema)
    # No pandas metadata and no timestamps: the same items give the same bytes.
    pq.write_table(table, path, compression="zstd", write_statistics=True, store_schema=False)


def _table(counts: dict[str, int], title: str) -> str:
    total = sum(counts.values()) or 1
    lines = [f"| {title} | items | share |", "| --- | ---: | ---: |"]
    lines += [f"| {_md_cell(k)} | {v} | {v / total:.1%} |" for k, v in counts.items()]
    return "\n".join(lines)


def _md_cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def score_summary(items: list[dict], score_fields: tuple[ScoreField, ...]) -> list[dict]:
    """Per score field: its definition, and how many items have a score, with mean, min and max."""
    summary = []
    for score in score_fields:
        values = [i["scores"][score.name] for i in items if i.get("scores", {}).get(score.name) is not None]
        summary.append({"name": score.name, "label": score.label, "level": score.level, "scale_min": score.minimum,
                        "scale_max": score.maximum, "items": len(values),
                        "mean": round(statistics.fmean(values), 4) if values else None,
                        "min": min(values) if values else None, "max": max(values) if values else None})
    return summary


def _scores_section(manifest: dict) -> str:
    if not manifest.get("scores"):
        return ""
    rows = ["## Scores", "", "Numeric fields of this project, under `scores` in each item (`null` where no annotator "
            "gave one).", "", "| score | level | scale | items | mean | min | max |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: |"]
    for s in manifest["scores"]:
        rows.append(f"| {_md_cell(s['label'])} (`{s['name']}`) | {s['level']} | {s['scale_min']:g} to {s['scale_max']:g} | "
                    f"{s['items']} | {'n/a' if s['mean'] is None else format(s['mean'], '.3f')} | "
                    f"{'n/a' if s['min'] is None else s['min']} | {'n/a' if s['max'] is None else s['max']} |")
    return "\n".join(rows) + "\n\n"


def dataset_card(name: str, version: str, manifest: dict, dists: dict) -> str:
    n = manifest["items"]
    size_category = "n<1K" if n < 1000 else "1K<n<10K" if n < 10_000 else "10K<n<100K" if n < 100_000 else "100K<n<1M"
    selection = manifest["selection"]
    agreement_rows = ["| field | level | items | percent agreement | Krippendorff's alpha | 95% interval |",
                      "| --- | --- | ---: | ---: | ---: | --- |"]
    for field_name, figures in manifest["agreement"].items():
        interval = figures.get("alpha_ci95")
        agreement_rows.append(
            f"| {field_name} | {figures['level']} | {figures['n_items']} | "
            f"{'n/a' if figures['percent_agreement'] is None else format(figures['percent_agreement'], '.3f')} | "
            f"{'n/a' if figures['krippendorff_alpha'] is None else format(figures['krippendorff_alpha'], '.3f')} | "
            f"{'' if not interval else format(interval['low'], '.3f') + ' to ' + format(interval['high'], '.3f')} |")
    files = "\n".join(f"| {f} | {info['bytes']:,} | `{info['sha256']}` |" for f, info in manifest["files"].items())
    return f"""---
pretty_name: {json.dumps(f"{name} {version}")}
license: other
language:
- en
tags:
- code
- benchmark
- curated
task_categories:
- text-generation
size_categories:
- {size_category}
configs:
- config_name: default
  data_files:
  - split: test
    path: data.jsonl
- config_name: parquet
  data_files:
  - split: test
    path: data.parquet
---

# {name} {version}

{n} coding queries from real users, each classified, rated and answered by annotators and
kept only when the project's acceptance rule or a lead decided its labels. The JSONL keys follow
CodeArena's (`id`, `messages`, `difficulty`, `programming_language`, `category`, `subcategory`,
`reference_answer`), with provenance (`source`, `original_id`, `label_source`, `n_annotators`,
`field_sources`). `messages` is the rewritten benchmark prompt where annotators wrote one
(`rewritten: true`, the user's own words in `original_messages`).

## Load it

```python
import pandas as pd
items = pd.read_json("data.jsonl", lines=True)       # or pd.read_parquet("data.parquet")

from datasets import load_dataset
items = load_dataset("json", data_files="data.jsonl", split="train")
```

## How the items were selected

- Pool: final labels with decision `keep`{', filtered by ' + json.dumps({k: v for k, v in selection['spec'].items() if v and k not in ('size', 'seed', 'mix')}) if any(v for k, v in selection['spec'].items() if k not in ('size', 'seed', 'mix')) else ''}: {selection['report']['pool']} items.
- Requested size: {selection['spec']['size'] or 'all'}; seed {selection['spec']['seed']}; difficulty mix {json.dumps(selection['spec']['mix']) if selection['spec']['mix'] else 'as in the pool'}.
- Method: one item per subcategory first, then one per language not yet covered, then the difficulty
  quotas, always taking the least represented subcategory; ties are broken by a shuffle seeded
  with the seed above, so the same database state and settings give the same items.
- Shortfalls: {'; '.join(selection['report']['problems']) or 'none'}.

## Labels and agreement

Guideline version(s): {', '.join(manifest['guideline_versions']) or 'n/a'}; taxonomy {manifest['taxonomy']['name']}
version {manifest['taxonomy']['version']}. Acceptance rule: at least {manifest['rule']['min_annotations']}
annotations, a field final when all agree or at least {manifest['rule']['keep_quorum']} agree; the rest
decided by a lead (`label_source`: {', '.join(f'{k} {v}' for k, v in dists['label_source'].items())}).

{chr(10).join(agreement_rows)}

{_scores_section(manifest)}## Distributions

{_table(dists['difficulty'], 'difficulty')}

{_table(dists['category'], 'category')}

{_table(dists['subcategory'], 'subcategory')}

{_table(dists['programming_language'], 'programming language')}

{_table(dists['source'], 'source')}

## Files

| file | bytes | sha256 |
| --- | ---: | --- |
{files}

`manifest.json` lists the same; `python -m curation_app release verify PATH` checks every file.
Made with curation_app {manifest['tool_version']} on {manifest['created_at']}.
"""


def create_release(session: Session, *, actor: User, name: str, version: str, spec: ReleaseSpec,
                   root: Path | None = None) -> dict:
    """Freeze a release. Returns {"path", "items", "sha256"} (sha256 of data.jsonl)."""
    require_role(actor, "lead", "admin")
    _check_name("name", name)
    _check_name("version", version)
    root = root or exports_dir()
    final_path = root / name / version
    if session.execute(select(Release.id).where(Release.name == name, Release.version == version)).first():
        raise Conflict(f"release {name} {version} already exists and is frozen; make a new version")
    result = preview(session, actor=actor, spec=spec)
    if not result.items:
        raise InvalidInput("no final, kept item matches: nothing to release")
    taxonomy = project_taxonomy(session)
    final_path.parent.mkdir(parents=True, exist_ok=True)
    for stale in final_path.parent.glob(f".{version}.partial-*"):
        shutil.rmtree(stale, ignore_errors=True)  # left by a crashed earlier attempt
    work = Path(tempfile.mkdtemp(prefix=f".{version}.partial-", dir=final_path.parent))
    try:
        write_jsonl(result.items, work / "data.jsonl")
        write_parquet(result.items, work / "data.parquet")
        query_ids = [i["_query_id"] for i in result.items]
        versions = sorted({v for v in _guideline_versions(session, query_ids) if v})
        manifest = {
            "name": name, "version": version, "items": len(result.items),
            "files": {f: {"sha256": file_sha256(work / f), "bytes": (work / f).stat().st_size} for f in DATA_FILES},
            "keys": list(item_keys(result.items)),
            "distributions": result.distributions,
            "selection": {"spec": spec.as_dict(), "report": result.report},
            "agreement": result.agreement,
            **({"scores": result.scores} if result.scores else {}),
            "guideline_versions": versions,
            "taxonomy": {"name": taxonomy.name, "version": taxonomy.version},
            "rule": {"min_annotations": get_setting(session, "min_annotations"),
                     "keep_quorum": get_setting(session, "keep_quorum")},
            "tool_version": __version__,
            "database": _database_fingerprint(session),
            "created_at": utcnow().isoformat(timespec="seconds"),
            "created_by": actor.name,
        }
        card = dataset_card(name, version, manifest, result.distributions)
        (work / "README.md").write_text(card, encoding="utf-8")
        manifest["files"]["README.md"] = {"sha256": file_sha256(work / "README.md"),
                                          "bytes": (work / "README.md").stat().st_size}
        (work / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                            encoding="utf-8")
        for file_name in ALL_FILES:
            with open(work / file_name, "rb") as handle:
                os.fsync(handle.fileno())
        digest = manifest["files"]["data.jsonl"]["sha256"]
        release = Release(name=name, version=version, path=str(final_path), n_items=len(result.items),
                          sha256=digest, manifest={k: manifest[k] for k in ("files", "items", "selection",
                                                                           "guideline_versions", "created_at")},
                          created_by_id=actor.id)
        session.add(release)
        session.flush()
        session.connection().execute(ReleaseItem.__table__.insert(), [
            {"release_id": release.id, "query_id": item["_query_id"], "item": _public(item)}
            for item in result.items])
        audit.record(session, actor=actor, action="release.create", entity="release",
                     entity_id=f"{name}/{version}", new={"items": len(result.items), "sha256": digest,
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
    return {"path": str(final_path), "items": len(result.items), "sha256": digest, "problems": problems}


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
    found: set[str] = set()
    for start in range(0, len(query_ids), 1000):
        found.update(session.execute(select(Annotation.guideline_version).where(
            Annotation.query_id.in_(query_ids[start:start + 1000]), Annotation.state == "submitted")
            .distinct()).scalars())
    return sorted(v for v in found if v)


# Reading back ----------------------------------------------------------------------------------

def recorded_files(session: Session, path: str | Path) -> dict | None:
    """The file checksums the database recorded when it froze the release at `path`, if it did."""
    target = str(Path(path).resolve())
    for stored_path, manifest in session.execute(select(Release.path, Release.manifest)):
        if str(Path(stored_path).resolve()) == target:
            return (manifest or {}).get("files")
    return None


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
        fields = [k for k in CHANGE_KEYS if a[item_id].get(k) != b[item_id].get(k)]
        if fields:
            changed.append({"id": item_id, "fields": fields})
    return {"added": sorted(set(b) - set(a)), "removed": sorted(set(a) - set(b)), "changed": changed,
            "unchanged": len(set(a) & set(b)) - len(changed)}


def list_releases(session: Session) -> list[dict]:
    rows = session.execute(select(Release, User.name).outerjoin(User, User.id == Release.created_by_id)
                           .order_by(Release.created_at.desc())).all()
    return [{"name": r.name, "version": r.version, "items": r.n_items, "sha256": r.sha256, "path": r.path,
             "created_at": r.created_at, "created_by": by} for r, by in rows]

