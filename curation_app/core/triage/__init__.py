"""Code-aware triage: near-duplicate queries, benchmark contamination, secrets and personal data.

Plain functions over plain data (numpy and the standard library only): the callers load the
queries and store what these functions report. Every result is a suggestion for a person to
review, so each one carries the evidence (the cluster members, the overlapping text, the span).

- ``signature``: the code-aware signature text, its shingles and their similarity;
- ``near_duplicates``: clusters of near-duplicates via MinHash and LSH banding;
- ``contamination``: benchmark files and word n-gram overlap with them;
- ``sensitive_data``: credentials and personal data;
- ``context``: the text around a hit, secrets masked, for judging it in place;
- ``coding_queries``: the coding-query score (rules, and a model from final labels) and the filter
  on it (``coding_filter``, ``coding_only``); imported by name, as it reads settings and final labels;
- ``database``: running the checks over the stored queries and a lead's decisions on their flags.
"""

from curation_app.core.triage.context import differences, mask_secret, overlap_context, secret_contexts
from curation_app.core.triage.contamination import (
    BENCHMARK_ID_FIELDS,
    BENCHMARK_TEXT_FIELDS,
    NgramIndex,
    contamination,
    read_benchmark_file,
)
from curation_app.core.triage.near_duplicates import (
    LSH_MAX_CANDIDATE_RATE_AT_HALF,
    LSH_MAX_PERMUTATIONS,
    LSH_TARGET_RECALL,
    NearDuplicateFinder,
    lsh_parameters,
    near_duplicate_clusters,
)
from curation_app.core.triage.progress import PROGRESS_EVERY, ProgressCallback
from curation_app.core.triage.sensitive_data import find_secrets
from curation_app.core.triage.signature import CODE_KEYWORDS, SHINGLE_SIZE, duplicate_signature_text, similarity

__all__ = [
    "BENCHMARK_ID_FIELDS",
    "BENCHMARK_TEXT_FIELDS",
    "CODE_KEYWORDS",
    "LSH_MAX_CANDIDATE_RATE_AT_HALF",
    "LSH_MAX_PERMUTATIONS",
    "LSH_TARGET_RECALL",
    "SHINGLE_SIZE",
    "PROGRESS_EVERY",
    "NearDuplicateFinder",
    "NgramIndex",
    "ProgressCallback",
    "contamination",
    "differences",
    "duplicate_signature_text",
    "find_secrets",
    "lsh_parameters",
    "mask_secret",
    "near_duplicate_clusters",
    "overlap_context",
    "read_benchmark_file",
    "secret_contexts",
    "similarity",
]
