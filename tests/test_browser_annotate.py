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
from tests.browser import chromium_page, log_in, new_database, page_state, served_app
from tests.factories import write_jsonl

pytestmark = pytest.mark.browser
PAYLOAD_ITEMS = ["demo-014", "demo-026"]  # demo queries that carry <script>, onerror and javascript: links


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser-annotate")
    url, engine = new_database(folder, {name: "annotator" for name in ("alice", "bob", "carol", "dora")})
    actor = command_line_actor()
    import_file(DEMO_QUERIES, actor=actor, source="demo", engine=engine)  # the demo queries, without labels
    write_jsonl(folder / "long.jsonl", [{"id": "long-1", "prompt": LONG_QUERY}])
    import_file(folder / "long.jsonl", actor=actor, source="long", engine=engine)
    with database.session_scope(engine) as session:
        queue.assign(session, actor=actor, annotators=["alice", "bob"], public_ids=PAYLOAD_ITEMS)
        queue.assign(session, actor=actor, annotators=["carol", "dora"], public_ids=ROBOT_ITEMS)
        queue.assign(session, actor=actor, annotators=["dora", "bob"], public_ids=["long-1"])
    with served_app(url) as base:
        yield base, engine


# A long query shaped like the real ones: the question first, then a long paste of code with deep
# indentation and lines far wider than the pane.
LONG_QUERY = "\n".join([
    "FIRST LINE: why does this parser drop the last record of every file?",
    "", "```python",
    *[f"{'    ' * (n % 4)}value_{n} = parse_record(stream, offset={n}, width={n * 7}, "
      f"name='{'x' * (n % 5 * 30)}')  # line {n}" for n in range(160)],
    "```", "", "It only happens with files over 1 MB. What am I missing?",
])

LABEL_FORM = ".label-form"


def form(page):
    return page.locator(LABEL_FORM)


def pressed(page, action: str):
    """A button of the label form that shows its value as chosen."""
    return page.locator(f"{LABEL_FORM} button[data-action='{action}'][aria-pressed='true']")


def wait_for_item(page, public_id: str) -> None:
    page.wait_for_function(f"() => window.location.search.includes('item={public_id}')")
    page.locator(f"{LABEL_FORM} [data-item='{public_id}']").wait_for()


def wait_until(condition, seconds: float = 20, *, page=None) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for the app{what_the_page_shows(page)}"
        time.sleep(0.1)


def what_the_page_shows(page) -> str:
    """The page's state, the label form's and the drafts kept in the browser, so a failure says
    where it stopped."""
    if page is None:
        return ""
    kept = page.evaluate("""() => Object.fromEntries(Object.keys(localStorage)
        .filter(k => k.startsWith("curation-")).map(k => [k, localStorage.getItem(k)]))""")
    areas = page.evaluate("""() => Array.from(document.querySelectorAll("textarea"))
        .map(a => [a.getAttribute("aria-label"), a.value])""")
    labels = page.evaluate("""() => { const s = window.__curationLabelForm; return s && {item: s.item,
        fields: s.fields, busy: s.busy, queue: s.queue.length, picker: s.picker, note: s.note}; }""")
    return f"; {page_state(page)}; label form: {labels}; text areas: {areas}; kept drafts: {kept}"


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

        page.keyboard.press("Alt+K")  # keep
        expect(pressed(page, "keep")).to_be_visible()
        # Alt+C: one type-ahead list over every subcategory; typing part of its name, then Enter, sets both.
        page.keyboard.press("Alt+C")
        page.keyboard.type("Secur")
        expect(form(page).get_by_role("option", name="Security · Specialized Computing Areas")).to_be_visible()
        page.keyboard.press("Enter")
        # Alt+L: the language list; typing filters the vocabulary, Enter adds the best match (sql
        # before pl/sql: names that start with what was typed come first), Esc closes the list.
        page.keyboard.press("Alt+L")
        page.keyboard.type("sql")
        page.keyboard.press("Enter")
        page.keyboard.press("Escape")
        page.keyboard.press("Alt+3")  # hard
        expect(pressed(page, "hard")).to_be_visible()
        wait_until(lambda: (submitted(engine, "alice", "demo-014") or Annotation()).subcategory == "Security", page=page)
        assert submitted(engine, "alice", "demo-014").languages == ["php", "sql"]  # the suggestion, and sql
        notes = page.get_by_role("textbox", name="Notes")
        notes.fill("XSS question; escape output before echoing it")
        notes.press("Tab")  # commit the field: the draft is saved
        wait_until(lambda: (submitted(engine, "alice", "demo-014") or Annotation()).notes is not None, page=page)
        expect(form(page).get_by_role("button", name="Remove php")).to_be_visible()  # the detector's confident language

        page.reload()
        wait_for_item(page, "demo-014")
        expect(page.get_by_role("textbox", name="Notes")).to_have_value("XSS question; escape output before echoing it")
        expect(form(page).get_by_role("button", name="Remove sql")).to_be_visible()
        expect(pressed(page, "hard")).to_be_visible()
        draft = submitted(engine, "alice", "demo-014")
        assert (draft.state, draft.decision, draft.difficulty, draft.languages) == ("draft", "keep", "hard", ["php", "sql"])

        page.keyboard.press("Control+Enter")  # submit and next
        expect(page.get_by_text("Submitted demo-014.")).to_be_visible()
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
    assert done.languages == ["php", "sql"]
    assert json.dumps(done.suggested_languages)
    assert done.time_on_task_s > 0


