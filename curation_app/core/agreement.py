"""Inter-annotator agreement: Krippendorff's alpha, Fleiss' and Cohen's kappa, Gwet's AC1, MASI.

Everything here is plain numpy/pandas. Ratings arrive in long format (one row per item, annotator
and value) and are coded once into integer arrays:

* values become codes into an ordered *domain* (the declared scale, or the sorted observed values);
* every item is reduced to its *profile*, the multiset of value codes it received (or, with exactly
  two annotators, the ordered pair of codes, which Cohen's kappa needs);
* every measure is a function of weighted sums of per-profile statistics.

The last point is what makes the report fast: the point estimate weights each profile by how many
items have it, and a bootstrap resample of items with replacement only changes those weights. The
profile counts of a resample of n items are Multinomial(n, profile frequencies / n), so a
resample costs a few operations per distinct profile (there are about a hundred for 5 annotators
and 5 categories), not per item.

Conventions shared by all measures (and why):
* An item is *pairable* when it has two or more ratings; only pairable items can show agreement.
* Missing ratings are simply absent rows; each measure handles them the way its literature does
  (see the measure functions).
* A measure that is undefined on the data is None (NaN inside numpy code) with a reason; it is
  never reported as 0.0 or 1.0.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Hashable, Mapping, Sequence

import numpy as np
import pandas as pd

from curation_app.core.errors import InvalidInput

__all__ = [
    "LEVELS",
    "MEASURES",
    "RatingsError",
    "agreement_report",
    "agreement_with_reference",
    "confusion_matrix",
    "jaccard_similarity",
    "krippendorff_alpha",
    "masi_distance",
    "pairwise_matrix",
    "read_ratings_csv",
]

LEVELS = ("nominal", "ordinal", "interval", "ratio", "multilabel")

# Report order of every measure the report can contain.
MEASURES = (
    "percent_agreement",
    "krippendorff_alpha",
    "fleiss_kappa",
    "cohen_kappa",
    "cohen_kappa_linear",
    "cohen_kappa_quadratic",
    "gwet_ac1",
    "jaccard",
)

NO_PAIRABLE_ITEMS = "no item has two or more ratings"

# Work arrays are cut into pieces of about this many elements so memory stays bounded.
_CHUNK_ELEMENTS = 4_000_000
# Above this many distinct values the ratio and MASI metrics (which need a full value x value
# distance matrix) are refused rather than left to run for hours.
_MAX_QUADRATIC_DOMAIN = 20_000
# The bootstrap evaluates that quadratic form once per resample; keep it affordable.
_MAX_BOOTSTRAP_QUADRATIC_DOMAIN = 2_000
# A bootstrap interval is only reported when the measure is defined in most resamples.
_MIN_DEFINED_SHARE = 0.5


class RatingsError(InvalidInput, ValueError):
    """Ratings that cannot be used; the message names the file or table, the row and the problem.

    It is a ValueError (callers may catch that) and an InvalidInput, so the CLI reports it like
    every other bad-input error: one line on stderr and a non-zero exit.
    """


# --------------------------------------------------------------------------------------------
# Set-valued labels (multilabel level)
# --------------------------------------------------------------------------------------------


def jaccard_similarity(a: frozenset | set, b: frozenset | set) -> float:
    """|A & B| / |A | B|; two empty sets count as identical (1.0)."""
    union = len(a | b)
    return 1.0 if union == 0 else len(a & b) / union


def masi_distance(a: frozenset | set, b: frozenset | set) -> float:
    """MASI distance (Passonneau 2006): 1 - J * M.

    J is the Jaccard similarity and M the monotonicity weight: 1 when the sets are equal, 2/3 when
    one is a subset of the other, 1/3 when they overlap otherwise and 0 when they are disjoint.
    Passonneau defines M as these fractions; NLTK's masi_distance rounds them to 0.67 and 0.33,
    so NLTK's values differ from these in the third decimal.
    """
    a, b = frozenset(a), frozenset(b)
    return float(1.0 - jaccard_similarity(a, b) * _monotonicity(len(a & b), len(a), len(b)))


def _monotonicity(intersection, size_a, size_b):
    """Passonneau's M for scalars or numpy arrays of set sizes."""
    intersection, size_a, size_b = (np.asarray(x) for x in (intersection, size_a, size_b))
    equal = (intersection == size_a) & (intersection == size_b)
    subset = (intersection == np.minimum(size_a, size_b)) & (intersection > 0)
    overlap = intersection > 0
    return np.where(equal, 1.0, np.where(subset, 2 / 3, np.where(overlap, 1 / 3, 0.0)))


class _SetGeometry:
    """Jaccard similarity and MASI distance between the distinct label sets of a domain."""

    def __init__(self, domain: Sequence[frozenset]):
        labels = sorted({label for labels in domain for label in labels})
        label_index = {label: i for i, label in enumerate(labels)}
        self.membership = np.zeros((len(domain), max(len(labels), 1)), dtype=np.float64)
        for row, labels_of_set in enumerate(domain):
            for label in labels_of_set:
                self.membership[row, label_index[label]] = 1.0
        self.sizes = self.membership.sum(axis=1)

    def _parts(self, codes_a: np.ndarray, codes_b: np.ndarray):
        intersection = np.einsum("...l,...l->...", self.membership[codes_a], self.membership[codes_b])
        return intersection, self.sizes[codes_a], self.sizes[codes_b]

    @staticmethod
    def _jaccard(intersection, size_a, size_b):
        union = size_a + size_b - intersection
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, intersection / np.where(union > 0, union, 1), 1.0)

    def jaccard(self, codes_a: np.ndarray, codes_b: np.ndarray) -> np.ndarray:
        return self._jaccard(*self._parts(codes_a, codes_b))

    def masi(self, codes_a: np.ndarray, codes_b: np.ndarray) -> np.ndarray:
        parts = self._parts(codes_a, codes_b)
        return 1.0 - self._jaccard(*parts) * _monotonicity(*parts)

    def masi_rows(self, rows: np.ndarray) -> np.ndarray:
        """MASI distances from the sets in `rows` to every set, as a len(rows) x V matrix."""
        intersection = self.membership[rows] @ self.membership.T
        size_a = self.sizes[rows][:, None]
        size_b = self.sizes[None, :]
        return 1.0 - self._jaccard(intersection, size_a, size_b) * _monotonicity(intersection, size_a, size_b)


# --------------------------------------------------------------------------------------------
# Reading a ratings CSV
# --------------------------------------------------------------------------------------------

_REQUIRED_COLUMNS = ("item", "annotator", "value")


