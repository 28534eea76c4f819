"""Agreement statistics: published worked examples, cross-checks, undefined cases, properties, CSV input."""

from __future__ import annotations

import json
from pathlib import Path

import krippendorff  # test-only reference implementation
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from curation_app.core.agreement import (
    LEVELS,
    RatingsError,
    agreement_report,
    agreement_with_reference,
    confusion_matrix,
    jaccard_similarity,
    krippendorff_alpha,
    masi_distance,
    pairwise_matrix,
    read_ratings_csv,
)
from curation_app.core.agreement.coding import encode_ratings
from curation_app.core.agreement.measures import MEASURE_FUNCTIONS, report_measures, why_not_applicable
from curation_app.core.agreement.profiles import build_profiles, compute_stats, weighted_totals

DATA = Path(__file__).parent / "agreement_data"
NAN = np.nan

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers
# (rows) x 12 units (columns), values 1-5, NaN = not coded. Gwet's Handbook of Inter-Rater
# Reliability (4th ed., 2014, p. 120) reuses the same table for its missing-ratings examples.
KRIPPENDORFF_2011 = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
])


def long_from_matrix(matrix, annotators=None, items=None) -> pd.DataFrame:
    """annotators x items matrix (NaN/None = missing) -> long item,annotator,value table."""
    matrix = np.asarray(matrix, dtype=object)
    annotators = annotators or [f"coder{i}" for i in range(matrix.shape[0])]
    items = items or [f"unit{j}" for j in range(matrix.shape[1])]
    rows = [(items[j], annotators[i], matrix[i, j]) for i in range(matrix.shape[0]) for j in range(matrix.shape[1])
            if matrix[i, j] is not None and not (isinstance(matrix[i, j], float) and np.isnan(matrix[i, j]))]
    return pd.DataFrame(rows, columns=["item", "annotator", "value"])


def long_from_counts(table, categories=None) -> pd.DataFrame:
    """Subjects x categories count table (Fleiss' layout) -> long ratings, raters numbered per subject."""
    rows = []
    for subject, counts in enumerate(table):
        rater = 0
        for category, count in enumerate(counts):
            for _ in range(count):
                rows.append((f"s{subject}", f"r{rater}", categories[category] if categories else category + 1))
                rater += 1
    return pd.DataFrame(rows, columns=["item", "annotator", "value"])


def long_from_pairs(first, second) -> pd.DataFrame:
    rows = []
    for item, (a, b) in enumerate(zip(first, second)):
        if a is not None:
            rows.append((item, "A", a))
        if b is not None:
            rows.append((item, "B", b))
    return pd.DataFrame(rows, columns=["item", "annotator", "value"])


def random_matrix(rng, n_annotators, n_items, values, missing=0.2, agreement=0.6):
    """Annotators x items of `values`, correlated through a per-item truth, with NaN holes."""
    values = np.asarray(values, dtype=float)
    truth = rng.choice(values, size=n_items)
    matrix = np.where(rng.random((n_annotators, n_items)) < agreement, truth,
                      rng.choice(values, size=(n_annotators, n_items)))
    matrix[rng.random(matrix.shape) < missing] = np.nan
    return matrix


# ---------------------------------------------------------------------------------------------
# Krippendorff's alpha: published values
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("level, published", [
    ("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797),
])
def test_krippendorff_2011_worked_example(level, published):
    # Krippendorff (2011), section C, reports alpha to three decimals for each metric.
    ratings = long_from_matrix(KRIPPENDORFF_2011)
    assert round(krippendorff_alpha(ratings, level=level), 3) == published
    assert round(krippendorff_alpha(KRIPPENDORFF_2011, level=level), 3) == published
    report = agreement_report(ratings, level=level, n_bootstrap=0)
    assert round(report["krippendorff_alpha"], 3) == published
    assert report["n_items"] == 11  # unit 12 has a single value and is not pairable
    assert report["n_ratings"] == 41


def test_krippendorff_2011_ordinal_with_declared_scale_and_labels():
    # The same data as labels on a declared 5-level scale gives the published ordinal 0.815.
    scale = ["very low", "low", "mid", "high", "very high"]
    labelled = np.vectorize(lambda v: None if np.isnan(v) else scale[int(v) - 1], otypes=[object])(KRIPPENDORFF_2011)
    ratings = long_from_matrix(labelled)
    assert round(krippendorff_alpha(ratings, level="ordinal", scale=scale), 3) == 0.815
    assert round(krippendorff_alpha(ratings, level="nominal"), 3) == 0.743


def test_krippendorff_2011_binary_two_observers():
    # Krippendorff (2011), section A: two observers, ten units, binary values: alpha = 0.095.
    observer_a = [0, 1, 0, 0, 0, 0, 0, 0, 1, 0]
    observer_b = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]
    ratings = long_from_pairs(observer_a, observer_b)
    assert round(krippendorff_alpha(ratings, level="nominal"), 3) == 0.095
    # By hand: o_01 = 4, n_0 = 14, n_1 = 6, n = 20: 1 - 19 * 4 / (14 * 6) = 0.0952.
    assert krippendorff_alpha(ratings, level="nominal") == pytest.approx(1 - 19 * 4 / 84, abs=1e-12)


def test_fixture_csv_reproduces_the_worked_example():
    ratings = read_ratings_csv(DATA / "krippendorff_2011.csv", level="interval")
    assert len(ratings) == 41 and list(ratings.columns) == ["item", "annotator", "value"]
    assert round(krippendorff_alpha(ratings, level="interval"), 3) == 0.849


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_alpha_matches_krippendorff_package_with_missing_values(level, seed):
    rng = np.random.default_rng(seed)
    matrix = random_matrix(rng, n_annotators=int(rng.integers(2, 7)), n_items=int(rng.integers(20, 120)),
                           values=[1, 2, 3, 4, 6, 9], missing=0.3)
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement=level)
    ratings = long_from_matrix(matrix)
    assert krippendorff_alpha(ratings, level=level) == pytest.approx(expected, abs=1e-9)
    assert krippendorff_alpha(matrix, level=level) == pytest.approx(expected, abs=1e-9)
    report = agreement_report(ratings, level=level, n_bootstrap=0)
    assert report["krippendorff_alpha"] == pytest.approx(expected, abs=1e-9)


def test_alpha_matches_package_on_continuous_interval_values():
    # Many distinct values take the closed-form interval path rather than a value x value table.
    rng = np.random.default_rng(7)
    matrix = rng.normal(size=(3, 40)).round(3) + rng.normal(size=40).round(3) * 2
    matrix[rng.random(matrix.shape) < 0.2] = np.nan
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="interval")
    ratings = long_from_matrix(matrix)
    assert krippendorff_alpha(ratings, level="interval") == pytest.approx(expected, abs=1e-9)
    report = agreement_report(ratings, level="interval", n_bootstrap=0)
    assert report["krippendorff_alpha"] == pytest.approx(expected, abs=1e-9)


