"""Code-aware triage: near-duplicate queries, benchmark contamination, secrets and personal data.

Plain functions over plain data (numpy and the standard library only): the callers load the
queries and store what these functions report. Every result is a suggestion for a person to
review, so each one carries the evidence (the cluster members, the overlapping text, the span).

Near-duplicates
    Each text is reduced to a *signature text* (lower case, punctuation dropped, white space
    collapsed, greetings and politeness phrases dropped, and inside code every identifier that
    is not a keyword replaced by ``v`` and every literal by a placeholder), cut into character
    5-grams, and compared by the Jaccard similarity of those sets. Candidate pairs come from
    MinHash with LSH banding, so 100,000 queries never meet all-pairs comparison; every candidate
    is then verified with the exact Jaccard similarity before two queries are linked.

Contamination
    Word n-gram overlap (CodeArena used n = 10) between a query and the items of public
    benchmarks, with the overlapping run of the query's own text as evidence.

Secrets
    Regular expressions for the common credential formats, e-mail addresses and phone numbers,
    tuned to stay quiet on ordinary coding questions (placeholders, versions, dates, IPs).
"""

from __future__ import annotations

import functools
import hashlib
import gzip
import json
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

ProgressCallback = Callable[[int], None] | None

# ---------------------------------------------------------------------------------------------
# Signature text
# ---------------------------------------------------------------------------------------------

# Words that carry meaning in code and are the same whatever the author named things: keywords
# and the most common built-ins and types of the languages users paste. Everything else in code
# becomes "v", so renaming variables cannot hide a duplicate. Words that are also everyday
# variable names (count, index, key, values, start/end, left/right, limit, match, head, src,
# log, done ...) are left out on purpose: renaming them must not change the signature.
CODE_KEYWORDS: frozenset[str] = frozenset("""
    abstract and any append as assert async auto await bool boolean break byte case catch chan
    char class const continue crate def default defer del delete dict do double dyn elif else
    endif enum enumerate err except export extends extern false final finally float fn for
    foreach from func function global go goto if impl implements import in include
    instanceof int interface is isinstance lambda len let list long loop map mut namespace new
    nil none nonlocal not null nullptr ok or override package pass print printf println private
    protected pub public raise range readonly require return self sizeof some sorted static str
    string struct super switch template then this throw throws trait true try tuple type typedef
    typename typeof uint undefined union unsafe unsigned use using var vec virtual void volatile
    where while with yield zip
    console document window exports std cout cin endl fmt echo fi esac
    select insert into update set create alter drop join inner outer on by having distinct
    primary foreign references html div
""".split())

# Greetings, thanks and politeness that users add or drop when they resend a question; they say
# nothing about the task, so they must not make two copies of a question look different.
_POLITENESS_PHRASES = (
    r"(?:hi|hello|hey|dear|greetings|good (?:morning|afternoon|evening))"
    r"(?: (?:there|all|everyone|team|guys|folks|friend|sir|assistant|chatgpt|gpt|bot))?",
    r"(?:thanks|thank you|thx|ty|cheers)(?: (?:so|very) much| a lot| in advance)?",
    r"(?:any|your) help (?:is |would be |will be )?(?:much |greatly |really )?appreciated",
    r"(?:much|greatly|really) appreciated", r"in advance", r"quick question", r"if possible",
    r"please", r"pls", r"plz", r"kindly", r"sir",
    r"(?:can|could|would|will) (?:you|u)(?: please)?", r"would you mind", r"help me",
    r"i (?:need|want|would like|'d like) you to", r"i need (?:some )?help(?: with this)?",
    r"i hope you can help", r"for me",
)
_POLITENESS = re.compile(
    r"\b(?:" + "|".join(phrase.replace(" ", r"\s+") for phrase in _POLITENESS_PHRASES) + r")\b")

# The request verbs people swap most when they re-ask for the same code ("write" / "create" /
# "make" / "generate" a function ...). Kept to words whose variants mean the same in a coding
# request; a general synonym table would start merging different questions.
_CANONICAL_WORDS: dict[str, str] = {
    variant: canonical
    for canonical, variants in {
        "write": "create make generate build implement develop construct produce",
        "writing": "creating making generating building implementing developing constructing",
        "use": "utilize utilise employ",
        "using": "utilizing utilising employing",
        "fix": "correct repair",
        "explain": "describe clarify",
    }.items()
    for variant in variants.split()
}

