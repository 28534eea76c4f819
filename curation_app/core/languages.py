"""Programming-language suggestions from code fences, Pygments and cheap cues.

A suggestion is only a suggestion: the annotator confirms or changes it, and the annotation
records what was suggested. Labels follow the project's language vocabulary (CodeArena's by
default); a language outside it keeps its own lower-case name.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

# Fence tags and Pygments aliases -> vocabulary labels.
ALIASES: dict[str, str] = {}
for label, names in {
    "python": "python py python3 py3 pycon ipython python2 py2 pytb sage",
    "js": "javascript js jsx mjs cjs ecmascript",
    "node.js": "node nodejs node.js",
    "ts": "typescript ts tsx",
    "c++": "c++ cpp cxx cc hpp hxx arduino ino",
    "c": "c h",
    "c#": "csharp c# cs dotnet",
    "java": "java",
    "go": "go golang",
    "rust": "rust rs",
    "sql": "sql mysql postgresql postgres psql sqlite sqlite3 tsql t-sql plpgsql mssql",
    "pl/sql": "plsql pl/sql",
    "bash": "bash sh shell zsh console shell-session ksh",
    "powershell": "powershell ps1 pwsh posh",
    "php": "php html+php",
    "html": "html htm xhtml xml html5",
    "css": "css scss sass less",
    "r": "r rscript splus",
    "kotlin": "kotlin kt kts",
    "swift": "swift",
    "matlab": "matlab octave m",
    "lua": "lua",
    "luau": "luau",
    "dart": "dart flutter",
    "haskell": "haskell hs",
    "vba": "vba vb vbnet vb.net visualbasic",
    "latex": "latex tex",
    "verilog": "verilog systemverilog sv",
    "vhdl": "vhdl",
    "assembly": "asm nasm gas assembly x86asm masm armasm",
    "autohotkey": "autohotkey ahk",
    "autoit": "autoit",
    "mql4": "mql4 mql mq4",
    "pinescript": "pinescript pine",
}.items():
    for name in names.split():
        ALIASES[name] = label

KNOWN_LABELS = frozenset(ALIASES.values())

# Strong textual cues, checked on code only. Each is specific enough to name one language.
CUES: list[tuple[str, re.Pattern[str]]] = [
    ("python", re.compile(r"^\s*(def \w+\(.*\)\s*(->.*)?:|from [\w.]+ import |import (numpy|pandas|os|sys)\b|"
                          r"if __name__ == ['\"]__main__['\"]|print\(f?['\"])", re.M)),
    ("python", re.compile(r"Traceback \(most recent call last\)|File \".*\", line \d+")),
    ("c++", re.compile(r"#include <(iostream|vector|string|map|memory|algorithm)>|std::\w+|cout\s*<<")),
    ("c", re.compile(r"#include <(stdio|stdlib|string|unistd)\.h>|\bprintf\(|\bmalloc\(")),
    ("c#", re.compile(r"\busing System(\.\w+)*;|\bnamespace \w+\s*\{|Console\.WriteLine")),
    ("java", re.compile(r"public static void main\(String|System\.out\.println|\bimport java\.")),
    ("js", re.compile(r"console\.log\(|document\.(getElementById|querySelector)|=>\s*\{|\bconst \w+ = require\(")),
    ("ts", re.compile(r"\binterface \w+\s*\{|:\s*(string|number|boolean)(\[\])?\s*[;,)=]")),
    ("go", re.compile(r"^package main$|\bfunc \w+\(.*\)\s*\{|:= ", re.M)),
    ("rust", re.compile(r"\bfn \w+\(|\blet mut \b|println!\(|\bimpl\b.*\{")),
    ("php", re.compile(r"<\?php|\$\w+\s*=.*;|\becho \$")),
    ("sql", re.compile(r"\bSELECT\b[\s\S]+?\bFROM\b|\bINSERT INTO\b|\bCREATE TABLE\b|\bUPDATE \w+ SET\b", re.I)),
    ("bash", re.compile(r"^#!/bin/(ba)?sh|^\s*(sudo |apt(-get)? |echo \$|export \w+=|for \w+ in .*; do)", re.M)),
    ("powershell", re.compile(r"\b(Get|Set|New|Remove)-\w+\b|\$PSVersionTable|Write-Host")),
    ("html", re.compile(r"<(!DOCTYPE html|html|div|body|head|span|button|form)\b", re.I)),
    ("css", re.compile(r"^[.#]?[\w-]+\s*\{\s*$[\s\S]*?^\s*[\w-]+\s*:\s*[^;]+;", re.M)),
    ("kotlin", re.compile(r"\bfun \w+\(|\bval \w+\s*[:=]")),
    ("swift", re.compile(r"\bfunc \w+\(.*\)\s*->|\bimport (UIKit|SwiftUI|Foundation)\b|\bguard let\b")),
    ("r", re.compile(r"<-\s*(function|c\(|data\.frame)|library\(\w+\)|ggplot\(")),
    ("matlab", re.compile(r"^\s*function \[?.*\]?\s*=|\bdisp\(|\bzeros\(\d+,\s*\d+\)", re.M)),
    ("matlab", re.compile(r"^\s*for \w+\s*=\s*\d+:\S+", re.M)),
    ("assembly", re.compile(r"(^\s*(mov|xor|cmp|jmp|je|jne|jz|jnz|inc|dec|push|pop|ret|lea|call|add|sub)\b.*\n?){2,}",
                            re.M | re.I)),
    ("lua", re.compile(r"\blocal function\b|\bend\s*$[\s\S]*\blocal\b", re.M)),
    ("dart", re.compile(r"\bWidget build\(|void main\(\)\s*\{[\s\S]*runApp\(")),
]
# Names people use in prose for a language ("in Python", "my golang service").
MENTIONS: list[tuple[str, re.Pattern[str]]] = [
    (label, re.compile(pattern, re.I)) for label, pattern in [
        ("python", r"\bpython\b"), ("js", r"\bjavascript\b|\bjs\b"), ("ts", r"\btypescript\b"),
        ("c++", r"c\+\+|\bcpp\b"), ("c#", r"c#|\bcsharp\b|\.net\b"), ("java", r"\bjava\b(?!script)"),
        ("go", r"\bgolang\b|\bin go\b"), ("rust", r"\brust\b"), ("sql", r"\bsql\b|\bpostgres(ql)?\b|\bmysql\b"),
        ("bash", r"\bbash\b|\bshell script\b"), ("php", r"\bphp\b"), ("kotlin", r"\bkotlin\b"),
        ("swift", r"\bswift\b"), ("r", r"\bin r\b|\br script\b|\bggplot\b|\bdplyr\b"), ("matlab", r"\bmatlab\b"),
        ("powershell", r"\bpowershell\b"), ("html", r"\bhtml\b"), ("css", r"\bcss\b"), ("lua", r"\blua\b"),
        ("dart", r"\bdart\b|\bflutter\b"), ("haskell", r"\bhaskell\b"), ("vba", r"\bvba\b|\bexcel macro\b"),
        ("node.js", r"\bnode\.?js\b"), ("c", r"\bin c\b|\bc program\b|\bc code\b"),
    ]
]
# A fence tag is a short language name; anything else after the fence is ignored, so user text
# cannot smuggle markup into the language label.
FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([A-Za-z0-9+#._-]{0,30})[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.M | re.S)


@dataclass(frozen=True)
class LanguageSuggestion:
    language: str
    confidence: float
    evidence: str  # fence | cue | pygments | mention

    def as_dict(self) -> dict:
        return asdict(self)


# A suggestion this sure starts an annotator's draft and counts as the detector's answer.
CONFIDENT = 0.5


def confident_languages(suggestions: list[dict]) -> list[str]:
    """The languages the detector is sure of, from suggestions stored as dicts, best first."""
    return [s["language"] for s in suggestions if s["confidence"] >= CONFIDENT]


def label_for(name: str) -> str | None:
    """The vocabulary label for a fence tag or a Pygments alias; None for plain text."""
    name = name.strip().lower()
    if not name or name in ("text", "txt", "plaintext", "plain", "output", "none", "log", "json", "yaml",
                            "yml", "toml", "ini", "diff", "markdown", "md"):
        return None
    return ALIASES.get(name, name)


def pygments_guess(code: str) -> tuple[str | None, float]:
    """Pygments' best lexer for a snippet and its own 0..1 score; (None, 0) when it has no idea."""
    from pygments.lexers import guess_lexer
    from pygments.util import ClassNotFound

    try:
        lexer = guess_lexer(code)
    except ClassNotFound:
        return None, 0.0
    score = float(lexer.analyse_text(code) or 0.0)
    if score < 0.05:
        return None, 0.0
    label = label_for(lexer.aliases[0] if lexer.aliases else lexer.name)
    # Pygments' guesses outside the common languages are mostly noise on short snippets.
    return (label, score) if label in KNOWN_LABELS else (None, 0.0)


