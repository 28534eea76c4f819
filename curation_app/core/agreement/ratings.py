"""Ratings in long format (item, annotator, value): the levels of measurement, RatingsError, the
ratings CSV reader, and the value parsing and checks that coding shares with it.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from curation_app.core.errors import InvalidInput

LEVELS = ("nominal", "ordinal", "interval", "ratio", "multilabel")


class RatingsError(InvalidInput, ValueError):
    """Ratings that cannot be used; the message names the file or table, the row and the problem.

    It is a ValueError (callers may catch that) and an InvalidInput, so the CLI reports it like
    every other bad-input error: one line on stderr and a non-zero exit.
    """


REQUIRED_COLUMNS = ("item", "annotator", "value")


def read_ratings_csv(path: str | Path, *, level: str, scale: list[str] | None = None) -> pd.DataFrame:
    """Read a long-format ratings CSV (header item,annotator,value; extra columns are ignored).

    Returns a DataFrame with columns item, annotator, value. Empty value cells are missing
    ratings and are dropped. Values are parsed for the level: numbers for interval and ratio
    (ratio must be non-negative), frozensets of '|'-separated labels for multilabel (a cell
    holding only `|` is the empty set, a rating of no label, unlike an empty cell, which is no
    rating), labels of the scale for ordinal with a scale, numbers for ordinal without one
    (otherwise the order is unknown and the file is refused with a request for --scale),
    stripped text for nominal.

    Refused with a RatingsError naming the file, the data row (1-based) and its line: missing
    header columns, an empty file, text that is not UTF-8, a value that does not parse, a value
    outside the scale, one annotator giving one item two different values, and a nominal file
    without declared categories that mixes true/false with numbers (see true_false_or_number).
    """
    check_level(level)
    path = Path(path)
    scale_labels = clean_scale(scale, where=str(path)) if scale is not None else None
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RatingsError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    if not raw.strip():
        raise RatingsError(f"{path}: the file is empty; expected a header line item,annotator,value")
    try:
        text = raw.decode("utf-8-sig")  # -sig: tolerate the byte-order mark spreadsheet tools write
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise RatingsError(
            f"{path}: line {line}: the file is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None

    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    for header_cells in reader:
        if any(cell.strip() for cell in header_cells):
            header = [cell.strip().lower() for cell in header_cells]
            break
    if header is None:
        raise RatingsError(f"{path}: the file is empty; expected a header line item,annotator,value")
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise RatingsError(
            f"{path}: the header lacks column(s) {', '.join(missing)}; found {', '.join(header) or 'nothing'}; "
            "expected item,annotator,value"
        )
    item_col, annotator_col, value_col = (header.index(name) for name in REQUIRED_COLUMNS)

    scale_set = set(scale_labels) if scale_labels is not None else None
    # Nominal text mixing True and 1 is most likely an export error; looked up once per distinct text.
    check_true_false = level == "nominal" and scale_set is None
    kind_of_text: dict[str, str | None] = {}
    first_of_kind: dict[str, tuple[int, int, str]] = {}
    items: list[str] = []
    annotators: list[str] = []
    values: list[Any] = []
    origin: list[tuple[int, int]] = []  # (data row, line) of each kept rating, for later messages
    seen: dict[tuple[str, str], int] = {}
    row_number = 0
    line_after = reader.line_num
    for cells in reader:
        line = line_after + 1  # a quoted field may span lines; report where the row starts
        line_after = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        row_number += 1
        where = f"{path}: row {row_number} (line {line})"

        def cell(index: int) -> str:
            return cells[index].strip() if index < len(cells) else ""

        item, annotator, value_text = cell(item_col), cell(annotator_col), cell(value_col)
        if not item:
            raise RatingsError(f"{where}: the item cell is empty")
        if not annotator:
            raise RatingsError(f"{where}: the annotator cell is empty")
        if not value_text:
            continue  # an empty value is a missing rating
        value: Any
        if level == "multilabel":
            value = parse_label_set(value_text)  # "|" alone: the empty set, a rating
        elif level in ("interval", "ratio"):
            value = parse_number(value_text)
            if value is None:
                raise RatingsError(f"{where}: value {value_text!r} is not a number")
            if level == "ratio" and value < 0:
                raise RatingsError(f"{where}: value {value_text!r} is negative; ratio data must be >= 0")
        elif scale_set is not None and level in ("ordinal", "nominal"):
            if value_text not in scale_set:
                kind = "on the scale" if level == "ordinal" else "one of the categories"
                raise RatingsError(f"{where}: value {value_text!r} is not {kind} ({', '.join(map(str, scale_labels))})")
            value = value_text
        elif level == "ordinal":
            value = parse_number(value_text)
            if value is None:
                raise RatingsError(
                    f"{where}: ordinal value {value_text!r} is not a number, so its order is unknown; "
                    "give the order of the levels with --scale (e.g. --scale low,medium,high)"
                )
        else:
            value = value_text
            if check_true_false:
                if value_text not in kind_of_text:
                    kind_of_text[value_text] = true_false_or_number(value_text, text_too=True)
                kind = kind_of_text[value_text]
                if kind is not None and kind not in first_of_kind:
                    first_of_kind[kind] = (row_number, line, value_text)
                    if len(first_of_kind) == 2:
                        other_row, other_line, other_text = first_of_kind[_OTHER_KIND[kind]]
                        raise RatingsError(
                            f"{where}: value {value_text!r} is {_A_KIND[kind]}, but row {other_row} (line "
                            f"{other_line}) has {_A_KIND[_OTHER_KIND[kind]]}, {other_text!r}: {MIXED_KINDS}; "
                            "write every category one way, or list the categories with --scale")
        key = (item, annotator)
        if key in seen:
            earlier = seen[key]
            if values[earlier] == value:
                continue  # an exact repeat adds nothing
            first_row, first_line = origin[earlier]
            raise RatingsError(
                f"{where}: annotator {annotator!r} rated item {item!r} twice with different values "
                f"({show_value(values[earlier])} at row {first_row} (line {first_line}), {show_value(value)} here)"
            )
        seen[key] = len(values)
        items.append(item)
        annotators.append(annotator)
        values.append(value)
        origin.append((row_number, line))

    if not values:
        raise RatingsError(f"{path}: no ratings: the file has a header but no row with a value")

    numeric = level in ("interval", "ratio") or (level == "ordinal" and scale_set is None)
    value_series = pd.Series(values, dtype=float if numeric else object)
    return pd.DataFrame(
        {"item": pd.Series(items, dtype=object), "annotator": pd.Series(annotators, dtype=object),
         "value": value_series}
    )


TRUE_FALSE = "true/false"
NUMBER = "number"
_A_KIND = {TRUE_FALSE: "a true/false value", NUMBER: "a number"}
_OTHER_KIND = {TRUE_FALSE: NUMBER, NUMBER: TRUE_FALSE}
MIXED_KINDS = ("Python counts True as 1 and False as 0, so a mix of true/false values and numbers is most "
               "likely an error, refused rather than merged or split silently")


def true_false_or_number(value: Any, *, text_too: bool) -> str | None:
    """TRUE_FALSE for a boolean, NUMBER for a number, else None; with text_too, text counts too
    ('True', 'false' in any case; '1', '2.5').

    True == 1 and hash(True) == hash(1), so a dict, a set or pandas.factorize files True, 1 and 1.0
    under one key. Numbers given as numbers are compared by value (1 and 1.0 are one value, as in
    a float column; nominal text is compared as text). A true/false value is never taken for a
    number, so a column holding both kinds is refused.
    """
    if isinstance(value, (bool, np.bool_)):
        return TRUE_FALSE
    if isinstance(value, (int, float, np.integer, np.floating)):
        return NUMBER
    if text_too and isinstance(value, str):
        text = value.strip()
        if text.lower() in ("true", "false"):
            return TRUE_FALSE
        if parse_number(text) is not None:
            return NUMBER
    return None


def parse_label_set(text: str) -> frozenset:
    """The labels of a '|'-separated cell; empty labels are dropped, so "|" is the empty set."""
    return frozenset(label.strip() for label in text.split("|") if label.strip())


def parse_number(value: Any) -> float | None:
    """A finite float, or None; 'nan' and 'inf' are not ratings."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def show_value(value: Any) -> str:
    """A value as error messages quote it (a label set as its '|'-joined cell text)."""
    if isinstance(value, frozenset):
        return repr("|".join(sorted(map(str, value))))
    return repr(value)


def clean_scale(scale: Sequence[Any], *, where: str) -> list:
    """The scale with labels stripped; refused when empty or when a label repeats."""
    cleaned = [item.strip() if isinstance(item, str) else item for item in scale]
    if len(cleaned) == 0:
        raise RatingsError(f"{where}: the scale is empty")
    kinds: dict = {}
    for item in cleaned:
        kinds.setdefault(true_false_or_number(item, text_too=False), item)
    if TRUE_FALSE in kinds and NUMBER in kinds:
        raise RatingsError(f"{where}: the scale lists the true/false value {kinds[TRUE_FALSE]!r} and the number "
                           f"{kinds[NUMBER]!r}: {MIXED_KINDS}")
    seen: set = set()
    for item in cleaned:
        if item in seen:
            raise RatingsError(f"{where}: the scale lists {item!r} twice")
        seen.add(item)
    return cleaned


def check_level(level: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; expected one of {', '.join(LEVELS)}")
