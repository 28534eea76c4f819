"""Rendering helpers shared by pages. User text is shown as plain text or Pygments HTML only."""

from __future__ import annotations

import streamlit as st

from curation_app.core.rendering import highlight, split_blocks

ROLE_AVATARS = {"user": ":material/person:", "assistant": ":material/smart_toy:", "system": ":material/settings:"}


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


def render_markdown_preview(text: str) -> None:
    """An annotator's markdown: prose as markdown without HTML, code blocks through Pygments."""
    for block in split_blocks(text):
        if block.kind == "code":
            st.html(highlight(block.text, block.language))
        else:
            st.markdown(block.text)
