"""CodeArena's two stages in headless Chromium: one annotator labels and rewrites an item, four
reviewers vote 3-1, the item is kept, and the release carries the rewrite and the labels."""

from __future__ import annotations

import json
import time

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from curation_app import database
from curation_app.core import adjudicate, configure, queue, release
from curation_app.core.auth import command_line_actor
from curation_app.core.importer import import_file
from curation_app.core.release.selection import ReleaseSpec
from curation_app.models import Annotation, FinalLabel, ReviewVote
from tests.browser import chromium_page, chromium_pages, log_in, new_database, served_app
from tests.factories import write_jsonl

pytestmark = pytest.mark.browser
REVIEWERS = ("rev1", "rev2", "rev3", "rev4")
QUERY = "my loop over a list skips every second item when I remove from it\n\n```python\nfor x in xs:\n    if x < 0:\n        xs.remove(x)\n```"
REWRITE = "Why does removing items from a Python list while iterating over it skip elements? Show a fix."
ANSWER = "Iterate over a copy: `for x in list(xs):` or build a new list with a comprehension."


def draft(engine) -> Annotation | None:
    with Session(engine) as session:
        return session.exec(select(Annotation)).first()


def wait_until(condition, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the app to save"
        time.sleep(0.1)


def test_one_annotator_four_reviewers_three_keep_and_the_release_carries_the_rewrite(tmp_path):
    url, engine = new_database(tmp_path, {"annie": "annotator", **{name: "reviewer" for name in REVIEWERS}})
    actor = command_line_actor()
    import_file(write_jsonl(tmp_path / "q.jsonl", [{"id": "rev-1", "prompt": QUERY}]), actor=actor, engine=engine)
    with database.session_scope(engine) as session:
        configure.change_settings(session, actor=actor, values={
            "overlap": 1, "min_annotations": 1, "keep_quorum": 1, "review_votes": 4, "review_quorum": 3})
        queue.assign(session, actor=actor, annotators=["annie"], public_ids=["rev-1"])
    with served_app(url) as base:
        with chromium_page() as page:  # the annotation stage: labels from the keyboard, a rewrite and an answer
            log_in(page, base, "annie", "annie-demo", "Annotate")
            page.locator(".label-form [data-item='rev-1']").wait_for()
            keys = page.keyboard
            keys.press("Alt+K")
            keys.press("Alt+C")
            keys.type("code debug")
            keys.press("Enter")
            keys.press("Alt+L")
            for _ in range(4):
                keys.press("Backspace")
            keys.type("pyth")
            keys.press("Enter")
            keys.press("Escape")
            keys.press("Alt+2")
            keys.press("Alt+S")  # the labels saved now, so no draft save reruns the page while the texts are typed
            expect(page.locator(".label-form [role='status']")).to_contain_text("Draft saved")
            for name, field, text in (("Rewritten prompt", "rewritten_prompt", REWRITE),
                                      ("Reference answer", "reference_answer", ANSWER)):
                box = page.get_by_role("textbox", name=name)
                box.fill(text)
                box.press("Tab")  # committed: saved with the draft
                wait_until(lambda: getattr(draft(engine) or Annotation(), field) == text)
            keys.press("Control+Enter")
            expect(page.get_by_text("Submitted rev-1.")).to_be_visible()
        with Session(engine) as session:
            (annotation,) = session.exec(select(Annotation)).all()
            assert (annotation.state, annotation.rewritten_prompt, annotation.languages) == ("submitted", REWRITE, ["python"])
        with database.session_scope(engine) as session:
            assert adjudicate.apply_rule(session, actor=actor)["to_review"] == 1

        with chromium_pages(len(REVIEWERS)) as pages:  # the review stage: four reviewers side by side
            for page, name in zip(pages, REVIEWERS):
                log_in(page, base, name, f"{name}-demo", "Review")
                page.wait_for_function("() => location.search.includes('item=rev-1')")
                expect(page.get_by_text(REWRITE)).to_be_visible()  # what they vote on: the rewrite, the labels
                expect(page.get_by_text("Code Debugging", exact=False).first).to_be_visible()
            for page, name in zip(pages, REVIEWERS):
                if name == "rev3":
                    page.get_by_role("textbox", name="Comment (optional)").fill("the answer should explain why")
                    page.get_by_role("textbox", name="Comment (optional)").press("Tab")
                    page.keyboard.press("Alt+X")
                    expect(page.get_by_text("Voted reject on rev-1.")).to_be_visible()
                else:
                    page.keyboard.press("Alt+K")
                    expect(page.get_by_text("Voted keep on rev-1")).to_be_visible()
            expect(pages[-1].get_by_text("the item is kept")).to_be_visible()

    with Session(engine) as session:
        votes = {v.vote for v in session.exec(select(ReviewVote))}
        assert votes == {"keep", "reject"} and len(session.exec(select(ReviewVote)).all()) == 4
        final = session.exec(select(FinalLabel)).one()
        assert (final.decision, final.subcategory, final.languages, final.difficulty) == (
            "keep", "Code Debugging", ["python"], "medium")
        assert final.review["keep"] == 3 and final.review["reject"] == 1 and final.source == "reviewed"
    with database.session_scope(engine) as session:
        made = release.create_release(session, actor=actor, name="bench", version="1.0", spec=ReleaseSpec(),
                                      root=tmp_path / "exports")
    (item,) = [json.loads(line) for line in open(f"{made['path']}/data.jsonl", encoding="utf-8")]
    assert item["messages"] == [{"role": "user", "content": REWRITE}] and item["rewritten"] is True
    assert (item["subcategory"], item["programming_language"], item["difficulty"]) == ("Code Debugging", ["python"], "medium")
    assert item["reference_answer"] == ANSWER
