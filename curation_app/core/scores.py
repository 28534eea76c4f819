"""Numeric fields a project defines on top of the built-in ones ("score fields"): a rating such
as answer quality 1-5 (interval) or the minutes an expert would need (ratio).

Each is set in the `score_fields` setting, annotated beside the built-in labels, measured with
Krippendorff's alpha at its level, decided by the acceptance rule like any label, and released
under `scores`. Values are stored per annotation and per final label as {name: number}.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curation_app.core.errors import InvalidInput
from curation_app.core.limits import excerpt

LEVELS = ("interval", "ratio")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# Names already used by built-in fields, columns of annotation files and keys of release items:
# a score field's name is also its column and its key, so it may not be one of these.
RESERVED_NAMES = frozenset({
    "decision", "reject_reason", "category", "subcategory", "languages", "difficulty", "rewritten_prompt",
    "reference_answer", "notes", "scores", "query_id", "annotator", "id", "messages", "programming_language",
    "baseline_answer", "baseline_models", "source", "original_id", "label_source", "n_annotators", "field_sources", "rewritten",
    "original_messages", "item", "batch", "value", "state", "revision",
})
_KEYS = {"name", "label", "level", "min", "max", "step", "required", "help"}


@dataclass(frozen=True)
class ScoreField:
    name: str
    label: str
    level: str  # interval | ratio
    minimum: float
    maximum: float
    step: float | None = None  # e.g. 1 for whole numbers; None for any number in range
    required: bool = False  # must be given to submit a kept item
    help: str = ""

    @property
    def whole_numbers(self) -> bool:
        """Whole steps from a whole minimum: every value on the scale is a whole number."""
        return self.step is not None and self.step.is_integer() and self.minimum.is_integer()


def _number(value: Any) -> float | None:
    """A finite number as float; None for anything else (text, booleans, NaN, ints beyond float)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def score_field_problems(value: Any) -> list[str]:
    """What is wrong with a `score_fields` setting value (a list of field objects)."""
    if not isinstance(value, list):
        return ["must be a list of score fields (objects with name, level, min and max)"]
    problems: list[str] = []
    seen: set[str] = set()
    for number, spec in enumerate(value, start=1):
        where = f"score field {number}"
        if not isinstance(spec, dict):
            problems.append(f"{where}: must be an object, not {type(spec).__name__}")
            continue
        name = spec.get("name")
        if isinstance(name, str):
            where = f"score field {number} ({name!r})"
        if not isinstance(name, str) or not _NAME.match(name):
            problems.append(f"{where}: name must be lower-case letters, digits and '_' (at most 40), "
                            "starting with a letter")
        elif name in RESERVED_NAMES:
            problems.append(f"{where}: name is taken by a built-in field or column")
        elif name in seen:
            problems.append(f"{where}: name is used twice")
        seen.add(name if isinstance(name, str) else "")
        unknown = sorted(set(spec) - _KEYS)
        if unknown:
            problems.append(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_KEYS))}")
        if spec.get("level") not in LEVELS:
            problems.append(f"{where}: level must be one of {', '.join(LEVELS)}")
        low, high = _number(spec.get("min")), _number(spec.get("max"))
        if low is None or high is None or not low < high:
            problems.append(f"{where}: min and max must be numbers with min < max")
        elif spec.get("level") == "ratio" and low < 0:
            problems.append(f"{where}: a ratio scale has a true zero, so min cannot be negative")
        step = spec.get("step")
        if step is not None and (_number(step) is None or step <= 0):
            problems.append(f"{where}: step must be a positive number")
        for key in ("label", "help"):
            if spec.get(key) is not None and not isinstance(spec.get(key), str):
                problems.append(f"{where}: {key} must be text")
        if spec.get("required") is not None and not isinstance(spec.get("required"), bool):
            problems.append(f"{where}: required must be true or false")
    return problems


def parse_score_fields_setting(text: str) -> Any:
    """`settings set score_fields` takes a JSON file, inline JSON, or "none"."""
    if text.strip().lower() in ("none", "[]"):
        return []
    if text.lstrip().startswith("["):
        source, raw = "the value", text
    else:
        path = Path(text)
        if not path.is_file():
            raise InvalidInput(f"score_fields: {text} is not a file (give a JSON file, inline JSON or 'none')")
        source = str(path)
        try:
            raw = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"score_fields: {source} is not UTF-8: {exc}") from None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"score_fields: {source} is not valid JSON: {exc}") from None


def from_setting(value: Any) -> tuple[ScoreField, ...]:
    return tuple(ScoreField(
        name=spec["name"], label=spec.get("label") or spec["name"].replace("_", " ").capitalize(),
        level=spec["level"], minimum=float(spec["min"]), maximum=float(spec["max"]),
        step=float(spec["step"]) if spec.get("step") is not None else None,
        required=bool(spec.get("required")), help=spec.get("help") or "") for spec in value or ())


def clean_scores(value: Any, fields: tuple[ScoreField, ...], *, prefix: str = "") -> dict[str, float] | None:
    """{name: number} checked against the project's score fields; None when nothing is given.
    Numbers may come as text (from a CSV cell); whole numbers are kept as whole numbers."""
    if value is None or value == {}:
        return None
    if not isinstance(value, dict):
        raise InvalidInput(f"{prefix}scores must be an object of {{name: number}}")
    by_name = {f.name: f for f in fields}
    unknown = sorted(set(value) - set(by_name))
    if unknown:
        known = ", ".join(by_name) or "none are defined (setting score_fields)"
        raise InvalidInput(f"{prefix}unknown score field(s) {', '.join(map(repr, unknown))}; known: {known}")
    cleaned: dict[str, float] = {}
    for name, spec in by_name.items():
        raw = value.get(name)
        if isinstance(raw, str):
            raw = raw.strip()
            if raw == "":
                continue
            try:
                raw = float(raw)
            except ValueError:
                raise InvalidInput(f"{prefix}{name} {excerpt(raw)} is not a number") from None
        if raw is None:
            continue
        number = _number(raw)
        if number is None:
            raise InvalidInput(f"{prefix}{name} {excerpt(raw)} is not a number")
        if not spec.minimum <= number <= spec.maximum:
            raise InvalidInput(f"{prefix}{name} {_show(number)} is outside {_show(spec.minimum)} to {_show(spec.maximum)}")
        if spec.step is not None:
            steps = (number - spec.minimum) / spec.step
            if abs(steps - round(steps)) > 1e-9:
                raise InvalidInput(f"{prefix}{name} {_show(number)} is not on the scale's steps of {_show(spec.step)} "
                                   f"from {_show(spec.minimum)}")
        cleaned[name] = int(number) if number.is_integer() else number
    return cleaned or None


def merge_scores(saved: dict | None, given: dict | None, fields: tuple[ScoreField, ...]) -> tuple[dict, dict]:
    """Given scores over the saved ones, key by key (a None clears one); and, apart, the saved
    scores of fields the project no longer defines, which are kept but no longer checked."""
    known = {f.name for f in fields}
    saved = saved or {}
    if given is not None and not isinstance(given, dict):
        return given, {}  # let the check say what is wrong with it
    merged = {**{k: v for k, v in saved.items() if k in known}, **(given or {})}
    return merged, {k: v for k, v in saved.items() if k not in known}


def missing_required(scores: dict | None, fields: tuple[ScoreField, ...]) -> list[str]:
    return [f.label for f in fields if f.required and (scores or {}).get(f.name) is None]


def _show(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else repr(float(number))