_WORD = re.compile(r"\w+")

# A line outside a fence "looks like code" when it has one of these shapes. Each alternative is
# something ordinary prose almost never does at the start or end of a line.
_CODE_LINE = re.compile(
    r"""^\s*(?:
          (?:def|class|import|from\s+[\w.]+\s+import|elif|except|try\s*:|finally\s*:|else\s*:
            |return\s*[\w\[({'"-]*\s*;?\s*$|return\s+[\w.]+\s*[(\[.+\-*/<>=!]|raise\s|yield\s
            |lambda\s|async\s+def|await\s|public\s|private\s|protected\s|static\s|void\s
            |\#include|\#define|\#!|using\s+namespace|package\s+[\w.]+\s*;|func\s+\w|fn\s+\w
            |let\s+(?:mut\s+)?\w+\s*[:=]|const\s+\w+\s*[:=]|var\s+\w+\s*[:=]
            |function\s*\w*\s*\(|impl\b|struct\s+\w|enum\s+\w|interface\s+\w
            |if\s*\(|for\s*\(|while\s*\(|switch\s*\(|}\s*else|echo\s|sudo\s|export\s+\w+=
            |.*;\s*(?:do|then)\b
            |for\s+\w+(?:\s*,\s*\w+)*\s+in\s+\S.*:\s*$
            |(?:if|elif|while|with)\s+[^:]*(?:==|!=|<=|>=|<|>|\(|\.|\[)[^:]*:\s*$
            |select\s+.+\s+from\s|insert\s+into\s|update\s+\w+\s+set\s
            |create\s+(?:table|index|view|or\s+replace)\s|@\w+(?:\(|\s*$)
            |[})\]]+[;,]?\s*$|</?[a-z][\w-]*(?:\s[^<>]*)?/?>)
        | [$@]?[\w.\[\]'"]+\s*(?:[-+*/%|&^]|<<|>>|\*\*|//)?=(?!=)\s*\S  # assignment
        | [\w.]+\s*\(.*\)\s*;?\s*$                                   # a bare call
        )""",
    re.VERBOSE)
# ...or a line that ends like a statement or opens a block (checked without a regex: cheaper).
_CODE_LINE_ENDINGS = (";", "{", "(", "[", "=>")

_CODE_TOKEN = re.compile(
    r"""(?P<comment>(?://|\#(?=\s|$)|--\s).*$)
      | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\\n]|\\.)*`)
      | (?P<number>\b\d\w*(?:\.\d\w*)?(?:(?<=e)[+-]\d+)?)        # 42, 0x1f, 1.5e-3, 500ms
      | (?P<member>(?<=\.)[^\W\d]\w*)
      | (?P<word>[^\W\d]\w*)
    """,
    re.VERBOSE)

_MAX_SANDWICHED = 3


def _looks_like_code(line: str) -> bool:
    return line.rstrip().endswith(_CODE_LINE_ENDINGS) or _CODE_LINE.match(line) is not None


def _code_segment(line: str) -> str:
    """A code line as keywords, API names, ``v`` for other names, ``s`` for strings, ``0`` for
    numbers, and the words of a trailing comment as written (comments are prose)."""
    tokens: list[str] = []
    previous_word = ""
    for match in _CODE_TOKEN.finditer(line):
        kind = match.lastgroup
        word = match.group()
        if kind == "word":
            tokens.append(word if word in CODE_KEYWORDS else "v")
        elif kind == "member":
            # obj.method(): the method is an API name and survives renaming; self.field is the
            # author's own name and does not.
            tokens.append("v" if previous_word in ("self", "this") else word)
        elif kind == "string":
            tokens.append("s")
        elif kind == "number":
            tokens.append("0")
        else:
            tokens.extend(_WORD.findall(word))
        previous_word = word
    return " ".join(tokens)


