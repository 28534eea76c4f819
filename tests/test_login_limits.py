"""Login limits per user name and per client address, on SQLite and PostgreSQL: claims made in
parallel never pass a limit, a client failing across names is blocked for every name, an admin's
clearing is audited and keeps the history, and which address a login counts against."""

from __future__ import annotations

import threading

import pytest
from sqlmodel import Session, select

from curation_app.core import auth
from curation_app.core.errors import AuthenticationFailed, InvalidInput, NotFound, PermissionDenied
from curation_app.database import session_scope
from curation_app.models import AuditLog
from tests.factories import make_team

PEOPLE = (("ann1", "annotator"), ("boss", "lead"), ("root", "admin"))


def in_parallel(count: int, attempt) -> list[str]:  # noqa: ANN001 - attempt(i) -> outcome
    """Run attempt(0..count-1) in threads released together; their outcomes, in any order."""
    outcomes: list[str] = []
    start = threading.Barrier(count)

    def run(i: int) -> None:
        start.wait()
        outcomes.append(attempt(i))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def claim(engine, name: str, client: str) -> str:
    try:
        with session_scope(engine) as session:
            auth.claim_login_attempt(session, name=name, client=client)
    except auth.LoginBlocked as blocked:
        return f"blocked {blocked.block.kind}"
    return "claimed"


def guess(engine, name: str, password: str, client: str) -> str:
    try:
        auth.log_in(name=name, password=password, client=client, engine=engine)
    except auth.LoginBlocked as blocked:
        return str(blocked)
    except AuthenticationFailed as failed:
        return str(failed)
    return "in"


def rows(engine, action: str, entity_id: str | None = None) -> list[AuditLog]:
    with Session(engine) as session:
        query = select(AuditLog).where(AuditLog.action == action)
        if entity_id is not None:
            query = query.where(AuditLog.entity_id == entity_id)
        return list(session.exec(query.order_by(AuditLog.id)))


def test_parallel_claims_for_one_name_never_pass_its_limit(engine, admin, tmp_path):
    """30 claims at once from 30 addresses, none finished: exactly the limit is counted, each
    later one refused for the name."""
    make_team(engine, admin, tmp_path, queries=1, people=PEOPLE)
    outcomes = in_parallel(30, lambda i: claim(engine, "ann1", f"198.51.100.{i}"))
    assert sorted(outcomes) == ["blocked name"] * (30 - auth.MAX_FAILED_LOGINS) + ["claimed"] * auth.MAX_FAILED_LOGINS
    assert len(rows(engine, "login.attempt", "ann1")) == auth.MAX_FAILED_LOGINS


def test_parallel_claims_from_one_client_never_pass_its_limit_across_names(engine, admin, tmp_path):
    make_team(engine, admin, tmp_path, queries=1, people=PEOPLE)
    count = auth.MAX_FAILED_LOGINS_PER_CLIENT + 10
    outcomes = in_parallel(count, lambda i: claim(engine, f"name{i}", "203.0.113.5"))
    assert sorted(outcomes) == (["blocked client"] * 10 + ["claimed"] * auth.MAX_FAILED_LOGINS_PER_CLIENT)
    assert len(rows(engine, "login.attempt", "203.0.113.5")) == auth.MAX_FAILED_LOGINS_PER_CLIENT


def test_a_client_failing_across_names_is_blocked_for_every_name_and_successes_do_not_buy_guesses(
        engine, admin, tmp_path):
    """Each name is guessed once, so no name reaches its limit; the client does. Logging in to an
    account of its own between the guesses frees only that login's own attempt."""
    make_team(engine, admin, tmp_path, queries=1, people=PEOPLE)
    attacker = "203.0.113.7"
    for i in range(auth.MAX_FAILED_LOGINS_PER_CLIENT):
        assert guess(engine, "boss", "password1", attacker) == "in"
        assert guess(engine, f"victim{i}", "not-the-password", attacker) == "wrong user name or password"
    refused = guess(engine, "ann1", "password1", attacker)
    assert refused.startswith("too many failed logins from this address; try again in")
    assert guess(engine, "ann1", "password1", "192.0.2.1") == "in"  # another client, the same name
    assert len(rows(engine, "login.failed")) == auth.MAX_FAILED_LOGINS_PER_CLIENT
    with Session(engine) as session:
        blocks = auth.login_blocks(session, actor=admin)
    assert [(b.kind, b.key, b.unsuccessful) for b in blocks] == [
        ("client", attacker, auth.MAX_FAILED_LOGINS_PER_CLIENT)]


