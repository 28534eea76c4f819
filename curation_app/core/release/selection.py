"""Which items go into a release: the pool of final, kept items that pass the filters, a stratified
sample of it, the report of what the pool could not meet, and the preview shown before freezing."""

from __future__ import annotations

import itertools
import json
import math
import random
import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field, replace
from typing import Iterator

import orjson
import pandas as pd
from sqlalchemy import Text, cast, func, select
from sqlmodel import Session

from curation_app.core.agreement import database as agreement_db
from curation_app.core.auth import require_role
from curation_app.core.errors import InvalidInput
from curation_app.core.labels import KEEP, canonical_languages
from curation_app.core.project import Project, load_project
from curation_app.core.release.files import RESPONSE_SUFFIX, score_summary
from curation_app.core.scores import ScoreField
from curation_app.core.taxonomy import Taxonomy
from curation_app.models import Annotation, AnnotationState, Baseline, FinalLabel, Query, Role, User


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
    # (main category or subcategory, number, whether it is a percentage of the size): at most and, as
    # far as the pool allows, exactly that many items of it; categories not named are not limited.
    category_quotas: tuple[tuple[str, float, bool], ...] = ()

    def as_dict(self) -> dict:
        data = asdict(self)
        data["mix"] = dict(self.mix)
        data["category_quotas"] = {name: f"{number:g}%" if share else int(number)
                                   for name, number, share in self.category_quotas}
        return data


def parse_category_quotas(texts: list[str] | tuple[str, ...] | None,
                          taxonomy: Taxonomy) -> tuple[tuple[str, float, bool], ...]:
    """['Development and Programming=60%', 'Security=5'] -> quotas, all main categories or all
    subcategories (names may hold commas, so one quota per text; the number follows the last '=')."""
    quotas: dict[str, tuple[float, bool]] = {}
    levels = set()
    for text in texts or ():
        name, equals, number = text.rpartition("=")
        name, number = name.strip(), number.strip()
        if not equals or not name:
            raise InvalidInput(f"category quota {text!r} is not NAME=COUNT or NAME=PERCENT%")
        if name in taxonomy.categories:
            levels.add("category")
        elif name in taxonomy.subcategory_to_category:
            levels.add("subcategory")
        else:
            raise InvalidInput(f"category quota {text!r}: {name!r} is neither a main category nor a subcategory "
                               "of the taxonomy")
        share = number.endswith("%")
        try:
            value = float(number.removesuffix("%"))
        except ValueError:
            raise InvalidInput(f"category quota {text!r}: {number!r} is not a count or a percentage") from None
        if value < 0 or (not share and value != int(value)):
            raise InvalidInput(f"category quota {text!r}: a count is a whole number, a percentage is not negative")
        if name in quotas:
            raise InvalidInput(f"category quota: {name!r} is named twice")
        quotas[name] = (value, share)
    if len(levels) > 1:
        raise InvalidInput("category quotas: name main categories or subcategories, not both")
    if sum(value for value, share in quotas.values() if share) > 100:
        raise InvalidInput("category quotas: the percentages add up to more than 100")
    return tuple((name, value, share) for name, (value, share) in quotas.items())


def _category_quota_counts(size: int, spec: ReleaseSpec, taxonomy: Taxonomy) -> tuple[str, dict[str, int]]:
    """The level the quotas name ("category" or "subcategory") and each one's count for this size."""
    if not spec.category_quotas:
        return "category", {}
    level = "category" if spec.category_quotas[0][0] in taxonomy.categories else "subcategory"
    counts = {name: int(number) for name, number, share in spec.category_quotas if not share}
    shares = [(name, number / 100) for name, number, share in spec.category_quotas if share]
    if shares:
        total = sum(share for _, share in shares)
        counts.update(_quotas(round(size * total), tuple((name, share / total) for name, share in shares))
                      if total else {name: 0 for name, _ in shares})
    return level, counts


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


# A run of digits that orjson would read as a float (an integer beyond 64 bits), as the database
# layer checks for it: the standard library's json keeps such integers exact.
_LONG_DIGITS = re.compile(r"\d{19,}")


