"""Show a query as it would read: prose as plain text, code blocks highlighted by Pygments.

Everything here returns data or Pygments HTML. Pygments escapes every character of the code,
so user text can never become live HTML; prose is handed to the page as plain text.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache

from curation_app.core.languages import (FENCE, LanguageSuggestion, blank_strings_and_comments, block_language,
                                         label_for, suggest_languages)

# How a line of text pasted without fences reads. Rules are tried on the line with its strings and
# comments blanked, so a comment's English or a string's sentence does not make the line prose.
_WORD = r"\b(?:[A-Za-z][a-z']+|[aAI])"  # a plain word; a lone x or P is a variable
_PROSE_RUN = re.compile(rf"(?:{_WORD}[,.;:!?]?\s+){{4,}}{_WORD}\b")  # five plain words in a row
_SENTENCE_END = re.compile(rf"(?:{_WORD}\s+){{2,}}{_WORD}[.?!]\s*$")  # "... could not be translated."
_PHRASE = re.compile(rf"(?:{_WORD}[,.;:!?]?\s+){{2,}}{_WORD}\b")  # three
# Code whatever the words around it: a statement or block end, an include, markup, "key": value, a
# Python block header or import, an assignment, a shell prompt.
_STRONG_CODE = re.compile(
    r"""[;{(\[]\s*$ | ^\s*[}\])] | ^\s*[?%]>
      | ^\s*(\#(include|define|if|ifdef|ifndef|endif|pragma|undef|version)\b|\#!/|<\?php|<\?=|<!DOCTYPE
              |</?[a-zA-Z][\w-]*(\s[^>]*)?/?>|"[^"]*"\s*:|%%\w)
      | ^\s*(def|class)\s+\w+.*:\s*$ | ^\s*(if|elif|while)\b.*[=<>!()\[\].].*:\s*$ | ^\s*for\b.+\bin\b.+:\s*$
      | ^\s*(else|try|finally)\s*:\s*$ | ^\s*except\b.*:\s*$ | ^\s*with\b.+\bas\b.+:\s*$
      | ^\s*SELECT\s+\S | ^\s*(import\ [\w.]+(\s+as\s+\w+)?|from\ [\w.]+\ import\ .+)\s*$
      | ^\s*[\w.\[\]()'"$@>-]+(\s*,\s*[\w.\[\]]+)*\s*(=|\+=|-=|\*=|/=|\|=|&=|:=|<-|\?\?=)(?![=>])\s*\S
      | ^\s*(PS\ [A-Z]:\\[^>]*>|\w[\w.-]*@[\w.-]+:\S*[\#$]|\$)\s+\S | \s\\$
      | ^\s*[\w.]*(Error|Exception)\b:
      | ^\s*([\w<>*&:\[\]]+\s+)+[*&]*\w+\((\s*|(\s*[\w<>*&:\[\]]+\s+[*&]*\w+\s*,)*\s*[\w<>*&:\[\]]+\s+[*&]*\w+\s*)\)
          \s*(const\s*)?[{;]?\s*$                                                  # int f(int a, char *b)
    """, re.X)
# Code unless the line reads as a sentence: a call, a keyword, a command, an instruction, a stack
# frame or an error line, an indented line with symbols.
_CODE = re.compile(
    r"""^\s*@?[\w.$:>-]{3,}(\[[^\]]*\])?\(.*\)\s*[;,]?\s*$ | ^\s*\.\w+\( | ^\s*@\w+(\.\w+)*\s*$
      | ^\s*(if|for|while|until|foreach|elif|unless|else\ if)\b.*[\[\](){}$=<>!;] | ^\s*(if|elif|while)\s+\S.*:\s*$
      | (\s-{1,2}[A-Za-z][\w-]*(=\S+)?){2,}
      | ^\s*(import|from|return|let|const|var|fn|pub|use|enum|struct|impl|trait|class|interface|func|function|
              package|namespace|module|public|private|protected|static|void|int|char|float|double|bool|auto|unsigned|
              typedef|extern|using|template|pragma|local|echo|export|case|switch|break|continue|default|do|then|
              declare|set|format|data|proc|del|assert|raise|yield|pass|throw|try|catch|finally|await|async|global|
              SELECT|FROM|WHERE|GROUP|ORDER|HAVING|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|WITH|JOIN|INNER|LEFT|VALUES|
              UNION|LIMIT|RUN|COPY|ADD|WORKDIR|ENV|EXPOSE|CMD|ENTRYPOINT|ARG|VOLUME)\b
      | ^\s*(Dim|ReDim|Imports|Public|Private|Friend|Sub|Function|End|Option|Set)\s+[A-Za-z_] | ^\s*For\ Each\b.*\bIn\b
      | ^\s*(sudo|apt|apt-get|pip3?|npm|npx|yarn|git|docker|kubectl|curl|wget|cd|ls|mkdir|rm|cp|mv|chmod|chown|
              source|brew|conda|make|ssh|scp|tar|cat|grep|awk|sed|ulimit|python3?|node|cargo|gcc|g\+\+|shift|exit)\b
      | ^\s*(\w+:\s*)?(mov|xor|cmp|jmp|je|jne|jz|jnz|inc|dec|push|pop|ret|lea|call|add|sub|ldr|str|bl|ble|bne|beq|b)
          \s+[\w\#\[\]=,.\\@-]+
      | ^\s*\.[a-z]\w*\b | ^\s*\w+:\s*\.\w+
      | Traceback\ \(most\ recent\ call\ last\) | ^\s*File\ ".*",\ line\ \d+ | ^\s*at\ [\w.$<>]+\(.*\)\s*$
      | ^(\s{2,}|\t).*([=(){}\[\];<>|&$\\"'+*/%]|\s-{1,2}\w)
    """, re.X)
# Names only code has: calls, snake_case, CONSTANT_CASE, camelCase.
_IDENTIFIER = re.compile(r"\b\w+\(|\b[a-z]+_\w+|\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b|\b[a-z]+[A-Z]\w*")
# A line that starts as a comment is one, whatever it says (but not a preprocessor line or a shebang).
_COMMENT_LINE = re.compile(r"^\s*(//|#(?!!|(include|define|if|ifdef|ifndef|endif|pragma|undef|version)\b)|%|--\s"
                           r"|/\*)")
# Code only next to other code: comments, labels, closing words, indented plain words.
_WEAK = re.compile(r"""^\s*(//|\#|/\*|\*|--\s|%|;)
                     | ^\s*[A-Za-z_]\w*:\s*$
                     | ^\s*(end\w*;?|end\ \w+|else|fi|done|esac|;;|wend|next|loop)\s*$
                     | ^\s*[\^~]{3,}\s*$ | ^(\s{2,}|\t)\S""", re.X)
# A closing line belongs to the code above it, even after a blank line (MATLAB's end, a lone brace).
_CLOSER = re.compile(r"^\s*([}\])]+[;,)]*|[?%]>|end\w*;?|end \w+|else|fi|done|esac|;;|wend|next|\.endm)\s*$", re.I)
_OUTPUT = re.compile(r"Traceback \(most recent call last\)|^\s*[\w.]*(Error|Exception)\b:")
# A line that is a block by itself: a JSON dump, a command at a shell prompt, a command with flags.
_SINGLE_LINE = re.compile(r"""^\s*(\[\s*)?\{\s*"[^"\n]*"\s*:.{40,}
                            | ^\s*(PS\ [A-Z]:\\[^>]*>|\w[\w.-]*@[\w.-]+:\S*[\#$])\s+\S
                            | ^\s*(curl|wget|docker|git|pip3?|npm|npx|yarn|kubectl|ssh|scp|sudo|apt|apt-get|brew|conda)
                              \s+(\S.*\s)?-{1,2}[A-Za-z]
                            | ^\s*(sudo\ )?(pip3?|npm|yarn|pnpm|apt|apt-get|brew|conda|cargo|gem|composer|dotnet|go
                                |docker|kubectl|git|mvn|gradle)\s+(install|add|run|build|clone|get|init|new|test|exec
                                |pull|push|update|upgrade|remove|uninstall|start|compose|mod)\b[^.!?]*$
                            | ^\s*(python3?|node|ruby|php|perl|Rscript|java)\s+[\w/.-]+\.(py|js|rb|php|pl|R|jar)\b
                            """, re.X)
# Where code can begin after a prose lead-in on the same line ("find the issue: #include ...").
_CODE_START = re.compile(r"""(\#include|\#!|<\?php|<[A-Za-z!/]|[{\[(]|//|/\*|@\w|%%|\$\w
                           | (def|class|import|from|use|fn|let|const|var|function|public|private|package|namespace|
                              struct|enum|switch|if|for|while|return|data|proc|SELECT|INSERT|UPDATE|DELETE|CREATE|WITH)\b
                           | [A-Za-z_][\w.]*(\s*(=[^=]|<-)|\(|\[|::|->))""", re.X)
# A lead-in: three or more words and nothing that looks like code.
_LEAD_IN = re.compile(r"""^\s*(?=(?:\S+\s+){2,}\S)[\w\s,.:;?!'"()/+#-]*$""")
_PLAIN_SYMBOLS = re.compile(r"[!-/:-@\[-`{-~]")

CODE, WEAK, BLANK, PROSE = "code", "weak", "blank", "prose"


@dataclass(frozen=True)
class Block:
    kind: str  # "prose" | "code"
    text: str
    language: str | None = None  # vocabulary label (or json), for code
    fenced: bool = False


def _blanked(line: str) -> str:
    return blank_strings_and_comments(line).rstrip()


def _line_kind(line: str) -> str:
    if not line.strip():
        return BLANK
    plain = _blanked(line)
    if not plain.strip() or _COMMENT_LINE.match(line):  # a comment, whatever it says
        return WEAK
    if _STRONG_CODE.search(plain):
        return CODE
    prose = _reads_as_sentence(plain)
    if not prose and (_CODE.search(plain) or _symbolic(plain) or len(_IDENTIFIER.findall(plain)) >= 2):
        return CODE
    if not prose and _WEAK.search(line):
        return WEAK
    return PROSE


def _reads_as_sentence(plain: str) -> bool:
    """Five plain words in a row, two of them lower-case (Title Case runs are VB or headings), or
    a line that ends like a sentence."""
    return bool(_SENTENCE_END.search(plain)) or any(
        sum(word[0].islower() for word in match.group(0).split()) >= 2 for match in _PROSE_RUN.finditer(plain))


def _symbolic(plain: str) -> bool:
    """Data rather than words: brackets, quotes and numbers, few letters (R's [1] "a", JSON rows)."""
    chars = plain.replace(" ", "").replace("\t", "")
    letters = sum(c.isalpha() for c in chars)
    return len(chars) >= 4 and len(_PLAIN_SYMBOLS.findall(chars)) >= 3 and letters < 0.3 * len(chars)


def _opens(plain: str) -> int:
    """How many brackets a (blanked) line leaves open."""
    return sum(plain.count(c) for c in "([{") - sum(plain.count(c) for c in ")]}")


def _code_start(line: str) -> int | None:
    """The column where code begins after a prose lead-in ("find the issue: #include ..."), if it does."""
    for match in re.finditer(r"(?<=\s)\S", line):
        column = match.start()
        rest = line[column:]
        if not _CODE_START.match(rest) or _PHRASE.search(_blanked(rest)) or re.match(r"\w+\W?\s*$", rest):
            continue
        plain = _blanked(rest)
        if (_STRONG_CODE.search(plain) or _CODE.match(plain)) and _PLAIN_SYMBOLS.search(plain):
            return column if _LEAD_IN.match(line[:column]) else None
    return None


def _line_kinds(lines: list[str]) -> list[str]:
    """Each line's kind; the lines of a /* ... */ comment are comments whatever they say."""
    kinds, in_comment = [], False
    for line in lines:
        kinds.append(WEAK if in_comment and line.strip() else _line_kind(line))
        opened, closed = line.rfind("/*"), line.rfind("*/")
        if opened > closed:
            in_comment = True
        elif closed >= 0:
            in_comment = False
    return kinds


def _code_runs(lines: list[str]) -> list[tuple[int, int]]:
    """Line ranges (first, last) of the code in a stretch of unfenced text."""
    kinds = _line_kinds(lines)
    runs: list[tuple[int, int]] = []
    index = 0
    while index < len(lines):
        if kinds[index] != CODE:
            index += 1
            continue
        first = index
        while first > 0 and kinds[first - 1] == WEAK:  # a comment or label right above the code is part of it
            first -= 1
        depth, in_triple, continued = 0, False, False
        last_code = cursor = index
        while cursor < len(lines):
            line, kind = lines[cursor], kinds[cursor]
            # A line that reads as prose still belongs to the code inside a triple-quoted string, after a
            # backslash, or indented inside an open bracket.
            inside = in_triple or continued or (depth > 0 and (line[:1].isspace() or bool(_CLOSER.match(line))))
            if kind == PROSE:
                if not inside:
                    break
                kinds[cursor] = kind = CODE
            if kind == CODE or (kind == WEAK and (_CLOSER.match(line) or cursor == last_code + 1)):
                last_code = cursor  # comments and labels count when they follow code without a gap
            if kind != BLANK:
                depth = max(0, depth + _opens(_blanked(line)))
            if line.count('"""') % 2 or line.count("\'\'\'") % 2:
                in_triple = not in_triple
            continued = line.rstrip().endswith("\\")
            cursor += 1
        runs.append((first, last_code))
        index = max(cursor, last_code + 1)
    return [piece for run in runs if _is_block(lines, kinds, run) for piece in _split_output(lines, run)]


def _split_output(lines: list[str], run: tuple[int, int]) -> list[tuple[int, int]]:
    """An error message after a blank line is the program's output, a block of its own."""
    first, last = run
    for number in range(first + 1, last + 1):
        if (_OUTPUT.search(lines[number]) and not lines[number - 1].strip()
                and not any(_OUTPUT.search(line) for line in lines[first:number])):
            previous = max(n for n in range(first, number) if lines[n].strip())
            return [(first, previous), (number, last)]
    return [run]


def _is_block(lines: list[str], kinds: list[str], run: tuple[int, int]) -> bool:
    first, last = run
    code_lines = sum(1 for n in range(first, last + 1) if kinds[n] == CODE or _CLOSER.match(lines[n]))
    return code_lines >= 2 or (code_lines == 1 and first == last and bool(_SINGLE_LINE.match(lines[first])))


def _split_unfenced(text: str) -> list[Block]:
    """Find the code in text pasted without fences: runs of code lines (blank lines, comments and
    closing lines inside), a lead-in sentence cut off the first line, prose around them."""
    lines = text.split("\n")
    runs = _code_runs(lines)
    blocks: list[Block] = []
    position = 0  # the first line not yet placed in a block

    def add_prose(stop: int, tail: str = "") -> None:
        body = "\n".join(lines[position:stop] + ([tail] if tail else []))
        if body.strip():
            blocks.append(Block("prose", body.strip("\n")))

    for first, last in runs:
        column = _code_start(lines[first])
        lead_in = None
        if column is None and first > position:
            # the sentence that introduces the code may end with its first line, a blank line apart
            above = first - 1 if lines[first - 1].strip() else first - 2
            if above >= position and _line_kind(lines[above]) == PROSE and first - above <= 2:
                start = _code_start(lines[above])
                if start is not None:
                    lead_in, column = above, start
        if column is not None:
            head = lead_in if lead_in is not None else first
            add_prose(head, lines[head][:column].rstrip())
            body = "\n".join([lines[head][column:]] + lines[head + 1:last + 1])
        else:
            add_prose(first)
            body = "\n".join(lines[first:last + 1])
        blocks.append(Block("code", body, _guess(body)))
        position = last + 1
    add_prose(len(lines))
    return blocks


def _guess(code: str) -> str | None:
    return block_language(code)


def split_blocks(text: str) -> list[Block]:
    """The text as prose and code blocks, in order. Fenced blocks keep their tag's language."""
    blocks: list[Block] = []
    position = 0
    for match in FENCE.finditer(text):
        if match.start() > position:
            blocks.extend(_split_unfenced(text[position:match.start()]))
        tag, body = match.group(2), match.group(3).rstrip("\n")
        blocks.append(Block("code", body, label_for(tag) if tag else _guess(body), fenced=True))
        position = match.end()
    if position < len(text):
        blocks.extend(_split_unfenced(text[position:]))
    return [b for b in blocks if b.text.strip()]


def suggest_for_messages(messages: list[dict]) -> list[LanguageSuggestion]:
    code_blocks: list[tuple[str | None, str]] = []
    prose: list[str] = []
    for message in messages:
        if message["role"] != "user":
            continue
        for match in FENCE.finditer(message["content"]):
            code_blocks.append((match.group(2) or None, match.group(3)))
        for block in split_blocks(message["content"]):
            if block.kind == "prose":
                prose.append(block.text)
            elif not block.fenced:
                code_blocks.append((None, block.text))
    return suggest_languages(code_blocks, "\n".join(prose))


_PYGMENTS_NAMES = {"js": "javascript", "ts": "typescript", "c#": "csharp", "node.js": "javascript",
                   "html": "html", "pl/sql": "plpgsql", "assembly": "nasm", "vba": "vbnet", "mql4": "cpp"}


@lru_cache(maxsize=1)
def _style():  # type: ignore[no-untyped-def]
    """Pygments' friendly style without the red box around tokens its lexers cannot place: they
    draw it around valid code (Swift's key paths, newer syntax), and a reviewer reads it as a bug."""
    from pygments.styles.friendly import FriendlyStyle
    from pygments.token import Error

    return type("QuietFriendlyStyle", (FriendlyStyle,), {"styles": {**FriendlyStyle.styles, Error: ""}})


@lru_cache(maxsize=4096)
def highlight(code: str, language: str | None) -> str:
    """Pygments HTML with inline styles, in a box that scrolls sideways. Safe for any input text."""
    from pygments import highlight as pygments_highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import TextLexer, get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        lexer = get_lexer_by_name(_PYGMENTS_NAMES.get(language or "", language or "text"))
    except ClassNotFound:
        lexer = TextLexer()
    # Lines never wrap (a wrapped line loses its indentation, which is meaning in code); a long one
    # scrolls sideways inside its block, and the block is as tall as the code, so one scroll of the
    # page reads the whole query.
    formatter = HtmlFormatter(noclasses=True, nobackground=True, style=_style(), prestyles="white-space:pre;margin:0")
    body = pygments_highlight(code, lexer, formatter)
    caption = html.escape(language or "code")
    return (
        '<div style="border:1px solid rgba(128,128,128,.35);border-radius:6px;margin:4px 0 10px 0;">'
        f'<div style="font:11px sans-serif;opacity:.6;padding:2px 8px;">{caption}</div>'
        '<div style="overflow-x:auto;padding:0 8px 6px 8px;font-size:13px;">'
        f"{body}</div></div>"
    )
