"""Triage algorithms: near-duplicates, benchmark contamination, secrets and personal data.

The near-duplicate, contamination and secrets checks are measured on real data from
../shared/data (Arena-Hard user queries, HumanEval) when it is present, and skip otherwise.
"""

from __future__ import annotations

import functools
import gzip
import itertools
import json
import random
import re
import string
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation_app.core.triage import (
    LSH_MAX_CANDIDATE_RATE_AT_HALF,
    LSH_MAX_PERMUTATIONS,
    LSH_TARGET_RECALL,
    NgramIndex,
    contamination,
    duplicate_signature_text,
    find_secrets,
    lsh_parameters,
    near_duplicate_clusters,
    read_benchmark_file,
    similarity,
)
from curation_app.core.triage.near_duplicates import _minhash

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def shared_file(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference data {path} is not present (it lives outside the repository)")
    return path


@functools.lru_cache(maxsize=1)
def _arena_queries_cached(path: Path) -> tuple[tuple[str, str], ...]:
    rows = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            rows.append((record["question_id"], record["turns"][0]["content"]))
    return tuple(rows)


def arena_queries() -> list[tuple[str, str]]:
    """The 500 real Arena-Hard queries as (question_id, first turn)."""
    return list(_arena_queries_cached(shared_file("arena_hard", "question.jsonl")))


def humaneval() -> list[tuple[str, str]]:
    return read_benchmark_file(shared_file("humaneval", "HumanEval.jsonl.gz"))


# =============================================================================================
# Near-duplicates: a test set built from real queries by seeded transformations
# =============================================================================================

# General English synonyms for the rewording transformation. None of these swaps is undone by
# the signature's small table of request verbs (write/create/make..., use/utilize, fix/correct,
# explain/describe), so the measured recall does not profit from the algorithm knowing the test.
SYNONYMS = {
    "write": "compose", "create": "craft", "function": "method", "program": "script",
    "show": "display", "use": "apply", "using": "with", "get": "obtain", "need": "require",
    "make": "put together", "big": "large", "large": "huge", "fast": "quick", "simple": "basic",
    "example": "sample", "error": "fault", "want": "wish", "find": "locate",
    "explain": "walk through", "give": "provide", "problem": "issue", "good": "decent",
    "best": "optimal", "change": "modify", "start": "begin", "also": "additionally",
    "should": "must", "help": "assist", "code": "source", "file": "document",
    "data": "information", "following": "below", "question": "query", "answer": "reply",
    "way": "approach", "check": "verify", "improve": "enhance", "small": "tiny",
    "number": "count", "text": "content", "list": "sequence", "add": "append", "remove": "delete",
    "run": "execute", "values": "entries", "each": "every", "new": "fresh",
    "different": "distinct", "about": "regarding", "describe": "outline",
    "specific": "particular", "information": "details", "important": "crucial",
    "quickly": "rapidly", "people": "individuals", "buy": "purchase", "job": "task",
    "idea": "concept",
}
POLITE_PREFIXES = ["Please ", "Hi, ", "Hello there! ", "Quick question: ", "Hey, could you help? ",
                   "Hi team, ", "Dear assistant, ", "I need some help. ", "Good morning! "]
POLITE_SUFFIXES = [" Thanks!", " Thank you in advance.", " Any help is appreciated.", " Cheers",
                   "\n\nThanks a lot", " Much appreciated!", " Looking forward to your answer."]
POLITE_WORDS = re.compile(r"\b(?:please|thanks|thank you|hi|hello)\b[,!.]?\s*", re.IGNORECASE)

# The test's own, deliberately simple idea of a code line (independent of the module's).
CODE_LIKE = re.compile(r"[;{}]\s*$|^\s*[\w.]+\(.*\)[;:]?\s*$|^\s*[$]?\w+(\.\w+)*\s*=|"
                       r"^\s*(def|class|import|return|for|if|while|#include|int|void|public|const|let|var)\b")
DEFINED_NAME = re.compile(r"\b(?:def|function|class|let|var|const|int|float|double|string|auto|void)"
                          r"\s+([A-Za-z_]\w*)|^\s*([A-Za-z_]\w*)\s*=[^=]|\bfor\s+([A-Za-z_]\w*)\s+in\b", re.M)
NEW_NAMES = ["alpha", "beta_value", "tmp", "acc", "item2", "counter_x", "data_obj", "res", "node_a", "val"]


def is_code_like(line: str) -> bool:
    return bool(CODE_LIKE.search(line))


def code_line_indexes(lines: list[str]) -> list[int]:
    in_fence, indexes = False, []
    for index, line in enumerate(lines):
        if line.strip().startswith("```"):
            in_fence = not in_fence
        elif in_fence or is_code_like(line):
            indexes.append(index)
    return indexes


def prose_line_indexes(lines: list[str]) -> list[int]:
    code = set(code_line_indexes(lines))
    return [i for i, line in enumerate(lines) if i not in code and not line.strip().startswith("```")]


def swap_synonyms(text: str, rng: random.Random, n_swaps: int) -> str:
    lines = text.split("\n")
    spots = [(i, match) for i in prose_line_indexes(lines)
             for match in re.finditer(r"[A-Za-z]+", lines[i]) if match.group().lower() in SYNONYMS]
    rng.shuffle(spots)
    # replace right to left within a line so earlier offsets stay valid
    for i, match in sorted(spots[:n_swaps], key=lambda spot: (spot[0], -spot[1].start())):
        word = match.group()
        new = SYNONYMS[word.lower()]
        new = new[0].upper() + new[1:] if word[0].isupper() else new
        lines[i] = lines[i][:match.start()] + new + lines[i][match.end():]
    return "\n".join(lines)


def change_politeness(text: str, rng: random.Random) -> str:
    stripped = POLITE_WORDS.sub("", text, count=1)
    if stripped != text and rng.random() < 0.5:
        return stripped
    if rng.random() < 0.5:
        first_line = text.split("\n", 1)[0]
        # a greeting goes on its own line before code, as people write it
        return rng.choice(POLITE_PREFIXES) + ("\n" if is_code_like(first_line) else "") + text
    return text + rng.choice(POLITE_SUFFIXES)


def reorder_two_sentences(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    for i in prose_line_indexes(lines):
        sentences = re.split(r"(?<=[.!?])\s+", lines[i])
        if len(sentences) >= 2:
            k = rng.randrange(len(sentences) - 1)
            sentences[k], sentences[k + 1] = sentences[k + 1], sentences[k]
            lines[i] = " ".join(sentences)
            break
    return "\n".join(lines)


def reword(text: str, rng: random.Random) -> str:
    """A few synonyms (one per ~40 words, at least one, at most four), a politeness change, and
    half of the time two sentences swapped."""
    n_words = len(re.findall(r"\w+", text))
    text = swap_synonyms(text, rng, min(4, max(1, round(n_words / 40))))
    text = change_politeness(text, rng)
    return reorder_two_sentences(text, rng) if rng.random() < 0.5 else text


def longest_code_run(lines: list[str]) -> tuple[int, int] | None:
    """(first, last) of the longest run (>= 2 lines) of code-like or indented lines."""
    best, start = None, None
    for index, line in enumerate(lines + [""]):
        inside = index < len(lines) and line.strip() and (is_code_like(line) or line.startswith((" ", "\t")))
        if inside and start is None:
            start = index
        if not inside and start is not None:
            if index - start >= 2 and (best is None or index - start > best[1] - best[0] + 1):
                best = (start, index - 1)
            start = None
    return best


def reformat(text: str, rng: random.Random) -> str:
    """Fences removed (or added around the code), indentation halved, random double spaces and
    trailing blanks, and often the whole text lower- or upper-cased."""
    lines = text.split("\n")
    if any(line.strip().startswith("```") for line in lines):
        lines = [line for line in lines if not line.strip().startswith("```")]
    elif (run := longest_code_run(lines)) is not None:
        first, last = run
        lines = lines[:first] + ["```"] + lines[first:last + 1] + ["```"] + lines[last + 1:]
    reformatted = []
    for line in lines:
        indent = len(line) - len(line.lstrip(" "))
        line = " " * (indent // 2) + line.lstrip(" ") if indent else line
        line = re.sub(r"(?<=\S) (?=\S)", lambda _: "  " if rng.random() < 0.1 else " ", line)
        reformatted.append(line + ("   " if rng.random() < 0.3 else ""))
    text = "\n".join(reformatted)
    case = rng.random()
    text = text.lower() if case < 0.3 else text.upper() if case < 0.45 else text
    return text + ("\n\n" if rng.random() < 0.5 else "")


def rename_variables(text: str, rng: random.Random | None = None) -> str | None:
    """Every name the code defines (assigned, def/function/class, declared, loop variable)
    renamed consistently in the code lines; None when the text defines no names."""
    lines = text.split("\n")
    code_lines = code_line_indexes(lines)
    names: list[str] = []
    for i in code_lines:
        for match in DEFINED_NAME.finditer(lines[i]):
            name = next(group for group in match.groups() if group)
            if name not in names and len(name) > 1 and name not in ("self", "main", "this"):
                names.append(name)
    if not names:
        return None
    offset = rng.randrange(len(NEW_NAMES)) if rng else 0
    mapping = {name: NEW_NAMES[(k + offset) % len(NEW_NAMES)] + (str(k) if k >= len(NEW_NAMES) else "")
               for k, name in enumerate(names)}
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")
    for i in code_lines:
        lines[i] = pattern.sub(lambda match: mapping[match.group()], lines[i])
    return "\n".join(lines)


def build_near_duplicate_set(queries: list[tuple[str, str]], seed: int = 7
                             ) -> tuple[list[tuple[str, str]], list[list[str]]]:
    """150 real queries: 50 get variants (25 with renameable code, 25 others), 100 stay single.
    Returns the shuffled items and the true groups (original + its variants)."""
    rng = random.Random(seed)
    texts = [text for _, text in queries]
    order = list(range(len(texts)))
    rng.shuffle(order)
    with_code = [i for i in order if rename_variables(texts[i]) is not None][:25]
    others = [i for i in order if i not in with_code]
    bases = with_code + others[:50 - len(with_code)]
    negatives = others[50 - len(with_code):][:100]
    items: list[tuple[str, str]] = []
    groups: list[list[str]] = []
    for i in bases:
        group = [f"q{i}"]
        items.append((f"q{i}", texts[i]))
        variants = {"reworded": reword(texts[i], rng), "reformatted": reformat(texts[i], rng),
                    "renamed": rename_variables(texts[i], rng)}
        for kind, variant in variants.items():
            if variant is not None:
                items.append((f"q{i}-{kind}", variant))
                group.append(f"q{i}-{kind}")
        groups.append(group)
    items.extend((f"q{i}", texts[i]) for i in negatives)
    rng.shuffle(items)
    return items, groups


def linked_pairs(clusters: list[list[str]]) -> set[tuple[str, str]]:
    return {tuple(sorted(pair)) for cluster in clusters for pair in itertools.combinations(cluster, 2)}


def test_near_duplicates_found_after_rewording_reformatting_and_renaming_real_queries():
    items, groups = build_near_duplicate_set(arena_queries())
    assert len(items) >= 250 and len(groups) == 50
    truth = linked_pairs(groups)
    found = linked_pairs(near_duplicate_clusters(items))
    recall = len(truth & found) / len(truth)
    precision = len(truth & found) / len(found)
    by_kind: Counter[str] = Counter()
    found_by_kind: Counter[str] = Counter()
    for pair in truth:
        kind = "+".join(sorted(member.split("-")[1] if "-" in member else "original" for member in pair))
        by_kind[kind] += 1
        found_by_kind[kind] += pair in found
    print(f"\nnear-duplicates on {len(items)} items built from real Arena-Hard queries: "
          f"recall {recall:.3f} ({len(truth & found)}/{len(truth)} pairs), "
          f"precision {precision:.3f} ({len(truth & found)}/{len(found)} pairs)")
    for kind in sorted(by_kind):
        print(f"  {kind:28s} {found_by_kind[kind]:3d}/{by_kind[kind]:3d}")
    # Measured (seed 7): recall 0.87 (196/225 pairs), precision 1.00; over seeds 1-20 recall
    # 0.82-0.92 (mean 0.85), precision always 1.00. Reformatting and renaming are all found;
    # what is missed is rewording of short queries: one synonym in a 10-word question moves the
    # character-5-gram Jaccard to about 0.7, below the 0.85 default.
    assert recall >= 0.8
    assert precision >= 0.95
    assert found_by_kind["original+reformatted"] == by_kind["original+reformatted"]
    assert found_by_kind["original+renamed"] == by_kind["original+renamed"]


def test_identical_texts_and_whitespace_case_fence_changes_cluster():
    text = "How do I read a CSV file with pandas and skip the first two rows?"
    items = [("a", text), ("b", "noise about something else entirely, nothing shared"),
             ("c", text), ("d", "  HOW do i read a csv file  with pandas\nand skip the first two rows ??"),
             ("e", f"```text\n{text}\n```")]
    assert near_duplicate_clusters(items) == [["a", "c", "d", "e"]]


def test_renamed_variables_cluster_and_a_different_question_with_the_same_boilerplate_does_not():
    boilerplate = ("Hi! Can you please help me with my Python code? It does not work.\n\n"
                   "```python\n{}\n```\n\nThanks a lot!")
    original = boilerplate.format(
        "def average(numbers):\n    total = 0\n    for number in numbers:\n        total += number\n"
        "    return total / len(numbers)\n\nprint(average([1, 2, 3]))")
    renamed = boilerplate.format(
        "def mean_of(values):\n    acc = 0\n    for v in values:\n        acc += v\n"
        "    return acc / len(values)\n\nprint(mean_of([1, 2, 3]))")
    different = boilerplate.format(
        "import requests\n\nresponse = requests.get('https://example.org/api', timeout=5)\n"
        "data = response.json()\nfor row in data['items']:\n    print(row['name'].upper())")
    assert similarity(original, renamed) == 1.0
    assert similarity(original, different) < 0.5
    clusters = near_duplicate_clusters([("orig", original), ("other", different), ("renamed", renamed)])
    assert clusters == [["orig", "renamed"]]


def test_signature_text_canonicalises_code_and_ignores_formatting():
    signature = duplicate_signature_text(
        "Please FIX this:\n```js\nconst userName = 'bob'; // the user\nlet n = 42;\n```")
    assert signature == "fix this\nconst v s the user\nlet v 0"
    unfenced = duplicate_signature_text("fix this:\nconst userName = 'bob'; // the user\nlet n = 42;")
    assert unfenced == signature
    # prose is re-joined across line breaks and split into sentences
    assert (duplicate_signature_text("One sentence here.\nAnother one, wrapped\nover lines!")
            == duplicate_signature_text("One sentence here. Another one, wrapped over lines!"))
    # the order of sentences does not change the shingle set
    assert similarity("Sort the list. Then print it.", "Then print it. Sort the list.") == 1.0
    # API names (obj.method) survive; the author's own names do not
    assert duplicate_signature_text("df = pd.read_csv(path)") == "v v read_csv v"
    assert duplicate_signature_text("self.total = obj.compute(count)") == "self v v compute v"


def test_signature_text_drops_politeness_and_merges_request_verbs():
    assert (duplicate_signature_text("Hi there! Could you please write a function that sorts a list? "
                                     "Thanks in advance.")
            == duplicate_signature_text("create a function that sorts a list")
            == "write a function that sorts a list")
    assert duplicate_signature_text("Utilize numpy") == duplicate_signature_text("use numpy") == "use numpy"
    # a general synonym is not merged: that would start joining different questions
    assert duplicate_signature_text("compose a function") == "compose a function"


def test_signature_text_treats_short_runs_between_code_lines_as_code_and_fenced_logs_as_prose():
    three = "x = foo(1,\nbar baz\nqux one\nfour five\n)"
    assert duplicate_signature_text(three) == "v v 0\nv v\nv v\nv v"
    four = "x = foo(1,\nbar baz\nqux one\nfour five\nsix seven\n)"
    assert duplicate_signature_text(four) == "v v 0\nbar baz qux one four five six seven"
    log = "```\nERROR disk full at 10:32\nretrying now\n```"
    assert duplicate_signature_text(log) == "error disk full at 10 32 retrying now"


def test_clusters_keep_input_order_and_are_ordered_by_first_member():
    items = [("x1", "alpha beta gamma delta epsilon zeta"), ("y1", "how to merge two dicts in python"),
             ("x2", "alpha beta gamma delta epsilon zeta"), ("y2", "How to merge two dicts in Python?"),
             ("z", "unrelated words entirely here")]
    assert near_duplicate_clusters(items) == [["x1", "x2"], ["y1", "y2"]]
    assert near_duplicate_clusters([]) == []


def test_near_duplicate_clusters_deterministic_for_a_seed_and_reports_progress():
    items, _ = build_near_duplicate_set(arena_queries(), seed=3)
    calls: list[int] = []
    first = near_duplicate_clusters(items, seed=5, on_progress=calls.append)
    assert first and first == near_duplicate_clusters(items, seed=5)
    assert calls == [len(items)]  # fewer than 1000 items: only the final report


def test_progress_is_reported_every_thousand_items_and_at_the_end():
    items = [(f"q{k}", f"question number {k} about topic {k % 7}") for k in range(2500)]
    calls: list[int] = []
    near_duplicate_clusters(items, on_progress=calls.append)
    assert calls == [1000, 2000, 2500]
    calls.clear()
    contamination(items, {"bench": [("b1", "question number 5 about topic")]}, n=3, on_progress=calls.append)
    assert calls == [1000, 2000, 2500]


def random_texts_with_planted_variants(seed: int) -> list[tuple[str, str]]:
    """~160 texts over a small vocabulary (so similarities spread over the whole range), with
    variants that change, add or drop a varying share of words."""
    rng = random.Random(seed)
    vocabulary = [f"w{k}" for k in range(60)] + ["the", "a", "list", "sort", "python", "error", "code"]
    texts: list[str] = []
    for _ in range(80):
        words = [rng.choice(vocabulary) for _ in range(rng.randint(8, 60))]
        texts.append(" ".join(words))
        for _ in range(rng.randint(0, 2)):
            variant = list(words)
            for _ in range(rng.randint(0, max(1, len(words) // 6))):
                position = rng.randrange(len(variant))
                action = rng.random()
                if action < 0.4:
                    variant[position] = rng.choice(vocabulary)
                elif action < 0.7:
                    variant.insert(position, rng.choice(vocabulary))
                elif len(variant) > 3:
                    del variant[position]
            texts.append(" ".join(variant))
    return [(f"t{k}", text) for k, text in enumerate(texts)]


@pytest.mark.parametrize("threshold", [0.6, 0.75, 0.85])
def test_lsh_finds_every_pair_clearly_above_the_threshold_and_links_nothing_below(threshold):
    items = random_texts_with_planted_variants(seed=int(threshold * 100))
    ids = [item_id for item_id, _ in items]
    exact = {(a, b): similarity(text_a, text_b)
             for (a, text_a), (b, text_b) in itertools.combinations(items, 2)}
    clusters = near_duplicate_clusters(items, threshold=threshold)
    cluster_of = {member: index for index, cluster in enumerate(clusters) for member in cluster}
    clearly_above = [pair for pair, value in exact.items() if value >= threshold + 0.05]
    assert len(clearly_above) >= 15  # the test set does exercise the LSH step
    for a, b in clearly_above:
        assert a in cluster_of and cluster_of.get(a) == cluster_of.get(b), (a, b, exact[(a, b)])
    # every cluster is a union of exact components: no link rests on an estimate
    parent = {item_id: item_id for item_id in ids}

    def root(node: str) -> str:
        while parent[node] != node:
            node = parent[node]
        return node

    for (a, b), value in exact.items():
        if value >= threshold:
            parent[root(a)] = root(b)
    for cluster in clusters:
        assert len({root(member) for member in cluster}) == 1


def candidate_rate(similarity_value: float, bands: int, rows: int) -> float:
    return 1 - (1 - similarity_value ** rows) ** bands


def test_lsh_parameters_give_high_recall_at_the_threshold():
    for threshold in (0.1, 0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0):
        bands, rows = lsh_parameters(threshold)
        assert bands * rows <= LSH_MAX_PERMUTATIONS
        assert candidate_rate(threshold, bands, rows) >= LSH_TARGET_RECALL, threshold
    for threshold in (0.8, 0.85, 0.9, 0.95, 1.0):  # high enough for both goals
        bands, rows = lsh_parameters(threshold)
        assert candidate_rate(threshold / 2, bands, rows) <= LSH_MAX_CANDIDATE_RATE_AT_HALF, threshold
        # and no smaller budget would do both
        for other_rows in range(1, LSH_MAX_PERMUTATIONS + 1):
            other_bands = next((b for b in range(1, LSH_MAX_PERMUTATIONS // other_rows + 1)
                                if candidate_rate(threshold, b, other_rows) >= LSH_TARGET_RECALL), None)
            if other_bands is not None and other_bands * other_rows < bands * rows:
                assert candidate_rate(threshold / 2, other_bands, other_rows) > LSH_MAX_CANDIDATE_RATE_AT_HALF
    assert lsh_parameters(0.01) == (LSH_MAX_PERMUTATIONS, 1)  # no budget reaches the recall
    for bad in (0, -0.5, 1.5):
        with pytest.raises(ValueError, match=re.escape(f"threshold must be in (0, 1], got {bad}")):
            lsh_parameters(bad)
    with pytest.raises(ValueError, match="threshold must be in"):
        near_duplicate_clusters([("a", "x")], threshold=0)


def test_minhash_estimates_jaccard_without_bias_and_with_binomial_spread():
    """The permutations are (a x + b) mod 2**32 on hashed shingles instead of mod a prime (15x
    cheaper in numpy): check the estimate behaves like ideal MinHash."""
    rng = np.random.default_rng(1)
    permutations = 128
    multipliers = (rng.integers(0, 2**32, size=permutations, dtype=np.uint64) | 1).astype(np.uint32)
    increments = rng.integers(0, 2**32, size=permutations, dtype=np.uint64).astype(np.uint32)
    for target in (0.3, 0.6, 0.85):
        size = 200
        shared = round(2 * size * target / (1 + target))
        jaccard = shared / (2 * size - shared)
        estimates = []
        for _ in range(150):
            universe = rng.choice(2**32, size=2 * size - shared, replace=False).astype(np.uint32)
            first, second = universe[:size], universe[size - shared:]
            signatures = _minhash(np.concatenate([first, second]), np.array([size, size]),
                                  multipliers, increments)
            estimates.append(float(np.mean(signatures[0] == signatures[1])))
        binomial_spread = (jaccard * (1 - jaccard) / permutations) ** 0.5
        assert abs(np.mean(estimates) - jaccard) < 0.01
        assert 0.75 * binomial_spread < np.std(estimates) < 1.3 * binomial_spread
    # a signature without shingles keeps the all-ones row, which no band of real shingles matches
    signatures = _minhash(np.array([5, 9], dtype=np.uint32), np.array([0, 2, 0]), multipliers, increments)
    assert signatures.shape == (3, permutations) and signatures.dtype == np.uint32
    assert (signatures[[0, 2]] == np.iinfo(np.uint32).max).all()
    assert (signatures[1] < np.iinfo(np.uint32).max).any()


def test_empty_and_punctuation_only_texts_are_duplicates_of_each_other_only():
    items = [("empty", ""), ("text", "Sort a list in Python"), ("blank", "  \n\t"), ("dots", "... ?!")]
    assert near_duplicate_clusters(items) == [["empty", "blank", "dots"]]
    assert similarity("", "   ") == 1.0 and similarity("", "words here") == 0.0


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.text(max_size=300))
def test_similarity_is_symmetric_and_in_unit_interval(a, b):
    value = similarity(a, b)
    assert 0.0 <= value <= 1.0
    assert value == similarity(b, a)
    assert similarity(a, a) == 1.0


# =============================================================================================
# Contamination
# =============================================================================================

def slice_of_words(text: str, first_word: int, n_words: int) -> str:
    spans = [match.span() for match in re.finditer(r"\w+", text)]
    return text[spans[first_word][0]:spans[first_word + n_words - 1][1]]


def test_read_benchmark_file_reads_humaneval_prompts():
    items = humaneval()
    assert len(items) == 164
    assert items[0][0] == "HumanEval/0"
    assert items[0][1].startswith("from typing import List") and "def has_close_elements" in items[0][1]
    with gzip.open(shared_file("humaneval", "HumanEval.jsonl.gz"), "rt") as handle:
        first = json.loads(handle.readline())
    assert items[0][1] == first["prompt"]  # the prompt alone, not the solution or the tests


def test_humaneval_prompts_embedded_in_longer_queries_are_flagged_with_item_and_evidence():
    items = dict(humaneval())
    rng = random.Random(11)
    long_enough = [item_id for item_id, prompt in items.items() if len(re.findall(r"\w+", prompt)) >= 50]
    chosen = rng.sample(sorted(long_enough), 8)
    queries = []
    for k, item_id in enumerate(chosen):
        prompt = items[item_id]
        pasted = prompt if k % 2 == 0 else slice_of_words(prompt, 3, 40)  # whole prompt or a 40-word slice
        queries.append((f"user-{k}",
                        f"Can you help me with this? I was given the task below at an interview.\n\n"
                        f"{pasted}\n\nI tried a loop but it fails on some inputs. Thanks!"))
    flagged = contamination(queries, {"humaneval": list(items.items())}, n=10)
    for (query_id, query), item_id in zip(queries, chosen):
        matches = [row for row in flagged if row["id"] == query_id]
        assert matches, f"{query_id} ({item_id}) was not flagged"
        top = max(matches, key=lambda row: row["overlap"])
        assert top["benchmark"] == "humaneval" and top["item"] == item_id
        assert top["evidence"] in query and len(top["evidence"]) <= 300
        assert len(re.findall(r"\w+", top["evidence"])) >= 10


def test_real_arena_queries_are_not_flagged_against_humaneval():
    queries = arena_queries()[:300]
    flagged = contamination(queries, {"humaneval": humaneval()}, n=10)
    # Measured: none of the 500 Arena-Hard queries shares a 10-gram with a HumanEval prompt.
    assert flagged == []


def test_ngram_length_is_a_parameter():
    queries = arena_queries()
    benchmarks = {"humaneval": humaneval()}
    progress: list[int] = []
    with_10 = contamination(queries, benchmarks, n=10, on_progress=progress.append)
    assert progress[-1] == len(queries)
    with_5 = contamination(queries, benchmarks, n=5)
    print(f"\nArena-Hard (500) vs HumanEval: {len(with_10)} matches at n=10, {len(with_5)} at n=5")
    assert len(with_5) > len(with_10)  # measured: 0 at n=10, 20 at n=5 (phrases like "be in the range of")


def test_contamination_lists_every_matching_item_per_query_in_input_order():
    benchmarks = {
        "bench-b": [("b1", "return the index of the largest element in the list"),
                    ("b2", "unrelated text about parsing dates from strings")],
        "bench-a": [("a1", "the largest element in the list")],
    }
    queries = [("q1", "Please return the index of the LARGEST element in the list, thanks"),
               ("q2", "nothing to see here at all"),
               ("q3", "How do I go parsing dates from strings?")]
    flagged = contamination(queries, benchmarks, n=4)
    assert [(row["id"], row["benchmark"], row["item"], row["overlap"]) for row in flagged] == [
        ("q1", "bench-b", "b1", 7), ("q1", "bench-a", "a1", 3), ("q3", "bench-b", "b2", 1)]
    assert flagged[0]["evidence"] == "return the index of the LARGEST element in the list"
    assert flagged[2]["evidence"] == "parsing dates from strings"
    assert contamination(queries, {}, n=4) == []
    # equal overlaps are ordered by benchmark name, then item id
    index = NgramIndex(n=2)
    for benchmark, item in (("z", "2"), ("z", "1"), ("a", "9")):
        index.add(benchmark, item, "merge two dicts")
    assert len(index) == 3
    assert [(m["benchmark"], m["item"], m["overlap"]) for m in index.matches("merge two dicts")] == [
        ("a", "9", 2), ("z", "1", 2), ("z", "2", 2)]
    with pytest.raises(ValueError, match="n must be at least 1, got 0"):
        NgramIndex(n=0)
    assert NgramIndex(n=3).matches("an empty index matches nothing") == []


def test_ngram_index_reports_overlap_and_original_spelling_of_the_query():
    index = NgramIndex(n=3)
    index.add("bench", "item-1", "def add_numbers(a, b): return the sum of a and b")
    index.add("bench", "item-2", "completely different words go here for this one")
    query = "Hey,   DEF add_numbers(A,\n B):  Return the SUM of a and b -- please!"
    [match] = index.matches(query)
    assert match["benchmark"] == "bench" and match["item"] == "item-1"
    assert match["evidence"] == "DEF add_numbers(A,\n B):  Return the SUM of a and b"
    assert match["overlap"] == 9  # all nine 3-grams of the item's eleven words
    assert index.matches("nothing in common at all here") == []
    assert index.matches("too short") == []
    long_query = " ".join(f"word{k}" for k in range(400))
    index.add("bench", "long", long_query)
    [long_match] = index.matches("prefix " + long_query)
    assert long_match["evidence"] in long_query and 250 <= len(long_match["evidence"]) <= 300


def test_read_benchmark_file_ids_fields_and_errors(tmp_path):
    plain = tmp_path / "bench.jsonl"
    plain.write_text('{"id": 7, "question": "What is 2+2?"}\n\n{"prompt": "no id here"}\n', encoding="utf-8")
    assert read_benchmark_file(plain) == [("7", "What is 2+2?"), ("3", "no id here")]
    zipped = tmp_path / "bench.jsonl.gz"
    with gzip.open(zipped, "wt", encoding="utf-8") as handle:
        handle.write('{"problem_id": "p1", "statement": "Sort it", "content": "fallback"}\n')
    assert read_benchmark_file(zipped) == [("p1", "fallback")]
    assert read_benchmark_file(zipped, text_field="statement") == [("p1", "Sort it")]
    with pytest.raises(ValueError, match=r"bench\.jsonl\.gz, line 1: no field 'missing'"):
        read_benchmark_file(zipped, text_field="missing")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": 1, "text": "fine"}\n{"id": 2, "text": \n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.jsonl, line 2: invalid JSON"):
        read_benchmark_file(broken)
    not_object = tmp_path / "list.jsonl"
    not_object.write_text('[1, 2]\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 1: expected a JSON object"):
        read_benchmark_file(not_object)
    no_text = tmp_path / "notext.jsonl"
    no_text.write_text('{"id": "a", "answer": 3}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 1: no text field"):
        read_benchmark_file(no_text)
    bad_bytes = tmp_path / "bytes.jsonl"
    bad_bytes.write_bytes(b'{"text": "ok"}\n{"text": "\xff"}\n')
    with pytest.raises(ValueError, match=r"line 2: not valid UTF-8"):
        read_benchmark_file(bad_bytes)
    fake_gz = tmp_path / "fake.jsonl.gz"
    fake_gz.write_bytes(b"\x1f\x8b" + b"not really gzip")
    with pytest.raises(ValueError, match=r"fake\.jsonl\.gz: cannot read the file"):
        read_benchmark_file(fake_gz)


def test_read_benchmark_file_trusts_content_over_suffix_and_reports_more_errors(tmp_path):
    gzipped_without_suffix = tmp_path / "bench.jsonl"
    gzipped_without_suffix.write_bytes(gzip.compress(b'{"task_id": "T/1", "prompt": "def f():"}\n'))
    assert read_benchmark_file(gzipped_without_suffix) == [("T/1", "def f():")]
    plain_with_suffix = tmp_path / "plain.jsonl.gz"
    plain_with_suffix.write_text('{"task_id": "T/2", "prompt": "def g():"}\n', encoding="utf-8")
    assert read_benchmark_file(str(plain_with_suffix)) == [("T/2", "def g():")]
    # a byte-order mark on the first line is not part of the JSON; a boolean is not an id
    marked = tmp_path / "bom.jsonl"
    marked.write_bytes('\ufeff{"task_id": true, "id": "x", "text": "hi"}\n{"id": false, "text": "yo"}\n'
                       .encode("utf-8"))
    assert read_benchmark_file(marked) == [("x", "hi"), ("2", "yo")]
    with pytest.raises(FileNotFoundError):
        read_benchmark_file(tmp_path / "missing.jsonl")
    not_text = tmp_path / "number.jsonl"
    not_text.write_text('{"id": 1, "prompt": 42}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 1: field 'prompt' is int, not text"):
        read_benchmark_file(not_text, text_field="prompt")
    with pytest.raises(ValueError, match=r"line 1: no text field \(looked for prompt, question, problem, "
                                         r"text, content, instruction; pass text_field to name another\)"):
        read_benchmark_file(not_text)
    bad_byte = tmp_path / "byte.jsonl"
    bad_byte.write_bytes(b'{"text": "\xff"}\n')
    with pytest.raises(ValueError, match=r"line 1: not valid UTF-8 \(byte 11\)"):
        read_benchmark_file(bad_byte)
    deep = tmp_path / "deep.jsonl"
    deep.write_text("[" * 100_000 + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"deep\.jsonl, line 1: invalid JSON: nested too deeply"):
        read_benchmark_file(deep)


# =============================================================================================
# Secrets and personal data
# =============================================================================================

def fake(rng: random.Random, length: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def planted_credentials(rng: random.Random) -> list[tuple[str, str, str]]:
    """(kind, text to insert, the secret inside it). Built at run time from random characters,
    so no key-shaped string sits in the repository."""
    upper_digits = string.ascii_uppercase + string.digits
    base64ish = string.ascii_letters + string.digits + "/+"
    password = fake(rng, 10) + "!" + fake(rng, 3)
    url_password = fake(rng, 14)
    private_key = ("-----BEGIN " + "RSA PRIVATE KEY-----\n"
                   + "\n".join(fake(rng, 64, base64ish) for _ in range(6))
                   + "\n-----END " + "RSA PRIVATE KEY-----")
    secrets = {
        "aws_access_key_id": "AK" + "IA" + fake(rng, 16, upper_digits),
        "aws_secret_access_key": fake(rng, 40, base64ish),
        "github_token": "gh" + "p_" + fake(rng, 36),
        "slack_token": "xo" + "xb-" + fake(rng, 12, string.digits) + "-" + fake(rng, 24),
        "openai_key": "s" + "k-proj-" + fake(rng, 120, string.ascii_letters + string.digits + "_-"),
        "google_api_key": "AI" + "za" + fake(rng, 35),
        "stripe_key": "s" + "k_live_" + fake(rng, 24),
        "private_key": private_key,
        "jwt": "ey" + "J" + fake(rng, 30) + ".ey" + "J" + fake(rng, 60) + "." + fake(rng, 43),
        "password_in_url": url_password,
        "password_assignment": password,
        "email": "jane.m.doe" + str(rng.randrange(100)) + "@" + "gmail.com",
        "phone": "+44 20 7946 " + str(rng.randrange(1000, 9999)),
    }
    contexts = {
        "aws_secret_access_key": "aws_secret_access_key = {}",
        "password_in_url": "DATABASE_URL=postgresql://app_user:{}@db.internal.net:5432/app",
        "password_assignment": 'db_password = "{}"',
        "email": "reach me at {} if needed",
        "phone": "or call {} after six",
    }
    return [(kind, contexts.get(kind, "my key is {} ok").format(secret), secret)
            for kind, secret in secrets.items()]


def test_planted_credentials_in_real_queries_are_flagged_with_exact_spans():
    queries = [text for _, text in arena_queries() if not find_secrets(text)]
    rng = random.Random(2024)
    for kind, snippet, secret in planted_credentials(rng):
        query = rng.choice(queries)
        cut = rng.choice([match.end() for match in re.finditer(r"\n|[.!?] ", query)] or [len(query)])
        text = query[:cut] + "\n" + snippet + "\n" + query[cut:]
        start = cut + 1 + snippet.index(secret)
        findings = find_secrets(text)
        expected = {"kind": kind, "span": [start, start + len(secret)], "text": secret}
        assert expected in findings, (kind, findings)
        assert [finding for finding in findings if finding["kind"] != kind] == [], findings


def test_more_formats_are_flagged():
    rng = random.Random(5)
    samples = {
        "github_token": "github_" + "pat_" + fake(rng, 22) + "_" + fake(rng, 59),
        "openai_key": "s" + "k-" + fake(rng, 48),
        "phone": "(415) 555-" + str(rng.randrange(1000, 9999)),
        "aws_secret_access_key": "AWS Secret Access Key [None]: " + fake(rng, 40),
    }
    for kind, text in samples.items():
        assert [finding["kind"] for finding in find_secrets(f"see: {text}.")] == [kind], text
    assert find_secrets("call 415-555-2671 or 030 12345678") == [
        {"kind": "phone", "span": [5, 17], "text": "415-555-2671"},
        {"kind": "phone", "span": [21, 33], "text": "030 12345678"}]
    anthropic = "s" + "k-ant-api03-" + fake(rng, 40)
    # an Anthropic key also has the shape of an OpenAI key; only the more specific kind is reported
    assert find_secrets(f"key: {anthropic}") == [{"kind": "anthropic_key", "span": [5, 5 + len(anthropic)],
                                                  "text": anthropic}]


def test_overlapping_findings_keep_the_more_specific_kind_and_come_sorted_by_start():
    rng = random.Random(8)
    token = "gh" + "p_" + fake(rng, 36)
    assert find_secrets(f'token = "{token}"') == [{"kind": "github_token", "span": [9, 49], "text": token}]
    password = fake(rng, 12)
    text = f'mail jane.doe@corp.io, password = "{password}", call +44 20 7946 0123'
    assert [(f["kind"], f["text"]) for f in find_secrets(text)] == [
        ("email", "jane.doe@corp.io"), ("password_assignment", password), ("phone", "+44 20 7946 0123")]
    assert find_secrets("write to noreply@github.com") == []


def test_private_keys_count_with_or_without_their_end_line_but_not_as_placeholders():
    rng = random.Random(9)
    header = "-----BEGIN " + "PRIVATE KEY-----"
    body = "\n".join(fake(rng, 64, string.ascii_letters + string.digits + "/+") for _ in range(2))
    truncated = f"{header}\n{body}"
    assert find_secrets(f"pasted:\n{truncated}") == [
        {"kind": "private_key", "span": [8, 8 + len(truncated)], "text": truncated}]
    assert find_secrets(f"{header}\n...\n-----END " + "PRIVATE KEY-----") == []
    assert find_secrets(f"{header}\n<your key here>\n-----END " + "PRIVATE KEY-----") == []


@pytest.mark.parametrize("text", [
    'password = "****"', 'password = "<password>"', 'DB_PASSWORD: "your_password"', 'token = "xxx"',
    'password = "changeme"', 'api_key = "sk-..."', 'apiKey: "YOUR_API_KEY"', 'password = "abc"',
    "postgres://user:password@localhost/db", "mysql://root:${DB_PASS}@db:3306/x",
    'SECRET_KEY = os.environ["SECRET_KEY"]', 'password = input("Enter password: ")',
    'tokenizer = AutoTokenizer.from_pretrained("bert-base-uncased")', "token_type = 'Bearer'",
    "AKIA" + "IOSFODNN7EXAMPLE", "user@example.com", "git@github.com:org/repo.git",
    "@app.route('/')\ndef index(): pass", "c = a @ b.T; d = x@w.T", "npm install lodash@4.17.21",
    "version 1.2.3.4, build 10.0.19041.1234", "server at 192.168.100.200", "on 2023-01-15 12:30:45",
    "ISBN 978-3-16-148410-0", "x = 1234567890123", "call 123-456-7890", "0 1 2 3 4 5 6 7 8 9",
    "uuid 123e4567-e89b-12d3-a456-426614174000", "pi is 3.14159265358979", "pip install scikit-learn==1.5.0",
])
def test_placeholders_versions_and_numbers_are_not_flagged(text):
    assert find_secrets(text) == []


def test_few_real_queries_are_flagged():
    flagged = {query_id: find_secrets(text) for query_id, text in arena_queries()}
    flagged = {query_id: findings for query_id, findings in flagged.items() if findings}
    kinds = Counter(finding["kind"] for findings in flagged.values() for finding in findings)
    print(f"\nfind_secrets flags {len(flagged)} of 500 Arena-Hard queries: {dict(kinds)}")
    # Measured: 1 query, a phone number in a sample record of personal data
    # ("..., 10/19/1972, 593647757, 7203354, 205-422-1680"), which is what the check is for.
    assert len(flagged) <= 3


SECRET_KINDS = {"private_key", "aws_access_key_id", "aws_secret_access_key", "github_token", "slack_token",
                "stripe_key", "anthropic_key", "openai_key", "google_api_key", "jwt", "password_in_url",
                "password_assignment", "email", "phone"}


def assert_well_formed(text: str, findings: list[dict]) -> None:
    """Known kinds, spans that index the text exactly, sorted and never overlapping."""
    previous_end = 0
    for finding in findings:
        assert set(finding) == {"kind", "span", "text"} and finding["kind"] in SECRET_KINDS
        start, end = finding["span"]
        assert previous_end <= start < end <= len(text)
        assert text[start:end] == finding["text"]
        previous_end = end


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8")
               | st.sampled_from(list("@:/.-_=+ \"'\n0123456789eyJAKIAsk")), max_size=400))
def test_find_secrets_never_crashes_and_spans_index_the_text(text):
    assert_well_formed(text, find_secrets(text))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["password = ", "ghp_", "AKIA", "@", "+44 ", "sk-", "eyJ", ".", "://",
                                 "a:b@c.de", '"', "x" * 20, "Z9" * 10, "\n", " "]), max_size=40))
def test_find_secrets_on_key_like_fragments(parts):
    text = "".join(parts)
    assert_well_formed(text, find_secrets(text))