def test_ordinal_alpha_over_a_scale_with_unused_levels_matches_package():
    rng = np.random.default_rng(11)
    scale = ["a", "b", "c", "d", "e", "f"]  # "b" and "e" never used
    matrix = random_matrix(rng, 4, 60, values=[0, 2, 3, 5], missing=0.25)
    expected = krippendorff.alpha(reliability_data=matrix, value_domain=list(range(6)),
                                  level_of_measurement="ordinal")
    labelled = np.vectorize(lambda v: None if np.isnan(v) else scale[int(v)], otypes=[object])(matrix)
    ratings = long_from_matrix(labelled)
    assert krippendorff_alpha(ratings, level="ordinal", scale=scale) == pytest.approx(expected, abs=1e-9)
    report = agreement_report(ratings, level="ordinal", scale=scale, n_bootstrap=0)
    assert report["krippendorff_alpha"] == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_alpha_alone_is_the_reports_alpha(level):
    ratings = long_from_matrix(KRIPPENDORFF_2011)
    reported = agreement_report(ratings, level=level, n_bootstrap=0)["krippendorff_alpha"]
    assert krippendorff_alpha(ratings, level=level) == pytest.approx(reported, abs=1e-12)
    assert krippendorff_alpha(KRIPPENDORFF_2011, level=level) == pytest.approx(reported, abs=1e-12)
    expected = krippendorff.alpha(reliability_data=KRIPPENDORFF_2011, level_of_measurement=level)
    assert reported == pytest.approx(expected, abs=1e-12)


def test_domain_size_limits_give_reasons(monkeypatch):
    ratings = long_from_matrix(KRIPPENDORFF_2011)
    monkeypatch.setattr("curation_app.core.agreement.bootstrap._MAX_BOOTSTRAP_QUADRATIC_DOMAIN", 3)
    report = agreement_report(ratings, level="ratio", n_bootstrap=50)
    assert round(report["krippendorff_alpha"], 3) == 0.797
    assert report["ci95"]["krippendorff_alpha"] is None
    assert "bootstrap skipped: 5 distinct values" in report["reasons"]["ci95.krippendorff_alpha"]
    monkeypatch.setattr("curation_app.core.agreement.measures._MAX_QUADRATIC_DOMAIN", 4)
    report = agreement_report(ratings, level="ratio", n_bootstrap=50)
    assert report["krippendorff_alpha"] is None
    assert "5 distinct values: too many for the ratio metric" in report["reasons"]["krippendorff_alpha"]


# ---------------------------------------------------------------------------------------------
# Fleiss, Cohen, Gwet: published values and sklearn
# ---------------------------------------------------------------------------------------------

# The Fleiss' kappa worked example reproduced on Wikipedia ("Fleiss' kappa", worked example):
# 10 subjects, 14 raters, 5 categories; P-bar = 0.378, P_e = 0.213, kappa = 0.210.
FLEISS_TABLE = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]


def test_fleiss_kappa_worked_example():
    report = agreement_report(long_from_counts(FLEISS_TABLE), level="nominal", n_bootstrap=0)
    assert round(report["fleiss_kappa"], 3) == 0.210
    assert round(report["percent_agreement"], 3) == 0.378
    assert report["n_annotators"] == 14
    assert report["cohen_kappa"] is None
    assert report["reasons"]["cohen_kappa"] == "needs exactly two annotators, found 14"


# Fleiss (1971), "Measuring nominal scale agreement among many raters", Psychological Bulletin
# 76(5): 30 patients, 6 psychiatrists each, 5 diagnoses (1 depression, 2 personality disorder,
# 3 schizophrenia, 4 neurosis, 5 other); the data of R irr's `diagnoses`. Fleiss reports
# kappa = .430; irr's kappam.fleiss(diagnoses) gives 0.4302445 (as recorded in statsmodels'
# statsmodels/stats/tests/test_inter_rater.py, which asserts it to 7 decimals).
FLEISS_1971 = [
    [4, 4, 4, 4, 4, 4], [2, 2, 2, 5, 5, 5], [2, 3, 3, 3, 3, 5], [5, 5, 5, 5, 5, 5], [2, 2, 2, 4, 4, 4],
    [1, 1, 3, 3, 3, 3], [3, 3, 3, 3, 5, 5], [1, 1, 3, 3, 3, 4], [1, 1, 4, 4, 4, 4], [5, 5, 5, 5, 5, 5],
    [1, 4, 4, 4, 4, 4], [1, 2, 4, 4, 4, 4], [2, 2, 2, 3, 3, 3], [1, 4, 4, 4, 4, 4], [2, 2, 4, 4, 4, 5],
    [3, 3, 3, 3, 3, 5], [1, 1, 1, 4, 5, 5], [1, 1, 1, 1, 1, 2], [2, 2, 4, 4, 4, 4], [1, 3, 3, 5, 5, 5],
    [5, 5, 5, 5, 5, 5], [2, 4, 4, 4, 4, 4], [2, 2, 4, 5, 5, 5], [1, 1, 4, 4, 4, 4], [1, 4, 4, 4, 4, 5],
    [2, 2, 2, 2, 2, 4], [1, 1, 1, 1, 5, 5], [2, 2, 4, 4, 4, 4], [1, 3, 3, 3, 3, 3], [5, 5, 5, 5, 5, 5],
]


def test_fleiss_1971_psychiatric_diagnoses():
    ratings = pd.DataFrame([(f"patient{i}", f"psychiatrist{j}", value) for i, row in enumerate(FLEISS_1971)
                            for j, value in enumerate(row)], columns=["item", "annotator", "value"])
    report = agreement_report(ratings, level="nominal", n_bootstrap=0)
    assert round(report["fleiss_kappa"], 3) == 0.430
    assert report["fleiss_kappa"] == pytest.approx(0.4302445, abs=5e-8)
    shuffled = ratings.sample(frac=1, random_state=3).replace({"value": {1: "a", 2: "b", 3: "c", 4: "d", 5: "e"}})
    assert agreement_report(shuffled, level="nominal", n_bootstrap=0)["fleiss_kappa"] == pytest.approx(
        report["fleiss_kappa"], abs=1e-12)


def pairs_from_table(table: list[list[int]], labels: list[str]) -> tuple[list[str], list[str]]:
    """A two-rater contingency table (rows: rater A, columns: rater B) as the two raters' labels."""
    first, second = [], []
    for row, counts in zip(labels, table):
        for column, count in zip(labels, counts):
            first += [row] * count
            second += [column] * count
    return first, second


def test_cohen_1960_and_1968_example():
    # Cohen (1960), "A coefficient of agreement for nominal scales", and again in Cohen (1968),
    # "Weighted kappa": 200 cases, 3 categories; p_o = .70, p_c = .41, kappa = .492 (also in the
    # examples of R psych's cohen.kappa, man/kappa.Rd: "cohen reports .492").
    first, second = pairs_from_table([[88, 14, 18], [10, 40, 10], [2, 6, 12]], ["x", "y", "z"])
    report = agreement_report(long_from_pairs(first, second), level="nominal", n_bootstrap=0)
    assert report["percent_agreement"] == pytest.approx(0.70, abs=1e-12)
    assert round(report["cohen_kappa"], 3) == 0.492
    assert report["cohen_kappa"] == pytest.approx(1 - 0.30 / 0.59, abs=1e-12)


def test_weighted_kappa_sas_example():
    # SAS PROC FREQ's agree output for a 3 x 3 table, as recorded in statsmodels'
    # statsmodels/stats/tests/test_inter_rater.py: simple kappa 0.4842, weighted kappa with
    # Cicchetti-Allison (linear) weights 0.4701.
    first, second = pairs_from_table([[0, 4, 1], [0, 8, 0], [0, 1, 5]], ["low", "mid", "high"])
    report = agreement_report(long_from_pairs(first, second), level="ordinal", scale=["low", "mid", "high"],
                              n_bootstrap=0)
    assert round(report["cohen_kappa"], 4) == 0.4842
    assert round(report["cohen_kappa_linear"], 4) == 0.4701


