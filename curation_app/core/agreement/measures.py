"""The agreement measures and their point estimates.

Percent agreement, Krippendorff's alpha, Fleiss' kappa, Cohen's kappa (unweighted, linear and
quadratic), Gwet's AC1 and Jaccard, each computed from weighted totals for a batch of weightings at
once (NaN where undefined, with the reason for the first weighting); which measures apply to a
level; point_estimates; and krippendorff_alpha, the alpha alone.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from curation_app.core.agreement.coding import CodedRatings, encode_ratings
from curation_app.core.agreement.profiles import (
    ProfileStats,
    build_profiles,
    compute_stats,
    midranks,
    quadratic_form,
    weighted_totals,
)

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

# Above this many distinct values the ratio and MASI metrics (which need a full value x value
# distance matrix) are refused rather than left to run for hours.
_MAX_QUADRATIC_DOMAIN = 20_000


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
            ranks = midranks(counts)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean_rank = np.where(n > 0, (counts * ranks).sum(axis=1) / np.where(n > 0, n, 1), 0.0)
            centred = ranks - mean_rank[:, None]
            expected = 2.0 * n * (counts * centred * centred).sum(axis=1)
        else:
            expected = quadratic_form(counts, stats.distance_rows)
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


MEASURE_FUNCTIONS: dict[str, Callable] = {
    "percent_agreement": _percent_agreement,
    "krippendorff_alpha": _alpha,
    "fleiss_kappa": _fleiss,
    "gwet_ac1": _gwet,
    "cohen_kappa": _cohen("cohen_kappa"),
    "cohen_kappa_linear": _cohen("cohen_kappa_linear"),
    "cohen_kappa_quadratic": _cohen("cohen_kappa_quadratic"),
    "jaccard": _jaccard,
}


def report_measures(level: str) -> list[str]:
    """The measures a report on this level lists, in report order."""
    names = ["percent_agreement", "krippendorff_alpha", "fleiss_kappa", "cohen_kappa"]
    if level == "ordinal":
        names += ["cohen_kappa_linear", "cohen_kappa_quadratic"]
    names.append("gwet_ac1")
    if level == "multilabel":
        names.append("jaccard")
    return names


def why_not_applicable(name: str, level: str, n_annotators: int) -> str | None:
    """Why a measure cannot be computed at all for this level or annotator count, else None."""
    if name in ("fleiss_kappa", "gwet_ac1", "cohen_kappa", "cohen_kappa_linear", "cohen_kappa_quadratic"):
        if level in ("interval", "ratio"):
            return f"not defined for {level} data (a kappa counts exact category matches); see krippendorff_alpha"
        if level == "multilabel":
            return "not defined for multilabel (set-valued) data; see krippendorff_alpha (MASI) and jaccard"
    if name.startswith("cohen_kappa") and n_annotators != 2:
        return f"needs exactly two annotators, found {n_annotators}"
    return None


def point_estimates(coded: CodedRatings,
                    measures: Sequence[str]) -> tuple[dict[str, float | None], dict[str, str], ProfileStats | None]:
    """Each measure's value (None with a reason where undefined or not applicable), and the statistics
    the bootstrap resamples (None when nothing could be computed).
    """
    values: dict[str, float | None] = {}
    reasons: dict[str, str] = {}
    computable = []
    for name in measures:
        reason = why_not_applicable(name, coded.level, coded.n_annotators)
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
    profiles = build_profiles(coded, ordered_pair=ordered_pair)
    stats = compute_stats(coded, profiles, set(computable))
    totals = weighted_totals(stats, stats.freq[None, :])
    for name in computable:
        value, reason = MEASURE_FUNCTIONS[name](totals, stats)
        number = float(value[0])
        if reason is not None or not math.isfinite(number):
            values[name], reasons[name] = None, reason or "undefined on these data"
        else:
            values[name] = number
    return values, reasons, stats


def krippendorff_alpha(ratings: Any, *, level: str, scale: list | None = None) -> float | None:
    """Krippendorff's alpha, or None when it is undefined (no pairable item, no variation).

    ratings is a long DataFrame (item, annotator, value) or, like the krippendorff package's
    reliability_data, a 2-D annotators x items array with NaN (or None) for missing ratings.
    The ordinal metric runs over the declared scale when given; unused levels have zero
    marginals, exactly as Krippendorff defines. Computed as agreement_report computes it.
    """
    coded = encode_ratings(ratings, level, scale)
    values, _, _ = point_estimates(coded, ["krippendorff_alpha"])
    return values["krippendorff_alpha"]
