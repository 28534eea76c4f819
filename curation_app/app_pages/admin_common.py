"""What the admin pages share: a message that survives the rerun after a change."""

from __future__ import annotations

import streamlit as st

from curation_app.app_pages.widgets import md

_FLASH = "admin:flash"


def flash(kind: str, message: str) -> None:
    """Show this after the rerun that follows a change (so every count on the page is fresh)."""
    st.session_state[_FLASH] = (kind, message)


def show_flash() -> None:
    if _FLASH in st.session_state:
        kind, message = st.session_state.pop(_FLASH)
        {"success": st.success, "error": st.error, "warning": st.warning}[kind](md(message))


def show_warnings(warnings: list[str], *, prefix: str = "") -> None:
    for warning in warnings:
        st.warning(md(prefix + warning), icon=":material/warning:")


def forget_widgets(prefix: str) -> None:
    """Widgets start again from the stored values after a save."""
    for key in [k for k in st.session_state.keys() if isinstance(k, str) and k.startswith(prefix)]:
        del st.session_state[key]
