"""Synthetic queries of realistic length and language mix, reproducible from a seed."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path
from typing import Iterable, Iterator

LANGUAGES = {  # share of real coding traffic, roughly: Python and JavaScript dominate
    "python": 30, "javascript": 14, "typescript": 6, "java": 7, "cpp": 6, "c": 4, "csharp": 4, "go": 4,
    "rust": 3, "sql": 6, "bash": 4, "php": 3, "html": 3, "css": 2, "r": 2, "kotlin": 1, "swift": 1,
}
SNIPPETS = {
    "python": "def {name}(items):\n    result = []\n    for item in items:\n        if item > {n}:\n            result.append(item * 2)\n    return result\n",
    "javascript": "function {name}(items) {{\n  return items.filter(x => x > {n}).map(x => x * 2);\n}}\n",
    "typescript": "export function {name}(items: number[]): number[] {{\n  return items.filter((x) => x > {n});\n}}\n",
    "java": "public static int {name}(int[] items) {{\n    int total = 0;\n    for (int x : items) total += x > {n} ? x : 0;\n    return total;\n}}\n",
    "cpp": "int {name}(const std::vector<int>& v) {{\n    return std::count_if(v.begin(), v.end(), [](int x) {{ return x > {n}; }});\n}}\n",
    "c": "int {name}(int *v, size_t n) {{\n    int t = 0;\n    for (size_t i = 0; i < n; i++) if (v[i] > {n}) t += v[i];\n    return t;\n}}\n",
    "csharp": "public int {name}(List<int> items) => items.Where(x => x > {n}).Sum();\n",
    "go": "func {name}(items []int) int {{\n\ttotal := 0\n\tfor _, x := range items {{\n\t\tif x > {n} {{\n\t\t\ttotal += x\n\t\t}}\n\t}}\n\treturn total\n}}\n",
    "rust": "fn {name}(items: &[i32]) -> i32 {{\n    items.iter().filter(|&&x| x > {n}).sum()\n}}\n",
    "sql": "SELECT customer_id, SUM(amount) AS total\nFROM orders\nWHERE amount > {n}\nGROUP BY customer_id\nORDER BY total DESC;\n",
    "bash": "for f in *.log; do\n  grep -c ERROR \"$f\" | awk '$1 > {n}'\ndone\n",
    "php": "function {name}($items) {{\n    return array_filter($items, fn($x) => $x > {n});\n}}\n",
    "html": "<div class=\"card\">\n  <h2>{name}</h2>\n  <button onclick=\"go({n})\">Go</button>\n</div>\n",
    "css": ".{name} {{\n  display: flex;\n  margin: {n}px auto;\n}}\n",
    "r": "{name} <- function(df) {{\n  df[df$value > {n}, ]\n}}\n",
    "kotlin": "fun {name}(items: List<Int>) = items.filter {{ it > {n} }}.sum()\n",
    "swift": "func {name}(_ items: [Int]) -> Int {{\n    items.filter {{ $0 > {n} }}.reduce(0, +)\n}}\n",
}
OPENINGS = ["Why does this code give the wrong result?", "How can I make this faster?",
            "I get an error when I run this, can someone explain?", "Can you refactor this to be cleaner?",
            "What is the difference between these two approaches?", "Please write unit tests for this.",
            "Convert this to idiomatic code.", "This works locally but fails in production."]
WORDS = ("the list data value function loop error result index memory thread request file "
         "user input output server client cache query table column performance test").split()


def synthetic_queries(n: int, seed: int = 0) -> list[dict]:
    return list(iter_synthetic_queries(n, seed))


def iter_synthetic_queries(n: int, seed: int = 0) -> Iterator[dict]:
    """The rows of `synthetic_queries`, one at a time (a million rows do not fit in memory)."""
    rng = random.Random(seed)
    names, weights = list(LANGUAGES), list(LANGUAGES.values())
    for i in range(n):
        language = rng.choices(names, weights)[0]
        prose = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 120)))
        parts = [f"{rng.choice(OPENINGS)} (case {i}) {prose}."]
        for block in range(rng.choice((0, 1, 1, 1, 2))):
            code = SNIPPETS[language].format(name=f"f{i}_{block}", n=rng.randint(0, 999))
            parts.append(f"```{language}\n{code * rng.randint(1, 4)}```")
        yield {"id": f"syn-{i:07d}", "messages": [{"role": "user", "content": "\n\n".join(parts)}],
               "language": language}


# Varied queries for triage at scale. `synthetic_queries` draws prose from 24 words and code from
# one snippet per language, so nearly every pair of same-language queries shares most of its
# shingles: at a million queries LSH buckets hold thousands and candidate pairs grow with the
# square of the size, which real traffic does not do. These draw prose from a few thousand
# words (Zipf-like: a few words are everywhere), code lines from shapes around a few thousand
# API names (which signatures keep), and plant known near-duplicates and secrets.
_SYLLABLES = ("ba ce di fo gu ha je ki lo mu na pe qui ro su ta ve wi xo yu za bri cla dro "
              "fle gra klo pla stru tri vel mor sen tal rin dun").split()
_CODE_SHAPES = {
    "python": ["{v} = {o}.{api}({v}, {n})", "for {v} in {o}.{api}():", "    if {v}.{api}() > {n}:",
               "        {o}.{api}({v})", "    return {v}.{api}()", "import {api}", "def {v}({v}, {v}):",
               "print({v}.{api}(\"{w}\"))"],
    "javascript": ["const {v} = {o}.{api}({v}, {n});", "{o}.{api}(({v}) => {v}.{api}());",
                   "if ({v}.{api}() > {n}) {{", "  return {v}.{api}({v});", "}}", "let {v} = await {o}.{api}();"],
    "java": ["public {t} {v}({t} {v}) {{", "    {t} {v} = {o}.{api}({n});", "    return {v}.{api}();", "}}",
             "for (int {v} = 0; {v} < {n}; {v}++) {{", "    {o}.{api}({v});"],
    "sql": ["SELECT {v}, {api}({v}) FROM {o}", "WHERE {v} > {n}", "GROUP BY {v} ORDER BY {v} DESC;",
            "JOIN {o} ON {o}.{v} = {v}.{v}"],
    "go": ["func {v}({v} {t}) {t} {{", "\t{v} := {o}.{api}({v}, {n})", "\treturn {v}", "}}",
           "\tif err := {o}.{api}(); err != nil {{"],
}
_TYPES = ("int", "string", "float", "List", "Map", "bool", "byte", "long")


def _pseudo_words(rng: random.Random, count: int) -> list[str]:
    words: dict[str, None] = {}
    while len(words) < count:
        words["".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))] = None
    return list(words)


def _secret(rng: random.Random) -> str:
    """A line that find_secrets flags: one of the credential shapes users paste by mistake."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    mixed = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    kind = rng.randrange(4)
    if kind == 0:
        return "aws_access_key_id = " + "AKIA" + "".join(rng.choice(alphabet) for _ in range(16))
    if kind == 1:
        return "token: ghp_" + "".join(rng.choice(mixed) for _ in range(36))
    if kind == 2:
        return f'db_password = "{"".join(rng.choice(mixed) for _ in range(12))}"'
    return f"write to me at {''.join(rng.choice('abcdefghijklmnop') for _ in range(8))}@mailbox-{rng.randint(10, 99)}.net"


