"""Users, roles, password hashing (Argon2) and login sessions that survive a page reload."""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import and_, or_, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, delete, func, select

from curation_app.core import audit
from curation_app.core.errors import AuthenticationFailed, InvalidInput, NotFound, PermissionDenied
from curation_app.database import session_scope
from curation_app.models import ROLES, AuditLog, LoginSession, Role, User, utcnow

MIN_PASSWORD_LENGTH = 8
LOGIN_SESSION_LIFETIME = timedelta(hours=12)
MAX_FAILED_LOGINS = 5  # per user name
# Per client address, across every name: enough for a team behind one office address, few
# enough that one machine cannot block more than a handful of names per window.
MAX_FAILED_LOGINS_PER_CLIENT = 20
FAILED_LOGIN_WINDOW = timedelta(minutes=15)
TRUSTED_PROXIES_VARIABLE = "CURATION_TRUSTED_PROXIES"
LOCAL_CLIENT = "localhost"  # a connection from the app's own machine (Streamlit names no address for it)
# Where login attempts are counted in the audit log: entity and entity_id (name or address).
_LOGIN_ENTITIES = {"name": "user", "client": "login_client"}
_COUNTED_ACTIONS = ("login.attempt", "login.succeeded", "login.unblocked")
_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}\Z")  # \Z: "alice\n" is not "alice"
_hasher = PasswordHasher()
# Verifying against this when the user does not exist costs the same time as a real check,
# so response time does not reveal which names exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def command_line_actor() -> User:
    """The operator at the command line: whoever can run the CLI can already open the database."""
    return User(id=None, name="(command line)", role=Role.ADMIN)


def require_role(actor: User | None, *roles: str) -> User:
    if actor is None or not actor.active or actor.role not in roles:
        who = "nobody logged in" if actor is None else f"{actor.name} ({actor.role})"
        raise PermissionDenied(f"{who} may not do this: it needs the role {' or '.join(roles)}")
    return actor


def validate_name(name: str) -> str:
    if not _NAME_PATTERN.match(name or ""):
        raise InvalidInput(
            f"user name {name!r} is not allowed: use 1-100 letters, digits, '_', '.', '@' or '-', "
            "starting with a letter or digit"
        )
    return name


def validate_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(f"role {role!r} is not one of {', '.join(ROLES)}")
    return role


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def get_user(session: Session, name: str) -> User | None:
    return session.exec(select(User).where(User.name == name)).first()


def create_user(
    session: Session, *, actor: User, name: str, role: str, password: str | None
) -> User:
    """A new user; password None makes an account that cannot log in (labels imported from elsewhere)."""
    require_role(actor, Role.ADMIN)
    validate_name(name)
    validate_role(role)
    if get_user(session, name) is not None:
        raise InvalidInput(f"a user named {name!r} already exists")
    user = User(name=name, role=role, password_hash=hash_password(password) if password else None)
    session.add(user)
    session.flush()
    audit.record(session, actor=actor, action="user.create", entity="user", entity_id=name,
                 new={"role": role, "can_log_in": password is not None})
    return user


def create_imported_annotator(session: Session, *, actor: User, name: str, role: str = Role.ANNOTATOR) -> User:
    """An annotator (or reviewer) named in imported labels (or votes): an account without a
    password, made by a lead."""
    require_role(actor, Role.LEAD, Role.ADMIN)
    validate_name(name)
    user = User(name=name, role=role, password_hash=None)
    session.add(user)
    session.flush()
    audit.record(session, actor=actor, action="user.create", entity="user", entity_id=name,
                 new={"role": role, "can_log_in": False, "reason": f"named in imported {'votes' if role == Role.REVIEWER else 'annotations'}"})
    return user


def set_password(session: Session, *, actor: User, name: str, password: str) -> None:
    user = get_user(session, name)
    if user is None:
        raise NotFound(f"no user named {name!r}")
    if actor.id != user.id:
        require_role(actor, Role.ADMIN)
    user.password_hash = hash_password(password)
    session.add(user)
    ended = end_sessions(session, user=user)
    audit.record(session, actor=actor, action="user.set_password", entity="user", entity_id=name,
                 new={"sessions_ended": ended})