def _classify_lines(lines: list[str], is_fence: list[bool]) -> list[bool]:
    """True for each line treated as code.

    A line is code when it looks like code, or when it is one of at most
    ``_MAX_SANDWICHED`` non-code lines between code lines of the same block of consecutive
    lines (a closing ``)``, a string continued over lines, a struct field). Inside a fence that
    mostly holds code every line is code; a fence around a log, program output or data keeps
    the line-by-line judgement, so a log reads as words. Because a fence only confirms what its
    lines already look like, adding or removing a fence around code changes (almost) nothing.
    """
    is_code = [not fence and _looks_like_code(line) for line, fence in zip(lines, is_fence)]
    # Fenced blocks that mostly hold code are code throughout.
    opening: int | None = None
    for index, fence in enumerate(is_fence):
        if not fence:
            continue
        if opening is None:
            opening = index
            continue
        body = [i for i in range(opening + 1, index) if lines[i].strip()]
        if body and sum(is_code[i] for i in body) * 2 >= len(body):
            for i in body:
                is_code[i] = True
        opening = None
    # Short runs of non-code lines sandwiched between code lines of one block become code.
    # Fence lines are transparent here, so a fence never decides what its neighbours are.
    content = [i for i, fence in enumerate(is_fence) if not fence]
    k = 0
    while k < len(content):
        index = content[k]
        if is_code[index] or not lines[index].strip():
            k += 1
            continue
        run_end = k
        while (run_end < len(content) and not is_code[content[run_end]]
               and lines[content[run_end]].strip()):
            run_end += 1
        if (k > 0 and is_code[content[k - 1]] and run_end < len(content)
                and is_code[content[run_end]] and run_end - k <= _MAX_SANDWICHED):
            for i in content[k:run_end]:
                is_code[i] = True
        k = run_end
    return is_code


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")  # "e.g. x" splits too, but the same way in every copy


def duplicate_signature_text(text: str) -> str:
    """What near-duplicate detection compares: one line per prose sentence and per code line.

    Lower case, white space collapsed, punctuation dropped, greetings and politeness dropped.
    Code (fenced blocks and lines that look like code) keeps its keywords, its API names
    (``obj.method``) and its comments; every other identifier becomes ``v``, every string
    literal ``s`` and every number ``0``, so renamed variables and changed test values do not
    hide a duplicate. Fence markers and their language tags are dropped, so adding or removing a
    fence changes nothing for lines that look like code. Prose is re-joined across line breaks
    and split into sentences, so re-wrapping a paragraph changes nothing; shingles never cross
    a line of the signature, so reordering sentences changes nothing either.
    """
    # NFKC folds full-width letters and ligatures; lower() makes case changes invisible.
    lines = unicodedata.normalize("NFKC", text).lower().splitlines()
    is_fence = [line.lstrip().startswith(("```", "~~~")) for line in lines]
    segments: list[str] = []
    prose_run: list[str] = []

    def flush_prose() -> None:
        if prose_run:
            for sentence in _SENTENCE_END.split(_POLITENESS.sub(" ", " ".join(prose_run))):
                words = [_CANONICAL_WORDS.get(word, word) for word in _WORD.findall(sentence)]
                if words:
                    segments.append(" ".join(words))
            prose_run.clear()

    for line, fence, is_code in zip(lines, is_fence, _classify_lines(lines, is_fence)):
        if fence:
            continue
        if is_code:
            flush_prose()
            segment = _code_segment(line)
            if segment:
                segments.append(segment)
        else:
            prose_run.append(line)
    flush_prose()
    return "\n".join(segments)


# ---------------------------------------------------------------------------------------------
# Shingles and similarity
# ---------------------------------------------------------------------------------------------

# Character 5-grams rather than word 3-grams: real queries are short (Arena-Hard's median is 136
# characters, about 22 words), and one changed word removes 3 of ~20 word 3-grams (similarity
# drops to ~0.74) but only ~10 of ~130 character 5-grams (~0.86). Character shingles also
# tolerate typos, plurals and split or joined words.
SHINGLE_SIZE = 5


def _shingle_set(signature: str) -> frozenset[str]:
    """Character 5-grams of each line of a signature; a line shorter than that is one shingle."""
    shingles: set[str] = set()
    for segment in signature.split("\n"):
        if len(segment) <= SHINGLE_SIZE:
            if segment:
                shingles.add(segment)
        else:
            shingles.update(segment[i:i + SHINGLE_SIZE] for i in range(len(segment) - SHINGLE_SIZE + 1))
    return frozenset(shingles)


