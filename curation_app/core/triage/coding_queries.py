"""Coding-query detector: how likely a query asks for help with code, as a score from 0 to 1.

Dumps such as LMSYS-Chat-1M or WildChat-1M are mostly not about code; the score lets triage,
sampling and assignment keep the coding queries. A query is a coding query when it asks for help
writing, fixing, explaining, reviewing, converting or running code: a program, a function, a
script, a SQL query, a regex, a shell command, configuration as code, or the design of a software
system; or when it pastes code or an error trace to be dealt with. A question about programming
that needs no code (careers, which language to learn, a course outline) is not one.

Two scorers, both looking only at the first user turn, cut to `MAX_CHARS`:

- the rules (always there): code cues (fences, lines that read as code, code punctuation,
  identifiers, tracebacks and error lines, file names, shell commands), programming vocabulary,
  requests for code, cues of other tasks (essays, recipes, careers, proofs), and, for the queries
  those leave in doubt, the language detector's confidence (`curation_app.core.languages`);
- a scikit-learn model (`CodingModel`), trained on the project's own final labels once there are
  `MIN_LABELS_PER_CLASS` of each class: coding = kept, or rejected for another reason than
  "not a coding query"; not coding = rejected as "not a coding query". It reads the rules'
  features and the words, so it starts from the rules and corrects them where the labels disagree.

The filter, for any code that selects queries (assignment's `--coding-only`, sampling, reports):

    from curation_app.core.triage.coding_queries import coding_filter, coding_only
    select(Query).where(coding_only(session))   # at the project's `coding_threshold` (default 0.5)
    select(Query).where(coding_filter(0.8))     # at a threshold of the caller's own

A query not scored yet (coding_score None) never passes: a caller should say so rather than drop
it silently, as `queue.assign` does. Triage scores new queries (`python -m curation_app triage`,
which also runs after every import), and `triage --coding` runs the score alone.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from sqlalchemy import and_, func, select
from sqlmodel import Session

from curation_app.core.languages import FENCE, label_for, language_evidence
from curation_app.core.settings import get_setting
from curation_app.models import FinalLabel, Query

# Change it when the rules change: scores written by another version are then written again.
RULES_VERSION = "rules-1"
# A long query is read as its first MAX_CHARS - TAIL_CHARS characters and its last TAIL_CHARS (where
# the question, or a pasted trace, often is).
MAX_CHARS = 3000
TAIL_CHARS = 500
MIN_LABELS_PER_CLASS = 50
NOT_CODING_REASON = "not a coding query"
SCORE_DECIMALS = 3  # scores are stored rounded: a filter needs no more, and equal scores update together


def first_user_turn(messages: list[dict]) -> str:
    """The query's text: its first user turn."""
    return next((m["content"] for m in messages if m.get("role") == "user"), "")


def _capped(text: str) -> str:
    """What the rules read of a long text: its head and its tail."""
    if len(text) <= MAX_CHARS:
        return text
    return text[:MAX_CHARS - TAIL_CHARS] + "\n" + text[-TAIL_CHARS:]


# --- code cues -------------------------------------------------------------------------------
# Each pattern runs once over the capped text; all are case-sensitive (the text is lowered once for
# the word patterns), because case-insensitive matching costs several times more in `re`.

_FENCE_LINE = re.compile(r"^[ \t]*(?:```|~~~)", re.M)
# A line that starts like a statement, a declaration, markup or a query.
_CODE_START = re.compile(
    r"^[ \t]*(?:def \w|class \w|import [\w.{*]|from [\w.]+ import|#include|#define|#!/|using namespace|package [\w.]+;"
    r"|(?:public|private|protected|static|final|async|export) |func \w|fn \w|let \w|const \w|var \w|val \w"
    r"|function\b|return\b|if ?\(|for ?\(|while ?\(|} ?else|elif |else:|try:|except\b|catch ?\(|switch ?\(|case .+:"
    r"|SELECT |INSERT |UPDATE \w+ SET|CREATE (?:TABLE|INDEX|VIEW|OR)|ALTER TABLE|DELETE FROM|WITH \w+ AS"
    r"|@\w+|<\?php|<!DOCTYPE|</?(?:div|html|head|body|script|style|span|table|form|input|button|template|svg)\b"
    r"|print\(|printf\(|console\.|echo |System\.|std::|\w+(?:\.\w+)+\(|\w+ = \S|\w+\[.*\] ?= ?\S)", re.M)
