"""The label schema: which fields an annotation and a final label hold, how each is cleaned and
checked against the project's taxonomy and score fields, and when a set of labels is complete.

Plain functions: the annotator's workspace, annotation files, the acceptance rule and the lead's
resolution all check labels here, so a value is valid or not in the same way everywhere.
"""

from __future__ import annotations

from typing import Any

from curation_app.core.errors import InvalidInput
from curation_app.core.scores import ScoreField, clean_scores, missing_required
from curation_app.core.taxonomy import Taxonomy

# The two decisions the rest of the schema depends on (a taxonomy may name more).
KEEP, REJECT = "keep", "reject"
LABEL_FIELDS = ("decision", "reject_reason", "category", "subcategory", "languages", "difficulty")
TEXT_FIELDS = ("rewritten_prompt", "reference_answer", "notes")
# "scores" holds the project's own numeric fields (setting score_fields) as {name: number}.
FIELDS = LABEL_FIELDS + TEXT_FIELDS + ("scores",)
# Labels that only a kept item needs; the reject reason is only a rejected item's.
KEEP_FIELDS = ("category", "subcategory", "languages", "difficulty")
# Texts a final label takes from one annotator's work rather than by a vote.
CHOSEN_TEXT_FIELDS = ("rewritten_prompt", "reference_answer")
MAX_TEXT_CHARS = 200_000
MAX_LANGUAGE_CHARS = 50


def clean_fields(fields: dict[str, Any], taxonomy: Taxonomy, *, complete: bool, where: str = "",
                 score_fields: tuple[ScoreField, ...] = ()) -> dict[str, Any]:
    """Check labels against the taxonomy and scores against the project's score fields; with
    complete=True, also that nothing required is missing. Returns every field, cleaned."""
    prefix = f"{where}: " if where else ""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise InvalidInput(f"{prefix}unknown field(s): {', '.join(sorted(unknown))}")
    cleaned: dict[str, Any] = {}
    for name in FIELDS:
        value = fields.get(name)
        if isinstance(value, str):
            value = value.strip() or None
        if name == "languages":
            value = clean_languages(value, prefix)
        elif name == "scores":
            value = clean_scores(value, score_fields, prefix=prefix)
        elif value is not None and not isinstance(value, str):
            raise InvalidInput(f"{prefix}{name} must be text")
        elif name in TEXT_FIELDS and value is not None and len(value) > MAX_TEXT_CHARS:
            raise InvalidInput(f"{prefix}{name} is longer than {MAX_TEXT_CHARS:,} characters")
        cleaned[name] = value

    def check(name: str, allowed: tuple[str, ...]) -> None:
        if cleaned[name] is not None and cleaned[name] not in allowed:
            raise InvalidInput(f"{prefix}{name} {cleaned[name]!r} is not in the taxonomy "
                               f"({', '.join(allowed[:8])}{', ...' if len(allowed) > 8 else ''})")

    check("decision", taxonomy.decisions)
    check("reject_reason", taxonomy.reject_reasons)
    check("category", tuple(taxonomy.categories))
    check("difficulty", taxonomy.difficulties)
    if cleaned["subcategory"] is not None:
        owner = taxonomy.subcategory_to_category.get(cleaned["subcategory"])
        if owner is None:
            raise InvalidInput(f"{prefix}subcategory {cleaned['subcategory']!r} is not in the taxonomy")
        if cleaned["category"] is not None and owner != cleaned["category"]:
            raise InvalidInput(f"{prefix}subcategory {cleaned['subcategory']!r} belongs to {owner!r}, "
                               f"not to {cleaned['category']!r}")
        cleaned["category"] = cleaned["category"] or owner
    if cleaned["decision"] == KEEP:
        cleaned["reject_reason"] = None
    missing = missing_labels(cleaned, score_fields) if complete else []
    if missing:
        raise InvalidInput(f"{prefix}missing {', '.join(missing)}")
    return cleaned


def missing_labels(cleaned: dict[str, Any], score_fields: tuple[ScoreField, ...] = ()) -> list[str]:
    """What a submission of these (cleaned) fields still needs, by name; empty when complete."""
    if cleaned["decision"] is None:
        return ["decision"]
    if cleaned["decision"] == REJECT:
        return ["reject reason"] if cleaned["reject_reason"] is None else []
    if cleaned["decision"] != KEEP:
        return []
    return [label for name, label in (("category", "category"), ("subcategory", "subcategory"),
                                      ("languages", "programming language"), ("difficulty", "difficulty"))
            if not cleaned[name]] + missing_required(cleaned["scores"], score_fields)


def clean_languages(value: Any, prefix: str = "") -> list[str] | None:
    """A list of language names (or one `|`-separated text), de-duplicated in order."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = value.split("|")
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{prefix}languages must be a list of names")
    languages = list(dict.fromkeys(v.strip() for v in value if v.strip()))
    too_long = [v for v in languages if len(v) > MAX_LANGUAGE_CHARS]
    if too_long:
        raise InvalidInput(f"{prefix}language name {too_long[0][:60]!r} is longer than {MAX_LANGUAGE_CHARS} characters")
    return languages or None


def decided_fields(score_fields: tuple[ScoreField, ...]) -> tuple[str, ...]:
    """The fields an item's final label decides: the labels, then the project's score fields."""
    return LABEL_FIELDS + tuple(f.name for f in score_fields)


def flat_values(values: dict[str, Any], score_fields: tuple[ScoreField, ...]) -> dict[str, Any]:
    """Labels with each score beside them under its own name, as the rule's outcomes are keyed."""
    scores = values.get("scores") or {}
    return {**{k: v for k, v in values.items() if k != "scores"}, **{f.name: scores.get(f.name) for f in score_fields}}


def nested_values(flat: dict[str, Any], score_fields: tuple[ScoreField, ...]) -> dict[str, Any]:
    """The inverse of flat_values: scores gathered under "scores"."""
    names = {f.name for f in score_fields}
    return {**{k: v for k, v in flat.items() if k not in names},
            "scores": {k: v for k, v in flat.items() if k in names and v is not None}}
