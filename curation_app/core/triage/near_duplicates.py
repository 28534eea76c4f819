"""Near-duplicate clusters: MinHash with LSH banding, exact verification, union-find.

Candidate pairs come from MinHash with LSH banding, so a million queries never meet all-pairs
comparison; every candidate is then verified with the exact Jaccard similarity of the
signatures' shingle sets before two queries are linked. `NearDuplicateFinder` takes the texts in
batches and keeps only compact arrays per text (a signature digest and a MinHash row), so the
texts can be streamed from a database and hashed in several processes (`hash_texts`).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Sequence

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
    """Union-find over the positions that were ever linked (a dict, so a million positions that
    are mostly alone cost nothing); the smallest position of a cluster is its root."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, node: int) -> int:
        parent = self.parent
        root = node
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(node, node) != root:  # path compression keeps later finds O(1)
            parent[node], node = root, parent[node]
        return root

    def union(self, first: int, second: int) -> None:
        first_root, second_root = self.find(first), self.find(second)
        if first_root != second_root:
            if second_root < first_root:
                first_root, second_root = second_root, first_root
            self.parent[second_root] = first_root
            self.parent.setdefault(first_root, first_root)

    def clusters(self) -> list[list[int]]:
        """Every cluster of two or more positions, ascending, ordered by their first position."""
        members: dict[int, list[int]] = {}
        for position in sorted(self.parent):
            members.setdefault(self.find(position), []).append(position)
        return sorted((positions for positions in members.values() if len(positions) > 1),
                      key=lambda positions: positions[0])


# Candidate pairs whose MinHash agreement is counted in one numpy pass (bounds a work array of
# pairs x permutations to about 10 MB).
_PAIR_BLOCK = 50_000
# Candidate pairs verified together, their texts fetched at once: the shingle sets of a
# thousand texts take about 50 MB (Python strings in frozensets), so this bounds memory.
_VERIFY_BLOCK = 500


