"""The annotate page's label form, a component whose state lives in the browser (label_form.js).

A key changes the form at once, without a server round trip, so a key pressed while the server is
busy is never lost; the browser sends every label with a draft save and with submit, skip and back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import streamlit as st

from curation_app.core.errors import InvalidInput
from curation_app.core.labels import LABEL_FIELDS

KEY = "annotate:labels"
KINDS = ("save", "submit", "skip", "back", "baseline")
_HERE = Path(__file__).parent

_mount = st.components.v2.component(
    "curation_label_form",
    css=(_HERE / "label_form.css").read_text(encoding="utf-8"),
    js=(_HERE / "label_form.js").read_text(encoding="utf-8"),
)


@dataclass(frozen=True)
class FormAction:
    """What the browser's form asked for: one of KINDS, for one item, with every label it holds."""

    kind: str
    seq: int
    item: str
    fields: dict[str, Any]
    to: str | None = None  # "back": the item to open


def parse_action(value: object) -> FormAction:
    """The form's message, checked for shape (the labels' values are core's to check)."""
    if not isinstance(value, dict):
        raise InvalidInput("the label form sent no action")
    kind, seq, item, fields, to = (value.get(name) for name in ("kind", "seq", "item", "fields", "to"))
    if kind not in KINDS:
        raise InvalidInput(f"the label form sent an unknown action {kind!r}")
    if not isinstance(seq, int) or not isinstance(item, str) or not isinstance(fields, dict):
        raise InvalidInput("the label form sent an action without its sequence number, item or labels")
    if to is not None and not isinstance(to, str):
        raise InvalidInput("the label form sent an item to go back to that is not an id")
    return FormAction(kind=kind, seq=seq, item=item, fields={name: fields[name] for name in LABEL_FIELDS if name in fields},
                      to=to)


def sent_action() -> FormAction | None:
    """In the form's callback: the action the browser sent with this rerun."""
    result = st.session_state.get(KEY)
    value = result.get("action") if result is not None else None
    return None if value is None else parse_action(value)


def label_form(*, data: dict[str, Any], on_action: Callable[[], None]) -> None:
    """Draw the form; `on_action` runs (before the page) whenever the browser sends an action."""
    # As one JSON text: Streamlit looks for data frames in every value of a dict it is given, which
    # took longer than the rest of the page.
    _mount(key=KEY, data=json.dumps(data), on_action_change=on_action)