def decode_json(text: str | None):  # noqa: ANN202 - any JSON value
    """A JSON column read as text, decoded as the database layer decodes it."""
    if text is None:
        return None
    return json.loads(text) if _LONG_DIGITS.search(text) else orjson.loads(text)


def _pool(session: Session, spec: ReleaseSpec,
          score_fields: tuple[ScoreField, ...] = ()) -> tuple[list[dict], list[str]]:
    """Final, kept items that pass the filters, each as a compact row with what the selection,
    the report and the distributions read (not the texts, which `release_items` reads for the
    chosen items only); and the ids held back by triage flags that no lead has cleared.

    Row keys: id, category, subcategory, difficulty, programming_language, source, label_source,
    n_annotators, baseline_models, rewritten, has_reference_answer, scores (with score fields)
    and the private `_query_id`."""
    # Plain columns, JSON as text decoded here: a 100,000-item release reads them all.
    statement = (select(Query.id, Query.public_id, Query.source, cast(Query.triage_flags, Text).label("flags"),
                        FinalLabel.difficulty, cast(FinalLabel.languages, Text).label("languages"),
                        FinalLabel.category, FinalLabel.subcategory,
                        (func.coalesce(func.length(FinalLabel.reference_answer), 0) > 0).label("answered"),
                        (func.coalesce(func.length(FinalLabel.rewritten_prompt), 0) > 0).label("rewritten"),
                        FinalLabel.source.label("label_source"), cast(FinalLabel.scores, Text).label("scores"))
                 .join(FinalLabel, FinalLabel.query_id == Query.id)
                 .where(FinalLabel.decision == KEEP).order_by(Query.public_id))
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
        Annotation.state == AnnotationState.SUBMITTED).group_by(Annotation.query_id)).all())
    models_of: dict[int, list[str]] = defaultdict(list)  # query -> its baselines' models, first imported first
    for query_id, model in session.connection().execute(
            select(Baseline.query_id, Baseline.model).join(FinalLabel, FinalLabel.query_id == Baseline.query_id)
            .where(FinalLabel.decision == KEEP).order_by(Baseline.id).execution_options(yield_per=5000)):
        if model not in models_of[query_id]:
            models_of[query_id].append(model)
    wanted_languages = set(spec.languages)
    score_names = [f.name for f in score_fields]
    shared: dict = {}  # one object per distinct label, language list or score text, not one per row
    rows = []
    held_back = []
    result = session.connection().execute(statement.execution_options(yield_per=5000))
    for (query_id, public_id, source, flags, difficulty, languages_json, category, subcategory, answered, rewritten,
         label_source, scores_json) in itertools.chain.from_iterable(result.partitions()):
        if languages_json not in shared:
            shared[languages_json] = list(decode_json(languages_json) or [])
        languages = shared[languages_json]
        if wanted_languages and not wanted_languages & set(languages):
            continue
        if flags and "blocked" in flags and (decode_json(flags) or {}).get("blocked"):
            held_back.append(public_id)  # contamination, secrets or a duplicate a lead has not cleared
            continue
        item = {
            "id": public_id,
            "category": shared.setdefault(category, category),
            "subcategory": shared.setdefault(subcategory, subcategory),
            "difficulty": shared.setdefault(difficulty, difficulty),
            "programming_language": languages,
            "source": shared.setdefault(source, source),
            "label_source": shared.setdefault(label_source, label_source),
            "n_annotators": counts.get(query_id, 0),
            "baseline_models": models_of.get(query_id, []),
            "rewritten": bool(rewritten),
            "has_reference_answer": bool(answered),
            "_query_id": query_id,
        }
        if score_names:
            scores = decode_json(scores_json) or {}
            item["scores"] = {name: scores.get(name) for name in score_names}
        rows.append(item)
    return rows, held_back


