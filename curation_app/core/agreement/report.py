"""agreement_report: every measure that applies to a level, with bootstrap intervals and reasons."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from curation_app.core.agreement.bootstrap import bootstrap_intervals
from curation_app.core.agreement.coding import encode_ratings
from curation_app.core.agreement.measures import point_estimates, report_measures
from curation_app.core.agreement.ratings import check_level


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
    check_level(level)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    if n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be >= 0, got {n_bootstrap}")
    coded = encode_ratings(ratings, level, scale)
    measures = report_measures(level)
    values, reasons, stats = point_estimates(coded, measures)
    defined = [name for name in measures if values[name] is not None]
    intervals: dict[str, dict | None] = {name: None for name in measures}
    if stats is not None and defined:
        found, interval_reasons = bootstrap_intervals(stats, defined, n_bootstrap=n_bootstrap, seed=seed,
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
