"""The label schema: which fields an annotation and a final label hold, how each is cleaned and
checked against the project's taxonomy and score fields, and when a set of labels is complete.

Plain functions: the annotator's workspace, annotation files, the acceptance rule and the lead's
resolution all check labels here, so a value is valid or not in the same way everywhere.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from curation_app.core.errors import InvalidInput
from curation_app.core.languages import ALIASES, LABEL_ALIASES
from curation_app.core.limits import MAX_TEXT_CHARS, excerpt
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
            value = canonical_languages(languages=value, vocabulary=taxonomy.languages, where=where)
        elif name == "scores":
            value = clean_scores(value, score_fields, prefix=prefix)
        elif value is not None and not isinstance(value, str):
            raise InvalidInput(f"{prefix}{name} must be text")
        elif name in TEXT_FIELDS and value is not None and len(value) > MAX_TEXT_CHARS:
            raise InvalidInput(f"{prefix}{name} is longer than {MAX_TEXT_CHARS:,} characters")
        cleaned[name] = value

    def check(name: str, allowed: tuple[str, ...]) -> None:
        if cleaned[name] is not None and cleaned[name] not in allowed:
            raise InvalidInput(f"{prefix}{name} {excerpt(cleaned[name])} is not in the taxonomy "
                               f"({', '.join(allowed[:8])}{', ...' if len(allowed) > 8 else ''})")

    check("decision", taxonomy.decisions)
    check("reject_reason", taxonomy.reject_reasons)
    check("category", tuple(taxonomy.categories))
    check("difficulty", taxonomy.difficulties)
    if cleaned["subcategory"] is not None:
        owner = taxonomy.subcategory_to_category.get(cleaned["subcategory"])
        if owner is None:
            raise InvalidInput(f"{prefix}subcategory {excerpt(cleaned['subcategory'])} is not in the taxonomy")
        if cleaned["category"] is not None and owner != cleaned["category"]:
            raise InvalidInput(f"{prefix}subcategory {excerpt(cleaned['subcategory'])} belongs to {owner!r}, "
                               f"not to {excerpt(cleaned['category'])}")
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


def canonical_languages(*, languages: Any, vocabulary: tuple[str, ...], where: str = "",
                        keep_unknown: bool = False) -> list[str] | None:
    """The one rule for language labels, used by every path that stores them and by agreement.

    languages: a list of names or one `|`-separated text. Each name is written as the vocabulary
    writes it (any case or spacing, or another name of the same language: `RUST`, `golang`,
    `C++`), each once, in order; None when there are none. A name outside the vocabulary is
    refused with a message naming it and `where` (e.g. "row 3" or "query q5"), unless
    keep_unknown, which reads stored labels: it keeps such a name, case-folded, so old spellings
    of one unknown name still count as one label."""
    prefix = f"{where}: " if where else ""
    if languages is None or languages == "":
        return None
    if isinstance(languages, str):
        languages = languages.split("|")
    if not isinstance(languages, (list, tuple)) or not all(isinstance(v, str) for v in languages):
        raise InvalidInput(f"{prefix}languages must be a list of names")
    names = [v.strip() for v in languages if v.strip()]
    too_long = [v for v in names if len(v) > MAX_LANGUAGE_CHARS]
    if too_long:
        raise InvalidInput(f"{prefix}language name {excerpt(too_long[0])} is longer than {MAX_LANGUAGE_CHARS} characters")
    lookup = _language_lookup(vocabulary)
    labels = []
    for name in names:
        label = lookup.label(name)
        if label is None and not keep_unknown:
            raise InvalidInput(f"{prefix}language {excerpt(name)} is not in the project's vocabulary"
                               f"{lookup.hint(name)}; an admin can add it with the setting extra_languages")
        labels.append(label or language_key(name))
    return list(dict.fromkeys(labels)) or None


def language_key(name: str) -> str:
    """A language name as names are compared: case-folded, without spaces (`Python 3` is `python3`)."""
    return "".join(name.split()).casefold()


class _LanguageLookup:
    """A vocabulary's spelling of any name of one of its languages."""

    def __init__(self, vocabulary: tuple[str, ...]):
        self.vocabulary = vocabulary
        self.exact: dict[str, str] = {}
        for name in vocabulary:
            self.exact.setdefault(language_key(name), name)
        # Each alias group's label in this vocabulary: the group's own label when the vocabulary
        # has it (`autohotkey`, not its near-duplicate `ahk`), else the first member it has.
        self.by_group: dict[str, str] = {}
        for key, name in self.exact.items():
            group = LABEL_ALIASES.get(key)
            if group and (group not in self.by_group or key == group):
                self.by_group[group] = name

    def label(self, name: str) -> str | None:
        key = language_key(name)
        if key in self.exact:
            return self.exact[key]
        group = LABEL_ALIASES.get(key)
        return self.by_group.get(group) if group else None

    def hint(self, name: str) -> str:
        """A pointer to the label the guidelines use for a relative (`xml`: `html`), or the start of
        the vocabulary."""
        related = ALIASES.get(language_key(name))
        if related and related in self.by_group:
            return f" (nearest label: {self.by_group[related]!r})"
        shown = ", ".join(self.vocabulary[:8])
        return f" ({shown}{', ...' if len(self.vocabulary) > 8 else ''})"


@lru_cache(maxsize=16)
def _language_lookup(vocabulary: tuple[str, ...]) -> _LanguageLookup:
    return _LanguageLookup(vocabulary)


def language_label(name: str, *, vocabulary: tuple[str, ...]) -> str | None:
    """The vocabulary's spelling of one language name; None outside the vocabulary."""
    return _language_lookup(vocabulary).label(name)


def in_vocabulary(names: list[str], vocabulary: tuple[str, ...]) -> list[str]:
    """The names the vocabulary knows, in its spelling; the others dropped."""
    lookup = _language_lookup(vocabulary)
    return list(dict.fromkeys(label for label in map(lookup.label, names) if label))


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
