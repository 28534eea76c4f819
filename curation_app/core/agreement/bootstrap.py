"""Percentile intervals for the measures, from a seeded bootstrap over items."""

from __future__ import annotations

import numpy as np

from curation_app.core.agreement.measures import MEASURE_FUNCTIONS
from curation_app.core.agreement.profiles import CHUNK_ELEMENTS, ProfileStats, weighted_totals

# The ratio and MASI alphas cost a value x value quadratic form per resample; above this many
# distinct values their interval is skipped.
_MAX_BOOTSTRAP_QUADRATIC_DOMAIN = 2_000
# A bootstrap interval is only reported when the measure is defined in most resamples.
_MIN_DEFINED_SHARE = 0.5


def bootstrap_intervals(stats: ProfileStats, measures: list[str], *, n_bootstrap: int, seed: int,
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
    batch = int(max(1, min(n_bootstrap, CHUNK_ELEMENTS // max(per_resample, 1))))

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
        totals = weighted_totals(stats, weights)
        for name in measures:
            samples[name][start:start + size] = MEASURE_FUNCTIONS[name](totals, stats)[0]

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