def _jaccard(first: frozenset[str], second: frozenset[str]) -> float:
    if not first and not second:
        return 1.0  # two texts with nothing comparable in them have identical (empty) signatures
    if not first or not second:
        return 0.0
    shared = len(first & second)
    return shared / (len(first) + len(second) - shared)


def similarity(a: str, b: str) -> float:
    """Exact Jaccard similarity of the character 5-gram sets of the two signature texts."""
    return _jaccard(_shingle_set(duplicate_signature_text(a)),
                    _shingle_set(duplicate_signature_text(b)))


# ---------------------------------------------------------------------------------------------
# Near-duplicate clusters: MinHash + LSH banding, exact verification, union-find
# ---------------------------------------------------------------------------------------------

# Recall asked of the LSH step for a pair exactly at the threshold (pairs above it do better).
LSH_TARGET_RECALL = 0.97
LSH_MAX_PERMUTATIONS = 128
# Keep chance collisions of clearly different pairs rare: at half the threshold a pair should
# become a candidate at most this often. Real queries mostly sit below 0.05 of each other.
LSH_MAX_CANDIDATE_RATE_AT_HALF = 0.05
# How many signature characters are hashed in one numpy pass: bounds the (permutations x
# shingles) work array to a few tens of MB.
_HASH_BATCH_CHARS = 1 << 16
_PROGRESS_EVERY = 1000

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
        if on_progress is not None and (position + 1) % _PROGRESS_EVERY == 0:
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
        return _shingle_set(duplicate_signature_text(items[representative[distinct]][1]))

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
                if _jaccard(shingles_of(first), shingles_of(second)) >= threshold:
                    links.union(first_item, second_item)
                else:
                    rejected.add((first, second))


# ---------------------------------------------------------------------------------------------
# Benchmark files and contamination
# ---------------------------------------------------------------------------------------------

BENCHMARK_ID_FIELDS = ("task_id", "id", "question_id", "problem_id")
BENCHMARK_TEXT_FIELDS = ("prompt", "question", "problem", "text", "content", "instruction")


def read_benchmark_file(path: str | Path, *, text_field: str | None = None) -> list[tuple[str, str]]:
    """(item id, text) for each line of a JSONL or gzipped JSONL benchmark file.

    The id is the first of task_id / id / question_id / problem_id, else the line number; the
    text is ``text_field`` when given, else the first of prompt / question / problem / text /
    content / instruction that holds a string. For HumanEval that is the prompt alone (signature
    and docstring), which is what a user would paste; the solution and tests are not user text.
    Blank lines are skipped. Raises ValueError naming the file and line of any bad line (and
    the file when it is not valid gzip), FileNotFoundError when there is no such file.
    """
    path = Path(path)
    with open(path, "rb") as handle:
        compressed = handle.read(2) == b"\x1f\x8b"  # gzip magic: trust content over the suffix
    opener = gzip.open if compressed else open
    items: list[tuple[str, str]] = []
    try:
        with opener(path, "rb") as handle:
            for line_number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                items.append(_benchmark_item(raw, path, line_number, text_field))
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ValueError(f"{path}: cannot read the file: {exc}") from exc
    return items


