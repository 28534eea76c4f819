"""Users, roles, password hashing (Argon2) and login sessions that survive a page reload."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, delete, func, select

from curation_app.core import audit
from curation_app.core.errors import AuthenticationFailed, InvalidInput, NotFound, PermissionDenied
from curation_app.database import session_scope
from curation_app.models import ROLES, AuditLog, LoginSession, Role, User, utcnow

MIN_PASSWORD_LENGTH = 8
LOGIN_SESSION_LIFETIME = timedelta(hours=12)
MAX_FAILED_LOGINS = 5
FAILED_LOGIN_WINDOW = timedelta(minutes=15)
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


def claim_login_attempt(session: Session, *, name: str) -> timedelta | None:
    """Count an attempt for this name before its password is checked, in a transaction of its
    own: how long to wait when MAX_FAILED_LOGINS attempts in the window did not succeed (nothing
    is claimed then), else None. Claimed first and checked after, so guesses sent in parallel
    cannot all pass a count taken before any of them failed."""
    name = name.strip()[:300]
    if session.get_bind().dialect.name == "postgresql":  # SQLite's BEGIN IMMEDIATE already serialises writers
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"login:{name}"})
    since = utcnow() - FAILED_LOGIN_WINDOW
    rows = session.exec(select(AuditLog.action, AuditLog.at).where(
        AuditLog.entity == "user", AuditLog.entity_id == name, AuditLog.at >= since,
        AuditLog.action.in_(("login.attempt", "login.succeeded")))).all()
    attempts = sorted(at for action, at in rows if action == "login.attempt")
    unsuccessful = len(attempts) - sum(1 for action, _ in rows if action == "login.succeeded")
    if unsuccessful >= MAX_FAILED_LOGINS:
        at = attempts[len(attempts) - MAX_FAILED_LOGINS]
        return max(timedelta(seconds=1), (at if at.tzinfo else at.replace(tzinfo=utcnow().tzinfo))
                   + FAILED_LOGIN_WINDOW - utcnow())
    audit.record(session, actor=None, action="login.attempt", entity="user", entity_id=name)
    return None


def log_in(*, name: str, password: str, engine: Engine | None = None) -> tuple[User, str]:
    """A login as the page does it: the attempt claimed, the password checked, a session token
    made; AuthenticationFailed (one message for every failure) or LoginBlocked."""
    name = name.strip()
    with session_scope(engine) as session:
        wait = claim_login_attempt(session, name=name)
    if wait is not None:
        raise LoginBlocked(f"too many failed logins for this name; try again in "
                           f"{max(1, round(wait.total_seconds() / 60))} minute(s)")
    try:
        with session_scope(engine) as session:
            user = authenticate(session, name=name, password=password)
            token = start_login_session(session, user=user)
            record_login(session, name=name, succeeded=True)
            session.expunge(user)
    except AuthenticationFailed:
        with session_scope(engine) as session:
            record_login(session, name=name, succeeded=False)
        raise
    return user, token


class LoginBlocked(AuthenticationFailed):
    """Too many unsuccessful logins for a name in the window."""


def record_login(session: Session, *, name: str, succeeded: bool) -> None:
    """The outcome of a claimed attempt (a success frees its claim); in the audit log either way."""
    audit.record(session, actor=None, action="login.succeeded" if succeeded else "login.failed",
                 entity="user", entity_id=name.strip()[:300])


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
