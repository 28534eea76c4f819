"""Users, password hashes, login sessions and project settings, through core and the CLI."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from curation_app.core import auth, configure, settings
from curation_app.core.errors import AuthenticationFailed, InvalidInput, PermissionDenied
from curation_app.core.project import load_project
from curation_app.models import AuditLog, User


def test_cli_users_add_stores_only_an_argon2_hash(db_url, engine, cli):
    result = cli("users", "add", "dana", "--role", "annotator", stdin="correct horse\n")
    assert result.code == 0, result.err
    with Session(engine) as session:
        user = auth.get_user(session, "dana")
        assert user.role == "annotator"
        assert user.password_hash.startswith("$argon2id$") and "correct horse" not in user.password_hash
        assert auth.authenticate(session, name="dana", password="correct horse").id == user.id
        with pytest.raises(AuthenticationFailed, match="wrong user name or password"):
            auth.authenticate(session, name="dana", password="wrong horse")
        with pytest.raises(AuthenticationFailed, match="wrong user name or password"):
            auth.authenticate(session, name="nobody", password="correct horse")
        audit = session.exec(select(AuditLog).where(AuditLog.action == "user.create")).one()
        assert audit.entity_id == "dana" and audit.new == {"role": "annotator", "can_log_in": True}


@pytest.mark.parametrize("args, stdin, message", [
    (("users", "add", "x y", "--role", "lead"), "longenough\n", "user name 'x y' is not allowed"),
    (("users", "add", "eve", "--role", "lead"), "short\n", "at least 8 characters"),
    (("users", "add", "eve", "--role", "lead"), "", "no password on standard input"),
])
def test_cli_users_add_refusals(db_url, engine, cli, args, stdin, message):
    result = cli(*args, stdin=stdin)
    assert result.code == 1 and message in result.err
    with Session(engine) as session:
        assert auth.list_users(session) == []


def test_cli_users_duplicate_list_role_and_no_password_accounts(db_url, engine, cli):
    assert cli("users", "add", "lee", "--role", "lead", stdin="password1\n").code == 0
    again = cli("users", "add", "lee", "--role", "lead", stdin="password1\n")
    assert again.code == 1 and "already exists" in again.err
    assert cli("users", "add", "imported", "--role", "annotator", "--no-password").code == 0
    assert cli("users", "role", "lee", "admin").code == 0
    listed = {u["name"]: u for u in cli("users", "list", "--json").json()}
    assert listed["lee"]["role"] == "admin" and listed["imported"]["can_log_in"] is False
    with Session(engine) as session, pytest.raises(AuthenticationFailed):
        auth.authenticate(session, name="imported", password="")


def test_only_admins_create_users_and_login_sessions_expire(engine):
    annotator = User(id=99, name="ann", role="annotator")
    with Session(engine) as session:
        with pytest.raises(PermissionDenied, match="ann \\(annotator\\) may not do this"):
            auth.create_user(session, actor=annotator, name="x", role="admin", password="password1")
        user = auth.create_user(session, actor=auth.command_line_actor(), name="kim", role="lead",
                                password="password1")
        token = auth.start_login_session(session, user=user)
        session.commit()
        assert auth.user_for_token(session, token).name == "kim"
        assert auth.user_for_token(session, token + "x") is None
        auth.end_login_session(session, token=token)
        session.commit()
        assert auth.user_for_token(session, token) is None


def test_settings_defaults_set_show_and_rules(db_url, engine, cli):
    shown = cli("settings", "show", "--json").json()
    assert shown["overlap"] == 2 and shown["taxonomy"] is None
    assert cli("settings", "set", "min_annotations", "4").code == 0
    assert cli("settings", "set", "keep_quorum", "3").code == 0  # CodeArena: 3 of 4
    assert cli("settings", "show", "--json").json()["keep_quorum"] == 3
    too_big = cli("settings", "set", "keep_quorum", "5")
    assert too_big.code == 1 and "cannot exceed min_annotations (4)" in too_big.err
    assert "not a valid int" in cli("settings", "set", "overlap", "two").err
    assert "unknown setting 'colour'" in cli("settings", "set", "colour", "red").err
    assert "from 1 to 20" in cli("settings", "set", "overlap", "0").err
    with Session(engine) as session:
        assert settings.get_setting(session, "keep_quorum") == 3
        changes = session.exec(select(AuditLog).where(AuditLog.action == "setting.set").order_by(AuditLog.id)).all()
        assert [(c.entity_id, c.old, c.new) for c in changes] == [
            ("min_annotations", {"value": 2}, {"value": 4}), ("keep_quorum", {"value": 2}, {"value": 3})]
        with pytest.raises(PermissionDenied):
            configure.change_setting(session, actor=User(id=5, name="a", role="annotator"), key="overlap", value=3)


def test_quorum_fields_names_label_or_score_fields(db_url, engine, cli):
    assert cli("settings", "show", "--json").json()["quorum_fields"] == "all"
    assert cli("settings", "set", "quorum_fields", "decision, reject_reason").code == 0
    with Session(engine) as session:
        assert load_project(session).rule.quorum_fields == frozenset({"decision", "reject_reason"})
    refused = cli("settings", "set", "quorum_fields", "decision,quality")
    assert refused.code == 1 and "quorum_fields: unknown field(s) quality; known: decision" in refused.err
    assert "names a field twice" in cli("settings", "set", "quorum_fields", "decision,decision").err
    assert cli("settings", "set", "quorum_fields", "all").code == 0
    with Session(engine) as session:
        assert load_project(session).rule.quorum_fields is None


def test_language_additions_and_the_reference_answer_rule_are_settings(db_url, engine, cli):
    assert cli("settings", "set", "extra_languages", "zig, Nim").code == 0
    assert cli("settings", "show", "--json").json()["extra_languages"] == ["zig", "Nim"]
    with Session(engine) as session:
        languages = load_project(session).taxonomy.languages
    assert languages[-2:] == ("zig", "Nim") and "python" in languages
    assert "names a language twice" in cli("settings", "set", "extra_languages", "zig,ZIG").err
    assert cli("settings", "set", "require_reference_answer", "yes").code == 0
    assert cli("settings", "show", "--json").json()["require_reference_answer"] is True
    refused = cli("settings", "set", "require_reference_answer", "maybe")
    assert refused.code == 1 and "setting require_reference_answer: 'maybe' is not yes or no" in refused.err


def test_taxonomy_setting_checks_the_file(db_url, cli, tmp_path, engine):
    bad = tmp_path / "bad.json"
    bad.write_text('{"main_categories": [], "languages": ["python"], "difficulties": ["easy"]}')
    result = cli("settings", "set", "taxonomy", bad)
    assert result.code == 1 and "main_categories" in result.err
    good = tmp_path / "good.json"
    good.write_text('{"name": "mine", "main_categories": [{"name": "Web", "subcategories": ["CSS"]}], '
                    '"languages": ["css"], "difficulties": ["easy", "hard"]}')
    assert cli("settings", "set", "taxonomy", good).code == 0
    with Session(engine) as session:
        taxonomy = load_project(session).taxonomy
    assert taxonomy.categories == {"Web": ("CSS",)} and taxonomy.difficulties == ("easy", "hard")
    assert cli("settings", "set", "taxonomy", "default").code == 0


def test_default_taxonomy_is_codearena_shaped():
    from curation_app.core.taxonomy import default_taxonomy

    taxonomy = default_taxonomy()
    assert len(taxonomy.categories) == 7
    assert sum(len(s) for s in taxonomy.categories.values()) == 40
    assert len(taxonomy.languages) == 44 and "python" in taxonomy.languages
    assert taxonomy.difficulties == ("easy", "medium", "hard")
    assert "contains secrets or personal data" in taxonomy.reject_reasons


def test_invalid_input_has_one_line_messages():
    with pytest.raises(InvalidInput) as error:
        auth.validate_role("boss")
    assert "\n" not in str(error.value)


def test_the_acceptance_rule_is_set_as_a_pair(engine, admin):
    with Session(engine) as session:
        configure.change_settings(session, actor=admin, values={"min_annotations": 4, "keep_quorum": 3})
        configure.change_settings(session, actor=admin, values={"min_annotations": 2, "keep_quorum": 2})  # both lower
        assert (settings.get_setting(session, "min_annotations"), settings.get_setting(session, "keep_quorum")) == (2, 2)
        with pytest.raises(InvalidInput, match="keep_quorum \\(4\\) cannot exceed min_annotations \\(3\\)"):
            configure.change_settings(session, actor=admin, values={"min_annotations": 3, "keep_quorum": 4})
        session.rollback()


def test_output_piped_to_a_reader_that_stops_ends_quietly(migrated_sqlite_url):
    """`python -m curation_app ... | head -1`: no traceback when the reader goes away."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    process = subprocess.Popen([sys.executable, "-m", "curation_app", "settings", "show"], cwd=REPO_ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "CURATION_DATABASE_URL": migrated_sqlite_url})
    process.stdout.close()  # the reader is gone before anything is written
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr


@pytest.mark.parametrize("name", ["alice\n", "bob\r\n", " carol", "dora\t"])
def test_a_user_name_with_white_space_at_its_ends_is_refused(db_url, cli, name):
    refused = cli("users", "add", name, "--role", "admin", stdin="password1\n")
    assert refused.code == 1 and "is not allowed" in refused.err
