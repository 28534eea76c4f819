"""Changing project settings: store them, then bring what depends on them up to date."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from curation_app.core import queue, settings
from curation_app.models import Role, User


def change_settings(session: Session, *, actor: User, values: dict[str, Any]) -> None:
    """Check and store settings together (a rule between two of them holds for the new pair);
    a new overlap reopens or closes pool slots in the same transaction."""
    settings.store_settings(session, actor=actor, values=values)
    if "overlap" in values:
        queue.refresh_pool(session, overlap=values["overlap"])


def change_setting(session: Session, *, actor: User, key: str, value: Any) -> None:
    change_settings(session, actor=actor, values={key: value})


def warnings_for(session: Session, values: dict[str, Any] | None = None) -> list[str]:
    """What would contradict itself with these changes (none: the stored settings), counting the
    active annotators and reviewers the overlap and the review votes need."""
    proposed = {**settings.all_settings(session), **(values or {})}
    active = dict(session.execute(
        select(User.role, func.count()).where(User.active).group_by(User.role)).all())
    return settings.settings_warnings(proposed, n_annotators=active.get(Role.ANNOTATOR, 0),
                                      n_reviewers=active.get(Role.REVIEWER, 0))
