"""Near-duplicate clusters: MinHash with LSH banding, exact verification, union-find.

Candidate pairs come from MinHash with LSH banding, so 100,000 queries never meet all-pairs
comparison; every candidate is then verified with the exact Jaccard similarity of the
signatures' shingle sets before two queries are linked.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Iterable, Sequence

import numpy as np

from curation_app.core.triage.progress import PROGRESS_EVERY, ProgressCallback
from curation_app.core.triage.signature import SHINGLE_SIZE, duplicate_signature_text, jaccard, shingle_set

# Recall asked of the LSH step for a pair exactly at the threshold (pairs above it do better).
LSH_TARGET_RECALL = 0.97
LSH_MAX_PERMUTATIONS = 128
# Keep chance collisions of clearly different pairs rare: at half the threshold a pair should
# become a candidate at most this often. Real queries mostly sit below 0.05 of each other.
LSH_MAX_CANDIDATE_RATE_AT_HALF = 0.05
# How many signature characters are hashed in one numpy pass: bounds the (permutations x
# shingles) work array to a few tens of MB.
_HASH_BATCH_CHARS = 1 << 16

_U64 = np.uint64
_FIVE_GRAM_MULTIPLIER = _U64(0x100000001B3)  # FNV-1a 64-bit prime, spreads code points apart


def lsh_parameters(threshold: float) -> tuple[int, int]:
    """(bands, rows per band) for a Jaccard threshold.

    The fewest permutations whose banding finds a pair at the threshold with probability at
    least ``LSH_TARGET_RECALL`` while a pair at half the threshold collides in at most
    ``LSH_MAX_CANDIDATE_RATE_AT_HALF`` of cases; if no budget within
    ``LSH_MAX_PERMUTATIONS`` does both, recall wins (low thresholds cost more verifications).
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    feasible: list[tuple[int, int, int, float]] = []  # (permutations, -rows, bands, false rate)
    for rows in range(1, LSH_MAX_PERMUTATIONS + 1):
        p_band = threshold ** rows
        if p_band >= 1.0:
            bands = 1
        else:
            bands = max(1, math.ceil(math.log(1.0 - LSH_TARGET_RECALL) / math.log1p(-p_band)))
        if bands * rows > LSH_MAX_PERMUTATIONS:
            continue
        false_rate = 1.0 - (1.0 - (threshold / 2) ** rows) ** bands
        feasible.append((bands * rows, -rows, bands, false_rate))
    if not feasible:  # a tiny threshold: one-row bands, as many as the budget allows
        return LSH_MAX_PERMUTATIONS, 1
    quiet = [choice for choice in feasible if choice[3] <= LSH_MAX_CANDIDATE_RATE_AT_HALF]
    if quiet:
        _, negative_rows, bands, _ = min(quiet)
    else:  # recall first; then the most rows per band, to keep chance collisions down
        _, negative_rows, bands, _ = min(feasible, key=lambda choice: choice[1])
    return bands, -negative_rows