def test_gwet_handbook_example_with_missing_ratings():
    # Gwet (2014), Handbook of Inter-Rater Reliability, 4th ed., p. 120 data (the 4 x 12 table
    # above): AC1 = 0.7754, Fleiss' generalised kappa = 0.7612, p_a = 0.8182 (the values Gwet's
    # irrCAC package reports for this dataset). By hand: p_a = 9/11 over the 11 pairable units;
    # pi = (3, 3.25, 3.5, 1.25, 1) / 12 averaging r_ik / r_i over all 12 rated units;
    # p_e(AC1) = sum pi (1 - pi) / (5 - 1) = 0.19032; AC1 = (0.81818 - 0.19032) / 0.80968 = 0.77544.
    # p_e(Fleiss) = sum pi^2 = 0.23872; kappa = (0.81818 - 0.23872) / 0.76128 = 0.76117.
    report = agreement_report(long_from_matrix(KRIPPENDORFF_2011), level="nominal", n_bootstrap=0)
    assert report["gwet_ac1"] == pytest.approx(0.77544, abs=5e-5)
    assert report["fleiss_kappa"] == pytest.approx(0.76117, abs=5e-5)
    assert report["percent_agreement"] == pytest.approx(9 / 11, abs=1e-12)


def test_gwet_two_raters_with_a_missing_rating():
    # Gwet's irrCAC dataset "ben_gerry" (2 raters, 12 units, one rating missing):
    # AC1 = 0.661, Fleiss' kappa = 0.649, p_a = 0.727 as reported by irrCAC.
    ben = ["a", "a", "b", "b", "d", "c", "c", "c", "e", "d", "d", "a"]
    gerry = ["b", "a", "b", "b", "b", "c", "c", "c", "e", None, "d", "d"]
    report = agreement_report(long_from_pairs(ben, gerry), level="nominal", n_bootstrap=0)
    assert round(report["gwet_ac1"], 3) == 0.661
    assert round(report["fleiss_kappa"], 3) == 0.649
    assert round(report["percent_agreement"], 3) == 0.727


