"""Ratings coded once into integer arrays (CodedRatings), with the validation that needs the values.

Values become codes into an ordered *domain* (the declared scale, or the sorted observed values);
items and annotators become indices. Every measure works on these arrays only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from curation_app.core.agreement.ratings import (
    MIXED_KINDS,
    NUMBER,
    REQUIRED_COLUMNS,
    TRUE_FALSE,
    RatingsError,
    check_level,
    clean_scale,
    parse_label_set,
    parse_number,
    show_value,
    true_false_or_number,
)


@dataclass
class CodedRatings:
    """Ratings as integer arrays plus the ordered value domain they index."""

    level: str
    item: np.ndarray  # item slot of each rating (slots may be unused when ids are a sparse int range)
    annotator: np.ndarray  # annotator index of each rating, into annotator_labels (sorted)
    code: np.ndarray  # value code of each rating, into domain
    n_item_slots: int
    item_labels: Any  # item id of each slot (array-like)
    annotator_labels: list
    domain: list  # value of each code, in the order that matters for the level
    numeric: np.ndarray | None  # float value of each code (interval, ratio, numeric ordinal)

    @property
    def n_ratings(self) -> int:
        return int(self.code.size)

    @property
    def n_values(self) -> int:
        return len(self.domain)

    @property
    def n_annotators(self) -> int:
        return len(self.annotator_labels)  # only annotators with at least one rating are listed


_MISSING = object()


def _factorize(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (-1 for missing) and uniques; small-range integers skip the hash table."""
    if isinstance(series.dtype, np.dtype) and series.dtype.kind in "iu" and len(series):
        values = series.to_numpy()
        low, high = int(values.min()), int(values.max())
        if high - low < 4 * values.size + 1024:
            return (values - low).astype(np.int64), np.arange(low, high + 1)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    uniques = uniques.to_numpy() if isinstance(uniques, pd.Index) else np.asarray(uniques)
    return codes.astype(np.int64, copy=False), uniques


def _is_missing_scalar(value: Any) -> bool:
    if value is None or value is _MISSING or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, (float, np.floating)) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _row_label(ratings: pd.DataFrame, position: int) -> str:
    return f"ratings row {ratings.index[position]!r}"


def _rating_label(ratings: pd.DataFrame, position: int) -> str:
    return (f"{_row_label(ratings, position)} (item {_plain(ratings['item'].iloc[position])!r}, "
            f"annotator {_plain(ratings['annotator'].iloc[position])!r})")


_BOOLEANS = (bool, np.bool_)


def _refuse_true_false_among_numbers(ratings: pd.DataFrame, column: str, raw_codes: np.ndarray, uniques: Any,
                                     *, text_too: bool) -> None:
    """Refuse a column holding both true/false values and numbers, naming a rating of each.

    pandas.factorize files True under 1 and False under 0 (Python's True == 1), so one kind can
    hide under the other's key: the ratings of keys equal to 0 or 1 are looked at one by one.
    Numbers among themselves are compared by value (see ratings.true_false_or_number).
    """
    if len(uniques) == 0 or (isinstance(uniques, np.ndarray) and uniques.dtype != object):
        return  # a numpy dtype holds one kind
    if not text_too and pd.api.types.infer_dtype(uniques, skipna=True) in ("string", "empty"):
        return
    position_of: dict[str, int] = {}
    hiding = []
    for index, value in enumerate(uniques):
        kind = true_false_or_number(value, text_too=text_too)
        if kind is None:
            continue
        if kind not in position_of:
            position_of[kind] = int(np.argmax(raw_codes == index))
        if not isinstance(value, str) and value in (0, 1):
            hiding.append(index)
    if hiding and len(position_of) < 2:
        rows = np.flatnonzero(np.isin(raw_codes, hiding))
        values = ratings[column].iloc[rows].to_numpy(dtype=object)
        is_boolean = np.fromiter((isinstance(v, _BOOLEANS) for v in values), dtype=bool, count=rows.size)
        for kind, mask in ((TRUE_FALSE, is_boolean), (NUMBER, ~is_boolean)):
            if kind not in position_of and mask.any():
                position_of[kind] = int(rows[np.argmax(mask)])
    if len(position_of) == 2:
        boolean, number = position_of[TRUE_FALSE], position_of[NUMBER]
        raise RatingsError(
            f"{_rating_label(ratings, boolean)}: {column} {_plain(ratings[column].iloc[boolean])!r} is a true/false "
            f"value, but {_rating_label(ratings, number)} has the {column} {_plain(ratings[column].iloc[number])!r}, "
            f"a number: {MIXED_KINDS}; give every {column} one way (e.g. all as text)")