def set_role(session: Session, *, actor: User, name: str, role: str) -> None:
    require_role(actor, Role.ADMIN)
    validate_role(role)
    user = get_user(session, name)
    if user is None:
        raise NotFound(f"no user named {name!r}")
    old = user.role
    if old == Role.ADMIN and role != Role.ADMIN and user.active and session.exec(
            select(func.count()).select_from(User).where(User.role == Role.ADMIN, User.active)).one() <= 1:
        raise InvalidInput(f"{name} is the last active admin; make another admin first")
    user.role = role
    session.add(user)
    ended = end_sessions(session, user=user) if role != old else 0
    audit.record(session, actor=actor, action="user.set_role", entity="user", entity_id=name,
                 old={"role": old}, new={"role": role, "sessions_ended": ended})


def end_sessions(session: Session, *, user: User) -> int:
    """Log the user out everywhere: after a new password, a new role or deactivation, a token
    given out before may not go on working."""
    return session.execute(delete(LoginSession).where(LoginSession.user_id == user.id)).rowcount


def authenticate(session: Session, *, name: str, password: str) -> User:
    """The user if name and password match an active account; one message for every failure."""
    user = get_user(session, name)
    stored = user.password_hash if user is not None and user.active else None
    try:
        _hasher.verify(stored or _DUMMY_HASH, password)
        if stored is None:
            raise VerificationError()
    except (VerificationError, InvalidHashError):
        raise AuthenticationFailed("wrong user name or password") from None
    if _hasher.check_needs_rehash(stored):
        user.password_hash = _hasher.hash(password)
        session.add(user)
    return user


@dataclass(frozen=True)
class LoginBlock:
    """A name or a client refused every login until `until` (or until an admin clears it)."""

    kind: str  # "name" or "client"
    key: str
    unsuccessful: int  # unsuccessful attempts in the window since the last clearing
    until: datetime

    def describe(self) -> str:
        return _describe(self.kind, self.key)


def _describe(kind: str, key: str) -> str:
    return f"{'the name' if kind == 'name' else 'the client'} {key!r}"


@dataclass(frozen=True)
class LoginClaim:
    """An attempt counted for a name and a client: the audit rows its outcome refers to."""

    name: str
    client: str
    attempt_ids: dict[str, int]  # kind -> the id of its "login.attempt" row


class LoginBlocked(AuthenticationFailed):
    """Too many unsuccessful logins for a name, or from a client, in the window."""

    def __init__(self, block: LoginBlock):
        wait = max(1, round((block.until - utcnow()).total_seconds() / 60))
        super().__init__(f"too many failed logins {'for this name' if block.kind == 'name' else 'from this address'}; "
                         f"try again in {wait} minute(s)")
        self.block = block


def _limit(kind: str) -> int:
    return MAX_FAILED_LOGINS if kind == "name" else MAX_FAILED_LOGINS_PER_CLIENT


def _login_key(key: str) -> str:
    return key.strip()[:300]  # what the audit log's entity_id holds


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)  # SQLite gives back naive UTC


def _lock_login_keys(session: Session, keys: list[tuple[str, str]]) -> None:
    """Serialise claims and clearings per name and per client. SQLite's BEGIN IMMEDIATE already
    serialises every writer; PostgreSQL takes one advisory lock per key, in one order for every
    transaction, so two logins sharing a name or a client never wait on each other in a circle."""
    if session.get_bind().dialect.name != "postgresql":
        return
    lock_ids = {int.from_bytes(hashlib.sha256(f"login:{kind}:{key}".encode()).digest()[:8], "big", signed=True)
                for kind, key in keys}
    for lock_id in sorted(lock_ids):
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})


