"""Triage hits in their text: secrets masked inside their sentence (never shown in full), benchmark
overlaps found in the query, where near-duplicates differ; on SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import json

from curation_app.core.importer import import_file
from curation_app.core.triage import database as triage_db
from curation_app.core.triage import differences, find_secrets, mask_secret, overlap_context, secret_contexts
from curation_app.database import read_scope
from tests.factories import write_jsonl

KEY_ID = "AKIA" + "QWERTYUIOPASDFGH"  # built here so no key-shaped string sits in the repository
PASSWORD = "Tr0ub4dor" + "-and-3"


def test_a_secret_is_masked_in_its_sentence_and_so_is_any_other_finding_nearby():
    text = (f"boto3 says access denied with key {KEY_ID} and my db password = \"{PASSWORD}\" in settings.py; "
            "what is wrong with the bucket policy?")
    hits = find_secrets(text)
    assert [h["kind"] for h in hits] == ["aws_access_key_id", "password_assignment"]
    key, password = secret_contexts(text, hits, width=60)
    assert key["masked"].startswith("AKIA") and "(20 characters)" in key["masked"]
    assert key["before"].endswith("access denied with key ")
    assert password["masked"] == mask_secret(PASSWORD, "password_assignment") and PASSWORD[:2] not in password["masked"]
    assert password["before"].endswith('password = "') and password["after"].startswith('" in settings.py')
    for context in (key, password):
        shown = context["before"] + context["masked"] + context["after"]
        assert KEY_ID not in shown and PASSWORD not in shown  # the other finding is masked too
    assert key["after"].endswith("…") and not key["before"].startswith("…")  # cut at the width, at a word


def test_only_a_format_marker_is_shown_never_a_character_of_the_value_itself():
    secret = "wJalrXUtnFEMI" + "K7MDENGbPxRfiCYzzzzzzzzzzzzzz"
    assert mask_secret(secret, "aws_secret_access_key") == f"•••••••• ({len(secret)} characters)"
    assert mask_secret(KEY_ID, "aws_access_key_id") == "AKIA•••••••• (20 characters)"


def test_an_email_keeps_its_domain_and_a_stale_span_shows_nothing():
    (hit,) = find_secrets("mail me at jane.doe@mail.example.co.uk please")
    assert mask_secret(hit["text"], "email") == "••••••@mail.example.co.uk"
    (stale,) = secret_contexts("short", [{"kind": "email", "span": [40, 60]}])
    assert stale["masked"] is None and stale["before"] == stale["after"] == ""


def test_a_benchmark_overlap_is_found_in_the_query_whatever_its_case_and_spacing():
    text = "My homework, please solve it: Check if in given list of numbers,\nare any two numbers closer. Thanks!"
    found = overlap_context(text, "check if in given list of numbers are any two numbers", width=20)
    assert found["found"] and found["overlap"].startswith("Check if in given list of numbers,\nare")
    assert found["before"].endswith("solve it: ") and found["after"].startswith(" closer.")
    missing = overlap_context(text, "an entirely different sentence")
    assert not missing["found"] and missing["overlap"] == "an entirely different sentence"


def test_near_duplicates_show_where_they_differ():
    first = "why is this sum function slow for big lists of values in python"
    second = "why is this sum function slow for big lists of numbers in python"
    found = differences(first, second, words_around=2)
    assert found["differences"] == [{"before": "lists of", "reference": "values", "other": "numbers",
                                     "after": "in python"}]
    assert 0.9 < found["similarity"] < 1 and found["more"] == 0
    assert differences(first, first)["differences"] == []


def test_every_hit_on_the_database_comes_with_its_text(engine, admin, tmp_path):
    rows = [
        {"id": "orig", "prompt": "Why is this sum function slow for big lists?\n```python\ndef total(values):\n"
                                 "    result = 0\n    for value in values:\n        result += value\n"
                                 "    return result\n```"},
        {"id": "copy", "prompt": "why is this sum function slow for big lists?\n```python\ndef total(numbers):\n"
                                 "    result = 0\n    for number in numbers:\n        result += number\n"
                                 "    return result\n```"},
        {"id": "bench", "prompt": "My homework, please solve it: check if in given list of numbers are any two "
                                  f"numbers closer to each other than given threshold. My key is {KEY_ID}"},
        {"id": "clean", "prompt": "How do I read a CSV file with pandas and skip the first row?"},
    ]
    import_file(write_jsonl(tmp_path / "q.jsonl", rows), actor=admin, engine=engine)
    benchmark = tmp_path / "mini-bench.jsonl.gz"
    with gzip.open(benchmark, "wt") as handle:
        handle.write(json.dumps({"task_id": "Mini/0", "prompt": "Check if in given list of numbers, are any two "
                                 "numbers closer to each other than given threshold."}) + "\n")
    triage_db.triage_beside_writers(actor=admin, engine=engine, benchmark_files=[benchmark], ngram=8)
    with read_scope(engine) as session:
        hits = triage_db.hits_in_context(session, actor=admin)
    (secret,) = hits["secrets"]
    assert secret["id"] == "bench" and secret["blocked"]
    assert secret["hits"][0]["before"].endswith("My key is ") and secret["hits"][0]["masked"].startswith("AKIA")
    (overlap,) = hits["contamination"]
    assert (overlap["id"], overlap["benchmark"], overlap["item"], overlap["found"]) == (
        "bench", "mini-bench.jsonl.gz", "Mini/0", True)
    assert overlap["before"].startswith("My homework") and "closer to each other" in overlap["overlap"]
    assert KEY_ID not in overlap["after"] and "AKIA" in overlap["after"]  # masked in another hit's text too
    (cluster,) = hits["clusters"]
    assert cluster["members"] == ["orig", "copy"] and hits["clusters_total"] == 1
    changes = cluster["differences"]["copy"]["differences"]
    assert ("total(values):", "total(numbers):") in {(c["reference"], c["other"]) for c in changes}
    assert "clean" not in cluster["texts"]
