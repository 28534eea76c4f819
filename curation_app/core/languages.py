"""Programming-language suggestions from code fences, Pygments and cheap cues.

A suggestion is only a suggestion: the annotator confirms or changes it, and the annotation
records what was suggested. Labels follow the project's language vocabulary (CodeArena's by
default); a language outside it keeps its own lower-case name.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

# Other names of each vocabulary label's own language: a label typed or imported under one of them
# is stored as the label (`golang` is `go`). The guidelines merge some variants into one label:
# SQL of any database is `sql`, TSX is `ts`. Names compare case- and space-insensitively.
SPELLINGS: dict[str, str] = {
    "python": "python py python3 py3 python2 py2",
    "js": "javascript js ecmascript mjs cjs",
    "node.js": "node nodejs node.js",
    "ts": "typescript ts tsx",
    "c++": "c++ cpp cxx hpp cplusplus",
    "c": "c",
    "c#": "csharp c# cs c-sharp",
    "java": "java",
    "go": "go golang",
    "rust": "rust rs",
    "sql": "sql mysql postgresql postgres psql sqlite sqlite3 tsql t-sql plpgsql mssql",
    "pl/sql": "plsql pl/sql",
    "bash": "bash sh shell shellscript",
    "powershell": "powershell ps1 pwsh posh",
    "php": "php",
    "html": "html htm xhtml html5",
    "css": "css css3",
    "r": "r rscript",
    "kotlin": "kotlin kt kts",
    "swift": "swift",
    "matlab": "matlab",
    "lua": "lua",
    "luau": "luau",
    "dart": "dart",
    "haskell": "haskell hs",
    "vba": "vba visualbasicforapplications",
    "latex": "latex",
    "verilog": "verilog",
    "vhdl": "vhdl",
    "assembly": "assembly asm",
    "autohotkey": "autohotkey ahk",
    "autoit": "autoit",
    "mql4": "mql4 mql mq4",
    "pinescript": "pinescript pine",
}
# Fence tags and Pygments aliases of relatives, dialects and tools: evidence for a label when
# suggesting, but not its name (XML is not HTML, VB.NET is not VBA), so never merged into a label.
RELATED_TAGS: dict[str, str] = {
    "python": "pycon ipython pytb sage",
    "js": "jsx",
    "c++": "cc hxx arduino ino",
    "c": "h",
    "c#": "dotnet",
    "bash": "zsh console shell-session ksh",
    "php": "html+php",
    "html": "xml",
    "css": "scss sass less",
    "r": "splus",
    "matlab": "octave m",
    "dart": "flutter",
    "vba": "vb vbnet vb.net visualbasic",
    "latex": "tex",
    "verilog": "systemverilog sv",
    "assembly": "nasm gas x86asm masm armasm",
}
LABEL_ALIASES: dict[str, str] = {name: label for label, names in SPELLINGS.items() for name in names.split()}
# Fence tags and Pygments aliases -> vocabulary labels.
ALIASES: dict[str, str] = {**{name: label for label, names in RELATED_TAGS.items() for name in names.split()},
                           **LABEL_ALIASES}

KNOWN_LABELS = frozenset(ALIASES.values())

# Textual cues, checked on code whose strings and comments are blanked (a string's HTML or SQL, or a
# comment's English, is not the code's language). DISTINCT: the cue names one language (`println!(` is
# Rust). TYPICAL: common in it but shared with relatives (`std::` is C++ and Rust, `=>` is JS, C#, PHP
# and Rust). A language's score is the sum of the weights of the cues it matches, each counted once.
DISTINCT, TYPICAL = 2, 1
_CUE_TABLE: list[tuple[str, int, list[str]]] = [
    ("python", DISTINCT, [r"^\s*def \w+\(.*\)\s*(->.*)?:\s*$", r"^\s*from [\w.]+ import [\w*(]",
                          r"^\s*import [\w.]+( as \w+)?\s*$", r"if __name__ == ['\"]__main__['\"]", r"^%%\w+",
                          r"^\s*elif .*:\s*$", r"Traceback \(most recent call last\)", r"^\s*File \".*\", line \d+"]),
    ("python", TYPICAL, [r"^\s*(for \w+(, \w+)* in .+|while .+|with .+ as \w+|try|except.*|else|class \w+(\(.*\))?)"
                         r":\s*$", r"\bprint\(f?['\"]", r"\b(None|True|False)\b", r"\b(np|pd|plt|os|sys|re)\.\w+\(",
                         r"\[.+ for \w+ in .+\]", r"\bself\.\w+\s*=(?!=)", r"^\s*@\w+(\.\w+)*(\(.*\))?\s*$"]),
    ("c++", DISTINCT, [r"#include\s*<(?!\w+\.h>)[\w/]+>", r"\busing namespace std\b",
                       r"\bstd::(cout|cin|endl|vector|string|map|unique_ptr|shared_ptr|make_\w+)\b", r"\bcout\s*<<",
                       r"\bcin\s*>>", r"\b(digitalWrite|pinMode|analogRead|analogWrite|millis)\(",
                       r"\bvoid (setup|loop)\(\)", r"\bnullptr\b"]),
    ("c++", TYPICAL, [r"\bstd::\w+", r"\btemplate\s*<", r"\bvirtual\b",
                      r"^\w[\w<>:*& ]*\b\w+::~?\w+\(.*\)\s*(const)?\s*\{?\s*$",
                      r"^\s*(static |const |unsigned )*(int|void|char|float|double|bool|long)\s+\**\w+\s*(\(|=|;|\[)"]),
    ("c", DISTINCT, [r"#include\s*<(stdio|stdlib|string|unistd|stdint|math|time|pthread)\.h>"]),
    ("c", TYPICAL, [r"\b(printf|malloc|calloc|free|sizeof|fprintf|scanf)\s*\(", r"\w->\w",
                    r"\((u?int\d+_t|char|int|void)\s*\*+\)",
                    r"^\s*(static |const |unsigned )*(int|void|char|float|double|long)\s+\**\w+\s*(\(|=|;|\[)"]),
    ("c#", DISTINCT, [r"\busing System(\.\w+)*;", r"Console\.Write(Line)?\(", r"\{\s*get;\s*(set;\s*)?\}",
                      r"\basync Task\b"]),
    ("c#", TYPICAL, [r"\bnamespace [\w.]+\s*\{?\s*$", r"\bpublic (class|void|string|int|bool)\b",
                     r"\bvar \w+ = new\b"]),
    ("java", DISTINCT, [r"public static void main\(String", r"System\.(out|err)\.print", r"^\s*import java\.",
                        r"^package [\w.]+;\s*$", r"^\s*at [\w.$]+\((Unknown Source|Native Method|\w+\.java:\d+)",
                        r"\bjava\.(lang|util|io)\.\w+"]),
    ("java", TYPICAL, [r"@Override\b", r"\bpublic (final |abstract )?class \w+",
                       r"\bprivate (final |static )*[\w<>\[\], ]+ \w+;"]),
    ("js", DISTINCT, [r"console\.log\(", r"document\.(getElementById|querySelector(All)?|createElement)\(",
                      r"\.addEventListener\(", r"\brequire\(['\"]", r"\bmodule\.exports\b", r"\bwindow\.\w+",
                      r"\$\(['\"]", r"\bJSON\.(parse|stringify)\("]),
    ("js", TYPICAL, [r"=>\s*\{?", r"^\s*(const|var) [\w{}, \[\]]+ = ", r"\bfunction\s*\w*\s*\(.*\)\s*\{", r"===|!==",
                     r"\blet \w+ = ", r"^\s*import .+ from ['\"]", r"\bexport (default )?(function|const|class)\b"]),
    ("ts", DISTINCT, [r"\w\??:\s*(string|number|boolean|any|void|unknown)(\[\])?\s*[;,)=|>]", r"\w\?:\s*\w",
                      r"\binterface \w+\s*\{", r"\bexport (interface|type) \w+", r"\bas (string|number|any)\b",
                      r"\):\s*\w+(<.*>)?\s*\{"]),
    ("ts", TYPICAL, [r"^\s*import .+ from ['\"]", r"\bexport (default )?(function|const|class)\b", r"=>\s*\{?"]),
    ("go", DISTINCT, [r"^package main$", r"\bfmt\.\w+\(", r"\bfunc (\(\w+ \*?\w+\) )?\w+\(.*\)\s*[\w()*\[\], ]*\{",
                      r"\bgo func\b"]),
    ("go", TYPICAL, [r":= ", r"\bchan \w+", r"\bdefer \w"]),
    ("rust", DISTINCT, [r"\bfn \w+(<.*>)?\(", r"\blet mut\b",
                        r"\b(println|print|format|panic|eprintln|write|writeln|assert)!\(", r"\bvec!\[",
                        r"\bimpl(<.*>)? [\w<>]+( for [\w<>]+)?\s*\{", r"^\s*use (std|crate|super|self)::", r"&mut \w",
                        r"&self\b"]),
    ("rust", TYPICAL, [r"\b(u8|u16|u32|u64|i32|i64|usize|isize|f64)\b", r"\bmatch \w+ \{", r"\b(Some|Ok|Err)\(",
                       r"::new\("]),
    ("php", DISTINCT, [r"<\?php", r"<\?=", r"\$this->", r"^\s*(use|namespace) [A-Z]\w*(\\\w+)+;",
                       r"\$_(GET|POST|SESSION|SERVER)\b"]),
    ("php", TYPICAL, [r"\$\w+\s*=[^=].*;\s*$", r"\becho \$\w+;", r"\bfunction \w+\(\$"]),
    ("sql", DISTINCT, [r"\bSELECT\b[\s\S]+?\bFROM\b", r"^\s*select\s+[\w*,.() ]+\s+from\s+\w+", r"\bINSERT INTO\b",
                       r"\bCREATE TABLE\b"]),
    ("sql", TYPICAL, [r"\b(GROUP BY|ORDER BY|INNER JOIN|LEFT JOIN|WHERE|UPDATE \w+ SET|DELETE FROM)\b"]),
    ("bash", DISTINCT, [r"^#!/(usr/)?bin/(env )?(ba|z)?sh", r"^\s*(if|while|until) \[\[? .*\]\]?",
                        r"^\s*(fi|done|esac)\s*$", r"\|\s*(grep|awk|sed|head|tail|sort|uniq|xargs|wc|cut)\b",
                        r"^\s*local \w+=", r"\$\{#\w+", r"\[[@*]\]\}", r"^\s*\w[\w.-]*@[\w.-]+:[^#$\s]*[#$] \S"]),
    ("bash", TYPICAL, [r"^\s*(sudo|apt|apt-get|echo|export|source|chmod|mkdir|cd|docker|curl|wget|grep|ls|rm|cp|mv|"
                       r"pip3?|npm|npx|yarn|git|brew|conda)\s", r"^\w+=(\S|$)", r"\$\(\w", r"\$\d\b", r"\$#",
                       r"\$\{\w+\}"]),
    ("powershell", DISTINCT, [r"\b(Get|Set|New|Remove|Start|Stop|Write|Clear|Invoke|Test|Import)-[A-Z]\w+",
                              r"\$PSVersionTable", r"^PS [A-Z]:\\[^>]*> "]),
    ("powershell", TYPICAL, [r"\$null\b", r"\s-(eq|ne|lt|gt|le|ge|like|match)\s", r"\$\w+\.\w+\("]),
    ("html", DISTINCT, [r"<(!DOCTYPE html|html|head|body)\b",
                        r"</(div|span|p|table|form|button|ul|li|body|html|head|script)>"]),
    ("html", TYPICAL, [r"<(div|span|button|form|input|table|label|textarea|script|style|h[1-6]|p|a|img)\b[^>]*>"]),
    ("css", DISTINCT, [r"^[.#]?[\w-]+(\s*[,>]\s*[.#]?[\w-]+)*\s*\{\s*$[\s\S]*?^\s*[\w-]+\s*:\s*[^;]+;"]),
    ("kotlin", DISTINCT, [r"\bfun \w+\(", r"\bval \w+\s*[:=]"]),
    ("swift", DISTINCT, [r"\bfunc \w+\(.*\)\s*->", r"\bimport (UIKit|SwiftUI|Foundation)\b", r"\bguard let\b"]),
    ("r", DISTINCT, [r"<-\s*(function|c\(|data\.frame)", r"\blibrary\(\w+\)", r"\bggplot\(", r"%>%", r"\bSys\.\w+\("]),
    ("r", TYPICAL, [r"\w\s*<-\s*\S", r"\bis\.na\(", r"\bc\(\s*\""]),
    ("matlab", DISTINCT, [r"^\s*function \[?[\w, ]*\]?\s*=\s*\w+\(", r"\bdisp\(", r"\bzeros\(\d+,\s*\d+\)",
                          r"\bfprintf\('", r"^\s*for \w+\s*=\s*\d+:\S+", r"^\s*%[^%\n].*$[\s\S]*^\s*end;?\s*$"]),
    ("matlab", TYPICAL, [r"^\s*end;?\s*$", r"\.\*|\.\^", r"\bnumel\(", r"\bsize\(\w+,\s*\d\)"]),
    ("assembly", DISTINCT, [r"(^\s*(\w+:\s*)?(mov|xor|cmp|jmp|je|jne|jz|jnz|inc|dec|push|pop|ret|lea|call|add|sub|"
                            r"ldr|str|bl|ble|bne|beq|b)\s+[\w#\[\]=,.\\@-]+.*\n?){2,}",
                            r"^\s*\.(macro|endm|data|text|global|globl|section|align|space)\b"]),
    ("lua", DISTINCT, [r"\blocal function\b", r"\blocal \w+ = ", r"\bend\s*$[\s\S]*\blocal\b",
                       r"\bfunction \w+[.:]\w+\("]),
    ("dart", DISTINCT, [r"\bWidget build\(", r"void main\(\)\s*\{[\s\S]*runApp\("]),
]
CUES: list[tuple[str, int, re.Pattern[str]]] = [(label, weight, re.compile(pattern, re.M))
                                               for label, weight, patterns in _CUE_TABLE for pattern in patterns]
# A language is named by code only on strong evidence: a distinctive cue and a score of at least this.
CONFIDENT_SCORE = 3

_STRINGS = re.compile(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:\\.|[^"\\\n])*"|(?<![\w\'])\'(?:\\.|[^\'\\\n])*\'')
# Comments: // and -- and # (not a preprocessor line or a CSS id), /* */, and VB's trailing ' remark.
_COMMENTS = re.compile(r"(?:^|(?<=\s))(//|--\s|#(?!!|include|define|if|ifdef|ifndef|endif|else|pragma|undef|import|"
                       r"version)(?![\w-]*\s*\{)).*$|/\*[\s\S]*?\*/|(?<=\s)'\s[^'\n]*$", re.M)


def _emptied_string(match: re.Match[str]) -> str:
    text = match.group(0)
    quote = text[:3] if text[:3] in ('"""', "\'\'\'") else text[0]
    return quote * 2 + "\n" * text.count("\n")  # keep the line count