def response_models(items: list[dict]) -> list[str]:
    """The baseline models among the items, sorted: each gives every released item CodeArena's
    `<model>_response` key (None where an item has no answer from that model), so every row has
    the same keys and each key one type."""
    return sorted({model for item in items for model in item["baseline_models"]})


# Chosen items whose texts are read in one query: a few MB of conversations at a time.
READ_CHUNK_ITEMS = 2000


def release_items(session: Session, items: list[dict], *, models: list[str]) -> Iterator[dict]:
    """The released rows of the selected `items` (compact rows of `_pool`, in release order),
    with their texts read from the database `READ_CHUNK_ITEMS` at a time."""
    for start in range(0, len(items), READ_CHUNK_ITEMS):
        chunk = items[start:start + READ_CHUNK_ITEMS]
        query_ids = [item["_query_id"] for item in chunk]
        texts = {row[0]: row[1:] for row in session.connection().execute(
            select(Query.id, cast(Query.messages, Text), Query.original_id, FinalLabel.reference_answer,
                   FinalLabel.rewritten_prompt, cast(FinalLabel.field_sources, Text))
            .join(FinalLabel, FinalLabel.query_id == Query.id).where(Query.id.in_(query_ids)))}
        answers: dict[int, dict[str, str]] = defaultdict(dict)  # query -> {model: answer}
        if models:
            for query_id, model, answer in session.connection().execute(
                    select(Baseline.query_id, Baseline.model, Baseline.answer)
                    .where(Baseline.query_id.in_(query_ids)).order_by(Baseline.id)):
                answers[query_id][model] = answer
        for item in chunk:
            messages_json, original_id, reference_answer, rewritten_prompt, field_sources = texts[item["_query_id"]]
            baselines = answers.get(item["_query_id"], {})
            released = {
                "id": item["id"],
                # The stored JSON text as it is (the database layer wrote it with orjson, as
                # write_jsonl writes): decoding and encoding it again would give the same bytes.
                "messages": ([{"role": "user", "content": rewritten_prompt}] if item["rewritten"]
                             else orjson.Fragment(messages_json)),
                "difficulty": item["difficulty"],
                "programming_language": item["programming_language"],
                "category": item["category"],
                "subcategory": item["subcategory"],
                "reference_answer": reference_answer,
                "baseline_answer": next(iter(baselines.values()), None),
                "baseline_models": item["baseline_models"],
                "source": item["source"],
                "original_id": original_id,
                "label_source": item["label_source"],
                "n_annotators": item["n_annotators"],
                "field_sources": orjson.dumps(decode_json(field_sources) or {}, option=orjson.OPT_SORT_KEYS).decode(),
                "rewritten": item["rewritten"],
                "original_messages": (json.dumps(decode_json(messages_json), ensure_ascii=False)
                                      if item["rewritten"] else None),
            }
            if "scores" in item:
                released["scores"] = item["scores"]
            for model in models:
                released[f"{model}{RESPONSE_SUFFIX}"] = baselines.get(model)
            yield released


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
    if size >= len(pool) and not spec.mix and not spec.category_quotas:
        return _everything(order, spec, taxonomy)
    random.Random(spec.seed).shuffle(order)
    quotas = _quotas(size, spec.mix) if spec.mix else None
    quota_level, category_quotas = _category_quota_counts(size, spec, taxonomy)
    per_quota: Counter[str] = Counter()
    chosen: list[dict] = []
    chosen_ids: set[str] = set()
    per_difficulty: Counter[str] = Counter()
    per_subcategory: Counter[str] = Counter()
    languages_covered: set[str] = set()

    def fits(item: dict) -> bool:
        if item["id"] in chosen_ids or len(chosen) >= size:
            return False
        limit = category_quotas.get(item[quota_level])
        if limit is not None and per_quota[item[quota_level]] >= limit:
            return False
        return quotas is None or per_difficulty[item["difficulty"]] < quotas.get(item["difficulty"], 0)

    def wanted(subcategory: str) -> bool:
        """Whether a subcategory's items count towards a category quota not yet met."""
        key = subcategory if quota_level == "subcategory" else taxonomy.subcategory_to_category.get(subcategory)
        return key in category_quotas and per_quota[key] < category_quotas[key]

    def take(item: dict) -> None:
        chosen.append(item)
        chosen_ids.add(item["id"])
        per_difficulty[item["difficulty"]] += 1
        per_subcategory[item["subcategory"]] += 1
        per_quota[item[quota_level]] += 1
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
            # Categories short of their quota first, then the least represented subcategory.
            subcategory = min(open_subcategories, key=lambda s: (not wanted(s), per_subcategory[s], str(s)))
            take(next(i for i in by_subcategory[subcategory] if fits(i)))
    else:
        for item in order:
            if fits(item):
                take(item)
    chosen.sort(key=lambda r: r["id"])
    return chosen, _selection_report(chosen, pool, spec, taxonomy, quotas, per_difficulty, quota_level,
                                     category_quotas, per_quota, languages_covered, by_subcategory)


