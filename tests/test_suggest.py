"""The category model: training on final labels, held-out accuracy, top-3 suggestions that stay
hidden until opened (and are recorded), queue order by uncertainty, language-suggestion accuracy."""

from __future__ import annotations

import random

import pytest
from sqlmodel import Session, select

from curation_app.core import adjudicate, annotate, annotation_io, auth, queue, suggest
from curation_app.core.errors import InvalidInput, PermissionDenied
from curation_app.core.importer import import_file
from curation_app.database import session_scope
from curation_app.models import Annotation, Query, User
from tests.factories import ROW, write_csv, write_jsonl

TOPICS = {
    ("Development and Programming", "Code Debugging", "python"):
        ["traceback", "exception", "error", "crash", "bug", "fix", "stack", "fails", "TypeError", "None"],
    ("Databases and Data Handling", "Database Management", "sql"):
        ["sql", "table", "index", "join", "query", "postgres", "schema", "rows", "select", "foreign key"],
    ("User Interface and User Experience (UI/UX)", "Frontend Technologies", "css"):
        ["css", "html", "button", "layout", "flexbox", "center", "div", "margin", "responsive", "font"],
}


def topic_text(rng: random.Random, words: list[str], i: int) -> str:
    filler = ["please", "help", "my", "the", "with", "how", "do", "i", "this", "thanks", "code", "project"]
    return f"question {i}: " + " ".join(rng.choice(words if rng.random() < 0.4 else filler) for _ in range(30))


@pytest.fixture
def trained_project(engine, admin, tmp_path):
    rng = random.Random(0)
    rows, labels = [], []
    for i in range(90):
        (main, sub, language), words = list(TOPICS.items())[i % 3]
        rows.append({"id": f"s{i:03d}", "prompt": topic_text(rng, words, i)})
        labels += [{**ROW, "query_id": f"s{i:03d}", "annotator": who, "category": main, "subcategory": sub,
                    "languages": language, "difficulty": ["easy", "medium", "hard"][i % 3], "notes": ""}
                   for who in ("ann_a", "ann_b")]
    rows += [{"id": f"open{i}", "prompt": topic_text(rng, words, 100 + i)}
             for i, words in enumerate([TOPICS[k] for k in TOPICS] + [["poem", "weather"]])]
    import_file(write_jsonl(tmp_path / "q.jsonl", rows), actor=admin, engine=engine)
    annotation_io.import_annotations(write_csv(tmp_path / "l.csv", labels), actor=admin, engine=engine)
    with session_scope(engine) as session:
        adjudicate.apply_rule(session, actor=admin)
        auth.create_user(session, actor=admin, name="newbie", role="annotator", password="password1")
        queue.assign(session, actor=admin, public_ids=["open0", "open1", "open2", "open3"])
    return admin


def test_model_learns_categories_and_reports_held_out_accuracy(engine, trained_project):
    with session_scope(engine) as session:
        model = suggest.train(session, actor=trained_project)
    assert model.n_training == 90
    accuracy = model.accuracy["subcategory"]
    assert accuracy["n_test"] == 23 and accuracy["top1"] > accuracy["majority_baseline"] + 0.3
    assert accuracy["top3"] == 1.0  # three classes
    (suggestion,) = model.suggest(["my flexbox layout: the button is not centered in the div"])
    assert suggestion["subcategory"][0][0] == "Frontend Technologies"
    assert len(suggestion["category"]) == 3 and all(0 <= p <= 1 for _, p in suggestion["difficulty"])


def test_too_few_final_items_and_roles(engine, admin):
    with session_scope(engine) as session:
        with pytest.raises(InvalidInput, match="needs at least 20"):
            suggest.train(session, actor=admin)
        assert suggest.model_for_suggestions(session) is None
        with pytest.raises(PermissionDenied):
            suggest.train(session, actor=User(id=1, name="a", role="annotator"))