def varied_queries(n: int, seed: int = 0, *, duplicate_share: float = 0.02,
                   secret_share: float = 0.005) -> Iterator[dict]:
    """n queries of realistic length with varied prose and code, one at a time; about
    `duplicate_share` of them are edited copies of a recent one (a greeting and thanks added, one
    word changed: near-duplicates triage must find) and `secret_share` paste a credential or an
    e-mail address. Each row: {"id", "messages", "language"}."""
    rng = random.Random(seed)
    words = _pseudo_words(rng, 5000)
    apis = _pseudo_words(rng, 3000)
    word_weights = list(itertools.accumulate(1 / rank for rank in range(1, len(words) + 1)))
    languages = list(_CODE_SHAPES)
    recent: list[str] = []  # the last texts, to copy from
    for i in range(n):
        language = rng.choice(languages)
        if recent and rng.random() < duplicate_share:
            original = rng.choice(recent)
            swapped = rng.choice(original.split(" ", 8)[:8])  # one of the first words, changed
            text = f"Hi there, {original.replace(swapped, rng.choice(words), 1)}\nThanks in advance!"
        else:
            sentences = []
            for _ in range(rng.randint(1, 6)):
                sentence = " ".join(rng.choices(words, cum_weights=word_weights, k=rng.randint(5, 20)))
                sentences.append(sentence[0].upper() + sentence[1:] + rng.choice(".?"))
            parts = [" ".join(sentences)]
            if rng.random() < 0.7:
                shapes = _CODE_SHAPES[language]
                lines = [rng.choice(shapes).format(v=rng.choice("abcdefxyz") + str(rng.randint(0, 9)),
                                                   o=rng.choice(apis), api=rng.choice(apis), n=rng.randint(0, 9999),
                                                   w=rng.choice(words), t=rng.choice(_TYPES))
                         for _ in range(rng.randint(2, 25))]
                parts.append(f"```{language}\n" + "\n".join(lines) + "\n```")
            if rng.random() < secret_share:
                parts.append(_secret(rng))
            text = "\n\n".join(parts)
            recent.append(text)
            if len(recent) > 5000:
                recent.pop(rng.randrange(len(recent)))
        yield {"id": f"var-{i:07d}", "messages": [{"role": "user", "content": text}], "language": language}


def write_jsonl(rows: Iterable[dict], path: Path) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    return path