# A line that ends like a statement or a block.
_CODE_END = re.compile(r"(?:[;{}]|\):|\)\s*\{|=>|->)[ \t]*$", re.M)
_INDENTED_CODE = re.compile(r"^(?: {4}|\t)+\S[^\n]*?(?:[;{}]|[a-z_]\(|\w\[|\w = \S)", re.M)
# Marks only identifiers and operators make: snake_case, calls, ::, ->, ==, &&, ++. Each alternative
# starts with a literal character, so `re` skips ahead to the next candidate.
_IDENTIFIER = re.compile(r"_(?<=[a-z0-9]_)[a-z0-9]|\((?<=\w\()|::|->|\+\+|\+=|&&|\|\||==|!=")
# Error output. Phrases are plain substrings of the lowered text; the patterns start with a literal
# word, so `re` skips to it. An exception name is any word that ends in Error or Exception.
_ERROR_PHRASES = ("traceback (most recent call last)", "segmentation fault", "core dumped", "undefined reference",
                  "command not found", "npm err!", "errno", "is not defined", "is not a function",
                  "cannot find module", "no module named", "unexpected token", "stack trace", "stacktrace",
                  "compile error", "compiler error", "compilation error", "panicked at", "build failed",
                  "error: ", "warning: ", "fatal: ", "exit code", "exit status", "permission denied",
                  "no such file or directory")
_EXCEPTION_NAME = re.compile(r"(?:Error|Exception)\b")
_ERROR_LINE = re.compile(r"File \".+\", line \d+|\n\s*at [\w.$<>]+\(|error [A-Z]+\d+|\[E\d{3,}\]")


# A text without one of these words has no error output, and the checks above are skipped.
_ERROR_GATE = frozenset("traceback segmentation dumped undefined command npm errno defined function module token "
                        "trace stacktrace compile compiler compilation panicked failed error warning fatal exit file "
                        "at exception denied directory".split())


def _has_error_output(text: str, lowered: str, words: set) -> bool:
    if words.isdisjoint(_ERROR_GATE) and "Error" not in text and "Exception" not in text:
        return False
    if any(phrase in lowered for phrase in _ERROR_PHRASES) or _ERROR_LINE.search(text):
        return True
    return any(m.start() > 0 and text[m.start() - 1].isalnum() for m in _EXCEPTION_NAME.finditer(text))


_FILE = re.compile(
    r"\.(?<=\w\.)(?:py|ipynb|js|jsx|mjs|ts|tsx|java|kt|kts|cpp|cc|cxx|hpp|h|c|cs|csproj|go|rs|rb|php|sh|bash|zsh|ps1"
    r"|bat|sql|html|css|scss|vue|svelte|json|yaml|yml|toml|xml|gradle|swift|lua|dart|pl|mk|cmake|dockerfile"
    r"|env|ini|cfg|conf|lock|so|dll|jar|wasm|nix)\b|/(?:usr|etc|var|home|opt|bin|tmp|dev|proc|src)/|~/"
    r"|:\\(?<=\b[a-z]:\\)")
