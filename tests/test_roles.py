"""The role matrix: every core function that changes data or reads other people's labels, called
as each role. Allowed roles get past the role check; the others get PermissionDenied."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlmodel import Session, func, select

from curation_app.core import accounts, adjudicate, annotate, annotation_io, auth, configure, queue, release, suggest
from curation_app.core.agreement import database as agreement_db
from curation_app.core.demo import load_demo
from curation_app.core.errors import CurationError, PermissionDenied
from curation_app.core.importer import import_answers, import_file
from curation_app.core.triage import database as triage_db
from curation_app.database import read_scope
from curation_app.models import AuditLog, Role, User
from tests.factories import write_jsonl

ANNOTATOR, LEAD, ADMIN = Role.ANNOTATOR, Role.LEAD, Role.ADMIN
STAFF = {LEAD, ADMIN}


def actions(tmp_path):
    queries = write_jsonl(tmp_path / "roles.jsonl", [{"prompt": "role matrix question"}])
    labels = tmp_path / "labels.csv"
    labels.write_text("query_id,annotator,decision,reject_reason\ndemo-030,zed,reject,too trivial\n")
    keep = {"decision": "keep", "category": "Development and Programming", "subcategory": "Code Debugging",
            "languages": ["python"], "difficulty": "easy"}
    return {
        "users.create": ({ADMIN}, lambda s, u: auth.create_user(s, actor=u, name="newcomer", role="annotator",
                                                               password="password1")),
        "users.set_role": ({ADMIN}, lambda s, u: auth.set_role(s, actor=u, name="carol", role="lead")),
        "users.set_password (someone else)": ({ADMIN}, lambda s, u: auth.set_password(
            s, actor=u, name="carol" if u.name != "carol" else "bob", password="password2")),
        "users.deactivate": ({ADMIN}, lambda s, u: accounts.set_active(s, actor=u, name="carol", active=False)),
        "settings.overlap": (STAFF, lambda s, u: configure.change_setting(s, actor=u, key="overlap", value=3)),
        "settings.taxonomy": ({ADMIN}, lambda s, u: configure.change_setting(s, actor=u, key="taxonomy", value=None)),
        "settings.score_fields": ({ADMIN}, lambda s, u: configure.change_setting(s, actor=u, key="score_fields", value=[])),
        "import queries": ({ADMIN}, lambda s, u: import_file(queries, actor=u, engine=s.get_bind())),
        "import answers": ({ADMIN}, lambda s, u: import_answers(queries, actor=u, engine=s.get_bind())),
        "import annotations": (STAFF, lambda s, u: annotation_io.import_annotations(labels, actor=u,
                                                                                  engine=s.get_bind())),
        "export annotations": (STAFF, lambda s, u: list(annotation_io.export_rows(s, actor=u))),
        "assign": (STAFF, lambda s, u: queue.assign(s, actor=u, public_ids=["demo-040"])),
        "next item": ({ANNOTATOR}, lambda s, u: queue.next_item(s, actor=u)),
        "skip": ({ANNOTATOR}, lambda s, u: queue.skip(s, actor=u, query_id=1)),
        "annotate.save": ({ANNOTATOR}, lambda s, u: annotate.save(s, actor=u, public_id="demo-040", fields=keep,
                                                                submit=True)),
        "annotate.open_item": ({ANNOTATOR}, lambda s, u: annotate.open_item(s, actor=u, public_id="demo-040")),
        "agreement on labels": (STAFF, lambda s, u: agreement_db.annotation_table(s, actor=u)),
        "apply rule": (STAFF, lambda s, u: adjudicate.apply_rule(s, actor=u)),
        "conflict queue": (STAFF, lambda s, u: adjudicate.conflict_queue(s, actor=u)),
        "adjudication view": (STAFF, lambda s, u: adjudicate.adjudication_view(s, actor=u, public_id="demo-003")),
        "resolve": (STAFF, lambda s, u: adjudicate.resolve(s, actor=u, public_id="demo-003", fields=keep,
                                                          rationale="x", expected_revision=0)),
        "reopen": (STAFF, lambda s, u: adjudicate.reopen(s, actor=u, public_id="demo-003", reason="x")),
        "send back": (STAFF, lambda s, u: adjudicate.send_back(s, actor=u, public_id="demo-003", annotators=None,
                                                              reason="x")),
        "guideline feedback": (STAFF, lambda s, u: adjudicate.guideline_feedback(s, actor=u)),
        "release create": (STAFF, lambda s, u: release.create_release(
            s, actor=u, name="roles", version="1", spec=release.ReleaseSpec(), root=tmp_path / "exports")),
        "release preview": (STAFF, lambda s, u: release.preview(s, actor=u, spec=release.ReleaseSpec())),
        "train model": (STAFF, lambda s, u: suggest.train(s, actor=u)),
        "order queue": (STAFF, lambda s, u: suggest.reset_queue_order(s, actor=u)),
        "order queue by uncertainty": (STAFF, lambda s, u: suggest.order_queue_by_uncertainty(
            s, actor=u, model=SimpleNamespace(models={}))),
        "settings.rule (pair)": (STAFF, lambda s, u: configure.change_settings(
            s, actor=u, values={"min_annotations": 3, "keep_quorum": 2})),
        "users.create_imported_annotator": (STAFF, lambda s, u: auth.create_imported_annotator(s, actor=u,
                                                                                              name="outsider")),
        "export annotations file": (STAFF, lambda s, u: annotation_io.export_annotations(
            tmp_path / "export.csv", actor=u, engine=s.get_bind())),
        "agreement report": (STAFF, lambda s, u: agreement_db.database_agreement(s, actor=u, n_bootstrap=0)),
        "triage run": (STAFF, lambda s, u: triage_db.run_triage(s, actor=u)),
        "triage mark duplicates": (STAFF, lambda s, u: triage_db.mark_duplicates(
            s, actor=u, canonical="demo-041", duplicates=["demo-042"])),
        "triage clear": (STAFF, lambda s, u: triage_db.clear_flags(s, actor=u, public_id="demo-041", reason="x")),
        "triage redact": (STAFF, lambda s, u: triage_db.redact_secrets(s, actor=u, public_id="demo-041")),
        "triage list": (STAFF, lambda s, u: triage_db.flagged(s, actor=u)),
        "triage texts": (STAFF, lambda s, u: triage_db.query_texts(s, actor=u, public_ids=["demo-041"])),
        "my submitted items": ({ANNOTATOR}, lambda s, u: annotate.submitted_items(s, actor=u)),
    }


# Actions that change data and must leave an audit record when they go through.
AUDITED = {"users.create", "users.deactivate", "users.set_role", "users.set_password (someone else)", "settings.overlap",
           "settings.taxonomy", "settings.score_fields", "assign", "skip", "annotate.save", "apply rule", "resolve", "reopen", "send back",
           "release create", "order queue", "settings.rule (pair)", "users.create_imported_annotator",
           "triage run", "triage mark duplicates", "triage clear"}


def audit_count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(AuditLog)).one()


@pytest.fixture(scope="module")
def matrix_db(tmp_path_factory):
    from curation_app import database

    url = f"sqlite:///{tmp_path_factory.mktemp('roles') / 'roles.sqlite'}"
    database.upgrade(url)
    engine = database.get_engine(url)
    load_demo(engine=engine)
    with database.session_scope(engine) as session:  # so alice's actions reach past "not assigned to you"
        queue.assign(session, actor=auth.command_line_actor(), annotators=["alice", "bob", "carol"],
                     public_ids=["demo-040"])
    return engine


@pytest.mark.parametrize("role", [ANNOTATOR, LEAD, ADMIN])
def test_role_matrix(matrix_db, tmp_path, role):
    name = {ANNOTATOR: "alice", LEAD: "lead", ADMIN: "admin"}[role]
    with Session(matrix_db, expire_on_commit=False) as session:
        user = session.exec(select(User).where(User.name == name)).one()
        session.expunge(user)  # no transaction stays open: some actions open their own
    refused, allowed = [], []
    for action, (roles, call) in actions(tmp_path).items():
        with read_scope(matrix_db) as reader:  # not in the action's session: that would take the write lock first
            audited_before = audit_count(reader)
        with Session(matrix_db) as session:
            try:
                call(session, user)
                outcome = "allowed"
                assert action not in AUDITED or audit_count(session) > audited_before, f"{action} left no audit record"
            except PermissionDenied:
                outcome = "refused"
            except CurationError:
                outcome = "allowed"  # past the role check, stopped by the data (fine here)
            finally:
                session.rollback()  # nothing from the matrix is kept
        (allowed if outcome == "allowed" else refused).append(action)
        assert (outcome == "allowed") == (role in roles), f"{role} {outcome} to {action}"
    expected = {action for action, (roles, _) in actions(tmp_path).items() if role in roles}
    assert set(allowed) == expected and set(refused) == set(actions(tmp_path)) - expected
    assert allowed and (refused or role == ADMIN)  # every role can do something; only admins nearly all


def test_an_inactive_user_is_refused_everything(matrix_db, tmp_path):
    with Session(matrix_db) as session:
        lead = session.exec(select(User).where(User.name == "lead")).one()
        lead.active = False
        for action, (_, call) in actions(tmp_path).items():
            if action in ("import queries", "import answers", "import annotations"):
                continue  # these open their own transaction, where the user is still active
            with pytest.raises(PermissionDenied):
                call(session, lead)
        session.rollback()