def test_cohen_kappa_worked_example():
    # Wikipedia "Cohen's kappa", worked example: 50 grant proposals, yes/yes 20, yes/no 5,
    # no/yes 10, no/no 15: p_o = 0.7, p_e = 0.5, kappa = 0.4.
    first = ["yes"] * 25 + ["no"] * 25
    second = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    report = agreement_report(long_from_pairs(first, second), level="nominal", n_bootstrap=0)
    assert report["cohen_kappa"] == pytest.approx(0.4, abs=1e-12)
    assert report["percent_agreement"] == pytest.approx(0.7, abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_cohen_kappa_matches_sklearn_nominal(seed):
    rng = np.random.default_rng(seed)
    labels = ["x", "y", "z", "w"][: int(rng.integers(2, 5))]
    n = int(rng.integers(10, 80))
    first = rng.choice(labels, n)
    second = np.where(rng.random(n) < 0.6, first, rng.choice(labels, n))
    report = agreement_report(long_from_pairs(list(first), list(second)), level="nominal", n_bootstrap=0)
    assert report["cohen_kappa"] == pytest.approx(cohen_kappa_score(first, second), abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_weighted_cohen_kappa_matches_sklearn_over_the_declared_scale(seed):
    # Cohen (1968) weighted kappa; weights over the whole declared scale, unused levels included,
    # as sklearn's cohen_kappa_score(labels=scale, weights=...).
    rng = np.random.default_rng(seed)
    scale = ["none", "easy", "medium", "hard", "expert"]
    used = ["easy", "medium", "hard", "expert"] if seed % 2 else ["none", "easy", "hard", "expert"]
    n = int(rng.integers(15, 80))
    first = rng.choice(used, n)
    shift = rng.integers(-1, 2, n)
    second = np.array([used[min(max(used.index(v) + s, 0), len(used) - 1)] for v, s in zip(first, shift)])
    report = agreement_report(long_from_pairs(list(first), list(second)), level="ordinal", scale=scale,
                              n_bootstrap=0)
    assert report["cohen_kappa"] == pytest.approx(cohen_kappa_score(first, second, labels=scale), abs=1e-12)
    for weights in ("linear", "quadratic"):
        expected = cohen_kappa_score(first, second, labels=scale, weights=weights)
        assert report[f"cohen_kappa_{weights}"] == pytest.approx(expected, abs=1e-12)


def test_weighted_kappa_depends_on_unused_scale_levels():
    # An unused level between used ones widens the distances, so linear kappa changes.
    first, second = ["low", "high", "low", "high", "low"], ["low", "high", "high", "high", "low"]
    ratings = long_from_pairs(first, second)
    narrow = agreement_report(ratings, level="ordinal", scale=["low", "high"], n_bootstrap=0)
    wide = agreement_report(ratings, level="ordinal", scale=["low", "mid", "high"], n_bootstrap=0)
    assert wide["cohen_kappa_linear"] == pytest.approx(
        cohen_kappa_score(first, second, labels=["low", "mid", "high"], weights="linear"), abs=1e-12)
    assert narrow["cohen_kappa"] == pytest.approx(wide["cohen_kappa"], abs=1e-12)


def test_cohen_uses_only_items_both_annotators_rated():
    first = ["a", "b", "a", "b", "a", None, "a"]
    second = ["a", "b", "b", "b", None, "b", "a"]
    report = agreement_report(long_from_pairs(first, second), level="nominal", n_bootstrap=0)
    shared = [(a, b) for a, b in zip(first, second) if a is not None and b is not None]
    expected = cohen_kappa_score([a for a, _ in shared], [b for _, b in shared])
    assert report["cohen_kappa"] == pytest.approx(expected, abs=1e-12)
    assert report["n_items"] == 5


# ---------------------------------------------------------------------------------------------
# Multilabel: MASI and Jaccard
# ---------------------------------------------------------------------------------------------


def test_masi_distance_cases():
    # Passonneau (2006): distance = 1 - J * M, M = 1 equal, 2/3 subset, 1/3 overlap, 0 disjoint.
    assert masi_distance({"py"}, {"py"}) == 0.0
    assert masi_distance({"py"}, {"py", "js"}) == pytest.approx(1 - 0.5 * 2 / 3)
    assert masi_distance({"py", "js"}, {"js", "go"}) == pytest.approx(1 - (1 / 3) * (1 / 3))
    assert masi_distance({"py"}, {"go"}) == 1.0
    assert masi_distance({"a", "b"}, {"b", "a"}) == 0.0
    assert jaccard_similarity({"py"}, {"py", "js"}) == 0.5
    assert jaccard_similarity(set(), set()) == 1.0
    # The empty set: d({}, {}) = 0 and d({}, X) = 1 for any non-empty X (J = 0).
    assert masi_distance(set(), set()) == 0.0
    assert masi_distance(set(), {"py"}) == masi_distance({"py", "js"}, frozenset()) == 1.0


def test_multilabel_alpha_by_hand():
    # Three items, two annotators:
    #   item1 {py} / {py}   item2 {py} / {py, js}   item3 {js} / {go}
    # Distinct sets A={py} (3 values), B={py,js}, C={js}, D={go} (1 each); n = 6.
    # sum o*d = 2*d(A,B) + 2*d(C,D) = 2*(2/3) + 2*1 = 10/3.
    # sum n_c n_k d = 2*[3*(2/3) + 3*1 + 3*1 + 1*(2/3) + 1 + 1] = 64/3 (d(B,C) = 2/3: subset).
    # alpha = 1 - (6 - 1) * (10/3) / (64/3) = 14/64.
    ratings = pd.DataFrame({
        "item": [1, 1, 2, 2, 3, 3],
        "annotator": ["x", "y"] * 3,
        "value": [frozenset({"py"}), frozenset({"py"}), frozenset({"py"}), frozenset({"py", "js"}),
                  frozenset({"js"}), frozenset({"go"})],
    })
    assert krippendorff_alpha(ratings, level="multilabel") == pytest.approx(14 / 64, abs=1e-12)
    report = agreement_report(ratings, level="multilabel", n_bootstrap=0)
    assert report["krippendorff_alpha"] == pytest.approx(14 / 64, abs=1e-12)
    assert report["jaccard"] == pytest.approx((1 + 0.5 + 0) / 3, abs=1e-12)
    assert report["percent_agreement"] == pytest.approx(1 / 3, abs=1e-12)
    for name in ("fleiss_kappa", "cohen_kappa", "gwet_ac1"):
        assert report[name] is None and "multilabel" in report["reasons"][name]


def test_multilabel_values_given_as_text_or_lists():
    as_text = pd.DataFrame({"item": [1, 1, 2, 2], "annotator": ["x", "y", "x", "y"],
                            "value": ["py|js", "js | py", "go", "go|rust"]})
    as_lists = as_text.assign(value=[["py", "js"], ["js", "py"], ["go"], ["go", "rust"]])
    assert krippendorff_alpha(as_text, level="multilabel") == pytest.approx(
        krippendorff_alpha(as_lists, level="multilabel"), abs=1e-15)
    assert agreement_report(as_text, level="multilabel", n_bootstrap=0)["percent_agreement"] == 0.5


# ---------------------------------------------------------------------------------------------
# Undefined measures are None with a reason, never 0.0 or 1.0
# ---------------------------------------------------------------------------------------------


def test_all_ratings_identical():
    ratings = long_from_matrix([["a", "a", "a"], ["a", "a", "a"], ["a", None, "a"]])
    assert krippendorff_alpha(ratings, level="nominal") is None
    report = agreement_report(ratings, level="nominal")
    assert report["krippendorff_alpha"] is None
    assert report["reasons"]["krippendorff_alpha"] == "all ratings identical: expected disagreement is 0"
    assert report["fleiss_kappa"] is None and "one category" in report["reasons"]["fleiss_kappa"]
    assert report["gwet_ac1"] is None and "one category" in report["reasons"]["gwet_ac1"]
    assert report["percent_agreement"] == 1.0  # defined: every pair agrees
    assert report["ci95"]["krippendorff_alpha"] is None


def test_no_pairable_items():
    ratings = pd.DataFrame({"item": [1, 2, 3], "annotator": ["x", "y", "x"], "value": ["a", "b", "a"]})
    assert krippendorff_alpha(ratings, level="nominal") is None
    report = agreement_report(ratings, level="nominal")
    assert report["n_items"] == 0
    for name in ("percent_agreement", "krippendorff_alpha", "fleiss_kappa", "gwet_ac1"):
        assert report[name] is None
        assert report["reasons"][name] == "no item has two or more ratings"
    assert report["cohen_kappa"] is None
    assert report["reasons"]["cohen_kappa"] == "the two annotators rated no item in common"


def test_one_item():
    identical = pd.DataFrame({"item": ["q"] * 3, "annotator": ["x", "y", "z"], "value": ["a"] * 3})
    report = agreement_report(identical, level="nominal")
    assert report["krippendorff_alpha"] is None and report["fleiss_kappa"] is None
    assert report["percent_agreement"] == 1.0
    assert report["ci95"]["percent_agreement"] is None
    assert "two rated items" in report["reasons"]["ci95.percent_agreement"]
    differing = identical.assign(value=["a", "a", "b"])
    report = agreement_report(differing, level="nominal")
    # Formally defined on one unit: o_ab = o_ba = 1, o_aa = 1, n_a = 2, n_b = 1: 1 - 2 * 2 / 4 = 0.
    assert report["krippendorff_alpha"] == pytest.approx(0.0, abs=1e-12)
    assert report["ci95"]["krippendorff_alpha"] is None


def test_cohen_with_three_annotators_is_none():
    report = agreement_report(long_from_matrix(KRIPPENDORFF_2011[:3]), level="ordinal")
    for name in ("cohen_kappa", "cohen_kappa_linear", "cohen_kappa_quadratic"):
        assert report[name] is None
        assert report["reasons"][name] == "needs exactly two annotators, found 3"
        assert report["ci95"][name] is None


def test_cohen_when_both_annotators_use_one_value():
    report = agreement_report(long_from_pairs(["a", "a", "a"], ["a", "a", "a"]), level="nominal")
    assert report["cohen_kappa"] is None and "expected disagreement is 0" in report["reasons"]["cohen_kappa"]


@pytest.mark.parametrize("level", ["interval", "ratio"])
def test_kappas_are_not_defined_for_interval_data(level):
    report = agreement_report(long_from_matrix(KRIPPENDORFF_2011), level=level, n_bootstrap=50)
    for name in ("fleiss_kappa", "cohen_kappa", "gwet_ac1"):
        assert report[name] is None
        assert report["reasons"][name].startswith(f"not defined for {level} data")
    assert report["percent_agreement"] == pytest.approx(9 / 11, abs=1e-12)


def test_empty_table_gives_undefined_measures():
    empty = pd.DataFrame({"item": [], "annotator": [], "value": []})
    report = agreement_report(empty, level="nominal")
    assert report["n_items"] == 0 and report["n_ratings"] == 0 and report["n_annotators"] == 0
    assert all(report[name] is None for name in ("percent_agreement", "krippendorff_alpha", "fleiss_kappa"))


# ---------------------------------------------------------------------------------------------
# Report contract
# ---------------------------------------------------------------------------------------------

BASE_KEYS = {"level", "n_items", "n_annotators", "n_ratings", "percent_agreement", "krippendorff_alpha",
             "fleiss_kappa", "cohen_kappa", "gwet_ac1", "ci95", "reasons", "n_bootstrap", "seed"}


@pytest.mark.parametrize("level", LEVELS)
def test_report_keys_and_json(level):
    matrix = KRIPPENDORFF_2011
    if level == "multilabel":
        matrix = np.vectorize(lambda v: None if np.isnan(v) else frozenset({f"l{int(v)}"}), otypes=[object])(matrix)
    report = agreement_report(long_from_matrix(matrix), level=level, n_bootstrap=100)
    expected = set(BASE_KEYS)
    if level == "ordinal":
        expected |= {"cohen_kappa_linear", "cohen_kappa_quadratic"}
    if level == "multilabel":
        expected |= {"jaccard"}
    assert set(report) == expected
    measures = expected - {"level", "n_items", "n_annotators", "n_ratings", "ci95", "reasons", "n_bootstrap", "seed"}
    assert set(report["ci95"]) == measures
    for name in measures:
        assert (report[name] is None) == (name in report["reasons"])
        interval = report["ci95"][name]
        assert interval is None or set(interval) == {"low", "high"}
    json.dumps(report, allow_nan=False)


def test_bootstrap_is_reproducible_and_contains_the_estimate():
    rng = np.random.default_rng(5)
    ratings = long_from_matrix(random_matrix(rng, 4, 300, values=[1, 2, 3, 4], missing=0.15, agreement=0.7))
    first = agreement_report(ratings, level="ordinal", n_bootstrap=300, seed=42)
    again = agreement_report(ratings.sample(frac=1.0, random_state=3), level="ordinal", n_bootstrap=300, seed=42)
    other = agreement_report(ratings, level="ordinal", n_bootstrap=300, seed=43)
    assert first == again  # the same seed gives the same intervals, whatever the row order
    assert first["ci95"] != other["ci95"]
    for name in ("percent_agreement", "krippendorff_alpha", "fleiss_kappa", "gwet_ac1"):
        interval = first["ci95"][name]
        assert interval["low"] < first[name] < interval["high"]
        assert interval["high"] - interval["low"] < 0.2


def test_bootstrap_of_two_annotators_and_multilabel():
    rng = np.random.default_rng(8)
    labels = ["keep", "reject"]
    first = rng.choice(labels, 200)
    second = np.where(rng.random(200) < 0.8, first, rng.choice(labels, 200))
    report = agreement_report(long_from_pairs(list(first), list(second)), level="nominal", n_bootstrap=200)
    assert report["ci95"]["cohen_kappa"]["low"] < report["cohen_kappa"] < report["ci95"]["cohen_kappa"]["high"]
    sets = [frozenset(rng.choice(["py", "js", "go"], int(rng.integers(1, 3)), replace=False)) for _ in range(200)]
    other = [s if rng.random() < 0.7 else frozenset({"py"}) for s in sets]
    report = agreement_report(long_from_pairs(sets, other), level="multilabel", n_bootstrap=200)
    for name in ("krippendorff_alpha", "jaccard"):
        assert report["ci95"][name]["low"] <= report[name] <= report["ci95"][name]["high"]


def test_bootstrap_intervals_match_a_plain_item_resampling():
    # The profile-count shortcut must agree in distribution with resampling rows of items;
    # compare the spread with a direct (slow) bootstrap of krippendorff_alpha.
    rng = np.random.default_rng(21)
    matrix = random_matrix(rng, 3, 120, values=[1, 2, 3], missing=0.1, agreement=0.6)
    ratings = long_from_matrix(matrix)
    report = agreement_report(ratings, level="nominal", n_bootstrap=2000, seed=1)
    direct = []
    for _ in range(400):
        columns = rng.integers(0, matrix.shape[1], matrix.shape[1])
        direct.append(krippendorff_alpha(matrix[:, columns], level="nominal"))
    low, high = np.quantile(direct, [0.025, 0.975])
    assert report["ci95"]["krippendorff_alpha"]["low"] == pytest.approx(low, abs=0.03)
    assert report["ci95"]["krippendorff_alpha"]["high"] == pytest.approx(high, abs=0.03)


def test_resample_arithmetic_equals_point_arithmetic():
    # Resamples go through shortcuts (the ordinal identity, batched sums); weighting every
    # profile by its frequency must reproduce the point estimate exactly, for every measure.
    rng = np.random.default_rng(3)
    for level, values in (("ordinal", [1, 2, 3, 5]), ("nominal", [1, 2, 3]), ("ratio", [1, 2, 4, 8])):
        ratings = long_from_matrix(random_matrix(rng, 4, 80, values=values, missing=0.2))
        coded = encode_ratings(ratings, level, None)
        measures = [m for m in report_measures(level) if not why_not_applicable(m, level, 4)]
        stats = compute_stats(coded, build_profiles(coded, ordered_pair=False), set(measures))
        single = weighted_totals(stats, stats.freq[None, :])
        batch = weighted_totals(stats, np.vstack([stats.freq, stats.freq, 2 * stats.freq]))
        for name in measures:
            point = MEASURE_FUNCTIONS[name](single, stats)[0][0]
            resampled = MEASURE_FUNCTIONS[name](batch, stats)[0]
            assert resampled[:2] == pytest.approx([point, point], abs=1e-10), (level, name)



@pytest.mark.parametrize("n_annotators", [3, 40])  # dense items x annotators layout, and a sparse one
def test_profiles_are_the_sorted_codes_of_each_item(n_annotators):
    rng = np.random.default_rng(8)
    rows = []
    for item in range(300):
        for annotator in rng.permutation(n_annotators)[:int(rng.integers(1, 4))]:
            rows.append((f"q{item}", f"a{annotator}", int(rng.integers(0, 5))))
    ratings = pd.DataFrame(rows, columns=["item", "annotator", "value"]).sample(frac=1.0, random_state=1)
    coded = encode_ratings(ratings, "nominal", None)
    profiles = build_profiles(coded, ordered_pair=False)

    per_item: dict = {}
    for item, code in zip(coded.item, coded.code):
        per_item.setdefault(int(item), []).append(int(code))
    expected: dict = {}
    for codes in per_item.values():
        expected[tuple(sorted(codes))] = expected.get(tuple(sorted(codes)), 0) + 1
    found = {tuple(int(c) for c in row if c >= 0): int(f) for row, f in zip(profiles.codes, profiles.freq)}
    assert found == expected
    assert all((row[row < 0] == -1).all() and (np.diff(row[row >= 0]) >= 0).all() for row in profiles.codes)
    # Profiles come in one canonical order, whichever layout built them.
    order = np.lexsort(profiles.codes.T[::-1])
    assert (order == np.arange(order.size)).all()

    stats = compute_stats(coded, profiles, {"fleiss_kappa"})
    m = (profiles.codes >= 0).sum(axis=1)
    counts = stats.blocks["category_share"].dense * m[:, None]
    for row, row_counts in zip(profiles.codes, counts):
        values, how_often = np.unique(row[row >= 0], return_counts=True)
        assert dict(zip(values.tolist(), how_often.tolist())) == {
            code: round(float(n)) for code, n in enumerate(row_counts) if n}

# ---------------------------------------------------------------------------------------------
# Hypothesis properties
# ---------------------------------------------------------------------------------------------


@st.composite
def nominal_ratings(draw, min_annotators=2, max_annotators=4):
    n_items = draw(st.integers(2, 12))
    n_annotators = draw(st.integers(min_annotators, max_annotators))
    categories = draw(st.integers(2, 4))
    cells = draw(st.lists(st.one_of(st.none(), st.integers(0, categories - 1)),
                          min_size=n_items * n_annotators, max_size=n_items * n_annotators))
    matrix = np.array(cells, dtype=object).reshape(n_annotators, n_items)
    return long_from_matrix(matrix)


PROPERTY_SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
POINT_MEASURES = ("percent_agreement", "krippendorff_alpha", "fleiss_kappa", "cohen_kappa", "gwet_ac1")


def point_estimates(report):
    return {name: report[name] for name in POINT_MEASURES}


def assert_same_estimates(a, b):
    for name in POINT_MEASURES:
        if a[name] is None:
            assert b[name] is None, name
        else:
            assert b[name] == pytest.approx(a[name], abs=1e-12), name


@PROPERTY_SETTINGS
@given(n_items=st.integers(2, 10), n_annotators=st.integers(2, 4), data=st.data())
def test_perfect_agreement_gives_one_where_defined(n_items, n_annotators, data):
    truth = data.draw(st.lists(st.integers(1, 4), min_size=n_items, max_size=n_items))
    matrix = np.array([truth] * n_annotators, dtype=object)
    holes = data.draw(st.lists(st.booleans(), min_size=matrix.size, max_size=matrix.size))
    matrix[np.array(holes).reshape(matrix.shape) & (np.arange(n_annotators)[:, None] >= 2)] = None
    ratings = long_from_matrix(matrix)
    for level in ("nominal", "ordinal", "interval", "ratio"):
        report = agreement_report(ratings, level=level, n_bootstrap=20)
        for name in ("percent_agreement", "krippendorff_alpha", "fleiss_kappa", "cohen_kappa",
                     "cohen_kappa_linear", "cohen_kappa_quadratic", "gwet_ac1"):
            value = report.get(name)
            if value is not None:
                assert value == pytest.approx(1.0, abs=1e-12), (level, name)
        if len(set(truth)) > 1:
            assert report["krippendorff_alpha"] == pytest.approx(1.0, abs=1e-12)
        else:
            assert report["krippendorff_alpha"] is None


@PROPERTY_SETTINGS
@given(ratings=nominal_ratings(), permutation=st.permutations([0, 1, 2, 3]))
def test_relabelling_categories_does_not_change_nominal_measures(ratings, permutation):
    names = ["alpha", "beta", "gamma", "delta"]
    relabelled = ratings.assign(value=[names[permutation[v]] for v in ratings["value"]])
    before = agreement_report(ratings, level="nominal", n_bootstrap=0)
    after = agreement_report(relabelled, level="nominal", n_bootstrap=0)
    assert_same_estimates(before, after)


@PROPERTY_SETTINGS
@given(ratings=nominal_ratings(), seed=st.integers(0, 1000))
def test_row_order_and_names_do_not_matter(ratings, seed):
    rng = np.random.default_rng(seed)
    baseline = agreement_report(ratings, level="nominal", n_bootstrap=30, seed=1)
    shuffled = ratings.sample(frac=1.0, random_state=seed)
    item_names = {item: f"renamed-{rng.integers(1_000_000)}-{item}" for item in ratings["item"].unique()}
    annotator_names = {name: f"person {rng.integers(1_000_000)} {name}" for name in ratings["annotator"].unique()}
    renamed = shuffled.assign(item=shuffled["item"].map(item_names),
                              annotator=shuffled["annotator"].map(annotator_names))
    # Row order and item ids change nothing at all, intervals included.
    assert agreement_report(shuffled, level="nominal", n_bootstrap=30, seed=1) == baseline
    renamed_items = shuffled.assign(item=shuffled["item"].map(item_names))
    assert agreement_report(renamed_items, level="nominal", n_bootstrap=30, seed=1) == baseline
    # Annotator names can reorder Cohen's (a, b) pairs: point estimates stay equal.
    assert_same_estimates(baseline, agreement_report(renamed, level="nominal", n_bootstrap=0))


@PROPERTY_SETTINGS
@given(ratings=nominal_ratings(max_annotators=5), level=st.sampled_from(["nominal", "ordinal", "interval", "ratio"]))
def test_fast_alpha_equals_report_alpha(ratings, level):
    # krippendorff_alpha (coincidence matrix) and the report (profile statistics) are separate code.
    ratings = ratings.assign(value=ratings["value"] + 1)
    report = agreement_report(ratings, level=level, n_bootstrap=0)
    alpha = krippendorff_alpha(ratings, level=level)
    if alpha is None:
        assert report["krippendorff_alpha"] is None
    else:
        assert report["krippendorff_alpha"] == pytest.approx(alpha, abs=1e-12)


# ---------------------------------------------------------------------------------------------
# Pairwise, confusion, reference
# ---------------------------------------------------------------------------------------------


def test_pairwise_matrix_nominal_is_cohen_per_pair():
    ratings = long_from_matrix(KRIPPENDORFF_2011)
    matrix = pairwise_matrix(ratings, level="nominal")
    assert list(matrix.index) == ["coder0", "coder1", "coder2", "coder3"]
    assert np.isnan(np.diag(matrix.to_numpy())).all()
    assert np.allclose(matrix.to_numpy(), matrix.to_numpy().T, equal_nan=True)
    shared = ~np.isnan(KRIPPENDORFF_2011[1]) & ~np.isnan(KRIPPENDORFF_2011[2])
    expected = cohen_kappa_score(KRIPPENDORFF_2011[1][shared], KRIPPENDORFF_2011[2][shared])
    assert matrix.loc["coder1", "coder2"] == pytest.approx(expected, abs=1e-12)


def test_pairwise_matrix_other_levels_and_small_overlap():
    ratings = long_from_matrix(KRIPPENDORFF_2011)
    quadratic = pairwise_matrix(ratings, level="ordinal")
    shared = ~np.isnan(KRIPPENDORFF_2011[0]) & ~np.isnan(KRIPPENDORFF_2011[3])
    expected = cohen_kappa_score(KRIPPENDORFF_2011[0][shared], KRIPPENDORFF_2011[3][shared],
                                 labels=[1, 2, 3, 4, 5], weights="quadratic")
    assert quadratic.loc["coder0", "coder3"] == pytest.approx(expected, abs=1e-12)
    interval = pairwise_matrix(ratings, level="interval")
    pair = KRIPPENDORFF_2011[[0, 3]]
    assert interval.loc["coder0", "coder3"] == pytest.approx(
        krippendorff.alpha(reliability_data=pair, level_of_measurement="interval"), abs=1e-12)
    sparse = pd.DataFrame({"item": [1, 1, 2, 2, 3], "annotator": ["x", "y", "x", "z", "y"],
                           "value": ["a", "b", "a", "a", "b"]})
    assert pairwise_matrix(sparse, level="nominal").isna().all().all()  # every pair shares < 2 items
    with pytest.raises(ValueError, match="not defined for interval data"):
        pairwise_matrix(ratings, level="interval", measure="fleiss_kappa")
    with pytest.raises(ValueError, match="does not apply"):
        pairwise_matrix(ratings, level="nominal", measure="jaccard")


def test_confusion_matrix_pair_and_coincidence():
    ratings = long_from_pairs(["a", "a", "b", "c"], ["a", "b", "b", None])
    pair = confusion_matrix(ratings, annotator_a="A", annotator_b="B")
    assert pair.loc["a", "a"] == 1 and pair.loc["a", "b"] == 1 and pair.loc["b", "b"] == 1
    assert int(pair.to_numpy().sum()) == 3
    three = pd.DataFrame({"item": [1, 1, 1], "annotator": ["x", "y", "z"], "value": ["a", "a", "b"]})
    pooled = confusion_matrix(three)
    # Ordered pairs of different annotators: a-a twice, a-b twice, b-a twice.
    assert pooled.loc["a", "a"] == 2 and pooled.loc["a", "b"] == 2 and pooled.loc["b", "a"] == 2
    assert pooled.loc["b", "b"] == 0
    with pytest.raises(ValueError):
        confusion_matrix(three, annotator_a="x")


def test_agreement_with_reference():
    ratings = pd.DataFrame({
        "item": ["q1", "q2", "q3", "q4", "q1", "q2", "q3"],
        "annotator": ["ann", "ann", "ann", "ann", "bob", "bob", "bob"],
        "value": ["keep", "reject", "keep", "keep", "reject", "reject", "keep"],
    })
    reference = {"q1": "keep", "q2": "reject", "q3": "keep", "q4": "reject", "q5": "keep"}
    table = agreement_with_reference(ratings, reference, level="nominal").set_index("annotator")
    assert table.loc["ann", "n"] == 4 and table.loc["bob", "n"] == 3
    assert table.loc["ann", "percent_agreement"] == pytest.approx(0.75)
    assert table.loc["ann", "cohen_kappa"] == pytest.approx(
        cohen_kappa_score(["keep", "reject", "keep", "keep"], ["keep", "reject", "keep", "reject"]))
    assert table.loc["bob", "percent_agreement"] == pytest.approx(2 / 3)


# DKPro Agreement's set-valued example (dkpro-statistics-agreement, SetAnnotationsTest.createExample):
# two coders, nine items; both coders gave the first item the empty set, the second item is {A}
# against the empty set. DKPro publishes percentage agreement 0.333 and alpha 0.252 (D_o 0.253,
# D_e 0.338) with its MASISetAnnotationDistanceFunction, which is not Passonneau's 1 - J * M: it
# scales the Jaccard distance by 0, 1/3, 2/3, 1 (equal, subset, overlap, disjoint), so its
# d({}, X) is 1/3. With Passonneau's MASI (d({}, {}) = 0, d({}, X) = 1) the same data give
# sum o*d = 88/9, sum n_c n_k d = 686/3 over n = 18 values: alpha = 1 - 17 * (88/9) / (686/3) = 281/1029.
DKPRO_SETS = [
    ((), ()), (("A",), ()), (("A",), ("A",)), (("A",), ("B",)), (("A", "B"), ("A",)), (("A", "B"), ("A", "C")),
    (("A", "B", "C"), ("A", "B", "C")), (("C",), ("A", "C")), (("C",), ("A", "C")),
]


def dkpro_set_distance(a: frozenset, b: frozenset) -> float:
    """DKPro's MASISetAnnotationDistanceFunction, as its source writes it."""
    if a == b:
        return 0.0
    jaccard_distance = 1 - len(a & b) / len(a | b)
    if a <= b or b <= a:
        return jaccard_distance / 3
    return jaccard_distance * (2 / 3 if a & b else 1.0)


def passonneau_masi(a: frozenset, b: frozenset) -> float:
    """Passonneau (2006) written out independently of the code under test; two empty sets are equal."""
    if not a and not b:
        return 0.0
    monotonicity = 1 if a == b else 2 / 3 if (a <= b or b <= a) else 1 / 3 if a & b else 0
    return 1 - len(a & b) / len(a | b) * monotonicity


def package_alpha_on_sets(pairs, distance) -> float:
    """The krippendorff package's alpha on two coders' label sets (None = no rating): the sets are
    coded as numbers and the custom metric looks their distance up."""
    domain = sorted({frozenset(s) for pair in pairs for s in pair if s is not None}, key=lambda s: (len(s), sorted(s)))
    code = {labels: index for index, labels in enumerate(domain)}
    data = np.array([[NAN if pair[k] is None else code[frozenset(pair[k])] for pair in pairs] for k in (0, 1)])
    table = np.array([[distance(a, b) for b in domain] for a in domain])

    def metric(v1, v2, i1, i2, n_v, dtype=np.float64):
        return table[np.asarray(v1).astype(int), np.asarray(v2).astype(int)].astype(dtype)

    return float(krippendorff.alpha(reliability_data=data, level_of_measurement=metric,
                                    value_domain=np.arange(len(domain))))


def sets_of(pairs):
    return long_from_pairs([None if a is None else frozenset(a) for a, _ in pairs],
                           [None if b is None else frozenset(b) for _, b in pairs])


def test_dkpro_set_annotation_example():
    # The transcription reproduces DKPro's published alpha with DKPro's own distance.
    assert package_alpha_on_sets(DKPRO_SETS, dkpro_set_distance) == pytest.approx(0.252, abs=1e-3)
    report = agreement_report(sets_of(DKPRO_SETS), level="multilabel", n_bootstrap=0)
    assert report["n_items"] == 9  # the empty-set items are rated
    assert report["percent_agreement"] == pytest.approx(0.333, abs=1e-3)  # published: 3 of 9 items identical
    assert report["krippendorff_alpha"] == pytest.approx(281 / 1029, abs=1e-12)
    assert report["krippendorff_alpha"] == pytest.approx(package_alpha_on_sets(DKPRO_SETS, passonneau_masi),
                                                         abs=1e-12)
    assert report["krippendorff_alpha"] == pytest.approx(0.2731, abs=1e-4)
    assert krippendorff_alpha(sets_of(DKPRO_SETS), level="multilabel") == report["krippendorff_alpha"]


def test_empty_set_is_a_rating_and_no_rating_is_missing():
    # The same study where the coders gave no rating instead of the empty set: item 1 drops out and
    # item 2 is left with one rating, so it cannot be paired.
    unrated = [(None, None), (("A",), None), *DKPRO_SETS[2:]]
    alpha_unrated = krippendorff_alpha(sets_of(unrated), level="multilabel")
    assert alpha_unrated == pytest.approx(package_alpha_on_sets(unrated, passonneau_masi), abs=1e-12)
    assert alpha_unrated != pytest.approx(281 / 1029, abs=1e-3)
    assert agreement_report(sets_of(unrated), level="multilabel", n_bootstrap=0)["n_items"] == 7

    first = [frozenset(a) for a, _ in DKPRO_SETS]
    second = [frozenset(b) for _, b in DKPRO_SETS]
    for empty in (frozenset(), set(), [], (), "|", " | "):
        spelled = long_from_pairs([empty, *first[1:]], [empty, empty, *second[2:]])
        assert krippendorff_alpha(spelled, level="multilabel") == pytest.approx(281 / 1029, abs=1e-12), empty
    for nothing in (None, NAN, "", "  "):
        rows = pd.concat([sets_of(unrated), pd.DataFrame({"item": [0, 0, 1], "annotator": ["A", "B", "B"],
                                                          "value": [nothing] * 3})], ignore_index=True)
        assert krippendorff_alpha(rows, level="multilabel") == pytest.approx(alpha_unrated, abs=1e-12), nothing


def test_only_empty_sets_agree_perfectly_but_alpha_is_undefined():
    ratings = long_from_pairs([frozenset()] * 3, [frozenset()] * 3)
    report = agreement_report(ratings, level="multilabel", n_bootstrap=0)
    assert (report["n_items"], report["percent_agreement"], report["jaccard"]) == (3, 1.0, 1.0)
    assert report["krippendorff_alpha"] is None and "identical" in report["reasons"]["krippendorff_alpha"]


# ---------------------------------------------------------------------------------------------
# True, 1 and 1.0: Python counts True == 1 == 1.0, so a hash table merges them
# ---------------------------------------------------------------------------------------------


def four_ratings(values, items=("q1", "q1", "q2", "q2")) -> pd.DataFrame:
    return pd.DataFrame({"item": pd.Series(items, dtype=object), "annotator": ["a", "b", "a", "b"],
                         "value": pd.Series(values, dtype=object)})


def test_true_hidden_under_one_is_refused_naming_both_ratings():
    with pytest.raises(RatingsError) as caught:
        krippendorff_alpha(four_ratings([1, True, 0, False]), level="nominal")
    message = str(caught.value)
    assert message.startswith("ratings row 1 (item 'q1', annotator 'b'): value True is a true/false value, "
                              "but ratings row 0 (item 'q1', annotator 'a') has the value 1, a number")
    assert "most likely an error" in message and "\n" not in message


@pytest.mark.parametrize("values, level", [
    ([1.0, True, 0.0, 0.0], "nominal"),
    ([False, 0, 1, 1], "nominal"),
    ([np.True_, 1, 0, 0], "nominal"),
    ([True, 2, False, 2], "nominal"),  # no shared key, but still a mix
    (["True", "1", "x", "y"], "nominal"),  # text, e.g. read with pandas.read_csv
    ([1, True, 2, 3], "interval"),
    ([1, True, 2, 3], "ordinal"),
    ([frozenset({"py"}), True, 1, frozenset({"go"})], "multilabel"),
])
def test_true_false_mixed_with_numbers_is_refused(values, level):
    with pytest.raises(RatingsError, match=r"ratings row \d \(item 'q\d', annotator '[ab]'\): value .* is a true/false "
                                           r"value, but ratings row \d \(item 'q\d', annotator '[ab]'\) has the value"):
        agreement_report(four_ratings(values), level=level, n_bootstrap=0)


def test_one_kind_alone_and_numbers_by_value_are_kept():
    as_words = four_ratings(["yes", "yes", "no", "yes"])
    for values in ([True, True, False, True], [1, 1.0, 0, 1], ["true", "true", "false", "true"]):
        report = agreement_report(four_ratings(values), level="nominal", n_bootstrap=0)
        assert report["percent_agreement"] == agreement_report(as_words, level="nominal",
                                                               n_bootstrap=0)["percent_agreement"] == 0.5, values
    # 1 and 1.0 are one number, as they are in a float column and in the krippendorff package.
    mixed = four_ratings([1, 1.0, 2, 2.0])
    assert agreement_report(mixed, level="nominal", n_bootstrap=0)["percent_agreement"] == 1.0
    assert encode_ratings(mixed, "nominal", None).domain == [1, 2]


def test_true_false_against_a_numeric_scale_and_in_ids():
    with pytest.raises(RatingsError, match=r"value True is not on the scale \(0, 1, 2\)"):
        krippendorff_alpha(four_ratings([True, False, True, True]), level="ordinal", scale=[0, 1, 2])
    assert krippendorff_alpha(four_ratings([True, False, True, True]), level="nominal",
                              scale=[True, False]) is not None
    with pytest.raises(RatingsError, match=r"the scale lists the true/false value True and the number 0"):
        krippendorff_alpha(four_ratings([0, 1, 0, 1]), level="ordinal", scale=[0, 1, True])
    with pytest.raises(RatingsError, match=r"ratings row 2 \(item True, annotator 'a'\): item True is a true/false "
                                           r"value, but ratings row 0 \(item 1, annotator 'a'\) has the item 1"):
        krippendorff_alpha(four_ratings(["x", "x", "y", "y"], items=(1, 1, True, True)), level="nominal")
    with pytest.raises(RatingsError, match=r"annotator 1 is a true/false value|annotator True is a true/false value"):
        krippendorff_alpha(pd.DataFrame({"item": [1, 1, 2, 2], "annotator": pd.Series([1, True, 1, 2], dtype=object),
                                         "value": ["x", "y", "x", "x"]}), level="nominal")


# ---------------------------------------------------------------------------------------------
# read_ratings_csv
# ---------------------------------------------------------------------------------------------


def write(tmp_path, text: str | bytes, name="ratings.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_read_good_file(tmp_path):
    path = write(tmp_path, "item,annotator,value,comment\nq1,ann,easy,x\nq1,bob,hard,\nq2,ann,,skipped\n"
                           "q2,bob, medium ,\nq1,ann,easy,repeat\n")
    ratings = read_ratings_csv(path, level="ordinal", scale=["easy", "medium", "hard"])
    assert list(ratings.columns) == ["item", "annotator", "value"]
    assert ratings.to_dict("records") == [
        {"item": "q1", "annotator": "ann", "value": "easy"},
        {"item": "q1", "annotator": "bob", "value": "hard"},
        {"item": "q2", "annotator": "bob", "value": "medium"},
    ]


def test_read_multilabel_and_numbers(tmp_path):
    path = write(tmp_path, "\ufeffItem,Annotator,Value\nq1,ann,python | js\nq1,bob,js|python\nq2,ann,|\n")
    ratings = read_ratings_csv(path, level="multilabel")
    assert list(ratings["value"]) == [frozenset({"python", "js"})] * 2 + [frozenset()]  # "|" alone: the empty set
    numbers = read_ratings_csv(write(tmp_path, "item,annotator,value\nq1,a,1.5\nq1,b,2\n", "n.csv"), level="ratio")
    assert list(numbers["value"]) == [1.5, 2.0]
    ordinal = read_ratings_csv(write(tmp_path, "item,annotator,value\nq1,a,3\nq1,b,1\n", "o.csv"), level="ordinal")
    assert list(ordinal["value"]) == [3.0, 1.0]


@pytest.mark.parametrize("content, level, scale, message", [
    ("item,value\nq1,a\n", "nominal", None, r"lacks column\(s\) annotator"),
    ("item,annotator,value\nq1,a,1\nq1,b,1\nq2,a,two\n", "interval", None,
     r"row 3 \(line 4\): value 'two' is not a number"),
    ("item,annotator,value\nq1,a,easy\nq1,b,extreme\n", "ordinal", ["easy", "hard"],
     r"row 2 \(line 3\): value 'extreme' is not on the scale \(easy, hard\)"),
    ("item,annotator,value\nq1,a,easy\nq1,b,hard\n", "ordinal", None,
     r"row 1 \(line 2\): ordinal value 'easy' is not a number.*--scale"),
    ("item,annotator,value\nq1,a,-1\n", "ratio", None, r"row 1 \(line 2\): value '-1' is negative"),
    ("item,annotator,value\nq1,a,keep\nq1,b,maybe\n", "nominal", ["keep", "reject"],
     r"row 2 \(line 3\): value 'maybe' is not one of the categories \(keep, reject\)"),
    ("item,annotator,value\nq1,a,x\nq1,a,y\n", "nominal", None,
     r"row 2 \(line 3\): annotator 'a' rated item 'q1' twice with different values \('x' at row 1"),
    ("item,annotator,value\n,a,x\n", "nominal", None, r"row 1 \(line 2\): the item cell is empty"),
    ("item,annotator,value\nq1,a,\n", "nominal", None, r"no ratings"),
    ("item,annotator,value\nq1,a,True\nq1,b,False\nq2,a,1\n", "nominal", None,
     r"row 3 \(line 4\): value '1' is a number, but row 1 \(line 2\) has a true/false value, 'True': Python "
     r"counts True as 1 .* most likely an error"),
    ("item,annotator,value\nq1,a,0\nq1,b, false \n", "nominal", None,
     r"row 2 \(line 3\): value 'false' is a true/false value, but row 1 \(line 2\) has a number, '0'"),
    ("", "nominal", None, r"the file is empty"),
    ("\n\n", "nominal", None, r"the file is empty"),
])
def test_read_refusals(tmp_path, content, level, scale, message):
    path = write(tmp_path, content)
    with pytest.raises(RatingsError, match=message) as caught:
        read_ratings_csv(path, level=level, scale=scale)
    assert str(path) in str(caught.value)


def test_read_refuses_non_utf8(tmp_path):
    path = write(tmp_path, "item,annotator,value\nq1,ann,ok\nq2,ann,caf\xe9\n".encode("latin-1"))
    with pytest.raises(RatingsError, match=r"line 3: the file is not UTF-8"):
        read_ratings_csv(path, level="nominal")


def test_quoted_multiline_field_keeps_line_numbers(tmp_path):
    path = write(tmp_path, 'item,annotator,value,note\nq1,a,1,"two\nlines"\nq1,b,oops,\n')
    with pytest.raises(RatingsError, match=r"row 2 \(line 4\)"):
        read_ratings_csv(path, level="interval")


def test_dataframe_refusals():
    with pytest.raises(RatingsError, match="lacks column"):
        agreement_report(pd.DataFrame({"item": [1], "value": [1]}), level="nominal")
    conflicting = pd.DataFrame({"item": [1, 1], "annotator": ["a", "a"], "value": ["x", "y"]})
    with pytest.raises(RatingsError, match="twice with different values"):
        krippendorff_alpha(conflicting, level="nominal")
    repeated = pd.DataFrame({"item": [1, 1, 1], "annotator": ["a", "a", "b"], "value": ["x", "x", "y"]})
    assert agreement_report(repeated, level="nominal", n_bootstrap=0)["n_ratings"] == 2
    with pytest.raises(RatingsError, match="not on the scale"):
        krippendorff_alpha(pd.DataFrame({"item": [1, 1], "annotator": ["a", "b"], "value": ["x", "z"]}),
                           level="ordinal", scale=["x", "y"])
    with pytest.raises(ValueError, match="unknown level"):
        agreement_report(conflicting, level="categorical")
