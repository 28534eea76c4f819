"""The append-only audit log: who changed what, when, from which value to which."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from curation_app.models import AuditLog, User


def record(
    session: Session,
    *,
    actor: User | None,
    action: str,
    entity: str,
    entity_id: Any = None,
    old: dict | None = None,
    new: dict | None = None,
) -> None:
    """Add an audit row to the caller's transaction, so it commits or rolls back with the change."""
    session.add(
        AuditLog(
            actor_id=actor.id if actor else None,
            action=action,
            entity=entity,
            entity_id=None if entity_id is None else str(entity_id),
            old=old,
            new=new,
        )
    )
