"""The real app in headless Chromium: log in, see what was imported, reload, log out."""

from __future__ import annotations

import pytest

from curation_app.core.demo import load_demo
from tests.browser import chromium_page, served_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    from curation_app import database

    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'curation.sqlite'}"
    database.upgrade(url)
    load_demo(engine=database.get_engine(url))
    with served_app(url) as base:
        yield base


def test_log_in_see_overview_reload_and_log_out(demo_server, tmp_path):
    with chromium_page() as page:
        page.goto(demo_server)
        page.get_by_role("textbox", name="User name").fill("lead")
        page.get_by_role("textbox", name="Password").fill("wrong-password")
        page.get_by_role("button", name="Log in").click()
        page.get_by_text("Wrong user name or password").wait_for()

        page.get_by_role("textbox", name="Password").fill("lead-demo")
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("heading", name="Overview").wait_for()
        assert page.get_by_test_id("stMetric").first.inner_text().startswith("Queries")
        assert "session" not in page.url  # the login token lives in a cookie, not in the URL
        page.screenshot(path=str(tmp_path / "overview.png"))

        page.reload()
        page.get_by_role("heading", name="Overview").wait_for()  # still logged in
        page.evaluate("() => localStorage.setItem('curation-draft:annotate-9-x', '{}')")  # typed text kept here
        page.get_by_role("button", name="Log out").click()
        page.get_by_role("heading", name="Log in").wait_for()
        page.wait_for_function("() => !Object.keys(localStorage).some(k => k.startsWith('curation-draft:'))")
        assert page.context.cookies() == [] or all(c["name"] != "curation_session" or not c["value"]
                                                   for c in page.context.cookies())
