"""Project settings stored in the database, each with a default, a type and a check."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from sqlmodel import Session, select

from curation_app.core import audit
from curation_app.core.auth import require_role
from curation_app.core.errors import InvalidInput
from curation_app.core.labels import LABEL_FIELDS, MAX_LANGUAGE_CHARS, language_key, language_label
from curation_app.core.scores import parse_score_fields_setting, score_field_problems
from curation_app.core.taxonomy import default_taxonomy, taxonomy_problems
from curation_app.models import Role, Setting, User, utcnow


@dataclass(frozen=True)
class SettingSpec:
    default: Any
    help: str
    parse: Callable[[str], Any]
    check: Callable[[Any], str | None] = lambda _value: None  # a reason when the value is wrong


def _int_between(low: int, high: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            return f"must be a whole number from {low} to {high}"
        return None

    return check


def _float_between(low: float, high: float) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not low <= value <= high:
            return f"must be a number from {low} to {high}"
        return None

    return check


def _parse_yes_no(text: str) -> bool:
    answer = text.strip().lower()
    if answer in ("yes", "true", "on", "1"):
        return True
    if answer in ("no", "false", "off", "0"):
        return False
    raise InvalidInput(f"{text!r} is not yes or no")


def _parse_names(text: str) -> list[str]:
    """Comma-separated names, or 'none'."""
    return [] if text.strip().lower() == "none" else [name.strip() for name in text.split(",") if name.strip()]


def _check_bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be yes or no"


def _check_extra_languages(value: Any) -> str | None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        return "must be a list of language names"
    if any(len(v) > MAX_LANGUAGE_CHARS for v in value):
        return f"a language name has at most {MAX_LANGUAGE_CHARS} characters"
    folded = [language_key(v) for v in value]
    if len(set(folded)) != len(folded):
        return "names a language twice"
    return None


def _refuse_known_languages(extra: list[str], taxonomy: dict | None) -> None:
    """An added language the taxonomy already has under another spelling (`golang` for `go`)
    would split one language into two labels."""
    vocabulary = default_taxonomy().languages if taxonomy is None else tuple(taxonomy["languages"])
    for name in extra:
        known = language_label(name, vocabulary=vocabulary)
        if known is not None:
            raise InvalidInput(f"setting extra_languages: {name.strip()!r} is already in the vocabulary as {known!r}")


# A Hugging Face licence id (https://huggingface.co/docs/hub/repositories-licenses): "mit",
# "cc-by-4.0", "apache-2.0", "openrail++", or "other" for a licence of one's own.
_LICENSE_ID = re.compile(r"^[a-z0-9][a-z0-9.+-]{0,63}$")
# An ISO 639-1 or 639-3 code, optionally with a BCP 47 region or script: "en", "zh", "pt-BR".
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


def _parse_license(text: str) -> str | None:
    """A licence id, or 'none' for not stated."""
    answer = text.strip()
    return None if answer.lower() == "none" else answer


def _check_license(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _LICENSE_ID.match(value):
        return (f"{value!r} is not a Hugging Face licence id (lower case letters, digits, '.', '+' or '-', "
                "e.g. mit, cc-by-4.0, apache-2.0, other); 'none' for not stated")
    return None


def _check_dataset_languages(value: Any) -> str | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return "must be a list of language codes"
    wrong = [v for v in value if not _LANGUAGE_CODE.match(v)]
    if wrong:
        return (f"{', '.join(repr(v) for v in wrong)}: not an ISO 639 language code (two or three lower "
                "case letters, e.g. en, zh, pt-BR)")
    if len({v.casefold() for v in value}) != len(value):
        return "names a language twice"
    return None


def _parse_field_names(text: str) -> Any:
    """Comma-separated field names, or "all"."""
    return "all" if text.strip().lower() == "all" else _parse_names(text)


def _check_field_names(value: Any) -> str | None:
    if value == "all":
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        return "must be 'all' or a list of field names"
    return "names a field twice" if len(set(value)) != len(value) else None


def _parse_taxonomy(text: str) -> Any:
    """A path to a taxonomy JSON file, or "default"."""
    if text == "default":
        return None
    path = Path(text)
    if not path.is_file():
        raise InvalidInput(f"taxonomy: {text} is not a file (give a JSON file or 'default')")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"taxonomy: {text} is not valid UTF-8 JSON: {exc}") from None


def _check_taxonomy(value: Any) -> str | None:
    if value is None:
        return None
    problems = taxonomy_problems(value)
    return "; ".join(problems) if problems else None


SETTINGS: dict[str, SettingSpec] = {
    "overlap": SettingSpec(2, "annotators per query", int, _int_between(1, 20)),
    "min_annotations": SettingSpec(
        2, "submitted annotations an item needs before the acceptance rule looks at it", int,
        _int_between(1, 20)),
    "keep_quorum": SettingSpec(
        2, "annotators who must agree on a field for it to be final without a lead "
        "(CodeArena: 3 of 4)", int, _int_between(1, 20)),
    "quorum_fields": SettingSpec(
        "all", "fields that need keep_quorum annotators to agree (comma-separated, or 'all'); any other "
        "field is final when the annotators who gave it a value all agree or more than half do",
        _parse_field_names, _check_field_names),
    "review_votes": SettingSpec(
        0, "reviewers who vote on each annotated item, a second stage after the rule settles its labels "
        "(0: no review stage; CodeArena: 4)", int, _int_between(0, 20)),
    "review_quorum": SettingSpec(
        3, "reviewers' keep votes an item needs to be kept (CodeArena: 3 of 4)", int, _int_between(1, 20)),
    "reservation_minutes": SettingSpec(
        30, "minutes an item stays reserved for the annotator who opened it", int,
        _int_between(1, 24 * 60)),
    "guideline_version": SettingSpec("v1", "guideline version recorded with each annotation", str,
                                     lambda v: None if isinstance(v, str) and v.strip() else "must not be empty"),
    "ngram": SettingSpec(10, "word n-gram length for contamination checks", int, _int_between(3, 50)),
    "duplicate_threshold": SettingSpec(
        0.85, "similarity above which two queries count as near-duplicates", float,
        _float_between(0.5, 1.0)),
    "coding_threshold": SettingSpec(
        0.5, "coding score (0 to 1) from which a query counts as a coding query: the filter of --coding-only "
        "and of the triage page's coding list", float, _float_between(0.0, 1.0)),
    "taxonomy": SettingSpec(None, "taxonomy JSON (categories, languages...); 'default' for CodeArena's",
                            _parse_taxonomy, _check_taxonomy),
    "score_fields": SettingSpec(
        [], "numeric fields annotated beside the built-in labels (JSON file or inline JSON list of "
        "{name, level: interval|ratio, min, max, step, required, label, help}; 'none' for none)",
        parse_score_fields_setting, lambda value: "; ".join(score_field_problems(value)) or None),
    "extra_languages": SettingSpec(
        [], "languages the project adds to the taxonomy's vocabulary (comma-separated; 'none' for none)",
        _parse_names, _check_extra_languages),
    "require_reference_answer": SettingSpec(
        False, "a kept item needs a reference answer to be submitted (yes or no); without it, a kept "
        "item with no answer is submitted with a warning and counted in the release preview", _parse_yes_no,
        _check_bool),
    "license": SettingSpec(
        None, "licence of the released data, a Hugging Face licence id (e.g. cc-by-4.0, mit, other) for the "
        "dataset card; 'none' for not stated", _parse_license, _check_license),
    "dataset_languages": SettingSpec(
        [], "natural languages of the queries, ISO 639 codes for the dataset card (comma-separated, e.g. "
        "en,zh; 'none' for not stated)", _parse_names, _check_dataset_languages),
}
# Settings that change what an annotation is: the admin's, not a lead's.
SCHEMA_SETTINGS = ("taxonomy", "score_fields", "extra_languages")


def _spec(key: str) -> SettingSpec:
    if key not in SETTINGS:
        raise InvalidInput(f"unknown setting {key!r}; known: {', '.join(sorted(SETTINGS))}")
    return SETTINGS[key]


def get_setting(session: Session, key: str) -> Any:
    spec = _spec(key)
    row = session.get(Setting, key)
    return spec.default if row is None else row.value


def all_settings(session: Session) -> dict[str, Any]:
    stored = {row.key: row.value for row in session.exec(select(Setting))}
    return {key: stored.get(key, spec.default) for key, spec in SETTINGS.items()}


def parse_setting(key: str, text: str) -> Any:
    spec = _spec(key)
    try:
        return spec.parse(text)
    except ValueError:
        raise InvalidInput(f"setting {key}: {text!r} is not a valid {spec.parse.__name__}") from None
    except InvalidInput as problem:
        if str(problem).startswith(f"{key}:"):
            raise
        raise InvalidInput(f"setting {key}: {problem}") from None


def validate_settings(session: Session, values: dict[str, Any]) -> dict[str, Any]:
    """Check new values against their own rules and against the stored settings; the settings as
    they would be, or InvalidInput naming the setting and the rule. Nothing is written."""
    for key, value in values.items():
        reason = _spec(key).check(value)
        if reason:
            raise InvalidInput(f"setting {key}: {reason}")
    proposed = {**all_settings(session), **values}
    if proposed["keep_quorum"] > proposed["min_annotations"]:
        named = ", ".join(values)
        raise InvalidInput(
            f"setting {named}: keep_quorum ({proposed['keep_quorum']}) cannot exceed "
            f"min_annotations ({proposed['min_annotations']})"
        )
    if "extra_languages" in values:
        _refuse_known_languages(values["extra_languages"], proposed["taxonomy"])
    if "quorum_fields" in values and proposed["quorum_fields"] != "all":
        known = (*LABEL_FIELDS, *(spec["name"] for spec in proposed["score_fields"] or ()))
        unknown = [name for name in proposed["quorum_fields"] if name not in known]
        if unknown:
            raise InvalidInput(f"setting quorum_fields: unknown field(s) {', '.join(unknown)}; "
                               f"known: {', '.join(known)}")
    if proposed["review_votes"] and proposed["review_quorum"] > proposed["review_votes"]:
        raise InvalidInput(
            f"setting {', '.join(values)}: review_quorum ({proposed['review_quorum']}) cannot exceed "
            f"review_votes ({proposed['review_votes']})"
        )
    return proposed


def settings_warnings(values: dict[str, Any], *, n_annotators: int | None = None,
                      n_reviewers: int | None = None) -> list[str]:
    """Settings that are each allowed but together leave items that can never be settled.
    `values` is every setting (e.g. `all_settings`, or the proposed values); the counts of active
    annotators and reviewers, when given, are checked against the overlap and the review votes."""
    overlap, needed, quorum = values["overlap"], values["min_annotations"], values["keep_quorum"]
    votes, vote_quorum = values["review_votes"], values["review_quorum"]
    warnings = []
    if overlap < needed:
        warnings.append(
            f"overlap ({overlap}) is below min_annotations ({needed}): the queue gives an item at most "
            f"{overlap} annotation(s), so the acceptance rule, which waits for {needed}, never finalises "
            f"it; raise overlap to {needed} or lower min_annotations to {overlap}")
    if quorum > overlap:
        warnings.append(
            f"keep_quorum ({quorum}) is above overlap ({overlap}): {quorum} annotators can never agree on an "
            f"item that only {overlap} annotate, so every item would wait for a lead")
    if votes and vote_quorum > votes:
        warnings.append(
            f"review_quorum ({vote_quorum}) is above review_votes ({votes}): no item could collect "
            f"{vote_quorum} keep votes from {votes} reviewers, so none would be kept")
    if n_annotators is not None and overlap > n_annotators:
        warnings.append(
            f"overlap ({overlap}) is above the number of active annotators ({n_annotators}): no item can "
            f"get {overlap} different annotators until more are added")
    if n_reviewers is not None and votes > n_reviewers:
        warnings.append(
            f"review_votes ({votes}) is above the number of active reviewers ({n_reviewers}): no item can "
            f"get {votes} votes until more reviewers are added")
    return warnings


def parse_document(key: str, content: str | bytes, *, source: str) -> Any:
    """A taxonomy or score-field list given as a JSON document (an uploaded file, an edited text);
    it is then checked by `validate_settings` like the same file given to `settings set`."""
    if key not in ("taxonomy", "score_fields"):
        raise InvalidInput(f"setting {key} is not given as a JSON document")
    try:
        text = content.decode("utf-8-sig") if isinstance(content, bytes) else content
        return json.loads(text)
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{key}: {source} is not UTF-8: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{key}: {source} is not valid JSON: {exc}") from None


def store_settings(session: Session, *, actor: User, values: dict[str, Any]) -> None:
    """Check and store several settings at once, e.g. the acceptance rule's two numbers, so a
    rule between them (keep_quorum <= min_annotations) holds for the new pair, not in between.
    Callers change settings through `configure.change_settings`, which also refreshes what
    depends on them (the pool's open slots)."""
    # Leads run the annotation (overlap, rule, guideline version); what an annotation holds is the admin's.
    require_role(actor, *((Role.ADMIN,) if set(SCHEMA_SETTINGS) & set(values) else (Role.ADMIN, Role.LEAD)))
    validate_settings(session, values)
    for key, value in values.items():
        row = session.get(Setting, key)
        old = _spec(key).default if row is None else row.value
        if row is None:
            row = Setting(key=key, value=value)
        row.value = value
        row.updated_by_id = actor.id
        row.updated_at = utcnow()
        session.add(row)
        audit.record(session, actor=actor, action="setting.set", entity="setting", entity_id=key,
                     old={"value": old}, new={"value": value})
    session.flush()
