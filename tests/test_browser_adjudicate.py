"""A lead resolves a disagreement in headless Chromium; the final label, its rationale and the
source of each field end up in the database."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from curation_app.core import annotation_io
from curation_app.core.auth import command_line_actor
from curation_app.core.demo import DEMO_QUERIES
from curation_app.core.importer import import_file
from curation_app.models import FinalLabel, Query
from tests.browser import choose, chromium_page, log_in, new_database, served_app
from tests.factories import label, write_csv

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser-adjudicate")
    url, engine = new_database(folder, {"lead": "lead"})
    actor = command_line_actor()
    import_file(DEMO_QUERIES, actor=actor, source="demo", engine=engine)
    # Two annotators disagree on the difficulty of demo-020 (the default rule: 2 of 2 must agree).
    rows = [label("demo-020", "alice", difficulty="easy", languages="powershell"),
            label("demo-020", "bob", difficulty="hard", languages="powershell")]
    annotation_io.import_annotations(write_csv(folder / "labels.csv", rows), actor=actor, engine=engine)
    with served_app(url) as base:
        yield base, engine


def test_lead_resolves_a_disagreement_in_the_browser(server, tmp_path):
    base, engine = server
    with chromium_page() as page:
        log_in(page, base, "lead", "lead-demo", "Overview")
        page.get_by_role("link", name="Adjudicate").click()
        page.get_by_role("heading", name="Adjudicate").wait_for()
        page.get_by_text("1 item(s): split decisions first", exact=False).wait_for()

        lookup = page.get_by_role("textbox", name="Open any item by id")
        lookup.fill("demo-020")
        lookup.press("Enter")
        page.get_by_role("heading", name="Item demo-020").wait_for()
        choose(page, "Difficulty", "medium")
        page.get_by_role("textbox", name="Rationale").fill("both partly right: one script, two cmdlets")
        page.get_by_role("button", name="Save final label").click()
        page.get_by_text("Final label of demo-020 saved.").wait_for()
        page.screenshot(path=str(tmp_path / "adjudicate.png"), full_page=True)

    with Session(engine) as session:
        final = session.exec(select(FinalLabel).join(Query, Query.id == FinalLabel.query_id)
                             .where(Query.public_id == "demo-020")).one()
    assert final.difficulty == "medium" and final.rationale == "both partly right: one script, two cmdlets"
    assert final.source == "adjudicated"
    assert final.field_sources["difficulty"] == {"source": "adjudicated", "by": "lead", "votes": "1/2"}
    assert final.field_sources["languages"]["source"] == "unanimous"