def blank_strings_and_comments(code: str) -> str:
    """The code with string contents emptied (quotes kept) and comments removed, lines kept."""
    return _COMMENTS.sub(lambda m: "\n" * m.group(0).count("\n"), _STRINGS.sub(_emptied_string, code))


# Names people use in prose for a language ("in Python", "my golang service").
MENTIONS: list[tuple[str, re.Pattern[str]]] = [
    (label, re.compile(pattern, re.I)) for label, pattern in [
        ("python", r"\bpython\b"),
        ("js", r"\bjavascript\b|\bjs\b"), ("ts", r"\btypescript\b"),
        ("c++", r"c\+\+|\bcpp\b"), ("c#", r"c#|\bcsharp\b|(?<!vb)\.net\b"), ("java", r"\bjava\b(?!script)"),
        ("go", r"\bgolang\b|\bin go\b"), ("rust", r"\brust\b"), ("sql", r"\bsql\b|\bpostgres(ql)?\b|\bmysql\b"),
        ("bash", r"\bbash\b|\bshell script\b"), ("php", r"\bphp\b"), ("kotlin", r"\bkotlin\b"),
        ("swift", r"\bswift\b"), ("r", r"\bin r\b|\br script\b|\bggplot\b|\bdplyr\b"), ("matlab", r"\bmatlab\b"),
        ("powershell", r"\bpowershell\b"), ("html", r"\bhtml\b"), ("css", r"\bcss\b"), ("lua", r"\blua\b"),
        ("dart", r"\bdart\b|\bflutter\b"), ("haskell", r"\bhaskell\b"), ("vba", r"\bvba\b|\bexcel macro\b"),
        ("node.js", r"\bnode\.?js\b"), ("c", r"\bin c\b|\bc program\b|\bc code\b"),
        ("assembly", r"\bassembly (language|code|program)\b|\b(arm|x86(-64)?|nasm|masm|mips) assembly\b|\bnasm\b"),
    ]
]
# A mention right after these words names the language wanted ("rewrite it in Rust"), not the code shown.
_TARGET_MENTION = re.compile(r"\b(in|into|to|using|with|for|use|write|convert|translate)\s+"
                             r"((proper|pure|modern|plain|a|an|the)\s+)?$", re.I)
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


