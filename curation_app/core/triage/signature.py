"""Signature text and shingles: what near-duplicate detection compares.

Each text is reduced to a *signature text* (lower case, punctuation dropped, white space
collapsed, greetings and politeness phrases dropped, and inside code every identifier that is
not a keyword replaced by ``v`` and every literal by a placeholder), cut into character 5-grams,
and compared by the Jaccard similarity of those sets.
"""

from __future__ import annotations

import functools
import re
import unicodedata

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
# The variants as whole words of words joined by spaces: one pass, instead of a lookup per word.
_CANONICAL = re.compile(r"(?<!\w)(?:" + "|".join(sorted(_CANONICAL_WORDS, key=len, reverse=True)) + r")(?!\w)")


def _canonical_word(match: re.Match[str]) -> str:
    return _CANONICAL_WORDS[match.group()]

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


# Lines repeat a great deal across a million queries (closing braces, `return result`, the same
# snippet pasted again): both judgements of a line are cached.
_LINE_CACHE_SIZE = 1 << 16


@functools.lru_cache(maxsize=_LINE_CACHE_SIZE)
def _looks_like_code(line: str) -> bool:
    return line.rstrip().endswith(_CODE_LINE_ENDINGS) or _CODE_LINE.match(line) is not None


@functools.lru_cache(maxsize=_LINE_CACHE_SIZE)
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
                words = " ".join(_WORD.findall(sentence))
                if words:
                    segments.append(_CANONICAL.sub(_canonical_word, words))
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


# Character 5-grams rather than word 3-grams: real queries are short (Arena-Hard's median is 136
# characters, about 22 words), and one changed word removes 3 of ~20 word 3-grams (similarity
# drops to ~0.74) but only ~10 of ~130 character 5-grams (~0.86). Character shingles also
# tolerate typos, plurals and split or joined words.
SHINGLE_SIZE = 5


def shingle_set(signature: str) -> frozenset[str]:
    """Character 5-grams of each line of a signature; a line shorter than that is one shingle."""
    shingles: set[str] = set()
    for segment in signature.split("\n"):
        if len(segment) <= SHINGLE_SIZE:
            if segment:
                shingles.add(segment)
        else:
            shingles.update(segment[i:i + SHINGLE_SIZE] for i in range(len(segment) - SHINGLE_SIZE + 1))
    return frozenset(shingles)


def jaccard(first: frozenset[str], second: frozenset[str]) -> float:
    if not first and not second:
        return 1.0  # two texts with nothing comparable in them have identical (empty) signatures
    if not first or not second:
        return 0.0
    shared = len(first & second)
    return shared / (len(first) + len(second) - shared)


def similarity(a: str, b: str) -> float:
    """Exact Jaccard similarity of the character 5-gram sets of the two signature texts."""
    return jaccard(shingle_set(duplicate_signature_text(a)),
                   shingle_set(duplicate_signature_text(b)))

