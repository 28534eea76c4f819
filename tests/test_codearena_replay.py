"""CodeArena's process replayed end to end on the 500 real Arena-Hard queries, through the CLI:
import, triage against HumanEval, one annotator labels every query, four reviewers vote (each
agreeing with the annotator about 9 times in 10), the rule, and a release of 397 items with
CodeArena's 92/173/132 difficulty mix. Skips where ../shared is absent."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

from curation_app.core.taxonomy import default_taxonomy
from tests.conftest import shared_file
from tests.factories import write_csv, write_jsonl

REVIEWERS = ("senior1", "senior2", "senior3", "senior4")


def draw(*parts: object) -> int:
    """A reproducible number from 0 to 999 for these parts."""
    return int(hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:8], 16) % 1000


def test_one_annotator_four_reviewers_three_of_four_keep_and_a_397_item_release(cli, db_url, tmp_path, monkeypatch):
    questions = shared_file("arena_hard", "question.jsonl")
    humaneval = shared_file("humaneval", "HumanEval.jsonl.gz")
    monkeypatch.setenv("CURATION_EXPORTS_DIR", str(tmp_path / "exports"))
    assert cli("import", questions, "--source", "arena-hard", "--json").json()["imported"] == 500
    triage = cli("triage", "--benchmark", humaneval, "--json")
    assert triage.code == 0, triage.err
    for key, value in (("overlap", 1), ("keep_quorum", 1), ("min_annotations", 1), ("review_votes", 4),
                       ("review_quorum", 3)):
        assert cli("settings", "set", key, str(value)).code == 0

    # The annotation stage: one annotator classifies, rates and (for every fifth query) rewrites each.
    taxonomy = default_taxonomy()
    pairs = [(main, sub) for main, subs in taxonomy.categories.items() for sub in subs]
    ids = [json.loads(line)["question_id"] for line in questions.read_text(encoding="utf-8").splitlines()]
    rows = []
    for number, public_id in enumerate(ids):
        main, sub = pairs[draw(public_id, "category") % len(pairs)]
        roll = draw(public_id, "difficulty")
        difficulty = "easy" if roll < 250 else "medium" if roll < 670 else "hard"
        rows.append({"query_id": public_id, "annotator": "coder", "decision": "keep", "reject_reason": "",
                     "category": main, "subcategory": sub, "languages": "python", "difficulty": difficulty,
                     "rewritten_prompt": f"Rewritten task {number}" if number % 5 == 0 else "",
                     "reference_answer": f"Reference answer {number}", "notes": ""})
    assert cli("annotations", "import", write_csv(tmp_path / "labels.csv", rows)).code == 0
    staged = cli("adjudicate", "--auto", "--json").json()
    assert staged["to_review"] == 500 and staged["finalised"] == 0  # everything waits for the reviewers

    # The review stage: four reviewers, each keeping with probability 0.9, imported as one file.
    votes = [{"query_id": public_id, "reviewer": reviewer, "comment": "",
              "vote": "keep" if draw(public_id, reviewer) < 900 else "reject"}
             for public_id in ids for reviewer in REVIEWERS]
    result = cli("reviews", "import", write_jsonl(tmp_path / "votes.jsonl", votes), "--json")
    assert result.code == 0, result.err

    # The same outcome computed independently from the votes themselves: 3 of 4 keep or reject.
    keeps = Counter(v["query_id"] for v in votes if v["vote"] == "keep")
    expected = Counter("kept" if keeps[i] >= 3 else "rejected" if keeps[i] <= 1 else "to_lead" for i in ids)
    assert {key: result.json()[key] for key in ("kept", "rejected", "to_lead")} == {
        "kept": expected["kept"], "rejected": expected["rejected"], "to_lead": expected["to_lead"]}
    assert result.json()["votes"] == 2000 and result.json()["reviewers_created"] == 4
    print(f"replay: {expected['kept']} kept, {expected['rejected']} rejected, {expected['to_lead']} to a lead (2-2)")
    # Only the 2-2 splits wait for a lead; the rule finalises nothing more.
    assert cli("adjudicate", "--auto", "--json").json()["finalised"] == 0

    # A language filter in another spelling finds the items labelled in the vocabulary's.
    everything = cli("release", "preview", "--json").json()
    held = everything["report"]["held_back_by_triage"]["count"]  # the query the secrets check flagged
    assert everything["items"] == expected["kept"] - held and held <= 1
    assert cli("release", "preview", "--language", "Python 3", "--json").json()["items"] == everything["items"]
    # CodeArena's category shares as quotas: here half of a 100-item preview from one main class.
    quota = cli("release", "preview", "--size", "100", "--category-quota", "Development and Programming=50%", "--json")
    assert quota.code == 0, quota.err
    assert quota.json()["report"]["category_quotas"]["Development and Programming"]["selected"] == 50
    assert quota.json()["distributions"]["category"]["Development and Programming"] == 50

    made = cli("release", "create", "codearena-replay", "--version", "1.0", "--size", "397", "--seed", "7",
               "--mix", "easy=92,medium=173,hard=132", "--json")
    assert made.code == 0, made.err
    released = [json.loads(line) for line in open(f"{made.json()['path']}/data.jsonl", encoding="utf-8")]
    assert len(released) == 397
    assert Counter(item["difficulty"] for item in released) == {"easy": 92, "medium": 173, "hard": 132}
    kept_ids = {i for i in ids if keeps[i] >= 3}
    assert {item["id"] for item in released} <= kept_ids  # only items the reviewers kept
    by_id = {row["query_id"]: row for row in rows}
    for item in released:  # the annotator's labels and rewrites, carried through
        row = by_id[item["id"]]
        assert (item["subcategory"], item["difficulty"]) == (row["subcategory"], row["difficulty"])
        if row["rewritten_prompt"]:
            assert item["messages"] == [{"role": "user", "content": row["rewritten_prompt"]}]
