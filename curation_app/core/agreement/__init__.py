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
  (see the measure functions). None, NaN and blank text are missing too, but an empty label set is
  a rating: MASI puts it at 0 from another empty set and at 1 from any other (Passonneau 2006).
* Python's True == 1 would merge true/false values with numbers in any hash table, so a column
  mixing the two kinds is refused with the ratings that show it; numbers compare by value (1, 1.0).
* A measure that is undefined on the data is None (NaN inside numpy code) with a reason; it is
  never reported as 0.0 or 1.0.

- ``ratings``: levels, RatingsError, reading a ratings CSV and parsing its values;
- ``label_sets``: Jaccard similarity and MASI distance between label sets;
- ``coding``: ratings as integer arrays over an ordered value domain;
- ``profiles``: item profiles and their per-profile statistics;
- ``measures``: the measures, their point estimates and krippendorff_alpha;
- ``bootstrap``: the seeded bootstrap intervals;
- ``report``: agreement_report;
- ``pairs``: annotator pairs, confusion matrices, agreement with reference labels.
"""

from curation_app.core.agreement.label_sets import jaccard_similarity, masi_distance
from curation_app.core.agreement.measures import MEASURES, NO_PAIRABLE_ITEMS, krippendorff_alpha
from curation_app.core.agreement.pairs import agreement_with_reference, confusion_matrix, pairwise_matrix
from curation_app.core.agreement.ratings import LEVELS, RatingsError, read_ratings_csv
from curation_app.core.agreement.report import agreement_report

__all__ = [
    "LEVELS",
    "MEASURES",
    "NO_PAIRABLE_ITEMS",
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
