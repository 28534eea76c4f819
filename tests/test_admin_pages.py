"""The admin pages through AppTest: what an admin does there, and that leads and annotators can
neither open them nor call what they call."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from curation_app.core import accounts, auth, configure, settings
from curation_app.core.errors import PermissionDenied
from curation_app.core.importer import import_file
from curation_app.database import get_engine, session_scope
from curation_app.models import Query, User
from tests.apptest import log_in, open_app, open_page, shown
from tests.factories import write_jsonl

ADMIN_PAGES = ("admin_users", "admin_settings", "admin_taxonomy", "admin_import")


def user(name: str) -> User:
    with Session(get_engine(), expire_on_commit=False) as session:
        found = auth.get_user(session, name)
        session.expunge(found)
        return found


@pytest.mark.parametrize("page", ADMIN_PAGES)
@pytest.mark.parametrize("name, role", [("alice", "annotator"), ("lead", "lead")])
def test_leads_and_annotators_cannot_open_the_admin_pages(demo_db, page, name, role):
    app = open_page(page, name)
    assert shown(app.error) == ["This page is for the role admin."]
    assert not app.button and not app.text_input and not app.file_uploader


@pytest.mark.parametrize("name", ["alice", "lead"])
def test_leads_and_annotators_cannot_call_what_the_admin_pages_call(demo_db, name, tmp_path):
    actor = user(name)
    queries = write_jsonl(tmp_path / "q.jsonl", [{"prompt": "who may import this"}])
    calls = {
        "add a user": lambda s: auth.create_user(s, actor=actor, name="new1", role="annotator", password="password1"),
        "change a role": lambda s: auth.set_role(s, actor=actor, name="bob", role="lead"),
        "reset a password": lambda s: auth.set_password(s, actor=actor, name="bob", password="password2"),
        "deactivate": lambda s: accounts.set_active(s, actor=actor, name="bob", active=False),
        "taxonomy": lambda s: configure.change_setting(s, actor=actor, key="taxonomy", value=None),
        "score fields": lambda s: configure.change_setting(s, actor=actor, key="score_fields", value=[]),
        "import": lambda s: import_file(queries, actor=actor),
    }
    for what, call in calls.items():
        with session_scope() as session, pytest.raises(PermissionDenied):
            call(session)
    assert user("bob").active and user("bob").role == "annotator"


def test_navigation_gives_the_admin_pages_to_admins_only(demo_db):
    from curation_app.app_pages.navigation import pages_for

    titles = {role: [title for _, title, _ in pages_for(role)] for role in ("annotator", "reviewer", "lead", "admin")}
    admin_only = ["Users", "Project settings", "Taxonomy and scores", "Import queries"]
    assert titles["admin"] == titles["lead"] + admin_only
    assert not set(admin_only) & set(titles["annotator"] + titles["reviewer"] + titles["lead"])


def test_admin_adds_a_user_changes_the_role_resets_the_password_and_deactivates(demo_db):
    app = open_page("admin_users", "admin")
    app.text_input(key="users:add:name").input("dana")
    app.selectbox(key="users:add:role").set_value("annotator")
    app.text_input(key="users:add:password").input("dana-password")
    app.text_input(key="users:add:again").input("dana-password")
    app = app.button[0].click().run()
    assert not app.exception and shown(app.success) == ["dana (annotator) added; they can log in now."]
    assert "dana" in app.dataframe[0].value["name"].tolist()  # the table is read after the change

    app.selectbox(key="users:chosen").set_value("dana").run()
    app.selectbox(key="users:role:dana").set_value("reviewer")
    app = app.button[1].click().run()
    assert shown(app.success) == ["dana is now reviewer."] and user("dana").role == "reviewer"

    app.text_input(key="users:password:dana").input("another-password")
    app = app.button[2].click().run()
    assert "password of dana was changed" in shown(app.success)[0]
    with Session(get_engine()) as session:
        assert auth.authenticate(session, name="dana", password="another-password").name == "dana"

    app = app.button(key="users:deactivate").click().run()
    assert "dana is deactivated" in shown(app.success)[0] and not user("dana").active
    assert shown(log_in(open_app(), "dana", "another-password").error) == ["Wrong user name or password"]
    app = app.button(key="users:reactivate").click().run()
    assert user("dana").active and log_in(open_app(), "dana", "another-password").title[0].value == "Review"


def test_user_form_refusals_are_shown_and_nothing_is_added(demo_db):
    app = open_page("admin_users", "admin")
    app.text_input(key="users:add:name").input("x y")
    app.text_input(key="users:add:password").input("long-enough")
    app.text_input(key="users:add:again").input("long-enough")
    app = app.button[0].click().run()
    assert "user name 'x y' is not allowed" in shown(app.error)[0]
    app.text_input(key="users:add:name").input("eve")
    app.text_input(key="users:add:again").input("different")
    app = app.button[0].click().run()
    assert shown(app.error) == ["The two passwords differ."]
    with Session(get_engine()) as session:
        assert auth.get_user(session, "eve") is None and auth.get_user(session, "x y") is None
    app.selectbox(key="users:chosen").set_value("admin").run()
    app = app.button(key="users:deactivate").click().run()
    assert shown(app.error) == ["you cannot deactivate yourself; another admin can"] and user("admin").active


def test_settings_page_warns_before_saving_and_after(demo_db):
    app = open_page("admin_settings", "admin")
    assert not app.exception
    app.number_input(key="settings:field:min_annotations").set_value(4)
    app = app.number_input(key="settings:field:overlap").set_value(3).run()
    before = shown(app.warning)
    assert any(w.startswith("If saved: overlap (3) is below min_annotations (4)") for w in before), before
    assert settings.get_setting(Session(get_engine()), "min_annotations") == 3  # the demo's rule, not saved yet
    app = app.button(key="settings:save").click().run()
    assert not app.exception and shown(app.success)[0].startswith("Saved:")
    after = shown(app.warning)
    assert any(w.startswith("overlap (3) is below min_annotations (4)") for w in after), after
    with Session(get_engine()) as session:
        assert settings.get_setting(session, "overlap") == 3 and settings.get_setting(session, "min_annotations") == 4


def test_settings_page_refuses_before_saving_what_core_refuses(demo_db):
    app = open_page("admin_settings", "admin")
    app.number_input(key="settings:field:review_votes").set_value(2)
    app = app.number_input(key="settings:field:review_quorum").set_value(3).run()
    assert any("review_quorum (3) cannot exceed review_votes (2)" in e for e in shown(app.error))
    assert app.button(key="settings:save").disabled
    app.number_input(key="settings:field:review_quorum").set_value(2)
    app = app.text_input(key="settings:field:license").input("Not A Licence").run()
    assert any("not a Hugging Face licence id" in e for e in shown(app.error))
    app = app.text_input(key="settings:field:license").input("cc-by-4.0").run()
    app = app.selectbox(key="settings:field:guideline_version").set_value("v1").run()
    app = app.button(key="settings:save").click().run()
    with Session(get_engine()) as session:
        assert settings.get_setting(session, "license") == "cc-by-4.0"
        assert (settings.get_setting(session, "review_votes"), settings.get_setting(session, "review_quorum")) == (2, 2)


def test_taxonomy_upload_is_checked_as_the_cli_checks_it_then_saved(demo_db):
    app = open_page("admin_taxonomy", "admin")
    bad = {"main_categories": [], "languages": ["python"], "difficulties": ["easy"]}
    app.file_uploader(key="taxonomy:upload").set_value(("bad.json", json.dumps(bad).encode(), "application/json"))
    app = app.run()
    assert any("'main_categories' must be a non-empty list" in e for e in shown(app.error))
    assert app.button(key="taxonomy:save").disabled
    app.file_uploader(key="taxonomy:upload").set_value(("broken.json", b"{not json", "application/json"))
    app = app.run()
    assert any("taxonomy: broken.json is not valid JSON" in e for e in shown(app.error))
    good = {"name": "mine", "main_categories": [{"name": "Web", "subcategories": ["CSS"]}],
            "languages": ["css"], "difficulties": ["easy", "hard"]}
    app.file_uploader(key="taxonomy:upload").set_value(("good.json", json.dumps(good).encode(), "application/json"))
    app = app.run()
    app = app.button(key="taxonomy:save").click().run()
    assert shown(app.success) == ["Taxonomy mine saved."]
    assert any("mine" in m and "1 main categories" in m for m in shown(app.markdown))
    app = app.button(key="taxonomy:default").click().run()
    with Session(get_engine()) as session:
        assert settings.get_setting(session, "taxonomy") is None


def test_score_fields_are_edited_as_json(demo_db):
    app = open_page("admin_taxonomy", "admin")
    app = app.text_area(key="score_fields:text").input('[{"name": "quality", "level": "nominal", "min": 1, "max": 5}]').run()
    assert app.error and app.button(key="score_fields:save").disabled
    app = app.text_area(key="score_fields:text").input(
        '[{"name": "quality", "level": "interval", "min": 1, "max": 5, "step": 1}]').run()
    app = app.button(key="score_fields:save").click().run()
    assert shown(app.success) == ["1 score field(s) saved."]
    with Session(get_engine()) as session:
        assert settings.get_setting(session, "score_fields")[0]["name"] == "quality"


def test_import_page_refuses_a_bad_file_with_line_numbers_as_the_cli_does(demo_db, cli, tmp_path):
    bad = b'{"prompt": "fine"}\n{"prompt": \n{"nothing": "here"}\n'
    (tmp_path / "bad.jsonl").write_bytes(bad)
    from_cli = cli("import", tmp_path / "bad.jsonl")
    app = open_page("admin_import", "admin")
    app.file_uploader(key="import:file").set_value(("bad.jsonl", bad, "application/octet-stream"))
    app = app.run().button(key="import:go").click().run()
    assert not app.exception
    problems = app.code[0].value.splitlines()
    assert problems and problems == from_cli.err.strip().splitlines()[:-1]  # the CLI's last line is its error
    assert problems[0].startswith("bad.jsonl: line 2:") and problems[1].startswith("bad.jsonl: line 3:")
    assert "refused, 2 bad row(s); nothing was imported" in shown(app.error)[0]
    with Session(get_engine()) as session:
        assert not session.exec(select(Query).where(Query.source == "bad")).first()


def test_import_page_imports_a_good_file_and_says_it_is_not_yet_assigned(demo_db):
    good = b"".join(json.dumps({"id": f"up-{i}", "prompt": f"How do I reverse list number {i} in python?"}).encode()
                    + b"\n" for i in range(5))
    app = open_page("admin_import", "admin")
    app.file_uploader(key="import:file").set_value(("uploaded.jsonl", good, "application/octet-stream"))
    app = app.run().button(key="import:go").click().run()
    assert not app.exception and not app.error
    assert shown(app.success)[0].startswith("uploaded.jsonl (jsonl, flat shape) as source 'uploaded': 5 read, 5 imported")
    assert "triage:" in app.code[0].value
    assert any("do not see new queries until they are assigned" in i for i in shown(app.info))
    with Session(get_engine()) as session:
        assert len(session.exec(select(Query).where(Query.source == "uploaded")).all()) == 5


def test_first_run_offers_the_first_admin_only_without_users(sqlite_db):
    app = open_app()
    assert "users add NAME --role admin" in app.info[0].value
    app.text_input(key="first_admin_name").input("root")
    app.text_input(key="first_admin_password").input("root-password")
    app.text_input(key="first_admin_again").input("root-password")
    app = app.button[0].click().run()
    assert not app.exception and app.title[0].value == "Overview"
    assert user("root").role == "admin"
    again = open_app()  # a user exists now: only the login form
    assert not again.info and [t.label for t in again.text_input] == ["User name", "Password"]
    with session_scope() as session, pytest.raises(PermissionDenied, match="already has users"):
        accounts.create_first_admin(session, name="second", password="second-password")


def test_demo_database_shows_the_plain_login_form(demo_db):
    app = open_app()
    assert not app.info and [t.label for t in app.text_input] == ["User name", "Password"]


def test_admin_sees_login_blocks_and_clears_one_with_an_audit_row(demo_db):
    from curation_app.models import AuditLog

    app = open_page("admin_users", "admin")
    assert shown(app.info) == ["No name or client is blocked now."]
    assert "users:unblock" not in [button.key for button in app.button]
    for i in range(auth.MAX_FAILED_LOGINS):
        with pytest.raises(auth.AuthenticationFailed):
            auth.log_in(name="bob", password="wrong-password", client=f"198.51.100.{i}")
    for i in range(auth.MAX_FAILED_LOGINS_PER_CLIENT):
        with pytest.raises(auth.AuthenticationFailed):
            auth.log_in(name=f"guess{i}", password="wrong-password", client="203.0.113.4")
    with pytest.raises(auth.LoginBlocked):
        auth.log_in(name="bob", password="bob-demo", client="192.0.2.1")

    app = open_page("admin_users", "admin")
    blocks = app.dataframe[1].value
    assert blocks[["blocked", "name or client", "failed logins"]].values.tolist() == [
        ["name", "bob", auth.MAX_FAILED_LOGINS], ["client", "203.0.113.4", auth.MAX_FAILED_LOGINS_PER_CLIENT]]
    assert app.selectbox(key="users:block").options == ["name: bob", "client: 203.0.113.4"]
    app = app.button(key="users:unblock").click().run()
    assert not app.exception
    assert shown(app.success) == ["The login block of the name 'bob' is cleared; its failed logins stay in the audit log."]
    assert app.dataframe[1].value["name or client"].tolist() == ["203.0.113.4"]  # the client stays blocked
    assert auth.log_in(name="bob", password="bob-demo", client="192.0.2.1")[0].name == "bob"
    admin_id = user("admin").id
    with Session(get_engine()) as session:
        (row,) = session.exec(select(AuditLog).where(AuditLog.action == "login.unblocked")).all()
        assert (row.actor_id, row.entity_id, row.old["unsuccessful"]) == (admin_id, "bob", auth.MAX_FAILED_LOGINS)
        assert len(session.exec(select(AuditLog).where(AuditLog.action == "login.failed",
                                                       AuditLog.entity_id == "bob")).all()) == auth.MAX_FAILED_LOGINS

    app = app.button(key="users:unblock").click().run()
    assert shown(app.success) == ["The login block of the client '203.0.113.4' is cleared; its failed logins stay "
                                  "in the audit log."]
    assert shown(app.info) == ["No name or client is blocked now."]
    assert auth.log_in(name="bob", password="bob-demo", client="203.0.113.4")[0].name == "bob"