@dataclass(frozen=True)
class CueEvidence:
    language: str
    score: int  # sum of the weights of the distinct cues matched
    distinctive: bool  # at least one cue that names this language alone

    @property
    def strong(self) -> bool:
        return self.distinctive and self.score >= CONFIDENT_SCORE


def language_evidence(code: str) -> list[CueEvidence]:
    """Each language's cue evidence in a piece of code, best first: a language with a distinctive cue
    ranks above one with shared cues only (those say "some C-like language", not which)."""
    scores: dict[str, int] = {}
    distinctive: set[str] = set()
    plain = blank_strings_and_comments(code)
    for label, weight, pattern in CUES:
        if pattern.search(plain):
            scores[label] = scores.get(label, 0) + weight
            if weight == DISTINCT:
                distinctive.add(label)
    evidence = [CueEvidence(label, score, label in distinctive) for label, score in scores.items()]
    return sorted(evidence, key=lambda e: (not e.distinctive, -e.score, e.language))


def cue_languages(code: str) -> list[str]:
    """The languages any cue points at, best first."""
    return [e.language for e in language_evidence(code)]


# JSON data: a line of it is a bracket, a "key": value pair, or a bare value.
_JSON_LINE = re.compile(r'^\s*[\[{]*\s*("[^"]*"\s*:.*|"[^"]*",?|-?\d[\d.eE+-]*,?|true,?|false,?|null,?|[}\]]+,?)?\s*$')
_JSON_DUMP = re.compile(r'^\s*(\[\s*)?\{\s*"[^"\n]*"\s*:')


