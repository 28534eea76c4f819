"""A lead's working day in headless Chromium: conflicts resolved one after the other from the
keyboard, the queue shrinking in place after each save; and no page, for a lead or an
annotator, asks any host but the app's own for anything."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlmodel import Session, select

from curation_app import database
from curation_app.core import annotation_io
from curation_app.core.auth import command_line_actor
from curation_app.core.demo import DEMO_QUERIES, load_demo
from curation_app.core.importer import import_file
from curation_app.models import FinalLabel, Query
from tests.browser import chromium_page, log_in, new_database, page_state, served_app
from tests.factories import label, write_csv

pytestmark = pytest.mark.browser

CONFLICTS = ("demo-020", "demo-021", "demo-022")


@pytest.fixture(scope="module")
def three_conflicts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser-lead-flow")
    url, engine = new_database(folder, {"lead": "lead"})
    actor = command_line_actor()
    import_file(DEMO_QUERIES, actor=actor, source="demo", engine=engine)
    # Two annotators disagree on the difficulty of each (the default rule: 2 of 2 must agree).
    rows = [row for public_id in CONFLICTS for row in (label(public_id, "alice", difficulty="easy"),
                                                      label(public_id, "bob", difficulty="hard"))]
    annotation_io.import_annotations(write_csv(folder / "labels.csv", rows), actor=actor, engine=engine)
    with served_app(url) as base:
        yield base, engine


def queue_caption(count: int) -> re.Pattern:
    return re.compile(rf"^{count} item\(s\): split decisions first")


def test_a_lead_resolves_two_conflicts_in_a_row_from_the_keyboard(three_conflicts):
    base, engine = three_conflicts
    with chromium_page() as page:
        from playwright.sync_api import expect  # installed once chromium_page has checked for it

        log_in(page, base, "lead", "lead-demo", "Overview")
        page.get_by_role("link", name="Adjudicate").click()
        page.get_by_role("heading", name="Adjudicate").wait_for()
        page.get_by_text(queue_caption(3)).wait_for()
        path = None
        for done, public_id in enumerate(CONFLICTS[:2], start=1):
            page.get_by_role("button", name=f"Next conflict: {public_id}").wait_for()
            page.keyboard.press("Alt+N")
            page.get_by_role("heading", name=f"Item {public_id}").wait_for()
            difficulty = page.get_by_label("Difficulty", exact=True)
            expect(difficulty).to_have_count(1)  # the last item's form is gone
            expect(difficulty).to_have_value("(none)")  # the annotators split: no proposal
            difficulty.focus()
            page.keyboard.type("medium")
            page.keyboard.press("Enter")
            rationale = page.get_by_role("textbox", name="Rationale")
            rationale.focus()
            page.keyboard.type(f"between the two, conflict {done}")
            page.keyboard.press("Control+Enter")  # saves the form from its text field
            try:
                page.get_by_text(f"Final label of {public_id} saved.").wait_for()
            except Exception as error:  # noqa: BLE001 - the page's state explains the failure
                raise AssertionError(page_state(page)) from error
            # Without any navigation, the queue above lists one item fewer.
            page.get_by_text(queue_caption(3 - done)).wait_for()
            assert page.get_by_text(queue_caption(3 - done + 1)).count() == 0
            current = urlsplit(page.url)
            assert path in (None, current.path) and f"adjudicate={public_id}" in current.query
            path = current.path
        page.get_by_role("button", name=f"Next conflict: {CONFLICTS[2]}").wait_for()

    with Session(engine) as session:
        finals = {public_id: rationale for public_id, rationale in session.exec(
            select(Query.public_id, FinalLabel.rationale).join(FinalLabel, FinalLabel.query_id == Query.id))}
    assert finals == {"demo-020": "between the two, conflict 1", "demo-021": "between the two, conflict 2"}


LEAD_PAGES = ("Overview", "Assign work", "Adjudicate", "Agreement", "Triage", "Releases", "Guidelines")
ANNOTATOR_PAGES = ("Annotate", "My work", "Overview", "Guidelines")


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser-own-host")
    url = f"sqlite:///{folder / 'curation.sqlite'}"
    database.upgrade(url)
    load_demo(engine=database.get_engine(url))
    with served_app(url) as base:
        yield base


@pytest.mark.parametrize(("name", "landing", "pages"), [("lead", "Overview", LEAD_PAGES),
                                                        ("alice", "Annotate", ANNOTATOR_PAGES)])
def test_no_page_asks_another_host_for_anything(demo_server, name, landing, pages):
    base = demo_server
    requested: list[str] = []
    with chromium_page() as page:
        page.on("request", lambda request: requested.append(request.url))
        log_in(page, base, name, f"{name}-demo", landing)
        for title in pages:
            page.get_by_role("link", name=title, exact=True).click()
            heading = page.get_by_role("heading", level=1).first
            heading.wait_for()
            page.wait_for_load_state("networkidle")
            icon = page.evaluate("() => (document.querySelector(\"link[rel~='icon']\") || {}).href || ''")
            assert urlsplit(icon).hostname == "127.0.0.1", (title, icon)  # the favicon is the app's own file
        page.reload()
        page.wait_for_load_state("networkidle")
    assert requested
    hosts = {urlsplit(url).hostname for url in requested if not url.startswith(("data:", "blob:"))}
    assert hosts == {"127.0.0.1"}, sorted(url for url in requested if urlsplit(url).hostname != "127.0.0.1")[:10]
