"""User text with script payloads on every page that shows user text, in a real browser: the
payloads are shown as text and nothing runs."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from curation_app import database
from curation_app.core import adjudicate, annotation_io, queue, release
from curation_app.core.auth import command_line_actor
from curation_app.core.importer import import_file
from tests.browser import chromium_page, log_in, new_database, served_app
from tests.factories import ROW, write_csv, write_jsonl

pytestmark = pytest.mark.browser
PAYLOADS = ["<script>window.__owned = 1; alert('script')</script>", "<img src=x onerror=\"alert('img')\">",
            "[click me](javascript:alert('link'))", "<svg onload=alert('svg')>", "**bold** :red[red] ![i](https://x/y.png)"]
TEXT = " | ".join(PAYLOADS)
SOURCE = "<img src=x onerror=alert(1)>"  # even the source name


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser-injection")
    url, engine = new_database(folder, {"lead": "lead", "alice": "annotator", "bob": "annotator"})
    actor = command_line_actor()
    rows = [{"id": f"x{i}", "prompt": f"Question {i} about this page: {TEXT}\n```html\n{TEXT}\n```",
             "model_response": f"Answer {i}: {TEXT}"} for i in range(3)]
    import_file(write_jsonl(folder / "payloads.jsonl", rows), actor=actor, source=SOURCE, engine=engine)
    labels = [{**ROW, "query_id": "x0", "annotator": who, "difficulty": level, "reference_answer": f"{who}: {TEXT}",
               "notes": TEXT, "rewritten_prompt": TEXT} for who, level in (("alice", "easy"), ("bob", "hard"))]
    labels += [{**ROW, "query_id": "x2", "annotator": who, "reference_answer": TEXT, "notes": TEXT}
               for who in ("alice", "bob")]  # x2: both agree, so the rule makes it final and releasable
    annotation_io.import_annotations(write_csv(folder / "labels.csv", labels), actor=actor, engine=engine)
    with database.session_scope(engine) as session:
        queue.assign(session, actor=actor, annotators=["alice", "bob"], public_ids=["x1"])
        adjudicate.apply_rule(session, actor=actor)
    for version in ("1", "2"):  # two frozen releases, so the list and the comparison have something to show
        with database.session_scope(engine) as session:
            release.create_release(session, actor=actor, name="payloads", version=version,
                                   spec=release.ReleaseSpec(), root=folder / "exports")
    with served_app(url) as base:
        yield base




def assert_inert(page, where: str) -> None:
    # Checked once the page has drawn everything: the app's "running" indicator is gone.
    page.wait_for_timeout(500)
    expect(page.locator("[data-testid='stStatusWidgetRunningIcon']")).to_have_count(0)
    page.wait_for_timeout(500)  # let anything that would run, run
    assert page.evaluate("() => window.__owned") is None, f"a script ran on {where}"
    assert page.locator("img[src='x'], svg[onload], img[src='https://x/y.png']").count() == 0, where
    assert page.locator("a[href^='javascript']").count() == 0, where


def visit(page, base: str, title: str, query: str = "") -> None:
    page.goto(f"{base}/{title.lower().replace(' ', '_')}{query}")
    page.get_by_role("heading", name=title).first.wait_for()


def test_payloads_stay_text_on_every_page(server):
    dialogs: list[str] = []
    with chromium_page() as page:
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        log_in(page, server, "alice", "alice-demo", "Annotate")
        page.get_by_text("window.__owned = 1", exact=False).first.wait_for()  # shown, as text
        assert_inert(page, "annotate")
        page.get_by_text("Baseline answer (model)").click()
        assert_inert(page, "annotate, baseline answer open")
        visit(page, server, "My work")
        assert_inert(page, "my work")
        page.context.clear_cookies()

        log_in(page, server, "lead", "lead-demo", "Overview")
        page.get_by_text(SOURCE, exact=False).first.wait_for(state="attached")  # the source name, as table text
        assert_inert(page, "overview")
        visit(page, server, "Adjudicate", "?adjudicate=x0")
        page.get_by_role("heading", name="Item x0").wait_for()
        page.get_by_text("Reference answers side by side").click()
        page.get_by_text("alice: <script>", exact=False).first.wait_for()
        assert_inert(page, "adjudicate")
        visit(page, server, "Agreement")
        assert_inert(page, "agreement")
        visit(page, server, "Triage")
        page.get_by_role("button", name="Run triage over every query").click()
        page.get_by_text("near-duplicate cluster(s)").wait_for()
        assert_inert(page, "triage")
        page.goto(f"{server}/assign")
        page.get_by_role("heading", name="Assign work").wait_for()
        assert_inert(page, "assign work")
        visit(page, server, "Releases")
        page.get_by_role("button", name="Preview").click()
        page.get_by_text("source (1)", exact=True).click()  # the source distribution: the hostile source name, as text
        page.get_by_text(SOURCE, exact=False).first.wait_for(state="attached")
        assert_inert(page, "release preview")
        page.get_by_role("tab", name="Frozen releases").click()
        page.get_by_text("Every file matches its manifest.").wait_for()
        assert_inert(page, "frozen releases")
        page.get_by_role("tab", name="Compare").click()
        page.get_by_text("0 added, 0 removed, 0 changed, 1 unchanged").wait_for()
        assert_inert(page, "release comparison")
    assert dialogs == []


IMAGE_FORMS = "\n\n".join([
    "inline ![a](http://images.example.invalid/inline.png)",
    'titled ![t](http://images.example.invalid/titled.png "title")',
    "angle ![g](<http://images.example.invalid/angle.png>)",
    "escaped brackets ![b\\]c](http://images.example.invalid/escaped.png)",
    "reference ![r][ref] collapsed ![ref][] shortcut ![ref]",
    "in a link [![n](http://images.example.invalid/nested.png)](http://example.invalid/)",
    "html <img src=\"http://images.example.invalid/html.png\"> autolink <http://example.invalid/auto>",
    "[ref]: http://images.example.invalid/reference.png",
])


def test_no_markdown_form_makes_the_answer_preview_fetch_from_another_host(server):
    """Every markdown image form typed into the reference answer: the preview shows it as text and
    the page asks no host but the app's own for anything."""
    with chromium_page() as page:
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        log_in(page, server, "alice", "alice-demo", "Annotate")
        answer = page.get_by_role("textbox", name="Reference answer (markdown, code in fenced blocks)")
        answer.fill(IMAGE_FORMS)
        answer.press("Tab")  # committed: the preview renders it
        expect(page.get_by_text("shortcut", exact=False).first).to_be_visible()
        page.wait_for_timeout(1500)  # anything the preview would load has been asked for by now
        # The app's own: its address, and blob: URLs it makes in the page (the label form's module).
        outside = [url for url in requests if not url.startswith((server, f"blob:{server}", "data:"))]
        assert outside == [], outside
        sources = page.evaluate("() => Array.from(document.images).map(i => i.src)")
        assert all(src.startswith(server) or src.startswith("data:") for src in sources), sources