_URL = re.compile(r"https?://\S+|www\.\S+")  # taken out before files and words: page.html is not code
# A command at the start of a line, with an argument that looks like a flag, a path or a subcommand.
_SHELL_COMMANDS = frozenset("""
    apt apt-get yum dnf pacman brew pip pip3 conda npm npx yarn pnpm git docker docker-compose kubectl helm terraform
    curl wget ssh scp rsync chmod chown ls cd mkdir rm cp mv cat grep awk sed find tar unzip ffmpeg systemctl
    journalctl make cmake gcc g++ clang python python3 node java javac go cargo rustc mvn gradle dotnet nix-shell nix
    export source echo sudo
""".split())
_SHELL = re.compile(
    r"^[ \t]*(?:\$ |# |> |PS [A-Z]:\\[^>]*> )?(?:sudo |nohup )?(?:apt(?:-get)?|yum|dnf|pacman|brew|pip3?|conda|npm"
    r"|npx|yarn|pnpm|git|docker(?:-compose)?|kubectl|helm|terraform|curl|wget|ssh|scp|rsync|chmod|chown|ls|cd|mkdir"
    r"|rm|cp|mv|cat|grep|awk|sed|find|tar|unzip|ffmpeg|systemctl|journalctl|make|cmake|gcc|g\+\+|clang|python3?"
    r"|node|javac?|go|cargo|rustc|mvn|gradle|dotnet|nix-shell|nix|export|source|echo)"
    r" +(?:-{1,2}\w|[\w.~-]*[./~$][\w./$-]*|install|run|build|init|clone|commit|push|pull|start|stop|exec|apply|get"
    r"|add|remove|update|upgrade|test|status|log|checkout|compose|up|-)", re.M)
# Code punctuation, counted in one pass: the text's length minus its length without them.
_SYMBOLS = str.maketrans("", "", "{}[];=<>_|`")
_MATH = re.compile(r"\\(?:frac|sqrt|ket|bra|sum|int|prod|lim|infty|alpha|beta|gamma|delta|epsilon|lambda|theta"
                   r"|sigma|omega|pi|mu|cdot|times|leq|geq|neq|mathbb|mathrm|begin\{(?:align|equation))\b|\$\$"
                   r"|\$(?=[a-zA-Z\\])[^$\n]{1,40}\$")

# --- words (on the lowered text) -------------------------------------------------------------
# Words: the lowered text split at anything but letters, digits, + and # (c++, c#), in one pass.
_WORD_BREAKS = str.maketrans({c: " " for c in "!\"$%&'()*,-./:;<=>?@[\\]^_`{|}~\t\r\n"})


def _words(lowered: str) -> set[str]:
    return set(lowered.translate(_WORD_BREAKS).split())


# Programming languages by name. `c` and `r` alone are too often something else; so are the names
# below, which count half (Java the island, Swift the singer, a pension scheme, an octave).
_LANGUAGES = frozenset("""
    python python3 javascript typescript kotlin golang php haskell ocaml elixir erlang clojure luau matlab fortran
    cobol vba vbscript vbs powershell bash zsh sql mysql postgresql tsql plsql html css scss c++ cpp c# csharp
    solidity verilog vhdl systemverilog gdscript autolisp abap prolog fsharp f# nasm masm hlsl glsl wgsl cuda opencl
    jsx tsx
""".split())
_AMBIGUOUS_LANGUAGES = frozenset("java rust swift ruby perl scala lua dart julia groovy lisp scheme racket assembly "
                                 "octave apex nim zig js".split())
