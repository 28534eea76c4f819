"""The acceptance rule and the label schema as plain functions, without a database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from curation_app.core.errors import InvalidInput
from curation_app.core.labels import clean_fields, flat_values, missing_labels, nested_values
from curation_app.core.rule import (Outcome, Rule, agreement_score, conflicts, conflicts_by_decision, decide_field,
                                    decide_item, decision_margin, field_sources, overall_source, pick_text,
                                    proposed_values)
from curation_app.core.scores import ScoreField
from curation_app.core.taxonomy import default_taxonomy

DEBUG = ("Development and Programming", "Code Debugging")
OPTIMISE = ("Development and Programming", "Optimization Techniques")
QUALITY = ScoreField(name="quality", label="Quality", level="interval", minimum=1, maximum=5, step=1)
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def kept(annotator, category=DEBUG, difficulty="easy", languages=("python",), minute=0, **extra):
    return {"annotator": annotator, "decision": "keep", "reject_reason": None, "category": category[0],
            "subcategory": category[1], "languages": list(languages), "difficulty": difficulty,
            "rewritten_prompt": None, "reference_answer": None, "scores": None,
            "submitted_at": T0 + timedelta(minutes=minute), **extra}


def rejected(annotator, reason="too trivial", minute=0):
    return {**kept(annotator, minute=minute), "decision": "reject", "reject_reason": reason, "category": None,
            "subcategory": None, "languages": None, "difficulty": None}


def test_decide_field_unanimous_majority_and_conflict():
    three_of_four = Rule(min_annotations=4, keep_quorum=3)
    assert decide_field(["a", "a", "a", "a"], three_of_four).status == Outcome.UNANIMOUS
    outcome = decide_field(["a", "a", "a", "b"], three_of_four)
    assert (outcome.status, outcome.value, outcome.agreeing, outcome.voters) == ("majority", "a", 3, 4)
    assert outcome.votes == {"a": 3, "b": 1}
    assert decide_field(["a", "a", "b", "b"], three_of_four).status == "conflict"
    assert decide_field(["a", "a", "b", "b"], three_of_four).value is None  # a tie has no proposal
    assert decide_field(["a", "a", "b"], three_of_four).value == "a"  # a conflict still proposes the leader
    assert decide_field([["python", "sql"], ["sql", "python"], ["python"]], Rule(3, 2)).value == ["python", "sql"]
    assert decide_field([None, None], Rule(2, 2)).status == "conflict"
    assert decide_field(["a", None, ""], Rule(2, 1)).status == "unanimous"  # empty values do not vote


def test_codearena_three_of_four_on_a_whole_item():
    rule = Rule(min_annotations=4, keep_quorum=3)
    outcomes = decide_item([kept("w"), kept("x"), kept("y"), kept("z", difficulty="hard")], rule)
    assert outcomes["difficulty"].status == "majority" and outcomes["difficulty"].value == "easy"
    assert outcomes["category"].status == "unanimous" and outcomes["reject_reason"].status == "not needed"
    assert conflicts(outcomes) == [] and agreement_score(outcomes) == pytest.approx((4 * 1 + 0.75) / 5, abs=1e-3)
    split = decide_item([kept("w"), kept("x"), rejected("y"), rejected("z")], rule)
    # A 2-2 split on the decision; the keep-only fields are voted on among the two keepers, too few
    # for a quorum of 3, so the whole item goes to a lead.
    assert conflicts(split)[0] == "decision" and split["decision"].value is None
    assert (split["category"].voters, split["category"].agreeing) == (2, 2) and "category" in conflicts(split)


def test_a_split_decision_leaves_each_side_s_fields_to_that_side():
    rule = Rule(min_annotations=4, keep_quorum=3)
    split = decide_item([kept("w"), kept("x"), rejected("y"), rejected("z")], rule)
    assert conflicts_by_decision(split) == (["decision"], ["category", "subcategory", "languages", "difficulty"],
                                            ["reject_reason"])
    assert decision_margin(split["decision"]) == 0.0
    three_one = decide_item([kept("w"), kept("x"), kept("y"), rejected("z")], Rule(4, 4))
    assert decision_margin(three_one["decision"]) == 0.5
    settled = decide_item([kept("w"), kept("x"), kept("y"), kept("z", category=OPTIMISE)], Rule(4, 4))
    assert conflicts_by_decision(settled) == (["subcategory"], [], [])


def test_fields_outside_quorum_fields_are_settled_by_those_who_gave_them():
    decision_only = Rule(min_annotations=4, keep_quorum=3, quorum_fields=frozenset({"decision"}))
    split = decide_item([kept("w"), kept("x"), rejected("y"), rejected("z")], decision_only)
    # The two keepers agree on every keeper's field, the two rejecters on the reason: only the
    # decision is left to a lead.
    assert conflicts(split) == ["decision"] and split["category"].status == "unanimous"
    assert split["reject_reason"].status == "unanimous" and split["reject_reason"].value == "too trivial"
    two_of_three = decide_item([kept("w"), kept("x"), kept("y", difficulty="hard"), rejected("z")], decision_only)
    assert (two_of_three["difficulty"].status, two_of_three["difficulty"].value) == ("majority", "easy")
    one_one = decide_item([kept("w"), kept("x", difficulty="hard"), rejected("y"), rejected("z")], decision_only)
    assert one_one["difficulty"].status == "conflict" and one_one["difficulty"].value is None
    assert decide_item([kept("w"), kept("x"), rejected("y"), rejected("z")], rule := Rule(4, 3))[
        "category"].status == "conflict" and rule.needs_quorum("category")  # the default: every field


def test_a_lead_s_decision_on_a_split_claims_no_field_it_left_empty():
    rule = Rule(min_annotations=4, keep_quorum=3)
    annotations = [kept("w", rewritten_prompt="Why is my loop slow?", minute=2),
                   kept("x", rewritten_prompt="Why is my loop slow?", minute=1), rejected("y"), rejected("z")]
    as_kept = flat_values({"decision": "keep", "category": DEBUG[0], "subcategory": DEBUG[1],
                           "languages": ["python"], "difficulty": "easy", "reject_reason": None}, ())
    sources = field_sources(decide_item(annotations, rule, decision="keep"), as_kept, "lead1")
    assert "reject_reason" not in sources
    assert sources["decision"] == {"source": "adjudicated", "by": "lead1", "votes": "2/4"}
    assert sources["category"] == {"source": "adjudicated", "by": "lead1", "votes": "2/2"}  # 2 < quorum 3
    # Even with the outcomes of the split itself (a conflict on the reject reason):
    assert "reject_reason" not in field_sources(decide_item(annotations, rule), as_kept, "lead1")
    as_rejected = {"decision": "reject", "reject_reason": "too trivial", "category": None, "subcategory": None,
                   "languages": None, "difficulty": None}
    sources = field_sources(decide_item(annotations, rule), as_rejected, "lead1")
    assert set(sources) == {"decision", "reject_reason"}


def test_proposed_values_follow_the_decision():
    rule = Rule(min_annotations=4, keep_quorum=3)
    annotations = [kept("w", rewritten_prompt="Why is my loop slow?", reference_answer="Use a set.", minute=2),
                   kept("x", rewritten_prompt="Why is my loop slow?", minute=1),
                   {**rejected("y", minute=0), "rewritten_prompt": "A rejecter's rewrite"}, rejected("z")]
    split = proposed_values(annotations, rule)
    assert split["decision"] is None and split["category"] == DEBUG[0] and split["reject_reason"] == "too trivial"
    assert (split["rewritten_prompt"], split["reference_answer"]) == ("Why is my loop slow?", "Use a set.")
    as_rejected = proposed_values(annotations, rule, decision="reject")
    assert (as_rejected["decision"], as_rejected["reject_reason"]) == ("reject", "too trivial")
    assert as_rejected["category"] is None and as_rejected["rewritten_prompt"] is None
    as_kept = proposed_values(annotations, rule, decision="keep")
    assert as_kept["reject_reason"] is None and as_kept["difficulty"] == "easy"


def test_a_rejected_item_needs_only_the_reject_reason():
    outcomes = decide_item([rejected("a"), rejected("b"), rejected("c", "unclear")], Rule(3, 2))
    assert outcomes["decision"].value == "reject"
    assert {name for name, o in outcomes.items() if o.status == "not needed"} == {
        "category", "subcategory", "languages", "difficulty"}
    assert outcomes["reject_reason"].status == "majority" and outcomes["reject_reason"].value == "too trivial"


def test_score_fields_count_for_kept_items_and_an_optional_unscored_one_is_not_needed():
    rule = Rule(2, 2)
    scored = decide_item([kept("a", scores={"quality": 4}), kept("b", scores={"quality": 4})], rule, (QUALITY,))
    assert scored["quality"].status == "unanimous" and scored["quality"].value == 4
    unscored = decide_item([kept("a"), kept("b")], rule, (QUALITY,))
    assert unscored["quality"].status == "not needed"
    required = ScoreField(**{**QUALITY.__dict__, "required": True})
    assert decide_item([kept("a"), kept("b")], rule, (required,))["quality"].status == "conflict"


def test_field_sources_say_who_decided_each_field():
    outcomes = decide_item([kept("a"), kept("b"), kept("c", category=OPTIMISE)], Rule(3, 2))
    chosen = flat_values({"decision": "keep", "category": DEBUG[0], "subcategory": OPTIMISE[1],
                          "languages": ["python"], "difficulty": "easy", "reject_reason": None}, ())
    sources = field_sources(outcomes, chosen, "lead1")
    assert sources["decision"] == {"source": "unanimous", "by": None, "votes": "3/3"}
    assert sources["subcategory"] == {"source": "adjudicated", "by": "lead1", "votes": "2/3"}  # overridden
    assert "reject_reason" not in sources  # not needed and empty
    assert overall_source(sources) == "adjudicated"
    assert overall_source({"decision": sources["decision"]}) == "unanimous"


def test_pick_text_takes_the_most_common_then_the_earliest():
    texts = [kept("b", reference_answer="Use a set.", minute=2), kept("a", reference_answer="Use a dict.", minute=1),
             kept("c", reference_answer="Use a set.", minute=3), kept("d", minute=0)]
    assert pick_text(texts, "reference_answer") == ("Use a set.", "b")
    assert pick_text(texts[1:2] + texts[:1], "reference_answer") == ("Use a dict.", "a")  # a tie: the earliest
    assert pick_text([kept("a")], "reference_answer") == (None, None)


def test_clean_fields_checks_the_taxonomy_and_completeness():
    taxonomy = default_taxonomy()
    cleaned = clean_fields({"decision": "keep", "subcategory": DEBUG[1], "languages": " python | sql|python ",
                            "difficulty": "easy", "reject_reason": "unclear"}, taxonomy, complete=True)
    assert cleaned["category"] == DEBUG[0]  # the subcategory names its main category
    assert cleaned["languages"] == ["python", "sql"] and cleaned["reject_reason"] is None
    with pytest.raises(InvalidInput, match="row 3: subcategory 'Code Debugging' belongs to"):
        clean_fields({"category": "Specialized Computing Areas", "subcategory": DEBUG[1]}, taxonomy, complete=False,
                     where="row 3")
    with pytest.raises(InvalidInput, match="missing programming language, difficulty"):
        clean_fields({"decision": "keep", "category": DEBUG[0], "subcategory": DEBUG[1]}, taxonomy, complete=True)
    assert missing_labels(clean_fields({"decision": "reject"}, taxonomy, complete=False)) == ["reject reason"]
    with pytest.raises(InvalidInput, match="unknown field"):
        clean_fields({"colour": "red"}, taxonomy, complete=False)


def test_flat_and_nested_values_are_inverse():
    values = {"decision": "keep", "scores": {"quality": 3}}
    assert flat_values(values, (QUALITY,)) == {"decision": "keep", "quality": 3}
    assert nested_values(flat_values(values, (QUALITY,)), (QUALITY,)) == values
