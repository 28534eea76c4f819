"""Who is logged in: shared by app.py and every page. Reads state, calls core, nothing else.

The login token lives in a cookie (set by a one-off script after login), so a reload keeps the
user logged in while no URL ever carries the token.
"""

from __future__ import annotations

import json

import streamlit as st

from curation_app.app_pages import navigation
from curation_app.core import auth
from curation_app.core.errors import CurationError
from curation_app.database import DatabaseError, check_schema, database_url, get_engine, read_scope, session_scope
from curation_app.models import User

COOKIE = "curation_session"
_PENDING_COOKIE = "_set_cookie"


@st.cache_resource(show_spinner=False)
def _schema_checked(url: str) -> str | None:
    try:
        check_schema(get_engine(url))
    except DatabaseError as exc:
        return str(exc)
    return None


def ensure_database() -> None:
    problem = _schema_checked(database_url())
    if problem:
        st.error(problem)
        _schema_checked.clear()  # so the next rerun looks again once `init` has run
        st.stop()


def current_user() -> User | None:
    """The logged-in user: this browser session's token, or the login cookie after a reload."""
    token = st.session_state.get("token") or st.context.cookies.get(COOKIE)
    if not isinstance(token, str) or not token:  # bare runs (AppTest) have no real cookies
        return None
    with read_scope() as session:
        user = auth.user_for_token(session, token)
    if user is None:
        st.session_state.pop("token", None)
        return None
    if st.session_state.get("user_id") not in (None, user.id):
        st.session_state.clear()  # a different user in this browser: nothing of the last one stays
    st.session_state["token"], st.session_state["user_id"] = token, user.id
    return user


def log_in(name: str, password: str) -> str | None:
    """None on success, else the message to show. Attempts are audited and limited per name and
    per client address (core decides which address counts: see auth.client_address)."""
    try:
        peer = st.context.ip_address
        client = auth.client_address(peer=peer if isinstance(peer, str) else None,  # bare runs (AppTest): no connection
                                     forwarded_for=st.context.headers.get_all("X-Forwarded-For"))
        user, token = auth.log_in(name=name, password=password, client=client)
    except CurationError as failed:  # a wrong password, a block, or a misconfigured proxy setting
        return str(failed)
    st.session_state.clear()
    st.session_state.update({"token": token, "user_id": user.id, _PENDING_COOKIE: token})
    return None


def log_out() -> None:
    token = st.session_state.get("token")
    if token:
        with session_scope() as session:
            auth.end_login_session(session, token=token)
    st.session_state.clear()
    st.session_state[_PENDING_COOKIE] = ""
    st.query_params.clear()  # an open item or a filter belongs to the user who left


def sync_cookie() -> None:
    """Write (or clear) the login cookie in the browser once, after a login or a log-out."""
    if _PENDING_COOKIE not in st.session_state:
        return
    token = st.session_state.pop(_PENDING_COOKIE)
    max_age = int(auth.LOGIN_SESSION_LIFETIME.total_seconds()) if token else 0
    value = json.dumps(f"{COOKIE}={token}; path=/; max-age={max_age}; SameSite=Strict")
    # Leaving also clears typed text kept in this browser (drafts.js) from a shared machine.
    forget_drafts = "" if token else (
        "Object.keys(localStorage).filter(k => k.startsWith('curation-draft:'))"
        ".forEach(k => localStorage.removeItem(k));")
    st.html(f"<script>document.cookie = {value} + (location.protocol === 'https:' ? '; Secure' : '');"
            f"{forget_drafts}</script>", unsafe_allow_javascript=True)


def require(user: User | None, *roles: str) -> User:
    """Stop the page for anyone whose role may not see it (core functions check again)."""
    if user is None or user.role not in roles:
        st.error(f"This page is for the role {' or '.join(roles)}.")
        st.stop()
    assert user is not None
    return user


def switch_to(page_name: str, **params: str) -> None:
    """Go to another page with these query parameters."""
    st.switch_page(navigation.PAGE_FILES[page_name], query_params=params)
