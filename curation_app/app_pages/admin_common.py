"""What the admin pages share: a message that survives the rerun after a change."""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from curation_app.app_pages.widgets import md
from curation_app.core import configure
from curation_app.core.errors import CurationError
from curation_app.database import session_scope
from curation_app.models import User

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


def save_settings(*, actor: User, changes: dict[str, Any], widget_prefix: str) -> None:
    """Store changed settings; on success the page starts again from the stored values with a
    message, on a refusal the reason is shown and the typed values stay."""
    try:
        with session_scope() as session:
            configure.change_settings(session, actor=actor, values=changes)
    except CurationError as error:
        st.error(md(error))
        return
    flash("success", "Saved: " + ", ".join(f"{key} = {json.dumps(value)}" for key, value in changes.items()))
    forget_widgets(widget_prefix)
    st.rerun()
