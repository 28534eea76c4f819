"""Driving the real Streamlit app through streamlit.testing AppTest: open it, log in, read it."""

from __future__ import annotations

import re

from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from curation_app.core import auth
from curation_app.database import get_engine, session_scope
from curation_app.models import Annotation, User
from tests.conftest import REPO_ROOT

APP = str(REPO_ROOT / "curation_app" / "app.py")
PAGES = REPO_ROOT / "curation_app" / "app_pages"


def open_app(token: str | None = None, **query_params) -> AppTest:
    """The app in a new browser session; with a token, as if its login cookie came along
    (AppTest cannot send cookies, so the token is handed to the session directly)."""
    app = AppTest.from_file(APP, default_timeout=60)
    if token:
        app.session_state["token"] = token
    for key, value in query_params.items():
        app.query_params[key] = value
    return app.run()


def open_page(name: str, user_name: str, **query_params) -> AppTest:
    """One page file on its own, as a logged-in user (to test the page's own role check)."""
    with session_scope() as session:
        token = auth.start_login_session(session, user=auth.get_user(session, user_name))
    app = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=60)
    app.session_state["token"] = token
    for key, value in query_params.items():
        app.query_params[key] = value
    return app.run()


def log_in(app: AppTest, name: str, password: str) -> AppTest:
    app.text_input(key="login_name").input(name)
    app.text_input(key="login_password").input(password)
    return app.button[0].click().run()


def shown(elements) -> list[str]:
    """What markdown elements show: their source without the backslash escapes of user text."""
    return [re.sub(r"\\(.)", r"\1", element.value) for element in elements]


def key_for(app: AppTest, public_id: str, name: str) -> str:
    return f"annotate:{app.session_state['user_id']}:{public_id}:{name}"


def annotations(name: str) -> list[Annotation]:
    with Session(get_engine()) as session:
        user = session.exec(select(User).where(User.name == name)).one()
        return list(session.exec(select(Annotation).where(Annotation.annotator_id == user.id)))