def bulk_insert_queries(engine, rows: Iterable[dict], *, source: str = "synthetic",  # noqa: ANN001
                        chunk: int = 10_000) -> int:
    """Queries straight into the database, stored as the importer stores them (content hash,
    counts, queue bookkeeping, one import batch) but without its checks, renaming and
    provenance per row: for building databases of a million queries quickly. Returns how many."""
    from sqlalchemy import insert, update

    from curation_app import database
    from curation_app.core import queue
    from curation_app.core.importer import content_hash
    from curation_app.models import ImportBatch, Query, utcnow

    now = utcnow()
    with database.session_scope(engine) as session:
        batch = ImportBatch(source=source, file_name=f"{source}.jsonl", file_sha256="0" * 64, file_format="jsonl",
                            shape="messages")
        session.add(batch)
        session.flush()
        batch_id, total = batch.id, 0
        rows = iter(rows)
        while values := [{
                "public_id": row["id"], "content_hash": content_hash(row["messages"]), "messages": row["messages"],
                "n_turns": len(row["messages"]), "n_chars": sum(len(m["content"]) for m in row["messages"]),
                "source": source, "source_file": f"{source}.jsonl", "source_location": f"line {total + k + 1}",
                "original_id": row["id"], "batch_id": batch_id, "extra": {"language": row["language"]},
                "baseline_answer": None, "baseline_model": None, "triage_flags": None,
                **queue.initial_bookkeeping(), "created_at": now} for k, row in enumerate(itertools.islice(rows, chunk))]:
            session.connection().execute(insert(Query.__table__), values)
            total += len(values)
        session.execute(update(ImportBatch).where(ImportBatch.id == batch_id).values(n_read=total, n_imported=total))
    return total


def populate(url: str, *, n_queries: int, n_open: int, workdir: Path, seed: int = 0, bulk: bool = False) -> dict:
    """A database with n_queries queries: all but n_open annotated by 3 of 5 annotators (about
    300,000 annotations at 100,000 queries), the rest open in the pool. Returns the users.
    `bulk`: the queries go in with `bulk_insert_queries` instead of the importer (a million)."""
    from sqlalchemy import select, update

    from curation_app import database
    from curation_app.core import auth, configure, queue
    from curation_app.core.importer import import_file
    from curation_app.models import Annotation, Assignment, Query, User, utcnow

    database.upgrade(url)
    engine = database.get_engine(url)
    actor = auth.command_line_actor()
    if bulk:
        bulk_insert_queries(engine, iter_synthetic_queries(n_queries, seed))
    else:
        import_file(write_jsonl(iter_synthetic_queries(n_queries, seed), workdir / "populate.jsonl"), actor=actor,
                    source="synthetic", engine=engine)
    names = [f"annotator{i}" for i in range(5)] + ["bench"]
    with database.session_scope(engine) as session:
        # One hash for all: Argon2 per user is slow and the benchmark does not log in.
        for name in names:
            session.add(User(name=name, role="annotator", password_hash=auth.hash_password("password1")
                             if name == "bench" else None))
        session.add(User(name="benchlead", role="lead", password_hash=None))
        configure.change_setting(session, actor=actor, key="overlap", value=3)
    rng = random.Random(seed)
    n_annotations = 0
    with database.session_scope(engine) as session:
        users = {u.name: u.id for u in session.execute(select(User)).scalars()}
        query_ids = list(session.execute(select(Query.id).order_by(Query.id)).scalars())
        annotated = query_ids[: len(query_ids) - n_open]
        now = utcnow()
        categories = [("Development and Programming", "Code Debugging"),
                      ("Development and Programming", "Algorithm Design and Implementation"),
                      ("Databases and Data Handling", "Database Management"),
                      ("User Interface and User Experience (UI/UX)", "Frontend Technologies")]
        connection = session.connection()
        for start in range(0, len(annotated), 20_000):  # a piece at a time: 3,000,000 rows at a million
            chunk = annotated[start:start + 20_000]
            assignments, annotations = [], []
            for query_id in chunk:
                category, subcategory = rng.choice(categories)
                for name in rng.sample(names[:5], 3):
                    who = users[name]
                    assignments.append({"query_id": query_id, "annotator_id": who, "state": "submitted",
                                        "reserved_until": None, "assigned_by_id": None, "created_at": now,
                                        "updated_at": now})
                    annotations.append({
                        "query_id": query_id, "annotator_id": who, "state": "submitted", "decision": "keep",
                        "reject_reason": None, "category": category, "subcategory": subcategory,
                        "languages": ["python"], "difficulty": rng.choice(["easy", "medium", "hard"]),
                        "rewritten_prompt": None, "reference_answer": "Use a dictionary.", "notes": None,
                        "suggested_languages": None, "guideline_version": "v1", "time_on_task_s": 60.0,
                        "revision": 1, "created_at": now, "updated_at": now, "submitted_at": now})
            connection.execute(Assignment.__table__.insert(), assignments)
            connection.execute(Annotation.__table__.insert(), annotations)
            session.execute(update(Query).where(Query.id.in_(chunk)).values(n_claims=3))
            n_annotations += len(annotations)
        queue.assign(session, actor=actor)  # release everything; only the n_open queries have slots
    return {"engine": engine, "users": users, "n_annotations": n_annotations}
