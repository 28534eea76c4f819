"""Set-valued labels (the multilabel level): Jaccard similarity and the MASI distance, for one pair
of sets and, vectorised, between the distinct sets of a coded domain.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def jaccard_similarity(a: frozenset | set, b: frozenset | set) -> float:
    """|A & B| / |A | B|; two empty sets count as identical (1.0)."""
    union = len(a | b)
    return 1.0 if union == 0 else len(a & b) / union


def masi_distance(a: frozenset | set, b: frozenset | set) -> float:
    """MASI distance (Passonneau 2006): 1 - J * M.

    J is the Jaccard similarity and M the monotonicity weight: 1 when the sets are equal, 2/3 when
    one is a subset of the other, 1/3 when they overlap otherwise and 0 when they are disjoint.
    Passonneau defines M as these fractions; NLTK's masi_distance rounds them to 0.67 and 0.33,
    so NLTK's values differ from these in the third decimal. Two empty sets are equal (0); the
    empty set is at 1 from any non-empty set (J = 0). DKPro Agreement's class of the same name
    computes (1 - J) * (1 - M) instead, which puts the empty set at 1/3 from any set.
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


class SetGeometry:
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