# Libraries, frameworks, tools, formats and concepts that only programming talks about.
_PROGRAMMING_TERMS = frozenset("""
    api apis sdk json yaml xml regex regexp dataframe dataframes numpy pandas matplotlib seaborn plotly scipy sklearn
    scikit pytorch tensorflow keras jax huggingface langchain django flask fastapi streamlit gradio
    react reactjs vue vuejs angular svelte sveltekit nextjs nuxt jquery tailwind nodejs npm pip conda
    docker dockerfile kubernetes k8s helm terraform ansible nginx redis mongodb postgres sqlite mssql clickhouse
    databricks pyspark hadoop kafka graphql grpc websocket websockets restful endpoint endpoints oauth
    jwt cors ajax git github gitlab jenkins vscode repo compiler compiled compiling interpreter runtime
    debugger debug debugging traceback stacktrace segfault refactor refactoring boolean struct structs enum enums
    tuple tuples dict hashmap hashtable pointers iterator iterators closures async await callback callbacks
    multithreading multiprocessing mutex coroutine coroutines generics namespace constructor polymorphism oop
    frontend backend fullstack linux unix ubuntu debian cli stdin stdout stderr dom svg webgl opengl vulkan shader
    shaders gpu godot roblox android ios swiftui xcode flutter jetpack gradle maven cmake makefile yarn webpack vite
    babel eslint pytest junit jest mocha selenium playwright puppeteer cypress unittest mocking nosql orm crud
    serverless aws azure gcp ec2 s3 vpc cron crontab systemd ssh sftp tcp udp socket sockets dns localhost
    coding codebase programming scripting snippet leetcode bitwise utf unicode parser parsing serialize deserialize
    jupyter colab venv virtualenv pypi cargo rustc gcc clang llvm wasm webassembly arduino esp32 fpga x86 arm64
    latex markdown plugin widget widgets gui textbox dropdown scrape scraping scraper crawler fuzzer fuzzing chatbot
    webhook webhooks nix nixpkgs promql openxml wsdl xpath xaml awk sed grep jq ffmpeg rclone rsync systemctl
    pyqt pyqt5 pyqt6 pyside pyside6 tkinter qt wxpython rebase gitignore
""".split())
# Words that programming uses and other talk does too (a density function, a code of conduct, a TV
# program, a library's catalogue): each counts half.
_SHARED_TERMS = frozenset("""
    code program programs script scripts function functions method methods variable variables class classes module
    modules library libraries package packages framework query queries database databases schema string strings
    array arrays dictionary integer float lambda recursion recursive algorithm algorithms implement implementation
    thread threads stack heap kernel bug bugs error exception exceptions compile syntax parse bytes token tokens
    terminal server client proxy macro macros notebook canvas interface dependency dependencies migration
    torch transformers unity unreal mock ide bot discord app apps tar commit commits branch merge pushed
""".split())
# Words that name code itself: the firmest sign that code is wanted.
_STRONG_TERMS = frozenset("""
    api json yaml regex regexp dataframe numpy pandas matplotlib seaborn sklearn pytorch torch tensorflow keras jax
    django flask fastapi streamlit gradio react vue angular svelte nextjs jquery tailwind nodejs npm pip docker
    dockerfile kubernetes nginx graphql websocket git github compiler traceback stacktrace segfault refactor
    recursion async coroutine mutex namespace constructor swiftui gradle cmake makefile webpack pytest junit jest
    selenium playwright puppeteer unittest orm crud snippet leetcode codebase stdin stdout jupyter function
    functions
""".split())
# Words of careers and studies: asked about with programming words, and still not a coding query.
_CAREER_TERMS = frozenset("""
    career careers salary salaries resume hiring recruiter recruiters bootcamp bootcamps degree curriculum
    syllabus promotion
""".split())
# Words of other tasks: writing prose, cooking, health, money, games, proofs.
_OTHER_TASK_TERMS = frozenset("""
    poem poems poetry song songs lyrics haiku story stories novel essay essays screenplay blog article articles
    speech slogan tweet recipe recipes ingredients cooking bake baking diet meal workout fitness symptoms diagnosis
    patient medical doctor therapy marketing seo sales investment invest stocks tax taxes mortgage loan
    prove proof theorem lemma integral derivative probability dungeons campaign rpg spells
""".split())