def test_clearing_a_name_block_is_audited_keeps_the_history_and_counting_starts_again(engine, admin, tmp_path):
    team = make_team(engine, admin, tmp_path, queries=1, people=PEOPLE)
    for i in range(auth.MAX_FAILED_LOGINS):
        guess(engine, "ann1", "wrong-password", f"198.51.100.{i}")
    assert guess(engine, "ann1", "password1", "192.0.2.1").startswith("too many failed logins for this name")
    with session_scope(engine) as session:
        with pytest.raises(PermissionDenied):
            auth.clear_login_block(session, actor=team["boss"], name="ann1")
        with pytest.raises(NotFound, match="the name 'boss' is not blocked from logging in"):
            auth.clear_login_block(session, actor=admin, name="boss")
        with pytest.raises(InvalidInput, match="either a name or a client"):
            auth.clear_login_block(session, actor=admin, name="ann1", client="192.0.2.1")
    with session_scope(engine) as session:
        cleared = auth.clear_login_block(session, actor=team["root"], name="ann1")
    assert (cleared.kind, cleared.key, cleared.unsuccessful) == ("name", "ann1", auth.MAX_FAILED_LOGINS)

    (unblocked,) = rows(engine, "login.unblocked")
    assert (unblocked.actor_id, unblocked.entity, unblocked.entity_id) == (team["root"].id, "user", "ann1")
    assert unblocked.old["unsuccessful"] == auth.MAX_FAILED_LOGINS
    assert len(rows(engine, "login.failed", "ann1")) == auth.MAX_FAILED_LOGINS  # nothing erased
    assert guess(engine, "ann1", "password1", "192.0.2.1") == "in"
    # Counting starts again from the clearing: a full limit of new failures, not one, blocks again.
    for i in range(auth.MAX_FAILED_LOGINS):
        assert guess(engine, "ann1", "wrong-password", "192.0.2.2") == "wrong user name or password"
    assert guess(engine, "ann1", "password1", "192.0.2.1").startswith("too many failed logins for this name")


def test_clearing_a_client_block_lets_it_log_in_to_any_name(engine, admin, tmp_path):
    make_team(engine, admin, tmp_path, queries=1, people=PEOPLE)
    for i in range(auth.MAX_FAILED_LOGINS_PER_CLIENT):
        guess(engine, f"victim{i}", "wrong-password", "203.0.113.8")
    assert guess(engine, "ann1", "password1", "203.0.113.8").startswith("too many failed logins from this address")
    with session_scope(engine) as session:
        auth.clear_login_block(session, actor=admin, client="203.0.113.8")
    assert guess(engine, "ann1", "password1", "203.0.113.8") == "in"
    (unblocked,) = rows(engine, "login.unblocked")
    assert (unblocked.entity, unblocked.entity_id, unblocked.actor_id) == ("login_client", "203.0.113.8", None)


def test_the_cli_lists_and_clears_login_blocks(db_url, engine, admin, tmp_path, cli):
    make_team(engine, admin, tmp_path, queries=1, people=PEOPLE)
    assert cli("users", "blocked").out == "no name or client is blocked from logging in\n"
    for i in range(auth.MAX_FAILED_LOGINS):
        guess(engine, "ann1", "wrong-password", f"198.51.100.{i}")
    ipv6_client = auth.client_address(peer="2001:db8:7:7::1", forwarded_for=[], proxies=0)
    for i in range(auth.MAX_FAILED_LOGINS_PER_CLIENT):
        guess(engine, f"victim{i}", "wrong-password", ipv6_client)
    listed = cli("users", "blocked", "--json")
    assert listed.code == 0
    assert [(b["kind"], b["key"], b["failed_logins"]) for b in listed.json()] == [
        ("name", "ann1", auth.MAX_FAILED_LOGINS), ("client", "2001:db8:7:7::/64", auth.MAX_FAILED_LOGINS_PER_CLIENT)]
    assert cli("users", "blocked").out.splitlines()[0].startswith(f"name    ann1{' ' * 37}  5 failed logins, blocked until")

    cleared = cli("users", "unblock", "ann1")
    assert cleared.code == 0 and cleared.out == "login block of the name 'ann1' cleared (5 failed logins stay in the audit log)\n"
    again = cli("users", "unblock", "ann1")
    assert again.code == 1 and again.err == "error: the name 'ann1' is not blocked from logging in\n"
    neither = cli("users", "unblock")
    assert neither.code == 1 and "either a name or a client" in neither.err
    assert cli("users", "unblock", "--client", "2001:db8:7:7::/64").code == 0
    assert cli("users", "blocked", "--json").json() == []
    assert [(r.entity, r.entity_id) for r in rows(engine, "login.unblocked")] == [
        ("user", "ann1"), ("login_client", "2001:db8:7:7::/64")]


