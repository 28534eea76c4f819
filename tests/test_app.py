"""The real Streamlit app through streamlit.testing AppTest: every page, every role, refusals."""

from __future__ import annotations

import json
import re

import pytest
from sqlmodel import Session, select
from streamlit import dataframe_util

from curation_app.core import auth
from curation_app.database import get_engine, session_scope
from curation_app.app_pages.widgets import md
from tests.apptest import annotations, form_data, key_for, log_in, open_app, open_page, send_form, shown
from tests.conftest import REPO_ROOT


def test_database_without_schema_says_how_to_fix_it(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATION_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite'}")
    app = open_app()
    assert not app.exception
    assert "run `python -m curation_app init`" in app.error[0].value


def test_login_page_refuses_a_wrong_password_with_one_message(demo_db):
    app = open_app()
    assert app.title[0].value == "Log in"
    app = log_in(app, "alice", "not-her-password")
    assert shown(app.error) == ["Wrong user name or password"]
    assert app.title[0].value == "Log in"
    assert "token" not in app.session_state


@pytest.mark.parametrize("name, password", [("lead", "lead-demo"), ("admin", "admin-demo")])
def test_leads_and_admins_land_on_the_overview_of_what_was_imported(demo_db, name, password):
    app = log_in(open_app(), name, password)
    assert not app.exception
    assert app.title[0].value == "Overview"
    metrics = {m.label: m.value for m in app.metric}
    assert int(metrics["Queries"]) >= 40
    assert f"Logged in as **{name}**" in app.sidebar.caption[0].value
    token = app.session_state["token"]  # the login token never goes into a URL, as a name or a value
    assert token and all(token not in f"{key}={value}" for key, value in app.query_params.items())


def test_annotator_lands_on_their_next_item_and_it_survives_a_reload(demo_db):
    app = log_in(open_app(), "alice", "alice-demo")
    assert not app.exception
    assert app.title[0].value == "Annotate"
    # The demo's labels already cover demo-001..018, so the first open item is demo-019.
    assert app.query_params["item"] == "demo-019"
    assert any("demo-019" in m for m in shown(app.markdown))
    reloaded = open_app(token=app.session_state["token"])  # a new browser session with the login cookie
    assert reloaded.title[0].value == "Annotate" and reloaded.query_params["item"] == "demo-019"
    logged_out = reloaded.sidebar.button[0].click().run()
    assert logged_out.title[0].value == "Log in"


def test_annotate_submit_and_go_to_the_next_item(demo_db):
    app = log_in(open_app(), "alice", "alice-demo")
    item = app.query_params["item"]
    # The label form (in the browser) sends every label with a draft save and with submit.
    app = send_form(app, "save", decision="keep", category="Development and Programming",
                    subcategory="Optimization Techniques", languages=["python"], difficulty="easy")
    app.text_area(key=key_for(app, item, "notes")).input("map vs comprehension").run()
    (draft,) = [a for a in annotations("alice") if a.state == "draft"]
    assert draft.state == "draft" and draft.notes == "map vs comprehension" and draft.difficulty == "easy"
    assert form_data(app)["ack_ok"] and form_data(app)["fields"]["difficulty"] == "easy"
    app = send_form(app, "submit")
    assert not app.exception
    (warning,) = shown(app.warning)  # kept without a reference answer: submitted, with a warning
    assert warning.startswith(f"Submitted {item}. No reference answer") and not app.success
    assert app.query_params["item"] != item
    (done,) = [a for a in annotations("alice") if a.state == "submitted" and a.notes == "map vs comprehension"]
    assert (done.decision, done.category, done.subcategory, done.languages, done.difficulty) == (
        "keep", "Development and Programming", "Optimization Techniques", ["python"], "easy")
    assert done.suggested_languages and done.guideline_version == "v1" and 0 < done.time_on_task_s < 600


def test_annotate_guidelines_open_in_a_dialog_that_stays_through_a_draft_save(demo_db):
    app = log_in(open_app(), "alice", "alice-demo")
    guideline_heading = "# Annotation guidelines"
    assert not [m for m in app.markdown if guideline_heading in m.value]  # not sent until asked for
    app = app.button(key="annotate:btn_guidelines").click().run()
    assert [m for m in app.markdown if guideline_heading in m.value]
    app = send_form(app, "save", decision="keep")  # the form saves while the annotator reads
    assert not app.exception and [m for m in app.markdown if guideline_heading in m.value]


def test_incomplete_submission_shows_what_is_missing_and_keeps_the_item(demo_db):
    app = log_in(open_app(), "bob", "bob-demo")
    item = app.query_params["item"]
    app = send_form(app, "submit", decision="reject")
    assert shown(app.error) == ["missing reject reason"]
    assert app.query_params["item"] == item
    data = form_data(app)  # the form hears why, on the same item, and keeps its labels
    assert (data["item"], data["ack_ok"], data["ack_error"]) == (item, False, "missing reject reason")
    app = send_form(app, "submit", decision="reject", reject_reason="too trivial")
    assert shown(app.success) == [f"Submitted {item}."]


def test_draft_is_restored_after_a_reload(demo_db):
    app = log_in(open_app(), "carol", "carol-demo")
    item = app.query_params["item"]
    app.text_area(key=key_for(app, item, "reference_answer")).input("```python\nprint('hi')\n```").run()
    reloaded = open_app(token=app.session_state["token"], item=item)
    assert reloaded.text_area(key=key_for(app, item, "reference_answer")).value == "```python\nprint('hi')\n```"


def test_skip_moves_on(demo_db):
    app = log_in(open_app(), "alice", "alice-demo")
    item = app.query_params["item"]
    app = send_form(app, "skip")
    assert shown(app.info)[0].startswith(f"Skipped {item}")
    assert app.query_params["item"] != item


def test_my_work_lists_submitted_items(demo_db):
    app = log_in(open_app(), "alice", "alice-demo")
    item = app.query_params["item"]
    send_form(app, "submit", decision="reject", reject_reason="unclear")
    page = open_page("my_work", "alice")
    assert not page.exception
    table = page.dataframe[0].value
    assert list(table["query"])[0] == item and bool(table["editable"][0])  # newest first
    assert len(table) == 19  # with the 18 demo labels
    assert table["first_line"][0] and not table.isna().any().any()  # no None cells
    assert table["reject_reason"][0] == "unclear" and table["difficulty"][0] == ""
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", table["submitted_at"][0])


def test_rejecting_clears_the_difficulty_and_answer_on_the_page(demo_db):
    app = log_in(open_app(), "bob", "bob-demo")
    item = app.query_params["item"]
    app = send_form(app, "save", decision="keep", difficulty="hard")
    app.text_area(key=key_for(app, item, "reference_answer")).input("An answer.").run()
    app = send_form(app, "save", decision="reject", difficulty="hard")  # core clears what a reject never has
    assert app.text_area(key=key_for(app, item, "reference_answer")).value in (None, "")
    assert app.session_state[key_for(app, item, "difficulty")] is None
    (draft,) = [a for a in annotations("bob") if a.state == "draft"]
    assert (draft.decision, draft.difficulty, draft.reference_answer) == ("reject", None, None)


def test_back_opens_the_item_submitted_last(demo_db):
    app = log_in(open_app(), "bob", "bob-demo")
    item = app.query_params["item"]
    app = send_form(app, "submit", decision="reject", reject_reason="unclear")
    following = app.query_params["item"]
    assert following != item and form_data(app)["previous"] == item
    app = send_form(app, "back")
    assert not app.exception and app.query_params["item"] == item
    assert form_data(app)["editing"] and form_data(app)["fields"]["reject_reason"] == "unclear"  # editing it


def test_an_edit_started_from_my_work_goes_back_there(demo_db):
    app = log_in(open_app(), "alice", "alice-demo")
    # demo-001 is one of alice's submitted demo labels: open it as My work's edit button does
    token = app.session_state["token"]
    app = open_app(token=token, item="demo-001")
    assert app.title[0].value == "Annotate" and app.query_params["item"] == "demo-001"
    app = send_form(app, "submit")
    assert not app.exception and app.title[0].value == "My work"


@pytest.mark.parametrize("page, user_name, allowed", [
    ("annotate", "lead", "annotator"), ("my_work", "admin", "annotator"), ("assign", "alice", "lead or admin"),
])
def test_pages_refuse_roles_that_may_not_see_them(demo_db, page, user_name, allowed):
    app = open_page(page, user_name)
    assert shown(app.error) == [f"This page is for the role {allowed}."]


def test_navigation_shows_each_role_its_pages(demo_db):
    from curation_app.app_pages.navigation import pages_for

    titles = {role: [title for _, title, _ in pages_for(role)] for role in ("annotator", "lead", "admin")}
    assert "Assign work" not in titles["annotator"] and "Annotate" not in titles["lead"]
    assert titles["admin"][:len(titles["lead"])] == titles["lead"]  # and the admin pages after them


def test_lead_assigns_to_named_annotators_from_the_app(demo_db):
    app = open_page("assign", "lead")
    assert app.title[0].value == "Assign work"
    app.multiselect[0].set_value(["alice", "bob", "carol"])
    app = app.button(key="FormSubmitter:assign-Assign").click().run()
    assert not app.exception and not app.error
    assert "assignments made" in shown(app.success)[0]


def test_assigning_chosen_items_to_one_annotator_keeps_the_project_overlap(demo_db):
    app = open_page("assign", "lead")
    metrics = {m.label: m.value for m in app.metric}
    app.multiselect[0].set_value(["bob"])
    app.text_area[0].input("demo-040, demo-041")
    app.number_input[2].set_value(1)  # annotators per query in this assignment
    app = app.button(key="FormSubmitter:assign-Assign").click().run()
    assert not app.exception and not app.error
    assert shown(app.success) == ["2 assignments made over 2 queries (1 annotator(s) each): bob 2"]
    after = {m.label: m.value for m in app.metric}  # read after the assignment, in the same response
    assert after["Overlap k"] == metrics["Overlap k"] == "3"
    assert int(after["Open slots"].replace(",", "")) == int(metrics["Open slots"].replace(",", "")) - 2


def test_assign_page_warns_when_the_overlap_cannot_satisfy_the_rule(demo_db):
    app = open_page("assign", "lead")
    assert not app.warning  # the demo: overlap 3, rule needs 3
    app = app.number_input[0].set_value(2).run()
    assert shown(app.warning)[0].startswith("If saved: overlap (2) is below min_annotations (3)")
    app = app.button(key="assign:save_settings").click().run()
    assert shown(app.success) == ["Saved: overlap = 2"]
    assert {m.label: m.value for m in app.metric}["Overlap k"] == "2"
    assert shown(app.warning)[0].startswith("overlap (2) is below min_annotations (3)")


def test_annotators_with_nothing_assigned_are_told_so_not_that_all_is_done(sqlite_db, tmp_path):
    from curation_app.core import annotate, queue
    from curation_app.core.importer import import_file
    from tests.factories import write_jsonl

    admin = auth.command_line_actor()
    import_file(write_jsonl(tmp_path / "q.jsonl", [{"id": "q1", "prompt": "Why is my python loop slow?"},
                                                   {"id": "q2", "prompt": "How do I join two tables in SQL?"}]),
                actor=admin)
    with session_scope() as session:
        for name in ("ann1", "ann2"):
            auth.create_user(session, actor=admin, name=name, role="annotator", password=f"{name}-demo")
    # Imported, not assigned: nobody sees the queries yet, and nobody is told they are done.
    nothing = ["Nothing has been assigned to you yet, and nothing is open in the pool. Ask a lead to assign "
               "queries to you or open them to every annotator."]
    assert shown(log_in(open_app(), "ann2", "ann2-demo").info) == nothing
    with session_scope() as session:
        queue.assign(session, actor=admin, annotators=["ann1"], public_ids=["q1"], overlap=1)
    with session_scope() as session:
        ann1 = auth.get_user(session, "ann1")
        annotate.save(session, actor=ann1, public_id="q1", submit=True, fields={
            "decision": "keep", "category": "Development and Programming", "subcategory": "Code Debugging",
            "languages": ["python"], "difficulty": "easy", "reference_answer": "Use a set."})
    assert shown(log_in(open_app(), "ann1", "ann1-demo").info) == [
        "You have finished everything assigned to you (1 submitted), and nothing else is open in the pool. "
        "Ask a lead to assign more."]


def test_guidelines_page_shows_the_current_version(demo_db):
    app = open_page("guidelines", "alice")
    assert [t.value for t in app.title] == ["Annotation guidelines — version 1"]
    assert shown(app.caption) == ["guideline version: **v1**"]  # the header, not a paragraph
    markdown = shown(app.markdown)
    assert not any("guideline_version:" in text for text in markdown)
    assert not any("](CHANGELOG.md)" in text for text in markdown)  # a relative link would open another page
    assert any("Changes are listed in CHANGELOG.md (below)" in text for text in markdown)
    assert [e.label for e in app.expander] == ["Changelog (CHANGELOG.md)"]
    assert any(text.startswith("# Guidelines changelog") for text in markdown)


def test_an_item_without_any_language_cue_opens_with_no_languages_chosen(demo_db):
    with session_scope() as session:
        from curation_app.core import queue

        queue.assign(session, actor=auth.command_line_actor(), annotators=["alice", "bob", "carol"], public_ids=["demo-024"])
    app = log_in(open_app(), "alice", "alice-demo")
    assert not app.exception
    assert app.query_params["item"] == "demo-024"  # no code and no language named
    assert form_data(app)["fields"]["languages"] == []
    assert form_data(app)["suggested"].startswith("general (30%")  # suggested, not chosen


def charts(app) -> list[tuple[dict, list[dict]]]:
    """Every Altair chart on the page: its Vega-Lite spec, and the rows of every data set it carries
    (Streamlit sends them beside the spec, as Arrow)."""
    return [(json.loads(chart.proto.spec),
             [row for dataset in chart.proto.datasets
              for row in dataframe_util.convert_arrow_bytes_to_pandas_df(dataset.data.data).to_dict("records")])
            for chart in app.get("vega_lite_chart")]


def test_agreement_page_charts_each_field_pairs_and_confusions_for_a_lead(demo_db):
    app = open_page("agreement", "lead")
    assert not app.exception, app.exception
    assert app.selectbox[0].value == "krippendorff_alpha"
    (_, per_field), (pair_spec, pairs), (_, confusion), (_, by_category) = charts(app)
    fields = {row["field"]: row for row in per_field if "field" in row}
    assert set(fields) == {"decision", "reject_reason", "category", "subcategory", "difficulty", "languages"}
    category = fields["category"]
    assert category["measure"] == "krippendorff_alpha" and category["low"] <= category["value"] <= category["high"]
    assert category["shown"] == f"{category['value']:.2f}  [{category['low']:.2f}, {category['high']:.2f}]"
    assert {row["annotator"] for row in pairs} == {"alice", "bob", "carol"}
    assert pair_spec["layer"][0]["encoding"]["y"]["axis"]["labelLimit"] == 0  # names never cut short
    text_colour = pair_spec["layer"][1]["encoding"]["color"]
    assert text_colour["value"] == "black" and text_colour["condition"]["value"] == "white"  # on dark cells
    assert {row["value_a"] for row in confusion} == {row["value_b"] for row in confusion}
    assert {row["category"] for row in by_category}
    table = app.dataframe[0].value  # every measure per field: one row per field
    assert list(table["field"]) == ["decision", "reject_reason", "category", "subcategory", "difficulty", "languages"]
    assert " [" in table.set_index("field").at["category", "krippendorff_alpha"]
    assert any("the model needs at least 20" in i for i in shown(app.info))  # the demo has too few final items
    assert open_page("agreement", "alice").error[0].value == "This page is for the role lead or admin."


def test_agreement_confusions_follow_the_difficulty_scale_and_tables_have_no_index(demo_db):
    app = open_page("agreement", "lead")
    app = app.selectbox[1].set_value("difficulty").run()
    assert not app.exception, app.exception
    spec, cells = charts(app)[2]
    assert spec["layer"][0]["encoding"]["x"]["sort"] == ["easy", "medium", "hard"]
    assert spec["layer"][0]["encoding"]["y"]["sort"] == ["easy", "medium", "hard"]
    assert {row["value_a"] for row in cells} == {"easy", "medium", "hard"}
    # No table shows a 0, 1, 2... index column beside its own columns.
    assert len(app.dataframe) >= 2 and all(json.loads(table.proto.columns)["_index"] == {"hidden": True}
                                           for table in app.dataframe)


def test_lead_resolves_a_conflict_on_the_adjudicate_page(demo_db):
    from curation_app.models import FinalLabel, Query

    app = open_page("adjudicate", "lead")
    assert not app.exception
    queue_table = app.dataframe[0].value
    # A split decision first (demo-013), then demo-003, the lowest agreement.
    assert list(queue_table["query"])[:2] == ["demo-013", "demo-003"]
    assert list(queue_table["conflicts"])[0].startswith("decision; if kept: ")
    app = app.button(key="apply_rule").click().run()  # apply the rule: 10 unanimous items become final
    assert shown(app.success)[0].startswith("10 finalised")
    app = open_page("adjudicate", "lead", adjudicate="demo-003")
    key_prefix = "adjudicate:demo-003:0"
    app.selectbox(key=f"{key_prefix}:category").set_value(("Development and Programming", "Code Debugging"))
    app.text_area(key=f"{key_prefix}:rationale").input("a traceback to debug, not data science")
    app.checkbox(key=f"{key_prefix}:flag").check()
    app = app.button(key=f"FormSubmitter:{key_prefix}-Save final label").click().run()
    assert shown(app.success) == ["Final label of demo-003 saved."]
    with Session(get_engine()) as session:
        final = session.exec(select(FinalLabel).join(Query, Query.id == FinalLabel.query_id)
                             .where(Query.public_id == "demo-003")).one()
    assert (final.category, final.subcategory, final.source) == ("Development and Programming", "Code Debugging",
                                                                 "adjudicated")
    assert final.rationale == "a traceback to debug, not data science" and final.guidelines_need_update
    assert final.field_sources["category"]["by"] == "lead"


def test_saving_the_adjudicate_form_as_proposed_keeps_the_annotators_rewrite(sqlite_db, tmp_path):
    from curation_app.core import annotation_io, configure
    from curation_app.models import FinalLabel, Query
    from tests.factories import label, write_csv, write_jsonl

    admin = auth.command_line_actor()
    from curation_app.core.importer import import_file

    import_file(write_jsonl(tmp_path / "q.jsonl", [{"id": "q0", "prompt": "pls my loop slow why"}]), actor=admin)
    with session_scope() as session:
        auth.create_user(session, actor=admin, name="lead1", role="lead", password="password1")
        configure.change_settings(session, actor=admin, values={"min_annotations": 3, "keep_quorum": 3})
    rewrite = "Why is this Python loop slow, and how can it be made faster?"
    rows = [{**label("q0", "w"), "rewritten_prompt": rewrite},
            {**label("q0", "x", difficulty="hard"), "rewritten_prompt": rewrite},  # difficulty 2 of 3: a conflict
            {**label("q0", "y"), "rewritten_prompt": "Speed up my loop.", "reference_answer": ""}]
    annotation_io.import_annotations(write_csv(tmp_path / "labels.csv", rows), actor=admin)
    app = open_page("adjudicate", "lead1", adjudicate="q0")
    assert not app.exception
    form = "adjudicate:q0:0"
    assert app.text_area(key=f"{form}:rewritten:proposed").value == rewrite  # the most common one
    assert rewrite in " ".join(element.proto.body for element in app.get("html"))  # shown side by side
    app = app.button(key=f"FormSubmitter:{form}-Save final label").click().run()
    assert shown(app.success) == ["Final label of q0 saved."], shown(app.error)
    with Session(get_engine()) as session:
        final = session.exec(select(FinalLabel).join(Query, Query.id == FinalLabel.query_id)
                             .where(Query.public_id == "q0")).one()
    assert (final.rewritten_prompt, final.reference_answer, final.difficulty) == (rewrite, "Use a set.", "easy")
    assert final.field_sources["rewritten_prompt"] == {"source": "annotator", "by": "w", "votes": None}
    assert "reject_reason" not in final.field_sources


def test_the_second_of_two_leads_saving_the_same_item_gets_a_conflict_message(demo_db):
    from curation_app.models import FinalLabel, Query

    key_prefix = "adjudicate:demo-003:0"
    first, second = (open_page("adjudicate", name, adjudicate="demo-003") for name in ("lead", "admin"))
    for app, why in ((first, "the lead's reason"), (second, "the admin's reason")):
        app.selectbox(key=f"{key_prefix}:category").set_value(("Development and Programming", "Code Debugging"))
        app.text_area(key=f"{key_prefix}:rationale").input(why)
    first = first.button(key=f"FormSubmitter:{key_prefix}-Save final label").click().run()
    assert shown(first.success) == ["Final label of demo-003 saved."]
    second = second.button(key=f"FormSubmitter:{key_prefix}-Save final label").click().run()
    assert not second.success
    assert "resolved by another lead while you were working on it" in shown(second.error)[0]
    with Session(get_engine()) as session:
        final = session.exec(select(FinalLabel).join(Query, Query.id == FinalLabel.query_id)
                             .where(Query.public_id == "demo-003")).one()
    assert (final.rationale, final.revision) == ("the lead's reason", 1)  # the first save stands
    # The same run shows the other lead's decision, and the form still holds what this lead typed.
    assert any("revision 1" in text and "the lead's reason" in text for text in shown(second.info))
    assert second.text_area(key=f"{key_prefix}:rationale").value == "the admin's reason"
    assert second.selectbox(key=f"{key_prefix}:category").value == ("Development and Programming", "Code Debugging")
    # Saving again, having seen their decision, replaces it.
    second = second.button(key=f"FormSubmitter:{key_prefix}-Save final label").click().run()
    assert shown(second.success) == ["Final label of demo-003 saved."], shown(second.error)
    with Session(get_engine()) as session:
        final = session.exec(select(FinalLabel).join(Query, Query.id == FinalLabel.query_id)
                             .where(Query.public_id == "demo-003")).one()
    assert (final.rationale, final.revision) == ("the admin's reason", 2)


def test_after_a_save_the_queue_shown_has_one_item_fewer_and_the_next_conflict_is_one_click_away(demo_db):
    app = open_page("adjudicate", "lead")
    before = list(app.dataframe[0].value["query"])
    first = before[0]
    app = app.button(key="next_conflict").click().run()  # nothing open yet: it opens the first conflict
    assert app.query_params["adjudicate"] == first
    form = f"adjudicate:{first}:0"
    app.selectbox(key=f"{form}:decision").set_value("keep")
    app.selectbox(key=f"{form}:category").set_value(("Development and Programming", "Code Debugging"))
    app.selectbox(key=f"{form}:difficulty").set_value("medium")
    app = app.button(key=f"FormSubmitter:{form}-Save final label").click().run()
    assert shown(app.success) == [f"Final label of {first} saved."], shown(app.error)
    assert list(app.dataframe[0].value["query"]) == before[1:]  # the same run, no reload
    assert app.button(key="next_conflict").label == f"Next conflict: {md(before[1])}"
    app = app.button(key="next_conflict").click().run()
    assert app.query_params["adjudicate"] == before[1]
    assert any(f"Item {before[1]}" in header for header in shown(app.subheader))


def test_the_side_by_side_table_shows_whole_values_and_marks_the_disagreeing_ones(demo_db):
    app = open_page("adjudicate", "lead", adjudicate="demo-003")
    (table,) = app.table
    frame = table.value
    assert frame.loc["category", "status"] == "conflict"
    assert "Development and Programming" in set(frame.loc["category"])  # the whole name, not cut at a width
    assert len(app.dataframe) == 1  # only the queue is a data grid
    with Session(get_engine()) as session:
        from curation_app.core import adjudicate

        view = adjudicate.adjudication_view(session, actor=auth.get_user(session, "lead"), public_id="demo-003")
    row = next(r for r in view.side_by_side() if r["field"] == "category")
    assert row["disagreeing"] and set(row["disagreeing"]) < set(row["values"])


def test_an_empty_guideline_feedback_tab_says_so_in_words(demo_db):
    app = open_page("adjudicate", "lead")
    assert len(app.dataframe) == 1  # the queue; no empty grid in the feedback tab
    assert any("No final label is flagged yet" in text for text in shown(app.markdown))


def test_annotators_cannot_open_the_adjudicate_page(demo_db):
    assert open_page("adjudicate", "bob").error[0].value == "This page is for the role lead or admin."


def test_failed_logins_are_rate_limited_and_audited(demo_db):
    from curation_app.models import AuditLog

    app = open_app()
    for _ in range(5):
        app = log_in(app, "bob", "wrong-password")
    assert shown(app.error)[0] == "Wrong user name or password"
    app = log_in(app, "bob", "bob-demo")  # even the right password waits now
    assert shown(app.error)[0].startswith("Too many failed logins for this name; try again in")
    assert app.title[0].value == "Log in"
    with Session(get_engine()) as session:
        assert len(session.exec(select(AuditLog).where(AuditLog.action == "login.failed")).all()) == 5


def test_logging_out_leaves_nothing_for_the_next_user(demo_db):
    app = log_in(open_app(), "alice", "alice-demo")
    item = app.query_params["item"]
    app = send_form(app, "save", decision="keep", difficulty="hard")
    app = app.sidebar.button[0].click().run()
    assert app.title[0].value == "Log in"
    assert [k for k in app.session_state if str(k).startswith("annotate:")] == []
    app = log_in(app, "bob", "bob-demo")
    assert app.query_params["item"] == item  # bob is given the same open item...
    assert form_data(app)["fields"]["decision"] is None  # ...without alice's labels


def test_going_to_another_page_and_back_keeps_the_draft(demo_db):
    app = log_in(open_app(), "carol", "carol-demo")
    item = app.query_params["item"]
    app = send_form(app, "save", category="Development and Programming", subcategory="Code Debugging")
    app.text_area(key=key_for(app, item, "notes")).input("twenty minutes of careful notes").run()
    app.switch_page("app_pages/guidelines.py").run()
    app.switch_page("app_pages/annotate.py").run()
    assert app.text_area(key=key_for(app, item, "notes")).value == "twenty minutes of careful notes"
    fields = form_data(app)["fields"]
    assert (fields["category"], fields["subcategory"]) == ("Development and Programming", "Code Debugging")


def test_a_second_tab_cannot_silently_overwrite_the_first(demo_db):
    first = log_in(open_app(), "alice", "alice-demo")
    item = first.query_params["item"]
    second = open_app(token=first.session_state["token"], item=item)
    first.text_area(key=key_for(first, item, "reference_answer")).input("answer from tab 1").run()
    second = second.text_area(key=key_for(second, item, "notes")).input("note from tab 2").run()
    assert "changed elsewhere" in shown(second.error)[0]
    assert second.text_area(key=key_for(second, item, "reference_answer")).value == "answer from tab 1"


def test_releases_page_previews_freezes_and_offers_the_files(demo_db, tmp_path, monkeypatch):
    monkeypatch.setenv("CURATION_EXPORTS_DIR", str(tmp_path / "exports"))
    from curation_app.core import adjudicate

    with session_scope() as session:
        adjudicate.apply_rule(session, actor=auth.command_line_actor())
    app = open_page("releases", "lead")
    assert not app.exception
    app.text_input[0].input("demo-bench")
    app = app.button[0].click().run()  # Preview
    assert not app.exception
    assert {m.label: m.value for m in app.metric}["Items"] == "8"  # 10 final, 2 of them rejected
    assert any("subcategories have no final kept item" in w for w in shown(app.warning))
    app = app.button(key=[b.key for b in app.button if b.label.startswith("Freeze")][0]).click().run()
    assert shown(app.success)[0].startswith("Frozen: 8 items in demo-bench/1.0 ")  # not the server's path
    # The same response lists it among the frozen releases, with its path under the exports folder.
    listed = app.dataframe[-1].value
    assert list(listed["name"]) == ["demo-bench"] and list(listed["path"]) == ["demo-bench/1.0"]
    assert not any(str(tmp_path) in text for text in shown(app.success) + shown(app.caption))
    assert all(button.proto.ignore_rerun for button in app.get("download_button"))  # two quick clicks work
    app = open_page("releases", "lead")
    assert shown(app.success) == ["Every file matches its manifest."]
    assert len(app.get("download_button")) == 4
    assert open_page("releases", "carol").error[0].value == "This page is for the role lead or admin."


def test_triage_page_runs_and_shows_the_flags(demo_db):
    app = open_page("triage", "lead")
    assert not app.exception
    app = app.button[0].click().run()  # run triage over every query
    assert not app.exception
    assert "query(ies) with secrets or personal data" in shown(app.success)[0]
    assert any(tab.label.startswith("Secrets and personal data (") for tab in app.tabs)
    assert open_page("triage", "bob").error[0].value == "This page is for the role lead or admin."


def test_triage_hits_are_judged_in_their_text_masked_with_the_decision_beside_them(demo_db):
    from curation_app.core.demo import PLANTED_KEY_ID, PLANTED_SECRET

    app = open_page("triage", "lead")  # no triage run here: the demo loader has run it
    assert not app.exception
    assert any(tab.label == "Secrets and personal data (2)" for tab in app.tabs)  # demo-013's key, demo-025's e-mail
    page = " ".join([*(element.proto.body for element in app.get("html")), *shown(app.markdown), *shown(app.caption),
                     *(t.value for t in app.text)])
    assert "aws_access_key_id=&quot;AKIA••••••••" in page  # in its line of code, masked
    assert PLANTED_KEY_ID not in page and PLANTED_SECRET not in page and PLANTED_SECRET[:12] not in page
    assert "demo-013: aws_access_key_id, aws_secret_access_key" in shown(app.caption)
    app = app.button(key="redact:0").click().run()  # beside demo-013's hits
    assert not app.exception
    assert any(tab.label == "Secrets and personal data (1)" for tab in app.tabs)  # the same response
    assert "demo-013: aws_access_key_id, aws_secret_access_key" not in shown(app.caption)


def test_annotators_see_triage_warnings_on_the_item(demo_db):
    from curation_app.core import queue
    from curation_app.core.triage import database as triage_db

    with session_scope() as session:
        triage_db.run_triage(session, actor=auth.command_line_actor())
        queue.assign(session, actor=auth.command_line_actor(), annotators=["alice", "bob", "carol"],
                     public_ids=["demo-025"])
    app = log_in(open_app(), "alice", "alice-demo")
    assert app.query_params["item"] == "demo-025"
    assert any("May contain secrets or personal data: email" in w for w in shown(app.warning))


def test_the_drafts_script_has_nothing_the_html_sanitiser_would_take_for_a_tag():
    # st.html runs its content through an HTML sanitiser first: "<" before a letter drops the script.
    script = (REPO_ROOT / "curation_app" / "app_pages" / "drafts.js").read_text()
    assert not re.search(r"<[A-Za-z/!?]", script)


def test_annotator_pages_never_show_another_annotators_labels(demo_db):
    # alice and bob both labelled demo-008; alice's note must reach bob on no page.
    alices_note = "refers to an earlier conversation we do not have"
    for page, params in (("my_work", {}), ("annotate", {"item": "demo-008"})):
        app = open_page(page, "bob", **params)
        assert not app.exception
        texts = [*shown(app.markdown), *shown(app.caption), *(t.value for t in app.text),
                 *(str(a.value) for a in app.text_area), *(d.value.to_csv() for d in app.dataframe)]
        assert texts and not any(alices_note in text for text in texts), page
    mine = open_page("annotate", "bob", item="demo-008")
    assert mine.text_area(key=f"annotate:{mine.session_state['user_id']}:demo-008:notes").value != alices_note


def test_a_lead_who_reopens_an_item_can_resolve_it_again(demo_db):
    from curation_app.models import FinalLabel, Query

    app = open_page("adjudicate", "lead", adjudicate="demo-003")
    first = "adjudicate:demo-003:0"
    app.selectbox(key=f"{first}:category").set_value(("Development and Programming", "Code Debugging"))
    app = app.button(key=f"FormSubmitter:{first}-Save final label").click().run()
    app = app.run()  # the form now starts from revision 1
    app.text_input(key="adjudicate:demo-003:1:reason").input("second look")
    app = app.button(key="adjudicate:demo-003:1:reopen").click().run()
    assert shown(app.success)[-1] == "demo-003 is open again."
    app = app.run()
    key = next(k.split(":")[2] for k in app.session_state if str(k).startswith("adjudicate:demo-003:")
               and str(k).endswith(":rationale"))
    form = f"adjudicate:demo-003:{key}"
    app.selectbox(key=f"{form}:category").set_value(("Development and Programming", "Code Debugging"))
    app.text_area(key=f"{form}:rationale").input("decided again after reopening")
    app = app.button(key=f"FormSubmitter:{form}-Save final label").click().run()
    assert not app.error, shown(app.error)
    with Session(get_engine()) as session:
        final = session.exec(select(FinalLabel).join(Query, Query.id == FinalLabel.query_id)
                             .where(Query.public_id == "demo-003")).one()
    assert final.rationale == "decided again after reopening"


def test_annotate_shows_each_models_baseline_and_starts_from_the_first(demo_db, tmp_path):
    from curation_app.core.importer import import_answers
    from tests.factories import write_jsonl

    answers = write_jsonl(tmp_path / "claude-3-opus_answers.jsonl", [{"id": "demo-019", "answer": "Second model."}])
    import_answers(answers, actor=auth.command_line_actor())
    app = log_in(open_app(), "alice", "alice-demo")
    assert app.query_params["item"] == "demo-019"
    labels = [re.sub(r"\\(.)", r"\1", e.label) for e in app.expander if e.label.startswith("Baseline answer")]
    assert labels == ["Baseline answer (baseline, the one Alt+B starts from)", "Baseline answer (claude-3-opus)"]
    assert any("Second model." in m for m in shown(app.markdown))
    key = key_for(app, "demo-019", "reference_answer")
    app = app.button(key=key.replace("reference_answer", "btn_baseline")).click().run()
    assert not app.exception
    assert app.text_area(key=key).value.startswith("EF Core cannot translate")
