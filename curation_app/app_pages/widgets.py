"""Rendering helpers shared by pages. User text is shown as plain text or Pygments HTML only."""

from __future__ import annotations

import json
import re
import string
import threading
from pathlib import Path

import streamlit as st

from curation_app.core import suggest
from curation_app.core.rendering import highlight, split_blocks
from curation_app.core.scores import ScoreField
from curation_app.database import read_scope

_MARKDOWN_SPECIAL = re.compile("([" + re.escape(string.punctuation) + "])")
_INLINE_CODE = re.compile(r"(`+).+?\1", re.S)

ROLE_AVATARS = {"user": ":material/person:", "assistant": ":material/smart_toy:", "system": ":material/settings:"}


def md(text: object) -> str:
    """User text made literal inside markdown (labels, captions, messages): every ASCII
    punctuation mark is backslash-escaped, so no link, image, emphasis or directive survives."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


_DRAFTS_SCRIPT = (Path(__file__).parent / "drafts.js").read_text(encoding="utf-8")


def widget_class(key: str) -> str:
    """The CSS class Streamlit gives a keyed widget's container, without its `st-key-` start."""
    return re.sub(r"[^a-zA-Z0-9_-]", "-", key.strip())


def _script_literal(value: object) -> str:
    """A JSON literal that is safe inside a script element (no "<", so no tag and no end tag)."""
    return json.dumps(value).replace("<", "\\u003c")


def keep_typed_text(*, key_prefix: str, user_key_prefix: str, item: str, revision: int, fields: list[str]) -> None:
    """Mirror what is typed into these text areas (keys KEY_PREFIX:FIELD) in the browser until the
    app has it, and put it back after a reload or a crash if nothing was saved since (drafts.js)."""
    values = {"__PREFIX__": widget_class(key_prefix), "__USER_PREFIX__": widget_class(user_key_prefix),
              "__ITEM__": item, "__REVISION__": int(revision), "__FIELDS__": fields}
    # One pass, so a value that happens to contain a placeholder's name stays as it is.
    script = re.sub("|".join(values), lambda match: _script_literal(values[match.group(0)]), _DRAFTS_SCRIPT)
    st.html(f"<script>{script}</script>", unsafe_allow_javascript=True)


def _score_type(score: ScoreField) -> type:
    return int if score.whole_numbers else float


def score_number(score: ScoreField, value: float | None) -> float | None:
    """A stored score as the score input holds it (int on a whole-number scale, else float)."""
    return None if value is None else _score_type(score)(value)


def score_grid(score_fields: tuple[ScoreField, ...]) -> list:
    """(column, score field) pairs: the project's score fields laid out up to three per row."""
    if not score_fields:
        return []
    columns = st.columns(min(len(score_fields), 3))
    return [(columns[number % len(columns)], score) for number, score in enumerate(score_fields)]


def score_input(container, score: ScoreField, *, value: float | None, key: str, **options):  # noqa: ANN001, ANN201
    """A number input for one of the project's score fields: whole numbers on a whole-number
    scale, any number in range otherwise; empty until a value is given."""
    cast = _score_type(score)
    label = score.label + (" (required to keep)" if score.required else "")
    return container.number_input(
        label, min_value=cast(score.minimum), max_value=cast(score.maximum),
        step=cast(score.step) if score.step is not None else None, value=score_number(score, value),
        key=key, placeholder=f"{score.minimum:g} to {score.maximum:g}", **options)


def show_error(error: Exception) -> None:
    st.error(md(error))


def render_text(text: str) -> None:
    """Untrusted text: prose as plain text, each code block highlighted in its language."""
    for block in split_blocks(text):
        if block.kind == "code":
            st.html(highlight(block.text, block.language))
        else:
            st.text(block.text.strip("\n"))


def render_conversation(messages: list[dict]) -> None:
    for message in messages:
        with st.chat_message(message["role"], avatar=ROLE_AVATARS.get(message["role"])):
            render_text(message["content"])


def without_images(text: str) -> str:
    """Markdown in which no image can load: every image form (inline, reference-style, collapsed,
    shortcut, with escaped brackets) starts with "![", which is made literal outside code spans.
    Links stay links: nothing is fetched unless someone clicks one."""
    parts, last = [], 0
    for span in _INLINE_CODE.finditer(text):
        parts += [text[last:span.start()].replace("![", "!\\["), span.group(0)]
        last = span.end()
    parts.append(text[last:].replace("![", "!\\["))
    return "".join(parts)


def render_markdown_preview(text: str) -> None:
    """An annotator's markdown: prose as markdown without HTML and without remote images (the text
    may start from an imported baseline answer), code blocks through Pygments."""
    for block in split_blocks(text):
        if block.kind == "code":
            st.html(highlight(block.text, block.language))
        else:
            st.markdown(without_images(block.text))


@st.cache_resource(show_spinner="Training the suggestion model...", max_entries=2)
def suggestion_model(version: tuple):  # noqa: ANN201 - a SuggestionModel or None
    """Retrained only when final labels change (`version`), shared by every session."""
    with read_scope() as session:
        return suggest.model_for_suggestions(session)


@st.cache_resource
def warm_up_highlighting(languages: tuple[str, ...]) -> threading.Thread:
    """Build the Pygments lexers of the project's languages once per server, in the background: the
    first block of a language otherwise costs its reader a tenth of a second or more."""
    thread = threading.Thread(target=lambda: [highlight("", language) for language in languages],
                              name="warm-up-highlighting", daemon=True)
    thread.start()
    return thread
