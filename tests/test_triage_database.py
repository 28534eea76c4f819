"""Triage on the database: flags stored per query, the CLI's JSON, duplicates confirmed by a
lead, secrets redacted, flags cleared, and releases that hold flagged items back."""

from __future__ import annotations

import gzip
import json

import pytest
from sqlmodel import Session, select

from curation_app.core import adjudicate, annotation_io, release
from curation_app.core.errors import InvalidInput
from curation_app.core.importer import import_file
from curation_app.core.triage import database as triage_db
from curation_app.database import read_scope, session_scope
from curation_app.models import AuditLog, Query
from tests.factories import ROW, write_csv, write_jsonl

LOOP = "def total(values):\n    result = 0\n    for value in values:\n        result += value\n    return result\n"
SECRET = "AKIA" + "QWERTYUIOPASDFGH"  # built here so no key-shaped string sits in the repository


@pytest.fixture
def flagged_project(engine, admin, tmp_path):
    rows = [
        {"id": "orig", "prompt": f"Why is this sum function slow for big lists?\n```python\n{LOOP}```"},
        {"id": "copy", "prompt": "why is this sum function slow for big lists?\n```python\n"
                                 + LOOP.replace("values", "numbers").replace("value", "number") + "```"},
        {"id": "bench", "prompt": "My homework, please solve it: " + "check if in given list of numbers are any two "
                                  "numbers closer to each other than given threshold and return true"},
        {"id": "leak", "prompt": f"boto3 says access denied with key {SECRET} in us-east-1, why?"},
        {"id": "clean", "prompt": "How do I read a CSV file with pandas and skip the first row?"},
    ]
    import_file(write_jsonl(tmp_path / "q.jsonl", rows), actor=admin, engine=engine)
    benchmark = tmp_path / "mini-bench.jsonl.gz"
    with gzip.open(benchmark, "wt") as handle:
        handle.write(json.dumps({"task_id": "Mini/0", "prompt": "Check if in given list of numbers, are any two "
                                 "numbers closer to each other than given threshold. Return true or false."}) + "\n")
    return benchmark


def flags(engine) -> dict[str, dict]:
    with Session(engine) as session:
        return {p: f for p, f in session.exec(select(Query.public_id, Query.triage_flags)) if f}


def test_cli_triage_reports_and_stores_flags(db_url, engine, flagged_project, cli):
    result = cli("triage", "--benchmark", flagged_project, "--ngram", "8", "--json")
    assert result.code == 0, result.err
    report = result.json()
    assert report["duplicate_clusters"] == [["orig", "copy"]]
    assert [(h["id"], h["benchmark"], h["item"]) for h in report["contaminated"]] == [
        ("bench", "mini-bench.jsonl.gz", "Mini/0")]
    assert "closer to each other than given threshold" in report["contaminated"][0]["evidence"]
    (secret,) = report["secrets"]
    assert secret["id"] == "leak" and secret["kind"] == "aws_access_key_id"
    stored = flags(engine)
    assert stored["copy"]["possible_duplicate_of"] == "orig" and "blocked" not in stored["copy"]
    assert stored["bench"]["blocked"] and stored["leak"]["blocked"] and "clean" not in stored
    text = cli("triage")
    assert text.code == 0 and "1 near-duplicate cluster(s)" in text.out


def test_cli_import_runs_triage_on_the_new_queries_unless_told_not_to(db_url, engine, cli, tmp_path):
    rows = [{"id": "a1", "prompt": f"Why is this sum function slow?\n```python\n{LOOP}```"},
            {"id": "a2", "prompt": f"why is this sum function slow?\n```python\n{LOOP.replace('result', 'acc')}```"},
            {"id": "a3", "prompt": f"boto3 says access denied with key {SECRET}, why?"}]
    result = cli("import", str(write_jsonl(tmp_path / "a.jsonl", rows)), "--json")
    assert result.code == 0, result.err
    assert result.json()["triage"] == {"duplicate_clusters": 1, "with_secrets": 1}
    stored = flags(engine)
    assert stored["a2"]["possible_duplicate_of"] == "a1" and stored["a3"]["blocked"]

    later = [{"id": "b1", "prompt": f"boto3 still says access denied with key {SECRET}"}]
    quiet = cli("import", str(write_jsonl(tmp_path / "b.jsonl", later)), "--no-triage")
    assert quiet.code == 0 and "triage:" not in quiet.out
    assert "b1" not in flags(engine)  # left for an on-demand run
    assert "1 near-duplicate cluster(s)" in cli("import", str(write_jsonl(tmp_path / "c.jsonl", [
        {"id": "c1", "prompt": "How do I reverse a list in Python without copying it?"}]))).out


