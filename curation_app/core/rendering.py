"""Show a query as it would read: prose as plain text, code blocks highlighted by Pygments.

Everything here returns data or Pygments HTML. Pygments escapes every character of the code,
so user text can never become live HTML; prose is handed to the page as plain text.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache

from curation_app.core.languages import (FENCE, LanguageSuggestion, cue_languages, label_for, pygments_guess,
                                         suggest_languages)

# A line that looks like code rather than prose (for code pasted without a fence).
_CODE_LINE = re.compile(
    r"""^(\s{2,}|\t)\S                      # indented
      | [;{}]\s*$                            # ends like a statement or block
      | ^\s*(def|class|import|from|return|if|for|while|elif|else|try|except|with|fn|let|const|var|
              function|public|private|static|void|int|\#include|package|func|SELECT|INSERT|UPDATE|
              CREATE|echo|sudo|npm|pip|cd|git)\b
      | ^\s*[\w.\[\]'"]+\s*(=|\+=|-=|==|:=)\s*\S # assignment
      | ^\s*(//|\#|/\*|\*|--)\s             # comments
      | ^\s*<\/?[a-zA-Z][\w-]*(\s[^>]*)?>      # markup
      | ^\s*(mov|xor|cmp|jmp|je|jne|jz|jnz|inc|dec|push|pop|ret|lea|call)\b # assembly
      | ^[A-Za-z_]\w*:\s*$                   # a label
      | Traceback\ \(most\ recent\ call\ last\)|^\s*File\ ".*",\ line\ \d+|^\s*\w+Error:
    """, re.X)


_LABEL_ONLY = re.compile(r"^[A-Za-z_]\w*:\s*$")


@dataclass(frozen=True)
class Block:
    kind: str  # "prose" | "code"
    text: str
    language: str | None = None  # vocabulary label, for code
    fenced: bool = False


def _split_unfenced(text: str) -> list[Block]:
    """Find runs of two or more code-looking lines inside prose."""
    lines = text.split("\n")
    blocks: list[Block] = []
    prose: list[str] = []
    code: list[str] = []

    def flush_code() -> None:
        nonlocal code
        # A run ends at its last real code line: blank lines after it, and a label such as "code:"
        # or "Output:" set apart by a blank line, belong to the text that follows.
        trailing: list[str] = []
        while code and (not code[-1].strip()
                        or (_LABEL_ONLY.match(code[-1]) and len(code) > 1 and not code[-2].strip())):
            trailing.insert(0, code.pop())
        if len([line for line in code if line.strip()]) >= 2:
            if prose:
                blocks.append(Block("prose", "\n".join(prose)))
                prose.clear()
            body = "\n".join(code)
            blocks.append(Block("code", body, _guess(body)))
            while trailing and not trailing[0].strip():
                trailing.pop(0)
            prose.extend(trailing)
        else:
            prose.extend(code + trailing)
        code = []

    for line in lines:
        if _CODE_LINE.search(line) or (code and not line.strip()):
            code.append(line)
        else:
            if code:
                flush_code()
            prose.append(line)
    if code:
        flush_code()
    if prose and "\n".join(prose).strip():
        blocks.append(Block("prose", "\n".join(prose)))
    return blocks


def _guess(code: str) -> str | None:
    cues = cue_languages(code)
    if cues:
        return cues[0]
    return pygments_guess(code)[0]


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