def read_ratings_csv(path: str | Path, *, level: str, scale: list[str] | None = None) -> pd.DataFrame:
    """Read a long-format ratings CSV (header item,annotator,value; extra columns are ignored).

    Returns a DataFrame with columns item, annotator, value. Empty value cells are missing
    ratings and are dropped. Values are parsed for the level: numbers for interval and ratio
    (ratio must be non-negative), frozensets of '|'-separated labels for multilabel, labels of
    the scale for ordinal with a scale, numbers for ordinal without one (otherwise the order is
    unknown and the file is refused with a request for --scale), stripped text for nominal.

    Refused with a RatingsError naming the file, the data row (1-based) and its line: missing
    header columns, an empty file, text that is not UTF-8, a value that does not parse, a value
    outside the scale, and one annotator giving one item two different values.
    """
    _check_level(level)
    path = Path(path)
    scale_labels = _clean_scale(scale, where=str(path)) if scale is not None else None
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
    missing = [name for name in _REQUIRED_COLUMNS if name not in header]
    if missing:
        raise RatingsError(
            f"{path}: the header lacks column(s) {', '.join(missing)}; found {', '.join(header) or 'nothing'}; "
            "expected item,annotator,value"
        )
    item_col, annotator_col, value_col = (header.index(name) for name in _REQUIRED_COLUMNS)

    scale_set = set(scale_labels) if scale_labels is not None else None
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
            value = _parse_label_set(value_text)
            if not value:
                continue
        elif level in ("interval", "ratio"):
            value = _parse_number(value_text)
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
            value = _parse_number(value_text)
            if value is None:
                raise RatingsError(
                    f"{where}: ordinal value {value_text!r} is not a number, so its order is unknown; "
                    "give the order of the levels with --scale (e.g. --scale low,medium,high)"
                )
        else:
            value = value_text
        key = (item, annotator)
        if key in seen:
            earlier = seen[key]
            if values[earlier] == value:
                continue  # an exact repeat adds nothing
            first_row, first_line = origin[earlier]
            raise RatingsError(
                f"{where}: annotator {annotator!r} rated item {item!r} twice with different values "
                f"({_show(values[earlier])} at row {first_row} (line {first_line}), {_show(value)} here)"
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


def _parse_label_set(text: str) -> frozenset:
    return frozenset(label.strip() for label in text.split("|") if label.strip())


def _parse_number(value: Any) -> float | None:
    """A finite float, or None; 'nan' and 'inf' are not ratings."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _show(value: Any) -> str:
    if isinstance(value, frozenset):
        return repr("|".join(sorted(map(str, value))))
    return repr(value)


def _clean_scale(scale: Sequence[Any], *, where: str) -> list:
    cleaned = [item.strip() if isinstance(item, str) else item for item in scale]
    if len(cleaned) == 0:
        raise RatingsError(f"{where}: the scale is empty")
    seen: set = set()
    for item in cleaned:
        if item in seen:
            raise RatingsError(f"{where}: the scale lists {item!r} twice")
        seen.add(item)
    return cleaned


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; expected one of {', '.join(LEVELS)}")


# --------------------------------------------------------------------------------------------
# Coding ratings into integer arrays
# --------------------------------------------------------------------------------------------


@dataclass
class _Coded:
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
    if _is_missing_scalar(value):
        return _MISSING
    if isinstance(value, str):
        labels = _parse_label_set(value)
    elif isinstance(value, (set, frozenset, list, tuple, np.ndarray, pd.Series)):
        labels = frozenset(str(v).strip() for v in value if not _is_missing_scalar(v) and str(v).strip())
    else:
        labels = frozenset({str(value).strip()})
    return labels if labels else _MISSING  # an empty set is a missing rating, as in the CSV


def _checked_long(ratings: Any, level: str) -> pd.DataFrame:
    """Ratings as a long table with the required columns (a matrix is converted)."""
    _check_level(level)
    if not isinstance(ratings, pd.DataFrame):
        ratings = _matrix_to_long(ratings)
    missing_columns = [name for name in _REQUIRED_COLUMNS if name not in ratings.columns]
    if missing_columns:
        raise RatingsError(f"ratings table lacks column(s) {', '.join(missing_columns)}")
    return ratings


def _encode(ratings: Any, level: str, scale: Sequence[Any] | None) -> _Coded:
    """Validate and code ratings (a long DataFrame, or an annotators x items matrix)."""
    ratings = _checked_long(ratings, level)

    codes, domain, numeric = _encode_values(ratings, level, scale)
    item_codes, item_labels = _factorize(ratings["item"])
    annotator_codes, annotator_uniques = _factorize(ratings["annotator"])
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
    return _Coded(level=level, item=item, annotator=annotator, code=code, n_item_slots=len(item_labels),
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
        domain = _clean_scale(scale, where="scale")
        exact = {value: i for i, value in enumerate(domain)}
        as_text = {str(value).strip(): i for i, value in enumerate(domain)}
        unique_to_code = np.full(len(canonical), -1, dtype=np.int64)
        for index, value in enumerate(canonical):
            if value is _MISSING:
                continue
            code = exact.get(value)
            if code is None:
                code = as_text.get(str(value).strip())
            if code is None:
                raise RatingsError(f"{where(index)}: value {value!r} is not on the scale "
                                   f"({', '.join(map(str, domain))})")
            unique_to_code[index] = code
        numeric = None
        if level == "ordinal":
            numbers = [_parse_number(v) for v in domain]
            numeric = np.array(numbers, dtype=float) if all(n is not None for n in numbers) else None
    else:
        if level in ("ordinal", "interval", "ratio"):
            # Text that holds numbers (e.g. read without a parser) is converted; anything else is refused.
            numbers = []
            for index, value in enumerate(canonical):
                number = None if value is _MISSING else _parse_number(value)
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
            f"{ratings['item'].iloc[position_b]!r} twice with different values ({_show(value_a)} in "
            f"{_row_label(ratings, position_a)}, {_show(value_b)} here)"
        )
    first = np.sort(distinct.index.to_numpy())
    return item[first], annotator[first], code[first]


def _subset(coded: _Coded, item: np.ndarray, annotator: np.ndarray, code: np.ndarray,
            annotator_labels: list | None = None) -> _Coded:
    """The same domain with other ratings (for pairs of annotators)."""
    return _Coded(level=coded.level, item=item, annotator=annotator, code=code, n_item_slots=coded.n_item_slots,
                  item_labels=coded.item_labels,
                  annotator_labels=annotator_labels if annotator_labels is not None else coded.annotator_labels,
                  domain=coded.domain, numeric=coded.numeric)


# --------------------------------------------------------------------------------------------
# Item profiles and their sufficient statistics
# --------------------------------------------------------------------------------------------


@dataclass
class _Profiles:
    """Distinct item profiles: codes (K x width, -1 = empty slot) and how many items have each."""

    codes: np.ndarray
    freq: np.ndarray
    ordered_pair: bool  # columns are (first annotator, second annotator) rather than a sorted multiset


def _build_profiles(coded: _Coded, *, ordered_pair: bool) -> _Profiles:
    n_values = max(coded.n_values, 1)
    if coded.n_ratings == 0:
        return _Profiles(np.full((0, 2 if ordered_pair else 1), -1, dtype=np.int64), np.zeros(0), ordered_pair)
    ratings_per_slot = np.bincount(coded.item, minlength=coded.n_item_slots)
    rated_slots = np.flatnonzero(ratings_per_slot)
    compact = np.full(coded.n_item_slots, -1, dtype=np.int64)
    compact[rated_slots] = np.arange(rated_slots.size)
    item = compact[coded.item]
    n_items = rated_slots.size

    if ordered_pair:
        table = np.full((n_items, 2), -1, dtype=np.int64)
        table[item, coded.annotator] = coded.code
    else:
        # Sort ratings by (item, code) so each item's codes form a canonical, sorted row.
        packed = np.sort(item * n_values + coded.code)
        item_sorted, code_sorted = np.divmod(packed, n_values)
        per_item = ratings_per_slot[rated_slots]
        starts = np.cumsum(per_item) - per_item
        position = np.arange(packed.size) - starts[item_sorted]
        table = np.full((n_items, int(per_item.max())), -1, dtype=np.int64)
        table[item_sorted, position] = code_sorted

    width = table.shape[1]
    if width * math.log2(n_values + 1) < 62:
        # One int64 per item (base n_values + 1 digits) is much faster to unique than rows.
        key = np.zeros(n_items, dtype=np.int64)
        for column in range(width):
            key = key * (n_values + 1) + (table[:, column] + 1)
        _, first, freq = np.unique(key, return_index=True, return_counts=True)
        codes = table[first]
    else:
        codes, freq = np.unique(table, axis=0, return_counts=True)
    return _Profiles(codes=codes, freq=freq.astype(np.float64), ordered_pair=ordered_pair)


@dataclass
class _Block:
    """A sparse per-profile vector statistic: sum over entries of value into column, per profile."""

    profile: np.ndarray
    column: np.ndarray
    value: np.ndarray
    n_columns: int
    dense: np.ndarray | None = None  # K x n_columns when that is cheaper to multiply

    def finish(self, n_profiles: int) -> "_Block":
        size = n_profiles * self.n_columns
        if size <= 2_000_000 and size <= 16 * max(self.profile.size, 1) + 100_000:
            self.dense = np.zeros((n_profiles, self.n_columns))
            np.add.at(self.dense, (self.profile, self.column), self.value)
        return self


@dataclass
class _Stats:
    """Per-profile statistics; every measure is a function of their frequency-weighted sums."""

    level: str
    freq: np.ndarray
    n_values: int
    n_categories: int
    scalar_names: list[str] = field(default_factory=list)
    scalars: np.ndarray | None = None  # K x len(scalar_names)
    blocks: dict[str, _Block] = field(default_factory=dict)
    ordinal_pairs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
    inverse_one_less: np.ndarray | None = None  # 1 / (m - 1) per profile, 0 when not pairable
    distance_rows: Callable[[np.ndarray], np.ndarray] | None = None  # ratio / MASI expected disagreement


def _pair_distance(coded: _Coded, geometry: _SetGeometry | None) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Elementwise distance between value codes for the levels whose metric is fixed."""
    level = coded.level
    if level == "nominal":
        return lambda a, b: (a != b).astype(np.float64)
    if level == "interval":
        x = coded.numeric
        return lambda a, b: (x[a] - x[b]) ** 2
    if level == "ratio":
        x = coded.numeric

        def ratio(a, b):
            total = x[a] + x[b]
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(total != 0, ((x[a] - x[b]) / np.where(total != 0, total, 1)) ** 2, 0.0)

        return ratio
    if level == "multilabel":
        return geometry.masi
    raise AssertionError(level)


def _compute_stats(coded: _Coded, profiles: _Profiles, measures: set[str]) -> _Stats:
    """Per-profile statistics for the requested measures."""
    level = coded.level
    codes = profiles.codes
    n_profiles, width = codes.shape
    n_values = max(coded.n_values, 1)
    valid = codes >= 0
    safe_codes = np.maximum(codes, 0)
    m = valid.sum(axis=1).astype(np.float64)
    pairable = m >= 2
    stats = _Stats(level=level, freq=profiles.freq, n_values=n_values, n_categories=coded.n_values)
    scalars: dict[str, np.ndarray] = {"rated": np.ones(n_profiles), "pairable": pairable.astype(np.float64)}

    need_alpha = "krippendorff_alpha" in measures
    need_agree = bool(measures & {"percent_agreement", "fleiss_kappa", "gwet_ac1"})
    need_jaccard = "jaccard" in measures
    geometry = _SetGeometry(coded.domain) if level == "multilabel" and (need_alpha or need_jaccard) else None
    distance = _pair_distance(coded, geometry) if need_alpha and level != "ordinal" else None

    # Within-profile sums over ordered pairs of ratings (j != l), chunked over profiles.
    with np.errstate(invalid="ignore", divide="ignore"):
        pairs_per_item = np.where(pairable, m * (m - 1), 1.0)
        one_less = np.where(pairable, m - 1, 1.0)
    agree = np.zeros(n_profiles)
    observed = np.zeros(n_profiles)
    jaccard = np.zeros(n_profiles)
    ordinal_parts: list[tuple[np.ndarray, ...]] = []
    label_cost = geometry.membership.shape[1] if geometry is not None else 1
    step = max(1, _CHUNK_ELEMENTS // max(1, width * width * label_cost))
    off_diagonal = ~np.eye(width, dtype=bool)
    if width >= 2:
        for start in range(0, n_profiles, step):
            part = slice(start, min(start + step, n_profiles))
            first = safe_codes[part][:, :, None]
            second = safe_codes[part][:, None, :]
            both = valid[part][:, :, None] & valid[part][:, None, :] & off_diagonal
            first, second = np.broadcast_arrays(first, second)
            if need_agree:
                agree[part] = ((first == second) & both).sum(axis=(1, 2))
            if distance is not None:
                observed[part] = np.where(both, distance(first, second), 0.0).sum(axis=(1, 2))
            if need_jaccard:
                jaccard[part] = np.where(both, geometry.jaccard(first, second), 0.0).sum(axis=(1, 2))
            if need_alpha and level == "ordinal":
                differ = both & (first != second)
                profile_index, j, l = np.nonzero(differ)
                profile_index = profile_index + start
                ordinal_parts.append((profile_index, safe_codes[profile_index, j], safe_codes[profile_index, l],
                                      1.0 / one_less[profile_index]))
    scalars["agree"] = np.where(pairable, agree / pairs_per_item, 0.0)
    if need_jaccard:
        scalars["jaccard"] = np.where(pairable, jaccard / pairs_per_item, 0.0)

    # Value counts per profile as sparse entries (profile, code, count).
    profile_of_cell, column_of_cell = np.nonzero(valid)
    cell_key = profile_of_cell * n_values + codes[profile_of_cell, column_of_cell]
    entry_key, entry_count = np.unique(cell_key, return_counts=True)
    entry_profile, entry_code = np.divmod(entry_key, n_values)
    entry_count = entry_count.astype(np.float64)

    if measures & {"fleiss_kappa", "gwet_ac1"}:
        # Each rated item's distribution over categories, for Fleiss' and Gwet's chance agreement.
        stats.blocks["category_share"] = _Block(entry_profile, entry_code, entry_count / m[entry_profile],
                                                n_values).finish(n_profiles)

    if need_alpha:
        if level == "interval":
            # Interval alpha needs only sums of centred values; no value x value matrix, any domain size.
            cell_pairable = pairable[profile_of_cell]
            x = coded.numeric[codes[profile_of_cell, column_of_cell]]
            x_pairable = x[cell_pairable]
            centre = np.partition(x_pairable, (x_pairable.size - 1) // 2)[(x_pairable.size - 1) // 2] \
                if x_pairable.size else 0.0  # an actual data value, so identical data centre to exact zeros
            centred = np.where(cell_pairable, x - centre, 0.0)
            scalars["alpha_n"] = np.where(pairable, m, 0.0)
            scalars["alpha_sum"] = np.bincount(profile_of_cell, weights=centred, minlength=n_profiles)
            scalars["alpha_sum_squares"] = np.bincount(profile_of_cell, weights=centred ** 2, minlength=n_profiles)
        else:
            keep = pairable[entry_profile]
            stats.blocks["alpha_counts"] = _Block(entry_profile[keep], entry_code[keep], entry_count[keep],
                                                  n_values).finish(n_profiles)
        if level == "ordinal":
            stats.inverse_one_less = np.where(pairable, 1.0 / one_less, 0.0)
            if ordinal_parts:
                stats.ordinal_pairs = tuple(np.concatenate(parts) for parts in zip(*ordinal_parts))
            else:
                empty = np.zeros(0, dtype=np.int64)
                stats.ordinal_pairs = (empty, empty, empty, np.zeros(0))
        else:
            scalars["alpha_observed"] = np.where(pairable, observed / one_less, 0.0)
        if level in ("ratio", "multilabel"):
            if level == "ratio":
                everything = np.arange(coded.n_values)
                stats.distance_rows = lambda rows: distance(rows[:, None], everything[None, :])
            else:
                stats.distance_rows = geometry.masi_rows

    cohen_names = {"cohen_kappa", "cohen_kappa_linear", "cohen_kappa_quadratic"} & measures
    if cohen_names:
        if not profiles.ordered_pair:
            raise AssertionError("Cohen's kappa needs annotator-ordered profiles")
        both = valid[:, 0] & valid[:, 1]
        first_code, second_code = codes[both, 0], codes[both, 1]
        both_index = np.flatnonzero(both)
        scalars["cohen_n"] = both.astype(np.float64)
        stats.blocks["cohen_first"] = _Block(both_index, first_code, np.ones(both_index.size),
                                             n_values).finish(n_profiles)
        stats.blocks["cohen_second"] = _Block(both_index, second_code, np.ones(both_index.size),
                                              n_values).finish(n_profiles)
        # sklearn's weights, by position on the scale (labels): 1 - identity, |i - j|, (i - j)^2.
        gap = (first_code - second_code).astype(np.float64)
        gaps = {"cohen_kappa": (gap != 0).astype(np.float64), "cohen_kappa_linear": np.abs(gap),
                "cohen_kappa_quadratic": gap * gap}
        for name in cohen_names:
            disagreement = np.zeros(n_profiles)
            disagreement[both_index] = gaps[name]
            scalars[f"{name}_observed"] = disagreement

    stats.scalar_names = list(scalars)
    stats.scalars = np.column_stack([scalars[name] for name in stats.scalar_names]) if n_profiles else \
        np.zeros((0, len(scalars)))
    return stats


def _scatter(weights: np.ndarray, block: _Block) -> np.ndarray:
    """B x n_columns totals of a sparse block under B weight vectors (B x K)."""
    if block.dense is not None:
        return weights @ block.dense
    n_batch = weights.shape[0]
    contribution = weights[:, block.profile] * block.value
    flat = block.column[None, :] + block.n_columns * np.arange(n_batch)[:, None]
    return np.bincount(flat.ravel(), weights=contribution.ravel(),
                       minlength=n_batch * block.n_columns).reshape(n_batch, block.n_columns)


def _midranks(counts: np.ndarray) -> np.ndarray:
    """Krippendorff's ordinal metric is a squared difference of these: cum(c) - n_c / 2."""
    return np.cumsum(counts, axis=1) - counts / 2.0


def _quadratic_form(counts: np.ndarray, distance_rows: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """n^T D n for every row n of counts (B x V), reading D a block of rows at a time."""
    n_values = counts.shape[1]
    result = np.zeros(counts.shape[0])
    step = max(1, _CHUNK_ELEMENTS // max(n_values, 1))
    for start in range(0, n_values, step):
        rows = np.arange(start, min(start + step, n_values))
        result += np.einsum("bi,bi->b", counts[:, rows], counts @ distance_rows(rows).T)
    return result


def _totals(stats: _Stats, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Weighted sums of every statistic, for B weight vectors at once (weights is B x K)."""
    totals: dict[str, np.ndarray] = {}
    summed = weights @ stats.scalars
    for index, name in enumerate(stats.scalar_names):
        totals[name] = summed[:, index]
    for name, block in stats.blocks.items():
        totals[name] = _scatter(weights, block)
    if stats.ordinal_pairs is not None:
        totals["alpha_observed"] = _ordinal_observed(stats, weights, totals["alpha_counts"])
    return totals


def _ordinal_observed(stats: _Stats, weights: np.ndarray, marginals: np.ndarray) -> np.ndarray:
    """sum_ck o_ck (r_c - r_k)^2 under each weight vector, r the midranks of the marginals.

    The ordinal metric depends on the marginals, so it cannot be summed per profile in advance.
    A single weighting (the point estimate) sums over the stored pairs of differing ratings,
    which is exact (0 for perfect agreement). Many weightings (the bootstrap) use the identity
    sum_ck o_ck (r_c - r_k)^2 = 2 sum_c n_c r_c^2 - 2 sum_u ((n_u.r)^2 - n_u.r^2) / (m_u - 1),
    which is matrix products over profiles instead of a gather per pair.
    """
    ranks = _midranks(marginals)
    n = marginals.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_rank = np.where(n > 0, (marginals * ranks).sum(axis=1) / np.where(n > 0, n, 1), 0.0)
    ranks = ranks - mean_rank[:, None]  # differences are unchanged; centring keeps the terms small
    profile, first, second, value = stats.ordinal_pairs
    if weights.shape[0] == 1:
        gap = ranks[:, first] - ranks[:, second]
        return (weights[:, profile] * value * gap * gap).sum(axis=1)
    block = stats.blocks["alpha_counts"]
    n_profiles = stats.freq.size
    rank_sums = _per_profile_dot(block, ranks, n_profiles)  # B x K: n_u . r
    square_sums = _per_profile_dot(block, ranks * ranks, n_profiles)  # B x K: n_u . r^2
    within = ((rank_sums * rank_sums - square_sums) * stats.inverse_one_less) * weights
    observed = 2.0 * (marginals * ranks * ranks).sum(axis=1) - 2.0 * within.sum(axis=1)
    # Rounding can leave a tiny negative (or positive) remainder where the true value is 0.
    scale = 2.0 * (marginals * ranks * ranks).sum(axis=1)
    return np.where(observed > 1e-12 * scale, observed, 0.0)


def _per_profile_dot(block: _Block, vectors: np.ndarray, n_profiles: int) -> np.ndarray:
    """For each of B vectors over values, its dot product with every profile's row of the block."""
    if block.dense is not None:
        return vectors @ block.dense.T
    n_batch = vectors.shape[0]
    contribution = vectors[:, block.column] * block.value
    flat = block.profile[None, :] + n_profiles * np.arange(n_batch)[:, None]
    return np.bincount(flat.ravel(), weights=contribution.ravel(),
                       minlength=n_batch * n_profiles).reshape(n_batch, n_profiles)


# --------------------------------------------------------------------------------------------
# Measures from totals (vectorised over resamples; NaN = undefined)
# --------------------------------------------------------------------------------------------


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray, defined: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(defined, numerator / np.where(defined, denominator, 1.0), np.nan)


def _percent_agreement(totals, stats) -> tuple[np.ndarray, str | None]:
    pairable = totals["pairable"]
    value = _safe_ratio(totals["agree"], pairable, pairable > 0)
    return value, None if pairable[0] > 0 else NO_PAIRABLE_ITEMS


def _jaccard(totals, stats) -> tuple[np.ndarray, str | None]:
    pairable = totals["pairable"]
    value = _safe_ratio(totals["jaccard"], pairable, pairable > 0)
    return value, None if pairable[0] > 0 else NO_PAIRABLE_ITEMS


def _alpha(totals, stats) -> tuple[np.ndarray, str | None]:
    """alpha = 1 - D_o / D_e = 1 - (n - 1) * sum(o * d) / sum(n_c * n_k * d), over pairable values.

    sum(o * d) is the observed disagreement from the coincidence matrix, each pair of ratings on a
    unit weighted 1 / (m_u - 1) (Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability").
    """
    level = stats.level
    observed = totals["alpha_observed"]
    if level == "interval":
        n = totals["alpha_n"]
        expected = 2.0 * (n * totals["alpha_sum_squares"] - totals["alpha_sum"] ** 2)
    else:
        counts = totals["alpha_counts"]
        n = counts.sum(axis=1)
        if level == "nominal":
            expected = n * n - (counts * counts).sum(axis=1)
        elif level == "ordinal":
            ranks = _midranks(counts)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean_rank = np.where(n > 0, (counts * ranks).sum(axis=1) / np.where(n > 0, n, 1), 0.0)
            centred = ranks - mean_rank[:, None]
            expected = 2.0 * n * (counts * centred * centred).sum(axis=1)
        else:
            expected = _quadratic_form(counts, stats.distance_rows)
    # Relative tolerance: with float sums, "identical data" can leave rounding dust.
    defined = (n >= 2) & (expected > 1e-12 * np.maximum(n * n, 1.0))
    value = 1.0 - _safe_ratio((n - 1.0) * observed, expected, defined)
    value = np.where(defined, value, np.nan)
    if n[0] < 2:
        return value, NO_PAIRABLE_ITEMS
    if not defined[0]:
        return value, "all ratings identical: expected disagreement is 0"
    return value, None


def _category_shares(totals) -> tuple[np.ndarray, np.ndarray]:
    rated = totals["rated"]
    shares = _safe_ratio(totals["category_share"], rated[:, None], (rated > 0)[:, None])
    return shares, rated


def _fleiss(totals, stats) -> tuple[np.ndarray, str | None]:
    """Fleiss' kappa generalised to varying numbers of ratings per item (Gwet 2014, ch. on Fleiss).

    p_a averages, over items with two or more ratings, the share of agreeing rater pairs
    sum_k r_ik (r_ik - 1) / (r_i (r_i - 1)); p_e = sum_k pi_k^2 with pi_k the mean over rated
    items of r_ik / r_i. With the same number of ratings on every item this is Fleiss (1971).
    """
    pairable = totals["pairable"]
    agreement = _safe_ratio(totals["agree"], pairable, pairable > 0)
    shares, _ = _category_shares(totals)
    chance = (shares * shares).sum(axis=1)
    defined = (pairable > 0) & (1.0 - chance > 1e-12)
    value = _safe_ratio(agreement - chance, 1.0 - chance, defined)
    if pairable[0] <= 0:
        return value, NO_PAIRABLE_ITEMS
    if not defined[0]:
        return value, "every rating is in one category: chance agreement is 1"
    return value, None


def _gwet(totals, stats) -> tuple[np.ndarray, str | None]:
    """Gwet's AC1 with missing ratings (Gwet 2014, Handbook of Inter-Rater Reliability, 4th ed.).

    Same p_a as Fleiss; p_e = sum_k pi_k (1 - pi_k) / (q - 1), q = number of categories (the
    declared scale, else the categories observed anywhere in the data).
    """
    pairable = totals["pairable"]
    q = stats.n_categories
    agreement = _safe_ratio(totals["agree"], pairable, pairable > 0)
    shares, _ = _category_shares(totals)
    if q < 2:
        return np.full(pairable.shape, np.nan), (
            NO_PAIRABLE_ITEMS if pairable[0] <= 0 else "only one category: AC1 needs at least two")
    chance = (shares * (1.0 - shares)).sum(axis=1) / (q - 1)
    defined = (pairable > 0) & (1.0 - chance > 1e-12)
    value = _safe_ratio(agreement - chance, 1.0 - chance, defined)
    if pairable[0] <= 0:
        return value, NO_PAIRABLE_ITEMS
    return value, None if defined[0] else "chance agreement is 1"


def _cohen(name: str) -> Callable:
    def measure(totals, stats) -> tuple[np.ndarray, str | None]:
        """kappa_w = 1 - sum(w * observed) / sum(w * expected), as sklearn.metrics.cohen_kappa_score."""
        n = totals["cohen_n"]
        expected_sum = _expected_weighted_disagreement(name, totals["cohen_first"], totals["cohen_second"])
        with np.errstate(invalid="ignore", divide="ignore"):
            expected = np.where(n > 0, expected_sum / np.where(n > 0, n, 1.0), 0.0)
        defined = (n > 0) & (expected > 1e-12 * np.maximum(n, 1.0))
        value = 1.0 - _safe_ratio(totals[f"{name}_observed"], expected, defined)
        value = np.where(defined, value, np.nan)
        if n[0] <= 0:
            return value, "the two annotators rated no item in common"
        if not defined[0]:
            return value, "both annotators gave every shared item the same single value: expected disagreement is 0"
        return value, None

    return measure


def _expected_weighted_disagreement(name: str, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """sum_ck first_c * second_k * w(c, k) for each row, in O(V) rather than with a V x V matrix.

    first and second are B x V marginal counts of the two annotators over the scale positions.
    """
    first_total, second_total = first.sum(axis=1), second.sum(axis=1)
    if name == "cohen_kappa":  # w = 1 off the diagonal
        return first_total * second_total - (first * second).sum(axis=1)
    positions = np.arange(first.shape[1], dtype=np.float64)
    if name == "cohen_kappa_quadratic":  # (c - k)^2 = c^2 + k^2 - 2ck
        return (second_total * (first @ positions ** 2) + first_total * (second @ positions ** 2)
                - 2.0 * (first @ positions) * (second @ positions))
    # |c - k| counts the unit steps t between c and k: sum over t of pairs straddling t.
    first_below = np.cumsum(first, axis=1)[:, :-1]
    second_below = np.cumsum(second, axis=1)[:, :-1]
    return (first_below * (second_total[:, None] - second_below)
            + second_below * (first_total[:, None] - first_below)).sum(axis=1)


_MEASURE_FUNCTIONS: dict[str, Callable] = {
    "percent_agreement": _percent_agreement,
    "krippendorff_alpha": _alpha,
    "fleiss_kappa": _fleiss,
    "gwet_ac1": _gwet,
    "cohen_kappa": _cohen("cohen_kappa"),
    "cohen_kappa_linear": _cohen("cohen_kappa_linear"),
    "cohen_kappa_quadratic": _cohen("cohen_kappa_quadratic"),
    "jaccard": _jaccard,
}


# --------------------------------------------------------------------------------------------
# Which measures apply
# --------------------------------------------------------------------------------------------


def _report_measures(level: str) -> list[str]:
    names = ["percent_agreement", "krippendorff_alpha", "fleiss_kappa", "cohen_kappa"]
    if level == "ordinal":
        names += ["cohen_kappa_linear", "cohen_kappa_quadratic"]
    names.append("gwet_ac1")
    if level == "multilabel":
        names.append("jaccard")
    return names


def _not_applicable(name: str, level: str, n_annotators: int) -> str | None:
    """Why a measure cannot be computed at all for this level or annotator count, else None."""
    if name in ("fleiss_kappa", "gwet_ac1", "cohen_kappa", "cohen_kappa_linear", "cohen_kappa_quadratic"):
        if level in ("interval", "ratio"):
            return f"not defined for {level} data (a kappa counts exact category matches); see krippendorff_alpha"
        if level == "multilabel":
            return "not defined for multilabel (set-valued) data; see krippendorff_alpha (MASI) and jaccard"
    if name.startswith("cohen_kappa") and n_annotators != 2:
        return f"needs exactly two annotators, found {n_annotators}"
    return None


def _point_estimates(coded: _Coded, measures: Sequence[str]) -> tuple[dict[str, float | None], dict[str, str],
                                                                      _Stats | None]:
    values: dict[str, float | None] = {}
    reasons: dict[str, str] = {}
    computable = []
    for name in measures:
        reason = _not_applicable(name, coded.level, coded.n_annotators)
        if reason:
            values[name], reasons[name] = None, reason
        else:
            computable.append(name)
    if not computable:
        return values, reasons, None
    if coded.n_ratings == 0:
        for name in computable:
            values[name], reasons[name] = None, NO_PAIRABLE_ITEMS
        return values, reasons, None
    if coded.level in ("ratio", "multilabel") and coded.n_values > _MAX_QUADRATIC_DOMAIN \
            and "krippendorff_alpha" in computable:
        values["krippendorff_alpha"] = None
        reasons["krippendorff_alpha"] = (
            f"{coded.n_values} distinct values: too many for the {coded.level} metric, which compares every "
            f"pair of distinct values (limit {_MAX_QUADRATIC_DOMAIN}); round or bin the values")
        computable.remove("krippendorff_alpha")
        if not computable:
            return values, reasons, None
    ordered_pair = any(name.startswith("cohen_kappa") for name in computable)
    profiles = _build_profiles(coded, ordered_pair=ordered_pair)
    stats = _compute_stats(coded, profiles, set(computable))
    totals = _totals(stats, stats.freq[None, :])
    for name in computable:
        value, reason = _MEASURE_FUNCTIONS[name](totals, stats)
        number = float(value[0])
        if reason is not None or not math.isfinite(number):
            values[name], reasons[name] = None, reason or "undefined on these data"
        else:
            values[name] = number
    return values, reasons, stats


# --------------------------------------------------------------------------------------------
# Bootstrap
# --------------------------------------------------------------------------------------------


def _bootstrap(stats: _Stats, measures: list[str], *, n_bootstrap: int, seed: int,
               confidence: float) -> tuple[dict[str, dict | None], dict[str, str]]:
    """Percentile intervals from resampling items with replacement.

    The profile counts of a resample are drawn directly (Multinomial over profiles, or uniform
    item indices when nearly every item has its own profile); both are exactly "n items drawn
    with replacement", and both are reproducible from the seed.
    """
    intervals: dict[str, dict | None] = {name: None for name in measures}
    reasons: dict[str, str] = {}
    n_items = int(round(stats.freq.sum()))
    if not measures:
        return intervals, reasons
    if n_bootstrap <= 0:
        return intervals, {name: "n_bootstrap is 0" for name in measures}
    if n_items < 2:
        return intervals, {name: "the bootstrap needs at least two rated items" for name in measures}
    if stats.distance_rows is not None and stats.n_values > _MAX_BOOTSTRAP_QUADRATIC_DOMAIN:
        skip = f"bootstrap skipped: {stats.n_values} distinct values (limit {_MAX_BOOTSTRAP_QUADRATIC_DOMAIN})"
        if "krippendorff_alpha" in measures:
            reasons["krippendorff_alpha"] = skip
            measures = [name for name in measures if name != "krippendorff_alpha"]

    rng = np.random.default_rng(seed)
    n_profiles = stats.freq.size
    by_multinomial = n_profiles * 2 <= n_items  # measured: the cheaper draw on either side of this line
    probabilities = stats.freq / stats.freq.sum()
    profile_of_item = np.repeat(np.arange(n_profiles), stats.freq.astype(np.int64))
    per_resample = n_profiles + sum(b.profile.size for b in stats.blocks.values()) + stats.n_values
    if stats.ordinal_pairs is not None:
        per_resample += 3 * n_profiles
    if not by_multinomial:
        per_resample += n_items
    if stats.distance_rows is not None:
        per_resample += stats.n_values
    batch = int(max(1, min(n_bootstrap, _CHUNK_ELEMENTS // max(per_resample, 1))))

    samples = {name: np.empty(n_bootstrap) for name in measures}
    for start in range(0, n_bootstrap, batch):
        size = min(batch, n_bootstrap - start)
        if by_multinomial:
            weights = rng.multinomial(n_items, probabilities, size=size).astype(np.float64)
        else:
            drawn = profile_of_item[rng.integers(0, n_items, size=(size, n_items))]
            drawn += (np.arange(size) * n_profiles)[:, None]
            weights = np.bincount(drawn.ravel(), minlength=size * n_profiles).reshape(size, n_profiles)
            weights = weights.astype(np.float64)
        totals = _totals(stats, weights)
        for name in measures:
            samples[name][start:start + size] = _MEASURE_FUNCTIONS[name](totals, stats)[0]

    tail = (1.0 - confidence) / 2.0
    for name in measures:
        values = samples[name]
        defined = values[np.isfinite(values)]
        if defined.size < _MIN_DEFINED_SHARE * n_bootstrap or defined.size == 0:
            reasons[name] = f"undefined in {n_bootstrap - defined.size} of {n_bootstrap} bootstrap resamples"
            continue
        low, high = np.quantile(defined, [tail, 1.0 - tail])
        intervals[name] = {"low": float(low), "high": float(high)}
    return intervals, reasons


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def agreement_report(ratings: pd.DataFrame, *, level: str, scale: list | None = None, n_bootstrap: int = 1000,
                     seed: int = 0, confidence: float = 0.95) -> dict:
    """All agreement measures that apply to the level, with bootstrap intervals; JSON-serialisable.

    Keys: level, n_items (items with two or more ratings), n_annotators, n_ratings, one key per
    measure of the level (percent_agreement, krippendorff_alpha, fleiss_kappa, cohen_kappa,
    cohen_kappa_linear and cohen_kappa_quadratic for ordinal, gwet_ac1, jaccard for multilabel),
    ci95 ({measure: {"low", "high"} or None}), reasons ({measure: why it is None}; an interval
    that is None while its measure is not gets a "ci95.<measure>" reason), n_bootstrap, seed.

    percent_agreement is the mean over pairable items of the share of rater pairs that agree
    exactly (for two annotators: the share of items they agree on); a fraction in [0, 1].

    scale: the ordered levels for ordinal data (weights and Gwet's q run over all of them, used
    or not), or the full category list for nominal data (Gwet's q); ignored for other levels.
    Intervals are bootstrap percentiles over items resampled with replacement (numpy
    Generator(seed)); the key stays "ci95" whatever the confidence.
    """
    _check_level(level)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    if n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be >= 0, got {n_bootstrap}")
    coded = _encode(ratings, level, scale)
    measures = _report_measures(level)
    values, reasons, stats = _point_estimates(coded, measures)
    defined = [name for name in measures if values[name] is not None]
    intervals: dict[str, dict | None] = {name: None for name in measures}
    if stats is not None and defined:
        found, interval_reasons = _bootstrap(stats, defined, n_bootstrap=n_bootstrap, seed=seed,
                                             confidence=confidence)
        intervals.update(found)
        reasons.update({f"ci95.{name}": why for name, why in interval_reasons.items()})

    n_items = 0
    if coded.n_ratings:
        per_slot = np.bincount(coded.item, minlength=coded.n_item_slots)
        n_items = int((per_slot >= 2).sum())
    report: dict[str, Any] = {
        "level": level,
        "n_items": n_items,
        "n_annotators": coded.n_annotators,
        "n_ratings": coded.n_ratings,
    }
    for name in measures:
        report[name] = values[name]
    report["ci95"] = intervals
    report["reasons"] = reasons
    report["n_bootstrap"] = int(n_bootstrap)
    report["seed"] = int(seed)
    return report


def krippendorff_alpha(ratings: Any, *, level: str, scale: list | None = None) -> float | None:
    """Krippendorff's alpha, or None when it is undefined (no pairable item, no variation).

    ratings is a long DataFrame (item, annotator, value) or, like the krippendorff package's
    reliability_data, a 2-D annotators x items array with NaN (or None) for missing ratings.
    The ordinal metric runs over the declared scale when given; unused levels have zero
    marginals, exactly as Krippendorff defines.
    """
    _check_level(level)
    if not isinstance(ratings, pd.DataFrame) and level == "nominal" and scale is None:
        matrix = np.asarray(ratings)
        if matrix.ndim == 2 and matrix.dtype.kind in "iuf" and matrix.shape[0] <= 32:
            return _nominal_alpha_from_matrix(matrix)
    coded = _encode(ratings, level, scale)
    value = _alpha_from_dense_counts(coded)
    if value is not _NOT_DENSE:
        return value
    values, _, _ = _point_estimates(coded, ["krippendorff_alpha"])
    return values["krippendorff_alpha"]


def _nominal_alpha_from_matrix(matrix: np.ndarray) -> float | None:
    """Nominal alpha straight from an annotators x items matrix, without grouping by item.

    For a unit with m ratings, sum_c n_c^2 = m + 2 * (agreeing pairs of annotators), so the
    observed disagreement needs only one comparison per pair of annotators (a loop over
    annotator pairs, never over items).
    """
    x = matrix.astype(np.float64, copy=False)
    if np.isinf(x).any():
        raise RatingsError("ratings matrix holds an infinite value")
    present = ~np.isnan(x)
    per_item = present.sum(axis=0)
    agreeing = np.zeros(x.shape[1])
    for first in range(x.shape[0]):
        for second in range(first + 1, x.shape[0]):
            agreeing += x[first] == x[second]  # NaN never equals anything, so missing ratings drop out
    pairable = per_item >= 2
    if not pairable.any():
        return None
    m = per_item[pairable].astype(np.float64)
    observed = float(((m * (m - 1) - 2 * agreeing[pairable]) / (m - 1)).sum())
    # Value marginals over pairable units: all present values minus those of single-rating units.
    values = x[present]
    singles = per_item == 1
    single_values = x[:, singles][present[:, singles]] if singles.any() else values[:0]
    value_counts = _counts_per_value(values, single_values).astype(np.float64)
    n = float(value_counts.sum())
    expected = n * n - float(value_counts @ value_counts)
    if not expected > 1e-12 * n * n:
        return None
    return 1.0 - (n - 1.0) * observed / expected


def _counts_per_value(values: np.ndarray, minus: np.ndarray) -> np.ndarray:
    """How often each distinct value occurs in values, less its occurrences in minus (a subset)."""
    low, high = values.min(), values.max()
    if abs(low) < 2 ** 52 and abs(high) < 2 ** 52 and high - low < 4 * values.size + 1024:
        offset = values.astype(np.int64) - int(low)
        if np.array_equal(offset + int(low), values):  # whole numbers: a presence table, no sort
            counts = np.bincount(offset)
            if minus.size:
                counts -= np.bincount(minus.astype(np.int64) - int(low), minlength=counts.size)
            return counts
    distinct, inverse = np.unique(values, return_inverse=True)
    counts = np.bincount(inverse, minlength=distinct.size)
    if minus.size:
        counts -= np.bincount(np.searchsorted(distinct, minus), minlength=distinct.size)
    return counts


_NOT_DENSE = object()


def _alpha_from_dense_counts(coded: _Coded) -> Any:
    """Fast path for small domains, from the items x values count table.

    o = sum_u (n_u n_u^T - diag(n_u)) / (m_u - 1) over pairable units u, with n_u the unit's value
    counts: one weighted matrix product (or, for nominal data, only its trace). Returns _NOT_DENSE
    when the table would be too large.
    """
    n_values = coded.n_values
    if n_values == 0 or coded.n_ratings == 0:
        return None
    if n_values > 256 or coded.n_item_slots * n_values > 30_000_000 or coded.level == "multilabel" and n_values > 64:
        return _NOT_DENSE
    counts = np.bincount(coded.item * n_values + coded.code, minlength=coded.n_item_slots * n_values)
    counts = counts.reshape(coded.n_item_slots, n_values)
    m = np.bincount(coded.item, minlength=coded.n_item_slots)
    pairable = m >= 2
    if not pairable.any():
        return None
    if not pairable.all():
        counts = counts[pairable]
        m = m[pairable]
    m = m.astype(np.float64)
    marginals = np.einsum("ij->j", counts).astype(np.float64)
    n = float(m.sum())
    level = coded.level
    if level == "nominal":
        same_value_pairs = np.einsum("ij,ij->i", counts, counts) - m  # ordered pairs of equal ratings
        observed = float(((m * (m - 1) - same_value_pairs) / (m - 1)).sum())
        expected = n * n - float(marginals @ marginals)
    else:
        weighted = counts / (m - 1)[:, None]
        coincidence = weighted.T @ counts
        coincidence[np.diag_indices(n_values)] -= weighted.sum(axis=0)
        if level == "ordinal":
            ranks = _midranks(marginals[None, :])[0]
            distance = (ranks[:, None] - ranks[None, :]) ** 2
        elif level == "multilabel":
            distance = _SetGeometry(coded.domain).masi_rows(np.arange(n_values))
        else:
            codes = np.arange(n_values)
            distance = _pair_distance(coded, None)(codes[:, None], codes[None, :])
        observed = float((coincidence * distance).sum())
        expected = float(marginals @ distance @ marginals)
    if not expected > 1e-12 * max(n * n, 1.0):
        return None
    return 1.0 - (n - 1.0) * observed / expected


def pairwise_matrix(ratings: pd.DataFrame, *, level: str, scale: list | None = None,
                    measure: str = "auto") -> pd.DataFrame:
    """Annotator x annotator agreement on the items each pair shares.

    measure "auto" is Cohen's kappa for nominal, quadratic-weighted kappa for ordinal and
    Krippendorff's alpha (the level's metric) otherwise; any report measure name is accepted where
    it applies. NaN where a pair shares fewer than two items or the measure is undefined; the
    diagonal is NaN.
    """
    coded = _encode(ratings, level, scale)
    if measure == "auto":
        measure = {"nominal": "cohen_kappa", "ordinal": "cohen_kappa_quadratic"}.get(level, "krippendorff_alpha")
    if measure not in _report_measures(level):
        raise ValueError(f"measure {measure!r} does not apply to {level} data; choose one of "
                         f"{', '.join(_report_measures(level))}")
    if (reason := _not_applicable(measure, level, 2)) is not None:
        raise ValueError(f"{measure}: {reason}")
    names = coded.annotator_labels
    per_annotator = _ratings_by_annotator(coded)
    result = np.full((len(names), len(names)), np.nan)
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            value = _two_annotator_measure(coded, per_annotator[a], per_annotator[b], measure)
            result[a, b] = result[b, a] = value
    index = pd.Index(names, name="annotator")
    return pd.DataFrame(result, index=index, columns=index.rename("other_annotator"))


def _ratings_by_annotator(coded: _Coded) -> list[tuple[np.ndarray, np.ndarray]]:
    order = np.lexsort((coded.item, coded.annotator))
    annotator, item, code = coded.annotator[order], coded.item[order], coded.code[order]
    bounds = np.searchsorted(annotator, np.arange(len(coded.annotator_labels) + 1))
    return [(item[bounds[i]:bounds[i + 1]], code[bounds[i]:bounds[i + 1]]) for i in range(len(bounds) - 1)]


def _two_annotator_measure(coded: _Coded, first: tuple[np.ndarray, np.ndarray],
                           second: tuple[np.ndarray, np.ndarray], measure: str, min_items: int = 2) -> float:
    shared, in_first, in_second = np.intersect1d(first[0], second[0], assume_unique=True, return_indices=True)
    if shared.size < min_items:
        return float("nan")
    pair = _subset(coded, item=np.concatenate([shared, shared]),
                   annotator=np.repeat(np.array([0, 1], dtype=np.int64), shared.size),
                   code=np.concatenate([first[1][in_first], second[1][in_second]]), annotator_labels=[0, 1])
    values, _, _ = _point_estimates(pair, [measure])
    value = values[measure]
    return float("nan") if value is None else value


def confusion_matrix(ratings: pd.DataFrame, *, annotator_a: Hashable | None = None,
                     annotator_b: Hashable | None = None) -> pd.DataFrame:
    """Counts of value pairs, treating values as nominal categories.

    With two annotators named: rows are annotator_a's value, columns annotator_b's, over the items
    both rated. With neither: coincidence-style counts over all ordered pairs of ratings by
    different annotators on the same item (symmetric; each item with m ratings adds m(m-1)).
    """
    if (annotator_a is None) != (annotator_b is None):
        raise ValueError("give both annotator_a and annotator_b, or neither")
    coded = _encode(ratings, "nominal", None)
    n_values = coded.n_values
    index = pd.Index(coded.domain, name="value_a")
    columns = pd.Index(coded.domain, name="value_b")
    if annotator_a is not None:
        positions = {}
        for name in (annotator_a, annotator_b):
            matches = [i for i, label in enumerate(coded.annotator_labels) if label == name]
            if not matches:
                raise ValueError(f"annotator {name!r} has no ratings")
            positions[name] = matches[0]
        per_annotator = _ratings_by_annotator(coded)
        first, second = per_annotator[positions[annotator_a]], per_annotator[positions[annotator_b]]
        _, in_first, in_second = np.intersect1d(first[0], second[0], assume_unique=True, return_indices=True)
        cells = first[1][in_first] * n_values + second[1][in_second]
        counts = np.bincount(cells, minlength=n_values * n_values).reshape(n_values, n_values)
        return pd.DataFrame(counts, index=index.rename(f"{annotator_a}"), columns=columns.rename(f"{annotator_b}"))
    profiles = _build_profiles(coded, ordered_pair=False)
    codes = profiles.codes
    width = codes.shape[1]
    counts = np.zeros(n_values * n_values)
    if width >= 2 and n_values:
        both = (codes[:, :, None] >= 0) & (codes[:, None, :] >= 0) & ~np.eye(width, dtype=bool)
        profile, j, l = np.nonzero(both)
        cells = codes[profile, j] * n_values + codes[profile, l]
        counts = np.bincount(cells, weights=profiles.freq[profile], minlength=n_values * n_values)
    counts = np.rint(counts).astype(np.int64).reshape(n_values, n_values)
    return pd.DataFrame(counts, index=index, columns=columns)


_REFERENCE = "\x00reference"  # an annotator name no real annotator can have


def agreement_with_reference(ratings: pd.DataFrame, reference: Mapping[Hashable, Any], *, level: str,
                             scale: list | None = None) -> pd.DataFrame:
    """Each annotator against reference labels (e.g. adjudicated final labels).

    One row per annotator: n (items the annotator rated that have a reference value),
    percent_agreement (share of those items with exactly the reference value), cohen_kappa
    (unweighted; nominal and ordinal), cohen_kappa_linear and cohen_kappa_quadratic (ordinal) and
    krippendorff_alpha (annotator and reference as two coders, the level's metric). NaN where a
    measure is undefined or does not apply.
    """
    ratings = _checked_long(ratings, level)
    reference_rows = pd.DataFrame(
        {"item": list(reference.keys()), "annotator": _REFERENCE, "value": list(reference.values())},
        index=[f"reference[{item!r}]" for item in reference.keys()],
    )
    combined = pd.concat([ratings[list(_REQUIRED_COLUMNS)], reference_rows])
    if len(reference_rows):
        # Keep the item column's type uniform so ids such as 1 and "1" are not split apart.
        combined["item"] = combined["item"].astype(object)
    coded = _encode(combined, level, scale)
    labels = coded.annotator_labels
    columns = ["percent_agreement", "cohen_kappa"]
    if level == "ordinal":
        columns += ["cohen_kappa_linear", "cohen_kappa_quadratic"]
    columns.append("krippendorff_alpha")
    per_annotator = _ratings_by_annotator(coded)
    reference_index = labels.index(_REFERENCE) if _REFERENCE in labels else None
    rows = []
    for index, name in enumerate(labels):
        if index == reference_index:
            continue
        row: dict[str, Any] = {"annotator": name}
        if reference_index is None:
            row["n"] = 0
            row.update({column: float("nan") for column in columns})
            rows.append(row)
            continue
        first, second = per_annotator[index], per_annotator[reference_index]
        shared, in_first, in_second = np.intersect1d(first[0], second[0], assume_unique=True, return_indices=True)
        row["n"] = int(shared.size)
        agree = first[1][in_first] == second[1][in_second]
        row["percent_agreement"] = float(agree.mean()) if shared.size else float("nan")
        for column in columns[1:]:
            if _not_applicable(column, level, 2):
                row[column] = float("nan")
            else:
                row[column] = _two_annotator_measure(coded, first, second, column, min_items=1)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["annotator", "n", *columns])
    return frame.astype({"n": np.int64}).reset_index(drop=True)
