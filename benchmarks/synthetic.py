"""Synthetic queries of realistic length and language mix, reproducible from a seed."""

from __future__ import annotations

import json
import random
from pathlib import Path

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
    rng = random.Random(seed)
    names, weights = list(LANGUAGES), list(LANGUAGES.values())
    rows = []
    for i in range(n):
        language = rng.choices(names, weights)[0]
        prose = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 120)))
        parts = [f"{rng.choice(OPENINGS)} (case {i}) {prose}."]
        for block in range(rng.choice((0, 1, 1, 1, 2))):
            code = SNIPPETS[language].format(name=f"f{i}_{block}", n=rng.randint(0, 999))
            parts.append(f"```{language}\n{code * rng.randint(1, 4)}```")
        rows.append({"id": f"syn-{i:07d}", "messages": [{"role": "user", "content": "\n\n".join(parts)}],
                     "language": language})
    return rows


def write_jsonl(rows: list[dict], path: Path) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    return path


def populate(url: str, *, n_queries: int, n_open: int, workdir: Path, seed: int = 0) -> dict:
    """A database with n_queries queries: all but n_open annotated by 3 of 5 annotators (about
    300,000 annotations at 100,000 queries), the rest open in the pool. Returns the users."""
    from sqlalchemy import select, update

    from curation_app import database
    from curation_app.core import auth, configure, queue
    from curation_app.core.importer import import_file
    from curation_app.models import Annotation, Assignment, Query, User, utcnow

    database.upgrade(url)
    engine = database.get_engine(url)
    actor = auth.command_line_actor()
    import_file(write_jsonl(synthetic_queries(n_queries, seed), workdir / "populate.jsonl"), actor=actor,
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
    with database.session_scope(engine) as session:
        users = {u.name: u.id for u in session.execute(select(User)).scalars()}
        query_ids = list(session.execute(select(Query.id).order_by(Query.id)).scalars())
        annotated = query_ids[: len(query_ids) - n_open]
        now = utcnow()
        categories = [("Development and Programming", "Code Debugging"),
                      ("Development and Programming", "Algorithm Design and Implementation"),
                      ("Databases and Data Handling", "Database Management"),
                      ("User Interface and User Experience (UI/UX)", "Frontend Technologies")]
        assignments, annotations = [], []
        for query_id in annotated:
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
        connection = session.connection()
        for start in range(0, len(assignments), 20_000):
            connection.execute(Assignment.__table__.insert(), assignments[start:start + 20_000])
            connection.execute(Annotation.__table__.insert(), annotations[start:start + 20_000])
        for start in range(0, len(annotated), 20_000):
            chunk = annotated[start:start + 20_000]
            session.execute(update(Query).where(Query.id.in_(chunk)).values(n_claims=3))
        queue.assign(session, actor=actor)  # release everything; only the n_open queries have slots
    return {"engine": engine, "users": users, "n_annotations": len(annotations)}


def iter_synthetic_queries(n: int, seed: int = 0):
    """The same kind of queries as synthetic_queries, one at a time and a few times faster (one
    random call per list, not per word), for files of a million rows that must not be held whole."""
    rng = random.Random(seed)
    names, weights = list(LANGUAGES), list(LANGUAGES.values())
    languages = rng.choices(names, weights, k=n)
    for i, language in enumerate(languages):
        prose = " ".join(rng.choices(WORDS, k=rng.randint(20, 120)))
        parts = [f"{rng.choice(OPENINGS)} (case {i}) {prose}."]
        for block in range(rng.choice((0, 1, 1, 1, 2))):
            code = SNIPPETS[language].format(name=f"f{i}_{block}", n=rng.randint(0, 999))
            parts.append(f"```{language}\n{code * rng.randint(1, 4)}```")
        yield {"id": f"syn-{i:07d}", "messages": [{"role": "user", "content": "\n\n".join(parts)}],
               "language": language}


def write_jsonl_stream(rows, path: Path) -> Path:
    """Rows (any iterable) to a JSONL file as they come, in 1 MB writes."""
    import orjson

    with open(path, "wb", buffering=1 << 20) as handle:
        for row in rows:
            handle.write(orjson.dumps(row) + b"\n")
    return path
