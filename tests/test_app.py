"""The real Streamlit app through streamlit.testing AppTest."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from curation_app.core.demo import load_demo
from tests.conftest import REPO_ROOT

APP = str(REPO_ROOT / "curation_app" / "app.py")


def open_app(**query_params) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=60)
    for key, value in query_params.items():
        app.query_params[key] = value
    return app.run()


def log_in(app: AppTest, name: str, password: str) -> AppTest:
    app.text_input(key="login_name").input(name)
    app.text_input(key="login_password").input(password)
    return app.button[0].click().run()


@pytest.fixture
def demo_db(sqlite_db):
    load_demo()
    return sqlite_db


def test_database_without_schema_says_how_to_fix_it(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATION_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite'}")
    app = open_app()
    assert not app.exception
    assert "run `python -m curation_app init`" in app.error[0].value


def test_login_page_refuses_a_wrong_password_with_one_message(demo_db):
    app = open_app()
    assert app.title[0].value == "Log in"
    app = log_in(app, "alice", "not-her-password")
    assert [e.value for e in app.error] == ["Wrong user name or password"]
    assert app.title[0].value == "Log in"
    assert "session" not in app.query_params


@pytest.mark.parametrize("name, password", [("alice", "alice-demo"), ("lead", "lead-demo"), ("admin", "admin-demo")])
def test_each_role_logs_in_and_sees_the_overview_of_what_was_imported(demo_db, name, password):
    app = log_in(open_app(), name, password)
    assert not app.exception
    assert app.title[0].value == "Overview"
    metrics = {m.label: m.value for m in app.metric}
    assert int(metrics["Queries"]) >= 40
    assert f"Logged in as **{name}**" in app.sidebar.caption[0].value
    assert app.query_params["session"]


def test_login_survives_a_reload_and_log_out_ends_it(demo_db):
    app = log_in(open_app(), "bob", "bob-demo")
    token = app.query_params["session"]
    reloaded = open_app(session=token)  # a new browser session with the same URL
    assert reloaded.title[0].value == "Overview"
    logged_out = reloaded.sidebar.button[0].click().run()
    assert logged_out.title[0].value == "Log in"
    assert open_app(session=token).title[0].value == "Log in"  # the token no longer works
