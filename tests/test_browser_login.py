"""Logins sent at the same moment from 24 browsers in Chromium: guesses for one name are checked at
most up to the limit, guesses across names from one machine are stopped at the client's limit
however the browsers name themselves in X-Forwarded-For, and an admin's clearing lets the right
password in again."""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from curation_app.core import auth
from curation_app.database import session_scope
from curation_app.models import AuditLog, User
from tests.browser import CHROMIUM, CHROMIUM_ARGS, choose, new_database, page_state, served_app
from tests.conftest import missing_real_part

pytestmark = pytest.mark.browser

BROWSERS = 24
WRONG = "Wrong user name or password"
NAME_BLOCKED = "Too many failed logins for this name"
CLIENT_BLOCKED = "Too many failed logins from this address"
WAIT_MS = 180_000  # a loaded two-core machine running 24 pages and full-cost Argon2


@contextmanager
def browser_pages(headers: list[dict[str, str]]) -> Iterator[list]:
    """One headless Chromium with a context (own cookies) and a page for each entry, sending
    these extra headers with every request, the WebSocket's included."""
    if not Path(CHROMIUM).exists():
        missing_real_part(f"Chromium is not installed at {CHROMIUM} (scripts/test.sh installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            pages = []
            for extra in headers:
                page = browser.new_context(extra_http_headers=extra, viewport={"width": 1200, "height": 900}).new_page()
                page.set_default_timeout(WAIT_MS)
                pages.append(page)
            yield pages
        finally:
            browser.close()


def fill_login(page, base: str, name: str, password: str) -> None:
    page.goto(base)
    page.get_by_role("textbox", name="User name").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Log in").focus()  # the password field hands its value over on blur


def submit_together(pages: list) -> None:
    """Every page clicks its Log in button at the same instant: each is told the moment, in the
    machine's own clock, and waits for it in the browser, so no page waits for another's turn here."""
    moment = (time.time() + 5 + 0.3 * len(pages)) * 1000
    for page in pages:
        page.get_by_role("button", name="Log in").evaluate(
            "(button, moment) => setTimeout(() => button.click(), Math.max(0, moment - Date.now()))", moment)
    assert time.time() * 1000 < moment, "the clicks were scheduled too late to start together"


def outcome(page, landing: str = "Annotate") -> str:
    """What the login led to: the error it showed, or `landing` once the user's first page is open."""
    shown = page.get_by_test_id("stAlert").or_(page.get_by_role("heading", name=landing, exact=True))
    try:
        expect(shown.first).to_be_visible()
    except AssertionError as error:
        raise AssertionError(f"no outcome: {page_state(page)}") from error
    heading = page.get_by_role("heading", name=landing, exact=True)
    return landing if heading.count() else shown.first.inner_text().strip()


def log_in_once(page, base: str, name: str, password: str, landing: str = "Annotate") -> str:
    fill_login(page, base, name, password)
    page.get_by_role("button", name="Log in").click()
    return outcome(page, landing)


def logins(engine, action: str, name: str) -> int:
    with Session(engine) as session:
        return len(session.exec(select(AuditLog.id).where(
            AuditLog.action == action, AuditLog.entity == "user", AuditLog.entity_id == name)).all())


def test_24_logins_at_once_for_one_name_check_no_more_wrong_passwords_than_the_limit(tmp_path):
    """23 wrong passwords and the right one, clicked together. The right one may get in only if it
    was among the first claims (it frees its own); no more than MAX_FAILED_LOGINS wrong ones are
    ever checked, the rest are refused unchecked. Once the name is blocked the right password is
    refused too, until an admin clears the block on the Users page."""
    url, engine = new_database(tmp_path, {"root": "admin", "ann": "annotator"})
    right = 7  # somewhere in the middle of the crowd
    with served_app(url) as base, browser_pages([{}] * (BROWSERS + 1)) as pages:
        crowd, admin_page = pages[:BROWSERS], pages[BROWSERS]
        for i, page in enumerate(crowd):
            fill_login(page, base, "ann", "ann-demo" if i == right else f"wrong-guess-{i}")
        submit_together(crowd)
        outcomes = [outcome(page) for page in crowd]

        failed, succeeded = logins(engine, "login.failed", "ann"), logins(engine, "login.succeeded", "ann")
        assert failed <= auth.MAX_FAILED_LOGINS and succeeded <= 1, outcomes
        wrong_outcomes = [text for i, text in enumerate(outcomes) if i != right]
        assert sum(text == WRONG for text in wrong_outcomes) == failed, outcomes
        assert sum(text.startswith(NAME_BLOCKED) for text in wrong_outcomes) == BROWSERS - 1 - failed, outcomes
        assert outcomes[right] == ("Annotate" if succeeded else outcomes[right]), outcomes
        assert succeeded or outcomes[right].startswith(NAME_BLOCKED), outcomes

        # The right password arriving while a claim of it was unfinished can leave the name one
        # short of its limit; more wrong guesses fill it, and then even the right one is refused.
        guesser = crowd[0]
        for attempt in range(auth.MAX_FAILED_LOGINS + 1):
            if log_in_once(guesser, base, "ann", f"another-guess-{attempt}").startswith(NAME_BLOCKED):
                break
        assert logins(engine, "login.failed", "ann") == auth.MAX_FAILED_LOGINS
        assert log_in_once(crowd[1], base, "ann", "ann-demo").startswith(NAME_BLOCKED)

        assert log_in_once(admin_page, base, "root", "root-demo", landing="Overview") == "Overview"
        admin_page.get_by_test_id("stSidebarNav").get_by_role("link", name="Users", exact=True).click()
        admin_page.get_by_role("heading", name="Login blocks").wait_for()
        choose(admin_page, "Blocked name or client", "name: ann", typed="ann")
        admin_page.get_by_role("button", name="Clear login block").click()
        expect(admin_page.get_by_text("The login block of the name 'ann' is cleared")).to_be_visible()
        assert log_in_once(crowd[1], base, "ann", "ann-demo") == "Annotate"
    with Session(engine) as session:
        (cleared,) = session.exec(select(AuditLog).where(AuditLog.action == "login.unblocked")).all()
        root = session.exec(select(User).where(User.name == "root")).one()
    assert (cleared.actor_id, cleared.entity_id) == (root.id, "ann")
    assert logins(engine, "login.failed", "ann") == auth.MAX_FAILED_LOGINS  # the history stays


def test_24_logins_at_once_across_names_from_one_machine_stop_at_the_client_limit(tmp_path):
    """No proxy is configured, so the X-Forwarded-For each browser sends (a different address
    each) is its own word: all 24 count against this one machine, whose limit stops them."""
    url, engine = new_database(tmp_path, {"ann": "annotator"})
    headers = [{"X-Forwarded-For": f"203.0.113.{i + 1}"} for i in range(BROWSERS + 1)]
    with served_app(url) as base, browser_pages(headers) as pages:
        crowd, latecomer = pages[:BROWSERS], pages[BROWSERS]
        for i, page in enumerate(crowd):
            fill_login(page, base, f"guessed-name-{i}", "wrong-password")
        submit_together(crowd)
        outcomes = [outcome(page) for page in crowd]
        assert sorted(text.split(";")[0] for text in outcomes) == (
            [CLIENT_BLOCKED] * (BROWSERS - auth.MAX_FAILED_LOGINS_PER_CLIENT) + [WRONG] * auth.MAX_FAILED_LOGINS_PER_CLIENT)
        assert log_in_once(latecomer, base, "ann", "ann-demo").startswith(CLIENT_BLOCKED)

        with session_scope(engine) as session:  # the admin at the command line (`users unblock --client`)
            auth.clear_login_block(session, actor=auth.command_line_actor(), client=auth.LOCAL_CLIENT)
        assert log_in_once(latecomer, base, "ann", "ann-demo") == "Annotate"