# Requests for code: a verb of making or fixing with a kind of code a few words on ("write me a
# Python function", "fix this code"), or a how-to about a step of programming. Each verb the text has
# is found with `str.find` and the object looked for just after it: far cheaper than one pattern.
_MAKE_VERBS = frozenset("write create make build generate give show provide implement code develop need want".split())
# Words before the object that make it something else: a video script, a sales app pitch.
_NOT_CODE = r"(?!(?:video|animation|movie|film|podcast|youtube|sales|speech|radio|tv|comic|story|ad|commercial|play)\b)"
_MADE = re.compile(
    rf"(?: {_NOT_CODE}[\w.+#'-]+){{0,3}}? (?:code|codes|function|functions|script|scripts|program|programs|class"
    r"|method|query|queries|regex|regexp|snippet|module|plugin|extension|library|api|endpoint|app|application|bot"
    r"|chatbot|cli|component|algorithm|implementation|unit tests?|test cases?|testbench|shader|kernel|macro|dockerfile"
    r"|makefile|one[- ]?liner|routine|subroutine|middleware|controller|schema|struct|enum|interface|boilerplate"
    r"|service|website|web ?page|web ?app|scraper|parser|fuzzer|config|configuration|svg|html|css|sql|xaml|json"
    r"|yaml|xml|regular expression)\b")
_CHANGE_VERBS = frozenset("fix debug refactor optimize optimise rewrite convert translate port explain review improve "
                          "comment obfuscate modify simplify document".split())
_CHANGED = re.compile(r"(?: [\w.+#'-]+){0,3}? (?:code|function|script|program|query|snippet|method|regex|loop|bug"
                      r"|error|warning|exception|module)\b")
# ... and a programming exercise: "given an array of integers, return ...".
_HOW_TO_PROGRAM = re.compile(
    r"how (?:do|can|to|would|should) (?:i|you|we)?\s*(?:\w+ ){0,6}?(?:install|compile|deploy|configure|run|debug"
    r"|import|parse|scrape|query|connect|mock|implement|serialize|loop)\b"
    r"|given (?:an?|two|the) (?:[\w-]+ ){0,3}?(?:array|arrays|string|strings|list of (?:integers|numbers|strings)"
    r"|integers?|binary tree|tree|graph|linked list|matrix)\b")


def _verb_then_object(lowered: str, verbs: frozenset, words: set, objects: re.Pattern) -> bool:
    for verb in words & verbs:
        start = lowered.find(verb)
        while start >= 0:
            end = start + len(verb)
            whole_word = (start == 0 or not lowered[start - 1].isalnum()) and not lowered[end:end + 1].isalnum()
            if whole_word and objects.match(lowered, end):
                return True
            start = lowered.find(verb, end)
    return False


def _asks_for_code(lowered: str, words: set) -> bool:
    return (_verb_then_object(lowered, _MAKE_VERBS, words, _MADE)
            or _verb_then_object(lowered, _CHANGE_VERBS, words, _CHANGED)
            or (("how " in lowered or "given " in lowered) and _HOW_TO_PROGRAM.search(lowered) is not None))


# A question about how to do something: coding when programming words come with it.
_HOW = re.compile(r"how (?:do|can|to|would|should|could) |what(?:'s| is) the (?:best|right|correct) way to"
                  r"|is there a way")


FEATURE_NAMES = ("fence", "code_lines", "symbols", "identifiers", "errors", "files", "shell", "terms",
                 "strong_terms", "languages", "request", "how", "career", "other_task", "maths", "short")