ROBOT_ITEMS = [f"demo-{n:03d}" for n in range(30, 36)]
# What is pressed on each of five items in a row, and what the database must then hold. Every
# item starts by clearing the pre-filled languages (Backspace in the empty language list).
ROBOT_PLAN = [
    ("keep", "crypt", ("Specialized Computing Areas", "Cryptography"), ["rust"], 2),
    ("reject", 2, None, [], None),
    ("keep", "code debug", ("Development and Programming", "Code Debugging"), ["sql", "python"], 1),
    ("keep", "machine", ("Emerging Technologies and Applications", "Machine Learning"), ["go"], 3),
    ("reject", 7, None, [], None),
]
TYPED = {"rust": "rust", "sql": "sql", "python": "pyth", "go": "go"}


def test_five_items_in_a_row_from_the_keyboard_at_robot_speed(server):
    """Every key of five items typed without waiting for the page: none is lost, none lands on the
    wrong item, and the database holds exactly what was pressed."""
    base, engine = server
    with chromium_page() as page:
        log_in(page, base, "carol", "carol-demo", "Annotate")
        wait_for_item(page, ROBOT_ITEMS[0])
        keyboard = page.keyboard
        for decision, what, _, languages, difficulty in ROBOT_PLAN:
            keyboard.press("Alt+L")
            for _ in range(4):
                keyboard.press("Backspace")  # the pre-filled languages go
            for language in languages:
                keyboard.type(TYPED[language])
                keyboard.press("Enter")
            keyboard.press("Escape")
            if decision == "keep":
                keyboard.press("Alt+K")
                keyboard.press("Alt+C")
                keyboard.type(what)
                keyboard.press("Enter")
                keyboard.press(f"Alt+{difficulty}")
            else:
                keyboard.press("Alt+X")
                keyboard.press(str(what))  # the reason, by number
            keyboard.press("Control+Enter")
        wait_until(lambda: all((submitted(engine, "carol", item) or Annotation()).state == "submitted"
                               for item in ROBOT_ITEMS[:5]), seconds=60, page=page)
        wait_for_item(page, ROBOT_ITEMS[5])
        page.wait_for_timeout(1500)  # a stray key would have been applied by now
        reasons = page.evaluate("() => window.__curationLabelForm.data.reasons")
        kept = page.evaluate("() => Object.keys(localStorage).filter(k => k.startsWith('curation-labels:'))")
        assert not [key for key in kept if key.split(":")[-1] in ROBOT_ITEMS[:5]], kept  # the server has them all
    for item, (decision, what, pair, languages, difficulty) in zip(ROBOT_ITEMS, ROBOT_PLAN):
        done = submitted(engine, "carol", item)
        expected = {"decision": decision, "reject_reason": reasons[what - 1] if decision == "reject" else None,
                    "category_pair": pair or (None, None), "languages": languages or None,
                    "difficulty": ["easy", "medium", "hard"][difficulty - 1] if difficulty else None}
        stored = {"decision": done.decision, "reject_reason": done.reject_reason,
                  "category_pair": (done.category, done.subcategory), "languages": done.languages or None,
                  "difficulty": done.difficulty}
        assert stored == expected, item
    following = submitted(engine, "carol", ROBOT_ITEMS[5])  # opened last: nothing pressed reached it
    assert following is None or following.decision is None