def cue_languages(code: str) -> list[str]:
    return list(dict.fromkeys(label for label, pattern in CUES if pattern.search(code)))


def suggest_languages(code_blocks: list[tuple[str | None, str]], prose: str) -> list[LanguageSuggestion]:
    """Rank languages for a query from its code blocks (fence tag or None, code) and its prose."""
    best: dict[str, LanguageSuggestion] = {}

    def offer(language: str | None, confidence: float, evidence: str) -> None:
        if language and (language not in best or best[language].confidence < confidence):
            best[language] = LanguageSuggestion(language, round(confidence, 2), evidence)

    for tag, code in code_blocks:
        tagged = label_for(tag) if tag else None
        if tagged:
            offer(tagged, 0.95, "fence")
            continue
        cues = cue_languages(code)
        for label in cues:
            offer(label, 0.8 if len(cues) == 1 else 0.6, "cue")
        if not cues:
            language, score = pygments_guess(code)
            offer(language, min(0.7, 0.3 + score / 2), "pygments")
    for label, pattern in MENTIONS:
        if pattern.search(prose):
            offer(label, 0.5, "mention")
    ranked = sorted(best.values(), key=lambda s: (-s.confidence, s.language))
    if not ranked:
        return [LanguageSuggestion("general", 0.3, "no code or language named")]
    return ranked