# Log-odds weights of the rules, set by hand: each feature's sign and rough size as a person would
# weigh the cue. `docs/accuracy.md` gives the figures they reach on hand-labelled queries.
_BIAS = -2.0
_WEIGHTS = np.array([
    3.0,   # fence: fenced code
    1.3,   # code_lines: log(1 + lines that start or end like code)
    1.5,   # symbols: code punctuation per character, saturating at 4 %
    0.5,   # identifiers: log(1 + snake_case, calls, operators)
    2.5,   # errors: a traceback, an exception name, a compiler or shell error
    1.2,   # files: a source file name or a system path
    1.5,   # shell: log(1 + command lines)
    1.5,   # terms: log2(1 + distinct programming words, a shared word counting half), up to 4
    0.5,   # strong_terms: distinct words that name code itself, up to 3
    2.0,   # languages: distinct programming languages named (an ambiguous name counts half), up to 2
    2.0,   # request: "write a function", "fix this code", "how do I install", "given an array"
    0.8,   # how: a how-to question
    -3.0,  # career: careers and studies (up to 2)
    -1.2,  # other_task: distinct words of other tasks, up to 3
    -1.5,  # maths: LaTeX maths
    -0.5,  # short: under 40 characters (too little to go on)
])
# Where the rules are in doubt about text with some code in it, the language detector's confidence
# (0 to 0.9) is added, times this weight. It is asked only there: it costs about a millisecond.
_DOUBT = (-2.5, 1.5)
_DETECTOR_WEIGHT = 2.0
_DETECTOR_CHARS = 1000


def features(text: str) -> np.ndarray:
    """The rules' features of one text (already the first user turn), as a float array. Patterns that
    cannot match are not run: each has a cheap gate (a word or a character the text must hold)."""
    return _features_and_words(text)[0]


def _features_and_words(text: str) -> tuple[np.ndarray, set[str]]:
    text = _capped(text)
    lowered = text.lower()
    length = len(text)
    without_urls = _URL.sub(" ", lowered) if "http" in lowered or "www." in lowered else lowered
    words = _words(without_urls)
    code_lines = len(_CODE_START.findall(text)) + len(_CODE_END.findall(text)) + len(_INDENTED_CODE.findall(text))
    symbols = (length - len(text.translate(_SYMBOLS))) / (length + 40)
    shell = 0 if words.isdisjoint(_SHELL_COMMANDS) else len(_SHELL.findall(text))
    fence = ("```" in text or "~~~" in text) and _FENCE_LINE.search(text) is not None
    maths = ("\\" in text or "$" in text) and _MATH.search(text) is not None
    return np.array([
        1.0 if fence else 0.0,
        math.log1p(code_lines),
        min(symbols / 0.04, 1.0),
        math.log1p(len(_IDENTIFIER.findall(text))),
        1.0 if _has_error_output(text, lowered, words) else 0.0,
        1.0 if _FILE.search(without_urls) else 0.0,
        math.log1p(shell),
        math.log2(1 + min(len(words & _PROGRAMMING_TERMS) + 0.5 * len(words & _SHARED_TERMS), 4)),
        min(len(words & _STRONG_TERMS), 3),
        min(len(words & _LANGUAGES) + 0.5 * len(words & _AMBIGUOUS_LANGUAGES), 2),
        1.0 if _asks_for_code(lowered, words) else 0.0,
        1.0 if ("how " in lowered or " way" in lowered) and _HOW.search(lowered) else 0.0,
        min(len(words & _CAREER_TERMS), 2),
        min(len(words & _OTHER_TASK_TERMS), 3),
        1.0 if maths else 0.0,
        1.0 if length < 40 else 0.0,
    ]), words


def feature_matrix(texts: list[str]) -> np.ndarray:
    """One row of `features` per text."""
    if not texts:
        return np.zeros((0, len(FEATURE_NAMES)))
    return np.vstack([features(text) for text in texts])


def _features_and_word_lists(texts: list[str]) -> tuple[np.ndarray, list[list[str]]]:
    rows, words = [], []
    for text in texts:
        row, text_words = _features_and_words(text)
        rows.append(row)
        words.append(sorted(text_words))
    return (np.vstack(rows) if rows else np.zeros((0, len(FEATURE_NAMES)))), words


