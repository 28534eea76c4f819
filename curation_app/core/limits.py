"""The size and character rules of every stored field, for every writer alike: query, answers,
annotation and vote files, and the annotate, adjudicate and review pages.

One rule set, so a value SQLite would take and PostgreSQL would refuse (a NUL character) is refused
on both, with a one-line message naming the field (and, in a file, the line or row), before
anything is written.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from curation_app.core.errors import InvalidInput

# A query's conversation, all turns together.
MAX_QUERY_CHARS = 1_000_000
# Any other text: a baseline answer, a rewritten prompt, a reference answer, notes, a rationale, one
# text in metadata. A baseline is where a reference answer starts, so both have the same limit.
MAX_TEXT_CHARS = 200_000
MAX_COMMENT_CHARS = 5_000
# An id a source gave: a renamed id is SOURCE:ID:HASH8 and must fit the 300 characters of a public id.
MAX_ID_CHARS = 150
MAX_PUBLIC_ID_CHARS = 300
MAX_SOURCE_CHARS = 100
# Model names, label values, metadata keys: the database's name columns hold 200 characters.
MAX_NAME_CHARS = 200
# A query's metadata (the fields it came with that are not its text, id or baselines), as JSON.
MAX_METADATA_BYTES = 1_000_000
# What a message may quote of a value read from someone's file or form.
EXCERPT_CHARS = 40

_NUL = "\x00"


class FieldRefused(InvalidInput):
    """A stored field breaks a size or character rule; the message names the field and where."""


def excerpt(value: Any, chars: int = EXCERPT_CHARS, *, quoted: bool = True) -> str:
    """A value as a message may quote it: escaped (a newline or a NUL shows as \\n, \\x00) and cut
    to `chars` characters, so no message repeats much of anyone's file. With quoted=False, a short
    value without spaces or control characters (an id, a name) comes as it is."""
    text = value if isinstance(value, str) else str(value)
    if not quoted and len(text) <= chars and text.isprintable() and not any(c.isspace() for c in text):
        return text
    shown = repr(text[:chars])
    return shown + "..." if len(text) > chars else shown


def check(value: Any, *, field: str, where: str = "", limit: int = MAX_TEXT_CHARS) -> Any:
    """Refuse `value` for the field `field` unless it is fit to store; return it unchanged.

    A string may have at most `limit` characters and no NUL character. A list or a dict (metadata,
    a label set, corrections) is checked through: each string in it against `limit`, each key
    against MAX_NAME_CHARS, and the whole against MAX_METADATA_BYTES as JSON. Other values (None,
    numbers, booleans) pass. `where` ("line 3", "row 2 (line 3)") starts the message."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        _check_text(value, field, where, limit)
        return value
    if isinstance(value, (dict, list, tuple)):
        _check_nested(value, field, where, limit)
        size = _json_bytes(value)
        if size > MAX_METADATA_BYTES:
            _refuse(where, f"{field} is too large: {size:,} bytes as JSON, more than the {MAX_METADATA_BYTES:,} allowed")
        return value
    return value


def check_all(values: dict[str, Any], *, where: str = "", limits: dict[str, int] | None = None) -> dict[str, Any]:
    """`check` each named value (a record's fields, a form's fields); `limits` gives a field's own
    limit (the others: MAX_TEXT_CHARS)."""
    limits = limits or {}
    for name, value in values.items():
        check(value, field=name, where=where, limit=limits.get(name, MAX_TEXT_CHARS))
    return values


def check_labels(values: dict[str, Any], *, text_fields: tuple[str, ...], where: str = "") -> dict[str, Any]:
    """Label fields as an annotation, a final label or a vote's corrections hold them: the texts
    (`text_fields`: rewritten prompt, reference answer, notes) up to MAX_TEXT_CHARS, every other
    value (a decision, a category, a language, a score) up to MAX_NAME_CHARS."""
    return check_all(values, where=where,
                     limits={name: MAX_TEXT_CHARS if name in text_fields else MAX_NAME_CHARS for name in values})


def _refuse(where: str, problem: str) -> None:
    raise FieldRefused(f"{where}: {problem}" if where else problem)


def _check_text(text: str, field: str, where: str, limit: int) -> None:
    if len(text) > limit:
        _refuse(where, f"{field} is too long: {len(text):,} characters, more than the {limit:,} allowed")
    if _NUL in text:
        _refuse(where, f"{field} contains a NUL character (at character {text.index(_NUL) + 1:,})")


def _check_nested(value: Any, field: str, where: str, limit: int) -> None:
    # A stack, not recursion: a file may nest as deep as its JSON reader allows. Paths are named
    # only for a message.
    stack: list[tuple[Any, tuple]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if len(item) > limit or _NUL in item:
                _check_text(item, _path_name(field, path), where, limit)
        elif isinstance(item, dict):
            for key, inner in item.items():
                key_text = str(key)
                if len(key_text) > MAX_NAME_CHARS or _NUL in key_text:
                    _check_text(key_text, f"a key in {_path_name(field, path)}", where, MAX_NAME_CHARS)
                if isinstance(inner, (str, dict, list, tuple)):
                    stack.append((inner, path + (key_text,)))
        elif isinstance(item, (list, tuple)):
            stack.extend((inner, path + (index,)) for index, inner in enumerate(item, start=1)
                         if isinstance(inner, (str, dict, list, tuple)))


def _path_name(field: str, path: tuple) -> str:
    return field + "".join(f"[{part}]" if isinstance(part, int) else f"[{excerpt(part)}]" for part in path)


def _json_bytes(value: Any) -> int:
    try:
        return len(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS))
    except TypeError:  # an integer beyond 64 bits, or a value JSON columns store as text
        return len(json.dumps(value, ensure_ascii=False, default=str).encode("utf-8"))
