"""An annotator in headless Chromium: keyboard shortcuts, a draft that survives a reload, submit,
and user text with script payloads that stays inert text."""

from __future__ import annotations

import json
import time

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from curation_app import database
from curation_app.core import annotate, queue
from curation_app.core.auth import command_line_actor
from curation_app.core.demo import DEMO_QUERIES
from curation_app.core.importer import import_file
from curation_app.models import Annotation, Query, User
from tests.browser import choose, chromium_page, log_in, new_database, page_state, press_until, served_app

pytestmark = pytest.mark.browser
PAYLOAD_ITEMS = ["demo-014", "demo-026"]  # demo queries that carry <script>, onerror and javascript: links


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    url, engine = new_database(tmp_path_factory.mktemp("browser-annotate"), {"alice": "annotator", "bob": "annotator"})
    actor = command_line_actor()
    import_file(DEMO_QUERIES, actor=actor, source="demo", engine=engine)  # the demo queries, without labels
    with database.session_scope(engine) as session:
        queue.assign(session, actor=actor, annotators=["alice", "bob"], public_ids=PAYLOAD_ITEMS)
    with served_app(url) as base:
        yield base, engine




def wait_for_item(page, public_id: str) -> None:
    page.get_by_text(public_id, exact=False).first.wait_for()
    page.wait_for_function(f"() => window.location.search.includes('item={public_id}')")


def wait_until(condition, seconds: float = 20, *, page=None) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for the app{what_the_page_shows(page)}"
        time.sleep(0.1)


def what_the_page_shows(page) -> str:
    """The page's state and the drafts kept in the browser, so a failure says where it stopped."""
    if page is None:
        return ""
    kept = page.evaluate("""() => Object.fromEntries(Object.keys(localStorage)
        .filter(k => k.startsWith("curation-draft:")).map(k => [k, localStorage.getItem(k)]))""")
    areas = page.evaluate("""() => Array.from(document.querySelectorAll("textarea"))
        .map(a => [a.getAttribute("aria-label"), a.value])""")
    return f"; {page_state(page)}; text areas: {areas}; kept drafts: {kept}"


def submitted(engine, name: str, public_id: str) -> Annotation | None:
    with Session(engine) as session:
        return session.exec(select(Annotation).join(User, User.id == Annotation.annotator_id)
                            .join(Query, Query.id == Annotation.query_id)
                            .where(User.name == name, Query.public_id == public_id)).first()