def _five_gram_hashes(signatures: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes of the shingles of each signature, all in one array, and per signature the
    number of shingles. Each line of a signature gives its 5-grams (a shorter line is one
    shingle, padded with NULs, which never occur in a signature). Vectorised: the signatures are
    decoded to one array of code points and every 5-gram is hashed at once."""
    segments: list[str] = []
    segments_per_signature = np.zeros(len(signatures), dtype=np.int64)
    for index, signature in enumerate(signatures):
        if signature:
            parts = signature.split("\n")
            segments.extend(parts)
            segments_per_signature[index] = len(parts)
    if not segments:
        return np.zeros(0, dtype=np.uint32), np.zeros(len(signatures), dtype=np.int64)
    pad = "\0" * (SHINGLE_SIZE - 1)
    codes = np.frombuffer((pad.join(segments) + pad).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    lengths = np.fromiter(map(len, segments), dtype=np.int64, count=len(segments))
    segment_starts = np.concatenate(([0], np.cumsum(lengths + SHINGLE_SIZE - 1)[:-1]))
    shingles_per_segment = np.maximum(lengths - (SHINGLE_SIZE - 1), 1)
    first_shingle = np.cumsum(shingles_per_segment) - shingles_per_segment
    total = int(shingles_per_segment.sum())
    starts = (np.repeat(segment_starts - first_shingle, shingles_per_segment)
              + np.arange(total, dtype=np.int64))
    hashes = codes[starts].astype(_U64)
    for offset in range(1, SHINGLE_SIZE):
        hashes *= _FIVE_GRAM_MULTIPLIER
        hashes ^= codes[starts + offset]
    # splitmix64's finaliser: every input bit reaches the top 32 bits kept below.
    hashes ^= hashes >> _U64(30)
    hashes *= _U64(0xBF58476D1CE4E5B9)
    hashes ^= hashes >> _U64(27)
    hashes *= _U64(0x94D049BB133111EB)
    hashes ^= hashes >> _U64(31)
    segment_owner_ends = np.cumsum(segments_per_signature)
    shingle_ends = np.cumsum(shingles_per_segment)
    per_signature_end = np.where(segment_owner_ends > 0,
                                 shingle_ends[np.maximum(segment_owner_ends - 1, 0)], 0)
    shingle_counts = np.diff(np.concatenate(([0], per_signature_end)))
    return (hashes >> _U64(32)).astype(np.uint32), shingle_counts


def _minhash(shingle_hashes: np.ndarray, shingle_counts: np.ndarray,
             multipliers: np.ndarray, increments: np.ndarray) -> np.ndarray:
    """MinHash signatures, shape (signatures, permutations), uint32.

    Permutation k maps a shingle hash x to (a_k * x + b_k) mod 2**32 with a_k odd, a bijection
    of the 32-bit space, computed for all permutations and all shingles in one broadcast. On
    shingles that are already well hashed this is as good a min-wise family as
    (a x + b) mod prime (same mean and binomial spread of the Jaccard estimate, measured) and
    several times faster, since numpy's 64-bit modulo is slow. A signature with no shingles
    keeps the all-ones row and never reaches a band (see near_duplicate_clusters)."""
    result = np.full((len(shingle_counts), len(multipliers)), np.iinfo(np.uint32).max, dtype=np.uint32)
    has_shingles = shingle_counts > 0
    if not has_shingles.any():
        return result
    starts = (np.cumsum(shingle_counts) - shingle_counts)[has_shingles]
    permuted = multipliers[:, None] * shingle_hashes[None, :]
    permuted += increments[:, None]
    result[has_shingles] = np.minimum.reduceat(permuted, starts, axis=1).T
    return result


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, node: int) -> int:
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:  # path compression keeps later finds O(1)
            self.parent[node], node = root, self.parent[node]
        return root

    def union(self, first: int, second: int) -> None:
        first_root, second_root = self.find(first), self.find(second)
        if first_root != second_root:
            # the smaller position becomes the root, so roots are first members
            if second_root < first_root:
                first_root, second_root = second_root, first_root
            self.parent[second_root] = first_root


def _band_buckets(minhashes: np.ndarray, bands: int, rows: int, seed: int) -> Iterable[np.ndarray]:
    """For each band, the groups (ascending row indices, two or more) whose rows agree on it."""
    mixers = (np.random.default_rng([seed, 1]).integers(1, 2**63, size=rows, dtype=np.int64)
              .astype(_U64) | _U64(1))
    for band in range(bands):
        columns = minhashes[:, band * rows:(band + 1) * rows].astype(_U64)
        keys = (columns * mixers).sum(axis=1, dtype=_U64)  # a 64-bit key per band value
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        boundaries = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
        group_starts = np.concatenate(([0], boundaries))
        group_sizes = np.diff(np.concatenate((group_starts, [len(keys)])))
        for start, size in zip(group_starts[group_sizes > 1], group_sizes[group_sizes > 1]):
            yield order[start:start + size]


def near_duplicate_clusters(items: list[tuple[str, str]], *, threshold: float = 0.85,
                            on_progress: ProgressCallback = None, seed: int = 0) -> list[list[str]]:
    """Clusters (two or more ids) of near-duplicate texts among ``items`` = [(id, text), ...].

    Two items are linked when ``similarity`` of their texts is at least ``threshold``; clusters
    are the connected components. Items with the same signature text are linked at once; the
    distinct signatures go through MinHash with LSH banding, and every candidate pair the bands
    propose is verified with the exact Jaccard similarity, so a cluster never rests on an
    estimate. Ids keep their input order within a cluster and clusters are ordered by their
    first id. ``on_progress(n_done)`` reports items processed. Deterministic for a ``seed``.
    """
    bands, rows = lsh_parameters(threshold)
    permutations = bands * rows
    rng = np.random.default_rng(seed)
    multipliers = (rng.integers(0, 2**32, size=permutations, dtype=np.uint64) | 1).astype(np.uint32)
    increments = rng.integers(0, 2**32, size=permutations, dtype=np.uint64).astype(np.uint32)

    links = _UnionFind(len(items))
    first_position: dict[bytes, int] = {}  # signature digest -> first item position with it
    representative: list[int] = []  # item position of each distinct signature
    has_shingles: list[bool] = []  # per distinct signature: False for an empty one
    minhash_blocks: list[np.ndarray] = []
    batch: list[str] = []
    batch_chars = 0

    def hash_batch() -> None:
        nonlocal batch_chars
        if batch:
            shingle_hashes, shingle_counts = _five_gram_hashes(batch)
            minhash_blocks.append(_minhash(shingle_hashes, shingle_counts, multipliers, increments))
            batch.clear()
            batch_chars = 0

    for position, (_, text) in enumerate(items):
        signature = duplicate_signature_text(text)
        # A 16-byte digest instead of the text keeps memory flat at 100,000 long queries.
        digest = hashlib.blake2b(signature.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        first = first_position.setdefault(digest, position)
        if first != position:
            links.union(first, position)  # identical signatures: similarity 1.0
        else:
            representative.append(position)
            has_shingles.append(bool(signature))
            batch.append(signature)
            batch_chars += len(signature)
            if batch_chars >= _HASH_BATCH_CHARS:
                hash_batch()
        if on_progress is not None and (position + 1) % PROGRESS_EVERY == 0:
            on_progress(position + 1)
    hash_batch()
    del first_position

    if len(representative) > 1:
        minhashes = np.concatenate(minhash_blocks)
        # An empty signature (no words at all) can only equal another one: handled above.
        in_bands = np.flatnonzero(np.array(has_shingles, dtype=bool))
        _link_verified_candidates(items, representative, minhashes[in_bands], in_bands,
                                  bands, rows, threshold, links, seed)
    if on_progress is not None:
        on_progress(len(items))

    members: dict[int, list[int]] = {}
    for position in range(len(items)):
        members.setdefault(links.find(position), []).append(position)
    clusters = [positions for positions in members.values() if len(positions) > 1]
    clusters.sort(key=lambda positions: positions[0])
    return [[items[position][0] for position in positions] for positions in clusters]


def _link_verified_candidates(items: list[tuple[str, str]], representative: list[int],
                              minhashes: np.ndarray, rows_to_distinct: np.ndarray, bands: int,
                              rows: int, threshold: float, links: _UnionFind, seed: int) -> None:
    @functools.lru_cache(maxsize=8192)
    def shingles_of(distinct: int) -> frozenset[str]:
        # Recomputed for candidates only (a small share): cheaper than keeping 100,000 sets.
        return shingle_set(duplicate_signature_text(items[representative[distinct]][1]))

    rejected: set[tuple[int, int]] = set()
    first_row = {distinct: row for row, distinct in enumerate(rows_to_distinct.tolist())}
    for group in _band_buckets(minhashes, bands, rows, seed):
        distinct_ids = rows_to_distinct[group].tolist()
        for i, first in enumerate(distinct_ids):
            for second in distinct_ids[i + 1:]:
                first_item, second_item = representative[first], representative[second]
                if links.find(first_item) == links.find(second_item):
                    continue  # already in one cluster: this pair cannot change the result
                if (first, second) in rejected:
                    continue
                # The MinHash estimate over all permutations is a cheap first filter: 0.2 below the
                # threshold is about four standard errors, so no true pair is lost in practice.
                if np.count_nonzero(minhashes[first_row[first]] == minhashes[first_row[second]]) \
                        < (threshold - 0.2) * minhashes.shape[1]:
                    rejected.add((first, second))
                    continue
                if jaccard(shingles_of(first), shingles_of(second)) >= threshold:
                    links.union(first_item, second_item)
                else:
                    rejected.add((first, second))

