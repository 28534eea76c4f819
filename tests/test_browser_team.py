"""A team deployment: PostgreSQL and two Streamlit server processes at once, an annotator on
each, working the same pool. No conflicts, no lost work, no query beyond its overlap."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, func, select

from curation_app import database
from curation_app.core import auth, configure, queue
from curation_app.core.auth import command_line_actor
from curation_app.core.demo import DEMO_QUERIES
from curation_app.core.importer import import_file
from curation_app.models import Annotation, Query, User
from tests.browser import chromium_pages, log_in, served_app

pytestmark = pytest.mark.browser
ROUNDS = 3


def submitted_state(engine, annotator: str, public_id: str) -> str | None:
    with Session(engine) as session:
        return session.exec(select(Annotation.state).join(User, User.id == Annotation.annotator_id)
                            .join(Query, Query.id == Annotation.query_id)
                            .where(User.name == annotator, Query.public_id == public_id)).first()


def current_item(page) -> str:
    page.wait_for_function("() => new URLSearchParams(window.location.search).get('item')")
    return page.evaluate("() => new URLSearchParams(window.location.search).get('item')")


def annotate_one(page, engine, annotator: str) -> str:
    # A fresh page load for each item: this test is about two servers sharing one database, not
    # about the transition between items (test_browser_annotate covers that).
    page.reload()
    page.get_by_role("heading", name="Annotate").wait_for()
    item = current_item(page)
    form = page.locator(".label-form")
    form.locator(f"[data-item='{item}']").wait_for()
    # Buttons are clicked, not pressed by shortcut: the shortcuts are test_browser_annotate's subject.
    form.get_by_role("button", name="Keep").click()
    form.get_by_role("textbox", name="Category and subcategory").click()
    page.keyboard.type("programming fund")
    form.get_by_role("option", name="Programming Fundamentals · Development and Programming").click()
    form.get_by_role("button", name="Medium").click()
    if not form.locator("[data-field='languages'] .chip").count():  # nothing suggested for this query
        form.get_by_role("textbox", name="Programming languages").click()
        page.keyboard.type("python")
        form.get_by_role("option", name="python", exact=True).click()
        page.keyboard.press("Escape")
    form.get_by_role("button", name="Submit and next").click()
    expect(page.get_by_text(f"Submitted {item}.")).to_be_visible()
    return item


def test_two_servers_on_postgresql_with_an_annotator_on_each(postgres_url):
    database.upgrade(postgres_url)
    engine = database.get_engine(postgres_url)
    actor = command_line_actor()
    with database.session_scope(engine) as session:
        for name in ("alice", "bob"):
            auth.create_user(session, actor=actor, name=name, role="annotator", password=f"{name}-demo")
        configure.change_setting(session, actor=actor, key="overlap", value=1)  # each query to one annotator only
    import_file(DEMO_QUERIES, actor=actor, source="demo", engine=engine)
    with database.session_scope(engine) as session:
        queue.assign(session, actor=actor)
    with served_app(postgres_url) as first, served_app(postgres_url) as second, chromium_pages(2) as (alice, bob):
        log_in(alice, first, "alice", "alice-demo", "Annotate")
        log_in(bob, second, "bob", "bob-demo", "Annotate")
        done = {"alice": [], "bob": []}
        for _ in range(ROUNDS):  # interleaved: both hold reservations on the same pool at once
            done["alice"].append(annotate_one(alice, engine, "alice"))
            done["bob"].append(annotate_one(bob, engine, "bob"))
    assert not set(done["alice"]) & set(done["bob"])  # overlap 1: never the same query
    with Session(engine) as session:
        stored = session.exec(select(User.name, Query.public_id).join(Annotation, Annotation.annotator_id == User.id)
                              .join(Query, Query.id == Annotation.query_id)
                              .where(Annotation.state == "submitted")).all()
        over = session.exec(select(func.count()).select_from(Query).where(Query.n_claims > 1)).one()
    assert sorted(stored) == sorted([("alice", q) for q in done["alice"]] + [("bob", q) for q in done["bob"]])
    assert over == 0
    database.dispose_engines()
