"""Agreement between pairs: the annotator x annotator matrix, confusion matrices, and each
annotator against reference labels.
"""

from __future__ import annotations

from typing import Any, Hashable, Mapping

import numpy as np
import pandas as pd

from curation_app.core.agreement.coding import CodedRatings, encode_ratings, long_table, subset_ratings
from curation_app.core.agreement.measures import point_estimates, report_measures, why_not_applicable
from curation_app.core.agreement.profiles import build_profiles
from curation_app.core.agreement.ratings import REQUIRED_COLUMNS


def pairwise_matrix(ratings: pd.DataFrame, *, level: str, scale: list | None = None,
                    measure: str = "auto") -> pd.DataFrame:
    """Annotator x annotator agreement on the items each pair shares.

    measure "auto" is Cohen's kappa for nominal, quadratic-weighted kappa for ordinal and
    Krippendorff's alpha (the level's metric) otherwise; any report measure name is accepted where
    it applies. NaN where a pair shares fewer than two items or the measure is undefined; the
    diagonal is NaN.
    """
    coded = encode_ratings(ratings, level, scale)
    if measure == "auto":
        measure = {"nominal": "cohen_kappa", "ordinal": "cohen_kappa_quadratic"}.get(level, "krippendorff_alpha")
    if measure not in report_measures(level):
        raise ValueError(f"measure {measure!r} does not apply to {level} data; choose one of "
                         f"{', '.join(report_measures(level))}")
    if (reason := why_not_applicable(measure, level, 2)) is not None:
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


def _ratings_by_annotator(coded: CodedRatings) -> list[tuple[np.ndarray, np.ndarray]]:
    order = np.lexsort((coded.item, coded.annotator))
    annotator, item, code = coded.annotator[order], coded.item[order], coded.code[order]
    bounds = np.searchsorted(annotator, np.arange(len(coded.annotator_labels) + 1))
    return [(item[bounds[i]:bounds[i + 1]], code[bounds[i]:bounds[i + 1]]) for i in range(len(bounds) - 1)]


def _two_annotator_measure(coded: CodedRatings, first: tuple[np.ndarray, np.ndarray],
                           second: tuple[np.ndarray, np.ndarray], measure: str, min_items: int = 2) -> float:
    shared, in_first, in_second = np.intersect1d(first[0], second[0], assume_unique=True, return_indices=True)
    if shared.size < min_items:
        return float("nan")
    pair = subset_ratings(coded, item=np.concatenate([shared, shared]),
                          annotator=np.repeat(np.array([0, 1], dtype=np.int64), shared.size),
                          code=np.concatenate([first[1][in_first], second[1][in_second]]), annotator_labels=[0, 1])
    values, _, _ = point_estimates(pair, [measure])
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
    coded = encode_ratings(ratings, "nominal", None)
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
    profiles = build_profiles(coded, ordered_pair=False)
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
    ratings = long_table(ratings, level)
    reference_rows = pd.DataFrame(
        {"item": list(reference.keys()), "annotator": _REFERENCE, "value": list(reference.values())},
        index=[f"reference[{item!r}]" for item in reference.keys()],
    )
    combined = pd.concat([ratings[list(REQUIRED_COLUMNS)], reference_rows])
    if len(reference_rows):
        # Keep the item column's type uniform so ids such as 1 and "1" are not split apart.
        combined["item"] = combined["item"].astype(object)
    coded = encode_ratings(combined, level, scale)
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
            if why_not_applicable(column, level, 2):
                row[column] = float("nan")
            else:
                row[column] = _two_annotator_measure(coded, first, second, column, min_items=1)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["annotator", "n", *columns])
    return frame.astype({"n": np.int64}).reset_index(drop=True)
