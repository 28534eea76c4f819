"""Driving the real Streamlit app through streamlit.testing AppTest: open it, log in, read it."""

from __future__ import annotations

import itertools
import json
import re

from sqlmodel import Session, select
from streamlit.components.v2.bidi_component.main import _make_trigger_id
from streamlit.proto.WidgetStates_pb2 import WidgetStates
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import UnknownElement

from curation_app.app_pages import label_form
from curation_app.core import auth
from curation_app.database import get_engine, session_scope
from curation_app.models import Annotation, User
from tests.conftest import REPO_ROOT

APP = str(REPO_ROOT / "curation_app" / "app.py")
PAGES = REPO_ROOT / "curation_app" / "app_pages"


def open_app(token: str | None = None, **query_params) -> AppTest:
    """The app in a new browser session; with a token, as if its login cookie came along
    (AppTest cannot send cookies, so the token is handed to the session directly)."""
    app = AppTest.from_file(APP, default_timeout=60)
    if token:
        app.session_state["token"] = token
    for key, value in query_params.items():
        app.query_params[key] = value
    return app.run()


def open_page(name: str, user_name: str, **query_params) -> AppTest:
    """One page file on its own, as a logged-in user (to test the page's own role check)."""
    with session_scope() as session:
        token = auth.start_login_session(session, user=auth.get_user(session, user_name))
    app = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=60)
    app.session_state["token"] = token
    for key, value in query_params.items():
        app.query_params[key] = value
    return app.run()


def log_in(app: AppTest, name: str, password: str) -> AppTest:
    app.text_input(key="login_name").input(name)
    app.text_input(key="login_password").input(password)
    return app.button[0].click().run()


def shown(elements) -> list[str]:
    """What markdown elements show: their source without the backslash escapes of user text."""
    return [re.sub(r"\\(.)", r"\1", element.value) for element in elements]


def key_for(app: AppTest, public_id: str, name: str) -> str:
    return f"annotate:{app.session_state['user_id']}:{public_id}:{name}"


def annotations(name: str) -> list[Annotation]:
    with Session(get_engine()) as session:
        user = session.exec(select(User).where(User.name == name)).one()
        return list(session.exec(select(Annotation).where(Annotation.annotator_id == user.id)))


_SEQUENCE = itertools.count(1)


def _label_form(app: AppTest) -> UnknownElement:
    (form,) = [element for element in app._tree if isinstance(element, UnknownElement)  # noqa: SLF001
               and element.type == "bidi_component" and element.key == label_form.KEY]
    return form


def form_data(app: AppTest) -> dict:
    """What the annotate page gave its label form (the browser-side component): item, labels, ..."""
    return json.loads(json.loads(_label_form(app).proto.json))  # the page sends one JSON text


def send_form(app: AppTest, kind: str, **labels) -> AppTest:
    """Do what the label form does in a browser: send an action (save, submit, skip, back,
    baseline) with every label it holds, here the page's labels changed by `labels`. AppTest has
    no driver for components, so the message goes in as the component's trigger value."""
    data = form_data(app)
    payload = {"kind": kind, "seq": next(_SEQUENCE), "item": data["item"], "fields": {**data["fields"], **labels},
               "to": data["previous"] if kind == "back" else None}
    states = WidgetStates()
    states.CopyFrom(app._tree.get_widget_states())  # noqa: SLF001 - what the other widgets hold
    trigger = states.widgets.add()
    trigger.id = _make_trigger_id(_label_form(app).proto.id, "events")
    trigger.json_trigger_value = json.dumps([{"event": "action", "value": payload}])
    return app._run(states)  # noqa: SLF001
