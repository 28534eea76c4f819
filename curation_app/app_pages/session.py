"""Who is logged in: shared by app.py and every page. Reads state, calls core, nothing else."""

from __future__ import annotations

import streamlit as st

from curation_app.core import auth
from curation_app.core.errors import AuthenticationFailed
from curation_app.database import DatabaseError, check_schema, database_url, get_engine, session_scope
from curation_app.models import User

TOKEN_PARAM = "session"


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
    """The logged-in user, restored from the URL's session token after a reload."""
    token = st.session_state.get("token") or st.query_params.get(TOKEN_PARAM)
    if not token:
        return None
    with session_scope() as session:
        user = auth.user_for_token(session, token)
    if user is None:
        st.session_state.pop("token", None)
        st.query_params.pop(TOKEN_PARAM, None)
        return None
    st.session_state["token"] = token
    if st.query_params.get(TOKEN_PARAM) != token:
        st.query_params[TOKEN_PARAM] = token
    return user


def log_in(name: str, password: str) -> str | None:
    """None on success, else the message to show."""
    try:
        with session_scope() as session:
            user = auth.authenticate(session, name=name.strip(), password=password)
            token = auth.start_login_session(session, user=user)
    except AuthenticationFailed as failed:
        return str(failed)
    st.session_state["token"] = token
    st.query_params[TOKEN_PARAM] = token
    return None


def log_out() -> None:
    token = st.session_state.pop("token", None)
    if token:
        with session_scope() as session:
            auth.end_login_session(session, token=token)
    st.query_params.clear()


def require(user: User | None, *roles: str) -> User:
    """Stop the page for anyone whose role may not see it (core functions check again)."""
    if user is None or user.role not in roles:
        st.error(f"This page is for the role {' or '.join(roles)}.")
        st.stop()
    assert user is not None
    return user


def switch_to(page_name: str, **params: str) -> None:
    """Go to another page, keeping the login token in the URL."""
    from curation_app.app_pages import navigation

    token = st.session_state.get("token")
    st.switch_page(navigation.PAGE_FILES[page_name],
                   query_params={**({TOKEN_PARAM: token} if token else {}), **params})
