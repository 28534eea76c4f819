"""Candidate sampling: seeded and reproducible, stratified with a floor and exact size, the queries it
never chooses, the coding filter, the recorded batch and its assignment, the CLI and the Assign page."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import pytest
from sqlmodel import Session, select, update

from curation_app import database
from curation_app.core import auth, configure, queue, sampling
from curation_app.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from curation_app.core.importer import import_file
from curation_app.core.triage import database as triage_db
from curation_app.database import read_scope, session_scope
from curation_app.models import AuditLog, CandidateSample, CandidateSampleQuery, FinalLabel, Query
from tests.apptest import open_page, shown
from tests.factories import write_jsonl

# Queries about clearly different things, each in its own language: what strata should tell apart.
KINDS = {
    "python": ("Why is my pandas dataframe merge slow with {n} rows? The groupby aggregation takes minutes.",
               "```python\nimport pandas as pd\ndf = pd.read_csv('data{n}.csv')\nprint(df.groupby('key').sum())\n```"),
    "sql": ("My postgres query with a join over {n} tables needs an index, the select is slow.",
            "```sql\nSELECT customer_id, SUM(amount) FROM orders{n}\nJOIN customers USING (customer_id) GROUP BY 1;\n```"),
    "js": ("The react component re-renders {n} times, useEffect state hook loops in the browser.",
           "```javascript\nuseEffect(() => {{ setCount(count + {n}); }}, [count]);\n```"),
    "none detected": ("Write a short poem about autumn leaves number {n}, with rhymes and a gentle mood.", ""),
}


def _rows(kind: str, count: int, prefix: str) -> list[dict]:
    prose, code = KINDS[kind]
    offset = sum(map(ord, prefix)) * 1000  # each source's texts differ, or the import drops them as duplicates
    return [{"id": f"{prefix}-{kind.split()[0]}-{i:03d}",
             "prompt": prose.format(n=offset + i) + ("\n\n" + code.format(n=offset + i) if code else "")}
            for i in range(count)]


def _pool(engine, admin, folder, plan: dict[str, dict[str, int]]) -> None:
    """Queries per source and kind, each source imported from its own file."""
    for source, kinds in plan.items():
        rows = [row for kind, count in kinds.items() for row in _rows(kind, count, source)]
        import_file(write_jsonl(folder / f"{source}.jsonl", rows), actor=admin, source=source, engine=engine)


PLAN = {"forum": {"python": 24, "sql": 12, "js": 6, "none detected": 6},
        "chat": {"python": 12, "sql": 6, "js": 3, "none detected": 3}}


@pytest.fixture
def pool(engine, admin, tmp_path):
    _pool(engine, admin, tmp_path, PLAN)
    with session_scope(engine) as session:
        auth.create_user(session, actor=admin, name="boss", role="lead", password="password1")
        for name in ("ann1", "ann2"):
            auth.create_user(session, actor=admin, name=name, role="annotator", password="password1")
    with Session(engine) as session:
        return {u.name: u for u in session.exec(select(auth.User))}


def draw(engine, actor, **spec):
    with read_scope(engine) as session:
        return sampling.draw_sample(session, actor=actor, spec=sampling.SampleSpec(**spec))


def chosen_ids(result) -> list[str]:
    return [c.public_id for c in result.chosen]


def in_pool(engine) -> set[str]:
    with Session(engine) as session:
        return set(session.exec(select(Query.public_id).where(Query.in_pool)))


def set_query(engine, public_id: str, **values) -> None:
    with session_scope(engine) as session:
        session.execute(update(Query).where(Query.public_id == public_id).values(**values))


# --- reproducible -------------------------------------------------------------------------------

def test_the_same_seed_chooses_the_same_queries_and_another_seed_others(engine, pool):
    boss = pool["boss"]
    first = draw(engine, boss, size=12, seed=7, by=("language", "topic", "source"), topics=3)
    again = draw(engine, boss, size=12, seed=7, by=("language", "topic", "source"), topics=3)
    other = draw(engine, boss, size=12, seed=8, by=("language", "topic", "source"), topics=3)
    assert len(first.chosen) == 12 and chosen_ids(first) == chosen_ids(again)
    assert chosen_ids(other) != chosen_ids(first)
    assert first.report == again.report


def test_sqlite_and_postgresql_choose_the_same_queries(migrated_sqlite_url, migrated_postgres_url, admin, tmp_path):
    """Imported in a different order on each backend (so the rows' ids differ): the choice follows
    public ids and the seed, never the storage order or the server's collation."""
    results = []
    for number, url in enumerate((migrated_sqlite_url, migrated_postgres_url)):
        engine = database.get_engine(url)
        plan = dict(PLAN) if number == 0 else dict(reversed(list(PLAN.items())))
        folder = tmp_path / f"backend{number}"
        folder.mkdir()
        _pool(engine, admin, folder, plan)
        # Mixed case and punctuation: a locale collation would order these differently from code points.
        extra = [{"id": name, "prompt": f"How do I read a file in python, case {name}?"}
                 for name in ("B-9", "a-10", "_z", "Z.1", "b_2")]
        import_file(write_jsonl(folder / "extra.jsonl", extra), actor=admin, source="chat", engine=engine)
        result = draw(engine, admin, size=15, seed=3, by=("language", "topic", "source"), topics=3)
        results.append((chosen_ids(result), result.report["strata"]))
    database.dispose_engines()
    assert results[0] == results[1]


# --- allocation ---------------------------------------------------------------------------------

def test_allocation_is_proportional_with_a_floor_and_adds_up_exactly():
    # Shares 8, 1.5, 0.5: c is held at its floor of 1, the other 9 are shared by a and b in
    # proportion (7.58, 1.42) and rounded by largest remainder.
    assert sampling.allocate({"a": 80, "b": 15, "c": 5}, 10, 1) == {"a": 8, "b": 1, "c": 1}
    assert sampling.proportional_shares({"a": 80, "b": 15, "c": 5}, 10) == {"a": 8, "b": 2, "c": 0}
    # A stratum smaller than its share gives the rest to the others.
    assert sampling.allocate({"a": 1, "b": 1, "c": 1, "d": 10}, 12, 1) == {"a": 1, "b": 1, "c": 1, "d": 9}
    assert sampling.allocate({"a": 3, "b": 100, "c": 100}, 50, 1) == {"a": 1, "b": 25, "c": 24}
    # More strata than the size: the largest get their floor, the rest nothing.
    assert sampling.allocate({"a": 5, "b": 4, "c": 3, "d": 2}, 3, 1) == {"a": 1, "b": 1, "c": 1, "d": 0}
    # A pool smaller than the size: everything.
    assert sampling.allocate({"a": 2, "b": 1}, 10, 1) == {"a": 2, "b": 1}
    rng = random.Random(0)
    for _ in range(300):
        sizes = {f"s{i}": rng.randint(1, 60) for i in range(rng.randint(1, 12))}
        size, floor = rng.randint(1, 300), rng.randint(0, 4)
        quotas = sampling.allocate(sizes, size, floor)
        assert sum(quotas.values()) == min(size, sum(sizes.values()))
        assert all(0 <= quotas[k] <= sizes[k] for k in sizes)
        if sum(min(floor, n) for n in sizes.values()) <= size:
            assert all(quotas[k] >= min(floor, n) for k, n in sizes.items())


def test_quotas_per_source_and_the_report(engine, pool):
    result = draw(engine, pool["boss"], size=18, seed=1, by=("source",))
    report = result.report
    # forum has 48 of the 72 candidates and chat 24: 12 and 6 of 18.
    assert Counter(c.source for c in result.chosen) == {"forum": 12, "chat": 6}
    assert [(s["stratum"], s["available"], s["asked"], s["chosen"]) for s in report["strata"]] == [
        ("source=forum", 48, 12, 12), ("source=chat", 24, 6, 6)]
    assert report["size_chosen"] == 18 and report["shortfall"] == 0 and report["problems"] == []


def test_language_strata_follow_the_detected_language_with_every_language_covered(engine, pool):
    result = draw(engine, pool["boss"], size=9, seed=2, by=("language",))
    by_language = result.report["by_key"]["language"]
    assert {k: v["available"] for k, v in by_language.items()} == {"python": 36, "sql": 18, "js": 9,
                                                                   "none detected": 9}
    # Proportional 4.5, 2.25, 1.125, 1.125, every language at least 1, exactly 9 in all.
    assert {k: v["chosen"] for k, v in by_language.items()} == {"python": 5, "sql": 2, "js": 1, "none detected": 1}
    for candidate in result.chosen:
        kind = candidate.public_id.split("-")[1]
        assert candidate.stratum["language"] == ("none detected" if kind == "none" else kind)


def test_topics_separate_queries_about_different_things(engine, pool):
    result = draw(engine, pool["boss"], size=72, seed=5, by=("topic",), topics=4)
    topic_of_kind: dict[str, set[str]] = {}
    for candidate in result.chosen:
        topic_of_kind.setdefault(candidate.public_id.split("-")[1], set()).add(candidate.stratum["topic"])
    # Every kind of query in one topic of its own.
    assert all(len(topics) == 1 for topics in topic_of_kind.values())
    assert len(set.union(*topic_of_kind.values())) == 4
    assert sampling.analyse_texts([], by=("topic",), n_topics=3, seed=0) == {"topic": []}


def test_detected_language_reads_fences_then_names():
    assert sampling.detected_language("```rust\nfn main() {}\n```") == "rust"
    assert sampling.detected_language("```json\n{}\n```\nthen in Golang please") == "go"
    assert sampling.detected_language("Port this C++ class to C#, not Java") == "c++"
    assert sampling.detected_language("Let's go for a walk in the shell garden") == "none detected"


def test_the_shortfall_when_the_pool_is_smaller_than_the_size(engine, pool):
    report = draw(engine, pool["boss"], size=500, seed=0, by=("language",)).report
    assert report["size_chosen"] == 72 and report["shortfall"] == 428
    assert report["problems"][0] == "asked for 500 queries, the pool has 72 candidates: 428 short"
    python = next(s for s in report["strata"] if s["stratum"] == "language=python")
    assert (python["available"], python["asked"], python["chosen"]) == (36, 250, 36)


def test_floors_beyond_the_size_are_reported_as_strata_without_a_query(engine, pool):
    report = draw(engine, pool["boss"], size=2, seed=0, by=("language", "source")).report
    assert report["size_chosen"] == 2
    # The two largest strata (24, then the first of the two of 12) get the floor of 1.
    assert report["strata_without_a_query"] == [
        "language=sql | source=forum", "language=js | source=forum", "language=none detected | source=forum",
        "language=sql | source=chat", "language=js | source=chat", "language=none detected | source=chat"]
    assert report["problems"][0].startswith("6 strata got no query (the floors need more than the size)")
    # Without a floor, a stratum whose share rounds to 0 gets nothing, and the report says why.
    unfloored = draw(engine, pool["boss"], size=8, seed=0, by=("language", "source"), floor=0).report
    assert unfloored["strata_without_a_query"] == ["language=js | source=chat", "language=none detected | source=chat"]
    assert "their share of the size rounds to 0" in unfloored["problems"][0]


def test_a_large_pool_is_stratified_on_a_seeded_subsample(engine, pool):
    result = draw(engine, pool["boss"], size=3, seed=4, by=("language",), analysed_limit=30)
    again = draw(engine, pool["boss"], size=3, seed=4, by=("language",), analysed_limit=30)
    report = result.report
    assert report["strata_subsampled"] and report["strata_read_from"] == 30 and report["candidates"] == 72
    assert sum(s["available"] for s in report["strata"]) == 30 and len(result.chosen) == 3
    assert chosen_ids(result) == chosen_ids(again)
    assert report["problems"][-1].startswith("strata were read from a seeded subsample of 30 of the 72 candidates")


# --- what is never chosen -------------------------------------------------------------------------

def test_held_out_duplicate_final_and_opened_queries_are_never_chosen(engine, pool, admin):
    boss = pool["boss"]
    with session_scope(engine) as session:
        triage_db.mark_duplicates(session, actor=boss, canonical="forum-python-000",
                                  duplicates=["forum-python-001", "forum-python-002"])  # retired
        triage_db.clear_flags(session, actor=boss, public_id="forum-python-002", reason="not the same after all")
        queue.assign(session, actor=boss, public_ids=["chat-sql-000"])  # opened to annotators
    set_query(engine, "forum-sql-000", triage_flags={"contamination": [{"benchmark": "b", "item": 1}], "blocked": True})
    set_query(engine, "forum-sql-001", triage_flags={"possible_duplicate_of": "forum-sql-002",
                                                     "duplicate_cluster": ["forum-sql-002", "forum-sql-001"]})
    set_query(engine, "forum-sql-003", triage_flags={"possible_duplicate_of": "forum-sql-002", "cleared_by": "boss"})
    set_query(engine, "forum-sql-004", triage_flags={"secrets": [{"kind": "aws", "span": [0, 4]}], "blocked": False,
                                                     "cleared_by": "boss"})
    with session_scope(engine) as session:
        query_id = session.exec(select(Query.id).where(Query.public_id == "forum-js-000")).one()
        session.add(FinalLabel(query_id=query_id, decision="reject", source="unanimous"))
    with session_scope(engine) as session:
        sampling.record_sample(session, actor=boss, open_to_pool=False,
                               draw=sampling.draw_sample(session, actor=boss, spec=sampling.SampleSpec(
                                   size=2, seed=0, by=(), name="earlier")))
        earlier = set(sampling.sample_members(session, name="earlier"))
    never = {"forum-python-001", "chat-sql-000", "forum-sql-000", "forum-sql-001", "forum-js-000"} | earlier
    result = draw(engine, boss, size=1000, seed=0, by=("language", "source"))
    assert len(result.chosen) == 72 - len(never) and not never & set(chosen_ids(result))
    # Cleared by a lead: a candidate again.
    assert {"forum-python-002", "forum-sql-003", "forum-sql-004"} - earlier <= set(chosen_ids(result))
    assert result.report["skipped"] == {"duplicate": 1, "held out": 1, "possible duplicate": 1, "final": 1,
                                        "in annotation": 1, "in an earlier sample": 2}


def test_coding_only_takes_queries_scored_at_or_above_the_project_threshold(engine, pool, admin):
    with session_scope(engine) as session:  # the detector scores every query; these are set by hand
        session.execute(update(Query).values(coding_score=0.2))
    scores = {"forum-python-000": 0.9, "forum-python-001": 0.5, "chat-sql-000": 0.75, "forum-js-000": 0.49,
              "forum-none-000": None}
    for public_id, score in scores.items():
        set_query(engine, public_id, coding_score=score)
    result = draw(engine, pool["boss"], size=10, seed=0, by=("source",), coding_only=True)
    assert sorted(chosen_ids(result)) == ["chat-sql-000", "forum-python-000", "forum-python-001"]
    assert result.report["skipped"] == {"not scored": 1, "not coding": 68}
    assert result.report["coding_threshold"] == 0.5 and result.report["coding_only"]
    assert result.report["problems"][0] == ("1 query has no coding score yet and was left out: "
                                            "`python -m curation_app triage --coding` scores them")
    with session_scope(engine) as session:
        configure.change_setting(session, actor=admin, key="coding_threshold", value=0.7)
    stricter = draw(engine, pool["boss"], size=10, seed=0, by=("source",), coding_only=True)
    assert sorted(chosen_ids(stricter)) == ["chat-sql-000", "forum-python-000"]
    assert stricter.report["coding_threshold"] == 0.7
    assert len(draw(engine, pool["boss"], size=10, seed=0, by=("source",)).chosen) == 10


# --- the recorded batch -------------------------------------------------------------------------

def test_a_held_sample_is_recorded_and_a_lead_assigns_it_by_name(engine, pool):
    boss = pool["boss"]
    report = sampling.sample_candidates(actor=boss, engine=engine, open_to_pool=False, spec=sampling.SampleSpec(
        size=10, seed=1, by=("language", "source"), name="round one"))
    assert report["name"] == "round one" and report["opened"] == 0 and not in_pool(engine)
    with Session(engine) as session:
        sample = session.exec(select(CandidateSample)).one()
        members = set(sampling.sample_members(session, name="round one"))
        strata = {row.stratum for row in session.exec(select(CandidateSampleQuery))}
        audit = session.exec(select(AuditLog).where(AuditLog.action == "sample.create")).one()
    assert (sample.name, sample.seed, sample.size_asked, sample.size_chosen) == ("round one", 1, 10, 10)
    assert sample.arguments["by"] == ["language", "source"] and sample.report["strata"] == report["strata"]
    assert sample.created_by_id == boss.id and audit.entity_id == "round one"
    assert len(members) == 10 and "language=python | source=forum" in strata
    with session_scope(engine) as session:
        result = queue.assign(session, actor=boss, annotators=["ann1", "ann2"], samples=["round one"])
    assert result["queries"] == 10 and result["assigned"] == 20 and in_pool(engine) == members
    # The next sample draws from what this one left.
    second = sampling.sample_candidates(actor=boss, engine=engine, spec=sampling.SampleSpec(size=100, by=()))
    assert second["name"] == "sample-2" and second["size_chosen"] == 62
    assert second["skipped"] == {"in annotation": 10} and second["opened"] == 62
    with pytest.raises(NotFound, match="no candidate sample named nope"):
        with session_scope(engine) as session:
            queue.assign(session, actor=boss, samples=["nope"])


def test_an_opened_sample_releases_exactly_its_queries(engine, pool):
    report = sampling.sample_candidates(actor=pool["boss"], engine=engine, spec=sampling.SampleSpec(
        size=7, seed=2, by=("topic",), topics=3))
    with Session(engine) as session:
        members = set(sampling.sample_members(session, name=report["name"]))
        listed = sampling.list_samples(session)
    assert report["opened"] == 7 and in_pool(engine) == members and len(members) == 7
    assert listed[0]["name"] == report["name"] and listed[0]["in_pool"] == 7


def test_refusals_write_nothing(engine, pool):
    boss = pool["boss"]
    with pytest.raises(PermissionDenied):
        sampling.sample_candidates(actor=pool["ann1"], engine=engine, spec=sampling.SampleSpec(size=3))
    for spec, message in ((sampling.SampleSpec(size=0), "sample size must be a whole number from 1"),
                          (sampling.SampleSpec(size=3, by=("colour",)), "unknown stratum key 'colour'"),
                          (sampling.SampleSpec(size=3, name=" "), "a sample name must have 1 to 200 characters")):
        with pytest.raises(InvalidInput, match=message):
            sampling.sample_candidates(actor=boss, engine=engine, spec=spec)
    sampling.sample_candidates(actor=boss, engine=engine, open_to_pool=False,
                               spec=sampling.SampleSpec(size=3, name="taken"))
    with pytest.raises(InvalidInput, match="a candidate sample named 'taken' exists already"):
        sampling.sample_candidates(actor=boss, engine=engine, spec=sampling.SampleSpec(size=3, name="taken"))
    # A chosen query opened to annotators between the draw and the record: nothing is recorded.
    with read_scope(engine) as session:
        drawn = sampling.draw_sample(session, actor=boss, spec=sampling.SampleSpec(size=5, seed=9, name="late"))
    with session_scope(engine) as session:
        queue.assign(session, actor=boss, public_ids=[drawn.chosen[0].public_id])
    with pytest.raises(Conflict, match="1 of the chosen queries were opened"):
        with session_scope(engine) as session:
            sampling.record_sample(session, actor=boss, draw=drawn)
    with Session(engine) as session:
        assert [s.name for s in session.exec(select(CandidateSample))] == ["taken"]
        assert len(session.exec(select(CandidateSampleQuery)).all()) == 3


def test_two_samples_recorded_at_once_never_share_a_query(engine, pool):
    """The second waits for the first (SQLite's write lock, PostgreSQL's unique index) and is refused."""
    boss = pool["boss"]
    draws = []
    for name in ("left", "right"):
        with read_scope(engine) as session:
            draws.append(sampling.draw_sample(session, actor=boss, spec=sampling.SampleSpec(
                size=60, seed=1, by=(), name=name)))
    outcome: list[BaseException | dict] = []

    def record_second() -> None:
        try:
            with session_scope(engine) as session:
                outcome.append(sampling.record_sample(session, actor=boss, draw=draws[1], open_to_pool=False))
        except Conflict as error:
            outcome.append(error)

    scope = session_scope(engine)
    session = scope.__enter__()
    sampling.record_sample(session, actor=boss, draw=draws[0], open_to_pool=False)
    second = threading.Thread(target=record_second)
    second.start()
    time.sleep(1)  # the second is waiting on the first by now, or starts after it: refused either way
    scope.__exit__(None, None, None)
    second.join(timeout=60)
    assert len(outcome) == 1 and isinstance(outcome[0], Conflict)
    with Session(engine) as session:
        assert [s.name for s in session.exec(select(CandidateSample))] == ["left"]
        assert len(session.exec(select(CandidateSampleQuery)).all()) == 60


# --- command line and page ----------------------------------------------------------------------

def test_the_command_line_samples_and_assigns_by_name(engine, pool, cli):
    done = cli("sample", "--size", "6", "--seed", "4", "--by", "language,source", "--name", "cli-batch", "--hold",
               "--json")
    assert done.code == 0, done.err
    report = done.json()
    assert report["size_chosen"] == 6 and report["open_to_pool"] is False and report["by"] == ["language", "source"]
    again = cli("sample", "--size", "6", "--seed", "4", "--by", "language,source", "--name", "cli-batch")
    assert again.code == 1 and "exists already" in again.err
    listed = cli("sample", "--list", "--json").json()
    assert [(s["name"], s["size_chosen"], s["in_pool"]) for s in listed] == [("cli-batch", 6, 0)]
    assigned = cli("assign", "--sample", "cli-batch", "--json")
    assert assigned.code == 0 and assigned.json()["opened"] == 6
    text = cli("sample", "--size", "4", "--by", "none")
    assert text.code == 0 and text.out.startswith("sample-2: 4 of 4 queries asked (seed 0; strata: none)")
    assert "skipped: 6 in annotation" in text.out
    bad = cli("sample", "--size", "4", "--by", "colour")
    assert bad.code == 1 and bad.err.startswith("error: unknown stratum key 'colour'")
    assert cli("sample").err == "error: sample needs --size N (or --list)\n"


def test_the_assign_page_samples_candidates_and_assigns_the_batch(demo_db, admin, tmp_path):
    # The demo opens its queries to the annotators: new ones arrive.
    import_file(write_jsonl(tmp_path / "new.jsonl", _rows("python", 6, "new") + _rows("sql", 6, "new")),
                actor=admin, source="new", engine=database.get_engine())
    app = open_page("assign", "lead")
    app.number_input(key="sample:size").set_value(5)
    app.number_input(key="sample:seed").set_value(11)
    app.multiselect(key="sample:strata").set_value(["language"])
    app.text_input(key="sample:name").input("page batch")
    app.checkbox(key="sample:open_now").uncheck()
    app = app.button(key="FormSubmitter:sample-Sample").click().run()
    assert not app.exception and not app.error
    assert shown(app.success) == ["Sample page batch: 5 of 5 queries chosen; not opened yet: choose it under Assign."]
    (table,) = [d.value for d in app.dataframe if list(d.value.columns) == ["stratum", "available", "asked", "chosen"]]
    assert table.to_dict("records") == [{"stratum": "language=python", "available": 6, "asked": 3, "chosen": 3},
                                        {"stratum": "language=sql", "available": 6, "asked": 2, "chosen": 2}]
    assert "Skipped: 2 held out, 46 in annotation" in shown(app.caption)  # the demo holds out two with secrets
    with Session(database.get_engine()) as session:
        members = set(sampling.sample_members(session, name="page batch"))
    assert len(members) == 5
    app.selectbox(key="assign:sample").set_value("page batch")
    app.multiselect[0].set_value(["alice", "bob", "carol"])
    app = app.button(key="FormSubmitter:assign-Assign").click().run()
    assert not app.exception and not app.error
    assert shown(app.success) == ["15 assignments made over 5 queries (3 annotator(s) each): alice 5, bob 5, carol 5"]
