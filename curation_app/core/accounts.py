"""The admin's user management: the first admin, deactivating and reactivating accounts.

Adding users, roles and passwords are `auth` functions; what changes the queue as well (an
annotator who leaves gives back the items they held) lives here, above both.
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlmodel import Session

from curation_app.core import audit, auth, queue
from curation_app.core.errors import InvalidInput, NotFound, PermissionDenied
from curation_app.models import Role, User

FIRST_ADMIN_COMMAND = "python -m curation_app users add NAME --role admin"


def has_users(session: Session) -> bool:
    return session.execute(select(User.id).limit(1)).first() is not None


def create_first_admin(session: Session, *, name: str, password: str) -> User:
    """The first account of a fresh database, made from the login page. Refused as soon as any
    user exists: after that only an admin adds users."""
    if session.get_bind().dialect.name == "postgresql":
        # Two browsers on a fresh database: the second waits here, then sees the first's admin.
        session.execute(text("LOCK TABLE app_user IN SHARE ROW EXCLUSIVE MODE"))
    if has_users(session):
        raise PermissionDenied("this database already has users: an admin adds new ones")
    auth.validate_name(name)
    user = User(name=name, role=Role.ADMIN, password_hash=auth.hash_password(password))
    session.add(user)
    session.flush()
    audit.record(session, actor=None, action="user.create", entity="user", entity_id=name,
                 new={"role": Role.ADMIN, "can_log_in": True, "reason": "first admin of a fresh database"})
    return user


def _user(session: Session, name: str) -> User:
    user = auth.get_user(session, name)
    if user is None:
        raise NotFound(f"no user named {name!r}")
    return user


def active_admins(session: Session) -> int:
    return session.execute(select(func.count()).select_from(User).where(
        User.role == Role.ADMIN, User.active)).scalar_one()


def set_active(session: Session, *, actor: User, name: str, active: bool) -> dict:
    """Deactivate or reactivate an account. A deactivated user cannot log in, every login session
    they have ends at once, and the items they held go back to the pool; what they submitted stays."""
    auth.require_role(actor, Role.ADMIN)
    user = _user(session, name)
    if user.active == active:
        raise InvalidInput(f"{name} is already {'active' if active else 'deactivated'}")
    if not active and actor.id is not None and user.id == actor.id:
        raise InvalidInput("you cannot deactivate yourself; another admin can")
    if not active and user.role == Role.ADMIN and active_admins(session) <= 1:
        raise InvalidInput(f"{name} is the last active admin; make another admin first")
    user.active = active
    session.add(user)
    ended = released = 0
    if not active:
        ended = auth.end_sessions(session, user=user)
        released = queue.release_held_work(session, annotator_id=user.id)
    audit.record(session, actor=actor, action="user.activate" if active else "user.deactivate", entity="user",
                 entity_id=name, old={"active": not active},
                 new={"active": active, "login_sessions_ended": ended, "items_released": released})
    session.flush()
    return {"name": name, "active": active, "login_sessions_ended": ended, "items_released": released}
