"""The label schema: which fields an annotation and a final label hold, how each is cleaned and
checked against the project's taxonomy and score fields, and when a set of labels is complete.

Plain functions: the annotator's workspace, annotation files, the acceptance rule and the lead's
resolution all check labels here, so a value is valid or not in the same way everywhere.
"""

from __future__ import annotations

from typing import Any

from curation_app.core.errors import InvalidInput
from curation_app.core.languages import ALIASES
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
# What a rejected item never carries (guidelines 4.1: its difficulty stays empty, and nothing of it
# is released); category, subcategory and obvious languages may stay.
CLEARED_ON_REJECT = ("difficulty", "rewritten_prompt", "reference_answer", "scores")
MAX_TEXT_CHARS = 200_000
MAX_LANGUAGE_CHARS = 50


def clean_fields(fields: dict[str, Any], taxonomy: Taxonomy, *, complete: bool, where: str = "",
                 score_fields: tuple[ScoreField, ...] = (), answer_required: bool = False) -> dict[str, Any]:
    """Check labels against the taxonomy and scores against the project's score fields; with
    complete=True, also that nothing required is missing (a kept item's reference answer too when
    answer_required). Returns every field, cleaned; a rejected item loses CLEARED_ON_REJECT."""
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
            value = clean_languages(value, prefix, vocabulary=taxonomy.languages)
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
    elif cleaned["decision"] == REJECT:
        cleaned.update(dict.fromkeys(CLEARED_ON_REJECT))
    missing = missing_labels(cleaned, score_fields, answer_required=answer_required) if complete else []
    if missing:
        raise InvalidInput(f"{prefix}missing {', '.join(missing)}")
    return cleaned


def missing_labels(cleaned: dict[str, Any], score_fields: tuple[ScoreField, ...] = (), *,
                   answer_required: bool = False) -> list[str]:
    """What a submission of these (cleaned) fields still needs, by name; empty when complete."""
    if cleaned["decision"] is None:
        return ["decision"]
    if cleaned["decision"] == REJECT:
        return ["reject reason"] if cleaned["reject_reason"] is None else []
    if cleaned["decision"] != KEEP:
        return []
    needed = [("category", "category"), ("subcategory", "subcategory"), ("languages", "programming language"),
              ("difficulty", "difficulty")] + ([("reference_answer", "reference answer")] if answer_required else [])
    return [label for name, label in needed if not cleaned[name]] + missing_required(cleaned["scores"], score_fields)


def submission_warnings(cleaned: dict[str, Any]) -> list[str]:
    """What a complete submission still lacks that the guidelines ask for, without refusing it;
    each warning a sentence."""
    if cleaned["decision"] == KEEP and not cleaned["reference_answer"]:
        return ["No reference answer: the item is kept, but a release needs one (write it, or start "
                "from the baseline answer)."]
    return []


def clean_languages(value: Any, prefix: str = "", *, vocabulary: tuple[str, ...] | None = None) -> list[str] | None:
    """A list of language names (or one `|`-separated text), de-duplicated in order. With a
    vocabulary, each name is written as the vocabulary writes it (any case, or a known alias such
    as `golang` for `go`), and a name outside it is refused."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = value.split("|")
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{prefix}languages must be a list of names")
    languages = [v.strip() for v in value if v.strip()]
    too_long = [v for v in languages if len(v) > MAX_LANGUAGE_CHARS]
    if too_long:
        raise InvalidInput(f"{prefix}language name {too_long[0][:60]!r} is longer than {MAX_LANGUAGE_CHARS} characters")
    if vocabulary is not None:
        spelled = vocabulary_spelling(vocabulary)
        unknown = [v for v in languages if language_label(v, spelled) is None]
        if unknown:
            raise InvalidInput(f"{prefix}language {unknown[0]!r} is not in the project's vocabulary "
                               f"({', '.join(vocabulary[:8])}{', ...' if len(vocabulary) > 8 else ''}); "
                               "an admin can add it with the setting extra_languages")
        languages = [language_label(v, spelled) for v in languages]
    return list(dict.fromkeys(languages)) or None


def vocabulary_spelling(vocabulary: tuple[str, ...]) -> dict[str, str]:
    """Casefolded language name -> the vocabulary's spelling of it."""
    return {name.casefold(): name for name in vocabulary}


def language_label(name: str, spelled: dict[str, str]) -> str | None:
    """The vocabulary's spelling of a language name (any case, or a known alias); None outside it."""
    key = name.strip().casefold()
    if key in spelled:
        return spelled[key]
    alias = ALIASES.get(key)
    return spelled.get(alias.casefold()) if alias else None


def in_vocabulary(names: list[str], vocabulary: tuple[str, ...]) -> list[str]:
    """The names the vocabulary knows, in its spelling; the others dropped."""
    spelled = vocabulary_spelling(vocabulary)
    return list(dict.fromkeys(label for label in (language_label(name, spelled) for name in names) if label))


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