def _login_rows(session: Session, now: datetime, keys: list[tuple[str, str]] | None = None) -> dict:
    """The window's attempts, successes and clearings, by (kind, key): for these keys, or all."""
    query = select(AuditLog.id, AuditLog.action, AuditLog.at, AuditLog.new, AuditLog.entity, AuditLog.entity_id).where(
        AuditLog.at >= now - FAILED_LOGIN_WINDOW, AuditLog.action.in_(_COUNTED_ACTIONS))
    if keys is None:
        query = query.where(AuditLog.entity.in_(_LOGIN_ENTITIES.values()))
    else:
        query = query.where(or_(*(and_(AuditLog.entity == _LOGIN_ENTITIES[kind], AuditLog.entity_id == key)
                                  for kind, key in keys)))
    kinds = {entity: kind for kind, entity in _LOGIN_ENTITIES.items()}
    grouped: dict[tuple[str, str], list] = {key: [] for key in keys or ()}
    for row_id, action, at, new, entity, entity_id in session.execute(query):
        grouped.setdefault((kinds[entity], entity_id), []).append((row_id, action, _aware(at), new or {}))
    return grouped


def _block(kind: str, key: str, rows: list, now: datetime) -> LoginBlock | None:
    """Attempts count from the last clearing on (audit ids follow the order the key's lock
    imposes) until a success frees its own attempt; a failed or unfinished one keeps counting."""
    cleared = max((row_id for row_id, action, _, _ in rows if action == "login.unblocked"), default=0)
    freed = {new.get("attempt") for _, action, _, new in rows if action == "login.succeeded"}
    unsuccessful = sorted(at for row_id, action, at, _ in rows
                          if action == "login.attempt" and row_id > cleared and row_id not in freed)
    limit = _limit(kind)
    if len(unsuccessful) < limit:
        return None
    # Free again once enough of them have left the window to bring the count under the limit.
    until = max(unsuccessful[len(unsuccessful) - limit] + FAILED_LOGIN_WINDOW, now + timedelta(seconds=1))
    return LoginBlock(kind=kind, key=key, unsuccessful=len(unsuccessful), until=until)


def claim_login_attempt(session: Session, *, name: str, client: str) -> LoginClaim:
    """Count an attempt for this name and this client before the password is checked, in a
    transaction of its own; LoginBlocked (nothing claimed) when either already has its limit of
    unsuccessful attempts in the window. Claimed first and checked after, so guesses sent in
    parallel cannot all pass a count taken before any of them failed."""
    keys = [("name", _login_key(name)), ("client", _login_key(client))]
    _lock_login_keys(session, keys)
    now = utcnow()
    rows = _login_rows(session, now, keys)
    for kind, key in keys:
        block = _block(kind, key, rows[(kind, key)], now)
        if block is not None:
            raise LoginBlocked(block)
    (_, name), (_, client) = keys
    attempts = {"name": AuditLog(action="login.attempt", entity=_LOGIN_ENTITIES["name"], entity_id=name,
                                 new={"client": client}),
                "client": AuditLog(action="login.attempt", entity=_LOGIN_ENTITIES["client"], entity_id=client,
                                   new={"name": name})}
    session.add_all(attempts.values())
    session.flush()
    return LoginClaim(name=name, client=client, attempt_ids={kind: row.id for kind, row in attempts.items()})


def record_login(session: Session, *, claim: LoginClaim, succeeded: bool) -> None:
    """The outcome of a claimed attempt, in the audit log. A success frees its claim on the name
    and on the client; a failure changes no count (a claimed attempt counts until freed), so it
    is written once, under the name."""
    if succeeded:
        for kind, key in (("name", claim.name), ("client", claim.client)):
            audit.record(session, actor=None, action="login.succeeded", entity=_LOGIN_ENTITIES[kind], entity_id=key,
                         new={"attempt": claim.attempt_ids[kind]})
    else:
        audit.record(session, actor=None, action="login.failed", entity=_LOGIN_ENTITIES["name"], entity_id=claim.name,
                     new={"attempt": claim.attempt_ids["name"], "client": claim.client})


def log_in(*, name: str, password: str, client: str, engine: Engine | None = None) -> tuple[User, str]:
    """A login as the page does it, from `client` (see client_address): the attempt claimed, the
    password checked, a session token made; AuthenticationFailed (one message for every failure)
    or LoginBlocked."""
    name = name.strip()
    with session_scope(engine) as session:
        claim = claim_login_attempt(session, name=name, client=client)
    try:
        with session_scope(engine) as session:
            user = authenticate(session, name=name, password=password)
            token = start_login_session(session, user=user)
            record_login(session, claim=claim, succeeded=True)
            session.expunge(user)
    except AuthenticationFailed:
        with session_scope(engine) as session:
            record_login(session, claim=claim, succeeded=False)
        raise
    return user, token