def test_keys_pressed_after_a_refused_submit_do_not_land_on_the_item(server):
    """The server refuses a submit (another tab saved the item since): the keys pressed while it
    answered were meant for the next item, so none of them changes this one."""
    base, engine = server
    item = ROBOT_ITEMS[0]
    with chromium_page() as page:
        log_in(page, base, "dora", "dora-demo", "Annotate")
        page.goto(f"{base}/?item={item}")
        wait_for_item(page, item)
        with database.session_scope(engine) as session:
            dora = session.exec(select(User).where(User.name == "dora")).one()
            annotate.save(session, actor=dora, public_id=item, submit=False,
                          fields={"decision": "keep", "difficulty": "easy"})
        # In one task of the page, so all of it is pressed before the server can answer: reject
        # with a reason and submit, then "hard" for what should be the next item.
        page.evaluate("""() => {
            const focused = () => {  // as a real key: to the element with the focus
                let node = document.activeElement;
                while (node && node.shadowRoot && node.shadowRoot.activeElement) node = node.shadowRoot.activeElement;
                return node || document.body;
            };
            const press = (key, code, options = {}) => focused().dispatchEvent(new KeyboardEvent("keydown",
                {key, code, bubbles: true, composed: true, cancelable: true, ...options}));
            press("x", "KeyX", {altKey: true});
            press("1", "Digit1");
            press("Enter", "Enter", {ctrlKey: true});
            press("3", "Digit3", {altKey: true});
        }""")
        status = form(page).get_by_role("status")
        expect(status).to_contain_text("changed elsewhere", timeout=20000)
        expect(status).to_contain_text("The key pressed since was not applied")
        expect(pressed(page, "easy")).to_be_visible()  # what the other tab saved, shown again
        expect(pressed(page, "keep")).to_be_visible()
        page.wait_for_timeout(1000)
        assert page.evaluate("() => window.__curationLabelForm.queue.length") == 0
    stored = submitted(engine, "dora", item)
    assert (stored.state, stored.decision, stored.difficulty) == ("draft", "keep", "easy")


def test_a_long_query_opens_at_its_first_line_with_code_unwrapped(server, tmp_path):
    base, engine = server
    with chromium_page() as page:
        page.set_viewport_size({"width": 1440, "height": 900})
        log_in(page, base, "dora", "dora-demo", "Annotate")
        page.goto(f"{base}/?item=long-1")
        wait_for_item(page, "long-1")
        first_line = page.get_by_text("FIRST LINE: why does this parser", exact=False).first
        expect(first_line).to_be_visible()
        box = first_line.bounding_box()
        assert box and 0 <= box["y"] and box["y"] + box["height"] <= 900, box  # in view without scrolling
        assert page.evaluate("() => window.scrollY") == 0
        # One code block, every line on one line of the screen (so indentation is kept), scrolled
        # sideways inside the block rather than wrapped.
        blocks = page.evaluate("""() => Array.from(document.querySelectorAll("[data-testid='stHtml'] pre")).map(pre => {
            const style = getComputedStyle(pre);
            const lines = pre.textContent.replace(/\\n$/, "").split("\\n").length;
            const padding = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
            return {lines, rows: (pre.scrollHeight - padding) / parseFloat(style.lineHeight),
                    whiteSpace: style.whiteSpace, scrolls: pre.scrollWidth > pre.clientWidth ||
                    pre.parentElement.scrollWidth > pre.parentElement.clientWidth};
        })""")
        assert len(blocks) == 1 and blocks[0]["lines"] == 160, blocks
        assert round(blocks[0]["rows"]) == 160 and blocks[0]["whiteSpace"] == "pre" and blocks[0]["scrolls"], blocks
        # The submit button and every label field are in view at 1440x900.
        for name in ("Keep", "Reject", "Submit and next", "Easy", "Hard"):
            box = form(page).get_by_role("button", name=name).bounding_box()
            assert box and box["y"] + box["height"] <= 900, name


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