def _sort_key(value: Any):
    """Total order over mixed values: numbers by value, then strings, then anything else by repr."""
    if isinstance(value, (bool, np.bool_)):
        return (2, str(value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        return (0, float(value))
    if isinstance(value, str):
        return (1, value)
    if isinstance(value, frozenset):
        return (3, len(value), tuple(sorted(map(str, value))))
    return (4, repr(value))


def _to_label_set(value: Any) -> Any:
    """A rating as a frozenset of labels; None, NaN and blank text are no rating (as an empty CSV
    cell), while an empty set, list or the text "|" is the empty set, a rating of no label."""
    if _is_missing_scalar(value):
        return _MISSING
    if isinstance(value, str):
        return parse_label_set(value)
    if isinstance(value, (set, frozenset, list, tuple, np.ndarray, pd.Series)):
        return frozenset(str(v).strip() for v in value if not _is_missing_scalar(v) and str(v).strip())
    return frozenset({str(value).strip()})


def long_table(ratings: Any, level: str) -> pd.DataFrame:
    """Ratings as a long table with the required columns (a matrix is converted)."""
    check_level(level)
    if not isinstance(ratings, pd.DataFrame):
        ratings = _matrix_to_long(ratings)
    missing_columns = [name for name in REQUIRED_COLUMNS if name not in ratings.columns]
    if missing_columns:
        raise RatingsError(f"ratings table lacks column(s) {', '.join(missing_columns)}")
    return ratings


def encode_ratings(ratings: Any, level: str, scale: Sequence[Any] | None) -> CodedRatings:
    """Validate and code ratings (a long DataFrame, or an annotators x items matrix)."""
    ratings = long_table(ratings, level)

    codes, domain, numeric = _encode_values(ratings, level, scale)
    item_codes, item_labels = _factorize(ratings["item"])
    annotator_codes, annotator_uniques = _factorize(ratings["annotator"])
    _refuse_true_false_among_numbers(ratings, "item", item_codes, item_labels, text_too=False)
    _refuse_true_false_among_numbers(ratings, "annotator", annotator_codes, annotator_uniques, text_too=False)
    for name, column_codes in (("item", item_codes), ("annotator", annotator_codes)):
        if column_codes.size and column_codes.min() < 0:
            position = int(np.argmax(column_codes < 0))
            raise RatingsError(f"{_row_label(ratings, position)}: the {name} is missing")

    keep = codes >= 0
    kept_everything = bool(keep.all())
    # Skipping the masks when nothing is missing saves several passes over large tables.
    item = item_codes if kept_everything else item_codes[keep]
    annotator = annotator_codes if kept_everything else annotator_codes[keep]
    code = codes if kept_everything else codes[keep]

    # Annotators are indexed in sorted order so results never depend on row order.
    present_annotators = np.flatnonzero(np.bincount(annotator, minlength=len(annotator_uniques)))
    labels = [annotator_uniques[i] for i in present_annotators]
    order = sorted(range(len(labels)), key=lambda i: _sort_key(labels[i]))
    annotator_labels = [_plain(labels[i]) for i in order]
    if order != list(range(len(labels))) or len(labels) != len(annotator_uniques):
        annotator_remap = np.full(len(annotator_uniques), -1, dtype=np.int64)
        annotator_remap[present_annotators[order]] = np.arange(len(order))
        annotator = annotator_remap[annotator]

    kept_positions = None if kept_everything else np.flatnonzero(keep)
    item, annotator, code = _drop_repeated_ratings(item, annotator, code, ratings, kept_positions,
                                                   len(item_labels), domain)
    return CodedRatings(level=level, item=item, annotator=annotator, code=code, n_item_slots=len(item_labels),
                        item_labels=item_labels, annotator_labels=annotator_labels, domain=domain, numeric=numeric)


def _plain(value: Any) -> Any:
    """numpy scalars as Python scalars, so labels print and serialise cleanly."""
    return value.item() if isinstance(value, np.generic) else value


def _matrix_to_long(matrix: Any) -> pd.DataFrame:
    """An annotators x items matrix with NaN or None for missing, as the krippendorff package takes."""
    array = np.asarray(matrix)
    if array.ndim != 2:
        raise RatingsError("ratings must be a long table (item, annotator, value) or a 2-D annotators x items matrix")
    if array.dtype.kind == "f":
        present = ~np.isnan(array)
    else:
        present = ~pd.isna(pd.DataFrame(array)).to_numpy()
    annotator_index, item_index = np.nonzero(present)
    return pd.DataFrame({"item": item_index, "annotator": annotator_index, "value": array[present]})


def _encode_values(ratings: pd.DataFrame, level: str,
                   scale: Sequence[Any] | None) -> tuple[np.ndarray, list, np.ndarray | None]:
    """Value code of every row (-1 = missing), the ordered domain, and numeric values of codes."""
    series = ratings["value"]
    uses_scale = scale is not None and level in ("nominal", "ordinal")
    if series.dtype.kind in "iuf" and not uses_scale and level != "multilabel":
        if isinstance(series.dtype, np.dtype):
            values = series.to_numpy()
        else:  # nullable Int64 / Float64: pd.NA becomes NaN
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        return _encode_numeric_values(values, level, ratings)

    try:
        # Strings and frozensets factorize as they are and are made canonical once per distinct value.
        raw_codes, uniques = _factorize(series)
        _refuse_true_false_among_numbers(ratings, "value", raw_codes, uniques,
                                         text_too=level == "nominal" and not uses_scale)
    except TypeError:
        if level == "multilabel":
            series = series.map(_to_label_set)  # lists and sets are unhashable: make frozensets first
            raw_codes, uniques = _factorize(series)
        else:
            raw_codes, uniques = _factorize(series.map(repr))

    def where(unique_index: int) -> str:
        return _row_label(ratings, int(np.argmax(raw_codes == unique_index)))

    if level == "multilabel":
        canonical = [_to_label_set(v) for v in uniques]
    else:
        canonical = [_MISSING if _is_missing_scalar(v) else (v.strip() if isinstance(v, str) else _plain(v))
                     for v in uniques]
    present = [v for v in canonical if v is not _MISSING]

    if uses_scale:
        domain = clean_scale(scale, where="scale")
        exact = {value: i for i, value in enumerate(domain)}
        as_text = {str(value).strip(): i for i, value in enumerate(domain)}
        unique_to_code = np.full(len(canonical), -1, dtype=np.int64)
        for index, value in enumerate(canonical):
            if value is _MISSING:
                continue
            code = exact.get(value)
            if code is not None and isinstance(value, _BOOLEANS) != isinstance(domain[code], _BOOLEANS):
                code = None  # True == 1 in Python, but True is not the scale's 1
            if code is None:
                code = as_text.get(str(value).strip())
            if code is None:
                raise RatingsError(f"{where(index)}: value {value!r} is not on the scale "
                                   f"({', '.join(map(str, domain))})")
            unique_to_code[index] = code
        numeric = None
        if level == "ordinal":
            numbers = [parse_number(v) for v in domain]
            numeric = np.array(numbers, dtype=float) if all(n is not None for n in numbers) else None
    else:
        if level in ("ordinal", "interval", "ratio"):
            # Text that holds numbers (e.g. read without a parser) is converted; anything else is refused.
            numbers = []
            for index, value in enumerate(canonical):
                number = None if value is _MISSING else parse_number(value)
                if value is not _MISSING and number is None:
                    if level == "ordinal":
                        raise RatingsError(
                            f"{where(index)}: ordinal value {value!r} is not a number, so the order of the levels "
                            "is unknown; give the scale (e.g. --scale low,medium,high)")
                    raise RatingsError(f"{where(index)}: value {value!r} is not a number")
                if level == "ratio" and number is not None and number < 0:
                    raise RatingsError(f"{where(index)}: value {value!r} is negative; ratio data must be >= 0")
                numbers.append(_MISSING if number is None else number)
            canonical = numbers
            present = [v for v in canonical if v is not _MISSING]
        domain = sorted(set(present), key=_sort_key)
        index_of = {value: i for i, value in enumerate(domain)}
        unique_to_code = np.array([-1 if v is _MISSING else index_of[v] for v in canonical], dtype=np.int64)
        numeric = np.array(domain, dtype=float) if level in ("ordinal", "interval", "ratio") else None
    if unique_to_code.size == 0:
        return np.full(raw_codes.shape, -1, dtype=np.int64), domain, numeric
    codes = np.where(raw_codes >= 0, unique_to_code[np.maximum(raw_codes, 0)], -1)
    return codes, domain, numeric


def _encode_numeric_values(values: np.ndarray, level: str,
                           ratings: pd.DataFrame) -> tuple[np.ndarray, list, np.ndarray | None]:
    """Vectorised coding of a numeric value column; the domain is the sorted distinct values."""
    present: np.ndarray | None = None
    observed = values
    if values.dtype.kind == "f":
        missing = np.isnan(values)
        if missing.any():
            present = ~missing
            observed = values[present]
        if level in ("ordinal", "interval", "ratio") and np.isinf(observed).any():
            position = int(np.argmax(np.isinf(values)))
            raise RatingsError(f"{_row_label(ratings, position)}: value {values[position]!r} is not a finite number")
    if level == "ratio" and observed.size and observed.min() < 0:
        position = int(np.argmax(values < 0))
        raise RatingsError(f"{_row_label(ratings, position)}: value {_plain(values[position])!r} is negative; "
                           "ratio data must be >= 0")
    observed_codes: np.ndarray
    small_range = False
    if observed.size:
        low, high = observed.min(), observed.max()
        small_range = bool(np.isfinite(low) and np.isfinite(high) and abs(low) < 2 ** 52 and abs(high) < 2 ** 52
                           and high - low < 4 * observed.size + 1024)
    if small_range:
        offset = observed.astype(np.int64) - int(low)
        small_range = observed.dtype.kind in "iu" or np.array_equal(offset + int(low), observed)
    if small_range:
        # Small range of whole numbers: a presence table instead of a sort.
        used = np.bincount(offset) > 0
        code_of_offset = np.cumsum(used) - 1
        observed_codes = code_of_offset[offset]
        distinct = (np.flatnonzero(used) + int(low)).astype(observed.dtype)
    else:
        distinct, observed_codes = np.unique(observed, return_inverse=True)
    if present is None:
        codes = observed_codes.astype(np.int64, copy=False)
    else:
        codes = np.full(values.shape, -1, dtype=np.int64)
        codes[present] = observed_codes
    domain = distinct.tolist()
    numeric = distinct.astype(np.float64) if level in ("ordinal", "interval", "ratio") else None
    return codes, domain, numeric


def _drop_repeated_ratings(item, annotator, code, ratings, kept_positions, n_item_slots, domain):
    """Refuse one annotator giving one item two values; drop exact repeats."""
    if item.size == 0:
        return item, annotator, code
    n_annotators = int(annotator.max()) + 1
    key = item * n_annotators + annotator
    if n_item_slots * n_annotators <= 50_000_000:
        has_repeats = bool(np.bincount(key, minlength=n_item_slots * n_annotators).max() > 1)
    else:
        sorted_key = np.sort(key)
        has_repeats = bool((sorted_key[1:] == sorted_key[:-1]).any())
    if not has_repeats:
        return item, annotator, code
    if kept_positions is None:
        kept_positions = np.arange(key.size)
    frame = pd.DataFrame({"key": key, "code": code, "position": kept_positions})
    distinct = frame.drop_duplicates(["key", "code"])
    conflicting = distinct[distinct.duplicated("key", keep=False)]
    if len(conflicting):
        first_key = conflicting["key"].iloc[0]
        rows = conflicting[conflicting["key"] == first_key].head(2)
        position_a, position_b = (int(p) for p in rows["position"])
        value_a, value_b = (domain[int(c)] for c in rows["code"])
        raise RatingsError(
            f"{_row_label(ratings, position_b)}: annotator {ratings['annotator'].iloc[position_b]!r} rated item "
            f"{ratings['item'].iloc[position_b]!r} twice with different values ({show_value(value_a)} in "
            f"{_row_label(ratings, position_a)}, {show_value(value_b)} here)"
        )
    first = np.sort(distinct.index.to_numpy())
    return item[first], annotator[first], code[first]


def subset_ratings(coded: CodedRatings, item: np.ndarray, annotator: np.ndarray, code: np.ndarray,
                   annotator_labels: list | None = None) -> CodedRatings:
    """The same domain with other ratings (for pairs of annotators)."""
    return CodedRatings(level=coded.level, item=item, annotator=annotator, code=code,
                        n_item_slots=coded.n_item_slots, item_labels=coded.item_labels,
                        annotator_labels=annotator_labels if annotator_labels is not None else coded.annotator_labels,
                        domain=coded.domain, numeric=coded.numeric)