def test_triage_takes_several_benchmarks_after_one_flag_and_keeps_evidence_of_unchecked_ones(
        db_url, engine, flagged_project, cli, tmp_path):
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"task_id": "Other/0", "prompt": "nothing like any query here at all, "
                                 "just words about gardening and soil and rain"}) + "\n")
    result = cli("triage", "--benchmark", str(flagged_project), str(other), "--ngram", "8", "--json")
    assert result.code == 0, result.err
    assert [h["benchmark"] for h in result.json()["contaminated"]] == ["mini-bench.jsonl.gz"]
    assert cli("triage", "--json").code == 0  # no benchmark given: earlier evidence stands
    assert flags(engine)["bench"]["contamination"][0]["item"] == "Mini/0" and flags(engine)["bench"]["blocked"]
    assert cli("triage", "--benchmark", str(other), "--ngram", "8").code == 0  # another benchmark only
    assert flags(engine)["bench"]["contamination"][0]["benchmark"] == "mini-bench.jsonl.gz"


def test_release_holds_flagged_items_back_until_a_lead_clears_them(engine, admin, flagged_project, tmp_path):
    with session_scope(engine) as session:
        triage_db.run_triage(session, actor=admin, benchmark_files=[flagged_project], ngram=8)
    labels = [{**ROW, "query_id": q, "annotator": a, "notes": ""} for q in ("bench", "leak", "clean") for a in "xy"]
    annotation_io.import_annotations(write_csv(tmp_path / "l.csv", labels), actor=admin, engine=engine)
    with session_scope(engine) as session:
        adjudicate.apply_rule(session, actor=admin)
        preview = release.preview(session, actor=admin, spec=release.ReleaseSpec(), with_agreement=False)
    assert [i["id"] for i in preview.items] == ["clean"]
    assert preview.report["held_back_by_triage"] == {"count": 2, "ids": ["bench", "leak"]}
    assert "2 final item(s) held back by triage flags" in " ".join(preview.report["problems"])
    with session_scope(engine) as session:
        with pytest.raises(InvalidInput, match="say why"):
            triage_db.clear_flags(session, actor=admin, public_id="bench", reason="")
        triage_db.clear_flags(session, actor=admin, public_id="bench", reason="our own rewording, not the benchmark")
        assert triage_db.redact_secrets(session, actor=admin, public_id="leak") == 1
    with session_scope(engine) as session:
        preview = release.preview(session, actor=admin, spec=release.ReleaseSpec(), with_agreement=False)
        leak = session.exec(select(Query).where(Query.public_id == "leak")).one()
    assert [i["id"] for i in preview.items] == ["bench", "clean", "leak"]
    assert SECRET not in leak.messages[0]["content"] and "[REDACTED]" in leak.messages[0]["content"]
    with session_scope(engine) as session:  # a new run keeps the lead's decisions
        triage_db.run_triage(session, actor=admin, benchmark_files=[flagged_project], ngram=8)
    assert flags(engine)["bench"]["cleared_by"] == "(command line)" and not flags(engine)["bench"].get("blocked")
    with Session(engine) as session:
        redaction = session.exec(select(AuditLog).where(AuditLog.action == "triage.redact")).one()
    assert SECRET in json.dumps(redaction.new["old_messages"])  # the audit log keeps the original


def test_lead_confirms_duplicates(engine, admin, flagged_project):
    with session_scope(engine) as session:
        triage_db.run_triage(session, actor=admin)
        triage_db.mark_duplicates(session, actor=admin, canonical="orig", duplicates=["copy"])
        with pytest.raises(InvalidInput, match="its own duplicate"):
            triage_db.mark_duplicates(session, actor=admin, canonical="orig", duplicates=["orig"])
    copy = flags(engine)["copy"]
    assert copy["duplicate_of"] == "orig" and copy["blocked"]
    with Session(engine) as session:
        assert session.exec(select(Query.in_pool).where(Query.public_id == "copy")).one() is False