@pytest.mark.parametrize("peer, forwarded_for, proxies, expected", [
    ("198.51.100.7", [], 0, "198.51.100.7"),
    (None, [], 0, auth.LOCAL_CLIENT),  # Streamlit names no address for a loopback connection
    # No proxy is trusted: Streamlit's server took the header's address for a loopback peer, so
    # the peer is the client's own word and counts as the machine it came from.
    ("203.0.113.9", ["198.51.100.1, 203.0.113.9"], 0, auth.LOCAL_CLIENT),
    ("198.51.100.7", ["203.0.113.9"], 0, "198.51.100.7"),  # a remote peer's header was not used
    # Behind one proxy: the address it added, not what the client wrote before it.
    (None, ["10.9.9.9, 203.0.113.9"], 1, "203.0.113.9"),
    (None, ["forged", "203.0.113.9, 10.0.0.2"], 2, "203.0.113.9"),  # the header given twice
    ("198.51.100.7", [], 1, "198.51.100.7"),  # a connection that did not come through the proxy
    (None, ["2001:db8:1:2:3:4:5:6"], 1, "2001:db8:1:2::/64"),
    (None, ["[2001:db8::1]:443"], 1, "2001:db8::/64"),
    (None, ["::ffff:192.0.2.5"], 1, "192.0.2.5"),
    (None, ["192.0.2.5:5678"], 1, "192.0.2.5"),
    (None, ["unknown"], 1, "unknown"),
])
def test_which_address_a_login_counts_against(peer, forwarded_for, proxies, expected):
    assert auth.client_address(peer=peer, forwarded_for=forwarded_for, proxies=proxies) == expected


def test_the_proxy_setting_comes_from_the_environment_and_is_checked(monkeypatch):
    monkeypatch.delenv(auth.TRUSTED_PROXIES_VARIABLE, raising=False)
    assert auth.client_address(peer="198.51.100.7", forwarded_for=["203.0.113.9"]) == "198.51.100.7"
    monkeypatch.setenv(auth.TRUSTED_PROXIES_VARIABLE, "1")
    assert auth.client_address(peer="198.51.100.7", forwarded_for=["203.0.113.9"]) == "203.0.113.9"
    monkeypatch.setenv(auth.TRUSTED_PROXIES_VARIABLE, "yes")
    with pytest.raises(InvalidInput, match="CURATION_TRUSTED_PROXIES is 'yes': set it to the number of reverse"):
        auth.client_address(peer=None, forwarded_for=[])


def test_the_login_page_counts_failures_against_the_browser_s_client(demo_db):
    """Through the real page: failures on many names from one browser block its client."""
    from sqlmodel import Session as PlainSession

    from curation_app.database import get_engine
    from tests.apptest import log_in, open_app, shown

    app = open_app()
    for i in range(auth.MAX_FAILED_LOGINS_PER_CLIENT):
        app = log_in(app, f"nobody{i}", "wrong-password")
        assert shown(app.error) == ["Wrong user name or password"]
    app = log_in(app, "bob", "bob-demo")
    assert shown(app.error)[0].startswith("Too many failed logins from this address; try again in")
    with PlainSession(get_engine()) as session:
        clients = session.exec(select(AuditLog.entity_id).where(
            AuditLog.entity == "login_client", AuditLog.action == "login.attempt")).all()
    assert clients == [auth.LOCAL_CLIENT] * auth.MAX_FAILED_LOGINS_PER_CLIENT  # AppTest is a local browser


def test_the_login_page_names_a_proxy_setting_it_cannot_read_and_checks_no_password(demo_db, monkeypatch):
    from tests.apptest import log_in, open_app, shown

    monkeypatch.setenv(auth.TRUSTED_PROXIES_VARIABLE, "yes")
    app = log_in(open_app(), "bob", "bob-demo")
    assert shown(app.error)[0].startswith("CURATION_TRUSTED_PROXIES is 'yes': set it to the number of reverse proxies")
    assert app.title[0].value == "Log in"