def _everything(order: list[dict], spec: ReleaseSpec, taxonomy: Taxonomy) -> tuple[list[dict], dict]:
    """The whole pool, no quota to meet: what select_items would take one by one, counted at once."""
    per_difficulty = Counter(item["difficulty"] for item in order)
    quota_level, category_quotas = _category_quota_counts(len(order), spec, taxonomy)
    per_quota = Counter(item[quota_level] for item in order)
    languages = {lang for item in order for lang in item["programming_language"]}
    subcategories = {item["subcategory"]: None for item in order}
    return order, _selection_report(order, order, spec, taxonomy, None, per_difficulty, quota_level, category_quotas,
                                    per_quota, languages, subcategories)


def _selection_report(chosen: list[dict], pool: list[dict], spec: ReleaseSpec, taxonomy: Taxonomy,
                      quotas: dict[str, int] | None, per_difficulty: Counter, quota_level: str,
                      category_quotas: dict[str, int], per_quota: Counter, languages_covered: set[str],
                      by_subcategory: dict) -> dict:
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
        "category_quotas": {name: {"quota": quota, "selected": per_quota[name],
                                   "available": sum(1 for item in pool if item[quota_level] == name)}
                            for name, quota in category_quotas.items()},
    }
    report["problems"] = _shortfall_messages(report)
    return report


