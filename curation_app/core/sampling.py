"""Candidate sampling: choose N queries for annotation from the imported pool, seeded, reproducible
and stratified, the way CodeArena first drew about 2,000 candidates from real user traffic.

Which queries are candidates: imported queries that are not a confirmed duplicate (retired), not
held out by triage (`blocked`), not a possible near-duplicate of another query that no lead has
cleared, not final, not already in annotation (released to annotators, or holding any claim) and
not in an earlier sample; with `coding_only`, also scored by the coding-query detector at or above
the project's `coding_threshold` (core/triage/coding_queries.py's filter). Every query that is not a candidate is counted under the first of these
reasons it meets.

Strata: any of `language` (the detected programming language, read cheaply: see
`detected_language`), `topic` (a cluster of the query's first user turn: TF-IDF words and seeded
MiniBatchKMeans, no downloaded model) and `source` (Query.source); a stratum is one combination of
the chosen keys' values.

Allocation: each stratum's proportional share N * n_h / n, but at least min(floor, n_h) and at most
n_h; strata held at their floor or their size keep it, the rest of N is shared among the others in
proportion to their sizes, repeated until nothing changes; fractional shares are rounded by largest
remainder (ties: the larger stratum, then the stratum's name), so the sample has exactly N queries
whenever the pool has N. When the floors alone need more than N, the largest strata get theirs first
and the report lists the strata left without a query. Within a stratum the draw is uniform, from
the members ordered by public id, with a generator seeded by (seed, stratum).

Bounded at scale: the candidates are read as plain columns (no conversation), ordered by public id
in Python (the same order on SQLite and PostgreSQL, whatever the server's collation). Language and
topic need text: only the first user turn, cut to TEXT_CHARS characters, of at most
`analysed_limit` candidates (or ANALYSED_PER_CHOSEN per query asked for, if more). A larger pool is
stratified on a seeded uniform subsample of that size (two-phase sampling: a uniform draw within a
stratum of a uniform subsample is a uniform draw within the stratum), and the report says so;
stratum sizes are then counted within the subsample.
The topic model is fitted on at most TOPIC_FIT_SIZE of the analysed texts and assigns the rest.

The reading runs in a read-only session (`draw_sample`), beside annotators' saves; recording the
sample and opening it to annotators (`record_sample`, through core/queue.py) is one short write.
"""

from __future__ import annotations

import math
import random
import re
import warnings
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass

from sqlalchemy import and_, case, exists, func, insert, not_, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from curation_app.core import audit, queue
from curation_app.core.auth import require_role
from curation_app.core.errors import Conflict, InvalidInput, NotFound
from curation_app.core.languages import LABEL_ALIASES, label_for
from curation_app.core.triage.coding_queries import coding_filter, coding_threshold
from curation_app.database import read_scope, session_scope
from curation_app.models import CandidateSample, CandidateSampleQuery, FinalLabel, Query, Role, User

STRATA_KEYS = ("language", "topic", "source")
DEFAULT_STRATA = ("language", "topic")
TEXT_KEYS = ("language", "topic")
DEFAULT_TOPICS = 10
DEFAULT_FLOOR = 1
MAX_SIZE = 1_000_000
# Language and topic read this much of each query's first user turn: its question and first code.
TEXT_CHARS = 2000
# Reading a text's words costs about 40 microseconds on this project's 2-core machine: language and
# topic are read for at most this many candidates, or ANALYSED_PER_CHOSEN per query asked for if
# that is more, which keeps sampling 2,000 of 1,000,000 queries within seconds (benchmarks/run.py).
ANALYSED_LIMIT = 50_000
ANALYSED_PER_CHOSEN = 10
TOPIC_FIT_SIZE = 20_000
NO_LANGUAGE = "none detected"
IN_CHUNK = 5000

# Why a query is not a candidate, in the order they are checked.
SKIP_REASONS = ("duplicate", "held out", "possible duplicate", "final", "in annotation",
                "in an earlier sample", "not scored", "not coding")