def test_queue_ordered_by_uncertainty_puts_the_least_known_item_first(engine, trained_project):
    with session_scope(engine) as session:
        model = suggest.train(session, actor=trained_project, evaluate=False)
        result = suggest.order_queue_by_uncertainty(session, actor=trained_project, model=model)
    assert result["ranked"] == 4
    with Session(engine) as session:
        newbie = session.exec(select(User).where(User.name == "newbie")).one()
    with session_scope(engine) as session:
        assert queue.next_item(session, actor=newbie).public_id == "open3"  # the off-topic one
    with session_scope(engine) as session:
        suggest.reset_queue_order(session, actor=trained_project)


def test_suggestions_are_recorded_only_once_opened(engine, trained_project):
    with Session(engine) as session:
        newbie = session.exec(select(User).where(User.name == "newbie")).one()
    with session_scope(engine) as session:
        item = queue.next_item(session, actor=newbie)
        annotate.save(session, actor=newbie, public_id=item.public_id, fields={"notes": "looking"}, submit=False)
    with Session(engine) as session:
        draft = session.exec(select(Annotation).where(Annotation.annotator_id == newbie.id)).one()
        assert draft.suggestions_opened is False and draft.suggested_labels is None
    shown = {"subcategory": [["Code Debugging", 0.8], ["Database Management", 0.1], ["Frontend Technologies", 0.1]]}
    with session_scope(engine) as session:
        annotate.save(session, actor=newbie, public_id=item.public_id, fields={"notes": "looking"}, submit=False,
                      suggested_labels=shown)
    with Session(engine) as session:
        draft = session.exec(select(Annotation).where(Annotation.annotator_id == newbie.id)).one()
        assert draft.suggestions_opened is True and draft.suggested_labels == shown


def test_language_suggestion_accuracy_against_final_labels(engine, trained_project):
    with session_scope(engine) as session:
        figures = suggest.language_suggestion_accuracy(session)
    assert figures["items"] == 90
    assert 0 <= figures["precision"] <= 1 and 0 <= figures["recall"] <= 1
    with Session(engine) as session:
        assert session.exec(select(Query).where(Query.public_id == "s000")).one()


def test_cli_reports_accuracy_and_orders_the_queue(db_url, engine, trained_project, cli):
    result = cli("suggest", "accuracy", "--json")
    assert result.code == 0, result.err
    report = result.json()
    assert report["model"]["items"] == 90 and report["model"]["accuracy"]["subcategory"]["top3"] == 1.0
    assert report["languages"]["items"] == 90 and 0 <= report["languages"]["top1_accuracy"] <= 1
    assert "category model, trained on 90 final kept items" in cli("suggest", "accuracy").out
    assert cli("suggest", "order").out.strip() == "4 open item(s) ordered, most uncertain first"
    assert cli("suggest", "reset-order", "--json").json() == {"ranked": 0}


def test_the_annotate_page_shows_and_records_suggestions_when_asked(db_url, engine, trained_project):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import REPO_ROOT

    with Session(engine) as session:
        newbie = session.exec(select(User).where(User.name == "newbie")).one()
    with session_scope(engine) as session:
        token = auth.start_login_session(session, user=newbie)
    app = AppTest.from_file(str(REPO_ROOT / "curation_app" / "app_pages" / "annotate.py"), default_timeout=60)
    app.session_state["token"] = token
    app = app.run()
    item = app.query_params["item"]
    assert not any("Model suggestions (top 3)" in c.value for c in app.caption)  # hidden until asked for
    app = app.button(key=f"annotate:{newbie.id}:{item}:btn_suggestions").click().run()
    assert any("Model suggestions (top 3)" in c.value for c in app.caption)
    with Session(engine) as session:
        draft = session.exec(select(Annotation).where(Annotation.annotator_id == newbie.id)).one()
    assert draft.suggestions_opened is True and set(draft.suggested_labels) == {"category", "subcategory", "difficulty"}