def _shortfall_messages(report: dict) -> list[str]:
    messages = []
    if report["shortfall"]:
        messages.append(f"asked for {report['requested']} items, the pool allows {report['selected']}: "
                        f"{report['shortfall']} short")
    for difficulty, figures in report["difficulty"].items():
        if figures["quota"] is not None and figures["selected"] < figures["quota"]:
            messages.append(f"{difficulty}: quota {figures['quota']}, only {figures['selected']} "
                            f"({figures['available']} in the pool)")
    for name, figures in report.get("category_quotas", {}).items():
        if figures["selected"] < figures["quota"]:
            messages.append(f"{name}: quota {figures['quota']}, only {figures['selected']} "
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
    items: list[dict]  # compact rows (see _pool), in release order; release_items reads their texts
    report: dict
    distributions: dict
    agreement: dict = field(default_factory=dict)
    scores: list[dict] = field(default_factory=list)  # per score field of the project (score_summary)


def _annotation_table(session: Session, project: Project, public_ids: dict[int, str] | None) -> pd.DataFrame:
    """The submitted annotations of the queries in `public_ids` ({query id: public id}; None: of
    every query) as `agreement_db.annotation_table` gives them, read as a compact projection:
    ids instead of joined names, one object per distinct value, language sets decoded once per
    distinct JSON text."""
    score_names = [f.name for f in project.score_fields]
    if public_ids is None:
        public_ids = {query_id: public_id for query_id, public_id in session.connection().execute(
            select(Query.id, Query.public_id).execution_options(yield_per=10_000))}
    annotators = dict(session.execute(select(User.id, User.name)).all())
    vocabulary = project.taxonomy.languages
    fields = [f for f in agreement_db.FIELD_LEVELS if f != "languages"]
    statement = select(Annotation.query_id, Annotation.annotator_id, cast(Annotation.languages, Text),
                       *(getattr(Annotation, f) for f in fields),
                       *([cast(Annotation.scores, Text)] if score_names else [])).where(
        Annotation.state == AnnotationState.SUBMITTED).order_by(Annotation.query_id, Annotation.annotator_id)
    columns: dict[str, list] = {name: [] for name in ("item", "annotator", "languages", *fields)}
    scores: list[dict] = []
    shared: dict = {}
    language_sets: dict = {None: None}
    for rows in session.connection().execute(statement.execution_options(yield_per=10_000)).partitions():
        rows = [row for row in rows if row[0] in public_ids]  # the released items' annotations
        if not rows:
            continue
        query_ids, annotator_ids, languages, *values = zip(*rows)  # a column at a time
        columns["item"] += map(public_ids.__getitem__, query_ids)
        columns["annotator"] += map(annotators.__getitem__, annotator_ids)
        for text in set(languages) - language_sets.keys():
            language_sets[text] = frozenset(agreement_db.stored_languages(orjson.loads(text), vocabulary) or ()) or None
        columns["languages"] += map(language_sets.__getitem__, languages)
        for name, column in zip(fields, values):
            columns[name] += (shared.setdefault(value, value) for value in column)
        if score_names:
            scores += (orjson.loads(text) or {} if isinstance(text, str) else {} for text in values[-1])
    # Object columns point at the shared strings; pandas' own string columns would copy every one.
    table = pd.DataFrame({name: pd.Series(columns[name], dtype=object)
                          for name in ("item", "annotator", *agreement_db.FIELD_LEVELS)})
    for name in score_names:
        table[name] = pd.Series([s.get(name) for s in scores], index=table.index, dtype=float)
    return table


def _agreement_summary(session: Session, actor: User, public_ids: dict[int, str] | None, project: Project) -> dict:
    """Krippendorff's alpha and percent agreement per field on the released items' annotations
    ({query id: public id}), or with `public_ids` None on every annotated item of the project."""
    require_role(actor, Role.LEAD, Role.ADMIN)
    if public_ids is not None and not public_ids:
        return {}
    table = _annotation_table(session, project, public_ids)
    summary = {}
    for name in agreement_db.field_levels(project):
        report = agreement_db.field_report(project, table, name, n_bootstrap=200, seed=0)
        summary[name] = {k: report.get(k) for k in ("level", "n_items", "n_annotators", "percent_agreement",
                                                     "krippendorff_alpha")}
        summary[name]["alpha_ci95"] = report["ci95"].get("krippendorff_alpha")
    return summary


def preview(session: Session, *, actor: User, spec: ReleaseSpec, with_agreement: bool = True,
            project: Project | None = None) -> Preview:
    require_role(actor, Role.LEAD, Role.ADMIN)
    project = project or load_project(session)
    if spec.languages:  # a filter typed as RUST finds the items labelled rust
        spec = replace(spec, languages=tuple(canonical_languages(
            languages=list(spec.languages), vocabulary=project.taxonomy.languages, keep_unknown=True) or ()))
    pool, held_back = _pool(session, spec, project.score_fields)
    items, report = select_items(pool, spec, project.taxonomy)
    report["held_back_by_triage"] = {"count": len(held_back), "ids": held_back[:100]}
    unanswered = [item["id"] for item in items if not item["has_reference_answer"]]
    report["without_reference_answer"] = {"count": len(unanswered), "ids": unanswered[:100]}
    if unanswered:
        report["problems"].append(f"{len(unanswered)} selected item(s) have no reference answer yet: they are "
                                  "incomplete for a benchmark that ships one per item")
    if held_back:
        report["problems"].append(f"{len(held_back)} final item(s) held back by triage flags (contamination, "
                                  "secrets or duplicates) until a lead clears them")
    agreement = (_agreement_summary(session, actor, {i["_query_id"]: i["id"] for i in items}, project)
                 if with_agreement else {})
    return Preview(items, report, distributions(items), agreement,
                   score_summary(items, project.score_fields))
