"""An admin's first hour in Chromium: the first admin from the login page of an empty database, a
new user, the rule and the overlap (with the warning when they contradict each other), and an
import refused with its line number, then a good one."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, func, select

from curation_app import database
from curation_app.core import auth, settings
from curation_app.models import Query
from tests.browser import chromium_page, served_app

pytestmark = pytest.mark.browser


def open_page(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    page.get_by_role("heading", name=title, exact=True).wait_for()


def set_number(page, label: str, value: int) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    expect(box).to_have_value(str(value))


def test_an_admin_sets_up_a_project_in_the_browser(tmp_path):
    url = f"sqlite:///{tmp_path / 'curation.sqlite'}"
    database.upgrade(url)
    engine = database.get_engine(url)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "How do I sort a dict by value in python?"}\n{"prompt": \n')
    good = tmp_path / "good.jsonl"
    good.write_text("".join(json.dumps({"id": f"g{i}", "prompt": f"Why does my SQL join {i} return duplicates?"}) + "\n"
                            for i in range(3)))
    with served_app(url) as base, chromium_page() as page:
        page.set_viewport_size({"width": 1440, "height": 900})
        page.goto(base)
        expect(page.get_by_text("python -m curation_app users add NAME --role admin")).to_be_visible()
        page.get_by_role("textbox", name="Admin user name").fill("root")
        page.get_by_role("textbox", name="Password", exact=True).fill("root-password")
        page.get_by_role("textbox", name="Password again").fill("root-password")
        page.get_by_role("button", name="Create the first admin and log in").click()
        page.get_by_role("heading", name="Overview").wait_for()

        open_page(page, "Users")
        page.get_by_role("textbox", name="User name").fill("dana")
        page.get_by_role("textbox", name="Password", exact=True).fill("dana-password")
        page.get_by_role("textbox", name="Password again").fill("dana-password")
        page.get_by_role("button", name="Add user").click()
        expect(page.get_by_text("dana (annotator) added; they can log in now.")).to_be_visible()

        open_page(page, "Project settings")
        set_number(page, "min_annotations", 3)
        set_number(page, "keep_quorum", 3)
        warning = page.get_by_text("If saved: overlap (2) is below min_annotations (3)")
        expect(warning).to_be_visible()
        page.get_by_role("button", name="Save settings").click()
        expect(page.get_by_text("Saved: min_annotations = 3, keep_quorum = 3")).to_be_visible()
        expect(page.get_by_text("overlap (2) is below min_annotations (3)", exact=False).first).to_be_visible()
        set_number(page, "overlap", 3)
        expect(page.get_by_text("If saved: overlap (3) is above the number of active annotators (1)")).to_be_visible()
        expect(page.get_by_text("If saved: overlap (3) is below")).to_have_count(0)
        page.get_by_role("button", name="Save settings").click()
        expect(page.get_by_text("Saved: overlap = 3")).to_be_visible()
        with Session(engine) as session:
            assert [settings.get_setting(session, key) for key in ("overlap", "min_annotations", "keep_quorum")] \
                == [3, 3, 3]

        open_page(page, "Import queries")
        upload = page.get_by_test_id("stFileUploaderDropzoneInput")
        upload.set_input_files(str(bad))
        expect(page.get_by_text("Ready to import: bad.jsonl", exact=False)).to_be_visible()
        page.get_by_role("button", name="Import", exact=True).click()
        expect(page.get_by_text("bad.jsonl: refused, 1 bad row(s); nothing was imported")).to_be_visible()
        expect(page.get_by_text("bad.jsonl: line 2:", exact=False)).to_be_visible()
        upload.set_input_files(str(good))
        expect(page.get_by_text("Ready to import: good.jsonl", exact=False)).to_be_visible()  # the server has it
        page.get_by_role("button", name="Import", exact=True).click()
        expect(page.get_by_text("good.jsonl (jsonl, flat shape) as source 'good': 3 read, 3 imported",
                                exact=False)).to_be_visible()
        with Session(engine) as session:
            assert session.exec(select(func.count()).select_from(Query)).one() == 3
            assert auth.get_user(session, "dana").role == "annotator"
