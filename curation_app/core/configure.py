"""Changing project settings: store them, then bring what depends on them up to date."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from curation_app.core import queue, settings
from curation_app.models import User


def change_settings(session: Session, *, actor: User, values: dict[str, Any]) -> None:
    """Check and store settings together (a rule between two of them holds for the new pair);
    a new overlap reopens or closes pool slots in the same transaction."""
    settings.store_settings(session, actor=actor, values=values)
    if "overlap" in values:
        queue.refresh_pool(session, overlap=values["overlap"])


def change_setting(session: Session, *, actor: User, key: str, value: Any) -> None:
    change_settings(session, actor=actor, values={key: value})
