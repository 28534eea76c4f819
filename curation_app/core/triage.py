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
import gzip
import json
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
# becomes "v", so renaming variables cannot hide a duplicate.
CODE_KEYWORDS: frozenset[str] = frozenset("""
    abstract and any append as assert async auto await bool boolean break byte case catch chan
    char class const continue crate def default defer del delete dict do double dyn elif else
    end endif enum enumerate err except export extends extern false final finally float fn for
    foreach format from func function global go goto if impl implements import in include
    input instanceof int interface is isinstance lambda len let list long loop map match max
    min mod module move mut namespace new nil none nonlocal not null nullptr object ok open or
    override package pass print printf println private protected pub public raise range
    readonly record ref require return self sizeof some sorted static str string struct sum
    super switch template then this throw throws trait true try tuple type typedef typename
    typeof uint undefined union unsafe unsigned use using var vec virtual void volatile where
    while with yield zip
    console log document window exports std cout cin endl system out fmt echo fi done esac
    select insert into values update set create table alter drop join inner left right outer
    on group by order having limit distinct count primary key foreign references index view
    div span html head body script style href src
""".split())

# Greetings and politeness that users add or drop when they resend a question; they say
# nothing about the task, so they must not make two copies of a question look different.
_POLITENESS = re.compile(
    r"\b(?:hi|hello|hey|dear|greetings|please|pls|plz|kindly|thanks|thank you|thx|cheers|"
    r"can you|could you|would you|will you|can u|could u|help me|i need you to|i want you to|"
    r"i would like you to|i'd like you to|would you mind|in advance|much appreciated|"
    r"for me|sir|chatgpt|assistant)\b")

_FENCE = re.compile(r"^\s*(?:```|~~~)")
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
            |if\s*\(|for\s*\(|while\s*\(|switch\s*\(|}\s*else
            |for\s+\w+(?:\s*,\s*\w+)*\s+in\s+\S.*:\s*$
            |(?:if|elif|while|with)\s+[^:]*(?:==|!=|<=|>=|<|>|\(|\.|\[)[^:]*:\s*$
            |select\s+.+\s+from\s|insert\s+into\s|update\s+\w+\s+set\s
            |create\s+(?:table|index|view|or\s+replace)\s|@\w+(?:\(|\s*$)
            |[})\]]+[;,]?\s*$|</?[a-z][\w-]*(?:\s[^<>]*)?/?>)
        | [\w.\[\]'"]+\s*(?:[-+*/%|&^]|<<|>>|\*\*|//)?=(?!=)\s*\S     # assignment
        | [\w.]+\s*\(.*\)\s*[;{]?\s*$                                # a bare call
        | .*(?:;|\{|=>\s*\{?)\s*$                                     # ends like a statement
        )""",
    re.VERBOSE)

_CODE_TOKEN = re.compile(
    r"""(?P<comment>(?://|\#(?=\s|$)|--\s).*$)
      | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\\n]|\\.)*`)
      | (?P<number>\b0x[0-9a-f]+\b|\b\d[\d_]*(?:\.\d+)?(?:e[+-]?\d+)?\b)
      | (?P<member>(?<=\.)[^\W\d]\w*)
      | (?P<word>[^\W\d]\w*)
    """,
    re.VERBOSE)


def _looks_like_code(line: str) -> bool:
    return bool(_CODE_LINE.match(line))


def _prose_tokens(line: str) -> list[str]:
    return _WORD.findall(_POLITENESS.sub(" ", line))


def _code_tokens(line: str) -> list[str]:
    tokens: list[str] = []
    previous_word = ""
    for match in _CODE_TOKEN.finditer(line):
        kind = match.lastgroup
        if kind == "comment":
            tokens.extend(_WORD.findall(match.group()))  # comments are prose: kept as written
        elif kind == "string":
            tokens.append("s")
        elif kind == "number":
            tokens.append("0")
        elif kind == "member":
            # obj.method(): the method is an API name and survives renaming; self.field is the
            # author's own name and does not.
            word = match.group()
            tokens.append("v" if previous_word in ("self", "this") else word)
            previous_word = word
            continue
        else:
            word = match.group()
            tokens.append(word if word in CODE_KEYWORDS else "v")
            previous_word = word
            continue
        previous_word = ""
    return tokens


def _classify_lines(lines: list[str]) -> list[bool]:
    """True for each line treated as code: inside a fence, or looking like code itself, or a
    stray line sandwiched between code lines (a closing ``else``, a one-word call)."""
    is_code = [False] * len(lines)
    in_fence = False
    for index, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        is_code[index] = in_fence or _looks_like_code(line)
    previous_code = False
    for index, line in enumerate(lines):
        if not line.strip() or _FENCE.match(line):
            continue
        if not is_code[index] and previous_code:
            following = next((is_code[j] for j in range(index + 1, len(lines))
                              if lines[j].strip() and not _FENCE.match(lines[j])), False)
            is_code[index] = following
        previous_code = is_code[index]
    return is_code


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


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
    segments: list[str] = []
    prose_run: list[str] = []

    def flush_prose() -> None:
        for sentence in _SENTENCE_END.split(" ".join(prose_run)):
            words = _prose_tokens(sentence)
            if words:
                segments.append(" ".join(words))
        prose_run.clear()

    for line, is_code in zip(lines, _classify_lines(lines)):
        if _FENCE.match(line):
            continue
        if is_code:
            flush_prose()
            tokens = _code_tokens(line)
            if tokens:
                segments.append(" ".join(tokens))
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