def _benchmark_item(raw: bytes, path: Path, line_number: int,
                    text_field: str | None) -> tuple[str, str]:
    where = f"{path}, line {line_number}"
    try:
        record = json.loads(raw.decode("utf-8-sig" if line_number == 1 else "utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where}: not valid UTF-8 (byte {exc.start + 1})") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: invalid JSON: {exc.msg} (column {exc.colno})") from exc
    except RecursionError as exc:
        raise ValueError(f"{where}: invalid JSON: nested too deeply") from exc
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
    item_id = next((record[field] for field in BENCHMARK_ID_FIELDS
                    if isinstance(record.get(field), (str, int)) and not isinstance(record.get(field), bool)),
                   line_number)
    if text_field is not None:
        if text_field not in record:
            raise ValueError(f"{where}: no field {text_field!r} (fields: {', '.join(map(str, record))})")
        text = record[text_field]
        if not isinstance(text, str):
            raise ValueError(f"{where}: field {text_field!r} is {type(text).__name__}, not text")
    else:
        text = next((record[field] for field in BENCHMARK_TEXT_FIELDS
                     if isinstance(record.get(field), str)), None)
        if text is None:
            raise ValueError(f"{where}: no text field (looked for {', '.join(BENCHMARK_TEXT_FIELDS)}; "
                             f"pass text_field to name another)")
    return str(item_id), text


# Words for n-gram overlap: runs of \w, lower-cased, so prose and code tokenise the same way
# and punctuation, indentation and line breaks do not matter.
_NGRAM_WORD = re.compile(r"\w+")
_EVIDENCE_CHARS = 300
_UNKNOWN_WORD = 0  # id of words no benchmark contains: an n-gram with one cannot match


class NgramIndex:
    """Word n-grams of benchmark items, hashed, for finding queries that contain them.

    Stores one 64-bit hash per distinct n-gram of an item, which keeps large benchmarks small
    (CodeArena's check used n = 10). A query's n-grams are hashed the same way, so a lookup is a
    vectorised search; the overlap reported is the number of distinct n-grams shared. Two
    different n-grams of known words share a hash with probability about 2**-63.
    """

    def __init__(self, n: int = 10) -> None:
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        self.n = n
        self._word_ids: dict[str, int] = {}
        self._items: list[tuple[str, str]] = []  # (benchmark, item id)
        self._pending_hashes: list[np.ndarray] = []
        self._pending_items: list[np.ndarray] = []
        self._keys = np.zeros(0, dtype=np.uint64)  # sorted distinct n-gram hashes
        self._posting_starts = np.zeros(1, dtype=np.int64)
        self._postings = np.zeros(0, dtype=np.int64)  # item indices, grouped by key
        # Fixed odd multipliers: the hash of an n-gram is sum(word_id[j] * multiplier[j]) mod 2**64.
        self._multipliers = (np.random.default_rng(20241205).integers(1, 2**63, size=n, dtype=np.int64)
                             .astype(np.uint64) | np.uint64(1))

    def __len__(self) -> int:
        return len(self._items)

    def add(self, benchmark: str, item_id: str, text: str) -> None:
        words = [word.lower() for word in _NGRAM_WORD.findall(text)]
        ids = np.fromiter((self._word_ids.setdefault(word, len(self._word_ids) + 1) for word in words),
                          dtype=np.uint64, count=len(words))
        hashes = np.unique(self._window_hashes(ids))
        self._items.append((benchmark, item_id))
        self._pending_hashes.append(hashes)
        self._pending_items.append(np.full(len(hashes), len(self._items) - 1, dtype=np.int64))

    def _window_hashes(self, ids: np.ndarray) -> np.ndarray:
        if len(ids) < self.n:
            return np.zeros(0, dtype=np.uint64)
        windows = len(ids) - self.n + 1
        hashes = np.zeros(windows, dtype=np.uint64)
        for offset in range(self.n):
            hashes += ids[offset:offset + windows] * self._multipliers[offset]
        return hashes

    def _build(self) -> None:
        """Fold added items into the sorted key array (done lazily, before the next lookup)."""
        if not self._pending_hashes:
            return
        old_keys = np.repeat(self._keys, np.diff(self._posting_starts))
        keys = np.concatenate([old_keys, *self._pending_hashes])
        items = np.concatenate([self._postings, *self._pending_items])
        order = np.lexsort((items, keys))
        keys, items = keys[order], items[order]
        is_new_key = np.concatenate(([True], keys[1:] != keys[:-1])) if len(keys) else np.zeros(0, bool)
        self._keys = keys[is_new_key]
        self._posting_starts = np.concatenate((np.flatnonzero(is_new_key), [len(keys)]))
        self._postings = items
        self._pending_hashes.clear()
        self._pending_items.clear()

    def matches(self, text: str) -> list[dict]:
        """One entry per benchmark item sharing at least one word n-gram with ``text``:
        {"benchmark", "item", "evidence", "overlap"}, by overlap, largest first. The evidence is
        the longest run of the query's own text (original spelling, at most ~300 characters)
        covered by n-grams that item shares."""
        self._build()
        if not len(self._keys):
            return []
        spans = [(match.start(), match.end()) for match in _NGRAM_WORD.finditer(text)]
        if len(spans) < self.n:
            return []
        get = self._word_ids.get
        ids = np.fromiter((get(text[start:end].lower(), _UNKNOWN_WORD) for start, end in spans),
                          dtype=np.uint64, count=len(spans))
        hashes = self._window_hashes(ids)
        # A window holding a word no benchmark has cannot match; skip it rather than trust the hash.
        unknown_so_far = np.concatenate(([0], np.cumsum(ids == _UNKNOWN_WORD)))
        all_known = unknown_so_far[self.n:] == unknown_so_far[:-self.n]
        slots = np.minimum(np.searchsorted(self._keys, hashes), len(self._keys) - 1)
        found = np.flatnonzero((self._keys[slots] == hashes) & all_known)
        if not len(found):
            return []
        positions_by_item: dict[int, list[int]] = {}
        hashes_by_item: dict[int, set[int]] = {}
        for window in found.tolist():
            slot = int(slots[window])
            for item in self._postings[self._posting_starts[slot]:self._posting_starts[slot + 1]].tolist():
                positions_by_item.setdefault(item, []).append(window)
                hashes_by_item.setdefault(item, set()).add(int(hashes[window]))
        results = []
        for item, windows in positions_by_item.items():
            benchmark, item_id = self._items[item]
            results.append({"benchmark": benchmark, "item": item_id,
                            "evidence": self._evidence(text, spans, windows),
                            "overlap": len(hashes_by_item[item])})
        results.sort(key=lambda result: (-result["overlap"], result["benchmark"], result["item"]))
        return results

    def _evidence(self, text: str, spans: list[tuple[int, int]], windows: list[int]) -> str:
        """The query text under the longest run of consecutive matching windows."""
        best_start = run_start = windows[0]
        best_end = previous = windows[0]
        for window in windows[1:]:
            if window != previous + 1:
                run_start = window
            previous = window
            if window - run_start > best_end - best_start:
                best_start, best_end = run_start, window
        first_char = spans[best_start][0]
        last_char = spans[best_end + self.n - 1][1]
        if last_char - first_char > _EVIDENCE_CHARS:
            # cut at the end of the last whole word that fits, so the evidence stays a substring
            cut = max((end for _, end in spans[best_start:best_end + self.n]
                       if end - first_char <= _EVIDENCE_CHARS), default=first_char + _EVIDENCE_CHARS)
            last_char = cut
        return text[first_char:last_char]


def contamination(queries: list[tuple[str, str]], benchmarks: dict[str, list[tuple[str, str]]], *,
                  n: int = 10, on_progress: ProgressCallback = None) -> list[dict]:
    """Every (query, benchmark item) pair sharing at least one word n-gram:
    {"id", "benchmark", "item", "evidence", "overlap"}, queries in input order, each query's
    matches by overlap (largest first). ``benchmarks`` maps a benchmark name to its
    (item id, text) list, as ``read_benchmark_file`` returns it."""
    index = NgramIndex(n)
    for benchmark, items in benchmarks.items():
        for item_id, text in items:
            index.add(benchmark, item_id, text)
    flagged: list[dict] = []
    for position, (query_id, text) in enumerate(queries, start=1):
        for match in index.matches(text):
            flagged.append({"id": query_id, **match})
        if on_progress is not None and (position % _PROGRESS_EVERY == 0 or position == len(queries)):
            on_progress(position)
    return flagged


# ---------------------------------------------------------------------------------------------
# Secrets and personal data
# ---------------------------------------------------------------------------------------------

# Values that stand in for a secret rather than being one: what tutorials, docs and users
# type when they do not want to paste the real thing.
_PLACEHOLDER_WORDS = frozenset("""
    password passwd pass pwd secret token apikey api_key key changeme change_me admin root user
    username test testing example sample dummy placeholder redacted hidden none null undefined
    foobar foo bar baz qwerty letmein default mysecret mypassword yourpassword secretkey
""".split())
_PLACEHOLDER_MARKERS = ("your", "example", "placeholder", "xxx", "***", "...", "<", ">", "{", "}",
                        "$", "%", "redacted", "dummy", "fake", "sample", "insert", "replace",
                        "enter", "todo", "here", "changeme", "change_me", "my_", "my-", "env[",
                        "getenv", "secret_key_base")


def _is_placeholder(value: str) -> bool:
    lowered = value.lower()
    return (len(set(lowered)) <= 2  # "******", "xxxxxx", "aaaaaa", "121212"
            or lowered.strip("_-.") in _PLACEHOLDER_WORDS
            or any(marker in lowered for marker in _PLACEHOLDER_MARKERS)
            # a short single word or number ("dragon", "123456") is an example more often than not
            or (len(lowered) < 8 and re.fullmatch(r"[a-z]+|\d+", lowered) is not None)
            or lowered in ("1234567890", "abcdefgh"))


def _looks_random(value: str) -> bool:
    """A key-like value mixes character classes, as generated keys do and words do not."""
    classes = (any(c.islower() for c in value) + any(c.isupper() for c in value)
               + any(c.isdigit() for c in value))
    return classes >= 2 and len(set(value)) >= 8


_SECRET_KEYWORD = (r"(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|apikey|"
                   r"access[_-]?key|private[_-]?key|client[_-]?secret|auth[_-]?key)")

# (kind, hints, pattern, group holding the secret). A pattern only runs when one of its hints
# (plain substrings, looked up in the lower-cased text) occurs: most queries hold none, and a
# substring test is far cheaper than a regular expression that starts with a look-behind.
# Order = priority when two findings overlap: specific formats first, the generic assignment
# and personal data last.
_SECRET_PATTERNS: list[tuple[str, tuple[str, ...], re.Pattern[str], int]] = [
    ("private_key", ("private key",), re.compile(
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
        r"(?:[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s:,-]*)"), 0),
    ("aws_access_key_id", ("akia", "asia"),
     re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"), 0),
    ("aws_secret_access_key", ("secret",), re.compile(
        r"(?i:aws[ _]?secret(?:[ _]?access)?(?:[ _]?key)?|secret[ _]?access[ _]?key)[^\n]{0,30}?"
        r"(?<![A-Za-z0-9/+=])([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"), 1),
    ("github_token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"), re.compile(
        r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})"
        r"(?![A-Za-z0-9_])"), 0),
    ("slack_token", ("xox",), re.compile(r"(?<![A-Za-z0-9-])xox[abprs]-[A-Za-z0-9-]{10,250}"), 0),
    ("stripe_key", ("_live_",),
     re.compile(r"(?<![A-Za-z0-9_])(?:sk|rk)_live_[A-Za-z0-9]{16,247}(?![A-Za-z0-9])"), 0),
    ("anthropic_key", ("sk-ant-",), re.compile(r"(?<![A-Za-z0-9_-])sk-ant-[A-Za-z0-9_-]{20,}"), 0),
    ("openai_key", ("sk-",),
     re.compile(r"(?<![A-Za-z0-9_-])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"), 0),
    ("google_api_key", ("aiza",),
     re.compile(r"(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"), 0),
    ("jwt", ("eyj",), re.compile(
        r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"), 0),
    ("password_in_url", ("://",), re.compile(
        r"\b[a-z][a-z0-9+.-]{1,20}://[^\s:/@]{1,100}:([^\s/@]{1,200})@[a-z0-9.-]+", re.IGNORECASE), 1),
    # The key may sit inside a longer name (DB_PASSWORD, client_secret, apiKey) but must end the
    # name: "tokenizer = ..." and "token_type = ..." are not secrets.
    ("password_assignment", ("pass", "pwd", "secret", "token", "key"), re.compile(
        r"(?i)" + _SECRET_KEYWORD + r"(?:[_-]?(?:key|id|value|str))?[\"']?\]?"
        r"\s*(?::=|=>|==?|:)\s*[fbru]?([\"'])((?:(?!\1)[^\\\s]|\\.){1,200})\1"), 2),
    ("email", ("@",), re.compile(
        r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
        r"[A-Za-z]{2,24}\b(?!\.?\w)"), 0),
    ("phone", ("",), re.compile(
        r"(?<![\w+.\-/:])(?:"
        r"\+\d{1,3}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]?\d{2,5}){2,5}"                  # +44 20 7946 0958
        r"|\(\d{3}\)\s?\d{3}[ .-]\d{4}"                                            # (415) 555-2671
        r"|[2-9]\d{2}([ .-])[2-9]\d{2}\1\d{4}"                                    # 415-555-2671
        r"|0\d{1,4}(?:[ /-]\d{2,8}){1,4}"                                          # 020 7946 0958
        r")(?!\w|[.\-/:]\d)"), 0),
]

_EXAMPLE_DOMAINS = re.compile(
    r"@(?:[\w-]+\.)*(?:example\.(?:com|org|net)|test|invalid|localhost|domain\.com|"
    r"yourdomain\.\w+|company\.com|acme\.com|foo\.\w+|bar\.\w+)$", re.IGNORECASE)


def _keep(kind: str, match: re.Match[str], group: int) -> bool:
    """Filters that a regular expression expresses badly: placeholders, non-personal addresses,
    numbers that only look like phone numbers."""
    value = match.group(group)
    if kind == "aws_access_key_id":
        return "EXAMPLE" not in value  # AWS's documentation keys end in EXAMPLE
    if kind == "aws_secret_access_key":
        return "EXAMPLE" not in value and _looks_random(value)
    if kind in ("openai_key", "anthropic_key"):
        body = value.split("-", 2)[-1] if kind == "anthropic_key" else value[3:]
        return _looks_random(body.replace("-", "").replace("_", "")) and not _is_placeholder(value)
    if kind == "password_in_url":
        return len(value) >= 6 and not _is_placeholder(value)
    if kind == "password_assignment":
        # lower-case words joined by separators read as a name, path or MIME type
        # ("bert-base-uncased", "application/json"), not as a generated or chosen secret
        return (len(value) >= 6 and not _is_placeholder(value)
                and re.fullmatch(r"[a-z]+(?:[./_-][a-z]+)+", value.lower()) is None)
    if kind == "private_key":
        body = re.sub(r"-----[^-]+-----|\s", "", value)
        return len(body) >= 64 and not _is_placeholder(body[:40])  # not "...", not "<key>"
    if kind == "email":
        local = value.split("@", 1)[0].lower()
        return not _EXAMPLE_DOMAINS.search(value) and local not in ("git", "noreply", "no-reply")
    if kind == "phone":
        digits = re.sub(r"\D", "", value)
        if not 9 <= len(digits) <= 15 or len(set(digits)) <= 2:
            return False
        if digits in "01234567890123456789" or digits in "98765432109876543210":
            return False  # 123-456-7890 style sample numbers
        if re.fullmatch(r"\d{1,3}(?:\.\d{1,3}){3}", value):
            return False  # an IPv4 address
        if re.fullmatch(r"0\d{3}[ /-]\d{2}[ /-]\d{2}", value) or re.fullmatch(r"\d{4}-\d{2}-\d{2}.*", value):
            return False  # a date
        return True
    return True


def find_secrets(text: str) -> list[dict]:
    """Likely credentials and personal data in ``text``: [{"kind", "span": [start, end], "text"}]
    sorted by start; ``text[start:end]`` is exactly the finding's text.

    The span covers what a lead would redact: the key or token itself; for a password in a URL
    or an assignment, the password only; for a private key the whole BEGIN...END block.
    Placeholders are not flagged, on purpose (false alarms on tutorials would bury the real
    leaks): passwords of fewer than 6 characters, one or two repeated characters ("******"),
    stand-in words ("password", "changeme", "secret", "admin"), a single word or number under
    8 characters ("dragon", "123456"), anything with "your", "example", "xxx", "<...>",
    "{...}", "$VAR", "here" and the like in it, lower-case words joined by separators
    ("bert-base-uncased"); AWS's documented EXAMPLE keys; e-mail at example.com / test /
    localhost and git@ addresses; phone-like numbers that are really dates, IP addresses,
    versions or 123-456-7890 samples. Only quoted values count as password assignments
    (``password = get_password()`` is code, not a secret). When findings overlap, the more
    specific kind wins (a GitHub token in ``token = "..."`` is a github_token).
    """
    found: list[tuple[int, int, int, str]] = []  # (start, end, priority, kind)
    lowered = text.lower()
    for priority, (kind, hints, pattern, group) in enumerate(_SECRET_PATTERNS):
        if not any(hint in lowered for hint in hints):
            continue
        for match in pattern.finditer(text):
            if match.group(group) and _keep(kind, match, group):
                found.append((match.start(group), match.end(group), priority, kind))
    kept: list[tuple[int, int, int, str]] = []
    for start, end, priority, kind in sorted(found, key=lambda f: (f[2], f[0])):
        if all(end <= other_start or start >= other_end for other_start, other_end, _, _ in kept):
            kept.append((start, end, priority, kind))
    kept.sort()
    return [{"kind": kind, "span": [start, end], "text": text[start:end]} for start, end, _, kind in kept]
