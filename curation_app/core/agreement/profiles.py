"""Item profiles and the per-profile statistics every measure is a function of.

An item's *profile* is the multiset of value codes it received (or, when Cohen's kappa is wanted,
the ordered pair of codes of the two annotators). Each measure needs only frequency-weighted sums
of per-profile statistics (weighted_totals), so a bootstrap resample changes only the weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from curation_app.core.agreement.coding import CodedRatings
from curation_app.core.agreement.label_sets import SetGeometry

# Work arrays are cut into pieces of about this many elements so memory stays bounded.
CHUNK_ELEMENTS = 4_000_000


@dataclass
class Profiles:
    """Distinct item profiles: codes (K x width, -1 = empty slot) and how many items have each."""

    codes: np.ndarray
    freq: np.ndarray
    ordered_pair: bool  # columns are (first annotator, second annotator) rather than a sorted multiset


def build_profiles(coded: CodedRatings, *, ordered_pair: bool) -> Profiles:
    n_values = max(coded.n_values, 1)
    if coded.n_ratings == 0:
        return Profiles(np.full((0, 2 if ordered_pair else 1), -1, dtype=np.int64), np.zeros(0), ordered_pair)
    ratings_per_slot = np.bincount(coded.item, minlength=coded.n_item_slots)
    rated_slots = np.flatnonzero(ratings_per_slot)
    n_items = rated_slots.size
    if n_items == coded.n_item_slots:
        item, per_item = coded.item, ratings_per_slot
    else:
        compact = np.full(coded.n_item_slots, -1, dtype=np.int64)
        compact[rated_slots] = np.arange(n_items)
        item = compact[coded.item]
        per_item = ratings_per_slot[rated_slots]
    n_columns = int(coded.annotator.max()) + 1

    if ordered_pair:
        table = np.full((n_items, 2), -1, dtype=np.int64)
        table[item, coded.annotator] = coded.code
    elif n_items * n_columns <= 4 * coded.n_ratings:
        # Most items have most annotators: an items x annotators table sorted row by row is far cheaper
        # than sorting all ratings. Empty cells hold n_values so that they sort last.
        table = np.full((n_items, n_columns), n_values, dtype=np.int64)
        table[item, coded.annotator] = coded.code
        table.sort(axis=1)
        table = table[:, :int(per_item.max())]
        table[table == n_values] = -1
    else:
        # Sort ratings by (item, code) so each item's codes form a canonical, sorted row.
        packed = np.sort(item * n_values + coded.code)
        item_sorted, code_sorted = np.divmod(packed, n_values)
        starts = np.cumsum(per_item) - per_item
        position = np.arange(packed.size) - starts[item_sorted]
        table = np.full((n_items, int(per_item.max())), -1, dtype=np.int64)
        table[item_sorted, position] = code_sorted

    width = table.shape[1]
    if width * math.log2(n_values + 1) < 62:
        # One int64 per item (base n_values + 1 digits) is much faster to unique than rows, and the
        # digits of the distinct keys are the distinct rows, so no gather by first occurrence.
        key = np.zeros(n_items, dtype=np.int64)
        for column in range(width):
            key = key * (n_values + 1) + (table[:, column] + 1)
        key.sort()
        first = np.ones(n_items, dtype=bool)
        np.not_equal(key[1:], key[:-1], out=first[1:])
        boundaries = np.flatnonzero(first)
        freq = np.diff(np.append(boundaries, n_items))
        distinct = key[boundaries]
        codes = np.empty((distinct.size, width), dtype=np.int64)
        for column in range(width - 1, -1, -1):
            distinct, digit = np.divmod(distinct, n_values + 1)
            codes[:, column] = digit - 1
    else:
        codes, freq = np.unique(table, axis=0, return_counts=True)
    return Profiles(codes=codes, freq=freq.astype(np.float64), ordered_pair=ordered_pair)


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
            self.dense = np.bincount(self.profile * self.n_columns + self.column, weights=self.value,
                                     minlength=size).astype(np.float64, copy=False).reshape(n_profiles, self.n_columns)
        return self


@dataclass
class ProfileStats:
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


def _pair_distance(coded: CodedRatings, geometry: SetGeometry | None) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Elementwise distance between value codes for the levels whose metric is fixed."""
    level = coded.level
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