def hash_texts(texts: Sequence[str], permutations: tuple[np.ndarray, np.ndarray]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What `NearDuplicateFinder` keeps of each text: a 16-byte digest of its signature
    ((texts, 2) uint64), whether the signature has any shingle, and its MinHash row ((texts,
    permutations) uint32). A plain function of the texts, so batches can be hashed in parallel."""
    multipliers, increments = permutations
    signatures = [duplicate_signature_text(text) for text in texts]
    # A 16-byte digest instead of the signature keeps memory flat at a million long queries.
    digests = b"".join(hashlib.blake2b(signature.encode("utf-8", "surrogatepass"), digest_size=16).digest()
                       for signature in signatures)
    blocks, start = [], 0
    while start < len(signatures):  # a few tens of MB of (permutations x shingles) at a time
        end, chars = start, 0
        while end < len(signatures) and (chars < _HASH_BATCH_CHARS or end == start):
            chars += len(signatures[end])
            end += 1
        shingle_hashes, shingle_counts = _five_gram_hashes(signatures[start:end])
        blocks.append(_minhash(shingle_hashes, shingle_counts, multipliers, increments))
        start = end
    minhashes = (np.concatenate(blocks) if len(blocks) > 1 else blocks[0]) if blocks else \
        np.zeros((0, len(multipliers)), dtype=np.uint32)
    return (np.frombuffer(digests, dtype=np.uint64).reshape(-1, 2),
            np.fromiter(map(bool, signatures), dtype=bool, count=len(signatures)), minhashes)


class NearDuplicateFinder:
    """Near-duplicate clusters over texts that arrive in batches (a million queries read from a
    database in chunks): `add` each batch, then `clusters` once.

    Kept per text: a 16-byte digest of its signature and its MinHash row (uint32 per
    permutation, 192 bytes at the default threshold), never the text: `clusters` asks for the
    texts of the candidate pairs only, to verify them with the exact Jaccard similarity.
    """

    def __init__(self, *, threshold: float = 0.85, seed: int = 0) -> None:
        self.threshold = threshold
        self.seed = seed
        self.bands, self.rows = lsh_parameters(threshold)
        rng = np.random.default_rng(seed)
        permutations = self.bands * self.rows
        self._multipliers = (rng.integers(0, 2**32, size=permutations, dtype=np.uint64) | 1).astype(np.uint32)
        self._increments = rng.integers(0, 2**32, size=permutations, dtype=np.uint64).astype(np.uint32)
        self._digests: list[np.ndarray] = []  # per batch, (texts, 2) uint64
        self._minhashes: list[np.ndarray] = []  # per batch, (texts, permutations) uint32
        self._shingled: list[np.ndarray] = []  # per batch: whether the signature has any shingle
        self.count = 0

    def add(self, texts: Sequence[str]) -> None:
        """Add texts; their positions follow those of earlier batches."""
        self.add_hashed(hash_texts(texts, self.permutations()))

    def permutations(self) -> tuple[np.ndarray, np.ndarray]:
        """The MinHash permutations (multipliers, increments), for `hash_texts` in another process."""
        return self._multipliers, self._increments

    def add_hashed(self, hashed: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        """Add texts as `hash_texts` gave them, with these permutations."""
        digests, shingled, minhashes = hashed
        self._digests.append(digests)
        self._shingled.append(shingled)
        self._minhashes.append(minhashes)
        self.count += len(digests)

    def clusters(self, texts_of: Callable[[list[int]], list[str]]) -> list[list[int]]:
        """Clusters (ascending positions, two or more) ordered by their first position.
        `texts_of(positions)` gives the texts at those positions, in that order."""
        links = _UnionFind()
        if not self.count:
            return []
        digests = np.concatenate(self._digests)
        shingled = np.concatenate(self._shingled)
        minhashes = np.concatenate(self._minhashes) if len(self._minhashes) > 1 else self._minhashes[0]
        self._digests, self._minhashes, self._shingled = [], [], []
        # Identical signatures: similarity 1.0, linked at once; the first of each goes on.
        order = np.lexsort((digests[:, 1], digests[:, 0]))  # stable: equal digests keep position order
        ordered = digests[order]
        same_as_previous = np.concatenate(([False], (ordered[1:] == ordered[:-1]).all(axis=1)))
        group_first = order[np.maximum.accumulate(np.where(same_as_previous, 0, np.arange(len(order))))]
        for position, first in zip(order[same_as_previous].tolist(), group_first[same_as_previous].tolist()):
            links.union(first, position)
        is_first = np.ones(self.count, dtype=bool)
        is_first[order[same_as_previous]] = False
        del digests, order, ordered, same_as_previous, group_first
        # An empty signature (no words at all) can only equal another one: handled above.
        in_bands = np.flatnonzero(is_first & shingled)
        if len(in_bands) > 1:
            pairs = self._candidate_pairs(minhashes, in_bands)
            self._verify(pairs, texts_of, links)
        return links.clusters()

    def _candidate_pairs(self, minhashes: np.ndarray, in_bands: np.ndarray) -> np.ndarray:
        """Pairs (first < second positions) that share a band and whose MinHash agreement over
        every permutation passes the first filter, without repeats, as an (n, 2) int64 array.
        The estimate 0.2 below the threshold is about four standard errors: no true pair is
        lost in practice, and the exact check decides."""
        needed = (self.threshold - 0.2) * minhashes.shape[1]
        found: list[np.ndarray] = []
        pending: list[np.ndarray] = []
        pending_count = 0

        def estimate() -> None:
            nonlocal pending_count
            if pending:
                pairs = np.concatenate(pending)
                for start in range(0, len(pairs), _PAIR_BLOCK):
                    block = pairs[start:start + _PAIR_BLOCK]
                    agreeing = np.count_nonzero(minhashes[block[:, 0]] == minhashes[block[:, 1]], axis=1)
                    found.append(block[agreeing >= needed])
                pending.clear()
                pending_count = 0

        for group in _band_buckets(minhashes, in_bands, self.bands, self.rows, self.seed):
            size = len(group)
            first, second = np.triu_indices(size, 1)
            pending.append(np.stack((group[first], group[second]), axis=1))
            pending_count += len(first)
            if pending_count >= _PAIR_BLOCK:
                estimate()
        estimate()
        if not found:
            return np.zeros((0, 2), dtype=np.int64)
        return np.unique(np.concatenate(found), axis=0)  # sorted: by first position, then second

    def _verify(self, pairs: np.ndarray, texts_of: Callable[[list[int]], list[str]], links: _UnionFind) -> None:
        for start in range(0, len(pairs), _VERIFY_BLOCK):
            block = pairs[start:start + _VERIFY_BLOCK].tolist()
            pending = [(a, b) for a, b in block if links.find(a) != links.find(b)]
            if not pending:
                continue  # already in one cluster: these pairs cannot change the result
            positions = sorted({p for pair in pending for p in pair})
            shingles = {position: shingle_set(duplicate_signature_text(text))
                        for position, text in zip(positions, texts_of(positions))}
            for first, second in pending:
                if links.find(first) != links.find(second) and \
                        jaccard(shingles[first], shingles[second]) >= self.threshold:
                    links.union(first, second)


def _band_buckets(minhashes: np.ndarray, rows_in_bands: np.ndarray, bands: int, rows: int,
                  seed: int) -> Iterable[np.ndarray]:
    """For each band, the groups (ascending positions, two or more) of `rows_in_bands` whose
    MinHash rows agree on it."""
    mixers = (np.random.default_rng([seed, 1]).integers(1, 2**63, size=rows, dtype=np.int64)
              .astype(_U64) | _U64(1))
    for band in range(bands):
        columns = minhashes[rows_in_bands, band * rows:(band + 1) * rows].astype(_U64)
        keys = (columns * mixers).sum(axis=1, dtype=_U64)  # a 64-bit key per band value
        del columns
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        boundaries = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
        group_starts = np.concatenate(([0], boundaries))
        group_sizes = np.diff(np.concatenate((group_starts, [len(keys)])))
        for start, size in zip(group_starts[group_sizes > 1].tolist(), group_sizes[group_sizes > 1].tolist()):
            yield rows_in_bands[order[start:start + size]]


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
    finder = NearDuplicateFinder(threshold=threshold, seed=seed)
    for start in range(0, len(items), PROGRESS_EVERY):
        finder.add([text for _, text in items[start:start + PROGRESS_EVERY]])
        if on_progress is not None and finder.count % PROGRESS_EVERY == 0:
            on_progress(finder.count)
    clusters = finder.clusters(lambda positions: [items[position][1] for position in positions])
    if on_progress is not None:
        on_progress(len(items))
    return [[items[position][0] for position in positions] for positions in clusters]
