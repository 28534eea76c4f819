"""Deactivating and reactivating accounts, the first admin, settings that contradict each other and
a per-assignment overlap: core on SQLite and PostgreSQL, and the CLI commands over them."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from curation_app.core import accounts, annotate, auth, configure, queue, settings
from curation_app.core.errors import InvalidInput, PermissionDenied
from curation_app.core.project import load_project
from curation_app.database import session_scope
from curation_app.models import Annotation, AnnotationState, Assignment, AssignmentState, AuditLog, LoginSession, Query
from tests.factories import make_team

KEEP = {"decision": "keep", "category": "Development and Programming", "subcategory": "Code Debugging",
        "languages": ["python"], "difficulty": "easy", "reference_answer": "Use a set."}


def test_deactivation_refuses_login_ends_sessions_releases_slots_and_keeps_work(engine, admin, tmp_path):
    team = make_team(engine, admin, tmp_path, queries=3)
    with session_scope(engine) as session:
        queue.assign(session, actor=admin, annotators=["ann1", "ann2"], public_ids=["q0", "q1"])
    with session_scope(engine) as session:
        annotate.save(session, actor=team["ann1"], public_id="q0", fields=KEEP, submit=True)
        token = auth.start_login_session(session, user=team["ann1"])
        second = auth.start_login_session(session, user=team["ann1"])
    with Session(engine) as session:
        assert auth.user_for_token(session, token).name == "ann1"
        claims_before = dict(session.execute(select(Query.public_id, Query.n_claims)).all())

    with session_scope(engine) as session:
        done = accounts.set_active(session, actor=admin, name="ann1", active=False)
    assert done == {"name": "ann1", "active": False, "login_sessions_ended": 2, "items_released": 1}
    with Session(engine) as session:
        assert auth.user_for_token(session, token) is None and auth.user_for_token(session, second) is None
        assert session.execute(select(func.count()).select_from(LoginSession)).scalar_one() == 0
        with pytest.raises(Exception, match="wrong user name or password"):
            auth.authenticate(session, name="ann1", password="password1")
        # Their submitted work stays; the item they only held (q1) has its slot back.
        work = session.execute(select(Annotation).where(Annotation.annotator_id == team["ann1"].id)).scalars().all()
        assert [(a.state, a.query_id) for a in work] == [(AnnotationState.SUBMITTED, work[0].query_id)]
        claims = dict(session.execute(select(Query.public_id, Query.n_claims)).all())
        assert claims == {**claims_before, "q1": claims_before["q1"] - 1}
        states = session.execute(select(Assignment.state).where(Assignment.annotator_id == team["ann1"].id)
                                 .order_by(Assignment.query_id)).scalars().all()
        assert states == [AssignmentState.SUBMITTED, AssignmentState.EXPIRED]
        audit = session.execute(select(AuditLog).where(AuditLog.action == "user.deactivate")).scalar_one()
        assert audit.entity_id == "ann1" and audit.old == {"active": True}
        # A deactivated annotator is no longer anyone's to assign to.
        with pytest.raises(Exception, match="no active annotator named ann1"):
            queue.assign(session, actor=admin, annotators=["ann1"], public_ids=["q2"], overlap=1)
        session.rollback()

    with session_scope(engine) as session:
        accounts.set_active(session, actor=admin, name="ann1", active=True)
    with session_scope(engine) as session:
        assert auth.authenticate(session, name="ann1", password="password1").name == "ann1"
        assert queue.next_item(session, actor=auth.get_user(session, "ann1")).public_id == "q1"  # picked up again


def test_deactivation_refusals(engine, admin, tmp_path):
    make_team(engine, admin, tmp_path, queries=1, people=(("root", "admin"), ("ann1", "annotator"), ("boss", "lead")))
    with session_scope(engine) as session:
        root = auth.get_user(session, "root")
        with pytest.raises(InvalidInput, match="cannot deactivate yourself"):
            accounts.set_active(session, actor=root, name="root", active=False)
        with pytest.raises(InvalidInput, match="root is the last active admin"):
            accounts.set_active(session, actor=admin, name="root", active=False)
        with pytest.raises(InvalidInput, match="root is the last active admin"):
            auth.set_role(session, actor=admin, name="root", role="lead")
        with pytest.raises(InvalidInput, match="ann1 is already active"):
            accounts.set_active(session, actor=admin, name="ann1", active=True)
        for name in ("boss", "ann1"):
            with pytest.raises(PermissionDenied):
                accounts.set_active(session, actor=auth.get_user(session, name), name="ann1", active=False)


def test_the_first_admin_only_on_a_database_without_users(engine):
    with session_scope(engine) as session:
        assert not accounts.has_users(session)
        with pytest.raises(InvalidInput, match="at least 8 characters"):
            accounts.create_first_admin(session, name="root", password="short")
    with session_scope(engine) as session:
        accounts.create_first_admin(session, name="root", password="root-password")
    with session_scope(engine) as session:
        assert auth.authenticate(session, name="root", password="root-password").role == "admin"
        with pytest.raises(PermissionDenied, match="already has users"):
            accounts.create_first_admin(session, name="other", password="other-password")


def test_settings_warnings_name_each_contradiction():
    values = {**{key: spec.default for key, spec in settings.SETTINGS.items()}}
    assert settings.settings_warnings(values) == []
    warnings = settings.settings_warnings({**values, "overlap": 2, "min_annotations": 3, "keep_quorum": 3,
                                           "review_votes": 2, "review_quorum": 3}, n_annotators=1, n_reviewers=1)
    assert [w.split(":")[0] for w in warnings] == [
        "overlap (2) is below min_annotations (3)", "keep_quorum (3) is above overlap (2)",
        "review_quorum (3) is above review_votes (2)", "overlap (2) is above the number of active annotators (1)",
        "review_votes (2) is above the number of active reviewers (1)"]
    assert settings.settings_warnings({**values, "review_votes": 0, "review_quorum": 3}) == []  # no review stage


def test_warnings_count_active_users_and_the_cli_prints_them(db_url, engine, admin, tmp_path, cli):
    make_team(engine, admin, tmp_path, queries=2)
    with Session(engine) as session:
        assert configure.warnings_for(session) == []
        assert configure.warnings_for(session, {"overlap": 4})[0].startswith(
            "overlap (4) is above the number of active annotators (3)")
    assert cli("settings", "set", "min_annotations", "3").code == 0
    result = cli("settings", "set", "keep_quorum", "3")
    assert result.code == 0 and result.out == "keep_quorum = 3\n"
    assert result.err.splitlines() == [f"warning: {w}" for w in configure.warnings_for(Session(engine))]
    assert result.err.startswith("warning: overlap (2) is below min_annotations (3)")
    assert "warning: keep_quorum (3) is above overlap (2)" in result.err
    fixed = cli("settings", "set", "overlap", "3")
    assert fixed.code == 0 and fixed.err == ""


def test_assign_names_one_annotator_for_chosen_items_without_changing_the_overlap(db_url, engine, admin,
                                                                                  tmp_path, cli):
    make_team(engine, admin, tmp_path, queries=4)
    result = cli("assign", "--ids", "q0", "q1", "--annotators", "ann2", "--annotators-per-query", "1", "--json")
    assert result.code == 0, result.err
    assigned = result.json()
    assert (assigned["assigned"], assigned["overlap"], assigned["project_overlap"]) == (2, 1, 2)
    assert assigned["per_annotator"] == {"ann2": 2}
    with Session(engine) as session:
        assert load_project(session).overlap == 2  # the project's setting is untouched
        rows = session.execute(select(Query.public_id, Query.n_claims, Query.in_pool, Query.pool_open)
                               .order_by(Query.public_id)).all()
        # The other slot up to the project's k is open to everyone; unchosen queries stay unreleased.
        assert rows == [("q0", 1, True, True), ("q1", 1, True, True), ("q2", 0, False, False),
                        ("q3", 0, False, False)]
    too_few = cli("assign", "--ids", "q2", "--annotators", "ann1", "--annotators-per-query", "2")
    assert too_few.code == 1 and "overlap is 2 but only 1 annotator(s) were named" in too_few.err
    assert "for this assignment" in too_few.err
    pool = cli("assign", "--ids", "q2", "--annotators-per-query", "2")
    assert pool.code == 1 and "needs named annotators" in pool.err


def test_cli_deactivates_and_reactivates(db_url, engine, admin, tmp_path, cli):
    make_team(engine, admin, tmp_path, queries=1)
    result = cli("users", "deactivate", "ann3")
    assert result.code == 0 and result.out.startswith("ann3 is deactivated: 0 login session(s) ended")
    assert "ann3                     annotator   (deactivated)" in cli("users", "list").out
    assert cli("users", "activate", "ann3").out == "ann3 can log in again\n"
    again = cli("users", "activate", "ann3")
    assert again.code == 1 and "ann3 is already active" in again.err


@pytest.mark.parametrize("change", ["password", "role"])
def test_a_new_password_or_role_ends_every_login_session(engine, admin, tmp_path, change):
    make_team(engine, admin, tmp_path, queries=1)
    with session_scope(engine) as session:
        user = auth.get_user(session, "ann1")
        tokens = [auth.start_login_session(session, user=user) for _ in range(2)]
    with session_scope(engine) as session:
        if change == "password":
            auth.set_password(session, actor=admin, name="ann1", password="a-new-password")
        else:
            auth.set_role(session, actor=admin, name="ann1", role="lead")
    with Session(engine) as session:
        assert [auth.user_for_token(session, token) for token in tokens] == [None, None]


@pytest.mark.parametrize("command", [("users", "passwd", "nobody"), ("users", "role", "nobody", "lead")])
def test_changing_a_user_who_does_not_exist_says_so_in_one_line(db_url, cli, command):
    result = cli(*command, stdin="password1\n")
    assert result.code == 1 and "no user named 'nobody'" in result.err and "Traceback" not in result.err


def test_guesses_sent_in_parallel_are_counted_before_any_is_checked(engine, admin, tmp_path):
    """24 logins at once, 23 wrong and the right one last: at most five passwords are checked, and
    the right one, arriving after them, is refused too."""
    import threading

    from curation_app.core.errors import AuthenticationFailed

    make_team(engine, admin, tmp_path, queries=1)
    outcomes: list[str] = []
    start = threading.Barrier(23)

    def guess() -> None:
        start.wait()
        try:
            auth.log_in(name="ann1", password="not-the-password", client="192.0.2.1", engine=engine)
            outcomes.append("in")
        except auth.LoginBlocked:
            outcomes.append("blocked")
        except AuthenticationFailed:
            outcomes.append("wrong")

    threads = [threading.Thread(target=guess) for _ in range(23)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("wrong") == auth.MAX_FAILED_LOGINS and outcomes.count("blocked") == 23 - auth.MAX_FAILED_LOGINS
    with pytest.raises(auth.LoginBlocked):
        auth.log_in(name="ann1", password="password1", client="192.0.2.1", engine=engine)


def test_a_successful_login_does_not_count_against_the_name(engine, admin, tmp_path):
    make_team(engine, admin, tmp_path, queries=1)
    for _ in range(auth.MAX_FAILED_LOGINS * 2):
        user, token = auth.log_in(name="ann1", password="password1", client="192.0.2.1", engine=engine)
        assert user.name == "ann1" and token