def login_blocks(session: Session, *, actor: User) -> list[LoginBlock]:
    """Every name and client blocked now, names first."""
    require_role(actor, Role.ADMIN)
    now = utcnow()
    blocks = [_block(kind, key, rows, now) for (kind, key), rows in _login_rows(session, now).items()]
    return sorted((b for b in blocks if b is not None), key=lambda b: (b.kind != "name", b.key))


def clear_login_block(session: Session, *, actor: User, name: str | None = None,
                      client: str | None = None) -> LoginBlock:
    """Let a blocked name (or client) try again at once. The attempts stay in the audit log; a
    "login.unblocked" row marks where counting starts again."""
    require_role(actor, Role.ADMIN)
    if (name is None) == (client is None):
        raise InvalidInput("clear the login block of either a name or a client, not both or neither")
    kind, key = ("name", _login_key(name)) if name is not None else ("client", _login_key(client))
    _lock_login_keys(session, [(kind, key)])
    now = utcnow()
    block = _block(kind, key, _login_rows(session, now, [(kind, key)])[(kind, key)], now)
    if block is None:
        raise NotFound(f"{_describe(kind, key)} is not blocked from logging in")
    audit.record(session, actor=actor, action="login.unblocked", entity=_LOGIN_ENTITIES[kind], entity_id=key,
                 old={"unsuccessful": block.unsuccessful, "blocked_until": block.until.isoformat(timespec="seconds")})
    return block


def trusted_proxies() -> int:
    """How many reverse proxies stand in front of the app (CURATION_TRUSTED_PROXIES, default 0)."""
    value = os.environ.get(TRUSTED_PROXIES_VARIABLE, "").strip() or "0"
    if not value.isdigit():
        raise InvalidInput(f"{TRUSTED_PROXIES_VARIABLE} is {value!r}: set it to the number of reverse proxies in "
                           "front of the app that add to X-Forwarded-For (0 or unset when there is none)")
    return int(value)


def client_address(*, peer: str | None, forwarded_for: Sequence[str], proxies: int | None = None) -> str:
    """The client a login is counted against. Behind `proxies` reverse proxies (default:
    trusted_proxies()) that is the address the outermost of them added to X-Forwarded-For;
    otherwise the connection's own peer, and the header is the client's own word. Streamlit's
    server already puts a loopback connection's X-Forwarded-For in the peer's place, so without
    a trusted proxy a peer named in that header counts as LOCAL_CLIENT, as loopback itself does.
    An IPv6 client is counted by its /64 network, which one machine usually has whole."""
    proxies = trusted_proxies() if proxies is None else proxies
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    if proxies and len(hops) >= proxies:
        return _counted_address(hops[-proxies])
    if peer is None or peer in hops:
        return LOCAL_CLIENT
    return _counted_address(peer)


def _counted_address(address: str) -> str:
    host = address.strip()
    if host.startswith("["):  # [IPv6]:port
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:  # IPv4:port
        host = host.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return address.strip()[:100]  # counted as the proxy wrote it ("unknown", a name)
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_login_session(session: Session, *, user: User) -> str:
    """A random token for the browser; only its hash is stored."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.exec(delete(LoginSession).where(LoginSession.expires_at < now))
    session.add(LoginSession(token_hash=_token_hash(token), user_id=user.id,
                             expires_at=now + LOGIN_SESSION_LIFETIME))
    return token


def user_for_token(session: Session, token: str | None) -> User | None:
    if not token:
        return None
    found = session.exec(
        select(User, LoginSession)
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(LoginSession.token_hash == _token_hash(token), LoginSession.expires_at > utcnow())
    ).first()
    if found is None or not found[0].active:
        return None
    return found[0]


def end_login_session(session: Session, *, token: str) -> None:
    session.exec(delete(LoginSession).where(LoginSession.token_hash == _token_hash(token)))


def list_users(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(User.name)))