def test_cli_flags_list_duplicates_clear_and_redact(db_url, engine, flagged_project, cli):
    assert cli("triage", "--benchmark", flagged_project, "--ngram", "8").code == 0
    listing = cli("flags", "list")
    assert listing.code == 0 and "leak" in listing.out and "3 held back" not in listing.out
    assert cli("flags", "duplicates", "orig", "copy").out.strip() == "copy marked as duplicate(s) of orig"
    assert cli("flags", "redact", "leak").out.strip() == "leak: 1 secret(s) or personal data replaced by [REDACTED]"
    with pytest.raises(SystemExit):
        cli("flags", "clear", "bench")  # a reason is required
    assert cli("flags", "clear", "bench", "--reason", "only a paraphrase of the task").code == 0
    stored = flags(engine)
    assert stored["copy"]["duplicate_of"] == "orig" and stored["copy"]["blocked"]
    assert not stored["bench"].get("blocked") and stored["bench"]["cleared_reason"] == "only a paraphrase of the task"
    assert not stored["leak"].get("blocked") and stored["leak"]["redacted"] == 1
    with Session(engine) as session:
        text = session.exec(select(Query.messages).where(Query.public_id == "leak")).one()[0]["content"]
    assert "[REDACTED]" in text and SECRET not in text
    assert [f["id"] for f in cli("flags", "list", "--json").json() if f.get("blocked")] == ["copy"]


def test_two_benchmark_files_with_one_name_are_refused(engine, admin, flagged_project, tmp_path):
    other = tmp_path / "elsewhere" / flagged_project.name
    other.parent.mkdir()
    other.write_bytes(flagged_project.read_bytes())
    with session_scope(engine) as session, pytest.raises(InvalidInput, match="the same name"):
        triage_db.run_triage(session, actor=admin, benchmark_files=[flagged_project, other])


def test_triage_reports_running_totals_that_end_at_the_number_of_queries(engine, admin, tmp_path):
    rows = [{"id": f"p{i}", "prompt": f"question {i}: my key is AKIAABCDEFGHIJKLMNOP, why?"} for i in range(2500)]
    import_file(write_jsonl(tmp_path / "many.jsonl", rows), actor=admin, engine=engine)
    seen: dict[str, list[int]] = {}

    def progress(stage, total):
        assert total == 2500
        return seen.setdefault(stage, []).append

    benchmark = write_jsonl(tmp_path / "bench.jsonl", [{"task_id": "b1", "prompt": "an unrelated benchmark task"}])
    with read_scope(engine) as session:
        triage_db.find_problems(session, actor=admin, benchmark_files=[benchmark], progress=progress)
    assert set(seen) == {"near-duplicates", "contamination", "secrets", "coding score"}
    for stage, reports in seen.items():
        assert reports == sorted(reports) and reports[-1] == 2500 and reports[0] == 1000, stage


def test_worker_processes_find_exactly_what_one_process_finds(engine, admin, flagged_project, tmp_path,
                                                             monkeypatch):
    pools = []

    class CountedPool(triage_db.ProcessPoolExecutor):
        def __init__(self, *args, **kwargs):
            pools.append(kwargs["max_workers"])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(triage_db, "ProcessPoolExecutor", CountedPool)
    threads = 1  # this test's process as triage sees it (other tests may leave threads behind)
    monkeypatch.setattr(triage_db.threading, "active_count", lambda: threads)
    # Enough queries for several chunks, with copies across chunks and secrets in some of them.
    rows = [{"id": f"w{i}", "prompt": f"how do I sort a list of {i % 700} tuples by field {i % 13} in python "
             f"without copying it{' again' * (i % 3)}?" + (f" my key is {SECRET}" if i % 997 == 0 else "")}
            for i in range(2600)]
    import_file(write_jsonl(tmp_path / "more.jsonl", rows), actor=admin, engine=engine)
    with read_scope(engine) as session:
        alone = triage_db.find_problems(session, actor=admin, benchmark_files=[flagged_project], workers=1)
        in_workers = triage_db.find_problems(session, actor=admin, benchmark_files=[flagged_project], workers=2)
    assert alone.queries == in_workers.queries == 2605
    assert pools == [2]  # the second run did use two worker processes
    assert alone.clusters and alone.secrets and alone.contaminated
    assert in_workers == alone
    threads = 2  # with another thread running, nothing is forked
    with read_scope(engine) as session:
        assert triage_db.find_problems(session, actor=admin, benchmark_files=[flagged_project], workers=2) == alone
    assert pools == [2]