def language_confidence(text: str) -> float:
    """The language detector's confidence that the text's code is in some programming language, on the
    scale of its suggestions (`curation_app.core.languages.suggest_languages`, without Pygments' slow
    guess): 0.95 for a fence tag, 0.6 to 0.9 for strong cue evidence, 0.3 to 0.45 for weaker cues."""
    text = _capped(text)[:_DETECTOR_CHARS]
    if any(label_for(m.group(2)) for m in FENCE.finditer(text) if m.group(2)):
        return 0.95
    evidence = language_evidence(text)
    return max((min(0.9, 0.6 + 0.05 * e.score) if e.strong else min(0.45, 0.3 + 0.03 * e.score)
                for e in evidence), default=0.0)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


_HAS_CODE = (FEATURE_NAMES.index("fence"), FEATURE_NAMES.index("code_lines"), FEATURE_NAMES.index("symbols"))


def rule_logits(texts: list[str], matrix: np.ndarray | None = None) -> np.ndarray:
    """The rules' log-odds that each text is a coding query, the language detector consulted where
    the other cues leave a text with some code in it in doubt."""
    matrix = feature_matrix(texts) if matrix is None else matrix
    if not len(texts):
        return np.zeros(0)
    logits = _BIAS + matrix @ _WEIGHTS
    some_code = matrix[:, list(_HAS_CODE)].max(axis=1) > 0.25
    for index in np.flatnonzero((logits > _DOUBT[0]) & (logits < _DOUBT[1]) & some_code):
        logits[index] += _DETECTOR_WEIGHT * language_confidence(texts[index])
    return logits


def rule_scores(texts: list[str]) -> np.ndarray:
    """The rule-based score (0 to 1) of each text (each already the first user turn)."""
    return _sigmoid(rule_logits(texts))


def rule_score(text: str) -> float:
    return float(rule_scores([text])[0])


# --- the model learnt from final labels ------------------------------------------------------

@dataclass
class CodingModel:
    """A logistic regression over the rules' features, their log-odds and hashed words, trained on the
    project's final labels."""

    pipeline: Any
    positives: int
    negatives: int
    fingerprint: str

    def scores(self, texts: list[str]) -> np.ndarray:
        return self.pipeline.predict_proba(_model_inputs(texts))[:, 1]


def _model_inputs(texts: list[str]):  # type: ignore[no-untyped-def]
    """The rules' features, their log-odds, and the text's distinct words hashed into 2**16 columns
    (no vocabulary to store; the words are the ones the rules already split out)."""
    from scipy import sparse
    from sklearn.feature_extraction import FeatureHasher
    from sklearn.preprocessing import normalize

    matrix, words = _features_and_word_lists(texts)
    logits = rule_logits(texts, matrix)
    hashed = FeatureHasher(n_features=2 ** 16, input_type="string", alternate_sign=False).transform(words)
    dense = sparse.csr_matrix(np.column_stack([matrix, logits / 4.0]))
    return sparse.hstack([dense, normalize(hashed)], format="csr")


def fit_model(texts: list[str], labels: list[bool], *, seed: int = 0) -> CodingModel:
    """A model from labelled texts (True: a coding query). Needs both classes."""
    from sklearn.linear_model import LogisticRegression

    y = np.array(labels, dtype=bool)
    if y.all() or not y.any():
        raise ValueError("the coding model needs labelled examples of both classes")
    pipeline = LogisticRegression(C=2.0, solver="liblinear", class_weight="balanced", random_state=seed)
    pipeline.fit(_model_inputs(texts), y)
    digest = hashlib.sha256()
    for text, label in zip(texts, labels):
        digest.update(hashlib.sha256(text.encode()).digest() + (b"1" if label else b"0"))
    return CodingModel(pipeline, int(y.sum()), int((~y).sum()), f"model-{RULES_VERSION}-{digest.hexdigest()[:16]}")