@dataclass(frozen=True)
class SampleSpec:
    """What to sample: `size` queries, stratified by `by`, reproducible from `seed`."""

    size: int
    seed: int = 0
    by: tuple[str, ...] = DEFAULT_STRATA
    coding_only: bool = False
    floor: int = DEFAULT_FLOOR
    topics: int = DEFAULT_TOPICS
    name: str | None = None
    analysed_limit: int = ANALYSED_LIMIT

    def checked(self) -> "SampleSpec":
        for label, value, low, high in (("size", self.size, 1, MAX_SIZE), ("floor", self.floor, 0, 1000),
                                        ("topics", self.topics, 1, 100),
                                        ("analysed limit", self.analysed_limit, 1, 10_000_000)):
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise InvalidInput(f"sample {label} must be a whole number from {low:,} to {high:,}, not {value!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise InvalidInput(f"sample seed must be a whole number, not {self.seed!r}")
        unknown = [key for key in self.by if key not in STRATA_KEYS]
        if unknown:
            raise InvalidInput(f"unknown stratum key {', '.join(map(repr, unknown))}: choose from "
                               f"{', '.join(STRATA_KEYS)} (or none)")
        if len(set(self.by)) != len(self.by):
            raise InvalidInput("a stratum key is named twice")
        if self.name is not None and not (self.name.strip() and len(self.name.strip()) <= 200):
            raise InvalidInput("a sample name must have 1 to 200 characters")
        return self

    def arguments(self) -> dict:
        data = asdict(self)
        data["by"] = list(self.by)
        return data


def parse_strata(text: str | None) -> tuple[str, ...]:
    """'language,topic' -> ('language', 'topic'); 'none' -> () (one stratum: a plain random draw)."""
    if text is None:
        return DEFAULT_STRATA
    if text.strip().lower() in ("", "none"):
        return ()
    return tuple(part.strip().lower() for part in text.split(",") if part.strip())


# --- the detected language and the topic, cheaply ----------------------------------------------

_FENCE_TAG = re.compile(r"^[ \t]*(?:`{3,}|~{3,})[ \t]*([A-Za-z0-9+#._-]{1,30})", re.M)
# Words of lower-cased text, "c++" and "c#" included: read once, for the language and the topic.
_TOKEN = re.compile(r"[a-z][a-z0-9_]+(?:\+\+|#)?|c\+\+|c#")
# Names that, in prose, also mean something else ("go", "node", "shell", "less"...) are left out.
_AMBIGUOUS_NAMES = {"node", "shell", "less", "posh", "pine", "swift", "dart", "rust", "sage", "console"}
_MENTION_NAMES = {name: label for name, label in LABEL_ALIASES.items()
                  if (len(name) >= 4 or name in ("c++", "c#", "cpp", "php", "sql", "css", "vba", "lua"))
                  and name not in _AMBIGUOUS_NAMES and _TOKEN.fullmatch(name)}
_MENTION_SET = frozenset(_MENTION_NAMES)
N_HASHED_FEATURES = 2 ** 18
CHUNK = 10_000


def _language(text: str, tokens: list[str]) -> str:
    for match in _FENCE_TAG.finditer(text):
        label = label_for(match.group(1))
        if label:
            return label
    named = _MENTION_SET.intersection(tokens)
    if not named:
        return NO_LANGUAGE
    first = next(iter(named)) if len(named) == 1 else min(named, key=tokens.index)
    return _MENTION_NAMES[first]


def detected_language(text: str) -> str:
    """The language a query's first user turn is most likely about, for stratifying: the first
    fenced code block's tag that names a language, else the first language the text names (a
    vocabulary name or alias), else NO_LANGUAGE. Not the annotate page's detector: Pygments and
    code cues cost about a millisecond a query, too much for a pool of millions, and a stratum only
    needs to group alike queries."""
    return _language(text, _TOKEN.findall(text.lower()))


def analyse_texts(texts: list[str], *, by: tuple[str, ...], n_topics: int, seed: int) -> dict[str, list[str]]:
    """The language and/or topic of each text (the keys of `by` that need text), in one reading.

    Topic: the words of each text hashed (scikit-learn's FeatureHasher: no vocabulary to hold,
    faster than reading the words), weighted by sublinear TF-IDF with the document frequencies
    of a seeded subsample of at most TOPIC_FIT_SIZE texts (words in fewer than 2 or more than half
    of those, and English stop words, count for nothing); MiniBatchKMeans (seeded) fitted on that
    subsample assigns every text to its nearest centre. Topics are numbered by size, largest first,
    and named by the commonest word of their centre's three heaviest features."""
    want_language, want_topic = "language" in by, "topic" in by
    languages: list[str] = []
    result: dict[str, list[str]] = {}
    if not texts or not (want_language or want_topic):
        return {key: [] for key in by if key in TEXT_KEYS}
    if want_topic:
        from scipy import sparse
        from sklearn.feature_extraction import FeatureHasher

        hasher = FeatureHasher(n_features=N_HASHED_FEATURES, input_type="pair", alternate_sign=False)
        fit_positions = sorted(random.Random(f"{seed}:topic-fit").sample(range(len(texts)),
                                                                       min(TOPIC_FIT_SIZE, len(texts))))
        fit_set = set(fit_positions)
        fit_words: Counter[str] = Counter()
        blocks = []
    for start in range(0, len(texts), CHUNK):
        chunk = texts[start:start + CHUNK]
        tokens = [_TOKEN.findall(text.lower()) for text in chunk]
        if want_language:
            languages += [_language(text, words) for text, words in zip(chunk, tokens)]
        if want_topic:
            counted = [Counter(words) for words in tokens]  # (word, count) pairs hash fastest
            blocks.append(hasher.transform(c.items() for c in counted))
            for offset, words in enumerate(counted):
                if start + offset in fit_set:
                    fit_words.update(words)
    if want_language:
        result["language"] = languages
    if want_topic:
        result["topic"] = _topics(sparse.vstack(blocks).tocsr(), fit_positions, fit_words, hasher,
                                  n_topics=n_topics, seed=seed)
    return result


def _topics(counts, fit_positions: list[int], fit_words: Counter, hasher, *,  # type: ignore[no-untyped-def]
            n_topics: int, seed: int) -> list[str]:
    """A topic name for each row of the hashed word counts (see analyse_texts)."""
    import numpy as np
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    from sklearn.preprocessing import normalize

    n_fit = len(fit_positions)
    fit_counts = counts[fit_positions]
    frequency = np.asarray((fit_counts > 0).sum(axis=0)).ravel()
    useful = frequency >= (2 if n_fit >= 50 else 1)
    if n_fit >= 10:
        useful &= frequency <= n_fit / 2
    stop_buckets = hasher.transform([[(word, 1)] for word in sorted(ENGLISH_STOP_WORDS)]).indices
    useful[stop_buckets] = False
    columns = np.flatnonzero(useful)  # the centres stay small: only the features that can tell topics apart
    if not len(columns):
        return ["1: (no distinctive words)"] * counts.shape[0]
    weights = (np.log((1 + n_fit) / (1 + frequency[columns])) + 1).astype(np.float32)
    features = counts[:, columns].astype(np.float32)
    features.data = 1 + np.log(features.data)
    features = normalize(features.multiply(weights).tocsr())
    n_clusters = max(1, min(n_topics, n_fit))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # fewer distinct texts than topics
        model = MiniBatchKMeans(n_clusters=n_clusters, random_state=seed, n_init=3, batch_size=1024)
        model.fit(features[fit_positions])
        assigned = model.predict(features)
    # Each hashed feature named by the commonest word of the fit subsample that lands on it.
    words = [word for word, _ in fit_words.most_common() if word not in ENGLISH_STOP_WORDS]
    bucket_name: dict[int, str] = {}
    if words:
        for word, bucket in zip(words, hasher.transform([[(w, 1)] for w in words]).indices):
            bucket_name.setdefault(int(bucket), word)
    sizes = Counter(int(c) for c in assigned)
    order = sorted(range(n_clusters), key=lambda c: (-sizes.get(c, 0), c))
    names = {}
    for number, cluster in enumerate(order, start=1):
        centre = model.cluster_centers_[cluster]
        top = [int(columns[i]) for i in np.argsort(-centre)[:3] if centre[i] > 0]
        names[cluster] = f"{number}: " + (", ".join(bucket_name.get(i, "?") for i in top) or "(no words)")
    return [names[int(c)] for c in assigned]


# --- allocation --------------------------------------------------------------------------------

def _round_largest_remainder(shares: dict[str, float], total: int, sizes: dict[str, int],
                             caps: dict[str, int]) -> dict[str, int]:
    counts = {key: min(math.floor(share + 1e-9), caps[key]) for key, share in shares.items()}
    left = total - sum(counts.values())
    order = sorted(shares, key=lambda key: (-(shares[key] - counts[key]), -sizes[key], key))
    for key in order:
        if left <= 0:
            break
        if counts[key] < caps[key]:
            counts[key] += 1
            left -= 1
    return counts


def proportional_shares(sizes: dict[str, int], size: int) -> dict[str, int]:
    """Each stratum's plain proportional share of `size`, rounded by largest remainder (what
    proportional allocation asks of it, before the floor and the stratum's size)."""
    total = sum(sizes.values())
    if not total:
        return {key: 0 for key in sizes}
    shares = {key: size * n / total for key, n in sizes.items()}
    return _round_largest_remainder(shares, size, sizes, {key: size for key in sizes})


def allocate(sizes: dict[str, int], size: int, floor: int) -> dict[str, int]:
    """How many to draw from each stratum (the rule is in the module's docstring)."""
    total = sum(sizes.values())
    if size >= total:
        return dict(sizes)
    minimum = {key: min(floor, n) for key, n in sizes.items()}
    if sum(minimum.values()) >= size:
        counts = {key: 0 for key in sizes}
        left = size
        for key in sorted(sizes, key=lambda k: (-sizes[k], k)):
            counts[key] = min(minimum[key], left)
            left -= counts[key]
        return counts
    fixed: dict[str, int] = {}
    while True:
        free = [key for key in sizes if key not in fixed]
        budget = size - sum(fixed.values())
        free_total = sum(sizes[key] for key in free)
        shares = {key: budget * sizes[key] / free_total for key in free} if free_total else {}
        pinned = {key: minimum[key] for key in free if shares[key] < minimum[key]}
        pinned.update({key: sizes[key] for key in free if shares[key] > sizes[key]})
        if not pinned:
            break
        fixed.update(pinned)
    counts = dict(fixed)
    if shares:
        counts.update(_round_largest_remainder(shares, size - sum(fixed.values()), sizes, sizes))
    return counts


# --- reading the pool --------------------------------------------------------------------------

def _skip_reason(coding_only: bool, threshold: float):  # type: ignore[no-untyped-def]
    """Why a query is not a candidate, as one SQL expression (NULL: it is one)."""
    flags = Query.triage_flags
    blocked = func.coalesce(flags["blocked"].as_boolean(), False)
    possible_duplicate = and_(flags["possible_duplicate_of"].as_string().is_not(None),
                              flags["cleared_by"].as_string().is_(None))
    whens = [
        (Query.retired, "duplicate"),
        (blocked, "held out"),
        (possible_duplicate, "possible duplicate"),
        (exists().where(FinalLabel.query_id == Query.id), "final"),
        (or_(Query.in_pool, Query.n_claims > 0), "in annotation"),
        (exists().where(CandidateSampleQuery.query_id == Query.id), "in an earlier sample"),
    ]
    if coding_only:
        whens += [(Query.coding_score.is_(None), "not scored"), (not_(coding_filter(threshold)), "not coding")]
    return case(*whens, else_=None)


def _first_user_turn():  # type: ignore[no-untyped-def]
    """The first user turn cut to TEXT_CHARS characters, in SQL (the conversation never leaves the
    database); a conversation may open with a system turn."""
    first = case((Query.messages[(0, "role")].as_string() == "user", Query.messages[(0, "content")].as_string()),
                 else_=Query.messages[(1, "content")].as_string())
    return func.substr(func.coalesce(first, ""), 1, TEXT_CHARS)


def _texts(session: Session, query_ids: list[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    text = _first_user_turn()
    ordered = sorted(query_ids)
    for start in range(0, len(ordered), IN_CHUNK):
        chunk = ordered[start:start + IN_CHUNK]
        found.update(session.connection().execute(select(Query.id, text).where(Query.id.in_(chunk))).all())
    return found


@dataclass(slots=True)
class Candidate:
    id: int
    public_id: str
    source: str
    stratum: dict | None = None  # set for the candidates whose strata were read


@dataclass
class SampleDraw:
    """What `draw_sample` chose and why, before anything is written."""

    spec: SampleSpec
    chosen: list[Candidate]
    report: dict


def _stratum_label(values: dict) -> str:
    return " | ".join(f"{key}={value}" for key, value in values.items()) if values else "all"


def draw_sample(session: Session, *, actor: User, spec: SampleSpec) -> SampleDraw:
    """Choose the sample; reads only (see the module's docstring for the rules)."""
    require_role(actor, Role.LEAD, Role.ADMIN)
    spec = spec.checked()
    threshold = coding_threshold(session) if spec.coding_only else None
    reason = _skip_reason(spec.coding_only, threshold or 0.0)
    # Core rows, not ORM ones: a million of them.
    rows = session.connection().execute(
        select(Query.id, Query.public_id, Query.source, reason.label("reason"))).all()
    skipped: Counter[str] = Counter()
    per_source: dict[str, Counter[str]] = defaultdict(Counter)
    candidates: list[Candidate] = []
    for query_id, public_id, source, why in rows:
        per_source[source]["queries"] += 1
        if why is None:
            candidates.append(Candidate(query_id, public_id, source))
            per_source[source]["candidates"] += 1
        else:
            skipped[why] += 1
    del rows
    # Python orders strings by code point on every backend; PostgreSQL's collation may not.
    candidates.sort(key=lambda c: c.public_id)
    needs_text = any(key in TEXT_KEYS for key in spec.by)
    analysed = candidates
    limit = max(spec.analysed_limit, ANALYSED_PER_CHOSEN * spec.size)
    if needs_text and len(candidates) > limit:
        positions = sorted(random.Random(f"{spec.seed}:analysed").sample(range(len(candidates)), limit))
        analysed = [candidates[i] for i in positions]
    if needs_text and analysed:
        texts = _texts(session, [c.id for c in analysed])
        found = analyse_texts([texts.get(c.id) or "" for c in analysed], by=spec.by, n_topics=spec.topics,
                              seed=spec.seed)
        for position, candidate in enumerate(analysed):
            candidate.stratum = {key: candidate.source if key == "source" else found[key][position]
                                 for key in spec.by}
    else:  # stratified by source alone, or not at all
        for candidate in analysed:
            candidate.stratum = {"source": candidate.source} if spec.by else {}
    members: dict[str, list[Candidate]] = defaultdict(list)
    values_of: dict[str, dict] = {}
    for candidate in analysed:
        label = _stratum_label(candidate.stratum)
        members[label].append(candidate)
        values_of[label] = candidate.stratum
    sizes = {label: len(group) for label, group in members.items()}
    quotas = allocate(sizes, spec.size, spec.floor)
    asked = proportional_shares(sizes, spec.size)
    chosen: list[Candidate] = []
    for label in sorted(members):
        group = members[label]  # in public-id order
        chosen += random.Random(f"{spec.seed}:{label}").sample(group, quotas[label])
    chosen.sort(key=lambda c: c.public_id)
    report = _report(spec, threshold, rows_total=sum(c["queries"] for c in per_source.values()),
                     candidates=candidates, analysed=analysed, skipped=skipped, per_source=per_source,
                     members=members, values_of=values_of, asked=asked, chosen=chosen)
    return SampleDraw(spec, chosen, report)


def _report(spec: SampleSpec, threshold: float | None, *, rows_total: int, candidates: list[Candidate],
            analysed: list[Candidate], skipped: Counter, per_source: dict, members: dict, values_of: dict,
            asked: dict, chosen: list[Candidate]) -> dict:
    chosen_per_stratum = Counter(_stratum_label(c.stratum) for c in chosen)
    strata = [{"stratum": label, **values_of[label], "available": len(members[label]), "asked": asked[label],
               "chosen": chosen_per_stratum[label]}
              for label in sorted(members, key=lambda s: (-len(members[s]), s))]
    by_key: dict[str, dict[str, dict]] = {}
    for key in spec.by:
        available = Counter(c.stratum[key] for c in analysed)
        taken = Counter(c.stratum[key] for c in chosen)
        by_key[key] = {value: {"available": available[value], "chosen": taken[value]}
                       for value in sorted(available, key=lambda v: (-available[v], v))}
    chosen_per_source = Counter(c.source for c in chosen)
    sources = {source: {"queries": counts["queries"], "candidates": counts["candidates"],
                        "chosen": chosen_per_source[source]} for source, counts in sorted(per_source.items())}
    subsampled = len(analysed) < len(candidates)
    report = {
        "name": spec.name, "seed": spec.seed, "by": list(spec.by), "floor": spec.floor,
        "topics": spec.topics if "topic" in spec.by else None,
        "coding_only": spec.coding_only, "coding_threshold": threshold,
        "size_asked": spec.size, "size_chosen": len(chosen), "shortfall": max(0, spec.size - len(chosen)),
        "queries": rows_total, "candidates": len(candidates),
        "skipped": {why: skipped[why] for why in SKIP_REASONS if skipped[why]},
        "strata_read_from": len(analysed), "strata_subsampled": subsampled,
        "strata": strata,
        "strata_without_a_query": [s["stratum"] for s in strata if s["chosen"] == 0],
        "sources_without_candidates": [s for s, figures in sources.items() if not figures["candidates"]],
        "by_key": by_key, "sources": sources,
    }
    report["problems"] = _problems(report)
    return report


def _problems(report: dict) -> list[str]:
    problems = []
    unscored = report["skipped"].get("not scored")
    if unscored:
        problems.append(f"{unscored:,} quer{'y has' if unscored == 1 else 'ies have'} no coding score yet and "
                        f"{'was' if unscored == 1 else 'were'} left out: `python -m curation_app triage --coding` "
                        "scores them")
    if report["shortfall"]:
        problems.append(f"asked for {report['size_asked']:,} queries, the pool has {report['candidates']:,} "
                        f"candidates: {report['shortfall']:,} short")
    if report["strata_without_a_query"]:
        n = len(report["strata_without_a_query"])
        why = ("the floors need more than the size" if report["floor"]
               else "their share of the size rounds to 0; a floor of 1 covers them")
        problems.append(f"{n} strat{'um' if n == 1 else 'a'} got no query ({why}): "
                        + "; ".join(report["strata_without_a_query"][:5]) + (" ..." if n > 5 else ""))
    if report["sources_without_candidates"]:
        problems.append("no candidate left in source(s) " + ", ".join(report["sources_without_candidates"][:10])
                        + " (every query there is skipped)")
    if report["strata_subsampled"]:
        problems.append(f"strata were read from a seeded subsample of {report['strata_read_from']:,} of the "
                        f"{report['candidates']:,} candidates: available counts are within it, and a stratum "
                        "too small to appear in it is not covered")
    return problems


# --- recording and opening ---------------------------------------------------------------------

def _default_name(session: Session) -> str:
    taken = set(session.execute(select(CandidateSample.name)).scalars())
    number = len(taken) + 1
    while f"sample-{number}" in taken:
        number += 1
    return f"sample-{number}"


def record_sample(session: Session, *, actor: User, draw: SampleDraw, open_to_pool: bool = True) -> dict:
    """Store the sample and its members; with open_to_pool, release exactly those queries to the
    shared pool (core/queue.py), otherwise a lead assigns them later by the sample's name. Refused,
    with nothing written, when a chosen query stopped being a candidate since it was drawn."""
    require_role(actor, Role.LEAD, Role.ADMIN)
    spec = draw.spec
    name = (spec.name or "").strip() or _default_name(session)
    if session.execute(select(CandidateSample.id).where(CandidateSample.name == name)).first():
        raise InvalidInput(f"a candidate sample named {name!r} exists already: choose another name")
    ids = [c.id for c in draw.chosen]
    reason = _skip_reason(spec.coding_only, draw.report["coding_threshold"] or 0.0)
    changed = 0
    for start in range(0, len(ids), IN_CHUNK):
        changed += session.execute(select(func.count()).select_from(Query).where(
            Query.id.in_(ids[start:start + IN_CHUNK]), reason.is_not(None))).scalar_one()
    if changed:
        raise Conflict(f"{changed:,} of the chosen queries were opened, finalised, flagged or sampled while the "
                       "sample was drawn; nothing was recorded: sample again")
    report = {**draw.report, "name": name, "created_by": actor.name}
    sample = CandidateSample(name=name, seed=spec.seed, size_asked=spec.size, size_chosen=len(ids),
                             arguments={**spec.arguments(), "name": name, "open_to_pool": open_to_pool},
                             report=report, created_by_id=actor.id)
    try:
        session.add(sample)
        session.flush()
        rows = [{"sample_id": sample.id, "query_id": c.id, "stratum": _stratum_label(c.stratum)[:500]}
                for c in draw.chosen]
        for start in range(0, len(rows), 5000):
            session.connection().execute(insert(CandidateSampleQuery.__table__), rows[start:start + 5000])
    except IntegrityError:  # a query is in one sample at most, and a name names one sample
        raise Conflict(f"another sample named {name!r}, or with some of these queries, was recorded meanwhile; "
                       "nothing was recorded: sample again") from None
    audit.record(session, actor=actor, action="sample.create", entity="candidate_sample", entity_id=name,
                 new={"seed": spec.seed, "size_asked": spec.size, "size_chosen": len(ids),
                      "arguments": spec.arguments(), "open_to_pool": open_to_pool,
                      "shortfall": report["shortfall"], "skipped": report["skipped"]})
    opened = 0
    if open_to_pool and ids:
        opened = queue.assign(session, actor=actor, samples=[name])["opened"]
    report["opened"] = opened
    report["open_to_pool"] = open_to_pool
    sample.report = report
    session.add(sample)
    return report


def sample_candidates(*, actor: User, spec: SampleSpec, open_to_pool: bool = True,
                      engine: Engine | None = None) -> dict:
    """Draw in a read-only session (annotators' saves go on meanwhile), then record and open the
    sample in one short transaction. Returns the coverage report."""
    with read_scope(engine) as session:
        draw = draw_sample(session, actor=actor, spec=spec)
    with session_scope(engine) as session:
        return record_sample(session, actor=actor, draw=draw, open_to_pool=open_to_pool)


def list_samples(session: Session) -> list[dict]:
    """Every recorded sample, newest first, with how many of its queries are open to annotators."""
    opened = dict(session.execute(
        select(CandidateSampleQuery.sample_id, func.count())
        .join(Query, Query.id == CandidateSampleQuery.query_id).where(Query.in_pool)
        .group_by(CandidateSampleQuery.sample_id)).all())
    names = dict(session.execute(select(User.id, User.name)).all())
    samples = session.execute(select(CandidateSample).order_by(CandidateSample.id.desc())).scalars()
    return [{"name": s.name, "seed": s.seed, "size_asked": s.size_asked, "size_chosen": s.size_chosen,
             "in_pool": opened.get(s.id, 0), "by": (s.arguments or {}).get("by", []),
             "coding_only": bool((s.arguments or {}).get("coding_only")),
             "created_by": names.get(s.created_by_id, "(command line)"), "created_at": s.created_at}
            for s in samples]


def sample_members(session: Session, *, name: str) -> list[str]:
    """The public ids of a sample's queries, in order."""
    sample_id = session.execute(select(CandidateSample.id).where(CandidateSample.name == name)).scalar_one_or_none()
    if sample_id is None:
        raise NotFound(f"no candidate sample named {name!r}")
    return sorted(session.execute(select(Query.public_id).join(
        CandidateSampleQuery, CandidateSampleQuery.query_id == Query.id)
        .where(CandidateSampleQuery.sample_id == sample_id)).scalars())


__all__ = ["SampleSpec", "SampleDraw", "allocate", "detected_language", "draw_sample",
           "list_samples", "parse_strata", "proportional_shares", "record_sample", "sample_candidates",
           "sample_members", "analyse_texts"]