def looks_like_json(code: str) -> bool:
    """JSON data rather than a program: opens with a bracket and reads as keys and values throughout."""
    lines = [line for line in code.strip().splitlines() if line.strip()]
    if not lines or lines[0].lstrip()[:1] not in "[{":
        return False
    if len(lines) == 1:
        return bool(_JSON_DUMP.match(lines[0]))
    return sum(1 for line in lines if _JSON_LINE.match(line)) >= 0.7 * len(lines)


def block_language(code: str) -> str | None:
    """The label to show on a code block: json for data, the leading language when one leads on a
    distinctive cue (or is the only one with a shared cue), else None: a wrong label misleads more
    than none."""
    if looks_like_json(code):
        return "json"
    evidence = language_evidence(code)
    if not evidence:
        return None
    leader = evidence[0]
    if len(evidence) == 1 or leader.strong:
        return leader.language
    runner_up = evidence[1]
    ahead = (leader.distinctive, leader.score) > (runner_up.distinctive, runner_up.score)
    return leader.language if ahead else None


def suggest_languages(code_blocks: list[tuple[str | None, str]], prose: str) -> list[LanguageSuggestion]:
    """Rank languages for a query from its code blocks (fence tag or None, code) and its prose.

    Confident (>= CONFIDENT, pre-filled): a fence tag, strong cue evidence in the code, a language
    named in the prose. Below it, as hints only: weaker cues, Pygments' guess, and a name the code
    contradicts."""
    best: dict[str, LanguageSuggestion] = {}

    def offer(language: str | None, confidence: float, evidence: str) -> None:
        if language and (language not in best or best[language].confidence < confidence):
            best[language] = LanguageSuggestion(language, round(confidence, 2), evidence)

    untagged: list[str] = []
    for tag, code in code_blocks:
        tagged = label_for(tag) if tag else None
        if tagged:
            offer(tagged, 0.95, "fence")
        elif not looks_like_json(code):  # data names no language
            untagged.append(code)
    # All of a query's untagged code is one body of evidence: two small snippets add up.
    code = "\n\n".join(untagged)
    evidence = language_evidence(code) if code else []
    for cue in evidence:
        sure = min(0.9, 0.6 + 0.05 * cue.score)
        offer(cue.language, sure if cue.strong else min(0.45, 0.3 + 0.03 * cue.score), "cue")
    if code and not evidence:
        language, score = pygments_guess(code)
        offer(language, min(0.45, 0.3 + score / 4), "pygments")  # Pygments alone is a hint, never sure
    strong = any(cue.strong for cue in evidence)
    cued = {cue.language for cue in evidence}
    for label, pattern in MENTIONS:
        mentions = list(pattern.finditer(prose))
        if not mentions:
            continue
        wanted = any(_TARGET_MENTION.search(prose[max(0, m.start() - 24):m.start()]) for m in mentions)
        # "the following C code" above unmistakable Rust: the prose is wrong about the code shown.
        contradicted = strong and label not in cued and not wanted
        offer(label, 0.4 if contradicted else 0.5, "mention")
    ranked = sorted(best.values(), key=lambda s: (-s.confidence, s.language))
    if not ranked:
        return [LanguageSuggestion("general", 0.3, "no code or language named")]
    return ranked