def test_annotate_with_the_keyboard_reload_mid_draft_and_submit(server, tmp_path):
    base, engine = server
    dialogs: list[str] = []
    with chromium_page() as page:
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        log_in(page, base, "alice", "alice-demo", "Annotate")
        wait_for_item(page, "demo-014")

        # User text with a script tag is shown as text, and nothing runs.
        expect(page.get_by_text("<script>alert(1)</script>", exact=False).first).to_be_visible()
        assert not page.evaluate("() => Array.from(document.scripts).some(s => s.textContent.includes('alert(1)'))")

        page.get_by_role("button", name="Keep").wait_for()
        page.get_by_role("heading", name="Annotate").click()  # focus the page, not a field
        primary = page.locator("[data-testid='stBaseButton-primary']")
        press_until(page, "Alt+K", primary.filter(has_text="Keep"))  # keep
        # Alt+C: one type-ahead list over every subcategory; typing part of its name, then Enter, sets both.
        press_until(page, "Alt+C", page.locator("[class*='category_pair'] input:focus"))
        page.keyboard.type("Secur")
        page.get_by_role("option", name="Security · Specialized Computing Areas").wait_for()
        page.keyboard.press("Enter")
        wait_until(lambda: (submitted(engine, "alice", "demo-014") or Annotation()).subcategory == "Security", page=page)
        # Alt+L: the language list; typing filters the vocabulary, Down then Enter adds the first match
        # (Enter alone adds every match: sql and pl/sql).
        press_until(page, "Alt+L", page.locator("[class*='-languages'] input:focus"))
        page.keyboard.type("sql")
        page.get_by_role("option", name="sql", exact=True).wait_for()
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        page.keyboard.press("Escape")
        wait_until(lambda: submitted(engine, "alice", "demo-014").languages == ["php", "sql"], page=page)
        page.get_by_role("heading", name="Annotate").click()  # focus the page, not a field
        press_until(page, "Alt+3", primary.filter(has_text="Hard"))  # hard
        notes = page.get_by_role("textbox", name="Notes")
        notes.fill("XSS question; escape output before echoing it")
        notes.press("Tab")  # commit the field: the draft is saved
        wait_until(lambda: (submitted(engine, "alice", "demo-014") or Annotation()).notes is not None, page=page)

        language_chip = page.get_by_role("button", name="Remove php")
        expect(language_chip).to_be_visible()  # the detector's confident language, confirmed
        assert submitted(engine, "alice", "demo-014").languages == ["php", "sql"]

        page.reload()
        wait_for_item(page, "demo-014")
        expect(page.get_by_role("textbox", name="Notes")).to_have_value(
            "XSS question; escape output before echoing it")
        expect(language_chip).to_be_visible()
        draft = submitted(engine, "alice", "demo-014")
        assert (draft.state, draft.decision, draft.difficulty, draft.languages) == ("draft", "keep", "hard", ["php", "sql"])

        page.get_by_role("heading", name="Annotate").click()
        press_until(page, "Control+Enter", page.get_by_text("Submitted demo-014."),  # submit and next
                    pressed=lambda: submitted(engine, "alice", "demo-014").state == "submitted")
        wait_for_item(page, "demo-026")

        # The second payload: an onerror image and a javascript: link, both inert.
        expect(page.get_by_text("onerror=alert(document.domain)", exact=False).first).to_be_visible()
        assert page.locator("img[src='x']").count() == 0
        assert page.locator("a[href^='javascript']").count() == 0
        page.screenshot(path=str(tmp_path / "annotate.png"), full_page=True)
    assert dialogs == []
    done = submitted(engine, "alice", "demo-014")
    assert done.state == "submitted"
    assert (done.decision, done.category, done.subcategory, done.difficulty) == (
        "keep", "Specialized Computing Areas", "Security", "hard")
    assert done.notes == "XSS question; escape output before echoing it"
    assert done.languages  # confirmed from the suggestion
    assert json.dumps(done.suggested_languages)
    assert done.time_on_task_s > 0


def test_text_typed_but_not_yet_saved_survives_a_reload(server):
    base, engine = server
    with chromium_page() as page:
        log_in(page, base, "bob", "bob-demo", "Annotate")
        page.wait_for_function("() => new URLSearchParams(window.location.search).get('item')")
        item = page.evaluate("() => new URLSearchParams(window.location.search).get('item')")
        notes = page.get_by_role("textbox", name="Notes")
        notes.click()
        page.keyboard.type("typed, never left the field")  # no Tab, no click elsewhere: not saved yet
        assert (submitted(engine, "bob", item).notes or "") == ""
        page.reload()  # as a crash or an accidental reload would
        wait_for_item(page, item)
        expect(page.get_by_role("textbox", name="Notes")).to_have_value("typed, never left the field")
        wait_until(lambda: submitted(engine, "bob", item).notes == "typed, never left the field", page=page)

        # Saved now: another reload shows the saved text and puts nothing back twice.
        page.reload()
        wait_for_item(page, item)
        expect(page.get_by_role("textbox", name="Notes")).to_have_value("typed, never left the field")
        assert page.evaluate("() => Object.keys(localStorage).filter(k => k.startsWith('curation-draft:')).length") <= 1

        # Typed here but not saved, while another tab saves the field: the other tab's save stands.
        notes = page.get_by_role("textbox", name="Notes")
        notes.click()
        page.keyboard.press("End")
        page.keyboard.type(" and more from this tab")
        current = submitted(engine, "bob", item)
        with database.session_scope(engine) as session:
            bob = session.exec(select(User).where(User.name == "bob")).one()
            annotate.save(session, actor=bob, public_id=item, fields={"notes": "saved from another tab"},
                          submit=False, expected_revision=current.revision)
        page.reload()
        wait_for_item(page, item)
        expect(page.get_by_role("textbox", name="Notes")).to_have_value("saved from another tab")
        page.wait_for_timeout(1500)  # what would be put back, would be by now
        assert submitted(engine, "bob", item).notes == "saved from another tab"
        expect(page.get_by_role("textbox", name="Notes")).to_have_value("saved from another tab")
