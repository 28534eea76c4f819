"""Benchmark contamination: word n-gram overlap between queries and public benchmark items.

CodeArena used n = 10. Each finding carries the overlapping run of the query's own text as
evidence.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import numpy as np

from curation_app.core.triage.progress import PROGRESS_EVERY, ProgressCallback

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
        if on_progress is not None and (position % PROGRESS_EVERY == 0 or position == len(queries)):
            on_progress(position)
    return flagged

