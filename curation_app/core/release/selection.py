"""Which items go into a release: the pool of final, kept items that pass the filters, a stratified
sample of it, the report of what the pool could not meet, and the preview shown before freezing."""

from __future__ import annotations

import json
import math
import random
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field, replace

import orjson
from sqlalchemy import func, select
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


def _pool(session: Session, spec: ReleaseSpec,
          score_fields: tuple[ScoreField, ...] = ()) -> tuple[list[dict], list[str]]:
    """Final, kept items that pass the filters, each as the row it would be in the release; and
    the ids held back by triage flags that no lead has cleared."""
    # Plain columns, not ORM objects: a 100,000-item release reads them all.
    statement = (select(Query.id, Query.public_id, Query.messages, Query.source, Query.original_id,
                        Query.triage_flags, FinalLabel.difficulty, FinalLabel.languages,
                        FinalLabel.category, FinalLabel.subcategory, FinalLabel.reference_answer,
                        FinalLabel.rewritten_prompt, FinalLabel.source.label("label_source"), FinalLabel.field_sources,
                        FinalLabel.scores)
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
    baselines: dict[int, dict[str, str]] = defaultdict(dict)  # query -> {model: answer}, first imported first
    for query_id, model, answer in session.execute(
            select(Baseline.query_id, Baseline.model, Baseline.answer).join(
                FinalLabel, FinalLabel.query_id == Baseline.query_id)
            .where(FinalLabel.decision == KEEP).order_by(Baseline.id).execution_options(yield_per=5000)):
        baselines[query_id][model] = answer
    wanted_languages = set(spec.languages)
    score_names = [f.name for f in score_fields]
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
            "baseline_answer": next(iter(baselines.get(row.id, {}).values()), None),
            "baseline_models": list(baselines.get(row.id, ())),
            "source": row.source,
            "original_id": row.original_id,
            "label_source": row.label_source,
            "n_annotators": counts.get(row.id, 0),
            "field_sources": orjson.dumps(row.field_sources or {}, option=orjson.OPT_SORT_KEYS).decode(),
            "rewritten": rewritten,
            "original_messages": json.dumps(row.messages, ensure_ascii=False) if rewritten else None,
            "_query_id": row.id,
            "_baselines": baselines.get(row.id, {}),
        })
        if score_names:
            scores = row.scores or {}
            rows[-1]["scores"] = {name: scores.get(name) for name in score_names}
    return rows, held_back


def add_responses(items: list[dict]) -> list[str]:
    """Give every item CodeArena's `<model>_response` key for each baseline model among the items
    (None where an item has no answer from that model), so every row has the same keys and each
    key one type. Returns the models, sorted."""
    models = sorted({model for item in items for model in item["baseline_models"]})
    for item in items:
        for model in models:
            item[f"{model}{RESPONSE_SUFFIX}"] = item["_baselines"].get(model)
    return models


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
    items: list[dict]
    report: dict
    distributions: dict
    agreement: dict = field(default_factory=dict)
    scores: list[dict] = field(default_factory=list)  # per score field of the project (score_summary)


def _agreement_summary(session: Session, actor: User, public_ids: set[str] | None, project: Project) -> dict:
    """Krippendorff's alpha and percent agreement per field on the released items' annotations,
    or with `public_ids` None on every annotated item of the project."""
    if public_ids is not None and not public_ids:
        return {}
    table = agreement_db.annotation_table(session, actor=actor, project=project)
    if public_ids is not None and not public_ids.issuperset(table["item"].unique()):  # a full release: no filter
        table = table[table["item"].isin(public_ids)]
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
    add_responses(items)
    report["held_back_by_triage"] = {"count": len(held_back), "ids": held_back[:100]}
    unanswered = [item["id"] for item in items if not item["reference_answer"]]
    report["without_reference_answer"] = {"count": len(unanswered), "ids": unanswered[:100]}
    if unanswered:
        report["problems"].append(f"{len(unanswered)} selected item(s) have no reference answer yet: they are "
                                  "incomplete for a benchmark that ships one per item")
    if held_back:
        report["problems"].append(f"{len(held_back)} final item(s) held back by triage flags (contamination, "
                                  "secrets or duplicates) until a lead clears them")
    agreement = _agreement_summary(session, actor, {i["id"] for i in items}, project) if with_agreement else {}
    return Preview(items, report, distributions(items), agreement,
                   score_summary(items, project.score_fields))