def _value_counts(codes: np.ndarray, valid: np.ndarray,
                  ordered_pair: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each profile's value counts as entries (profile, code, count), ordered by profile, then code.

    A multiset row is sorted with its empty slots last, so each of its values is one run of equal
    codes; an ordered pair is put in that form first.
    """
    if ordered_pair:
        empty = np.iinfo(np.int64).max
        codes = np.sort(np.where(valid, codes, empty), axis=1)
        valid = codes != empty
    # An empty slot differs from every code, so a run also ends where the row's ratings end.
    differs = codes[:, 1:] != codes[:, :-1]
    run_first = valid.copy()
    run_first[:, 1:] &= differs
    run_last = valid.copy()
    run_last[:, :-1] &= differs
    first = np.flatnonzero(run_first)
    last = np.flatnonzero(run_last)
    return first // codes.shape[1], codes.ravel()[first], last - first + 1


def compute_stats(coded: CodedRatings, profiles: Profiles, measures: set[str]) -> ProfileStats:
    """Per-profile statistics for the requested measures."""
    level = coded.level
    codes = profiles.codes
    n_profiles, width = codes.shape
    n_values = max(coded.n_values, 1)
    valid = codes >= 0
    safe_codes = np.maximum(codes, 0)
    m = valid.sum(axis=1).astype(np.float64)
    pairable = m >= 2
    stats = ProfileStats(level=level, freq=profiles.freq, n_values=n_values, n_categories=coded.n_values)
    scalars: dict[str, np.ndarray] = {"rated": np.ones(n_profiles), "pairable": pairable.astype(np.float64)}

    need_alpha = "krippendorff_alpha" in measures
    need_agree = bool(measures & {"percent_agreement", "fleiss_kappa", "gwet_ac1"})
    need_jaccard = "jaccard" in measures
    geometry = SetGeometry(coded.domain) if level == "multilabel" and (need_alpha or need_jaccard) else None
    # Nominal disagreement counts unequal pairs, which the value counts below give without the pairs.
    distance = _pair_distance(coded, geometry) if need_alpha and level not in ("nominal", "ordinal") else None

    with np.errstate(invalid="ignore", divide="ignore"):
        pairs_per_item = np.where(pairable, m * (m - 1), 1.0)
        one_less = np.where(pairable, m - 1, 1.0)

    # Value counts per profile as sparse entries (profile, code, count).
    entry_profile, entry_code, entry_count = _value_counts(codes, valid, profiles.ordered_pair)
    entry_count = entry_count.astype(np.float64)
    agree = np.zeros(n_profiles)
    same_value_pairs = None
    if need_agree or (need_alpha and level == "nominal"):
        # Ordered pairs of ratings with equal values, sum_c n_c (n_c - 1): whole numbers, so exact.
        same_value_pairs = np.bincount(entry_profile, weights=entry_count * (entry_count - 1.0),
                                       minlength=n_profiles)
        if need_agree:
            agree = same_value_pairs

    # Within-profile sums over ordered pairs of ratings (j != l), chunked over profiles.
    observed = np.zeros(n_profiles)
    jaccard = np.zeros(n_profiles)
    ordinal_parts: list[tuple[np.ndarray, ...]] = []
    need_pairs = distance is not None or need_jaccard or (need_alpha and level == "ordinal")
    if width >= 2 and need_pairs:
        label_cost = geometry.membership.shape[1] if geometry is not None else 1
        step = max(1, CHUNK_ELEMENTS // max(1, width * width * label_cost))
        off_diagonal = ~np.eye(width, dtype=bool)
        for start in range(0, n_profiles, step):
            part = slice(start, min(start + step, n_profiles))
            first = safe_codes[part][:, :, None]
            second = safe_codes[part][:, None, :]
            both = valid[part][:, :, None] & valid[part][:, None, :] & off_diagonal
            first, second = np.broadcast_arrays(first, second)
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
    if need_alpha and level == "nominal":
        observed = m * (m - 1) - same_value_pairs
    scalars["agree"] = np.where(pairable, agree / pairs_per_item, 0.0)
    if need_jaccard:
        scalars["jaccard"] = np.where(pairable, jaccard / pairs_per_item, 0.0)

    if measures & {"fleiss_kappa", "gwet_ac1"}:
        # Each rated item's distribution over categories, for Fleiss' and Gwet's chance agreement.
        stats.blocks["category_share"] = _Block(entry_profile, entry_code, entry_count / m[entry_profile],
                                                n_values).finish(n_profiles)

    if need_alpha:
        if level == "interval":
            # Interval alpha needs only sums of centred values; no value x value matrix, any domain size.
            profile_of_cell, column_of_cell = np.nonzero(valid)
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


def midranks(counts: np.ndarray) -> np.ndarray:
    """Krippendorff's ordinal metric is a squared difference of these: cum(c) - n_c / 2."""
    return np.cumsum(counts, axis=1) - counts / 2.0


def quadratic_form(counts: np.ndarray, distance_rows: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """n^T D n for every row n of counts (B x V), reading D a block of rows at a time."""
    n_values = counts.shape[1]
    result = np.zeros(counts.shape[0])
    step = max(1, CHUNK_ELEMENTS // max(n_values, 1))
    for start in range(0, n_values, step):
        rows = np.arange(start, min(start + step, n_values))
        result += np.einsum("bi,bi->b", counts[:, rows], counts @ distance_rows(rows).T)
    return result


def weighted_totals(stats: ProfileStats, weights: np.ndarray) -> dict[str, np.ndarray]:
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


def _ordinal_observed(stats: ProfileStats, weights: np.ndarray, marginals: np.ndarray) -> np.ndarray:
    """sum_ck o_ck (r_c - r_k)^2 under each weight vector, r the midranks of the marginals.

    The ordinal metric depends on the marginals, so it cannot be summed per profile in advance.
    A single weighting (the point estimate) sums over the stored pairs of differing ratings,
    which is exact (0 for perfect agreement). Many weightings (the bootstrap) use the identity
    sum_ck o_ck (r_c - r_k)^2 = 2 sum_c n_c r_c^2 - 2 sum_u ((n_u.r)^2 - n_u.r^2) / (m_u - 1),
    which is matrix products over profiles instead of a gather per pair.
    """
    ranks = midranks(marginals)
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