def training_examples(session: Session) -> tuple[list[str], list[bool]]:
    """Texts and classes from the final labels: kept, or rejected for another reason than not being
    a coding query, is coding; rejected as not a coding query is not. Rejects without a reason teach
    nothing and are left out."""
    rows = session.execute(select(Query.messages, FinalLabel.decision, FinalLabel.reject_reason)
                           .join(FinalLabel, FinalLabel.query_id == Query.id)
                           .where(FinalLabel.decision.in_(("keep", "reject"))).order_by(Query.id)).all()
    texts, labels = [], []
    for messages, decision, reason in rows:
        if decision == "reject" and not reason:
            continue
        texts.append(first_user_turn(messages))
        labels.append(not (decision == "reject" and reason == NOT_CODING_REASON))
    return texts, labels


def label_counts(session: Session) -> tuple[int, int]:
    """(coding, not coding) final labels, as `training_examples` counts them, without reading texts."""
    rows = session.execute(select(FinalLabel.decision, FinalLabel.reject_reason, func.count())
                           .group_by(FinalLabel.decision, FinalLabel.reject_reason)).all()
    positives = sum(n for decision, reason, n in rows
                    if decision == "keep" or (decision == "reject" and reason and reason != NOT_CODING_REASON))
    negatives = sum(n for decision, reason, n in rows if decision == "reject" and reason == NOT_CODING_REASON)
    return positives, negatives


@dataclass
class CodingScorer:
    """What scores the queries now: the rules alone, or the model once there are enough final labels."""

    model: CodingModel | None
    positives: int = 0
    negatives: int = 0
    fingerprint: str = RULES_VERSION

    def scores(self, texts: list[str]) -> np.ndarray:
        raw = self.model.scores(texts) if self.model else rule_scores(texts)
        return np.round(raw, SCORE_DECIMALS)

    def describe(self) -> dict:
        return {"scorer": "model" if self.model else "rules", "positives": self.positives,
                "negatives": self.negatives, "min_per_class": MIN_LABELS_PER_CLASS}


CHUNK = 1000  # texts scored at a time (and how often progress is reported)


def score_in_chunks(scorer: CodingScorer, texts: list[str],
                    on_progress: Callable[[int], None] | None = None) -> np.ndarray:
    """The scores of `texts` in order; `on_progress` gets the running count after each chunk."""
    found, done = [], 0
    for start in range(0, len(texts), CHUNK):
        found.append(scorer.scores(texts[start:start + CHUNK]))
        done += len(found[-1])
        if on_progress:
            on_progress(done)
    return np.concatenate(found) if found else np.zeros(0)


def current_scorer(session: Session, *, seed: int = 0) -> CodingScorer:
    """The model when the final labels hold at least `MIN_LABELS_PER_CLASS` of each class, else the
    rules. Retrained on each call: the same labels give the same model and the same fingerprint."""
    texts, labels = training_examples(session)
    positives, negatives = sum(labels), len(labels) - sum(labels)
    if min(positives, negatives) < MIN_LABELS_PER_CLASS:
        return CodingScorer(None, positives, negatives)
    model = fit_model(texts, labels, seed=seed)
    return CodingScorer(model, positives, negatives, model.fingerprint)


# --- the filter ------------------------------------------------------------------------------

def coding_filter(min_score: float):  # type: ignore[no-untyped-def]
    """A SQLAlchemy condition on Query: scored at least `min_score` (0 to 1). Queries not scored yet
    never pass. Use it in any select or update of queries, e.g.
    `select(Query).where(coding_filter(0.5))`."""
    if isinstance(min_score, bool) or not isinstance(min_score, (int, float)) or not 0 <= min_score <= 1:
        raise ValueError(f"a coding score threshold is a number from 0 to 1, not {min_score!r}")
    return and_(Query.coding_score.is_not(None), Query.coding_score >= float(min_score))


def coding_threshold(session: Session) -> float:
    """The project's `coding_threshold` setting: the score from which a query counts as coding."""
    return float(get_setting(session, "coding_threshold"))


def coding_only(session: Session):  # type: ignore[no-untyped-def]
    """`coding_filter` at the project's threshold: what `--coding-only` selects."""
    return coding_filter(coding_threshold(session))
